"""Metrics against values computed by hand on a tiny example."""

import json

import numpy as np
import pytest

from ebsdlib.metrics import (
    bootstrap_accuracy_ci,
    compute_metrics,
    expected_calibration_error,
    hard_pair_confusion,
    normalize_confusion,
)

NAMES = ["Ni", "Ni3Al", "Ni3Fe"]

# six samples, the last with an unknown label; predictions are the row arg-max:
# true 0 → 0 (conf .8), 0 → 2 (.5), 1 → 1 (.7), 2 → 0 (.6), 2 → 2 (.8), unknown
Y = np.array([0, 0, 1, 2, 2, -1])
P = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.3, 0.2, 0.5],
        [0.1, 0.7, 0.2],
        [0.6, 0.1, 0.3],
        [0.1, 0.1, 0.8],
        [0.3, 0.3, 0.4],
    ]
)


def test_hand_computed_values():
    m = compute_metrics(Y, P, NAMES, n_boot=200, seed=1)
    assert m["n"] == 5 and m["n_unknown"] == 1
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["balanced_accuracy"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert m["confusion_matrix"] == [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
    assert m["per_class"]["Ni"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_class"]["Ni3Al"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert m["macro_f1"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    # top-2: sample 2 (true 0, probs .3/.2/.5) has 0 second; sample 4 (true 2, .6/.1/.3) has 2 second
    assert m["top2_accuracy"] == pytest.approx(1.0)
    # bins: .5 wrong, .6 wrong, .7 right, .8 right, .8 right → |0-.5|+|0-.6|+|1-.7|+2·|1-.8| over 5
    assert m["ece"] == pytest.approx((0.5 + 0.6 + 0.3 + 0.2 + 0.2) / 5)
    # Ni↔Ni3Fe: one true Ni predicted Ni3Fe, one true Ni3Fe predicted Ni, 4 true Ni or Ni3Fe
    assert m["ni_ni3fe_confusion"] == pytest.approx(2 / 4)
    assert m["ni_to_ni3fe"] == pytest.approx(1 / 2)
    assert m["ni3fe_to_ni"] == pytest.approx(1 / 2)
    json.dumps(m)  # serialisable as it is


def test_top2_misses_when_true_class_ranks_last():
    y = np.array([0, 1])
    p = np.array([[0.1, 0.5, 0.4], [0.2, 0.7, 0.1]])
    m = compute_metrics(y, p, NAMES, n_boot=10)
    assert m["top2_accuracy"] == pytest.approx(0.5)
    assert m["accuracy"] == pytest.approx(0.5)


def test_absent_class_and_never_predicted_class():
    y = np.array([0, 0, 2])
    p = P[:3]  # predictions 0, 2, 1
    m = compute_metrics(y, p, NAMES, n_boot=10)
    ni3al = m["per_class"]["Ni3Al"]
    assert ni3al["support"] == 0 and ni3al["recall"] is None and ni3al["f1"] is None
    assert ni3al["precision"] == 0.0  # predicted once, never right
    assert m["per_class"]["Ni3Fe"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.0) / 2)  # over present classes Ni, Ni3Fe
    assert np.array(m["confusion_matrix"]).shape == (3, 3)
    assert m["ni3fe_to_ni"] == 0.0 and m["ni_to_ni3fe"] == pytest.approx(0.5)
    json.dumps(m)


def test_hard_pair_undefined_without_the_phases():
    cm = np.array([[3, 1], [2, 4]])
    assert hard_pair_confusion(cm, ["A", "B"])["ni_ni3fe_confusion"] is None
    out = hard_pair_confusion(np.array([[5, 0], [0, 0]]), ["ni", "NI3FE"])
    assert out == {"ni_ni3fe_confusion": 0.0, "ni_to_ni3fe": 0.0, "ni3fe_to_ni": None}


def test_bootstrap_interval_contains_accuracy_and_is_seeded():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    p = rng.dirichlet(np.ones(3), 400)
    p[np.arange(300), y[:300]] += 2.0
    m = compute_metrics(y, p, NAMES, n_boot=500, seed=3)
    low, high = m["accuracy_ci95"]
    assert low < m["accuracy"] < high
    assert 0.02 < high - low < 0.2
    assert compute_metrics(y, p, NAMES, n_boot=500, seed=3)["accuracy_ci95"] == [low, high]
    assert bootstrap_accuracy_ci(10, 10) == (1.0, 1.0)


def test_ece_perfectly_calibrated_is_zero():
    # four samples at confidence 0.75 of which three are right
    p = np.array([[0.75, 0.25]] * 4)
    y = np.array([0, 0, 0, 1])
    ece, cal = expected_calibration_error(p, y)
    assert ece == pytest.approx(0.0)
    assert sum(cal["count"]) == 4 and len(cal["bin_edges"]) == 16


def test_normalize_confusion():
    cm = [[2, 2], [0, 0]]
    assert normalize_confusion(cm, "true").tolist() == [[0.5, 0.5], [0.0, 0.0]]
    assert normalize_confusion(cm, "pred").tolist() == [[1.0, 1.0], [0.0, 0.0]]
    with pytest.raises(ValueError, match="unknown normalisation 'rows'"):
        normalize_confusion(cm, "rows")


@pytest.mark.parametrize(
    ("y", "p", "match"),
    [
        (np.array([0, 3]), np.full((2, 3), 1 / 3), r"labels \[3\] are outside -1"),
        (np.array([0, 1]), np.full((2, 2), 0.5), r"proba has shape \(2, 2\) but 3 phase names"),
        (np.array([0]), np.full((2, 3), 1 / 3), "y_true has 1 labels but proba has 2 rows"),
        (np.array([-1, -1]), np.full((2, 3), 1 / 3), "no sample with a known label"),
        (np.array([0]), np.array([[np.nan, 0.5, 0.5]]), "NaN or infinite"),
    ],
)
def test_bad_inputs(y, p, match):
    with pytest.raises(ValueError, match=match):
        compute_metrics(y, p, NAMES)


def test_the_pair_chance_loss_is_the_loss_of_guessing_one_pair():
    from ebsdlib.metrics import pair_chance_loss

    # three balanced phases: sure of one (loss 0), 50/50 between the other two (ln 2 each)
    y = np.array([0, 1, 2] * 10)
    proba = np.tile([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.5, 0.5]], (10, 1))
    loss = -np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, 1)))
    assert pair_chance_loss(3) == pytest.approx(loss) == pytest.approx(0.4621, abs=1e-4)
    assert pair_chance_loss(2) == pytest.approx(np.log(2))
    with pytest.raises(ValueError, match="n_classes 1"):
        pair_chance_loss(1)


