"""Training runs launched as processes: argument lists, the queue and its limit, cancel, dead runs."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import typing

import numpy as np
import pytest

from ebsdlib import jobs
from ebsdlib.data.format import write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.io import read_json, write_json
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.runs import RunDir, list_runs, new_run_id, open_run
from ebsdlib.train.config import TrainConfig


@pytest.fixture
def root(tmp_path):
    """An artifacts folder with a tiny, learnable labelled data set (3 phases × 8 patterns)."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 8)
    _yy, xx = np.mgrid[0:32, 0:32] / 32
    pats = (
        np.stack([100 + 40 * np.sin(2 * np.pi * (3 + 2 * lab) * xx) + rng.normal(0, 10, (32, 32)) for lab in labels])
        .clip(0, 255)
        .astype(np.uint8)
    )
    split = np.tile(np.array([0, 0, 1, 2], np.int8), 6)
    write_dataset(
        tmp_path / "datasets" / "tiny.h5",
        pats,
        labels,
        DEFAULT_PHASES,
        provenance={"test": True},
        split=split,
        split_rule="test",
    )
    yield tmp_path
    for run in jobs.active_runs(tmp_path):  # never leave a trainer behind
        job = jobs.job_info(run) or {}
        if job.get("pid"):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job["pid"], signal.SIGKILL)


def tiny_config(root, **kw) -> TrainConfig:
    base = dict(
        data=str(root / "datasets" / "tiny.h5"),
        model="test_efficientnet",
        epochs=1,
        batch_size=8,
        device="cpu",
        preprocess=PreprocessConfig(size=32),
        probe_epochs=2,
        umap=False,
        knn_k=3,
    )
    return TrainConfig(**{**base, **kw})


def wait_for(predicate, timeout: float, what: str, interval: float = 0.25):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def state(root, run_id) -> str:
    return open_run(run_id, root).read_status().state


class FakePopen:
    """Records how a process would be started; looks like a process that is still running."""

    calls: typing.ClassVar[list] = []

    def __init__(self, argv, **kwargs):
        FakePopen.calls.append((argv, kwargs))
        self.pid = 2**22 + len(FakePopen.calls)
        self.returncode = None

    def poll(self):
        return None


def test_launch_passes_an_argument_list_never_a_shell(root, monkeypatch):
    FakePopen.calls = []
    monkeypatch.setattr(jobs.subprocess, "Popen", FakePopen)
    cfg = tiny_config(root, name='x"; rm -rf / #$(reboot)')
    run_id = jobs.launch(cfg, root, 2, scheduler=False)
    ((argv, kwargs),) = FakePopen.calls
    run = open_run(run_id, root)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
    assert argv[:4] == [sys.executable, "-m", "ebsdlib", "train"]
    assert argv[argv.index("--config") + 1] == str(run.config_path)
    assert argv[argv.index("--run-id") + 1] == run_id
    assert not kwargs.get("shell", False) and kwargs["start_new_session"] is True
    assert kwargs["env"]["EBSDLIB_ARTIFACTS"] == str(root.resolve())
    # what the user typed travels inside the config file, never as a command-line word
    assert not any("rm -rf" in a for a in argv)
    assert TrainConfig.from_dict(run.config()).name == cfg.name
    assert read_json(run.path / "job.json")["argv"] == argv
    assert state(root, run_id) == "queued"


