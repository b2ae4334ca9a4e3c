"""Classification metrics of one evaluated split, as a JSON-ready dictionary.

Everything scikit-learn computes is taken from scikit-learn; what it lacks (expected calibration
error, the bootstrap interval, the Ni↔Ni₃Fe confusion) is defined and computed here.

Definitions
-----------
Unknown labels
    Samples whose true label is ``-1`` (not known) are left out of every metric; their count is
    reported as ``n_unknown``.
Confusion matrix
    Counts, rows = true class, columns = predicted class, over ``labels=range(C)`` so that its
    shape is always ``(C, C)`` even when a class is absent.
Per-class precision / recall / F1
    scikit-learn's values. A class absent from the true labels has recall and F1 ``None`` and
    precision ``0.0`` if it was predicted (every such prediction is wrong) else ``None``. A present
    class that is never predicted has precision ``0.0``.
Macro F1
    Mean F1 over the classes present in the true labels.
Balanced accuracy
    Mean recall over the classes present in the true labels (scikit-learn).
Top-2 accuracy
    Fraction of samples whose true class is among the two most probable (``1.0`` when ``C <= 2``).
Expected calibration error (ECE)
    Confidence = the highest class probability. The interval [0, 1] is cut into 15 equal bins
    ``(k/15, (k+1)/15]`` (the first bin also holds 0). ECE = Σ_b (n_b / n) · |acc_b − conf_b|, with
    acc_b the accuracy and conf_b the mean confidence of the samples in bin b (Guo et al., 2017).
    The per-bin values are returned under ``calibration`` for a reliability diagram.
Bootstrap 95 % interval on accuracy
    Percentile interval (2.5 %, 97.5 %) of the accuracy over ``n_boot`` resamples of the evaluated
    samples with replacement. The number of correct samples in one resample is exactly
    Binomial(n, accuracy), which is how the resamples are drawn (same distribution, no (n_boot, n)
    index array); seeded with ``seed``.
Ni↔Ni₃Fe confusion (``ni_ni3fe_confusion``)
    (number of true Ni predicted Ni₃Fe + number of true Ni₃Fe predicted Ni) / (number of true Ni +
    number of true Ni₃Fe). The directional rates are ``ni_to_ni3fe`` = true Ni predicted Ni₃Fe / true
    Ni and ``ni3fe_to_ni`` = true Ni₃Fe predicted Ni / true Ni₃Fe. Each is ``None`` when its
    denominator is 0 or when the phase list lacks either phase (names matched case-insensitively
    against :data:`ebsdlib.phases.HARD_PAIR`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ebsdlib.phases import HARD_PAIR

#: Number of equal-width confidence bins of the expected calibration error.
ECE_BINS = 15


def compute_metrics(
    y_true: Sequence[int] | np.ndarray,
    proba: np.ndarray,
    phase_names: Sequence[str],
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """All metrics of one evaluated split (see the module docstring for the definitions).

    Parameters
    ----------
    y_true
        True class indices, shape ``(n,)``; ``-1`` marks an unknown label (left out).
    proba
        Class probabilities, shape ``(n, C)``; the prediction is the arg-max of each row.
    phase_names
        The ``C`` class names, in label order.
    n_boot
        Bootstrap resamples of the accuracy interval.
    seed
        Seed of the bootstrap.

    Returns
    -------
    dict
        JSON-serialisable: ``n``, ``n_unknown``, ``phase_names``, ``accuracy``,
        ``accuracy_ci95`` ([low, high]), ``balanced_accuracy``, ``macro_f1``, ``top2_accuracy``,
        ``ece``, ``calibration``, ``per_class`` (name → precision, recall, f1, support),
        ``confusion_matrix`` (nested lists), ``ni_ni3fe_confusion``, ``ni_to_ni3fe``,
        ``ni3fe_to_ni``, ``n_boot``, ``seed``.

    Raises
    ------
    ValueError
        When shapes disagree, a label is outside ``-1 … C-1``, probabilities are not finite, or no
        sample has a known label.
    """
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
        top_k_accuracy_score,
    )

    y_all = np.asarray(y_true).astype(np.int64).reshape(-1)
    proba_all = np.asarray(proba, dtype=np.float64)
    names = [str(n) for n in phase_names]
    n_classes = len(names)
    _check_inputs(y_all, proba_all, n_classes, n_boot)

    known = y_all >= 0
    y = y_all[known]
    p = proba_all[known]
    if y.size == 0:
        raise ValueError(
            f"no sample with a known label (all {y_all.size} labels are -1); metrics need true "
            "labels: evaluate a split that has them"
        )
    pred = p.argmax(axis=1)
    labels = list(range(n_classes))
    present = sorted(int(c) for c in np.unique(y))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about absent classes; handled below
        accuracy = float(accuracy_score(y, pred))
        balanced = float(balanced_accuracy_score(y, pred))
        macro_f1 = float(f1_score(y, pred, labels=present, average="macro", zero_division=0))
        prec, rec, f1, support = precision_recall_fscore_support(y, pred, labels=labels, zero_division=np.nan)
        if n_classes > 2:
            top2 = float(top_k_accuracy_score(y, p, k=2, labels=labels))
        else:
            top2 = 1.0
    cm = confusion_matrix(y, pred, labels=labels)

    per_class = {}
    for c, name in enumerate(names):
        sup = int(support[c])
        predicted = int(cm[:, c].sum())
        per_class[name] = {
            "precision": _num(prec[c]) if predicted else (0.0 if sup else None),
            "recall": _num(rec[c]) if sup else None,
            "f1": _num(f1[c]) if sup else None,
            "support": sup,
        }

    ece, calibration = expected_calibration_error(p, y)
    low, high = bootstrap_accuracy_ci(int((pred == y).sum()), int(y.size), n_boot, seed)
    return {
        "n": int(y.size),
        "n_unknown": int((~known).sum()),
        "phase_names": names,
        "accuracy": accuracy,
        "accuracy_ci95": [low, high],
        "balanced_accuracy": balanced,
        "macro_f1": macro_f1,
        "top2_accuracy": top2,
        "ece": ece,
        "calibration": calibration,
        "per_class": per_class,
        "confusion_matrix": cm.astype(int).tolist(),
        **hard_pair_confusion(cm, names),
        "n_boot": int(n_boot),
        "seed": int(seed),
    }


def expected_calibration_error(proba: np.ndarray, y_true: np.ndarray, n_bins: int = ECE_BINS) -> tuple[float, dict]:
    """Expected calibration error with equal-width confidence bins.

    Parameters
    ----------
    proba
        Class probabilities ``(n, C)`` of samples with known labels.
    y_true
        True class indices ``(n,)``.
    n_bins
        Number of bins on [0, 1].

    Returns
    -------
    ece, calibration
        The ECE and a dict with ``bin_edges`` (n_bins + 1), and per bin ``count``,
        ``accuracy`` and ``confidence`` (``None`` for empty bins).
    """
    proba = np.asarray(proba, dtype=np.float64)
    y_true = np.asarray(y_true)
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # bin k holds (edges[k], edges[k+1]]; confidence 0 goes to bin 0
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    sum_acc = np.bincount(idx, weights=correct, minlength=n_bins)
    sum_conf = np.bincount(idx, weights=conf, minlength=n_bins)
    nonempty = count > 0
    acc_b = np.divide(sum_acc, count, out=np.zeros(n_bins), where=nonempty)
    conf_b = np.divide(sum_conf, count, out=np.zeros(n_bins), where=nonempty)
    n = max(int(count.sum()), 1)
    ece = float(np.sum(count / n * np.abs(acc_b - conf_b)))
    calibration = {
        "bin_edges": edges.tolist(),
        "count": count.astype(int).tolist(),
        "accuracy": [float(a) if k else None for a, k in zip(acc_b, count, strict=True)],
        "confidence": [float(c) if k else None for c, k in zip(conf_b, count, strict=True)],
    }
    return ece, calibration


def bootstrap_accuracy_ci(n_correct: int, n: int, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95 % interval of an accuracy ``n_correct / n``.

    Resampling ``n`` samples with replacement gives Binomial(n, n_correct / n) correct ones, so
    the resampled accuracies are drawn from that distribution directly.

    Parameters
    ----------
    n_correct, n
        Correct and total samples.
    n_boot
        Number of resamples.
    seed
        Seed of ``numpy.random.default_rng``.
    """
    if n <= 0:
        raise ValueError(f"bootstrap needs at least one sample, got n={n!r}")
    rng = np.random.default_rng(seed)
    acc = rng.binomial(n, n_correct / n, size=n_boot) / n
    low, high = np.percentile(acc, [2.5, 97.5])
    return float(low), float(high)


