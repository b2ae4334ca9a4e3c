"""Training learns: on a clearly separable data set the loss falls and the test accuracy is high.

The other training tests check artifacts, reproducibility and resume; a trainer whose optimiser
never stepped would pass them. These tests would not: with every loss the trainer offers, the
first epoch's training loss must fall clearly by the last, and the run must classify the test
split almost perfectly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.data.format import write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.train.config import LOSSES
from ebsdlib.train.loop import train

SIZE = 24


def bars(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 patterns whose class is one bright bar: 0 horizontal, 1 vertical, 2 diagonal.

    The bar lies at a random offset from the centre and the pattern carries Gaussian noise, so
    the classes differ only in the bar's direction.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    patterns = np.empty((n, SIZE, SIZE), dtype=np.uint8)
    for i, label in enumerate(labels):
        offset = rng.uniform(-4, 4)
        distance = [yy - SIZE / 2, xx - SIZE / 2, (xx - yy) / np.sqrt(2)][label] - offset
        img = 70 + 120 * np.exp(-(distance**2) / 4) + rng.normal(0, 10, (SIZE, SIZE))
        patterns[i] = np.clip(img, 0, 255)
    return patterns, labels.astype(np.int16)


def lowest_loss(loss: str, batch_size: int, classes: int) -> float:
    """A lower bound of the mean training loss that a perfect separation reaches.

    Cross-entropy: 0. SupCon (pytorch-metric-learning's, which averages the log-probability over
    an anchor's positives): with each class collapsed onto one point and the classes far apart an
    anchor with ``m`` positives scores ``log(m)``; ``n log(n - 1)`` is convex, so over any mix of
    classes in a batch the mean is at least ``log(batch_size / classes - 1)``.
    """
    if loss == "ce":
        return 0.0
    if loss == "supcon":
        return math.log(batch_size / classes - 1)
    if loss == "contrastive":  # positives at distance 0 and negatives beyond the margin cost nothing
        return 0.0
    raise ValueError(f"no lower bound of the loss {loss!r} is known; state the loss a perfect fit reaches here")


@pytest.fixture(scope="module")
def separable_data(tmp_path_factory) -> Path:
    """240 patterns of 24×24 pixels, 3 phases; splits 120 train, 60 val, 60 test."""
    patterns, labels = bars(240)
    split = np.zeros(len(labels), dtype=np.int8)
    split[np.arange(len(labels)) % 4 == 1] = 1
    split[np.arange(len(labels)) % 4 == 3] = 2
    return write_dataset(
        tmp_path_factory.mktemp("separable") / "bars.h5",
        patterns,
        labels,
        DEFAULT_PHASES,
        provenance={"test": "bright bars, one direction per phase"},
        split=split,
        split_rule="every 4th pattern",
        seed=0,
    )


@pytest.mark.parametrize("loss", LOSSES)
def test_training_lowers_the_loss_and_classifies_the_test_split(loss, separable_data, tiny_config, artifacts):
    config = tiny_config(
        data=str(separable_data),
        loss=loss,
        epochs=10 if loss == "contrastive" else 6,  # batch-hard mining keeps the hardest pairs: it falls slower
        batch_size=30,
        probe_epochs=30,
        knn_k=5,
        eval_batch_size=60,
        preprocess=PreprocessConfig(size=SIZE),
    )
    run = train(config, progress=False)

    assert run.read_status().state == "completed"
    losses = run.history()["train_loss"].tolist()
    assert len(losses) == config.epochs
    floor = lowest_loss(loss, config.batch_size, len(DEFAULT_PHASES))
    # the last epoch closes at least three quarters of the gap between the first epoch and a perfect fit
    assert losses[-1] - floor < 0.25 * (losses[0] - floor), f"the training loss did not fall: {losses}"
    metrics = run.metrics()
    assert metrics["split"] == "test" and metrics["n"] == 60
    assert metrics["accuracy"] >= 0.9, f"test accuracy {metrics['accuracy']} after losses {losses}"
