"""Accuracy against dose: where each method stops telling Ni from Ni₃Fe.

For every dose a small labelled data set is simulated (:func:`ebsdlib.simulate.simulate_dataset`,
one orientation per pattern so that test patterns are independent, split
``split_fractions``). Then, per method:

``ce``, ``supcon``, ``contrastive``
    a network is trained on train+val with :func:`ebsdlib.train.loop.train` (``model``,
    ``epochs``, …), or on patterns streamed from that dose's simulator settings, and evaluated on
    the test split; the cross-entropy network starts from random weights or (``ce_init``) from the
    next-higher dose's, the metric ones from random weights or (``contrastive_init``) from it;
``dictionary``, ``dictionary_refined``, ``dictionary_fitted``
    the test split is indexed against one dictionary (built once: the geometry does not change
    with dose), without or with orientation refinement, or refined and then fitted to each
    pattern (PC and orientation, :mod:`ebsdlib.simulate.fit`), the softmax temperature fitted on
    training patterns of that dose;
``hough``
    the test split is Hough-indexed with PyEBSDIndex (:mod:`ebsdlib.baseline.hough`: band
    geometry only, default :class:`~ebsdlib.baseline.hough_config.HoughConfig`, one process), the
    softmax temperature fitted on training patterns of that dose.

Each row records accuracy with its bootstrap 95 % interval, balanced accuracy, macro F1, the
Ni↔Ni₃Fe confusion (both directions), the Ni-vs-Ni₃Fe pair accuracy (of the true Ni and Ni₃Fe
patterns predicted as one of the two, the fraction right: 0.5 is chance) and the time taken.
Beside the methods, the calibration of :mod:`ebsdlib.simulate.calibrate` gives per dose the
pixel correlation with the clean pattern and the *oracle* pair accuracies — a template matcher
that knows each pattern's true orientation and pattern centre, the physical limit — and
:mod:`ebsdlib.simulate.limit` takes that limit apart: the same matcher on the real Ni/Ni₃Fe pair,
on chemical order only and on lattice parameter only, with the pattern centre known exactly or
to ±σ, or fitted to each pattern from that error (``limit`` rows).

Output: ``artifacts/bench/dose.json`` (config, environment, rows, oracle, limit, and per dose the
SHA-256 of the simulated patterns; ``complete`` is false until the last dose is done — the file
is rewritten after every dose) and ``dose.csv`` (the rows).

:func:`update_dose_bench` (``bench dose --update --methods …``) re-runs some methods of a finished
benchmark on its own settings and replaces only their rows — after a change to one method, its
rows are measured again without the twenty minutes of the others. The data sets are simulated
again from the stored seed and must hash to the stored patterns (a simulator that changed since
would compare the methods on different data); the oracle and limit rows are kept.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Literal

import numpy as np

from ebsdlib.methods import check_contrastive_init, get_method, method_keys, method_label
from ebsdlib.simulate.config import DEFAULT_DOSE
from ebsdlib.simulate.fit import FIT_STEPS
from ebsdlib.simulate.limit import DEFAULT_PC_SIGMAS
from ebsdlib.simulate.master import DEFAULT_FORWARD_MODEL, check_forward_model

#: The default doses: the simulator's default (realistic) dose times 4^k, k = −2 … 2 — from
#: Ni₃Al barely separable to Ni and Ni₃Fe separable by the oracle.
DEFAULT_DOSES = tuple(DEFAULT_DOSE * 4.0**k for k in range(-2, 3))

#: The methods the benchmark runs: every one of :data:`ebsdlib.methods.METHODS`.
METHODS = method_keys()


#: Where each dose's cross-entropy network starts: ``"scratch"`` from random weights,
#: ``"higher_dose"`` from the encoder of the cross-entropy network of the dose before it in
#: ``doses`` (which then run from high to low: a curriculum, since from scratch the faint low-dose patterns
#: leave a network at chance within a CPU budget; the first dose starts from scratch).
CE_INITS = ("scratch", "higher_dose")

#: Fields added since dose benchmarks were first stored, with the value that describes a stored
#: one that lacks them (the fitted-PC curves did not exist: its limit has none).
ADDED_FIELDS = {"limit_fit_pc": False}


@dataclass(frozen=True)
class DoseBenchConfig:
    """Sizes and settings of the dose benchmark.

    The defaults finish in about ten minutes on two idle CPU cores (much longer on a busy
    machine): five doses, 800 patterns per phase and dose, a small timm model (``lcnet_050``)
    for 15 epochs, a 5° dictionary with and without refinement. That is little training for a
    network: on a GPU raise ``n_per_phase`` and ``epochs`` and use ``model="efficientnet_b0"``.

    Parameters
    ----------
    doses
        Mean detected electrons per pixel (:data:`DEFAULT_DOSES`; the simulator's default is
        :data:`~ebsdlib.simulate.config.DEFAULT_DOSE`).
    methods
        Keys of :data:`ebsdlib.methods.METHODS` (``"ce"``, ``"supcon"``, ``"contrastive"``,
        ``"dictionary"``, ``"dictionary_refined"``, ``"dictionary_fitted"``, ``"hough"``).
    n_per_phase
        Patterns per phase and dose.
    pattern_size
        Detector size in pixels.
    split_fractions
        Train, validation and test fractions (networks train on train+val).
    model, epochs, batch_size, lr
        Network training.
    resolution, calibration_patterns
        Dictionary indexing (:class:`ebsdlib.baseline.DictionaryConfig`); ``dictionary_refined``
        adds kikuchipy's orientation refinement of each phase's best match, ``dictionary_fitted``
        then fits its PC and orientation to the pattern (``refine_fit``). Hough indexing fits
        its temperature on ``calibration_patterns`` training patterns too.
    oracle, oracle_patterns
        Also run the calibration oracle with this many orientations per phase.
    limit, limit_patterns, limit_pc_sigmas, limit_fit_pc, limit_fit_steps
        Also take the physical limit apart (:func:`ebsdlib.simulate.limit.physical_limit`) with
        this many orientations per candidate and these pattern-centre uncertainties, and with
        ``limit_fit_pc`` a curve per cue whose templates start at the largest σ and have their
        PC and orientation fitted to each pattern in ``limit_fit_steps`` Adam steps
        (:mod:`ebsdlib.simulate.fit`).
    forward_model
        Master patterns of the simulation and the dictionary (``"dynamical"``, the default,
        or ``"kinematical"``).
    stream, stream_patterns
        Train the networks on fresh patterns streamed from each dose's simulator settings
        (:mod:`ebsdlib.train.stream`; ``stream_patterns`` per epoch, 0: as many as the stored
        train+val; one number for every dose or one per dose, in the order of ``doses``, e.g. more
        at the low doses, where the networks learn slowest) instead of on the stored ones; they
        are then calibrated on the stored validation split, which they never saw.
    ce_init
        Where each dose's cross-entropy network starts (:data:`CE_INITS`: ``"higher_dose"``
        fine-tunes the network of the next-higher dose; the doses then run from high to low).
    contrastive_init, contrastive_epochs, contrastive_lr
        Where the SupCon and contrastive encoders start (``"ce"``: from the same dose's
        cross-entropy network, which then must be among ``methods`` and run first;
        ``"scratch"``: random weights), and their epochs and learning rate (0: ``epochs``,
        ``lr``).
    master_half_size
        Kinematical master-pattern size.
    seed, device
        Reproducibility and hardware.
    """

    doses: tuple[float, ...] = DEFAULT_DOSES
    methods: tuple[str, ...] = METHODS
    n_per_phase: int = 800
    pattern_size: int = 64
    split_fractions: tuple[float, float, float] = (0.6, 0.1, 0.3)
    model: str = "lcnet_050"
    epochs: int = 15
    batch_size: int = 32
    lr: float = 3e-3
    resolution: float = 5.0
    calibration_patterns: int = 100
    oracle: bool = True
    oracle_patterns: int = 100
    limit: bool = True
    limit_patterns: int = 200
    limit_pc_sigmas: tuple[float, ...] = DEFAULT_PC_SIGMAS
    limit_fit_pc: bool = True
    limit_fit_steps: int = FIT_STEPS
    forward_model: Literal["kinematical", "dynamical"] = DEFAULT_FORWARD_MODEL
    stream: bool = False
    stream_patterns: int | tuple[int, ...] = 0
    ce_init: Literal["scratch", "higher_dose"] = "scratch"
    contrastive_init: Literal["ce", "scratch"] = "scratch"
    contrastive_epochs: int = 0
    contrastive_lr: float = 0.0
    master_half_size: int = 250
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "doses", tuple(float(d) for d in self.doses))
        object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "split_fractions", tuple(float(f) for f in self.split_fractions))
        object.__setattr__(self, "limit_pc_sigmas", tuple(float(s) for s in self.limit_pc_sigmas))
        if not self.doses or not all(np.isfinite(d) and d > 0 for d in self.doses):
            raise ValueError(f"doses {self.doses!r} must be one or more positive numbers of electrons per pixel")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(f"methods {list(self.methods)!r} are not allowed; choose from {list(METHODS)}")
        if not isinstance(self.n_per_phase, int) or self.n_per_phase < 4:
            raise ValueError(
                f"n_per_phase {self.n_per_phase!r} must be an integer of at least 4 "
                "(each split needs patterns of every phase)"
            )
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs {self.epochs!r} must be a positive integer")
        if self.ce_init not in CE_INITS:
            raise ValueError(
                f"ce_init {self.ce_init!r} is not one of {list(CE_INITS)}: 'scratch' starts each dose's "
                "cross-entropy network from random weights, 'higher_dose' from the previous (higher) dose's"
            )
        self._check_stream_patterns()
        if self.ce_init == "higher_dose":
            if "ce" not in self.methods:
                raise ValueError(
                    f"methods {list(self.methods)!r}: ce_init 'higher_dose' fine-tunes each dose's cross-entropy "
                    "network from the previous dose's; add 'ce' to methods or use ce_init 'scratch'"
                )
            # each dose starts from the one before it: run them from high to low (each dose's budget with it)
            if isinstance(self.stream_patterns, tuple):
                budget = dict(zip(self.doses, self.stream_patterns, strict=True))
            object.__setattr__(self, "doses", tuple(sorted(self.doses, reverse=True)))
            if isinstance(self.stream_patterns, tuple):
                object.__setattr__(self, "stream_patterns", tuple(budget[d] for d in self.doses))
            if any(b >= a for a, b in itertools.pairwise(self.doses)):
                raise ValueError(
                    f"doses {list(self.doses)!r}: ce_init 'higher_dose' needs each dose once; drop the repeats"
                )
        check_contrastive_init(self.contrastive_init)
        metric = {"supcon", "contrastive"} & set(self.methods)
        if self.contrastive_init == "ce" and metric and "ce" not in self.methods:
            raise ValueError(
                f"methods {list(self.methods)!r}: contrastive_init 'ce' starts SupCon and contrastive from the "
                "cross-entropy network of each dose; add 'ce' to methods or use contrastive_init 'scratch'"
            )
        if not isinstance(self.contrastive_epochs, int) or self.contrastive_epochs < 0:
            raise ValueError(
                f"contrastive_epochs {self.contrastive_epochs!r} must be 0 (as epochs) or a positive integer"
            )
        if not np.isfinite(self.contrastive_lr) or self.contrastive_lr < 0:
            raise ValueError(f"contrastive_lr {self.contrastive_lr!r} must be 0 (as lr) or a positive learning rate")
        if not isinstance(self.oracle_patterns, int) or self.oracle_patterns < 2:
            raise ValueError(f"oracle_patterns {self.oracle_patterns!r} must be an integer of at least 2")
        if not isinstance(self.limit_patterns, int) or self.limit_patterns < 2:
            raise ValueError(f"limit_patterns {self.limit_patterns!r} must be an integer of at least 2")
        if not self.limit_pc_sigmas or not all(0 <= s <= 0.1 for s in self.limit_pc_sigmas):
            raise ValueError(
                f"limit_pc_sigmas {list(self.limit_pc_sigmas)!r} must be one or more values in [0, 0.1] "
                "(pattern-centre σ as a fraction of the detector), e.g. 0 0.005 0.01"
            )
        if not isinstance(self.limit_fit_pc, bool):
            raise ValueError(f"limit_fit_pc {self.limit_fit_pc!r} must be True or False")
        if (
            not isinstance(self.limit_fit_steps, int)
            or isinstance(self.limit_fit_steps, bool)
            or self.limit_fit_steps < 1
        ):
            raise ValueError(f"limit_fit_steps {self.limit_fit_steps!r} must be a positive integer (Adam steps)")
        if self.limit_fit_pc and max(self.limit_pc_sigmas) <= 0:
            raise ValueError(
                f"limit_fit_pc starts the fit from the largest of limit_pc_sigmas {list(self.limit_pc_sigmas)!r}; "
                "add a σ above 0 (e.g. 0.01) or turn the fit off"
            )
        check_forward_model(self.forward_model)

    def _check_stream_patterns(self) -> None:
        """``stream_patterns``: one count for every dose, or one per dose (a list of one is one)."""
        counts = self.stream_patterns
        if isinstance(counts, (list, tuple)):
            counts = tuple(counts)
            if len(counts) == 1:
                counts = counts[0]
            elif len(counts) != len(self.doses):
                raise ValueError(
                    f"stream_patterns {list(counts)!r}: give one number for every dose or one per dose "
                    f"({len(self.doses)} for doses {list(self.doses)!r})"
                )
            elif len(set(self.doses)) < len(self.doses):
                raise ValueError(
                    f"stream_patterns {list(counts)!r}: doses {list(self.doses)!r} repeat a dose, so a count per "
                    "dose is ambiguous; give one number for every dose"
                )
        for count in counts if isinstance(counts, tuple) else (counts,):
            if isinstance(count, bool) or not isinstance(count, int) or not (count == 0 or count >= self.batch_size):
                raise ValueError(
                    f"stream_patterns {count!r} must be 0 (as many as the stored train+val) or at "
                    f"least batch_size ({self.batch_size})"
                )
        object.__setattr__(self, "stream_patterns", counts)

    def stream_patterns_at(self, dose: float) -> int:
        """Fresh patterns per epoch of the networks at ``dose`` (0: as many as the stored train+val)."""
        if isinstance(self.stream_patterns, tuple):
            return self.stream_patterns[self.doses.index(float(dose))]
        return self.stream_patterns

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("doses", "methods", "split_fractions", "limit_pc_sigmas"):
            d[k] = list(d[k])
        if isinstance(self.stream_patterns, tuple):
            d["stream_patterns"] = list(self.stream_patterns)
        return d

    @classmethod
    def from_dict(cls, data: dict, where: str = "dose benchmark config") -> DoseBenchConfig:
        """The config stored in a ``dose.json`` (fields it lacks take today's defaults).

        Raises
        ------
        ValueError
            When ``data`` holds a field this version does not know (naming it and ``where``).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"{where}: unknown fields {unknown}; it was written by another version of ebsdlib — "
                "re-run the whole benchmark (without --update) with this one"
            )
        return cls(**{**ADDED_FIELDS, **data})

    @classmethod
    def quick(cls, **changes) -> DoseBenchConfig:
        """A tiny benchmark for tests: two doses, a few patterns, a test model, a coarse
        kinematical dictionary (its small masters build in a second)."""
        base = dict(
            doses=(DEFAULT_DOSE / 16, DEFAULT_DOSE * 16),
            n_per_phase=8,
            pattern_size=32,
            split_fractions=(0.5, 0.25, 0.25),
            model="test_efficientnet",
            epochs=1,
            batch_size=4,
            resolution=30.0,
            calibration_patterns=6,
            oracle_patterns=4,
            limit_patterns=4,
            limit_pc_sigmas=(0.0, 0.01),
            limit_fit_steps=20,
            forward_model="kinematical",
            master_half_size=40,
            device="cpu",
        )
        known = {f.name for f in fields(cls)}
        return cls(**{**base, **{k: v for k, v in changes.items() if k in known}})


