"""Every option of Hough/Radon indexing with PyEBSDIndex, validated, stored with the run it makes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ebsdlib.data.preprocess import PreprocessConfig

#: Softmax temperature of the phase probabilities when none is given and none can be fitted.
#: Scores are fractions of a perfect match (see :mod:`ebsdlib.baseline.hough`): with 9 bands,
#: one more band matched at a 0.5° fit is 0.09, a factor of e^1.9 ≈ 6 in probability at 0.05.
DEFAULT_HOUGH_TEMPERATURE = 0.05


@dataclass(frozen=True)
class HoughConfig:
    """How Hough/Radon indexing runs (the PyEBSDIndex settings, their defaults unchanged).

    Parameters
    ----------
    n_bands
        Bands detected per pattern and used in triplet voting (PyEBSDIndex ``nBands``).
    n_rho, n_theta
        Radon transform bins in distance and angle (``nRho``, ``nTheta``).
    t_sigma, r_sigma
        Widths of the peak-finding kernel in θ and ρ bins (``tSigma``, ``rSigma``).
    rho_mask_fraction
        Fraction of the largest ρ left out, where bands are cut by the detector edge
        (``rhoMaskFrac``).
    angle_tolerance
        Largest angle (degrees) between a measured and a tabulated interplanar angle that
        still votes (``BandIndexer.angTol``).
    max_family_index
        Band families of a phase: every ``{hkl}`` its lattice centring allows with
        ``h² + k² + l² ≤`` this (11: fcc {111} {200} {220} {311}, PyEBSDIndex's own list).
    min_band_intensity
        Of those, the families bright enough to be among the bands a Radon transform finds:
        kinematical electron intensity ``|F_hkl|²`` at least this share of the phase's
        strongest family (:func:`ebsdlib.baseline.hough_families.band_families`). 0.05 drops
        the L1₂ superlattice families (1 % of {111} in Ni₃Al, 0.02 % in Ni₃Fe) and keeps fcc
        {311} (27 %). 0 keeps every family the lattice allows (runs stored before the option
        existed read 0).
    temperature
        Softmax temperature of the phase probabilities; ``None`` fits it on labelled training
        patterns (temperature scaling, as dictionary indexing does).
    calibration_patterns
        Labelled training patterns indexed to fit the temperature (0: use
        :data:`DEFAULT_HOUGH_TEMPERATURE`).
    batch_size
        Patterns read, background-corrected and indexed at once.
    preprocess
        Preprocessing before the Radon transform; ``None`` takes the data set's background
        corrections at the stored pattern size (no resize, no circular mask).
    pc, sample_tilt, camera_tilt
        Detector geometry (Bruker pattern centre, degrees); ``None`` takes it from the data
        set (simulation record or vendor file) or the simulator's defaults.
    seed
        Seed of the choice of calibration patterns.
    """

    n_bands: int = 9
    n_rho: int = 90
    n_theta: int = 180
    t_sigma: float = 1.0
    r_sigma: float = 1.2
    rho_mask_fraction: float = 0.15
    angle_tolerance: float = 2.0
    max_family_index: int = 11
    min_band_intensity: float = 0.05
    temperature: float | None = None
    calibration_patterns: int = 300
    batch_size: int = 512
    preprocess: PreprocessConfig | None = None
    pc: tuple[float, float, float] | None = None
    sample_tilt: float | None = None
    camera_tilt: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.preprocess, dict):
            object.__setattr__(self, "preprocess", PreprocessConfig.from_dict(self.preprocess))
        if self.pc is not None:
            object.__setattr__(self, "pc", tuple(float(v) for v in self.pc))
        checks = [
            ("n_bands", _integer(self.n_bands) and 3 <= self.n_bands <= 50, "an integer from 3 to 50"),
            ("n_rho", _integer(self.n_rho) and 10 <= self.n_rho <= 1000, "an integer from 10 to 1000"),
            ("n_theta", _integer(self.n_theta) and 10 <= self.n_theta <= 1000, "an integer from 10 to 1000"),
            ("t_sigma", _number(self.t_sigma) and 0 < self.t_sigma <= 20, "a number of bins in (0, 20]"),
            ("r_sigma", _number(self.r_sigma) and 0 < self.r_sigma <= 20, "a number of bins in (0, 20]"),
            (
                "rho_mask_fraction",
                _number(self.rho_mask_fraction) and 0 <= self.rho_mask_fraction < 0.5,
                "a fraction in [0, 0.5)",
            ),
            (
                "angle_tolerance",
                _number(self.angle_tolerance) and 0 < self.angle_tolerance <= 10,
                "a number of degrees in (0, 10]",
            ),
            (
                "max_family_index",
                _integer(self.max_family_index) and 3 <= self.max_family_index <= 40,
                "an integer h²+k²+l² from 3 to 40",
            ),
            (
                "min_band_intensity",
                _number(self.min_band_intensity) and 0 <= self.min_band_intensity < 1,
                "a share of the strongest family's |F|² in [0, 1), e.g. 0.05",
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
            ("seed", _integer(self.seed) and 0 <= self.seed < 2**32, "an integer from 0 to 2**32-1"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(f"Hough indexing option {name}={getattr(self, name)!r} is not allowed; use {allowed}")

    def to_dict(self) -> dict:
        """Plain JSON-ready dictionary (stored as ``config.json["hough"]`` of the run)."""
        d = asdict(self)
        d["preprocess"] = self.preprocess.to_dict() if self.preprocess is not None else None
        d["pc"] = list(self.pc) if self.pc is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> HoughConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error that names them. An option
        added since a run was stored reads as what that run did (:data:`ADDED_OPTIONS`)."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown Hough indexing options {sorted(unknown)}; known are {sorted(known)}")
        return cls(**{**ADDED_OPTIONS, **d})

    def replace(self, **changes: Any) -> HoughConfig:
        """A copy with some options changed (validated again)."""
        return replace(self, **changes)


#: Options added after runs were first stored, with the value that reproduces those runs.
ADDED_OPTIONS = {"min_band_intensity": 0.0}


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _integer(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