def test_a_log_trend_finds_where_a_straight_line_in_log_patterns_meets_its_target():
    from ebsdlib.metrics import log_trend

    # exactly 0.1 per tenfold: 0.5 at 10⁴ … 0.7 at 10⁶, so 0.9 is reached at 10⁸ with no scatter
    exact = log_trend([1e4, 1e5, 1e6], [0.5, 0.6, 0.7], target=0.9)
    assert exact.slope == pytest.approx(0.1) and exact.r == pytest.approx(1.0)
    assert exact.patterns_needed == pytest.approx(1e8)
    assert exact.patterns_low == pytest.approx(1e8) and exact.patterns_high == pytest.approx(1e8)
    # scatter widens the interval; the steeper slope reaches the target sooner
    noisy = log_trend([1e4, 1e5, 1e5, 1e6], [0.5, 0.58, 0.62, 0.7], target=0.9)
    assert noisy.slope_low < noisy.slope < noisy.slope_high
    assert noisy.patterns_low < noisy.patterns_needed < noisy.patterns_high
    # points on a line by luck: their own measurement error still widens the interval (normal, known sd)
    sd = [0.03, 0.03, 0.03]
    luck = log_trend([1e4, 1e5, 1e6], [0.5, 0.6, 0.7], target=0.9, score_sd=sd)
    half = 1.959964 * 0.03 / np.sqrt(2)  # Σ(x − x̄)² = 2 for log10 budgets 4, 5, 6
    assert luck.slope == pytest.approx(0.1) and luck.slope_high - luck.slope == pytest.approx(half, rel=1e-5)
    assert luck.patterns_low < 1e8 < luck.patterns_high
    # scatter larger than the stated error keeps the residual interval
    assert log_trend([1e4, 1e5, 1e5, 1e6], [0.5, 0.58, 0.62, 0.7], target=0.9, score_sd=[1e-4] * 4) == noisy
    with pytest.raises(ValueError, match="one finite standard error"):
        log_trend([1e4, 1e5, 1e6], [0.5, 0.6, 0.7], target=0.9, score_sd=[0.03, -1.0, 0.03])
    # a slope whose interval reaches zero or below is not bounded above
    flat = log_trend([1e4, 1e5, 1e6], [0.5, 0.7, 0.5], target=0.9)
    assert flat.slope == pytest.approx(0.0) and flat.patterns_needed is None and flat.patterns_high is None
    for patterns, scores, match in [
        ([1e4, 1e5], [0.5, 0.6], "2 points"),
        ([1e4, 1e4, 1e4], [0.5, 0.6, 0.7], "two distinct budgets"),
        ([0, 1e5, 1e6], [0.5, 0.6, 0.7], "budgets above 0"),
        ([1e4, 1e5, 1e6], [0.5, 0.6], "one score per budget"),
    ]:
        with pytest.raises(ValueError, match=match):
            log_trend(patterns, scores, target=0.9)
    with pytest.raises(ValueError, match=r"confidence 1\.5"):
        log_trend([1e4, 1e5, 1e6], [0.5, 0.6, 0.7], target=0.9, confidence=1.5)