def pair_accuracy(cm: np.ndarray, phase_names: list[str]) -> float | None:
    """Of the true Ni and Ni₃Fe patterns predicted as one of the two, the fraction predicted right."""
    block = _pair_block(cm, phase_names)
    if block is None or not block.sum():
        return None
    return float(np.trace(block) / block.sum())


def phase_recalls(cm: np.ndarray, phase_names: list[str]) -> dict[str, float | None]:
    """Each phase's recall, keyed ``recall_<name>`` (``recall_Ni``: the share of Ni patterns called
    Ni; ``None`` for a phase without test patterns)."""
    cm = np.asarray(cm, dtype=float)
    return {f"recall_{n}": float(cm[i, i] / cm[i].sum()) if cm[i].sum() else None for i, n in enumerate(phase_names)}


def pair_count(cm: np.ndarray, phase_names: list[str]) -> int | None:
    """How many patterns :func:`pair_accuracy` is over: true Ni and Ni₃Fe predicted as one of the two."""
    block = _pair_block(cm, phase_names)
    return None if block is None else int(block.sum())


def _pair_block(cm: np.ndarray, phase_names: list[str]) -> np.ndarray | None:
    """The 2 × 2 part of a confusion matrix for Ni and Ni₃Fe (``None`` without either phase)."""
    from ebsdlib.phases import HARD_PAIR

    lower = [n.lower() for n in phase_names]
    a_name, b_name = (n.lower() for n in HARD_PAIR)
    if a_name not in lower or b_name not in lower:
        return None
    index = [lower.index(a_name), lower.index(b_name)]
    return np.asarray(cm)[np.ix_(index, index)]


