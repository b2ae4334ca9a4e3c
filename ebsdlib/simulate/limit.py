"""The physical limit of telling Ni from Ni₃Fe, taken apart into its two cues.

Ni (Fm-3m, a = 3.524 Å) and L1₂ Ni₃Fe (Pm-3m, a = 3.550 Å) differ in two ways that a
Kikuchi pattern can show:

*chemical order*
    Fe on the cube corners makes the superlattice reflections (100), (110), … allowed, with a
    structure factor ∝ f_Ni − f_Fe: faint, since Z = 28 and 26 scatter nearly alike (the
    seed's hypothesis for the confusion);
*lattice parameter*
    0.7 % larger, so every band is 0.7 % narrower — nearly the change a 0.7 % larger
    detector distance makes, which is why an uncertain pattern centre can hide it.

The ideal matcher (the oracle of :mod:`ebsdlib.simulate.calibrate`) knows each pattern's true
orientation and assigns a noisy pattern to the candidate whose noise-free pattern it
correlates with more. Here it is run on three pairs (:data:`CUES`): the real phases; chemical
order only (Ni against Ni₃Fe at Ni's lattice parameter); lattice parameter only (Ni against
Ni at Ni₃Fe's) — and with the pattern centre known only to ±σ: the candidates' noise-free
patterns are rendered at the true pattern centre plus a normal error of σ (fractions of the
detector, each of PCx, PCy, PCz; the same error for both candidates of a pattern), as a
matcher that uses a calibrated but imperfect pattern centre does. With ``fit_pc`` the matcher
also gets curves that start from the largest σ and fit each candidate's PC and orientation to
the pattern (:func:`ebsdlib.simulate.fit.fit_patterns`) before comparing: what a matcher that
reads the PC from the pattern itself reaches, and so whether the PC is a limit at all.

Every pair accuracy comes with its Wilson 95 % interval (``2·n`` decisions: n orientations of
each candidate). The variant phases' master patterns are built like any phase's
(:func:`ebsdlib.simulate.master.load_masters`) and cached under ``artifacts/cache/master``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ebsdlib.phases import NI, NI3FE, Phase
from ebsdlib.simulate.config import AcquisitionSettings

#: Pattern-centre uncertainties (σ, fractions of the detector) of the default curves.
DEFAULT_PC_SIGMAS = (0.0, 0.005, 0.01)

#: Cue → (what it compares, in plain words).
CUES = {
    "real": "Ni vs Ni₃Fe as they are: chemical order and lattice parameter",
    "order": "chemical order only: Ni vs Ni₃Fe at Ni's lattice parameter",
    "lattice": "lattice parameter only: Ni vs Ni at Ni₃Fe's lattice parameter",
}


def cue_pairs(a: Phase = NI, b: Phase = NI3FE) -> dict[str, tuple[Phase, Phase]]:
    """The two candidates of each cue of :data:`CUES`, from the real pair ``a`` (the
    disordered phase) and ``b`` (the ordered one)."""
    return {
        "real": (a, b),
        "order": (a, replace(b, name=f"{b.name}_at_a_{a.name}", lattice_a=a.lattice_a, label=f"{b.display_name}*")),
        "lattice": (a, replace(a, name=f"{a.name}_at_a_{b.name}", lattice_a=b.lattice_a, label=f"{a.display_name}*")),
    }


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % for ``z`` = 1.96)."""
    if n <= 0:
        raise ValueError(f"n {n!r} must be positive: the interval of no decisions is undefined")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # the interval holds p exactly (rounding could put p = 1 a hair above centre + half)
    return float(max(0.0, min(p, centre - half))), float(min(1.0, max(p, centre + half)))


