"""One short run on a GPU machine: the CUDA tests, ``bench speed --device cuda``, a stream-training run.

``python -m ebsdlib.device_check --out DIR [--budget-s 480]`` runs, each as a subprocess with
its own timeout and log under ``DIR``:

``gpu-tests``
    ``pytest -m gpu`` on the test files that carry the ``gpu`` marker (``DIR/gpu-tests.log``,
    ``DIR/gpu-tests.xml``); needs a checkout (``tests/`` beside the package).
``bench-speed``
    ``python -m ebsdlib bench speed`` into ``DIR/bench`` (``speed.json``) with :data:`CUDA_BENCH`:
    efficientnet_b0 on 64 × 64 patterns, sized for the budget.
``stream-data``, ``stream-train``
    A small simulated data set, then ``python -m ebsdlib train --stream`` on it (run folder under
    ``DIR/artifacts/runs``, its ``metrics.json`` read into the summary).
``predict-eager``, ``predict-compiled``
    ``python -m ebsdlib predict`` of the benchmark's scan with its trained run (kept under
    ``DIR/bench-work``), eagerly and with ``--compile reduce-overhead`` (torch.compile with CUDA
    graphs): the steady-state rates the maps record, their ratio and whether the two maps agree
    point for point. The CPU variant has no compiled step (compiling takes minutes on two cores).

Each step's timeout is its share of what is left of ``--budget-s`` (:data:`SHARES`: time an
earlier step leaves unused goes to the later ones); a failing or timed-out step is recorded and
the script goes on. ``DIR/summary.json`` and ``DIR/summary.md`` — every step's exit code and
seconds, the headline numbers (inference, training and stream patterns/s, the end-to-end ÷
model-alone ratios, peak GPU memory) beside the issue's targets (:data:`TARGETS`) — are
rewritten after every step, so a run cut short still leaves what it measured.

Without CUDA it refuses, unless ``--allow-cpu``: then tiny CPU variants run instead (the marked
tests, all skipped; ``bench speed --quick`` without naive, dictionary, Hough and stream stages; a
one-epoch stream run of the test network), which is what the tests exercise.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Share of the remaining budget each step may take (unused time rolls over to later steps).
SHARES = {
    "gpu-tests": 0.2,
    "bench-speed": 0.45,
    "stream-data": 0.05,
    "stream-train": 0.15,
    "predict-eager": 0.05,
    "predict-compiled": 0.1,
}
#: Default budget in seconds: under 8 minutes on one GPU, with room for the start and transfers.
DEFAULT_BUDGET_S = 480.0

#: ``bench speed`` on CUDA: efficientnet_b0 at 64 × 64 (the defaults), a scan and training set
#: large enough that fixed costs (model loading, writing the map) do not dominate at GPU rates,
#: and batches a GPU fills. Naive PNGs, dictionary and Hough indexing are CPU-bound stages (the
#: CPU benchmark measures them) and would take most of the budget on 16k patterns, so they are off.
CUDA_BENCH = (
    "--model", "efficientnet_b0",
    "--scan-shape", "128", "128",
    "--train-per-phase", "1024",
    "--batch-size", "256",
    "--inference-batch-size", "4096",
    "--repeats", "3",
    "--no-naive", "--no-dictionary", "--no-hough",
)  # fmt: skip
#: The CPU variant: the benchmark's tiny test sizes; stream training is left to the stream-train
#: step, which runs the same trainer end to end (this keeps the variant near a minute on two cores).
CPU_BENCH = ("--quick", "--no-naive", "--no-dictionary", "--no-hough", "--no-stream")

#: The stream run's data set (simulate flags) and training (train flags), per device type.
STREAM_DATA = {
    "cuda": ("--n-per-phase", "64", "--pattern-size", "64"),
    "cpu": (
        "--n-per-phase", "12", "--pattern-size", "32", "--master-half-size", "40", "--forward-model", "kinematical",
    ),
}  # fmt: skip
STREAM_TRAIN = {
    "cuda": ("--model", "efficientnet_b0", "--epochs", "2", "--stream-patterns", "32768", "--batch-size", "256"),
    "cpu": (
        "--model", "test_efficientnet", "--epochs", "1", "--stream-patterns", "64", "--batch-size", "16",
        "--image-size", "32", "--eval-batch-size", "64", "--no-calibrate",
    ),
}  # fmt: skip

#: Run id of the stream-training run (under ``DIR/artifacts/runs``).
STREAM_RUN_ID = "device-check-stream"
#: The benchmark's kept run that the predict steps map its scan with (mixed precision on CUDA).
PREDICT_RUN = {"cuda": "speed-{precision}-1", "cpu": "speed-fp32-1"}
#: Patterns per forward pass of the predict steps, and the compile mode measured on CUDA.
PREDICT_BATCH = {"cuda": "4096", "cpu": "64"}
COMPILE_MODE = "reduce-overhead"

#: Issue 17's goals on one H100/H200, efficientnet_b0, 64 × 64 (patterns/s; the ratio is inference
#: end to end ÷ the model alone).
TARGETS = {
    "inference_patterns_per_second": 20_000.0,
    "training_patterns_per_second": 5_000.0,
    "simulation_patterns_per_second": 50_000.0,
    "inference_end_to_end_over_model": 0.9,
}


@dataclass
class Step:
    """One subprocess of the check and how it ended."""

    name: str
    command: list[str]
    log: str
    timeout_s: float | None = None
    exit_code: int | None = None
    seconds: float | None = None
    timed_out: bool = False
    skipped: str | None = None
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.skipped is None and self.exit_code == 0


def run_step(step: Step, cwd: Path, env: dict[str, str]) -> Step:
    """Run ``step.command`` with its timeout, stdout and stderr into ``step.log``.

    The command runs in a session of its own, so a timeout ends it and every process it started.
    """
    t0 = time.perf_counter()
    with open(step.log, "w") as log:
        log.write(f"$ {' '.join(step.command)}\n")
        log.flush()
        proc = subprocess.Popen(
            step.command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            step.exit_code = proc.wait(timeout=step.timeout_s)
        except subprocess.TimeoutExpired:
            step.timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            step.exit_code = proc.wait()
            log.write(f"\n[device_check] stopped after its timeout of {step.timeout_s:.0f} s\n")
    step.seconds = time.perf_counter() - t0
    return step


def marked_test_files(tests: Path, marker: str = "gpu") -> list[Path]:
    """Test files that mention ``mark.<marker>`` (collecting only them keeps the step short)."""
    return sorted(p for p in tests.rglob("test_*.py") if f"mark.{marker}" in p.read_text(encoding="utf-8"))


def junit_counts(path: Path) -> dict:
    """``{"tests", "failures", "errors", "skipped"}`` of a pytest JUnit XML file (empty when absent)."""
    if not path.is_file():
        return {}
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return {}
    return {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}


def bench_headline(doc: dict) -> dict:
    """Headline numbers of a ``speed.json``: the mixed-precision rows on CUDA (fp32 on the CPU)."""
    rows = doc.get("rows") or []
    precisions = {r.get("precision") for r in rows}
    best = next((p for p in ("bf16", "fp16") if p in precisions), "fp32")

    def rate(kind: str, pipeline: str) -> float | None:
        for r in rows:
            if (r.get("kind"), r.get("pipeline"), r.get("precision")) == (kind, pipeline, best):
                return r.get("patterns_per_second")
        return None

    simulation = {r.get("pipeline"): r.get("patterns_per_second") for r in rows if r.get("kind") == "simulation"}
    stream = next((v for k, v in simulation.items() if k.startswith("stream on")), None)
    peaks = [r["cuda_peak_mb"] for r in rows if r.get("cuda_peak_mb") is not None]
    ratios = {
        f"{r.get('kind')} · {r.get('precision')}": r.get("end_to_end_over_model") for r in doc.get("ratios") or []
    }
    return {
        "precision": best,
        "inference_end_to_end_patterns_per_second": rate("inference", "end-to-end"),
        "inference_model_alone_patterns_per_second": rate("inference", "model alone"),
        "training_end_to_end_patterns_per_second": rate("training", "end-to-end"),
        "training_model_alone_patterns_per_second": rate("training", "model alone"),
        "stream_training_patterns_per_second": rate("training", "stream end-to-end"),
        "simulation_patterns_per_second": simulation,
        "stream_simulation_patterns_per_second": stream,
        "end_to_end_over_model": ratios,
        "peak_gpu_memory_mb": max(peaks) if peaks else None,
        "device_name": (doc.get("environment") or {}).get("device_name"),
    }


def stream_headline(artifacts: Path, run_id: str) -> dict:
    """What the stream run's ``metrics.json`` says about its training rate and feeder."""
    path = artifacts / "runs" / run_id / "metrics.json"
    if not path.is_file():
        return {}
    m = json.loads(path.read_text())
    keys = ("train_patterns_per_second", "warmup_batches_excluded", "throughput_note", "feeder", "accuracy")
    return {"metrics": str(path), **{k: m.get(k) for k in (*keys, "device", "precision")}}


