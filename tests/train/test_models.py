"""The network, the schedules and the SupCon probe / k-NN."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ebsdlib.train.models import build_model
from ebsdlib.train.probe import fit_linear_probe, knn_predict
from ebsdlib.train.schedule import build_scheduler, lr_factor


@pytest.mark.parametrize("loss", ["ce", "supcon"])
def test_one_interface_for_both_losses(loss, tiny_config):
    model = build_model(tiny_config(loss=loss, embedding_dim=16), num_classes=3).eval()
    x = torch.randn(4, 1, 24, 24)
    features = model.embed(x)
    assert features.shape == (4, model.num_features)
    assert model(x).shape == (4, 3)
    f2, logits = model.embed_and_logits(x)
    torch.testing.assert_close(f2, features)
    torch.testing.assert_close(logits, model(x))
    if loss == "supcon":
        z = model.project(features)
        assert z.shape == (4, 16)
        torch.testing.assert_close(z.norm(dim=1), torch.ones(4))
    else:
        with pytest.raises(ValueError, match=r"no projection head.*'ce'"):
            model.project(features)


def test_unknown_model_name_is_named(tiny_config):
    with pytest.raises(ValueError, match="'efficientnet_b99' is not a timm model name"):
        build_model(tiny_config(model="efficientnet_b99"), 3)


def test_pretrained_weights_only_from_disk(tiny_config, tmp_path):
    torch.manual_seed(1)
    donor = build_model(tiny_config(), 3)
    path = tmp_path / "weights.pt"
    torch.save({"model": donor.state_dict()}, path)
    torch.manual_seed(2)
    model = build_model(tiny_config(pretrained=str(path)), 3)
    for k, v in donor.encoder.state_dict().items():
        torch.testing.assert_close(model.encoder.state_dict()[k], v)
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        build_model(tiny_config(pretrained=str(tmp_path / "none.pt")), 3)
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="none of its 1 tensors fit"):
        build_model(tiny_config(pretrained=str(tmp_path / "other.pt")), 3)


def test_three_channel_pretrained_stem_is_summed_to_one_channel(tiny_config, tmp_path):
    import timm

    rgb = timm.create_model("test_efficientnet", in_chans=3, num_classes=0)
    torch.save(rgb.state_dict(), tmp_path / "rgb.pt")
    model = build_model(tiny_config(pretrained=str(tmp_path / "rgb.pt")), 3)
    stem = rgb.state_dict()["conv_stem.weight"]
    torch.testing.assert_close(model.encoder.state_dict()["conv_stem.weight"], stem.sum(1, keepdim=True))


def test_lr_factor_by_hand():
    # 2 warmup steps then 8 more: warmup 1/3, 2/3; cosine 1 at start, 1/2 halfway
    assert lr_factor(0, 10, 2, "cosine") == pytest.approx(1 / 3)
    assert lr_factor(1, 10, 2, "cosine") == pytest.approx(2 / 3)
    assert lr_factor(2, 10, 2, "cosine") == pytest.approx(1.0)
    assert lr_factor(6, 10, 2, "cosine") == pytest.approx(0.5)
    assert lr_factor(9, 10, 2, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * 7 / 8)))
    assert lr_factor(9, 10, 2, "constant") == 1.0
    assert [lr_factor(s, 10, 2, "step") for s in (5, 6, 7, 8, 9)] == pytest.approx([1.0, 0.1, 0.1, 0.01, 0.01])
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        lr_factor(0, 10, 0, "linear")


def test_scheduler_steps_per_batch():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([param], lr=1.0)
    sched = build_scheduler(opt, "cosine", epochs=2, warmup_epochs=1, steps_per_epoch=3)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:3] == pytest.approx([0.25, 0.5, 0.75])
    assert lrs[3] == pytest.approx(1.0) and lrs[5] < lrs[4] < lrs[3]
    state = sched.state_dict()
    assert state["last_epoch"] == 6


def test_linear_probe_separates_and_folds_its_standardisation():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 40)
    x = rng.normal(0, 1, (120, 5)).astype(np.float32) * 10 + 500
    x[:, 0] += y * 40  # class in feature 0, on a large offset
    w, b = fit_linear_probe(x, y, 3, epochs=40, seed=0)
    assert w.shape == (3, 5) and b.shape == (3,)
    acc = ((x @ w.T + b).argmax(1) == y).mean()
    assert acc > 0.95
    w2, _b2 = fit_linear_probe(x, y, 3, epochs=40, seed=0)
    np.testing.assert_array_equal(w, w2)
    with pytest.raises(ValueError, match="as many labels as features"):
        fit_linear_probe(x, y[:5], 3)


def test_knn_vote_by_hand():
    train = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [-1, 0]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1, 2])
    query = np.array([[2, 0.05], [0.05, 3], [-5, 0.1]], dtype=np.float32)
    np.testing.assert_array_equal(knn_predict(train, labels, query, k=1), [0, 1, 2])
    np.testing.assert_array_equal(knn_predict(train, labels, query, k=50), [0, 0, 0])  # k capped at 5
