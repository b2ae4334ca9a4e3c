"""One process or many: classify a scan's patterns with a run and write its phase map."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ebsdlib.data.scan import scan_positions
from ebsdlib.phasemap import PhaseMap
from ebsdlib.predict._target import prediction_target, write_scan_map
from ebsdlib.predict._torchrun import predict_scan_distributed
from ebsdlib.runs import RunDir


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
        its folder (see :func:`ebsdlib.predict._torchrun.predict_scan_distributed`).

    Raises
    ------
    FileNotFoundError
        The run, its best checkpoint or the scan file does not exist.
    ValueError
        The scan has no scan geometry, the scan name is not a safe folder name, or
        ``batch_size`` is not positive.
    """
    from ebsdlib.baseline.hough_run import hough_scan, is_hough_run
    from ebsdlib.baseline.run import index_scan
    from ebsdlib.data import load
    from ebsdlib.distributed import setup
    from ebsdlib.train.inference import load_model, predict_dataset

    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} is not allowed; use a positive integer")
    ctx = setup()
    if ctx.enabled:
        return predict_scan_distributed(run_id_or_dir, data_path, batch_size, device, progress, scan_name, root, ctx)
    run, name, indexing = prediction_target(run_id_or_dir, data_path, scan_name, root)
    if indexing:  # a conventional baseline maps itself
        index = hough_scan if is_hough_run(run.config()) else index_scan
        return index(run, data_path, scan_name=scan_name, progress=progress)
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
