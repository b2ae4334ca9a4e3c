"""A 6 × 5 scan's predictions, injected directly (no model), with one grid point unmeasured."""

import numpy as np
import pytest

from ebsdlib.phasemap import build_phasemap
from ebsdlib.phases import DEFAULT_PHASES

ROWS, COLS = 6, 5


@pytest.fixture
def scan_predictions():
    """Per-pattern arrays of a 6 × 5 scan whose last grid point (5, 4) has no pattern."""
    rng = np.random.default_rng(7)
    n = ROWS * COLS - 1
    row = np.repeat(np.arange(ROWS), COLS)[:n]
    col = np.tile(np.arange(COLS), ROWS)[:n]
    pred = (row // 2).astype(int)  # rows 0-1 Ni, 2-3 Ni3Al, 4-5 Ni3Fe
    proba = np.full((n, 3), 0.1, dtype=np.float32)
    proba[np.arange(n), pred] = 0.8
    proba[:5] = [0.4, 0.35, 0.25]  # row 0: Ni at low confidence 0.4
    true = pred.copy()
    true[10] = 2  # (2, 0): true Ni3Fe predicted Ni3Al
    true[3] = -1  # (0, 3): truth unknown
    quality = np.linspace(0.0, 1.0, n).astype(np.float32)
    orientations = rng.normal(size=(n, 4)).astype(np.float32)
    orientations /= np.linalg.norm(orientations, axis=1, keepdims=True)
    return dict(proba=proba, row=row, col=col, true=true, quality=quality, orientations=orientations, pred=pred)


@pytest.fixture
def phasemap(scan_predictions):
    s = scan_predictions
    return build_phasemap(
        s["proba"],
        s["row"],
        s["col"],
        (ROWS, COLS),
        DEFAULT_PHASES,
        true=s["true"],
        quality=s["quality"],
        orientations=s["orientations"],
        step_size=0.5,
        meta={"scan": "tiny"},
    )
