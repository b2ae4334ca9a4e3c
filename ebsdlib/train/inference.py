"""Inference core: load a trained model and stream a data set through it.

Used at the end of training, by ``python -m ebsdlib evaluate`` and by the scan mapper
(:mod:`ebsdlib.predict`). Preprocessing is :func:`ebsdlib.data.preprocess.preprocess_batch`
on the device, exactly as in training.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import Phase
from ebsdlib.train.config import TrainConfig

if TYPE_CHECKING:
    import torch

    from ebsdlib.train.models import EBSDNet


def predict_dataset(
    model: EBSDNet,
    dataset: EBSDDataset,
    indices: np.ndarray | None,
    preprocess: PreprocessConfig,
    device: str | torch.device = "auto",
    batch_size: int = 512,
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto",
    *,
    embeddings: bool = True,
    progress: bool = False,
    compile_mode: str = "none",
    clock: InferenceClock | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities and embeddings of the patterns at ``indices``.

    The file is read in batches (a background thread reads the next one while the model
    runs and, on CUDA, copies it into pinned memory: double-buffered, asynchronous host-to-device
    copies), under ``torch.inference_mode()``, with autocast for bf16/fp16 and channels-last
    (on the CPU too: :func:`~ebsdlib.train.device.channels_last`). Memory is bounded by the batch and the two outputs.

    Parameters
    ----------
    model
        An :class:`~ebsdlib.train.models.EBSDNet`; it is put in eval mode and moved to ``device``.
    dataset
        The data set to read.
    indices
        Pattern indices; ``None`` for all. Output row ``i`` belongs to ``indices[i]``.
    preprocess
        The run's preprocessing (``TrainConfig.preprocess``).
    device
        ``"auto"``, ``"cpu"``, ``"cuda"`` or a ``torch.device``.
    batch_size
        Patterns read and preprocessed at once; also per forward pass on a GPU (on the CPU the
        model sees slices of at most :data:`CPU_FORWARD_BATCH`, see :func:`forward_batch_size`).
        A forward pass that runs out of device memory is retried with half the patterns, down
        to one (:mod:`ebsdlib.train.memory`); the predictions stay the same.
    precision
        ``"auto"`` (bf16/fp16 on CUDA, fp32 on the CPU), ``"fp32"``, ``"bf16"`` or ``"fp16"``.
    embeddings
        ``False`` skips collecting embeddings (large scans); an ``(n, 0)`` array is returned.
    progress
        Show a tqdm bar.
    compile_mode
        ``"none"``, or a ``torch.compile`` mode for the forward pass: ``"default"``,
        ``"reduce-overhead"`` (CUDA graphs on CUDA) or ``"max-autotune"``
        (:data:`ebsdlib.train.device.COMPILE_MODES`). Compiled passes have one fixed shape: a last, shorter slice is
        padded with zeros and its padding dropped, so the predictions are those of the same
        patterns. The first passes compile (seconds to minutes); worth it for large scans.
    clock
        Filled with the call's timing (:class:`InferenceClock`), the steady state without the
        first batch.

    Returns
    -------
    proba
        ``(n, C)`` float32 softmax probabilities.
    embeddings
        ``(n, d)`` float32 encoder features (``d = model.num_features``).
    """
    import torch
    from tqdm.auto import tqdm

    from ebsdlib.train.data import background_tensor, prefetch, prepare_batch
    from ebsdlib.train.device import (
        autocast,
        channels_last,
        compiled,
        memory_format,
        pinned_batches,
        resolve_device,
        resolve_precision,
    )
    from ebsdlib.train.memory import Backoff

    embed_and_logits = compiled(model.embed_and_logits, compile_mode)  # refuses an unknown mode
    clock = clock if clock is not None else InferenceClock()
    clock.start()
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    last = channels_last(dev)
    model.eval()
    model.to(dev, memory_format=memory_format(dev))
    idx = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=np.int64)
    order = np.argsort(idx, kind="stable")
    n = len(idx)
    proba = np.empty((n, model.num_classes), dtype=np.float32)
    emb = np.empty((n, model.num_features if embeddings else 0), dtype=np.float32)
    bg = background_tensor(dataset, preprocess, dev)
    done = 0
    bar = tqdm(total=n, desc="predict", unit="pat", disable=not progress, leave=False)
    backoff = Backoff(
        forward_batch_size(batch_size, dev),
        dev,
        floor=1,
        what="inference forward pass",
        advice="--eval-batch-size (predict: --batch-size)",
    )

    def forward(part: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n_part = len(part)
        if compile_mode != "none" and n_part < backoff.size:  # one shape for the compiled graph
            part = torch.cat([part, part.new_zeros((backoff.size - n_part, *part.shape[1:]))])
        with autocast(prec, dev):
            features, logits = embed_and_logits(part)
        return features[:n_part], logits[:n_part]

    with torch.inference_mode():
        for _, raw in prefetch(pinned_batches(dataset.iter_batches(batch_size, idx[order]), dev)):
            x = prepare_batch(raw, dev, preprocess, bg, channels_last=last)
            start = 0
            while start < len(x):
                part = x[start : start + backoff.size]
                out = backoff.call(forward, part, attempted=len(part))
                if out is None:  # out of memory: the size was halved, the same patterns go again
                    continue
                features, logits = out
                rows = order[done : done + len(features)]
                proba[rows] = torch.softmax(logits.float(), dim=1).cpu().numpy()
                if embeddings:
                    emb[rows] = features.float().cpu().numpy()
                done += len(features)
                start += len(features)
            bar.update(len(raw))
            clock.batch_done(len(raw))  # the outputs were copied back: the device is done with it
    bar.close()
    return proba, emb


class InferenceClock:
    """Wall time of one :func:`predict_dataset` call, with its steady state.

    The first read batch is the warm-up (CUDA context and cuDNN's kernel choice, a compiled
    graph's compilation, the reader thread's start), so the steady state is timed from its end
    to the end of the last batch; with a single batch nothing can be excluded and all of it is
    timed (said in :meth:`metrics`). Batch ends are taken after the outputs were copied back
    to the host, so on CUDA they are synchronised.
    """

    def __init__(self) -> None:
        self.t0 = self.t_first = self.t_end = None
        self.patterns = self.first_patterns = 0

    def start(self) -> None:
        """Start (again) from now, with nothing timed: a reused clock keeps nothing of its last call."""
        self.t0, self.t_first, self.t_end = time.perf_counter(), None, None
        self.patterns = self.first_patterns = 0

    def batch_done(self, n: int) -> None:
        self.t_end = time.perf_counter()
        self.patterns += n
        if self.t_first is None:
            self.t_first, self.first_patterns = self.t_end, n

    @property
    def seconds(self) -> float:
        return (self.t_end or self.t0) - self.t0 if self.t0 is not None else 0.0

    def metrics(self) -> dict:
        """``inference_patterns_per_second`` (steady state when there were two batches or more),
        ``inference_seconds`` (the whole call) and ``inference_throughput`` (what was timed)."""
        steady = self.t_first is not None and self.patterns > self.first_patterns and self.t_end > self.t_first
        if steady:
            rate = (self.patterns - self.first_patterns) / (self.t_end - self.t_first)
            note = (
                f"steady state: the first batch ({self.first_patterns} patterns, warm-up) is excluded; "
                f"{self.patterns - self.first_patterns} patterns timed"
            )
        else:
            rate = self.patterns / self.seconds if self.seconds > 0 else None
            note = f"warm-up not excluded: one batch of {self.patterns} patterns, all of it timed"
        return {"inference_patterns_per_second": rate, "inference_seconds": self.seconds, "inference_throughput": note}


#: Largest forward pass on the CPU. Bigger ones are slower per pattern there (the activations no
#: longer fit the caches): efficientnet_b0 on 64×64 patterns, two cores, runs about 660
#: patterns/s in passes of 64 and 400 in passes of 512 (``python -m ebsdlib bench speed``).
CPU_FORWARD_BATCH = 64


def forward_batch_size(batch_size: int, device: torch.device) -> int:
    """Patterns per forward pass: ``batch_size`` on a GPU, at most :data:`CPU_FORWARD_BATCH` on the CPU.

    Files are still read ``batch_size`` patterns at a time; only the model sees smaller slices.
    """
    return int(batch_size) if device.type == "cuda" else max(1, min(int(batch_size), CPU_FORWARD_BATCH))


def load_model(
    checkpoint_path: str | Path, device: str | torch.device = "auto"
) -> tuple[EBSDNet, TrainConfig, tuple[Phase, ...]]:
    """Rebuild a trained model from a checkpoint (weights-only load) in eval mode on ``device``.

    Raises
    ------
    ValueError
        When the checkpoint is unreadable, or its weights do not fit the model and phase
        table it names (another model, another phase list); the message says which.
    """
    from ebsdlib.methods import method_of_network
    from ebsdlib.train.checkpoint import checkpoint_phases, load_checkpoint, load_model_state
    from ebsdlib.train.device import resolve_device
    from ebsdlib.train.models import build_model

    path = Path(checkpoint_path)
    ckpt = load_checkpoint(path)
    config = TrainConfig.from_dict(ckpt["config"])
    phases = checkpoint_phases(ckpt)
    state = ckpt["model"]
    head = state.get("classifier.weight")
    if head is None:
        raise ValueError(f"{path}: checkpoint has no 'classifier.weight'; it was not written by ebsdlib training")
    if head.shape[0] != len(phases):
        raise ValueError(
            f"{path}: the classifier predicts {head.shape[0]} classes but the checkpoint's phase list has "
            f"{len(phases)} ({[p.name for p in phases]}); the checkpoint's phase list does not match its "
            "model — the file was edited or mixed from two runs; retrain"
        )
    if config.metric_learning and not ckpt.get("probe_fitted", False):
        raise ValueError(
            f"{path}: this {method_of_network(config.loss).short_label} checkpoint has no fitted linear probe "
            "yet (the probe is fitted when training ends), so it cannot classify; wait for the run to complete"
        )
    model = build_model(replace(config, pretrained=None), len(phases))
    load_model_state(model, state, path, f"model {config.model!r} with loss {config.loss!r} and {len(phases)} phases")
    model.eval()
    return model.to(resolve_device(device)), config, phases


def check_phases(model_phases: tuple[Phase, ...] | list[Phase], dataset: EBSDDataset) -> None:
    """Insist that a labelled data set uses the model's phase list (same names, same order).

    An unlabelled data set (all labels ``-1``, e.g. a vendor scan) passes: the model's
    phases name the predictions. Raises ``ValueError`` naming both lists otherwise.
    """
    model_names = [p.name for p in model_phases]
    data_names = dataset.phase_names
    if model_names == data_names:
        return
    if (dataset.labels >= 0).any():
        raise ValueError(
            f"{dataset.path}: its phase list {data_names} does not match the model's {model_names}; "
            "labels would be compared with the wrong phases — use a data set with the model's "
            "phase table, or train a model on this one"
        )
