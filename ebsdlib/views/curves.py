"""Training curves (loss and accuracy per epoch) of several runs in one long table."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

#: history.csv columns drawn as curves, with their display names.
CURVE_METRICS = {
    "train_loss": "train loss",
    "val_loss": "validation loss",
    "train_accuracy": "train accuracy",
    "val_accuracy": "validation accuracy",
}


def curves_frame(histories: Mapping[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Long table ``run, epoch, metric, kind, value`` of every run's ``history.csv``.

    Parameters
    ----------
    histories
        Run label → its history table (``None`` for a run without one, skipped).

    Returns
    -------
    pandas.DataFrame
        ``kind`` is ``"loss"`` or ``"accuracy"`` (one panel each); rows with no value are dropped.
    """
    frames = []
    for label, h in histories.items():
        if h is None or not len(h) or "epoch" not in h.columns:
            continue
        cols = [c for c in CURVE_METRICS if c in h.columns]
        if not cols:
            continue
        long = h[["epoch", *cols]].melt(id_vars="epoch", var_name="metric", value_name="value")
        long["kind"] = long["metric"].map(lambda c: "loss" if c.endswith("loss") else "accuracy")
        long["metric"] = long["metric"].map(CURVE_METRICS)
        long["run"] = label
        frames.append(long.dropna(subset=["value"]))
    if not frames:
        return pd.DataFrame(columns=["run", "epoch", "metric", "kind", "value"])
    return pd.concat(frames, ignore_index=True)[["run", "epoch", "metric", "kind", "value"]]
