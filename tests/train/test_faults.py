"""Training processes killed with SIGKILL at chosen moments.

Each run is launched as the sidebar launches it (a ``job.json`` the poller starts), through
``fault_worker.py``, which stops the trainer at an exact point — a training step, the middle
of a checkpoint's temporary file, a complete temporary file not yet renamed — and waits there
to be killed. Then: the poller marks the run failed, the folder opens in the library and on
the dashboard, no checkpoint is corrupt (weights-only load), and ``resume`` finishes it with
the same metrics and predictions as an uninterrupted run with the same seed.

The runs: 24 training patterns, batches of 8 (3 steps per epoch), 2 epochs, validation mode
(so ``checkpoint_best.pt`` is written too).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from ebsdlib import jobs
from ebsdlib.cli import main as cli
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.io import write_json
from ebsdlib.runs import list_runs, new_run_id, open_run, summarize_run
from ebsdlib.train.checkpoint import load_checkpoint
from ebsdlib.train.config import TrainConfig
from ebsdlib.train.loop import train
from ebsdlib.views.runs import runs_table

WORKER = Path(__file__).with_name("fault_worker.py")
DASHBOARD_CACHE = Path(__file__).resolve().parents[2] / "dashboard" / "cache.py"

#: fault → (worker spec, epochs in checkpoint_last.pt at the kill; None: no checkpoint yet)
FAULTS = {
    "mid-epoch-2": ("step:5", 1),
    "checkpoint-half-written": ("save:checkpoint_last.pt:1", None),
    "checkpoint-before-rename": ("replace:checkpoint_last.pt:2", 1),
    "history-before-rename": ("replace:history.csv:2", 2),
    "evaluation-before-metrics": ("replace:metrics.json:1", 2),
}
#: resumed with ``python -m ebsdlib resume`` in a process of its own (the others through the
#: same command-line entry point in this process, which saves a Python start-up each)
RESUMED_AS_PROCESS = "evaluation-before-metrics"
#: Figures of the session's clock: a resumed run's last session differs from an uninterrupted run.
TIMING_KEYS = (
    "training_seconds",
    "train_patterns_per_second",
    "train_patterns_timed",
    "warmup_batches_excluded",
    "throughput_note",
    "inference_seconds",
    "inference_patterns_per_second",
)


def stable(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in TIMING_KEYS}


def wait_for(predicate, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def killed(tiny_data, tmp_path_factory):
    """Launch one run per fault (all at once), kill each at its point; also train a reference."""
    root = tmp_path_factory.mktemp("faults")
    config = TrainConfig(
        data=str(tiny_data),
        model="test_efficientnet",
        epochs=2,
        batch_size=8,
        lr=3e-3,
        validation=True,
        knn_k=3,
        device="cpu",
        umap=False,
        eval_batch_size=16,
        preprocess=PreprocessConfig(size=24),
    )
    env = {"OMP_NUM_THREADS": "1", "EBSDLIB_ARTIFACTS": str(root)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the launched trainers' environment: one thread each
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    runs = {}
    try:
        for fault, (spec, _) in FAULTS.items():
            run_id = new_run_id("ce", fault, root)
            run = open_run(run_id, root)
            write_json(run.config_path, config.to_dict())
            run.update_status(state="queued", epochs=config.epochs)
            argv = jobs.train_argv(run.config_path, run_id, root)
            argv = [sys.executable, str(WORKER), spec, str(run.path / "at-fault"), *argv[3:]]
            write_json(run.path / jobs.JOB_FILE, {"argv": argv, "created": time.time(), "pid": None})
            runs[fault] = run
        assert len(jobs.poll(root, len(FAULTS)).started) == len(FAULTS)
        reference = train(config, "reference", progress=False, root=root)  # meanwhile, in this process
        for fault, run in runs.items():
            mark = run.path / "at-fault"
            wait_for(lambda mark=mark: mark.exists() and mark.read_text(), 120, f"{fault} to reach its fault point")
            os.killpg(jobs.job_info(run)["pid"], signal.SIGKILL)
            mark.unlink()
        # each poll reports the runs it marked failed in that call; a killed process may take a
        # poll or two to be seen dead, so collect them until every killed run has been reported
        seen: set[str] = set()

        def every_death_seen() -> list[str] | None:
            seen.update(jobs.poll(root, len(FAULTS)).failed)
            return sorted(seen) if seen >= {run.run_id for run in runs.values()} else None

        failed = wait_for(every_death_seen, 30, "the poller to see every death")
        yield root, runs, reference, failed
    finally:
        torch.set_num_threads(threads)
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        for run in runs.values():
            pid = (jobs.job_info(run) or {}).get("pid")
            if pid and jobs._alive(pid, run.run_id):
                os.killpg(pid, signal.SIGKILL)


def dashboard_run_data(root: Path, run_id: str):
    """The dashboard's own loader of a run page (``dashboard/cache.py``)."""
    name = "dashboard_cache_for_faults"
    cache = sys.modules.get(name)
    if cache is None:
        spec = importlib.util.spec_from_file_location(name, DASHBOARD_CACHE)
        cache = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cache)
    return cache.run_data(str(root), run_id, open_run(run_id, root).mtime())


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_killed_run_is_failed_readable_and_resumes_to_the_same_result(fault, killed):
    root, runs, reference, failed = killed
    run = runs[fault]
    _, epochs_saved = FAULTS[fault]

    # the poller saw the process die without a final state
    assert run.run_id in failed
    status = run.read_status()
    assert status.state == "failed"
    assert "ended without a final state (exit code -9)" in status.error

    # the folder opens: library, runs table, dashboard run page
    assert open_run(run.run_id, root).path == run.path
    summary = summarize_run(run.path)
    assert summary.error is None and summary.state == "failed"
    assert {s.run_id: s.state for s in list_runs(root)}[run.run_id] == "failed"
    table = runs_table(list_runs(root))
    assert table.set_index("run_id").loc[run.run_id, "state"] == "failed"
    page = dashboard_run_data(root, run.run_id)
    assert page.problem is None and page.state == "failed" and "exit code -9" in page.error

    # no checkpoint is corrupt: the last one holds the finished epochs, a weights-only load reads both
    if epochs_saved is None:
        assert not run.last_checkpoint.exists()
    else:
        assert torch.load(run.last_checkpoint, weights_only=True)["epoch"] == epochs_saved
        assert load_checkpoint(run.last_checkpoint)["epoch"] == epochs_saved
    if run.best_checkpoint.exists():
        assert load_checkpoint(run.best_checkpoint)["epoch"] in (1, 2)
    history = run.history()
    assert history is None or len(history) <= (epochs_saved or 0)

    # resume finishes it with the uninterrupted run's result
    argv = ["resume", run.run_id, "--artifacts", str(root), "--quiet"]
    if fault == RESUMED_AS_PROCESS:
        done = subprocess.run(
            [sys.executable, "-m", "ebsdlib", *argv],
            capture_output=True,
            check=False,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    else:
        assert cli(argv) == 0
    assert run.read_status().state == "completed"
    assert stable(run.metrics()) == stable(reference.metrics())
    pd.testing.assert_frame_equal(run.predictions(), reference.predictions())
    cols = ["epoch", "train_loss", "val_loss", "val_accuracy", "lr", "micro_batch_size"]
    pd.testing.assert_frame_equal(run.history()[cols], reference.history()[cols])
    assert not list(run.path.glob(".*.part"))  # the killed writes' temporary files are gone
