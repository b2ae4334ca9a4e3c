"""TrainConfig's one table of bounds, choices and help: the validation enforces exactly it, and
old ``config.json`` files with removed fields (``num_workers``) still open."""

from __future__ import annotations

import math
import re
import typing
from dataclasses import fields
from pathlib import Path

import pytest

from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.io import read_json
from ebsdlib.runs import open_run
from ebsdlib.train.config import (
    BOUNDS,
    CHOICES,
    FIELD_HELP,
    IMAGE_SIZE_BOUNDS,
    REMOVED_FIELDS,
    Bounds,
    TrainConfig,
)

REPO = Path(__file__).resolve().parents[2]


def beyond(bounds: Bounds) -> tuple[float, float]:
    """The nearest refused values below and above the range."""
    if bounds.integer:
        return bounds.low - 1, bounds.high + 1
    below = bounds.low if bounds.low_open else math.nextafter(bounds.low, -math.inf)
    return below, math.nextafter(bounds.high, math.inf)


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_the_validation_accepts_each_bound_and_refuses_beyond_it(name):
    bounds = BOUNDS[name]
    for ok in (bounds.minimum, bounds.high):
        assert getattr(TrainConfig(**{name: ok}), name) == ok
    for bad in beyond(bounds):
        with pytest.raises(ValueError, match=rf"^{name}={bad!r} is not allowed; use {re.escape(bounds.describe())}$"):
            TrainConfig(**{name: bad})


def test_an_open_bound_offers_a_widget_minimum_inside_the_range():
    for name, bounds in BOUNDS.items():
        if bounds.low_open:
            assert bounds.least is not None and bounds.low < bounds.minimum <= bounds.high, name


def test_image_size_bounds_are_the_preprocessings():
    lo, hi = IMAGE_SIZE_BOUNDS.minimum, IMAGE_SIZE_BOUNDS.high
    assert (PreprocessConfig(size=lo).size, PreprocessConfig(size=hi).size) == (lo, hi)
    for bad in (lo - 1, hi + 1):
        with pytest.raises(ValueError, match=rf"size {bad} must be between {lo} and {hi} pixels"):
            PreprocessConfig(size=bad)
    assert lo <= PreprocessConfig().size <= hi


def test_the_table_covers_the_fields_and_the_choices_are_the_literal_types():
    hints = typing.get_type_hints(TrainConfig)
    names = {f.name for f in fields(TrainConfig)}
    assert set(FIELD_HELP) == names, "every config field needs a one-line help"
    numeric = {n for n in names if hints[n] in (int, float)}
    assert numeric - set(BOUNDS) == {"warmup_epochs"}, "a new numeric field needs its bounds (warmup: up to epochs)"
    assert set(BOUNDS) <= names and set(CHOICES) <= names
    for name, options in CHOICES.items():
        assert options == typing.get_args(hints[name]), name
        for default_ok in options:
            assert getattr(TrainConfig(**{name: default_ok}), name) == default_ok
        with pytest.raises(ValueError, match=rf"^{name}='nope' is not allowed; use one of"):
            TrainConfig(**{name: "nope"})
    for f in fields(TrainConfig):
        if f.name in BOUNDS:
            assert BOUNDS[f.name].allows(f.default), f.name


def test_a_stored_config_with_num_workers_still_loads_without_it():
    stored = {**TrainConfig(epochs=3).to_dict(), "num_workers": 4}
    config = TrainConfig.from_dict(stored)
    assert config == TrainConfig(epochs=3)
    assert "num_workers" not in config.to_dict() and not hasattr(config, "num_workers")
    assert set(REMOVED_FIELDS) == {"num_workers"}
    with pytest.raises(ValueError, match=r"unknown config keys \['workers'\]"):
        TrainConfig.from_dict({**stored, "workers": 4})


def test_the_committed_demo_runs_configs_open():
    """Every committed demo network run opens as a config that keeps each stored value."""
    root = REPO / "artifacts"
    stored = {p.parent.name: read_json(p) for p in sorted((root / "runs").glob("demo-*/config.json"))}
    networks = {name: d for name, d in stored.items() if d.get("loss") in CHOICES["loss"]}  # not the dictionary run
    assert {d["loss"] for d in networks.values()} >= {"ce", "supcon"}
    for name, d in networks.items():
        config = TrainConfig.from_dict(open_run(name, root).config())
        kept = {k: v for k, v in d.items() if k != "num_workers"}
        assert {k: config.to_dict()[k] for k in kept} == kept, name


def test_a_stored_config_without_a_later_field_reads_as_its_run_ran():
    from ebsdlib.train.config import ADDED_FIELDS

    stored = {k: v for k, v in TrainConfig(epochs=3).to_dict().items() if k not in ADDED_FIELDS}
    assert TrainConfig.from_dict(stored).calibration_holdout == 0.0  # trained before the hold-out existed
    partial = {"epochs": 3}  # a hand-written partial config (no ``method``) gets today's default
    assert TrainConfig.from_dict(partial).calibration_holdout == TrainConfig().calibration_holdout == 0.5
    assert "calibration_holdout" not in DEMO_CONFIG_2026_12_02
    assert not TrainConfig.from_dict(DEMO_CONFIG_2026_12_02).calibration_held_out


#: The config.json of the demo's cross-entropy run as committed on 2026-12-02, before
#: ``calibration_holdout`` existed (the demo has since been rebuilt; runs of that age stay on disk).
DEMO_CONFIG_2026_12_02 = {
    "data": "artifacts/datasets/default.h5",
    "loss": "ce",
    "model": "efficientnet_b0",
    "pretrained": None,
    "epochs": 30,
    "batch_size": 64,
    "lr": 0.002,
    "weight_decay": 0.0001,
    "schedule": "cosine",
    "warmup_epochs": 1,
    "temperature": 0.1,
    "embedding_dim": 128,
    "probe_epochs": 30,
    "knn_k": 10,
    "validation": False,
    "augment": True,
    "stream": False,
    "stream_patterns": 0,
    "preprocess": {
        "static_background": True,
        "dynamic_background": True,
        "dynamic_sigma": 0.125,
        "size": 64,
        "normalise": "standard",
        "circular_mask": False,
    },
    "seed": 0,
    "device": "auto",
    "precision": "fp32",
    "eval_batch_size": 512,
    "umap": True,
    "calibrate": True,
    "name": "demo: cross-entropy",
    "method": "ce",
}
