import numpy as np
import pandas as pd
import pytest

from ebsdlib.views.classes import compare_per_class, headline, per_class_long, per_class_table, same_split
from ebsdlib.views.curves import curves_frame
from ebsdlib.views.embedding import color_column, embedding_frame, selection_summary
from ebsdlib.views.phases import color_lookup, phase_names_of, phases_from_names
from ebsdlib.views.predictions import prediction_frame

NAMES = ["Ni", "Ni3Al", "Ni3Fe"]


def test_per_class_table(metrics, phases):
    t = per_class_table(metrics, phases, run="A")
    assert t["label"].tolist() == ["Ni", "Ni₃Al", "Ni₃Fe"]
    ni = t.iloc[0]
    assert ni["recall"] == pytest.approx(2 / 3) and ni["precision"] == pytest.approx(2 / 3)
    assert ni["support"] == 3
    assert t.iloc[1]["f1"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"per_class=None"):
        per_class_table({}, phases)


def test_per_class_absent_class_is_nan(phases, metrics):
    m = dict(
        metrics,
        per_class={**metrics["per_class"], "Ni3Al": {"precision": None, "recall": None, "f1": None, "support": 0}},
    )
    t = per_class_table(m, phases)
    assert np.isnan(t.iloc[1]["recall"]) and t.iloc[1]["support"] == 0


def test_compare_and_long(metrics, phases):
    both = compare_per_class({"A": metrics, "B": metrics}, phases)
    assert len(both) == 6 and set(both["run"]) == {"A", "B"}
    long = per_class_long(both)
    assert len(long) == 18 and set(long["metric"]) == {"precision", "recall", "f1"}


def test_headline(metrics):
    h = headline(metrics)
    assert h["accuracy"] == pytest.approx(0.75)
    assert h["accuracy_low"] <= 0.75 <= h["accuracy_high"]
    assert h["ni_ni3fe_confusion"] == pytest.approx(2 / 6)
    assert h["ni_to_ni3fe"] == pytest.approx(1 / 3)
    assert h["probe_accuracy"] is None and h["n"] == 8
    assert headline(None)["accuracy"] is None


def test_same_split():
    ok, _ = same_split({"a": {"data": "d.h5", "validation": False}, "b": {"data": "d.h5"}})
    assert ok
    ok, why = same_split({"a": {"data": "d.h5"}, "b": {"data": "e.h5", "validation": True}})
    assert not ok and "e.h5 (validation split)" in why


def test_curves_frame():
    h = pd.DataFrame(
        {
            "epoch": [1, 2],
            "train_loss": [1.0, 0.5],
            "val_loss": [np.nan, np.nan],
            "val_accuracy": [0.5, 0.7],
            "lr": [1e-3, 1e-4],
        }
    )
    c = curves_frame({"A": h, "B": None, "C": pd.DataFrame()})
    assert set(c["run"]) == {"A"}
    assert set(c["metric"]) == {"train loss", "validation accuracy"}  # all-NaN val_loss dropped
    assert c.loc[c["metric"] == "train loss", "kind"].eq("loss").all()
    assert curves_frame({}).empty


def test_embedding_frame_and_selection(predictions):
    f = prediction_frame(predictions, NAMES)
    u = np.arange(16, dtype=np.float32).reshape(8, 2)
    e = embedding_frame(u, f)
    assert e["x"].tolist() == list(range(0, 16, 2)) and e["correct"].tolist().count("wrong") == 2
    with pytest.raises(ValueError, match=r"umap.npy has 7 rows but predictions.csv has 8"):
        embedding_frame(u[:7], f)
    with pytest.raises(ValueError, match=r"expected \(n, 2\)"):
        embedding_frame(np.zeros((8, 3)), f)
    s = selection_summary(e, np.array([2, 6, 0]))
    assert s.iloc[0]["count"] == 1 and set(zip(s["true_name"], s["pred_name"], strict=True)) == {
        ("Ni", "Ni3Fe"),
        ("Ni3Fe", "Ni"),
        ("Ni", "Ni"),
    }
    assert color_column("correct") == "correct"
    with pytest.raises(ValueError, match=r"color by 'phase' is not allowed"):
        color_column("phase")


def test_phase_names_and_colours(metrics, predictions):
    assert phase_names_of(metrics) == NAMES
    assert phase_names_of(None, predictions) == NAMES
    with pytest.raises(ValueError, match=r"names no phases"):
        phase_names_of({}, pd.DataFrame({"x": [1]}))
    ph = phases_from_names(["Ni", "Ni3Fe", "Cu"])
    colors = color_lookup(ph)
    assert colors["Ni"] == "#1f77b4" and colors["Ni₃Fe"] == colors["Ni3Fe"] == "#d62728"
    assert colors["Cu"] not in ("#1f77b4", "#d62728") and colors["not indexed"] == "#000000"


def test_same_band_notes_name_the_phases_hough_cannot_separate():
    from ebsdlib.views.classes import same_band_notes

    fcc = [[1, 1, 1], [2, 0, 0], [2, 2, 0], [3, 1, 1]]
    hough = {
        "families": {"Ni": fcc, "Ni3Al": fcc, "Fe": [[1, 1, 0]]},
        "min_band_intensity": 0.05,
        "same_bands": [["Ni", "Ni3Al"]],
    }
    (note,) = same_band_notes({"hough A": {"hough": hough}, "ce": {"accuracy": 0.5}, "broken": None})
    assert note.startswith("hough A: Hough indexing cannot tell Ni, Ni3Al apart")
    assert "({111} {200} {220} {311}; fainter ones are below 5%" in note and "the first of them, Ni," in note
    assert same_band_notes({"old hough": {"hough": {"families": {"Ni": fcc}}}}) == []  # stored before the groups
