"""Calibrated probabilities: temperature scaling (Guo et al., 2017) of a trained classifier.

One scalar ``T`` divides the logits, fitted to minimise the negative log-likelihood of labelled
patterns that no fitting step has seen; the arg-max (and so the accuracy) does not change, only
how sure the model says it is. After training it is fitted on the validation split and folded
into the classifier (weights and bias divided by ``T``), so every path that turns the model's
logits into probabilities — evaluation, scan maps, torchrun inference, the confidence threshold
and "not indexed" — uses the calibrated probabilities without knowing it.

Probabilities already computed are rescaled as ``softmax(log p / T)``, which equals
``softmax(z / T)`` for logits ``z`` (the log-sum-exp constant cancels); probabilities are
clipped at :data:`PROBA_FLOOR` first, so a saturated one carries no more information than that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ebsdlib.train.models import EBSDNet

#: The range ``T`` is searched in.
TEMPERATURE_RANGE = (0.05, 20.0)
#: Smallest probability used in ``log p``.
PROBA_FLOOR = 1e-12


def rescale(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` of ``(n, C)`` probabilities, float32."""
    logp = np.log(np.clip(np.asarray(proba, dtype=np.float64), PROBA_FLOOR, None)) / float(temperature)
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def negative_log_likelihood(proba: np.ndarray, labels: np.ndarray) -> float:
    """Mean ``−log p(true class)`` of labelled patterns."""
    p = np.clip(np.asarray(proba, dtype=np.float64)[np.arange(len(labels)), labels], PROBA_FLOOR, None)
    return float(-np.log(p).mean())


def fit_temperature(proba: np.ndarray, labels: np.ndarray) -> float:
    """The ``T`` in :data:`TEMPERATURE_RANGE` that minimises the NLL of ``rescale(proba, T)``.

    Parameters
    ----------
    proba
        ``(n, C)`` probabilities of the uncalibrated model.
    labels
        ``(n,)`` true classes (all ≥ 0).

    Raises
    ------
    ValueError
        With fewer than two labelled patterns, or unknown labels among them.
    """
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) < 2 or (labels < 0).any():
        raise ValueError(
            f"temperature scaling needs at least two patterns with known labels, got {len(labels)} "
            f"({int((labels < 0).sum())} unknown); give the data set a validation split"
        )
    lo, hi = np.log(TEMPERATURE_RANGE)
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(rescale(proba, np.exp(log_t)), labels),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-8},  # converged, so equal inputs to float rounding give equal T
    )
    return float(np.exp(result.x))


def fold_into_classifier(model: EBSDNet, temperature: float) -> None:
    """Divide the classifier's weights and bias by ``temperature`` (its logits by ``T``)."""
    import torch

    with torch.no_grad():
        model.classifier.weight.div_(float(temperature))
        model.classifier.bias.div_(float(temperature))
