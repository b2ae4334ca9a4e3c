"""The committed demo: it loads, every page renders on it, and its numbers are reproducible.

The full demo is rebuilt with ``python -m ebsdlib demo --force`` (tens of minutes on a CPU);
here the committed numbers are recomputed from the committed predictions, the committed
config is checked to be what the code builds, and a tiny rebuild is checked to reproduce
itself exactly.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.demo import DEMO_METHODS, DemoConfig, build_demo, fingerprints_match, read_manifest, train_configs
from ebsdlib.runs import open_run
from ebsdlib.train.config import TrainConfig

REPO = Path(__file__).resolve().parents[2]
DEMO_ROOT = REPO / "artifacts"
PAGES = ["overview", "accuracy", "confusion", "embeddings", "phase_maps"]


@pytest.fixture(scope="module")
def manifest() -> dict:
    found = read_manifest(DEMO_ROOT)
    assert found is not None, "artifacts/demo.json is missing: build the demo with `python -m ebsdlib demo`"
    return found


def test_committed_demo_config_is_what_the_code_builds(manifest):
    assert DemoConfig.from_dict(manifest["config"]) == DemoConfig()
    assert list(manifest["runs"]) == list(DEMO_METHODS)  # three losses, dictionary and Hough indexing
    assert set(manifest["fingerprints"]) == {"dataset", "scan"}


def test_committed_runs_written_before_methods_map_to_theirs(manifest):
    """The first three committed runs predate ``config.json["method"]`` for networks and have the
    dictionary run's old ``loss: "dictionary"``, ``method: "dictionary_indexing"``; they open as
    those methods, beside the contrastive and Hough runs added later, which record theirs."""
    from ebsdlib.baseline.run import is_dictionary_run
    from ebsdlib.methods import method_of_run
    from ebsdlib.runs import list_runs
    from ebsdlib.views.runs import best_runs, runs_table

    for key, run_id in manifest["runs"].items():
        config = open_run(run_id, DEMO_ROOT).config()
        assert method_of_run(config).key == key
        assert is_dictionary_run(config) == (key == "dictionary")
    table = runs_table(list_runs(DEMO_ROOT)).set_index("run_id")
    shown = table.loc[list(manifest["runs"].values())]
    assert list(shown["method"]) == list(manifest["runs"]) and (shown["state"] == "completed").all()
    assert list(best_runs(shown.reset_index())) == list(DEMO_METHODS)


@pytest.mark.parametrize("method", ["dictionary", "hough"])
def test_demo_indexing_run_is_complete(manifest, method):
    """Its confusion matrix and accuracy follow from its stored predictions (the ``pred`` column:
    Hough's Ni₃Al and Ni₃Fe probabilities tie to the CSV's six decimals where their fits are equal)."""
    from sklearn.metrics import confusion_matrix

    run = open_run(manifest["runs"][method], DEMO_ROOT)
    assert run.read_status().state == "completed"
    assert run.phasemap_scans() == ["default_scan"]
    metrics = run.metrics()
    assert metrics["split"] == "test" and metrics["n"] == 900
    predictions = run.predictions()
    true, pred = predictions["true"].to_numpy(), predictions["pred"].to_numpy()
    labels = range(len(metrics["phase_names"]))
    assert confusion_matrix(true, pred, labels=labels).tolist() == metrics["confusion_matrix"]
    assert (true == pred).mean() == pytest.approx(metrics["accuracy"], abs=1e-9)


def test_demo_hough_run_records_its_indexing(manifest):
    """The Hough run's own numbers: PyEBSDIndex's version and bands, the fit and matched bands of
    the chosen phase, the share not indexed and the orientation error against the simulator's."""
    config = open_run(manifest["runs"]["hough"], DEMO_ROOT).config()
    assert config["method"] == "hough" and config["model"].startswith("PyEBSDIndex ")
    metrics = open_run(manifest["runs"]["hough"], DEMO_ROOT).metrics()
    assert metrics["method"] == "hough" and metrics["hough"]["pyebsdindex"] and metrics["hough"]["families"]
    assert 0.0 <= metrics["not_indexed"] <= 1.0
    assert metrics["mean_fit_deg"] > 0 and metrics["mean_matched_bands"] > 0
    assert set(metrics["orientation_error_deg"]) >= {"median", "p90", "n"}


