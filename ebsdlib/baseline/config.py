"""Every option of dictionary indexing, validated, stored with the run it makes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.simulate.master import FORWARD_MODELS

DEVICES = ("auto", "cpu", "cuda")

#: Softmax temperature used when none is given and none can be fitted (no labelled
#: training patterns): a difference of 0.01 in correlation is a factor e in probability.
DEFAULT_TEMPERATURE = 0.01


@dataclass(frozen=True)
class DictionaryConfig:
    """How dictionary indexing runs.

    Parameters
    ----------
    resolution
        Angular resolution (degrees) of the orientation sampling of each phase's fundamental
        zone (:func:`orix.sampling.get_sample_fundamental`, cubochoric). 5° gives 6,579
        orientations per cubic phase, 3° 30,443.
    refine
        Refine the best match of every phase with kikuchipy's
        :meth:`~kikuchipy.signals.EBSD.refine_orientation` (Nelder–Mead) and compare phases on
        the refined correlations. Slower (tens of patterns per second per phase on a CPU).
    refine_trust_region
        Half-width (degrees) of the refinement's search box around the match.
    refine_pc
        Refine the pattern centre with the orientation, per pattern and phase
        (:meth:`~kikuchipy.signals.EBSD.refine_orientation_projection_center`); each phase's
        refined match is scored again at its refined PC. Implies ``refine`` (set to ``True``).
        About 0.12 s per pattern and phase at 32×32 on one CPU core (orientation only: 0.03 s).
    refine_pc_trust_region
        Half-width of the search box around the starting PC, in each of PCx, PCy, PCz
        (fractions of the detector, Bruker convention).
    refine_fit
        After the refinement, fit each phase's match to the pattern — PC and orientation
        together, by gradient ascent on the correlation with the simulator's own forward model
        (detector frame, blur, preprocessing; :mod:`ebsdlib.simulate.fit`) — and compare phases on
        the fitted correlations. An uncertain PC hides the 0.7 % lattice-parameter difference
        of Ni and Ni₃Fe and blurs their superlattice bands; fitted per phase, the PC comes back
        from the pattern. Implies ``refine``; starts from the refined PC with ``refine_pc``.
    temperature
        Softmax temperature turning the best correlation of each phase into probabilities;
        ``None`` fits it on labelled training patterns (see :mod:`ebsdlib.baseline.proba`).
    calibration_patterns
        Labelled training patterns indexed to fit the temperature (0: use
        :data:`DEFAULT_TEMPERATURE`).
    batch_size
        Patterns matched at once.
    device
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; preprocessing and the
        correlations run there.
    preprocess
        Preprocessing of patterns and dictionary; ``None`` for the data set's recommended one.
    pc, sample_tilt, camera_tilt, voltage
        Detector geometry (Bruker pattern centre, degrees, kV); ``None`` takes it from the
        simulation record of the data set, or the simulator's defaults.
    master_half_size, min_dspacing
        Master-pattern parameters; ``None`` takes them as for the geometry.
    forward_model
        ``"dynamical"`` or ``"kinematical"`` dictionary; ``None`` takes the data set's own
        (its simulation record; dynamical for real scans).
    cache
        Keep built dictionaries in ``<artifacts>/cache/dictionary`` and reuse them.
    seed
        Seed of the choice of calibration patterns.
    """

    resolution: float = 5.0
    refine: bool = False
    refine_trust_region: float = 2.0
    refine_pc: bool = False
    refine_pc_trust_region: float = 0.02
    refine_fit: bool = False
    temperature: float | None = None
    calibration_patterns: int = 300
    batch_size: int = 256
    device: Literal["auto", "cpu", "cuda"] = "auto"
    preprocess: PreprocessConfig | None = None
    pc: tuple[float, float, float] | None = None
    sample_tilt: float | None = None
    camera_tilt: float | None = None
    voltage: float | None = None
    master_half_size: int | None = None
    min_dspacing: float | None = None
    forward_model: Literal["kinematical", "dynamical"] | None = None
    cache: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.preprocess, dict):
            object.__setattr__(self, "preprocess", PreprocessConfig.from_dict(self.preprocess))
        if self.pc is not None:
            object.__setattr__(self, "pc", tuple(float(v) for v in self.pc))
        if self.refine_pc is True or self.refine_fit is True:
            object.__setattr__(self, "refine", True)  # PC refinement and the fit refine the orientation too
        checks = [
            (
                "resolution",
                _number(self.resolution) and 0.5 <= self.resolution <= 60,
                "a number of degrees from 0.5 to 60",
            ),
            ("refine", isinstance(self.refine, bool), "True or False"),
            (
                "refine_trust_region",
                _number(self.refine_trust_region) and 0 < self.refine_trust_region <= 15,
                "a number of degrees in (0, 15]",
            ),
            ("refine_pc", isinstance(self.refine_pc, bool), "True or False"),
            ("refine_fit", isinstance(self.refine_fit, bool), "True or False"),
            (
                "refine_pc_trust_region",
                _number(self.refine_pc_trust_region) and 0 < self.refine_pc_trust_region <= 0.2,
                "a PC half-width in (0, 0.2] (fractions of the detector, e.g. 0.02)",
            ),
            (
                "temperature",
                self.temperature is None or (_number(self.temperature) and 0 < self.temperature <= 10),
                "None (fit it) or a number in (0, 10]",
            ),
            (
                "calibration_patterns",
                _integer(self.calibration_patterns) and 0 <= self.calibration_patterns <= 100_000,
                "an integer from 0 to 100000",
            ),
            ("batch_size", _integer(self.batch_size) and 1 <= self.batch_size <= 65536, "an integer from 1 to 65536"),
            ("device", self.device in DEVICES, f"one of {DEVICES}"),
            (
                "pc",
                self.pc is None or (len(self.pc) == 3 and all(0 < v < 2 for v in self.pc)),
                "None or three numbers (PCx, PCy, PCz) in (0, 2)",
            ),
            (
                "sample_tilt",
                self.sample_tilt is None or (_number(self.sample_tilt) and 0 <= self.sample_tilt <= 90),
                "None or degrees from 0 to 90",
            ),
            (
                "camera_tilt",
                self.camera_tilt is None or (_number(self.camera_tilt) and -90 <= self.camera_tilt <= 90),
                "None or degrees from -90 to 90",
            ),
            (
                "voltage",
                self.voltage is None or (_number(self.voltage) and 0 < self.voltage <= 300),
                "None or kV in (0, 300]",
            ),
            (
                "master_half_size",
                self.master_half_size is None
                or (_integer(self.master_half_size) and 8 <= self.master_half_size <= 2000),
                "None or an integer from 8 to 2000",
            ),
            (
                "min_dspacing",
                self.min_dspacing is None or (_number(self.min_dspacing) and 0.1 <= self.min_dspacing <= 5),
                "None or Å from 0.1 to 5",
            ),
            (
                "forward_model",
                self.forward_model in (None, *FORWARD_MODELS),
                f"None (the data set's own) or one of {list(FORWARD_MODELS)}",
            ),
            ("cache", isinstance(self.cache, bool), "True or False"),
            ("seed", _integer(self.seed) and 0 <= self.seed < 2**32, "an integer from 0 to 2**32-1"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(
                    f"dictionary indexing option {name}={getattr(self, name)!r} is not allowed; use {allowed}"
                )

    @property
    def refinement_label(self) -> str:
        """What the run's model label adds for refinement: ``""``, ``" + refinement"``,
        ``" + refinement of orientation and PC"`` or ``" + refinement and pattern fit"``."""
        if self.refine_fit:
            return " + refinement and pattern fit"
        if self.refine_pc:
            return " + refinement of orientation and PC"
        return " + refinement" if self.refine else ""

    def to_dict(self) -> dict:
        """Plain JSON-ready dictionary (stored as ``config.json["dictionary"]`` of the run)."""
        d = asdict(self)
        d["preprocess"] = self.preprocess.to_dict() if self.preprocess is not None else None
        d["pc"] = list(self.pc) if self.pc is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DictionaryConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error that names them."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown dictionary indexing options {sorted(unknown)}; known are {sorted(known)}")
        return cls(**d)

    def replace(self, **changes: Any) -> DictionaryConfig:
        """A copy with some options changed (validated again)."""
        return replace(self, **changes)


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _integer(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
