"""Temperature and vector scaling: fitted on held-out patterns, folded into the classifier, ECE before and after."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ebsdlib.metrics import expected_calibration_error
from ebsdlib.train.temperature import (
    Calibrator,
    describe_calibrator,
    fit_calibrator,
    fit_temperature,
    rescale,
    softmax,
    stored_calibrator,
)


def overconfident(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of a 3-class model that is right 70 % of the time and always ~99 % sure."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(3, size=n)
    pred = np.where(rng.random(n) < 0.7, labels, (labels + rng.integers(1, 3, size=n)) % 3)
    logits = rng.normal(0, 0.3, (n, 3))
    logits[np.arange(n), pred] += 6.0
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True), labels


def test_an_overconfident_model_is_cooled_and_its_ece_falls():
    proba, labels = overconfident()
    before, _ = expected_calibration_error(proba, labels)
    t = fit_temperature(proba[:1500], labels[:1500])  # fitted on one half, judged on the other
    after, _ = expected_calibration_error(rescale(proba[1500:], t), labels[1500:])
    assert t > 2 and before > 0.25 and after < 0.05
    np.testing.assert_array_equal(rescale(proba, t).argmax(1), proba.argmax(1))  # accuracy unchanged
    np.testing.assert_allclose(rescale(proba, 1.0), proba, atol=1e-6)


def leaning(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw logits of a 3-class model that knows phase 1 for sure but cannot tell 0 from 2 and
    always says 2 at about 0.65 (the SupCon probe's Ni/Ni₃Fe lean)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(3, size=n)
    logits = rng.normal(0, 0.3, (n, 3))
    logits[labels == 1] += [0.0, 8.0, 0.0]
    logits[labels != 1] += [1.0, -4.0, 1.6]
    return logits, labels


def test_a_calibrator_folds_into_the_classifier_and_back():
    from ebsdlib.train.models import EBSDNet

    torch.manual_seed(0)
    model = EBSDNet(torch.nn.Flatten(), 4, 3).eval()
    x = torch.randn(5, 4)
    before = model(x).detach()
    cal = Calibrator("vector", (0.5, 2.0, 1.5), (0.3, -0.1, -0.2))
    cal.fold(model)
    centred = before - before.mean(dim=1, keepdim=True)  # a shift common to all phases changes nothing
    torch.testing.assert_close(model(x).detach(), centred * torch.tensor(cal.scale) + torch.tensor(cal.offset))
    # the folded float32 classifier against the float64 formula: float32 rounding, not double's tolerance
    torch.testing.assert_close(
        model(x).detach().double(), torch.from_numpy(cal.apply(before.double().numpy())), rtol=1e-5, atol=1e-6
    )
    cal.unfold(model)
    torch.testing.assert_close(model(x).detach(), centred)
    torch.testing.assert_close(torch.softmax(model(x), 1), torch.softmax(before, 1))
    Calibrator.from_temperature(2.5, 3).fold(model)
    torch.testing.assert_close(model(x).detach(), centred / 2.5)
    with pytest.raises(ValueError, match="the calibrator has 2 phases, the classifier 3"):
        Calibrator("vector", (1.0, 1.0), (0.0, 0.0)).fold(model)


def test_vector_scaling_undoes_a_lean_that_one_temperature_cannot():
    logits, labels = leaning()
    fit, held = slice(0, 2000), slice(2000, None)
    temperature = fit_calibrator(logits[fit], labels[fit], "temperature")
    vector = fit_calibrator(logits[fit], labels[fit], "vector")
    ece_t, _ = expected_calibration_error(softmax(temperature.apply(logits[held])), labels[held])
    ece_v, _ = expected_calibration_error(softmax(vector.apply(logits[held])), labels[held])
    assert ece_v < 0.03 and ece_t > ece_v + 0.03
    p, pair = softmax(vector.apply(logits[held])), labels[held] != 1
    assert p[pair, 2].mean() == pytest.approx(0.5, abs=0.05)  # the lean to phase 2 is taken back
    assert softmax(temperature.apply(logits[held]))[pair, 2].mean() > 0.55
    auto = fit_calibrator(logits[fit], labels[fit])
    assert auto.method == "vector" and auto.cv_nll["vector"] < auto.cv_nll["temperature"]
    assert "vector scaling" in describe_calibrator(auto.to_dict()) and "auto" in describe_calibrator(auto.to_dict())
    assert Calibrator.from_dict(auto.to_dict()) == auto
    assert stored_calibrator({"calibrator": auto.to_dict(), "temperature": None}, 3) == auto


def test_auto_takes_the_temperature_with_too_few_patterns_and_vector_needs_every_phase():
    logits, labels = leaning(n=12)
    assert fit_calibrator(logits, labels).method == "temperature"  # fewer than 2 per fold and phase
    with pytest.raises(ValueError, match=r"phases \[1\] have none"):
        fit_calibrator(logits[labels != 1], labels[labels != 1], "vector")
    with pytest.raises(ValueError, match="calibrator 'platt' is not one of"):
        fit_calibrator(logits, labels, "platt")


def test_too_few_or_unlabelled_patterns_are_refused():
    with pytest.raises(ValueError, match="needs at least two patterns with known labels, got 1"):
        fit_temperature(np.full((1, 3), 1 / 3), np.array([0]))
    with pytest.raises(ValueError, match=r"\(1 unknown\)"):
        fit_temperature(np.full((2, 3), 1 / 3), np.array([0, -1]))


def test_a_run_records_its_calibration_and_uses_it_everywhere(tiny_config, artifacts):
    from ebsdlib.train.checkpoint import load_checkpoint
    from ebsdlib.train.loop import train

    run = train(tiny_config(validation=True, epochs=2), progress=False)
    metrics = run.metrics()
    t = metrics["temperature"]
    assert t > 0 and metrics["calibration_split"] == "val" and metrics["calibration_held_out"] is True
    assert load_checkpoint(run.best_checkpoint)["temperature"] == t
    nll_before, nll_after = metrics["calibration_nll"]
    assert nll_after <= nll_before + 1e-9  # the fit never makes the validation NLL worse
    pred = run.predictions()
    proba = pred[[c for c in pred.columns if c.startswith("prob_")]].to_numpy()
    # predictions.csv holds calibrated probabilities; the ECE before is that of the same model at T = 1
    assert expected_calibration_error(proba, pred["true"].to_numpy())[0] == pytest.approx(metrics["ece"], abs=1e-4)
    before = rescale(proba, 1.0 / t)
    assert expected_calibration_error(before, pred["true"].to_numpy())[0] == pytest.approx(
        metrics["ece_uncalibrated"], abs=1e-3
    )
    assert isinstance(pred, pd.DataFrame)


def test_without_calibration_nothing_is_rescaled(tiny_config, artifacts):
    from ebsdlib.train.loop import train

    metrics = train(tiny_config(calibrate=False), progress=False).metrics()
    assert metrics["temperature"] is None and "ece_uncalibrated" not in metrics


def test_a_run_can_be_calibrated_by_vector_scaling(tiny_config, artifacts):
    from ebsdlib.train.checkpoint import load_checkpoint
    from ebsdlib.train.loop import train

    run = train(tiny_config(validation=True, epochs=1, calibrator="vector"), progress=False)
    metrics = run.metrics()
    assert metrics["temperature"] is None and metrics["calibrator"]["method"] == "vector"
    assert load_checkpoint(run.best_checkpoint)["calibration"]["calibrator"] == metrics["calibrator"]
    nll_before, nll_after = metrics["calibration_nll"]
    assert nll_after <= nll_before + 1e-9 and "ece_uncalibrated" in metrics
    pred = run.predictions()
    proba = pred[[c for c in pred.columns if c.startswith("prob_")]].to_numpy()
    assert expected_calibration_error(proba, pred["true"].to_numpy())[0] == pytest.approx(metrics["ece"], abs=1e-4)


def test_vector_scaling_without_every_phase_in_validation_keeps_the_run_and_says_why(tmp_path, tiny_config, artifacts):
    from ebsdlib.data.format import write_dataset
    from ebsdlib.train.loop import train
    from tests.train.conftest import DEFAULT_PHASES, make_patterns

    patterns, labels = make_patterns(48, seed=0)
    split = np.where(np.arange(48) % 4 == 3, 2, 0).astype(np.int8)
    split[(np.arange(48) % 4 == 1) & (labels != 2)] = 1  # no pattern of phase 2 in validation
    data = write_dataset(
        tmp_path / "no_phase2_in_val.h5", patterns, labels, DEFAULT_PHASES, provenance={"test": "x"}, split=split
    )
    run = train(tiny_config(data=str(data), validation=True, epochs=1, calibrator="vector"), progress=False)
    metrics = run.metrics()
    assert run.read_status().state == "completed" and metrics["calibrator"]["method"] == "temperature"
    note = metrics["calibration_note"]
    assert "phases [2] have none" in note and note.endswith("a temperature was fitted instead")
