"""``ebsdlib._process.pid_alive``: the one "is this process alive" check, on real processes — a
live child, a zombie (exited, not reaped: ``os.kill(pid, 0)`` still succeeds on it) and a pid
that no longer exists — through ``/proc`` and through the portable fallback; and the three
modules that ask (jobs, runs, demo) answer alike."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ebsdlib import _process, demo, jobs
from ebsdlib._process import pid_alive
from ebsdlib.io import write_json
from ebsdlib.runs import RunDir, delete_run

MARKER = "ebsdlib-pid-alive-test"


@pytest.fixture
def live_child():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", MARKER])
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def zombie():
    """A child that exited with code 3 and was not reaped (waitid with WNOWAIT waits for the exit only)."""
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)", MARKER])
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    yield proc
    proc.wait()


@pytest.fixture
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(params=["proc", "fallback"])
def way(request, monkeypatch) -> str:
    """Both ways of telling: ``/proc/<pid>/stat`` (Linux), and ``waitid`` + ``kill`` without it."""
    if request.param == "proc" and _process._proc_state(os.getpid()) is None:
        pytest.skip("this system has no /proc")
    if request.param == "fallback":
        monkeypatch.setattr(_process, "_proc_state", lambda pid: None)
    return request.param


def test_a_live_child_is_alive(live_child, way):
    assert pid_alive(live_child.pid)
    assert pid_alive(os.getpid())
    if way == "proc":  # command lines are only seen through /proc
        assert pid_alive(live_child.pid, marker=MARKER)
        assert not pid_alive(live_child.pid, marker="another-run-id")


def test_a_zombie_is_not_alive_and_keeps_its_exit_code(zombie, way):
    os.kill(zombie.pid, 0)  # the trap: signalling a zombie succeeds
    if way == "proc":
        assert _process._proc_state(zombie.pid) == "Z"
    assert not pid_alive(zombie.pid)
    assert not pid_alive(zombie.pid, marker=MARKER)
    assert zombie.wait(timeout=5) == 3  # not reaped by the check: the owner still collects the code


def test_a_pid_that_is_gone_is_not_alive(dead_pid, way):
    assert not pid_alive(dead_pid)


@pytest.mark.parametrize("pid", [None, 0, -1, True, "123", 2**40])
def test_no_process_for_pids_that_name_none(pid):
    assert not pid_alive(pid)


def test_jobs_runs_and_demo_agree_on_a_zombie(zombie, tmp_path):
    assert not jobs._alive(zombie.pid, None)

    run = RunDir(tmp_path / "runs" / "20990101-000000-ce-test")
    run.path.mkdir(parents=True)
    run.update_status(state="running", pid=zombie.pid)
    delete_run(run.run_id, tmp_path)  # refused while its process lives; a zombie's run is deletable
    assert not run.path.exists()

    write_json(tmp_path / demo.REBUILD_STATUS, {"state": "running", "progress": 0.5, "pid": zombie.pid})
    assert demo.rebuild_status(tmp_path)["state"] == "failed"


def test_jobs_runs_and_demo_agree_on_a_live_child(live_child, tmp_path):
    assert jobs._alive(live_child.pid, None)

    run = RunDir(tmp_path / "runs" / "20990101-000000-ce-test")
    run.path.mkdir(parents=True)
    run.update_status(state="running", pid=live_child.pid)
    with pytest.raises(RuntimeError, match="is running; cancel it before deleting"):
        delete_run(run.run_id, tmp_path)

    write_json(tmp_path / demo.REBUILD_STATUS, {"state": "running", "progress": 0.5, "pid": live_child.pid})
    assert demo.rebuild_status(tmp_path)["state"] == "running"
