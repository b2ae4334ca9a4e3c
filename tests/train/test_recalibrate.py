"""``ebsdlib calibrate``: a run's calibration fitted again on patterns it never saw, and the run re-evaluated."""

from __future__ import annotations

import pytest

from ebsdlib.train.checkpoint import load_checkpoint
from ebsdlib.train.evaluate import evaluate_run
from ebsdlib.train.loop import train
from ebsdlib.train.recalibrate import recalibrate
from ebsdlib.train.temperature import Calibrator
from tests.train.conftest import write_tiny


@pytest.fixture
def trained(tiny_config, artifacts):
    """A train+validation run calibrated the old way: on the validation split it trained on."""
    run = train(tiny_config(validation=False, calibration_holdout=0.0, epochs=2), progress=False)
    assert run.metrics()["calibration_held_out"] is False
    return run


def test_a_run_is_calibrated_again_on_unseen_patterns(trained, tmp_path):
    before = trained.metrics()
    held_out = write_tiny(tmp_path / "unseen.h5", n=60, seed=5)  # the same kind of patterns, other draws
    metrics = recalibrate(trained, held_out, calibrator="temperature", progress=False)
    assert metrics["calibration_held_out"] is True and metrics["calibration_split"] == "unseen.h5"
    replaced = Calibrator.from_dict(metrics["replaced_calibrator"])
    assert metrics["calibration_patterns"] == 60 and replaced.temperature == pytest.approx(before["temperature"])
    assert metrics["temperature"] != before["temperature"]
    nll_raw, nll_fitted = metrics["calibration_nll"]
    assert nll_fitted <= nll_raw  # the fit can only lower the NLL on the set it is fitted on
    assert load_checkpoint(trained.best_checkpoint)["temperature"] == metrics["temperature"]
    assert trained.metrics()["temperature"] == metrics["temperature"] and trained.metrics()["ece"] == metrics["ece"]
    assert metrics["accuracy"] == before["accuracy"]  # a temperature never changes the arg-max
    again = evaluate_run(trained, progress=False)  # the stored weights carry the new temperature
    assert again["ece"] == pytest.approx(metrics["ece"]) and again["temperature"] == metrics["temperature"]
    # the old temperature was undone exactly: a second call sees the same raw probabilities
    second = recalibrate(trained, held_out, calibrator="temperature", progress=False)
    assert second["calibration_nll"][0] == pytest.approx(nll_raw, rel=1e-3)
    assert second["temperature"] == pytest.approx(metrics["temperature"], rel=1e-3)


def test_vector_scaling_is_stored_undone_exactly_and_recorded(trained, tmp_path):
    held_out = write_tiny(tmp_path / "unseen.h5", n=60, seed=5)
    first = recalibrate(trained, held_out, calibrator="vector", progress=False)
    assert first["temperature"] is None and first["calibrator"]["method"] == "vector"
    assert load_checkpoint(trained.best_checkpoint)["calibration"]["calibrator"] == first["calibrator"]
    nll_raw, nll_fitted = first["calibration_nll"]
    assert nll_fitted <= nll_raw
    # the ECE before is that of the raw logits, recovered from the features: a re-evaluation agrees
    again = evaluate_run(trained, progress=False)
    assert again["calibrator"] == first["calibrator"]
    assert again["ece_uncalibrated"] == pytest.approx(first["ece_uncalibrated"], abs=1e-6)
    # undone exactly: fitted again from the same raw logits, auto compares both and records why
    auto = recalibrate(trained, held_out, progress=False)
    assert auto["calibration_nll"][0] == pytest.approx(nll_raw, rel=1e-4)
    assert auto["replaced_calibrator"]["method"] == "vector"
    cv = auto["calibrator"]["cv_nll"]
    assert set(cv) == {"temperature", "vector"} and auto["calibrator"]["method"] == min(cv, key=cv.get)
    with pytest.raises(ValueError, match="calibrator 'isotonic' is not one of"):
        recalibrate(trained, held_out, calibrator="isotonic", progress=False)


def test_the_runs_own_data_or_too_few_patterns_are_refused(trained, tiny_data, tmp_path):
    with pytest.raises(ValueError, match=r"tiny\.h5: this is the data set run .* was trained on"):
        recalibrate(trained, tiny_data, progress=False)
    with pytest.raises(ValueError, match=r"split 'everything' is not allowed"):
        recalibrate(trained, write_tiny(tmp_path / "x.h5", seed=9), "everything", progress=False)


def test_a_compacted_checkpoint_keeps_its_arg_max_and_a_float32_classifier(trained, tmp_path):
    import torch

    from ebsdlib.demo import compact_checkpoint

    compact_checkpoint(trained)  # the committed demo's fp16 checkpoints
    before = evaluate_run(trained, progress=False)
    predicted = trained.predictions()["pred"].tolist()
    held_out = write_tiny(tmp_path / "unseen.h5", n=60, seed=5)
    metrics = recalibrate(trained, held_out, calibrator="temperature", progress=False)  # keeps the arg-max
    weights = load_checkpoint(trained.best_checkpoint)["model"]
    assert weights["classifier.weight"].dtype == torch.float32
    assert any(v.dtype == torch.float16 for k, v in weights.items() if not k.startswith("classifier."))
    assert metrics["accuracy"] == before["accuracy"] and trained.predictions()["pred"].tolist() == predicted
