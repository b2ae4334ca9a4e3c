"""``python -m ebsdlib simulate``: build the synthetic default data set and scan, master patterns,
or the dynamical masters' convergence study.

- ``ebsdlib simulate [--forward-model {kinematical,dynamical}] …`` — the data set and scan;
- ``ebsdlib simulate masters [--forward-model dynamical] [--device cpu|cuda] [--npx …] …`` —
  build (and cache) master patterns only;
- ``ebsdlib simulate convergence [--emsoft]`` — the dynamical masters' convergence table
  (:mod:`ebsdlib.simulate.convergence`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEFAULT_OUT = "default.h5"
DEFAULT_SCAN_OUT = "default_scan.h5"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` command."""
    from ebsdlib.simulate.config import DEFAULT_DOSE
    from ebsdlib.simulate.master import DEFAULT_FORWARD_MODEL

    p = subparsers.add_parser(
        "simulate",
        help="build the physics-based synthetic data set and scan (Ni, Ni3Al, Ni3Fe)",
        description="Simulate EBSD patterns of Ni, Ni3Al and Ni3Fe (de-ebsd dynamical master patterns or, with "
        "--forward-model kinematical, kikuchipy's kinematical ones) with a realistic "
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
    _add_phase_options(p)
    _add_master_options(p, DEFAULT_FORWARD_MODEL)
    p.set_defaults(func=run)
    modes = p.add_subparsers(dest="mode", metavar="MODE", title="modes (instead of the data set and scan)")
    m = modes.add_parser(
        "masters",
        help="build and cache the master patterns of the phases",
        description="Build the master patterns of the phases and cache them under artifacts/cache/master "
        "(the defaults' dynamical and kinematical masters ship with the package and are only read).",
    )
    _add_phase_options(m)
    m.add_argument(
        "--master-half-size", type=int, default=250, help="kinematical masters are 2·N+1 pixels a side (default 250)"
    )
    m.add_argument("--cache-dir", default=None, help="cache folder (default artifacts/cache/master)")
    m.add_argument("--no-progress", action="store_true", help="hide progress bars")
    _add_master_options(m, DEFAULT_FORWARD_MODEL)
    m.set_defaults(func=run_masters)
    c = modes.add_parser(
        "convergence",
        help="the dynamical masters' convergence study (npx, dmin, Monte Carlo electrons)",
        description="Refine npx, dmin and the Monte Carlo electrons one at a time and print the median "
        "correlation of noise-free default-detector patterns with the next refinement; with --emsoft also "
        "the agreement of dynamical Ni with kikuchipy's EMsoft Ni master per npx. About 5–10 minutes on 2 cores.",
    )
    c.add_argument("--phase", default="Ni", help="phase to study (default Ni)")
    c.add_argument("--orientations", type=int, default=100, help="random orientations compared (default 100)")
    c.add_argument("--pattern-size", type=int, default=64, help="pattern size in pixels (default 64)")
    c.add_argument("--npx-values", type=int, nargs="+", default=None, metavar="N", help="npx values, coarse to fine")
    c.add_argument("--dmin-values", type=float, nargs="+", default=None, metavar="NM", help="dmin values (nm)")
    c.add_argument("--mc-values", type=int, nargs="+", default=None, metavar="N", help="Monte Carlo electron counts")
    c.add_argument(
        "--parameters",
        nargs="+",
        choices=("npx", "dmin", "mc_electrons"),
        default=None,
        metavar="NAME",
        help="refine only these (npx, dmin, mc_electrons; default all three), e.g. one more npx step",
    )
    c.add_argument("--npx", type=int, default=None, help="npx while the others are refined (default: the default)")
    c.add_argument("--dmin", type=float, default=None, help="dmin (nm) while the others are refined")
    c.add_argument("--mc-electrons", type=int, default=None, help="electrons while the others are refined")
    c.add_argument("--emsoft", action="store_true", help="also compare Ni with kikuchipy's EMsoft Ni master")
    c.add_argument("--emsoft-npx", type=int, nargs="+", default=None, metavar="N", help="npx values of that comparison")
    c.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the Bloch-wave solves run")
    c.add_argument("--no-progress", action="store_true", help="hide progress bars")
    c.set_defaults(func=run_convergence)


def _add_phase_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--phases",
        nargs="+",
        default=None,
        metavar="NAME",
        help="phases in label order (default Ni Ni3Al Ni3Fe; others from --phase-file)",
    )
    p.add_argument(
        "--phase-file",
        default=None,
        metavar="FILE.json",
        help="further phases: a JSON list of {name, space_group, lattice_a, color, atoms: [[element, x, y, z], …]} "
        "(atoms: the asymmetric unit); without --phases, the file's phases are simulated",
    )


