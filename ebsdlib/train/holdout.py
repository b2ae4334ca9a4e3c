"""Which labelled patterns a run fits on, and which it keeps out to calibrate its probabilities on.

A temperature fitted on patterns the network trained on learns nothing about its overconfidence:
the network is sure of those. With ``validation`` or ``stream`` the validation split is held out
already. In train+validation mode (``validation=False``) a seeded, stratified share
``calibration_holdout`` of the validation split is kept out of training (and out of the probe and
the k-NN reference of a metric loss) and the temperature is fitted on it; with 0 the temperature
is fitted on the whole validation split the run trained on (``calibration_held_out: false``).
"""

from __future__ import annotations

import numpy as np

from ebsdlib.data.format import EBSDDataset
from ebsdlib.train.config import TrainConfig

#: Offset of the hold-out's random stream from the run's seed (its shuffles and flips use the seed).
HOLDOUT_STREAM = 7


def labelled_indices(dataset: EBSDDataset, splits: tuple[str, ...] | list[str]) -> np.ndarray:
    """Sorted indices of the patterns in ``splits`` whose label is known."""
    idx = np.sort(np.concatenate([dataset.indices(s) for s in splits]))
    return idx[dataset.labels[idx] >= 0]


def calibration_indices(dataset: EBSDDataset, config: TrainConfig) -> np.ndarray:
    """Sorted labelled indices the temperature is fitted on (see the module docstring)."""
    val = labelled_indices(dataset, ("val",))
    if config.calibration_held_out_by_holdout:
        return held_out_share(dataset.labels[val], val, config.calibration_holdout, config.seed)
    return val


def fitted_indices(dataset: EBSDDataset, config: TrainConfig, splits: tuple[str, ...]) -> np.ndarray:
    """Sorted labelled indices of ``splits`` without the calibration hold-out (training, probe, k-NN)."""
    idx = labelled_indices(dataset, splits)
    if not config.calibration_held_out_by_holdout:
        return idx
    return np.setdiff1d(idx, calibration_indices(dataset, config), assume_unique=True)


def held_out_share(labels: np.ndarray, indices: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A seeded share of ``indices`` taken per label (at least one of each label with two or more),
    sorted; the same seed gives the same patterns."""
    rng = np.random.default_rng([int(seed), HOLDOUT_STREAM])
    out = []
    for label in np.unique(labels):
        members = indices[labels == label]
        take = min(len(members) - 1, max(1, round(share * len(members)))) if len(members) > 1 else 0
        out.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(out)) if out else indices[:0]
