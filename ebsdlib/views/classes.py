"""Headline numbers and per-class precision, recall and F1 of one or several runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ebsdlib.phases import Phase

PER_CLASS_COLUMNS = ("run", "phase", "label", "precision", "recall", "f1", "support")


def per_class_table(metrics: dict, phases: Sequence[Phase], run: str = "") -> pd.DataFrame:
    """Per-class precision, recall, F1 and support of one run, in phase order.

    Parameters
    ----------
    metrics
        The run's ``metrics.json``; ``per_class`` is either ``{phase: {precision, …}}`` or a
        list of such dictionaries with a ``phase`` key.
    phases
        The run's phases (for order and display names).
    run
        Label written in the ``run`` column.
    """
    per_class = metrics.get("per_class")
    if isinstance(per_class, list):
        per_class = {str(r.get("phase", i)): r for i, r in enumerate(per_class)}
    if not isinstance(per_class, dict):
        raise ValueError(
            f"metrics has per_class={per_class!r}; expected a dictionary per phase; "
            "re-evaluate the run with `python -m ebsdlib evaluate RUN`"
        )
    rows = []
    for p in phases:
        r = per_class.get(p.name, {})
        rows.append(
            {
                "run": run,
                "phase": p.name,
                "label": p.display_name,
                "precision": _float(r.get("precision")),
                "recall": _float(r.get("recall")),
                "f1": _float(r.get("f1", r.get("f1_score"))),
                "support": int(r.get("support", 0) or 0),
            }
        )
    return pd.DataFrame(rows, columns=list(PER_CLASS_COLUMNS))


def _float(v) -> float:
    return np.nan if v is None else float(v)


def compare_per_class(runs: Mapping[str, dict], phases: Sequence[Phase]) -> pd.DataFrame:
    """:func:`per_class_table` of several runs stacked (``run`` = the mapping's key)."""
    frames = [per_class_table(m, phases, run=label) for label, m in runs.items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(PER_CLASS_COLUMNS))


def per_class_long(table: pd.DataFrame) -> pd.DataFrame:
    """Per-class table in long form (``metric`` ∈ precision, recall, f1) for grouped bar charts."""
    return table.melt(
        id_vars=["run", "phase", "label", "support"],
        value_vars=["precision", "recall", "f1"],
        var_name="metric",
        value_name="value",
    )


def headline(metrics: dict | None) -> dict[str, float | None]:
    """The numbers shown on metric cards: accuracy (+ interval), balanced accuracy, macro F1,
    top-2 accuracy, ECE, Ni↔Ni₃Fe confusion and, for contrastive runs, probe and k-NN accuracy.
    Missing values are ``None``."""
    m = metrics or {}

    def get(key: str) -> float | None:
        v = m.get(key)
        if isinstance(v, dict):
            v = v.get("rate", v.get("value"))
        try:
            return None if v is None else float(v)
        except (TypeError, ValueError):
            return None

    ci = m.get("accuracy_ci95", m.get("accuracy_ci"))
    if isinstance(ci, dict):
        ci = [ci.get("low", ci.get("lower")), ci.get("high", ci.get("upper"))]
    lo, hi = ci if isinstance(ci, (list, tuple)) and len(ci) == 2 else (None, None)
    return {
        "accuracy": get("accuracy"),
        "accuracy_low": None if lo is None else float(lo),
        "accuracy_high": None if hi is None else float(hi),
        "balanced_accuracy": get("balanced_accuracy"),
        "macro_f1": get("macro_f1"),
        "top2_accuracy": get("top2_accuracy"),
        "ece": get("ece"),
        "ni_ni3fe_confusion": get("ni_ni3fe_confusion"),
        "ni_to_ni3fe": get("ni_to_ni3fe"),
        "ni3fe_to_ni": get("ni3fe_to_ni"),
        "probe_accuracy": get("probe_accuracy"),
        "knn_accuracy": get("knn_accuracy"),
        "n": get("n") if get("n") is not None else get("n_samples"),
    }


def same_split(configs: Mapping[str, dict]) -> tuple[bool, str]:
    """Whether runs were evaluated on the same data set and split; the message says how they differ."""
    keys = {label: (str(c.get("data", "")), bool(c.get("validation", False))) for label, c in configs.items()}
    distinct = set(keys.values())
    if len(distinct) <= 1:
        return True, ""
    parts = [f"{label}: {k[0]} ({'validation' if k[1] else 'test'} split)" for label, k in keys.items()]
    return False, "These runs were evaluated on different data: " + "; ".join(
        parts
    ) + ". Compare runs of the same data set and evaluation mode for a fair comparison."


def same_band_notes(metrics_by_label: dict[str, dict]) -> list[str]:
    """Plain-words notes on Hough runs whose candidate phases share their band families.

    Hough indexing sees only band geometry, so phases with the same bright band families
    (``metrics["hough"]["same_bands"]``, :meth:`ebsdlib.baseline.hough.HoughIndexer.same_bands`)
    get the same solution and score on every pattern; the run names the first of them.
    """
    notes = []
    for label, metrics in metrics_by_label.items():
        hough = (metrics or {}).get("hough") or {}
        for group in hough.get("same_bands") or []:
            families = " ".join("{" + "".join(str(i) for i in f) + "}" for f in hough["families"][group[0]])
            notes.append(
                f"{label}: Hough indexing cannot tell {', '.join(group)} apart. Their bright band families are "
                f"the same ({families}; fainter ones are below {hough.get('min_band_intensity', 0):.0%} of the "
                f"strongest band's intensity and are not detected), and band positions depend on neither the "
                f"chemistry nor the lattice parameter of a cubic phase. Every pattern gets the first of them, "
                f"{group[0]}, with equal probabilities."
            )
    return notes
