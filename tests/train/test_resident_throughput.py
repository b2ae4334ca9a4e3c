"""Throughput settings, decided and measured on the CPU: the steady-state training rate that
``metrics.json`` records (warm-up excluded, with a fake clock), and bf16 autocast by default on CUDA."""

from __future__ import annotations

import types

import pytest
import torch

from ebsdlib.train import trainer as trainer_module
from ebsdlib.train.data import PatternFeeder
from ebsdlib.train.device import resolve_precision
from ebsdlib.train.loop import train
from ebsdlib.train.trainer import WARMUP_STEPS

#: Fake seconds one training batch takes to arrive: long for the warm-up batches, then one second.
WARMUP_BATCH_SECONDS, STEADY_BATCH_SECONDS = 100.0, 1.0


@pytest.fixture
def fake_clock(monkeypatch):
    """The trainer's clock advances only when the feeder hands out a batch: warm-up batches take
    100 fake seconds, later ones 1, so the steady-state rate is batch size ÷ 1 s exactly."""
    now = [0.0]
    handed = [0]
    original = PatternFeeder.batches

    def slow_batches(self, *args, **kwargs):
        for item in original(self, *args, **kwargs):
            handed[0] += 1
            now[0] += WARMUP_BATCH_SECONDS if handed[0] <= WARMUP_STEPS else STEADY_BATCH_SECONDS
            yield item

    monkeypatch.setattr(PatternFeeder, "batches", slow_batches)
    monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    return handed


def test_recorded_training_rate_is_the_steady_state_without_the_warmup(tiny_config, artifacts, fake_clock):
    # the train split's 24 patterns in batches of 4: 6 steps per epoch, 12 in the run
    run = train(tiny_config(validation=True, epochs=2, batch_size=4), progress=False)
    metrics = run.metrics()
    steps = fake_clock[0]
    assert steps == 12 > WARMUP_STEPS
    assert metrics["warmup_batches_excluded"] == WARMUP_STEPS
    assert metrics["train_patterns_timed"] == (steps - WARMUP_STEPS) * 4
    assert metrics["train_patterns_per_second"] == pytest.approx(4 / STEADY_BATCH_SECONDS)
    assert metrics["throughput_note"].startswith(f"steady state: the first {WARMUP_STEPS} training steps")
    assert metrics["feeder"] == "ram"


def test_a_session_no_longer_than_the_warmup_times_every_step_and_says_so(tiny_config, artifacts, fake_clock):
    run = train(tiny_config(validation=True, epochs=1, batch_size=8), progress=False)  # 24 // 8 = 3 steps
    metrics = run.metrics()
    assert fake_clock[0] == 3 <= WARMUP_STEPS
    assert metrics["warmup_batches_excluded"] == 0
    assert metrics["train_patterns_timed"] == 24
    assert metrics["train_patterns_per_second"] == pytest.approx(24 / (3 * WARMUP_BATCH_SECONDS))
    assert "warm-up not excluded" in metrics["throughput_note"]


@pytest.mark.parametrize(
    "asked,bf16_supported,expected",
    [("auto", True, "bf16"), ("auto", False, "fp16"), ("fp32", True, "fp32"), ("fp16", True, "fp16")],
)
def test_cuda_trains_and_infers_in_bf16_by_default(asked, bf16_supported, expected, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_supported)
    assert resolve_precision(asked, torch.device("cuda")) == expected


def test_the_cpu_defaults_to_fp32_and_refuses_fp16():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32"
    assert resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(ValueError, match="precision 'fp16' needs a CUDA device"):
        resolve_precision("fp16", cpu)
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        resolve_precision("half", cpu)
