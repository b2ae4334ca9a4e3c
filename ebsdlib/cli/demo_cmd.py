"""``python -m ebsdlib demo``: build the demo the dashboard shows on a fresh clone."""

from __future__ import annotations

import argparse
import time

from ebsdlib.demo import DEMO_METHODS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` command."""
    p = subparsers.add_parser(
        "demo",
        help="build the demo: simulated data, three networks, two indexing baselines, phase maps",
        description="Build the demo from nothing, deterministically: the default simulated data set "
        "and scan, a cross-entropy, a supervised-contrastive and a contrastive (batch-hard mining) "
        "lcnet_050 run stream-trained on fresh simulated patterns, their evaluation, embeddings, UMAP "
        "and the phase map of the scan, "
        "and the dictionary- and Hough-indexing baselines on the same patterns. With --only, add "
        "the named runs to the demo and keep the others; with --data-only, rebuild just the data "
        "sets that the committed demo runs need.",
    )
    p.add_argument(
        "--data-only", action="store_true", help="only rebuild missing demo data sets (checked against demo.json)"
    )
    p.add_argument("--force", action="store_true", help="rebuild everything, replacing the demo runs")
    p.add_argument(
        "--method",
        "--loss",
        choices=DEMO_METHODS,
        action="append",
        dest="methods",
        help="rebuild only the run of this method (repeatable; default all; --loss is the old name)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        choices=DEMO_METHODS,
        metavar="METHOD",
        help="build only these runs (of %(choices)s) on the demo's data, checked against demo.json, and "
        "keep the others as they are; e.g. --only contrastive hough",
    )
    p.add_argument("--tiny", action="store_true", help="a seconds-long miniature (tests, smoke checks)")
    p.add_argument("--artifacts", default=None, help="artifacts folder (default ./artifacts)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the data or the whole demo and print what was made."""
    from ebsdlib.demo import DemoConfig, build_demo, ensure_data

    start = time.perf_counter()
    progress = not args.no_progress
    if args.data_only:
        built = ensure_data(args.artifacts, progress=progress)
        print("demo data sets rebuilt" if built else "demo data sets present (or no demo.json): nothing to do")
        return 0
    config = DemoConfig.tiny() if args.tiny else DemoConfig()
    for run_dir in build_demo(
        config,
        args.artifacts,
        force=args.force,
        progress=progress,
        methods=tuple(dict.fromkeys([*(args.methods or ()), *(args.only or ())])) or DEMO_METHODS,
    ):
        m = run_dir.metrics() or {}
        print(
            f"{run_dir.run_id}: accuracy {m.get('accuracy', float('nan')):.3f}, "
            f"Ni<->Ni3Fe confusion {m.get('ni_ni3fe_confusion', float('nan')):.3f}"
            + (f", Precision@1 {m['precision_at_1']:.3f}" if m.get("precision_at_1") is not None else "")
        )
    print(f"demo built in {time.perf_counter() - start:.0f} s")
    return 0
