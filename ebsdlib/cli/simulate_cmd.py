"""``python -m ebsdlib simulate``: build the synthetic default data set and scan."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEFAULT_OUT = "default.h5"
DEFAULT_SCAN_OUT = "default_scan.h5"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` command."""
    from ebsdlib.simulate.config import DEFAULT_DOSE

    p = subparsers.add_parser(
        "simulate",
        help="build the physics-based synthetic data set and scan (Ni, Ni3Al, Ni3Fe)",
        description="Simulate kinematical EBSD patterns of Ni, Ni3Al and Ni3Fe with a realistic "
        "detector model: a labelled data set for training and a Voronoi-grain scan "
        "for phase maps. With no options both defaults are built.",
    )
    p.add_argument("--out", default=None, help=f"labelled data set file (default artifacts/datasets/{DEFAULT_OUT})")
    p.add_argument("--scan-out", default=None, help=f"scan file (default artifacts/datasets/{DEFAULT_SCAN_OUT})")
    p.add_argument("--what", choices=("dataset", "scan", "both"), default="both", help="what to build (default both)")
    p.add_argument(
        "--dose",
        type=float,
        default=DEFAULT_DOSE,
        help=f"mean detected electrons per pixel; lower is noisier (default {DEFAULT_DOSE:g})",
    )
    p.add_argument(
        "--n-per-phase",
        type=int,
        nargs="+",
        metavar="N",
        help="patterns per phase in the data set: one number, or one per phase (default 2000)",
    )
    p.add_argument("--pattern-size", type=int, default=64, help="pattern size in pixels (default 64)")
    p.add_argument(
        "--scan-shape",
        type=int,
        nargs=2,
        metavar=("R", "C"),
        default=None,
        help="scan rows and columns (default 100 100)",
    )
    p.add_argument("--grains", type=int, default=None, help="number of grains in the scan (default 40)")
    p.add_argument("--bit-depth", type=int, choices=(8, 16), default=8, help="camera bit depth (default 8)")
    p.add_argument(
        "--master-half-size",
        type=int,
        default=250,
        help="master patterns are 2·N+1 pixels a side; smaller builds faster (default 250)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of everything random (default 0)")
    p.add_argument(
        "--calibrate",
        type=float,
        nargs="+",
        metavar="DOSE",
        help="instead of building files, print the calibration table for these doses",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build what ``--what`` asks for and print a summary of each file."""
    from ebsdlib.simulate import ScanConfig, SimulationConfig, simulate_dataset, simulate_scan
    from ebsdlib.simulate.detector import DetectorModel

    progress = not args.no_progress
    detector = DetectorModel(bit_depth=args.bit_depth)
    common = dict(
        dose=args.dose,
        pattern_size=args.pattern_size,
        seed=args.seed,
        detector=detector,
        master_half_size=args.master_half_size,
    )
    dataset_extra, scan_extra = {}, {}
    if args.n_per_phase:
        n = args.n_per_phase
        dataset_extra["n_per_phase"] = n[0] if len(n) == 1 else tuple(n)
    if args.scan_shape:
        scan_extra["shape"] = tuple(args.scan_shape)
    if args.grains:
        scan_extra["n_grains"] = args.grains
    dataset_config = SimulationConfig(**common, **dataset_extra)
    scan_config = ScanConfig(**common, **scan_extra)
    if args.calibrate:
        from ebsdlib.simulate.calibrate import calibrate, format_table

        print(format_table(calibrate(args.calibrate, base=dataset_config, progress=progress)))
        return 0
    from ebsdlib.paths import datasets_root

    out = args.out or datasets_root() / DEFAULT_OUT
    scan_out = args.scan_out or datasets_root() / DEFAULT_SCAN_OUT
    if args.what in ("dataset", "both"):
        start = time.perf_counter()
        path = simulate_dataset(dataset_config, out, progress=progress)
        _print_summary(path, time.perf_counter() - start)
    if args.what in ("scan", "both"):
        start = time.perf_counter()
        path = simulate_scan(scan_config, scan_out, progress=progress)
        _print_summary(path, time.perf_counter() - start)
    return 0


def _print_summary(path: Path, seconds: float) -> None:
    from ebsdlib.data.format import EBSDDataset

    with EBSDDataset(path) as ds:
        s = ds.summary()
    size_mb = Path(path).stat().st_size / 1e6
    print(
        f"\n{path}: {s['n_patterns']} patterns of {s['pattern_shape'][0]}×{s['pattern_shape'][1]} "
        f"{s['dtype']}, {size_mb:.1f} MB, built in {seconds:.1f} s"
    )
    if s["scan_shape"]:
        print(f"  scan {s['scan_shape'][0]}×{s['scan_shape'][1]}, step {s['step_size']} µm")
    print(f"  split: {s['split_rule']}")
    header = "  " + "phase".ljust(8) + "".join(k.rjust(8) for k in ("total", "train", "val", "test"))
    print(header)
    for name, row in s["counts"].items():
        if row["total"]:
            print(
                "  " + name.ljust(8) + "".join(str(row.get(k, "")).rjust(8) for k in ("total", "train", "val", "test"))
            )
    cfg = s["provenance"].get("config", {})
    print(f"  dose {cfg.get('dose')} e⁻/px, seed {s['seed']}, preprocessing {s['preprocessing']}")
