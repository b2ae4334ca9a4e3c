"""The scaling table and its findings on the Benchmarks page."""

import numpy as np
import pandas as pd
import pytest

from ebsdlib.views.scaling import scaling_findings, scaling_table

DOC = {
    "oracle": [{"dose": 4000.0, "oracle_Ni_vs_Ni3Fe": 0.875}],
    "rows": [
        {
            "model": "a",
            "parameters": 10,
            "patterns_seen": 1_000,
            "accuracy": 0.40,
            "accuracy_low": 0.35,
            "accuracy_high": 0.45,
            "pair_accuracy": 0.55,
            "train_patterns_per_second": 100.0,
        },
        {
            "model": "a",
            "parameters": 10,
            "patterns_seen": 100_000,
            "accuracy": 0.60,
            "accuracy_low": 0.55,
            "accuracy_high": 0.65,
            "pair_accuracy": 0.70,
            "train_loss_first": 1.10,
            "train_loss_last": 0.80,
            "chance_loss": 1.0986,
            "train_patterns_per_second": 120.0,
        },
        {
            "model": "b",
            "parameters": 99,
            "patterns_seen": 1_000,
            "accuracy": 0.33,
            "accuracy_low": None,
            "accuracy_high": None,
            "pair_accuracy": None,
            "train_loss_first": 1.11,
            "train_loss_last": 1.09,
            "chance_loss": 1.0986,
            "train_patterns_per_second": 50.0,
        },
    ],
}


def test_the_table_has_a_row_per_model_and_budget_beside_the_ideal_matcher():
    table = scaling_table(DOC)
    assert list(table["model"]) == ["a", "a", "b"] and list(table["patterns seen"]) == [1_000, 100_000, 1_000]
    assert table.loc[1, "accuracy"] == "0.600 [0.55, 0.65]" and table.loc[2, "accuracy"] == "0.330"
    assert (table["ideal matcher's pair accuracy"] == 0.875).all()
    losses = table["stream loss, first → last epoch"]
    assert pd.isna(losses[0]) and losses[1] == "1.100 → 0.800 (chance 1.099)"


def test_findings_give_the_slope_and_the_gap_to_the_ideal_matcher():
    a, b = scaling_findings(DOC)
    assert a == (
        "a: +0.100 accuracy per tenfold more patterns; at 100,000 patterns its Ni/Ni₃Fe pair accuracy 0.70 is "
        "0.18 below the ideal matcher's 0.88. Its loss on fresh patterns fell to 0.800 (chance 1.099): "
        "it learnt from the stream, but not the pair: 0.462 is the loss of a network sure of the other phases "
        "that guesses between two, so at this budget its loss shows no sign of the last pair."
    )
    assert b == (
        "b: one budget only. Its loss on fresh patterns stayed at 1.090 (chance 1.099): within this "
        "budget it learnt nothing that holds on new patterns."
    )
    assert scaling_findings({"rows": []}) == [] and scaling_table({"rows": []}).empty
    past = {**DOC, "rows": [{**DOC["rows"][1], "train_loss_last": 0.30}]}
    assert scaling_findings(past)[0].endswith(
        "fell to 0.300 (chance 1.099): it learnt from the stream, below 0.462 (sure of all but one pair, "
        "guessing that pair): it reads part of the pair."
    )


