"""The model as DDP trains it on CUDA: synchronised batch norm must not change what the model computes."""

from __future__ import annotations

import pytest
import torch

from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.train._ddp_model import TrainingForward, sync_batchnorm
from ebsdlib.train.config import TrainConfig
from ebsdlib.train.models import build_model


@pytest.mark.parametrize("loss", ["ce", "supcon"])
def test_sync_batchnorm_keeps_activations_weights_and_state_dict_keys(loss):
    config = TrainConfig(model="test_efficientnet", loss=loss, device="cpu", preprocess=PreprocessConfig(size=24))
    torch.manual_seed(0)
    model = build_model(config, 3).eval()
    x = torch.randn(5, 1, 24, 24)
    with torch.no_grad():
        before = TrainingForward(model, loss)(x)
        keys = list(model.state_dict())
        synced = sync_batchnorm(model).eval()
        after = TrainingForward(synced, loss)(x)
    assert synced is model
    n_sync = sum(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    n_bn = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert n_sync == n_bn > 0  # every batch norm, the projection head's too, is synchronised
    assert list(model.state_dict()) == keys
    torch.testing.assert_close(after, before, rtol=0, atol=0)  # activations kept (timm's BatchNormAct2d)
