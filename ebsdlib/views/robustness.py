"""The Benchmarks page's robustness table: trained on one forward model or range, tested on another.

Reads ``<artifacts>/bench/robustness.json`` (``python -m ebsdlib bench robustness``) and the runs
of other conditions under ``<artifacts>/bench/robustness-conditions/NAME/``.
"""

from __future__ import annotations

import pandas as pd

#: Shares of Ni patterns called Ni a network should reach across forward models (issue target).
TRANSFER_TARGET = 0.95
#: Words of each training domain.
DOMAIN_WORDS = {
    "dynamical": "dynamical patterns",
    "kinematical": "kinematical patterns",
    "randomised": "a randomised mix (forward model, pattern centre, camera tilt, dose)",
}


def robustness_frame(doc: dict) -> pd.DataFrame:
    """One row per training domain and test set, as the benchmark wrote them."""
    frame = pd.DataFrame(doc.get("rows", []))
    return frame if len(frame) else pd.DataFrame(columns=["training", "test", "accuracy"])


def robustness_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Trained on (rows) × tested on (columns): accuracy with its 95 % interval and the Ni recall."""
    out = []
    for training, group in frame.groupby("training", sort=False):
        row = {"trained on": training}
        for r in group.itertuples():
            row[f"accuracy on {r.test}"] = _accuracy_cell(r)
            if pd.notna(getattr(r, "recall_Ni", None)):
                row[f"Ni called Ni, {r.test}"] = round(float(r.recall_Ni), 3)
        row["patterns seen"] = int(group["patterns_seen"].iloc[0]) if "patterns_seen" in group else None
        out.append(row)
    return pd.DataFrame(out)


def _accuracy_cell(row) -> str:
    """A row's accuracy with its 95 % interval when it has one: ``"0.667 [0.63, 0.70]"``."""
    low = getattr(row, "accuracy_low", None)
    interval = f" [{low:.2f}, {row.accuracy_high:.2f}]" if pd.notna(low) else ""
    return f"{row.accuracy:.3f}{interval}"


def robustness_findings(frame: pd.DataFrame) -> list[str]:
    """Plain sentences: how well each domain's network reads the other forward model's Ni patterns,
    against :data:`TRANSFER_TARGET`, and whether it tells the phases apart at all."""
    lines = []
    for training, group in frame.groupby("training", sort=False):
        tests = {r.test: r for r in group.itertuples()}
        own = tests.get(training)
        others = [r for t, r in tests.items() if t != training]
        words = DOMAIN_WORDS.get(training, training)
        for r in others if others else tests.values():
            ni = getattr(r, "recall_Ni", None)
            if ni is None or pd.isna(ni):
                continue
            verdict = "meets" if ni >= TRANSFER_TARGET else "misses"
            lines.append(
                f"Trained on {words}, the network calls {ni:.0%} of {r.test} Ni patterns Ni ({verdict} the "
                f"{TRANSFER_TARGET:.0%} target); its accuracy on {r.test} patterns is {r.accuracy:.2f}"
                + (f" against {own.accuracy:.2f} on its own kind." if own is not None else ".")
            )
        chance = 1 / max(1, sum(1 for c in frame.columns if c.startswith("recall_")))
        if all(r.accuracy_low <= chance for r in group.itertuples() if pd.notna(r.accuracy_low)):
            lines.append(
                f"The {training} network is not above chance ({chance:.2f}) on any test set (every 95 % "
                "interval reaches it): a Ni recall from it says "
                "which phase it prefers, not that it reads Ni; train longer or larger (a GPU) before reading "
                "transfer from it."
            )
    return lines


def conditions_table(docs: dict[str, dict]) -> pd.DataFrame:
    """:func:`robustness_table` of each condition, one block of rows each, with the condition's name,
    pattern size and dose in front."""
    return _stacked(docs, lambda doc: robustness_table(robustness_frame(doc)))