def test_conditions_are_read_per_folder_and_sorted_by_what_the_patterns_were(tmp_path):
    from ebsdlib.io import write_json
    from ebsdlib.views.bench import conditions_dir, load_conditions
    from ebsdlib.views.scaling import conditions_table

    folder = conditions_dir("scaling", tmp_path)
    row = {**DOC["rows"][1], "recall_Ni3Al": 0.98}
    write_json(
        folder / "b-128" / "scaling.json",
        {**DOC, "config": {"forward_model": "dynamical", "dose": 4000.0, "pattern_size": 128}, "rows": [row]},
    )
    write_json(
        folder / "a-64-in128" / "scaling.json",
        {
            **DOC,
            "config": {"forward_model": "dynamical", "dose": 4000.0, "pattern_size": 64, "input_size": 128},
            "rows": [{**row, "input_size": 128}],
        },
    )
    pc0 = {"forward_model": "dynamical", "dose": 4000.0, "pattern_size": 128, "pc_spread": 0.0, "augment": False}
    write_json(folder / "c-128-pc0" / "scaling.json", {**DOC, "config": pc0, "rows": [row]})
    (folder / "broken").mkdir()
    (folder / "broken" / "scaling.json").write_text("{not json")
    docs, problems = load_conditions("scaling", tmp_path)
    assert list(docs) == ["a-64-in128", "b-128", "c-128-pc0"]
    assert len(problems) == 1 and "broken/scaling.json cannot be read" in problems[0]
    table = conditions_table(docs)
    assert list(table["condition"]) == ["a-64-in128", "c-128-pc0", "b-128"]  # size 64 first, then PC σ 0
    assert table.loc[1, "PC σ"] == 0.0 and table.loc[1, "flips"] == "no"
    table = table.drop(1).reset_index(drop=True)
    assert list(table["network input px"]) == [128, 128] and list(table["pattern px"]) == [64, 128]
    assert table.loc[1, "Ni₃Al recall"] == 0.98 and table.loc[1, "ideal matcher's pair accuracy"] == 0.875
    assert table.loc[1, "stream loss, first → last epoch"] == "1.100 → 0.800 (chance 1.099)"
    assert list(table["PC σ"]) == [0.01, 0.01] and list(table["flips"]) == ["yes", "yes"]  # stored before both
    assert conditions_table({}).empty and load_conditions("scaling", tmp_path / "none") == ({}, [])


def test_the_committed_conditions_say_where_the_network_learnt():
    from pathlib import Path

    from ebsdlib.views.bench import load_conditions
    from ebsdlib.views.scaling import conditions_table

    docs, problems = load_conditions("scaling", Path(__file__).resolve().parents[2] / "artifacts")
    assert not problems
    table = conditions_table(docs).set_index("condition")
    learnt = table["stream loss, first → last epoch"].str.extract(r"→ ([\d.]+)")[0].astype(float) < 1.07
    assert learnt["dynamical-4000-128px-100k"] and learnt["kinematical-1000000"]
    assert not learnt["dynamical-4000-64px-in128-100k"] and not learnt["dynamical-4000"]


def test_the_stream_loss_curves_put_each_epoch_at_its_patterns_seen():
    from ebsdlib.views.scaling import stream_loss_figure, stream_loss_frame

    curve = {**DOC["rows"][1], "train_loss_curve": [1.1, 0.6, 0.4], "patterns_per_epoch": 1000}
    frame = stream_loss_frame({"run-a": {**DOC, "rows": [curve, DOC["rows"][0]]}, "empty": {"rows": []}})
    assert list(frame["patterns seen"]) == [1000, 2000, 3000] and list(frame["loss"]) == [1.1, 0.6, 0.4]
    assert (frame["condition"] == "run-a").all()  # the row without a curve gives nothing
    assert frame["one pair guessed"].iloc[0] == pytest.approx(2 / 3 * np.log(2))
    fig = stream_loss_figure(frame)
    (trace,) = fig.data
    assert list(trace.x) == [1000, 2000, 3000] and trace.name == "run-a (a)"
    lines = sorted(shape.y0 for shape in fig.layout.shapes)
    assert lines == pytest.approx([2 / 3 * np.log(2), 1.0986])  # the pair floor and chance
    assert stream_loss_frame({}).empty


def test_the_committed_conditions_say_where_the_network_began_on_the_pair():
    from pathlib import Path

    from ebsdlib.views.bench import load_conditions
    from ebsdlib.views.scaling import scaling_findings, stream_loss_frame

    docs, _ = load_conditions("scaling", Path(__file__).resolve().parents[2] / "artifacts")
    began = {name: "it reads part of the pair" in " ".join(scaling_findings(doc)) for name, doc in docs.items()}
    assert began["dynamical-4000-128px-1m"]
    assert not any(began[n] for n in ("dynamical-4000-128px-200k", "dynamical-4000-128px-200k-pc0"))
    curve = stream_loss_frame({"1m": docs["dynamical-4000-128px-1m"]})
    assert len(curve) == 200 and curve["patterns seen"].max() == 998_400
    below = curve["loss"].rolling(5).mean() < curve["one pair guessed"]
    assert below.iloc[-1] and not below.iloc[:100].any()  # crossed in the second half of the budget


