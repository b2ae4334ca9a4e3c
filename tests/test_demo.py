"""``ebsdlib.demo`` on the tiny config: the five methods, and runs added to a built demo.

The committed demo itself is checked in ``tests/dashboard/test_demo_artifacts.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from ebsdlib.cli import main
from ebsdlib.demo import DEMO_MANIFEST, DEMO_METHODS, DemoConfig, build_demo, read_manifest, run_ids, train_configs
from ebsdlib.methods import get_method
from ebsdlib.runs import open_run


def test_the_demo_has_three_losses_and_both_conventional_methods():
    assert DEMO_METHODS == ("ce", "supcon", "contrastive", "dictionary", "hough")
    config = DemoConfig.tiny()
    trained = train_configs(config, Path("artifacts"))
    assert {m: c.loss for m, c in trained.items()} == {"ce": "ce", "supcon": "supcon", "contrastive": "contrastive"}
    # the contrastive run has SupCon's settings: only the loss, its name and its epochs field differ
    assert replace(trained["contrastive"], loss="supcon", name=trained["supcon"].name) == trained["supcon"]
    assert run_ids(DemoConfig()) == {
        "ce": "demo-ce-lcnet_050",
        "supcon": "demo-supcon-lcnet_050",
        "contrastive": "demo-contrastive-lcnet_050",
        "dictionary": "demo-dictionary",
        "hough": "demo-hough",
    }
    assert all(get_method(m).is_network == (m in trained) for m in DEMO_METHODS)


def test_a_manifest_from_before_the_recalibration_step_reads_as_not_recalibrated():
    stored = {k: v for k, v in DemoConfig().to_dict().items() if not k.startswith("calibration_")}
    config = DemoConfig.from_dict(stored)
    assert config.calibration_per_phase == 0 and config.calibration_holdout == 0.0
    committed = DemoConfig.from_dict(read_manifest(Path(__file__).resolve().parents[1] / "artifacts")["config"])
    assert committed == DemoConfig() and committed.calibration_per_phase == 300  # the demo as committed


def test_a_manifest_without_the_contrastive_run_reads_with_supcons_epochs():
    d = DemoConfig(supcon_epochs=7, contrastive_epochs=7).to_dict()
    del d["contrastive_epochs"]
    assert DemoConfig.from_dict(d) == DemoConfig(supcon_epochs=7, contrastive_epochs=7)


@dataclass
class TinyDemo:
    """A tiny demo folder and what it held before runs were added to it."""

    root: Path
    manifest_before: dict
    ce_metrics_before: bytes


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory) -> TinyDemo:
    """A tiny demo of the cross-entropy run only, then the contrastive and Hough runs added with
    ``demo --only contrastive hough``."""
    root = tmp_path_factory.mktemp("tiny_demo")
    build_demo(DemoConfig.tiny(), root, progress=False, methods=("ce",))
    ce = open_run(run_ids(DemoConfig.tiny())["ce"], root)
    demo = TinyDemo(root, read_manifest(root), ce.metrics_path.read_bytes())
    code = main(["demo", "--tiny", "--artifacts", str(root), "--no-progress", "--only", "contrastive", "hough"])
    assert code == 0
    return demo


def test_only_adds_the_named_runs_and_keeps_the_others(tiny_demo):
    ids = run_ids(DemoConfig.tiny())
    after = read_manifest(tiny_demo.root)
    assert after["runs"] == {m: ids[m] for m in ("ce", "contrastive", "hough")}
    assert after["fingerprints"] == tiny_demo.manifest_before["fingerprints"]
    assert DemoConfig.from_dict(after["config"]) == DemoConfig.tiny()
    assert open_run(ids["ce"], tiny_demo.root).metrics_path.read_bytes() == tiny_demo.ce_metrics_before
    assert not (tiny_demo.root / "runs" / ids["supcon"]).exists()


def test_the_added_contrastive_run_is_a_scored_network(tiny_demo):
    run = open_run(run_ids(DemoConfig.tiny())["contrastive"], tiny_demo.root)
    assert run.read_status().state == "completed"
    assert run.config()["loss"] == "contrastive"
    metrics = run.metrics()
    assert 0.0 <= metrics["precision_at_1"] <= 1.0
    assert run.phasemap_scans() == ["default_scan"]
    assert run.best_checkpoint.exists() and not run.last_checkpoint.exists()  # compacted
    # calibrated again on fresh patterns it never saw, after compaction, before the scan was mapped
    assert metrics["calibration_split"] == "calibration.h5" and metrics["calibration_held_out"] is True
    assert metrics["calibration_patterns"] == 3 * DemoConfig.tiny().calibration_per_phase
    assert (tiny_demo.root / "datasets" / "calibration.h5").is_file()


def test_the_added_hough_run_indexes_the_test_split_and_maps_the_scan(tiny_demo):
    run = open_run(run_ids(DemoConfig.tiny())["hough"], tiny_demo.root)
    assert run.read_status().state == "completed"
    assert run.config()["method"] == "hough" and run.config()["split"] == "test"
    metrics = run.metrics()
    assert metrics["split"] == "test" and 0.0 <= metrics["not_indexed"] <= 1.0
    assert run.phasemap_scans() == ["default_scan"]


def test_only_refuses_a_run_that_is_there(tiny_demo):
    with pytest.raises(FileExistsError, match=r"demo-hough exists; pass --force to rebuild it, or --only the missing"):
        build_demo(DemoConfig.tiny(), tiny_demo.root, progress=False, methods=("hough",))


def test_runs_are_not_added_to_a_demo_of_other_settings(tiny_demo):
    manifest = (tiny_demo.root / DEMO_MANIFEST).read_bytes()
    other = replace(DemoConfig.tiny(), contrastive_epochs=3)
    with pytest.raises(ValueError, match=r"built with other settings \(\{'contrastive_epochs': \(2, 3\)\}"):
        build_demo(other, tiny_demo.root, progress=False, methods=("contrastive",))
    assert (tiny_demo.root / DEMO_MANIFEST).read_bytes() == manifest


def test_only_names_the_allowed_methods(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--tiny", "--only", "umap"])
    assert "invalid choice: 'umap'" in capsys.readouterr().err


def test_the_networks_are_rebuilt_alone_when_only_their_settings_change(tiny_demo, tmp_path):
    """A demo whose networks move to another model and to streaming keeps its data and its indexing
    runs (checked against the manifest's fingerprints), and the replaced runs go."""
    import shutil

    root = tmp_path / "demo"
    shutil.copytree(tiny_demo.root, root)
    hough_before = open_run(run_ids(DemoConfig.tiny())["hough"], root).metrics_path.read_bytes()
    config = replace(DemoConfig.tiny(), model="test_resnet", lr=1e-3, stream=True, stream_patterns=32, ce_epochs=1)
    networks = ("ce", "supcon", "contrastive")
    with pytest.raises(ValueError, match=r"'model': \('test_efficientnet', 'test_resnet'\)"):
        build_demo(config, root, progress=False, methods=networks)  # without force nothing is replaced
    build_demo(config, root, force=True, progress=False, methods=networks)

    after = read_manifest(root)
    assert DemoConfig.from_dict(after["config"]) == config
    assert after["fingerprints"] == tiny_demo.manifest_before["fingerprints"]
    assert after["runs"] == {m: run_ids(config)[m] for m in (*networks, "hough")}
    assert open_run(run_ids(config)["hough"], root).metrics_path.read_bytes() == hough_before
    for method in networks:
        run = open_run(run_ids(config)[method], root)
        assert run.config()["model"] == "test_resnet" and run.config()["stream"] is True
        assert run.config()["lr"] == (1e-3 if method == "ce" else config.contrastive_lr)
        assert run.config()["stream_patterns"] == 32
        assert not (root / "runs" / run_ids(DemoConfig.tiny())[method]).exists()  # the replaced run is gone


def test_a_change_of_the_data_settings_still_needs_the_whole_demo(tiny_demo):
    other = replace(DemoConfig.tiny(), n_per_phase=41, ce_epochs=1)
    with pytest.raises(ValueError, match=r"'n_per_phase': \(40, 41\).*--force --only ce supcon contrastive"):
        build_demo(other, tiny_demo.root, force=True, progress=False, methods=("ce", "supcon", "contrastive"))


def test_the_contrastive_runs_start_from_the_cross_entropy_encoder():
    """From scratch both metric losses stayed collapsed on the committed settings (SupCon at log 31,
    contrastive at 1.00 for 20 streamed epochs), so the demo fine-tunes the cross-entropy encoder."""
    trained = train_configs(DemoConfig(), Path("artifacts"))
    for method in ("supcon", "contrastive"):
        assert trained[method].pretrained == "artifacts/runs/demo-ce-lcnet_050/checkpoint_best.pt"
        assert trained[method].warmup_epochs == 0 and trained[method].lr == DemoConfig().contrastive_lr
    assert trained["ce"].pretrained is None and trained["ce"].lr == DemoConfig().lr
    scratch = train_configs(replace(DemoConfig(), contrastive_init="scratch", contrastive_lr=None), Path("a"))
    assert scratch["supcon"].pretrained is None and scratch["supcon"].lr == DemoConfig().lr
    with pytest.raises(ValueError, match=r"contrastive_init 'imagenet' is not one of \['ce', 'scratch'\]"):
        DemoConfig(contrastive_init="imagenet")


def test_a_contrastive_run_without_its_cross_entropy_encoder_is_refused(tmp_path):
    with pytest.raises(
        ValueError, match=r"demo-ce-test_efficientnet/checkpoint_best.pt is missing: .*--only ce supcon"
    ):
        build_demo(DemoConfig.tiny(), tmp_path, progress=False, methods=("supcon",))
    assert not (tmp_path / "datasets").exists()  # refused before anything is built
