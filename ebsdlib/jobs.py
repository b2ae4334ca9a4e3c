"""Launching and following training runs as separate processes (the dashboard's sidebar uses this).

A launched run is a process of its own (``python -m ebsdlib train … --run-id ID``, started with an
argument list, never a shell, in a new session), so it survives page changes, reruns, closed tabs
and a restarted dashboard, and every user sees it through its run folder.

Life of a job
-------------
1. :func:`launch` validates the config, creates the run folder (:func:`ebsdlib.runs.new_run_id`),
   writes ``config.json``, ``status.json`` (state ``queued``) and ``job.json`` (the argument list),
   then calls :func:`poll` and makes sure a scheduler is running (:func:`ensure_scheduler`).
2. :func:`poll` — called by the scheduler every second and by the sidebar on each refresh — holds
   an exclusive lock on ``runs/.jobs.lock`` while it
   (a) marks runs whose process died without writing a final state as ``failed`` (or
   ``cancelled`` when a cancel had been asked for), with the end of ``train.log`` as the error;
   (b) sends SIGTERM to runs that ignored a cancel request for ``cancel_grace`` seconds;
   (c) starts queued runs, oldest first, while fewer than ``max_running`` are running, each
   with ``OMP_NUM_THREADS`` set to its share of the cores (:func:`thread_share`) unless the
   user's environment sets it.
   Because starting happens only under the lock and records the pid in ``job.json`` before the
   lock is released, no run starts twice, whichever processes poll.
3. The scheduler (``python -m ebsdlib.jobs --root ROOT``) polls until no run is queued or running
   and exits; at most one runs per artifacts folder (it holds ``runs/.scheduler.lock``).

The lock files are ``fcntl.flock`` locks: the kernel releases them when their holder dies, so a
crashed dashboard never leaves a stale lock behind.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ebsdlib._process import pid_alive
from ebsdlib.io import read_json, write_json
from ebsdlib.paths import artifacts_root, runs_root
from ebsdlib.runs import ACTIVE_STATES, RunDir, check_run_id, new_run_id, open_run
from ebsdlib.train.config import TrainConfig

#: Default number of runs that may train at the same time (``$EBSDLIB_MAX_RUNS`` overrides it).
DEFAULT_MAX_RUNNING = 2

#: Seconds a run may ignore a cancel request before it gets SIGTERM, then SIGKILL after as long again.
CANCEL_GRACE_S = 20.0

#: Seconds without a status update before a command-line run whose pid is gone counts as dead.
STALE_S = 30.0

JOB_FILE = "job.json"
LOCK_FILE = ".jobs.lock"
SCHEDULER_LOCK = ".scheduler.lock"

_CHILDREN: dict[int, subprocess.Popen] = {}  # processes this process started and has not reaped
_EXITED: dict[int, int] = {}  # pid → exit code of reaped children, until poll() records it


@dataclass
class PollReport:
    """What one :func:`poll` did."""

    started: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    signalled: list[str] = field(default_factory=list)
    running: int = 0
    queued: int = 0


def max_running(value: int | None = None) -> int:
    """The limit of simultaneous runs: ``value``, else ``$EBSDLIB_MAX_RUNS``, else 2."""
    if value is None:
        env = os.environ.get("EBSDLIB_MAX_RUNS", "")
        try:
            value = int(env) if env else DEFAULT_MAX_RUNNING
        except ValueError:
            raise ValueError(f"EBSDLIB_MAX_RUNS={env!r} is not an integer; set it to a number from 1 to 64") from None
    if not isinstance(value, int) or not 1 <= value <= 64:
        raise ValueError(f"max_running={value!r} is not allowed; use an integer from 1 to 64")
    return value


# -- argument list ------------------------------------------------------------------------------------


def train_argv(config_path: str | Path, run_id: str, root: str | Path) -> list[str]:
    """The trainer's argument list: ``python -m ebsdlib train --config CONFIG --run-id ID …``.

    The run's resolved ``config.json`` is passed whole (``--config``), so the trainer trains
    exactly the config that was validated here, preprocessing included.
    """
    check_run_id(run_id)
    return [
        sys.executable,
        "-m",
        "ebsdlib",
        "train",
        "--config",
        str(config_path),
        "--run-id",
        run_id,
        "--artifacts",
        str(root),
        "--quiet",
    ]


def check_model(name: str) -> str:
    """Return ``name`` if timm knows the model, else raise ``ValueError`` with close matches."""
    import difflib

    import timm

    if timm.is_model(name):
        return name
    close = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.6)
    raise ValueError(
        f"model {name!r} is not a timm model"
        + (f"; did you mean {close}?" if close else "; see timm.list_models() for the names")
    )


# -- locks ------------------------------------------------------------------------------------------------


@contextmanager
def _locked(path: Path, blocking: bool = True) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# -- launching ----------------------------------------------------------------------------------------------


def launch(
    config: TrainConfig | dict, root: str | Path | None = None, limit: int | None = None, scheduler: bool = True
) -> str:
    """Queue a training run and start it when fewer than the limit are running.

    Parameters
    ----------
    config
        The run's config (a dictionary is validated through :class:`TrainConfig`).
    root
        Artifacts folder (default :func:`ebsdlib.runs.artifacts_root`).
    limit
        Most runs training at once (default :func:`max_running`: ``$EBSDLIB_MAX_RUNS`` or 2).
    scheduler
        Start the background scheduler so queued runs start without a dashboard open.

    Returns
    -------
    str
        The new run id.
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
    cfg.validate()
    root = artifacts_root(root).resolve()
    limit = max_running(limit)
    run_id = new_run_id(cfg.loss, cfg.model, root)
    run = RunDir(runs_root(root) / run_id)
    write_json(run.config_path, cfg.to_dict())
    argv = train_argv(run.config_path, run_id, root)
    run.update_status(state="queued", epochs=cfg.epochs, message="waiting for a free slot")
    write_json(
        run.path / JOB_FILE,
        {
            "argv": argv,
            "created": time.time(),
            "pid": None,
            "started": None,
            "ended": None,
            "returncode": None,
            "cwd": os.getcwd(),
        },
    )
    poll(root, limit)
    if scheduler:
        ensure_scheduler(root, limit)
    return run_id


