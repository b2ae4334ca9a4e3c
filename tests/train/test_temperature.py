"""Temperature scaling: fitted on held-out patterns, folded into the classifier, ECE before and after."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ebsdlib.metrics import expected_calibration_error
from ebsdlib.train.temperature import fit_temperature, fold_into_classifier, rescale


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


def test_fold_into_classifier_divides_the_logits():
    from ebsdlib.train.models import EBSDNet

    model = EBSDNet(torch.nn.Flatten(), 4, 3).eval()
    x = torch.randn(5, 4)
    before = model(x)
    fold_into_classifier(model, 2.5)
    torch.testing.assert_close(model(x), before / 2.5)


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
