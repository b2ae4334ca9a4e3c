"""``python -m ebsdlib import`` and ``python -m ebsdlib info``: bring data in, and describe it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``import`` and ``info`` commands."""
    p = subparsers.add_parser(
        "import",
        help="convert an image folder or vendor scan into the project's HDF5 format",
        description="Convert SRC (a folder with one sub-folder of images per phase, a vendor "
        "scan file kikuchipy reads, or an ebsdlib .h5 to copy and check) into an "
        "ebsdlib data set.",
    )
    p.add_argument("src", metavar="SRC", help="image folder, vendor scan file or ebsdlib .h5")
    p.add_argument("--out", metavar="FILE", help="target .h5 (default: artifacts/datasets/<SRC name>.h5)")
    p.add_argument(
        "--size",
        type=int,
        metavar="N",
        help="image folders: resize to N rows (width keeps the aspect ratio); default the most common image size",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the train/val/test split (default 0)")
    p.add_argument(
        "--split",
        type=float,
        nargs=3,
        metavar=("TRAIN", "VAL", "TEST"),
        help="split fractions (image folders default 0.7 0.15 0.15; vendor scans are "
        "split by 10×10 scan blocks only when this is given)",
    )
    p.add_argument(
        "--phases", nargs="+", metavar="NAME", help="expected phase names, in label order (e.g. Ni Ni3Al Ni3Fe)"
    )
    p.set_defaults(func=run_import)

    q = subparsers.add_parser("info", help="summarise a data set: counts, sizes, preprocessing, provenance")
    q.add_argument("file", metavar="FILE", help="ebsdlib .h5 (or any input `import` accepts)")
    q.add_argument("--json", action="store_true", help="print the summary as JSON")
    q.add_argument(
        "--verify", action="store_true", help="also read every pattern and check for NaN/inf and blank labelled frames"
    )
    q.set_defaults(func=run_info)


def run_import(args: argparse.Namespace) -> int:
    """Convert ``args.src`` and print its summary."""
    from ebsdlib.data.readers import load
    from ebsdlib.paths import datasets_root

    src = Path(args.src)
    out = Path(args.out) if args.out else datasets_root() / f"{src.stem or src.name}.h5"
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise ValueError(f"--out {str(out)!r} must end in .h5 or .hdf5")
    with load(
        src,
        out=out,
        size=args.size,
        phases=args.phases,
        seed=args.seed,
        fractions=tuple(args.split) if args.split else None,
        progress=True,
    ) as dataset:
        print(format_summary(dataset.summary()))
    print(f"\nwrote {out}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    """Print the summary of ``args.file``."""
    from ebsdlib.data.readers import load

    with load(args.file, verify=args.verify, progress=args.verify) as dataset:
        summary = dataset.summary()
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def format_summary(s: dict) -> str:
    """Plain-text rendering of :meth:`ebsdlib.data.format.EBSDDataset.summary`."""
    lines = [
        f"file           {s['path']}",
        f"patterns       {s['n_patterns']} of {s['pattern_shape'][0]}×{s['pattern_shape'][1]} {s['dtype']}",
        f"phases         {', '.join(p['name'] for p in s['phases'])}",
    ]
    if s["scan_shape"]:
        step = f", step {s['step_size']:g} µm" if s["step_size"] else ", step unknown"
        lines.append(f"scan           {s['scan_shape'][0]} rows × {s['scan_shape'][1]} cols{step}")
    lines.append(f"split rule     {s['split_rule']}")
    lines.append(f"fields         {', '.join(s['fields']) or '(none)'}")
    splits = ["train", "val", "test"]
    has_split = any(k in row for row in s["counts"].values() for k in splits)
    header = f"  {'phase':<12}{'total':>8}" + "".join(f"{k:>8}" for k in splits if has_split)
    lines += ["counts", header]
    for name, row in s["counts"].items():
        if name == "unknown" and row["total"] == 0:
            continue
        lines.append(f"  {name:<12}{row['total']:>8}" + "".join(f"{row.get(k, 0):>8}" for k in splits if has_split))
    pre = s["preprocessing"]
    lines.append("preprocessing  " + (", ".join(f"{k}={v}" for k, v in pre.items()) if pre else "(none recorded)"))
    lines.append("provenance     " + json.dumps(s["provenance"], ensure_ascii=False, default=str))
    lines.append(
        f"created        {s['created']} by ebsdlib {s['ebsdlib_version']} "
        f"(format {s['format_version']}, seed {s['seed']})"
    )
    return "\n".join(lines)
