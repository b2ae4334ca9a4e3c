"""How hard is a simulated data set? Calibration measurements per dose.

For a dose, the same random orientations and pattern centres are simulated for every phase,
without noise and with noise, and both go through the project's preprocessing
(:func:`ebsdlib.data.preprocess.preprocess_batch`, default :class:`PreprocessConfig` kept at
the simulated size). Reported:

``corr_clean``
    Mean pixel correlation of each processed noisy pattern with its own processed noise-free
    frame. kikuchipy's real Ni patterns correlate with a clean *dynamical* simulation at about
    0.39–0.51 (``/work/shared/PHYSICS.md``), but that figure mixes noise with model error: a
    clean kinematical pattern itself correlates with the dynamical one at only about 0.63.
``corr_kinematical``
    The same against the bare kinematical pattern (no background, no blur), the way the real
    patterns were compared with a simulation.
``corr_repeat``
    Mean correlation of two independent noisy exposures of the same clean pattern: the noise
    alone, free of any model error. Comparable with two neighbouring patterns of one grain in a
    real scan (kikuchipy's 3×3 Ni scan: 0.48–0.59 after the same preprocessing).
``oracle_<A>_vs_<B>``
    Accuracy of the ideal template matcher that knows the true orientation and pattern centre:
    a noisy pattern of A (or B) is assigned to the phase whose processed noise-free pattern it
    correlates with more. This is the physical limit of telling the pair apart at that dose;
    0.5 is chance.
``logreg_<A>_vs_<B>``
    Test accuracy of a logistic regression on the processed pixels (half the orientations to
    train, half to test). Orientations are random, so band positions differ from pattern to
    pattern and pixels are a poor feature: this is a floor, not a limit.

Why the default dose is 4000: it makes ``corr_repeat`` (0.54) match the real scan's same-grain
neighbours (0.48–0.59), i.e. the simulated noise equals the real detector's; ``corr_clean`` is
then about 0.74. A dose of about 1000 gives ``corr_clean`` ≈ 0.48, the figure of the real
patterns against a dynamical simulation, but with twice the real noise amplitude
(``python -m ebsdlib simulate --dose 1000`` builds that harder variant). Run
``python -m ebsdlib simulate --calibrate 1000 4000 …`` for the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from ebsdlib.simulate.dataset import SimulationConfig


def correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of two ``(n, …)`` arrays."""
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))


def preprocess_frames(frames: np.ndarray, static_background: np.ndarray) -> np.ndarray:
    from ebsdlib.data.preprocess import PreprocessConfig, preprocess_batch

    config = PreprocessConfig(size=None)  # the defaults, at the simulated size
    out = preprocess_batch(np.asarray(frames, dtype=np.float32), config, static_background)
    return out[:, 0].numpy()


def _logreg_accuracy(xa: np.ndarray, xb: np.ndarray, seed: int) -> float:
    from sklearn.linear_model import LogisticRegression

    n = len(xa)
    half = n // 2
    x = np.concatenate([xa, xb]).reshape(2 * n, -1)
    y = np.r_[np.zeros(n), np.ones(n)]
    train = np.r_[np.arange(half), n + np.arange(half)]
    test = np.r_[np.arange(half, n), n + np.arange(half, n)]
    clf = LogisticRegression(C=0.01, max_iter=300, random_state=seed)
    clf.fit(x[train], y[train])
    return float(clf.score(x[test], y[test]))


def calibrate(
    doses: Sequence[float],
    n_per_phase: int = 300,
    base: SimulationConfig | None = None,
    logreg: bool = True,
    progress: bool = False,
) -> list[dict]:
    """Calibration numbers (see the module docstring) for each dose.

    Parameters
    ----------
    doses
        Doses (electrons per pixel) to measure.
    n_per_phase
        Orientations simulated (the same for every phase).
    base
        Settings other than the dose (pattern size, detector, phases, seed).
    logreg
        Also fit the pixel logistic regressions (slower).
    progress
        Show a progress bar over the doses.

    Returns
    -------
    list of dict
        One row per dose: ``dose``, ``corr_clean``, ``corr_kinematical``, ``corr_repeat`` and,
        per phase pair,
        ``oracle_<A>_vs_<B>`` (and ``logreg_<A>_vs_<B>``).
    """
    from tqdm.auto import tqdm

    from ebsdlib.simulate.dataset import render_clean
    from ebsdlib.simulate.detector import standardise
    from ebsdlib.simulate.master import load_masters
    from ebsdlib.simulate.orientations import random_quaternions

    base = base or SimulationConfig()
    phases = base.resolved_phases()
    det = base.detector
    size = int(base.pattern_size)
    rng = np.random.default_rng(base.seed)
    q = random_quaternions(n_per_phase, rng)
    pcs = np.asarray(det.pc)[None] + rng.normal(0, det.pc_spread, (n_per_phase, 3))
    masters, _ = load_masters(phases, **base.master_options())
    clean = {
        p.name: render_clean(masters, phases, np.full(n_per_phase, i), q, pcs, det, (size, size))
        for i, p in enumerate(phases)
    }
    rows = []
    for dose in tqdm(list(doses), desc="calibrating", unit="dose", disable=not progress):
        config = base.replace(dose=float(dose))
        pattern_dose = config.pattern_doses(n_per_phase, rng)
        raw = {k: det.expose(standardise(v), pattern_dose, rng, nominal_dose=dose) for k, v in clean.items()}
        repeat = {k: det.expose(standardise(v), pattern_dose, rng, nominal_dose=dose) for k, v in clean.items()}
        ref = {k: det.expose(standardise(v), pattern_dose, None) for k, v in clean.items()}
        static = np.mean([r.astype(np.float64).mean(0) for r in raw.values()], axis=0)
        static_ref = np.mean([r.mean(0) for r in ref.values()], axis=0)
        x = {k: preprocess_frames(v, static) for k, v in raw.items()}
        xr = {k: preprocess_frames(v, static_ref) for k, v in ref.items()}
        x2 = {k: preprocess_frames(v, static) for k, v in repeat.items()}
        row = {
            "dose": float(dose),
            "corr_clean": float(np.mean(np.concatenate([correlation(x[k], xr[k]) for k in x]))),
            "corr_kinematical": float(np.mean(np.concatenate([correlation(x[k], standardise(clean[k])) for k in x]))),
            "corr_repeat": float(np.mean(np.concatenate([correlation(x[k], x2[k]) for k in x]))),
        }
        for a, b in combinations([p.name for p in phases], 2):
            right_a = correlation(x[a], xr[a]) > correlation(x[a], xr[b])
            right_b = correlation(x[b], xr[b]) > correlation(x[b], xr[a])
            row[f"oracle_{a}_vs_{b}"] = float(np.mean(np.r_[right_a, right_b]))
            if logreg:
                row[f"logreg_{a}_vs_{b}"] = _logreg_accuracy(x[a], x[b], base.seed)
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """The calibration rows as a fixed-width text table."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])
    widths = [max(len(k), 8) for k in keys]
    lines = ["  ".join(k.rjust(w) for k, w in zip(keys, widths, strict=True))]
    for row in rows:
        lines.append(
            "  ".join(
                f"{row[k]:.3f}".rjust(w) if isinstance(row[k], float) else str(row[k]).rjust(w)
                for k, w in zip(keys, widths, strict=True)
            )
        )
    return "\n".join(lines)
