"""Checkpoints: weights-only loading, refusal of foreign or pickled files, phase/model mismatches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ebsdlib.data.format import EBSDDataset, write_dataset
from ebsdlib.phases import DEFAULT_PHASES, Phase
from ebsdlib.train.checkpoint import load_checkpoint, save_checkpoint
from ebsdlib.train.inference import check_phases, load_model
from ebsdlib.train.loop import train


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_data):
    from ebsdlib.data.preprocess import PreprocessConfig
    from ebsdlib.train.config import TrainConfig

    config = TrainConfig(
        data=str(tiny_data),
        model="test_efficientnet",
        epochs=1,
        batch_size=8,
        device="cpu",
        umap=False,
        preprocess=PreprocessConfig(size=24),
    )
    return train(config, progress=False, root=tmp_path_factory.mktemp("artifacts"))


class Payload:
    """Any class: a pickle of it would run code on load."""


def test_checkpoint_round_trip_is_atomic_and_weights_only(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(2)}, "config": {}, "phases": [], "epoch": 3})
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left
    ckpt = load_checkpoint(path)
    assert ckpt["epoch"] == 3 and torch.equal(ckpt["model"]["w"], torch.ones(2))


def test_a_checkpoint_holding_python_objects_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save(
        {"format": "ebsdlib-checkpoint", "version": 1, "model": {}, "config": {}, "phases": [], "extra": Payload()},
        path,
    )
    with pytest.raises(ValueError, match=r"evil\.pt: refused to load .* weights_only=False"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "content,match",
    [
        (b"not a checkpoint at all", "corrupt or truncated"),
        (None, "not an ebsdlib checkpoint"),
    ],
)
def test_unreadable_or_foreign_checkpoints_are_named(tmp_path, content, match):
    path = tmp_path / "x.pt"
    if content is None:
        torch.save({"state_dict": {"w": torch.zeros(1)}}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match=r"missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")


def test_truncated_checkpoint_is_reported(trained_run, tmp_path):
    data = trained_run.best_checkpoint.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut.pt: not a readable PyTorch checkpoint"):
        load_checkpoint(cut)


def test_load_model_refuses_a_phase_list_that_does_not_fit_the_weights(trained_run, tmp_path):
    ckpt = torch.load(trained_run.best_checkpoint, weights_only=True)
    ckpt["phases"] = ckpt["phases"][:2]
    bad = tmp_path / "two_phases.pt"
    torch.save(ckpt, bad)
    with pytest.raises(ValueError, match=r"predicts 3 classes but the checkpoint's phase list has 2"):
        load_model(bad, "cpu")


def test_load_model_refuses_weights_of_another_model(trained_run, tmp_path):
    ckpt = torch.load(trained_run.best_checkpoint, weights_only=True)
    ckpt["config"]["model"] = "test_resnet"
    bad = tmp_path / "other_model.pt"
    torch.save(ckpt, bad)
    with pytest.raises(ValueError, match=r"do not fit model 'test_resnet'.*another model"):
        load_model(bad, "cpu")


def test_check_phases_refuses_a_labelled_data_set_with_another_phase_list(trained_run, tmp_path):
    _, _, phases = load_model(trained_run.best_checkpoint, "cpu")
    other = (*DEFAULT_PHASES[:2], Phase("Ni3Ti", 194, 5.1, "#ff7f0e"))
    patterns = np.random.default_rng(0).integers(0, 255, (4, 24, 24), dtype=np.uint8)
    labelled = write_dataset(tmp_path / "other.h5", patterns, np.array([0, 1, 2, 0]), other, provenance={})
    unlabelled = write_dataset(tmp_path / "scan.h5", patterns, None, other, provenance={})
    with (
        EBSDDataset(labelled) as ds,
        pytest.raises(
            ValueError,
            match=r"\['Ni', 'Ni3Al', 'Ni3Ti'\] does "
            r"not match the model's",
        ),
    ):
        check_phases(phases, ds)
    with EBSDDataset(unlabelled) as ds:
        check_phases(phases, ds)  # nothing to compare: predictions use the model's phases


def test_both_checkpoints_load_with_plain_weights_only_torch_load(trained_run):
    """Only tensors and plain types inside: torch's own weights-only loader reads them."""
    for path in (trained_run.best_checkpoint, trained_run.last_checkpoint):
        ckpt = torch.load(path, weights_only=True)
        assert ckpt["format"] == "ebsdlib-checkpoint"
        assert isinstance(ckpt["config"], dict) and isinstance(ckpt["phases"], list)


def test_a_supcon_checkpoint_without_its_probe_cannot_classify(tiny_config, artifacts):
    from ebsdlib.runs import RunDir

    run = RunDir(artifacts / "runs" / "half")
    train(
        tiny_config(loss="supcon", validation=True, epochs=2),
        run,
        progress=False,
        on_epoch_end=lambda epoch, row: run.request_cancel(),
    )
    assert run.read_status().state == "cancelled" and run.best_checkpoint.exists()
    with pytest.raises(ValueError, match="no fitted linear probe yet"):
        load_model(run.best_checkpoint, "cpu")
    from ebsdlib.train.evaluate import evaluate_run

    with pytest.raises(ValueError, match="'half' is cancelled; only a completed run can be evaluated"):
        evaluate_run(run, progress=False)
