"""Per-pattern predictions of a scan laid out as maps: the :class:`PhaseMap`.

Every map is an ``(H, W)`` array over the scan grid. Grid points without a pattern have
index ``-1``, predicted phase ``-1`` and confidence NaN; they count as neither a phase nor
"not indexed" in the fractions.

Orientations
    Each point may carry an orientation (unit quaternion, orix convention) with a flag saying
    whether it is one (``orientation_ok``) and where the orientations come from
    (``orientation_source``, :data:`ORIENTATION_SOURCES`). In the *hybrid* map — a network's
    phases with Hough orientations (source ``"hough"``) — a point is "not indexed" only when its
    confidence is below the threshold **and** its Hough fit failed: a point Hough indexes keeps
    the network's phase whatever its confidence (:meth:`PhaseMap.indexed`).

Patterns without scan positions
    A labelled set without a scan shape is laid out as one row of its patterns in file order
    (``positions`` False): fractions, accuracy and the table export hold, a map image does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ebsdlib.phases import Phase, with_colors

#: Name of the row of pixels below the confidence threshold in fraction tables.
NOT_INDEXED = "not indexed"

#: Where a map's orientations come from: the scan file, Hough or dictionary indexing made for the
#: network's phases, an indexing run's own solution (``"indexing"``), or nowhere (identity).
ORIENTATION_SOURCES = ("file", "hough", "dictionary", "indexing", "none")


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
        ``(H, W, 4)`` float32 unit quaternions (orix convention), or ``None`` (identity in the
        exports). Only points with ``orientation_ok`` hold one.
    orientation_ok
        ``(H, W)`` bool: the point has an orientation (a Hough solution, a finite stored one);
        ``None`` means every measured point with a finite quaternion.
    orientation_source
        One of :data:`ORIENTATION_SOURCES`.
    orientation_fit
        ``(H, W)`` float32 fit of the orientation, or ``None``: Hough's mean angular deviation of
        the matched bands (degrees), or dictionary indexing's normalised cross-correlation.
    orientation_bands
        ``(H, W)`` int16 bands Hough matched (0 without a solution), or ``None``.
    positions
        Whether the grid is the scan's (``False``: a set without scan positions laid out as
        one row in file order; no map image).
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
    orientation_ok: np.ndarray | None = None
    orientation_source: str = "none"
    orientation_fit: np.ndarray | None = None
    orientation_bands: np.ndarray | None = None
    positions: bool = True
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.orientation_source not in ORIENTATION_SOURCES:
            raise ValueError(
                f"orientation_source {self.orientation_source!r} is not allowed; use one of {ORIENTATION_SOURCES}"
            )

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

    @property
    def has_orientations(self) -> bool:
        """Whether any measured point has an orientation."""
        return self.orientations is not None and bool((self.oriented & self.measured).any())

    @property
    def oriented(self) -> np.ndarray:
        """``(H, W)`` bool: points with an orientation (``orientation_ok``, else a finite quaternion)."""
        if self.orientations is None:
            return np.zeros(self.pred.shape, dtype=bool)
        finite = np.isfinite(self.orientations).all(axis=-1) & (np.abs(self.orientations).sum(axis=-1) > 0)
        ok = finite if self.orientation_ok is None else finite & self.orientation_ok.astype(bool)
        return ok & self.measured

    @property
    def hybrid(self) -> bool:
        """Whether this is the hybrid map: a network's phases with Hough orientations."""
        return self.orientation_source == "hough" and self.orientation_ok is not None

    @property
    def rescued(self) -> np.ndarray | None:
        """``(H, W)`` bool points indexed whatever their confidence (the hybrid map's Hough solutions), or ``None``."""
        return self.oriented if self.hybrid else None

    def indexed(self, threshold: float = 0.0) -> np.ndarray:
        """``(H, W)`` bool: measured points whose confidence reaches ``threshold`` (in the hybrid
        map, also those whose Hough fit succeeded)."""
        _check_unit("threshold", threshold)
        with np.errstate(invalid="ignore"):
            ok = self.measured & (self.confidence >= threshold)
        rescued = self.rescued
        return ok if rescued is None else ok | (self.measured & rescued)

    def fractions(self, threshold: float = 0.0) -> dict:
        """Predicted phase fractions; see :func:`phase_fractions` (the hybrid map's rule included)."""
        return phase_fractions(
            self.pred, self.confidence, self.phase_names, threshold, measured=self.measured, rescued=self.rescued
        )

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
            "orientation": ([float(v) for v in self.orientations[row, col]] if self.oriented[row, col] else None),
            "orientation_source": self.orientation_source,
            "orientation_fit": (
                None
                if self.orientation_fit is None or not self.oriented[row, col]
                else float(self.orientation_fit[row, col])
            ),
            "orientation_bands": None if self.orientation_bands is None else int(self.orientation_bands[row, col]),
        }


