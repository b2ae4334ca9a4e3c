import numpy as np
import pytest

from ebsdlib.views.confusion import (
    cell_index,
    cells_table,
    confusion_array,
    confusion_from_labels,
    difference,
    hover_text,
    normalise,
)

CM = np.array([[8, 2, 0], [0, 5, 0], [1, 0, 0]])


def test_normalise_rows_columns_and_empty():
    row = normalise(CM, "row")
    np.testing.assert_allclose(row[0], [0.8, 0.2, 0.0])
    np.testing.assert_allclose(row[2], [1.0, 0.0, 0.0])
    col = normalise(CM, "column")
    np.testing.assert_allclose(col[:, 0], [8 / 9, 0, 1 / 9])
    np.testing.assert_array_equal(col[:, 2], [0, 0, 0])  # empty column: zeros, not NaN
    np.testing.assert_array_equal(normalise(CM, "counts"), CM)


def test_normalise_rejects_unknown_mode():
    with pytest.raises(ValueError, match=r"normalisation 'percent' is not allowed"):
        normalise(CM, "percent")


def test_difference_and_shape_check():
    other = np.array([[5, 5, 0], [0, 5, 0], [0, 0, 1]])
    d = difference(CM, other, "row")
    np.testing.assert_allclose(d[0], [0.3, -0.3, 0.0])
    np.testing.assert_allclose(d[2], [1.0, 0.0, -1.0])
    with pytest.raises(ValueError, match=r"shapes \(3, 3\) and \(2, 2\)"):
        difference(CM, np.eye(2), "counts")


def test_confusion_array_from_metrics(metrics):
    cm = confusion_array(metrics, 3)
    np.testing.assert_array_equal(cm, [[2, 0, 1], [0, 2, 0], [1, 0, 2]])
    with pytest.raises(ValueError, match=r"3×3 but the run has 4 phases"):
        confusion_array(metrics, 4)
    with pytest.raises(ValueError, match=r"expected a square matrix"):
        confusion_array({"confusion_matrix": [[1, 2]]})


def test_confusion_from_labels_ignores_unknown():
    cm = confusion_from_labels(np.array([0, 1, -1, 2]), np.array([0, 2, 1, 2]), 3)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 0, 1], [0, 0, 1]])


def test_cells_table_and_index():
    cells = cells_table(CM, ["Ni", "Ni3Al", "Ni3Fe"], ["Ni", "Ni₃Al", "Ni₃Fe"])
    assert len(cells) == 9
    r = cells.iloc[cell_index(["Ni", "Ni3Al", "Ni3Fe"], "Ni", "Ni3Al")]
    assert (r["true"], r["predicted"], r["count"]) == ("Ni", "Ni3Al", 2)
    assert r["row_pct"] == pytest.approx(20.0) and r["col_pct"] == pytest.approx(2 / 7 * 100)
    assert cells["correct"].sum() == 3
    with pytest.raises(ValueError, match=r"unknown phase 'Fe'"):
        cell_index(["Ni", "Ni3Al", "Ni3Fe"], "Fe", "Ni")


def test_hover_text_names_both_percentages():
    text = hover_text(CM, ["Ni", "Ni₃Al", "Ni₃Fe"])
    assert "true Ni → predicted Ni₃Al" in text[0][1]
    assert "2 patterns" in text[0][1] and "20.0% of true Ni" in text[0][1]
