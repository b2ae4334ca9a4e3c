"""Assembling predictions on the scan grid, fractions, accuracy and pixel look-up."""

import numpy as np
import pytest

from ebsdlib.phasemap import NOT_INDEXED, build_phasemap, phase_fractions
from ebsdlib.phases import DEFAULT_PHASES


def test_maps_follow_the_scan_grid(phasemap, scan_predictions):
    assert phasemap.scan_shape == (6, 5)
    assert phasemap.pred.dtype == np.int16 and phasemap.proba.dtype == np.float16
    assert phasemap.pred[4, 1] == 2 and phasemap.pred[2, 3] == 1
    assert phasemap.index[5, 4] == -1 and phasemap.pred[5, 4] == -1
    assert np.isnan(phasemap.confidence[5, 4])
    assert phasemap.index[1, 2] == 7
    assert phasemap.confidence[0, 0] == pytest.approx(0.4)
    assert phasemap.quality[5, 3] == pytest.approx(1.0)


def test_error_map_and_accuracy(phasemap):
    err = phasemap.error
    assert err[2, 0] == 1  # true Ni3Fe predicted Ni3Al
    assert err[0, 3] == -1 and err[5, 4] == -1  # unknown truth, no pattern
    assert int((err == 0).sum()) == 27
    assert phasemap.accuracy == pytest.approx(27 / 28)


def test_fractions_with_threshold(phasemap):
    f = phasemap.fractions(0.0)
    counts = {r["phase"]: r["count"] for r in f["rows"]}
    assert counts == {"Ni": 10, "Ni3Al": 10, "Ni3Fe": 9, NOT_INDEXED: 0}
    assert f["n_points"] == 29
    f = phasemap.fractions(0.5)  # the five points of row 0 (confidence 0.4) drop out
    rows = {r["phase"]: r for r in f["rows"]}
    assert rows["Ni"]["count"] == 5 and rows[NOT_INDEXED]["count"] == 5
    assert rows["Ni"]["percent"] == pytest.approx(100 * 5 / 29)
    assert sum(r["percent"] for r in f["rows"]) == pytest.approx(100.0)
    true = {r["phase"]: r["count"] for r in phasemap.true_fractions()["rows"]}
    assert true == {"Ni": 9, "Ni3Al": 9, "Ni3Fe": 10, NOT_INDEXED: 1}


def test_phase_fractions_on_plain_arrays():
    pred = np.array([[0, 0, 2], [1, -1, 2]])
    conf = np.array([[0.9, 0.3, 0.9], [0.9, np.nan, 0.6]])
    f = phase_fractions(pred, conf, ["Ni", "Ni3Al", "Ni3Fe"], 0.5)
    assert [r["count"] for r in f["rows"]] == [1, 1, 2, 1]
    assert f["n_points"] == 5
    with pytest.raises(ValueError, match=r"threshold 1.5 must lie in"):
        phase_fractions(pred, conf, ["Ni", "Ni3Al", "Ni3Fe"], 1.5)


def test_pixel_lookup(phasemap):
    px = phasemap.pixel(2, 0)
    assert px["pred"] == "Ni3Al" and px["true"] == "Ni3Fe" and px["index"] == 10
    assert px["proba"]["Ni3Al"] == pytest.approx(0.8, abs=1e-3)
    assert phasemap.pixel(5, 4)["pred"] is None
    with pytest.raises(IndexError, match=r"pixel \(row 6, col 0\) lies outside the scan 6×5"):
        phasemap.pixel(6, 0)


def test_bad_inputs(scan_predictions):
    s = scan_predictions
    with pytest.raises(ValueError, match=r"outside the scan shape 4×5"):
        build_phasemap(s["proba"], s["row"], s["col"], (4, 5), DEFAULT_PHASES)
    row = s["row"].copy()
    row[1] = 0
    col = s["col"].copy()
    col[1] = 0
    with pytest.raises(ValueError, match="1 patterns share a scan position"):
        build_phasemap(s["proba"], row, col, (6, 5), DEFAULT_PHASES)
    with pytest.raises(ValueError, match=r"proba has shape \(29, 2\)"):
        build_phasemap(s["proba"][:, :2], s["row"], s["col"], (6, 5), DEFAULT_PHASES)
    with pytest.raises(ValueError, match="true has 3 entries but proba has 29 rows"):
        build_phasemap(s["proba"], s["row"], s["col"], (6, 5), DEFAULT_PHASES, true=[0, 1, 2])
