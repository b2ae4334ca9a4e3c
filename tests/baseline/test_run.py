"""Dictionary indexing stored like a run: readable by list_runs, the views and the phase-map store."""

import json

import numpy as np
import pytest

from ebsdlib.baseline import DictionaryConfig, index_run, index_scan
from ebsdlib.baseline.run import is_dictionary_run, method_key
from ebsdlib.cli import main
from ebsdlib.phasemap import load_phasemap
from ebsdlib.runs import list_runs
from ebsdlib.views.predictions import prediction_frame
from ebsdlib.views.runs import best_runs, runs_table

from .conftest import RESOLUTION


@pytest.fixture(scope="module")
def indexed(clean_data, clean_scan, tmp_path_factory):
    root = tmp_path_factory.mktemp("di_runs")
    run = index_run(
        clean_data,
        DictionaryConfig(resolution=RESOLUTION, device="cpu"),
        scans=[clean_scan],
        name="baseline",
        root=root,
        progress=False,
    )
    return root, run


def test_run_folder_is_a_completed_evaluated_run(indexed):
    root, run = indexed
    (summary,) = list_runs(root)
    assert summary.run_id == run.run_id and summary.state == "completed" and not summary.broken
    assert summary.config["method"] == "dictionary" and "loss" not in summary.config
    assert is_dictionary_run(summary.config)
    # as the committed demo's dictionary run wrote it, before runs recorded their method
    assert is_dictionary_run({"method": "dictionary_indexing", "loss": "dictionary"})
    assert is_dictionary_run({"method": "dictionary_refined"})
    assert not is_dictionary_run({"loss": "ce"}) and not is_dictionary_run({"method": "hough"})
    m = summary.metrics
    assert m["accuracy"] == 1.0 and m["n"] == 12 and m["split"] == "test"
    assert m["confusion_matrix"] == [[4, 0, 0], [0, 4, 0], [0, 0, 4]]
    assert m["ni_ni3fe_confusion"] == 0.0
    assert m["temperature_source"] == "fitted on 12 training patterns" and 0 < m["temperature"] <= 1
    assert m["orientation_error_deg"]["median"] < 0.01
    assert m["dictionary"]["size"] > 0 and m["inference_patterns_per_second"] > 0
    assert m["method"] == "dictionary" and "loss" not in m
    json.dumps(m)  # plain JSON


def test_a_refined_run_is_its_own_method():
    assert method_key(DictionaryConfig(refine=True)) == "dictionary_refined"
    assert method_key(DictionaryConfig(refine=False)) == "dictionary"


def test_views_show_it_beside_networks(indexed):
    root, run = indexed
    table = runs_table(list_runs(root))
    row = table.set_index("run_id").loc[run.run_id]
    assert row["method"] == "dictionary" and row["method_label"] == "dictionary indexing"
    assert row["accuracy"] == 1.0 and row["eval_split"] == "test"
    assert row["model"] == f"NCC dictionary {RESOLUTION:g}°" and row["state"] == "completed"
    assert "dictionary" in best_runs(table)
    preds = prediction_frame(run.predictions(), ["Ni", "Ni3Al", "Ni3Fe"])
    assert preds["correct"].all() and len(preds) == 12
    np.testing.assert_allclose(preds[["prob_Ni", "prob_Ni3Al", "prob_Ni3Fe"]].sum(axis=1), 1.0, atol=1e-5)


def test_scan_phase_map(indexed, clean_scan):
    _, run = indexed
    assert run.phasemap_scans() == ["scan"]
    pm = load_phasemap(run, "scan")
    assert pm.scan_shape == (3, 4)
    assert (pm.pred == np.array([0, 1, 2, 0])[None, :]).all()
    assert pm.accuracy == 1.0
    assert pm.meta["method"] == "dictionary" and pm.meta["orientations"] == "best dictionary match"
    folder = run.phasemap_dir("scan")
    assert {"phasemap.png", "crystalmap.h5", "fractions.json"} <= {p.name for p in folder.iterdir()}
    again = index_scan(run, clean_scan, scan_name="again", progress=False)
    assert again.name == "again" and "again" in run.phasemap_scans()


def test_refuses_a_network_run_and_the_training_split(indexed, clean_data, tmp_path):
    _, _run = indexed
    network = tmp_path / "runs" / "net"
    network.mkdir(parents=True)
    (network / "config.json").write_text(json.dumps({"loss": "ce", "model": "x"}))
    (network / "metrics.json").write_text("{}")
    with pytest.raises(
        ValueError,
        match=r"run 'net' is a cross-entropy run, not dictionary indexing; map scans of "
        r"trained runs with `python -m ebsdlib predict --run net`",
    ):
        index_scan("net", clean_data, root=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"split 'train' is not allowed; report on 'test' or 'val'"):
        index_run(clean_data, split="train", root=tmp_path, progress=False)


def test_failure_is_recorded_in_the_status(clean_data, tmp_path):
    config = DictionaryConfig(resolution=RESOLUTION, device="cpu")
    with pytest.raises(FileNotFoundError, match=r"missing.h5: no such file"):
        index_run(
            clean_data, config, root=tmp_path, progress=False, run_id="will-fail", scans=[tmp_path / "missing.h5"]
        )
    (summary,) = list_runs(tmp_path)
    assert summary.state == "failed" and "missing.h5" in summary.status.error
    assert summary.metrics["accuracy"] == 1.0  # the split was indexed before the scan failed


def test_cli_index_and_map(clean_data, clean_scan, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    code = main(
        [
            "index",
            "--data",
            str(clean_data),
            "--resolution",
            str(RESOLUTION),
            "--device",
            "cpu",
            "--run-id",
            "di",
            "--no-progress",
            "--temperature",
            "0.01",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "accuracy 1.0000" in out and "softmax temperature 0.01 (given)" in out
    assert main(["index", "--run", "di", "--scan", str(clean_scan), "--no-progress"]) == 0
    assert "phase map written to" in capsys.readouterr().out
    assert (
        main(
            [
                "bench",
                "dictionary",
                "--data",
                str(clean_data),
                "--resolution",
                "30",
                "--device",
                "cpu",
                "--split",
                "val",
                "--no-progress",
            ]
        )
        == 2
    )
    assert "split 'val' has no patterns to index" in capsys.readouterr().err
    assert main(["index", "--no-progress"]) == 2
    assert "--data FILE is required" in capsys.readouterr().err


def test_predict_and_evaluate_know_dictionary_runs(indexed, clean_scan):
    from ebsdlib.predict import predict_scan
    from ebsdlib.train.evaluate import evaluate_run

    _, run = indexed
    folder = predict_scan(run, clean_scan, progress=False, scan_name="via_predict")
    assert folder == run.phasemap_dir("via_predict") and load_phasemap(run, "via_predict").accuracy == 1.0
    with pytest.raises(ValueError, match="is dictionary indexing: it has no trained model to re-evaluate"):
        evaluate_run(run, progress=False)
