"""torchrun on CUDA: NCCL for the gradients, SyncBatchNorm, one GPU per process; skipped without CUDA.

Runs on as many processes as there are GPUs, at most 2 (NCCL allows one process per GPU).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ebsdlib.paths import runs_root
from ebsdlib.runs import RunDir

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("loss", ["ce", "supcon"])
def test_training_on_gpus_with_nccl_completes_and_its_checkpoint_runs_on_the_cpu(
    loss, tiny_data, torchrun, train_flags, tmp_path
):
    from ebsdlib.data.format import EBSDDataset
    from ebsdlib.train.inference import load_model, predict_dataset

    nproc = min(2, torch.cuda.device_count())
    root = tmp_path / "artifacts"
    launch = torchrun(
        ["cli", "train", *train_flags(tiny_data, loss=loss, device="cuda", batch_size=4), "--run-id", "gpu"],
        root,
        nproc=nproc,
    )
    assert launch.returncode == 0, launch.output[-3000:]
    run = RunDir(runs_root(root) / "gpu")
    assert run.read_status().state == "completed"
    dist = run.metrics()["distributed"]
    assert dist["backend"] == "cpu:gloo,cuda:nccl" and dist["world_size"] == nproc
    assert dist["effective_batch_size"] == 4 * nproc
    assert run.metrics()["device"] == "cuda:0"
    # the synchronised-BN weights load into the plain model, which predicts what rank 0 evaluated
    model, cfg, _ = load_model(run.best_checkpoint, "cpu")
    with EBSDDataset(cfg.data) as ds:
        proba, _ = predict_dataset(model, ds, ds.indices("test"), cfg.preprocess, "cpu", 16, "fp32")
    preds = run.predictions()
    probs = preds[[c for c in preds.columns if c.startswith("prob_")]].to_numpy()
    np.testing.assert_allclose(proba, probs, atol=0.05)  # rank 0 evaluated in bf16
    if nproc > 1:
        assert launch.audit[1]["inside"] == []
