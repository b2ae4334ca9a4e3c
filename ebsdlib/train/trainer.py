"""One training session: model, optimiser and data on the device, the epochs, the end-of-run steps.

:func:`ebsdlib.train.loop.train` and :func:`~ebsdlib.train.loop.resume` create and drive a
:class:`Trainer`; see :mod:`ebsdlib.train.loop` for the run's life and for which weights
become ``checkpoint_best.pt``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.data.format import EBSDDataset
from ebsdlib.runs import RunDir
from ebsdlib.train.config import TrainConfig
from ebsdlib.train.status import StatusReporter

if TYPE_CHECKING:
    from ebsdlib.distributed.context import Context

#: Training patterns embedded as the k-NN reference of SupCon's per-epoch validation.
KNN_REFERENCE_SIZE = 2048

#: ``on_epoch_end(epoch, history_row)``, called after each epoch's checkpoint is written.
EpochCallback = Callable[[int, dict], None]

#: Training steps at the start of a session (a new or resumed run) left out of the recorded
#: throughput: they pay one-time costs — cuDNN autotuning (``cudnn.benchmark``), the CUDA caching
#: allocator's growth, lazy kernel loading, the first prefetch fill — that a long run does not.
WARMUP_STEPS = 5


class Cancelled(Exception):
    """Raised inside the loop when the run's cancel file appears."""


@dataclass
class _Clock:
    """Time spent in training steps this session: all of it for the ETA, the steady state (after
    :data:`WARMUP_STEPS` steps) for the recorded throughput."""

    step_seconds: float = 0.0
    steps: int = 0
    patterns: int = 0
    val_seconds: float = 0.0
    val_count: int = 0
    steady_seconds: float = 0.0
    steady_patterns: int = 0

    def add_step(self, seconds: float, patterns: int) -> None:
        """Count one training step of ``seconds`` (batch wait included) and ``patterns`` patterns."""
        self.step_seconds += seconds
        self.steps += 1
        self.patterns += patterns
        if self.steps > WARMUP_STEPS:
            self.steady_seconds += seconds
            self.steady_patterns += patterns

    def add_tail(self, seconds: float) -> None:
        """Add the device work still queued after an epoch's last step to that step."""
        self.step_seconds += seconds
        if self.steps > WARMUP_STEPS:
            self.steady_seconds += seconds

    def throughput(self, world_size: int) -> dict:
        """What ``metrics.json`` records of the training rate.

        ``train_patterns_per_second``: patterns (all processes) ÷ seconds of the training steps
        after the first :data:`WARMUP_STEPS` of the session, each step timed from the end of the
        previous one (waiting for the batch included; on CUDA synchronised where the steady state
        starts and at each epoch's end); over every step when the session had no more than the
        warm-up. ``train_patterns_timed``: the patterns that rate counts. ``warmup_batches_excluded``:
        the steps left out (0 when none could be). ``throughput_note``: the same in words.
        """
        steady = self.steady_patterns > 0 and self.steady_seconds > 0
        seconds, patterns = (
            (self.steady_seconds, self.steady_patterns) if steady else (self.step_seconds, self.patterns)
        )
        excluded = min(self.steps, WARMUP_STEPS) if steady else 0
        if steady:
            note = (
                f"steady state: the first {excluded} training steps of the session (warm-up) are excluded; "
                f"{patterns} patterns per process in {self.steps - excluded} steps, batch wait included"
            )
        else:
            note = (
                f"warm-up not excluded: the session ran {self.steps} training steps, not more than "
                f"the {WARMUP_STEPS} warm-up steps; all of them are timed"
            )
        return {
            "train_patterns_per_second": patterns * world_size / seconds if seconds else None,
            "train_patterns_timed": patterns * world_size,
            "warmup_batches_excluded": excluded,
            "throughput_note": note,
        }


