"""Scaling: how the networks' gap to the physical limit closes with patterns seen and model size.

Stream training never shows a pattern twice, so "more data" is "more steps". For each timm model
and each budget of patterns seen, a cross-entropy network is stream-trained
(:mod:`ebsdlib.train.stream`) on the simulator settings of one stored data set (dynamical default,
the benchmark's dose) and tested on its stored test split; beside it, the ideal matcher of
:mod:`ebsdlib.simulate.calibrate` (true orientation and pattern centre known) at the same dose.
Rows record accuracy with its interval, per-phase recall, the Ni/Ni₃Fe pair accuracy, the model's
parameter count, seconds and patterns per second of training, so a budget a CPU cannot reach
(10⁶ patterns) can be read off as a measured slope or run on a GPU.

Output: ``artifacts/bench/scaling.json`` (config, environment, rows, oracle; ``complete`` false
until the last budget is done) and ``scaling.csv``.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

import numpy as np

from ebsdlib.simulate.config import DEFAULT_DOSE


@dataclass(frozen=True)
class ScalingBenchConfig:
    """Sizes and settings of the scaling benchmark.

    Parameters
    ----------
    models
        timm model names, smallest first.
    patterns_seen
        Budgets of streamed training patterns (each network sees each pattern once).
    dose
        Electrons per pixel of the stored set and the stream (default: the simulator's).
    n_per_phase, split_fractions, pattern_size
        The stored set whose validation split calibrates and whose test split reports.
    input_size
        The networks' input size in pixels (patterns are resized to it on the training device);
        ``None``: the pattern size. Larger than ``pattern_size`` asks whether a network fails for want
        of information in the pattern or for want of pixels after its strided stem.
    forward_model
        Master patterns of the stored set and the stream.
    pc_spread
        σ of each pattern's pattern centre around the detector's, of the stored set and the stream
        (fractions of the detector); ``None``: the detector's default (0.01). 0 gives every pattern
        the same, known PC: it asks whether the networks miss Ni/Ni₃Fe for want of the PC that the
        ideal matcher is given.
    augment
        Random horizontal and vertical flips of the streamed patterns (the training default). A flip
        moves the pattern centre (PC y 0.22 becomes 0.78), so flipped patterns are patterns of another
        geometry than every test pattern's.
    stream_patterns, batch_size, lr
        Patterns per epoch (a budget is a whole number of epochs of it), batch and learning rate.
    oracle_patterns
        Orientations per phase of the ideal matcher at ``dose``.
    master_half_size
        Kinematical master-pattern size.
    seed, device
        Reproducibility and hardware.
    """

    models: tuple[str, ...] = ("lcnet_050", "lcnet_100")
    patterns_seen: tuple[int, ...] = (10_000, 30_000, 100_000)
    dose: float = DEFAULT_DOSE
    n_per_phase: int = 300
    split_fractions: tuple[float, float, float] = (0.1, 0.3, 0.6)
    pattern_size: int = 64
    input_size: int | None = None
    forward_model: Literal["kinematical", "dynamical"] = "dynamical"
    pc_spread: float | None = None
    augment: bool = True
    stream_patterns: int = 5_000
    batch_size: int = 32
    lr: float = 3e-3
    oracle_patterns: int = 100
    master_half_size: int = 250
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "patterns_seen", tuple(int(n) for n in self.patterns_seen))
        object.__setattr__(self, "split_fractions", tuple(float(f) for f in self.split_fractions))
        if not self.models or not all(isinstance(m, str) and m for m in self.models):
            raise ValueError(f"models {list(self.models)!r} must be one or more timm model names")
        if not self.patterns_seen or any(n < self.batch_size for n in self.patterns_seen):
            raise ValueError(
                f"patterns_seen {list(self.patterns_seen)!r} must be one or more budgets of at least "
                f"batch_size ({self.batch_size}) patterns"
            )
        if not isinstance(self.stream_patterns, int) or self.stream_patterns < self.batch_size:
            raise ValueError(
                f"stream_patterns {self.stream_patterns!r} must be an integer of at least "
                f"batch_size ({self.batch_size})"
            )
        if not (np.isfinite(self.dose) and self.dose > 0):
            raise ValueError(f"dose {self.dose!r} must be a positive number of electrons per pixel")
        if not isinstance(self.n_per_phase, int) or self.n_per_phase < 4:
            raise ValueError(f"n_per_phase {self.n_per_phase!r} must be an integer of at least 4")
        if self.pc_spread is not None and not (np.isfinite(self.pc_spread) and 0 <= self.pc_spread < 0.2):
            raise ValueError(
                f"pc_spread {self.pc_spread!r} must be a σ of the pattern centre in [0, 0.2) of the detector, "
                "or None for the detector's default"
            )
        if self.input_size is not None:
            from ebsdlib.data.preprocess import PreprocessConfig

            try:
                PreprocessConfig(size=self.input_size)
            except ValueError as err:
                raise ValueError(f"input_size: {err}") from None

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("models", "patterns_seen", "split_fractions"):
            d[k] = list(d[k])
        return d

    def epochs_for(self, budget: int) -> tuple[int, int]:
        """``(epochs, patterns per epoch)`` that see ``budget`` patterns: whole epochs of at most
        :attr:`stream_patterns`, each a whole number of batches."""
        epochs = max(1, math.ceil(budget / self.stream_patterns))
        per_epoch = max(self.batch_size, round(budget / epochs / self.batch_size) * self.batch_size)
        return epochs, per_epoch

    @classmethod
    def quick(cls, **changes) -> ScalingBenchConfig:
        """A tiny benchmark for tests: one test model, two tiny budgets, 32×32 kinematical patterns."""
        base = dict(
            models=("test_efficientnet",),
            patterns_seen=(16, 48),
            n_per_phase=8,
            split_fractions=(0.25, 0.25, 0.5),
            pattern_size=32,
            forward_model="kinematical",
            stream_patterns=16,
            batch_size=8,
            oracle_patterns=4,
            master_half_size=40,
            device="cpu",
        )
        known = {f.name for f in fields(cls)}
        return cls(**{**base, **{k: v for k, v in changes.items() if k in known}})


def run_scaling_bench(
    config: ScalingBenchConfig | None = None,
    out_dir: str | Path | None = None,
    *,
    work_dir: str | Path | None = None,
    keep: bool = False,
    progress: bool = True,
) -> dict:
    """Train one stream network per model and budget, test each, write the results.

    Parameters
    ----------
    config
        Sizes and settings; defaults when ``None``.
    out_dir
        Result folder; default ``<artifacts>/bench``.
    work_dir
        Where the stored set and the runs go; default a temporary folder under ``<artifacts>/scratch``.
    keep
        Keep ``work_dir`` instead of deleting it at the end.
    progress
        Show a tqdm bar over the trainings.

    Returns
    -------
    dict
        The document written to ``scaling.json``.
    """
    from tqdm.auto import tqdm

    from ebsdlib.bench.report import bench_root, environment, kept_work_dir, work_folder, write_results
    from ebsdlib.bench.robustness import accuracy_fields, simulate_stored_set, stream_train
    from ebsdlib.train.device import resolve_device

    config = config or ScalingBenchConfig()
    out = Path(out_dir) if out_dir is not None else bench_root()
    out.mkdir(parents=True, exist_ok=True)
    work = work_folder("scaling", work_dir)
    env = environment(str(resolve_device(config.device)))
    t_start = time.perf_counter()
    rows: list[dict] = []
    oracle: list[dict] = []

    def save(complete: bool) -> dict:
        doc = {
            "kind": "scaling",
            "complete": complete,
            "config": config.to_dict(),
            "environment": env,
            "rows": rows,
            "oracle": oracle,
            "seconds": time.perf_counter() - t_start,
            "work_dir": kept_work_dir(work, keep),
        }
        flat = [{k: v for k, v in r.items() if k != "train_loss_curve"} for r in rows]  # the curve: JSON only
        write_results(doc, out / "scaling.json", flat, out / "scaling.csv")
        return doc

    try:
        sim = dict(
            dose=float(config.dose),
            n_per_phase=config.n_per_phase,
            split_fractions=config.split_fractions,
            pattern_size=config.pattern_size,
            forward_model=config.forward_model,
            master_half_size=config.master_half_size,
            seed=config.seed,
            **detector_settings(config),
        )
        data = simulate_stored_set(work / "stored.h5", **sim)
        oracle.extend(oracle_rows(config, sim))
        save(complete=False)
        jobs = [(m, n) for m in config.models for n in config.patterns_seen]
        for model, budget in tqdm(jobs, desc="scaling benchmark", unit="run", disable=not progress):
            epochs, per_epoch = config.epochs_for(budget)
            t0 = time.perf_counter()
            run = stream_train(
                data,
                work,
                model=model,
                epochs=epochs,
                batch_size=config.batch_size,
                lr=config.lr,
                stream_patterns=per_epoch,
                seed=config.seed,
                device=config.device,
                name=f"scaling {model} {budget}",
                input_size=config.input_size,
                augment=config.augment,
                progress=progress,
            )
            seconds = time.perf_counter() - t0
            metrics = run.metrics()
            seen = epochs * per_epoch
            rows.append(
                {
                    "model": model,
                    "parameters": metrics.get("parameters") or parameter_count(run),
                    "patterns_seen": seen,
                    "epochs": epochs,
                    "input_size": run.config()["preprocess"]["size"],
                    **accuracy_fields(metrics),
                    **stream_losses(run, metrics),
                    "patterns_per_epoch": per_epoch,
                    "train_seconds": seconds,
                    "train_patterns_per_second": seen / seconds if seconds > 0 else None,
                }
            )
            save(complete=False)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return save(complete=True)


def detector_settings(config: ScalingBenchConfig) -> dict:
    """``{"detector": ...}`` with the config's ``pc_spread`` when it sets one, else ``{}`` (the default)."""
    from dataclasses import replace

    from ebsdlib.simulate.detector import DetectorModel

    if config.pc_spread is None:
        return {}
    return {"detector": replace(DetectorModel(), pc_spread=float(config.pc_spread))}


def oracle_rows(config: ScalingBenchConfig, sim: dict) -> list[dict]:
    """The ideal matcher's pair accuracies at the benchmark's dose (:func:`ebsdlib.simulate.calibrate.calibrate`)."""
    from ebsdlib.simulate import SimulationConfig
    from ebsdlib.simulate.calibrate import calibrate

    base = SimulationConfig(patterns_per_grain=1, **sim)
    return calibrate([config.dose], n_per_phase=config.oracle_patterns, base=base, logreg=False)


def stream_losses(run, metrics: dict) -> dict:
    """The streamed training loss of a run's first and last epoch and of every epoch
    (``train_loss_curve``; ``metrics``: the run's, already read). Every streamed pattern is new, so
    it is a loss on unseen patterns: near ``chance_loss`` (ln of the number of phases) the network
    has learnt nothing from the stream; below it, it has, whatever the stored test split says."""
    history = run.history()
    losses = [] if history is None or "train_loss" not in history else history["train_loss"].dropna().tolist()
    names = metrics.get("phase_names") or []
    return {
        "train_loss_first": float(losses[0]) if losses else None,
        "train_loss_last": float(losses[-1]) if losses else None,
        "train_loss_curve": [float(v) for v in losses],
        "chance_loss": math.log(len(names)) if names else None,
    }


def parameter_count(run) -> int | None:
    """Parameters of a run's network, from its best checkpoint."""
    from ebsdlib.train.inference import load_model

    if not run.best_checkpoint.exists():
        return None
    model, _, _ = load_model(run.best_checkpoint, "cpu")
    return int(sum(p.numel() for p in model.parameters()))


def summary_table(doc: dict) -> str:
    """The benchmark as a text table, the ideal matcher's pair accuracy and each model's slope below."""
    from ebsdlib.bench.report import text_table
    from ebsdlib.metrics import log_slope, pair_chance_loss

    rows = [
        {**r, "ci": f"{r['accuracy_low']:.2f}–{r['accuracy_high']:.2f}" if r.get("accuracy_low") is not None else None}
        for r in doc["rows"]
    ]
    table = text_table(
        rows,
        [
            ("model", "model", ""),
            ("parameters", "params", "d"),
            ("patterns_seen", "patterns seen", "d"),
            ("accuracy", "accuracy", ".3f"),
            ("ci", "95% CI", ""),
            ("pair_accuracy", "Ni/Ni3Fe pair acc", ".3f"),
            ("train_loss_last", "stream loss", ".3f"),
            ("train_patterns_per_second", "train patterns/s", ".0f"),
            ("train_seconds", "seconds", ".0f"),
        ],
    )
    lines = [table]
    sizes = sorted({r["input_size"] for r in doc["rows"] if r.get("input_size") is not None})
    if sizes:
        shown = ", ".join(f"{s} px" for s in sizes)
        lines.append(f"patterns {doc['config']['pattern_size']} px, network input {shown}")
    chance = next((r["chance_loss"] for r in doc["rows"] if r.get("chance_loss")), None)
    if chance is not None:
        floor = pair_chance_loss(round(math.exp(chance)))
        lines.append(
            f"stream loss: the last epoch's cross-entropy on fresh patterns (learnt nothing: {chance:.3f}; "
            f"sure of all but one pair, guessing that pair: {floor:.3f})"
        )
    for o in doc.get("oracle", []):
        pair = o.get("oracle_Ni_vs_Ni3Fe")
        if pair is not None:
            lines.append(f"ideal matcher at dose {o['dose']:g}: Ni/Ni3Fe pair accuracy {pair:.3f}")
    for model in doc["config"]["models"]:
        slope = log_slope(doc["rows"], model)
        if slope is not None:
            lines.append(f"{model}: accuracy {slope:+.3f} per tenfold more patterns seen")
    return "\n".join(lines)
