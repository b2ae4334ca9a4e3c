"""``python -m ebsdlib index`` and ``python -m ebsdlib bench dose|speed|dictionary``.

``index`` (also ``bench dictionary``) runs the conventional baseline — dictionary indexing —
on a data set's test split and stores it as a run (optionally mapping scans); ``index --run
RUN --scan FILE`` maps more scans with an existing one. ``bench dose`` and ``bench speed``
write ``artifacts/bench/dose.json`` (+ ``dose.csv``) and ``speed.json``.
"""

from __future__ import annotations

import argparse

from ebsdlib.methods import method_keys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``index`` and ``bench`` commands."""
    p = subparsers.add_parser(
        "index",
        help="dictionary indexing (the conventional baseline), stored as a run",
        description="Index a labelled data set's split by dictionary indexing (normalised cross-correlation "
        "against simulated patterns of every phase) and store it like a training run; "
        "or, with --run, map scans with an existing dictionary-indexing run.",
    )
    _index_arguments(p)
    p.set_defaults(func=run_index)

    bench = subparsers.add_parser(
        "bench",
        help="benchmarks: accuracy against dose, throughput, dictionary indexing",
        description="Benchmarks whose results the dashboard's Benchmarks page shows.",
    )
    sub = bench.add_subparsers(dest="bench_command", metavar="BENCH")
    d = sub.add_parser(
        "dose",
        help="accuracy of CE, SupCon and dictionary indexing against dose",
        description="Simulate small data sets over a range of doses, train/evaluate every method at "
        "each, run the ideal matcher and take the physical limit apart (chemical order, lattice "
        "parameter, pattern-centre uncertainty), and write artifacts/bench/dose.json and dose.csv.",
    )
    d.add_argument(
        "--doses",
        type=float,
        nargs="+",
        metavar="DOSE",
        help="electrons per pixel (default: the simulator's default dose times 1/16, 1/4, 1, 4 and 16)",
    )
    d.add_argument(
        "--methods",
        nargs="+",
        choices=method_keys(),
        help="methods (default all)",
    )
    d.add_argument("--n-per-phase", type=int, help="patterns per phase and dose (default 800)")
    d.add_argument("--pattern-size", type=int, help="pattern size in pixels (default 64)")
    d.add_argument("--model", help="timm model of the networks (default lcnet_050; efficientnet_b0 on a GPU)")
    d.add_argument("--epochs", type=int, help="training epochs (default 15)")
    d.add_argument("--batch-size", type=int, help="training batch size (default 32)")
    d.add_argument("--lr", type=float, help="learning rate (default 3e-3)")
    d.add_argument("--resolution", type=float, help="dictionary orientation sampling in degrees (default 5)")
    d.add_argument(
        "--no-oracle",
        dest="oracle",
        action="store_false",
        default=None,
        help="skip the known-orientation oracle reference",
    )
    d.add_argument(
        "--no-limit",
        dest="limit",
        action="store_false",
        default=None,
        help="skip the physical limit taken apart (chemical order, lattice parameter, PC uncertainty)",
    )
    d.add_argument(
        "--limit-patterns", type=int, help="orientations per candidate of the physical-limit curves (default 200)"
    )
    d.add_argument(
        "--limit-pc-sigmas",
        type=float,
        nargs="+",
        metavar="SIGMA",
        help="pattern-centre uncertainties of the physical-limit curves (default 0 0.005 0.01)",
    )
    d.add_argument(
        "--forward-model",
        choices=("dynamical", "kinematical"),
        help="master patterns of the simulation and the dictionary (default dynamical)",
    )
    _common_bench(d)
    d.set_defaults(func=run_dose)

    s = sub.add_parser(
        "speed",
        help="throughput: model alone, end-to-end, naive script, dictionary indexing",
        description="Measure patterns per second on the current device and write "
        "artifacts/bench/speed.json with the ratios end-to-end ÷ model alone (goals "
        "0.9 inference, 0.85 training) and end-to-end ÷ naive.",
    )
    s.add_argument("--model", help="timm model (default efficientnet_b0)")
    s.add_argument("--scan-shape", type=int, nargs=2, metavar=("R", "C"), help="scan to map (default 64 64)")
    s.add_argument("--train-per-phase", type=int, help="training patterns per phase (default 256)")
    s.add_argument("--epochs", type=int, help="training epochs per measurement (default 1)")
    s.add_argument("--batch-size", type=int, help="training batch size (default 64)")
    s.add_argument("--inference-batch-size", type=int, help="inference batch size (default 512)")
    s.add_argument("--repeats", type=int, help="timed rounds after the warm-up (default 3)")
    s.add_argument("--no-naive", dest="naive", action="store_false", default=None, help="skip the naive script")
    s.add_argument(
        "--no-dictionary", dest="dictionary", action="store_false", default=None, help="skip dictionary indexing"
    )
    s.add_argument("--resolution", type=float, help="dictionary orientation sampling in degrees (default 5)")
    s.add_argument("--precision", choices=("auto", "bf16", "fp16"), help="mixed precision measured on CUDA")
    s.add_argument(
        "--profile",
        action="store_true",
        default=None,
        help="profile the end-to-end stages (cProfile) and print the top functions",
    )
    _common_bench(s)
    s.set_defaults(func=run_speed)

    di = sub.add_parser(
        "dictionary",
        help="the same as `python -m ebsdlib index`",
        description="Dictionary indexing stored as a run (see `python -m ebsdlib index`).",
    )
    _index_arguments(di)
    di.set_defaults(func=run_index)
    bench.set_defaults(func=lambda args: (bench.print_help(), 2)[1])


def _common_bench(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="device (default auto)")
    p.add_argument("--seed", type=int, help="seed (default 0)")
    p.add_argument("--out", default=None, help="result folder (default artifacts/bench)")
    p.add_argument(
        "--work-dir",
        default=None,
        help="folder for the simulated data and runs (default a temporary folder under artifacts/scratch)",
    )
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--quick", action="store_true", help="a tiny run for tests (seconds); options still apply")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _index_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="labelled data set (project HDF5) whose split is indexed")
    p.add_argument("--run", dest="run_ref", help="an existing dictionary-indexing run: map --scan files with it")
    p.add_argument("--scan", nargs="+", default=[], metavar="FILE", help="scans to map into phasemaps/")
    p.add_argument("--split", choices=("test", "val"), default="test", help="split reported (default test)")
    p.add_argument("--resolution", type=float, default=5.0, help="orientation sampling in degrees (default 5)")
    p.add_argument("--refine", action="store_true", help="refine each phase's best match (kikuchipy; slower)")
    p.add_argument("--trust-region", type=float, default=2.0, help="refinement half-width in degrees (default 2)")
    p.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="softmax temperature of the probabilities (default: fitted on training patterns)",
    )
    p.add_argument(
        "--calibration-patterns",
        type=int,
        default=300,
        help="training patterns used to fit the temperature (default 300)",
    )
    p.add_argument("--batch-size", type=int, default=256, help="patterns matched at once (default 256)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="device (default auto)")
    p.add_argument(
        "--pc",
        type=float,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="pattern centre (Bruker); default from the data set's simulation record",
    )
    p.add_argument("--sample-tilt", type=float, help="sample tilt in degrees (default from the data set, or 70)")
    p.add_argument("--camera-tilt", type=float, help="detector tilt in degrees (default from the data set, or 0)")
    p.add_argument("--voltage", type=float, help="accelerating voltage in kV (default from the data set, or 20)")
    p.add_argument("--master-half-size", type=int, help="master-pattern half size (default from the data set)")
    p.add_argument(
        "--min-dspacing", type=float, help="smallest d-spacing of the reflectors in Å (default from the data set)"
    )
    p.add_argument(
        "--forward-model",
        choices=("dynamical", "kinematical"),
        default=None,
        help="master patterns of the dictionary (default the data set's own; dynamical for real scans)",
    )
    p.add_argument("--no-cache", action="store_true", help="do not read or write the dictionary cache")
    p.add_argument("--name", default="", help="free-text name of the run")
    p.add_argument("--run-id", default=None, help="folder name of the new run (default from the time)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _given(args: argparse.Namespace, names: list[str]) -> dict:
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def run_index(args: argparse.Namespace) -> int:
    """Index a data set (and map scans), or map scans with an existing run; print the figures."""
    from ebsdlib.baseline import DictionaryConfig
    from ebsdlib.baseline.run import index_run, index_scan

    progress = not args.no_progress
    if args.run_ref:
        if args.data:
            raise ValueError("give either --data (a new run) or --run (map scans with an existing run), not both")
        if not args.scan:
            raise ValueError(f"--run {args.run_ref} needs --scan FILE: the scans to map with it")
        for scan in args.scan:
            folder = index_scan(args.run_ref, scan, progress=progress)
            print(f"phase map written to {folder}")
        return 0
    if not args.data:
        raise ValueError("--data FILE is required: the labelled data set to index (or --run RUN --scan FILE)")
    config = DictionaryConfig(
        resolution=args.resolution,
        refine=args.refine,
        refine_trust_region=args.trust_region,
        temperature=args.temperature,
        calibration_patterns=args.calibration_patterns,
        batch_size=args.batch_size,
        device=args.device,
        pc=tuple(args.pc) if args.pc else None,
        sample_tilt=args.sample_tilt,
        camera_tilt=args.camera_tilt,
        voltage=args.voltage,
        master_half_size=args.master_half_size,
        min_dspacing=args.min_dspacing,
        forward_model=args.forward_model,
        cache=not args.no_cache,
    )
    run = index_run(
        args.data, config, split=args.split, scans=args.scan, name=args.name, run_id=args.run_id, progress=progress
    )
    print(describe_run(run))
    return 0


def describe_run(run) -> str:
    """A few lines about a finished dictionary-indexing run."""
    m = run.metrics() or {}
    low, high = m.get("accuracy_ci95") or (float("nan"), float("nan"))
    d = m.get("dictionary") or {}
    conf = m.get("ni_ni3fe_confusion")
    acc = m.get("accuracy", float("nan"))
    built = "from the cache" if d.get("from_cache") else f"built in {d.get('build_seconds', 0.0):.1f} s"
    lines = [
        f"run {run.run_id}: {m.get('model')} on split {m.get('split')!r} ({m.get('n')} patterns)",
        f"  accuracy {acc:.4f} (95% CI {low:.3f}–{high:.3f})"
        + (f", Ni↔Ni3Fe confusion {conf:.3f}" if conf is not None else ""),
        f"  {m.get('inference_patterns_per_second', float('nan')):.1f} patterns/s; dictionary of "
        f"{d.get('size')} patterns ({built})",
        f"  softmax temperature {m.get('temperature', float('nan')):.4g} ({m.get('temperature_source')})",
    ]
    err = m.get("orientation_error_deg")
    if err:
        lines.append(
            f"  orientation error of the true phase's match: median {err['median']:.2f}°, 90% below {err['p90']:.2f}°"
        )
    scans = run.phasemap_scans()
    if scans:
        lines.append(f"  phase maps: {', '.join(scans)}")
    lines.append(f"  {run.path}")
    return "\n".join(lines)


def run_dose(args: argparse.Namespace) -> int:
    """``bench dose``: run, write the JSON/CSV, print the table."""
    from ebsdlib.bench.dose import DoseBenchConfig, run_dose_bench, summary_table

    given = _given(
        args,
        [
            "doses",
            "methods",
            "n_per_phase",
            "pattern_size",
            "model",
            "epochs",
            "batch_size",
            "lr",
            "resolution",
            "oracle",
            "limit",
            "limit_patterns",
            "limit_pc_sigmas",
            "forward_model",
            "device",
            "seed",
        ],
    )
    config = DoseBenchConfig.quick(**given) if args.quick else DoseBenchConfig(**given)
    doc = run_dose_bench(config, args.out, work_dir=args.work_dir, keep=args.keep, progress=not args.no_progress)
    print(summary_table(doc))
    print(f"\n{doc['seconds']:.0f} s on {doc['environment']['device']}; written to {_out(args)}/dose.json and dose.csv")
    return 0


def run_speed(args: argparse.Namespace) -> int:
    """``bench speed``: run, write the JSON, print the table and the ratios."""
    from ebsdlib.bench.speed import SpeedBenchConfig, run_speed_bench, summary_table

    given = _given(
        args,
        [
            "model",
            "scan_shape",
            "train_per_phase",
            "epochs",
            "batch_size",
            "inference_batch_size",
            "repeats",
            "naive",
            "dictionary",
            "resolution",
            "precision",
            "profile",
            "device",
            "seed",
        ],
    )
    config = SpeedBenchConfig.quick(**given) if args.quick else SpeedBenchConfig(**given)
    doc = run_speed_bench(config, args.out, work_dir=args.work_dir, keep=args.keep, progress=not args.no_progress)
    print(summary_table(doc))
    for key, text in doc.get("profiles", {}).items():
        print(f"\nprofile of {key}:\n{text}")
    print(
        f"\n{doc['seconds']:.0f} s on {doc['environment']['device']} "
        f"(load average {doc['environment']['load_average']}); written to {_out(args)}/speed.json"
    )
    return 0


def _out(args: argparse.Namespace) -> str:
    from ebsdlib.bench.report import bench_root

    return str(args.out or bench_root())
