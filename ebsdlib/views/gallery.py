"""From a selection (a confusion-matrix cell, points of an embedding) to the patterns to show."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ebsdlib.phases import Phase
from ebsdlib.views.phases import display_names
from ebsdlib.views.predictions import prob_columns

SortBy = Literal["confidence", "index", "margin"]


@dataclass
class GalleryItem:
    """One pattern of a gallery: where it is, what it is, what the model said."""

    row: int
    index: int
    true: str
    pred: str
    confidence: float
    probabilities: dict[str, float] = field(default_factory=dict)

    @property
    def caption(self) -> str:
        probs = " · ".join(f"{k} {v:.2f}" for k, v in self.probabilities.items())
        return f"#{self.index} true {self.true} → {self.pred}\n{probs}"


def cell_rows(frame: pd.DataFrame, true: str, predicted: str, sort: SortBy = "confidence") -> pd.DataFrame:
    """The predictions with that true and predicted phase (names), most confident first.

    Parameters
    ----------
    frame
        From :func:`ebsdlib.views.predictions.prediction_frame`.
    true, predicted
        Phase names, e.g. ``"Ni"`` and ``"Ni3Fe"``.
    sort
        ``confidence`` (descending: the most convinced mistakes first), ``index`` or ``margin``
        (ascending gap between the two most likely phases: the closest calls first).
    """
    sel = frame[(frame["true_name"] == true) & (frame["pred_name"] == predicted)]
    return sort_rows(sel, sort)


def sort_rows(rows: pd.DataFrame, sort: SortBy = "confidence") -> pd.DataFrame:
    """Order gallery rows; see :func:`cell_rows`."""
    if sort == "confidence":
        return rows.sort_values(["confidence", "index"], ascending=[False, True], kind="stable")
    if sort == "index":
        return rows.sort_values("index", kind="stable")
    if sort == "margin":
        probs = [c for c in rows.columns if c.startswith("prob_")]
        if len(probs) < 2:
            return rows.sort_values("index", kind="stable")
        top = np.sort(rows[probs].to_numpy(dtype=float), axis=1)
        return rows.assign(_m=top[:, -1] - top[:, -2]).sort_values(["_m", "index"], kind="stable").drop(columns="_m")
    raise ValueError(f"sort={sort!r} is not allowed; use 'confidence', 'index' or 'margin'")


def rows_from_points(points: Iterable[Mapping] | None, n_rows: int) -> np.ndarray:
    """Prediction rows of the points of a Plotly selection (as Streamlit returns it).

    Each point carries its prediction row as ``customdata[0]`` (figures from
    :mod:`ebsdlib.views.figures` put it there), so traces split by colour still map back;
    see :func:`customdata_items` for the shapes it arrives in.
    Rows outside ``0..n_rows-1`` are dropped; the result is sorted and unique.
    """
    rows = []
    for p in points or []:
        cd = customdata_items(p.get("customdata"))
        cd = cd[0] if cd else None
        try:
            r = int(cd)
        except (TypeError, ValueError):
            continue
        if 0 <= r < n_rows:
            rows.append(r)
    return np.unique(np.asarray(rows, dtype=np.int64))


def customdata_items(cd) -> list:
    """A point's ``customdata`` as a list: plotly.js hands typed-array rows over as objects
    ``{"0": …, "1": …}`` (how ``JSON.stringify`` writes a ``Float32Array``), plain lists as lists,
    and a scalar for one-column data."""
    if cd is None:
        return []
    if isinstance(cd, dict):
        return [cd[k] for k in sorted(cd, key=lambda k: int(k)) if str(k).isdigit()]
    if isinstance(cd, (list, tuple)):
        return list(cd)
    return [cd]


def selected_cell(
    cells: pd.DataFrame, selected_rows: Sequence[int] | None, default: tuple[str, str] | None = None
) -> tuple[str, str] | None:
    """(true, predicted) of the row chosen in the cells table, else ``default`` when it is a cell.

    Parameters
    ----------
    cells
        From :func:`ebsdlib.views.confusion.cells_table`.
    selected_rows
        ``event.selection.rows`` of the table.
    default
        Cell shown before any choice (the hard pair, true Ni → predicted Ni₃Fe).
    """
    if selected_rows:
        r = int(selected_rows[0])
        if 0 <= r < len(cells):
            row = cells.iloc[r]
            return str(row["true"]), str(row["predicted"])
    if default is not None and ((cells["true"] == default[0]) & (cells["predicted"] == default[1])).any():
        return default
    return None


def default_cell(cells: pd.DataFrame, preferred: tuple[str, str]) -> tuple[str, str] | None:
    """The cell to show before any choice: ``preferred`` (the hard pair) if it holds patterns, else
    the largest confusion, else the largest cell; ``None`` for an empty matrix."""

    def has(t: str, p: str) -> bool:
        hit = cells[(cells["true"] == t) & (cells["predicted"] == p)]
        return bool(len(hit)) and int(hit["count"].iloc[0]) > 0

    if has(*preferred):
        return preferred
    for pool in (cells[~cells["correct"]], cells):
        pool = pool[pool["count"] > 0]
        if len(pool):
            top = pool.sort_values("count", ascending=False, kind="stable").iloc[0]
            return str(top["true"]), str(top["predicted"])
    return None


def gallery_items(rows: pd.DataFrame, phases: Sequence[Phase], limit: int = 24) -> list[GalleryItem]:
    """At most ``limit`` items of the (already sorted) ``rows``, with probabilities by display name."""
    names = [p.name for p in phases]
    pretty = display_names(phases)
    cols = prob_columns(rows, names)
    items = []
    for _, r in rows.head(max(0, int(limit))).iterrows():
        probs = {pretty.get(c[5:], c[5:]): float(r[c]) for c in cols}
        items.append(
            GalleryItem(
                row=int(r["row"]),
                index=int(r["index"]),
                true=pretty.get(str(r["true_name"]), str(r["true_name"])),
                pred=pretty.get(str(r["pred_name"]), str(r["pred_name"])),
                confidence=float(r.get("confidence", max(probs.values()) if probs else np.nan)),
                probabilities=probs,
            )
        )
    return items


def resolve_data_path(data: str | os.PathLike, artifacts: str | Path, fingerprint: Mapping | None = None) -> Path:
    """Locate a run's data set from its stored ``data`` entry and check it is the one the run used.

    See :func:`ebsdlib.data.fingerprint.resolve_data` (the one resolver every reader uses).

    Parameters
    ----------
    data
        The ``data`` entry of a run's config or metrics, or of a phase map's meta.
    artifacts
        The artifacts folder the run lies in.
    fingerprint
        The ``data_fingerprint`` stored next to it; ``None`` for artifacts older than fingerprints.

    Raises
    ------
    FileNotFoundError
        Naming the places looked at.
    ebsdlib.data.fingerprint.DataSetMismatchError
        When the file found is another data set than the run's (both are named).
    """
    from ebsdlib.data.fingerprint import resolve_data

    return resolve_data(data, artifacts, fingerprint)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Stretch each image of ``(n, H, W)`` to 0..255 (1st–99th percentile) for display."""
    x = np.asarray(images, dtype=np.float32)
    if x.size == 0:
        return x.astype(np.uint8)
    lo = np.percentile(x, 1, axis=(1, 2), keepdims=True)
    hi = np.percentile(x, 99, axis=(1, 2), keepdims=True)
    scale = np.where(hi > lo, hi - lo, 1.0)
    return (np.clip((x - lo) / scale, 0, 1) * 255).round().astype(np.uint8)


