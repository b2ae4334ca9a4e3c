"""Per-pattern predictions of a scan laid out as maps: the :class:`PhaseMap`.

Every map is an ``(H, W)`` array over the scan grid. Grid points without a pattern have
index ``-1``, predicted phase ``-1`` and confidence NaN; they count as neither a phase nor
"not indexed" in the fractions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ebsdlib.phases import Phase, with_colors

#: Name of the row of pixels below the confidence threshold in fraction tables.
NOT_INDEXED = "not indexed"


@dataclass
class PhaseMap:
    """Predicted phase map of one scan with everything the dashboard and the exports need.

    Parameters
    ----------
    phases
        Phase table; prediction ``i`` means ``phases[i]``.
    index
        ``(H, W)`` int64 pattern index in the scan file at each grid point, ``-1`` for none.
    pred
        ``(H, W)`` int16 predicted phase (arg-max probability), ``-1`` where no pattern.
    proba
        ``(H, W, C)`` float16 class probabilities, 0 where no pattern.
    confidence
        ``(H, W)`` float32 highest class probability, NaN where no pattern.
    true
        ``(H, W)`` int16 true phase (``-1`` unknown) or ``None`` when the scan has no labels.
    quality
        ``(H, W)`` float32 pattern-quality map or ``None``.
    step_size
        Scan step in µm, ``None`` when unknown (exports then use 1 per pixel).
    orientations
        ``(H, W, 4)`` true orientations as unit quaternions, or ``None``; used by the orix export
        and not stored in ``phasemap.npz``.
    meta
        Provenance: run id, data path, scan name, creation time.
    """

    phases: tuple[Phase, ...]
    index: np.ndarray
    pred: np.ndarray
    proba: np.ndarray
    confidence: np.ndarray
    true: np.ndarray | None = None
    quality: np.ndarray | None = None
    step_size: float | None = None
    orientations: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def scan_shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the scan grid."""
        return (int(self.pred.shape[0]), int(self.pred.shape[1]))

    @property
    def phase_names(self) -> list[str]:
        return [p.name for p in self.phases]

    @property
    def measured(self) -> np.ndarray:
        """``(H, W)`` bool: grid points that have a pattern."""
        return self.index >= 0

    @property
    def has_truth(self) -> bool:
        """Whether any grid point has a known true phase."""
        return self.true is not None and bool((self.true >= 0).any())

    @property
    def error(self) -> np.ndarray | None:
        """``(H, W)`` int8: 1 wrong, 0 right, -1 where the truth or the pattern is missing."""
        if self.true is None:
            return None
        known = (self.true >= 0) & (self.pred >= 0)
        out = np.full(self.pred.shape, -1, dtype=np.int8)
        out[known] = (self.pred[known] != self.true[known]).astype(np.int8)
        return out

    @property
    def accuracy(self) -> float | None:
        """Fraction of grid points with a known truth predicted right (no threshold)."""
        err = self.error
        if err is None or not (err >= 0).any():
            return None
        return float((err == 0).sum() / (err >= 0).sum())

    def indexed(self, threshold: float = 0.0) -> np.ndarray:
        """``(H, W)`` bool: measured points whose confidence reaches ``threshold``."""
        _check_unit("threshold", threshold)
        with np.errstate(invalid="ignore"):
            return self.measured & (self.confidence >= threshold)

    def fractions(self, threshold: float = 0.0) -> dict:
        """Predicted phase fractions; see :func:`phase_fractions`."""
        return phase_fractions(self.pred, self.confidence, self.phase_names, threshold, measured=self.measured)

    def true_fractions(self) -> dict | None:
        """Fractions of the true phases (unknown truth as "not indexed"), or ``None``."""
        if self.true is None:
            return None
        conf = np.where(self.true >= 0, 1.0, 0.0).astype(np.float32)
        return phase_fractions(self.true, conf, self.phase_names, 0.5, measured=self.measured)

    def pixel(self, row: int, col: int) -> dict:
        """Everything known at one grid point (for a click on the map)."""
        rows, cols = self.scan_shape
        if not (0 <= row < rows and 0 <= col < cols):
            raise IndexError(f"pixel (row {row!r}, col {col!r}) lies outside the scan {rows}×{cols}")
        pred = int(self.pred[row, col])
        true = None if self.true is None else int(self.true[row, col])
        return {
            "row": int(row),
            "col": int(col),
            "index": int(self.index[row, col]),
            "pred": self.phase_names[pred] if pred >= 0 else None,
            "true": self.phase_names[true] if true is not None and true >= 0 else None,
            "confidence": None if pred < 0 else float(self.confidence[row, col]),
            "proba": {n: float(self.proba[row, col, c]) for c, n in enumerate(self.phase_names)},
            "quality": None if self.quality is None else float(self.quality[row, col]),
        }