@pytest.mark.parametrize("loss", ["ce", "supcon", "contrastive"])
def test_demo_run_numbers_follow_from_its_config_and_predictions(manifest, loss):
    from ebsdlib.metrics import compute_metrics
    from ebsdlib.phasemap import load_phasemap
    from ebsdlib.train.inference import load_model

    run = open_run(manifest["runs"][loss], DEMO_ROOT)
    assert run.read_status().state == "completed"
    config = TrainConfig.from_dict(run.config())
    assert config == train_configs(DemoConfig(), Path("artifacts"))[loss]

    metrics = run.metrics()
    predictions = run.predictions()
    names = metrics["phase_names"]
    proba = predictions[[f"prob_{n}" for n in names]].to_numpy()
    again = compute_metrics(
        predictions["true"].to_numpy(), proba, names, n_boot=metrics["n_boot"], seed=metrics["seed"]
    )
    assert again["confusion_matrix"] == metrics["confusion_matrix"]
    for key in ("accuracy", "macro_f1", "ni_ni3fe_confusion", "top2_accuracy"):
        assert again[key] == pytest.approx(metrics[key], abs=1e-6), key
    for name in names:
        assert again["per_class"][name]["recall"] == pytest.approx(metrics["per_class"][name]["recall"], abs=1e-6)

    assert run.embeddings().shape[0] == len(predictions)
    assert run.umap().shape == (len(predictions), 2)
    phasemap = load_phasemap(run, "default_scan")
    assert phasemap.scan_shape == tuple(DemoConfig().scan_shape)
    _model, loaded_config, phases = load_model(run.best_checkpoint, "cpu")
    assert [p.name for p in phases] == names and loaded_config == config
    if loss == "contrastive":  # the seed's score: 1-NN Precision@1 against the training embeddings
        assert 0.0 <= metrics["precision_at_1"] <= 1.0


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory) -> Path:
    """The committed demo runs in a folder of their own (without demo.json: no data rebuild)."""
    root = tmp_path_factory.mktemp("demo_copy")
    for run_dir in (DEMO_ROOT / "runs").glob("demo-*"):
        shutil.copytree(run_dir, root / "runs" / run_dir.name)
    return root


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_the_demo(app, demo_copy, page):
    """All five demo runs (three networks, the dictionary and the Hough baseline) on every page."""
    at = app(page, root=demo_copy)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_a_tiny_rebuild_reproduces_itself(tmp_path):
    config = DemoConfig.tiny()
    first = {
        run.run_id: run.metrics()
        for run in build_demo(config, tmp_path / "a", progress=False, methods=("ce", "supcon"))
    }
    second = {
        run.run_id: run.metrics()
        for run in build_demo(replace(config), tmp_path / "b", progress=False, methods=("ce",))
    }
    for run_id, metrics in second.items():
        assert metrics["confusion_matrix"] == first[run_id]["confusion_matrix"]
        assert metrics["accuracy"] == first[run_id]["accuracy"]
        np.testing.assert_allclose(
            [metrics["per_class"][n]["recall"] for n in metrics["phase_names"]],
            [first[run_id]["per_class"][n]["recall"] for n in metrics["phase_names"]],
        )
    for key, found in read_manifest(tmp_path / "b")["fingerprints"].items():
        assert fingerprints_match(found, read_manifest(tmp_path / "a")["fingerprints"][key]), key


def test_the_demo_builds_only_its_methods(tmp_path):
    with pytest.raises(
        ValueError, match=r"methods \['dictionary_refined'\] are not in the demo; choose from \['ce', 'supcon'"
    ):
        build_demo(DemoConfig.tiny(), tmp_path, progress=False, methods=("ce", "dictionary_refined"))
    assert not (tmp_path / "datasets").exists()  # refused before anything is built


def test_fingerprints_tolerate_a_rounding_flip_but_not_a_change():
    base = {"labels_sha256": "x", "shape": [200, 64, 64], "block_sums": [1_000_000, 2_000_000]}
    assert fingerprints_match({**base, "block_sums": [1_000_001, 2_000_000]}, base)
    assert not fingerprints_match({**base, "block_sums": [1_006_400, 2_000_000]}, base)
    assert fingerprints_match({**base, "block_sums": [1_000_380, 2_000_000]}, base)
    assert not fingerprints_match({**base, "labels_sha256": "y"}, base)


@pytest.mark.parametrize("method", ["ce", "supcon", "contrastive", "hough"])
def test_no_demo_method_calls_kikuchipys_real_ni_scan_ni3al(manifest, tmp_path, method):
    """kikuchipy's real 3×3 Ni scan, mapped with the committed demo networks (trained on the
    dynamical simulations only) and the demo's Hough indexer (the scan's own detector): no
    pattern may come out Ni₃Al, which the kinematical masters of an earlier demo did for all nine,
    and the 64-pixel dynamical networks for four (cross-entropy) and one (contrastive) of them.
    The 128-pixel stream-trained networks give Ni₃Al a probability below 0.001 on every pattern.

    The Hough indexer passes because it lists only bright band families: the three phases share
    the fcc ones, tie on every pattern, and the tie names Ni, the first of the table. It does not
    recognise Ni (its run's page says it cannot tell the phases apart); with every family the
    primitive lattice allows, it called 5 of the 9 Ni₃Al."""
    import importlib.util

    from ebsdlib.baseline.hough_run import hough_scan
    from ebsdlib.data.readers import load
    from ebsdlib.methods import get_method
    from ebsdlib.phasemap import load_phasemap
    from ebsdlib.predict import predict_scan

    source = Path(importlib.util.find_spec("kikuchipy").origin).parent / "data" / "kikuchipy_h5ebsd" / "patterns.h5"
    scan = tmp_path / "nickel_ebsd_small.h5"
    with load(source, out=scan):
        pass
    run_id = manifest["runs"][method]
    shutil.copytree(DEMO_ROOT / "runs" / run_id, tmp_path / "runs" / run_id, ignore=shutil.ignore_patterns("phasemaps"))
    if get_method(method).is_network:
        predict_scan(run_id, scan, device="cpu", progress=False, root=tmp_path)
    else:
        hough_scan(run_id, scan, root=tmp_path, progress=False)
    pm = load_phasemap(tmp_path / "runs" / run_id, "nickel_ebsd_small")
    names = [p.name for p in pm.phases]
    assert pm.scan_shape == (3, 3)
    assert not (pm.pred == names.index("Ni3Al")).any(), f"real Ni mapped as {[names[i] for i in pm.pred.ravel()]}"
    if get_method(method).is_network:
        assert pm.proba.reshape(-1, len(names))[:, names.index("Ni3Al")].max() < 1e-3
