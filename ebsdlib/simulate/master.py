"""Master patterns, kinematical or dynamical, built once per phase and parameters and cached on disk.

A master pattern holds the Kikuchi band intensity for every direction of the sphere; each
simulated pattern is a gnomonic projection of it for one orientation and detector geometry.
The kinematical master pattern is built by kikuchipy's
:class:`~kikuchipy.simulations.KikuchiPatternSimulator` from the reflectors of
:func:`ebsdlib.simulate.crystal.reflectors` (band intensity ∝ |F_hkl| with ``scaling="linear"``,
kikuchipy's default), for both hemispheres, and converted to the square Lambert projection
that :meth:`~kikuchipy.signals.EBSDMasterPattern.get_patterns` projects from. The dynamical
master (``forward_model="dynamical"``) is de-ebsd's Bloch-wave simulation,
:func:`ebsdlib.simulate.dynamical.build_dynamical_lambert`; it goes through the same cache and
the same projection.

The Lambert arrays are cached as ``<key>.npz`` in ``artifacts/cache/master/`` (or
``$EBSDLIB_ARTIFACTS/cache/master/``); the key is a hash of the phase (name, space group,
lattice parameter, atoms) and every build parameter (for dynamical masters also the forward
model, Monte Carlo seed, sample tilt and de-ebsd's version), so a changed phase or parameter
never reads a stale file. Cache files are written atomically.

The master patterns of the default phases at the default parameters ship with the package
(``ebsdlib/simulate/masters/``, read when the cache has no file of that key): the kinematical
build is not bit-reproducible from run to run (a pixel at a band edge falls inside or outside
the band depending on floating-point summation order; measured: 0.2 % of the Lambert pixels
of Ni₃Fe differed by up to 3.6 of 92 between two builds on the same machine). Projection and
noise are reproducible given the master, so every machine simulates the same default data
set from the shipped masters, and the demo's data-set fingerprints hold everywhere.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ebsdlib.phases import Phase

if TYPE_CHECKING:
    from kikuchipy.signals import EBSDMasterPattern

    from ebsdlib.simulate.dynamical import DynamicalSettings

ForwardModel = Literal["kinematical", "dynamical"]

#: The forward models and what each is.
FORWARD_MODELS = {
    "kinematical": "kikuchipy KikuchiPatternSimulator, band intensity ∝ |F_hkl|",
    "dynamical": "de-ebsd Bloch-wave master pattern with a Monte Carlo depth profile",
}

#: The forward model of the simulator's defaults: the data set, the scan, the benchmarks and the
#: demo are dynamical; data made before it existed (records without ``forward_model``) were
#: kinematical.
DEFAULT_FORWARD_MODEL: ForwardModel = "dynamical"

#: Bump when the way master patterns are built changes, so old cache files are not reused.
CACHE_VERSION = 1

#: Master patterns shipped with the package, by cache key (read-only; see the module docstring).
PACKAGED_DIR = Path(__file__).with_name("masters")


def check_forward_model(forward_model: str) -> None:
    """Raise ``ValueError`` naming the value and the options when it is not a forward model."""
    if forward_model not in FORWARD_MODELS:
        options = ", ".join(f"{k!r} ({v})" for k, v in FORWARD_MODELS.items())
        raise ValueError(f"unknown forward model {forward_model!r}; options are {options}")


def default_cache_dir() -> Path:
    """``<artifacts>/cache/master`` (honours ``$EBSDLIB_ARTIFACTS``)."""
    from ebsdlib.paths import artifacts_root

    return artifacts_root() / "cache" / "master"


def master_parameters(
    phase: Phase,
    half_size: int = 250,
    min_dspacing: float = 0.7,
    voltage: float = 20e3,
    scaling: Literal["linear", "square"] = "linear",
) -> dict:
    """Everything a master pattern depends on, as a JSON-ready dictionary."""
    return {
        "cache_version": CACHE_VERSION,
        "phase": {
            "name": phase.name,
            "space_group": int(phase.space_group),
            "lattice_a": float(phase.lattice_a),
            "atoms": [[str(e), float(x), float(y), float(z)] for e, x, y, z in phase.atoms],
        },
        "half_size": int(half_size),
        "min_dspacing": float(min_dspacing),
        "voltage": float(voltage),
        "scaling": scaling,
        "structure_factors": "lobato",
        "hemisphere": "both",
        "projection": "lambert",
    }


def cache_key(parameters: dict) -> str:
    """Short hash of :func:`master_parameters`; the cache file name."""
    text = json.dumps(parameters, sort_keys=True)
    return f"{parameters['phase']['name']}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def build_lambert(
    phase: Phase,
    half_size: int = 250,
    min_dspacing: float = 0.7,
    voltage: float = 20e3,
    scaling: Literal["linear", "square"] = "linear",
) -> tuple[np.ndarray, int]:
    """Build the master pattern (no cache): ``(2, 2·half_size+1, same)`` float32 Lambert array.

    Returns
    -------
    lambert
        Upper and lower hemisphere in the square Lambert projection.
    n_reflectors
        Number of reflectors (band families ± g) that went into it.
    """
    from kikuchipy.simulations import KikuchiPatternSimulator

    from ebsdlib.simulate.crystal import reflectors

    if scaling not in ("linear", "square"):
        raise ValueError(f"unknown scaling {scaling!r}; options are 'linear' (|F|) or 'square' (|F|²)")
    if not 8 <= int(half_size) <= 2000:
        raise ValueError(f"master-pattern half_size {half_size!r} must be between 8 and 2000 pixels")
    ref = reflectors(phase, min_dspacing=min_dspacing, voltage=voltage)
    simulator = KikuchiPatternSimulator(ref)
    stereo = _quiet(simulator.calculate_master_pattern, half_size=int(half_size), hemisphere="both", scaling=scaling)
    lambert = _quiet(stereo.as_lambert, show_progressbar=False)
    return np.asarray(lambert.data, dtype=np.float32), int(ref.size)


def _quiet(func, *args, **kwargs):
    """Call ``func`` with kikuchipy's own tqdm bars silenced (ours report progress instead)."""
    import contextlib
    import io

    with contextlib.redirect_stderr(io.StringIO()):
        return func(*args, **kwargs)