def build_phasemap(
    proba: np.ndarray,
    row: np.ndarray,
    col: np.ndarray,
    scan_shape: tuple[int, int],
    phases: Sequence[Phase],
    *,
    true: np.ndarray | None = None,
    quality: np.ndarray | None = None,
    orientations: np.ndarray | None = None,
    step_size: float | None = None,
    index: np.ndarray | None = None,
    meta: dict | None = None,
) -> PhaseMap:
    """Lay per-pattern predictions out on the scan grid.

    Parameters
    ----------
    proba
        ``(n, C)`` class probabilities of the ``n`` patterns.
    row, col
        ``(n,)`` scan position of each pattern.
    scan_shape
        ``(rows, cols)`` of the grid.
    phases
        The ``C`` phases of the model, in label order.
    true
        ``(n,)`` true labels in the same phase order (``-1`` unknown), or ``None``.
    quality
        ``(n,)`` pattern quality, or ``None``.
    orientations
        ``(n, 4)`` unit quaternions, or ``None``.
    step_size
        Scan step in µm.
    index
        ``(n,)`` pattern index of each row in the scan file; ``arange(n)`` by default.
    meta
        Provenance stored with the map.
    """
    proba = np.asarray(proba, dtype=np.float32)
    phases = with_colors(list(phases))
    n = proba.shape[0] if proba.ndim == 2 else -1
    if proba.ndim != 2 or proba.shape[1] != len(phases):
        raise ValueError(f"proba has shape {proba.shape!r}; expected (n_patterns, {len(phases)}) for the phases given")
    rows, cols = (int(s) for s in scan_shape)
    if rows < 1 or cols < 1:
        raise ValueError(f"scan_shape {tuple(scan_shape)!r} must have positive rows and columns")
    row = np.asarray(row, dtype=np.int64)
    col = np.asarray(col, dtype=np.int64)
    index = np.arange(n) if index is None else np.asarray(index, dtype=np.int64)
    for name, arr in (
        ("row", row),
        ("col", col),
        ("index", index),
        ("true", true),
        ("quality", quality),
        ("orientations", orientations),
    ):
        if arr is not None and len(arr) != n:
            raise ValueError(f"{name} has {len(arr)} entries but proba has {n} rows; they must match")
    outside = (row < 0) | (row >= rows) | (col < 0) | (col >= cols)
    if outside.any():
        i = int(np.argmax(outside))
        raise ValueError(
            f"scan position (row {row[i]}, col {col[i]}) of pattern {index[i]} lies "
            f"outside the scan shape {rows}×{cols}"
        )
    flat = row * cols + col
    if np.unique(flat).size != n:
        raise ValueError(
            f"{n - np.unique(flat).size} patterns share a scan position with another; "
            "every pattern needs its own (row, col)"
        )

    def grid(values: np.ndarray, fill, dtype) -> np.ndarray:
        values = np.asarray(values)
        out = np.full((rows * cols, *values.shape[1:]), fill, dtype=dtype)
        out[flat] = values
        return out.reshape(rows, cols, *values.shape[1:])

    pred = proba.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    return PhaseMap(
        phases=phases,
        index=grid(index, -1, np.int64),
        pred=grid(pred, -1, np.int16),
        proba=grid(proba, 0, np.float16),
        confidence=grid(proba.max(axis=1) if n else np.zeros(0), np.nan, np.float32),
        true=None if true is None else grid(true, -1, np.int16),
        quality=None if quality is None else grid(quality, np.nan, np.float32),
        step_size=None if step_size is None else float(step_size),
        orientations=None if orientations is None else grid(orientations, np.nan, np.float32),
        meta=dict(meta or {}),
    )


def phase_fractions(
    pred: np.ndarray,
    confidence: np.ndarray,
    phase_names: Sequence[str],
    threshold: float = 0.0,
    measured: np.ndarray | None = None,
) -> dict:
    """Counts and percentages of each phase, with low-confidence points as "not indexed".

    A measured point counts as its predicted phase when its confidence is at least
    ``threshold``, else as "not indexed". Percentages are of all measured points.

    Parameters
    ----------
    pred
        Predicted phase per point (any shape), ``-1`` where no pattern.
    confidence
        Confidence per point, same shape.
    phase_names
        Names in label order.
    threshold
        Confidence threshold in [0, 1].
    measured
        Bool mask of points that have a pattern; ``pred >= 0`` by default.

    Returns
    -------
    dict
        ``threshold``, ``n_points`` and ``rows``: one ``{"phase", "count", "percent"}`` per phase
        and a last one for ``"not indexed"``.
    """
    _check_unit("threshold", threshold)
    pred = np.asarray(pred)
    confidence = np.asarray(confidence)
    if pred.shape != confidence.shape:
        raise ValueError(f"pred has shape {pred.shape!r} but confidence has {confidence.shape!r}")
    measured = (pred >= 0) if measured is None else np.asarray(measured, dtype=bool)
    with np.errstate(invalid="ignore"):
        ok = measured & (pred >= 0) & (confidence >= threshold)
    n_classes = len(phase_names)
    counts = np.bincount(pred[ok].astype(np.int64).ravel(), minlength=n_classes)[:n_classes]
    total = int(measured.sum())
    not_indexed = total - int(counts.sum())

    def pct(k: int) -> float:
        return 100.0 * k / total if total else 0.0

    rows = [
        {"phase": str(name), "count": int(k), "percent": pct(int(k))}
        for name, k in zip(phase_names, counts, strict=True)
    ]
    rows.append({"phase": NOT_INDEXED, "count": not_indexed, "percent": pct(not_indexed)})
    return {"threshold": float(threshold), "n_points": total, "rows": rows}


def _check_unit(name: str, value: float) -> None:
    if not (0.0 <= float(value) <= 1.0):
        raise ValueError(f"{name} {value!r} must lie in [0, 1]")
