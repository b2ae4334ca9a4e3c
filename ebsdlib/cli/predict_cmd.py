"""``python -m ebsdlib predict``: map a scan with a trained run."""

from __future__ import annotations

import argparse

from ebsdlib.train.device import COMPILE_MODES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``predict`` command."""
    p = subparsers.add_parser(
        "predict",
        help="classify every pattern of a scan and write its phase map into the run folder",
        description="Classify every pattern of a scan (streamed in batches) with a run's best "
        "checkpoint and write runs/<run>/phasemaps/<name>/: phasemap.npz, .png, .csv, "
        "crystalmap.h5 (orix), crystalmap.ang (MTEX), crystalmap.ctf (AZtec) and fractions.json, "
        "with each point's orientation from --orientations. A labelled set without scan "
        "positions gets predictions, fractions and accuracy but no map image. Under torchrun "
        "every process classifies a share of the patterns and rank 0 writes the map.",
    )
    p.add_argument(
        "--run",
        "--run-id",
        dest="run",
        required=True,
        help="run id (see `python -m ebsdlib runs`) or run folder; under torchrun write --run-id "
        "(torchrun takes --run for its own --run-path)",
    )
    p.add_argument("--data", required=True, help="the scan: ebsdlib HDF5 or a vendor scan")
    p.add_argument("--batch-size", type=int, default=512, help="patterns per forward pass (default 512)")
    p.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CUDA when available, else the CPU"
    )
    p.add_argument("--name", default=None, help="phase-map name (default: the data file's stem)")
    p.add_argument(
        "--orientations",
        choices=("auto", "file", "hough", "dictionary", "none"),
        default="auto",
        help="where each point's orientation comes from: file (the data set's stored ones; for a "
        "simulated scan the simulator's true orientations), hough (the hybrid map: the network's phase "
        "with PyEBSDIndex's orientation of that phase; a point is not indexed only when its confidence "
        "is below the threshold and Hough fails), dictionary (dictionary indexing of the predicted "
        "phase), none (identity); auto (default): file when stored, else hough when every phase has a "
        "band list and the scan records its detector geometry (vendor scan, simulation), else none",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        help="confidence below which the printed fractions count a point as not indexed",
    )
    p.add_argument(
        "--compile",
        choices=COMPILE_MODES,
        default="none",
        help="torch.compile the forward pass: default, reduce-overhead (CUDA graphs on a GPU) or "
        "max-autotune; the first batches compile (seconds to minutes), so it pays on large scans "
        "(default none: eager)",
    )
    p.add_argument("--root", default=None, help="artifacts folder (default $EBSDLIB_ARTIFACTS or ./artifacts)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the prediction and print where it went, the fractions and the accuracy."""
    from ebsdlib.distributed import current, teardown
    from ebsdlib.phasemap import load_phasemap
    from ebsdlib.predict import predict_scan, summarize_phasemap

    if not 0.0 <= args.threshold <= 1.0:
        raise ValueError(f"--threshold {args.threshold!r} must lie in [0, 1]")
    folder = predict_scan(
        args.run,
        args.data,
        batch_size=args.batch_size,
        device=args.device,
        progress=not args.quiet,
        scan_name=args.name,
        root=args.root,
        orientations=args.orientations,
        compile_mode=args.compile,
    )
    is_main = current().is_main
    teardown()
    if not is_main:  # under torchrun rank 0 wrote the map and reports it
        return 0
    phasemap = load_phasemap(folder.parent.parent, folder.name)
    rows, cols = phasemap.scan_shape
    if phasemap.positions:
        print(f"phase map of {rows}×{cols} points written to {folder}")
    else:
        print(f"predictions of {cols} patterns (no scan positions, so no map image) written to {folder}")
    rate = phasemap.meta.get("inference_patterns_per_second")
    if rate:
        print(f"classified at {rate:,.0f} patterns/s ({phasemap.meta['inference_throughput']})")
    print(summarize_phasemap(phasemap, args.threshold))
    return 0
