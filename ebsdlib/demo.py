"""The first five minutes: the demo that a fresh clone shows, built by the project itself.

``python -m ebsdlib demo`` builds, deterministically and from nothing, the default simulated data
set and scan (128×128 patterns), three ``lcnet_050`` runs stream-trained on fresh simulated
patterns (cross-entropy, supervised contrastive and the seed's contrastive loss with batch-hard
mining), their evaluation, embeddings and UMAP, the two conventional baselines (dictionary and
Hough/Radon indexing) on the same test split, and the phase map of the scan for each.
``python -m ebsdlib demo --only contrastive hough`` adds runs to a committed demo without redoing
the others.

The runs' results (config, metrics, predictions, embeddings, UMAP, phase maps and a compact
half-precision best checkpoint) are committed under ``artifacts/runs/demo-*``; the two data sets
are not (230 MB) and are rebuilt from the same seeds on first start
(``python -m ebsdlib demo --data-only``, which ``make run`` calls). ``artifacts/demo.json``
records the demo config and a fingerprint of each data set, so a rebuilt file is checked to be
the very one the runs were trained on.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ebsdlib._process import pid_alive
from ebsdlib.io import read_json, write_json
from ebsdlib.methods import check_contrastive_init, get_method, network_methods
from ebsdlib.paths import artifacts_root, runs_root
from ebsdlib.runs import RunDir

DEMO_MANIFEST = "demo.json"
DATASET_FILE = "datasets/default.h5"
#: Freshly simulated patterns the networks are calibrated on (:func:`calibration_data`).
CALIBRATION_FILE = "datasets/calibration.h5"
SCAN_FILE = "datasets/default_scan.h5"
REBUILD_STATUS = "cache/demo-data.json"
#: The demo's runs, one per method (keys of :mod:`ebsdlib.methods`): the three networks of
#: :func:`train_configs`, dictionary indexing and Hough/Radon indexing.
DEMO_METHODS = ("ce", "supcon", "contrastive", "dictionary", "hough")


@dataclass(frozen=True)
class DemoConfig:
    """Everything the demo depends on; the defaults are what is committed.

    Parameters
    ----------
    n_per_phase
        Patterns per phase in the labelled data set.
    patterns_per_grain
        Patterns sharing one grain orientation (the split keeps grains whole).
    scan_shape
        Rows and columns of the simulated scan.
    n_grains
        Grains in the scan.
    model
        timm model of the three networks: ``lcnet_050`` (0.6 M parameters), which streamed
        10⁵ patterns of 128×128 at 165 patterns/s on two CPU cores (10 minutes) in the committed
        build, where ``efficientnet_b0`` (4 M) needs hours; on a GPU a larger model is a flag away.
    ce_epochs, supcon_epochs, contrastive_epochs
        Training epochs of the cross-entropy, the SupCon and the contrastive (batch-hard
        mining) run; the contrastive run has SupCon's settings.
    contrastive_init
        Where the SupCon and contrastive encoders start: ``"ce"``, the cross-entropy run's
        encoder (``--pretrained`` its ``checkpoint_best.pt``, no warm-up), or ``"scratch"``.
        Measured on the committed settings: from scratch both losses stayed at their collapsed
        value for 20 streamed epochs (SupCon 3.434 = log 31, contrastive 1.00; probe at
        chance), so the demo's contrastive runs fine-tune the cross-entropy encoder — what they
        add on top of the same features is what the comparison shows.
    contrastive_lr
        Learning rate of the SupCon and contrastive runs; ``None``: ``lr``.
    stream
        Train the networks on fresh patterns simulated every step like the data set's own
        (:mod:`ebsdlib.train.stream`) instead of on the stored patterns: no pattern is seen
        twice. 30 epochs of the 5,100 stored 64-pixel patterns left every network near chance.
    stream_patterns
        Patterns per streamed epoch (0: as many as the stored train+val splits); the committed
        demo draws 20 × 5,000 = 10⁵ patterns per network, the budget at which ``bench scaling``
        saw lcnet_050 learn 128-pixel dynamical patterns at the default dose.
    pattern_size
        Pattern size in pixels of the data set, the scan and the calibration patterns (the
        networks see them at that size). Measured with ``bench scaling`` (lcnet_050, dynamical
        patterns at the default dose, about 10⁵ fresh patterns): at 64×64 the stream loss stays
        at chance, also with the patterns resized to a 128-pixel input, so the cue is not in a
        64-pixel pattern at this dose; at 128×128 the network learns (see the README).
    device
        Where the runs train and map the scan: ``"auto"`` (CUDA when available, else the
        CPU), ``"cpu"`` or ``"cuda"``. Training is in fp32 on either, so a CPU rebuild of a
        demo made on a GPU differs only by floating-point rounding and cuDNN's kernel choice.
    batch_size, lr
        Optimiser settings shared by the networks.
    calibration_holdout
        ``TrainConfig.calibration_holdout`` of the networks: the share of the validation split
        kept out of training to fit the temperature on. 0 for the committed demo, whose runs
        were trained before the hold-out existed (their calibration is not held out,
        ``calibration_held_out: false``); a rebuild with ``0.5`` holds it out.
    calibration_per_phase, calibration_seed
        After training (and compacting), each network is calibrated again
        (:func:`ebsdlib.train.recalibrate.recalibrate`) on this many freshly simulated patterns per
        phase of the data set's settings with this seed (``datasets/calibration.h5``), patterns it
        never saw, by the calibrator that cross-validates better there (a temperature, or vector
        scaling); 0 keeps the temperature fitted on the validation split.
    seed
        Seed of the simulation and of training.
    forward_model
        Master patterns of the simulation: ``"dynamical"`` (de-ebsd, shipped with the package)
        or ``"kinematical"``; a manifest without it was made kinematically.
    master_half_size
        Kinematical master-pattern resolution (smaller is faster).
    """

    n_per_phase: int = 2000
    patterns_per_grain: int = 10
    scan_shape: tuple[int, int] = (100, 100)
    n_grains: int = 40
    model: str = "lcnet_050"
    ce_epochs: int = 20
    supcon_epochs: int = 5
    contrastive_epochs: int = 5
    batch_size: int = 32
    lr: float = 3e-3
    contrastive_init: str = "ce"
    contrastive_lr: float | None = 3e-4
    calibration_holdout: float = 0.0
    calibration_per_phase: int = 300
    calibration_seed: int = 1
    seed: int = 0
    forward_model: str = "dynamical"
    master_half_size: int = 250
    stream: bool = True
    stream_patterns: int = 5000
    pattern_size: int = 128
    device: str = "auto"

    @classmethod
    def tiny(cls) -> DemoConfig:
        """A rebuild small enough for a test (seconds, not minutes)."""
        return cls(
            n_per_phase=40,
            patterns_per_grain=4,
            scan_shape=(6, 5),
            n_grains=3,
            model="test_efficientnet",
            ce_epochs=2,
            supcon_epochs=2,
            contrastive_epochs=2,
            batch_size=16,
            calibration_per_phase=6,
            master_half_size=40,
            stream=False,
            stream_patterns=0,
            pattern_size=64,
            device="cpu",
        )

    def __post_init__(self) -> None:
        check_contrastive_init(self.contrastive_init)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scan_shape"] = list(self.scan_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DemoConfig:
        d = dict(d)
        d["scan_shape"] = tuple(d.get("scan_shape", (100, 100)))
        d.setdefault("forward_model", "kinematical")  # manifests written before the choice
        d.setdefault("stream", False)
        d.setdefault("stream_patterns", 0)  # manifests written before these two: epoch = train+val, 64 pixels
        d.setdefault("pattern_size", 64)
        d.setdefault("contrastive_init", "scratch")  # manifests written before the choice
        d.setdefault("contrastive_lr", None)
        d.setdefault("calibration_holdout", 0.0)  # manifests written before the hold-out
        d.setdefault("calibration_per_phase", 0)  # manifests written before the recalibration step
        d.setdefault("calibration_seed", 1)
        # manifests written before the contrastive run: it gets SupCon's epochs, as it is built
        d.setdefault("contrastive_epochs", d.get("supcon_epochs", cls.contrastive_epochs))
        return cls(**d)


def run_ids(config: DemoConfig) -> dict[str, str]:
    """Method → run id of the demo runs (fixed, so the committed folders are found again)."""
    return {m: f"demo-{m}-{config.model}" if get_method(m).is_network else f"demo-{m}" for m in DEMO_METHODS}


def simulation_configs(config: DemoConfig, root: Path):
    """The simulator configs of the data set and the scan."""
    from ebsdlib.simulate import ScanConfig, SimulationConfig

    cache = str(root / "cache" / "master")
    common = dict(
        seed=config.seed,
        forward_model=config.forward_model,
        master_half_size=config.master_half_size,
        pattern_size=config.pattern_size,
        cache_dir=cache,
    )
    dataset = SimulationConfig(n_per_phase=config.n_per_phase, patterns_per_grain=config.patterns_per_grain, **common)
    scan = ScanConfig(shape=tuple(config.scan_shape), n_grains=config.n_grains, **common)
    return dataset, scan


def train_configs(config: DemoConfig, root: Path) -> dict:
    """Method key → :class:`~ebsdlib.train.config.TrainConfig` of the three demo networks."""
    from ebsdlib.data.preprocess import PreprocessConfig
    from ebsdlib.train.config import TrainConfig

    base = TrainConfig(
        data=str(root / DATASET_FILE),
        model=config.model,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=config.seed,
        device=config.device,
        precision="fp32",
        validation=False,
        stream=config.stream,
        stream_patterns=config.stream_patterns,
        preprocess=PreprocessConfig(size=config.pattern_size),  # the data set's recommendation
        calibration_holdout=config.calibration_holdout,
        # as the committed runs were trained; the held-out recalibration (calibration_per_phase)
        # replaces it with the better of temperature and vector scaling
        calibrator="temperature",
    )
    metric = replace(base, lr=config.contrastive_lr or config.lr)
    if config.contrastive_init == "ce":
        metric = replace(metric, pretrained=str(ce_checkpoint(config, root)), warmup_epochs=0)
    return {
        "ce": replace(base, loss="ce", epochs=config.ce_epochs, name="demo: cross-entropy"),
        "supcon": replace(metric, loss="supcon", epochs=config.supcon_epochs, name="demo: supervised contrastive"),
        "contrastive": replace(
            metric,
            loss="contrastive",
            epochs=config.contrastive_epochs,
            name="demo: contrastive (batch-hard mining)",
        ),
    }


def ce_checkpoint(config: DemoConfig, root: Path) -> Path:
    """The cross-entropy demo run's best checkpoint: where the SupCon and contrastive encoders start
    with ``contrastive_init="ce"``."""
    return runs_root(root) / run_ids(config)["ce"] / "checkpoint_best.pt"


#: Patterns per block of the fingerprint's block sums.
FINGERPRINT_BLOCK = 100
#: Largest allowed change of a block sum, per pixel of the block. Floating-point rounding in the
#: projection and boundary mixing flips single grey levels between runs with other thread counts
#: (measured: block sums of the scan moved by up to 380 of 409 600 pixels); a changed simulator,
#: dose or noise draw moves them by thousands.
FINGERPRINT_TOLERANCE = 2e-3


def fingerprint(path: str | Path) -> dict:
    """What identifies a data set's content: SHA-256 of the labels, the shape, and the sum of
    every block of :data:`FINGERPRINT_BLOCK` patterns (not the HDF5 bytes, which hold dates)."""
    from ebsdlib.data.format import EBSDDataset

    with EBSDDataset(path) as ds:
        sums = [int(block.sum(dtype="int64")) for _, block in ds.iter_batches(FINGERPRINT_BLOCK)]
        return {
            "labels_sha256": hashlib.sha256(ds.labels.astype("int16").tobytes()).hexdigest(),
            "shape": [len(ds), *ds.pattern_shape],
            "block_sums": sums,
        }


def fingerprints_match(found: dict, expected: dict) -> bool:
    """Same labels and shape, and block sums equal within :data:`FINGERPRINT_TOLERANCE`."""
    if found.get("labels_sha256") != expected.get("labels_sha256") or found.get("shape") != expected.get("shape"):
        return False
    a, b = found.get("block_sums", []), expected.get("block_sums", [])
    if len(a) != len(b):
        return False
    h, w = found["shape"][1:]
    limit = FINGERPRINT_TOLERANCE * FINGERPRINT_BLOCK * h * w
    return all(abs(x - y) <= limit for x, y in zip(a, b, strict=True))


def read_manifest(root: str | Path | None = None) -> dict | None:
    """The committed ``demo.json`` or ``None``."""
    path = artifacts_root(root) / DEMO_MANIFEST
    return read_json(path) if path.exists() else None


def data_ready(root: str | Path | None = None) -> bool:
    """Whether both demo data sets exist under ``root``."""
    base = artifacts_root(root)
    return (base / DATASET_FILE).exists() and (base / SCAN_FILE).exists()


def build_data(
    config: DemoConfig,
    root: str | Path | None = None,
    *,
    force: bool = False,
    progress: bool = True,
    expected: dict | None = None,
    on_step: Callable[[str, int, int], None] | None = None,
) -> dict[str, dict]:
    """Simulate the demo data set and scan (skipped when present) and return their fingerprints
    (:func:`fingerprint`).

    Parameters
    ----------
    expected
        Fingerprints recorded in the manifest; a rebuilt file that differs raises
        ``RuntimeError`` (the runs would not match their patterns).
    on_step
        Called as ``on_step(name, done, total)`` before each file is built.
    """
    from ebsdlib.simulate import simulate_dataset, simulate_scan

    base = artifacts_root(root)
    dataset_cfg, scan_cfg = simulation_configs(config, base)
    targets = {
        "dataset": (base / DATASET_FILE, simulate_dataset, dataset_cfg),
        "scan": (base / SCAN_FILE, simulate_scan, scan_cfg),
    }
    prints = {}
    for done, (key, (path, simulate, cfg)) in enumerate(targets.items()):
        if on_step is not None:
            on_step(key, done, len(targets))
        if force or not path.exists():
            simulate(cfg, path, progress=progress)
        prints[key] = fingerprint(path)
        if expected and expected.get(key) and not fingerprints_match(prints[key], expected[key]):
            raise RuntimeError(
                f"{path}: the rebuilt {key} differs from the one the demo runs were made with (its labels, "
                "shape or pattern block sums differ); the simulator or a library version changed: rebuild "
                "the whole demo with `python -m ebsdlib demo --force`"
            )
    return prints


def compact_checkpoint(run: RunDir) -> None:
    """Keep only the best weights, in half precision, and drop the resume checkpoint.

    A finished demo run is never resumed, and fp16 weights halve the size committed to git;
    loading casts them back to the model's float32 parameters.
    """
    import torch

    from ebsdlib.io import atomic_write
    from ebsdlib.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(run.best_checkpoint)
    ckpt["model"] = {k: (v.half() if v.is_floating_point() else v) for k, v in ckpt["model"].items()}
    for key in ("optimizer", "scheduler", "scaler", "rng"):
        ckpt.pop(key, None)
    atomic_write(run.best_checkpoint, lambda p: torch.save(ckpt, p))
    run.last_checkpoint.unlink(missing_ok=True)


def build_demo(
    config: DemoConfig | None = None,
    root: str | Path | None = None,
    *,
    force: bool = False,
    progress: bool = True,
    methods: tuple[str, ...] = DEMO_METHODS,
) -> list[RunDir]:
    """Build the demo: data, the networks, the indexing baselines, evaluation, UMAP and phase maps.

    Parameters
    ----------
    config
        Demo settings; ``None`` for the committed defaults.
    root
        Artifacts folder (default ``$EBSDLIB_ARTIFACTS`` or ``./artifacts``).
    force
        Rebuild the data sets (when every network is rebuilt) and replace the named runs.
    methods
        Which runs to build (of :data:`DEMO_METHODS`); the others are kept as they are. Added
        to a demo that has a ``demo.json`` (``python -m ebsdlib demo --only contrastive hough``),
        they need its config, are made on data checked against its fingerprints, and the
        manifest keeps its runs and fingerprints and gains the new runs.

    Raises
    ------
    ValueError
        For a method outside :data:`DEMO_METHODS`, or for a part of a demo whose ``demo.json``
        records another config; both before anything is built.
    FileExistsError
        For a run that exists, without ``force``.
    RuntimeError
        When a rebuilt data set differs from the fingerprint in ``demo.json``.
    """
    from ebsdlib.predict import predict_scan
    from ebsdlib.train.loop import train
    from ebsdlib.train.recalibrate import recalibrate

    unknown = [m for m in methods if m not in DEMO_METHODS]
    if unknown:
        raise ValueError(f"methods {unknown!r} are not in the demo; choose from {list(DEMO_METHODS)}")
    config = config or DemoConfig()
    base = artifacts_root(root)
    needs_ce = config.contrastive_init == "ce" and {"supcon", "contrastive"} & set(methods)
    if needs_ce and "ce" not in methods and not ce_checkpoint(config, base).is_file():
        raise ValueError(
            f"{ce_checkpoint(config, base)} is missing: the demo's SupCon and contrastive runs start from the "
            "cross-entropy run's encoder (contrastive_init 'ce'); build it too (--only ce supcon contrastive)"
        )
    found = read_manifest(base)
    previous_runs = (found or {}).get("runs", {})
    manifest = _compatible_manifest(found, config, base, force=force, methods=methods)
    networks = {m.key for m in network_methods()} & set(DEMO_METHODS)
    networks_only = manifest is not None and DemoConfig.from_dict(manifest["config"]) != config
    rebuild_data = force and networks <= set(methods) and not networks_only
    expected = None if manifest is None or rebuild_data else manifest.get("fingerprints")
    prints = build_data(config, base, force=rebuild_data, progress=progress, expected=expected)
    ids = run_ids(config)
    trained = train_configs(config, base)
    runs = []
    for method in (m for m in DEMO_METHODS if m in methods):
        if not get_method(method).is_network:
            build = build_hough_run if method == "hough" else build_dictionary_run
            runs.append(build(config, base, force=force, progress=progress))
            continue
        path = runs_root(base) / ids[method]
        _clear(path, force)
        replaced = previous_runs.get(method)
        if force and replaced and replaced != ids[method]:  # the same method under another model's id
            _clear(runs_root(base) / replaced, force)
        run = train(trained[method], ids[method], progress=progress, root=base)
        compact_checkpoint(run)
        if config.calibration_per_phase:
            recalibrate(run, calibration_data(config, base), device=config.device, progress=progress)
        predict_scan(run, base / SCAN_FILE, device=config.device, progress=progress, scan_name="default_scan")
        runs.append(run)
    kept = manifest.get("runs", {}) if manifest else {}
    recorded = {m: ids[m] for m in DEMO_METHODS if m in methods or m in kept}
    write_json(
        base / DEMO_MANIFEST,
        {"config": config.to_dict(), "fingerprints": expected or prints, "runs": recorded},
    )
    return runs


def calibration_data(config: DemoConfig, root: Path) -> Path:
    """``datasets/calibration.h5``: ``calibration_per_phase`` patterns per phase of the demo data set's
    settings with ``calibration_seed`` (built when missing; the same as ``python -m ebsdlib simulate
    --what dataset --seed S --n-per-phase N --out artifacts/datasets/calibration.h5``)."""
    from dataclasses import replace

    from ebsdlib.simulate import simulate_dataset

    path = root / CALIBRATION_FILE
    if not path.exists():
        dataset_cfg, _ = simulation_configs(config, root)
        cfg = replace(dataset_cfg, seed=config.calibration_seed, n_per_phase=config.calibration_per_phase)
        simulate_dataset(cfg, path, progress=False)
    return path


#: :class:`DemoConfig` fields that shape the simulated data sets, and so every run; the others shape
#: only the networks.
DATA_FIELDS = (
    "n_per_phase",
    "patterns_per_grain",
    "scan_shape",
    "n_grains",
    "seed",
    "forward_model",
    "master_half_size",
    "pattern_size",
    "calibration_per_phase",
    "calibration_seed",
)


def _compatible_manifest(
    manifest: dict | None, config: DemoConfig, root: Path, *, force: bool, methods: tuple[str, ...]
) -> dict | None:
    """``manifest`` (the ``demo.json`` under ``root``) when ``methods`` are added to it, or ``None``
    (none there, or all of it is rebuilt). A manifest of another config is refused unless the whole demo is
    rebuilt with ``force``, or, when only the networks' settings differ (no field of
    :data:`DATA_FIELDS`), all three networks are rebuilt with ``force``: the indexing runs kept
    depend on the data alone, which is then checked against the manifest's fingerprints."""
    if manifest is None:
        return None
    recorded = DemoConfig.from_dict(manifest["config"])
    if recorded == config:
        return manifest
    if force and set(DEMO_METHODS) <= set(methods):
        return None
    differs = {k: (v, getattr(config, k)) for k, v in vars(recorded).items() if v != getattr(config, k)}
    networks = {m.key for m in network_methods()} & set(DEMO_METHODS)
    if force and networks <= set(methods) and not set(differs) & set(DATA_FIELDS):
        return manifest
    raise ValueError(
        f"{root / DEMO_MANIFEST}: the demo there was built with other settings ({differs!r}, recorded → asked), "
        f"so runs {list(methods)!r} would not fit its other runs; build them with the recorded settings, into "
        "another folder (--artifacts), rebuild all three networks with `python -m ebsdlib demo --force --only "
        "ce supcon contrastive` when only network settings differ, or rebuild the whole demo with "
        "`python -m ebsdlib demo --force`"
    )


