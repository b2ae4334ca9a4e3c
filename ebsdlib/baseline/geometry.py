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

Pattern-centre refinement (:mod:`ebsdlib.baseline.refine`) starts each pattern at its own PC
when the vendor file stores a per-point PC map (kikuchipy's ``EBSDDetector.pc`` of the scan's
navigation shape, :func:`refinement_start_pcs`); the dictionary itself stays at the mean PC.
The true PC of simulated patterns (:func:`true_pcs`) is known only where the simulator drew
no PC variation (``pc_spread`` 0): it does not store per-pattern PCs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

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
    default detector. A per-point PC map of the file is averaged here (one dictionary for the
    scan); PC refinement starts from the per-point PCs (:func:`refinement_start_pcs`)."""
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


def point_pcs(pc: np.ndarray, scan_shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
    """The PC of each scan point ``(rows[i], cols[i])`` from a kikuchipy detector's ``pc``.

    Parameters
    ----------
    pc
        :attr:`kikuchipy.detectors.EBSDDetector.pc`: ``(3,)`` or ``(1, 3)`` for one PC, or the
        scan's navigation shape + ``(3,)`` (``(rows, cols, 3)``; a line scan ``(n, 3)``), Bruker
        convention.
    scan_shape
        ``(rows, cols)`` of the scan.
    rows, cols
        Scan positions of the patterns wanted.

    Returns
    -------
    numpy.ndarray or None
        ``(n, 3)`` float64 PCs, or ``None`` when ``pc`` holds a single PC (all points equal).

    Raises
    ------
    ValueError
        ``pc`` is not one PC or one per scan point, holds values outside (0, 2), or a position
        lies outside the scan.
    """
    pc = np.asarray(pc, dtype=np.float64)
    n_points = int(scan_shape[0]) * int(scan_shape[1])
    if pc.ndim == 0 or pc.shape[-1] != 3 or pc.size // 3 not in (1, n_points):
        raise ValueError(
            f"detector PC array of shape {pc.shape} is neither one PC (3,) nor one per point of the "
            f"{scan_shape[0]}×{scan_shape[1]} scan ({scan_shape[0]}, {scan_shape[1]}, 3); "
            "store the PC map with the scan's navigation shape"
        )
    flat = pc.reshape(-1, 3)
    if not np.isfinite(flat).all() or (flat <= 0).any() or (flat >= 2).any():
        bad = flat[~(np.isfinite(flat) & (flat > 0) & (flat < 2)).all(axis=1)][0]
        shown = [round(float(v), 6) for v in bad]
        raise ValueError(
            f"detector PC {shown!r} has a coordinate outside (0, 2) (Bruker convention); fix the file's PC map"
        )
    if len(flat) == 1 or np.ptp(flat, axis=0).max() == 0:
        return None
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    outside = (rows < 0) | (rows >= scan_shape[0]) | (cols < 0) | (cols >= scan_shape[1])
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"scan position (row {rows[i]}, col {cols[i]}) lies outside the {scan_shape[0]}×{scan_shape[1]} "
            "scan of the PC map; the data set's scan/row and scan/col must index the vendor scan"
        )
    return flat.reshape(int(scan_shape[0]), int(scan_shape[1]), 3)[rows, cols]


def vendor_point_pcs(dataset: EBSDDataset) -> np.ndarray | None:
    """``(N, 3)`` per-point PCs of every pattern of a converted vendor scan, or ``None``.

    The converted file keeps only the mean PC (``provenance["detector"]["pc_mean"]``); the map
    is read again from the vendor file the provenance names (``source``, lazily, through
    :func:`ebsdlib.data.vendor.read_signal`). ``None`` when the data set is not a vendor scan,
    the file holds one PC, or the file is gone or changed (its mean PC is not the recorded
    one) — the last two with a warning that names the file.
    """
    info = dataset.provenance
    det = info.get("detector")
    source = info.get("source")
    if info.get("reader") != "vendor" or not isinstance(det, dict) or not isinstance(source, str):
        return None
    rows, cols, shape = dataset.optional("scan/row"), dataset.optional("scan/col"), dataset.scan_shape
    if rows is None or cols is None or shape is None:
        return None
    from ebsdlib.data.checks import DataFormatError
    from ebsdlib.data.vendor import read_signal

    if not Path(source).exists():
        warnings.warn(
            f"{dataset.path}: the vendor file {source} it was converted from is gone; PC refinement "
            "starts every pattern at the mean PC (convert the scan again to use its per-point PCs)",
            stacklevel=2,
        )
        return None
    try:
        pc = np.asarray(read_signal(source).detector.pc, dtype=np.float64)
    except DataFormatError as e:
        warnings.warn(f"{dataset.path}: {e}; PC refinement starts every pattern at the mean PC", stacklevel=2)
        return None
    mean = det.get("pc_mean")
    if mean is not None and not np.allclose(pc.reshape(-1, 3).mean(axis=0), mean, rtol=0, atol=1e-6):
        warnings.warn(
            f"{dataset.path}: the mean PC of {source} ({pc.reshape(-1, 3).mean(axis=0).tolist()}) is not the "
            f"recorded {mean}; the file changed since it was converted, so PC refinement starts every "
            "pattern at the mean PC (convert the scan again)",
            stacklevel=2,
        )
        return None
    return point_pcs(pc, shape, rows, cols)


def refinement_start_pcs(dataset: EBSDDataset, indices: np.ndarray, geometry: Geometry) -> tuple[np.ndarray, str]:
    """Where PC refinement starts each pattern at ``indices``, and where that comes from.

    A vendor scan with a per-point PC map (:func:`vendor_point_pcs`) starts each pattern at its
    own PC when the dictionary's PC is the file's mean (the dictionary stays at the mean; a PC
    given in the options replaces the map); everything else starts at the dictionary's PC.

    Returns
    -------
    tuple
        ``(n, 3)`` float64 PCs and a phrase for the run's record.
    """
    indices = np.asarray(indices, dtype=np.int64)
    own = np.asarray(geometry.detector.pc, dtype=np.float64)
    mean = (dataset.provenance.get("detector") or {}).get("pc_mean")
    if mean is not None and np.allclose(own, mean, rtol=0, atol=1e-9):
        per_point = vendor_point_pcs(dataset)
        if per_point is not None:
            return per_point[indices], f"per-point PC map of {Path(dataset.provenance['source']).name}"
    return np.tile(own, (len(indices), 1)), "the dictionary's PC"


def true_pcs(dataset: EBSDDataset) -> tuple[np.ndarray | None, str]:
    """``(N, 3)`` true PCs of a simulated data set's patterns, or ``None``, with the reason.

    The file's ``/pc`` (each pattern's PC, which the simulator stores); for files simulated
    before it did, the recorded PC when the detector's ``pc_spread`` is 0 (every pattern was made
    there). Real scans have no true PC.
    """
    stored = dataset.optional("pc")
    if stored is not None and np.isfinite(stored).all():
        return np.asarray(stored, dtype=np.float64), "each pattern's PC stored by the simulator"
    info = dataset.provenance
    record = info.get("config") if info.get("source") == "simulation" else None
    if not isinstance(record, dict) or not isinstance(record.get("detector"), dict):
        return None, "not simulated: no true PC"
    detector = DetectorModel.from_dict(record["detector"])
    if detector.pc_spread > 0:
        return None, (
            f"simulated with pc_spread {detector.pc_spread:g}: the per-pattern PCs were drawn but are not stored"
        )
    return np.tile(np.asarray(detector.pc, dtype=np.float64), (len(dataset), 1)), "the simulation record's PC"
