"""The Benchmarks page's tables name and colour methods from the registry (tiny documents made here)."""

import numpy as np
import pandas as pd

from ebsdlib.methods import get_method
from ebsdlib.views.bench import (
    OTHER_COLOR,
    dose_figure,
    dose_findings,
    dose_frame,
    dose_settings,
    dose_table,
    environment_line,
    method_comparison,
    oracle_frame,
)


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
    limit = {"limit": "fitted pattern centres", "methods": [], "environment": env, "seconds": 1917.0}
    assert environment_line({**doc, "updates": [limit]}).endswith(
        "took 1183 s; physical limit taken apart again with fitted pattern centres 2026-12-01T10:00:00+00:00 "
        "on cpu (took 1917 s)"
    )


def test_dose_findings_count_the_doses_a_network_wins_and_the_pair_gap_at_the_top():
    accuracy = {(250.0, "ce"): 0.40, (250.0, "supcon"): 0.45, (250.0, "dictionary_refined"): 0.50}
    accuracy |= {(4000.0, "ce"): 0.70, (4000.0, "contrastive"): 0.60, (4000.0, "dictionary_refined"): 0.55}
    rows = [{**_row(d, m, a), "pair_accuracy": 0.5 + (m == "ce") * 0.1} for (d, m), a in accuracy.items()]
    oracle = oracle_frame(
        {"oracle": [{"dose": 250.0, "oracle_Ni_vs_Ni3Fe": 0.7}, {"dose": 4000.0, "oracle_Ni_vs_Ni3Fe": 0.99}]}
    )
    lines = dose_findings(dose_frame({"rows": rows}), oracle)
    assert (
        lines[0]
        == "The best network is at least as accurate as refined dictionary indexing at 1 of 2 doses (goal: every dose)."
    )
    assert (
        "dose 250: best network supervised contrastive (SupCon) 0.450 against refined dictionary indexing "
        "0.500 (-0.050)" in lines
    )
    assert lines[-2].startswith(
        "At the highest dose (4000) the best network's Ni/Ni₃Fe pair accuracy is 0.600 (cross-entropy)"
    )
    assert "0.390 short (goal: within 0.05, not met)" in lines[-2]
    assert lines[-1] == (
        "Of the indexing methods, refined dictionary indexing reads the pair best at the highest dose: 0.500 "
        "against the ideal matcher's 0.990."
    )
    fitted = [*rows, {**_row(4000.0, "dictionary_fitted", 0.9), "pair_accuracy": 0.97}]
    lines = dose_findings(dose_frame({"rows": fitted}), oracle)
    assert lines[1] == (
        "Against dictionary indexing + pattern fit (PC and orientation), the best "
        "network is at least as accurate at 0 of 1 doses."
    )
    last = lines[-1]
    # without a dictionary row to give the headline, the fit's count leads
    alone = [r for r in fitted if r["method"] not in ("dictionary_refined", "dictionary")]
    assert dose_findings(dose_frame({"rows": alone}), oracle)[0].startswith("Against dictionary indexing + pattern fit")
    assert last.startswith("Of the indexing methods, dictionary indexing + pattern fit (PC and orientation) reads")
    assert "0.970 against the ideal matcher's 0.990" in last
    assert dose_findings(dose_frame({"rows": [_row(10.0, "dictionary", 0.5)]}), oracle) == []


def test_dose_settings_say_how_the_networks_were_trained():
    doc = {
        "config": {
            "n_per_phase": 800,
            "pattern_size": 128,
            "model": "lcnet_050",
            "epochs": 20,
            "stream": True,
            "stream_patterns": 5000,
            "contrastive_init": "ce",
            "contrastive_epochs": 5,
            "resolution": 5.0,
        },
        "environment": {"device": "cpu"},
    }
    text = dose_settings(doc)
    assert "800 patterns per phase of 128×128 pixels" in text and "20 epochs of 5,000 freshly streamed patterns" in text
    per_dose = {**doc, "config": {**doc["config"], "doses": [1000.0, 250.0], "stream_patterns": [5000, 20000]}}
    assert "20 epochs of freshly streamed patterns (per epoch 5,000 at 1,000, 20,000 at 250 e⁻/px)" in dose_settings(
        per_dose
    )
    assert "(SupCon and contrastive: 5 more from the cross-entropy encoder)" in text
    assert "epochs of the stored patterns" in dose_settings({"config": {"epochs": 15}})
    assert "fine-tuned" not in text
    doc["config"]["ce_init"] = "higher_dose"
    assert "each dose's cross-entropy network fine-tuned from the next-higher dose's" in dose_settings(doc)


def test_dose_table_says_where_each_network_started():
    rows = [
        {**_row(4000.0, "ce", 0.6), "init": "scratch"},
        {**_row(1000.0, "ce", 0.5), "init": "ce at dose 4000"},
        _row(1000.0, "dictionary", 0.4),
    ]
    oracle = pd.DataFrame({"dose": [1000.0, 4000.0], "oracle_pair_accuracy": [0.9, 0.99]})
    table = dose_table(dose_frame({"rows": rows}), oracle)
    by = {(r.dose, r.label): r for r in table.itertuples()}
    assert by[(1000.0, "cross-entropy")].init == "ce at dose 4000" and by[(4000.0, "cross-entropy")].init == "scratch"
    assert pd.isna(by[(1000.0, "dictionary indexing")].init)
    assert by[(1000.0, "dictionary indexing")].oracle_pair_accuracy == 0.9


def test_dose_table_carries_each_phases_recall_where_stored():
    stored = {**_row(250.0, "ce", 0.45), "recall_Ni": 0.5, "recall_Ni3Al": 0.3, "recall_Ni3Fe": 0.55}
    table = dose_table(dose_frame({"rows": [stored]}), pd.DataFrame())
    assert [c for c in table.columns if c.startswith("recall_")] == ["recall_Ni", "recall_Ni3Al", "recall_Ni3Fe"]
    assert table.loc[0, "recall_Ni3Al"] == 0.3
    older = dose_table(dose_frame({"rows": [_row(250.0, "ce", 0.45)]}), pd.DataFrame())
    assert not any(c.startswith("recall_") for c in older.columns)  # documents from before the recalls
    own = {**_row(250.0, "ce", 0.45), "recall_Ferrite": 0.9, "recall_Austenite": 0.8}  # a user's phase table
    columns = dose_table(dose_frame({"rows": [own]}), pd.DataFrame()).columns
    assert [c for c in columns if c.startswith("recall_")] == ["recall_Ferrite", "recall_Austenite"]