def _budget_doc(patterns: int, pair: float, **config) -> dict:
    cfg = {"forward_model": "dynamical", "dose": 4000.0, "pattern_size": 128, "n_per_phase": 200, **config}
    row = {**DOC["rows"][1], "patterns_seen": patterns, "pair_accuracy": pair, "train_patterns_per_second": 200.0}
    return {**DOC, "config": cfg, "environment": {"device": "cpu"}, "rows": [row]}


def test_networks_that_differ_only_in_budget_form_one_pair_trend():
    from ebsdlib.views.scaling import pair_trend_figure, pair_trends, trend_findings

    docs = {
        "10k": _budget_doc(10_000, 0.50),
        "100k": _budget_doc(100_000, 0.55),
        "1m": _budget_doc(1_000_000, 0.60),
        "1m-pc0": _budget_doc(1_000_000, 0.95, pc_spread=0.0),  # another setting: not on the trend
        "64px": _budget_doc(10_000, 0.50, pattern_size=64),
    }
    (trend,) = pair_trends(docs)
    assert trend.conditions == ("10k", "100k", "1m") and trend.patterns_seen == (10_000, 100_000, 1_000_000)
    assert trend.oracle == 0.875 and trend.trend.target == pytest.approx(0.825)
    # 0.05 per tenfold from 0.60 at 10⁶: 0.825 at 10^(6 + 4.5)
    assert trend.trend.patterns_needed == pytest.approx(10**10.5)
    (line,) = trend_findings([trend])
    assert line == (
        "a (dynamical, 4,000 e⁻/px, 128 px): Ni/Ni₃Fe pair accuracy +0.050 per tenfold more patterns "
        "[+0.050, +0.050] over 3 networks (1.0×10⁴ to 1.0×10⁶ patterns, r = 1.00). If the trend holds, it "
        "reaches 0.82 (the ideal matcher's 0.88 less 0.05) at about 3.2×10¹⁰ patterns (3.2×10¹⁰ to 3.2×10¹⁰): "
        "1,830 days at the 200 patterns/s measured on the CPU."
    )
    fig = pair_trend_figure([trend])
    markers, fitted = fig.data
    assert list(markers.x) == [10_000, 100_000, 1_000_000] and fitted.x[-1] == pytest.approx(10**10.5)
    assert fitted.y[-1] == pytest.approx(0.825) and sorted(s.y0 for s in fig.layout.shapes) == [0.825, 0.875]
    reached = {**docs, "1m": _budget_doc(1_000_000, 0.90)}
    assert trend_findings(pair_trends(reached))[0].endswith("it has reached 0.82 (the ideal matcher's 0.88 less 0.05).")
    assert pair_trends({k: docs[k] for k in ("10k", "100k")}) == []  # two budgets: no trend
    # with the test split's size the interval allows for each score's binomial error (balanced, 3 phases)
    counted = {k: docs[k] for k in ("10k", "100k", "1m")}
    for doc in counted.values():
        doc["rows"] = [{**doc["rows"][0], "n_test": 300, "recall_Ni": 0.5, "recall_Ni3Al": 1.0, "recall_Ni3Fe": 0.5}]
    (wide,) = pair_trends(counted)
    sd = np.sqrt(np.array([0.5 * 0.5, 0.55 * 0.45, 0.6 * 0.4]) / 200)
    half = 1.959964 * np.sqrt(sd[0] ** 2 + sd[2] ** 2) / 2  # centred log budgets −1, 0, 1: Σ c² sd² / (Σ c²)²
    assert wide.trend.slope_high - wide.trend.slope == pytest.approx(half, rel=1e-5)
    counted["1m"]["rows"][0]["pair_n"] = 20  # recorded: used instead of the split's share
    assert pair_trends(counted)[0].trend.slope_high > wide.trend.slope_high


def test_the_committed_conditions_give_a_pair_trend_at_128_px():
    from pathlib import Path

    from ebsdlib.views.bench import load_conditions
    from ebsdlib.views.scaling import pair_trends

    docs, _ = load_conditions("scaling", Path(__file__).resolve().parents[2] / "artifacts")
    trend = next(t for t in pair_trends(docs) if t.label.startswith("lcnet_050 (dynamical, 4,000 e⁻/px, 128 px)"))
    assert "dynamical-4000-128px-1m" in trend.conditions and "dynamical-4000-128px-200k-pc0" not in trend.conditions
    assert 0 < trend.trend.slope_low < trend.trend.slope and trend.trend.patterns_needed > 1e6


