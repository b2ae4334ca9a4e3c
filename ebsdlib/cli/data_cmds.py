"""``python -m ebsdlib import`` and ``python -m ebsdlib info``: bring data in, and describe it.

Image folders and manifests are planned first (:func:`ebsdlib.data.import_plan.plan_image_import`):
the command prints the phase-name mapping and the counts per phase and split, then converts, or,
with ``--dry-run``, stops there and writes nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ebsdlib.data.import_plan import ImportPlan


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``import`` and ``info`` commands."""
    p = subparsers.add_parser(
        "import",
        help="convert an image folder, manifest or vendor scan into the project's HDF5 format",
        description="Convert SRC (a folder of labelled images, a CSV manifest, a vendor scan file "
        "kikuchipy reads, or an ebsdlib .h5 to copy and check) into an ebsdlib data set. Image labels "
        "come from one sub-folder per phase (default), the file-name prefix (--label-from name: "
        "'originalsize_FeNi3_Site 1_0001.png' is FeNi3), a regex (--label-regex) or a manifest "
        "(--manifest). Split folders train/, val/ (or validation/) and test/ keep their split. Names "
        "map to phases by name in any case or by chemical formula (FeNi3 is Ni3Fe); the mapping and "
        "the counts per phase and split are printed before anything is written.",
        epilog="example (Kaufmann et al. 2020, all phases in one folder): ebsdlib import "
        "/data/Kaufmann2020 --label-from name --max-per-phase 1050 --out artifacts/datasets/kaufmann.h5",
    )
    p.add_argument("src", metavar="SRC", help="image folder, CSV manifest, vendor scan file or ebsdlib .h5")
    p.add_argument("--out", metavar="FILE", help="target .h5 (default: artifacts/datasets/<SRC name>.h5)")
    p.add_argument(
        "--size",
        type=int,
        metavar="N",
        help="image folders: resize to N rows (width keeps the aspect ratio); default the most common image size",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the train/val/test split and of --max-per-phase (default 0)"
    )
    p.add_argument(
        "--split",
        type=float,
        nargs=3,
        metavar=("TRAIN", "VAL", "TEST"),
        help="split fractions (image folders default 0.7 0.15 0.15, refused when split folders or a "
        "manifest's split column give the split; vendor scans are split by 10×10 scan blocks only when "
        "this is given)",
    )
    p.add_argument(
        "--phases",
        nargs="+",
        metavar="NAME",
        help="expected phase names, in label order (e.g. Ni Ni3Al Ni3Fe); image names that match none "
        "(by name or formula) are refused. Without it, unknown names become new phases",
    )
    p.add_argument(
        "--label-from",
        choices=("folder", "name"),
        help="image folders: label from the phase sub-folder (default) or the file-name prefix up to the "
        "first '_' or space, after a prefix such as 'originalsize_'",
    )
    p.add_argument(
        "--label-regex",
        metavar="REGEX",
        help="image folders: label from this regex's one group, or its group named 'phase', searched in "
        r"each file name, e.g. '^(?:originalsize_)?([A-Za-z0-9]+)_'; every file must match",
    )
    p.add_argument(
        "--manifest",
        metavar="FILE.csv",
        help="labels from a CSV with columns file,phase and optionally split (train/val/test); paths "
        "relative to the manifest's folder (SRC may be the manifest itself)",
    )
    p.add_argument(
        "--max-per-phase",
        type=int,
        metavar="N",
        help="image folders: keep at most N images per phase (per phase and split when the splits come "
        "from split folders or the manifest), drawn with --seed",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="image folders: print the phase mapping and counts per phase and split, write nothing",
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
    """Convert ``args.src`` and print its summary (image folders: the plan first)."""
    from ebsdlib.data.readers import load
    from ebsdlib.paths import datasets_root

    src = Path(args.src)
    out = Path(args.out) if args.out else datasets_root() / f"{src.stem or src.name}.h5"
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise ValueError(f"--out {str(out)!r} must end in .h5 or .hdf5")
    if src.is_dir() or args.manifest or (src.is_file() and src.suffix.lower() == ".csv"):
        return _import_images(args, src, out)
    image_only = {
        "--label-from": args.label_from,
        "--label-regex": args.label_regex,
        "--max-per-phase": args.max_per_phase,
        "--dry-run": args.dry_run or None,
    }
    given = [flag for flag, value in image_only.items() if value is not None]
    if given and src.exists():
        raise ValueError(
            f"{src}: {', '.join(given)} apply to image folders and manifests only, not to a file; "
            "leave them out or give the image folder"
        )
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


def _import_images(args: argparse.Namespace, src: Path, out: Path) -> int:
    from ebsdlib.data.format import EBSDDataset
    from ebsdlib.data.image_folder import convert_plan
    from ebsdlib.data.import_plan import plan_image_import
    from ebsdlib.data.readers import resolve_phases

    plan = plan_image_import(
        src,
        label_from=args.label_from,
        label_regex=args.label_regex,
        manifest=args.manifest,
        phases=resolve_phases(args.phases),
        seed=args.seed,
        fractions=tuple(args.split) if args.split else None,
        max_per_phase=args.max_per_phase,
    )
    print(format_plan(plan))
    if args.dry_run:
        print(f"\ndry run: nothing written (without --dry-run: {out})")
        return 0
    print()
    convert_plan(plan, out, size=args.size, progress=True)
    with EBSDDataset(out) as dataset:
        print(format_summary(dataset.summary()))
    print(f"\nwrote {out}")
    return 0


def format_plan(plan: ImportPlan) -> str:
    """Plain-text rendering of an :class:`~ebsdlib.data.import_plan.ImportPlan`: mapping, then counts."""
    lines = [f"source         {plan.source}", f"labels from    {plan.label_source}"]
    for i, (found, phase, how) in enumerate(plan.mapping):
        lines.append(f"{'phase names' if i == 0 else '':<15}{found} → {phase} ({how})")
    new = [phase for _, phase, how in plan.mapping if how == "new phase"]
    if new:
        lines.append(
            f"new phases     {', '.join(dict.fromkeys(new))}: no default phase has this name or formula; "
            "give --phases to refuse unexpected names"
        )
    lines.append(f"split rule     {plan.split_rule}")
    before = {}
    for found, phase, _ in plan.mapping:
        before[phase] = before.get(phase, 0) + plan.found[found]
    capped = plan.max_per_phase is not None
    splits = ("train", "val", "test")
    lines += [
        "counts",
        f"  {'phase':<12}" + (f"{'found':>8}" if capped else "") + f"{'total':>8}" + "".join(f"{k:>8}" for k in splits),
    ]
    for name, row in plan.counts().items():
        cell = f"{before.get(name, 0):>8}" if capped else ""
        lines.append(f"  {name:<12}{cell}{row['total']:>8}" + "".join(f"{row[k]:>8}" for k in splits))
    totals = [int((plan.split == code).sum()) for code in (0, 1, 2)]
    cell = f"{sum(plan.found.values()):>8}" if capped else ""
    lines.append(f"  {'all':<12}{cell}{len(plan.files):>8}" + "".join(f"{n:>8}" for n in totals))
    return "\n".join(lines)


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
