"""Calibrated probabilities: temperature or vector scaling (Guo et al., 2017) of a trained classifier.

Both map the raw logits ``z`` to ``scale ⊙ z + offset`` (a :class:`Calibrator`), fitted to
minimise the negative log-likelihood of labelled patterns that no fitting step has seen:

- **temperature** — one scalar, ``scale = 1/T`` for every phase and no offset; the arg-max (and
  so the accuracy) does not change, only how sure the model says it is.
- **vector** — a scale and an offset per phase (2·C numbers). It can also undo a bias between
  phases (a SupCon probe that leans to Ni₃Fe on the Ni/Ni₃Fe pair: one temperature cannot make
  those 50/50 guesses say 0.5 without making the sure Ni₃Al calls unsure), so it may move an
  arg-max between phases.
- **auto** (the default) — whichever of the two has the lower negative log-likelihood in a
  :data:`CV_FOLDS`-fold cross-validation on the calibration patterns themselves, so the choice
  never looks at the test split.

After training the calibrator is fitted on the validation split and folded into the classifier
(its weights and bias scaled, the offset added), so every path that turns the model's logits
into probabilities — evaluation, scan maps, torchrun inference, the confidence threshold and
"not indexed" — uses the calibrated probabilities without knowing it.

Probabilities already computed are rescaled as ``softmax(log p / T)``, which equals
``softmax(z / T)`` for logits ``z`` (the log-sum-exp constant cancels); probabilities are
clipped at :data:`PROBA_FLOOR` first, so a saturated one carries no more information than that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.train.config import CALIBRATORS

if TYPE_CHECKING:
    from ebsdlib.train.models import EBSDNet

#: The range ``T`` is searched in (and ``1/scale`` of a vector calibrator).
TEMPERATURE_RANGE = (0.05, 20.0)
#: The range of a vector calibrator's offsets.
OFFSET_RANGE = (-20.0, 20.0)
#: Folds of the cross-validation behind ``"auto"``.
CV_FOLDS = 5
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


@dataclass(frozen=True)
class Calibrator:
    """Calibrated logits ``scale ⊙ z + offset`` of raw logits ``z`` (one entry per phase).

    ``method`` is ``"temperature"`` (one scale, no offset) or ``"vector"``; ``cv_nll`` holds the
    cross-validated negative log-likelihood of each candidate when ``"auto"`` chose it. A vector
    calibrator first centres ``z`` on its mean over the phases: the softmax ignores a shift common
    to all phases, but scales per phase would not, so without centring the fit would depend on
    that arbitrary shift. :meth:`undo` returns the centred logits (the same probabilities).
    """

    method: str
    scale: tuple[float, ...]
    offset: tuple[float, ...]
    cv_nll: dict | None = None

    @classmethod
    def from_temperature(cls, temperature: float, n_classes: int) -> Calibrator:
        """The temperature calibrator ``z / T`` for ``n_classes`` phases."""
        return cls("temperature", (1.0 / float(temperature),) * n_classes, (0.0,) * n_classes)

    @property
    def temperature(self) -> float | None:
        """``T`` of a temperature calibrator; ``None`` for a vector one."""
        return 1.0 / self.scale[0] if self.method == "temperature" else None

    def apply(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated logits ``(n, C)`` of raw ones, in float64."""
        z = np.asarray(logits, dtype=np.float64)
        if self.method == "vector":
            z = z - z.mean(axis=1, keepdims=True)
        return z * np.asarray(self.scale) + np.asarray(self.offset)

    def undo(self, logits: np.ndarray) -> np.ndarray:
        """Raw logits (centred, for a vector calibrator) of calibrated ones, in float64."""
        return (np.asarray(logits, dtype=np.float64) - np.asarray(self.offset)) / np.asarray(self.scale)

    def fold(self, model: EBSDNet) -> None:
        """Make the classifier output calibrated logits (its rows scaled, the offset added)."""
        import torch

        scale, offset = self._tensors(model)
        with torch.no_grad():
            if self.method == "vector":  # centred logits: the same probabilities
                model.classifier.weight.sub_(model.classifier.weight.mean(dim=0, keepdim=True))
                model.classifier.bias.sub_(model.classifier.bias.mean())
            model.classifier.weight.mul_(scale[:, None])
            model.classifier.bias.mul_(scale).add_(offset)

    def unfold(self, model: EBSDNet) -> None:
        """Undo :meth:`fold`: the classifier outputs raw logits again (centred, for a vector one)."""
        import torch

        scale, offset = self._tensors(model)
        with torch.no_grad():
            model.classifier.bias.sub_(offset).div_(scale)
            model.classifier.weight.div_(scale[:, None])

    def _tensors(self, model: EBSDNet):
        import torch

        weight = model.classifier.weight
        if len(self.scale) != weight.shape[0]:
            raise ValueError(
                f"the calibrator has {len(self.scale)} phases, the classifier {weight.shape[0]}; "
                "it belongs to another run"
            )
        return (
            torch.tensor(self.scale, dtype=weight.dtype, device=weight.device),
            torch.tensor(self.offset, dtype=weight.dtype, device=weight.device),
        )

    def to_dict(self) -> dict:
        """JSON-ready: ``method``, ``scale``, ``offset`` and (``auto``) ``cv_nll``."""
        d = {"method": self.method, "scale": list(self.scale), "offset": list(self.offset)}
        if self.cv_nll is not None:
            d["cv_nll"] = dict(self.cv_nll)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Calibrator:
        """The calibrator :meth:`to_dict` wrote."""
        return cls(d["method"], tuple(map(float, d["scale"])), tuple(map(float, d["offset"])), d.get("cv_nll"))