def metrics_row(dose: float, method: str, metrics: dict, seconds: float) -> dict:
    """One row of the benchmark from a :func:`~ebsdlib.metrics.compute_metrics` dictionary, with each
    phase's recall (where a method loses at low dose: Ni₃Al or the Ni/Ni₃Fe pair)."""
    low, high = metrics.get("accuracy_ci95") or (None, None)
    return {
        "dose": float(dose),
        "method": method,
        "label": method_label(method),
        "accuracy": metrics["accuracy"],
        "accuracy_low": low,
        "accuracy_high": high,
        "balanced_accuracy": metrics.get("balanced_accuracy"),
        "macro_f1": metrics.get("macro_f1"),
        "ni_ni3fe_confusion": metrics.get("ni_ni3fe_confusion"),
        "ni_to_ni3fe": metrics.get("ni_to_ni3fe"),
        "ni3fe_to_ni": metrics.get("ni3fe_to_ni"),
        "pair_accuracy": pair_accuracy(metrics["confusion_matrix"], metrics["phase_names"]),
        **phase_recalls(metrics["confusion_matrix"], list(metrics["phase_names"])),
        "n_test": metrics.get("n"),
        "seconds": seconds,
        "inference_patterns_per_second": metrics.get("inference_patterns_per_second"),
    }