@pytest.mark.parametrize("cores,limit,want", [(16, 2, "8"), (16, 3, "5"), (3, 2, "1"), (1, 4, "1")])
def test_launched_runs_get_their_share_of_the_cores(root, monkeypatch, cores, limit, want):
    FakePopen.calls = []
    monkeypatch.setattr(jobs.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(jobs.os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    run_id = jobs.launch(tiny_config(root), root, limit, scheduler=False)
    ((_, kwargs),) = FakePopen.calls
    assert kwargs["env"]["OMP_NUM_THREADS"] == want and kwargs["env"]["MKL_NUM_THREADS"] == want
    assert jobs.job_info(open_run(run_id, root))["threads"] == int(want)
    assert "OMP_NUM_THREADS" not in os.environ  # only the child's environment carries it


def test_a_thread_count_the_user_set_is_kept(root, monkeypatch):
    FakePopen.calls = []
    monkeypatch.setattr(jobs.subprocess, "Popen", FakePopen)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    jobs.launch(tiny_config(root), root, 2, scheduler=False)
    ((_, kwargs),) = FakePopen.calls
    assert kwargs["env"]["OMP_NUM_THREADS"] == "3"


def test_torch_in_a_launched_process_uses_the_share(root, monkeypatch):
    """The child's torch really follows the variable: one thread where it would take one per core
    (torch's own default, capped at the physical cores, is 2 on the 2-core test machine)."""
    monkeypatch.setattr(jobs.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    run = _job_by_hand(root, ["import sys, torch; print('threads', torch.get_num_threads()); sys.exit(0)"])
    jobs.poll(root, 4)
    wait_for(
        lambda: jobs.poll(root, 4).running == 0 and "threads" in run.log_path.read_text(),
        60,
        "the process to print its thread count",
    )
    assert "threads 1" in run.log_path.read_text()


def test_launch_validates_before_creating_anything(root):
    bad = tiny_config(root).to_dict() | {"epochs": 0}
    with pytest.raises(ValueError, match=r"epochs=0 is not allowed; use an integer from 1 to 10000"):
        jobs.launch(bad, root, scheduler=False)
    with pytest.raises(ValueError, match=r"unknown config keys \['colour'\]"):
        jobs.launch(tiny_config(root).to_dict() | {"colour": "red"}, root, scheduler=False)
    assert list_runs(root) == []


def test_limits_and_model_names(monkeypatch):
    assert jobs.max_running(3) == 3
    monkeypatch.setenv("EBSDLIB_MAX_RUNS", "5")
    assert jobs.max_running() == 5
    monkeypatch.setenv("EBSDLIB_MAX_RUNS", "many")
    with pytest.raises(ValueError, match=r"EBSDLIB_MAX_RUNS='many' is not an integer"):
        jobs.max_running()
    with pytest.raises(ValueError, match=r"max_running=0 is not allowed"):
        jobs.max_running(0)
    assert jobs.check_model("test_efficientnet") == "test_efficientnet"
    with pytest.raises(ValueError, match=r"model 'efficientnet_b00' is not a timm model; did you mean"):
        jobs.check_model("efficientnet_b00")


def test_three_runs_at_once_with_a_limit_of_two(root):
    """Three launches at once: two train, one waits; all finish with complete, separate artifacts."""
    ids = [jobs.launch(tiny_config(root, seed=k), root, 2) for k in range(3)]
    assert len(set(ids)) == 3
    started = [jobs.job_info(open_run(i, root))["pid"] is not None for i in ids]
    assert started == [True, True, False]
    most = 0

    def all_done():
        nonlocal most
        alive = sum(jobs._alive((jobs.job_info(open_run(i, root)) or {}).get("pid"), i) for i in ids)
        most = max(most, alive)
        return all(state(root, i) not in ("queued", "running") for i in ids)

    wait_for(all_done, 400, "three runs to finish")
    assert most <= 2
    for run_id in ids:
        run = open_run(run_id, root)
        assert state(root, run_id) == "completed", (run_id, run.read_status().error, run.log_path.read_text()[-2000:])
        assert run.metrics()["n"] > 0 and len(run.predictions()) == run.metrics()["n"]
        assert run.best_checkpoint.exists() and run.config()["seed"] == ids.index(run_id)
    assert sorted(s.run_id for s in list_runs(root) if s.state == "completed") == sorted(ids)


def test_cancel_queued_and_running_and_a_killed_run_fails(root):
    long = dict(epochs=2000)
    a = jobs.launch(tiny_config(root, **long), root, 2)
    b = jobs.launch(tiny_config(root, **long), root, 2)
    c = jobs.launch(tiny_config(root, **long), root, 2)
    assert jobs.cancel(c, root) == "cancelled"  # queued: cancelled at once, never started
    assert state(root, c) == "cancelled" and jobs.job_info(open_run(c, root))["pid"] is None
    wait_for(lambda: state(root, a) == "running" and state(root, b) == "running", 120, "both runs to train")
    assert jobs.cancel(a, root) == "requested"
    wait_for(lambda: state(root, a) == "cancelled", 60, "the trainer to honour the cancel")
    pid_b = jobs.job_info(open_run(b, root))["pid"]
    os.killpg(pid_b, signal.SIGKILL)  # dies without writing a final state
    wait_for(lambda: jobs.poll(root, 2).failed == [b] or state(root, b) == "failed", 30, "the dead run")
    st = open_run(b, root).read_status()
    assert st.state == "failed" and f"pid {pid_b}" in st.error and "ended without a final state" in st.error
    assert jobs.cancel(b, root) == "finished"
    assert jobs.job_info(open_run(c, root))["pid"] is None  # the cancelled queued run never started


def _job_by_hand(root, argv_tail: list[str], state_: str = "queued") -> RunDir:
    run_id = new_run_id("ce", "fake", root)
    run = open_run(run_id, root)
    run.update_status(state=state_, epochs=1)
    write_json(
        run.path / "job.json", {"argv": [sys.executable, "-c", *argv_tail, run_id], "created": time.time(), "pid": None}
    )
    return run


def test_process_that_exits_without_a_state_is_marked_failed(root):
    run = _job_by_hand(root, ["import sys; print('boom'); sys.exit(3)"])
    report = jobs.poll(root, 1)
    assert report.started == [run.run_id]
    wait_for(lambda: jobs.poll(root, 1).failed == [run.run_id], 30, "the process to be reaped")
    st = run.read_status()
    assert st.state == "failed" and "exit code 3" in st.error and "boom" in st.error
    assert read_json(run.path / "job.json")["returncode"] == 3


def test_sigterm_after_an_ignored_cancel(root):
    run = _job_by_hand(root, ["import time; time.sleep(120)"])
    jobs.poll(root, 1)
    pid = jobs.job_info(run)["pid"]
    run.update_status(state="running")
    run.cancel_path.write_text(str(time.time() - 100))  # asked long ago, never honoured
    assert jobs.poll(root, 1, cancel_grace=1.0).signalled == [run.run_id]
    wait_for(lambda: state(root, run.run_id) == "cancelled" or jobs.poll(root, 1).cancelled, 20, "SIGTERM")
    assert run.read_status().state == "cancelled"
    assert not jobs._alive(pid, run.run_id)


def test_command_line_run_with_a_dead_pid(root):
    """A run trained outside the launcher (no job.json) is followed through its status pid."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead_pid = int(done.stdout)
    fresh = RunDir(root / "runs" / new_run_id("ce", "cli", root))
    fresh.update_status(state="running", pid=dead_pid)
    assert jobs.poll(root).failed == []  # silent only for a moment: not yet dead
    stale = RunDir(root / "runs" / new_run_id("supcon", "cli", root))
    stale.update_status(state="running", pid=dead_pid)
    status = stale.read_status()
    status.updated = time.time() - 2 * jobs.STALE_S
    write_json(stale.status_path, status.to_dict())
    assert jobs.poll(root).failed == [stale.run_id]
    assert fresh.read_status().state == "running"


def test_one_scheduler_per_artifacts_folder(root):
    with jobs._locked(root / "runs" / jobs.SCHEDULER_LOCK, blocking=False) as mine:
        assert mine
        assert jobs.scheduler_loop(root, 1, interval=0.05, idle_exit=0.1) == 1
        assert jobs.ensure_scheduler(root, 1) is False
    assert jobs.scheduler_loop(root, 1, interval=0.05, idle_exit=0.1) == 0  # nothing to do: exits
