"""``python -m ebsdlib report RUN_A [RUN_B …] --out report.html``: a meeting report of runs."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` command."""
    p = subparsers.add_parser(
        "report",
        help="write one self-contained HTML report of runs (configs, accuracy, confusion, UMAPs, maps, limit)",
        description="Write one HTML file that opens offline (plotly.js inlined, no network) with each run's "
        "configuration, the accuracy table with 95 percent intervals, the confusion matrices and, from the second "
        "run on, their difference from the first, the UMAPs, each run's first phase map and the "
        "physical-limit panel of <artifacts>/bench/dose.json: the dashboard's own figures.",
    )
    p.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="run ids (see `python -m ebsdlib runs`); the others are compared with the first",
    )
    p.add_argument("--out", required=True, help="the HTML file to write (its folder is made when missing)")
    p.add_argument(
        "--evaluation",
        default=None,
        metavar="NAME",
        help="report the runs' evaluation evaluations/NAME/ (another data set, `evaluate RUN --data FILE`) "
        "instead of their own split",
    )
    p.add_argument(
        "--confusion",
        choices=("row", "counts", "column"),
        default="row",
        help="confusion matrices as row-normalised (recall; default), counts or column-normalised (precision)",
    )
    p.add_argument("--root", default=None, help="artifacts folder (default $EBSDLIB_ARTIFACTS or ./artifacts)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report and print where it went and its size."""
    from ebsdlib.report import write_report

    path = write_report(args.runs, args.out, args.root, evaluation=args.evaluation, confusion=args.confusion)
    print(f"report of {len(args.runs)} run(s) written to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
