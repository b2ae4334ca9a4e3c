"""``train``, ``resume``, ``evaluate``, ``calibrate`` and ``runs``: thin commands over :mod:`ebsdlib.train`.

The ``train`` flags are generated from :class:`ebsdlib.train.config.TrainConfig` (and the
preprocessing fields of :class:`~ebsdlib.data.preprocess.PreprocessConfig`; ``size`` is
``--image-size``), so they always mirror the config. Only the flags given override the base
config: the dataclass defaults with the data set's recommended preprocessing, or a JSON file
given with ``--config``.
"""

from __future__ import annotations

import argparse
import re
import sys
import types
import typing
from dataclasses import fields
from pathlib import Path

from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.methods import method_of_run, network_methods
from ebsdlib.simulate.randomise import RANGE_FLOORS, RANGE_HELP, DomainRanges
from ebsdlib.train.config import BOUNDS, CALIBRATORS, FIELD_HELP, IMAGE_SIZE_BOUNDS, LOSSES, TrainConfig
from ebsdlib.train.temperature import describe_calibrator

#: Config fields the CLI does not expose (set them through ``--config``).
HIDDEN_FIELDS = ("preprocess", "randomise")
#: Preprocessing fields exposed as flags, and their flag names.
PREPROCESS_FLAGS = {"size": "image-size"}


