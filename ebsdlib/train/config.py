"""The one training configuration: defaults here, overrides from the CLI and the sidebar.

The resolved config is written to ``config.json`` in the run folder and stored in every
checkpoint, so every number the dashboard shows can be traced to how it was made.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Literal

from ebsdlib.data.preprocess import SIZE_RANGE, PreprocessConfig
from ebsdlib.methods import method_of_network, network_methods
from ebsdlib.simulate.randomise import DomainRanges

LOSSES = ("ce", "supcon", "contrastive")
#: Losses that train an embedding (projection head), classified afterwards by a linear probe.
METRIC_LOSSES = ("supcon", "contrastive")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SCHEDULES = ("cosine", "constant", "step")


@dataclass(frozen=True)
class Bounds:
    """The values a numeric config field allows: ``low`` to ``high``, both included, unless ``low_open``.

    Parameters
    ----------
    low, high
        The ends of the range.
    integer
        Whole numbers only (an ``int``, not a ``bool``); otherwise any finite ``int`` or ``float``.
    low_open
        ``low`` itself is refused: the range is ``(low, high]``.
    least
        With ``low_open``: the smallest value an input widget offers (it needs a number to start
        from); the config accepts anything above ``low``.
    """

    low: int | float
    high: int | float
    integer: bool = True
    low_open: bool = False
    least: float | None = None

    def allows(self, value: object) -> bool:
        """Whether ``value`` is of the right type and inside the range."""
        if not (_int(value) if self.integer else _number(value)):
            return False
        return (self.low < value if self.low_open else self.low <= value) and value <= self.high

    @property
    def minimum(self) -> int | float:
        """The smallest value a widget offers: ``low``, or ``least`` when ``low`` is excluded."""
        return self.least if self.low_open and self.least is not None else self.low

    def describe(self) -> str:
        """``an integer from 1 to 10000``, ``a number in (0, 10]``: the end of a refusal message."""
        if self.integer:
            return f"an integer from {self.low} to {self.high}"
        return f"a number in {'(' if self.low_open else '['}{self.low}, {self.high}]"


#: Range of every numeric field. :meth:`TrainConfig.validate`, the CLI's help and the dashboard's
#: training form all read it, so a bound is written here and nowhere else.
BOUNDS: dict[str, Bounds] = {
    "epochs": Bounds(1, 10000),
    "batch_size": Bounds(2, 65536),
    "lr": Bounds(0, 10, integer=False, low_open=True, least=1e-6),
    "weight_decay": Bounds(0, 1, integer=False),
    "temperature": Bounds(0, 10, integer=False, low_open=True, least=0.01),
    "embedding_dim": Bounds(2, 4096),
    "probe_epochs": Bounds(1, 10000),
    "knn_k": Bounds(1, 1000),
    "eval_batch_size": Bounds(1, 1 << 20),
    "seed": Bounds(0, 2**32 - 1),
    "stream_patterns": Bounds(0, 10**9),
    "calibration_holdout": Bounds(0, 0.9, integer=False),
}
#: Range of the preprocessing's image size (``PreprocessConfig.size``, the CLI's ``--image-size``).
IMAGE_SIZE_BOUNDS = Bounds(*SIZE_RANGE)
#: How a run's probabilities are calibrated (:mod:`ebsdlib.train.temperature`): ``"auto"`` picks
#: ``"temperature"`` or ``"vector"`` by cross-validation on the calibration patterns.
CALIBRATORS = ("auto", "temperature", "vector")
#: Choices of the string options (the ``Literal`` types of their fields).
CHOICES: dict[str, tuple[str, ...]] = {
    "loss": LOSSES,
    "device": DEVICES,
    "precision": PRECISIONS,
    "schedule": SCHEDULES,
    "calibrator": CALIBRATORS,
}
#: One-line help of each field, for the CLI flags and the dashboard's training form.
FIELD_HELP: dict[str, str] = {
    "data": "path of the labelled data set (project HDF5)",
    "loss": "cross-entropy (ce); supervised contrastive (supcon) or the seed's contrastive loss with batch-hard "
    "mining (contrastive), each then a linear probe",
    "model": "any timm model name, trained from scratch",
    "pretrained": "weights file on disk to start the encoder from (a timm state dict .pth/.safetensors of the same "
    "--model, or a run's checkpoint_best.pt; nothing is downloaded); none trains from scratch",
    "epochs": "passes over the training patterns",
    "batch_size": "patterns per optimiser step",
    "lr": "peak learning rate of AdamW",
    "weight_decay": "AdamW weight decay (not applied to biases and norms)",
    "schedule": "learning-rate schedule after the warmup",
    "warmup_epochs": "epochs of linear learning-rate warmup",
    "temperature": "SupCon temperature",
    "embedding_dim": "projection-head output size (SupCon)",
    "probe_epochs": "epochs of the linear probe on frozen SupCon embeddings",
    "knn_k": "neighbours of the k-NN vote on SupCon embeddings",
    "validation": "train on train and report on validation; otherwise train on train + validation, report on test",
    "augment": "random horizontal and vertical flips",
    "stream": "train on fresh patterns simulated every step like the data set's own (validation and test stay stored)",
    "stream_patterns": "patterns per epoch when streaming (0: as many as the stored training split)",
    "randomise": "domain randomisation of the streamed patterns: per-pattern ranges of PC, dose, blur, "
    "background, band contrast, camera tilt and forward model (stream only)",
    "preprocess": "pattern preprocessing (also used at inference time)",
    "seed": "seed of the weights, shuffles and flips (same seed, same result on the CPU)",
    "device": "where to train: CUDA when available (auto), or forced",
    "precision": "mixed precision on CUDA (auto: bf16, else fp16); fp32 on the CPU",
    "eval_batch_size": "patterns per forward pass when evaluating",
    "umap": "compute the 2-D UMAP of the evaluated embeddings",
    "calibrate": "fit a calibrator on the validation split so the probabilities mean what they say",
    "calibrator": "how: one softmax temperature, a scale and offset per phase (vector), or auto (the one with "
    "the lower cross-validated NLL on the calibration patterns)",
    "calibration_holdout": "in train+validation mode, the share of the validation split kept out of training to "
    "fit the temperature on (0: fit it on patterns the run trained on)",
    "name": "free-text label of the run",
}
IMAGE_SIZE_HELP = "model input size in pixels (square), the patterns are resized to it"
#: Fields older versions had, dropped when a stored config is read (:meth:`TrainConfig.from_dict`),
#: with why. ``num_workers`` was stored but read by nothing: a split is fed from RAM or streamed by
#: one prefetch thread (:mod:`ebsdlib.train.data`), and preprocessing runs on the device.
REMOVED_FIELDS: dict[str, str] = {"num_workers": "read by nothing (patterns are fed by one prefetch thread)"}
#: Fields added after runs were stored, with the value that reproduces such a run: a stored config
#: (one with the ``method`` key :meth:`TrainConfig.to_dict` writes) that lacks one gets this value,
#: not the new default. Runs before the calibration hold-out fitted their temperature on the
#: trained-on validation split.
ADDED_FIELDS: dict[str, object] = {"calibration_holdout": 0.0, "calibrator": "temperature"}


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    Parameters
    ----------
    data
        Path of the labelled data set (project HDF5).
    loss
        ``"ce"`` (cross-entropy), ``"supcon"`` (supervised contrastive) or ``"contrastive"``
        (the seed's recipe: pytorch-metric-learning's ``ContrastiveLoss`` with a
        ``BatchHardMiner``, scored by 1-nearest-neighbour Precision@1); the metric losses are
        classified by a linear probe on the frozen embeddings.
    model
        Any ``timm`` model name; ``efficientnet_b0`` by default.
    pretrained
        Weights file on disk to start the encoder from, loaded by timm
        (:func:`ebsdlib.train.models.build_model`): a timm state dict of the same ``model`` or an
        ebsdlib ``checkpoint_best.pt``; nothing is downloaded. ``None`` trains from scratch.
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
    stream, stream_patterns
        Train on fresh patterns simulated on the training device every step from the data set's
        simulator settings (:mod:`ebsdlib.train.stream`), ``stream_patterns`` per epoch (0: as
        many as the stored training split); validation and test stay on the stored data.
    randomise
        Domain randomisation of the streamed patterns
        (:class:`~ebsdlib.simulate.randomise.DomainRanges`, or its dict); empty: none. Needs
        ``stream``.
    preprocess
        Pattern preprocessing (also used at inference time).
    calibrate
        Fit a calibrator on the validation split after training and fold it into the
        classifier (:mod:`ebsdlib.train.temperature`): calibrated probabilities everywhere.
    calibrator
        ``"temperature"`` (one softmax temperature), ``"vector"`` (a scale and an offset per
        phase) or ``"auto"``: the one with the lower cross-validated negative log-likelihood on
        the calibration patterns.
    calibration_holdout
        In train+validation mode, the share of the validation split kept out of training (and
        of the probe) to fit the temperature on (:mod:`ebsdlib.train.holdout`); 0 fits it on
        patterns the run trained on.
    seed, device, precision, eval_batch_size
        Reproducibility and hardware.

    The allowed values are :data:`BOUNDS` and :data:`CHOICES`; :data:`FIELD_HELP` describes each
    field in one line.
    """

    data: str = "artifacts/datasets/default.h5"
    loss: Literal["ce", "supcon", "contrastive"] = "ce"
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
    stream: bool = False
    stream_patterns: int = 0
    randomise: DomainRanges = field(default_factory=DomainRanges)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    eval_batch_size: int = 512
    umap: bool = True
    calibrate: bool = True
    calibrator: Literal["auto", "temperature", "vector"] = "auto"
    calibration_holdout: float = 0.5
    name: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.randomise, dict) or self.randomise is None:
            try:
                self.randomise = DomainRanges.from_dict(self.randomise)
            except (TypeError, ValueError) as e:
                raise ValueError(f"randomise: {e}") from e
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
        if not isinstance(self.randomise, DomainRanges):
            raise ValueError(
                f"randomise={_short(self.randomise)} is not allowed; use a DomainRanges or a dictionary of its "
                f"fields {[f.name for f in fields(DomainRanges)]}"
            )
        if self.randomise.active and not self.stream:
            raise ValueError(
                f"randomise: domain ranges ({self.randomise.describe()}) need stream: stored patterns cannot be "
                "drawn again; add --stream, or drop the --random-* options"
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
                for flag in ("validation", "augment", "umap", "stream", "calibrate")
            ),
            *((name, getattr(self, name) in options, f"one of {options}") for name, options in CHOICES.items()),
            *((name, bounds.allows(getattr(self, name)), bounds.describe()) for name, bounds in BOUNDS.items()),
            (
                "warmup_epochs",
                _int(self.warmup_epochs)
                and 0 <= self.warmup_epochs <= (self.epochs if _int(self.epochs) else BOUNDS["epochs"].high),
                "an integer from 0 to epochs",
            ),
            ("model", isinstance(self.model, str) and bool(self.model), "a timm model name"),
            (
                "stream_patterns",
                not (
                    self.stream
                    and _int(self.stream_patterns)
                    and _int(self.batch_size)  # a bad batch size is reported by its own check
                    and 0 < self.stream_patterns < self.batch_size
                ),
                f"0 (as many as the training split) or at least batch_size ({self.batch_size}) patterns per epoch",
            ),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(f"{name}={_short(getattr(self, name))} is not allowed; use {allowed}")

    def to_dict(self) -> dict:
        """Plain JSON-ready fields plus ``method``: the :mod:`ebsdlib.methods` key of the loss."""
        d = asdict(self)
        d["preprocess"] = self.preprocess.to_dict()
        d["randomise"] = self.randomise.to_dict()
        d["method"] = method_of_network(self.loss).key
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Build from a stored dictionary; unknown keys are an error that names them.

        ``method`` (written by :meth:`to_dict`) may be present; it must name a network method and
        is otherwise ignored: the method follows ``loss`` (a ``--loss`` override wins).
        A stored config lacking a key of :data:`ADDED_FIELDS` gets the value its run ran with.
        Keys of :data:`REMOVED_FIELDS` (fields older versions stored) are dropped, so the
        ``config.json`` of an old run still opens.

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
        d = {k: v for k, v in d.items() if k not in REMOVED_FIELDS}
        if "method" in d:  # a stored run's config: what it lacks, it ran without
            d = {**{k: v for k, v in ADDED_FIELDS.items() if k not in d}, **d}
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
    def metric_learning(self) -> bool:
        """Whether the loss trains an embedding (SupCon, contrastive) that a probe then classifies."""
        return self.loss in METRIC_LOSSES

    @property
    def eval_split(self) -> str:
        """The split the run reports on."""
        return "val" if self.validation else "test"

    @property
    def train_splits(self) -> tuple[str, ...]:
        return ("train",) if self.validation else ("train", "val")

    @property
    def probe_splits(self) -> tuple[str, ...]:
        """Stored splits the SupCon probe and the k-NN reference are fitted on: the training splits,
        or, when streaming (the network saw no stored pattern), the train split alone, so that the
        validation split stays held out for calibration."""
        return ("train",) if self.stream else self.train_splits

    @property
    def calibration_held_out_by_holdout(self) -> bool:
        """Whether a share of the validation split is kept out of training for calibration (train+val
        mode with ``calibrate`` and a ``calibration_holdout`` above 0)."""
        return not (self.validation or self.stream) and self.calibrate and self.calibration_holdout > 0

    @property
    def calibration_held_out(self) -> bool:
        """Whether the patterns the temperature is fitted on were left out of every fit (training,
        probe): the validation split with ``validation`` or ``stream``, the hold-out share of it in
        train+val mode; ``False`` when the temperature is fitted on the trained-on validation split."""
        return self.validation or self.stream or self.calibration_held_out_by_holdout


def _int(value: object) -> bool:
    """An ``int`` that is not a ``bool`` (``True`` is not an epoch count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    """A finite ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
