"""Where benchmark results go and how they read: environment record, JSON/CSV, text tables."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ebsdlib.io import atomic_write, write_json
from ebsdlib.paths import artifacts_root, portable_path


def bench_root(root: str | Path | None = None) -> Path:
    """``<artifacts>/bench`` (honours ``$EBSDLIB_ARTIFACTS``)."""
    return artifacts_root(root) / "bench"


def work_folder(name: str, work_dir: str | Path | None = None) -> Path:
    """A benchmark's work folder: ``work_dir`` (made if missing), or a fresh temporary folder
    ``<artifacts>/scratch/bench-<name>-…``."""
    import tempfile

    from ebsdlib.paths import artifacts_root

    if work_dir is not None:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
        return work
    scratch = artifacts_root() / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"bench-{name}-", dir=scratch))


def kept_work_dir(work: Path, keep: bool) -> str | None:
    """A result document's ``work_dir``: where the kept work folder is, relative to the artifacts
    folder's parent when it lies inside it (as runs store their data sets, so a committed result names
    no machine's home), absolute elsewhere; ``None`` when the folder is deleted at the end."""
    return portable_path(work) if keep else None


def environment(device: str = "cpu") -> dict:
    """What the numbers were measured on: device, CPU, threads, load, versions, time."""
    import torch

    info = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": device,
        "device_name": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["device_name"] = torch.cuda.get_device_name()
    return info


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_results(
    doc: dict, json_path: str | Path, rows: Sequence[dict] | None = None, csv_path: str | Path | None = None
) -> Path:
    """Write ``doc`` as JSON and, when given, ``rows`` as CSV (both atomically)."""
    write_json(json_path, doc)
    if rows is not None and csv_path is not None:
        import pandas as pd

        frame = pd.DataFrame(list(rows))
        atomic_write(csv_path, lambda p: frame.to_csv(p, index=False, float_format="%.6g"))
    return Path(json_path)


def text_table(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]]) -> str:
    """Fixed-width table: ``columns`` are ``(key, header, format)`` (``""`` for ``str``)."""

    def cell(row: dict, key: str, fmt: str) -> str:
        v = row.get(key)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "—"
        return format(v, fmt) if fmt else str(v)

    body = [[cell(r, k, f) for k, _, f in columns] for r in rows]
    widths = [max([len(h)] + [len(b[i]) for b in body]) for i, (_, h, _) in enumerate(columns)]
    lines = ["  ".join(h.rjust(w) for (_, h, _), w in zip(columns, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(b, widths, strict=True)) for b in body]
    return "\n".join(lines)