def predict_run(out: Path, device: str, precision: str) -> Path:
    """The benchmark's kept run (under ``DIR/bench-work``) that the predict steps map with."""
    return out / "bench-work" / "runs" / PREDICT_RUN[device].format(precision=precision)


def predict_headline(out: Path, device: str, bench: dict) -> dict:
    """Steady-state rates of the eager and the compiled map, their ratio and their agreement."""
    from ebsdlib.phasemap import load_phasemap

    run = predict_run(out, device, bench.get("precision") or "fp32")
    found = {}
    for name in ("eager", "compiled"):
        try:
            found[name] = load_phasemap(run, name)
        except (FileNotFoundError, ValueError):
            continue
    doc = {f"{k}_patterns_per_second": pm.meta.get("inference_patterns_per_second") for k, pm in found.items()}
    doc.update({f"{k}_throughput": pm.meta.get("inference_throughput") for k, pm in found.items()})
    if len(found) == 2:
        eager, fast = found["eager"], found["compiled"]
        if doc["eager_patterns_per_second"] and doc["compiled_patterns_per_second"]:
            doc["compiled_over_eager"] = doc["compiled_patterns_per_second"] / doc["eager_patterns_per_second"]
        doc["compile_mode"] = COMPILE_MODE
        doc["same_phase_share"] = float((eager.pred == fast.pred).mean())
    return doc


