"""How fine a dynamical master must be: a convergence study and the agreement with EMsoft.

:func:`convergence_study` refines one parameter of :class:`~ebsdlib.simulate.dynamical.DynamicalSettings`
at a time (the others held at ``base``): for each value it builds the master, projects noise-free
patterns of random orientations onto the default detector and reports the median pixel
correlation with the patterns of the next finer value. A parameter is converged at the first
value whose patterns change by less than ``tolerance`` (0.005) in median correlation when it is
refined. :func:`emsoft_agreement` compares the dynamical Ni master at several ``npx`` with
kikuchipy's EMsoft Ni master (``nickel_ebsd_master_pattern_small``, shipped in its wheel; a
reference, never training data).

Reproduce the table behind :mod:`ebsdlib.simulate.dynamical`'s defaults (the other parameters
held at npx 200, dmin 0.04 nm, 20 000 electrons) with::

    ebsdlib simulate convergence --npx 200 --dmin 0.04 --mc-electrons 20000 --emsoft

(16 minutes on two shared CPU cores, most of it the npx 400 build; ``--emsoft`` adds about a minute),
and the npx step after it (12 minutes) with::

    ebsdlib simulate convergence --parameters npx --npx-values 280 400 560 --dmin 0.04 --mc-electrons 20000
"""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import numpy as np

from ebsdlib.phases import NI, Phase
from ebsdlib.simulate.calibrate import correlation
from ebsdlib.simulate.detector import DetectorModel
from ebsdlib.simulate.dynamical import DynamicalSettings

#: Values tried per parameter, coarse to fine.
DEFAULT_SWEEPS = {
    "npx": (140, 200, 280, 400),
    "dmin": (0.05, 0.04, 0.03, 0.02),
    "mc_electrons": (10_000, 20_000, 50_000),
}

#: A change of the median correlation below this counts as converged.
TOLERANCE = 0.005


def study_orientations(n: int = 100, seed: int = 0) -> np.ndarray:
    """``(n, 4)`` random orientations of the study (uniform over SO(3), seeded)."""
    from ebsdlib.simulate.orientations import random_quaternions

    return random_quaternions(n, np.random.default_rng(seed))


def patterns_of(
    lambert: np.ndarray, phase: Phase, orientations: np.ndarray, detector: DetectorModel, size: int
) -> np.ndarray:
    """Noise-free ``(n, size, size)`` patterns projected from a Lambert array."""
    from kikuchipy.signals import EBSDMasterPattern

    from ebsdlib.simulate.crystal import orix_phase
    from ebsdlib.simulate.project import project

    master = EBSDMasterPattern(lambert, hemisphere="both", projection="lambert", phase=orix_phase(phase))
    return project(master, orientations, detector, (size, size))


