"""Models whose pooled output passes a head convolution (lcnet, mobilenetv3) get a classifier of the right size."""

import pytest
import torch

from ebsdlib.train.config import TrainConfig
from ebsdlib.train.models import build_model


@pytest.mark.parametrize("name", ["lcnet_050", "test_efficientnet"])
@pytest.mark.parametrize("loss", ["ce", "supcon"])
def test_classifier_fits_the_pooled_features(name, loss):
    model = build_model(TrainConfig(model=name, loss=loss), 3)
    x = torch.randn(2, 1, 32, 32)
    features, logits = model.embed_and_logits(x)
    assert features.shape == (2, model.num_features) and logits.shape == (2, 3)
    if loss == "supcon":
        assert model.project(features).shape == (2, 128)