def run_dose_bench(
    config: DoseBenchConfig | None = None,
    out_dir: str | Path | None = None,
    *,
    work_dir: str | Path | None = None,
    keep: bool = False,
    progress: bool = True,
) -> dict:
    """Run the dose benchmark and write ``dose.json`` and ``dose.csv`` into ``out_dir``.

    Parameters
    ----------
    config
        Sizes and settings; defaults when ``None``.
    out_dir
        Result folder; default ``<artifacts>/bench``.
    work_dir
        Where the simulated data sets and the networks' runs go; default a temporary folder
        under ``<artifacts>/scratch``.
    keep
        Keep ``work_dir`` (data sets and runs) instead of deleting it at the end.
    progress
        Show a tqdm bar over doses and methods.

    Returns
    -------
    dict
        The document written to ``dose.json``.
    """
    from tqdm.auto import tqdm

    from ebsdlib.bench.report import bench_root, environment, kept_work_dir, work_folder, write_results
    from ebsdlib.train.device import resolve_device

    config = config or DoseBenchConfig()
    out = Path(out_dir) if out_dir is not None else bench_root()
    device = resolve_device(config.device)
    work = work_folder("dose", work_dir)
    env = environment(str(device))
    t_start = time.perf_counter()
    rows: list[dict] = []
    oracle: list[dict] = []
    limit: list[dict] = []
    patterns_sha256: dict[str, str] = {}
    dictionary = None
    previous = None
    out.mkdir(parents=True, exist_ok=True)

    def save(complete: bool) -> dict:
        doc = {
            "kind": "dose",
            "complete": complete,
            "config": config.to_dict(),
            "environment": env,
            "rows": rows,
            "oracle": oracle,
            "limit": limit,
            "dictionary": dictionary.summary() if dictionary is not None else None,
            "patterns_sha256": patterns_sha256,
            "seconds": time.perf_counter() - t_start,
            "work_dir": kept_work_dir(work, keep),
        }
        write_results(doc, out / "dose.json", rows, out / "dose.csv")
        return doc

    try:
        steps = len(config.doses) * (1 + len(config.methods) + int(config.oracle) + int(config.limit))
        with tqdm(total=steps, desc="dose benchmark", unit="step", disable=not progress) as bar:
            for dose in config.doses:
                bar.set_postfix(dose=f"{dose:g}", step="simulate")
                data = simulate_for_dose(config, dose, work)
                patterns_sha256[dose_key(dose)] = patterns_digest(data)
                bar.update(1)
                dictionary, previous = measure_methods(config, dose, data, work, dictionary, rows, bar, previous)
                if config.oracle:
                    bar.set_postfix(dose=f"{dose:g}", step="oracle")
                    oracle.extend(oracle_rows(config, [dose]))
                    bar.update(1)
                if config.limit:
                    bar.set_postfix(dose=f"{dose:g}", step="physical limit")
                    limit.extend(limit_rows(config, [dose]))
                    bar.update(1)
                save(complete=False)  # a run cut short still leaves the doses it finished
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return save(complete=True)