def pair_chance_loss(n_classes: int) -> float:
    """Cross-entropy on balanced classes of a network that is sure of every class but one pair,
    between which it guesses evenly: ``(2 / n) · ln 2`` (0.462 for three phases).

    A network that gives a pair the same outputs pays at least ln 2 on each of those two classes,
    so a streamed training loss (fresh, balanced patterns) below this tells that pair apart at least
    in part; at or above it, the loss shows no sign of the pair, whatever the other classes do.
    """
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"n_classes {n_classes!r} must be an integer of at least 2")
    return 2 / int(n_classes) * math.log(2)


def hard_pair_confusion(cm: np.ndarray, phase_names: Sequence[str]) -> dict:
    """The Ni↔Ni₃Fe confusion rates from a confusion matrix (rows true, columns predicted).

    Parameters
    ----------
    cm
        ``(C, C)`` counts.
    phase_names
        Class names; Ni and Ni₃Fe are found by name (case-insensitive).

    Returns
    -------
    dict
        ``ni_ni3fe_confusion``, ``ni_to_ni3fe``, ``ni3fe_to_ni`` (``None`` where undefined).
    """
    cm = np.asarray(cm)
    lower = [str(n).lower() for n in phase_names]
    out = {"ni_ni3fe_confusion": None, "ni_to_ni3fe": None, "ni3fe_to_ni": None}
    a_name, b_name = (s.lower() for s in HARD_PAIR)
    if a_name not in lower or b_name not in lower:
        return out
    a, b = lower.index(a_name), lower.index(b_name)
    n_a, n_b = int(cm[a].sum()), int(cm[b].sum())
    a_to_b, b_to_a = int(cm[a, b]), int(cm[b, a])
    if n_a:
        out["ni_to_ni3fe"] = a_to_b / n_a
    if n_b:
        out["ni3fe_to_ni"] = b_to_a / n_b
    if n_a + n_b:
        out["ni_ni3fe_confusion"] = (a_to_b + b_to_a) / (n_a + n_b)
    return out