def matcher_table(doc: dict) -> pd.DataFrame:
    """The ideal matcher across forward models (``doc["ideal_matcher"]``): template model (rows) ×
    test set (columns), accuracy with its 95 % interval, the share of Ni called Ni and the Ni/Ni₃Fe
    pair accuracy; empty for a benchmark run before it was measured."""
    frame = pd.DataFrame(doc.get("ideal_matcher") or [])
    out = []
    for templates, group in frame.groupby("templates", sort=False) if len(frame) else ():
        row = {"templates from": templates}
        for r in group.itertuples():
            row[f"accuracy on {r.test}"] = _accuracy_cell(r)
            row[f"Ni called Ni, {r.test}"] = round(float(r.recall_Ni), 3)
            row[f"Ni/Ni₃Fe pair, {r.test}"] = None if pd.isna(r.pair_accuracy) else round(float(r.pair_accuracy), 3)
        out.append(row)
    return pd.DataFrame(out)


def matcher_findings(doc: dict) -> list[str]:
    """Plain sentences: how the ideal matcher reads the other forward model's Ni with one model's
    templates, against :data:`TRANSFER_TARGET`, and what that means for the networks' target."""
    frame = pd.DataFrame(doc.get("ideal_matcher") or [])
    if not len(frame):
        return []
    rows = {(r.templates, r.test): r for r in frame.itertuples()}
    lines, missed = [], {}
    for (templates, test), r in rows.items():
        if templates == test:
            continue
        own = rows.get((templates, templates))
        lines.append(
            f"The ideal matcher (true orientation and pattern centre known) with {templates} templates calls "
            f"{r.recall_Ni:.0%} of {test} Ni patterns Ni, accuracy {r.accuracy:.2f} on {test} patterns"
            + (f" against {own.accuracy:.2f} on {templates} ones." if own is not None else ".")
        )
        if r.recall_Ni < TRANSFER_TARGET:
            missed[templates] = float(r.recall_Ni)
    if missed:
        lines.append(
            "So the two forward models differ by more than the phases do: with the phases as "
            f"{' or '.join(missed)} patterns draw them, even at the known orientation and pattern centre, the other "
            f"model's Ni patterns are called Ni at {max(missed.values()):.0%} at best against the transfer target's "
            f"{TRANSFER_TARGET:.0%}: the target asks a network trained on one model for what that model's phase cues "
            "do not give."
        )
    return lines


def matcher_conditions_table(docs: dict[str, dict]) -> pd.DataFrame:
    """:func:`matcher_table` of each condition that has the ideal matcher, with its name, pattern size
    and dose in front."""
    return _stacked(docs, matcher_table)


def distinct_matchers(docs: dict[str, dict]) -> dict[str, dict]:
    """The conditions with the ideal matcher, those with the same matcher results (the same test sets:
    benchmarks that differ only in their trainings) under one name, ``"a, b"``."""
    names: dict[str, list[str]] = {}
    first: dict[str, dict] = {}
    for name, doc in docs.items():
        rows = doc.get("ideal_matcher") or []
        if not rows:
            continue
        key = repr([{k: v for k, v in r.items() if k != "seconds"} for r in rows] + [doc.get("config", {}).get("dose")])
        names.setdefault(key, []).append(name)
        first.setdefault(key, doc)
    return {", ".join(names[key]): doc for key, doc in first.items()}


def _stacked(docs: dict[str, dict], table_of) -> pd.DataFrame:
    """``table_of(doc)`` of each condition with rows, one block each, with the condition's name, pattern
    size and dose in front."""
    blocks = []
    for name, doc in docs.items():
        table = table_of(doc)
        if not len(table):
            continue
        cfg = doc.get("config", {})
        table.insert(0, "dose (e⁻/px)", cfg.get("dose"))
        table.insert(0, "pattern px", cfg.get("pattern_size"))
        table.insert(0, "condition", name)
        blocks.append(table)
    return pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame()
