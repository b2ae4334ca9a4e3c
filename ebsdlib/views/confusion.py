"""Confusion matrices: counts, row/column normalisation, differences of two runs, and cells.

Rows are true phases and columns predicted phases, as in ``metrics.json``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

Normalisation = Literal["counts", "row", "column"]
NORMALISATIONS = ("counts", "row", "column")

CELL_COLUMNS = ("true", "predicted", "true_label", "predicted_label", "count", "row_pct", "col_pct", "correct")


def confusion_array(metrics: dict, n_classes: int | None = None) -> np.ndarray:
    """The counts matrix of ``metrics["confusion_matrix"]`` as an ``int64`` array.

    Raises
    ------
    ValueError
        When it is missing, not square, or not of ``n_classes`` classes.
    """
    cm = metrics.get("confusion_matrix")
    if isinstance(cm, dict):
        cm = cm.get("counts", cm.get("matrix"))
    arr = np.asarray(cm if cm is not None else [], dtype=float)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(
            f"metrics confusion_matrix has shape {arr.shape}; expected a square matrix "
            "(rows true, columns predicted); re-evaluate the run"
        )
    if n_classes is not None and arr.shape[0] != n_classes:
        raise ValueError(f"confusion_matrix is {arr.shape[0]}×{arr.shape[0]} but the run has {n_classes} phases")
    return arr.astype(np.int64)


def confusion_from_labels(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts matrix from integer labels (``-1`` ignored)."""
    true, pred = np.asarray(true, dtype=np.int64), np.asarray(pred, dtype=np.int64)
    keep = (true >= 0) & (pred >= 0) & (true < n_classes) & (pred < n_classes)
    return np.bincount(true[keep] * n_classes + pred[keep], minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def normalise(cm: np.ndarray, mode: Normalisation) -> np.ndarray:
    """``counts`` as floats, or divided by row sums (recall view) or column sums (precision view).

    An empty row or column gives zeros, not NaN.
    """
    if mode not in NORMALISATIONS:
        raise ValueError(f"normalisation {mode!r} is not allowed; use one of {NORMALISATIONS}")
    cm = np.asarray(cm, dtype=float)
    if mode == "counts":
        return cm
    axis = 1 if mode == "row" else 0
    sums = cm.sum(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(sums > 0, cm / np.where(sums > 0, sums, 1), 0.0)
    return out


def difference(cm_a: np.ndarray, cm_b: np.ndarray, mode: Normalisation) -> np.ndarray:
    """``normalise(a) − normalise(b)``: positive where run A has more of that cell.

    With ``counts`` the runs must have been evaluated on the same number of patterns per class to
    compare fairly; prefer ``row``.
    """
    a, b = np.asarray(cm_a), np.asarray(cm_b)
    if a.shape != b.shape:
        raise ValueError(
            f"cannot subtract confusion matrices of shapes {a.shape} and {b.shape}; compare runs with the same phases"
        )
    return normalise(a, mode) - normalise(b, mode)


def cells_table(cm: np.ndarray, names: Sequence[str], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per cell: true, predicted, count and the row/column percentages, row-major order."""
    cm = np.asarray(cm)
    labels = list(labels) if labels is not None else list(names)
    row_n, col_n = normalise(cm, "row"), normalise(cm, "column")
    rows = []
    for i, t in enumerate(names):
        for j, p in enumerate(names):
            rows.append(
                {
                    "true": t,
                    "predicted": p,
                    "true_label": labels[i],
                    "predicted_label": labels[j],
                    "count": int(cm[i, j]),
                    "row_pct": 100.0 * row_n[i, j],
                    "col_pct": 100.0 * col_n[i, j],
                    "correct": i == j,
                }
            )
    return pd.DataFrame(rows, columns=list(CELL_COLUMNS))


def hover_text(cm: np.ndarray, labels: Sequence[str]) -> list[list[str]]:
    """Per-cell hover text: true, predicted, count, % of the true class, % of the predicted class.

    Plotly reads the text as markup (``<br>``, ``<b>``, ``<a href>``): the labels are escaped.
    """
    cm = np.asarray(cm)
    labels = [html.escape(str(n), quote=False) for n in labels]  # Plotly decodes &lt; but not &quot;
    row_n, col_n = normalise(cm, "row"), normalise(cm, "column")
    return [
        [
            f"true {labels[i]} → predicted {labels[j]}<br>{int(cm[i, j])} patterns<br>"
            f"{100 * row_n[i, j]:.1f}% of true {labels[i]} (recall row)<br>"
            f"{100 * col_n[i, j]:.1f}% of predicted {labels[j]} (precision column)"
            for j in range(cm.shape[1])
        ]
        for i in range(cm.shape[0])
    ]


def cell_index(names: Sequence[str], true: str, predicted: str) -> int:
    """Row number of the cell (``true``, ``predicted``) in :func:`cells_table`."""
    names = list(names)
    for v in (true, predicted):
        if v not in names:
            raise ValueError(f"unknown phase {v!r}; phases are {names}")
    return names.index(true) * len(names) + names.index(predicted)
