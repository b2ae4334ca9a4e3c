"""Phase-map views on top of :mod:`ebsdlib.phasemap`: fractions as a coloured table, the
clickable grid over a map, the pixel a click means, and the pixel's details for display."""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from ebsdlib.phases import NOT_INDEXED_COLOR, with_colors
from ebsdlib.views.gallery import customdata_items
from ebsdlib.views.phases import NOT_INDEXED, display_names


def fractions_frame(fractions: dict, phases) -> pd.DataFrame:
    """The dictionary of :func:`ebsdlib.phasemap.phase_fractions` as a table with display names
    and colours: ``phase``, ``label``, ``color``, ``count``, ``percent``."""
    rows = fractions.get("rows") if isinstance(fractions, dict) else None
    if not isinstance(rows, list):
        raise ValueError(f"fractions {fractions!r} have no 'rows'; expected the output of phase_fractions")
    colors = {p.name: p.color for p in with_colors(phases)}
    pretty = display_names(phases)
    out = [
        {
            "phase": r["phase"],
            "label": pretty.get(r["phase"], r["phase"]),
            "color": colors.get(r["phase"], NOT_INDEXED_COLOR if r["phase"] == NOT_INDEXED else "#7f7f7f"),
            "count": int(r["count"]),
            "percent": float(r["percent"]),
        }
        for r in rows
    ]
    return pd.DataFrame(out, columns=["phase", "label", "color", "count", "percent"])


def click_grid(shape: tuple[int, int], max_points: int = 40_000) -> tuple[np.ndarray, np.ndarray, int]:
    """Pixel centres of a regular grid of at most ``max_points`` points over a map.

    Every pixel of a map of up to ``max_points`` pixels is clickable; a larger map gets every
    ``step``-th pixel in both directions (a click picks the nearest; the exact row and column can
    be typed), so a 1000×1000 map stays a light figure.

    Returns
    -------
    rows, cols, step
    """
    h, w = int(shape[0]), int(shape[1])
    if h < 1 or w < 1:
        raise ValueError(f"map shape {shape!r} is empty")
    step = max(1, math.ceil(math.sqrt(h * w / max(1, max_points))))
    rr, cc = np.meshgrid(np.arange(0, h, step), np.arange(0, w, step), indexing="ij")
    return rr.ravel(), cc.ravel(), step


def grid_hover(phasemap, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Hover text for the clickable grid: predicted (and true) phase and confidence per point.

    Plotly reads the text as markup (``<br>``): the phase names are escaped.
    """
    names = np.array([html.escape(p.display_name, quote=False) for p in phasemap.phases] + ["no pattern"], dtype=object)
    pred = phasemap.pred[rows, cols].astype(np.int64)
    pred = np.where(pred < 0, len(names) - 1, pred)
    conf = np.nan_to_num(phasemap.confidence[rows, cols].astype(float), nan=0.0)
    text = np.char.add(np.char.add(names[pred].astype(str), " · confidence "), np.char.mod("%.2f", conf))
    if phasemap.true is not None:
        true = phasemap.true[rows, cols].astype(np.int64)
        tnames = np.array(
            [html.escape(p.display_name, quote=False) for p in phasemap.phases] + ["unknown"], dtype=object
        )
        true = np.where(true < 0, len(tnames) - 1, true)
        text = np.char.add(np.char.add(text, "<br>true "), tnames[true].astype(str))
    return text


def pixel_from_point(point: dict | None, shape: tuple[int, int]) -> tuple[int, int] | None:
    """(row, col) of a clicked point on a map (x = column, y = row), clipped to the map.

    The point's ``customdata`` (``[row, col]``) is used when present, else its x/y.
    """
    if not point:
        return None
    cd = customdata_items(point.get("customdata"))
    try:
        if len(cd) >= 2:
            row, col = int(cd[0]), int(cd[1])
        else:
            col, row = round(float(point["x"])), round(float(point["y"]))
    except (KeyError, TypeError, ValueError):
        return None
    return min(max(row, 0), shape[0] - 1), min(max(col, 0), shape[1] - 1)


def pixel_table(info: dict, phases) -> pd.DataFrame:
    """Probabilities of one pixel (from :meth:`ebsdlib.phasemap.PhaseMap.pixel`) by phase, with
    colours, most likely first."""
    pretty = display_names(phases)
    colors = {p.name: p.color for p in with_colors(phases)}
    rows = [
        {"phase": n, "label": pretty.get(n, n), "color": colors.get(n, "#7f7f7f"), "probability": float(v)}
        for n, v in (info.get("proba") or {}).items()
    ]
    df = pd.DataFrame(rows, columns=["phase", "label", "color", "probability"])
    return df.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True)
