"""``python -m ebsdlib bench robustness`` at a tiny size: every training domain on every test set."""

import numpy as np
import pandas as pd
import pytest

from ebsdlib.bench.robustness import RobustnessBenchConfig, domain_ranges, summary_table


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