def physical_limit(
    doses: Sequence[float],
    n_per_phase: int = 200,
    pc_sigmas: Sequence[float] = DEFAULT_PC_SIGMAS,
    base: AcquisitionSettings | None = None,
    cues: Sequence[str] = tuple(CUES),
    fit_pc: bool = False,
    fit_steps: int | None = None,
    progress: bool = False,
) -> list[dict]:
    """The ideal matcher's pair accuracy per cue, dose and pattern-centre uncertainty.

    Parameters
    ----------
    doses
        Mean detected electrons per pixel.
    n_per_phase
        Orientations (the same for both candidates of every cue).
    pc_sigmas
        σ of the pattern-centre error of the matcher's templates (0: known exactly).
    base
        Simulator settings other than the dose and phases (pattern size, detector, forward
        model, master resolution, seed); default :class:`AcquisitionSettings`.
    cues
        Keys of :data:`CUES`.
    fit_pc
        Also fit each candidate's PC and orientation to each pattern, starting from the templates
        of the largest σ (which must be > 0), and compare the fitted scores (rows with
        ``pc_fitted`` true).
    fit_steps
        Adam steps of that fit (default :data:`ebsdlib.simulate.fit.FIT_STEPS`).
    progress
        Show a tqdm bar over cues and σ.

    Returns
    -------
    list of dict
        One row per cue, σ and dose: ``cue``, ``pc_sigma``, ``pc_fitted`` (false), ``dose``,
        ``pair_accuracy``, ``low``, ``high`` (Wilson 95 %), ``n`` (decisions), ``candidates``;
        with ``fit_pc`` one more per cue and dose with ``pc_fitted`` true, ``pc_sigma`` the σ the
        fit started from, and ``pc_error_start`` / ``pc_error_fitted``: the median distance of the
        true candidate's PC from the truth before and after the fit (fractions of the detector).
    """
    from tqdm.auto import tqdm

    from ebsdlib.simulate.calibrate import correlation, preprocess_frames
    from ebsdlib.simulate.dataset import render_clean
    from ebsdlib.simulate.detector import standardise
    from ebsdlib.simulate.fit import FIT_STEPS, fit_patterns
    from ebsdlib.simulate.master import load_masters
    from ebsdlib.simulate.orientations import random_quaternions
    from ebsdlib.simulate.torch_render import TorchRenderer

    base = base or AcquisitionSettings()
    fit_steps = FIT_STEPS if fit_steps is None else fit_steps
    unknown = [c for c in cues if c not in CUES]
    if unknown or not cues:
        raise ValueError(f"cues {list(cues)!r} are not allowed; choose from {list(CUES)}")
    doses = [float(d) for d in doses]
    if not doses or not all(np.isfinite(d) and d > 0 for d in doses):
        raise ValueError(f"doses {doses!r} must be one or more positive numbers of electrons per pixel")
    sigmas = [float(s) for s in pc_sigmas]
    if not sigmas or not all(0 <= s <= 0.1 for s in sigmas):
        raise ValueError(f"pc_sigmas {sigmas!r} must be one or more values in [0, 0.1] (fractions of the detector)")
    if not isinstance(n_per_phase, int) or n_per_phase < 2:
        raise ValueError(f"n_per_phase {n_per_phase!r} must be an integer of at least 2")
    if fit_pc and max(sigmas) <= 0:
        raise ValueError(
            f"fit_pc starts from the largest pc_sigma, and {sigmas!r} has none above 0; add one, e.g. 0.01"
        )
    det = base.detector
    shape = (int(base.pattern_size), int(base.pattern_size))
    pairs = {c: cue_pairs()[c] for c in cues}
    phases = tuple({p.name: p for pair in pairs.values() for p in pair}.values())
    masters, _ = load_masters(phases, **{**base.master_options(), "progress": progress})
    rng = np.random.default_rng(base.seed)
    q = random_quaternions(n_per_phase, rng)
    pcs = np.asarray(det.pc)[None] + rng.normal(0, det.pc_spread, (n_per_phase, 3))
    rows = []
    steps = [(c, s, False) for c in cues for s in sigmas] + [(c, max(sigmas), True) for c in cues if fit_pc]
    for cue, sigma, fitted in tqdm(steps, desc="physical limit", unit="curve", disable=not progress):
        pair = pairs[cue]
        # the same draws for every cue and σ: curves differ only by what they vary
        draw = np.random.default_rng([base.seed, 1])
        template_pcs = np.clip(pcs + draw.normal(0, sigma, pcs.shape), 1e-3, 1.999)
        truth = {p.name: render_clean(masters, (p,), np.zeros(n_per_phase), q, pcs, det, shape) for p in pair}
        if fitted:  # the templates are made during the fit
            renderer = TorchRenderer(masters, pair, det, shape)
        else:
            templates = {
                p.name: render_clean(masters, (p,), np.zeros(n_per_phase), q, template_pcs, det, shape) for p in pair
            }
        for dose in doses:
            noise = np.random.default_rng([base.seed, 2, round(dose)])
            pattern_dose = base.replace(dose=dose).pattern_doses(n_per_phase, noise)
            raw = {k: det.expose(standardise(v), pattern_dose, noise, nominal_dose=dose) for k, v in truth.items()}
            static = np.mean([r.astype(np.float64).mean(0) for r in raw.values()], axis=0)
            x = {k: preprocess_frames(v, static) for k, v in raw.items()}
            a, b = (p.name for p in pair)
            extra = {}
            # score[k][c]: the patterns of candidate k against candidate c's templates
            if fitted:  # each template fitted to its pattern, from the σ templates' PC and the true orientation
                fits = {
                    k: [fit_patterns(renderer, c, x[k], q, template_pcs, steps=fit_steps) for c in (0, 1)] for k in x
                }
                score = {k: {c.name: f.scores for c, f in zip(pair, fits[k], strict=True)} for k in x}
                own = np.concatenate([fits[k][i].pcs for i, k in enumerate(x)])  # each pattern's own candidate
                extra = {
                    "pc_error_start": float(np.median(np.linalg.norm(template_pcs - pcs, axis=1))),
                    "pc_error_fitted": float(np.median(np.linalg.norm(own - np.concatenate([pcs, pcs]), axis=1))),
                }
            else:
                ref = {k: det.expose(standardise(v), pattern_dose, None) for k, v in templates.items()}
                static_ref = np.mean([r.mean(0) for r in ref.values()], axis=0)
                xr = {k: preprocess_frames(v, static_ref) for k, v in ref.items()}
                score = {k: {c: correlation(x[k], xr[c]) for c in xr} for k in x}
            right = np.r_[score[a][a] > score[a][b], score[b][b] > score[b][a]]
            low, high = wilson_interval(int(right.sum()), len(right))
            rows.append(
                {
                    "cue": cue,
                    "pc_sigma": sigma,
                    "pc_fitted": fitted,
                    "dose": dose,
                    "pair_accuracy": float(right.mean()),
                    "low": low,
                    "high": high,
                    "n": len(right),
                    "candidates": [a, b],
                    **extra,
                }
            )
    return rows


