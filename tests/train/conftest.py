"""Fixtures of the training tests: a tiny labelled data set and a tiny-model config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ebsdlib.data.format import write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.train.config import TrainConfig


def make_patterns(n: int, size: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable uint8 patterns: stripes whose direction is the class (0 rows, 1 columns, 2 diagonal)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    yy, xx = np.mgrid[0:size, 0:size]
    waves = [np.sin(yy / 2.0), np.sin(xx / 2.0), np.sin((xx + yy) / 2.0)]
    bg = 60 + 40 * np.exp(-((yy - size / 2) ** 2 + (xx - size / 2) ** 2) / (size**2))
    patterns = np.empty((n, size, size), dtype=np.uint8)
    for i, lab in enumerate(labels):
        img = bg + 40 * waves[lab] + rng.normal(0, 8, (size, size))
        patterns[i] = np.clip(img, 0, 255)
    return patterns, labels.astype(np.int16)


def write_tiny(path: Path, n: int = 48, phases=DEFAULT_PHASES, seed: int = 0) -> Path:
    patterns, labels = make_patterns(n, seed=seed)
    split = np.zeros(n, dtype=np.int8)
    split[np.arange(n) % 4 == 1] = 1
    split[np.arange(n) % 4 == 3] = 2
    return write_dataset(
        path,
        patterns,
        labels,
        phases,
        provenance={"test": "tiny stripes"},
        split=split,
        split_rule="every 4th pattern",
        seed=seed,
    )


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """48 patterns of 24×24 pixels, 3 phases, splits 24/12/12."""
    return write_tiny(tmp_path_factory.mktemp("data") / "tiny.h5")


@pytest.fixture
def artifacts(tmp_path, monkeypatch) -> Path:
    """A fresh artifacts folder, also set as ``$EBSDLIB_ARTIFACTS``."""
    root = tmp_path / "artifacts"
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(root))
    return root


@pytest.fixture
def tiny_config(tiny_data):
    """A factory of fast CPU configs on the tiny data set."""

    def make(**overrides) -> TrainConfig:
        base = dict(
            data=str(tiny_data),
            model="test_efficientnet",
            epochs=2,
            batch_size=8,
            lr=3e-3,
            warmup_epochs=1,
            probe_epochs=5,
            knn_k=3,
            device="cpu",
            umap=False,
            eval_batch_size=16,
            preprocess=PreprocessConfig(size=24),
        )
        base.update(overrides)
        return TrainConfig(**base)

    return make


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models on a shared machine: one torch thread (tests/conftest.py)."""
