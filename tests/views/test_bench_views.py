"""The Benchmarks page's tables name and colour methods from the registry (tiny documents made here)."""

import numpy as np
import pandas as pd

from ebsdlib.methods import get_method
from ebsdlib.views.bench import OTHER_COLOR, dose_figure, dose_frame, environment_line, method_comparison


def _row(dose: float, method: str, acc: float) -> dict:
    return {
        "dose": dose,
        "method": method,
        "accuracy": acc,
        "accuracy_low": acc - 0.05,
        "accuracy_high": acc + 0.05,
        "ni_ni3fe_confusion": 1 - acc,
        "n_test": 6,
    }


def test_dose_frame_orders_and_labels_methods_as_the_registry():
    rows = [_row(d, m, 0.5) for m in ("transformer", "dictionary_refined", "ce", "supcon") for d in (20.0, 10.0)]
    frame = dose_frame({"rows": rows})
    assert list(dict.fromkeys(frame["method"])) == ["ce", "supcon", "dictionary_refined", "transformer"]
    assert list(frame["dose"][:2]) == [10.0, 20.0]
    labels = dict(zip(frame["method"], frame["label"], strict=True))
    assert labels == {
        "ce": "cross-entropy",
        "supcon": "supervised contrastive (SupCon)",
        "dictionary_refined": "refined dictionary indexing",
        "transformer": "transformer",  # a method of another version is shown as written
    }
    colours = {t.name: t.line.color for t in dose_figure(frame).data if t.mode == "lines+markers"}
    assert colours["cross-entropy"] == get_method("ce").color and colours["transformer"] == OTHER_COLOR


def test_method_comparison_labels_runs_and_flags_the_indexing_baselines():
    table = pd.DataFrame(
        {
            "run_id": ["n", "d", "r"],
            "method": ["supcon", "dictionary", "dictionary_refined"],
            "method_label": ["supervised contrastive (SupCon)", "dictionary indexing", "refined dictionary indexing"],
            "model": ["m", "NCC", "NCC"],
            "dataset": ["x.h5"] * 3,
            "eval_split": ["test"] * 3,
            "accuracy": [0.9, 0.8, 0.85],
            "accuracy_low": [0.85, 0.75, 0.8],
            "accuracy_high": [0.95, 0.85, 0.9],
            "ni_ni3fe_confusion": [0.1, 0.2, 0.15],
            "state": ["completed"] * 3,
        }
    )
    out = method_comparison(table, {"n": {"inference_patterns_per_second": 100.0}, "d": None}).set_index("run_id")
    assert out.loc["n", "method"] == "supervised contrastive (SupCon)" and not out.loc["n", "baseline"]
    assert out.loc["d", "baseline"] and out.loc["r", "baseline"]
    assert out.loc["n", "patterns_per_second"] == 100.0 and np.isnan(out.loc["d", "patterns_per_second"])


def test_environment_line_names_the_methods_an_update_measured_again():
    env = {"created": "2026-12-01T10:00:00+00:00", "device": "cpu", "device_name": "CPU", "cpu_count": 2}
    doc = {"environment": env, "seconds": 1183.2}
    assert environment_line(doc).endswith("took 1183 s")
    update = {"methods": ["hough"], "environment": {**env, "created": "2026-12-02T21:00:00+00:00"}, "seconds": 95.4}
    line = environment_line({**doc, "updates": [{**update, "data_checked": True}]})
    assert line.endswith(
        "took 1183 s; Hough/Radon indexing (PyEBSDIndex) measured again 2026-12-02T21:00:00+00:00 on cpu (took 95 s)"
    )
    unchecked = environment_line({**doc, "updates": [{**update, "data_checked": False}]})
    assert unchecked.endswith("(took 95 s, data not checked against the stored patterns)")
