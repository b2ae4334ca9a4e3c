"""Table and image exports of a phase map: CSV (one row per measured point) and PNG."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ebsdlib.io import atomic_write
from ebsdlib.phasemap.assemble import NOT_INDEXED, PhaseMap


def to_dataframe(phasemap: PhaseMap, threshold: float = 0.0):
    """One row per measured point: ``row, col, x, y, phase, confidence, prob_<phase>…``.

    ``x`` and ``y`` are column and row times the step size (µm; 1 per pixel when unknown); a
    set without scan positions has neither them nor ``row``/``col``. ``phase`` is the predicted
    phase name, or ``"not indexed"`` where the point is not indexed at ``threshold``
    (:meth:`~ebsdlib.phasemap.PhaseMap.indexed`). Scans with true phases get a ``true`` column
    (empty where unknown) and ``index`` is the pattern's index in the scan file. A map with
    orientations gets ``qa, qb, qc, qd`` (unit quaternion, orix convention; empty where the
    point has none) and ``orientation_ok``.

    Parameters
    ----------
    phasemap
        The map.
    threshold
        Confidence below which ``phase`` reads "not indexed".
    """
    import pandas as pd

    measured = phasemap.measured
    rows, cols = np.nonzero(measured)
    step = phasemap.step_size or 1.0
    names = np.asarray([*phasemap.phase_names, NOT_INDEXED], dtype=object)
    indexed = phasemap.indexed(threshold)[measured]
    pred = phasemap.pred[measured].astype(np.int64)
    data = {"index": phasemap.index[measured]}
    if phasemap.positions:
        data.update({"row": rows, "col": cols, "x": cols * step, "y": rows * step})
    data["phase"] = names[np.where(indexed, pred, len(names) - 1)]
    data["confidence"] = phasemap.confidence[measured]
    for k, name in enumerate(phasemap.phase_names):
        data[f"prob_{name}"] = phasemap.proba[..., k][measured].astype(np.float32)
    if phasemap.true is not None:
        true = phasemap.true[measured].astype(np.int64)
        data["true"] = np.where(true >= 0, names[np.clip(true, 0, None)], "")
    if phasemap.orientations is not None:
        ok = phasemap.oriented[measured]
        q = np.where(ok[:, None], phasemap.orientations[measured], np.nan)
        for k, axis in enumerate("abcd"):
            data[f"q{axis}"] = q[:, k].astype(np.float32)
        data["orientation_ok"] = ok
    return pd.DataFrame(data)


def write_csv(phasemap: PhaseMap, path: str | Path, threshold: float = 0.0) -> Path:
    """Write :func:`to_dataframe` as CSV atomically (probabilities with 4 decimals)."""
    df = to_dataframe(phasemap, threshold)
    return atomic_write(path, lambda p: df.to_csv(p, index=False, float_format="%.4f"))


def png_bytes(rgb: np.ndarray) -> bytes:
    """An ``(H, W, 3)`` uint8 image encoded as PNG (Pillow)."""
    from PIL import Image

    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got shape {rgb.shape!r} dtype {rgb.dtype}")
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def write_png(rgb: np.ndarray, path: str | Path) -> Path:
    """Write an RGB image as PNG atomically."""
    data = png_bytes(rgb)
    return atomic_write(path, lambda p: p.write_bytes(data))
