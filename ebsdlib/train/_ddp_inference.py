"""Inference with every rank: contiguous shards of the patterns, results gathered in order.

Rank ``r`` of ``W`` classifies the patterns ``[n·r/W, n·(r+1)/W)`` of the index list
(:func:`shard_range`) with :func:`ebsdlib.train.inference.predict_dataset`, reading only its
own range of the file; the outputs come back in rank order, which is the original order.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import Phase
from ebsdlib.train.config import TrainConfig

if TYPE_CHECKING:
    import torch

    from ebsdlib.distributed.context import Context
    from ebsdlib.train.models import EBSDNet


def shard_range(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(lo, hi)`` of rank ``rank``'s contiguous share of ``n`` items (sizes differ by at most one)."""
    if world_size < 1 or not 0 <= rank < world_size or n < 0:
        raise ValueError(
            f"need n >= 0 and 0 <= rank < world_size, got n={n!r}, rank={rank!r}, world_size={world_size!r}"
        )
    return n * rank // world_size, n * (rank + 1) // world_size


def predict_sharded(
    model: EBSDNet,
    dataset: EBSDDataset,
    indices: np.ndarray | None,
    preprocess: PreprocessConfig,
    ctx: Context,
    device: torch.device,
    batch_size: int,
    precision: Literal["auto", "fp32", "bf16", "fp16"],
    *,
    embeddings: bool = True,
    progress: bool = False,
    to: Literal["all", "main"] = "all",
    compile_mode: str = "none",
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """:func:`~ebsdlib.train.inference.predict_dataset` split over the ranks.

    Parameters
    ----------
    model, dataset, preprocess, batch_size, precision, embeddings, progress, compile_mode
        As for ``predict_dataset``.
    indices
        Pattern indices (``None``: all), the same on every rank; output row ``i`` belongs to
        ``indices[i]``.
    ctx
        The distributed context (in one process this is ``predict_dataset`` itself).
    device
        This rank's device.
    to
        ``"all"``: every rank gets the full outputs; ``"main"``: rank 0 does, the others get
        ``(None, None)``.

    Returns
    -------
    proba, embeddings
        ``(n, C)`` and ``(n, d)`` float32, as ``predict_dataset`` returns them.
    """
    from ebsdlib.train.inference import predict_dataset

    idx = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=np.int64)
    lo, hi = shard_range(len(idx), ctx.rank, ctx.world_size)
    part = predict_dataset(
        model,
        dataset,
        idx[lo:hi],
        preprocess,
        device=device,
        batch_size=batch_size,
        precision=precision,
        embeddings=embeddings,
        progress=progress,
        compile_mode=compile_mode,
    )
    if not ctx.enabled:
        return part
    parts = ctx.all_gather(part) if to == "all" else ctx.gather(part)
    if parts is None:
        return None, None
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


def shared_model(
    checkpoint: str | Path, ctx: Context, device: torch.device
) -> tuple[EBSDNet, TrainConfig, tuple[Phase, ...]]:
    """:func:`~ebsdlib.train.inference.load_model` on rank 0, its weights handed to every rank.

    Only rank 0 reads the checkpoint (the run folder may exist on its node only); a bad
    checkpoint raises the same error on every rank.
    """
    from ebsdlib.train.inference import load_model
    from ebsdlib.train.models import build_model

    def read() -> dict:
        model, config, phases = load_model(checkpoint, "cpu")
        return {"state": model.state_dict(), "config": config.to_dict(), "phases": [p.to_dict() for p in phases]}

    loaded = ctx.main_only(read)
    config = TrainConfig.from_dict(loaded["config"])
    phases = tuple(Phase.from_dict(d) for d in loaded["phases"])
    model = build_model(replace(config, pretrained=None), len(phases))
    model.load_state_dict(loaded["state"])
    model.eval()
    return model.to(device), config, phases