def describe_calibrator(entry: dict) -> str:
    """One line for a stored calibrator (:meth:`Calibrator.to_dict`): ``temperature 2.43`` or
    ``vector scaling: scale 0.31/0.52/0.40, offset +0.10/−0.35/+0.25``, and what ``auto`` compared."""
    cal = Calibrator.from_dict(entry)
    if cal.method == "temperature":
        text = f"temperature {cal.temperature:.3g}"
    else:
        scale = "/".join(f"{v:.2f}" for v in cal.scale)
        offset = "/".join(f"{v:+.2f}" for v in cal.offset)
        text = f"vector scaling: scale {scale}, offset {offset}"
    if cal.cv_nll:
        text += " (auto, cross-validated NLL " + ", ".join(f"{k} {v:.4f}" for k, v in cal.cv_nll.items()) + ")"
    return text


def checkpoint_calibration(checkpoint: dict) -> dict:
    """``temperature`` and ``calibrator`` of the calibration folded into a loaded checkpoint (what
    its probabilities are, whatever split is evaluated); empty for an uncalibrated one."""
    calibrator = (checkpoint.get("calibration") or {}).get("calibrator")
    out = {"temperature": checkpoint["temperature"]} if checkpoint.get("temperature") else {}
    return {**out, "calibrator": calibrator} if calibrator else out


def stored_calibrator(entries: dict, n_classes: int) -> Calibrator | None:
    """The calibrator a checkpoint or ``metrics.json`` records: its ``calibrator`` entry, or (runs
    from before vector scaling) its ``temperature``; ``None`` when uncalibrated."""
    if entries.get("calibrator"):
        return Calibrator.from_dict(entries["calibrator"])
    if entries.get("temperature"):
        return Calibrator.from_temperature(float(entries["temperature"]), n_classes)
    return None


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, float32."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def classifier_logits(model: EBSDNet, features: np.ndarray) -> np.ndarray:
    """The classifier's logits ``(n, C)`` of encoder features ``(n, F)`` (those
    :func:`~ebsdlib.train.inference.predict_dataset` returns), in float64 on the CPU."""
    weight = model.classifier.weight.detach().double().cpu().numpy()
    bias = model.classifier.bias.detach().double().cpu().numpy()
    return np.asarray(features, dtype=np.float64) @ weight.T + bias


def uncalibrated_proba(model: EBSDNet, features: np.ndarray, calibrator: Calibrator) -> np.ndarray:
    """The probabilities the model gave before ``calibrator`` was folded into its classifier, from
    the encoder features of the patterns (exact: the classifier is linear)."""
    return softmax(calibrator.undo(classifier_logits(model, features)))


def calibrate_classifier(
    model: EBSDNet, features: np.ndarray, labels: np.ndarray, method: str
) -> tuple[Calibrator, list[float]]:
    """Fit a calibrator of ``method`` on the raw logits of encoder ``features`` with true
    ``labels`` and fold it into ``model``'s classifier; returns it and the NLL of those patterns
    before and after. Raises as :func:`fit_calibrator` does, leaving the model unchanged."""
    logits = classifier_logits(model, features)
    fitted = fit_calibrator(logits, labels, method)
    fitted.fold(model)
    nll = [
        negative_log_likelihood(softmax(logits), labels),
        negative_log_likelihood(softmax(fitted.apply(logits)), labels),
    ]
    return fitted, nll