def against_targets(bench: dict) -> dict:
    """Each issue target with the measured value and whether it is met (``None``: not measured)."""
    sims = [v for v in (bench.get("simulation_patterns_per_second") or {}).values() if v is not None]
    stream = bench.get("stream_simulation_patterns_per_second")  # the source stream training draws from
    ratios = bench.get("end_to_end_over_model") or {}
    ratio = next((v for k, v in ratios.items() if k.startswith("inference ·")), None)
    measured = {
        "inference_patterns_per_second": bench.get("inference_end_to_end_patterns_per_second"),
        "training_patterns_per_second": bench.get("training_end_to_end_patterns_per_second"),
        "simulation_patterns_per_second": stream if stream is not None else (max(sims) if sims else None),
        "inference_end_to_end_over_model": ratio,
    }
    return {
        k: {"target": t, "measured": measured[k], "met": None if measured[k] is None else measured[k] >= t}
        for k, t in TARGETS.items()
    }


def write_summary(out: Path, doc: dict) -> None:
    """``summary.json`` and ``summary.md`` under ``out``."""
    from ebsdlib.io import write_json, write_text

    write_json(out / "summary.json", doc)
    lines = [
        f"# Device check: {doc['device']} ({doc.get('device_name') or 'unknown device'})",
        "",
        f"Budget {doc['budget_s']:.0f} s, ran {doc['seconds']:.0f} s; {doc['mode']} variant.",
        "",
        "| step | exit code | seconds | timeout s | log |",
        "|---|---|---|---|---|",
    ]
    for s in doc["steps"]:
        code = "skipped: " + s["skipped"] if s["skipped"] else ("timed out" if s["timed_out"] else s["exit_code"])
        secs = "" if s["seconds"] is None else f"{s['seconds']:.1f}"
        limit = "" if s["timeout_s"] is None else f"{s['timeout_s']:.0f}"
        lines.append(f"| {s['name']} | {code} | {secs} | {limit} | {Path(s['log']).name} |")
    lines += ["", "## Headline numbers", ""]
    headline = {
        **doc["bench"],
        **{f"stream run {k}": v for k, v in doc["stream"].items()},
        **{f"predict {k}": v for k, v in doc.get("predict", {}).items()},
    }
    for k, v in headline.items():
        lines.append(f"- {k}: {json.dumps(v) if isinstance(v, dict) else v}")
    lines += ["", "## Issue targets", ""]
    for k, v in doc["targets"].items():
        met = "not measured" if v["met"] is None else ("met" if v["met"] else "not met")
        lines.append(f"- {k}: {v['measured']} (target {v['target']}): {met}")
    write_text(out / "summary.md", "\n".join(lines) + "\n")


