"""Whether a process is alive: the one check that job control, run deletion, resume and the demo's
background rebuild share.

A process that has exited but was not reaped by its parent (a *zombie*) still has a pid, and
``os.kill(pid, 0)`` succeeds on it, yet it will never write another line: it is not alive. On
Linux the state letter in ``/proc/<pid>/stat`` says so for any process (``Z`` zombie, ``X``
dead). Elsewhere a zombie child of this process is recognised with ``waitid(..., WNOWAIT)``,
which looks at its exit without reaping it, so a ``subprocess.Popen`` that owns the child still
collects its exit code.
"""

from __future__ import annotations

import os
from pathlib import Path

#: ``/proc/<pid>/stat`` states of a process that has ended.
_ENDED_STATES = ("Z", "X")


def pid_alive(pid: int | None, marker: str | None = None) -> bool:
    """Whether ``pid`` is a running process (not a zombie).

    Parameters
    ----------
    pid
        Process id; ``None``, a non-integer or a pid ≤ 0 is never alive (``os.kill(0, …)`` and
        negative pids address process groups, not a process).
    marker
        Where the system shows command lines (``/proc`` on Linux): also require that the
        process's command line contains this text, which guards against a reused pid.

    Returns
    -------
    bool
        ``False`` for a pid that does not exist, has ended (zombie) or, with ``marker``, runs
        another command; ``True`` for a live process, including one of another user.
    """
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    state = _proc_state(pid)
    if state is not None:
        if state in _ENDED_STATES:
            return False
        if marker is None:
            return True
        try:
            return marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
    if _ended_child(pid):
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # exists, belongs to another user
        return True
    return True


def _proc_state(pid: int) -> str | None:
    """The state letter of ``/proc/<pid>/stat``, or ``None`` where ``/proc`` does not show it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name in parentheses may hold spaces
    return fields[0] if fields else None


def _ended_child(pid: int) -> bool:
    """Whether ``pid`` is a child of this process that has exited, without reaping it."""
    if not hasattr(os, "waitid"):
        return False
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except (ChildProcessError, OSError, OverflowError):
        return False
