"""The one training configuration: defaults here, overrides from the CLI and the sidebar.

The resolved config is written to ``config.json`` in the run folder and stored in every
checkpoint, so every number the dashboard shows can be traced to how it was made.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Literal

from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.methods import method_of_network, network_methods

LOSSES = ("ce", "supcon")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SCHEDULES = ("cosine", "constant", "step")


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    Parameters
    ----------
    data
        Path of the labelled data set (project HDF5).
    loss
        ``"ce"`` (cross-entropy) or ``"supcon"`` (supervised contrastive, then linear probe).
    model
        Any ``timm`` model name; ``efficientnet_b0`` by default.
    pretrained
        Path of weights already on disk to start from; ``None`` trains from scratch.
    epochs, batch_size, lr, weight_decay, schedule, warmup_epochs
        Optimiser (AdamW) and learning-rate schedule.
    temperature
        SupCon temperature.
    embedding_dim
        Projection-head output size (SupCon).
    probe_epochs
        Epochs of the linear probe on frozen SupCon embeddings.
    knn_k
        Neighbours of the k-NN vote on SupCon embeddings.
    validation
        ``True``: train on train, report on validation. ``False``: train on train+val,
        report on test (the original script's two modes).
    augment
        Random horizontal and vertical flips.
    preprocess
        Pattern preprocessing (also used at inference time).
    seed, device, precision, num_workers, eval_batch_size
        Reproducibility and hardware.
    """

    data: str = "artifacts/datasets/default.h5"
    loss: Literal["ce", "supcon"] = "ce"
    model: str = "efficientnet_b0"
    pretrained: str | None = None
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    schedule: Literal["cosine", "constant", "step"] = "cosine"
    warmup_epochs: int = 1
    temperature: float = 0.1
    embedding_dim: int = 128
    probe_epochs: int = 30
    knn_k: int = 10
    validation: bool = False
    augment: bool = True
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    num_workers: int = 0
    eval_batch_size: int = 512
    umap: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.preprocess, dict):
            try:
                self.preprocess = PreprocessConfig.from_dict(self.preprocess)
            except ValueError as e:
                raise ValueError(f"preprocess: {e}") from e
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field, the value and what is allowed.

        Integers must be ``int`` (not ``bool``), numbers finite ``int`` or ``float`` (not
        ``bool``), switches ``bool``; ``preprocess`` a :class:`PreprocessConfig` or its dict.
        """
        if not isinstance(self.preprocess, PreprocessConfig):
            raise ValueError(
                f"preprocess={_short(self.preprocess)} is not allowed; use a PreprocessConfig or a "
                f"dictionary of its fields {[f.name for f in fields(PreprocessConfig)]}"
            )
        checks = [
            ("data", isinstance(self.data, str) and bool(self.data), "the path of a data set file"),
            (
                "pretrained",
                self.pretrained is None or (isinstance(self.pretrained, str) and bool(self.pretrained)),
                "None or the path of a weights file",
            ),
            ("name", isinstance(self.name, str), "a string (free-text label)"),
            *(
                (flag, isinstance(getattr(self, flag), bool), "True or False")
                for flag in ("validation", "augment", "umap")
            ),
            ("loss", self.loss in LOSSES, f"one of {LOSSES}"),
            ("device", self.device in DEVICES, f"one of {DEVICES}"),
            ("precision", self.precision in PRECISIONS, f"one of {PRECISIONS}"),
            ("schedule", self.schedule in SCHEDULES, f"one of {SCHEDULES}"),
            ("epochs", _int(self.epochs) and 1 <= self.epochs <= 10000, "an integer from 1 to 10000"),
            ("batch_size", _int(self.batch_size) and 2 <= self.batch_size <= 65536, "an integer from 2 to 65536"),
            ("lr", _number(self.lr) and 0 < self.lr <= 10, "a number in (0, 10]"),
            ("weight_decay", _number(self.weight_decay) and 0 <= self.weight_decay <= 1, "a number in [0, 1]"),
            (
                "warmup_epochs",
                _int(self.warmup_epochs) and 0 <= self.warmup_epochs <= (self.epochs if _int(self.epochs) else 10000),
                "an integer from 0 to epochs",
            ),
            ("temperature", _number(self.temperature) and 0 < self.temperature <= 10, "a number in (0, 10]"),
            (
                "embedding_dim",
                _int(self.embedding_dim) and 2 <= self.embedding_dim <= 4096,
                "an integer from 2 to 4096",
            ),
            ("probe_epochs", _int(self.probe_epochs) and 1 <= self.probe_epochs <= 10000, "an integer from 1 to 10000"),
            ("knn_k", _int(self.knn_k) and 1 <= self.knn_k <= 1000, "an integer from 1 to 1000"),
            ("num_workers", _int(self.num_workers) and 0 <= self.num_workers <= 64, "an integer from 0 to 64"),
            (
                "eval_batch_size",
                _int(self.eval_batch_size) and 1 <= self.eval_batch_size <= 1 << 20,
                "a positive integer",
            ),
            ("seed", _int(self.seed) and 0 <= self.seed < 2**32, "an integer from 0 to 2**32-1"),
            ("model", isinstance(self.model, str) and bool(self.model), "a timm model name"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(f"{name}={_short(getattr(self, name))} is not allowed; use {allowed}")

    def to_dict(self) -> dict:
        """Plain JSON-ready fields plus ``method``: the :mod:`ebsdlib.methods` key of the loss."""
        d = asdict(self)
        d["preprocess"] = self.preprocess.to_dict()
        d["method"] = method_of_network(self.loss).key
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Build from a stored dictionary; unknown keys are an error that names them.

        ``method`` (written by :meth:`to_dict`) may be present; it must name a network method and
        is otherwise ignored: the method follows ``loss`` (a ``--loss`` override wins).

        Raises
        ------
        ValueError
            For anything but a dictionary, unknown keys, or a value :meth:`validate` refuses;
            the message starts with the key (``preprocess: …`` for a preprocessing field).
        """
        if not isinstance(d, dict):
            raise ValueError(
                f"a training config must be a dictionary of fields, not {type(d).__name__} "
                f"({_short(d)}); use a run's config.json or TrainConfig().to_dict()"
            )
        known = {f.name for f in fields(cls)}
        unknown = [k for k in d if k not in known and k != "method"]
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown, key=repr)}; known are {sorted(known | {'method'})}")
        d = dict(d)
        method = d.pop("method", None)
        networks = [m.key for m in network_methods()]
        if method is not None and method not in networks:
            raise ValueError(
                f"method={_short(method)} is not allowed; a training config's method is a network, one of "
                f"{networks} (it follows 'loss'); leave it out"
            )
        return cls(**d)

    @property
    def eval_split(self) -> str:
        """The split the run reports on."""
        return "val" if self.validation else "test"

    @property
    def train_splits(self) -> tuple[str, ...]:
        return ("train",) if self.validation else ("train", "val")


def _int(value: object) -> bool:
    """An ``int`` that is not a ``bool`` (``True`` is not an epoch count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    """A finite ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