def _clear(path: Path, force: bool) -> None:
    """Make way for a demo run folder: remove it with ``force``, refuse it without."""
    if path.exists():
        if not force:
            raise FileExistsError(f"{path} exists; pass --force to rebuild it, or --only the missing runs to keep it")
        shutil.rmtree(path)


def build_dictionary_run(config: DemoConfig, root: Path, *, force: bool = False, progress: bool = True) -> RunDir:
    """The conventional baseline beside the networks: dictionary indexing of the same test
    split and scan (:func:`ebsdlib.baseline.run.index_run`, default settings)."""
    from ebsdlib.baseline.run import index_run

    run_id = run_ids(config)["dictionary"]
    _clear(runs_root(root) / run_id, force)
    return index_run(
        root / DATASET_FILE,
        split="test",
        scans=[root / SCAN_FILE],
        name="demo: dictionary indexing",
        run_id=run_id,
        root=root,
        progress=progress,
    )


def build_hough_run(config: DemoConfig, root: Path, *, force: bool = False, progress: bool = True) -> RunDir:
    """The second conventional baseline: Hough/Radon indexing (PyEBSDIndex) of the same test
    split and scan (:func:`ebsdlib.baseline.hough_run.hough_run`, default
    :class:`~ebsdlib.baseline.hough_config.HoughConfig`)."""
    from ebsdlib.baseline.hough_run import hough_run

    run_id = run_ids(config)["hough"]
    _clear(runs_root(root) / run_id, force)
    return hough_run(
        root / DATASET_FILE,
        split="test",
        scans=[root / SCAN_FILE],
        name="demo: Hough/Radon indexing",
        run_id=run_id,
        root=root,
        progress=progress,
    )