def _job(run: RunDir) -> dict | None:
    p = run.path / JOB_FILE
    if not p.exists():
        return None
    try:
        job = read_json(p)
    except ValueError:
        return None
    return job if isinstance(job, dict) else None


def thread_share(limit: int) -> int:
    """CPU threads for each launched run: the usable cores shared among ``limit`` runs, at least 1.

    Every trainer would otherwise start one thread per core; several runs at once then
    oversubscribe the cores (measured 5–10× slower per run).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, int(limit)))


def _start(run: RunDir, job: dict, root: Path, threads: int) -> int:
    env = dict(os.environ)
    env["EBSDLIB_ARTIFACTS"] = str(root)
    if "OMP_NUM_THREADS" not in env:  # a setting of the user's own wins
        env["OMP_NUM_THREADS"] = str(threads)  # torch's intra-op threads follow it
        env.setdefault("MKL_NUM_THREADS", str(threads))
        job["threads"] = threads
    env["PYTHONUNBUFFERED"] = "1"
    argv = [str(a) for a in job["argv"]]
    with open(run.log_path, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=job.get("cwd") or None,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[proc.pid] = proc
    job.update(pid=proc.pid, started=time.time())
    write_json(run.path / JOB_FILE, job)
    return proc.pid


def _reap() -> None:
    """Collect the exit codes of this process's finished children (no zombies are left)."""
    for pid, proc in list(_CHILDREN.items()):
        code = proc.poll()
        if code is not None:
            _EXITED[pid] = code
            del _CHILDREN[pid]
    while len(_EXITED) > 1000:
        _EXITED.pop(next(iter(_EXITED)))


def _alive(pid: int | None, marker: str | None) -> bool:
    """Whether ``pid`` is a live (not zombie) process (:func:`ebsdlib._process.pid_alive`); with
    ``marker``, also one whose command line contains it (guards against a reused pid). A child
    whose exit code :func:`_reap` has collected is not alive."""
    if not pid or pid in _EXITED:
        return False
    return pid_alive(pid, marker)


def _returncode(pid: int) -> int | None:
    return _EXITED.pop(pid, None)