def plan(out: Path, device: str, repo: Path) -> list[Step]:
    """The steps for ``device`` (``"cuda"`` or ``"cpu"``), writing under ``out``; ``repo`` holds ``tests/``."""
    py, data = sys.executable, out / "stream" / "data.h5"
    tests = marked_test_files(repo / "tests") if (repo / "tests").is_dir() else []
    no_tests = f"no test files with the gpu marker under {repo / 'tests'} (run from a checkout)"
    pytest = [py, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", f"--junitxml={out / 'gpu-tests.xml'}"]
    bench = [py, "-m", "ebsdlib", "bench", "speed", "--device", device, "--out", str(out / "bench"), "--no-progress"]
    bench += ["--work-dir", str(out / "bench-work"), "--keep"]  # the predict steps map its scan with its run
    simulate = [py, "-m", "ebsdlib", "simulate", "--what", "dataset", "--out", str(data), "--no-progress"]
    train = [py, "-m", "ebsdlib", "train", "--data", str(data), "--stream", "--device", device, "--no-umap", "--quiet"]
    artifacts = ["--artifacts", str(out / "artifacts"), "--run-id", STREAM_RUN_ID]
    return [
        Step("gpu-tests", [*pytest, *map(str, tests)], str(out / "gpu-tests.log"), skipped=None if tests else no_tests),
        Step("bench-speed", [*bench, *(CUDA_BENCH if device == "cuda" else CPU_BENCH)], str(out / "bench-speed.log")),
        Step("stream-data", [*simulate, *STREAM_DATA[device]], str(out / "stream-data.log")),
        Step("stream-train", [*train, *artifacts, *STREAM_TRAIN[device]], str(out / "stream-train.log")),
        Step("predict-eager", [], str(out / "predict-eager.log")),
        *([Step("predict-compiled", [], str(out / "predict-compiled.log"))] if device == "cuda" else []),
    ]


def predict_command(out: Path, device: str, name: str, precision: str) -> list[str]:
    """``python -m ebsdlib predict`` of the benchmark's scan into the phase map ``name``."""
    run, scan = predict_run(out, device, precision), out / "bench-work" / "scan.h5"
    command = [sys.executable, "-m", "ebsdlib", "predict", "--run", str(run), "--data", str(scan)]
    command += ["--device", device, "--batch-size", PREDICT_BATCH[device], "--orientations", "none"]
    command += ["--name", name, "--quiet"]
    return [*command, "--compile", COMPILE_MODE] if name == "compiled" else command


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the steps, write the summary; 0 when every step passed."""
    parser = argparse.ArgumentParser(prog="python -m ebsdlib.device_check", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for every log, JSON and the summary")
    parser.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S, help="seconds for all steps (default 480)")
    parser.add_argument("--allow-cpu", action="store_true", help="without CUDA, run the tiny CPU variants instead")
    args = parser.parse_args(argv)
    if args.budget_s <= 0:
        parser.error(f"argument --budget-s: {args.budget_s!r} is not a positive number of seconds")

    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not args.allow_cpu:
        print(
            "device_check: no CUDA device is available (torch.cuda.is_available() is False, torch "
            f"{torch.__version__}); run it on a GPU machine, or pass --allow-cpu for the tiny CPU variant",
            file=sys.stderr,
        )
        return 2
    device = "cuda" if cuda else "cpu"
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    artifacts, repo = out / "artifacts", Path(__file__).resolve().parents[1]
    env = {**os.environ, "EBSDLIB_ARTIFACTS": str(artifacts), "PYTHONUNBUFFERED": "1"}
    steps = plan(out, device, repo)
    doc = {
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if cuda else None,
        "mode": "cuda" if cuda else "cpu (--allow-cpu)",
        "torch": torch.__version__,
        "budget_s": args.budget_s,
        "seconds": 0.0,
        "steps": [asdict(s) for s in steps],
        "bench": {},
        "stream": {},
        "predict": {},
        "targets": against_targets({}),
    }
    t_start = time.perf_counter()
    for i, step in enumerate(steps):
        if step.skipped is None and step.name == "stream-train" and not steps[i - 1].ok:
            step.skipped = "its data set was not made (stream-data failed)"
        if step.skipped is None and step.name.startswith("predict-"):
            bench_ok = next(s for s in steps if s.name == "bench-speed").ok
            if not bench_ok:
                step.skipped = "the benchmark's run and scan were not made (bench-speed failed)"
            name = step.name.removeprefix("predict-")
            step.command = predict_command(out, device, name, doc["bench"].get("precision") or "fp32")
        if step.skipped is None:
            left = args.budget_s - (time.perf_counter() - t_start)
            share = SHARES[step.name] / sum(SHARES[s.name] for s in steps[i:])
            step.timeout_s = max(1.0, left * share)
            run_step(step, repo, env)
        if step.name == "gpu-tests":
            step.details = junit_counts(out / "gpu-tests.xml")
        if step.name == "bench-speed" and (out / "bench" / "speed.json").is_file():
            doc["bench"] = bench_headline(json.loads((out / "bench" / "speed.json").read_text()))
            doc["targets"] = against_targets(doc["bench"])
        if step.name == "stream-train":
            doc["stream"] = stream_headline(artifacts, STREAM_RUN_ID)
        if step.name.startswith("predict-"):
            doc["predict"] = predict_headline(out, device, doc["bench"])
        doc["steps"] = [asdict(s) for s in steps]
        doc["seconds"] = time.perf_counter() - t_start
        write_summary(out, doc)
    print(f"device_check: {out / 'summary.md'}", file=sys.stderr)
    return 0 if all(s.ok for s in steps) else 1


if __name__ == "__main__":
    raise SystemExit(main())