def master_pattern(
    phase: Phase,
    half_size: int = 250,
    min_dspacing: float = 0.7,
    voltage: float = 20e3,
    scaling: Literal["linear", "square"] = "linear",
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    *,
    forward_model: ForwardModel = DEFAULT_FORWARD_MODEL,
    dynamical: DynamicalSettings | None = None,
    sample_tilt: float = 70.0,
    device: str = "cpu",
) -> EBSDMasterPattern:
    """The phase's master pattern (Lambert projection), from the cache when possible.

    Parameters
    ----------
    phase
        Phase with atoms, space group and lattice parameter.
    half_size
        Kinematical: the Lambert square has ``2·half_size + 1`` pixels a side.
    min_dspacing
        Kinematical: smallest interplanar spacing (Å) of the reflectors included.
    voltage
        Accelerating voltage in V.
    scaling
        Kinematical: band intensity ∝ ``|F|`` (``"linear"``) or ``|F|²`` (``"square"``).
    cache_dir
        Cache folder; default :func:`default_cache_dir`.
    use_cache
        Read and write the cache; ``False`` always builds.
    forward_model
        ``"kinematical"`` (kikuchipy) or ``"dynamical"`` (de-ebsd).
    dynamical
        Dynamical: resolution; ``None`` for the converged defaults.
    sample_tilt
        Dynamical: sample tilt in degrees (the Monte Carlo depends on it).
    device
        Dynamical: where a build runs, ``"cpu"`` or ``"cuda"`` (not part of the cache key).

    Returns
    -------
    kikuchipy.signals.EBSDMasterPattern
        With ``projection="lambert"``, ``hemisphere="both"`` and the orix phase attached.
    """
    from kikuchipy.signals import EBSDMasterPattern

    from ebsdlib.simulate.crystal import orix_phase

    params = parameters_of(phase, half_size, min_dspacing, voltage, scaling, forward_model, dynamical, sample_tilt)
    if forward_model == "dynamical":
        from ebsdlib.simulate.dynamical import (
            STORAGE_DTYPE,
            DynamicalSettings,
            build_dynamical_lambert,
            check_build,
            check_device,
        )

        dynamical = dynamical or DynamicalSettings()
        check_build(phase, dynamical, voltage, sample_tilt)
    lambert = None
    path = None
    if use_cache:
        path = _cache_file(params, cache_dir)
        lambert = _read_cache(path, params)
        if lambert is None:
            lambert = _read_cache(PACKAGED_DIR / path.name, params)
    if lambert is None:
        if forward_model == "dynamical":
            check_device(device)
            lambert, built = build_dynamical_lambert(phase, dynamical, voltage, sample_tilt, device)
            record, store = {**params, "built": built}, lambert.astype(STORAGE_DTYPE)
        else:
            lambert, n_ref = build_lambert(phase, half_size, min_dspacing, voltage, scaling)
            record, store = {**params, "n_reflectors": n_ref}, lambert
        if path is not None:
            _write_cache(path, store, record)
    mp = EBSDMasterPattern(lambert, hemisphere="both", projection="lambert", phase=orix_phase(phase))
    return mp