def _log_tail(run: RunDir, lines: int = 6) -> str:
    try:
        text = run.log_path.read_bytes()[-4000:].decode("utf-8", "replace")
    except OSError:
        return ""
    rows = [r.strip() for r in text.replace("\r", "\n").splitlines() if r.strip()]
    return "\n".join(rows[-lines:])


def poll(root: str | Path | None = None, limit: int | None = None, cancel_grace: float = CANCEL_GRACE_S) -> PollReport:
    """Reap dead runs, enforce cancels and start queued runs up to the limit (see module docs).

    Runs started from the command line (no ``job.json``) are followed through the pid in their
    status: one whose process is gone while its state is still active is marked ``failed`` too.
    """
    root = artifacts_root(root).resolve()
    limit = max_running(limit)
    report = PollReport()
    rr = runs_root(root)
    if not rr.is_dir():
        return report
    _reap()
    with _locked(rr / LOCK_FILE):
        waiting: list[tuple[float, RunDir, dict]] = []
        for path in rr.iterdir():
            if not path.is_dir() or path.is_symlink() or path.name.startswith("."):
                continue
            run = RunDir(path)
            try:
                st = run.read_status()
            except (FileNotFoundError, ValueError):
                continue
            job = _job(run)
            if st.state not in ACTIVE_STATES:
                # finished, but its process may still be exiting: it holds its slot until gone
                if job is not None and job.get("pid") and job.get("ended") is None:
                    if _alive(job["pid"], run.run_id):
                        report.running += 1
                    else:
                        job.update(ended=time.time(), returncode=_returncode(job["pid"]))
                        write_json(run.path / JOB_FILE, job)
                continue
            if job is not None and job.get("pid") is None:
                if run.cancel_requested:
                    run.update_status(state="cancelled", message="cancelled before it started")
                    report.cancelled.append(run.run_id)
                else:
                    waiting.append((float(job.get("created") or 0.0), run, job))
                continue
            # launched jobs: the pid we started (its command line holds the run id);
            # command-line runs: the pid the trainer wrote into its status
            pid = job["pid"] if job is not None else st.pid
            if pid is None:
                continue
            # a command-line run may train inside any program (a notebook, pytest): only a pid
            # that no longer exists, with a status silent for STALE_S, counts as dead
            marker = run.run_id if job is not None else None
            if _alive(pid, marker) or (job is None and time.time() - st.updated < STALE_S):
                report.running += 1
                _enforce_cancel(run, pid, cancel_grace, report, group=job is not None)
                continue
            self_reported = _settle(run, job, pid)
            if self_reported == "cancelled":
                report.cancelled.append(run.run_id)
            elif self_reported == "failed":
                report.failed.append(run.run_id)
        waiting.sort(key=lambda t: (t[0], t[1].run_id))
        for _, run, job in waiting:
            if report.running >= limit:
                report.queued += 1
                continue
            _start(run, job, root, thread_share(limit))
            run.update_status(message="starting")
            report.started.append(run.run_id)
            report.running += 1
    return report


def _settle(run: RunDir, job: dict | None, pid: int) -> str | None:
    """A run's process is gone: record how, and give it a final state if it wrote none."""
    code = _returncode(pid)
    if code is None and pid in _CHILDREN:  # dead (a zombie) but not reaped yet: collect its exit code
        try:
            code = _CHILDREN[pid].wait(timeout=5)
            del _CHILDREN[pid]
        except subprocess.TimeoutExpired:
            pass
    if job is not None:
        job.update(ended=job.get("ended") or time.time(), returncode=code)
        write_json(run.path / JOB_FILE, job)
    st = run.read_status()  # re-read: the trainer may have finished between the checks
    if st.state not in ACTIVE_STATES:
        return None
    if run.cancel_requested:
        run.update_status(state="cancelled", message="cancelled (the process was stopped)")
        return "cancelled"
    tail = _log_tail(run)
    why = f"exit code {code}" if code is not None else "it is no longer running"
    run.update_status(
        state="failed",
        error=(
            f"the training process (pid {pid}) ended without a final state ({why}); see {run.log_path}"
            + (f". Last log lines:\n{tail}" if tail else "")
        ),
    )
    return "failed"


