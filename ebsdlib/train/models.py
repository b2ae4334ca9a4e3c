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


def build_model(config: TrainConfig, num_classes: int, root: str | Path | None = None) -> EBSDNet:
    """Create the network that ``config`` describes, from scratch or from weights on disk.

    Parameters
    ----------
    config
        ``config.model`` is any timm model name; ``config.pretrained`` an optional file of
        weights on disk for the encoder (see :func:`pretrained_overlay`; nothing is downloaded).
    num_classes
        Number of phases in the data set's phase table.
    root
        The artifacts folder of the run: a relative ``config.pretrained`` (as :func:`train`
        stores a file inside it) is found from there (:func:`pretrained_file`).

    Raises
    ------
    ValueError
        For a name timm does not know, or weights that do not fit the model (the message names
        the file, the model and what to choose instead).
    FileNotFoundError
        When ``config.pretrained`` names no file.
    """
    import timm

    def create(**weights) -> torch.nn.Module:
        return timm.create_model(config.model, in_chans=1, num_classes=0, **weights)

    try:
        encoder = create(pretrained=False)
    except RuntimeError as e:
        if "Unknown model" in str(e):
            raise ValueError(
                f"model {config.model!r} is not a timm model name; see timm.list_models('efficientnet*') for choices"
            ) from e
        raise
    if config.pretrained:
        path = pretrained_file(config.pretrained, root)
        state, overlay = pretrained_overlay(path)
        check_fit(encoder, state, path, config.model)  # strict: timm alone would load a partial match
        try:
            encoder = create(pretrained=True, pretrained_cfg_overlay=overlay)
        except RuntimeError as e:
            raise ValueError(_misfit(path, config.model, _torch_reason(str(e)))) from e
    embedding_dim = config.embedding_dim if config.metric_learning else None
    # the pooled output's size: models with a head convolution after pooling (lcnet, mobilenetv3)
    # output head_hidden_size features, not num_features
    features = getattr(encoder, "head_hidden_size", None) or encoder.num_features
    return EBSDNet(encoder, features, num_classes, embedding_dim)


def pretrained_file(stored: str, root: str | Path | None = None) -> Path:
    """The weights file ``config.pretrained`` names: as written, else (a relative path) inside the
    artifacts folder ``root`` (:func:`ebsdlib.paths.data_candidates`).

    Raises
    ------
    FileNotFoundError
        Naming the path and the places looked at.
    """
    from ebsdlib.paths import data_candidates

    p = Path(stored)
    candidates = [p] if root is None or p.is_absolute() else [p, *data_candidates(p, root)]
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(
        f"pretrained weights {str(stored)!r} not found (looked at {sorted({str(c) for c in candidates})}); "
        "give a file on disk (nothing is downloaded: README, 'Pretrained weights') or leave pretrained "
        "empty to train from scratch"
    )


def pretrained_overlay(path: Path) -> tuple[dict, dict]:
    """The file's tensors as timm reads them, and the ``pretrained_cfg_overlay`` that makes
    ``timm.create_model(..., pretrained=True)`` load them instead of downloading.

    A timm state dict (``.pth``, ``.bin`` or ``.safetensors``, bare or under ``state_dict`` /
    ``model``, as :func:`timm.models.load_state_dict` reads it) loads as the file itself:
    ``{"file": path}``. An ebsdlib checkpoint (``checkpoint_best.pt`` of a run: the network under
    ``model`` with ``encoder.`` in front of the encoder's tensors) loads as its encoder's tensors:
    ``{"state_dict": …}``. Either way timm drops the file's classifier (the encoder has none)
    and sums a three-channel first convolution to the one grey channel (``adapt_input_conv``),
    which is exactly the network of the file applied to the grey pattern repeated in R, G and B.
    """
    from timm.models import load_state_dict

    try:
        state = load_state_dict(str(path), use_ema=False, weights_only=True)
    except Exception as e:  # torch, pickle and safetensors raise many kinds; each means "not weights"
        raise ValueError(
            f"{path}: cannot be read as model weights ({type(e).__name__}: {e}); give a state dict saved with "
            "torch.save(model.state_dict(), PATH), a .safetensors file, or an ebsdlib checkpoint_best.pt"
        ) from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a state dict of tensors, found {type(state).__name__}")
    if state and all(k.startswith(("encoder.", "classifier.", "projection.")) for k in state):
        encoder = {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}
        return encoder, {"state_dict": dict(encoder)}
    return state, {"file": str(path)}


def check_fit(encoder: torch.nn.Module, state: dict, path: Path, model: str) -> None:
    """Refuse weights that would load only in part: every tensor of the encoder must be in the
    file with its shape (the first convolution may have other input channels: timm adapts it),
    and every tensor of the file but its classifier must be the encoder's. timm itself loads a
    file whose classifier has another size non-strictly and only logs what did not fit.

    Raises
    ------
    ValueError
        Naming the file, the model, what does not fit and what to choose instead.
    """
    cfg = getattr(encoder, "pretrained_cfg", None) or {}
    heads = cfg.get("classifier") or ()
    heads = (heads,) if isinstance(heads, str) else tuple(heads)
    stems = cfg.get("first_conv") or ()
    stems = {f"{c}.weight" for c in ((stems,) if isinstance(stems, str) else stems)}
    own = encoder.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own and not any(k.startswith(h + ".") for h in heads)]
    if len(missing) == len(own):
        raise ValueError(
            _misfit(
                path,
                model,
                f"none of its {len(state)} tensors fit: it holds {_first(state)}, the model has {_first(own)}",
            )
        )
    if missing or extra:
        raise ValueError(
            _misfit(
                path,
                model,
                f"{len(missing)} of the model's {len(own)} tensors are not in the file ({', '.join(missing[:3])}) and "
                f"{len(extra)} of the file's are not in the model ({', '.join(extra[:3]) or 'none'})",
            )
        )
    sizes = [
        f"{k} is {tuple(state[k].shape)} in the file, {tuple(v.shape)} in the model"
        for k, v in own.items()
        if state[k].shape != v.shape
        and not (k in stems and state[k].shape[:1] + state[k].shape[2:] == v.shape[:1] + v.shape[2:])
    ]
    if sizes:
        raise ValueError(_misfit(path, model, f"{len(sizes)} tensors have other sizes ({'; '.join(sizes[:2])})"))


def _first(state: dict) -> str:
    key = next(iter(state), None)
    return "no tensors" if key is None else f"{key!r} of shape {tuple(state[key].shape)} first"


def _torch_reason(message: str) -> str:
    lines = [ln.strip() for ln in message.splitlines() if "size mismatch" in ln or "inconsistent" in ln]
    return "; ".join(lines[:2]) if lines else message.strip().splitlines()[0]


def _misfit(path: Path, model: str, reason: str) -> str:
    return (
        f"weights in {str(path)!r} do not fit timm model {model!r}: {reason}; they are for another model. "
        f"Choose --model set to the model the file was saved from, or a file saved from {model!r} "
        f"(timm.create_model({model!r}, pretrained=True) on a machine with the weights, then "
        "torch.save(model.state_dict(), PATH))"
    )