def check_calibrator(method: str) -> str:
    """``method`` when it is one of :data:`~ebsdlib.train.config.CALIBRATORS`.

    Raises
    ------
    ValueError
        Naming the value and the choices.
    """
    if method not in CALIBRATORS:
        raise ValueError(f"calibrator {method!r} is not one of {list(CALIBRATORS)}")
    return method


def fit_vector_scaling(logits: np.ndarray, labels: np.ndarray) -> Calibrator:
    """The scale and offset per phase that minimise the NLL of ``softmax(scale ⊙ z + offset)``.

    Raises
    ------
    ValueError
        When a phase has no pattern among ``labels``: its offset would run to −∞.
    """
    from scipy.optimize import minimize

    z = np.asarray(logits, dtype=np.float64)
    z = z - z.mean(axis=1, keepdims=True)  # see Calibrator
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = z.shape[1]
    missing = sorted(set(range(n_classes)) - set(labels.tolist()))
    if missing:
        raise ValueError(
            f"vector scaling needs calibration patterns of every phase; phases {missing} have none "
            "(use the temperature calibrator, or calibrate on a set with every phase)"
        )
    rows = np.arange(len(labels))
    onehot = np.zeros_like(z)
    onehot[rows, labels] = 1.0

    def nll_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        scale, offset = theta[:n_classes], theta[n_classes:]
        a = z * scale + offset
        a = a - a.max(axis=1, keepdims=True)
        log_p = a - np.log(np.exp(a).sum(axis=1, keepdims=True))
        residual = (np.exp(log_p) - onehot) / len(labels)
        return float(-log_p[rows, labels].mean()), np.concatenate([(residual * z).sum(0), residual.sum(0)])

    t = fit_temperature(softmax(z), labels)  # the temperature solution is the start
    start = np.concatenate([np.full(n_classes, 1.0 / t), np.zeros(n_classes)])
    lo, hi = TEMPERATURE_RANGE
    bounds = [(1.0 / hi, 1.0 / lo)] * n_classes + [OFFSET_RANGE] * n_classes
    result = minimize(nll_and_grad, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-12})
    offset = result.x[n_classes:] - result.x[n_classes:].mean()  # softmax ignores a common shift
    return Calibrator("vector", tuple(map(float, result.x[:n_classes])), tuple(map(float, offset)))


def fit_calibrator(logits: np.ndarray, labels: np.ndarray, method: str = "auto") -> Calibrator:
    """Fit a :class:`Calibrator` of ``method`` (one of :data:`CALIBRATORS`) on raw logits.

    ``"auto"`` cross-validates both candidates on these patterns (:data:`CV_FOLDS` folds, each
    phase spread over the folds; fixed seed) and fits the one with the lower held-out NLL on all
    of them; with fewer than two patterns of a phase per fold it takes the temperature.

    Raises
    ------
    ValueError
        For an unknown ``method``, fewer than two labelled patterns, or (``"vector"``) a phase
        without patterns.
    """
    check_calibrator(method)
    z = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if method == "temperature":
        return Calibrator.from_temperature(fit_temperature(softmax(z), labels), z.shape[1])
    if method == "vector":
        return fit_vector_scaling(z, labels)
    counts = np.bincount(labels[labels >= 0], minlength=z.shape[1]) if len(labels) else np.zeros(z.shape[1])
    if counts.min() < 2 * CV_FOLDS:
        return Calibrator.from_temperature(fit_temperature(softmax(z), labels), z.shape[1])
    folds = _stratified_folds(labels, CV_FOLDS)
    cv = {"temperature": 0.0, "vector": 0.0}
    for k in range(CV_FOLDS):
        train, held = folds != k, folds == k
        for name in cv:
            fitted = fit_calibrator(z[train], labels[train], name)
            cv[name] += negative_log_likelihood(softmax(fitted.apply(z[held])), labels[held]) * int(held.sum())
    cv = {name: float(total) / len(labels) for name, total in cv.items()}
    best = min(cv, key=cv.get)
    chosen = fit_calibrator(z, labels, best)
    return Calibrator(chosen.method, chosen.scale, chosen.offset, cv)


def _stratified_folds(labels: np.ndarray, n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold number of each pattern: every phase's patterns shuffled and dealt round the folds."""
    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), dtype=np.int64)
    for phase in np.unique(labels):
        where = rng.permutation(np.flatnonzero(labels == phase))
        folds[where] = np.arange(len(where)) % n_folds
    return folds
