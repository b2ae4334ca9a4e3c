"""Inference pipeline: the steady-state clock, pinned staging on CUDA only, and compiled forward passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ebsdlib.data.format import EBSDDataset
from ebsdlib.train.device import COMPILE_MODES, check_compile_mode, pinned_batches
from ebsdlib.train.inference import InferenceClock, predict_dataset
from ebsdlib.train.models import build_model


def test_the_clock_excludes_the_first_batch(tiny_config, monkeypatch):
    cfg = tiny_config()
    model = build_model(cfg, 3)
    ticks = iter([0.0, 10.0, 11.0, 12.0])  # start, then the end of each of three batches
    monkeypatch.setattr("ebsdlib.train.inference.time.perf_counter", lambda: next(ticks))
    clock = InferenceClock()
    with EBSDDataset(cfg.data) as ds:
        predict_dataset(model, ds, None, cfg.preprocess, "cpu", batch_size=16, clock=clock)  # 48 = 3 batches
    m = clock.metrics()
    assert m["inference_patterns_per_second"] == pytest.approx(32 / 2.0)  # batches 2 and 3 only
    assert m["inference_seconds"] == pytest.approx(12.0)
    assert m["inference_throughput"].startswith("steady state: the first batch (16 patterns, warm-up) is excluded")


def test_one_batch_says_the_warm_up_is_timed(tiny_config):
    cfg = tiny_config()
    clock = InferenceClock()
    with EBSDDataset(cfg.data) as ds:
        predict_dataset(build_model(cfg, 3), ds, None, cfg.preprocess, "cpu", batch_size=64, clock=clock)
    m = clock.metrics()
    assert m["inference_throughput"] == "warm-up not excluded: one batch of 48 patterns, all of it timed"
    assert m["inference_patterns_per_second"] == pytest.approx(48 / m["inference_seconds"])


def test_pinned_staging_leaves_cpu_batches_alone():
    items = [(np.arange(2), np.ones((2, 3, 3), np.uint8))]
    (out,) = pinned_batches(iter(items), torch.device("cpu"))
    assert out[1] is items[0][1]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_pinned_staging_pins_cuda_batches():
    raw = np.arange(2 * 9, dtype=np.uint16).reshape(2, 3, 3)[:, ::-1]  # not contiguous
    ((_, pinned),) = pinned_batches(iter([(np.arange(2), raw)]), torch.device("cuda"))
    assert pinned.is_pinned() and pinned.dtype == torch.uint16
    np.testing.assert_array_equal(pinned.numpy(), raw)


def test_a_compiled_forward_pass_predicts_the_same(tiny_config, monkeypatch):
    """torch.compile with one fixed shape: the last, shorter slice (48 = 2 × 20 + 8) is padded and
    its padding dropped, so every pattern gets the eager prediction from one compiled graph.
    Dynamo traces it here with the ``aot_eager`` backend (inductor's C++ build would take a minute
    on two cores; the device script compiles for real on a GPU)."""
    from torch._dynamo.utils import counters

    calls = []
    real_compile = torch.compile

    def compile_for_test(fn, mode=None, dynamic=None):
        calls.append((mode, dynamic))
        return real_compile(fn, backend="aot_eager", dynamic=dynamic)

    monkeypatch.setattr(torch, "compile", compile_for_test)
    cfg = tiny_config()
    torch.manual_seed(0)
    model = build_model(cfg, 3)
    torch._dynamo.reset()
    counters.clear()
    with EBSDDataset(cfg.data) as ds:
        eager, emb_eager = predict_dataset(model, ds, None, cfg.preprocess, "cpu", batch_size=20)
        fast, emb_fast = predict_dataset(
            model, ds, None, cfg.preprocess, "cpu", batch_size=20, compile_mode="reduce-overhead"
        )
    assert calls == [("reduce-overhead", False)]
    assert counters["stats"]["unique_graphs"] == 1  # the padded last slice reused the graph
    np.testing.assert_allclose(fast, eager, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(emb_fast, emb_eager, rtol=1e-3, atol=1e-4)


def test_an_unknown_compile_mode_is_refused(tiny_config):
    with pytest.raises(ValueError, match=r"compile mode 'fast' is not allowed; use one of none, default, reduce-ov"):
        check_compile_mode("fast")
    assert COMPILE_MODES[0] == "none"


def test_the_cpu_runs_the_model_channels_last_and_predicts_what_the_default_layout_does(tiny_config):
    """Channels-last is faster on the CPU too (``device.channels_last``); the layout must not change a
    prediction beyond float rounding."""
    from ebsdlib.train.device import channels_last, memory_format

    cpu = torch.device("cpu")
    assert channels_last(cpu) and memory_format(cpu) == torch.channels_last
    cfg = tiny_config()
    model = build_model(cfg, 3)
    with EBSDDataset(cfg.data) as ds:
        proba, *_ = predict_dataset(model, ds, None, cfg.preprocess, "cpu", batch_size=16)
        conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)  # the pipeline moved it
        model.to(memory_format=torch.contiguous_format)
        x, background = torch.as_tensor(ds.read(np.arange(16))), torch.as_tensor(ds.static_background)
    from ebsdlib.train.data import prepare_batch

    with torch.inference_mode():
        plain = torch.softmax(model.eval()(prepare_batch(x, cpu, cfg.preprocess, background)), 1)
    np.testing.assert_allclose(np.asarray(proba)[:16], plain.numpy(), atol=1e-5)
