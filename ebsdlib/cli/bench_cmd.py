"""``python -m ebsdlib index`` and ``python -m ebsdlib bench dose|speed|robustness|scaling|trend|dictionary``.

``index`` (also ``bench dictionary``) runs a conventional baseline — dictionary indexing, or with
``--method hough`` Hough/Radon indexing (PyEBSDIndex) — on a data set's test split and stores it
as a run (optionally mapping scans); ``index --run RUN --scan FILE`` maps more scans with an
existing one. ``bench dose``, ``bench speed``, ``bench robustness`` and ``bench scaling`` write
``artifacts/bench/dose.json`` (+ ``dose.csv``), ``speed.json``, ``robustness.json`` and
``scaling.json`` (+ ``.csv``); ``bench trend`` reads the stored scaling runs and prints how far their
pair accuracy would have to go, and at how many patterns it would get there.
"""

from __future__ import annotations

import argparse
import sys

from ebsdlib.bench.dose import CE_INITS
from ebsdlib.bench.robustness import TESTS, TRAININGS
from ebsdlib.methods import CONTRASTIVE_INITS, method_keys
from ebsdlib.train.device import COMPILE_MODES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``index`` and ``bench`` commands."""
    p = subparsers.add_parser(
        "index",
        help="conventional indexing (dictionary, or Hough with --method hough), stored as a run",
        description="Index a labelled data set's split by dictionary indexing (normalised cross-correlation "
        "against simulated patterns of every phase) or, with --method hough, by Hough/Radon indexing "
        "(PyEBSDIndex: band geometry only) and store it like a training run; "
        "or, with --run, map scans with an existing indexing run.",
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
        help="accuracy of CE, SupCon, dictionary and Hough indexing against dose",
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
        "--no-limit-fit",
        dest="limit_fit_pc",
        action="store_false",
        default=None,
        help="skip the physical-limit curves whose pattern centre and orientation are fitted to each pattern",
    )
    d.add_argument("--limit-fit-steps", type=int, help="Adam steps of that fit (default 150)")
    d.add_argument(
        "--forward-model",
        choices=("dynamical", "kinematical"),
        help="master patterns of the simulation and the dictionary (default dynamical)",
    )
    d.add_argument(
        "--stream",
        action="store_true",
        default=None,
        help="stream-train the networks on fresh patterns of each dose (calibrated on the stored validation split)",
    )
    d.add_argument(
        "--stream-patterns",
        type=int,
        nargs="+",
        metavar="N",
        help="fresh patterns per epoch with --stream: one number for every dose, or one per dose in the order of "
        "--doses (default: train+val)",
    )
    d.add_argument(
        "--ce-init",
        choices=CE_INITS,
        help="where each dose's cross-entropy network starts: 'scratch' from random weights, 'higher_dose' from "
        "the network of the next-higher dose (the doses then run from high to low; default scratch)",
    )
    d.add_argument(
        "--contrastive-init",
        choices=CONTRASTIVE_INITS,
        help="where the SupCon and contrastive encoders start: 'ce' from the same dose's cross-entropy network, "
        "'scratch' from random weights (default scratch)",
    )
    d.add_argument("--contrastive-epochs", type=int, help="epochs of SupCon and contrastive (default: --epochs)")
    d.add_argument("--contrastive-lr", type=float, help="learning rate of SupCon and contrastive (default: --lr)")
    d.add_argument(
        "--update",
        action="store_true",
        help="re-run only --methods of the finished benchmark in --out on its stored settings and replace "
        "their rows (the data sets are simulated again and checked against the stored ones)",
    )
    d.add_argument(
        "--update-limit",
        action="store_true",
        help="take the physical limit of the finished benchmark in --out apart again with the fitted-PC curves "
        "(each candidate's pattern centre and orientation fitted to the pattern), on its stored settings",
    )
    _common_bench(d)
    d.set_defaults(func=run_dose)

    s = sub.add_parser(
        "speed",
        help="throughput: model alone, end-to-end, naive script, dictionary and Hough indexing",
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
    s.add_argument(
        "--no-hough", dest="hough", action="store_false", default=None, help="skip Hough indexing (PyEBSDIndex)"
    )
    s.add_argument(
        "--no-stream", dest="stream", action="store_false", default=None, help="skip stream training end to end"
    )
    s.add_argument("--resolution", type=float, help="dictionary orientation sampling in degrees (default 5)")
    s.add_argument("--precision", choices=("auto", "bf16", "fp16"), help="mixed precision measured on CUDA")
    s.add_argument(
        "--compile",
        dest="compile_mode",
        choices=COMPILE_MODES,
        help="also time the scan mapped with torch.compile in this mode (reduce-overhead: CUDA graphs)",
    )
    s.add_argument(
        "--profile",
        action="store_true",
        default=None,
        help="profile the end-to-end stages (cProfile) and print the top functions",
    )
    _common_bench(s)
    s.set_defaults(func=run_speed)

    r = sub.add_parser(
        "robustness",
        help="trained on one forward model or range of conditions, tested on another",
        description="Train stream networks on dynamical, kinematical and randomised (mixed forward "
        "model, PC, tilt, dose) patterns, test each on stored dynamical and kinematical test sets of "
        "the same orientations, and write artifacts/bench/robustness.json and robustness.csv.",
    )
    r.add_argument("--trainings", nargs="+", choices=TRAININGS, help="training domains (default all)")
    r.add_argument("--tests", nargs="+", choices=TESTS, help="forward models of the test sets (default both)")
    r.add_argument("--dose", type=float, help="electrons per pixel (default 16 × the simulator's default)")
    r.add_argument("--n-per-phase", type=int, help="stored patterns per phase of each test set (default 300)")
    r.add_argument("--pattern-size", type=int, help="pattern size in pixels (default 64)")
    r.add_argument("--model", help="timm model (default lcnet_050; efficientnet_b0 on a GPU)")
    r.add_argument("--epochs", type=int, help="training epochs (default 10)")
    r.add_argument("--stream-patterns", type=int, help="fresh patterns per epoch (default 2400)")
    r.add_argument("--batch-size", type=int, help="training batch size (default 32)")
    r.add_argument("--lr", type=float, help="learning rate (default 3e-3)")
    r.add_argument("--mixed-fraction", type=float, help="dynamical share of the randomised domain (default 0.5)")
    r.add_argument(
        "--update-ideal",
        action="store_true",
        help="add the ideal matcher across forward models to the finished benchmark in --out, without "
        "training (its test sets are simulated again from the stored settings)",
    )
    _common_bench(r)
    r.set_defaults(func=run_robustness)

    sc = sub.add_parser(
        "scaling",
        help="how the networks' accuracy grows with patterns seen (stream training) and model size",
        description="Stream-train one cross-entropy network per model and budget of patterns seen, test "
        "each on a stored test split, run the ideal matcher at the same dose, and write "
        "artifacts/bench/scaling.json and scaling.csv.",
    )
    sc.add_argument("--models", nargs="+", metavar="MODEL", help="timm models (default lcnet_050 lcnet_100)")
    sc.add_argument(
        "--patterns-seen", nargs="+", type=int, metavar="N", help="budgets of streamed patterns (default 1e4 3e4 1e5)"
    )
    sc.add_argument("--dose", type=float, help="electrons per pixel (default: the simulator's default)")
    sc.add_argument("--n-per-phase", type=int, help="stored patterns per phase (default 300)")
    sc.add_argument("--pattern-size", type=int, help="pattern size in pixels (default 64)")
    sc.add_argument(
        "--input-size",
        type=int,
        help="the networks' input size in pixels; patterns are resized to it (default: the pattern size)",
    )
    sc.add_argument("--forward-model", choices=("dynamical", "kinematical"), help="master patterns (default dynamical)")
    sc.add_argument(
        "--pc-spread",
        type=float,
        help="σ of each pattern's pattern centre, of the stored set and the stream (default: the detector's, "
        "0.01); 0 gives every pattern the same PC",
    )
    sc.add_argument(
        "--no-augment",
        dest="augment",
        action="store_false",
        default=None,
        help="no random flips of the streamed patterns (a flip moves the pattern centre)",
    )
    sc.add_argument("--stream-patterns", type=int, help="most patterns per epoch (default 5000)")
    sc.add_argument("--batch-size", type=int, help="training batch size (default 32)")
    sc.add_argument("--lr", type=float, help="learning rate (default 3e-3)")
    _common_bench(sc)
    sc.set_defaults(func=run_scaling)

    tr = sub.add_parser(
        "trend",
        help="extrapolate the Ni/Ni3Fe pair accuracy of the stored scaling runs to the ideal matcher",
        description="Read the stored scaling benchmark and its runs under other conditions "
        "(artifacts/bench/scaling.json, scaling-conditions/*/), fit pair accuracy against log10 patterns seen "
        "for networks that differ only in their budget, and print where each line reaches the ideal "
        "matcher's pair accuracy less 0.05. Runs nothing.",
    )
    tr.add_argument("--root", help="artifacts folder to read (default: the project's artifacts)")
    tr.set_defaults(func=run_trend)

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
    p.add_argument(
        "--method",
        choices=("dictionary", "hough"),
        default="dictionary",
        help="dictionary indexing (default) or Hough/Radon indexing with PyEBSDIndex",
    )
    p.add_argument("--data", help="labelled data set (project HDF5) whose split is indexed")
    p.add_argument("--run", dest="run_ref", help="an existing indexing run: map --scan files with it")
    p.add_argument("--scan", nargs="+", default=[], metavar="FILE", help="scans to map into phasemaps/")
    p.add_argument("--split", choices=("test", "val"), default="test", help="split reported (default test)")
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
    p.add_argument("--batch-size", type=int, help="patterns indexed at once (default 256; Hough 512)")
    p.add_argument(
        "--pc",
        type=float,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="pattern centre (Bruker); default from the data set's simulation record or vendor file",
    )
    p.add_argument("--sample-tilt", type=float, help="sample tilt in degrees (default from the data set, or 70)")
    p.add_argument("--camera-tilt", type=float, help="detector tilt in degrees (default from the data set, or 0)")
    d = p.add_argument_group("dictionary indexing only")
    d.add_argument("--resolution", type=float, help="orientation sampling in degrees (default 5)")
    d.add_argument("--refine", action="store_true", help="refine each phase's best match (kikuchipy; slower)")
    d.add_argument("--trust-region", type=float, help="refinement half-width in degrees (default 2)")
    d.add_argument(
        "--refine-pc",
        action="store_true",
        help="refine the pattern centre with the orientation, per pattern and phase (implies --refine)",
    )
    d.add_argument("--pc-trust-region", type=float, help="PC refinement half-width per coordinate (default 0.02)")
    d.add_argument(
        "--refine-fit",
        action="store_true",
        help="then fit each phase's match, PC and orientation, to the pattern with the simulator's own model and "
        "compare phases on the fitted correlation: reads Ni against Ni3Fe where the PC is uncertain (implies --refine)",
    )
    d.add_argument("--device", choices=("auto", "cpu", "cuda"), help="device (default auto)")
    d.add_argument("--voltage", type=float, help="accelerating voltage in kV (default from the data set, or 20)")
    d.add_argument("--master-half-size", type=int, help="master-pattern half size (default from the data set)")
    d.add_argument(
        "--min-dspacing", type=float, help="smallest d-spacing of the reflectors in Å (default from the data set)"
    )
    d.add_argument(
        "--forward-model",
        choices=("dynamical", "kinematical"),
        default=None,
        help="master patterns of the dictionary (default the data set's own; dynamical for real scans)",
    )
    d.add_argument("--no-cache", action="store_true", help="do not read or write the dictionary cache")
    h = p.add_argument_group("Hough indexing only")
    h.add_argument("--n-bands", type=int, help="bands detected per pattern (default 9)")
    h.add_argument(
        "--max-family-index",
        type=int,
        help="band families {hkl} the lattice allows with h²+k²+l² up to this (default 11)",
    )
    p.add_argument("--name", default="", help="free-text name of the run")
    p.add_argument("--run-id", default=None, help="folder name of the new run (default from the time)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


#: ``index`` options of one method only: argument name → its flag.
DICTIONARY_ONLY = {
    "resolution": "--resolution",
    "refine": "--refine",
    "trust_region": "--trust-region",
    "refine_pc": "--refine-pc",
    "pc_trust_region": "--pc-trust-region",
    "refine_fit": "--refine-fit",
    "device": "--device",
    "voltage": "--voltage",
    "master_half_size": "--master-half-size",
    "min_dspacing": "--min-dspacing",
    "forward_model": "--forward-model",
    "no_cache": "--no-cache",
}
HOUGH_ONLY = {"n_bands": "--n-bands", "max_family_index": "--max-family-index"}


def _given(args: argparse.Namespace, names: list[str]) -> dict:
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def run_index(args: argparse.Namespace) -> int:
    """Index a data set (and map scans), or map scans with an existing run; print the figures."""
    progress = not args.no_progress
    if args.run_ref:
        if args.data:
            raise ValueError("give either --data (a new run) or --run (map scans with an existing run), not both")
        if not args.scan:
            raise ValueError(f"--run {args.run_ref} needs --scan FILE: the scans to map with it")
        for scan in args.scan:
            print(f"phase map written to {map_scan(args.run_ref, scan, progress)}")
        return 0
    if not args.data:
        raise ValueError("--data FILE is required: the labelled data set to index (or --run RUN --scan FILE)")
    other = DICTIONARY_ONLY if args.method == "hough" else HOUGH_ONLY
    given = [flag for name, flag in other.items() if getattr(args, name, None) not in (None, False)]
    if given:
        raise ValueError(
            f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to --method {args.method}; "
            f"leave {'it' if len(given) == 1 else 'them'} out or choose the other --method"
        )
    run = hough_index(args, progress) if args.method == "hough" else dictionary_index(args, progress)
    print(describe_run(run))
    return 0


def map_scan(run_ref: str, scan: str, progress: bool):
    """Map ``scan`` with an existing indexing run, whichever method it is; returns the folder."""
    from ebsdlib.baseline.hough_run import hough_scan, is_hough_run
    from ebsdlib.baseline.run import index_scan
    from ebsdlib.runs import resolve_run

    run = resolve_run(run_ref)
    if run.config_path.exists() and is_hough_run(run.config()):
        return hough_scan(run, scan, progress=progress)
    return index_scan(run, scan, progress=progress)


def dictionary_index(args: argparse.Namespace, progress: bool):
    """``index --method dictionary``: the run."""
    from ebsdlib.baseline import DictionaryConfig
    from ebsdlib.baseline.run import index_run

    config = DictionaryConfig(
        resolution=args.resolution if args.resolution is not None else 5.0,
        refine=args.refine,
        refine_trust_region=args.trust_region if args.trust_region is not None else 2.0,
        refine_pc=args.refine_pc,
        refine_pc_trust_region=args.pc_trust_region if args.pc_trust_region is not None else 0.02,
        refine_fit=args.refine_fit,
        temperature=args.temperature,
        calibration_patterns=args.calibration_patterns,
        batch_size=args.batch_size or 256,
        device=args.device or "auto",
        pc=tuple(args.pc) if args.pc else None,
        sample_tilt=args.sample_tilt,
        camera_tilt=args.camera_tilt,
        voltage=args.voltage,
        master_half_size=args.master_half_size,
        min_dspacing=args.min_dspacing,
        forward_model=args.forward_model,
        cache=not args.no_cache,
    )
    return index_run(
        args.data, config, split=args.split, scans=args.scan, name=args.name, run_id=args.run_id, progress=progress
    )


def hough_index(args: argparse.Namespace, progress: bool):
    """``index --method hough``: the run."""
    from ebsdlib.baseline import HoughConfig
    from ebsdlib.baseline.hough_run import hough_run

    options = {
        "n_bands": args.n_bands,
        "max_family_index": args.max_family_index,
        "batch_size": args.batch_size,
        "pc": tuple(args.pc) if args.pc else None,
        "sample_tilt": args.sample_tilt,
        "camera_tilt": args.camera_tilt,
    }
    config = HoughConfig(
        temperature=args.temperature,
        calibration_patterns=args.calibration_patterns,
        **{k: v for k, v in options.items() if v is not None},
    )
    return hough_run(
        args.data, config, split=args.split, scans=args.scan, name=args.name, run_id=args.run_id, progress=progress
    )


def describe_run(run) -> str:
    """A few lines about a finished indexing run (dictionary or Hough)."""
    m = run.metrics() or {}
    low, high = m.get("accuracy_ci95") or (float("nan"), float("nan"))
    conf = m.get("ni_ni3fe_confusion")
    acc = m.get("accuracy", float("nan"))
    lines = [
        f"run {run.run_id}: {m.get('model')} on split {m.get('split')!r} ({m.get('n')} patterns)",
        f"  accuracy {acc:.4f} (95% CI {low:.3f}–{high:.3f})"
        + (f", Ni↔Ni3Fe confusion {conf:.3f}" if conf is not None else ""),
    ]
    rate = f"  {m.get('inference_patterns_per_second', float('nan')):.1f} patterns/s"
    if m.get("dictionary"):
        d = m["dictionary"]
        built = "from the cache" if d.get("from_cache") else f"built in {d.get('build_seconds', 0.0):.1f} s"
        lines.append(f"{rate}; dictionary of {d.get('size')} patterns ({built})")
    elif m.get("hough"):
        h = m["hough"]
        lines.append(
            f"{rate} in {h.get('processes')} process ({h.get('numba_threads')} numba threads); "
            f"{m.get('mean_matched_bands') or 0:.1f} bands matched on average, "
            f"{100 * (m.get('not_indexed') or 0):.1f}% not indexed"
        )
    else:
        lines.append(rate)
    lines.append(f"  softmax temperature {m.get('temperature', float('nan')):.4g} ({m.get('temperature_source')})")
    err = m.get("orientation_error_deg")
    if err:
        which = "solution" if m.get("hough") else "match"
        lines.append(
            f"  orientation error of the true phase's {which}: median {err['median']:.2f}°, 90% below {err['p90']:.2f}°"
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
            "limit_fit_pc",
            "limit_fit_steps",
            "forward_model",
            "stream",
            "stream_patterns",
            "ce_init",
            "contrastive_init",
            "contrastive_epochs",
            "contrastive_lr",
            "device",
            "seed",
        ],
    )
    if args.update and args.update_limit:
        raise ValueError("--update and --update-limit are separate runs; give one of them")
    if args.update:
        return _update_dose(args, given)
    if args.update_limit:
        return _update_limit(args, given)
    config = DoseBenchConfig.quick(**given) if args.quick else DoseBenchConfig(**given)
    doc = run_dose_bench(config, args.out, work_dir=args.work_dir, keep=args.keep, progress=not args.no_progress)
    print(summary_table(doc))
    print(f"\n{doc['seconds']:.0f} s on {doc['environment']['device']}; written to {_out(args)}/dose.json and dose.csv")
    return 0


def _refuse_settings(args: argparse.Namespace, given: dict, allowed: set[str], option: str, hint: str = "") -> None:
    """Refuse the settings (``given`` beyond ``allowed``, and ``--quick``) that ``option`` takes from
    the stored ``dose.json``, naming their flags."""
    settings = sorted(set(given) - allowed) + (["quick"] if args.quick else [])
    if settings:
        flags = ", ".join("--" + name.replace("_", "-") for name in settings)
        raise ValueError(f"{option} takes its settings from the stored dose.json; drop {flags}{hint}")


def _update_dose(args: argparse.Namespace, given: dict) -> int:
    """``bench dose --update --methods …``: the stored benchmark's settings, only these methods again."""
    from ebsdlib.bench.dose import summary_table, update_dose_bench

    _refuse_settings(
        args, given, {"methods", "device"}, "--update", " (or run the whole benchmark without --update to change them)"
    )
    if "methods" not in given:
        raise ValueError("--update needs --methods: the methods to measure again, e.g. --methods hough")
    doc = update_dose_bench(
        given["methods"],
        args.out,
        device=given.get("device"),
        work_dir=args.work_dir,
        keep=args.keep,
        progress=not args.no_progress,
    )
    print(summary_table(doc))
    update = doc["updates"][-1]
    checked = "data checked against the stored patterns" if update["data_checked"] else "no stored digests to check"
    print(
        f"\n{', '.join(update['methods'])} measured again in {update['seconds']:.0f} s on "
        f"{update['environment']['device']} ({checked}); written to {_out(args)}/dose.json and dose.csv"
    )
    return 0


