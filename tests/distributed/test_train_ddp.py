"""torchrun with two CPU processes (Gloo): DDP training equals one process; SupCon, cancel, resume, failure.

The comparison run uses timm's ``test_efficientnet_gn`` (GroupNorm): on the CPU PyTorch has
no SyncBatchNorm, so with BatchNorm each process would normalise over its own half batch.
With GroupNorm, 2 processes × batch 4 and 1 process × batch 8 see the same global batches
and flips and average the same gradients, so they agree to float rounding. Stated tolerance:
1e-5 on losses and probabilities; accuracies and confusion matrices exactly equal. The pair is
compared uncalibrated: a temperature fitted on this tiny validation split is ill-conditioned
(T ≈ 0.08, so 1e-7 differences in the losses move it by 1e-4 relative); the other runs here
calibrate, so the calibration path runs under torchrun too.
"""

from __future__ import annotations

import numpy as np
import pytest

from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.io import write_json
from ebsdlib.paths import runs_root
from ebsdlib.runs import RunDir
from ebsdlib.train.config import TrainConfig

TOL = 1e-5


def tiny_config(data, **overrides) -> TrainConfig:
    base = dict(
        data=str(data),
        model="test_efficientnet",
        epochs=2,
        batch_size=4,
        lr=3e-3,
        warmup_epochs=1,
        probe_epochs=5,
        knn_k=3,
        device="cpu",
        umap=False,
        eval_batch_size=16,
        preprocess=PreprocessConfig(size=24),
    )
    return TrainConfig(**{**base, **overrides})


def assert_only_rank0_touched_artifacts(launch) -> None:
    assert set(launch.audit) == {1}, launch.output[-2000:]
    assert launch.audit[1]["outside"] > 0  # the audit hook did see rank 1's file activity
    assert launch.audit[1]["inside"] == []  # and none of it in the artifacts folder


@pytest.fixture(scope="module")
def ddp_and_single(tiny_data, torchrun, train_flags, tmp_path_factory):
    """The same uncalibrated cross-entropy run on 2 processes × batch 4 (torchrun) and 1 process × batch 8."""
    from ebsdlib.train.loop import train

    root = tmp_path_factory.mktemp("artifacts")
    launch = torchrun(
        [
            "cli",
            "train",
            *train_flags(tiny_data, model="test_efficientnet_gn", batch_size=4),
            "--validation",
            "--no-calibrate",
            "--run-id",
            "ddp",
        ],
        root,
    )
    assert launch.returncode == 0, launch.output[-3000:]
    single = train(
        tiny_config(tiny_data, model="test_efficientnet_gn", batch_size=8, validation=True, calibrate=False),
        "single",
        progress=False,
        root=root,
    )
    return RunDir(runs_root(root) / "ddp"), single, launch, root


def test_two_processes_train_like_one_process_with_the_global_batch(ddp_and_single):
    ddp, single, launch, _ = ddp_and_single
    assert ddp.read_status().state == "completed"
    a, b = ddp.history(), single.history()
    assert len(a) == len(b) == 2
    for col in ("train_loss", "val_loss", "lr"):
        np.testing.assert_allclose(a[col], b[col], atol=TOL, rtol=0)
    assert list(a["val_accuracy"]) == list(b["val_accuracy"])
    ma, mb = ddp.metrics(), single.metrics()
    assert ma["accuracy"] == mb["accuracy"] and ma["confusion_matrix"] == mb["confusion_matrix"]
    probs = [c for c in ddp.predictions().columns if c.startswith("prob_")]
    np.testing.assert_allclose(ddp.predictions()[probs], single.predictions()[probs], atol=TOL, rtol=0)
    assert ma["distributed"] == {
        "world_size": 2,
        "backend": "gloo",
        "batch_size_per_process": 4,
        "effective_batch_size": 8,
        "lr": 3e-3,
        "lr_rule": "as given (not scaled with world_size)",
    }
    assert "distributed" not in mb
    assert_only_rank0_touched_artifacts(launch)


