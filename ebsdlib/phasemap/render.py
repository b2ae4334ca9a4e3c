"""RGB images of phase maps: the one renderer behind the dashboard and the PNG export.

All functions are vectorised numpy (a colour look-up table indexed by the label map), so a
1,000 × 1,000 map renders in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ebsdlib.phases import NOT_INDEXED_COLOR, Phase, color_map

#: Error-map colours: right, wrong, and unknown truth or no pattern.
ERROR_COLORS = {"correct": "#e0e0e0", "wrong": "#000000", "unknown": "#ffffff"}


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` → ``(r, g, b)`` in 0..255."""
    c = str(color).lstrip("#")
    if len(c) != 6:
        raise ValueError(f"colour {color!r} is not of the form '#rrggbb'")
    try:
        return tuple(int(c[i : i + 2], 16) for i in (0, 2, 4))
    except ValueError as e:
        raise ValueError(f"colour {color!r} is not of the form '#rrggbb'") from e


def phase_lut(phases: Sequence[Phase]) -> np.ndarray:
    """``(C + 1, 3)`` uint8 colours: one per phase, then :data:`NOT_INDEXED_COLOR` last."""
    colors = color_map(phases)
    rgb = [hex_to_rgb(colors[p.name]) for p in phases] + [hex_to_rgb(NOT_INDEXED_COLOR)]
    return np.asarray(rgb, dtype=np.uint8)


def quality_to_grey(quality: np.ndarray | None, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Pattern-quality map scaled to [0, 1] between its 1st and 99th percentile.

    NaN (no pattern) becomes 0; a constant map, or ``None`` (then ``shape`` is needed), is all 1
    (white), so the overlay shows the plain phase colours lightened by the opacity.
    """
    if quality is None:
        if shape is None:
            raise ValueError("quality is None; give the map shape to draw a blank background")
        return np.ones(shape, dtype=np.float32)
    q = np.asarray(quality, dtype=np.float32)
    finite = np.isfinite(q)
    out = np.zeros(q.shape, dtype=np.float32)
    if not finite.any():
        return out
    lo, hi = np.percentile(q[finite], [1.0, 99.0])
    if hi <= lo:
        out[finite] = 1.0
        return out
    out[finite] = np.clip((q[finite] - lo) / (hi - lo), 0.0, 1.0)
    return out


def render_rgb(
    pred: np.ndarray,
    confidence: np.ndarray,
    quality: np.ndarray | None,
    phases: Sequence[Phase],
    threshold: float = 0.0,
    opacity: float = 1.0,
    rescued: np.ndarray | None = None,
) -> np.ndarray:
    """The predicted phase map in the phase colours, overlaid on the grey quality map.

    Each pixel is ``opacity · colour + (1 − opacity) · grey``, where ``colour`` is the phase
    colour, or :data:`~ebsdlib.phases.NOT_INDEXED_COLOR` where the confidence is below
    ``threshold`` or there is no pattern (``pred`` = -1 or confidence NaN), and ``grey`` is the
    quality map scaled by :func:`quality_to_grey` (white when ``quality`` is ``None``).

    Parameters
    ----------
    pred
        ``(H, W)`` predicted phase indices, ``-1`` where no pattern.
    confidence
        ``(H, W)`` highest class probability.
    quality
        ``(H, W)`` pattern quality or ``None``.
    phases
        The phase table (colours from :func:`ebsdlib.phases.color_map`).
    threshold
        Confidence below which a pixel shows as not indexed, in [0, 1].
    opacity
        Weight of the phase colours over the quality map, in [0, 1].
    rescued
        ``(H, W)`` bool pixels shown in their phase colour whatever their confidence (the hybrid
        map's Hough solutions, :attr:`ebsdlib.phasemap.PhaseMap.rescued`), or ``None``.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` uint8 RGB image.
    """
    pred = np.asarray(pred)
    confidence = np.asarray(confidence)
    if pred.ndim != 2 or confidence.shape != pred.shape:
        raise ValueError(f"pred {pred.shape!r} and confidence {confidence.shape!r} must be the same (H, W) shape")
    if quality is not None and np.shape(quality) != pred.shape:
        raise ValueError(f"quality has shape {np.shape(quality)!r}, expected {pred.shape!r}")
    if rescued is not None and np.shape(rescued) != pred.shape:
        raise ValueError(f"rescued has shape {np.shape(rescued)!r}, expected {pred.shape!r}")
    for name, value in (("threshold", threshold), ("opacity", opacity)):
        if not (0.0 <= float(value) <= 1.0):
            raise ValueError(f"{name} {value!r} must lie in [0, 1]")
    lut = phase_lut(phases)
    n_classes = len(lut) - 1
    with np.errstate(invalid="ignore"):
        confident = confidence >= threshold
    if rescued is not None:
        confident = confident | np.asarray(rescued, dtype=bool)
    ok = (pred >= 0) & (pred < n_classes) & confident
    cls = np.where(ok, pred, n_classes).astype(np.intp)
    color = lut[cls]
    if opacity >= 1.0:
        return color
    grey = quality_to_grey(quality, pred.shape) * np.float32(255.0 * (1.0 - opacity))
    out = color.astype(np.float32) * np.float32(opacity) + grey[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def render_phasemap(phasemap, threshold: float = 0.0, opacity: float = 1.0) -> np.ndarray:
    """:func:`render_rgb` of a :class:`~ebsdlib.phasemap.PhaseMap` with its own not-indexed rule
    (the hybrid map keeps its Hough solutions below the threshold)."""
    return render_rgb(
        phasemap.pred, phasemap.confidence, phasemap.quality, phasemap.phases, threshold, opacity, phasemap.rescued
    )


def render_labels(labels: np.ndarray, phases: Sequence[Phase]) -> np.ndarray:
    """A label map (true phases, say) in the phase colours; ``-1`` in the not-indexed colour."""
    labels = np.asarray(labels)
    lut = phase_lut(phases)
    n_classes = len(lut) - 1
    cls = np.where((labels >= 0) & (labels < n_classes), labels, n_classes).astype(np.intp)
    return lut[cls]


def render_error(error: np.ndarray) -> np.ndarray:
    """The error map (1 wrong, 0 right, -1 unknown) in :data:`ERROR_COLORS`."""
    error = np.asarray(error)
    lut = np.asarray([hex_to_rgb(ERROR_COLORS[k]) for k in ("correct", "wrong", "unknown")], dtype=np.uint8)
    cls = np.where(error == 0, 0, np.where(error == 1, 1, 2)).astype(np.intp)
    return lut[cls]
