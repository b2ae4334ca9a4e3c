"""The UMAP table of a run: coordinates with the prediction row, phases and correctness."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

ColorBy = Literal["true", "pred", "correct"]
COLOR_BY = {"true": "true phase", "pred": "predicted phase", "correct": "correct / wrong"}


def embedding_frame(umap: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
    """Join UMAP coordinates with the predictions (row ``i`` of ``umap.npy`` is prediction row ``i``).

    Parameters
    ----------
    umap
        ``(n, 2)`` coordinates from ``umap.npy``.
    frame
        From :func:`ebsdlib.views.predictions.prediction_frame`, ``n`` rows.

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y``, ``row``, ``index``, ``true_name``, ``pred_name``, ``correct`` (as
        ``"correct"``/``"wrong"``), ``confidence``.
    """
    u = np.asarray(umap)
    if u.ndim != 2 or u.shape[1] != 2:
        raise ValueError(f"umap.npy has shape {u.shape}; expected (n, 2)")
    if len(u) != len(frame):
        raise ValueError(
            f"umap.npy has {len(u)} rows but predictions.csv has {len(frame)}; "
            "the run's files are from different evaluations: re-evaluate it"
        )
    out = pd.DataFrame(
        {
            "x": u[:, 0].astype(np.float32),
            "y": u[:, 1].astype(np.float32),
            "row": frame["row"].to_numpy(),
            "index": frame["index"].to_numpy(),
            "true_name": frame["true_name"].to_numpy(),
            "pred_name": frame["pred_name"].to_numpy(),
            "correct": np.where(frame["correct"].to_numpy(), "correct", "wrong"),
            "confidence": frame["confidence"].to_numpy(dtype=float) if "confidence" in frame else np.nan,
        }
    )
    return out


def color_column(by: ColorBy) -> str:
    """Column of :func:`embedding_frame` that colours the points."""
    cols = {"true": "true_name", "pred": "pred_name", "correct": "correct"}
    if by not in cols:
        raise ValueError(f"color by {by!r} is not allowed; use one of {tuple(cols)}")
    return cols[by]


def selection_summary(emb: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Counts of true → predicted among selected rows, most frequent first."""
    sel = emb[emb["row"].isin(np.asarray(rows))]
    if not len(sel):
        return pd.DataFrame(columns=["true_name", "pred_name", "count"])
    return (
        sel.groupby(["true_name", "pred_name"])
        .size()
        .rename("count")
        .reset_index()
        .sort_values("count", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
