"""The report's tables: the runs' settings side by side, and the accuracy with its intervals.

The overall table is the Accuracy page's, with the Wilson 95 % interval of each accuracy beside the
bootstrap one the evaluation stored; per phase, recall gets its Wilson interval from the confusion
matrix (:func:`ebsdlib.simulate.limit.wilson_interval`, the intervals of the physical-limit curves).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from ebsdlib.methods import run_method_label
from ebsdlib.phases import Phase
from ebsdlib.report._load import ReportRun, evaluated_runs
from ebsdlib.views.confusion import confusion_array


def flatten_config(config: dict, prefix: str = "") -> dict[str, str]:
    """A nested ``config.json`` as ``{"a.b": "value"}``; lists and other values as compact JSON.

    Parameters
    ----------
    config
        The run's config.
    prefix
        Key prefix of this level (``"preprocess."``).
    """
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten_config(value, f"{name}."))
        elif isinstance(value, str):
            out[name] = value
        else:
            out[name] = json.dumps(value, ensure_ascii=False)
    return out


def config_table(runs: Sequence[ReportRun]) -> pd.DataFrame:
    """One row per setting, one column per run (``setting``, then the runs' labels); a setting a
    run lacks is empty."""
    flat = {r.label: flatten_config(r.config) for r in runs}
    keys: list[str] = []
    for f in flat.values():
        keys.extend(k for k in f if k not in keys)
    return pd.DataFrame([{"setting": k, **{label: f.get(k, "") for label, f in flat.items()}} for k in keys])


def accuracy_table(runs: Sequence[ReportRun]) -> pd.DataFrame:
    """The Accuracy page's overall table of the evaluated runs, with the Wilson 95 % interval of
    the accuracy beside the stored bootstrap interval; columns no run has are left out."""
    from ebsdlib.simulate.limit import wilson_interval
    from ebsdlib.views.classes import headline

    rows = []
    for r in evaluated_runs(runs):
        h = headline(r.metrics)
        n = int(h["n"]) if h["n"] is not None else 0
        wilson = wilson_interval(round(h["accuracy"] * n), n) if n and h["accuracy"] is not None else None
        rows.append(
            {
                "run": r.label,
                "run id": r.run_id,
                "method": run_method_label(r.config),
                "accuracy": h["accuracy"],
                "95% CI (bootstrap)": (
                    f"{h['accuracy_low']:.3f}–{h['accuracy_high']:.3f}" if h["accuracy_low"] is not None else None
                ),
                "95% CI (Wilson)": f"{wilson[0]:.3f}–{wilson[1]:.3f}" if wilson else None,
                "balanced accuracy": h["balanced_accuracy"],
                "macro F1": h["macro_f1"],
                "top-2 accuracy": h["top2_accuracy"],
                "ECE": h["ece"],
                "Ni↔Ni₃Fe confusion": h["ni_ni3fe_confusion"],
                "Ni → Ni₃Fe": h["ni_to_ni3fe"],
                "Ni₃Fe → Ni": h["ni3fe_to_ni"],
                "probe accuracy": h["probe_accuracy"],
                "k-NN accuracy": h["knn_accuracy"],
                "patterns": n or None,
            }
        )
    return pd.DataFrame(rows).dropna(axis=1, how="all")


def per_phase_table(runs: Sequence[ReportRun], phases: Sequence[Phase]) -> pd.DataFrame:
    """Per run and phase: precision, recall with its Wilson 95 % interval (from the confusion
    matrix: right ones of the phase's true patterns), F1 and support."""
    from ebsdlib.simulate.limit import wilson_interval
    from ebsdlib.views.classes import compare_per_class

    evaluated = evaluated_runs(runs)
    table = compare_per_class({r.label: r.metrics for r in evaluated}, phases)
    interval = []
    for r in evaluated:
        try:
            cm = confusion_array(r.metrics, len(r.phases))
        except ValueError:
            cm = None
        for p in phases:
            i = r.phase_names.index(p.name) if p.name in r.phase_names else None
            n = int(cm[i].sum()) if cm is not None and i is not None else 0
            lo_hi = wilson_interval(int(cm[i, i]), n) if n else None
            interval.append(f"{lo_hi[0]:.3f}–{lo_hi[1]:.3f}" if lo_hi else None)
    table.insert(table.columns.get_loc("recall") + 1, "recall 95% CI (Wilson)", interval)
    return table.drop(columns="phase").rename(columns={"label": "phase"})
