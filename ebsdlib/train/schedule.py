"""Learning-rate schedules with linear warmup, stepped once per batch."""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

Schedule = Literal["cosine", "constant", "step"]


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: Schedule) -> float:
    """Multiplier of the base learning rate at optimiser step ``step`` (0-based).

    Warmup rises linearly from ``1/(warmup_steps+1)`` to 1 over ``warmup_steps`` steps. After
    it: ``"constant"`` stays at 1; ``"cosine"`` falls as a half cosine to 0 at ``total_steps``;
    ``"step"`` multiplies by 0.1 at 50 % and again at 75 % of the post-warmup steps.
    """
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    span = max(1, total_steps - warmup_steps)
    t = min(1.0, (step - warmup_steps) / span)
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    if schedule == "step":
        return 0.1 ** ((t >= 0.5) + (t >= 0.75))
    raise ValueError(f"unknown schedule {schedule!r}; use 'cosine', 'constant' or 'step'")


def build_scheduler(
    optimizer: torch.optim.Optimizer, schedule: Schedule, epochs: int, warmup_epochs: int, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` over ``epochs × steps_per_epoch`` steps; its state dict holds plain numbers."""
    from torch.optim.lr_scheduler import LambdaLR

    total = epochs * steps_per_epoch
    warmup = min(warmup_epochs * steps_per_epoch, max(0, total - 1))
    return LambdaLR(optimizer, partial(lr_factor, total_steps=total, warmup_steps=warmup, schedule=schedule))