def _update_limit(args: argparse.Namespace, given: dict) -> int:
    """``bench dose --update-limit``: the stored benchmark's physical limit again, with fitted PCs."""
    from ebsdlib.bench.dose import update_dose_limit

    _refuse_settings(args, given, {"device"}, "--update-limit")
    doc = update_dose_limit(args.out, progress=not args.no_progress)
    for r in doc["limit"]:
        if r["pc_fitted"]:
            print(
                f"{r['cue']:>8}  dose {r['dose']:>8g}  fitted from ±{r['pc_sigma']:g}: pair accuracy "
                f"{r['pair_accuracy']:.3f} [{r['low']:.3f}, {r['high']:.3f}]  PC error {r['pc_error_start']:.4f} → "
                f"{r['pc_error_fitted']:.4f}"
            )
    print(
        f"\nphysical limit taken apart again in {doc['updates'][-1]['seconds']:.0f} s; "
        f"written to {_out(args)}/dose.json"
    )
    return 0


def run_robustness(args: argparse.Namespace) -> int:
    """``bench robustness``: run, write the JSON/CSV, print the table."""
    from ebsdlib.bench.robustness import (
        RobustnessBenchConfig,
        ideal_matcher_table,
        run_robustness_bench,
        summary_table,
        update_ideal_matcher,
    )

    if args.update_ideal:
        doc = update_ideal_matcher(args.out, work_dir=args.work_dir, keep=args.keep, progress=not args.no_progress)
        print(ideal_matcher_table(doc))
        print(
            f"\nideal matcher added in {doc['updates'][-1]['seconds']:.0f} s; written to {_out(args)}/robustness.json"
        )
        return 0
    names = ["trainings", "tests", "dose", "n_per_phase", "pattern_size", "model", "epochs", "stream_patterns"]
    given = _given(args, [*names, "batch_size", "lr", "mixed_fraction", "device", "seed"])
    config = RobustnessBenchConfig.quick(**given) if args.quick else RobustnessBenchConfig(**given)
    doc = run_robustness_bench(config, args.out, work_dir=args.work_dir, keep=args.keep, progress=not args.no_progress)
    print(summary_table(doc))
    print("\nideal matcher (true orientation and pattern centre) with each forward model's templates:")
    print(ideal_matcher_table(doc))
    print(
        f"\n{doc['seconds']:.0f} s on {doc['environment']['device']}; written to "
        f"{_out(args)}/robustness.json and robustness.csv"
    )
    return 0


