"""``python -m ebsdlib bench speed`` at a tiny size, the naive baseline and the measurements."""

import numpy as np
import pytest

from ebsdlib.bench.measure import MB, current_rss, measure
from ebsdlib.bench.naive import load_batch, write_pngs
from ebsdlib.bench.speed import INFERENCE_GOAL, TRAINING_GOAL, SpeedBenchConfig, ratios, summary_table


def test_quick_speed_benchmark_measures_every_stage(speed_doc, bench_artifacts):
    rows = {(r["kind"], r["pipeline"], r["precision"]): r for r in speed_doc["rows"]}
    expected = {
        ("training", "model alone", "fp32"),
        ("training", "end-to-end", "fp32"),
        ("training", "stream end-to-end", "fp32"),
        ("training", "naive", "fp32"),
        ("inference", "model alone", "fp32"),
        ("inference", "end-to-end", "fp32"),
        ("inference", "naive", "fp32"),
        ("inference", "dictionary indexing", "fp32"),
        ("inference", "Hough indexing (PyEBSDIndex, 1 process)", "fp32"),
        ("inference", "hybrid map (network + Hough, 1 process)", "fp32"),
        ("simulation", "dynamical patterns", "fp32"),
        ("simulation", "kinematical patterns", "fp32"),
        ("simulation", "stream on cpu (torch)", "fp32"),
    }
    assert set(rows) == expected  # CPU: no mixed-precision rows
    for r in rows.values():
        assert r["patterns_per_second"] > 0 and r["patterns"] > 0 and r["peak_rss_mb"] > 0
        assert r["patterns_per_cpu_second"] > 0
        assert r["python_peak_mb"] is not None and r["cuda_peak_mb"] is None
        assert len(r["rounds_patterns_per_second"]) == SpeedBenchConfig.quick().repeats
    assert rows[("inference", "end-to-end", "fp32")]["patterns"] == 36  # the 6×6 scan
    assert (
        rows[("simulation", "dynamical patterns", "fp32")]["patterns"] == SpeedBenchConfig.quick().simulation_patterns
    )
    # the stream trainer's source: whole training batches (quick: batch 4, 16 patterns)
    assert rows[("simulation", "stream on cpu (torch)", "fp32")]["patterns"] == 16
    build = speed_doc["master_build"]  # one dynamical master built, timed, nothing cached
    assert build["phase"] == "Ni" and build["npx"] == 16 and build["seconds"] > 0 and build["device"] == "cpu"
    assert "dynamical master build: Ni at npx 16" in summary_table(speed_doc)
    # the streamed epoch has the stored one's steps
    streamed, stored = rows[("training", "stream end-to-end", "fp32")], rows[("training", "end-to-end", "fp32")]
    assert streamed["patterns"] == stored["patterns"]
    kinds = {r["kind"]: r for r in speed_doc["ratios"]}
    assert set(kinds) == {"inference", "training", "training (stream)"}
    assert kinds["inference"]["goal"] == INFERENCE_GOAL and kinds["training"]["goal"] == TRAINING_GOAL
    assert (
        kinds["training (stream)"]["goal"] == TRAINING_GOAL
        and kinds["training (stream)"]["end_to_end_over_naive"] is None
    )
    for r in kinds.values():
        assert r["end_to_end_over_model"] > 0 and r["end_to_end_over_model_cpu"] > 0
        assert r["kind"] == "training (stream)" or r["end_to_end_over_naive"] > 0
        assert r["meets_goal"] == (r["end_to_end_over_model"] >= r["goal"])
        assert r["meets_goal_cpu"] == (r["end_to_end_over_model_cpu"] >= r["goal"])
    assert speed_doc["data"]["dictionary"]["size"] > 0
    assert rows[("inference", "Hough indexing (PyEBSDIndex, 1 process)", "fp32")]["patterns"] == 36
    assert rows[("inference", "hybrid map (network + Hough, 1 process)", "fp32")]["patterns"] == 36
    assert speed_doc["data"]["hough"]["processes"] == 1 and speed_doc["data"]["hough"]["vendor"] == "KIKUCHIPY"
    assert not list((bench_artifacts / "scratch").glob("bench-speed-*"))
    assert "e2e ÷ model (CPU time)" in summary_table(speed_doc)
    display = speed_doc["display"]  # the dashboard's figures, timed here instead of in their tests
    assert [d["what"] for d in display] == ["phase map overlay", "phase map redraw", "embedding figure"]
    assert all(d["seconds"] > 0 and len(d["rounds_seconds"]) == 1 for d in display)
    assert "dashboard figure" in summary_table(speed_doc)


