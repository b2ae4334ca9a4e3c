"""The scaling table and its findings on the Benchmarks page."""

import pandas as pd

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
        "it learnt from the stream."
    )
    assert b == (
        "b: one budget only. Its loss on fresh patterns stayed at 1.090 (chance 1.099): within this "
        "budget it learnt nothing that holds on new patterns."
    )
    assert scaling_findings({"rows": []}) == [] and scaling_table({"rows": []}).empty
