"""Running out of device memory: halve the batch and carry on, or fail with a message that says so.

A forward pass that raises :class:`torch.OutOfMemoryError` (CUDA, MPS), or on the CPU a
``RuntimeError`` saying that memory could not be allocated, is retried with half as many
patterns, down to a floor; below it the run fails with a :class:`DeviceOutOfMemoryError`
that names the batch size, the device and what to do.

- Inference (:func:`ebsdlib.train.inference.predict_dataset`) halves its forward slice and
  classifies the same patterns again: the predictions do not change.
- Training (:class:`ebsdlib.train.trainer.Trainer`) keeps its batches, its optimiser steps and
  its schedule, and runs each batch as micro-batches whose gradients are accumulated
  (:meth:`Backoff.accumulate`, each part weighted by its share of the batch). A
  cross-entropy step is then the same mean over the batch; batch-norm statistics and the
  SupCon loss (negatives come from the micro-batch) are computed per micro-batch.

The smaller size is kept for the rest of the run. Without an out-of-memory error nothing
changes: the whole batch goes through in one pass, exactly as before.
"""

from __future__ import annotations

import gc
import re
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

#: What an allocator says when memory runs out (CUDA, MPS, the CPU's DefaultCPUAllocator).
_OOM_TEXT = re.compile(r"out of memory|can't allocate memory|cannot allocate memory|not enough memory", re.IGNORECASE)


class DeviceOutOfMemoryError(RuntimeError):
    """Out of memory even at the smallest batch size allowed."""


class OutOfMemoryWarning(RuntimeWarning):
    """The batch was halved after running out of memory."""


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is the device running out of memory."""
    import torch

    if isinstance(error, DeviceOutOfMemoryError):
        return False  # already the final word
    return isinstance(error, torch.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and bool(_OOM_TEXT.search(str(error)))
    )


def release_memory(device: torch.device) -> None:
    """Free what a failed pass left behind: collect garbage and empty the CUDA cache."""
    import torch

    gc.collect()
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()


class Backoff:
    """A batch size that halves when a pass runs out of memory.

    Parameters
    ----------
    size
        Patterns per pass to start with.
    device
        Where the passes run (for the cache and the messages).
    floor
        Smallest size to try; running out of memory at a size whose half is below it fails.
    what
        The kind of pass, for messages (``"training step"``, ``"inference forward pass"``).
    advice
        The option that sets the size, for the message (``"--batch-size"``).
    enabled
        ``False``: do not retry, fail with the message at once (distributed training, where
        one rank cannot retry alone).
    """

    def __init__(
        self,
        size: int,
        device: torch.device,
        floor: int = 1,
        what: str = "forward pass",
        advice: str = "--batch-size",
        enabled: bool = True,
    ):
        self.size = int(size)
        self.initial = int(size)
        self.device = device
        self.floor = int(floor)
        self.what = what
        self.advice = advice
        self.enabled = enabled
        #: ``(failed size, new size)`` for each halving, in order.
        self.halvings: list[tuple[int, int]] = []

    def call(self, fn: Callable[..., Any], *args: Any, attempted: int | None = None) -> Any:
        """``fn(*args)``; ``None`` when it ran out of memory and the size was halved (retry then).

        ``attempted`` is the number of patterns the call processes (default :attr:`size`).
        Raises :class:`DeviceOutOfMemoryError` when the half would be below the floor.
        """
        try:
            return fn(*args)
        except RuntimeError as e:
            if not is_out_of_memory(e):
                raise
            error = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        # outside the except block: the failed pass's frames (and their tensors) are released
        self.halve(self.size if attempted is None else attempted, error)
        return None

    def halve(self, failed: int, error: str) -> int:
        """Record running out of memory at ``failed`` patterns; return the new, halved size."""
        release_memory(self.device)
        new = failed // 2
        if not self.enabled or new < self.floor:
            raise DeviceOutOfMemoryError(self.message(failed, error))
        self.halvings.append((failed, new))
        self.size = new
        warnings.warn(
            f"out of memory on {self.device} at {failed} patterns per {self.what}; continuing with {new}",
            OutOfMemoryWarning,
            stacklevel=3,
        )
        return new

    def message(self, failed: int, error: str) -> str:
        """What went wrong and what to do, for the final error."""
        if self.enabled and self.halvings:
            how = f", after halving it from {self.initial}"
        elif self.enabled:
            how = ""
        else:
            how = " (distributed training does not retry with smaller batches)"
        free = (
            "free the GPU (nvidia-smi lists the processes holding its memory)"
            if self.device.type == "cuda"
            else "free memory (close other programs)"
        )
        return (
            f"ran out of memory at batch size {failed} on device {self.device} ({self.what}{how}); "
            f"lower {self.advice}, use --precision bf16, or {free}. The device said: {error}"
        )

    def accumulate(
        self, n: int, backward: Callable[[slice | None, float | None], torch.Tensor], reset: Callable[[], None]
    ) -> torch.Tensor:
        """One training batch of ``n`` patterns, as micro-batches of at most :attr:`size`.

        ``backward(part, weight)`` runs the forward and backward pass of ``x[part]`` with its
        loss multiplied by ``weight`` (the part's share of the batch) and returns that loss,
        detached; ``part`` and ``weight`` are ``None`` for the whole batch in one pass, which
        is what happens until memory runs out. ``reset()`` zeroes the gradients before a
        retry. Returns the batch's loss.
        """
        while True:
            size = self.size
            if size >= n:
                loss = self.call(backward, None, None, attempted=n)
            else:
                loss = self.call(self._parts, n, size, backward, attempted=size)
            if loss is not None:
                return loss
            reset()

    def _parts(self, n: int, size: int, backward: Callable) -> torch.Tensor:
        import numpy as np

        k = -(-n // size)
        while k > 1 and n // k < self.floor:  # no part below the floor (batch norm needs 2)
            k -= 1
        total = None
        start = 0
        for m in np.array_split(np.arange(n), k):
            part = slice(start, start + len(m))
            start += len(m)
            loss = backward(part, len(m) / n)
            total = loss if total is None else total + loss
        return total