def normalize_confusion(
    cm: Sequence[Sequence[int]] | np.ndarray, mode: Literal["counts", "true", "pred"] = "counts"
) -> np.ndarray:
    """Confusion matrix as counts, row-normalised (``"true"``) or column-normalised (``"pred"``).

    Rows or columns with no samples give zeros rather than NaN.

    Parameters
    ----------
    cm
        ``(C, C)`` counts, rows = true, columns = predicted.
    mode
        ``"counts"``, ``"true"`` (each row sums to 1) or ``"pred"`` (each column sums to 1).
    """
    cm = np.asarray(cm, dtype=np.float64)
    if mode == "counts":
        return cm
    if mode not in ("true", "pred"):
        raise ValueError(f"unknown normalisation {mode!r}, options are 'counts', 'true' or 'pred'")
    axis = 1 if mode == "true" else 0
    total = cm.sum(axis=axis, keepdims=True)
    return np.divide(cm, total, out=np.zeros_like(cm), where=total > 0)


def _check_inputs(y: np.ndarray, proba: np.ndarray, n_classes: int, n_boot: int) -> None:
    if n_classes < 1:
        raise ValueError("phase_names is empty; give the class names in label order")
    if proba.ndim != 2 or proba.shape[1] != n_classes:
        raise ValueError(
            f"proba has shape {proba.shape!r} but {n_classes} phase names were given; expected (n_samples, n_classes)"
        )
    if proba.shape[0] != y.shape[0]:
        raise ValueError(f"y_true has {y.shape[0]} labels but proba has {proba.shape[0]} rows; they must match")
    if not np.all(np.isfinite(proba)):
        raise ValueError("proba contains NaN or infinite values; check the model outputs")
    bad = (y < -1) | (y >= n_classes)
    if bad.any():
        raise ValueError(
            f"labels {sorted(set(y[bad].tolist()))!r} are outside -1 … {n_classes - 1}; "
            "-1 means unknown, others must index phase_names"
        )
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot!r}")


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def log_slope(rows: Sequence[dict], model: str, key: str = "accuracy") -> float | None:
    """Least-squares change of ``key`` per tenfold more ``patterns_seen`` among ``rows`` of one
    ``model`` (``None`` with fewer than two budgets)."""
    points = [(math.log10(r["patterns_seen"]), r[key]) for r in rows if r["model"] == model and r.get(key) is not None]
    if len(points) < 2:
        return None
    x, y = np.asarray(points, dtype=float).T
    return float(np.polyfit(x, y, 1)[0])


