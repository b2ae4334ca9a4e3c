"""The detector geometry and master-pattern parameters that a dictionary is simulated with.

For a data set the project simulated, everything comes from its provenance record (the
simulator's ``config``: detector model, forward model, master-pattern size, minimum d-spacing,
dynamical resolution; a record without ``forward_model`` was made kinematically), so the
dictionary is made exactly as the patterns were — with one pattern centre, the mean one,
as dictionary indexing of a real scan does. A vendor scan imported through kikuchipy
(:mod:`ebsdlib.data.vendor`) brings its own detector: its mean pattern centre (Bruker
convention, so binning does not change it), sample and camera tilts and beam energy; its
dictionary is dynamical (:data:`~ebsdlib.simulate.master.DEFAULT_FORWARD_MODEL`), the model that
real patterns follow. Other data (image folders) get the simulator's default detector. The
options of :class:`~ebsdlib.baseline.config.DictionaryConfig` override any of it; the
geometry's ``source`` says where each part came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ebsdlib.baseline.config import DictionaryConfig
from ebsdlib.data.format import EBSDDataset
from ebsdlib.simulate.detector import DetectorModel
from ebsdlib.simulate.dynamical import DynamicalSettings
from ebsdlib.simulate.master import DEFAULT_FORWARD_MODEL, check_forward_model

#: Master-pattern defaults of the simulator (:class:`ebsdlib.simulate.config.AcquisitionSettings`).
DEFAULT_MASTER_HALF_SIZE = 250
DEFAULT_MIN_DSPACING = 0.7


@dataclass(frozen=True)
class Geometry:
    """What a dictionary pattern depends on besides phase and orientation.

    Parameters
    ----------
    detector
        Detector model (pattern centre, tilts, voltage, blur, band contrast).
    master_half_size
        Master patterns are ``2·half_size + 1`` pixels a side.
    min_dspacing
        Smallest interplanar spacing (Å) of the reflectors.
    source
        Where the values come from, for the run's record.
    forward_model
        ``"kinematical"`` or ``"dynamical"`` master patterns.
    dynamical
        Resolution of dynamical master patterns.
    """

    detector: DetectorModel
    master_half_size: int = DEFAULT_MASTER_HALF_SIZE
    min_dspacing: float = DEFAULT_MIN_DSPACING
    source: str = "simulator defaults"
    forward_model: str = DEFAULT_FORWARD_MODEL
    dynamical: DynamicalSettings = field(default_factory=DynamicalSettings)

    def to_dict(self) -> dict:
        return {
            "detector": self.detector.to_dict(),
            "master_half_size": int(self.master_half_size),
            "min_dspacing": float(self.min_dspacing),
            "source": self.source,
            "forward_model": self.forward_model,
            "dynamical": self.dynamical.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Geometry:
        return cls(
            DetectorModel.from_dict(d["detector"]),
            int(d["master_half_size"]),
            float(d["min_dspacing"]),
            str(d.get("source", "")),
            str(d.get("forward_model", "kinematical")),  # runs made before the forward-model choice
            DynamicalSettings.from_dict(d.get("dynamical", {})),
        )

    def master_options(self) -> dict:
        """Keywords of :func:`ebsdlib.simulate.master.load_masters` for master patterns of this geometry."""
        return {
            "half_size": self.master_half_size,
            "min_dspacing": self.min_dspacing,
            "voltage": self.detector.voltage * 1e3,
            "forward_model": self.forward_model,
            "dynamical": self.dynamical,
            "sample_tilt": self.detector.sample_tilt,
        }


def geometry_for(dataset: EBSDDataset, config: DictionaryConfig | None = None) -> Geometry:
    """The geometry of ``dataset``'s patterns, with the options of ``config`` applied on top.

    Parameters
    ----------
    dataset
        The data set to index.
    config
        Options; those that are not ``None`` override what the data set records.
    """
    geometry = recorded_geometry(dataset) or Geometry(
        DetectorModel(), source="simulator defaults (the data set records no geometry)"
    )
    return apply_overrides(geometry, config or DictionaryConfig())


def scan_geometry(run_geometry: Geometry, scan: EBSDDataset, config: DictionaryConfig) -> Geometry:
    """The geometry a run's dictionary takes for mapping ``scan``: the run's master patterns
    (forward model, resolution) seen through the scan's own detector when its file records
    one, else the run's; the run's explicit options (``config``) on top."""
    own = recorded_geometry(scan)
    if own is None:
        return run_geometry
    return apply_overrides(
        replace(run_geometry, detector=own.detector, source=f"{run_geometry.source}; detector: {own.source}"), config
    )


def recorded_geometry(dataset: EBSDDataset) -> Geometry | None:
    """What ``dataset`` records of its own geometry: the simulator's record, a vendor file's
    detector (:func:`vendor_geometry`), or ``None``."""
    info = dataset.provenance
    record = info.get("config") if info.get("source") == "simulation" else None
    if isinstance(record, dict) and isinstance(record.get("detector"), dict):
        try:
            detector = DetectorModel.from_dict(record["detector"])
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"{dataset.path}: the simulation record's detector {record['detector']!r} cannot "
                f"be read ({e}); give the geometry with --pc/--sample-tilt/--voltage"
            ) from e
        forward_model = record.get("forward_model", "kinematical")  # records before the choice were kinematical
        try:
            check_forward_model(forward_model)
            dynamical = DynamicalSettings.from_dict(record.get("dynamical") or {})
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"{dataset.path}: the simulation record's forward model {forward_model!r} or dynamical settings "
                f"{record.get('dynamical')!r} cannot be read ({e})"
            ) from e
        return Geometry(
            detector,
            int(record.get("master_half_size", DEFAULT_MASTER_HALF_SIZE)),
            float(record.get("min_dspacing", DEFAULT_MIN_DSPACING)),
            f"simulation record of {dataset.path.name}",
            forward_model,
            dynamical,
        )
    if isinstance(info.get("detector"), dict):
        return vendor_geometry(dataset)
    return None


def vendor_geometry(dataset: EBSDDataset) -> Geometry:
    """The detector a vendor scan's file records (:func:`ebsdlib.data.vendor.convert_vendor`):
    mean pattern centre, sample and camera tilt, beam energy; the rest of the simulator's
    default detector."""
    info = dataset.provenance
    det = info["detector"]
    values = {}
    try:
        if det.get("pc_mean") is not None:
            values["pc"] = tuple(float(v) for v in det["pc_mean"])
        if det.get("sample_tilt") is not None:
            values["sample_tilt"] = float(det["sample_tilt"])
        if det.get("tilt") is not None:
            values["camera_tilt"] = float(det["tilt"])
        if info.get("beam_energy_kv"):
            values["voltage"] = float(info["beam_energy_kv"])
        detector = replace(DetectorModel(), **values)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"{dataset.path}: the scan's recorded detector {det!r} (beam energy {info.get('beam_energy_kv')!r} kV) "
            f"cannot be used ({e}); give the geometry with --pc/--sample-tilt/--camera-tilt/--voltage"
        ) from e
    parts = ", ".join(sorted(values)) or "nothing"
    return Geometry(detector, source=f"detector of {dataset.path.name} ({parts} from the file)")


def apply_overrides(geometry: Geometry, config: DictionaryConfig) -> Geometry:
    """``geometry`` with every option of ``config`` that is not ``None`` put in."""
    det = {
        k: v
        for k, v in (
            ("pc", config.pc),
            ("sample_tilt", config.sample_tilt),
            ("camera_tilt", config.camera_tilt),
            ("voltage", config.voltage),
        )
        if v is not None
    }
    master = {
        k: v
        for k, v in (
            ("master_half_size", config.master_half_size),
            ("min_dspacing", config.min_dspacing),
            ("forward_model", config.forward_model),
        )
        if v is not None
    }
    if not det and not master:
        return geometry
    changed = ", ".join(sorted([*det, *master]))
    return replace(
        geometry,
        detector=replace(geometry.detector, **det),
        **master,
        source=f"{geometry.source}; {changed} from the options",
    )
