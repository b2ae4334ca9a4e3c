"""Dynamical master patterns: Bloch-wave EBSD simulations with de-ebsd.

Real Kikuchi patterns are dynamical (multiple scattering, absorption, a spread of exit depths
and energies); the kinematical master of :mod:`ebsdlib.simulate.master` (band intensity ∝ |F|)
is a coarse stand-in. This module builds the dynamical master of a phase with de-ebsd, a
PyTorch port of EMsoft's master-pattern chain: a Monte Carlo of the backscattered electrons'
exit depths and energies, then a Bloch-wave solve for every beam direction of the square
Lambert grid (``2·npx + 1`` pixels a side per hemisphere), with the reflections down to the
interplanar spacing ``dmin`` (nm).

**Atoms are the asymmetric unit.** de-ebsd expands each listed atom by the space group, while
an :class:`ebsdlib.phases.Phase` may list the full cell (as diffpy and the kinematical path
take it): L1₂ Ni₃Al in Pm-3m lists Ni on all three face centres, which de-ebsd would expand to
nine Ni atoms (mean inner potential 74 V instead of 28 V). :func:`asymmetric_unit` keeps one atom
per orbit of the space group's operations, so a phase written in any setting gives the same
crystal (Ni in Fm-3m with one atom and in Pm-3m with four: correlation 1.000).

**Reproducible.** The Monte Carlo always runs on the CPU with a fixed seed (:data:`MC_SEED`):
a CPU build is exactly ``MasterPatternSimulator(...).compute(device="cpu", mc_electrons=n)``, and
two builds are bit-identical on one machine. On CUDA only the Bloch-wave solve moves to the GPU
(float32), so a GPU build differs from a CPU build by rounding only (not measured: no GPU here).
Lambert arrays are stored as float16 (:data:`STORAGE_DTYPE`; relative rounding 5·10⁻⁴; measured on
Ni₃Fe at npx 60: the projected 64×64 patterns correlate with the float32 ones at 1 − 1.4·10⁻⁷); a
fresh build is rounded the same way, so a data set made
from a fresh build equals one made from the cache or from the masters shipped in
``ebsdlib/simulate/masters/``.

The defaults (:data:`DEFAULT_NPX` 280, :data:`DEFAULT_DMIN` 0.04 nm, :data:`DEFAULT_MC_ELECTRONS`
20 000) come from :func:`ebsdlib.simulate.convergence.convergence_study` (Ni, 100 random
orientations, the default detector's noise-free 64×64 patterns; measured 2026-12-02 on two
shared CPU cores). Refining dmin 0.04 → 0.03 nm changes the patterns to a median correlation
of 0.9967, the electrons 20 000 → 50 000 to 0.9998: both converged (change < 0.005). npx
converges slowest, because the dynamical master has lines finer than a Lambert pixel:
200 → 280 gives 0.9861, 280 → 400 gives 0.9940 on the clean projection and 0.9973 after the
detector's 0.7-pixel point-spread blur that every simulated pattern gets, and 400 → 560 gives
0.9978 clean and 0.9991 blurred (measured 2026-12-03, builds of 128, 186 and 407 s:
``ebsdlib simulate convergence --parameters npx --npx-values 280 400 560 --dmin 0.04
--mc-electrons 20000``). So npx 280 is converged for the blurred patterns the simulator makes
and 0.001 short of the criterion for clean ones, where npx 400 is the first converged value, at
about 1.5× the build time and 2× the file size; against kikuchipy's EMsoft Ni master npx 400
agrees no better (0.902 against 0.909 at 280). A CPU build at the defaults takes about 1.5–5
minutes per phase on two shared cores.
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.phases import Phase

if TYPE_CHECKING:
    import de_ebsd

#: Converged defaults (see the module docstring and :mod:`ebsdlib.simulate.convergence`).
DEFAULT_NPX = 280
DEFAULT_DMIN = 0.04  # nm
DEFAULT_MC_ELECTRONS = 20_000

#: Allowed ranges: below them the result is not a usable master, above them a CPU build takes hours.
NPX_RANGE = (16, 1000)
DMIN_RANGE = (0.02, 0.25)  # nm
MC_ELECTRONS_RANGE = (1000, 10_000_000)

#: Seed of the Monte Carlo (the value de-ebsd's own ``compute`` uses).
MC_SEED = 0

#: How Lambert arrays are stored and, so that fresh and stored masters are equal, rounded.
STORAGE_DTYPE = np.float16

#: Fractional distance within which two images of an atom are the same site.
SITE_TOLERANCE = 1e-4


@dataclass(frozen=True)
class DynamicalSettings:
    """Resolution of a dynamical master pattern.

    Parameters
    ----------
    npx
        The Lambert square of each hemisphere has ``2·npx + 1`` pixels a side.
    dmin
        Smallest interplanar spacing in **nm** of the reflections in the Bloch-wave solve;
        smaller adds beams, accuracy and cost (0.06 nm = 0.6 Å).
    mc_electrons
        Electrons of the Monte Carlo that gives the exit-depth and energy distribution.
    """

    npx: int = DEFAULT_NPX
    dmin: float = DEFAULT_DMIN
    mc_electrons: int = DEFAULT_MC_ELECTRONS

    def __post_init__(self) -> None:
        lo, hi = NPX_RANGE
        if isinstance(self.npx, bool) or not (isinstance(self.npx, (int, np.integer)) and lo <= self.npx <= hi):
            raise ValueError(
                f"dynamical npx {self.npx!r} must be a whole number of pixels in [{lo}, {hi}], e.g. {DEFAULT_NPX}"
            )
        lo, hi = DMIN_RANGE
        if not (isinstance(self.dmin, (int, float, np.number)) and lo <= self.dmin <= hi):
            raise ValueError(
                f"dynamical dmin {self.dmin!r} nm must lie in [{lo}, {hi}] nm, e.g. {DEFAULT_DMIN} (note: nm, not Å)"
            )
        lo, hi = MC_ELECTRONS_RANGE
        n = self.mc_electrons
        if isinstance(n, bool) or not (isinstance(n, (int, np.integer)) and lo <= n <= hi):
            raise ValueError(f"mc_electrons {n!r} must be a whole number in [{lo}, {hi}], e.g. {DEFAULT_MC_ELECTRONS}")
        object.__setattr__(self, "npx", int(self.npx))
        object.__setattr__(self, "dmin", float(self.dmin))
        object.__setattr__(self, "mc_electrons", int(self.mc_electrons))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DynamicalSettings:
        """Inverse of :meth:`to_dict`; unknown keys are an error that names them."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown dynamical keys {sorted(unknown)}; known are {sorted(known)}")
        return cls(**d)


