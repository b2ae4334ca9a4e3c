"""What dictionary and Hough indexing runs share: the run folder's life, the reported split, scans.

:mod:`ebsdlib.baseline.run` and :mod:`ebsdlib.baseline.hough_run` differ in how they index; how
a run folder is made, marked running, failed or completed, which split it reports, how its scans
are mapped and what a scan's phase map records around the method are the same, and live here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ebsdlib.data.fingerprint import data_entry
from ebsdlib.data.format import EBSDDataset
from ebsdlib.paths import runs_root
from ebsdlib.runs import RunDir, check_run_id, new_run_id, resolve_run


def reported_indices(ds: EBSDDataset, split: str) -> np.ndarray:
    """Indices of the split an indexing run reports on (``"test"`` or ``"val"``, not empty).

    Raises
    ------
    ValueError
        For another split (training patterns fit the softmax temperature) or an empty one.
    """
    if split not in ("val", "test"):
        raise ValueError(
            f"split {split!r} is not allowed; report on 'test' or 'val' (the training split fits the temperature)"
        )
    indices = ds.indices(split)
    if len(indices) == 0:
        raise ValueError(f"{ds.path}: split {split!r} has no patterns to index; choose another split ('test' or 'val')")
    return indices


def new_indexing_run(root: str | Path | None, run_id: str | None, method: str, tag: str) -> RunDir:
    """A run folder for an indexing run: a fresh id from the time, ``method`` and ``tag``, or
    ``run_id`` (a launcher may have made it; refused when it already holds results)."""
    if run_id is None:
        return RunDir(runs_root(root) / new_run_id(method, tag, root))
    run = RunDir(runs_root(root) / check_run_id(run_id))
    run.path.mkdir(parents=True, exist_ok=True)
    if run.metrics_path.exists() or run.predictions_path.exists():
        raise ValueError(f"run folder {str(run.path)!r} already holds results; choose a new run id")
    return run


def mark_running(run: RunDir, message: str) -> None:
    """``status.json``: running in this process since now."""
    run.update_status(
        state="running", epoch=0, epochs=0, pid=os.getpid(), started=time.time(), message=message, error=None
    )


@contextmanager
def failing_run(run: RunDir, message: str = "failed; see error") -> Iterator[None]:
    """Mark ``run`` failed with the error (and ``message``) when the block raises, then re-raise."""
    try:
        yield
    except BaseException as e:
        run.update_status(state="failed", error=f"{type(e).__name__}: {e}", message=message)
        raise


def map_scans_and_finish(run: RunDir, scans: Sequence[str | Path], map_scan: Callable[[str | Path], Path]) -> RunDir:
    """Map each scan with ``map_scan`` (status names it), then mark the run completed."""
    with failing_run(run, "failed while mapping a scan"):
        for scan in scans:
            run.update_status(message=f"mapping {Path(scan).name}")
            map_scan(scan)
    run.update_status(state="completed", message="done", eta_seconds=0.0)
    return run


def finished_indexing_run(
    run: RunDir | str | Path,
    root: str | Path | None,
    is_kind: Callable[[dict], bool],
    wrong_kind: Callable[[RunDir, dict], str],
    start_command: str,
) -> tuple[RunDir, dict, dict]:
    """The run, its config and its metrics, for mapping a scan with it.

    Raises
    ------
    ValueError
        ``wrong_kind(run, config)`` when the run is not of this method.
    FileNotFoundError
        When it has not finished indexing its split (``start_command`` starts a new one).
    """
    run = resolve_run(run, root)
    cfg = run.config()
    if not is_kind(cfg):
        raise ValueError(wrong_kind(run, cfg))
    metrics = run.metrics()
    if metrics is None:
        raise FileNotFoundError(
            f"{run.metrics_path}: run {run.run_id!r} has not finished indexing its split; "
            f"wait for it, or start a new one with `{start_command}`"
        )
    return run, cfg, metrics


def scan_meta(
    run: RunDir, name: str, scan: str | Path, cfg: dict, method: str, orientations: str, geometry, rate: float
) -> dict:
    """What an indexing run's scan map records beside its arrays (``phasemap.npz`` meta)."""
    return {
        "run_id": run.run_id,
        "scan": name,
        **data_entry(scan, run.path.parent.parent),
        "model": cfg.get("model"),
        "method": method,
        "orientations": orientations,
        "geometry": geometry.to_dict(),
        "patterns_per_second": rate,
    }