def convergence_study(
    phase: Phase = NI,
    base: DynamicalSettings | None = None,
    sweeps: dict[str, tuple] | None = None,
    n_orientations: int = 100,
    pattern_size: int = 64,
    detector: DetectorModel | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> list[dict]:
    """Refine ``npx``, ``dmin`` and ``mc_electrons`` one at a time and measure how the patterns change.

    Parameters
    ----------
    phase
        The phase to simulate.
    base
        Values of the parameters not being refined; ``None`` for the current defaults.
    sweeps
        Parameter → values, coarse to fine; default :data:`DEFAULT_SWEEPS`.
    n_orientations
        Random orientations the patterns are compared over.
    pattern_size
        Detector size in pixels.
    detector
        Detector geometry; ``None`` for the default.
    device
        Where the Bloch-wave solves run.
    progress
        Show a tqdm bar over the builds.

    Returns
    -------
    list of dict
        One row per value but the finest: ``parameter``, ``value``, ``next_value``,
        ``median_corr`` (median over orientations of the correlation with the next value's
        patterns), ``p05_corr`` (its 5th percentile), ``median_corr_psf`` (the same after the
        detector's point-spread blur), ``converged`` (``1 − median_corr < TOLERANCE``),
        ``build_seconds`` (Monte Carlo + Bloch-wave solve of this value).
    """
    from tqdm.auto import tqdm

    from ebsdlib.simulate.detector import blur
    from ebsdlib.simulate.dynamical import _depth_profile, build_dynamical_lambert, de_crystal

    base = base or DynamicalSettings()
    sweeps = sweeps or DEFAULT_SWEEPS
    unknown = set(sweeps) - set(DEFAULT_SWEEPS)
    if unknown:
        raise ValueError(f"unknown sweep parameters {sorted(unknown)}; options are {sorted(DEFAULT_SWEEPS)}")
    detector = detector or DetectorModel()
    q = study_orientations(n_orientations)
    voltage, tilt = detector.voltage * 1e3, detector.sample_tilt
    # every value is checked (by DynamicalSettings) before the first build
    settings = {(name, v): replace(base, **{name: v}) for name, values in sweeps.items() for v in values}
    built: dict[DynamicalSettings, tuple[np.ndarray, float]] = {}
    mc_seconds: dict[int, float] = {}
    crystal = de_crystal(phase)
    bar = tqdm(total=len(set(settings.values())), desc=f"convergence {phase.name}", unit="master", disable=not progress)
    for s in settings.values():
        if s in built:
            continue
        if s.mc_electrons not in mc_seconds:
            start = time.perf_counter()
            _depth_profile(crystal, voltage, tilt, s.mc_electrons)
            mc_seconds[s.mc_electrons] = time.perf_counter() - start
        lambert, info = build_dynamical_lambert(phase, s, voltage, tilt, device)
        seconds = info["seconds"] + mc_seconds[s.mc_electrons]
        built[s] = (patterns_of(lambert, phase, q, detector, pattern_size), seconds)
        bar.update()
    bar.close()
    rows = []
    for name, values in sweeps.items():
        for v, finer in itertools.pairwise(values):
            pats, seconds = built[settings[name, v]]
            finer_pats = built[settings[name, finer]][0]
            r = correlation(pats, finer_pats)
            r_psf = correlation(blur(pats, detector.psf_sigma), blur(finer_pats, detector.psf_sigma))
            rows.append(
                {
                    "parameter": name,
                    "value": v,
                    "next_value": finer,
                    "median_corr": float(np.median(r)),
                    "p05_corr": float(np.percentile(r, 5)),
                    "median_corr_psf": float(np.median(r_psf)),
                    "converged": bool(1 - np.median(r) < TOLERANCE),
                    "build_seconds": round(seconds, 1),
                }
            )
        rows.append(
            {
                "parameter": name,
                "value": values[-1],
                "next_value": None,
                "median_corr": float("nan"),
                "p05_corr": float("nan"),
                "median_corr_psf": float("nan"),
                "converged": None,
                "build_seconds": round(built[settings[name, values[-1]]][1], 1),
            }
        )
    return rows


def emsoft_agreement(
    npx_values: tuple[int, ...] = (60, 100, 140, 200),
    base: DynamicalSettings | None = None,
    n_orientations: int = 100,
    pattern_size: int = 64,
    detector: DetectorModel | None = None,
    device: str = "cpu",
    use_cache: bool = True,
    progress: bool = True,
) -> list[dict]:
    """Median correlation of dynamical Ni patterns with kikuchipy's EMsoft Ni master, per ``npx``.

    The kinematical Ni master (shipped) is the first row, for comparison. With
    ``use_cache`` the masters come from (and go to) the master-pattern cache, so the shipped
    defaults are not rebuilt.

    Returns
    -------
    list of dict
        ``forward_model``, ``npx`` (``None`` for kinematical), ``median_corr``, ``p05_corr``.
    """
    import kikuchipy as kp
    from tqdm.auto import tqdm

    from ebsdlib.simulate.master import master_pattern
    from ebsdlib.simulate.project import project

    base = base or DynamicalSettings()
    detector = detector or DetectorModel()
    q = study_orientations(n_orientations)
    shape = (pattern_size, pattern_size)
    emsoft = kp.data.nickel_ebsd_master_pattern_small(projection="lambert", hemisphere="both")
    ref = project(emsoft, q, detector, shape)
    kinematical = master_pattern(NI, voltage=detector.voltage * 1e3, use_cache=use_cache, forward_model="kinematical")
    kin = project(kinematical, q, detector, shape)
    r = correlation(kin, ref)
    median, p05 = float(np.median(r)), float(np.percentile(r, 5))
    rows = [{"forward_model": "kinematical", "npx": None, "median_corr": median, "p05_corr": p05}]
    for npx in tqdm(npx_values, desc="EMsoft agreement", unit="master", disable=not progress):
        mp = master_pattern(
            NI,
            voltage=detector.voltage * 1e3,
            use_cache=use_cache,
            forward_model="dynamical",
            dynamical=replace(base, npx=int(npx)),
            sample_tilt=detector.sample_tilt,
            device=device,
        )
        r = correlation(project(mp, q, detector, shape), ref)
        rows.append(
            {
                "forward_model": "dynamical",
                "npx": int(npx),
                "median_corr": float(np.median(r)),
                "p05_corr": float(np.percentile(r, 5)),
            }
        )
    return rows


def format_rows(rows: list[dict]) -> str:
    """A plain-text table of :func:`convergence_study` or :func:`emsoft_agreement` rows."""
    if not rows:
        return ""
    keys = list(rows[0])

    def cell(key: str, v) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if "_corr" in key:
            return f"{v:.4f}"
        return f"{v:.1f}" if key.endswith("seconds") else f"{v:g}" if isinstance(v, float) else str(v)

    table = [keys, *([cell(k, r[k]) for k in keys] for r in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(keys))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in table)