def ensure_data(root: str | Path | None = None, progress: bool = True) -> bool:
    """Rebuild the demo data sets the committed runs need, if missing; ``True`` if built.

    Checks the rebuilt files against the fingerprints in ``demo.json`` and records its
    progress in ``cache/demo-data.json`` (see :func:`rebuild_status`), so that the dashboard
    can show it.
    """
    manifest = read_manifest(root)
    if manifest is None or data_ready(root):
        return False
    status = artifacts_root(root) / REBUILD_STATUS
    write_json(
        status,
        {"state": "running", "progress": 0.05, "pid": os.getpid(), "message": "simulating the demo data set and scan"},
    )

    def on_step(name: str, done: int, total: int) -> None:
        write_json(
            status,
            {
                "state": "running",
                "progress": 0.05 + 0.9 * done / total,
                "pid": os.getpid(),
                "message": f"simulating the demo {name} ({done + 1} of {total})",
            },
        )

    try:
        build_data(
            DemoConfig.from_dict(manifest["config"]),
            root,
            progress=progress,
            expected=manifest.get("fingerprints"),
            on_step=on_step,
        )
    except BaseException as e:
        write_json(
            status, {"state": "failed", "progress": 0.0, "pid": os.getpid(), "message": f"{type(e).__name__}: {e}"}
        )
        raise
    write_json(status, {"state": "completed", "progress": 1.0, "pid": os.getpid(), "message": "done"})
    return True


