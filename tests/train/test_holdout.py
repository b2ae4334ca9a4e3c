"""Calibration hold-out: in train+validation mode a share of the validation split calibrates and is not trained on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ebsdlib.data.format import EBSDDataset
from ebsdlib.train.holdout import calibration_indices, fitted_indices, held_out_share, labelled_indices
from ebsdlib.train.loop import train


def test_the_share_is_per_label_seeded_and_leaves_one_of_each():
    labels = np.repeat([0, 1, 2], [10, 4, 1])
    idx = np.arange(100, 115)
    a, b = held_out_share(labels, idx, 0.5, seed=3), held_out_share(labels, idx, 0.5, seed=3)
    assert np.array_equal(a, b) and np.all(np.diff(a) > 0)
    taken = labels[np.searchsorted(idx, a)]
    assert list(np.bincount(taken, minlength=3)) == [5, 2, 0]  # a single pattern of a label stays in training
    assert not np.array_equal(a, held_out_share(labels, idx, 0.5, seed=4))
    assert list(np.bincount(labels[np.searchsorted(idx, held_out_share(labels, idx, 0.9, 0))])) == [9, 3]


def test_train_and_val_mode_holds_out_a_share_and_says_so(tiny_config, artifacts):
    config = tiny_config(validation=False, calibration_holdout=0.5)
    with EBSDDataset(config.data) as ds:
        cal = calibration_indices(ds, config)
        fit = fitted_indices(ds, config, config.train_splits)
        val = labelled_indices(ds, ("val",))
        both = labelled_indices(ds, ("train", "val"))
    assert len(cal) and set(cal) <= set(val) and not set(cal) & set(fit)
    assert np.array_equal(np.sort(np.concatenate([cal, fit])), both)  # nothing else is lost
    run = train(config, progress=False)
    metrics = run.metrics()
    assert metrics["calibration_held_out"] is True and metrics["calibration_patterns"] == len(cal)
    assert metrics["calibration_split"] == "val, a 0.5 share held out of training"
    assert config.calibration_held_out


@pytest.mark.parametrize(
    "overrides, held_out",
    [
        ({"validation": False, "calibration_holdout": 0.0}, False),  # fitted on what it trained on
        ({"validation": True, "calibration_holdout": 0.5}, True),  # val is held out already: no share taken
    ],
)
def test_without_a_share_the_whole_validation_split_calibrates(tiny_config, overrides, held_out):
    config = tiny_config(**overrides)
    with EBSDDataset(config.data) as ds:
        assert np.array_equal(calibration_indices(ds, config), labelled_indices(ds, ("val",)))
        assert np.array_equal(
            fitted_indices(ds, config, config.train_splits), labelled_indices(ds, config.train_splits)
        )
    assert config.calibration_held_out is held_out


def test_a_metric_loss_probe_leaves_the_hold_out_out_too(tiny_config, artifacts):
    config = tiny_config(loss="supcon", validation=False, calibration_holdout=0.5, epochs=1)
    run = train(config, progress=False)
    with EBSDDataset(config.data) as ds:
        cal = set(calibration_indices(ds, config))
    assert run.metrics()["calibration_held_out"] is True
    assert isinstance(run.predictions(), pd.DataFrame) and cal  # the probe ran and calibrated on the share


def test_a_share_out_of_range_is_refused(tiny_config):
    with pytest.raises(ValueError, match=r"^calibration_holdout=0\.95 is not allowed; use a number in \[0, 0\.9\]"):
        tiny_config(calibration_holdout=0.95)
