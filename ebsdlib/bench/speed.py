"""Throughput on the current device: is the data pipeline the bottleneck?

One run measures, interleaved (each round runs every stage once, so a change of machine
load hits all stages alike): the model alone on random tensors, the project's end-to-end
inference (HDF5 scan → phase map) and training (HDF5 → updated model), a naive script on
PNG files (:mod:`ebsdlib.bench.naive`), dictionary indexing, Hough indexing (PyEBSDIndex, one
process), the hybrid map (network phase + Hough orientation, HDF5 → map, one process) and the
simulator's pattern generation for each forward model (:mod:`ebsdlib.bench.stages` describes
each), and, once, the build time of one dynamical master pattern (``master_build``). The first
round warms up and records memory (with :mod:`tracemalloc`; for Hough indexing it also compiles
PyEBSDIndex's numba kernels); the ``repeats`` rounds after it are timed, and each figure is the
median of its rounds.

Ratios (same run, same device, paired round by round, see :func:`ratios`): end-to-end ÷ model
alone — goals at least :data:`INFERENCE_GOAL` for inference and :data:`TRAINING_GOAL` for
training (the data pipeline must not be the bottleneck) — and end-to-end ÷ naive, from the
wall clock and from the process's CPU time (:mod:`ebsdlib.bench.measure`). On CUDA every model and
end-to-end stage runs in fp32 and in mixed precision (bf16, or fp16 without bf16 support).
After the rounds, :func:`display_timings` times the dashboard's largest figures (``display``).

Output: ``artifacts/bench/speed.json``.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal

import numpy as np

from ebsdlib.simulate.config import DEFAULT_DOSE
from ebsdlib.train.device import COMPILE_MODES

INFERENCE_GOAL = 0.9
TRAINING_GOAL = 0.85


@dataclass(frozen=True)
class SpeedBenchConfig:
    """Sizes and settings of the speed benchmark.

    The defaults take about four minutes on two idle CPU cores (a 64 × 64 scan, 768 training
    patterns); on a GPU use a larger ``scan_shape`` (e.g. 200 × 200) and ``train_per_phase``
    so that fixed costs (loading the model, writing the phase map) do not dominate.

    Parameters
    ----------
    model
        timm model name (the project's default network).
    pattern_size
        Detector size in pixels; the network input is the preprocessing size (64).
    scan_shape
        Rows and columns of the simulated scan that inference maps.
    train_per_phase
        Patterns per phase of the simulated training set (training uses train+val).
    epochs, batch_size
        Training epochs and batch size of the model-alone and end-to-end training stages.
    inference_batch_size
        Patterns read per batch in end-to-end inference; forward passes use
        :func:`ebsdlib.train.inference.forward_batch_size` of it, in both inference stages.
    naive_batch_size
        Batch size of the naive script.
    repeats
        Timed rounds after the warm-up round.
    naive, dictionary, hough
        Include the naive script, dictionary indexing and Hough indexing (PyEBSDIndex in this one
        process, its numba kernels on numba's threads; the warm-up round compiles them); ``hough``
        also times the hybrid map (end-to-end network inference with Hough orientations).
    simulation, simulation_patterns, stream_simulation_patterns
        Include the simulator's pattern generation (dynamical and kinematical masters), this
        many patterns per round, and the stream trainer's source on the benchmark's device
        (dynamical, in training batches), that many.
    stream
        Include stream training end to end (each batch simulated on the device; ratio
        ``training (stream)`` against the model alone, goal :data:`TRAINING_GOAL`).
    master_build_npx
        Time one build of the dynamical Ni master at this ``npx`` (default dmin and Monte
        Carlo electrons) on the benchmark's device; ``None`` skips it. The default 280 takes
        about four minutes on two CPU cores, so the CPU default is 100.
    resolution
        Orientation sampling of the dictionary, degrees.
    dose, master_half_size, seed
        Simulation of the benchmark's data.
    device, precision
        ``precision`` is the mixed precision measured beside fp32 on CUDA (``"auto"``: bf16
        where supported, else fp16).
    compile_mode
        torch.compile mode of one more end-to-end inference row (``"none"`` leaves it out;
        ``"reduce-overhead"`` adds CUDA graphs on a GPU): the scan mapped by ``predict --compile``,
        compiled in the warm-up round, so the timed rounds are the steady state.
    profile
        Also profile the end-to-end stages in the warm-up round (cProfile; the top functions
        go into ``speed.json``).
    display_map_shape, display_points
        Sizes of :func:`display_timings`: the phase map and the embedding's point count.
    """

    model: str = "efficientnet_b0"
    pattern_size: int = 64
    scan_shape: tuple[int, int] = (64, 64)
    train_per_phase: int = 256
    epochs: int = 1
    batch_size: int = 64
    inference_batch_size: int = 512
    naive_batch_size: int = 32
    repeats: int = 3
    naive: bool = True
    dictionary: bool = True
    hough: bool = True
    simulation: bool = True
    stream: bool = True
    simulation_patterns: int = 2000
    stream_simulation_patterns: int = 8192
    master_build_npx: int | None = 100
    resolution: float = 5.0
    dose: float = DEFAULT_DOSE
    master_half_size: int = 250
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "bf16", "fp16"] = "auto"
    compile_mode: str = "none"
    profile: bool = False
    display_map_shape: tuple[int, int] = (1000, 1000)
    display_points: int = 100_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "scan_shape", tuple(int(s) for s in self.scan_shape))
        object.__setattr__(self, "display_map_shape", tuple(int(s) for s in self.display_map_shape))
        checks = [
            ("scan_shape", len(self.scan_shape) == 2 and min(self.scan_shape) >= 1, "two positive integers"),
            (
                "train_per_phase",
                isinstance(self.train_per_phase, int) and self.train_per_phase >= 4,
                "an integer of at least 4",
            ),
            ("epochs", isinstance(self.epochs, int) and self.epochs >= 1, "a positive integer"),
            ("batch_size", isinstance(self.batch_size, int) and self.batch_size >= 2, "an integer of at least 2"),
            (
                "inference_batch_size",
                isinstance(self.inference_batch_size, int) and self.inference_batch_size >= 1,
                "a positive integer",
            ),
            (
                "naive_batch_size",
                isinstance(self.naive_batch_size, int) and self.naive_batch_size >= 2,
                "an integer of at least 2",
            ),
            ("repeats", isinstance(self.repeats, int) and self.repeats >= 1, "a positive integer"),
            (
                "simulation_patterns",
                isinstance(self.simulation_patterns, int) and self.simulation_patterns >= 1,
                "a positive integer",
            ),
            (
                "stream_simulation_patterns",
                isinstance(self.stream_simulation_patterns, int) and self.stream_simulation_patterns >= 1,
                "a positive integer",
            ),
            (
                "master_build_npx",
                self.master_build_npx is None
                or (isinstance(self.master_build_npx, int) and 16 <= self.master_build_npx <= 1000),
                "None or an integer from 16 to 1000",
            ),
            (
                "display_map_shape",
                len(self.display_map_shape) == 2 and min(self.display_map_shape) >= 1,
                "two positive integers",
            ),
            ("display_points", isinstance(self.display_points, int) and self.display_points >= 1, "a positive integer"),
            ("precision", self.precision in ("auto", "bf16", "fp16"), "'auto', 'bf16' or 'fp16'"),
            ("compile_mode", self.compile_mode in COMPILE_MODES, "one of " + ", ".join(map(repr, COMPILE_MODES))),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(f"speed benchmark option {name}={getattr(self, name)!r} is not allowed; use {allowed}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scan_shape"] = list(self.scan_shape)
        d["display_map_shape"] = list(self.display_map_shape)
        return d

    @classmethod
    def quick(cls, **changes) -> SpeedBenchConfig:
        """A tiny benchmark for tests: test model, 6×6 scan, a few training patterns, coarse dictionary."""
        base = dict(
            model="test_efficientnet",
            pattern_size=32,
            scan_shape=(6, 6),
            train_per_phase=8,
            batch_size=4,
            inference_batch_size=16,
            naive_batch_size=4,
            repeats=1,
            resolution=30.0,
            simulation_patterns=16,
            stream_simulation_patterns=16,
            master_build_npx=16,
            master_half_size=40,
            device="cpu",
            display_map_shape=(40, 50),
            display_points=500,
        )
        known = {f.name for f in fields(cls)}
        return cls(**{**base, **{k: v for k, v in changes.items() if k in known}})


def run_speed_bench(
    config: SpeedBenchConfig | None = None,
    out_dir: str | Path | None = None,
    *,
    work_dir: str | Path | None = None,
    keep: bool = False,
    progress: bool = True,
) -> dict:
    """Run the speed benchmark and write ``speed.json`` into ``out_dir`` (default ``<artifacts>/bench``).

    Parameters
    ----------
    config
        Sizes and settings; defaults when ``None``.
    out_dir
        Result folder.
    work_dir
        Where the simulated files, PNGs and runs go; default a temporary folder under
        ``<artifacts>/scratch``, deleted at the end unless ``keep``.
    keep
        Keep ``work_dir``.
    progress
        Show a tqdm bar over the stages.

    Returns
    -------
    dict
        The document written to ``speed.json``.
    """
    from tqdm.auto import tqdm

    from ebsdlib.bench.measure import measure
    from ebsdlib.bench.report import bench_root, environment, work_folder, write_results
    from ebsdlib.train.device import resolve_device

    config = config or SpeedBenchConfig()
    device = resolve_device(config.device)
    out = Path(out_dir) if out_dir is not None else bench_root()
    work = work_folder("speed", work_dir)
    env = environment(str(device))
    t_start = time.perf_counter()
    try:
        prepared = prepare(config, work, device, progress)
        stages = build_stages(config, prepared, device, work)
        timed: dict[str, list] = {s.key: [] for s in stages}
        warm: dict[str, object] = {}
        profiles: dict[str, str] = {}
        with tqdm(
            total=(1 + config.repeats) * len(stages), desc="speed benchmark", unit="stage", disable=not progress
        ) as bar:
            for round_ in range(1 + config.repeats):
                for stage in stages:
                    bar.set_postfix(round=round_, stage=stage.key)
                    if round_ == 0:
                        if config.profile and stage.pipeline == "end-to-end":
                            profiles[stage.key] = profile_call(stage)
                        warm[stage.key] = measure(stage, device, trace_python=True)
                        stage.after_first()
                    else:
                        timed[stage.key].append(measure(stage, device))
                    bar.update(1)
        rows = [summarise(stage, warm[stage.key], timed[stage.key]) for stage in stages]
        master_build = time_master_build(config.master_build_npx, device) if config.master_build_npx else None
        display = display_timings(config.display_map_shape, config.display_points, config.repeats, config.seed)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    doc = {
        "kind": "speed",
        "config": config.to_dict(),
        "environment": env,
        "data": prepared.describe(),
        "rows": rows,
        "ratios": ratios(rows),
        "master_build": master_build,
        "display": display,
        "goals": {"inference": INFERENCE_GOAL, "training": TRAINING_GOAL},
        "profiles": profiles,
        "seconds": time.perf_counter() - t_start,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_results(doc, out / "speed.json")
    return doc


@dataclass
class Prepared:
    """What the stages run on, made before timing."""

    scan: Path
    n_scan: int
    train: Path
    n_train: int
    train_config: object
    input_shape: tuple[int, int]
    scan_pngs: list
    train_pngs: list
    train_labels: np.ndarray
    dictionary: object = None
    preprocess: object = None
    simulators: dict = field(default_factory=dict)
    hough: object = None
    hough_preprocess: object = None

    def describe(self) -> dict:
        d = {"scan_patterns": self.n_scan, "train_patterns": self.n_train, "input_shape": list(self.input_shape)}
        if self.dictionary is not None:
            d["dictionary"] = self.dictionary.summary()
        if self.hough is not None:
            d["hough"] = self.hough.summary()
        return d


def prepare(config: SpeedBenchConfig, work: Path, device, progress: bool) -> Prepared:
    """Simulate the scan and training set, write the PNG copies, build the dictionary and the Hough indexer."""
    from ebsdlib.bench.naive import write_pngs
    from ebsdlib.data.format import EBSDDataset
    from ebsdlib.data.preprocess import PreprocessConfig
    from ebsdlib.simulate import ScanConfig, SimulationConfig, simulate_dataset, simulate_scan
    from ebsdlib.train.config import TrainConfig
    from ebsdlib.train.holdout import labelled_indices

    common = dict(
        pattern_size=config.pattern_size, dose=config.dose, master_half_size=config.master_half_size, seed=config.seed
    )
    n_grains = max(3, min(40, config.scan_shape[0] * config.scan_shape[1] // 25))
    scan = simulate_scan(
        ScanConfig(shape=config.scan_shape, n_grains=n_grains, **common), work / "scan.h5", progress=progress
    )
    train = simulate_dataset(
        SimulationConfig(n_per_phase=config.train_per_phase, patterns_per_grain=2, **common),
        work / "train.h5",
        progress=progress,
    )
    with EBSDDataset(train) as ds:
        preprocess = PreprocessConfig.from_dict(ds.preprocessing)
        idx = labelled_indices(ds, ("train", "val"))
        train_patterns, train_labels = ds.read(idx), ds.labels[idx]
    train_config = TrainConfig(
        data=str(train),
        loss="ce",
        model=config.model,
        epochs=config.epochs,
        batch_size=config.batch_size,
        warmup_epochs=0,
        validation=False,
        umap=False,
        device=config.device,
        precision="fp32",
        preprocess=preprocess,
        eval_batch_size=config.inference_batch_size,
        seed=config.seed,
        calibration_holdout=0.0,  # timing only: train on every stored train+val pattern
    )
    with EBSDDataset(scan) as ds:
        scan_patterns = ds.read(slice(None))
    size = preprocess.size or config.pattern_size
    prepared = Prepared(
        scan=scan,
        n_scan=len(scan_patterns),
        train=train,
        n_train=len(idx),
        train_config=train_config,
        input_shape=(size, size),
        scan_pngs=[],
        train_pngs=[],
        train_labels=train_labels,
        preprocess=preprocess,
    )
    if config.naive:
        prepared.scan_pngs = write_pngs(scan_patterns, work / "png" / "scan")
        prepared.train_pngs = write_pngs(train_patterns, work / "png" / "train")
    if config.simulation:
        from ebsdlib.simulate.master import FORWARD_MODELS, load_masters

        for forward_model in FORWARD_MODELS:
            settings = SimulationConfig(forward_model=forward_model, **common)
            masters, _ = load_masters(settings.resolved_phases(), **settings.master_options())
            prepared.simulators[forward_model] = (settings, masters)
    if config.dictionary:
        from ebsdlib.baseline.config import DictionaryConfig
        from ebsdlib.baseline.geometry import geometry_for
        from ebsdlib.baseline.run import ensure_dictionary

        dcfg = DictionaryConfig(resolution=config.resolution, device=str(device))
        with EBSDDataset(scan) as ds:
            prepared.dictionary = ensure_dictionary(
                None, ds.phases, geometry_for(ds, dcfg), ds.pattern_shape, preprocess, dcfg, progress
            )
    if config.hough:
        from ebsdlib.baseline.geometry import geometry_for
        from ebsdlib.baseline.hough import build_indexer, hough_preprocess
        from ebsdlib.baseline.hough_config import HoughConfig

        hcfg = HoughConfig()
        with EBSDDataset(scan) as ds:
            prepared.hough = build_indexer(ds.phases, geometry_for(ds).detector, ds.pattern_shape, hcfg)
            prepared.hough_preprocess = hough_preprocess(hcfg, ds.preprocessing)
    return prepared


def build_stages(config: SpeedBenchConfig, prepared: Prepared, device, work: Path) -> list:
    """The stages in the order a round runs them (training first: it makes the run inference maps with)."""
    from dataclasses import replace

    from ebsdlib.bench import stages as S
    from ebsdlib.train.device import resolve_precision
    from ebsdlib.train.models import build_model

    precisions = ["fp32"]
    if device.type == "cuda":
        precisions.append(resolve_precision(config.precision, device))
    n_classes = 3
    steps = S.steps_for(prepared.n_train, config.batch_size, config.epochs)
    out = []
    for prec in precisions:
        cfg = replace(prepared.train_config, precision=prec)
        training = S.PipelineTraining(cfg, work / "runs", prec)
        out += [
            S.ModelTraining(
                build_model(cfg, n_classes),
                device,
                steps,
                config.batch_size,
                prepared.input_shape,
                n_classes,
                prec,
                lr=cfg.lr,
                weight_decay=cfg.weight_decay,
            ),
            training,
            S.ModelInference(
                build_model(cfg, n_classes),
                device,
                prepared.n_scan,
                config.inference_batch_size,
                prepared.input_shape,
                prec,
            ),
            S.PipelineInference(training, prepared.scan, prepared.n_scan, config.inference_batch_size, device),
        ]
        if config.stream:
            streamed = replace(cfg, stream=True, stream_patterns=steps // config.epochs * config.batch_size)
            out.append(S.StreamTraining(streamed, work / "runs-stream", prec))
        if config.compile_mode != "none":
            out.append(
                S.CompiledInference(
                    training, prepared.scan, prepared.n_scan, config.inference_batch_size, device, config.compile_mode
                )
            )
    if config.naive:
        cfg = prepared.train_config
        out += [
            S.NaiveTraining(
                build_model(cfg, n_classes),
                prepared.train_pngs,
                prepared.train_labels,
                device,
                config.naive_batch_size,
                config.epochs,
                lr=cfg.lr,
            ),
            S.NaiveInference(build_model(cfg, n_classes), prepared.scan_pngs, device, config.naive_batch_size),
        ]
    if config.dictionary:
        out.append(S.DictionaryInference(prepared.scan, prepared.dictionary, prepared.preprocess, 256))
    if config.hough:
        out.append(S.HoughInference(prepared.scan, prepared.hough, prepared.hough_preprocess))
        fp32 = next(t for t in out if isinstance(t, S.PipelineTraining) and t.precision == "fp32")
        out.append(S.HybridInference(fp32, prepared.scan, prepared.n_scan, config.inference_batch_size, device))
    for forward_model, (settings, masters) in prepared.simulators.items():
        out.append(S.PatternSimulation(forward_model, settings, masters, config.simulation_patterns))
    if "dynamical" in prepared.simulators:  # the stream trainer's default forward model
        settings = prepared.simulators["dynamical"][0]
        out.append(S.StreamSimulation(settings, device, config.stream_simulation_patterns, config.batch_size))
    return out


def time_master_build(npx: int, device) -> dict:
    """Seconds of one build of the dynamical Ni master at ``npx`` on ``device`` (nothing cached)."""
    from ebsdlib.bench.measure import synchronize
    from ebsdlib.phases import NI
    from ebsdlib.simulate.dynamical import DynamicalSettings, build_dynamical_lambert

    settings = DynamicalSettings(npx=npx)
    synchronize(device)
    t0 = time.perf_counter()
    build_dynamical_lambert(NI, settings, device=str(device))
    synchronize(device)
    return {"phase": "Ni", **settings.to_dict(), "device": str(device), "seconds": time.perf_counter() - t0}


def summarise(stage, warm, timed: list) -> dict:
    """One row of ``speed.json`` from the warm-up and timed measurements of a stage."""
    rates = [m.patterns_per_second for m in timed]
    cpu_rates = [m.patterns_per_cpu_second for m in timed]
    peak = [m.peak_rss_mb for m in [warm, *timed] if m.peak_rss_mb is not None]
    cuda = [m.cuda_peak_mb for m in [warm, *timed] if m.cuda_peak_mb is not None]
    return {
        "key": stage.key,
        "kind": stage.kind,
        "pipeline": stage.pipeline,
        "precision": stage.precision,
        "patterns": timed[0].patterns if timed else warm.patterns,
        "seconds": float(np.median([m.seconds for m in timed])) if timed else None,
        "patterns_per_second": float(np.median(rates)) if rates else None,
        "patterns_per_cpu_second": float(np.median(cpu_rates)) if cpu_rates else None,
        "rounds_patterns_per_second": rates,
        "rounds_patterns_per_cpu_second": cpu_rates,
        "warmup_patterns_per_second": warm.patterns_per_second,
        "peak_rss_mb": max(peak) if peak else None,
        "python_peak_mb": warm.python_peak_mb,
        "cuda_peak_mb": max(cuda) if cuda else None,
    }


#: How the compiled inference rows' pipeline begins (:class:`ebsdlib.bench.stages.CompiledInference`).
COMPILED = "end-to-end, torch.compile"


def paired_ratio(a: dict | None, b: dict | None, key: str) -> float | None:
    """Median over rounds of ``a``'s rate ÷ ``b``'s rate in the same round (``key``: the rounds' list)."""
    if not a or not b or not a.get(key) or not b.get(key):
        return None
    pairs = [x / y for x, y in zip(a[key], b[key], strict=True) if y and not math.isnan(x) and not math.isnan(y)]
    return float(np.median(pairs)) if pairs else None


def ratios(rows: list[dict]) -> list[dict]:
    """End-to-end ÷ model alone and end-to-end ÷ naive, per kind and precision.

    Each ratio is the median over the timed rounds of the ratio within a round (stages of one
    round ran minutes apart at most), from wall-clock rates (``…_over_model``, judged against
    the goal: ``meets_goal``) and from CPU-time rates (``…_over_model_cpu``, ``meets_goal_cpu``).
    """
    by = {(r["kind"], r["pipeline"], r["precision"]): r for r in rows}
    out = []
    for (kind, pipeline, prec), e2e in by.items():
        if pipeline not in ("end-to-end", "stream end-to-end") and not pipeline.startswith(COMPILED):
            continue
        model, naive = by.get((kind, "model alone", prec)), by.get((kind, "naive", "fp32"))
        goal = INFERENCE_GOAL if kind == "inference" else TRAINING_GOAL
        if pipeline == "stream end-to-end":
            kind, naive = "training (stream)", None  # the naive script reads PNGs: no streamed twin
        elif pipeline.startswith(COMPILED):
            kind = f"inference ({pipeline.removeprefix('end-to-end, ')})"
        wall = paired_ratio(e2e, model, "rounds_patterns_per_second")
        cpu = paired_ratio(e2e, model, "rounds_patterns_per_cpu_second")
        out.append(
            {
                "kind": kind,
                "precision": prec,
                "end_to_end_over_model": wall,
                "end_to_end_over_model_cpu": cpu,
                "goal": goal,
                "meets_goal": bool(wall is not None and wall >= goal),
                "meets_goal_cpu": bool(cpu is not None and cpu >= goal),
                "end_to_end_over_naive": paired_ratio(e2e, naive, "rounds_patterns_per_second"),
                "end_to_end_over_naive_cpu": paired_ratio(e2e, naive, "rounds_patterns_per_cpu_second"),
            }
        )
    return out


def display_timings(shape: tuple[int, int], n_points: int, repeats: int = 3, seed: int = 0) -> list[dict]:
    """Seconds the dashboard's largest figures take to build, on random data; the median of ``repeats``.

    ``phase map overlay``
        :func:`ebsdlib.phasemap.render_rgb` of a ``shape`` map (threshold 0.3, opacity 0.6).
    ``phase map redraw``
        The library work of the phase-maps page at a new threshold: the overlay,
        :func:`ebsdlib.views.figures.map_figure` with the clickable grid and its hover texts,
        serialised to JSON (what Streamlit sends), and the phase fractions table.
    ``embedding figure``
        :func:`ebsdlib.views.figures.embedding_figure` of ``n_points`` points by predicted phase.
    """
    import pandas as pd

    from ebsdlib.phasemap import build_phasemap, render_rgb
    from ebsdlib.phases import DEFAULT_PHASES
    from ebsdlib.views.figures import embedding_figure, map_figure
    from ebsdlib.views.mapview import click_grid, fractions_frame, grid_hover

    h, w = shape
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[0:h, 0:w]
    proba = rng.dirichlet([1.0, 1.0, 1.0], h * w).astype(np.float32)
    pm = build_phasemap(
        proba,
        rr.ravel(),
        cc.ravel(),
        (h, w),
        DEFAULT_PHASES,
        true=rng.integers(0, 3, h * w),
        quality=rng.random(h * w, dtype=np.float32),
    )
    names = np.array([p.name for p in DEFAULT_PHASES])
    true, pred = rng.integers(0, 3, n_points), rng.integers(0, 3, n_points)
    emb = pd.DataFrame(
        {
            "x": rng.normal(size=n_points).astype(np.float32),
            "y": rng.normal(size=n_points).astype(np.float32),
            "row": np.arange(n_points),
            "index": np.arange(n_points),
            "true_name": names[true],
            "pred_name": names[pred],
            "correct": np.where(true == pred, "correct", "wrong"),
            "confidence": rng.uniform(size=n_points),
        }
    )

    def overlay(threshold: float = 0.3) -> np.ndarray:
        return render_rgb(pm.pred, pm.confidence, pm.quality, pm.phases, threshold, 0.6)

    def redraw() -> None:
        rows, cols, _ = click_grid((h, w))
        map_figure(overlay(0.6), click=(rows, cols), hover=grid_hover(pm, rows, cols), marked=(0, 0)).to_json()
        fractions_frame(pm.fractions(0.6), pm.phases)

    jobs = [
        ("phase map overlay", f"{h}×{w} pixels", overlay),
        ("phase map redraw", f"{h}×{w} pixels", redraw),
        ("embedding figure", f"{n_points} points", lambda: embedding_figure(emb, "pred", DEFAULT_PHASES)),
    ]
    out = []
    for what, size, job in jobs:
        seconds = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            job()
            seconds.append(time.perf_counter() - t0)
        out.append({"what": what, "size": size, "seconds": float(np.median(seconds)), "rounds_seconds": seconds})
    return out


def profile_call(stage, top: int = 25) -> str:
    """Run ``stage`` once under cProfile; the ``top`` functions by cumulative time, as text."""
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    try:
        stage()
    finally:
        prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
    return relative_files(buf.getvalue())


def relative_files(text: str) -> str:
    """A profile's file names from where they are imported (``timm/layers/norm_act.py``, not
    ``/home/…/site-packages/timm/layers/norm_act.py``): the report holds no path of the machine
    that made it."""
    import os
    import sys

    import ebsdlib

    roots = {str(Path(ebsdlib.__file__).resolve().parents[1])} | {p for p in sys.path if os.path.isabs(p)}
    for root in sorted(roots, key=len, reverse=True):
        text = text.replace(root.rstrip("/") + "/", "")
    return text


def summary_table(doc: dict) -> str:
    """The throughput rows and the ratios as text."""
    from ebsdlib.bench.report import text_table

    table = text_table(
        doc["rows"],
        [
            ("kind", "stage", ""),
            ("pipeline", "pipeline", ""),
            ("precision", "precision", ""),
            ("patterns", "patterns", "d"),
            ("patterns_per_second", "patterns/s", ".1f"),
            ("patterns_per_cpu_second", "patterns/CPU-s", ".1f"),
            ("peak_rss_mb", "peak RSS MB", ".0f"),
            ("python_peak_mb", "Python peak MB", ".1f"),
            ("cuda_peak_mb", "CUDA peak MB", ".0f"),
        ],
    )
    ratio_rows = [
        {
            **r,
            "verdict": "meets goal" if r["meets_goal"] else "below goal",
            "verdict_cpu": "meets goal" if r.get("meets_goal_cpu") else "below goal",
        }
        for r in doc["ratios"]
    ]
    table2 = text_table(
        ratio_rows,
        [
            ("kind", "stage", ""),
            ("precision", "precision", ""),
            ("end_to_end_over_model", "e2e ÷ model (wall)", ".3f"),
            ("verdict", "", ""),
            ("end_to_end_over_model_cpu", "e2e ÷ model (CPU time)", ".3f"),
            ("verdict_cpu", "", ""),
            ("goal", "goal", ".2f"),
            ("end_to_end_over_naive", "e2e ÷ naive (wall)", ".2f"),
            ("end_to_end_over_naive_cpu", "e2e ÷ naive (CPU)", ".2f"),
        ],
    )
    build = doc.get("master_build")
    if build:
        table2 += (
            f"\n\ndynamical master build: {build['phase']} at npx {build['npx']}, dmin {build['dmin']} nm, "
            f"{build['mc_electrons']} electrons on {build['device']}: {build['seconds']:.1f} s"
        )
    if not doc.get("display"):
        return f"{table}\n\n{table2}"
    table3 = text_table(
        doc["display"], [("what", "dashboard figure", ""), ("size", "size", ""), ("seconds", "s", ".3f")]
    )
    return f"{table}\n\n{table2}\n\n{table3}"