def update_dose_bench(
    methods: tuple[str, ...] | list[str],
    out_dir: str | Path | None = None,
    *,
    device: str | None = None,
    work_dir: str | Path | None = None,
    keep: bool = False,
    progress: bool = True,
) -> dict:
    """Re-run ``methods`` of the finished benchmark in ``out_dir`` and replace their rows.

    Every setting comes from the stored ``dose.json`` (only the device may change). Each dose's
    data set is simulated again from the stored seed; where the file stores the patterns'
    SHA-256 (benchmarks written since it does), a different digest stops the update before
    anything is written. The other methods' rows, the oracle and the limit are kept; the
    document gains an ``updates`` entry (methods, environment, seconds, whether the data were
    checked, the digests of the data it measured on). ``dose.json`` and ``dose.csv`` are rewritten once, at the end.

    Raises
    ------
    FileNotFoundError
        When ``out_dir`` has no ``dose.json``.
    ValueError
        When it is not a finished dose benchmark, a method is unknown, or the data differ.
    """
    from tqdm.auto import tqdm

    from ebsdlib.bench.report import bench_root, environment, work_folder, write_results
    from ebsdlib.io import read_json
    from ebsdlib.train.device import resolve_device

    out = Path(out_dir) if out_dir is not None else bench_root()
    path = out / "dose.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no dose benchmark to update; run `python -m ebsdlib bench dose` first (without --update)"
        )
    doc = read_json(path)
    if not isinstance(doc, dict) or doc.get("kind") != "dose" or doc.get("complete") is not True:
        state = doc.get("complete") if isinstance(doc, dict) else None
        raise ValueError(
            f"{path} is not a finished dose benchmark (kind {doc.get('kind') if isinstance(doc, dict) else None!r}, "
            f"complete {state!r}); run the whole benchmark again without --update"
        )
    stored = DoseBenchConfig.from_dict(doc["config"], where=str(path))
    # the checkpoint chain of ce_init 'higher_dose' is not stored: 'ce' trains the whole chain
    # again, methods that do not train it (the indexing ones) run without it
    chain = stored.ce_init if "ce" in methods else "scratch"
    config = replace(
        stored, methods=tuple(methods), ce_init=chain, device=device or stored.device, oracle=False, limit=False
    )
    digests = doc.get("patterns_sha256") or {}
    env = environment(str(resolve_device(config.device)))
    work = work_folder("dose", work_dir)
    t_start = time.perf_counter()
    fresh: list[dict] = []
    made: dict[str, str] = {}
    dictionary = None
    previous = None
    try:
        steps = len(config.doses) * (1 + len(config.methods))
        with tqdm(total=steps, desc="dose benchmark update", unit="step", disable=not progress) as bar:
            for dose in config.doses:
                bar.set_postfix(dose=f"{dose:g}", step="simulate")
                data = simulate_for_dose(config, dose, work)
                made[dose_key(dose)] = patterns_digest(data)
                stored_digest = digests.get(dose_key(dose))
                if stored_digest is not None and made[dose_key(dose)] != stored_digest:
                    raise ValueError(
                        f"{path}: the simulator now makes other patterns at dose {dose:g} than the stored rows "
                        "were measured on (SHA-256 differs); an update would compare methods on different "
                        "data — run the whole benchmark again without --update"
                    )
                bar.update(1)
                dictionary, previous = measure_methods(config, dose, data, work, dictionary, fresh, bar, previous)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    doc["rows"] = merged_rows(doc["rows"], fresh, config.doses)
    doc["config"]["methods"] = [m for m in METHODS if m in set(stored.methods) | set(config.methods)]
    if dictionary is not None:
        doc["dictionary"] = dictionary.summary()
    doc.setdefault("updates", []).append(
        {
            "methods": list(config.methods),
            "environment": env,
            "seconds": time.perf_counter() - t_start,
            "data_checked": bool(digests),
            "patterns_sha256": made,
        }
    )
    write_results(doc, path, doc["rows"], out / "dose.csv")
    return doc


