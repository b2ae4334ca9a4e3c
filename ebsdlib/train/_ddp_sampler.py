"""Each rank's part of every global batch: the distributed counterpart of ``PatternFeeder``.

Every rank draws the same epoch order from ``(seed, epoch)``. Global batch ``k`` is
``order[k·G:(k+1)·G]`` with ``G = batch_size × world_size``; rank ``r`` trains on its
``r``-th consecutive part of ``batch_size`` patterns. Only whole global batches are used
(the few patterns left over change from epoch to epoch), so every rank takes the same number
of equal steps.

Held in RAM, the order is exactly the one-process order of batch ``G``: the ranks together
see the batches a single process with ``--batch-size G`` sees. Streamed from the file, each
block of :data:`~ebsdlib.train.data.BATCHES_PER_READ` global batches is cut into one
contiguous range per rank and each global batch takes ``batch_size`` shuffled patterns from
each range, so a rank reads only its own range, in one piece.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ebsdlib.data.format import EBSDDataset
from ebsdlib.train.data import BATCHES_PER_READ, IN_MEMORY_LIMIT_BYTES, PatternFeeder, prefetch


class ShardedFeeder(PatternFeeder):
    """Raw patterns and labels of this rank's part of each global batch.

    Parameters
    ----------
    dataset
        The opened data set.
    indices
        Pattern indices to feed (the same on every rank).
    rank, world_size
        This process's rank and the number of processes.
    memory_limit
        Hold the patterns in RAM when they need at most this many bytes (each rank holds its
        own copy: give ``IN_MEMORY_LIMIT_BYTES // local_world_size`` to keep a node's total).
    """

    def __init__(
        self,
        dataset: EBSDDataset,
        indices: np.ndarray,
        rank: int,
        world_size: int,
        memory_limit: int = IN_MEMORY_LIMIT_BYTES,
    ):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank!r} must lie in [0, world_size={world_size!r})")
        super().__init__(dataset, indices, memory_limit)
        self.rank, self.world_size = int(rank), int(world_size)

    def steps(self, batch_size: int, drop_last: bool = True) -> int:
        """Global batches per epoch (each rank takes this many steps)."""
        if not drop_last:
            raise ValueError(
                "distributed training drops the incomplete last global batch; drop_last=False "
                "would give the ranks batches of different sizes"
            )
        global_batch = batch_size * self.world_size
        if len(self) < global_batch:
            raise ValueError(
                f"{self.dataset.path}: the {len(self)} training patterns do not fill one global batch of "
                f"batch_size × world_size = {batch_size} × {self.world_size} = {global_batch}; "
                "lower --batch-size or start fewer processes"
            )
        return len(self) // global_batch

    def order(self, batch_size: int, rng: np.random.Generator | None) -> np.ndarray:
        """The global visit order for ``batch_size`` patterns per rank (the same on every rank)."""
        global_batch = batch_size * self.world_size
        if rng is None or self.in_memory:
            return super().order(global_batch, rng)
        part = batch_size * BATCHES_PER_READ  # one rank's contiguous range in a block
        block = part * self.world_size
        n_full = len(self) // block
        parts = []
        for start in rng.permutation(n_full) * block:
            ranges = [start + r * part + rng.permutation(part) for r in range(self.world_size)]
            # (batches, ranks, batch_size): global batch j takes batch_size from every range
            parts.append(np.stack([p.reshape(BATCHES_PER_READ, batch_size) for p in ranges], axis=1).ravel())
        tail = np.arange(n_full * block, len(self))
        parts.append(tail[rng.permutation(len(tail))])
        return np.concatenate(parts)

    def batches(
        self, batch_size: int, rng: np.random.Generator | None = None, drop_last: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield this rank's ``(positions, raw patterns, labels)`` of each global batch."""
        n_steps = self.steps(batch_size, drop_last)
        order = self.order(batch_size, rng)
        global_batch = batch_size * self.world_size
        lo = self.rank * batch_size
        mine = [order[k * global_batch + lo : k * global_batch + lo + batch_size] for k in range(n_steps)]
        if self.in_memory:
            for pos in mine:
                yield pos, self._patterns[pos], self.labels[pos]
            return
        yield from prefetch(self._stream(mine))


def make_feeder(
    dataset: EBSDDataset, indices: np.ndarray, rank: int = 0, world_size: int = 1, local_world_size: int = 1
) -> PatternFeeder:
    """A :class:`PatternFeeder` in one process, a :class:`ShardedFeeder` under torchrun.

    The RAM limit is shared by the processes of a node.
    """
    if world_size == 1:
        return PatternFeeder(dataset, indices)
    return ShardedFeeder(
        dataset, indices, rank, world_size, memory_limit=IN_MEMORY_LIMIT_BYTES // max(1, local_world_size)
    )
