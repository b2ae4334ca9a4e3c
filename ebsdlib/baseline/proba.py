"""From correlations to phase probabilities, so dictionary indexing gets the networks' metrics.

Dictionary indexing gives, for each pattern, the best normalised cross-correlation
``s_p`` with a template of each phase ``p``. The phase probabilities are the softmax

``P(p) = exp(s_p / T) / Σ_q exp(s_q / T)``

with one temperature ``T`` for the whole run. The prediction (arg-max) does not depend on
``T``; the confidence, calibration error and top-2 accuracy do. ``T`` is chosen by
temperature scaling (Guo et al., 2017): the value that maximises the likelihood of the true
phases of labelled *training* patterns (never the reported split), searched on a log scale in
[1e-4, 1]. Without labelled training patterns, :data:`~ebsdlib.baseline.config.DEFAULT_TEMPERATURE`.
"""

from __future__ import annotations

import numpy as np

#: Search interval of the fitted temperature.
TEMPERATURE_BOUNDS = (1e-4, 1.0)


def scores_to_proba(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of ``scores / temperature`` over phases: ``(n, P)`` float32 rows summing to 1."""
    if not temperature > 0:
        raise ValueError(f"temperature {temperature!r} must be a positive number")
    z = np.asarray(scores, dtype=np.float64) / float(temperature)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def negative_log_likelihood(scores: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean −log P(true phase) under :func:`scores_to_proba`."""
    z = np.asarray(scores, dtype=np.float64) / float(temperature)
    z -= z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def fit_temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that maximises the likelihood of ``labels`` (temperature scaling).

    Parameters
    ----------
    scores
        ``(n, P)`` best correlations per phase of labelled patterns.
    labels
        ``(n,)`` true phase indices (``-1`` entries are left out).

    Raises
    ------
    ValueError
        When no pattern has a known label.
    """
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels)
    known = labels >= 0
    if not known.any():
        raise ValueError("no labelled patterns to fit the softmax temperature on; give a temperature")
    s, y = np.asarray(scores)[known], labels[known].astype(np.int64)
    lo, hi = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    res = minimize_scalar(
        lambda t: negative_log_likelihood(s, y, float(np.exp(t))),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-3},
    )
    return float(np.exp(res.x))
