"""Feeding patterns: RAM and streamed modes, shuffles, device preprocessing and flips, prefetch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.preprocess import PreprocessConfig, preprocess_batch
from ebsdlib.train import data as feed
from ebsdlib.train.data import PatternFeeder, prefetch, prepare_batch


@pytest.fixture
def dataset(tiny_data):
    with EBSDDataset(tiny_data) as ds:
        yield ds


@pytest.mark.parametrize("memory_limit", [1 << 30, 0], ids=["in-memory", "streamed"])
def test_every_pass_visits_each_pattern_once_with_its_label(dataset, memory_limit, monkeypatch):
    monkeypatch.setattr(feed, "BATCHES_PER_READ", 2)
    idx = dataset.indices("train")  # 24 patterns
    feeder = PatternFeeder(dataset, idx, memory_limit=memory_limit)
    assert feeder.in_memory == (memory_limit > 0)
    orders = []
    for epoch in range(2):
        seen = []
        for pos, raw, labels in feeder.batches(5, np.random.default_rng([0, epoch])):
            assert raw.shape == (len(pos), 24, 24) and raw.dtype == np.uint8
            np.testing.assert_array_equal(raw, dataset.read(idx[pos]))
            np.testing.assert_array_equal(labels, dataset.labels[idx[pos]])
            seen.extend(pos.tolist())
        assert len(seen) == 20 == feeder.steps(5) * 5  # 24 // 5 full batches, the rest dropped
        assert len(set(seen)) == 20
        orders.append(seen)
    assert orders[0] != orders[1]
    again = [p for pos, _, _ in feeder.batches(5, np.random.default_rng([0, 0])) for p in pos]
    assert again == orders[0]


def test_unshuffled_pass_keeps_everything_in_order(dataset):
    feeder = PatternFeeder(dataset, dataset.indices("test"), memory_limit=0)
    pos = np.concatenate([p for p, _, _ in feeder.batches(5, None, drop_last=False)])
    np.testing.assert_array_equal(pos, np.arange(12))
    assert feeder.steps(5, drop_last=False) == 3
    assert feeder.steps(64) == 1  # fewer patterns than a batch: one batch of all


def test_prepare_batch_is_preprocess_batch_plus_flips(dataset):
    raw = dataset.read(np.arange(16))
    pp = PreprocessConfig(size=24)
    bg = torch.as_tensor(dataset.static_background)
    plain = prepare_batch(raw, torch.device("cpu"), pp, bg)
    torch.testing.assert_close(plain, preprocess_batch(raw, pp, bg))

    flipped = prepare_batch(raw, torch.device("cpu"), pp, bg, torch.Generator().manual_seed(3))
    kinds = []
    for a, b in zip(plain, flipped, strict=True):
        options = {"none": a, "h": a.flip(-1), "v": a.flip(-2), "hv": a.flip(-1).flip(-2)}
        kinds.append(next(k for k, v in options.items() if torch.equal(v, b)))
    assert len(set(kinds)) > 1  # flips are per pattern
    again = prepare_batch(raw, torch.device("cpu"), pp, bg, torch.Generator().manual_seed(3))
    assert torch.equal(flipped, again)


def test_prefetch_yields_everything_and_reraises_errors():
    assert list(prefetch(iter(range(7)), depth=2)) == list(range(7))

    def broken():
        yield 1
        raise OSError("disk went away")

    got = []
    with pytest.raises(OSError, match="disk went away"):
        got.extend(prefetch(broken()))
    assert got == [1]
    it = prefetch(iter(range(1000)), depth=1)
    assert next(it) == 0
    it.close()  # leaving early stops the reader thread
