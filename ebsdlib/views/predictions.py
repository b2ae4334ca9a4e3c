"""The predictions table of a run, with phase names beside the integer labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

REQUIRED = ("index", "true", "pred")


def _as_codes(col: pd.Series, names: list[str], which: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(col):
        codes = col.fillna(-1).to_numpy(dtype=np.int64)
    else:
        lookup = {n: i for i, n in enumerate(names)}
        unknown = sorted(set(col.dropna().astype(str)) - set(lookup) - {"", "unknown", "-1"})
        if unknown:
            raise ValueError(
                f"predictions.csv column {which!r} has phases {unknown} that are not among the run's phases {names}"
            )
        codes = col.astype(str).map(lambda v: lookup.get(v, -1)).to_numpy(dtype=np.int64)
    bad = (codes < -1) | (codes >= len(names))
    if bad.any():
        raise ValueError(
            f"predictions.csv column {which!r} has label {int(codes[bad][0])} outside "
            f"0..{len(names) - 1} (phases {names})"
        )
    return codes


def prediction_frame(predictions: pd.DataFrame, phase_names: Sequence[str]) -> pd.DataFrame:
    """Predictions with integer ``true``/``pred`` codes, ``true_name``, ``pred_name`` and ``correct``.

    Parameters
    ----------
    predictions
        ``predictions.csv`` of a run: ``index``, ``split``, ``true``, ``pred``, ``prob_<phase>``…,
        ``confidence``; ``true``/``pred`` may be codes or names.
    phase_names
        The run's phases in label order.

    Returns
    -------
    pandas.DataFrame
        A copy with ``row`` (position, matching embeddings/UMAP rows), codes, names and ``correct``;
        ``confidence`` is filled from the probabilities when absent.
    """
    names = list(phase_names)
    missing = [c for c in REQUIRED if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions.csv lacks the columns {missing}; it has {list(predictions.columns)}")
    df = predictions.reset_index(drop=True).copy()
    df.insert(0, "row", np.arange(len(df)))
    df["true"] = _as_codes(df["true"], names, "true")
    df["pred"] = _as_codes(df["pred"], names, "pred")
    label = np.array([*names, "unknown"], dtype=object)
    df["true_name"] = label[df["true"].to_numpy()]  # -1 picks "unknown"
    df["pred_name"] = label[df["pred"].to_numpy()]
    df["correct"] = (df["true"] == df["pred"]) & (df["true"] >= 0)
    probs = prob_columns(df, names)
    if "confidence" not in df.columns and probs:
        df["confidence"] = df[probs].max(axis=1)
    return df


def prob_columns(df: pd.DataFrame, phase_names: Sequence[str]) -> list[str]:
    """The ``prob_<phase>`` columns present, in phase order."""
    return [f"prob_{n}" for n in phase_names if f"prob_{n}" in df.columns]
