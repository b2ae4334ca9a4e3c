"""The stages the speed benchmark times: model alone, end-to-end (stored and streamed), naive, dictionary, Hough.

Each stage is a callable that does its work once and returns the number of patterns it
processed; everything it needs (models, files, the dictionary) is made before timing.

``model alone``
    Random tensors already on the device, the pipeline's batch size, precision and memory
    format; inference is ``model(x)`` under ``torch.inference_mode``, training is
    forward, loss, backward and an AdamW step.
``end-to-end``
    Inference: :func:`ebsdlib.predict.predict_scan` — HDF5 scan to the saved phase map
    (model loading, streaming, preprocessing, assembly and exports included). Training: a
    :class:`ebsdlib.train.loop.Trainer` reads the HDF5 data set and trains for the epochs
    (checkpoints included; the final evaluation is not).
``end-to-end, torch.compile <mode>``
    Inference as ``end-to-end`` with ``predict --compile <mode>`` (``SpeedBenchConfig.compile_mode``;
    only when one is asked for): the network compiled for one fixed batch shape in the warm-up
    round, ``reduce-overhead`` replaying it as CUDA graphs on a GPU.
``stream end-to-end``
    Training with ``stream=True``: the same trainer and steps, each batch simulated fresh on the
    training device from the data set's simulator settings (projection, detector noise) instead
    of read from the HDF5 file.
``naive``
    :mod:`ebsdlib.bench.naive` on PNG copies of the same patterns.
``dictionary indexing``
    :func:`ebsdlib.baseline.index.index_patterns` of the scan (dictionary already built).
``Hough indexing (PyEBSDIndex, 1 process)``
    :func:`ebsdlib.baseline.hough.hough_patterns` of the scan: reading, background correction
    and PyEBSDIndex's Radon transform and triplet voting for every candidate phase, in this one
    process (numba's threads; no ray). The indexer is made before timing; the warm-up round
    compiles its numba kernels (or loads them from numba's cache).
``hybrid map (network + Hough, 1 process)``
    :func:`ebsdlib.predict.predict_scan` with ``orientations="hough"``: HDF5 scan to the saved
    hybrid phase map — the end-to-end network inference plus PyEBSDIndex's orientation of each
    point's predicted phase (a second pass over the patterns, Hough in this one process, its
    indexer made in each call) and the exports with the orientations. Its patterns/s is the rate
    of the whole map, both passes.
``simulation``
    New labelled patterns in memory, as the simulator makes them (random phases and
    orientations, projection of the master patterns already loaded, the detector's blur and
    noise), for each forward model; writing to HDF5 is not included. ``stream on <device>``:
    the stream trainer's own source (:class:`~ebsdlib.train.stream.StreamFeeder`: the torch
    projection and noise on the benchmark's device, batches of the training batch size), the
    patterns stream training draws — on a GPU, the figure issue 17's simulation target is about.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from ebsdlib.runs import RunDir


class Stage(ABC):
    """One timed unit of work; ``kind`` is ``"inference"`` or ``"training"``."""

    kind = ""
    pipeline = ""

    def __init__(self, precision: str = "fp32"):
        self.precision = precision

    @property
    def key(self) -> str:
        return f"{self.kind} · {self.pipeline} · {self.precision}"

    @abstractmethod
    def __call__(self) -> int:
        """Run the stage once; return the number of patterns it processed."""

    def after_first(self) -> None:  # noqa: B027 - an optional hook: most stages need nothing here
        """Called once after the first (warm-up) call, outside the timing."""


class ModelInference(Stage):
    kind, pipeline = "inference", "model alone"

    def __init__(self, model, device, n_patterns: int, batch_size: int, input_shape: tuple[int, int], precision: str):
        import torch

        from ebsdlib.train.device import memory_format
        from ebsdlib.train.inference import forward_batch_size

        super().__init__(precision)
        # the forward passes the pipeline makes (on the CPU, slices of the read batch)
        self.model, self.device, self.n = model, device, n_patterns
        self.batch_size = forward_batch_size(batch_size, device)
        fmt = memory_format(device)
        self.model.eval().to(device, memory_format=fmt)
        g = torch.Generator().manual_seed(0)
        x = torch.randn((min(self.batch_size, n_patterns), 1, *input_shape), generator=g)
        self.x = x.to(device).contiguous(memory_format=fmt)

    def __call__(self) -> int:
        import torch

        from ebsdlib.train.device import autocast

        done = 0
        with torch.inference_mode(), autocast(self.precision, self.device):
            while done < self.n:
                k = min(self.batch_size, self.n - done)
                self.model(self.x[:k])
                done += k
        return done


class ModelTraining(Stage):
    kind, pipeline = "training", "model alone"

    def __init__(
        self,
        model,
        device,
        steps: int,
        batch_size: int,
        input_shape: tuple[int, int],
        n_classes: int,
        precision: str,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
    ):
        import torch
        from timm.optim import param_groups_weight_decay

        from ebsdlib.train.device import memory_format

        super().__init__(precision)
        fmt = memory_format(device)
        self.model, self.device, self.steps, self.batch_size = (
            model.to(device, memory_format=fmt),
            device,
            steps,
            batch_size,
        )
        self.optimizer = torch.optim.AdamW(param_groups_weight_decay(self.model, weight_decay), lr=lr)
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn((batch_size, 1, *input_shape), generator=g).to(device).contiguous(memory_format=fmt)
        self.y = torch.randint(0, n_classes, (batch_size,), generator=g).to(device)

    def __call__(self) -> int:
        import torch.nn.functional as F

        from ebsdlib.train.device import autocast

        self.model.train()
        for _ in range(self.steps):
            with autocast(self.precision, self.device):
                out = self.model(self.x)
            loss = F.cross_entropy(out.float(), self.y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        return self.steps * self.batch_size


class PipelineTraining(Stage):
    """HDF5 → updated model with the project's trainer; the first call's run is kept for inference."""

    kind, pipeline = "training", "end-to-end"

    def __init__(self, config, runs_dir: Path, precision: str):
        super().__init__(precision)
        self.config, self.runs_dir = config, Path(runs_dir)
        self.count = 0
        self.trainer = None
        self.run: RunDir | None = None
        self.steps = None

    def __call__(self) -> int:
        from ebsdlib.data.format import EBSDDataset
        from ebsdlib.io import write_json
        from ebsdlib.train.loop import Trainer
        from ebsdlib.train.status import StatusReporter

        self.count += 1
        run = RunDir(self.runs_dir / f"speed-{self.precision}-{self.count}")
        run.path.mkdir(parents=True, exist_ok=True)
        write_json(run.config_path, self.config.to_dict())
        dataset = EBSDDataset(self.config.data)
        trainer = Trainer(self.config, run, dataset, StatusReporter(run, min_interval=5.0), False, None)
        trainer.fit()
        self.steps = trainer.steps_per_epoch
        if self.run is None:
            self.trainer, self.run = trainer, run
        else:
            dataset.close()
        return trainer.steps_per_epoch * self.config.batch_size * self.config.epochs

    def after_first(self) -> None:
        """Select and save the first run's weights (its evaluation is not timed) for the inference stage."""
        if self.trainer is None:
            return
        try:
            self.trainer.finish()
            self.run.update_status(state="completed")
        finally:
            self.trainer.dataset.close()
            self.trainer = None


