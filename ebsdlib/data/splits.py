"""Seeded, stratified train/validation/test splits that keep grains (or scan blocks) whole."""

from __future__ import annotations

import numpy as np

DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)


def spatial_blocks(row: np.ndarray, col: np.ndarray, block: int = 10) -> np.ndarray:
    """Group id of each scan position's ``block × block`` tile, for splits without grain ids."""
    row, col = np.asarray(row), np.asarray(col)
    ncols = int(col.max()) // block + 1 if len(col) else 1
    return (row // block) * ncols + (col // block)


def make_splits(
    labels: np.ndarray,
    groups: np.ndarray | None = None,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> tuple[np.ndarray, str]:
    """Assign every pattern to train (0), validation (1) or test (2).

    Stratified by label; when ``groups`` (grain ids or spatial blocks) is given, all patterns
    of a group land in the same split, so near-identical neighbours never sit on two sides.
    Unknown labels (``-1``) are split like a class of their own.

    Parameters
    ----------
    labels
        ``(N,)`` phase indices.
    groups
        ``(N,)`` group ids, or ``None`` to split pattern by pattern.
    fractions
        Train, validation and test fractions; must be non-negative and sum to 1.
    seed
        Seed of the shuffle.

    Returns
    -------
    split
        ``(N,)`` int8 codes 0, 1, 2.
    rule
        Plain-words description of the rule, stored in the data set.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
    fr = np.asarray(fractions, dtype=float)
    if fr.shape != (3,) or (fr < 0).any() or not np.isclose(fr.sum(), 1.0):
        raise ValueError(f"split fractions {tuple(fractions)!r} must be three non-negative numbers summing to 1")
    rng = np.random.default_rng(seed)
    split = np.full(len(labels), -1, dtype=np.int8)
    if groups is None:
        groups = np.arange(len(labels))
        rule = "stratified by phase, pattern by pattern"
    else:
        groups = np.asarray(groups)
        if len(groups) != len(labels):
            raise ValueError(f"groups has {len(groups)} entries but labels has {len(labels)}")
        rule = "stratified by phase, whole groups (grains or scan blocks) kept on one side"
    # each group takes the majority label of its patterns, then groups are dealt per label
    uniq, inverse = np.unique(groups, return_inverse=True)
    group_size = np.bincount(inverse, minlength=len(uniq))
    label_values, label_code = np.unique(labels, return_inverse=True)
    votes = np.zeros((len(uniq), len(label_values)), dtype=np.int64)
    np.add.at(votes, (inverse, label_code), 1)
    group_label = label_values[np.argmax(votes, axis=1)]
    bounds = np.cumsum(fr)[:2]
    group_split = np.empty(len(uniq), dtype=np.int8)
    for lab in np.unique(group_label):
        members = np.flatnonzero(group_label == lab)
        members = members[rng.permutation(len(members))]
        cum = np.cumsum(group_size[members]) / group_size[members].sum()
        # a group goes to the split in which its middle falls (unbiased rounding of the counts)
        middle = cum - group_size[members] / (2 * group_size[members].sum())
        group_split[members] = np.searchsorted(bounds, middle, side="left").astype(np.int8)
    split[:] = group_split[inverse]
    return split, f"{rule}; fractions {fr[0]:.2f}/{fr[1]:.2f}/{fr[2]:.2f}; seed {seed}"
