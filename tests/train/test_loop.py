"""Training end to end on a tiny data set: artifacts, reproducibility, resume and the status file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ebsdlib.data.format import EBSDDataset, write_dataset
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.runs import RunDir
from ebsdlib.train.inference import load_model, predict_dataset
from ebsdlib.train.loop import resume, train
from ebsdlib.train.status import HISTORY_COLUMNS

#: metrics.json entries that measure time and so differ between two identical runs.
#: Figures of the session's clock: a resumed run's last session differs from an uninterrupted run.
TIMING_KEYS = (
    "training_seconds",
    "train_patterns_per_second",
    "train_patterns_timed",
    "warmup_batches_excluded",
    "throughput_note",
    "inference_seconds",
    "inference_patterns_per_second",
)


def stable(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in TIMING_KEYS}


@pytest.mark.parametrize("loss", ["ce", "supcon"])
def test_both_losses_write_every_artifact(loss, tiny_config, artifacts):
    config = tiny_config(loss=loss, umap=True)
    run = train(config, progress=False)

    assert run.read_status().state == "completed"
    assert run.read_status().progress == 1.0
    assert run.config() == config.to_dict()
    history = run.history()
    assert list(history.columns) == list(HISTORY_COLUMNS)
    assert history["epoch"].tolist() == [1, 2]
    assert np.isfinite(history["train_loss"]).all()

    metrics = run.metrics()
    assert metrics["split"] == "test" and metrics["n"] == 12
    assert metrics["selected_epoch"] == 2
    assert metrics["training_seconds"] > 0 and metrics["train_patterns_per_second"] > 0
    if loss == "supcon":
        assert metrics["probe_accuracy"] == metrics["accuracy"]
    else:
        assert "probe_accuracy" not in metrics

    preds = run.predictions()
    prob_cols = ["prob_Ni", "prob_Ni3Al", "prob_Ni3Fe"]
    assert list(preds.columns) == ["index", "split", "true", "pred", *prob_cols, "confidence"]
    with EBSDDataset(config.data) as ds:
        assert preds["index"].tolist() == ds.indices("test").tolist()
        assert preds["true"].tolist() == ds.labels[ds.indices("test")].tolist()
    np.testing.assert_allclose(preds[prob_cols].sum(axis=1), 1.0, atol=1e-4)
    assert (preds["pred"] == preds[prob_cols].to_numpy().argmax(1)).all()
    assert metrics["accuracy"] == pytest.approx((preds["pred"] == preds["true"]).mean())

    emb = run.embeddings()
    assert emb.dtype == np.float16 and emb.shape[0] == len(preds)
    assert run.umap().shape == (len(preds), 2)

    # the best checkpoint reproduces the predictions (weights-only load, probe included)
    model, cfg, phases = load_model(run.best_checkpoint, "cpu")
    assert cfg == config and [p.name for p in phases] == ["Ni", "Ni3Al", "Ni3Fe"]
    with EBSDDataset(config.data) as ds:
        proba, feats = predict_dataset(model, ds, ds.indices("test"), cfg.preprocess, "cpu", 5)
    np.testing.assert_allclose(proba, preds[prob_cols].to_numpy(), atol=1e-5)
    assert feats.shape == emb.shape
    if loss == "supcon":  # the k-NN vote recomputed: cosine neighbours among the train+val embeddings
        with EBSDDataset(config.data) as ds:
            ref = np.sort(np.r_[ds.indices("train"), ds.indices("val")])
            _, ref_feats = predict_dataset(model, ds, ref, cfg.preprocess, "cpu", 5)
            ref_labels = ds.labels[ref]
        unit = ref_feats / np.linalg.norm(ref_feats, axis=1, keepdims=True)
        nearest = np.argsort(-(feats / np.linalg.norm(feats, axis=1, keepdims=True)) @ unit.T, axis=1)[:, : cfg.knn_k]
        vote = np.array([np.bincount(ref_labels[n], minlength=3).argmax() for n in nearest])
        assert metrics["knn_accuracy"] == pytest.approx((vote == preds["true"].to_numpy()).mean())
    last = torch.load(run.last_checkpoint, weights_only=True)
    assert last["epoch"] == 2 and set(last) >= {"optimizer", "scheduler", "rng", "history", "phases"}


def test_same_seed_gives_identical_results_and_another_seed_does_not(tiny_config, artifacts):
    config = tiny_config(validation=True, epochs=2)
    a = train(config, progress=False)
    b = train(config, progress=False)
    c = train(tiny_config(validation=True, epochs=2, seed=1), progress=False)
    assert stable(a.metrics()) == stable(b.metrics())
    pd.testing.assert_frame_equal(a.predictions(), b.predictions())
    np.testing.assert_array_equal(a.embeddings(), b.embeddings())
    assert a.history()["train_loss"].tolist() == b.history()["train_loss"].tolist()
    assert not np.allclose(a.predictions()["confidence"], c.predictions()["confidence"])


class Interrupt(RuntimeError):
    pass


@pytest.mark.parametrize(
    "loss,validation,how",
    [
        ("ce", False, "exception"),
        ("ce", True, "cancel"),
        ("supcon", True, "exception"),
    ],
)
def test_resume_after_interruption_matches_an_uninterrupted_run(loss, validation, how, tiny_config, artifacts):
    config = tiny_config(loss=loss, validation=validation, epochs=2)
    reference = train(config, progress=False)

    def stop_after_first_epoch(epoch: int, row: dict) -> None:
        if epoch == 1:
            if how == "cancel":
                broken.request_cancel()
            else:
                raise Interrupt("power cut after epoch 1")

    broken = RunDir(artifacts / "runs" / "broken")
    if how == "exception":
        with pytest.raises(Interrupt):
            train(config, broken, progress=False, on_epoch_end=stop_after_first_epoch)
        status = broken.read_status()
        assert status.state == "failed"
        assert status.error == "Interrupt: power cut after epoch 1"
    else:
        train(config, broken, progress=False, on_epoch_end=stop_after_first_epoch)
        status = broken.read_status()
        assert status.state == "cancelled"
        assert "resume" in status.message
    assert status.epoch == 1
    assert broken.history()["epoch"].tolist() == [1]
    assert not broken.metrics_path.exists()

    resume("broken", progress=False)
    assert broken.read_status().state == "completed"
    assert not broken.cancel_requested
    assert stable(broken.metrics()) == stable(reference.metrics())
    pd.testing.assert_frame_equal(broken.predictions(), reference.predictions())
    a, b = broken.history(), reference.history()
    assert a[["epoch", "train_loss", "val_loss", "val_accuracy", "lr"]].equals(
        b[["epoch", "train_loss", "val_loss", "val_accuracy", "lr"]]
    )


def test_status_goes_from_queued_through_running_to_completed(tiny_config, artifacts):
    run = RunDir(artifacts / "runs" / "launched")
    run.path.mkdir(parents=True)
    run.update_status(state="queued", message="waiting for a slot")
    seen = []

    def record(epoch: int, row: dict) -> None:
        st = run.read_status()
        seen.append(
            (st.state, st.epoch, st.epochs, st.steps_per_epoch, st.train_loss == pytest.approx(row["train_loss"]))
        )

    train(tiny_config(epochs=2), run, progress=False, on_epoch_end=record)
    # train+val hold 24 + 12 patterns, half of val (2 per phase) calibrates: 30 // batch 8 = 3 steps per epoch
    assert seen == [("running", 1, 2, 3, True), ("running", 2, 2, 3, True)]
    final = run.read_status()
    assert final.state == "completed" and final.epoch == 2 and final.error is None
    assert final.pid is not None and final.started is not None and final.eta_seconds == 0.0


def test_a_run_cancelled_while_queued_never_starts(tiny_config, artifacts):
    run = RunDir(artifacts / "runs" / "queued")
    run.path.mkdir(parents=True)
    run.update_status(state="queued")
    run.request_cancel()
    train(tiny_config(), run, progress=False)
    assert run.read_status().state == "cancelled"
    assert not run.last_checkpoint.exists()


def test_single_phase_training_data_fails_the_run_with_its_error(tiny_config, artifacts, tmp_path):
    patterns = np.random.default_rng(0).integers(0, 255, (12, 24, 24), dtype=np.uint8)
    split = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], dtype=np.int8)
    labels = np.where(split == 2, 1, 0).astype(np.int16)  # only Ni in train and val
    path = write_dataset(tmp_path / "one.h5", patterns, labels, DEFAULT_PHASES, provenance={}, split=split)
    with pytest.raises(ValueError, match=r"only the phase\(s\) \['Ni'\]"):
        train(tiny_config(data=str(path)), "one-phase", progress=False)
    status = RunDir(artifacts / "runs" / "one-phase").read_status()
    assert status.state == "failed"
    assert status.error.startswith("ValueError:") and "one.h5" in status.error


def test_missing_data_set_marks_the_run_failed(tiny_config, artifacts, tmp_path):
    config = tiny_config(data=str(tmp_path / "gone.h5"))
    with pytest.raises(FileNotFoundError, match=r"gone.h5"):
        train(config, "gone", progress=False)
    status = RunDir(artifacts / "runs" / "gone").read_status()
    assert status.state == "failed"
    assert "FileNotFoundError" in status.error and "gone.h5" in status.error


def test_a_trained_folder_is_not_overwritten_and_a_completed_run_not_resumed(tiny_config, artifacts):
    run = train(tiny_config(epochs=1), "once", progress=False)
    with pytest.raises(ValueError, match="already holds a trained run"):
        train(tiny_config(epochs=1), "once", progress=False)
    with pytest.raises(ValueError, match="already completed"):
        resume(run.run_id, progress=False)
    with pytest.raises(FileNotFoundError, match="not found"):
        resume("no-such-run", progress=False)


@pytest.mark.parametrize("validation", [False, True])
def test_a_report_split_without_labels_is_refused_before_training(validation, tiny_config, artifacts, tmp_path):
    patterns = np.random.default_rng(0).integers(0, 255, (12, 24, 24), dtype=np.uint8)
    split = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2], dtype=np.int8)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], dtype=np.int16)
    labels[split == (1 if validation else 2)] = -1
    path = write_dataset(tmp_path / "nolabels.h5", patterns, labels, DEFAULT_PHASES, provenance={}, split=split)
    name = "val" if validation else "test"
    with pytest.raises(ValueError, match=f"split '{name}' has no labelled patterns"):
        train(tiny_config(data=str(path), validation=validation), "unlabelled", progress=False)
    assert not RunDir(artifacts / "runs" / "unlabelled").last_checkpoint.exists()
