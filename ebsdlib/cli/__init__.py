"""``python -m ebsdlib <command>``: one thin module per command, each calling the library.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a ``run(args) -> int`` function.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Command modules under ``ebsdlib.cli``, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "data_cmds",  # import, info
    "simulate_cmd",  # simulate
    "train_cmds",  # train, resume, evaluate, runs
    "predict_cmd",  # predict
    "demo_cmd",  # demo
    "bench_cmd",  # bench
    "report_cmd",  # report
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available command registered."""
    parser = argparse.ArgumentParser(
        prog="ebsdlib",
        description="Phase mapping in EBSD with deep learning.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"ebsdlib.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"ebsdlib.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; errors print one clear line and exit 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
