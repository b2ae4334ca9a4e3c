"""Robustness: trained on one forward model or range of conditions, tested on another.

A network that learned kinematical patterns may not read dynamical ones, and the reverse; a real
scan is neither. This benchmark trains stream networks (:mod:`ebsdlib.train.stream`) on

``dynamical``
    patterns streamed with the dynamical (de-ebsd) masters;
``kinematical``
    patterns streamed with the kinematical masters;
``randomised``
    a kinematical/dynamical mix (``mixed_fraction`` dynamical) with the other conditions drawn
    from :data:`ebsdlib.simulate.randomise.SUGGESTED` (PC, camera tilt) around the benchmark's dose;

and tests every one on stored test patterns of each forward model, simulated with the same
orientations, pattern centres and dose (the same seed), so that a row differs from another only
in what the network was trained on. Each row records accuracy with its 95 % interval, each
phase's recall (``recall_Ni`` is "the share of Ni patterns called Ni"), the Ni/Ni₃Fe pair
accuracy and how many patterns the network saw.

Beside the networks, the **ideal matcher across forward models** reads the same test splits: it
knows each test pattern's true orientation and pattern centre, renders every phase's noise-free
pattern there with one forward model's masters (the *templates*), and calls the phase whose
processed template correlates best with the processed test pattern. With templates of the test
set's own model it is the physical limit; with the other model's it measures what one model's
phases say about the other's patterns — whether the two forward models differ by less than the
phases do, which a network trained on one and tested on the other needs
(:func:`ideal_matcher_metrics`).

Output: ``artifacts/bench/robustness.json`` (config, environment, rows, ``ideal_matcher`` rows;
``complete`` false until the last training is tested) and ``robustness.csv``.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Literal

import numpy as np

from ebsdlib.simulate.config import DEFAULT_DOSE

#: Training domains the benchmark knows.
TRAININGS = ("dynamical", "kinematical", "randomised")
#: Forward models of the stored test sets.
TESTS = ("dynamical", "kinematical")


@dataclass(frozen=True)
class RobustnessBenchConfig:
    """Sizes and settings of the robustness benchmark.

    Parameters
    ----------
    trainings
        Training domains, from :data:`TRAININGS`.
    tests
        Forward models of the test sets, from :data:`TESTS`.
    dose
        Mean electrons per pixel of the test sets and of the streamed patterns (default 16 × the
        simulator's: high, so that the rows measure the forward model rather than the noise).
    n_per_phase
        Stored patterns per phase of each test set (its validation split calibrates the networks).
    split_fractions
        Train, validation and test fractions of the stored sets (streamed runs calibrate on val and
        report on test; train only has to hold every phase).
    pattern_size
        Detector size in pixels.
    model, epochs, batch_size, lr, stream_patterns
        Network training: ``stream_patterns`` fresh patterns per epoch.
    mixed_fraction
        Share of dynamical patterns in the ``randomised`` domain.
    master_half_size
        Kinematical master-pattern size.
    seed, device
        Reproducibility and hardware.
    """

    trainings: tuple[str, ...] = TRAININGS
    tests: tuple[str, ...] = TESTS
    dose: float = DEFAULT_DOSE * 16
    n_per_phase: int = 300
    split_fractions: tuple[float, float, float] = (0.1, 0.3, 0.6)
    pattern_size: int = 64
    model: str = "lcnet_050"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 3e-3
    stream_patterns: int = 2400
    mixed_fraction: float = 0.5
    master_half_size: int = 250
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "trainings", tuple(self.trainings))
        object.__setattr__(self, "tests", tuple(self.tests))
        object.__setattr__(self, "split_fractions", tuple(float(f) for f in self.split_fractions))
        for name, value, known in (("trainings", self.trainings, TRAININGS), ("tests", self.tests, TESTS)):
            if not value or any(v not in known for v in value):
                raise ValueError(f"{name} {list(value)!r} are not allowed; choose one or more of {list(known)}")
        if not (np.isfinite(self.dose) and self.dose > 0):
            raise ValueError(f"dose {self.dose!r} must be a positive number of electrons per pixel")
        if not isinstance(self.n_per_phase, int) or self.n_per_phase < 4:
            raise ValueError(f"n_per_phase {self.n_per_phase!r} must be an integer of at least 4")
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs {self.epochs!r} must be a positive integer")
        if not isinstance(self.stream_patterns, int) or self.stream_patterns < self.batch_size:
            raise ValueError(
                f"stream_patterns {self.stream_patterns!r} must be an integer of at least "
                f"batch_size ({self.batch_size})"
            )
        if not 0 <= self.mixed_fraction <= 1:
            raise ValueError(f"mixed_fraction {self.mixed_fraction!r} must be a share from 0 to 1")

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("trainings", "tests", "split_fractions"):
            d[k] = list(d[k])
        return d

    @classmethod
    def quick(cls, **changes) -> RobustnessBenchConfig:
        """A tiny benchmark for tests: few patterns, 32×32, a test model, small kinematical masters."""
        base = dict(
            n_per_phase=8,
            split_fractions=(0.25, 0.25, 0.5),
            pattern_size=32,
            model="test_efficientnet",
            epochs=1,
            batch_size=8,
            stream_patterns=16,
            master_half_size=40,
            device="cpu",
        )
        known = {f.name for f in fields(cls)}
        return cls(**{**base, **{k: v for k, v in changes.items() if k in known}})


def run_robustness_bench(
    config: RobustnessBenchConfig | None = None,
    out_dir: str | Path | None = None,
    *,
    work_dir: str | Path | None = None,
    keep: bool = False,
    progress: bool = True,
) -> dict:
    """Train each domain's stream network, test it on every test set, write the results.

    Parameters
    ----------
    config
        Sizes and settings; defaults when ``None``.
    out_dir
        Result folder; default ``<artifacts>/bench``.
    work_dir
        Where the test sets and the runs go; default a temporary folder under ``<artifacts>/scratch``.
    keep
        Keep ``work_dir`` instead of deleting it at the end.
    progress
        Show a tqdm bar over the steps.

    Returns
    -------
    dict
        The document written to ``robustness.json``.
    """
    from tqdm.auto import tqdm

    from ebsdlib.bench.report import bench_root, environment, kept_work_dir, work_folder, write_results
    from ebsdlib.train.device import resolve_device

    config = config or RobustnessBenchConfig()
    out = Path(out_dir) if out_dir is not None else bench_root()
    out.mkdir(parents=True, exist_ok=True)
    work = work_folder("robustness", work_dir)
    env = environment(str(resolve_device(config.device)))
    t_start = time.perf_counter()
    rows: list[dict] = []
    ideal: list[dict] = []

    def save(complete: bool) -> dict:
        doc = {
            "kind": "robustness",
            "complete": complete,
            "config": config.to_dict(),
            "environment": env,
            "rows": rows,
            "ideal_matcher": ideal,
            "seconds": time.perf_counter() - t_start,
            "work_dir": kept_work_dir(work, keep),
        }
        write_results(doc, out / "robustness.json", rows, out / "robustness.csv")
        return doc

    try:
        models = sorted(set(config.tests) | {_stream_model(t) for t in config.trainings})
        steps = len(models) + 1 + len(config.trainings) * (1 + len(config.tests))
        with tqdm(total=steps, desc="robustness benchmark", unit="step", disable=not progress) as bar:
            data = {}
            for model in models:
                bar.set_postfix(step=f"simulate {model}")
                data[model] = simulate_test_set(config, model, work)
                bar.update(1)
            bar.set_postfix(step="ideal matcher")
            ideal.extend(ideal_matcher_rows(config, data))
            bar.update(1)
            for training in config.trainings:
                bar.set_postfix(step=f"train {training}")
                t0 = time.perf_counter()
                run = train_domain(config, training, data[_stream_model(training)], work, progress=progress)
                seconds = time.perf_counter() - t0
                bar.update(1)
                for test in config.tests:
                    bar.set_postfix(step=f"{training} on {test}")
                    rows.append(evaluation_row(config, training, test, run, data[test], seconds, work))
                    bar.update(1)
                save(complete=False)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return save(complete=True)


def update_ideal_matcher(
    out_dir: str | Path | None = None,
    *,
    work_dir: str | Path | None = None,
    keep: bool = False,
    progress: bool = True,
) -> dict:
    """Add the ideal matcher across forward models to the finished benchmark in ``out_dir``,
    without training: its test sets are simulated again from the stored settings and seed (the
    same patterns the networks were tested on), and ``ideal_matcher`` is replaced. The document
    gains an ``updates`` entry (``ideal_matcher``, environment, seconds); its rows are kept.

    Raises
    ------
    FileNotFoundError
        When ``out_dir`` has no ``robustness.json``.
    ValueError
        When it is not a finished robustness benchmark, or a test split comes out with another
        number of patterns than the networks were tested on.
    """
    from ebsdlib.bench.report import bench_root, environment, work_folder, write_results
    from ebsdlib.io import read_json

    out = Path(out_dir) if out_dir is not None else bench_root()
    path = out / "robustness.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no robustness benchmark to update; run `python -m ebsdlib bench robustness` first"
        )
    doc = read_json(path)
    if not isinstance(doc, dict) or doc.get("kind") != "robustness" or doc.get("complete") is not True:
        raise ValueError(
            f"{path} is not a finished robustness benchmark; run `python -m ebsdlib bench robustness` again"
        )
    config = RobustnessBenchConfig(**doc["config"])
    work = work_folder("robustness", work_dir)
    t0 = time.perf_counter()
    try:
        data = {model: simulate_test_set(config, model, work) for model in config.tests}
        rows = ideal_matcher_rows(config, data, progress=progress)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    made = {row["test"]: row["n_test"] for row in rows}
    for tested in doc.get("rows", []):
        if tested.get("n_test") is not None and tested["test"] in made and made[tested["test"]] != tested["n_test"]:
            raise ValueError(
                f"{path}: the {tested['test']} test split came out with {made[tested['test']]} patterns against the "
                f"{tested['n_test']} the networks were tested on; the simulator draws other patterns now, so "
                "run the whole benchmark again (python -m ebsdlib bench robustness)"
            )
    doc["ideal_matcher"] = rows
    doc.setdefault("updates", []).append(
        {"ideal_matcher": True, "environment": environment("cpu"), "seconds": time.perf_counter() - t0}
    )
    write_results(doc, path, doc["rows"], out / "robustness.csv")
    return doc


def _stream_model(training: str) -> str:
    """The forward model whose stored set a domain streams from (the mix starts from the dynamical one)."""
    return "kinematical" if training == "kinematical" else "dynamical"


def simulate_test_set(config: RobustnessBenchConfig, forward_model: str, work: Path) -> Path:
    """The stored set of one forward model: the same seed (orientations, PCs, noise draws) for each."""
    return simulate_stored_set(
        work / f"{forward_model}.h5",
        forward_model=forward_model,
        dose=config.dose,
        n_per_phase=config.n_per_phase,
        split_fractions=config.split_fractions,
        pattern_size=config.pattern_size,
        master_half_size=config.master_half_size,
        seed=config.seed,
    )


def simulate_stored_set(path: Path, **settings) -> Path:
    """A stored data set for stream runs: one orientation per pattern, ``settings`` of
    :class:`~ebsdlib.simulate.SimulationConfig` (dose, sizes, split, forward model, seed)."""
    from ebsdlib.simulate import SimulationConfig, simulate_dataset

    return simulate_dataset(SimulationConfig(patterns_per_grain=1, **settings), path, progress=False)


def domain_ranges(config: RobustnessBenchConfig, training: str):
    """The :class:`~ebsdlib.simulate.randomise.DomainRanges` of a training domain (empty but for ``randomised``)."""
    from ebsdlib.simulate.randomise import SUGGESTED, DomainRanges

    if training != "randomised":
        return DomainRanges()
    return DomainRanges(
        pc_sigma=SUGGESTED.pc_sigma,
        dose=(config.dose / 4, config.dose * 4),
        camera_tilt=SUGGESTED.camera_tilt,
        dynamical_fraction=config.mixed_fraction,
    )


def train_domain(config: RobustnessBenchConfig, training: str, data: Path, work: Path, progress: bool = False):
    """Train the stream network of one domain (validation split calibrates, test split reports);
    ``progress`` shows the training's own bar."""
    return stream_train(
        data,
        work,
        model=config.model,
        epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        stream_patterns=config.stream_patterns,
        randomise=domain_ranges(config, training),
        seed=config.seed,
        device=config.device,
        name=f"robustness {training}",
        progress=progress,
    )


def stream_train(data: Path, work: Path, *, input_size: int | None = None, progress: bool = False, **settings):
    """A cross-entropy stream run on ``data``'s simulator settings (its val split calibrates, its
    test split reports), ``settings`` of :class:`~ebsdlib.train.config.TrainConfig`; returns the run.
    ``input_size`` overrides the data set's recommended network input size (``None``: keep it);
    ``progress`` shows the training's bar (under a benchmark's, and cleared when it ends)."""
    from ebsdlib.data.format import EBSDDataset
    from ebsdlib.data.preprocess import PreprocessConfig
    from ebsdlib.train.config import TrainConfig
    from ebsdlib.train.loop import train

    with EBSDDataset(data) as ds:
        preprocess = PreprocessConfig.from_dict(ds.preprocessing)
    if input_size is not None:
        preprocess = replace(preprocess, size=input_size)
    epochs = settings["epochs"]
    cfg = TrainConfig(
        data=str(data),
        warmup_epochs=min(1, epochs - 1),
        stream=True,
        umap=False,
        preprocess=preprocess,
        **settings,
    )
    run = train(cfg, progress=progress, root=work)
    if run.metrics() is None:
        raise RuntimeError(f"run {run.run_id!r} ({cfg.name}) finished without metrics.json")
    return run


def evaluation_row(
    config: RobustnessBenchConfig, training: str, test: str, run, data: Path, seconds: float, work: Path
) -> dict:
    """Evaluate one trained run on one forward model's test split."""
    from ebsdlib.train.cross_eval import evaluate_on

    metrics = evaluate_on(run, data, "test", device=config.device, progress=False, root=work)
    return {
        "training": training,
        "test": test,
        **accuracy_fields(metrics),
        "patterns_seen": config.epochs * config.stream_patterns,
        "ranges": domain_ranges(config, training).describe(),
        "train_seconds": seconds,
    }


def ideal_matcher_rows(config: RobustnessBenchConfig, data: dict[str, Path], progress: bool = False) -> list[dict]:
    """The ideal matcher with each forward model's templates on each stored test split (``data``:
    forward model → data set), one row per pair: ``templates``, ``test``, :func:`accuracy_fields`
    (no ECE: its calls are certain) and ``seconds``."""
    from tqdm.auto import tqdm

    pairs = [(templates, test) for templates in TESTS for test in config.tests]
    rows = []
    for templates, test in tqdm(pairs, desc="ideal matcher", unit="pair", disable=not progress):
        t0 = time.perf_counter()
        metrics = ideal_matcher_metrics(data[test], templates)
        row = {"templates": templates, "test": test, **accuracy_fields(metrics), "ece": None}
        rows.append({**row, "seconds": time.perf_counter() - t0})
    return rows


def ideal_matcher_metrics(data: str | Path, templates: str, split: str = "test", batch_size: int = 256) -> dict:
    """The ideal matcher on one split of a simulated data set, with one forward model's templates.

    For each pattern every phase's noise-free pattern is rendered at the pattern's true orientation
    and pattern centre (``/orientations``, ``/pc``) with the ``templates`` model's masters, exposed
    without noise on the data set's detector; pattern and templates go through the project's
    preprocessing (:func:`ebsdlib.simulate.calibrate.preprocess_frames`; the templates' static
    background is the detector's own, the pattern's the data set's mean pattern), and the phase of
    the best-correlating template is the call.

    Parameters
    ----------
    data
        A simulated data set (:func:`ebsdlib.simulate.simulate_dataset`).
    templates
        Forward model of the templates: ``"kinematical"`` or ``"dynamical"``.
    split
        Which split to read.
    batch_size
        Patterns rendered at a time.

    Returns
    -------
    dict
        :func:`ebsdlib.metrics.compute_metrics` of the calls (one-hot probabilities, so its ECE
        says nothing).

    Raises
    ------
    ValueError
        For a data set that is not simulated or holds no true orientations and pattern centres,
        or an unknown forward model.
    """
    from ebsdlib.data.format import EBSDDataset
    from ebsdlib.metrics import compute_metrics
    from ebsdlib.simulate.calibrate import correlation, preprocess_frames
    from ebsdlib.simulate.dataset import render_clean
    from ebsdlib.simulate.detector import standardise
    from ebsdlib.simulate.master import check_forward_model, load_masters
    from ebsdlib.train.stream import stream_settings

    check_forward_model(templates)
    with EBSDDataset(data) as ds:
        settings = stream_settings(ds).replace(forward_model=templates)
        q, pcs = ds.optional("orientations"), ds.optional("pc")
        if q is None or pcs is None:
            raise ValueError(
                f"{data}: the ideal matcher needs each pattern's true orientation and pattern centre "
                "(/orientations and /pc), which only simulated data sets hold; simulate one with "
                "python -m ebsdlib simulate"
            )
        idx = ds.indices(split)
        labels, patterns, static, names = ds.labels[idx], ds.read(idx), ds.static_background, ds.phase_names
    q, pcs = q[idx], pcs[idx]
    phases = settings.resolved_phases()
    masters, _ = load_masters(phases, **settings.master_options())
    det, shape = settings.detector, tuple(patterns.shape[1:])
    background = det.expose(np.zeros((1, *shape)), 1.0, None)[0]
    scores = np.empty((len(idx), len(phases)))
    for start in range(0, len(idx), batch_size):
        part = slice(start, start + batch_size)
        x = preprocess_frames(patterns[part], static)
        n = len(x)
        for j in range(len(phases)):
            clean = render_clean(masters, phases, np.full(n, j), q[part], pcs[part], det, shape)
            scores[part, j] = correlation(x, preprocess_frames(det.expose(standardise(clean), 1.0, None), background))
    proba = np.eye(len(phases))[scores.argmax(1)]
    return compute_metrics(labels, proba, names)


def accuracy_fields(metrics: dict) -> dict:
    """Accuracy with its interval, each phase's recall, the Ni/Ni₃Fe pair accuracy and its number of
    patterns, ECE and n."""
    from ebsdlib.bench.dose import pair_accuracy, pair_count, phase_recalls

    cm = np.asarray(metrics["confusion_matrix"], dtype=float)
    names = list(metrics["phase_names"])
    recall = phase_recalls(cm, names)
    low, high = metrics.get("accuracy_ci95") or (None, None)
    return {
        "accuracy": metrics["accuracy"],
        "accuracy_low": low,
        "accuracy_high": high,
        **recall,
        "pair_accuracy": pair_accuracy(cm, names),
        "pair_n": pair_count(cm, names),
        "ece": metrics.get("ece"),
        "n_test": metrics.get("n"),
    }


def summary_table(doc: dict) -> str:
    """The benchmark as a text table: one line per training domain and test set."""
    return _text_table(doc["rows"], ("training", "trained on"))


def ideal_matcher_table(doc: dict) -> str:
    """The ideal matcher's rows as a text table: one line per template model and test set."""
    return _text_table(doc.get("ideal_matcher") or [], ("templates", "templates"))


def _text_table(rows: list[dict], first: tuple[str, str]) -> str:
    """Rows of the benchmark as a text table, ``first`` (key, header) in front of the test set,
    accuracy with its interval, each phase's recall, the pair accuracy and n."""
    from ebsdlib.bench.report import text_table

    rows = [
        {
            **r,
            "ci": f"{r['accuracy_low']:.2f}–{r['accuracy_high']:.2f}" if r.get("accuracy_low") is not None else None,
        }
        for r in rows
    ]
    recalls = sorted({k for r in rows for k in r if k.startswith("recall_")})
    return text_table(
        rows,
        [
            (*first, ""),
            ("test", "tested on", ""),
            ("accuracy", "accuracy", ".3f"),
            ("ci", "95% CI", ""),
            *((k, k.removeprefix("recall_") + " recall", ".3f") for k in recalls),
            ("pair_accuracy", "Ni/Ni3Fe pair acc", ".3f"),
            ("n_test", "n", "d"),
        ],
    )