def update_dose_limit(out_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Take the physical limit of the finished benchmark in ``out_dir`` apart again, with the
    fitted-PC curves (``limit_fit_pc``), on its stored settings.

    The curves it already has are computed again from the stored seed and must come out equal
    (the same draws, the same decisions), so the fitted curves are paired with them; the
    methods' rows and the oracle are kept. The document's limit and config are replaced and it
    gains an ``updates`` entry (``limit``, environment, seconds).

    Raises
    ------
    FileNotFoundError
        When ``out_dir`` has no ``dose.json``.
    ValueError
        When it is not a finished dose benchmark with a limit, or the recomputed curves differ
        from the stored ones.
    """
    from ebsdlib.bench.report import bench_root, environment, write_results
    from ebsdlib.io import read_json

    out = Path(out_dir) if out_dir is not None else bench_root()
    path = out / "dose.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no dose benchmark to update; run `python -m ebsdlib bench dose` first")
    doc = read_json(path)
    if (
        not isinstance(doc, dict)
        or doc.get("kind") != "dose"
        or doc.get("complete") is not True
        or not doc.get("limit")
    ):
        raise ValueError(
            f"{path} is not a finished dose benchmark with a physical limit; run `python -m ebsdlib bench dose` "
            "with the limit (without --no-limit)"
        )
    config = replace(DoseBenchConfig.from_dict(doc["config"], where=str(path)), limit_fit_pc=True)
    t0 = time.perf_counter()

    def key(row: dict) -> tuple:
        return row["cue"], float(row["pc_sigma"]), float(row["dose"])

    # the stored curves first (seconds), so that a simulator that changed is refused before the fit (minutes)
    again = {key(r): r for r in limit_rows(replace(config, limit_fit_pc=False))}
    for old in doc["limit"]:
        new = again.get(key(old))
        if old.get("pc_fitted"):
            continue
        if new is None or (new["pair_accuracy"], new["n"]) != (old["pair_accuracy"], old["n"]):
            got = None if new is None else new["pair_accuracy"]
            raise ValueError(
                f"{path}: the limit's {key(old)} curve point came out {got!r} against the stored "
                f"{old['pair_accuracy']!r}; the simulator draws other patterns now, so fitted curves would not be "
                "paired with the stored ones — run the whole benchmark again (python -m ebsdlib bench dose)"
            )
    doc["limit"] = limit_rows(config, progress=progress)
    doc["config"] = config.to_dict()
    doc.setdefault("updates", []).append(
        {
            "limit": "fitted pattern centres",
            "methods": [],
            "environment": environment("cpu"),
            "seconds": time.perf_counter() - t0,
            "data_checked": True,
        }
    )
    write_results(doc, path, doc["rows"], out / "dose.csv")
    return doc


def merged_rows(rows: list[dict], fresh: list[dict], doses: tuple[float, ...]) -> list[dict]:
    """``rows`` with every row of a method in ``fresh`` replaced by ``fresh``'s, ordered by dose
    (as in ``doses``) and then by method (as in :data:`METHODS`)."""
    replaced = {r["method"] for r in fresh}
    kept = [r for r in rows if r["method"] not in replaced]
    order = {float(d): i for i, d in enumerate(doses)}

    def key(row: dict) -> tuple[int, int]:
        method = row["method"]
        return order.get(float(row["dose"]), len(order)), METHODS.index(method) if method in METHODS else len(METHODS)

    return sorted(kept + fresh, key=key)


def measure_methods(
    config: DoseBenchConfig,
    dose: float,
    data: Path,
    work: Path,
    dictionary,
    rows: list[dict],
    bar,
    previous: tuple[float, Path] | None = None,
):
    """Run every method of ``config`` on the data set of one dose, appending their rows to ``rows``
    and advancing ``bar`` a step each.

    ``previous``: the dose before this one and its cross-entropy checkpoint (the start of this
    dose's with ``ce_init="higher_dose"``). Returns the (reused) dictionary and this dose's
    ``(dose, checkpoint)`` for the next (``None`` without a cross-entropy network).
    """
    checkpoints: dict[str, Path] = {}
    for method in config.methods:
        bar.set_postfix(dose=f"{dose:g}", step=method)
        row, dictionary = method_row(
            config, dose, data, method, work, dictionary, checkpoints, previous, progress=not bar.disable
        )
        rows.append(row)
        bar.update(1)
    return dictionary, ((dose, checkpoints["ce"]) if "ce" in checkpoints else None)


def method_row(
    config: DoseBenchConfig,
    dose: float,
    data: Path,
    method: str,
    work: Path,
    dictionary=None,
    checkpoints: dict[str, Path] | None = None,
    previous: tuple[float, Path] | None = None,
    progress: bool = False,
):
    """Run one method on the data set of one dose; returns its row and the (reused) dictionary.
    ``checkpoints`` and ``previous``: the networks trained so far at this dose and the previous
    dose's cross-entropy network (see :func:`network_row`); ``progress`` shows a network's
    training bar."""
    if method == "hough":
        return hough_row(config, dose, data), dictionary
    if not get_method(method).is_network:
        return dictionary_row(
            config, dose, data, dictionary, refine=method == "dictionary_refined", fit=method == "dictionary_fitted"
        )
    checkpoints = {} if checkpoints is None else checkpoints
    return network_row(config, dose, data, method, work, checkpoints, previous, progress), dictionary


def dose_key(dose: float) -> str:
    """A dose as a JSON object key (``f"{dose:g}"``)."""
    return f"{float(dose):g}"


def patterns_digest(path: str | Path) -> str:
    """SHA-256 of a data set's patterns (their bytes, read in blocks), not of the file: the file
    also holds its creation date."""
    import h5py

    digest = hashlib.sha256()
    with h5py.File(path, "r") as f:
        patterns = f["patterns"]
        step = max(1, (64 << 20) // max(1, patterns[0].nbytes))
        for start in range(0, len(patterns), step):
            digest.update(np.ascontiguousarray(patterns[start : start + step]).tobytes())
    return digest.hexdigest()


def simulation_config(config: DoseBenchConfig, dose: float):
    """The simulator settings of one dose (independent orientations, the benchmark's split)."""
    from ebsdlib.simulate import SimulationConfig

    return SimulationConfig(
        dose=float(dose),
        n_per_phase=config.n_per_phase,
        pattern_size=config.pattern_size,
        patterns_per_grain=1,
        split_fractions=config.split_fractions,
        forward_model=config.forward_model,
        master_half_size=config.master_half_size,
        seed=config.seed,
    )


def simulate_for_dose(config: DoseBenchConfig, dose: float, work: Path) -> Path:
    """Simulate the data set of one dose into ``work``."""
    from ebsdlib.simulate import simulate_dataset

    return simulate_dataset(simulation_config(config, dose), work / f"dose_{dose:g}.h5", progress=False)


def network_row(
    config: DoseBenchConfig,
    dose: float,
    data: Path,
    loss: str,
    work: Path,
    checkpoints: dict[str, Path],
    previous: tuple[float, Path] | None = None,
    progress: bool = False,
) -> dict:
    """Train and evaluate one network on the data set of one dose (``progress``: show the
    training's bar, under the benchmark's and cleared when it ends).

    ``checkpoints`` maps the losses trained so far at this dose to their best checkpoints; this
    network's is added, and with ``contrastive_init="ce"`` a SupCon or contrastive encoder starts
    from the cross-entropy one. With ``ce_init="higher_dose"`` the cross-entropy encoder starts
    from ``previous`` (the dose before this one and its cross-entropy checkpoint; from scratch
    when ``None``, at the first dose). The row's ``init`` says where the network started.
    """
    from ebsdlib.data.format import EBSDDataset
    from ebsdlib.data.preprocess import PreprocessConfig
    from ebsdlib.train.config import TrainConfig
    from ebsdlib.train.loop import train

    with EBSDDataset(data) as ds:
        preprocess = PreprocessConfig.from_dict(ds.preprocessing)
    metric = loss != "ce"
    pretrained = None
    init = "scratch"
    if not metric and config.ce_init == "higher_dose" and previous is not None:
        pretrained, init = previous[1], f"ce at dose {previous[0]:g}"
    if metric and config.contrastive_init == "ce":
        pretrained = checkpoints.get("ce")
        if pretrained is None:
            raise ValueError(
                f"dose {dose:g}: {loss} starts from the cross-entropy network (contrastive_init 'ce'), which was "
                "not trained at this dose; put 'ce' before it in methods"
            )
        init = "ce"
    epochs = config.contrastive_epochs if metric and config.contrastive_epochs else config.epochs
    cfg = TrainConfig(
        data=str(data),
        loss=loss,
        model=config.model,
        epochs=epochs,
        batch_size=config.batch_size,
        lr=config.contrastive_lr if metric and config.contrastive_lr else config.lr,
        warmup_epochs=0 if pretrained else min(1, epochs - 1),
        pretrained=str(pretrained) if pretrained else None,
        validation=False,
        stream=config.stream,
        stream_patterns=config.stream_patterns_at(dose),
        umap=False,
        seed=config.seed,
        device=config.device,
        preprocess=preprocess,
        name=f"dose {dose:g} {loss}" + (" stream" if config.stream else ""),
    )
    t0 = time.perf_counter()
    run = train(cfg, progress=progress, root=work)
    metrics = run.metrics()
    if metrics is None:
        raise RuntimeError(f"run {run.run_id!r} at dose {dose:g} finished without metrics.json")
    checkpoints[loss] = run.path / "checkpoint_best.pt"
    row = metrics_row(dose, loss, metrics, time.perf_counter() - t0)
    row["epochs"] = epochs
    row["init"] = init
    return row


def dictionary_row(
    config: DoseBenchConfig, dose: float, data: Path, dictionary, refine: bool = False, fit: bool = False
):
    """Index the test split of one dose (refined, or refined and fitted to the patterns); returns
    the row and the (reused) dictionary."""
    from ebsdlib.baseline.config import DictionaryConfig
    from ebsdlib.baseline.geometry import geometry_for
    from ebsdlib.baseline.run import choose_temperature, ensure_dictionary, index_split, method_key, run_metrics
    from ebsdlib.data.format import EBSDDataset
    from ebsdlib.data.preprocess import PreprocessConfig
    from ebsdlib.metrics import compute_metrics

    dcfg = DictionaryConfig(
        resolution=config.resolution,
        refine=refine,
        refine_fit=fit,
        calibration_patterns=config.calibration_patterns,
        device=config.device,
        seed=config.seed,
    )
    t0 = time.perf_counter()
    with EBSDDataset(data) as ds:
        preprocess = PreprocessConfig.from_dict(ds.preprocessing)
        geometry = geometry_for(ds, dcfg)
        dictionary = ensure_dictionary(dictionary, ds.phases, geometry, ds.pattern_shape, preprocess, dcfg, False)
        temperature, source = choose_temperature(ds, dictionary, geometry, preprocess, dcfg, False)
        result = index_split(ds, dictionary, geometry, preprocess, dcfg, ds.indices("test"), False)
        metrics = run_metrics(result, ds, dictionary, dcfg, "test", temperature, source, compute_metrics)
    row = metrics_row(dose, method_key(dcfg), metrics, time.perf_counter() - t0)
    row["dictionary_build_seconds"] = dictionary.build_seconds
    row["temperature"] = temperature
    return row, dictionary


def hough_row(config: DoseBenchConfig, dose: float, data: Path) -> dict:
    """Hough-index the test split of one dose (PyEBSDIndex, the temperature fitted on training patterns)."""
    from ebsdlib.baseline.geometry import geometry_for
    from ebsdlib.baseline.hough import build_indexer, hough_preprocess
    from ebsdlib.baseline.hough_config import HoughConfig
    from ebsdlib.baseline.hough_run import (
        HOUGH_METHOD,
        choose_temperature,
        geometry_options,
        index_split,
        run_metrics,
    )
    from ebsdlib.data.format import EBSDDataset

    hcfg = HoughConfig(calibration_patterns=config.calibration_patterns, seed=config.seed)
    t0 = time.perf_counter()
    with EBSDDataset(data) as ds:
        preprocess = hough_preprocess(hcfg, ds.preprocessing)
        detector = geometry_for(ds, geometry_options(hcfg)).detector
        indexer = build_indexer(ds.phases, detector, ds.pattern_shape, hcfg)
        temperature, source = choose_temperature(ds, indexer, preprocess, hcfg, False)
        result = index_split(ds, indexer, preprocess, hcfg, ds.indices("test"), False)
        metrics = run_metrics(result, ds, indexer, hcfg, "test", temperature, source)
    row = metrics_row(dose, HOUGH_METHOD, metrics, time.perf_counter() - t0)
    row["temperature"] = temperature
    row["processes"] = metrics["hough"]["processes"]
    row["min_band_intensity"] = hcfg.min_band_intensity
    return row


def oracle_rows(config: DoseBenchConfig, doses: list[float] | None = None) -> list[dict]:
    """The calibration of :mod:`ebsdlib.simulate.calibrate` at ``doses`` (default: all of the
    config's): pixel correlations and the oracle's pair accuracies."""
    from ebsdlib.simulate.calibrate import calibrate

    doses = list(config.doses if doses is None else doses)
    base = simulation_config(config, doses[0])
    return calibrate(doses, n_per_phase=config.oracle_patterns, base=base, logreg=False)


def limit_rows(config: DoseBenchConfig, doses: list[float] | None = None, progress: bool = False) -> list[dict]:
    """The physical limit taken apart (:func:`ebsdlib.simulate.limit.physical_limit`) at
    ``doses`` (default: all of the config's)."""
    from ebsdlib.simulate.limit import physical_limit

    doses = list(config.doses if doses is None else doses)
    base = simulation_config(config, doses[0])
    return physical_limit(
        doses,
        n_per_phase=config.limit_patterns,
        pc_sigmas=config.limit_pc_sigmas,
        base=base,
        fit_pc=config.limit_fit_pc,
        fit_steps=config.limit_fit_steps,
        progress=progress,
    )


def summary_table(doc: dict) -> str:
    """The benchmark as a text table: one line per dose and method, oracle beside."""
    from ebsdlib.bench.report import text_table

    oracle = {o["dose"]: o for o in doc.get("oracle", [])}
    rows = []
    for r in doc["rows"]:
        o = oracle.get(r["dose"], {})
        rows.append(
            {
                **r,
                "oracle": o.get("oracle_Ni_vs_Ni3Fe"),
                "ci": (
                    f"{r['accuracy_low']:.2f}–{r['accuracy_high']:.2f}" if r.get("accuracy_low") is not None else None
                ),
            }
        )
    return text_table(
        rows,
        [
            ("dose", "dose", "g"),
            ("label", "method", ""),
            ("accuracy", "accuracy", ".3f"),
            ("ci", "95% CI", ""),
            ("ni_ni3fe_confusion", "Ni↔Ni3Fe", ".3f"),
            ("pair_accuracy", "Ni/Ni3Fe pair acc", ".3f"),
            ("oracle", "oracle pair acc", ".3f"),
            ("n_test", "n", "d"),
            ("seconds", "seconds", ".1f"),
        ],
    )
