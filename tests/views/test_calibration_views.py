"""The reliability diagram's frame, table and figure."""

from ebsdlib.views.calibration import calibration_table, reliability_figure, reliability_frame


def _bins(conf, acc, count):
    return {"bin_edges": [], "confidence": conf, "accuracy": acc, "count": count}


METRICS = {
    "CE": {
        "temperature": 2.0,
        "ece": 0.03,
        "ece_uncalibrated": 0.30,
        "calibration": _bins([0.5, None, 0.9], [0.55, None, 0.88], [10, 0, 30]),
        "calibration_uncalibrated": _bins([None, 0.99], [None, 0.7], [0, 40]),
        "calibration_split": "val",
        "calibration_held_out": True,
    },
    "DI": {"temperature": None, "ece": 0.1, "calibration": _bins([0.6], [0.5], [20])},
    "SupCon": {
        "temperature": None,  # vector scaling has no single temperature
        "calibrator": {"method": "vector", "scale": [0.1, 0.9, 0.1], "offset": [0, 0.2, -0.2], "cv_nll": {}},
        "ece": 0.02,
        "ece_uncalibrated": 0.16,
        "calibration": _bins([0.5], [0.5], [10]),
        "calibration_uncalibrated": _bins([0.7], [0.5], [10]),
    },
}


def test_frame_keeps_non_empty_bins_of_both_states():
    frame = reliability_frame(METRICS)
    assert len(frame) == 6  # CE: 2 calibrated + 1 uncalibrated bins; DI: 1 as trained; SupCon 1 + 1
    ce = frame[frame["run"] == "CE"]
    assert set(ce["state"]) == {"calibrated", "uncalibrated"}
    assert ce.loc[ce["state"] == "uncalibrated", "ece"].iloc[0] == 0.30
    assert set(frame.loc[frame["run"] == "DI", "state"]) == {"as trained"}
    assert reliability_frame({"x": {}}).empty


def test_table_says_before_after_and_where_fitted():
    table = calibration_table(METRICS).set_index("run")
    assert table.loc["CE", "ECE uncalibrated"] == 0.30 and table.loc["CE", "ECE calibrated"] == 0.03
    assert table.loc["CE", "fitted on"] == "val" and bool(table.loc["CE", "held out"]) is True
    assert table.loc["DI", "ECE uncalibrated"] == 0.1 and table.loc["DI", "fitted on"] == "—"
    assert table.loc["CE", "calibrator"] == "temperature" and table.loc["DI", "calibrator"] == "—"
    assert table.loc["SupCon", "calibrator"] == "vector scaling" and table.loc["SupCon", "ECE calibrated"] == 0.02
    frame = reliability_frame(METRICS)
    assert set(frame.loc[frame["run"] == "SupCon", "state"]) == {"calibrated", "uncalibrated"}


def test_figure_has_the_diagonal_and_a_line_per_run_and_state():
    fig = reliability_figure(reliability_frame(METRICS))
    names = [t.name for t in fig.data]
    assert names[0] == "perfectly calibrated" and len(fig.data) == 6
    dashed = [t for t in fig.data[1:] if t.line.dash == "dash"]
    assert len(dashed) == 2 and "uncalibrated, ECE 0.300" in dashed[0].name