def run_scaling(args: argparse.Namespace) -> int:
    """``bench scaling``: run, write the JSON/CSV, print the table."""
    from ebsdlib.bench.scaling import ScalingBenchConfig, run_scaling_bench, summary_table

    names = ["models", "patterns_seen", "dose", "n_per_phase", "pattern_size", "input_size", "forward_model"]
    names += ["pc_spread", "augment", "stream_patterns"]
    given = _given(args, [*names, "batch_size", "lr", "device", "seed"])
    config = ScalingBenchConfig.quick(**given) if args.quick else ScalingBenchConfig(**given)
    doc = run_scaling_bench(config, args.out, work_dir=args.work_dir, keep=args.keep, progress=not args.no_progress)
    print(summary_table(doc))
    print(
        f"\n{doc['seconds']:.0f} s on {doc['environment']['device']}; written to "
        f"{_out(args)}/scaling.json and scaling.csv"
    )
    return 0


def run_trend(args: argparse.Namespace) -> int:
    """``bench trend``: each pair-accuracy trend of the stored scaling runs, with its points."""
    from ebsdlib.views.bench import load_bench, load_conditions
    from ebsdlib.views.scaling import pair_trends, trend_findings

    doc, problem = load_bench("scaling", args.root)
    conditions, problems = load_conditions("scaling", args.root)
    for text in [problem, *problems]:
        if text:
            print(text, file=sys.stderr)
    trends = pair_trends({**({"scaling.json": doc} if doc else {}), **conditions})
    if not trends:
        print(
            "No trend: it needs networks that differ only in their budget, three or more of them, with the "
            "ideal matcher. Add budgets with `python -m ebsdlib bench scaling --patterns-seen N … --out "
            "artifacts/bench/scaling-conditions/NAME` (the same settings, another N).",
            file=sys.stderr,
        )
        return 1
    for trend, line in zip(trends, trend_findings(trends), strict=True):
        print(line)
        for seen, pair, name in zip(trend.patterns_seen, trend.pair_accuracy, trend.conditions, strict=True):
            print(f"  {seen:>12,} patterns  pair accuracy {pair:.3f}  ({name})")
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
            "hough",
            "stream",
            "resolution",
            "precision",
            "compile_mode",
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
