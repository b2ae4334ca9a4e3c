import numpy as np
import pytest

from ebsdlib.data.format import write_dataset
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.views.confusion import cells_table, confusion_from_labels
from ebsdlib.views.gallery import (
    cell_rows,
    default_cell,
    gallery_items,
    load_patterns,
    resolve_data_path,
    rows_from_points,
    selected_cell,
    sort_rows,
    to_uint8,
)
from ebsdlib.views.predictions import prediction_frame

NAMES = [p.name for p in DEFAULT_PHASES]


def test_prediction_frame_names_and_correct(predictions):
    f = prediction_frame(predictions, NAMES)
    assert list(f["row"]) == list(range(8))
    assert list(f["true_name"][:3]) == ["Ni", "Ni", "Ni"]
    assert f["correct"].sum() == 6


def test_prediction_frame_accepts_names_and_rejects_unknown(predictions):
    named = predictions.assign(true=[NAMES[t] for t in predictions["true"]])
    assert prediction_frame(named, NAMES)["true"].tolist() == predictions["true"].tolist()
    bad = predictions.assign(pred=["Fe"] * 8)
    with pytest.raises(ValueError, match=r"column 'pred' has phases \['Fe'\]"):
        prediction_frame(bad, NAMES)
    with pytest.raises(ValueError, match=r"label 3 outside 0..2"):
        prediction_frame(predictions.assign(true=3), NAMES)
    with pytest.raises(ValueError, match=r"lacks the columns \['pred'\]"):
        prediction_frame(predictions.drop(columns="pred"), NAMES)


def test_cell_selection_to_gallery(predictions, phases):
    """Choosing the cell true Ni → predicted Ni3Fe shows exactly pattern 102 with its probabilities."""
    f = prediction_frame(predictions, NAMES)
    cm = confusion_from_labels(f["true"], f["pred"], 3)
    cells = cells_table(cm, NAMES)
    cell = selected_cell(cells, [2])  # row 2 = (Ni, Ni3Fe)
    assert cell == ("Ni", "Ni3Fe")
    rows = cell_rows(f, *cell)
    items = gallery_items(rows, phases)
    assert [it.index for it in items] == [102]
    assert items[0].true == "Ni" and items[0].pred == "Ni₃Fe"
    assert items[0].probabilities == pytest.approx({"Ni": 0.35, "Ni₃Al": 0.05, "Ni₃Fe": 0.60})
    assert "#102 true Ni → Ni₃Fe" in items[0].caption


def test_selected_cell_default_and_out_of_range(predictions):
    f = prediction_frame(predictions, NAMES)
    cells = cells_table(confusion_from_labels(f["true"], f["pred"], 3), NAMES)
    assert selected_cell(cells, [], default=("Ni", "Ni3Fe")) == ("Ni", "Ni3Fe")
    assert selected_cell(cells, [99], default=None) is None
    assert selected_cell(cells, None, default=("Fe", "Ni")) is None


def test_sorting_orders(predictions):
    f = prediction_frame(predictions, NAMES)
    ni = f[f["true_name"] == "Ni"]
    assert sort_rows(ni, "confidence")["index"].tolist()[-1] == 102  # 0.60 is the least confident
    assert sort_rows(ni, "margin")["index"].tolist()[0] == 102  # 0.60 vs 0.35: the closest call
    assert sort_rows(ni.iloc[::-1], "index")["index"].tolist() == [100, 101, 102]
    with pytest.raises(ValueError, match=r"sort='random' is not allowed"):
        sort_rows(ni, "random")


def test_rows_from_points_uses_customdata():
    points = [
        {"customdata": [5, 105]},
        {"customdata": [2, 102]},
        {"customdata": [5, 105]},
        {"customdata": [42, 1]},
        {"x": 1.0},
        {"customdata": ["x"]},
    ]
    assert rows_from_points(points, n_rows=8).tolist() == [2, 5]
    assert rows_from_points(None, 8).tolist() == []
    typed = [{"customdata": {"0": 3.0, "1": 103.0, "2": 0.8}}, {"customdata": 7}]  # Float32Array rows, scalars
    assert rows_from_points(typed, n_rows=8).tolist() == [3, 7]


def test_gallery_limit(predictions, phases):
    f = prediction_frame(predictions, NAMES)
    assert len(gallery_items(f, phases, limit=3)) == 3
    assert gallery_items(f, phases, limit=0) == []


def test_resolve_data_path(tmp_path):
    art = tmp_path / "artifacts"
    (art / "datasets").mkdir(parents=True)
    f = art / "datasets" / "x.h5"
    f.write_bytes(b"")
    assert resolve_data_path("artifacts/datasets/x.h5", art) == tmp_path / "artifacts/datasets/x.h5"
    assert resolve_data_path(str(f), art) == f
    with pytest.raises(FileNotFoundError, match=r"'gone.h5' was not found"):
        resolve_data_path("gone.h5", art)


def test_to_uint8_stretches_each_image():
    x = np.stack([np.linspace(0, 1, 100).reshape(10, 10), np.full((10, 10), 7.0)])
    out = to_uint8(x)
    assert out.dtype == np.uint8 and out[0].max() == 255 and out[0].min() == 0
    assert (out[1] == 0).all()  # a constant image does not divide by zero


def test_load_patterns_order_and_preprocessing(tmp_path):
    rng = np.random.default_rng(0)
    pats = rng.integers(0, 255, (6, 16, 16), dtype=np.uint8)
    pats[4] = 0
    pats[4, :, 8:] = 255  # a half-bright pattern, easy to recognise
    path = write_dataset(
        tmp_path / "d.h5", pats, np.array([0, 1, 2, 0, 1, 2]), DEFAULT_PHASES, provenance={"test": True}
    )
    raw = load_patterns(path, [4, 1], processed=False)
    assert raw.shape == (2, 16, 16) and raw.dtype == np.uint8
    assert raw[0][:, :8].max() == 0 and raw[0][:, 8:].min() == 255
    proc = load_patterns(path, [4, 1], processed=True, preprocess={"size": 8})
    assert proc.shape == (2, 8, 8)
    with pytest.raises(IndexError, match=r"pattern index 9 is outside 0..5"):
        load_patterns(path, [9], processed=False)


def test_unknown_true_label_is_named(predictions):
    f = prediction_frame(predictions.assign(true=[-1] + [0] * 7), NAMES)
    assert f["true_name"][0] == "unknown" and not f["correct"][0]


def test_default_cell_prefers_the_hard_pair_then_the_largest_confusion():
    names = ["Ni", "Ni3Al", "Ni3Fe"]
    cells = cells_table(np.array([[5, 0, 2], [0, 4, 0], [1, 0, 6]]), names)
    assert default_cell(cells, ("Ni", "Ni3Fe")) == ("Ni", "Ni3Fe")
    cells = cells_table(np.array([[5, 0, 0], [3, 4, 0], [1, 0, 6]]), names)
    assert default_cell(cells, ("Ni", "Ni3Fe")) == ("Ni3Al", "Ni")
    cells = cells_table(np.array([[5, 0, 0], [0, 4, 0], [0, 0, 6]]), names)
    assert default_cell(cells, ("Ni", "Ni3Fe")) == ("Ni3Fe", "Ni3Fe")
    assert default_cell(cells_table(np.zeros((3, 3), int), names), ("Ni", "Ni3Fe")) is None
