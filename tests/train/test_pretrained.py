"""Pretrained weights from a local file (``--pretrained PATH``), loaded by timm, never downloaded.

The weights are those of timm's ``test_efficientnet`` made here (three input channels, an
ImageNet-sized classifier) and saved as a plain state dict, as ``torch.save(model.state_dict())``
of any timm model writes it. Every test runs with the network and the Hugging Face hub cut off.
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import replace

import pytest
import torch

from ebsdlib.cli import main
from ebsdlib.train.models import build_model


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No network: ``HF_HUB_OFFLINE=1``, every socket connection and timm's downloaders raise."""
    import timm.models._builder as builder

    def refuse(*args, **kwargs):
        raise AssertionError(f"the network was used: {args!r:.200}")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in ("load_state_dict_from_hf", "load_state_dict_from_url", "download_cached_file", "load_custom_from_hf"):
        monkeypatch.setattr(builder, name, refuse)


def test_the_offline_guard_catches_a_download():
    """Without a file timm would fetch ``test_efficientnet``'s weights from the hub: the guard stops it."""
    import timm

    with pytest.raises(AssertionError, match="the network was used"):
        timm.create_model("test_efficientnet", pretrained=True)


@pytest.fixture
def weights(tmp_path):
    """A ``test_efficientnet`` with random weights (seed 3) and the file it is saved in."""
    import timm

    torch.manual_seed(3)
    donor = timm.create_model("test_efficientnet", pretrained=False).eval()
    path = tmp_path / "test_efficientnet.pth"
    torch.save(donor.state_dict(), path)
    return donor, path


def assert_weights_of(mine: dict, donor: torch.nn.Module) -> None:
    """Every tensor of the state dict ``mine`` is the donor's; the RGB stem is summed to the grey channel."""
    for key, value in donor.state_dict().items():
        if key.startswith("classifier."):
            assert key not in mine  # the encoder has no classifier: timm dropped the file's
        elif key == "conv_stem.weight":
            torch.testing.assert_close(mine[key], value.sum(1, keepdim=True))
        else:
            torch.testing.assert_close(mine[key], value, msg=key)


def test_train_starts_from_the_files_weights(tiny_data, weights, tmp_path, monkeypatch):
    import ebsdlib.train.models as models

    donor, path = weights
    built = []

    def spy(config, num_classes, root=None):
        model = real(config, num_classes, root)
        built.append({k: v.clone() for k, v in model.encoder.state_dict().items()})
        return model

    real = models.build_model
    monkeypatch.setattr(models, "build_model", spy)
    root = tmp_path / "artifacts"
    argv = ["train", "--data", str(tiny_data), "--model", "test_efficientnet", "--pretrained", str(path)]
    argv += ["--image-size", "224", "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--no-umap"]
    argv += ["--run-id", "warm", "--quiet"]  # the README recipe: 224 × 224 as the seed
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(root))
    assert main(argv) == 0
    assert len(built) == 1, "the trainer builds its model through build_model"
    assert_weights_of(built[0], donor)  # as the trainer built it, before the first step
    config = json.loads((root / "runs" / "warm" / "config.json").read_text())
    assert config["pretrained"] == str(path)  # outside the artifacts: kept as given
    status = json.loads((root / "runs" / "warm" / "status.json").read_text())
    assert status["state"] == "completed" and config["preprocess"]["size"] == 224


def test_a_file_inside_the_artifacts_is_stored_relative_and_found_from_anywhere(tiny_data, weights, tmp_path):
    import shutil

    from ebsdlib.train.loop import train
    from ebsdlib.train.models import pretrained_file

    path = weights[1]
    root = tmp_path / "lab" / "artifacts"
    (root / "weights").mkdir(parents=True)
    shutil.copy(path, root / "weights" / "w.pth")
    config = build_config(tiny_data, root / "weights" / "w.pth")
    run = train(replace(config, epochs=1, batch_size=8, umap=False), progress=False, root=root)
    stored = json.loads(run.config_path.read_text())["pretrained"]
    assert stored == "artifacts/weights/w.pth"
    moved = tmp_path / "elsewhere" / "artifacts"
    shutil.move(root, moved)
    assert pretrained_file(stored, moved) == moved.resolve() / "weights" / "w.pth"