class StreamTraining(PipelineTraining):
    """Stream training end to end: the trainer draws every batch fresh from the simulator on the
    training device (:mod:`ebsdlib.train.stream`) for as many steps as the stored pipeline."""

    kind, pipeline = "training", "stream end-to-end"

    def after_first(self) -> None:
        """Nothing to keep: inference maps with the stored pipeline's run."""
        if self.trainer is not None:
            self.trainer.dataset.close()
            self.trainer = None


class PipelineInference(Stage):
    """HDF5 scan → phase map with :func:`ebsdlib.predict.predict_scan`."""

    kind, pipeline = "inference", "end-to-end"
    #: The phase map's name and what the error calls this stage.
    scan_name, what = "speed", "end-to-end inference"

    def __init__(self, training: PipelineTraining, scan: Path, n_patterns: int, batch_size: int, device):
        super().__init__(training.precision)
        self.training, self.scan, self.n, self.batch_size, self.device = training, scan, n_patterns, batch_size, device

    def options(self) -> dict:
        """``predict_scan`` keywords of this kind of map beyond the common ones."""
        return {}

    def __call__(self) -> int:
        from ebsdlib.predict import predict_scan

        if self.training.run is None:
            raise RuntimeError(f"the end-to-end training stage must run before {self.what}")
        predict_scan(
            self.training.run,
            self.scan,
            batch_size=self.batch_size,
            device=str(self.device),
            progress=False,
            scan_name=self.scan_name,
            **self.options(),
        )
        return self.n


class HybridInference(PipelineInference):
    """HDF5 scan → hybrid phase map (network phase, Hough orientation) with :func:`ebsdlib.predict.predict_scan`."""

    kind, pipeline = "inference", "hybrid map (network + Hough, 1 process)"
    scan_name, what = "speed-hybrid", "the hybrid map"

    def options(self) -> dict:
        return {"orientations": "hough"}


class CompiledInference(PipelineInference):
    """HDF5 scan → phase map with ``predict_scan(..., compile_mode=mode)``: the network run by
    ``torch.compile`` (one fixed batch shape; the warm-up round compiles it)."""

    scan_name, what = "speed-compiled", "compiled inference"

    def __init__(self, training: PipelineTraining, scan: Path, n_patterns: int, batch_size: int, device, mode: str):
        super().__init__(training, scan, n_patterns, batch_size, device)
        self.mode = mode
        self.pipeline = f"end-to-end, torch.compile {mode}"

    def options(self) -> dict:
        return {"compile_mode": self.mode}