def cue_differences(
    a: Phase = NI,
    b: Phase = NI3FE,
    forward_model: str = "dynamical",
    n: int = 200,
    shape: tuple[int, int] = (64, 64),
    seed: int = 1,
    **master_options,
) -> dict[str, float]:
    """How much of the clean pattern each cue of :data:`CUES` changes: for each pair of
    :func:`cue_pairs`, ``1 − r`` with ``r`` the median correlation of the two candidates' clean
    patterns at the same ``n`` random orientations and the detector's pattern centre.

    ``1 − r`` of standardised patterns is half their mean squared difference: the difference a
    matcher or a network has to find, before noise. ``master_options`` go to
    :func:`ebsdlib.simulate.master.load_masters` (``half_size``, ``cache_dir``, ``dynamical``, …).
    """
    from ebsdlib.simulate.calibrate import correlation
    from ebsdlib.simulate.dataset import render_clean
    from ebsdlib.simulate.detector import DetectorModel
    from ebsdlib.simulate.master import load_masters
    from ebsdlib.simulate.orientations import random_quaternions

    pairs = cue_pairs(a, b)
    phases = tuple({p.name: p for pair in pairs.values() for p in pair}.values())
    masters, _ = load_masters(phases, forward_model=forward_model, **master_options)
    q = random_quaternions(n, np.random.default_rng(seed))
    detector = DetectorModel()
    out = {}
    for cue, pair in pairs.items():
        first, second = (render_clean(masters, pair, np.full(n, i), q, None, detector, shape) for i in (0, 1))
        out[cue] = float(1 - np.median(correlation(first, second)))
    return out
