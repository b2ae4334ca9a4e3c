"""An error on one rank stops every rank: published in the store, watched by a thread on each rank.

Without this, the other ranks of a job whose rank died would sit in their next collective
until it times out (half an hour by default). A failing rank publishes its error under one
key of the process group's store (:func:`publish_failure`; the first error is kept). Each
rank's :class:`FailureWatch` looks at that key every :data:`POLL_SECONDS`; when an error
appears it runs the context's callback (rank 0 writes ``failed`` with that error into
``status.json``) and ends the process with exit code 1. The thread runs even while the main
thread waits inside a collective, which is exactly when it is needed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Any

#: Seconds between two looks at the store.
POLL_SECONDS = 0.2
#: The store key of the job's first error ("rank R: Type: message").
FAILURE_KEY = "ebsdlib/failed"


def publish_failure(store: Any, message: str) -> None:
    """Tell the other ranks that this one failed; a first error already published is kept.

    ``store`` is the process group's ``torch.distributed.Store``. Best effort: the store may be
    gone with the process that hosted it.
    """
    with contextlib.suppress(Exception):  # a lost store must not hide the error being reported
        store.compare_set(FAILURE_KEY, "", message)


def remote_failure(store: Any) -> str | None:
    """The error published so far (by another rank, when this one has published none), or ``None``."""
    try:
        if store.check([FAILURE_KEY]):
            return store.get(FAILURE_KEY).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the store went away with its host: nothing to read
        return None
    return None


def wait_for_exit() -> None:
    """Block this thread: the watchdog is ending the process."""
    while True:
        time.sleep(60)


class FailureWatch:
    """The thread that ends this process when another rank publishes an error.

    Parameters
    ----------
    store
        The process group's key-value store, where errors are published.
    rank
        This process's rank (for the message it prints before exiting).
    failing
        The lock the context takes while it reports its own failure; the watch does not end
        the process while the main thread holds it.
    interval
        Seconds between polls.
    """

    def __init__(self, store: Any, rank: int, failing: threading.Lock, interval: float = POLL_SECONDS):
        self.store = store
        self.rank = rank
        self.failing = failing
        self.interval = interval
        self.callbacks: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ebsdlib-failure-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            message = remote_failure(self.store)
            if message is None or self._stop.is_set():
                continue
            if not self.failing.acquire(blocking=False):
                return  # this rank's own failure is being handled by the main thread
            for callback in self.callbacks:
                try:
                    callback(message)
                except Exception as e:  # noqa: BLE001 - still exit: the job cannot go on
                    print(f"ebsdlib: while recording another rank's failure: {e}", file=sys.stderr)
            print(f"ebsdlib: rank {self.rank} stops because {message}", file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