def test_models_trained_on_the_same_budget_and_settings_are_set_side_by_side():
    from ebsdlib.views.scaling import model_size_table

    small = _budget_doc(200_000, 0.56)
    large = _budget_doc(200_000, 0.70)
    large["rows"] = [{**large["rows"][0], "model": "big", "parameters": 4_000_000, "train_loss_last": 0.40}]
    other = _budget_doc(200_000, 0.90, pattern_size=64)  # other settings: compared with nothing
    other["rows"] = [{**other["rows"][0], "model": "big"}]
    table = model_size_table({"large": large, "small": small, "other": other})
    assert list(table["model"]) == ["a", "big"] and list(table["condition"]) == ["small", "large"]  # smallest first
    assert list(table["Ni/Ni₃Fe pair accuracy"]) == [0.56, 0.70]
    assert list(table["stream loss, last epoch"]) == [0.8, 0.4]
    assert (table["settings"] == "dynamical, 4,000 e⁻/px, 128 px").all() and (table["patterns seen"] == 200_000).all()
    assert model_size_table({"small": small}).empty
    bare = {name: {"rows": doc["rows"]} for name, doc in {"small": small, "large": large}.items()}  # no config
    settings = model_size_table(bare)["settings"].iloc[0]
    assert settings == "forward model not recorded, dose not recorded, size not recorded"


def test_the_committed_conditions_compare_three_model_sizes_at_one_budget():
    from pathlib import Path

    from ebsdlib.views.bench import load_conditions
    from ebsdlib.views.scaling import model_size_table

    docs, _ = load_conditions("scaling", Path(__file__).resolve().parents[2] / "artifacts")
    table = model_size_table(docs)
    at_200k = table[(table["patterns seen"] == 199_680) & (table["settings"] == "dynamical, 4,000 e⁻/px, 128 px")]
    assert list(dict.fromkeys(at_200k["model"])) == ["lcnet_050", "lcnet_100", "efficientnet_b0"]  # smallest first


def test_series_with_other_reference_lines_each_get_theirs_named():
    from ebsdlib.views.scaling import pair_trend_figure, pair_trends, stream_loss_figure, stream_loss_frame

    budgets = (10_000, 100_000, 1_000_000)
    low = {b: _budget_doc(b, pair, dose=250.0) for b, pair in zip(budgets, (0.5, 0.52, 0.55), strict=True)}
    for doc in low.values():
        doc["oracle"] = [{"dose": 250.0, "oracle_Ni_vs_Ni3Fe": 0.75}]
    high = {f"{b}-4000": _budget_doc(b, 0.5 + i / 20) for i, b in enumerate(budgets)}
    trends = pair_trends({**{f"{b}-250": d for b, d in low.items()}, **high})
    assert len(trends) == 2
    fig = pair_trend_figure(trends)
    lines = {round(s.y0, 3): a.text for s, a in zip(fig.layout.shapes, fig.layout.annotations, strict=True)}
    assert set(lines) == {0.875, 0.825, 0.75, 0.7}
    assert "4,000 e⁻/px" in lines[0.875] and "250 e⁻/px" in lines[0.7] and "4,000" not in lines[0.7]
    # one shared pair of lines names no series
    (one,) = pair_trends(high)
    assert [a.text for a in pair_trend_figure([one]).layout.annotations] == ["ideal matcher 0.88", "goal 0.82"]

    curve = {**DOC["rows"][1], "train_loss_curve": [1.1, 0.6], "patterns_per_epoch": 1000}
    two_phases = {**curve, "chance_loss": float(np.log(2))}
    frame = stream_loss_frame({"three": {**DOC, "rows": [curve]}, "two<": {**DOC, "rows": [two_phases]}})
    texts = [a.text for a in stream_loss_figure(frame).layout.annotations]
    assert len(texts) == 4 and texts[0] == "chance 1.099 (three)" and "(two&lt;)" in texts[2]