def test_ratios_pair_rounds_of_the_same_kind_and_precision():
    def row(kind, pipeline, precision, wall, cpu):
        return {
            "kind": kind,
            "pipeline": pipeline,
            "precision": precision,
            "rounds_patterns_per_second": wall,
            "rounds_patterns_per_cpu_second": cpu,
        }

    rows = [
        row("inference", "model alone", "bf16", [1000.0, 500.0, 900.0], [100.0, 100.0, 100.0]),
        row("inference", "end-to-end", "bf16", [950.0, 480.0, 300.0], [96.0, 95.0, 94.0]),
        row("inference", "naive", "fp32", [100.0, 40.0, 100.0], [10.0, 10.0, 10.0]),
        row("training", "model alone", "bf16", [400.0, 400.0, 400.0], [40.0, 40.0, 40.0]),
        row("training", "end-to-end", "bf16", [300.0, 300.0, 300.0], [30.0, 36.0, 35.0]),
    ]
    (inf, tr) = sorted(ratios(rows), key=lambda r: r["kind"])
    # round by round 0.95, 0.96, 0.33: the median, not the ratio of medians (0.53)
    assert inf["end_to_end_over_model"] == pytest.approx(0.95) and inf["meets_goal"]
    assert inf["end_to_end_over_model_cpu"] == pytest.approx(0.95) and inf["meets_goal_cpu"]
    assert inf["end_to_end_over_naive"] == pytest.approx(9.5) and inf["end_to_end_over_naive_cpu"] == pytest.approx(9.5)
    assert tr["end_to_end_over_model"] == pytest.approx(0.75) and not tr["meets_goal"]
    assert tr["end_to_end_over_model_cpu"] == pytest.approx(0.875) and tr["meets_goal_cpu"]
    assert tr["end_to_end_over_naive"] is None


def test_measure_sees_memory_and_counts_patterns():
    def stage() -> int:
        block = np.ones(64 * MB // 8)  # 64 MB, touched
        return int(block[:10].sum())

    m = measure(stage, "cpu", trace_python=True)
    assert m.patterns == 10 and m.seconds > 0 and m.patterns_per_second > 0 and m.cpu_seconds > 0
    assert m.python_peak_mb >= 63
    assert current_rss() is None or m.peak_rss_mb >= 60
    assert measure(stage, "cpu").python_peak_mb is None


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_naive_pngs_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(0)
    patterns = rng.integers(0, np.iinfo(dtype).max, size=(3, 8, 10)).astype(dtype)
    paths = write_pngs(patterns, tmp_path)
    batch = load_batch(paths)
    assert batch.shape == (3, 1, 8, 10) and batch.dtype == np.float32
    expected = patterns.astype(np.float32)
    mean, std = expected.mean(axis=(1, 2), keepdims=True), expected.std(axis=(1, 2), keepdims=True)
    expected = (expected - mean) / (std + 1e-6)
    np.testing.assert_allclose(batch[:, 0], expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"repeats": 0}, r"repeats=0 is not allowed; use a positive integer"),
        ({"scan_shape": (0, 4)}, r"scan_shape=\(0, 4\) is not allowed; use two positive integers"),
        ({"precision": "fp8"}, r"precision='fp8' is not allowed; use 'auto', 'bf16' or 'fp16'"),
        ({"display_points": 0}, r"display_points=0 is not allowed; use a positive integer"),
    ],
)
def test_bad_settings_are_named(change, match):
    with pytest.raises(ValueError, match=match):
        SpeedBenchConfig(**change)


@pytest.mark.gpu
def test_cuda_adds_mixed_precision_rows(tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from ebsdlib.bench.speed import run_speed_bench

    doc = run_speed_bench(
        SpeedBenchConfig.quick(device="cuda", naive=False, dictionary=False, hough=False),
        tmp_path,
        work_dir=tmp_path / "work",
        progress=False,
    )
    precisions = {r["precision"] for r in doc["rows"]}
    assert "fp32" in precisions and precisions & {"bf16", "fp16"}
    assert all(r["cuda_peak_mb"] > 0 for r in doc["rows"])


def test_a_compiled_inference_row_times_the_scan_mapped_with_torch_compile(tmp_path, monkeypatch):
    """``compile_mode`` adds the scan mapped by ``predict --compile`` and its ratio to the model
    alone; dynamo traces with the ``aot_eager`` backend here (inductor's C++ build takes a minute on
    two cores), the mode still reaching ``torch.compile``."""
    import torch

    from ebsdlib.bench.speed import run_speed_bench

    modes = []
    real_compile = torch.compile

    def compile_for_test(fn, mode=None, dynamic=None):
        modes.append(mode)
        return real_compile(fn, backend="aot_eager", dynamic=dynamic)

    monkeypatch.setattr(torch, "compile", compile_for_test)
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    off = dict(naive=False, dictionary=False, hough=False, simulation=False, stream=False, master_build_npx=None)
    config = SpeedBenchConfig.quick(compile_mode="reduce-overhead", **off)
    doc = run_speed_bench(config, tmp_path / "bench", progress=False)
    rows = {(r["kind"], r["pipeline"]): r for r in doc["rows"]}
    compiled = rows[("inference", "end-to-end, torch.compile reduce-overhead")]
    assert compiled["patterns"] == rows[("inference", "end-to-end")]["patterns"] == 36
    assert len(compiled["rounds_patterns_per_second"]) == config.repeats and modes and set(modes) == {"reduce-overhead"}
    kinds = {r["kind"]: r for r in doc["ratios"]}
    assert kinds["inference (torch.compile reduce-overhead)"]["end_to_end_over_model"] > 0
    assert doc["config"]["compile_mode"] == "reduce-overhead"
    with pytest.raises(ValueError, match="compile_mode='fast' is not allowed; use one of 'none'"):
        SpeedBenchConfig.quick(compile_mode="fast")