class Trainer:
    """The state of one training session; :func:`train` and :func:`resume` drive it.

    ``dist`` is the :class:`~ebsdlib.distributed.context.Context` of a torchrun launch (see
    :mod:`ebsdlib.distributed` for its rules); by default the session is a single process.
    """

    def __init__(
        self,
        config: TrainConfig,
        run: RunDir,
        dataset: EBSDDataset,
        reporter: StatusReporter,
        progress: bool,
        on_epoch_end: EpochCallback | None,
        *,
        dist: Context | None = None,
    ):
        import torch
        from timm.optim import param_groups_weight_decay

        from ebsdlib.distributed.context import Context
        from ebsdlib.train._ddp_model import training_forward
        from ebsdlib.train._ddp_sampler import make_feeder
        from ebsdlib.train.data import background_tensor
        from ebsdlib.train.device import channels_last, memory_format, resolve_device, resolve_precision
        from ebsdlib.train.holdout import fitted_indices, labelled_indices
        from ebsdlib.train.memory import Backoff
        from ebsdlib.train.models import build_model
        from ebsdlib.train.schedule import build_scheduler

        self.config, self.run, self.dataset, self.reporter = config, run, dataset, reporter
        self.progress, self.on_epoch_end = progress, on_epoch_end
        self.dist = dist if dist is not None else Context()
        self.device = self.dist.device(resolve_device(config.device))
        self.precision = resolve_precision(config.precision, self.device)
        self.channels_last = channels_last(self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.phases = dataset.phases
        self.train_idx = fitted_indices(dataset, config, config.train_splits)  # without the calibration hold-out
        self._check_training_data()
        self.val_idx = labelled_indices(dataset, ("val",)) if config.validation else None
        if len(labelled_indices(dataset, (config.eval_split,))) == 0:
            other = "without" if config.validation else "with"
            raise ValueError(
                f"{dataset.path}: split {config.eval_split!r} has no labelled patterns, so the "
                f"run would have nothing to report on; train {other} --validation or re-split "
                "the data"
            )
        if config.stream:
            from ebsdlib.train.stream import StreamFeeder, stream_settings

            per_epoch = config.stream_patterns or len(self.train_idx)
            self.feeder = StreamFeeder(
                stream_settings(dataset), per_epoch, self.device, rank=self.dist.rank, ranges=config.randomise
            )
        else:
            self.feeder = make_feeder(
                dataset, self.train_idx, self.dist.rank, self.dist.world_size, self.dist.local_world_size
            )
            self.feeder.place(self.device)  # CUDA: the split goes to the device once when it fits
        self.steps_per_epoch = self.feeder.steps(config.batch_size)
        # out of memory: batches run as micro-batches of half the size (one process only: under
        # torchrun one rank cannot retry alone, so it fails with the message instead)
        self.backoff = Backoff(
            config.batch_size,
            self.device,
            floor=2,
            what="training step",
            advice="--batch-size",
            enabled=not self.dist.enabled,
        )
        torch.manual_seed(config.seed)
        self.model = build_model(config, len(self.phases), root=run.path.parent.parent)
        self.model.to(self.device, memory_format=memory_format(self.device))
        self.train_forward = training_forward(self.model, config.loss, self.dist, self.device)
        self.optimizer = torch.optim.AdamW(param_groups_weight_decay(self.model, config.weight_decay), lr=config.lr)
        self.scheduler = build_scheduler(
            self.optimizer, config.schedule, config.epochs, config.warmup_epochs, self.steps_per_epoch
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.background = background_tensor(dataset, config.preprocess, self.device)
        self.epoch = 0
        self.history: list[dict] = []
        self.best = {
            "epoch": None,
            "metric": None,
            "selected_on": "validation accuracy"
            if config.validation
            else "last epoch (train+val mode has no held-out split)",
        }
        self.training_seconds = 0.0
        self.clock = _Clock()

    def _check_training_data(self) -> None:
        where, splits = self.dataset.path, list(self.config.train_splits)
        if len(self.train_idx) < 2:
            raise ValueError(
                f"{where}: splits {splits} hold {len(self.train_idx)} labelled patterns; "
                "training needs at least 2 — check the labels and the split"
            )
        present = np.unique(self.dataset.labels[self.train_idx])
        if len(present) < 2:
            names = [self.phases[int(c)].name for c in present]
            raise ValueError(
                f"{where}: splits {splits} contain only the phase(s) {names}; a classifier "
                "needs at least two phases to learn from"
            )

    # -- state --------------------------------------------------------------------------------
    def state(self) -> dict:
        """Everything ``checkpoint_last.pt`` needs for an exact resume."""
        from ebsdlib.train.checkpoint import rng_state

        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            **self._summary(),
        }

    def _summary(self) -> dict:
        return {
            "epoch": self.epoch,
            "config": self.config.to_dict(),
            "phases": [p.to_dict() for p in self.phases],
            "history": list(self.history),
            "best": dict(self.best),
            "training_seconds": self.training_seconds,
            "probe_fitted": False,
            **self._launch(),
        }

    def _launch(self) -> dict:
        """``{"distributed": …}`` under torchrun (world size, effective batch and lr), else nothing."""
        if not self.dist.enabled:
            return {}
        return {"distributed": self.dist.describe(self.config.batch_size, self.config.lr)}

    def load_state(self, ckpt: dict) -> None:
        """Restore a ``checkpoint_last.pt``; its phase list must match the data set's."""
        from ebsdlib.train.checkpoint import checkpoint_phases, load_model_state, set_rng_state

        saved = int((ckpt.get("distributed") or {}).get("world_size", 1))
        if saved != self.dist.world_size:
            raise ValueError(
                f"{self.run.last_checkpoint}: the run trained on {saved} process(es) and is resumed "
                f"on {self.dist.world_size}; the batches and the schedule depend on the number of "
                f"processes — resume it on {saved} (torchrun --nnodes × --nproc_per_node = {saved}"
                f"{', or without torchrun' if saved == 1 else ''})"
            )
        names = [p.name for p in checkpoint_phases(ckpt)]
        if names != [p.name for p in self.phases]:
            raise ValueError(
                f"{self.run.last_checkpoint}: its phase list {names} does not match the data set "
                f"{self.dataset.path} ({[p.name for p in self.phases]}); the data set changed "
                "since the run started — start a new run"
            )
        load_model_state(
            self.model,
            ckpt["model"],
            self.run.last_checkpoint,
            f"model {self.config.model!r} with loss {self.config.loss!r}",
        )
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        set_rng_state(ckpt["rng"])
        self.epoch = int(ckpt["epoch"])
        self.history = list(ckpt["history"])
        if self.history and self.history[-1].get("micro_batch_size"):  # a size halved before the interruption
            self.backoff.size = min(self.backoff.size, int(self.history[-1]["micro_batch_size"]))
        self.best = dict(ckpt["best"])
        self.training_seconds = float(ckpt["training_seconds"])

    # -- epochs -------------------------------------------------------------------------------
    def fit(self) -> None:
        """Run the remaining epochs, checkpointing after each."""
        from tqdm.auto import tqdm

        from ebsdlib.train.checkpoint import save_checkpoint
        from ebsdlib.train.status import write_history

        cfg, spe = self.config, self.steps_per_epoch
        self.reporter.update(force=True, epoch=self.epoch, epochs=cfg.epochs, steps_per_epoch=spe)
        if self.history and self.dist.is_main:  # resumed: a process killed after its checkpoint but
            write_history(self.run, self.history)  # before history.csv left the file an epoch behind
        bar = tqdm(
            total=cfg.epochs * spe,
            initial=self.epoch * spe,
            disable=not self.progress,
            desc=self.run.run_id,
            unit="step",
            dynamic_ncols=True,
            leave=None,  # kept on its own; cleared when nested under a benchmark's bar
        )
        try:
            while self.epoch < cfg.epochs:
                t0 = time.perf_counter()
                train_loss, lr = self._train_epoch(bar)
                val_loss, val_acc = self._validate() if cfg.validation else (None, None)
                self.epoch += 1
                seconds = time.perf_counter() - t0
                self.training_seconds += seconds
                row = {
                    "epoch": self.epoch,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    "val_accuracy": val_acc,
                    "lr": lr,
                    "seconds": seconds,
                    "micro_batch_size": min(self.backoff.size, cfg.batch_size),
                }
                self.history.append(row)
                new_best = cfg.validation and (self.best["metric"] is None or val_acc > self.best["metric"])
                if new_best:
                    self.best.update(epoch=self.epoch, metric=val_acc)
                if self.dist.is_main:  # under torchrun only rank 0 writes into the run folder
                    if new_best:
                        save_checkpoint(self.run.best_checkpoint, {"model": self.model.state_dict(), **self._summary()})
                    save_checkpoint(self.run.last_checkpoint, self.state())
                    write_history(self.run, self.history)
                self.reporter.update(
                    force=True,
                    epoch=self.epoch,
                    step=0,
                    train_loss=train_loss,
                    val_loss=val_loss,
                    val_accuracy=val_acc,
                    eta_seconds=self._eta(),
                    message=f"epoch {self.epoch}/{cfg.epochs} done{self._micro_note()}",
                )
                if self.on_epoch_end is not None and self.dist.is_main:
                    self.on_epoch_end(self.epoch, row)
        finally:
            bar.close()

    def _train_epoch(self, bar) -> tuple[float, float]:
        """One pass over the training patterns; returns the mean loss and the last learning rate used."""
        import torch
        import torch.nn.functional as F

        from ebsdlib.train._ddp_model import metric_loss
        from ebsdlib.train.data import prepare_batch
        from ebsdlib.train.device import autocast, synchronize

        cfg, model, dev = self.config, self.model, self.device
        seeds = np.random.SeedSequence([cfg.seed, self.epoch])
        rng = np.random.default_rng(seeds)
        flips = torch.Generator().manual_seed(int(seeds.generate_state(1)[0])) if cfg.augment else None
        supcon = None
        if cfg.loss == "supcon":
            from pytorch_metric_learning.losses import SupConLoss

            supcon = metric_loss(SupConLoss(temperature=cfg.temperature), self.dist)
        elif cfg.loss == "contrastive":
            from pytorch_metric_learning.losses import ContrastiveLoss
            from pytorch_metric_learning.miners import BatchHardMiner

            from ebsdlib.train._ddp_model import MinedLoss

            supcon = MinedLoss(ContrastiveLoss(), BatchHardMiner(), self.dist)
        model.train()
        loss_sum = torch.zeros((), device=dev)
        steps, lr = 0, float(self.optimizer.param_groups[0]["lr"])
        self.reporter.update(force=True, message=f"epoch {self.epoch + 1}/{cfg.epochs}", step=0)
        t0 = time.perf_counter()  # step time includes waiting for the batch: end-to-end throughput
        for _, raw, labels in self.feeder.batches(cfg.batch_size, rng):
            if self._stop_requested():
                raise Cancelled()
            x = prepare_batch(
                raw, dev, cfg.preprocess, self.background, flips, self.channels_last, shard=self.dist.shard
            )
            y = torch.from_numpy(labels).to(dev, non_blocking=True)

            def backward(
                part: slice | None, weight: float | None, x: torch.Tensor = x, y: torch.Tensor = y
            ) -> torch.Tensor:
                xs, ys = (x, y) if part is None else (x[part], y[part])
                with autocast(self.precision, dev):
                    out = self.train_forward(xs)
                loss = F.cross_entropy(out.float(), ys) if supcon is None else supcon(out.float(), ys)
                if weight is not None:
                    loss = loss * weight
                self.scaler.scale(loss).backward()
                return loss.detach()

            halvings = len(self.backoff.halvings)
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.backoff.accumulate(len(x), backward, lambda: self.optimizer.zero_grad(set_to_none=True))
            if len(self.backoff.halvings) > halvings:
                self.reporter.update(force=True, message=f"epoch {self.epoch + 1}/{cfg.epochs}{self._micro_note()}")
            self.scaler.step(self.optimizer)
            self.scaler.update()
            lr = float(self.optimizer.param_groups[0]["lr"])
            self.scheduler.step()
            loss_sum += loss
            steps += 1
            if self.clock.steps + 1 == WARMUP_STEPS:  # the steady state starts with no warm-up work queued
                synchronize(dev)
            now = time.perf_counter()
            self.clock.add_step(now - t0, len(raw))
            t0 = now
            bar.update(1)
            if self.reporter.due():
                mean = float(loss_sum) / steps
                bar.set_postfix(epoch=self.epoch + 1, loss=f"{mean:.4f}")
                self.reporter.update(step=steps, train_loss=mean, eta_seconds=self._eta(steps))
        synchronize(dev)  # the last steps' queued device work belongs to the training time
        self.clock.add_tail(time.perf_counter() - t0)
        mean = self.dist.mean(float(loss_sum) / max(steps, 1))
        if not np.isfinite(mean):
            raise FloatingPointError(
                f"the training loss became {mean} in epoch {self.epoch + 1}; "
                f"lower the learning rate (lr={cfg.lr!r}) or use precision 'fp32'"
            )
        return mean, lr

    def _micro_note(self) -> str:
        """``"; out of memory at batch size 64 on cuda:0: micro-batches of 32 …"`` after a halving."""
        if not self.backoff.halvings:
            return ""
        failed = self.backoff.halvings[-1][0]
        return (
            f"; out of memory at batch size {failed} on {self.device}: batches of {self.config.batch_size} "
            f"run as micro-batches of {self.backoff.size} (gradients accumulated)"
        )

    def _stop_requested(self) -> bool:
        """The run's cancel request; under torchrun agreed on by every rank (rank 0 reads ``CANCEL``)."""
        local = self.dist.stop_requested or (self.dist.is_main and self.run.cancel_requested)
        return self.dist.any(local)

    def _predict(self, indices: np.ndarray, embeddings: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and embeddings of ``indices``; under torchrun each rank does a share."""
        from ebsdlib.train._ddp_inference import predict_sharded

        cfg = self.config
        return predict_sharded(
            self.model,
            self.dataset,
            indices,
            cfg.preprocess,
            self.dist,
            self.device,
            cfg.eval_batch_size,
            self.precision,
            embeddings=embeddings,
        )

    def _validate(self) -> tuple[float | None, float]:
        """Validation loss (cross-entropy only) and accuracy on the val split."""
        from ebsdlib.train.probe import knn_predict

        cfg = self.config
        t0 = time.perf_counter()
        self.reporter.update(force=True, message=f"validating epoch {self.epoch + 1}")
        y = self.dataset.labels[self.val_idx]
        proba, emb = self._predict(self.val_idx, embeddings=cfg.metric_learning)
        if cfg.loss == "ce":
            val_loss = float(-np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, None)).mean())
            accuracy = float((proba.argmax(1) == y).mean())
        else:
            ref = self._knn_reference_indices()
            _, ref_emb = self._predict(ref)
            pred = knn_predict(ref_emb, self.dataset.labels[ref], emb, cfg.knn_k)
            val_loss, accuracy = None, float((pred == y).mean())
        self.model.train()
        self.clock.val_seconds += time.perf_counter() - t0
        self.clock.val_count += 1
        return val_loss, accuracy

    def _knn_reference_indices(self) -> np.ndarray:
        idx = self.train_idx
        if len(idx) <= KNN_REFERENCE_SIZE:
            return idx
        rng = np.random.default_rng([self.config.seed, 7])
        return np.sort(rng.choice(idx, KNN_REFERENCE_SIZE, replace=False))

    def _eta(self, steps_this_epoch: int = 0) -> float | None:
        c = self.clock
        if not c.steps:
            return None
        remaining = (self.config.epochs - self.epoch) * self.steps_per_epoch - steps_this_epoch
        val_each = c.val_seconds / c.val_count if c.val_count else 0.0
        return max(0.0, remaining * c.step_seconds / c.steps + (self.config.epochs - self.epoch) * val_each)

    # -- after the epochs ---------------------------------------------------------------------
    def _calibrate(self) -> dict:
        """Fit the calibrator (``config.calibrator``) on the validation split and fold it into the
        classifier; returns what ``metrics.json`` records of it (``temperature`` ``None`` without a
        validation split; ``None`` too when vector scaling was chosen, whose scales and offsets
        are under ``calibrator``)."""
        from ebsdlib.train.holdout import calibration_indices
        from ebsdlib.train.inference import predict_dataset
        from ebsdlib.train.temperature import calibrate_classifier

        idx = calibration_indices(self.dataset, self.config)
        if len(idx) < 2:
            return {"temperature": None, "calibration_note": f"{self.dataset.path.name} has no validation split"}
        self.reporter.update(force=True, message="fitting the calibrator on the validation split")
        _, features = predict_dataset(
            self.model,
            self.dataset,
            idx,
            self.config.preprocess,
            self.device,
            self.config.eval_batch_size,
            self.precision,
            progress=self.progress,
        )
        labels = self.dataset.labels[idx]
        note = {}
        try:
            calibrator, nll = calibrate_classifier(self.model, features, labels, self.config.calibrator)
        except ValueError as e:  # vector scaling without every phase: keep the trained run, say why
            calibrator, nll = calibrate_classifier(self.model, features, labels, "temperature")
            note = {"calibration_note": f"{e}; a temperature was fitted instead"}
        return {
            **note,
            "temperature": calibrator.temperature,
            "calibrator": calibrator.to_dict(),
            "calibration_split": (
                f"val, a {self.config.calibration_holdout:g} share held out of training"
                if self.config.calibration_held_out_by_holdout
                else "val"
            ),
            "calibration_patterns": len(idx),
            "calibration_held_out": self.config.calibration_held_out,
            "calibration_nll": nll,
        }

    def finish(self) -> dict:
        """Select the weights, fit the SupCon probe, write ``checkpoint_best.pt``, evaluate."""
        import torch

        from ebsdlib.data.fingerprint import data_entry
        from ebsdlib.train.checkpoint import load_checkpoint, save_checkpoint
        from ebsdlib.train.evaluate import evaluate_model
        from ebsdlib.train.holdout import fitted_indices
        from ebsdlib.train.inference import predict_dataset
        from ebsdlib.train.probe import fit_linear_probe

        cfg = self.config
        prior = None
        if cfg.validation:
            best = load_checkpoint(self.run.best_checkpoint)
            self.model.load_state_dict(best["model"])
            # a finish cut short after saving the calibrated weights: keep them and their calibration
            # (a probe, fitted again below, replaces the classifier and is calibrated again)
            prior = best.get("calibration") if not cfg.metric_learning else None
        else:
            self.best.update(epoch=self.epoch, metric=None)
        reference = None
        if cfg.metric_learning:
            self.reporter.update(force=True, message="fitting the linear probe on frozen embeddings")
            probe_idx = fitted_indices(self.dataset, cfg, cfg.probe_splits)
            _, feats = predict_dataset(
                self.model,
                self.dataset,
                probe_idx,
                cfg.preprocess,
                self.device,
                cfg.eval_batch_size,
                self.precision,
                progress=self.progress,
            )
            labels = self.dataset.labels[probe_idx]
            weight, bias = fit_linear_probe(feats, labels, len(self.phases), cfg.probe_epochs, cfg.seed)
            with torch.no_grad():
                self.model.classifier.weight.copy_(torch.from_numpy(weight))
                self.model.classifier.bias.copy_(torch.from_numpy(bias))
            reference = (feats, labels)
        if prior is not None:
            calibration = prior
        else:
            calibration = self._calibrate() if cfg.calibrate else {"temperature": None}
        save_checkpoint(
            self.run.best_checkpoint,
            {
                "model": self.model.state_dict(),
                **self._summary(),
                "epoch": self.best["epoch"],
                "probe_fitted": cfg.metric_learning,
                "temperature": calibration["temperature"],
                "calibration": calibration,
            },
        )
        self.reporter.update(force=True, message=f"evaluating split {cfg.eval_split!r}")
        c = self.clock
        extra = {
            "training_seconds": self.training_seconds,
            **c.throughput(self.dist.world_size),
            "feeder": "stream" if cfg.stream else self.feeder.kind,
            "selected_epoch": self.best["epoch"],
            "selected_on": self.best["selected_on"],
            "device": str(self.device),
            "precision": self.precision,
            "torch_threads": torch.get_num_threads(),
            "micro_batch_size": min(self.backoff.size, cfg.batch_size),
            "out_of_memory_halvings": [list(h) for h in self.backoff.halvings],
            **calibration,
            **self._launch(),
            **data_entry(self.dataset.path, self.run.path.parent.parent),
        }
        return evaluate_model(
            self.model,
            cfg,
            self.phases,
            self.dataset,
            cfg.eval_split,
            self.run.path,
            device=self.device,
            knn_reference=reference,
            extra=extra,
            progress=self.progress,
        )
