"""Run folders: layout, safe ids, status and the reader API the dashboard uses.

Layout of ``artifacts/runs/<run_id>/``
-------------------------------------
=======================  ==========================================================
``config.json``          the resolved :class:`ebsdlib.train.config.TrainConfig`
``status.json``          live state (see :data:`STATES`), epoch, step, losses, ETA, error
``history.csv``          one row per epoch: epoch, train_loss, val_loss, val_accuracy,
                         lr, seconds
``metrics.json``         evaluation of the reported split (:mod:`ebsdlib.train.evaluate`)
``predictions.csv``      index, split, true, pred, prob_<phase>…, confidence
``embeddings.npy``       (n, d) float16 embeddings of the evaluated patterns, row i is
                         predictions row i
``umap.npy``             (n, 2) float32 UMAP coordinates of the embeddings
``checkpoint_last.pt``   model, optimizer, scheduler and RNG state for resume
``checkpoint_best.pt``   model weights at the best validation metric, with the config
``phasemaps/<scan>/``    ``phasemap.npz``, ``phasemap.png``, ``phasemap.csv``,
                         ``crystalmap.h5`` (orix), ``crystalmap.ang`` (MTEX),
                         ``fractions.json``, ``metrics.json`` (scans with true phases);
                         see :mod:`ebsdlib.phasemap.store`
``train.log``            the trainer's stdout/stderr when launched as a job
=======================  ==========================================================

Every file is written atomically (temporary file + rename). A run that died has state
``failed`` and its error in ``status.json``; a folder whose files cannot be read shows as
broken, with the reason, and never stops the other runs from listing.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ebsdlib._process import pid_alive
from ebsdlib.io import read_json, write_json
from ebsdlib.paths import check_name, runs_root

#: Lifecycle of a run.
STATES = ("queued", "running", "completed", "failed", "cancelled")
ACTIVE_STATES = ("queued", "running")


def check_run_id(run_id: str) -> str:
    """Return ``run_id`` if it is a safe folder name (:func:`ebsdlib.paths.check_name`), else raise ``ValueError``."""
    return check_name(run_id, "run id")


def new_run_id(loss: str, model: str, root: str | Path | None = None) -> str:
    """A fresh, unique, readable run id such as ``20261124-101500-ce-efficientnet_b0``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = re.sub(r"[^A-Za-z0-9._-]", "_", f"{stamp}-{loss}-{model}")[:100]
    rr = runs_root(root)
    rr.mkdir(parents=True, exist_ok=True)
    for k in range(1000):
        candidate = base if k == 0 else f"{base}-{k}"
        try:
            (rr / candidate).mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"could not find a free run id under {rr} for {base!r}")


@dataclass
class Status:
    """Machine-readable progress of one run, polled by the dashboard."""

    state: str = "queued"
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    train_loss: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    eta_seconds: float | None = None
    message: str = ""
    error: str | None = None
    pid: int | None = None
    started: float | None = None
    updated: float = field(default_factory=time.time)

    @property
    def progress(self) -> float:
        """Fraction done, 0..1."""
        if self.state == "completed":
            return 1.0
        if not self.epochs:
            return 0.0
        done = self.epoch + (self.step / self.steps_per_epoch if self.steps_per_epoch else 0.0)
        return min(1.0, done / self.epochs)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict) -> Status:
        """Build from a stored dictionary; a value of the wrong type is an error naming its field."""
        if not isinstance(d, dict):
            raise ValueError(f"a status must be a JSON object, not {type(d).__name__}")
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        st = cls(**known)
        if st.state not in STATES:
            raise ValueError(f"unknown run state {st.state!r}; states are {STATES}")
        for name, kinds in _STATUS_TYPES.items():
            value = getattr(st, name)
            if not isinstance(value, kinds) or isinstance(value, bool):
                allowed = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
                raise ValueError(f"status field {name!r} is {value!r}; expected {allowed}")
        return st


_NUMBER = (int, float)
#: The types each status field may hold in ``status.json``.
_STATUS_TYPES = {
    "epoch": (int,),
    "epochs": (int,),
    "step": (int,),
    "steps_per_epoch": (int,),
    "train_loss": (*_NUMBER, type(None)),
    "val_loss": (*_NUMBER, type(None)),
    "val_accuracy": (*_NUMBER, type(None)),
    "eta_seconds": (*_NUMBER, type(None)),
    "message": (str,),
    "error": (str, type(None)),
    "pid": (int, type(None)),
    "started": (*_NUMBER, type(None)),
    "updated": _NUMBER,
}


