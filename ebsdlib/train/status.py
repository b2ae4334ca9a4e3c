"""The run folder as the trainer writes it: run lookup, throttled ``status.json``, ``history.csv``."""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path

from ebsdlib.io import write_text
from ebsdlib.paths import runs_root
from ebsdlib.runs import RunDir, Status, check_run_id

#: Columns of ``history.csv``, in order. ``micro_batch_size``: patterns per forward/backward pass
#: in the epoch — the batch size, unless running out of memory halved it (:mod:`ebsdlib.train.memory`).
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_accuracy", "lr", "seconds", "micro_batch_size")


def as_run_dir(run: RunDir | str | Path, root: str | Path | None = None) -> RunDir:
    """The run folder for a :class:`RunDir`, a folder path, or a run id under ``artifacts/runs``.

    Raises ``FileNotFoundError`` naming the id or path when there is no such run folder.
    """
    if isinstance(run, RunDir):
        path = run.path
    elif isinstance(run, Path) or ("/" in str(run)) or ("\\" in str(run)):
        path = Path(run)
    else:
        path = runs_root(root) / check_run_id(str(run))
    if not path.is_dir():
        raise FileNotFoundError(
            f"run {str(run)!r} not found (looked for the folder {str(path)!r}); `python -m ebsdlib runs` lists the runs"
        )
    return RunDir(path)


class StatusReporter:
    """Keeps a run's status in memory and writes it at most every ``min_interval`` seconds.

    State changes and epoch ends are written at once (``force=True``); step updates are
    throttled so that a fast loop does not spend its time on the file system.

    Parameters
    ----------
    run
        The run folder.
    min_interval
        Least time between two throttled writes, in seconds.
    """

    def __init__(self, run: RunDir, min_interval: float = 0.5):
        self.run = run
        self.min_interval = min_interval
        try:
            self.status = run.read_status()
        except (FileNotFoundError, ValueError):
            self.status = Status()
        self._last_write = 0.0

    def due(self) -> bool:
        """Whether a throttled update would be written now."""
        return time.monotonic() - self._last_write >= self.min_interval

    def update(self, force: bool = False, **changes) -> None:
        """Change status fields; write when forced or when the interval has passed."""
        for key, value in changes.items():
            if key not in Status.__dataclass_fields__:
                raise KeyError(f"unknown status field {key!r}")
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            setattr(self.status, key, value)
        now = time.monotonic()
        if force or now - self._last_write >= self.min_interval:
            self.run.write_status(self.status)
            self._last_write = now


def write_history(run: RunDir, rows: list[dict]) -> None:
    """Write ``history.csv`` (one row per finished epoch) atomically; missing values stay empty."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in HISTORY_COLUMNS})
    write_text(run.history_path, buf.getvalue())


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return value
