"""Out of device memory: training and inference halve the batch and carry on, or fail saying so.

The device's refusal is injected: the encoder pass raises ``torch.OutOfMemoryError`` (what
CUDA raises) for batches larger than a limit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ebsdlib.data.format import EBSDDataset
from ebsdlib.runs import RunDir
from ebsdlib.train.inference import predict_dataset
from ebsdlib.train.loop import resume, train
from ebsdlib.train.memory import Backoff, DeviceOutOfMemoryError, OutOfMemoryWarning, is_out_of_memory
from ebsdlib.train.models import EBSDNet, build_model


@pytest.fixture
def memory_limit(monkeypatch):
    """``limit(n)``: from now on the encoder refuses batches of more than ``n`` patterns.

    Returns the list of batch sizes it refused.
    """
    refused: list[int] = []
    embed = EBSDNet.embed

    def limit(n: int) -> list[int]:
        def tight(self, x):
            if x.shape[0] > n:
                refused.append(int(x.shape[0]))
                raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {x.shape[0]} patterns")
            return embed(self, x)

        monkeypatch.setattr(EBSDNet, "embed", tight)
        return refused

    return limit


def test_what_counts_as_out_of_memory():
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: "
            "can't allocate memory: you tried to allocate 8589934592 bytes"
        )
    )
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_out_of_memory(ValueError("out of memory"))  # not from the device
    assert not is_out_of_memory(DeviceOutOfMemoryError("ran out of memory at batch size 2"))


@pytest.mark.parametrize("loss", ["ce", "supcon"])
def test_training_halves_the_batch_and_finishes(loss, tiny_config, artifacts, memory_limit):
    config = tiny_config(loss=loss, epochs=2, batch_size=8)
    reference = train(config, "reference", progress=False)
    refused = memory_limit(3)  # 8 → 4 → 2 patterns per pass
    messages, refused_in_training = [], []

    def record(epoch: int, row: dict) -> None:
        messages.append(RunDir(artifacts / "runs" / "tight").read_status().message)
        refused_in_training[:] = refused

    with pytest.warns(
        OutOfMemoryWarning, match="out of memory on cpu at 8 patterns per training step; continuing with 4"
    ):
        run = train(config, "tight", progress=False, on_epoch_end=record)
    assert refused_in_training == [8, 4]  # once each, then the smaller size is kept
    assert run.read_status().state == "completed"
    assert run.history()["micro_batch_size"].tolist() == [2, 2]
    assert reference.history()["micro_batch_size"].tolist() == [8, 8]
    assert messages[0] == (
        "epoch 1/2 done; out of memory at batch size 4 on cpu: batches of 8 run as "
        "micro-batches of 2 (gradients accumulated)"
    )
    extra = run.metrics()
    assert extra["micro_batch_size"] == 2 and extra["out_of_memory_halvings"] == [[8, 4], [4, 2]]
    assert reference.metrics()["micro_batch_size"] == 8 and reference.metrics()["out_of_memory_halvings"] == []
    # the same optimiser steps on the same schedule; the losses are those of micro-batches
    np.testing.assert_array_equal(run.history()["lr"], reference.history()["lr"])
    assert np.isfinite(run.history()["train_loss"]).all()
    assert len(run.predictions()) == len(reference.predictions())


def test_cross_entropy_micro_batches_accumulate_the_same_gradient(tiny_config):
    """Without batch norm in the way (eval mode), micro-batches give the whole batch's gradient."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    model = build_model(tiny_config(), 3).eval()
    x, y = torch.randn(8, 1, 24, 24), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])

    def grads(size: int) -> tuple[float, list[torch.Tensor]]:
        model.zero_grad(set_to_none=True)
        backoff = Backoff(8, torch.device("cpu"), floor=2)
        backoff.size = size

        def backward(part, weight):
            xs, ys = (x, y) if part is None else (x[part], y[part])
            loss = F.cross_entropy(model(xs), ys) * (1.0 if weight is None else weight)
            loss.backward()
            return loss.detach()

        loss = backoff.accumulate(8, backward, lambda: model.zero_grad(set_to_none=True))
        return float(loss), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    whole_loss, whole = grads(8)
    for size in (4, 3, 2):  # 3: parts of 3, 3 and 2
        loss, parts = grads(size)
        assert loss == pytest.approx(whole_loss, rel=1e-5)
        for a, b in zip(parts, whole, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_training_below_the_floor_fails_with_the_message(tiny_config, artifacts, memory_limit):
    memory_limit(1)  # even 2 patterns are too many
    with (
        pytest.warns(OutOfMemoryWarning),
        pytest.raises(
            DeviceOutOfMemoryError,
            match=r"ran out of memory at batch size 2 on device cpu \(training step, after halving it from 8\); "
            r"lower --batch-size, use --precision bf16, or free memory",
        ),
    ):
        train(tiny_config(batch_size=8), "hopeless", progress=False)
    status = RunDir(artifacts / "runs" / "hopeless").read_status()
    assert status.state == "failed"
    assert status.error.startswith("DeviceOutOfMemoryError: ran out of memory at batch size 2 on device cpu")
    assert "CUDA out of memory. Tried to allocate 2 patterns" in status.error  # what the device said


def test_a_resumed_run_keeps_the_halved_size(tiny_config, artifacts, memory_limit):
    config = tiny_config(epochs=2, batch_size=8)
    refused = memory_limit(4)

    def power_cut(epoch: int, row: dict) -> None:
        raise KeyboardInterrupt

    with pytest.warns(OutOfMemoryWarning), pytest.raises(KeyboardInterrupt):
        train(config, "cut", progress=False, on_epoch_end=power_cut)
    assert refused == [8]
    after_resume = []
    resume("cut", progress=False, on_epoch_end=lambda epoch, row: after_resume.extend(refused))
    assert after_resume == [8]  # its training steps did not try 8 again
    assert RunDir(artifacts / "runs" / "cut").history()["micro_batch_size"].tolist() == [4, 4]


@pytest.mark.parametrize("limit", [7, 1])
def test_inference_halves_the_forward_pass_and_predicts_the_same(limit, tiny_config, memory_limit):
    cfg = tiny_config()
    torch.manual_seed(0)
    model = build_model(cfg, 3)
    with EBSDDataset(cfg.data) as ds:
        idx = np.arange(len(ds))[::-1]
        proba, emb = predict_dataset(model, ds, idx, cfg.preprocess, "cpu", batch_size=16)
        refused = memory_limit(limit)
        with pytest.warns(OutOfMemoryWarning, match="per inference forward pass"):
            tight, tight_emb = predict_dataset(model, ds, idx, cfg.preprocess, "cpu", batch_size=16)
    assert refused[:1] == [16] and max(refused) == 16
    np.testing.assert_allclose(tight, proba, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tight_emb, emb, rtol=1e-4, atol=1e-5)
    assert (tight.argmax(1) == proba.argmax(1)).all()


def test_inference_below_one_pattern_fails_with_the_message(tiny_config, memory_limit):
    cfg = tiny_config()
    model = build_model(cfg, 3)
    memory_limit(0)
    with (
        EBSDDataset(cfg.data) as ds,
        pytest.warns(OutOfMemoryWarning),
        pytest.raises(
            DeviceOutOfMemoryError,
            match=r"ran out of memory at batch size 1 on device cpu \(inference forward pass, after halving it "
            r"from 16\); lower --eval-batch-size \(predict: --batch-size\), use --precision bf16",
        ),
    ):
        predict_dataset(model, ds, None, cfg.preprocess, "cpu", batch_size=16)


def test_other_errors_are_not_retried(tiny_config, monkeypatch):
    cfg = tiny_config()
    model = build_model(cfg, 3)
    calls = []

    def broken(self, x):
        calls.append(len(x))
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(EBSDNet, "embed", broken)
    with EBSDDataset(cfg.data) as ds, pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        predict_dataset(model, ds, None, cfg.preprocess, "cpu", batch_size=16)
    assert calls == [16]


def test_distributed_training_does_not_retry_alone():
    backoff = Backoff(64, torch.device("cpu"), floor=2, what="training step", enabled=False)

    def step():
        raise torch.OutOfMemoryError("CUDA out of memory.")

    with pytest.raises(
        DeviceOutOfMemoryError,
        match=r"at batch size 64 on device cpu \(training step "
        r"\(distributed training does not retry",
    ):
        backoff.call(step)