@dataclass(frozen=True)
class LogTrend:
    """A straight line of a score against log10(patterns seen) and where it reaches a target.

    ``slope`` is the change per tenfold more patterns, ``slope_low``/``slope_high`` its interval
    (Student t on the residuals). ``patterns_needed`` is where the line reaches ``target``;
    ``patterns_low``/``patterns_high`` are where lines of the interval's slopes through the points'
    centroid reach it, ``None`` where that slope is not above zero (the points do not bound it).
    """

    slope: float
    slope_low: float
    slope_high: float
    intercept: float
    n_points: int
    r: float
    target: float
    patterns_needed: float | None
    patterns_low: float | None
    patterns_high: float | None


def log_trend(
    patterns_seen: Sequence[float],
    scores: Sequence[float],
    target: float,
    confidence: float = 0.95,
    score_sd: Sequence[float] | None = None,
) -> LogTrend:
    """Fit ``score = intercept + slope · log10(patterns seen)`` by least squares and extrapolate it to
    ``target``.

    An empirical planning figure, not a law: it says what a budget would give *if* the measured trend
    holds. The slope's interval is the wider of two: Student t on the residuals (the scatter the points
    show), and, with ``score_sd``, the normal interval of the slope that the points' own measurement
    noise gives (a few points can fall on a line by luck: each test score carries its binomial error).

    Parameters
    ----------
    patterns_seen, scores
        One budget and its score (e.g. a pair accuracy) per trained network; at least three points
        over at least two distinct budgets, so the slope has an interval.
    target
        The score to reach.
    confidence
        Two-sided confidence of the slope's interval.
    score_sd
        The standard error of each score as measured (e.g. sqrt(p(1 − p)/n) of an accuracy on n test
        patterns); ``None`` uses the residuals alone.

    Raises
    ------
    ValueError
        On fewer than three points, a budget ≤ 0, a single distinct budget, or a confidence outside (0, 1).
    """
    from scipy import stats

    x = np.asarray(patterns_seen, dtype=float)
    y = np.asarray(scores, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"patterns_seen has {x.shape} values and scores {y.shape}; give one score per budget")
    if len(x) < 3:
        raise ValueError(f"{len(x)} points cannot give a slope with an interval; train at least three networks")
    if np.any(x <= 0) or not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
        raise ValueError(f"patterns_seen {x.tolist()} and scores {y.tolist()} must be finite, budgets above 0")
    if len(np.unique(x)) < 2:
        raise ValueError(f"every point has budget {x[0]:g}; a trend needs at least two distinct budgets")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence!r} must lie between 0 and 1, e.g. 0.95")
    logs = np.log10(x)
    fit = stats.linregress(logs, y)
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 2) * fit.stderr)
    if score_sd is not None:
        sd = np.asarray(score_sd, dtype=float)
        if sd.shape != y.shape or not np.all(np.isfinite(sd)) or np.any(sd < 0):
            raise ValueError(f"score_sd {sd.tolist()} must give one finite standard error ≥ 0 per score")
        centred = logs - logs.mean()
        measured = math.sqrt(float(np.sum(centred**2 * sd**2))) / float(np.sum(centred**2))
        half = max(half, float(stats.norm.ppf(0.5 + confidence / 2)) * measured)
    slope, intercept = float(fit.slope), float(fit.intercept)
    centre_x, centre_y = float(logs.mean()), float(y.mean())

    def reach(s: float) -> float | None:
        return 10 ** (centre_x + (target - centre_y) / s) if s > 0 else None

    return LogTrend(
        slope=slope,
        slope_low=slope - half,
        slope_high=slope + half,
        intercept=intercept,
        n_points=len(x),
        r=float(fit.rvalue),
        target=float(target),
        patterns_needed=reach(slope),
        # the steeper slope reaches the target sooner
        patterns_low=reach(slope + half),
        patterns_high=reach(slope - half),
    )
