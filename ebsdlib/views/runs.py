"""The runs table of the Home page, the best run per method and the data sets at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ebsdlib.methods import method_keys, method_label, method_of_run
from ebsdlib.paths import datasets_root
from ebsdlib.runs import RunSummary

#: Columns of :func:`runs_table`, in display order.
RUN_COLUMNS = (
    "run_id",
    "name",
    "method",
    "method_label",
    "model",
    "dataset",
    "eval_split",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "balanced_accuracy",
    "macro_f1",
    "ni_ni3fe_confusion",
    "state",
    "progress",
    "epochs",
    "created",
    "error",
)

RankBy = Literal["accuracy", "balanced_accuracy", "macro_f1"]


def _ci(metrics: dict) -> tuple[float, float]:
    ci = metrics.get("accuracy_ci95", metrics.get("accuracy_ci"))
    if isinstance(ci, dict):
        lo, hi = ci.get("low", ci.get("lower")), ci.get("high", ci.get("upper"))
    elif isinstance(ci, (list, tuple)) and len(ci) == 2:
        lo, hi = ci
    else:
        lo = hi = None
    return (float(lo) if lo is not None else np.nan, float(hi) if hi is not None else np.nan)


def _num(metrics: dict, key: str) -> float:
    v = metrics.get(key)
    if isinstance(v, dict):  # e.g. {"rate": …, "ni_as_ni3fe": …}
        v = v.get("rate", v.get("value"))
    try:
        return float(v)
    except (TypeError, ValueError):
        return np.nan


def _created(summary: RunSummary) -> datetime:
    if summary.status is not None and summary.status.started:
        return datetime.fromtimestamp(summary.status.started)
    try:
        return datetime.fromtimestamp(summary.path.stat().st_mtime)
    except OSError:
        return datetime.fromtimestamp(0)


def _method(config: dict) -> str:
    """The run's :mod:`ebsdlib.methods` key; ``""`` for a config that names none (yet)."""
    if "method" not in config and "loss" not in config:
        return ""
    return method_of_run(config).key  # an unknown method is a ValueError: the row shows as broken


def runs_table(summaries: Sequence[RunSummary]) -> pd.DataFrame:
    """One row per run with the figures the Home page sorts and filters on.

    Parameters
    ----------
    summaries
        From :func:`ebsdlib.runs.list_runs`; broken folders are kept with their error.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RUN_COLUMNS`; ``method`` is the key of :mod:`ebsdlib.methods` (old run
        folders mapped by :func:`~ebsdlib.methods.method_of_run`), ``method_label`` its label;
        metric columns are NaN until a run is evaluated.
    """
    rows = []
    for s in summaries:
        try:
            rows.append(_row(s))
        except (TypeError, ValueError, OverflowError, AttributeError) as e:  # values of the wrong kind:
            rows.append(
                _row(
                    RunSummary(
                        s.run_id,
                        s.path,
                        "broken",  # shown as broken, never a crash
                        error=f"{type(e).__name__}: {e} (in {s.path})",
                    )
                )
            )
    df = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    return df.astype({"progress": float, "epochs": int}) if len(df) else df


def _row(s: RunSummary) -> dict:
    """The runs-table row of one run."""
    cfg, m = s.config or {}, s.metrics or {}
    lo, hi = _ci(m)
    status = s.status
    method = _method(cfg)
    return {
        "run_id": s.run_id,
        "name": str(cfg.get("name") or ""),
        "method": method,
        "method_label": method_label(method) if method else "",
        "model": str(cfg.get("model", "")),
        "dataset": Path(str(cfg.get("data", ""))).name,
        "eval_split": "val" if cfg.get("validation") else ("test" if cfg else ""),
        "accuracy": _num(m, "accuracy"),
        "accuracy_low": lo,
        "accuracy_high": hi,
        "balanced_accuracy": _num(m, "balanced_accuracy"),
        "macro_f1": _num(m, "macro_f1"),
        "ni_ni3fe_confusion": _num(m, "ni_ni3fe_confusion"),
        "state": s.state,
        "progress": float(status.progress) if status is not None else (1.0 if m else 0.0),
        "epochs": int(cfg.get("epochs", 0) or 0),
        "created": _created(s),
        "error": s.error or (status.error if status is not None and status.error else ""),
    }


def filter_runs(
    table: pd.DataFrame,
    *,
    methods: Sequence[str] = (),
    states: Sequence[str] = (),
    datasets: Sequence[str] = (),
    text: str = "",
) -> pd.DataFrame:
    """Rows matching every given filter; an empty filter keeps everything.

    Parameters
    ----------
    table
        From :func:`runs_table`.
    methods, states, datasets
        Allowed values of those columns (``methods``: keys of :mod:`ebsdlib.methods`).
    text
        Case-insensitive substring of the run id, name or model.
    """
    keep = pd.Series(True, index=table.index)
    for col, allowed in (("method", methods), ("state", states), ("dataset", datasets)):
        if allowed:
            keep &= table[col].isin(list(allowed))
    if text:
        t = text.lower()
        hay = table["run_id"].str.lower() + " " + table["name"].str.lower() + " " + table["model"].str.lower()
        keep &= hay.str.contains(t, regex=False)
    return table[keep]


