"""The CUDA path of training (autocast, grad scaler, channels-last, pinned copies); skipped without a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ebsdlib.train.inference import load_model, predict_dataset
from ebsdlib.train.loop import train

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("loss,precision", [("ce", "bf16"), ("ce", "fp16"), ("supcon", "auto")])
def test_training_on_cuda_completes_and_its_checkpoint_runs_on_the_cpu(loss, precision, tiny_config, artifacts):
    from ebsdlib.data.format import EBSDDataset

    config = tiny_config(loss=loss, device="cuda", precision=precision, epochs=2)
    run = train(config, progress=False)
    assert run.read_status().state == "completed"
    preds = run.predictions()
    model, cfg, _ = load_model(run.best_checkpoint, "cpu")
    with EBSDDataset(cfg.data) as ds:
        proba, _ = predict_dataset(model, ds, ds.indices("test"), cfg.preprocess, "cpu", 16, "fp32")
    probs = preds[[c for c in preds.columns if c.startswith("prob_")]].to_numpy()
    np.testing.assert_allclose(proba, probs, atol=0.05)  # CUDA evaluated in reduced precision