def test_the_grey_stem_is_the_rgb_network_on_the_pattern_repeated_in_three_channels(tiny_config, weights):
    donor, path = weights
    model = build_model(tiny_config(pretrained=str(path), model="test_efficientnet"), 3).eval()
    assert_weights_of(model.encoder.state_dict(), donor)
    donor.reset_classifier(0)
    grey = torch.randn(2, 1, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model.embed(grey), donor(grey.repeat(1, 3, 1, 1)), rtol=1e-4, atol=1e-4)


def test_a_run_checkpoint_starts_another_run(tiny_config, tmp_path):
    """The README's SupCon-from-a-cross-entropy-run recipe: a ``checkpoint_best.pt`` holds the
    whole network; its encoder is what is loaded."""
    torch.manual_seed(1)
    donor = build_model(tiny_config(), 3)
    torch.save({"model": donor.state_dict(), "config": {"model": "test_efficientnet"}}, tmp_path / "best.pt")
    model = build_model(tiny_config(loss="supcon", pretrained=str(tmp_path / "best.pt")), 3)
    for key, value in donor.encoder.state_dict().items():
        torch.testing.assert_close(model.encoder.state_dict()[key], value, msg=key)


def test_weights_of_another_model_are_refused_with_the_fix(tiny_config, tmp_path):
    import timm

    def refused(model: str, file: str, **kwargs) -> str:
        torch.save(timm.create_model(model, **kwargs).state_dict(), tmp_path / file)
        with pytest.raises(ValueError) as e:
            build_model(tiny_config(pretrained=str(tmp_path / file)), 3)
        message = str(e.value)
        assert message.startswith(f"weights in {str(tmp_path / file)!r} do not fit timm model 'test_efficientnet': ")
        assert message.endswith(
            "they are for another model. Choose --model set to the model the file was saved from, or a file "
            "saved from 'test_efficientnet' (timm.create_model('test_efficientnet', pretrained=True) on a machine "
            "with the weights, then torch.save(model.state_dict(), PATH))"
        )
        return message

    assert re.search(
        r"none of its \d+ tensors fit: it holds 'cls_token' of shape \(1, 1, 64\) first, the model has "
        r"'conv_stem\.weight' of shape \(\d+, 1, 3, 3\) first; ",
        refused("test_vit", "vit.pth"),
    )
    assert re.search(
        r"\d+ of the model's \d+ tensors are not in the file \(conv_stem\.weight, .*\) and \d+ of the file's are not "
        r"in the model \(conv1\.0\.weight, ",
        refused("test_resnet", "resnet.pth"),
    )
    assert re.search(
        r"\d+ tensors have other sizes \(conv_stem\.weight is \(\d+, 3, 3, 3\) in the file, "
        r"\(\d+, 1, 3, 3\) in the model",
        refused("test_efficientnet", "wider.pth", channel_multiplier=1.5),
    )
    (tmp_path / "text.pth").write_text("not weights")
    with pytest.raises(ValueError, match=r"text\.pth: cannot be read as model weights"):
        build_model(tiny_config(pretrained=str(tmp_path / "text.pth")), 3)


def test_a_missing_file_is_refused_before_a_run_is_made(tiny_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    gone = tmp_path / "gone.pth"
    with pytest.raises(SystemExit):
        main(["train", "--data", str(tiny_data), "--model", "test_efficientnet", "--pretrained", str(gone)])
    err = capsys.readouterr().err
    assert f"argument --pretrained: pretrained weights {str(gone)!r} not found" in err
    assert "nothing is downloaded" in err
    assert not (tmp_path / "artifacts" / "runs").exists() or not any((tmp_path / "artifacts" / "runs").iterdir())
    with pytest.raises(FileNotFoundError, match=r"pretrained weights '.*gone\.pth' not found .*nothing is downloaded"):
        build_model(build_config(tiny_data, gone), 3)


def build_config(data, pretrained):
    from ebsdlib.train.config import TrainConfig

    return TrainConfig(data=str(data), model="test_efficientnet", pretrained=str(pretrained), device="cpu")
