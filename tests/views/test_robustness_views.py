"""The robustness table and its plain-words findings on the Benchmarks page."""

import pandas as pd

from ebsdlib.views.robustness import TRANSFER_TARGET, robustness_findings, robustness_frame, robustness_table


def _row(training, test, accuracy, low, high, ni):
    return dict(
        training=training,
        test=test,
        accuracy=accuracy,
        accuracy_low=low,
        accuracy_high=high,
        recall_Ni=ni,
        recall_Ni3Al=accuracy,
        recall_Ni3Fe=accuracy,
        patterns_seen=24000,
    )


DOC = {
    "rows": [
        _row("dynamical", "dynamical", 0.90, 0.85, 0.94, 0.97),
        _row("dynamical", "kinematical", 0.60, 0.52, 0.67, 0.96),
        _row("kinematical", "dynamical", 0.40, 0.33, 0.47, 0.50),
        _row("kinematical", "kinematical", 0.36, 0.30, 0.42, 0.40),
    ]
}


def test_the_table_puts_training_in_rows_and_test_sets_in_columns():
    table = robustness_table(robustness_frame(DOC))
    assert list(table["trained on"]) == ["dynamical", "kinematical"]
    assert table.loc[0, "accuracy on kinematical"] == "0.600 [0.52, 0.67]"
    assert table.loc[1, "Ni called Ni, dynamical"] == 0.5 and table.loc[0, "patterns seen"] == 24000


def test_findings_judge_the_transfer_target_and_flag_a_network_at_chance():
    lines = robustness_findings(robustness_frame(DOC))
    transfer = [line for line in lines if "Ni patterns Ni" in line]
    assert len(transfer) == 2  # each network on the other forward model
    assert "calls 96% of kinematical Ni patterns Ni (meets the 95% target)" in transfer[0]
    assert "against 0.90 on its own kind" in transfer[0]
    assert "calls 50% of dynamical Ni patterns Ni (misses the 95% target)" in transfer[1]
    chance = [line for line in lines if "not above chance" in line]
    assert len(chance) == 1 and chance[0].startswith("The kinematical network")  # 0.30–0.47 reaches 1/3
    assert TRANSFER_TARGET == 0.95


def test_an_empty_document_gives_an_empty_table():
    frame = robustness_frame({"rows": []})
    assert isinstance(frame, pd.DataFrame) and robustness_findings(frame) == []


def test_conditions_stack_one_table_per_condition_with_its_settings():
    from ebsdlib.views.robustness import conditions_table

    row = {"training": "dynamical", "test": "kinematical", "accuracy": 0.33, "recall_Ni": 0.0, "patterns_seen": 10}
    docs = {"a": {"config": {"pattern_size": 128, "dose": 64000.0}, "rows": [row]}, "empty": {"rows": []}}
    table = conditions_table(docs)
    assert list(table["condition"]) == ["a"] and table.loc[0, "pattern px"] == 128
    assert table.loc[0, "Ni called Ni, kinematical"] == 0.0 and table.loc[0, "accuracy on kinematical"] == "0.330"
    assert conditions_table({}).empty


def _matched(templates, test, accuracy, ni, pair):
    return dict(
        templates=templates,
        test=test,
        accuracy=accuracy,
        accuracy_low=accuracy - 0.03,
        accuracy_high=min(1.0, accuracy + 0.03),
        recall_Ni=ni,
        pair_accuracy=pair,
    )


MATCHED = {
    "config": {"pattern_size": 128, "dose": 64000.0},
    "ideal_matcher": [
        _matched("dynamical", "dynamical", 1.0, 1.0, 1.0),
        _matched("dynamical", "kinematical", 0.333, 0.0, None),  # every pattern called Ni₃Al: no pair calls
        _matched("kinematical", "dynamical", 0.43, 0.2, 0.49),
        _matched("kinematical", "kinematical", 1.0, 1.0, 1.0),
    ],
}


def test_the_ideal_matcher_table_puts_templates_in_rows_and_test_sets_in_columns():
    from ebsdlib.views.robustness import matcher_conditions_table, matcher_table

    table = matcher_table(MATCHED)
    assert list(table["templates from"]) == ["dynamical", "kinematical"]
    assert table.loc[0, "accuracy on kinematical"] == "0.333 [0.30, 0.36]"
    assert table.loc[1, "Ni called Ni, dynamical"] == 0.2 and table.loc[1, "Ni/Ni₃Fe pair, dynamical"] == 0.49
    assert pd.isna(table.loc[0, "Ni/Ni₃Fe pair, kinematical"])
    assert matcher_table({"rows": []}).empty  # a benchmark from before the matcher
    stacked = matcher_conditions_table({"128px": MATCHED, "old": {"rows": []}})
    assert list(stacked["condition"]) == ["128px", "128px"] and set(stacked["pattern px"]) == {128}


def test_the_ideal_matcher_findings_judge_the_transfer_target():
    from ebsdlib.views.robustness import matcher_findings

    lines = matcher_findings(MATCHED)
    assert len(lines) == 3
    assert lines[0].startswith("The ideal matcher (true orientation and pattern centre known) with dynamical templates")
    assert "calls 0% of kinematical Ni patterns Ni, accuracy 0.33 on kinematical patterns against 1.00" in lines[0]
    assert "calls 20% of dynamical Ni patterns Ni" in lines[1]
    assert "differ by more than the phases do" in lines[2] and "called Ni at 20% at best" in lines[2]
    agreeing = {"ideal_matcher": [_matched("dynamical", "kinematical", 0.9, 0.97, 0.95)]}
    assert len(matcher_findings(agreeing)) == 1  # at the target: no verdict on the forward models
    assert matcher_findings({"rows": []}) == []


def test_conditions_with_the_same_test_sets_show_their_matcher_once():
    from ebsdlib.views.robustness import distinct_matchers

    timed = {**MATCHED, "ideal_matcher": [{**r, "seconds": 9.0} for r in MATCHED["ideal_matcher"]]}
    other = {**MATCHED, "config": {"pattern_size": 64, "dose": 64000.0}, "ideal_matcher": MATCHED["ideal_matcher"][:2]}
    merged = distinct_matchers({"128px": MATCHED, "128px-randomised": timed, "64px": other, "old": {"rows": []}})
    assert list(merged) == ["128px, 128px-randomised", "64px"]  # the time taken is not a result
    assert merged["64px"] is other
