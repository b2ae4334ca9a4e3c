"""What a prediction maps into, and how the probabilities become the saved map (one process or many)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ebsdlib.data.fingerprint import data_entry
from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.scan import scan_name_from_path
from ebsdlib.methods import method_of_network
from ebsdlib.phasemap.store import save_scan_phasemap
from ebsdlib.phases import Phase
from ebsdlib.predict._orientations import ScanOrientations
from ebsdlib.runs import RunDir, resolve_run
from ebsdlib.train.config import TrainConfig


def prediction_target(
    run_id_or_dir: RunDir | str | Path, data_path: str | Path, scan_name: str | None, root: str | Path | None = None
) -> tuple[RunDir, str, bool]:
    """The run, the phase-map name, and whether the run is an indexing baseline (dictionary or Hough).

    Raises ``FileNotFoundError`` or ``ValueError`` as :func:`predict_scan` documents.
    """
    from ebsdlib.methods import is_indexing_run

    run = resolve_run(run_id_or_dir, root)
    if run.config_path.exists() and is_indexing_run(run.config()):
        return run, "", True
    name = scan_name if scan_name is not None else scan_name_from_path(data_path)
    run.phasemap_dir(name)  # refuses a name that is not a safe folder name
    if not run.best_checkpoint.exists():
        raise FileNotFoundError(
            f"{run.best_checkpoint}: run {run.run_id!r} has no best checkpoint yet; "
            "wait until it has finished an epoch, or choose a completed run"
        )
    return run, name, False


def write_scan_map(
    run: RunDir,
    name: str,
    dataset: EBSDDataset,
    data_path: str | Path,
    proba: np.ndarray,
    config: TrainConfig,
    phases: Sequence[Phase],
    found: ScanOrientations,
    inference: dict | None = None,
) -> Path:
    """Save the ``(n, C)`` probabilities of a scan's patterns with their orientations as its phase
    map; returns its folder. Called only once everything is computed, so a failure writes nothing.
    ``inference``: the classification's timing (:meth:`~ebsdlib.train.inference.InferenceClock.metrics`),
    kept in the map's metadata."""
    meta = {
        "run_id": run.run_id,
        "scan": name,
        **data_entry(data_path, run.path.parent.parent),
        "model": config.model,
        "loss": config.loss,
        "method": method_of_network(config.loss).key,
        **found.detail,
        "orientation_seconds": found.seconds,
        **(inference or {}),
    }
    return save_scan_phasemap(run, name, dataset, proba, phases, meta, **found.save_kwargs())