def build_phasemap(
    proba: np.ndarray,
    row: np.ndarray | None,
    col: np.ndarray | None,
    scan_shape: tuple[int, int] | None,
    phases: Sequence[Phase],
    *,
    true: np.ndarray | None = None,
    quality: np.ndarray | None = None,
    orientations: np.ndarray | None = None,
    orientation_ok: np.ndarray | None = None,
    orientation_source: str | None = None,
    orientation_fit: np.ndarray | None = None,
    orientation_bands: np.ndarray | None = None,
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
        ``(n,)`` scan position of each pattern; ``None`` (with ``scan_shape`` ``None``) for a
        set without scan positions, laid out as one row in file order (``positions`` False).
    scan_shape
        ``(rows, cols)`` of the grid, or ``None`` without positions.
    phases
        The ``C`` phases of the model, in label order.
    true
        ``(n,)`` true labels in the same phase order (``-1`` unknown), or ``None``.
    quality
        ``(n,)`` pattern quality, or ``None``.
    orientations
        ``(n, 4)`` unit quaternions (orix convention), or ``None``.
    orientation_ok
        ``(n,)`` bool: which patterns have an orientation; ``None``: those with a finite one.
    orientation_source
        One of :data:`ORIENTATION_SOURCES`; default ``"indexing"`` with orientations, else ``"none"``.
    orientation_fit, orientation_bands
        ``(n,)`` fit of each orientation and Hough's matched bands, or ``None``.
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
    positions = scan_shape is not None
    if not positions:
        if row is not None or col is not None:
            raise ValueError("row and col were given without a scan_shape; give the scan's (rows, cols) too")
        if n < 1:
            raise ValueError("there are no patterns to lay out; a set without scan positions needs at least one")
        scan_shape, row, col = (1, n), np.zeros(n, np.int64), np.arange(n)
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
        ("orientation_ok", orientation_ok),
        ("orientation_fit", orientation_fit),
        ("orientation_bands", orientation_bands),
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
        orientation_ok=None if orientation_ok is None else grid(np.asarray(orientation_ok, bool), False, bool),
        orientation_source=orientation_source or ("none" if orientations is None else "indexing"),
        orientation_fit=None if orientation_fit is None else grid(orientation_fit, np.nan, np.float32),
        orientation_bands=None if orientation_bands is None else grid(orientation_bands, 0, np.int16),
        positions=positions,
        meta=dict(meta or {}),
    )


def phase_fractions(
    pred: np.ndarray,
    confidence: np.ndarray,
    phase_names: Sequence[str],
    threshold: float = 0.0,
    measured: np.ndarray | None = None,
    rescued: np.ndarray | None = None,
) -> dict:
    """Counts and percentages of each phase, with low-confidence points as "not indexed".

    A measured point counts as its predicted phase when its confidence is at least
    ``threshold`` (or it is ``rescued``), else as "not indexed". Percentages are of all
    measured points.

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
    rescued
        Bool mask of points indexed whatever their confidence (the hybrid map's Hough
        solutions), or ``None``.

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
        confident = confidence >= threshold
    if rescued is not None:
        confident = confident | np.asarray(rescued, dtype=bool)
    ok = measured & (pred >= 0) & confident
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
