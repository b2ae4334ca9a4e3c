"""``python -m ebsdlib ARGS`` that stops at a fault point and waits there to be killed.

    python fault_worker.py SPEC MARK train --config CONFIG --run-id ID …

At the fault point the worker writes its pid to the file ``MARK`` and sleeps; the test then
sends SIGKILL, so the process dies exactly there. ``SPEC`` is one of

``step:N``
    before the N-th training step of the run (steps counted over all epochs);
``save:NAME:N``
    in the N-th checkpoint written to ``NAME``: half of its temporary file is on disk;
``replace:NAME:N``
    in the N-th atomic write onto ``NAME``: its temporary file is complete, not yet renamed.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path


def pause(mark: str) -> None:
    Path(mark).write_text(str(os.getpid()))
    while True:
        time.sleep(60)


def install(spec: str, mark: str) -> None:
    kind, *args = spec.split(":")
    count = 0

    def due() -> bool:
        nonlocal count
        count += 1
        return count == int(args[-1])

    if kind == "step":
        from ebsdlib.train.memory import Backoff

        accumulate = Backoff.accumulate

        def step(self, *a, **kw):
            if due():
                pause(mark)
            return accumulate(self, *a, **kw)

        Backoff.accumulate = step
    elif kind == "save":
        import torch

        save = torch.save

        def partial_save(obj, f, *a, **kw):
            if isinstance(f, (str, Path)) and Path(f).name.startswith(f".{args[0]}.") and due():
                buf = io.BytesIO()
                save(obj, buf, *a, **kw)
                Path(f).write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
                pause(mark)
            return save(obj, f, *a, **kw)

        torch.save = partial_save
    elif kind == "replace":
        replace = os.replace

        def late_replace(src, dst, *a, **kw):
            if Path(dst).name == args[0] and due():
                pause(mark)
            return replace(src, dst, *a, **kw)

        os.replace = late_replace
    else:
        raise SystemExit(f"unknown fault {spec!r}")


if __name__ == "__main__":
    install(sys.argv[1], sys.argv[2])
    from ebsdlib.cli import main

    raise SystemExit(main(sys.argv[3:]))
