"""``python -m ebsdlib bench robustness`` at a tiny size: every training domain on every test set."""

import numpy as np
import pandas as pd
import pytest

from ebsdlib.bench.robustness import RobustnessBenchConfig, domain_ranges, ideal_matcher_metrics, summary_table


def test_every_training_domain_is_tested_on_every_forward_model(robustness_doc, bench_artifacts):
    rows = pd.DataFrame(robustness_doc["rows"])
    assert robustness_doc["complete"] and robustness_doc["kind"] == "robustness"
    assert list(zip(rows["training"], rows["test"], strict=True)) == [
        ("kinematical", "dynamical"),
        ("kinematical", "kinematical"),
        ("randomised", "dynamical"),
        ("randomised", "kinematical"),
    ]
    cfg = RobustnessBenchConfig.quick()
    assert (rows["n_test"] == 12).all()  # 3 phases × 8 × 0.5
    assert (rows["patterns_seen"] == cfg.epochs * cfg.stream_patterns).all()
    for phase in ("Ni", "Ni3Al", "Ni3Fe"):  # each phase's recall is a count out of its 4 test patterns
        assert np.allclose(4 * rows[f"recall_{phase}"], (4 * rows[f"recall_{phase}"]).round())
    recall = rows[["recall_Ni", "recall_Ni3Al", "recall_Ni3Fe"]].mean(axis=1)
    assert np.allclose(recall, rows["accuracy"])  # balanced test sets: accuracy is the mean recall
    assert (rows["accuracy_low"] <= rows["accuracy"]).all() and (rows["accuracy"] <= rows["accuracy_high"]).all()
    assert rows.loc[rows["training"] == "randomised", "ranges"].str.contains("dynamical_fraction 0.5").all()
    assert rows.loc[rows["training"] == "kinematical", "ranges"].eq("none").all()
    assert (bench_artifacts / "bench" / "robustness.csv").is_file()
    table = summary_table(robustness_doc)
    assert "Ni recall" in table and table.count("randomised") == 2
    assert not any((bench_artifacts / "scratch").glob("bench-robustness-*"))  # the work folder is removed


def test_the_ideal_matcher_reads_each_test_set_with_both_forward_models(robustness_doc):
    rows = pd.DataFrame(robustness_doc["ideal_matcher"])
    assert list(zip(rows["templates"], rows["test"], strict=True)) == [
        ("dynamical", "dynamical"),
        ("dynamical", "kinematical"),
        ("kinematical", "dynamical"),
        ("kinematical", "kinematical"),
    ]
    assert (rows["n_test"] == 12).all() and rows["ece"].isna().all()  # certain calls: no calibration to judge
    own = rows[rows["templates"] == rows["test"]]
    assert (own["accuracy"] >= 0.75).all()  # at the true orientation and PC its own model's phases match
    recall = rows[["recall_Ni", "recall_Ni3Al", "recall_Ni3Fe"]].mean(axis=1)
    assert np.allclose(recall, rows["accuracy"])


def test_the_ideal_matcher_is_added_to_a_finished_benchmark_without_training(
    robustness_doc, bench_artifacts, tmp_path, monkeypatch
):
    import json
    import shutil

    from ebsdlib.cli import main

    out = tmp_path / "bench"
    shutil.copytree(bench_artifacts / "bench", out)
    doc = json.loads((out / "robustness.json").read_text())
    del doc["ideal_matcher"]  # a benchmark run before the matcher was part of it
    (out / "robustness.json").write_text(json.dumps(doc))
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(bench_artifacts))  # its master-pattern cache
    assert main(["bench", "robustness", "--update-ideal", "--out", str(out), "--no-progress"]) == 0
    updated = json.loads((out / "robustness.json").read_text())

    def calls(rows):  # the same test patterns again: the same decisions
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert calls(updated["ideal_matcher"]) == calls(robustness_doc["ideal_matcher"])
    assert updated["rows"] == robustness_doc["rows"] and updated["updates"][-1]["ideal_matcher"] is True


def test_the_update_refuses_a_missing_or_unfinished_benchmark_and_other_test_sets(
    robustness_doc, bench_artifacts, tmp_path, monkeypatch
):
    import json
    import shutil

    from ebsdlib.bench.robustness import update_ideal_matcher

    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(bench_artifacts))
    with pytest.raises(FileNotFoundError, match="no robustness benchmark to update; run `python -m ebsdlib bench"):
        update_ideal_matcher(tmp_path / "none", progress=False)
    out = tmp_path / "bench"
    shutil.copytree(bench_artifacts / "bench", out)
    doc = json.loads((out / "robustness.json").read_text())
    (out / "robustness.json").write_text(json.dumps({**doc, "complete": False}))
    with pytest.raises(ValueError, match="is not a finished robustness benchmark"):
        update_ideal_matcher(out, progress=False)
    doc["rows"][0]["n_test"] = 13  # the networks were tested on other patterns than the settings make now
    (out / "robustness.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"came out with 12 patterns against the 13 the networks were tested on"):
        update_ideal_matcher(out, progress=False)


def test_the_ideal_matcher_needs_true_orientations(tmp_path):
    import h5py

    from ebsdlib.simulate import SimulationConfig, simulate_dataset

    path = simulate_dataset(
        SimulationConfig(n_per_phase=4, patterns_per_grain=1, pattern_size=32, master_half_size=40),
        tmp_path / "tiny.h5",
        progress=False,
    )
    with pytest.raises(ValueError, match="unknown forward model 'ray-traced'"):
        ideal_matcher_metrics(path, "ray-traced")
    with h5py.File(path, "a") as f:
        del f["orientations"]
    with pytest.raises(ValueError, match=r"tiny.h5: the ideal matcher needs each pattern's true orientation"):
        ideal_matcher_metrics(path, "kinematical")


def test_the_randomised_domain_mixes_forward_models_around_the_dose():
    cfg = RobustnessBenchConfig(dose=4000.0)
    ranges = domain_ranges(cfg, "randomised")
    assert ranges.dose == (1000.0, 16000.0) and ranges.dynamical_fraction == 0.5 and ranges.camera_tilt is not None
    assert not domain_ranges(cfg, "dynamical").active


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"trainings": ("real",)}, r"trainings \['real'\] are not allowed; choose one or more of"),
        ({"dose": 0.0}, r"dose 0.0 must be a positive number"),
        ({"stream_patterns": 4}, r"stream_patterns 4 must be an integer of at least batch_size \(32\)"),
        ({"mixed_fraction": 2.0}, r"mixed_fraction 2.0 must be a share from 0 to 1"),
    ],
)
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        RobustnessBenchConfig(**changes)
