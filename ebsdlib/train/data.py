"""Feeding patterns from a data set split to the model: RAM or streamed, preprocessing on the device.

Raw patterns (uint8/uint16/float32, as stored) travel to the device; there
:func:`ebsdlib.data.preprocess.preprocess_batch` turns them into model inputs — the same
function, on the same device, at training and at inference time. Flips are applied on the
device after preprocessing.

A split whose raw patterns fit under ``memory_limit`` bytes is read into RAM once; a larger
one is streamed in contiguous blocks of whole batches (block-shuffled: the block order and
the order inside each block are random), so memory stays bounded and every read is one
chunk-friendly range of the HDF5 file. Shuffles are drawn from ``(seed, epoch)``, so an
epoch's order does not depend on what ran before it — a resumed run sees the same batches.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.preprocess import PreprocessConfig, preprocess_batch

if TYPE_CHECKING:
    import torch

#: Splits whose raw patterns need fewer bytes than this are held in RAM.
IN_MEMORY_LIMIT_BYTES = 2 << 30
#: Batches per contiguous read when streaming.
BATCHES_PER_READ = 8


class PatternFeeder:
    """Raw patterns and labels of a set of data-set indices, batch by batch.

    Parameters
    ----------
    dataset
        The opened data set.
    indices
        Pattern indices to feed (any order; they are sorted).
    memory_limit
        Hold the patterns in RAM when they need at most this many bytes; stream otherwise.
    """

    def __init__(self, dataset: EBSDDataset, indices: np.ndarray, memory_limit: int = IN_MEMORY_LIMIT_BYTES):
        self.dataset = dataset
        self.indices = np.sort(np.asarray(indices, dtype=np.int64))
        self.labels = dataset.labels[self.indices]
        h, w = dataset.pattern_shape
        nbytes = len(self.indices) * h * w * dataset.patterns.dtype.itemsize
        self.in_memory = nbytes <= memory_limit
        self._patterns = dataset.read(self.indices) if self.in_memory else None

    def __len__(self) -> int:
        return len(self.indices)

    def steps(self, batch_size: int, drop_last: bool = True) -> int:
        """Number of batches one pass yields."""
        n = len(self)
        if drop_last and n >= batch_size:
            return n // batch_size
        return -(-n // batch_size)

    def order(self, batch_size: int, rng: np.random.Generator | None) -> np.ndarray:
        """Positions (into ``self.indices``) in the order one pass visits them."""
        n = len(self)
        if rng is None:
            return np.arange(n)
        if self.in_memory:
            return rng.permutation(n)
        block = batch_size * BATCHES_PER_READ
        n_full = n // block
        starts = rng.permutation(n_full) * block
        parts = [s + rng.permutation(block) for s in starts]
        tail = np.arange(n_full * block, n)
        parts.append(tail[rng.permutation(len(tail))])
        return np.concatenate(parts) if parts else np.arange(0)

    def batches(
        self, batch_size: int, rng: np.random.Generator | None = None, drop_last: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield ``(positions, raw patterns, labels)``; shuffled when ``rng`` is given.

        With ``drop_last`` an incomplete final batch is dropped (unless it is the only one),
        so batch-norm and contrastive batches never get a handful of patterns.
        """
        order = self.order(batch_size, rng)
        n_batches = self.steps(batch_size, drop_last)
        batches = [order[i * batch_size : (i + 1) * batch_size] for i in range(n_batches)]
        if self.in_memory:
            for pos in batches:
                yield pos, self._patterns[pos], self.labels[pos]
            return
        yield from prefetch(self._stream(batches))

    def _stream(self, batches: list[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for g in range(0, len(batches), BATCHES_PER_READ):
            group = batches[g : g + BATCHES_PER_READ]
            pos = np.concatenate(group)
            lo, hi = int(pos.min()), int(pos.max()) + 1
            block = self.dataset.read(self.indices[lo:hi])
            for p in group:
                yield p, block[p - lo], self.labels[p]


def prefetch(iterator: Iterator, depth: int = 2) -> Iterator:
    """Run ``iterator`` in a background thread, ``depth`` items ahead (reads overlap compute).

    Exceptions in the thread re-raise in the consumer; leaving the loop early stops the thread.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("done", done))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, which re-raises it
            q.put(("error", e))

    thread = threading.Thread(target=work, name="ebsdlib-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def prepare_batch(
    raw: np.ndarray,
    device: torch.device,
    preprocess: PreprocessConfig,
    static_background: torch.Tensor | None,
    flip_generator: torch.Generator | None = None,
    channels_last: bool = False,
    shard: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Raw ``(B, H, W)`` patterns → model inputs ``(B, 1, S, S)`` on ``device``.

    Parameters
    ----------
    raw
        Patterns as stored, or a tensor of streamed patterns (:mod:`ebsdlib.train.stream`).
    device
        Where preprocessing and the model run.
    preprocess
        The run's preprocessing.
    static_background
        The data set's mean pattern, already on ``device``.
    flip_generator
        CPU generator for random horizontal and vertical flips (each with probability ½);
        ``None`` for no augmentation.
    channels_last
        Return the batch in channels-last memory format (CUDA).
    shard
        ``(rank, world_size)`` when ``raw`` is this rank's part of a global batch of
        ``world_size × B`` patterns (distributed training): the flips are drawn for the whole
        global batch and this part is taken, so every pattern is flipped as it would be in
        one process with the global batch.
    """
    import torch

    from ebsdlib.train.device import to_device

    if isinstance(raw, torch.Tensor):  # streamed patterns, made on the device
        raw = raw.to(device, non_blocking=True)
    else:
        raw = to_device(np.ascontiguousarray(raw), device)
    x = preprocess_batch(raw, preprocess, static_background)
    if flip_generator is not None:
        rank, world = shard or (0, 1)
        b = x.shape[0]
        flips = torch.rand((2, b * world), generator=flip_generator)[:, rank * b : (rank + 1) * b] < 0.5
        flips = flips.to(device)
        x = torch.where(flips[0].view(-1, 1, 1, 1), x.flip(-1), x)
        x = torch.where(flips[1].view(-1, 1, 1, 1), x.flip(-2), x)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def background_tensor(dataset: EBSDDataset, preprocess: PreprocessConfig, device: torch.device) -> torch.Tensor | None:
    """The data set's static background on ``device`` when the preprocessing uses it."""
    import torch

    if not preprocess.static_background:
        return None
    return torch.as_tensor(dataset.static_background, dtype=torch.float32, device=device)
