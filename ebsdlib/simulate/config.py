"""Settings shared by the data-set and scan simulators: phases, pattern size, dose, detector."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ebsdlib.phases import DEFAULT_PHASES, Phase
from ebsdlib.simulate.detector import DetectorModel
from ebsdlib.simulate.dynamical import DynamicalSettings
from ebsdlib.simulate.master import DEFAULT_FORWARD_MODEL

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
        Names of the phases to simulate, in label order: of :data:`ebsdlib.phases.DEFAULT_PHASES`
        or of ``custom_phases``.
    custom_phases
        Further phases (any cubic phase with atoms, space group and lattice parameter, e.g.
        read with :func:`load_phase_file`) that ``phases`` may name.
    pattern_size
        Detector size in pixels (square patterns).
    dose
        Mean detected electrons per pixel (lower is noisier); see :class:`DetectorModel`.
    dose_spread
        σ of the per-pattern log-normal variation of the dose (mean kept at ``dose``).
    detector
        Geometry and noise model of the camera.
    forward_model
        How master patterns are made: ``"dynamical"`` (the default: de-ebsd Bloch waves;
        :mod:`ebsdlib.simulate.dynamical`) or ``"kinematical"`` (kikuchipy, band intensity ∝ |F|).
    master_half_size
        Kinematical master patterns are ``2·half_size + 1`` pixels a side (Lambert projection).
    min_dspacing
        Smallest interplanar spacing (Å) of the reflectors in the kinematical master patterns.
    dynamical
        Resolution of the dynamical master patterns (``npx``, ``dmin`` in nm, ``mc_electrons``).
    master_device
        Where a dynamical master that is neither cached nor shipped is built: ``"cpu"`` or ``"cuda"``.
    seed
        Seed of everything random: orientations, noise, split.
    block_size
        Patterns simulated and written per block (bounded memory).
    cache_dir
        Master-pattern cache folder; ``None`` for ``artifacts/cache/master``.
    """

    phases: tuple[str, ...] = tuple(p.name for p in DEFAULT_PHASES)
    custom_phases: tuple[Phase, ...] = ()
    pattern_size: int = 64
    dose: float = DEFAULT_DOSE
    dose_spread: float = 0.2
    detector: DetectorModel = field(default_factory=DetectorModel)
    forward_model: Literal["kinematical", "dynamical"] = DEFAULT_FORWARD_MODEL
    master_half_size: int = 250
    min_dspacing: float = 0.7
    dynamical: DynamicalSettings = field(default_factory=DynamicalSettings)
    master_device: str = "cpu"
    seed: int = 0
    block_size: int = 1000
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        from ebsdlib.simulate.master import check_forward_model

        if isinstance(self.detector, dict):
            object.__setattr__(self, "detector", DetectorModel.from_dict(self.detector))
        if isinstance(self.dynamical, dict):
            object.__setattr__(self, "dynamical", DynamicalSettings.from_dict(self.dynamical))
        check_forward_model(self.forward_model)
        object.__setattr__(
            self, "custom_phases", tuple(Phase.from_dict(p) if isinstance(p, dict) else p for p in self.custom_phases)
        )
        self._check_custom_phases()
        if not isinstance(self.dynamical, DynamicalSettings):
            raise ValueError(f"dynamical must be a DynamicalSettings or its dict, not {type(self.dynamical)!r}")
        if str(self.master_device).split(":")[0] not in ("cpu", "cuda"):
            raise ValueError(f"master_device {self.master_device!r} is unknown; options are 'cpu' or 'cuda'")
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

    def _check_custom_phases(self) -> None:
        from ebsdlib.simulate.dynamical import check_phase

        defaults = {p.name for p in DEFAULT_PHASES}
        names = [p.name for p in self.custom_phases if isinstance(p, Phase)]
        if len(names) != len(self.custom_phases):
            raise ValueError("custom_phases must hold Phase objects or their dicts (name, space_group, lattice_a, ...)")
        clash = sorted((set(names) & defaults) | {n for n in names if names.count(n) > 1})
        if clash:
            raise ValueError(
                f"custom phases {clash} reuse a name of a default or another custom phase; give each its own name"
            )
        for phase in self.custom_phases:
            check_phase(phase)  # atoms, space group 1–230 (cubic), lattice parameter > 0

    def resolved_phases(self) -> tuple[Phase, ...]:
        """The :class:`~ebsdlib.phases.Phase` objects of :attr:`phases`, in label order."""
        from ebsdlib.phases import with_colors

        known = {p.name: p for p in (*DEFAULT_PHASES, *with_colors(list(self.custom_phases)))}
        unknown = [name for name in self.phases if name not in known]
        if unknown:
            raise ValueError(
                f"unknown phases {unknown!r}; the simulator knows {sorted(known)} "
                "(describe others in a phase file: --phase-file phases.json; see simulate.config.load_phase_file)"
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
            if isinstance(value, (DetectorModel, DynamicalSettings)):
                value = value.to_dict()
            elif f.name == "custom_phases":
                value = [p.to_dict() for p in value]
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

    def master_options(self) -> dict:
        """Keywords of :func:`ebsdlib.simulate.master.load_masters` for these settings."""
        return {
            "half_size": self.master_half_size,
            "min_dspacing": self.min_dspacing,
            "voltage": self.detector.voltage * 1e3,
            "cache_dir": self.cache_dir,
            "forward_model": self.forward_model,
            "dynamical": self.dynamical,
            "sample_tilt": self.detector.sample_tilt,
            "device": self.master_device,
        }

    def replace(self, **changes: Any) -> AcquisitionSettings:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def load_phase_file(path: str | Path) -> tuple[Phase, ...]:
    """Phases from a JSON file: a list of :meth:`~ebsdlib.phases.Phase.to_dict` entries, e.g.
    ``[{"name": "Cu", "space_group": 225, "lattice_a": 3.615, "color": "#b87333",
    "atoms": [["Cu", 0, 0, 0]]}]`` (atoms: the asymmetric unit, fractional coordinates).

    Raises
    ------
    ValueError
        Naming the file and what is wrong with it.
    """
    import json

    path = Path(path)
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: the phase file cannot be read as JSON ({e})") from e
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise ValueError(
            f"{path}: a phase file is a JSON list of phases, e.g. "
            '[{"name": "Cu", "space_group": 225, "lattice_a": 3.615, "color": "", "atoms": [["Cu", 0, 0, 0]]}]'
        )
    phases = []
    for i, entry in enumerate(entries):
        try:
            phases.append(Phase.from_dict(entry))
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: phase {i} ({entry.get('name', '?')!r}) cannot be read: {e}") from e
    return tuple(phases)
