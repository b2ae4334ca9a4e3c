"""``torchrun … -m ebsdlib predict``: every rank classifies a share of a scan, rank 0 writes one map.

Rank 0 checks the run and the scan (and converts a vendor scan into the import cache) and
reads the best checkpoint; the weights go to every rank. Each rank opens the scan, classifies
its contiguous range of patterns (:func:`~ebsdlib.train._ddp_inference.predict_sharded`),
and the ``(n, C)`` probabilities are gathered on rank 0, which writes the phase map exactly
as :func:`ebsdlib.predict.predict_scan` does in one process. The other ranks never open a
file in the run folder; the scan file must be readable at the same path on every node.
"""

from __future__ import annotations

from pathlib import Path

from ebsdlib.distributed.context import Context
from ebsdlib.runs import RunDir


def predict_scan_distributed(
    run_id_or_dir: RunDir | str | Path,
    data_path: str | Path,
    batch_size: int,
    device: str,
    progress: bool,
    scan_name: str | None,
    root: str | Path | None,
    ctx: Context,
    orientations: str = "auto",
    orientation_options: object = None,
    compile_mode: str = "none",
) -> Path:
    """:func:`ebsdlib.predict.predict_scan` with every rank; returns the phase-map folder on every rank.

    An indexing baseline run (dictionary or Hough) is refused: it maps a scan in one process.
    The orientation source is checked on rank 0 before classifying; rank 0 computes the
    orientations (Hough or dictionary indexing, one process) after gathering the probabilities.
    """
    from ebsdlib.data import load
    from ebsdlib.data.format import EBSDDataset
    from ebsdlib.data.scan import scan_positions
    from ebsdlib.predict._orientations import resolve_orientation_source, scan_orientations
    from ebsdlib.predict._target import prediction_target, write_scan_map
    from ebsdlib.train._ddp_inference import predict_sharded, shared_model
    from ebsdlib.train.checkpoint import checkpoint_phases, load_checkpoint
    from ebsdlib.train.device import resolve_device

    def prepare() -> tuple[str, str, str, str]:
        run, name, indexing = prediction_target(run_id_or_dir, data_path, scan_name, root)
        if indexing:
            raise ValueError(
                f"run {run.run_id!r} is an indexing baseline, which maps a scan in one "
                f"process; run `python -m ebsdlib predict --run {run.run_id} --data …` without "
                "torchrun"
            )
        with load(data_path, progress=progress) as dataset:  # converts a vendor scan once
            if dataset.scan_shape is not None:
                scan_positions(dataset)
            phases = checkpoint_phases(load_checkpoint(run.best_checkpoint))
            source = resolve_orientation_source(orientations, dataset, phases)
            return str(run.path), name, str(dataset.path), source

    run_path, name, scan_file, source = ctx.main_only(prepare)
    run = RunDir(run_path)
    dev = ctx.device(resolve_device(device))
    model, config, phases = shared_model(run.best_checkpoint, ctx, dev)
    try:
        with EBSDDataset(scan_file) as dataset:
            proba, _ = predict_sharded(
                model,
                dataset,
                None,
                config.preprocess,
                ctx,
                dev,
                batch_size,
                config.precision,
                embeddings=False,
                progress=progress and ctx.is_main,
                to="main",
                compile_mode=compile_mode,
            )
    except Exception as e:  # the other ranks stop too instead of waiting for this one's share
        ctx.fail(e)
        raise

    def write() -> str:
        with EBSDDataset(scan_file) as dataset:
            found = scan_orientations(
                source, dataset, phases, proba.argmax(axis=1), options=orientation_options, progress=progress
            )
            return str(write_scan_map(run, name, dataset, data_path, proba, config, phases, found))

    return Path(ctx.main_only(write))
