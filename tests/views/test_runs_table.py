import time

import numpy as np
import pytest

from ebsdlib.data.format import write_dataset
from ebsdlib.io import write_json
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.runs import RunDir, list_runs
from ebsdlib.views.runs import (
    best_runs,
    datasets_table,
    default_pair,
    filter_runs,
    list_datasets,
    run_label,
    runs_table,
    short_labels,
)


def _run(root, run_id, loss, acc=None, state="completed", name=""):
    run = RunDir(root / "runs" / run_id)
    run.path.mkdir(parents=True)
    write_json(
        run.config_path,
        {"loss": loss, "model": "m", "data": "artifacts/datasets/d.h5", "validation": False, "epochs": 3, "name": name},
    )
    run.update_status(state=state, epochs=3, epoch=3 if state == "completed" else 1, started=time.time())
    if acc is not None:
        write_json(
            run.metrics_path,
            {
                "accuracy": acc,
                "accuracy_ci95": [acc - 0.1, acc + 0.05],
                "macro_f1": acc - 0.02,
                "ni_ni3fe_confusion": 1 - acc,
                "balanced_accuracy": acc,
            },
        )
    return run


@pytest.fixture
def root(tmp_path):
    _run(tmp_path, "r1-ce", "ce", 0.80)
    _run(tmp_path, "r2-ce", "ce", 0.90, name="long ce")
    _run(tmp_path, "r3-supcon", "supcon", 0.85)
    _run(tmp_path, "r4-supcon", "supcon", None, state="running")
    bad = tmp_path / "runs" / "r5-broken"
    bad.mkdir()
    (bad / "status.json").write_text("{not json")
    return tmp_path


def test_runs_table_columns_and_values(root):
    t = runs_table(list_runs(root))
    assert len(t) == 5
    r2 = t.set_index("run_id").loc["r2-ce"]
    assert r2["accuracy"] == pytest.approx(0.9)
    assert (r2["accuracy_low"], r2["accuracy_high"]) == pytest.approx((0.8, 0.95))
    assert r2["ni_ni3fe_confusion"] == pytest.approx(0.1)
    assert r2["dataset"] == "d.h5" and r2["eval_split"] == "test" and r2["progress"] == 1.0
    running = t.set_index("run_id").loc["r4-supcon"]
    assert np.isnan(running["accuracy"]) and running["progress"] == pytest.approx(1 / 3)
    broken = t.set_index("run_id").loc["r5-broken"]
    assert broken["state"] == "broken" and "not valid JSON" in broken["error"]


def test_method_column_reads_the_registry_and_old_folders(root):
    """Network runs written before runs recorded their method (``loss`` only), a dictionary run as
    written now and as the committed demo wrote it, and a method this version does not know."""
    runs = root / "runs"
    for run_id, config in {
        "d-new": {"method": "dictionary", "model": "NCC dictionary 5°", "epochs": 0},
        "d-old": {"method": "dictionary_indexing", "loss": "dictionary", "dictionary": {"refine": True}},
        "net-new": {"method": "supcon", "loss": "supcon", "model": "m"},
        "future": {"method": "transformer", "model": "m"},
    }.items():
        (runs / run_id).mkdir()
        write_json(runs / run_id / "config.json", config)
    t = runs_table(list_runs(root)).set_index("run_id")
    assert "loss" not in t.columns
    assert t.loc["r1-ce", "method"] == "ce" and t.loc["r1-ce", "method_label"] == "cross-entropy"
    assert t.loc["net-new", "method"] == "supcon"
    assert t.loc["d-new", "method"] == "dictionary" and t.loc["d-new", "method_label"] == "dictionary indexing"
    assert t.loc["d-old", "method"] == "dictionary_refined"
    assert t.loc["r5-broken", "method"] == ""
    assert t.loc["future", "state"] == "broken"
    assert "unknown method 'transformer'; known methods are ['ce', 'supcon'" in t.loc["future", "error"]


def test_best_runs_per_method(root):
    best = best_runs(runs_table(list_runs(root)))
    assert list(best) == ["ce", "supcon"]
    assert best["ce"]["run_id"] == "r2-ce" and best["supcon"]["run_id"] == "r3-supcon"
    with pytest.raises(ValueError, match=r"by='loss' is not allowed"):
        best_runs(runs_table(list_runs(root)), by="loss")


def test_default_pair_and_labels(root):
    t = runs_table(list_runs(root))
    assert default_pair(t) == ("r2-ce", "r3-supcon")
    one_method = t[t["method"] == "ce"]
    assert default_pair(one_method) == ("r2-ce", "r1-ce")
    assert default_pair(t.iloc[0:0]) == (None, None)
    row = t.set_index("run_id").loc["r2-ce"].to_dict() | {"run_id": "r2-ce"}
    assert run_label(row) == "long ce (r2-ce)"
    row = t.set_index("run_id").loc["r1-ce"].to_dict() | {"run_id": "r1-ce"}
    assert run_label(row) == "CE · m · r1-ce"


def test_filter_runs(root):
    t = runs_table(list_runs(root))
    assert set(filter_runs(t, methods=["supcon"])["run_id"]) == {"r3-supcon", "r4-supcon"}
    assert set(filter_runs(t, states=["running"])["run_id"]) == {"r4-supcon"}
    assert set(filter_runs(t, text="LONG")["run_id"]) == {"r2-ce"}
    assert len(filter_runs(t)) == 5


def test_empty_root(tmp_path):
    t = runs_table(list_runs(tmp_path))
    assert len(t) == 0 and "accuracy" in t.columns
    assert best_runs(t) == {}


def test_datasets_listing_and_table(tmp_path):
    ds = tmp_path / "datasets"
    write_dataset(
        ds / "a.h5",
        np.random.default_rng(0).integers(0, 255, (4, 8, 8), dtype=np.uint8),
        np.array([0, 1, 2, 2]),
        DEFAULT_PHASES,
        provenance={},
    )
    (ds / "broken.h5").write_bytes(b"not hdf5")
    (ds / "notes.txt").write_text("x")
    outside = tmp_path / "outside.h5"
    outside.write_bytes(b"x")
    (ds / "link.h5").symlink_to(outside)  # a link out of the folder is not listed
    paths = list_datasets(tmp_path)
    assert [p.name for p in paths] == ["a.h5", "broken.h5"]
    t = datasets_table(paths).set_index("dataset")
    assert t.loc["a.h5", "patterns"] == 4 and t.loc["a.h5", "phases"] == "Ni 1, Ni3Al 1, Ni3Fe 2"
    assert t.loc["a.h5", "kind"] == "labelled set"
    assert "cannot be opened as HDF5" in t.loc["broken.h5", "error"]


def test_short_labels_are_unique(root):
    t = runs_table(list_runs(root))
    labels = short_labels(t, ["r1-ce", "r2-ce", "r3-supcon", "r4-supcon", "missing"])
    assert labels["r2-ce"] == "long ce" and labels["missing"] == "missing"
    assert len(set(labels.values())) == 5
    assert labels["r1-ce"].startswith("CE m") and labels["r3-supcon"].startswith("SupCon m")