def check_phase(phase: Phase) -> None:
    """Raise ``ValueError`` naming the phase and the fix when it cannot be simulated dynamically."""
    from ebsdlib.simulate.crystal import check_simulatable

    check_simulatable(phase)
    if 143 <= phase.space_group <= 194:
        raise ValueError(
            f"phase {phase.name!r} has the trigonal/hexagonal space group {phase.space_group}; ebsdlib "
            "phases carry one cubic lattice parameter, so only space groups 1–142 and 195–230 can be simulated"
        )


def symmetry_operations(space_group: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(R, t)`` of every operation of the space group, as diffpy tabulates it (origin choice 1)."""
    from diffpy.structure.spacegroups import GetSpaceGroup

    return [(np.asarray(op.R, float), np.asarray(op.t, float)) for op in GetSpaceGroup(space_group).iter_symops()]


def orbit(position, operations: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """``(m, 3)`` distinct fractional positions equivalent to ``position`` in the unit cell."""
    out: list[np.ndarray] = []
    for r, t in operations:
        p = np.mod(r @ np.asarray(position, float) + t, 1.0)
        if not any(_same_site(p, q) for q in out):
            out.append(p)
    return np.array(out)


def _same_site(p: np.ndarray, q: np.ndarray) -> bool:
    return bool(np.all(np.abs((p - q + 0.5) % 1.0 - 0.5) < SITE_TOLERANCE))


def asymmetric_unit(phase: Phase) -> tuple[tuple[str, float, float, float], ...]:
    """The phase's atoms with one atom per orbit of its space group.

    Works for a full cell, an asymmetric unit or anything in between: each atom that is
    not an image of an atom already kept is kept, in the order given.

    Parameters
    ----------
    phase
        Phase whose ``atoms`` are ``(element, x, y, z)`` in fractional coordinates.

    Examples
    --------
    >>> asymmetric_unit(NI3AL)  # doctest: +SKIP
    (('Al', 0.0, 0.0, 0.0), ('Ni', 0.5, 0.5, 0.0))
    """
    check_phase(phase)
    ops = symmetry_operations(phase.space_group)
    kept: list[tuple[str, np.ndarray, np.ndarray]] = []
    for element, *xyz in phase.atoms:
        p = np.mod(np.asarray(xyz, float), 1.0)
        owner = next((k for k in kept if any(_same_site(p, q) for q in k[2])), None)
        if owner is None:
            kept.append((str(element), p, orbit(p, ops)))
        elif owner[0] != element:
            raise ValueError(
                f"phase {phase.name!r} puts {owner[0]} and {element} on equivalent sites {tuple(owner[1])} and "
                f"{tuple(xyz)} of space group {phase.space_group}; ebsdlib phases have no partial occupancies, "
                "give one element per site"
            )
    return tuple((e, float(p[0]), float(p[1]), float(p[2])) for e, p, _ in kept)


def cell_atoms(phase: Phase) -> int:
    """Number of atoms in the unit cell the space group makes of the phase's asymmetric unit."""
    ops = symmetry_operations(phase.space_group)
    return sum(len(orbit(xyz, ops)) for _, *xyz in asymmetric_unit(phase))


def de_crystal(phase: Phase) -> de_ebsd.Crystal:
    """The phase as a de-ebsd ``Crystal``: cubic cell in nm, asymmetric unit, diffpy's setting.

    Origin choice 1 (diffpy's tabulated operations) is the setting :func:`asymmetric_unit`
    reduces with and orix expands with, so both forward models read the atoms alike.
    """
    import de_ebsd as de

    a = float(phase.lattice_a) / 10.0
    sites = [de.AtomSite(e, (x, y, z)) for e, x, y, z in asymmetric_unit(phase)]
    return de.Crystal(a, a, a, 90.0, 90.0, 90.0, space_group=int(phase.space_group), sites=sites, origin=1)


def check_device(device: str) -> str:
    """``device`` if torch can use it; otherwise a ``ValueError`` that says what to pass."""
    import torch

    d = str(device)
    if d == "cpu":
        return d
    if d.split(":")[0] != "cuda":
        raise ValueError(f"unknown device {device!r}; options are 'cpu' or 'cuda' (or 'cuda:N')")
    if not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but torch sees no CUDA device; use device 'cpu'")
    return d


def de_ebsd_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("de-ebsd")
    except PackageNotFoundError:
        return "not installed"


def dynamical_parameters(
    phase: Phase,
    settings: DynamicalSettings,
    voltage: float = 20e3,
    sample_tilt: float = 70.0,
) -> dict:
    """Everything a dynamical master depends on, as a JSON-ready dictionary (its cache key's input)."""
    return {
        "forward_model": "dynamical",
        "cache_version": 1,
        "phase": {
            "name": phase.name,
            "space_group": int(phase.space_group),
            "lattice_a": float(phase.lattice_a),
            "atoms": [[str(e), float(x), float(y), float(z)] for e, x, y, z in phase.atoms],
        },
        "npx": settings.npx,
        "dmin_nm": settings.dmin,
        "mc_electrons": settings.mc_electrons,
        "mc_seed": MC_SEED,
        "voltage": float(voltage),
        "sample_tilt": float(sample_tilt),
        "debye_waller_nm2": 0.005,
        "backend": "bloch_prism",
        "storage_dtype": np.dtype(STORAGE_DTYPE).name,
        "de_ebsd": de_ebsd_version(),
        "hemisphere": "both",
        "projection": "lambert",
    }


def check_build(phase: Phase, settings: DynamicalSettings, voltage: float, sample_tilt: float) -> None:
    """Every check of :func:`build_dynamical_lambert`, before anything is computed or written."""
    asymmetric_unit(phase)  # checks the phase, and one element per site
    if not isinstance(settings, DynamicalSettings):
        raise ValueError(f"settings must be a DynamicalSettings, not {type(settings)!r}")
    if not 0 < voltage <= 300e3:
        raise ValueError(f"voltage {voltage!r} V is outside (0, 300 kV]; EBSD uses 5–30 kV")
    if not 0 <= sample_tilt < 90:
        raise ValueError(f"sample_tilt {sample_tilt!r}° must lie in [0, 90) degrees; EBSD uses 70")


def build_dynamical_lambert(
    phase: Phase,
    settings: DynamicalSettings | None = None,
    voltage: float = 20e3,
    sample_tilt: float = 70.0,
    device: str = "cpu",
) -> tuple[np.ndarray, dict]:
    """Build the dynamical master (no cache): ``(2, 2·npx+1, same)`` float32 Lambert array.

    Parameters
    ----------
    phase
        Phase with atoms, space group and cubic lattice parameter (Å).
    settings
        Resolution; ``None`` for the converged defaults.
    voltage
        Accelerating voltage in V.
    sample_tilt
        Sample tilt in degrees (sets the Monte Carlo's exit-depth distribution).
    device
        Where the Bloch-wave solve runs, ``"cpu"`` or ``"cuda"``; the Monte Carlo runs on the CPU.

    Returns
    -------
    lambert
        Upper and lower hemisphere in the square Lambert projection, rounded through
        :data:`STORAGE_DTYPE`.
    info
        ``v0`` (mean inner potential, V), ``cell_atoms``, ``n_reflections``, ``seconds``, ``device``.
    """
    import de_ebsd as de

    settings = settings or DynamicalSettings()
    check_build(phase, settings, voltage, sample_tilt)
    device = check_device(device)
    start = time.perf_counter()
    crystal = de_crystal(phase)
    depth = _depth_profile(crystal, float(voltage), float(sample_tilt), settings.mc_electrons)
    microscope = de.Microscope(energy=float(voltage), sample_tilt=float(sample_tilt))
    simulator = de.MasterPatternSimulator(crystal, microscope, npx=settings.npx, dmin=settings.dmin, monte_carlo=depth)
    master = simulator.compute(device=device)
    data = master.data[0].detach().cpu().numpy()
    lambert = data.astype(STORAGE_DTYPE).astype(np.float32)
    info = {
        "v0": float(simulator.structure_factors().v0),
        "cell_atoms": int(sum(crystal.multiplicities)),
        "n_reflections": len(simulator.reflections()),
        "seconds": round(time.perf_counter() - start, 2),
        "device": device,
    }
    return lambert, info


def _depth_profile(crystal: de_ebsd.Crystal, voltage: float, sample_tilt: float, n_electrons: int):
    """The Monte Carlo depth profile, on the CPU with :data:`MC_SEED` (kept per material in this process)."""
    from de_ebsd.sim.montecarlo.transport import MaterialProperties

    return _depth_profile_of(MaterialProperties.from_crystal(crystal), voltage, sample_tilt, n_electrons)


@functools.lru_cache(maxsize=16)
def _depth_profile_of(material, voltage: float, sample_tilt: float, n_electrons: int):
    from de_ebsd.sim.montecarlo.transport import simulate_depth_distribution

    return simulate_depth_distribution(
        material, voltage / 1e3, tilt_deg=sample_tilt, n_electrons=n_electrons, device="cpu", seed=MC_SEED
    )