def rebuild_status(root: str | Path | None = None) -> dict | None:
    """State of the first-start data rebuild: ``state``, ``progress`` (0..1), ``message``.

    ``None`` when no rebuild was ever started. A ``running`` rebuild whose process is gone
    is reported as ``failed``.
    """
    path = artifacts_root(root) / REBUILD_STATUS
    if not path.exists():
        return None
    try:
        status = read_json(path)
    except ValueError:
        return None
    if status.get("state") == "running" and not pid_alive(status.get("pid")):
        status = {**status, "state": "failed", "message": "the rebuild process ended unexpectedly"}
    return status


def start_data_rebuild(root: str | Path | None = None) -> bool:
    """Start ``python -m ebsdlib demo --data-only`` in the background if the demo needs it.

    Returns ``True`` when a rebuild process was started; ``False`` when the data is there,
    there is no committed demo, or a rebuild is already running. The process runs in its
    own session with an argument list (no shell) and logs to ``cache/demo-data.log``.
    """
    import subprocess
    import sys

    base = artifacts_root(root)
    if read_manifest(base) is None or data_ready(base):
        return False
    status = rebuild_status(base)
    if status and status.get("state") == "running":
        return False
    log_path = base / "cache" / "demo-data.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(base / REBUILD_STATUS, {"state": "running", "progress": 0.0, "pid": None, "message": "starting"})
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ebsdlib", "demo", "--data-only", "--no-progress", "--artifacts", str(base)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    write_json(
        base / REBUILD_STATUS,
        {"state": "running", "progress": 0.02, "pid": proc.pid, "message": "simulating the demo data set and scan"},
    )
    return True