def best_runs(table: pd.DataFrame, by: RankBy = "accuracy") -> dict[str, pd.Series]:
    """The best completed, evaluated run of each method (ties: the newer run).

    Parameters
    ----------
    table
        From :func:`runs_table`.
    by
        Column to rank on.

    Returns
    -------
    dict
        Method key (``"ce"``, ``"supcon"``, ``"dictionary"``, …) → that run's row, in the
        registry's order (:data:`ebsdlib.methods.METHODS`), methods it does not know last.
    """
    if by not in ("accuracy", "balanced_accuracy", "macro_f1"):
        raise ValueError(f"by={by!r} is not allowed; use 'accuracy', 'balanced_accuracy' or 'macro_f1'")
    done = table[(table["state"] == "completed") & table[by].notna()] if len(table) else table
    out: dict[str, pd.Series] = {}
    if not len(done):
        return out
    done = done.sort_values([by, "created"], ascending=[False, False])
    order = [*method_keys(), *sorted(set(done["method"]) - set(method_keys()) - {""})]
    for method in order:
        rows = done[done["method"] == method]
        if len(rows):
            out[method] = rows.iloc[0]
    return out


def run_label(row: pd.Series | dict) -> str:
    """Short label of a run for pickers and legends: ``name`` or ``method · model · id`` (the
    method's short label)."""
    name = row.get("name") or ""
    if name:
        return f"{name} ({row['run_id']})"
    method = row.get("method") or "?"
    return f"{method_label(method, short=True)} · {row.get('model', '?')} · {row['run_id']}"


def short_labels(table: pd.DataFrame, run_ids: Sequence[str]) -> dict[str, str]:
    """Short, unique labels for plot axes and legends: the run's name, else ``method model`` (the
    method's short label); runs
    that would share a label get their start time (then their id) added.

    Parameters
    ----------
    table
        From :func:`runs_table`.
    run_ids
        The runs to label.
    """
    rows = table.set_index("run_id")
    base = {}
    for r in run_ids:
        row = rows.loc[r] if r in rows.index else None
        if row is None:
            base[r] = r
        elif row["name"]:
            base[r] = str(row["name"])
        else:
            method = method_label(row["method"], short=True) if row["method"] else ""
            base[r] = f"{method} {row['model']}".strip() or r
    out = dict(base)
    for step in ("time", "id"):
        seen: dict[str, int] = {}
        for label in out.values():
            seen[label] = seen.get(label, 0) + 1
        for r, label in list(out.items()):
            if seen[label] > 1:
                if step == "time" and r in rows.index:
                    out[r] = f"{base[r]} · {rows.loc[r, 'created']:%m-%d %H:%M}"
                elif step == "id":
                    out[r] = f"{base[r]} · {r}"
    return out


def default_pair(table: pd.DataFrame) -> tuple[str | None, str | None]:
    """Run ids to show first: the best runs of the first two methods of the registry that have one
    (the best cross-entropy run and the best contrastive run).

    With one method only: its best run and the next best evaluated run; with nothing evaluated,
    the newest run and ``None``.
    """
    best = best_runs(table)
    ids = [r["run_id"] for r in best.values()]
    if len(ids) >= 2:
        return ids[0], ids[1]
    evaluated = table[table["accuracy"].notna()].sort_values("accuracy", ascending=False) if len(table) else table
    others = [r for r in evaluated["run_id"] if r not in ids] if len(evaluated) else []
    if ids:
        return ids[0], (others[0] if others else None)
    return (table["run_id"].iloc[0] if len(table) else None), None


def list_datasets(root: str | Path | None = None) -> list[Path]:
    """HDF5 data sets under ``artifacts/datasets`` (sorted; symlinks leaving the folder excluded)."""
    base = datasets_root(root)
    if not base.is_dir():
        return []
    base_r = base.resolve()
    out = []
    for p in sorted(base.rglob("*")):
        if p.suffix.lower() not in (".h5", ".hdf5") or not p.is_file():
            continue
        r = p.resolve()
        if base_r in r.parents:
            out.append(p)
    return out


def datasets_table(paths: Sequence[Path], base: str | Path | None = None) -> pd.DataFrame:
    """One row per data set: patterns, size, phases with counts, scan shape; unreadable ones say why.

    Parameters
    ----------
    paths
        Data-set files (e.g. from :func:`list_datasets`).
    base
        Folder the ``dataset`` column is relative to (the file name when ``None``).
    """
    from ebsdlib.data.format import EBSDDataset

    rows = []
    for p in paths:
        name = str(Path(p).relative_to(base)) if base is not None else Path(p).name
        row = {
            "dataset": name,
            "patterns": np.nan,
            "pattern_size": "",
            "phases": "",
            "kind": "",
            "scan_shape": "",
            "error": "",
        }
        try:
            with EBSDDataset(p) as ds:
                s = ds.summary()
                counts = s.get("counts", {})
                row["patterns"] = len(ds)
                row["pattern_size"] = "×".join(str(v) for v in ds.pattern_shape)
                row["phases"] = ", ".join(
                    f"{name} {c.get('total', 0)}" for name, c in counts.items() if c.get("total", 0)
                ) or ", ".join(ds.phase_names)
                shape = ds.scan_shape
                row["kind"] = "scan" if shape else "labelled set"
                row["scan_shape"] = f"{shape[0]}×{shape[1]}" if shape else ""
        except Exception as e:  # noqa: BLE001 - an unreadable file is listed with its reason, not raised
            row["error"] = f"{type(e).__name__}: {e}"
        rows.append(row)
    return pd.DataFrame(rows, columns=["dataset", "kind", "patterns", "pattern_size", "phases", "scan_shape", "error"])