class NaiveInference(Stage):
    kind, pipeline = "inference", "naive"

    def __init__(self, model, paths: list[Path], device, batch_size: int = 32):
        super().__init__("fp32")
        self.model, self.paths, self.device, self.batch_size = model.to(device), paths, device, batch_size

    def __call__(self) -> int:
        from ebsdlib.bench.naive import naive_inference

        return naive_inference(self.model, self.paths, self.device, self.batch_size)


class NaiveTraining(Stage):
    kind, pipeline = "training", "naive"

    def __init__(
        self,
        model,
        paths: list[Path],
        labels: np.ndarray,
        device,
        batch_size: int = 32,
        epochs: int = 1,
        lr: float = 2e-3,
    ):
        import torch

        super().__init__("fp32")
        self.model, self.paths, self.labels, self.device = model.to(device), paths, labels, device
        self.batch_size, self.epochs = batch_size, epochs
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=lr)

    def __call__(self) -> int:
        from ebsdlib.bench.naive import naive_training

        return naive_training(
            self.model, self.optimizer, self.paths, self.labels, self.device, self.batch_size, self.epochs
        )


class DictionaryInference(Stage):
    kind, pipeline = "inference", "dictionary indexing"

    def __init__(self, scan: Path, dictionary, preprocess, batch_size: int):
        super().__init__("fp32")
        self.scan, self.dictionary, self.preprocess, self.batch_size = scan, dictionary, preprocess, batch_size

    def __call__(self) -> int:
        from ebsdlib.baseline.index import index_patterns
        from ebsdlib.data.format import EBSDDataset

        with EBSDDataset(self.scan) as ds:
            result = index_patterns(ds, self.dictionary, None, self.preprocess, batch_size=self.batch_size)
        return len(result)


class HoughInference(Stage):
    kind, pipeline = "inference", "Hough indexing (PyEBSDIndex, 1 process)"

    def __init__(self, scan: Path, indexer, preprocess, batch_size: int = 512):
        super().__init__("fp32")
        self.scan, self.indexer, self.preprocess, self.batch_size = scan, indexer, preprocess, batch_size

    def __call__(self) -> int:
        from ebsdlib.baseline.hough import hough_patterns
        from ebsdlib.data.format import EBSDDataset

        with EBSDDataset(self.scan) as ds:
            result = hough_patterns(ds, self.indexer, None, self.preprocess, batch_size=self.batch_size)
        return len(result)


class PatternSimulation(Stage):
    kind = "simulation"

    def __init__(self, forward_model: str, settings, masters: dict, n_patterns: int):
        super().__init__("fp32")
        self.pipeline = f"{forward_model} patterns"
        self.settings, self.masters, self.n = settings, masters, n_patterns
        self.round = 0

    def __call__(self) -> int:
        from ebsdlib.simulate.dataset import render_clean
        from ebsdlib.simulate.detector import standardise
        from ebsdlib.simulate.orientations import random_quaternions

        s = self.settings
        rng = np.random.default_rng([s.seed, self.round])
        self.round += 1
        phases = s.resolved_phases()
        labels = rng.integers(len(phases), size=self.n)
        shape = (int(s.pattern_size), int(s.pattern_size))
        clean = render_clean(self.masters, phases, labels, random_quaternions(self.n, rng), None, s.detector, shape)
        s.detector.expose(standardise(clean), s.pattern_doses(self.n, rng), rng, nominal_dose=s.dose)
        return self.n


class StreamSimulation(Stage):
    """Batches of fresh raw patterns from the stream trainer's source on the device (nothing else)."""

    kind = "simulation"

    def __init__(self, settings, device, n_patterns: int, batch_size: int):
        from ebsdlib.train.stream import StreamFeeder

        super().__init__("fp32")
        self.pipeline = f"stream on {device.type} (torch)"
        self.batch_size = int(batch_size)
        n = max(self.batch_size, int(n_patterns) // self.batch_size * self.batch_size)
        self.feeder = StreamFeeder(settings, n, device)
        self.seed, self.round = int(settings.seed), 0

    def __call__(self) -> int:
        rng = np.random.default_rng([self.seed, self.round])
        self.round += 1
        return sum(len(labels) for _, _, labels in self.feeder.batches(self.batch_size, rng))


def steps_for(n_train: int, batch_size: int, epochs: int) -> int:
    """Optimizer steps of the trainer's epochs (``drop_last``: full batches only, at least one)."""
    return max(1, n_train // batch_size if n_train >= batch_size else math.ceil(n_train / batch_size)) * epochs
