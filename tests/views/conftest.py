"""Small, hand-checkable inputs for the view functions (metrics as compute_metrics writes them)."""

import numpy as np
import pandas as pd
import pytest

from ebsdlib.phases import DEFAULT_PHASES

NAMES = [p.name for p in DEFAULT_PHASES]


@pytest.fixture
def phases():
    return DEFAULT_PHASES


@pytest.fixture
def predictions() -> pd.DataFrame:
    """Eight patterns: Ni 0,1,2 (one taken for Ni3Fe), Ni3Al 3,4, Ni3Fe 5,6,7 (one taken for Ni)."""
    true = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    pred = np.array([0, 0, 2, 1, 1, 2, 0, 2])
    proba = np.full((8, 3), 0.1)
    proba[np.arange(8), pred] = 0.8
    proba[2] = [0.35, 0.05, 0.60]  # a close call
    proba[6] = [0.90, 0.05, 0.05]  # a confident mistake
    df = pd.DataFrame({"index": np.arange(100, 108), "split": "test", "true": true, "pred": pred})
    for c, n in enumerate(NAMES):
        df[f"prob_{n}"] = proba[:, c]
    df["confidence"] = proba.max(axis=1)
    return df


@pytest.fixture
def metrics() -> dict:
    from ebsdlib.metrics import compute_metrics

    true = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    proba = np.full((8, 3), 0.1)
    proba[np.arange(8), [0, 0, 2, 1, 1, 2, 0, 2]] = 0.8
    return compute_metrics(true, proba, NAMES, n_boot=50, seed=0)