def parameters_of(
    phase: Phase,
    half_size: int = 250,
    min_dspacing: float = 0.7,
    voltage: float = 20e3,
    scaling: Literal["linear", "square"] = "linear",
    forward_model: ForwardModel = DEFAULT_FORWARD_MODEL,
    dynamical: DynamicalSettings | None = None,
    sample_tilt: float = 70.0,
) -> dict:
    """:func:`master_parameters` of a kinematical or the dynamical parameters of a dynamical master."""
    check_forward_model(forward_model)
    if forward_model == "dynamical":
        from ebsdlib.simulate.dynamical import DynamicalSettings, dynamical_parameters

        return dynamical_parameters(phase, dynamical or DynamicalSettings(), voltage, sample_tilt)
    return master_parameters(phase, half_size, min_dspacing, voltage, scaling)


def locate(
    phase: Phase,
    half_size: int = 250,
    min_dspacing: float = 0.7,
    voltage: float = 20e3,
    cache_dir: str | Path | None = None,
    *,
    forward_model: ForwardModel = DEFAULT_FORWARD_MODEL,
    dynamical: DynamicalSettings | None = None,
    sample_tilt: float = 70.0,
) -> Path | None:
    """The file :func:`master_pattern` would read this master from (the cache, else the shipped
    one), or ``None`` when it would build it."""
    params = parameters_of(phase, half_size, min_dspacing, voltage, "linear", forward_model, dynamical, sample_tilt)
    path = _cache_file(params, cache_dir)
    return next((p for p in (path, PACKAGED_DIR / path.name) if _read_cache(p, params) is not None), None)


def _cache_file(params: dict, cache_dir: str | Path | None) -> Path:
    return (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / f"{cache_key(params)}.npz"


def _read_cache(path: Path, params: dict) -> np.ndarray | None:
    """The cached Lambert array, or ``None`` when absent, unreadable or built differently."""
    size = 2 * (params["npx"] if params.get("forward_model") == "dynamical" else params["half_size"]) + 1
    if not path.exists():
        return None
    try:
        with np.load(path) as f:
            stored = json.loads(str(f["parameters"]))
            lambert = f["lambert"]
    except (OSError, ValueError, KeyError):
        return None
    stored.pop("n_reflectors", None)
    stored.pop("built", None)
    if stored != params or lambert.shape != (2, size, size):
        return None
    return lambert.astype(np.float32, copy=False)


def _write_cache(path: Path, lambert: np.ndarray, params: dict) -> None:
    from ebsdlib.io import atomic_write

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            save = np.savez_compressed if lambert.dtype == np.float16 else np.savez
            save(fh, lambert=lambert, parameters=np.array(json.dumps(params, sort_keys=True)))

    atomic_write(path, _write)


def load_masters(
    phases: tuple[Phase, ...],
    half_size: int = 250,
    min_dspacing: float = 0.7,
    voltage: float = 20e3,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    *,
    forward_model: ForwardModel = DEFAULT_FORWARD_MODEL,
    dynamical: DynamicalSettings | None = None,
    sample_tilt: float = 70.0,
    device: str = "cpu",
) -> tuple[dict[str, EBSDMasterPattern], dict[str, dict]]:
    """Master patterns of several phases and, per phase, the parameters and cache key used.

    The keywords are those of :func:`master_pattern`. Every phase and parameter is checked
    before the first master is built.

    Returns
    -------
    masters
        Phase name → Lambert master pattern.
    info
        Phase name → :func:`parameters_of` plus ``cache_key``, for provenance.
    """
    from tqdm.auto import tqdm

    params = {
        p.name: parameters_of(p, half_size, min_dspacing, voltage, "linear", forward_model, dynamical, sample_tilt)
        for p in phases
    }
    if forward_model == "dynamical":
        from ebsdlib.simulate.dynamical import DynamicalSettings, check_build

        for phase in phases:
            check_build(phase, dynamical or DynamicalSettings(), voltage, sample_tilt)
    masters, info = {}, {}
    for phase in tqdm(phases, desc=f"{forward_model} master patterns", unit="phase", disable=not progress):
        masters[phase.name] = master_pattern(
            phase,
            half_size,
            min_dspacing,
            voltage,
            cache_dir=cache_dir,
            forward_model=forward_model,
            dynamical=dynamical,
            sample_tilt=sample_tilt,
            device=device,
        )
        info[phase.name] = {**params[phase.name], "cache_key": cache_key(params[phase.name])}
    return masters, info
