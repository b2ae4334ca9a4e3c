"""Feeding patterns from a data set split to the model: device-resident, RAM or streamed blocks.

Raw patterns (uint8/uint16/float32, as stored) travel to the device; there
:func:`ebsdlib.data.preprocess.preprocess_batch` turns them into model inputs — the same
function, on the same device, at training and at inference time. Flips are applied on the
device after preprocessing.

Where the batches come from (:attr:`PatternFeeder.kind`, recorded as ``feeder`` in a run's
``metrics.json``):

``"resident"``
    The split's raw patterns are copied once, in their stored dtype, into one tensor on the
    training device (:meth:`PatternFeeder.place`); each step gathers its batch there with
    ``index_select``, so no pattern crosses the host–device link after the first copy. The
    default on CUDA when the split needs at most :data:`RESIDENT_FRACTION` of the free device
    memory (the default data set, 6000 patterns of 64 × 64 uint8, is 24 MB).
``"ram"``
    A split whose raw patterns fit under ``memory_limit`` bytes is read into RAM once; each
    batch is copied to the device (pinned, non-blocking on CUDA). The default on the CPU, where
    the RAM copy already is where the model runs.
``"blocks"``
    A larger split is streamed in contiguous blocks of whole batches (block-shuffled: the block
    order and the order inside each block are random), so memory stays bounded and every read
    is one chunk-friendly range of the HDF5 file.

Resident and RAM feeders visit the same shuffled order and gather the same rows, so a run
gives the same batches (and, on the CPU, bit-identical losses) with either. Shuffles are drawn
from ``(seed, epoch)``, so an epoch's order does not depend on what ran before it — a resumed
run sees the same batches. (Stream training, ``feeder`` ``"stream"``, draws fresh simulated
patterns instead: :mod:`ebsdlib.train.stream`.)
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np

from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.preprocess import PreprocessConfig, preprocess_batch

if TYPE_CHECKING:
    import torch

#: Splits whose raw patterns need fewer bytes than this are held in RAM.
IN_MEMORY_LIMIT_BYTES = 2 << 30
#: Batches per contiguous read when streaming.
BATCHES_PER_READ = 8
#: Device types whose stored training splits go to the device by default (:meth:`PatternFeeder.place`
#: with ``resident=None``). Not the CPU: there the RAM copy already is where the model runs, and a
#: second copy would only double the memory (tests add ``"cpu"`` to run the resident path there).
RESIDENT_DEVICES: tuple[str, ...] = ("cuda",)
#: Fraction of the CUDA device's free memory (``torch.cuda.mem_get_info`` when the feeder is
#: placed, before the model is built) a resident split may take; the rest is left for the weights,
#: the optimiser state, activations and cuDNN workspaces. A quarter of an idle H100's 80 GB holds
#: about 5 million 64 × 64 uint8 patterns (4096 bytes each), far more than the default data set's 24 MB.
RESIDENT_FRACTION = 0.25
#: Resident limit on devices without a free-memory query (the CPU, when asked for): the RAM limit.
RESIDENT_LIMIT_BYTES = IN_MEMORY_LIMIT_BYTES
#: Patterns read from the file per copy when a split held in blocks goes resident.
RESIDENT_READ_CHUNK = 8192

FeederKind = Literal["resident", "ram", "blocks"]


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
        :meth:`place` may then move them to the training device.
    """

    def __init__(self, dataset: EBSDDataset, indices: np.ndarray, memory_limit: int = IN_MEMORY_LIMIT_BYTES):
        self.dataset = dataset
        self.indices = np.sort(np.asarray(indices, dtype=np.int64))
        self.labels = dataset.labels[self.indices]
        h, w = dataset.pattern_shape
        #: Bytes of the split's raw patterns in their stored dtype.
        self.nbytes = len(self.indices) * h * w * dataset.patterns.dtype.itemsize
        #: The whole split is held (in RAM, or on the device once resident): batches are a full shuffle.
        self.in_memory = self.nbytes <= memory_limit
        self._patterns: np.ndarray | DeviceRows | None = dataset.read(self.indices) if self.in_memory else None

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def kind(self) -> FeederKind:
        """``"resident"`` (on the device), ``"ram"`` or ``"blocks"`` (streamed from the file)."""
        if isinstance(self._patterns, DeviceRows):
            return "resident"
        return "ram" if self.in_memory else "blocks"

    def place(self, device: torch.device, resident: bool | None = None) -> FeederKind:
        """Decide where batches are gathered; copy the split to ``device`` once when it goes resident.

        Parameters
        ----------
        device
            The training device (under torchrun, this rank's: every rank holds its own copy of
            the split, since each epoch's global order draws batches from all of it).
        resident
            ``None``: resident when ``device.type`` is in :data:`RESIDENT_DEVICES` and the split
            fits under :func:`resident_limit`, else as constructed (RAM or blocks). ``True``:
            resident on any device (an error when it does not fit); ``False``: as constructed.

        Returns
        -------
        str
            :attr:`kind` after the choice.

        Raises
        ------
        ValueError
            With ``resident=True`` for a split larger than the device's limit.
        """
        if resident is False or self.kind == "resident":
            return self.kind
        if resident is None and device.type not in RESIDENT_DEVICES:
            return self.kind
        limit = resident_limit(device)
        if self.nbytes > limit:
            if resident is None:
                return self.kind
            raise ValueError(
                f"{self.dataset.path}: the {len(self)} training patterns need {self.nbytes / 1e6:.1f} MB, more "
                f"than the {limit / 1e6:.1f} MB a resident split may take on {device} "
                f"(RESIDENT_FRACTION={RESIDENT_FRACTION!r} of the free memory, or RESIDENT_LIMIT_BYTES); "
                "leave resident=None to feed it from RAM or in blocks"
            )
        if self._patterns is None:  # held in blocks: read straight into the device tensor
            rows = DeviceRows.empty((len(self), *self.dataset.pattern_shape), self.dataset.patterns.dtype, device)
            for lo in range(0, len(self), RESIDENT_READ_CHUNK):
                hi = min(lo + RESIDENT_READ_CHUNK, len(self))
                rows.write(lo, self.dataset.read(self.indices[lo:hi]))
        else:
            rows = DeviceRows.empty(self._patterns.shape, self._patterns.dtype, device)
            rows.write(0, self._patterns)
        self._patterns = rows  # the RAM copy is released
        self.in_memory = True
        return self.kind

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
    ) -> Iterator[tuple[np.ndarray, np.ndarray | torch.Tensor, np.ndarray]]:
        """Yield ``(positions, raw patterns, labels)``; shuffled when ``rng`` is given.

        The raw patterns are a numpy array (RAM, blocks) or, resident, a tensor on the device.
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


class DeviceRows:
    """Raw patterns held in one tensor on a device; ``rows[positions]`` gathers a batch there.

    Indexed like the numpy array it replaces (``rows[pos]`` with an int64 position array), so
    a feeder's batch loop is the same for RAM and resident patterns. uint16 patterns are held
    through an int16 view (same bytes; ``index_select`` does not cover every unsigned dtype on
    every device) and handed back as uint16.
    """

    def __init__(self, tensor: torch.Tensor):
        import torch

        self.dtype = tensor.dtype
        self._store = tensor.view(torch.int16) if tensor.dtype == torch.uint16 else tensor

    @classmethod
    def empty(cls, shape: tuple[int, ...], dtype: np.dtype, device: torch.device) -> DeviceRows:
        """Uninitialised rows of numpy ``dtype`` on ``device``, to be filled with :meth:`write`."""
        import torch

        tdtype = torch.from_numpy(np.empty(0, dtype=dtype)).dtype
        return cls(torch.empty(tuple(shape), dtype=tdtype, device=device))

    @property
    def device(self) -> torch.device:
        return self._store.device

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._store.shape)

    def write(self, start: int, patterns: np.ndarray) -> None:
        """Copy ``patterns`` (host) into rows ``start …`` (one transfer)."""
        import torch

        src = torch.from_numpy(np.ascontiguousarray(patterns))
        if self.dtype == torch.uint16:
            src = src.view(torch.int16)
        self._store[start : start + len(src)].copy_(src)

    def __getitem__(self, positions: np.ndarray) -> torch.Tensor:
        import torch

        index = torch.from_numpy(np.ascontiguousarray(positions, dtype=np.int64)).to(self.device, non_blocking=True)
        out = self._store.index_select(0, index)
        return out.view(torch.uint16) if self.dtype == torch.uint16 else out

    def __len__(self) -> int:
        return self._store.shape[0]


def resident_limit(device: torch.device) -> int:
    """Bytes a resident split may take on ``device``.

    CUDA: :data:`RESIDENT_FRACTION` of the free memory reported by ``torch.cuda.mem_get_info``
    now; other devices: :data:`RESIDENT_LIMIT_BYTES`.
    """
    if device.type == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free * RESIDENT_FRACTION)
    return RESIDENT_LIMIT_BYTES


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
        Patterns as stored, or a tensor: resident patterns gathered on the device
        (:class:`DeviceRows`) or streamed ones (:mod:`ebsdlib.train.stream`).
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
        Return the batch in channels-last memory format (:func:`ebsdlib.train.device.channels_last`).
    shard
        ``(rank, world_size)`` when ``raw`` is this rank's part of a global batch of
        ``world_size × B`` patterns (distributed training): the flips are drawn for the whole
        global batch and this part is taken, so every pattern is flipped as it would be in
        one process with the global batch.
    """
    import torch

    from ebsdlib.train.device import to_device

    if isinstance(raw, torch.Tensor):  # resident or streamed patterns, already on the device
        raw = raw.to(device, non_blocking=True)
    else:
        raw = to_device(raw, device)
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