def _enforce_cancel(run: RunDir, pid: int, grace: float, report: PollReport, group: bool) -> None:
    if not run.cancel_requested:
        return
    try:
        asked = float(run.cancel_path.read_text() or 0)
    except (OSError, ValueError):
        asked = run.cancel_path.stat().st_mtime
    waited = time.time() - asked
    if waited < grace:
        return
    sig = signal.SIGKILL if waited >= 2 * grace else signal.SIGTERM
    try:
        if group:  # a launched trainer leads its own session (start_new_session=True)
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        return
    report.signalled.append(run.run_id)


def cancel(run_id: str, root: str | Path | None = None) -> str:
    """Cancel a run: a queued run is cancelled at once; a running one is asked to stop (it checks
    for the cancel file every step) and gets SIGTERM from :func:`poll` if it has not after
    :data:`CANCEL_GRACE_S` seconds.

    Returns
    -------
    str
        ``"cancelled"``, ``"requested"`` or ``"finished"`` (it had already ended).
    """
    root = artifacts_root(root).resolve()
    run = open_run(run_id, root)
    with _locked(runs_root(root) / LOCK_FILE):
        try:
            st = run.read_status()
        except (FileNotFoundError, ValueError):
            st = None
        if st is not None and st.state not in ACTIVE_STATES:
            return "finished"
        job = _job(run) or {}
        if not job.get("pid") and (st is None or st.state == "queued") and job:
            run.update_status(state="cancelled", message="cancelled before it started")
            return "cancelled"
        run.request_cancel()
    return "requested"


def active_runs(root: str | Path | None = None) -> list[RunDir]:
    """Runs queued or running, oldest first."""
    rr = runs_root(root)
    out = []
    if not rr.is_dir():
        return out
    for path in rr.iterdir():
        if path.is_dir() and not path.is_symlink() and not path.name.startswith("."):
            run = RunDir(path)
            try:
                if run.read_status().state in ACTIVE_STATES:
                    out.append(run)
            except (FileNotFoundError, ValueError):
                continue
    return sorted(out, key=lambda r: r.path.stat().st_mtime_ns if r.path.exists() else 0)


def job_info(run: RunDir) -> dict | None:
    """The run's ``job.json`` (argument list, pid, start and end times), or ``None`` for a run
    not started through :func:`launch`."""
    return _job(run)


# -- the scheduler --------------------------------------------------------------------------------------


def ensure_scheduler(root: str | Path | None = None, limit: int | None = None) -> bool:
    """Start the background scheduler for ``root`` unless one is running; ``True`` if started."""
    root = artifacts_root(root).resolve()
    lock = runs_root(root) / SCHEDULER_LOCK
    with _locked(lock, blocking=False) as free:
        if not free:
            return False
    env = dict(os.environ)
    argv = [sys.executable, "-m", "ebsdlib.jobs", "--root", str(root), "--max-running", str(max_running(limit))]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    _CHILDREN[proc.pid] = proc
    return True


def scheduler_loop(root: str | Path, limit: int | None = None, interval: float = 1.0, idle_exit: float = 5.0) -> int:
    """Poll every ``interval`` seconds until nothing has been queued or running for ``idle_exit``
    seconds. Returns 0, or 1 at once when another scheduler holds the lock."""
    root = artifacts_root(root).resolve()
    with _locked(runs_root(root) / SCHEDULER_LOCK, blocking=False) as mine:
        if not mine:
            return 1
        idle_since = None
        while True:
            report = poll(root, limit)
            if report.running or report.queued or report.started:
                idle_since = None
            else:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since >= idle_exit:
                    return 0
            time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    """``python -m ebsdlib.jobs --root ROOT``: run the scheduler in the foreground."""
    parser = argparse.ArgumentParser(
        prog="python -m ebsdlib.jobs", description="Start queued training runs as slots free up."
    )
    parser.add_argument("--root", default=None, help="artifacts folder (default $EBSDLIB_ARTIFACTS or ./artifacts)")
    parser.add_argument("--max-running", type=int, default=None, help="simultaneous runs (default 2)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    args = parser.parse_args(argv)
    return scheduler_loop(args.root, args.max_running, args.interval)


if __name__ == "__main__":
    raise SystemExit(main())