class RunDir:
    """One run folder: paths and readers. Reading never raises for a missing optional file.

    Parameters
    ----------
    path
        The run folder.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def run_id(self) -> str:
        return self.path.name

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # paths
    config_path = property(lambda self: self.path / "config.json")
    status_path = property(lambda self: self.path / "status.json")
    history_path = property(lambda self: self.path / "history.csv")
    metrics_path = property(lambda self: self.path / "metrics.json")
    predictions_path = property(lambda self: self.path / "predictions.csv")
    embeddings_path = property(lambda self: self.path / "embeddings.npy")
    umap_path = property(lambda self: self.path / "umap.npy")
    last_checkpoint = property(lambda self: self.path / "checkpoint_last.pt")
    best_checkpoint = property(lambda self: self.path / "checkpoint_best.pt")
    log_path = property(lambda self: self.path / "train.log")
    cancel_path = property(lambda self: self.path / "CANCEL")

    def phasemap_dir(self, scan: str) -> Path:
        """``phasemaps/<scan>/``; ``ValueError`` when ``scan`` is not a safe folder name."""
        return self.path / "phasemaps" / check_name(scan, "scan name")

    # status
    def read_status(self) -> Status:
        """The run's status; ``ValueError`` naming the file when it is corrupt."""
        if not self.status_path.exists():
            raise FileNotFoundError(f"{self.status_path}: no status; the run was never started")
        stored = read_json(self.status_path)
        try:
            return Status.from_dict(stored)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{self.status_path}: {e}; the file is corrupt") from e

    def write_status(self, status: Status) -> None:
        status.updated = time.time()
        write_json(self.status_path, status.to_dict())

    def update_status(self, **changes) -> Status:
        """Read, change and write the status (creating it when absent)."""
        try:
            st = self.read_status()
        except (FileNotFoundError, ValueError):
            st = Status()
        for k, v in changes.items():
            if k not in Status.__dataclass_fields__:
                raise KeyError(f"unknown status field {k!r}")
            setattr(st, k, v)
        self.write_status(st)
        return st

    def request_cancel(self) -> None:
        """Ask the trainer to stop after the current step (it polls for this file)."""
        self.cancel_path.write_text(str(time.time()))

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_path.exists()

    # readers
    def config(self) -> dict:
        return _json_object(self.config_path)

    def metrics(self) -> dict | None:
        return _json_object(self.metrics_path) if self.metrics_path.exists() else None

    def history(self):
        import pandas as pd

        return pd.read_csv(self.history_path) if self.history_path.exists() else None

    def predictions(self):
        import pandas as pd

        return pd.read_csv(self.predictions_path) if self.predictions_path.exists() else None

    def embeddings(self):
        import numpy as np

        return np.load(self.embeddings_path) if self.embeddings_path.exists() else None

    def umap(self):
        import numpy as np

        return np.load(self.umap_path) if self.umap_path.exists() else None

    def phasemap_scans(self) -> list[str]:
        d = self.path / "phasemaps"
        return sorted(p.name for p in d.iterdir() if (p / "phasemap.npz").exists()) if d.exists() else []

    def mtime(self) -> float:
        """Latest modification time of the folder's files: a cache key that changes with the run."""
        times = [self.path.stat().st_mtime]
        for p in self.path.iterdir():
            with contextlib.suppress(OSError):
                times.append(p.stat().st_mtime)
        pm = self.path / "phasemaps"
        if pm.exists():
            times.extend(p.stat().st_mtime for p in pm.rglob("*") if p.is_file())
        return max(times)


def _json_object(path: Path) -> dict:
    """A JSON file that must hold an object; ``ValueError`` naming the file otherwise."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: holds a JSON {type(data).__name__}, not an object; the file is corrupt")
    return data


@dataclass
class RunSummary:
    """One row of the runs table; ``error`` is set for a broken folder."""

    run_id: str
    path: Path
    state: str
    config: dict = field(default_factory=dict)
    status: Status | None = None
    metrics: dict | None = None
    error: str | None = None

    @property
    def broken(self) -> bool:
        return self.error is not None


def open_run(run_id: str, root: str | Path | None = None) -> RunDir:
    """The run folder of ``run_id``; the id is checked and must exist."""
    path = runs_root(root) / check_run_id(run_id)
    if not path.is_dir():
        raise FileNotFoundError(
            f"run {run_id!r} not found under {runs_root(root)}; `python -m ebsdlib runs` lists the runs"
        )
    return RunDir(path)


def summarize_run(path: Path) -> RunSummary:
    """Read one run's config, status and metrics; never raises, a broken folder says why."""
    run = RunDir(path)
    try:
        config = run.config() if run.config_path.exists() else {}
        status = run.read_status() if run.status_path.exists() else None
        metrics = run.metrics()
        if status is None and not config:
            raise FileNotFoundError("neither config.json nor status.json exists")
        state = status.state if status else ("completed" if metrics else "failed")
        return RunSummary(run.run_id, path, state, config, status, metrics)
    except Exception as e:  # noqa: BLE001 - a broken folder must not hide the others
        return RunSummary(run.run_id, path, "broken", error=f"{type(e).__name__}: {e}")


def list_runs(root: str | Path | None = None) -> list[RunSummary]:
    """Every run under ``artifacts/runs``, newest first, broken folders included."""
    rr = runs_root(root)
    if not rr.exists():
        return []
    paths = [p for p in rr.iterdir() if p.is_dir() and not p.name.startswith(".") and not p.is_symlink()]
    paths.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [summarize_run(p) for p in paths]


def delete_run(run_id: str, root: str | Path | None = None) -> None:
    """Remove a run folder; refuses an active run."""
    run = open_run(run_id, root)
    try:
        st = run.read_status()
    except (FileNotFoundError, ValueError):
        st = None
    if st is not None and st.state in ACTIVE_STATES and pid_alive(st.pid):
        raise RuntimeError(f"run {run_id!r} is {st.state}; cancel it before deleting")
    shutil.rmtree(run.path)


def resolve_run(run_dir: RunDir | str | Path, root: str | Path | None = None) -> RunDir:
    """A :class:`~ebsdlib.runs.RunDir` from itself, a run folder, or a run id under ``root``.

    A ``Path`` or a string with a path separator is a folder; any other string is a run id.
    """
    if isinstance(run_dir, RunDir):
        return run_dir
    if isinstance(run_dir, Path) or "/" in str(run_dir) or "\\" in str(run_dir):
        path = Path(run_dir)
        if not path.is_dir():
            raise FileNotFoundError(f"run folder {str(path)!r} does not exist; `python -m ebsdlib runs` lists the runs")
        return RunDir(path)
    return open_run(str(run_dir), root)
