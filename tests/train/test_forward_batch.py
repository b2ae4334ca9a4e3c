"""On the CPU the model sees slices of at most CPU_FORWARD_BATCH patterns; the predictions do not change."""

import numpy as np
import torch

from ebsdlib.data.format import EBSDDataset
from ebsdlib.train.inference import CPU_FORWARD_BATCH, forward_batch_size, predict_dataset
from ebsdlib.train.models import build_model


def test_forward_batch_size_by_device():
    assert forward_batch_size(512, torch.device("cpu")) == CPU_FORWARD_BATCH
    assert forward_batch_size(8, torch.device("cpu")) == 8
    assert forward_batch_size(512, torch.device("cuda")) == 512


def test_predictions_do_not_depend_on_the_slicing(tiny_config, monkeypatch):
    cfg = tiny_config()
    torch.manual_seed(0)
    model = build_model(cfg, 3)
    with EBSDDataset(cfg.data) as ds:
        whole, emb_whole = predict_dataset(model, ds, None, cfg.preprocess, "cpu", batch_size=48)
        monkeypatch.setattr("ebsdlib.train.inference.CPU_FORWARD_BATCH", 5)  # 48 = 9 slices of 5 + 3
        sliced, emb_sliced = predict_dataset(model, ds, np.arange(48)[::-1], cfg.preprocess, "cpu", batch_size=48)
    np.testing.assert_allclose(sliced[::-1], whole, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(emb_sliced[::-1], emb_whole, rtol=1e-4, atol=1e-5)
