"""Map a whole scan with a trained run: stream every pattern through the model, save the phase map.

``predict_scan`` loads the run's best checkpoint, streams the scan from its file in batches
(never the whole scan in memory: only the patterns of the batch being classified and the
``(n, C)`` probabilities), assembles the maps and writes them to
``runs/<run_id>/phasemaps/<scan>/`` (layout in :mod:`ebsdlib.phasemap.store`).
Under ``torchrun`` every process classifies a contiguous share of the patterns and rank 0
writes the one phase map (:mod:`ebsdlib.distributed.scan`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np

from ebsdlib.data.format import DataFormatError, EBSDDataset
from ebsdlib.phasemap import PhaseMap, build_phasemap, load_phasemap, save_phasemap
from ebsdlib.phasemap.store import resolve_run
from ebsdlib.phases import Phase
from ebsdlib.runs import RUN_ID_PATTERN, RunDir
from ebsdlib.train.config import TrainConfig

__all__ = ["load_phasemap", "predict_scan", "scan_name_from_path", "scan_positions"]


def predict_scan(
    run_id_or_dir: RunDir | str | Path,
    data_path: str | Path,
    batch_size: int = 512,
    device: Literal["auto", "cpu", "cuda"] | str = "auto",
    progress: bool = True,
    scan_name: str | None = None,
    *,
    root: str | Path | None = None,
) -> Path:
    """Classify every pattern of a scan and write its phase map into the run folder.

    Parameters
    ----------
    run_id_or_dir
        Run id under the artifacts root, run folder, or :class:`~ebsdlib.runs.RunDir`.
    data_path
        The scan: an ebsdlib HDF5 file with ``scan_shape`` (and ``scan/row``, ``scan/col``
        unless the patterns are stored row by row), or any input :func:`ebsdlib.data.load`
        converts.
    batch_size
        Patterns per forward pass (use thousands on a GPU).
    device
        ``"auto"`` (CUDA if available), ``"cpu"`` or ``"cuda"``.
    progress
        Show a tqdm bar.
    scan_name
        Folder name under ``phasemaps/``; default: the data file's stem.
    root
        Artifacts folder for a run id (default ``$EBSDLIB_ARTIFACTS`` or ``./artifacts``).

    Returns
    -------
    pathlib.Path
        The phase-map folder ``runs/<run_id>/phasemaps/<scan>/``. Under ``torchrun`` every rank
        classifies its share of the patterns, rank 0 writes the map and every rank returns
        its folder (see :func:`ebsdlib.distributed.scan.predict_scan_distributed`).

    Raises
    ------
    FileNotFoundError
        The run, its best checkpoint or the scan file does not exist.
    ValueError
        The scan has no scan geometry, the scan name is not a safe folder name, or
        ``batch_size`` is not positive.
    """
    from ebsdlib.baseline.run import index_scan
    from ebsdlib.data import load
    from ebsdlib.distributed import setup
    from ebsdlib.train.inference import load_model, predict_dataset

    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} is not allowed; use a positive integer")
    ctx = setup()
    if ctx.enabled:
        from ebsdlib.distributed.scan import predict_scan_distributed

        return predict_scan_distributed(run_id_or_dir, data_path, batch_size, device, progress, scan_name, root, ctx)
    run, name, dictionary = prediction_target(run_id_or_dir, data_path, scan_name, root)
    if dictionary:  # the conventional baseline maps itself
        return index_scan(run, data_path, scan_name=scan_name, progress=progress)
    with load(data_path, progress=progress) as dataset:
        scan_positions(dataset)  # a scan without geometry is refused before it is classified
        model, config, phases = load_model(run.best_checkpoint, device)
        proba, _ = predict_dataset(
            model,
            dataset,
            None,
            config.preprocess,
            device=device,
            batch_size=batch_size,
            precision=config.precision,
            embeddings=False,
            progress=progress,
        )
        return write_scan_map(run, name, dataset, data_path, proba, config, phases)


def prediction_target(
    run_id_or_dir: RunDir | str | Path, data_path: str | Path, scan_name: str | None, root: str | Path | None = None
) -> tuple[RunDir, str, bool]:
    """The run, the phase-map name, and whether the run is a dictionary-indexing baseline.

    Raises ``FileNotFoundError`` or ``ValueError`` as :func:`predict_scan` documents.
    """
    from ebsdlib.baseline.run import is_dictionary_run

    run = resolve_run(run_id_or_dir, root)
    if run.config_path.exists() and is_dictionary_run(run.config()):
        return run, "", True
    name = scan_name if scan_name is not None else scan_name_from_path(data_path)
    if not RUN_ID_PATTERN.match(name) or ".." in name:
        raise ValueError(
            f"scan name {name!r} is not allowed; use letters, digits, '.', '_' and '-' (not starting with '.', no '..')"
        )
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
) -> Path:
    """Lay the ``(n, C)`` probabilities of a scan's patterns out as its phase map and save it.

    Reads only the scan's per-pattern fields (positions, labels, quality, orientations),
    never its patterns. Returns ``runs/<run_id>/phasemaps/<name>/``.
    """
    row, col, scan_shape = scan_positions(dataset)
    phasemap = build_phasemap(
        proba,
        row,
        col,
        scan_shape,
        phases,
        true=true_labels(dataset, phases),
        quality=dataset.optional("quality"),
        orientations=dataset.optional("orientations"),
        step_size=dataset.step_size,
        meta={
            "run_id": run.run_id,
            "scan": name,
            "data": str(Path(data_path).resolve()),
            "model": config.model,
            "loss": config.loss,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    folder = run.phasemap_dir(name)
    save_phasemap(phasemap, folder)
    return folder


def scan_positions(dataset: EBSDDataset) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """``(row, col, scan_shape)`` of every pattern of a scan.

    Uses ``/scan/row`` and ``/scan/col`` when present; a scan with a ``scan_shape`` but no
    positions is taken as stored row by row (then it must hold rows × cols patterns).
    """
    shape = dataset.scan_shape
    if shape is None:
        raise DataFormatError(
            f"{dataset.path}: has no 'scan_shape' attribute, so its patterns have no place on a map; "
            "a phase map needs a scan (simulate one with a scan shape, or import a vendor scan)"
        )
    row, col = dataset.optional("scan/row"), dataset.optional("scan/col")
    if row is not None and col is not None:
        return row.astype(np.int64), col.astype(np.int64), shape
    rows, cols = shape
    if len(dataset) != rows * cols:
        raise DataFormatError(
            f"{dataset.path}: has no '/scan/row' and '/scan/col' and {len(dataset)} patterns, which do "
            f"not fill its scan shape {rows}×{cols} row by row; store the scan positions"
        )
    flat = np.arange(len(dataset))
    return flat // cols, flat % cols, shape


def true_labels(dataset: EBSDDataset, phases: Sequence[Phase]) -> np.ndarray | None:
    """The scan's labels in the model's phase order (matched by name), or ``None`` if unlabelled.

    Labels of phases the model does not know become ``-1`` (unknown).
    """
    labels = dataset.labels
    if not (labels >= 0).any():
        return None
    model_index = {p.name.lower(): i for i, p in enumerate(phases)}
    lut = np.array([model_index.get(n.lower(), -1) for n in dataset.phase_names] + [-1], dtype=np.int64)
    return lut[np.where(labels >= 0, labels, len(lut) - 1)]


def scan_name_from_path(path: str | Path) -> str:
    """A safe folder name from a data file's stem (``my scan.h5`` → ``my_scan``)."""
    stem = Path(path).stem if Path(path).suffix else Path(path).name
    name = re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip("._-")[:128]
    return name or "scan"


def summarize_phasemap(phasemap: PhaseMap, threshold: float = 0.0) -> str:
    """Text lines for the terminal: phase fractions and, with true phases, the accuracy."""
    lines = [f"{'phase':<12} {'count':>9} {'percent':>8}"]
    for r in phasemap.fractions(threshold)["rows"]:
        lines.append(f"{r['phase']:<12} {r['count']:>9d} {r['percent']:>7.2f}%")
    if phasemap.accuracy is not None:
        err = phasemap.error
        lines.append(
            f"accuracy {phasemap.accuracy:.4f} on {int((err >= 0).sum())} points with known "
            f"phase ({int((err == 1).sum())} wrong)"
        )
    return "\n".join(lines)
