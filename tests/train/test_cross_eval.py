"""Evaluating a run on another data set: phases matched by name or formula, results under evaluations/."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ebsdlib.data.format import write_dataset
from ebsdlib.phases import DEFAULT_PHASES, Phase
from ebsdlib.train.cross_eval import evaluate_on, evaluation_name, list_evaluations
from ebsdlib.train.loop import train

from .conftest import make_patterns, write_tiny


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_data):
    from ebsdlib.data.preprocess import PreprocessConfig
    from ebsdlib.train.config import TrainConfig

    root = tmp_path_factory.mktemp("cross")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EBSDLIB_ARTIFACTS", str(root))
        config = TrainConfig(
            data=str(tiny_data),
            model="test_efficientnet",
            epochs=3,
            batch_size=8,
            lr=3e-3,
            device="cpu",
            umap=False,
            eval_batch_size=16,
            validation=True,
            preprocess=PreprocessConfig(size=24),
        )
        return train(config, progress=False, root=root), root


def test_a_run_is_evaluated_on_other_data_with_phases_matched_by_formula(trained, tmp_path):
    run, _ = trained
    # the same kind of patterns, but the phases listed in another order and Ni3Fe written FeNi3
    patterns, labels = make_patterns(30, seed=5)
    ni, ni3al, ni3fe = DEFAULT_PHASES
    order = (replace(ni3fe, name="FeNi3"), ni, ni3al)  # file label 0 = FeNi3 …
    relabel = np.array([1, 2, 0])[labels]  # … so a stripe of class k gets the file label of that phase
    other = write_dataset(tmp_path / "experiment.h5", patterns, relabel.astype(np.int16), order, provenance={})
    metrics = evaluate_on(run, other, device="cpu", progress=False)
    folder = run.path / "evaluations" / "experiment"
    assert list_evaluations(run) == {"experiment": folder}
    assert metrics["split"] == "all" and metrics["n"] == 30 and metrics["data_phases"] == ["FeNi3", "Ni", "Ni3Al"]
    assert metrics["phase_names"] == ["Ni", "Ni3Al", "Ni3Fe"]  # the run's table
    pred = pd.read_csv(folder / "predictions.csv")
    np.testing.assert_array_equal(pred["true"], labels)  # re-indexed into the run's phases
    own = run.metrics()["accuracy"]
    assert metrics["accuracy"] >= own - 0.25  # the same stripes, relabelled: the model still reads them
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["temperature"] == run.metrics()["temperature"] and "ece_uncalibrated" in saved
    assert saved["data"].endswith("experiment.h5")


def test_one_split_of_the_other_data_set(trained, tmp_path):
    run, _ = trained
    other = write_tiny(tmp_path / "more.h5", n=24, seed=9)
    metrics = evaluate_on(run, other, "test", device="cpu", progress=False)
    assert metrics["split"] == "test" and metrics["n"] == 6
    assert (run.path / "evaluations" / "more-test" / "metrics.json").is_file()


def test_unknown_phases_unlabelled_data_and_bad_splits_are_refused(trained, tmp_path):
    run, _ = trained
    patterns, labels = make_patterns(9)
    cu = Phase("Cu", 225, 3.615, "#b87333")
    strange = write_dataset(
        tmp_path / "cu.h5", patterns, labels, (DEFAULT_PHASES[0], DEFAULT_PHASES[1], cu), provenance={}
    )
    with pytest.raises(ValueError, match=r"cu\.h5: its phases \['Cu'\] are not among the run's"):
        evaluate_on(run, strange, device="cpu", progress=False)
    unlabelled = write_dataset(tmp_path / "scan.h5", patterns, np.full(9, -1, np.int16), DEFAULT_PHASES, provenance={})
    with pytest.raises(ValueError, match=r"scan\.h5: the data set has no labelled patterns"):
        evaluate_on(run, unlabelled, device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"split 'holdout' is not allowed"):
        evaluate_on(run, unlabelled, "holdout", device="cpu", progress=False)
    assert not (run.path / "evaluations" / "cu").exists()


def test_evaluation_names_never_meet_the_own_split_folders():
    assert evaluation_name("a/b/real.h5", None) == "real" and evaluation_name("real.h5", "val") == "real-val"
    assert evaluation_name("x/test.h5", None) == "test-data"


def test_cli_evaluate_data(trained, tmp_path, capsys):
    from ebsdlib.cli import main

    run, _ = trained
    other = write_tiny(tmp_path / "cli.h5", n=12, seed=3)
    assert main(["evaluate", str(run.path), "--data", str(other), "--device", "cpu", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "evaluations/cli/" in out and "accuracy" in out
