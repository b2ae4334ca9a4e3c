"""Splits: stratified fractions, whole groups on one side, seeded reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from ebsdlib.data.splits import make_splits, spatial_blocks


def test_stratified_fractions_per_phase() -> None:
    labels = np.repeat([0, 1, 2, -1], [400, 200, 100, 60])
    split, rule = make_splits(labels, seed=3)
    assert split.dtype == np.int8 and set(np.unique(split)) == {0, 1, 2}
    for lab, n in ((0, 400), (1, 200), (2, 100), (-1, 60)):
        counts = np.bincount(split[labels == lab], minlength=3)
        np.testing.assert_allclose(counts / n, (0.7, 0.15, 0.15), atol=1.0 / n + 1e-9)
    assert rule == "stratified by phase, pattern by pattern; fractions 0.70/0.15/0.15; seed 3"


def test_custom_fractions_and_small_classes() -> None:
    split, _ = make_splits(np.zeros(20, int), fractions=(0.5, 0.25, 0.25))
    assert np.bincount(split, minlength=3).tolist() == [10, 5, 5]
    split, _ = make_splits(np.zeros(13, int))
    assert np.bincount(split, minlength=3).tolist() == [9, 2, 2]
    split, _ = make_splits(np.zeros(5, int), fractions=(1, 0, 0))
    assert (split == 0).all()


def test_no_group_on_two_sides() -> None:
    rng = np.random.default_rng(0)
    grain = rng.integers(0, 150, 3000)
    labels = grain % 3  # a grain has one phase
    split, rule = make_splits(labels, groups=grain, seed=1)
    for g in np.unique(grain):
        assert len(np.unique(split[grain == g])) == 1
    assert "whole groups" in rule
    frac = np.bincount(split, minlength=3) / len(split)
    np.testing.assert_allclose(frac, (0.7, 0.15, 0.15), atol=0.06)


def test_spatial_blocks_keep_neighbours_together() -> None:
    row, col = np.divmod(np.arange(40 * 30), 30)
    blocks = spatial_blocks(row, col, block=10)
    assert len(np.unique(blocks)) == 12
    assert blocks[row * 30 + col == 0] == blocks[9 * 30 + 9]  # same tile
    assert blocks[0] != blocks[10] and blocks[0] != blocks[10 * 30]
    split, _ = make_splits(np.full(len(row), -1), groups=blocks, seed=0)
    for b in np.unique(blocks):
        assert len(np.unique(split[blocks == b])) == 1


def test_seeded_reproducibility() -> None:
    labels = np.arange(300) % 3
    a, _ = make_splits(labels, seed=5)
    b, _ = make_splits(labels, seed=5)
    c, _ = make_splits(labels, seed=6)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fractions": (0.5, 0.5, 0.5)}, r"split fractions \(0.5, 0.5, 0.5\) must be three non-negative"),
        ({"fractions": (1.2, -0.1, -0.1)}, "must be three non-negative numbers summing to 1"),
        ({"fractions": (0.5, 0.5)}, "must be three non-negative numbers"),
        ({"groups": np.arange(3)}, "groups has 3 entries but labels has 6"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_splits(np.arange(6) % 2, **kwargs)