def _phase_settings(args: argparse.Namespace) -> dict:
    """``phases`` and ``custom_phases`` of the settings from ``--phases`` and ``--phase-file``."""
    from ebsdlib.simulate.config import load_phase_file

    custom = load_phase_file(args.phase_file) if args.phase_file else ()
    out = {"custom_phases": custom} if custom else {}
    if args.phases:
        out["phases"] = tuple(args.phases)
    elif custom:
        out["phases"] = tuple(p.name for p in custom)
    return out


def _add_master_options(p: argparse.ArgumentParser, default_model: str) -> None:
    """The forward model and the dynamical masters' resolution and device."""
    from ebsdlib.simulate.dynamical import DEFAULT_DMIN, DEFAULT_MC_ELECTRONS, DEFAULT_NPX

    p.add_argument(
        "--forward-model",
        choices=("kinematical", "dynamical"),
        default=default_model,
        help=f"master patterns: kinematical (kikuchipy, |F|) or dynamical (de-ebsd); default {default_model}",
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where dynamical masters are built")
    p.add_argument("--npx", type=int, default=DEFAULT_NPX, help=f"dynamical Lambert half-width (default {DEFAULT_NPX})")
    p.add_argument(
        "--dmin", type=float, default=DEFAULT_DMIN, help=f"dynamical smallest d-spacing in nm (default {DEFAULT_DMIN})"
    )
    p.add_argument(
        "--mc-electrons",
        type=int,
        default=DEFAULT_MC_ELECTRONS,
        help=f"dynamical Monte Carlo electrons (default {DEFAULT_MC_ELECTRONS})",
    )


def _master_settings(args: argparse.Namespace) -> dict:
    from ebsdlib.simulate.dynamical import DynamicalSettings

    return dict(
        forward_model=args.forward_model,
        dynamical=DynamicalSettings(npx=args.npx, dmin=args.dmin, mc_electrons=args.mc_electrons),
        master_device=args.device,
        master_half_size=args.master_half_size,
    )


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
        **_master_settings(args),
        **_phase_settings(args),
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


def run_masters(args: argparse.Namespace) -> int:
    """Build (or find) the master patterns and print where each lies."""
    from ebsdlib.simulate.config import AcquisitionSettings
    from ebsdlib.simulate.master import load_masters, locate

    settings = AcquisitionSettings(cache_dir=args.cache_dir, **_master_settings(args), **_phase_settings(args))
    options = settings.master_options()
    phases = settings.resolved_phases()
    where_options = {k: v for k, v in options.items() if k != "device"}
    found = {p.name: locate(p, **where_options) for p in phases}
    start = time.perf_counter()
    load_masters(phases, progress=not args.no_progress, **options)
    print(f"{settings.forward_model} master patterns, {time.perf_counter() - start:.1f} s:")
    for p in phases:
        where = locate(p, **where_options)
        how = "built" if found[p.name] is None else "shipped" if where.parent.name == "masters" else "cached"
        size_kb = where.stat().st_size / 1e3
        print(f"  {p.name:8s} {how:7s} {where} ({size_kb:.0f} kB)")
    return 0


def run_convergence(args: argparse.Namespace) -> int:
    """Print the convergence table (and the EMsoft agreement with --emsoft)."""
    from ebsdlib.phases import DEFAULT_PHASES
    from ebsdlib.simulate.convergence import DEFAULT_SWEEPS, convergence_study, emsoft_agreement, format_rows
    from ebsdlib.simulate.dynamical import DynamicalSettings

    phases = {p.name: p for p in DEFAULT_PHASES}
    if args.phase not in phases:
        raise ValueError(f"unknown phase {args.phase!r}; the simulator knows {sorted(phases)}")
    sweeps = dict(DEFAULT_SWEEPS)
    for key, values in (("npx", args.npx_values), ("dmin", args.dmin_values), ("mc_electrons", args.mc_values)):
        if values:
            sweeps[key] = tuple(values)
    if args.parameters:
        sweeps = {k: v for k, v in sweeps.items() if k in args.parameters}
    base = {k: v for k, v in (("npx", args.npx), ("dmin", args.dmin), ("mc_electrons", args.mc_electrons)) if v}
    progress = not args.no_progress
    common = dict(n_orientations=args.orientations, pattern_size=args.pattern_size, device=args.device)
    common["base"] = DynamicalSettings(**base)
    rows = convergence_study(phases[args.phase], sweeps=sweeps, progress=progress, **common)
    print(f"convergence of dynamical {args.phase}: median correlation with the next refinement")
    print(format_rows(rows))
    if args.emsoft:
        npx = tuple(args.emsoft_npx) if args.emsoft_npx else (60, 100, 140, 200)
        print("\nagreement with kikuchipy's EMsoft Ni master")
        print(format_rows(emsoft_agreement(npx, progress=progress, **common)))
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