def test_distributed_prediction_writes_the_single_process_phase_map(ddp_and_single, tiny_scan, torchrun):
    from ebsdlib.phasemap import load_phasemap
    from ebsdlib.predict import predict_scan

    ddp_run, _, _, root = ddp_and_single
    launch = torchrun(
        [
            "cli",
            "predict",
            "--run-id",
            "ddp",
            "--data",
            str(tiny_scan),
            "--name",
            "sharded",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "--quiet",
        ],
        root,
    )
    assert launch.returncode == 0, launch.output[-3000:]
    assert launch.output.count("phase map of 7×5 points written") == 1  # rank 0 reports, once
    predict_scan(ddp_run, tiny_scan, batch_size=8, device="cpu", progress=False, scan_name="one")
    a, b = load_phasemap(ddp_run, "sharded"), load_phasemap(ddp_run, "one")
    assert np.array_equal(a.index, b.index) and np.array_equal(a.pred, b.pred)
    assert np.array_equal(a.true, b.true)
    np.testing.assert_allclose(a.confidence, b.confidence, atol=TOL, rtol=0)
    # probabilities are stored as float16: equal up to one float16 step at most
    np.testing.assert_allclose(a.proba.astype(np.float32), b.proba.astype(np.float32), atol=2**-11, rtol=0)
    fa, fb = (ddp_run.phasemap_dir(n) / "fractions.json" for n in ("sharded", "one"))
    assert fa.read_text() == fb.read_text()
    assert sorted(p.name for p in ddp_run.phasemap_dir("sharded").iterdir()) == sorted(
        p.name for p in ddp_run.phasemap_dir("one").iterdir()
    )
    assert_only_rank0_touched_artifacts(launch)


def test_supcon_run_is_cancelled_on_all_ranks_and_resumes_under_torchrun(tiny_data, torchrun, tmp_path):
    from ebsdlib.train.loop import resume

    root = tmp_path / "artifacts"
    config = tmp_path / "supcon.json"
    write_json(config, tiny_config(tiny_data, loss="supcon", epochs=3).to_dict())
    launch = torchrun(["cancel-after-epoch-1", str(config), "sup"], root)
    assert launch.returncode == 0, launch.output[-3000:]
    run = RunDir(runs_root(root) / "sup")
    status = run.read_status()
    assert status.state == "cancelled" and status.epoch == 1, status
    assert len(run.history()) == 1 and not run.metrics_path.exists()
    assert_only_rank0_touched_artifacts(launch)

    with pytest.raises(ValueError, match=r"trained on 2 process\(es\) and is resumed on 1"):
        resume(run, progress=False)
    launch = torchrun(["cli", "resume", "sup", "--quiet"], root)
    assert launch.returncode == 0, launch.output[-3000:]
    assert run.read_status().state == "completed"
    history = run.history()
    assert list(history["epoch"]) == [1, 2, 3] and np.isfinite(history["train_loss"]).all()
    metrics = run.metrics()
    assert metrics["distributed"]["effective_batch_size"] == 8
    assert "probe_accuracy" in metrics and "knn_accuracy" in metrics
    assert_only_rank0_touched_artifacts(launch)


def test_an_error_on_rank_1_fails_the_run_with_its_message_without_waiting(tiny_data, torchrun, train_flags, tmp_path):
    root = tmp_path / "artifacts"
    # collectives would wait 600 s, the launch fails after 120 s: a rank that waited in one fails the test
    launch = torchrun(
        ["fail-rank1", "train", *train_flags(tiny_data), "--run-id", "broken"],
        root,
        timeout=120,
        collective_timeout=600,
    )
    assert launch.returncode != 0
    status = RunDir(runs_root(root) / "broken").read_status()
    assert status.state == "failed"
    assert status.error == "rank 1: OSError: injected read error on rank 1"


def test_gathered_supcon_loss_and_gradients_equal_the_global_batch_ones(torchrun, tmp_path):
    import torch
    from pytorch_metric_learning.losses import SupConLoss

    out = tmp_path / "loss.npz"
    launch = torchrun(["supcon-loss", str(out)], tmp_path / "artifacts")
    assert launch.returncode == 0, launch.output[-3000:]
    g = torch.Generator().manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(8, 5, generator=g), dim=1).requires_grad_(True)
    loss = SupConLoss(temperature=0.1)(emb, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]))
    loss.backward()
    with np.load(out) as z:
        assert float(z["loss"]) == pytest.approx(loss.item(), abs=1e-6)
        np.testing.assert_allclose(z["grad"], emb.grad.numpy(), atol=1e-6)