def register(subparsers) -> None:
    """Add ``train``, ``resume``, ``evaluate``, ``calibrate`` and ``runs``."""
    p = subparsers.add_parser(
        "train",
        help=f"train a network ({' or '.join(m.label for m in network_methods())})",
        usage=f"%(prog)s [--loss {{{','.join(LOSSES)}}}] [--data FILE] [--validation] [options]",
        description="Train a model on a labelled data set and evaluate it.",
    )
    add_config_flags(p)
    p.add_argument(
        "--config",
        metavar="FILE",
        help="JSON training config to start from (e.g. a run's config.json); the other flags override it",
    )
    p.add_argument(
        "--run-id",
        metavar="ID",
        help="fill this run folder (a launcher may have created it "
        "with status 'queued'); default: a new id from the time, loss and model",
    )
    _add_common(p)
    p.set_defaults(func=run_train, _parser=p)

    p = subparsers.add_parser("resume", help="continue an interrupted run from its last checkpoint")
    p.add_argument("run", metavar="RUN", help="run id (see `runs`) or run folder")
    _add_common(p)
    p.set_defaults(func=run_resume, _parser=p)

    p = subparsers.add_parser("evaluate", help="re-evaluate a finished run from its best checkpoint")
    p.add_argument("run", metavar="RUN", help="run id (see `runs`) or run folder")
    p.add_argument(
        "--split",
        choices=("train", "val", "test"),
        help="split to evaluate (default: the run's own; with --data: all labelled patterns); another split "
        "than the run's writes to <run>/evaluations/<split>/",
    )
    p.add_argument(
        "--data",
        metavar="FILE",
        help="evaluate on another labelled data set (phases matched by name or formula); writes "
        "<run>/evaluations/<data set>[-<split>]/",
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    _add_common(p)
    p.set_defaults(func=run_evaluate, _parser=p)

    p = subparsers.add_parser(
        "calibrate",
        help="fit a run's calibration again on labelled patterns it never saw, and re-evaluate it",
        description="Undo the run's calibration, fit a new calibrator on another labelled data set (freshly "
        "simulated patterns with another seed, or a few labelled patterns of your own), fold it into "
        "checkpoint_best.pt and re-evaluate the run: metrics.json records the ECE before and after.",
    )
    p.add_argument("run", metavar="RUN", help="run id (see `runs`) or run folder")
    p.add_argument("--data", metavar="FILE", required=True, help="labelled data set the run never saw")
    p.add_argument("--split", choices=("train", "val", "test"), help="one split of it (default: all its patterns)")
    p.add_argument(
        "--calibrator",
        choices=CALIBRATORS,
        default="auto",
        help=f"{FIELD_HELP['calibrator']} (default: auto)",
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    _add_common(p)
    p.set_defaults(func=run_calibrate, _parser=p)

    p = subparsers.add_parser("runs", help="list the runs with their main figures, or delete one")
    p.add_argument("--delete", metavar="RUN", help="delete this run folder (refused while it runs)")
    _add_common(p)
    p.set_defaults(func=run_runs, _parser=p)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--artifacts", metavar="DIR", help="artifacts folder (default: $EBSDLIB_ARTIFACTS or ./artifacts)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


# -- flags from the dataclass --------------------------------------------------------------------
def _field_help(cls: type) -> dict[str, str]:
    """Parameter descriptions from a numpydoc docstring (``a, b`` lines describe both)."""
    doc = (cls.__doc__ or "").split("Parameters", 1)[-1]
    out, names = {}, []
    for line in doc.splitlines():
        if re.match(r"^    \S", line):
            names = [n.strip() for n in line.strip().split(",")]
        elif line.strip() and names:
            for n in names:
                out[n] = (out.get(n, "") + " " + line.strip().replace("``", "")).strip()
    return out


def _flag(name: str) -> str:
    return "--" + PREPROCESS_FLAGS.get(name, name).replace("_", "-")


def _add_field(group, dest: str, flag: str, hint, help_text: str) -> None:
    """One flag for a dataclass field: ``--x/--no-x`` for bools, choices for ``Literal``."""
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    if optional:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    kw = {"dest": dest, "default": argparse.SUPPRESS, "help": help_text}
    if optional and hint is int:
        group.add_argument(flag, type=_int_or_none, metavar=dest.removeprefix("pp_").upper(), **kw)
    elif hint is bool:
        group.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
    elif typing.get_origin(hint) is typing.Literal:
        group.add_argument(flag, choices=typing.get_args(hint), **kw)
    else:
        group.add_argument(flag, type=hint, metavar=dest.removeprefix("pp_").upper(), **kw)


def _int_or_none(text: str) -> int | None:
    """An integer, or ``none`` for a field whose ``None`` means "keep as it is"."""
    if text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: give an integer or 'none'") from None


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per :class:`TrainConfig` field and per preprocessing field."""
    hints = typing.get_type_hints(TrainConfig)
    group = parser.add_argument_group("training config (defaults: TrainConfig)")
    for f in fields(TrainConfig):
        if f.name not in HIDDEN_FIELDS:
            allowed = f"{BOUNDS[f.name].describe()}; " if f.name in BOUNDS else ""
            text = f"{FIELD_HELP[f.name]} ({allowed}default: {f.default!r})"
            _add_field(group, f.name, _flag(f.name), hints[f.name], text)
    hints, helps = typing.get_type_hints(PreprocessConfig), _field_help(PreprocessConfig)
    helps["size"] = f"{helps.get('size', '')} ({IMAGE_SIZE_BOUNDS.describe()}, or none)".strip()
    group = parser.add_argument_group("preprocessing (defaults: the data set's recommendation)")
    for f in fields(PreprocessConfig):
        _add_field(group, "pp_" + f.name, _flag(f.name), hints[f.name], helps.get(f.name, ""))
    group = parser.add_argument_group("domain randomisation of streamed patterns (with --stream; default: none)")
    for f in fields(DomainRanges):
        ranged = f.name in RANGE_FLOORS
        group.add_argument(
            _random_flag(f.name),
            dest="rand_" + f.name,
            type=float,
            nargs=2 if ranged else None,
            metavar=("LOW", "HIGH") if ranged else "VALUE",
            default=argparse.SUPPRESS,
            help=RANGE_HELP[f.name],
        )


def _random_flag(name: str) -> str:
    """``--random-<field>`` of a :class:`DomainRanges` field."""
    return "--random-" + name.replace("_", "-")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The config that the parsed flags describe (see the module docstring for precedence).

    Raises ``ValueError`` naming the option, the value and what is allowed.
    """
    given = vars(args)
    if given.get("config"):
        from ebsdlib.io import read_json

        stored = read_json(given["config"])
        if not isinstance(stored, dict):
            raise ValueError(
                f"argument --config: {given['config']} holds a JSON {type(stored).__name__}, not an "
                "object of config fields; give a run's config.json or a file like it"
            )
        base = dict(stored)
    else:
        base = TrainConfig().to_dict()
        if "data" in given:
            base["data"] = given["data"]
        base["preprocess"] = _recommended_preprocessing(base["data"])
    for f in fields(TrainConfig):
        if f.name in given and f.name not in HIDDEN_FIELDS:
            base[f.name] = given[f.name]
    pp = dict(base.get("preprocess") or {})
    for f in fields(PreprocessConfig):
        if "pp_" + f.name in given:
            pp[f.name] = given["pp_" + f.name]
    base["preprocess"] = pp
    try:
        pp_config = PreprocessConfig.from_dict(pp)
    except ValueError as e:
        raise ValueError(f"argument {_option_in(str(e), PreprocessConfig)}: {e}") from e
    base["preprocess"] = pp_config
    ranges = dict(base.get("randomise") or {})
    ranges.update({f.name: given["rand_" + f.name] for f in fields(DomainRanges) if "rand_" + f.name in given})
    base["randomise"] = ranges
    try:
        return TrainConfig.from_dict(base)
    except ValueError as e:
        raise ValueError(f"argument {_option_in(str(e), TrainConfig)}: {e}") from e


def _option_in(message: str, cls: type) -> str:
    """The flag of the field a validation message is about."""
    ranged = re.match(r"^randomise(?:: (\w+))?", message)
    if ranged:
        field_names = {f.name for f in fields(DomainRanges)}
        return _random_flag(ranged.group(1)) if ranged.group(1) in field_names else "--random-*"
    for f in fields(cls):
        if re.match(rf"^(unknown )?{f.name}\b", message):
            return _flag(f.name)
    return "--config" if "config keys" in message else "(config)"


def _recommended_preprocessing(data: str) -> dict:
    """The data set's recommended preprocessing, or the defaults when it names none."""
    path = Path(data)
    if path.is_file():
        try:
            from ebsdlib.data.format import EBSDDataset

            with EBSDDataset(path) as ds:
                rec = ds.preprocessing
            if rec:
                return PreprocessConfig.from_dict(rec).to_dict()
        except (ValueError, OSError):
            pass
    return PreprocessConfig().to_dict()


def config_to_argv(config: TrainConfig) -> list[str]:
    """Flags that make ``train`` rebuild ``config`` exactly (for launchers that start a process)."""
    argv = []

    def emit(name: str, value) -> None:
        if isinstance(value, bool):
            argv.append(_flag(name) if value else "--no-" + _flag(name)[2:])
        elif value is not None:
            argv.extend([_flag(name), str(value)])
        elif name == "size":
            argv.extend([_flag(name), "none"])

    d = config.to_dict()
    for f in fields(TrainConfig):
        if f.name not in HIDDEN_FIELDS and not (f.name == "pretrained" and d[f.name] is None):
            emit(f.name, d[f.name])
    for f in fields(PreprocessConfig):
        emit(f.name, d["preprocess"][f.name])
    for name, value in d["randomise"].items():
        if value is not None:
            argv.extend([_random_flag(name), *(str(v) for v in (value if isinstance(value, list) else [value]))])
    return argv


# -- commands ------------------------------------------------------------------------------------
def run_train(args: argparse.Namespace) -> int:
    """``python -m ebsdlib train`` (under torchrun: rank 0 picks the run id, see :mod:`ebsdlib.distributed`)."""
    from ebsdlib.distributed import setup
    from ebsdlib.paths import runs_root
    from ebsdlib.runs import RunDir, check_run_id, new_run_id

    ctx = setup()
    root = args.artifacts
    run = None
    if args.run_id:
        try:
            run = RunDir(runs_root(root) / check_run_id(args.run_id))
        except ValueError as e:
            args._parser.error(f"argument --run-id: {e}")
    try:
        config = config_from_args(args)
        if not Path(config.data).is_file():
            raise ValueError(
                f"argument --data: data set {config.data!r} not found; build one with "
                "`python -m ebsdlib simulate` or `python -m ebsdlib import`"
            )
        if config.pretrained:
            _check_pretrained(config.pretrained, root)
    except ValueError as e:
        if ctx.is_main and run is not None and run.path.is_dir():
            run.update_status(state="failed", error=str(e), message="bad training options")
        args._parser.error(str(e))
    if run is None:
        run = RunDir(ctx.main_only(lambda: str(runs_root(root) / new_run_id(config.loss, config.model, root))))
    return _drive(run, lambda: _train(config, run, root, args.quiet), ctx)


def _check_pretrained(stored: str, root) -> None:
    """Refuse a ``--pretrained`` file that does not exist before a run folder is made."""
    from ebsdlib.paths import artifacts_root
    from ebsdlib.train.models import pretrained_file

    try:
        pretrained_file(stored, artifacts_root(root))
    except FileNotFoundError as e:
        raise ValueError(f"argument --pretrained: {e}") from e


def _train(config, run, root, quiet):
    from ebsdlib.train.loop import train

    return train(config, run, progress=not quiet, root=root)


def run_resume(args: argparse.Namespace) -> int:
    """``python -m ebsdlib resume RUN`` (under torchrun on as many processes as the run trained on)."""
    from ebsdlib.distributed import setup
    from ebsdlib.runs import RunDir
    from ebsdlib.train.loop import resume
    from ebsdlib.train.status import as_run_dir

    ctx = setup()
    run = RunDir(ctx.main_only(lambda: str(as_run_dir(args.run, args.artifacts).path)))
    return _drive(run, lambda: resume(run, progress=not args.quiet, root=args.artifacts), ctx)


def _drive(run, work, ctx) -> int:
    """Run ``work`` with SIGTERM turned into a cancel request; print where the run is.

    Under torchrun only rank 0 prints and reads the run folder; SIGTERM on another rank asks
    all ranks to stop at the next step.
    """
    import signal

    from ebsdlib.distributed import teardown

    stop = run.request_cancel if ctx.is_main else ctx.request_stop
    previous = signal.signal(signal.SIGTERM, lambda *_: stop())
    try:
        if ctx.is_main:
            print(f"run {run.run_id}: {run.path}", file=sys.stderr)
        work()
    finally:
        signal.signal(signal.SIGTERM, previous)
    teardown()
    if not ctx.is_main:
        return 0
    status = run.read_status()
    if status.state != "completed":
        print(f"run {run.run_id}: {status.state}; {status.message}", file=sys.stderr)
        return 1
    print(format_metrics(run.metrics() or {}))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """``python -m ebsdlib evaluate RUN [--split S] [--data FILE]``."""
    from ebsdlib.train.evaluate import evaluate_run

    if args.data:
        from ebsdlib.train.cross_eval import evaluate_on

        metrics = evaluate_on(
            args.run, args.data, args.split, device=args.device, progress=not args.quiet, root=args.artifacts
        )
        print(f"evaluated on {args.data} ({metrics['split']}): evaluations/{metrics['evaluated_on']}/")
        print(format_metrics(metrics))
        return 0
    metrics = evaluate_run(args.run, args.split, device=args.device, progress=not args.quiet, root=args.artifacts)
    print(format_metrics(metrics))
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    """``python -m ebsdlib calibrate RUN --data FILE [--split S]``."""
    from ebsdlib.train.recalibrate import recalibrate

    metrics = recalibrate(
        args.run,
        args.data,
        args.split,
        calibrator=args.calibrator,
        device=args.device,
        progress=not args.quiet,
        root=args.artifacts,
    )
    old, new = metrics["replaced_calibrator"], metrics["calibrator"]
    print(
        f"{describe_calibrator(old) if old else 'uncalibrated'} → {describe_calibrator(new)} fitted on "
        f"{metrics['calibration_patterns']} patterns of {metrics['calibration_split']}; ECE "
        f"{metrics.get('ece_uncalibrated', float('nan')):.3f} uncalibrated, {metrics['ece']:.3f} now"
    )
    print(format_metrics(metrics))
    return 0


def run_runs(args: argparse.Namespace) -> int:
    """``python -m ebsdlib runs [--delete RUN]``."""
    from ebsdlib.runs import delete_run, list_runs

    if args.delete:
        try:
            delete_run(args.delete, args.artifacts)
        except RuntimeError as e:
            raise ValueError(str(e)) from e
        print(f"deleted run {args.delete}")
        return 0
    print(format_runs_table(list_runs(args.artifacts)))
    return 0


# -- printing ------------------------------------------------------------------------------------
def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def format_metrics(m: dict) -> str:
    """A few lines with the main figures of a ``metrics.json``."""
    if not m:
        return "no metrics"
    lo, hi = m.get("accuracy_ci95") or [None, None]
    lines = [
        f"split {m.get('split')!r}, n={m.get('n')}: accuracy {_pct(m.get('accuracy'))} "
        f"(95% CI {_pct(lo)}–{_pct(hi)}), balanced {_pct(m.get('balanced_accuracy'))}, "
        f"macro F1 {m.get('macro_f1', 0):.3f}",
        f"Ni↔Ni3Fe confusion {_pct(m.get('ni_ni3fe_confusion'))} "
        f"(Ni→Ni3Fe {_pct(m.get('ni_to_ni3fe'))}, Ni3Fe→Ni {_pct(m.get('ni3fe_to_ni'))})",
    ]
    recalls = ", ".join(f"{k} {_pct(v.get('recall'))}" for k, v in (m.get("per_class") or {}).items())
    lines.append(f"recall per phase: {recalls}")
    if "probe_accuracy" in m:
        lines.append(f"linear probe {_pct(m.get('probe_accuracy'))}, k-NN {_pct(m.get('knn_accuracy'))}")
    if m.get("train_patterns_per_second"):
        lines.append(f"training {m['train_patterns_per_second']:.1f} patterns/s, {m.get('training_seconds', 0):.0f} s")
    return "\n".join(lines)


def _method(config: dict) -> str:
    """A run's :mod:`ebsdlib.methods` key (old folders mapped), or what its config names when unknown."""
    try:
        return method_of_run(config).key
    except ValueError:
        return str(config.get("method") or config.get("loss") or "")


def format_runs_table(summaries) -> str:
    """The ``runs`` table: one line per run, broken folders with their error."""
    if not summaries:
        return "no runs yet; start one with `python -m ebsdlib train --data FILE`"
    head = ("run", "state", "method", "model", "split", "epoch", "accuracy", "macro F1", "Ni↔Ni3Fe")
    rows = []
    for s in summaries:
        if s.broken:
            rows.append((s.run_id, "broken", s.error or "", "", "", "", "", "", ""))
            continue
        c, m, st = s.config, s.metrics or {}, s.status
        split = ("val" if c.get("validation") else "test") if c else ""
        epoch = f"{st.epoch}/{st.epochs}" if st else ""
        f1 = m.get("macro_f1")
        rows.append(
            (
                s.run_id,
                s.state,
                _method(c),
                c.get("model", ""),
                split,
                epoch,
                _pct(m.get("accuracy")) if m else "",
                "" if f1 is None else f"{f1:.3f}",
                _pct(m.get("ni_ni3fe_confusion")) if m else "",
            )
        )
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [head, *rows])
