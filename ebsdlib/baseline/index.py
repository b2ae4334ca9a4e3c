"""Index the patterns of a data set against a dictionary, streaming the file in batches."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from ebsdlib.baseline.dictionary import Dictionary
from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.preprocess import PreprocessConfig


@dataclass(frozen=True)
class IndexResult:
    """Best match of every phase for each indexed pattern.

    Attributes
    ----------
    indices
        ``(n,)`` pattern indices in the data set; row ``i`` of every array belongs to ``indices[i]``.
    scores
        ``(n, P)`` best normalised cross-correlation with each phase.
    rotations
        ``(n, P, 4)`` orientation (unit quaternion) of each phase's best match.
    seconds
        Wall time of reading, preprocessing and matching (not the dictionary build).
    refined
        Whether ``scores`` and ``rotations`` come from orientation refinement.
    refine_seconds
        Wall time of the refinement.
    """

    indices: np.ndarray
    scores: np.ndarray
    rotations: np.ndarray
    seconds: float
    refined: bool = False
    refine_seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def patterns_per_second(self) -> float:
        """Patterns indexed per second, refinement included when it ran."""
        total = self.seconds + self.refine_seconds
        return len(self) / total if total > 0 else float("nan")

    @property
    def pred(self) -> np.ndarray:
        """``(n,)`` phase of the best match."""
        return self.scores.argmax(axis=1)

    def best_rotations(self) -> np.ndarray:
        """``(n, 4)`` orientation of the predicted phase's match."""
        return self.rotations[np.arange(len(self)), self.pred]

    def subset(self, rows: np.ndarray) -> IndexResult:
        """The rows ``rows`` only (times scaled by the fraction kept)."""
        frac = len(rows) / max(len(self), 1)
        return replace(
            self,
            indices=self.indices[rows],
            scores=self.scores[rows],
            rotations=self.rotations[rows],
            seconds=self.seconds * frac,
            refine_seconds=self.refine_seconds * frac,
        )


def index_patterns(
    dataset: EBSDDataset,
    dictionary: Dictionary,
    indices: np.ndarray | None,
    preprocess: PreprocessConfig,
    *,
    batch_size: int = 256,
    progress: bool = False,
) -> IndexResult:
    """Match the patterns at ``indices`` against every phase of ``dictionary``.

    Batches are read in order by a background thread while the previous one is matched (on
    CUDA it also copies them into pinned memory, :func:`ebsdlib.train.device.pinned_batches`);
    preprocessing and correlations run on the dictionary's device.

    Parameters
    ----------
    dataset
        The opened data set.
    dictionary
        Built for this data set's pattern shape and ``preprocess``.
    indices
        Pattern indices; ``None`` for all. Output row ``i`` belongs to ``indices[i]``.
    preprocess
        The preprocessing the dictionary was built with.
    batch_size
        Patterns matched at once.
    progress
        Show a tqdm bar.
    """
    import torch
    from tqdm.auto import tqdm

    from ebsdlib.baseline.match import best_matches, prepare
    from ebsdlib.train.data import prefetch
    from ebsdlib.train.device import pinned_batches, to_device

    if tuple(dataset.pattern_shape) != tuple(dictionary.pattern_shape):
        raise ValueError(
            f"{dataset.path}: patterns are {dataset.pattern_shape[0]}×{dataset.pattern_shape[1]} but "
            f"the dictionary was simulated at {dictionary.pattern_shape[0]}×"
            f"{dictionary.pattern_shape[1]}; build it for this data set"
        )
    if dictionary.parameters["preprocess"] != preprocess.to_dict():
        raise ValueError(
            f"the dictionary was preprocessed with {dictionary.parameters['preprocess']!r}, the "
            f"patterns would be with {preprocess.to_dict()!r}; use the same preprocessing for both"
        )
    dev = dictionary.device
    idx = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=np.int64)
    order = np.argsort(idx, kind="stable")
    n, n_phases = len(idx), len(dictionary.phases)
    scores = np.empty((n, n_phases), dtype=np.float32)
    best = np.empty((n, n_phases), dtype=np.int64)
    bg = (
        torch.as_tensor(dataset.static_background, dtype=torch.float32, device=dev)
        if preprocess.static_background
        else None
    )
    t0 = time.perf_counter()
    done = 0
    with tqdm(total=n, desc="dictionary indexing", unit="pattern", disable=not progress) as bar, torch.inference_mode():
        for _, raw in prefetch(pinned_batches(dataset.iter_batches(batch_size, idx[order]), dev)):
            rows = order[done : done + len(raw)]
            x = prepare(to_device(raw, dev), preprocess, bg)
            scores[rows], best[rows] = best_matches(x, dictionary.templates)
            done += len(raw)
            bar.update(len(raw))
    seconds = time.perf_counter() - t0
    rotations = (
        np.stack([dictionary.rotations[p][best[:, p]] for p in range(n_phases)], axis=1)
        if n
        else np.empty((0, n_phases, 4))
    )
    return IndexResult(idx, scores, rotations, seconds)
