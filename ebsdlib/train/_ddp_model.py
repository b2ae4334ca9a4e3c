"""The training forward pass and loss, wrapped for DistributedDataParallel when distributed.

DDP synchronises gradients only for what runs through the wrapped module's ``forward``, so
the trainer's forward pass (logits for cross-entropy, normalised projections for SupCon) is a
module of its own, :class:`TrainingForward`, used in one process too. This module imports
torch; import it only where a model is trained.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

if TYPE_CHECKING:
    from ebsdlib.distributed.context import Context
    from ebsdlib.train.models import EBSDNet


class TrainingForward(nn.Module):
    """What a training step computes: ``model(x)`` (cross-entropy) or ``model.project(model.embed(x))``."""

    def __init__(self, model: EBSDNet, loss: Literal["ce", "supcon", "contrastive"]):
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.loss == "ce":
            return self.model(x)
        return self.model.project(self.model.embed(x))


class GlobalBatchLoss(nn.Module):
    """A metric loss over the global batch: embeddings and labels gathered from every rank.

    pytorch-metric-learning's ``DistributedLossWrapper`` computes the loss over all ranks'
    embeddings (only this rank's carry gradients) and returns it times ``world_size``, so that
    DDP's average of the ranks' gradients is the gradient of the global-batch loss. This
    module keeps that gradient but returns the loss itself, for the logs.

    Parameters
    ----------
    loss
        A pytorch-metric-learning loss (here ``SupConLoss``).
    world_size
        Number of processes.
    """

    def __init__(self, loss: nn.Module, world_size: int):
        super().__init__()
        from pytorch_metric_learning.utils.distributed import DistributedLossWrapper

        self.wrapped = DistributedLossWrapper(loss)
        self.world_size = int(world_size)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor, indices_tuple=None) -> torch.Tensor:
        scaled = self.wrapped(embeddings, labels, indices_tuple)
        return scaled.detach() / self.world_size + (scaled - scaled.detach())


class MinedLoss(nn.Module):
    """A metric loss on the pairs a miner picks: ``loss(e, y, miner(e, y))`` — the seed's
    ``ContrastiveLoss`` with a ``BatchHardMiner``. Under torchrun both see the global batch
    (pytorch-metric-learning's distributed wrappers)."""

    def __init__(self, loss: nn.Module, miner: nn.Module, ctx: Context | None = None):
        super().__init__()
        if ctx is not None and ctx.enabled:
            from pytorch_metric_learning.utils.distributed import DistributedMinerWrapper

            self.loss, self.miner = GlobalBatchLoss(loss, ctx.world_size), DistributedMinerWrapper(miner)
        else:
            self.loss, self.miner = loss, miner

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.loss(embeddings, labels, self.miner(embeddings, labels))


def training_forward(
    model: EBSDNet, loss: Literal["ce", "supcon", "contrastive"], ctx: Context, device: torch.device
) -> nn.Module:
    """The module a training step calls: :class:`TrainingForward`, inside DDP when distributed.

    Under DDP on CUDA the model's BatchNorm layers become synchronised ones
    (:func:`sync_batchnorm`; in place: the parameters and buffers stay the same objects, so an
    optimiser made before or after is valid). A metric-learning run's classifier takes no part in
    training (the probe is fitted afterwards), so its parameters are frozen to keep DDP from
    waiting for their gradients.
    """
    forward = TrainingForward(model, loss)
    if not ctx.enabled:
        return forward
    from torch.nn.parallel import DistributedDataParallel

    if loss != "ce":
        model.classifier.requires_grad_(False)
    if device.type == "cuda":
        sync_batchnorm(model)
        return DistributedDataParallel(forward, device_ids=[device.index], output_device=device.index)
    return DistributedDataParallel(forward)


def sync_batchnorm(model: EBSDNet) -> EBSDNet:
    """Turn the model's BatchNorm layers into synchronised ones, in place; returns ``model``.

    timm's converter, not torch's: timm's EfficientNets use ``BatchNormAct2d`` (batch norm
    followed by its activation), which torch's converter would turn into a plain
    ``SyncBatchNorm`` without the activation. The weights and running statistics stay the
    same tensors, and the state dict keeps its keys, so the checkpoint loads into the
    ordinary model.
    """
    from timm.layers import convert_sync_batchnorm

    for name, child in list(model.named_children()):
        setattr(model, name, convert_sync_batchnorm(child))
    return model


def metric_loss(loss: nn.Module, ctx: Context) -> nn.Module:
    """``loss`` as it is in one process, :class:`GlobalBatchLoss` around it when distributed."""
    return GlobalBatchLoss(loss, ctx.world_size) if ctx.enabled else loss
