"""``python -m ebsdlib bench scaling`` at a tiny size, and its pieces."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ebsdlib.bench.scaling import ScalingBenchConfig, summary_table
from ebsdlib.metrics import log_slope


def test_every_model_and_budget_is_trained_and_tested(scaling_doc, bench_artifacts):
    cfg = ScalingBenchConfig.quick()
    rows = pd.DataFrame(scaling_doc["rows"])
    assert scaling_doc["complete"] and scaling_doc["kind"] == "scaling"
    assert list(zip(rows["model"], rows["patterns_seen"], strict=True)) == [
        ("test_efficientnet", 16),
        ("test_efficientnet", 48),
    ]
    assert list(rows["epochs"]) == [1, 3]  # budgets in whole epochs of at most stream_patterns
    assert (rows["n_test"] == 12).all() and (rows["parameters"] > 1000).all()
    assert (rows["train_patterns_per_second"] > 0).all()
    assert np.allclose(rows["chance_loss"], np.log(3)) and (rows["train_loss_last"] > 0).all()
    assert (rows["train_loss_first"] != rows["train_loss_last"]).iloc[1]  # three epochs: its own last loss
    assert [len(c) for c in rows["train_loss_curve"]] == [1, 3] and list(rows["patterns_per_epoch"]) == [16, 16]
    assert rows["train_loss_curve"].iloc[1][-1] == rows["train_loss_last"].iloc[1]
    recall = rows[["recall_Ni", "recall_Ni3Al", "recall_Ni3Fe"]].mean(axis=1)
    assert np.allclose(recall, rows["accuracy"])  # balanced test split
    (oracle,) = scaling_doc["oracle"]
    assert oracle["dose"] == cfg.dose and 0 <= oracle["oracle_Ni_vs_Ni3Fe"] <= 1
    assert (bench_artifacts / "bench" / "scaling.csv").is_file()
    assert "train_loss_curve" not in pd.read_csv(bench_artifacts / "bench" / "scaling.csv").columns
    assert "per tenfold more patterns seen" in summary_table(scaling_doc)
    assert "stream loss" in summary_table(scaling_doc)
    assert "learnt nothing: 1.099; sure of all but one pair, guessing that pair: 0.462" in summary_table(scaling_doc)
    assert (rows["input_size"] == cfg.pattern_size).all()  # by default the network sees the stored size
    assert "patterns 32 px, network input 32 px" in summary_table(scaling_doc)


def test_the_network_input_size_can_differ_from_the_pattern_size(tmp_path):
    from ebsdlib.bench.scaling import run_scaling_bench

    cfg = ScalingBenchConfig.quick(patterns_seen=(16,), input_size=48)
    doc = run_scaling_bench(cfg, tmp_path / "bench", work_dir=tmp_path / "work", keep=True, progress=False)
    (row,) = doc["rows"]
    assert row["input_size"] == 48 and doc["config"]["input_size"] == 48
    (config,) = [p for p in (tmp_path / "work").rglob("config.json") if "preprocess" in p.read_text()]
    assert '"size": 48' in config.read_text()
    assert "patterns 32 px, network input 48 px" in summary_table(doc)


def test_a_kept_work_folder_inside_the_artifacts_is_stored_relative_to_them(tmp_path, monkeypatch):
    from ebsdlib.bench.scaling import run_scaling_bench

    artifacts = tmp_path / "artifacts"
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(artifacts))
    doc = run_scaling_bench(
        ScalingBenchConfig.quick(patterns_seen=(16,)), tmp_path / "bench", keep=True, progress=False
    )
    stored = Path(doc["work_dir"])
    assert not stored.is_absolute() and stored.parts[:2] == ("artifacts", "scratch"), stored
    assert (tmp_path / stored).is_dir() and any((tmp_path / stored).iterdir())  # kept, and found from there
    assert str(tmp_path) not in (tmp_path / "bench" / "scaling.json").read_text()


def test_budgets_become_whole_epochs_of_whole_batches():
    cfg = ScalingBenchConfig(stream_patterns=5000, batch_size=32)
    assert cfg.epochs_for(10_000) == (2, 4992) and cfg.epochs_for(100_000) == (20, 4992)
    assert cfg.epochs_for(3_000) == (1, 3008)


def test_the_slope_is_the_change_per_tenfold_budget():
    rows = [
        {"model": "a", "patterns_seen": 1_000, "accuracy": 0.4},
        {"model": "a", "patterns_seen": 10_000, "accuracy": 0.5},
        {"model": "a", "patterns_seen": 100_000, "accuracy": 0.6},
        {"model": "b", "patterns_seen": 1_000, "accuracy": 0.4},
    ]
    assert log_slope(rows, "a") == pytest.approx(0.1) and log_slope(rows, "b") is None


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"models": ()}, r"models \[\] must be one or more timm model names"),
        ({"patterns_seen": (10,)}, r"patterns_seen \[10\] must be one or more budgets of at least batch_size \(32\)"),
        ({"dose": -1.0}, r"dose -1.0 must be a positive number"),
        ({"input_size": 4}, r"input_size: size 4 must be between"),
    ],
)
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        ScalingBenchConfig(**changes)


def test_a_pc_spread_and_no_flips_reach_the_stored_set_and_the_stream(tmp_path):
    from ebsdlib.bench.scaling import run_scaling_bench
    from ebsdlib.data.format import EBSDDataset
    from ebsdlib.train.stream import stream_settings

    cfg = ScalingBenchConfig.quick(patterns_seen=(16,), pc_spread=0.0, augment=False)
    doc = run_scaling_bench(cfg, tmp_path / "bench", work_dir=tmp_path / "work", keep=True, progress=False)
    assert doc["config"]["pc_spread"] == 0.0 and doc["config"]["augment"] is False
    (config,) = [p for p in (tmp_path / "work").rglob("config.json") if "preprocess" in p.read_text()]
    assert '"augment": false' in config.read_text()  # the run trains without flips
    with EBSDDataset(tmp_path / "work" / "stored.h5") as ds:
        assert stream_settings(ds).detector.pc_spread == 0.0  # the stream draws its PCs with this σ
    assert ScalingBenchConfig.quick().to_dict()["pc_spread"] is None  # default: the detector's own


@pytest.mark.parametrize("bad", [-0.01, 0.5, float("nan")])
def test_a_pc_spread_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match="pc_spread"):
        ScalingBenchConfig(pc_spread=bad)


def test_bench_trend_prints_each_series_with_its_points_or_says_what_is_missing(tmp_path, monkeypatch, capsys):
    from ebsdlib.cli import main
    from ebsdlib.io import write_json
    from ebsdlib.views.bench import conditions_dir

    def doc(patterns: int, pair: float) -> dict:
        config = {"forward_model": "dynamical", "dose": 4000.0, "pattern_size": 128, "n_per_phase": 200}
        row = {"model": "m", "patterns_seen": patterns, "accuracy": 0.6, "pair_accuracy": pair}
        return {"config": config, "oracle": [{"dose": 4000.0, "oracle_Ni_vs_Ni3Fe": 0.95}], "rows": [row]}

    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path))
    for name, patterns, pair in [("10k", 10_000, 0.5), ("100k", 100_000, 0.6)]:
        write_json(conditions_dir("scaling", tmp_path) / name / "scaling.json", doc(patterns, pair))
    assert main(["bench", "trend"]) == 1
    assert "No trend: it needs networks that differ only in their budget, three or more" in capsys.readouterr().err
    write_json(conditions_dir("scaling", tmp_path) / "1m" / "scaling.json", doc(1_000_000, 0.7))
    assert main(["bench", "trend", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "m (dynamical, 4,000 e⁻/px, 128 px): Ni/Ni₃Fe pair accuracy +0.100 per tenfold" in out
    assert "reaches 0.90 (the ideal matcher's 0.95 less 0.05) at about 1.0×10⁸ patterns" in out
    assert "     1,000,000 patterns  pair accuracy 0.700  (1m)" in out
