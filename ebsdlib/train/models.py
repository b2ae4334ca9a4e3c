"""One network for both losses: a timm encoder, a linear classifier and (SupCon) a projection head.

:class:`EBSDNet` has the same interface whatever the loss:

- ``embed(x)`` — the encoder's pooled features (penultimate features for cross-entropy,
  the encoder embedding for supervised contrastive training);
- ``forward(x)`` — class logits from ``classifier(embed(x))``; for cross-entropy the
  classifier is trained end to end, for SupCon it is the linear probe fitted afterwards
  on frozen embeddings;
- ``project(features)`` — (SupCon only) the projection head's L2-normalised output that
  :class:`pytorch_metric_learning.losses.SupConLoss` sees during training.

This module defines a ``torch.nn.Module`` and so imports torch; import it only where a
model is needed (``import ebsdlib`` does not import it).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ebsdlib.train.config import TrainConfig


class EBSDNet(nn.Module):
    """Encoder, classifier and optional projection head.

    Parameters
    ----------
    encoder
        A timm model created with ``num_classes=0``: its output is the pooled feature vector.
    num_features
        Size of the encoder's feature vector.
    num_classes
        Number of phases.
    embedding_dim
        Output size of the projection head; ``None`` for no head (cross-entropy).
    """

    def __init__(self, encoder: nn.Module, num_features: int, num_classes: int, embedding_dim: int | None = None):
        super().__init__()
        self.encoder = encoder
        self.num_features = int(num_features)
        self.num_classes = int(num_classes)
        self.classifier = nn.Linear(num_features, num_classes)
        self.projection = None
        if embedding_dim is not None:
            # BatchNorm in the head (as in SimCLR v2) keeps the projections from collapsing onto
            # one point, where SupCon's loss sits at log(batch - 1) and stops learning: on faint
            # superlattice signals a plain MLP head collapsed before the encoder found them.
            self.projection = nn.Sequential(
                nn.Linear(num_features, num_features, bias=False),
                nn.BatchNorm1d(num_features),
                nn.ReLU(inplace=True),
                nn.Linear(num_features, embedding_dim),
            )

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled encoder features ``(B, num_features)``."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, num_classes)``."""
        return self.classifier(self.embed(x))

    def embed_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and logits from one pass through the encoder."""
        features = self.embed(x)
        return features, self.classifier(features)

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """L2-normalised projection of encoder features (SupCon training)."""
        if self.projection is None:
            raise ValueError("this model has no projection head; it was built for loss 'ce', not 'supcon'")
        return F.normalize(self.projection(features), dim=1)


def build_model(config: TrainConfig, num_classes: int) -> EBSDNet:
    """Create the network that ``config`` describes, from scratch or from weights on disk.

    Parameters
    ----------
    config
        ``config.model`` is any timm model name; ``config.pretrained`` an optional path of
        weights already on disk (nothing is downloaded).
    num_classes
        Number of phases in the data set's phase table.
    """
    import timm

    try:
        encoder = timm.create_model(config.model, in_chans=1, num_classes=0, pretrained=False)
    except RuntimeError as e:
        if "Unknown model" in str(e):
            raise ValueError(
                f"model {config.model!r} is not a timm model name; see timm.list_models('efficientnet*') for choices"
            ) from e
        raise
    embedding_dim = config.embedding_dim if config.metric_learning else None
    # the pooled output's size: models with a head convolution after pooling (lcnet, mobilenetv3)
    # output head_hidden_size features, not num_features
    features = getattr(encoder, "head_hidden_size", None) or encoder.num_features
    model = EBSDNet(encoder, features, num_classes, embedding_dim)
    if config.pretrained:
        load_pretrained_encoder(model, config.pretrained)
    return model


def load_pretrained_encoder(model: EBSDNet, path: str | Path) -> None:
    """Load encoder weights from a file on disk into ``model.encoder``.

    Accepts a plain state dict, a dict with a ``"model"`` or ``"state_dict"`` entry (such as
    an ebsdlib checkpoint, whose ``encoder.`` prefix is stripped), loaded with
    ``weights_only=True``. The classifier of the file is ignored; a three-channel first
    convolution is summed to one channel with timm's ``adapt_input_conv``.
    """
    from timm.models import adapt_input_conv

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"pretrained weights {str(path)!r} not found; give a file on disk "
            "(nothing is downloaded) or leave pretrained empty to train from scratch"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict of tensors, found {type(state).__name__}")
    if any(k.startswith("encoder.") for k in state):
        state = {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}
    own = model.encoder.state_dict()
    usable = {}
    for k, v in state.items():
        if k not in own or not isinstance(v, torch.Tensor):
            continue
        if v.ndim == 4 and own[k].ndim == 4 and v.shape[1] != own[k].shape[1]:
            v = adapt_input_conv(own[k].shape[1], v)
        if v.shape == own[k].shape:
            usable[k] = v
    if not usable:
        raise ValueError(
            f"{path}: none of its {len(state)} tensors fit the encoder of "
            f"{type(model.encoder).__name__}; are these weights for another model?"
        )
    model.encoder.load_state_dict(usable, strict=True)