def load_patterns(
    data_path: str | Path, indices: Sequence[int], processed: bool = True, preprocess: dict | None = None
) -> np.ndarray:
    """Patterns at ``indices`` of a data set as ``uint8`` images ready to show.

    Parameters
    ----------
    data_path
        The data set (any kind :func:`ebsdlib.data.load` opens).
    indices
        Pattern indices (the ``index`` column of predictions), any order; output follows it.
    processed
        ``True``: background-corrected exactly as the model saw them
        (:func:`ebsdlib.data.preprocess.preprocess_batch` with ``preprocess``); ``False``: raw.
    preprocess
        The run's ``config["preprocess"]`` dictionary (defaults when ``None``).
    """
    from ebsdlib.data import load

    idx = np.asarray(list(indices), dtype=np.int64)
    ds = load(data_path)
    try:
        if len(idx) and (idx.min() < 0 or idx.max() >= len(ds)):
            raise IndexError(
                f"{data_path}: pattern index {int(idx.max())} is outside 0..{len(ds) - 1}; "
                "the run was made on another version of this data set"
            )
        raw = ds.read(idx)
        if not processed or not len(idx):
            return to_uint8(raw)
        from ebsdlib.data.preprocess import PreprocessConfig, preprocess_batch

        cfg = PreprocessConfig.from_dict(preprocess)
        out = preprocess_batch(raw, cfg, ds.static_background)
        return to_uint8(out[:, 0].detach().cpu().numpy())
    finally:
        close = getattr(ds, "close", None)
        if close:
            close()
