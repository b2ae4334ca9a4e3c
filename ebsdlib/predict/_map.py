"""One process or many: classify a scan's patterns with a run and write its phase map."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ebsdlib.data.scan import scan_positions
from ebsdlib.phasemap import PhaseMap
from ebsdlib.predict._orientations import OrientationRequest
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
    orientations: OrientationRequest = "auto",
    orientation_options: object = None,
    compile_mode: str = "none",
) -> Path:
    """Classify every pattern of a scan and write its phase map into the run folder.

    Parameters
    ----------
    run_id_or_dir
        Run id under the artifacts root, run folder, or :class:`~ebsdlib.runs.RunDir`.
    data_path
        The scan: an ebsdlib HDF5 file with ``scan_shape`` (and ``scan/row``, ``scan/col``
        unless the patterns are stored row by row), or any input :func:`ebsdlib.data.load`
        converts. A data set without ``scan_shape`` (a labelled set) is classified too: its
        map has no positions, so no image or CrystalMap, but predictions, fractions and
        accuracy (:mod:`ebsdlib.phasemap.store`).
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
    orientations
        Where the map's orientations come from (:mod:`ebsdlib.predict._orientations`):
        ``"file"`` (the data set's stored ones: for a simulated scan, the simulator's true
        orientations), ``"hough"`` (the hybrid map: network phase, PyEBSDIndex orientation of
        that phase), ``"dictionary"``, ``"none"``, or ``"auto"``: ``file`` when stored, else
        ``hough`` when every phase has a band list and the scan records its detector
        geometry, else ``none``. An indexing run uses its
        own solutions and takes only ``"auto"``.
    orientation_options
        :class:`~ebsdlib.baseline.hough_config.HoughConfig` or
        :class:`~ebsdlib.baseline.config.DictionaryConfig` for the indexer; defaults when ``None``.
    compile_mode
        ``torch.compile`` mode of the forward pass (:data:`ebsdlib.train.device.COMPILE_MODES`;
        ``"reduce-overhead"`` replays CUDA graphs); ``"none"`` runs eagerly. The map's
        ``inference_patterns_per_second`` is the steady state, without the first batch.

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
        The scan's positions do not fit its scan shape, the scan name is not a safe folder
        name, ``batch_size`` is not positive, or the orientation source cannot be used for this
        scan or run (checked before any pattern is classified; nothing is written on failure).
    """
    from ebsdlib.baseline.hough_run import hough_scan, is_hough_run
    from ebsdlib.baseline.run import index_scan
    from ebsdlib.data import load
    from ebsdlib.distributed import setup
    from ebsdlib.predict._orientations import ORIENTATION_REQUESTS, resolve_orientation_source, scan_orientations
    from ebsdlib.train.device import check_compile_mode
    from ebsdlib.train.inference import InferenceClock, load_model, predict_dataset

    check_compile_mode(compile_mode)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} is not allowed; use a positive integer")
    if orientations not in ORIENTATION_REQUESTS:
        raise ValueError(f"orientations {orientations!r} is not allowed; use one of {', '.join(ORIENTATION_REQUESTS)}")
    ctx = setup()
    if ctx.enabled:
        return predict_scan_distributed(
            run_id_or_dir,
            data_path,
            batch_size,
            device,
            progress,
            scan_name,
            root,
            ctx,
            orientations,
            orientation_options,
            compile_mode,
        )
    run, name, indexing = prediction_target(run_id_or_dir, data_path, scan_name, root)
    if indexing:  # a conventional baseline maps itself
        if orientations != "auto":
            raise ValueError(
                f"run {run.run_id!r} is an indexing baseline, whose maps carry its own orientations; "
                f"drop --orientations {orientations} (it is for network runs)"
            )
        index = hough_scan if is_hough_run(run.config()) else index_scan
        return index(run, data_path, scan_name=scan_name, progress=progress)
    with load(data_path, progress=progress) as dataset:
        if dataset.scan_shape is not None:
            scan_positions(dataset)  # positions that do not fit the scan are refused before classifying
        model, config, phases = load_model(run.best_checkpoint, device)
        source = resolve_orientation_source(orientations, dataset, phases)
        clock = InferenceClock()
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
            compile_mode=compile_mode,
            clock=clock,
        )
        found = scan_orientations(
            source, dataset, phases, proba.argmax(axis=1), options=orientation_options, progress=progress
        )
        return write_scan_map(run, name, dataset, data_path, proba, config, phases, found, clock.metrics())


def summarize_phasemap(phasemap: PhaseMap, threshold: float = 0.0) -> str:
    """Text lines for the terminal: phase fractions and, with true phases, the accuracy."""
    lines = [f"{'phase':<12} {'count':>9} {'percent':>8}"]
    for r in phasemap.fractions(threshold)["rows"]:
        lines.append(f"{r['phase']:<12} {r['count']:>9d} {r['percent']:>7.2f}%")
    if phasemap.orientation_source != "none":
        n = int(phasemap.measured.sum())
        lines.append(
            f"orientations from {phasemap.orientation_source}: {int(phasemap.oriented.sum())} of {n} points"
            + (" (hybrid map: network phase, Hough orientation)" if phasemap.hybrid else "")
        )
    if not phasemap.positions:
        lines.append("the data set has no scan positions: no map image or CrystalMap, only the table")
    if phasemap.accuracy is not None:
        err = phasemap.error
        lines.append(
            f"accuracy {phasemap.accuracy:.4f} on {int((err >= 0).sum())} points with known "
            f"phase ({int((err == 1).sum())} wrong)"
        )
    return "\n".join(lines)
