"""Settings shared by the data-set and scan simulators: phases, pattern size, dose, detector."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ebsdlib.phases import DEFAULT_PHASES, Phase
from ebsdlib.simulate.detector import DetectorModel

#: Default dose in detected electrons per pixel. With the default detector, two noisy exposures
#: of one pattern then correlate at 0.54 after preprocessing, as neighbouring patterns of one
#: grain do in kikuchipy's real Ni scan (0.48–0.59); see :mod:`ebsdlib.simulate.calibrate`.
DEFAULT_DOSE = 4000.0


@dataclass(frozen=True)
class AcquisitionSettings:
    """What every simulated pattern shares: phases, size, dose, detector, master patterns, seed.

    Parameters
    ----------
    phases
        Names of phases in :data:`ebsdlib.phases.DEFAULT_PHASES`, in label order.
    pattern_size
        Detector size in pixels (square patterns).
    dose
        Mean detected electrons per pixel (lower is noisier); see :class:`DetectorModel`.
    dose_spread
        σ of the per-pattern log-normal variation of the dose (mean kept at ``dose``).
    detector
        Geometry and noise model of the camera.
    master_half_size
        Master patterns are ``2·half_size + 1`` pixels a side (Lambert projection).
    min_dspacing
        Smallest interplanar spacing (Å) of the reflectors in the master patterns.
    seed
        Seed of everything random: orientations, noise, split.
    block_size
        Patterns simulated and written per block (bounded memory).
    cache_dir
        Master-pattern cache folder; ``None`` for ``artifacts/cache/master``.
    """

    phases: tuple[str, ...] = tuple(p.name for p in DEFAULT_PHASES)
    pattern_size: int = 64
    dose: float = DEFAULT_DOSE
    dose_spread: float = 0.2
    detector: DetectorModel = field(default_factory=DetectorModel)
    master_half_size: int = 250
    min_dspacing: float = 0.7
    seed: int = 0
    block_size: int = 1000
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.detector, dict):
            object.__setattr__(self, "detector", DetectorModel.from_dict(self.detector))
        object.__setattr__(self, "phases", tuple(self.phases))
        if not self.phases:
            raise ValueError("phases is empty; name at least one phase, e.g. ('Ni', 'Ni3Al', 'Ni3Fe')")
        if len(set(self.phases)) != len(self.phases):
            raise ValueError(f"phases {self.phases!r} name a phase twice; each phase once")
        self.resolved_phases()
        if not 16 <= int(self.pattern_size) <= 512:
            raise ValueError(f"pattern_size {self.pattern_size!r} must be between 16 and 512 pixels")
        if not (np.isfinite(self.dose) and self.dose > 0):
            raise ValueError(
                f"dose {self.dose!r} must be a positive number of electrons per pixel, e.g. {DEFAULT_DOSE}"
            )
        if not 0 <= self.dose_spread <= 2:
            raise ValueError(f"dose_spread {self.dose_spread!r} must lie in [0, 2] (log-normal σ)")
        if not 1 <= int(self.block_size) <= 100_000:
            raise ValueError(f"block_size {self.block_size!r} must be between 1 and 100000 patterns")

    def resolved_phases(self) -> tuple[Phase, ...]:
        """The :class:`~ebsdlib.phases.Phase` objects of :attr:`phases`, in label order."""
        known = {p.name: p for p in DEFAULT_PHASES}
        unknown = [name for name in self.phases if name not in known]
        if unknown:
            raise ValueError(
                f"unknown phases {unknown!r}; the simulator knows {sorted(known)} "
                "(add a Phase with atoms to ebsdlib.phases.DEFAULT_PHASES for more)"
            )
        return tuple(known[name] for name in self.phases)

    def pattern_doses(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n,)`` per-pattern doses, log-normal around :attr:`dose` with mean :attr:`dose`."""
        s = float(self.dose_spread)
        return self.dose * np.exp(rng.normal(-0.5 * s * s, s, size=n))

    def to_dict(self) -> dict:
        """Plain dictionary (JSON-ready), stored as provenance in every simulated file."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, DetectorModel):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, d: dict) -> AcquisitionSettings:
        """Inverse of :meth:`to_dict`; unknown keys are an error that names them."""
        known = {f.name: f for f in fields(cls)}
        unknown = set(d) - set(known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys {sorted(unknown)}; known are {sorted(known)}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kwargs)

    def replace(self, **changes: Any) -> AcquisitionSettings:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
