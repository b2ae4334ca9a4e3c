"""The Benchmarks page's scaling table: accuracy against patterns seen and model size, beside the ideal matcher.

Reads ``<artifacts>/bench/scaling.json`` (``python -m ebsdlib bench scaling``).
"""

from __future__ import annotations

import pandas as pd

from ebsdlib.metrics import log_slope


def scaling_table(doc: dict) -> pd.DataFrame:
    """One row per model and budget: parameters, patterns seen, accuracy [95 % CI], pair accuracy,
    and the ideal matcher's pair accuracy at the same dose."""
    oracle = next((o.get("oracle_Ni_vs_Ni3Fe") for o in doc.get("oracle", [])), None)
    rows = []
    for r in doc.get("rows", []):
        interval = f" [{r['accuracy_low']:.2f}, {r['accuracy_high']:.2f}]" if r.get("accuracy_low") is not None else ""
        rows.append(
            {
                "model": r["model"],
                "parameters": r.get("parameters"),
                "patterns seen": r["patterns_seen"],
                "accuracy": f"{r['accuracy']:.3f}{interval}",
                "Ni/Ni₃Fe pair accuracy": r.get("pair_accuracy"),
                "ideal matcher's pair accuracy": oracle,
                "training patterns/s": r.get("train_patterns_per_second"),
            }
        )
    return pd.DataFrame(rows)


def scaling_findings(doc: dict) -> list[str]:
    """Plain sentences: each model's change in accuracy per tenfold more patterns, and the gap left to
    the ideal matcher on the Ni/Ni₃Fe pair at the largest budget."""
    oracle = next((o.get("oracle_Ni_vs_Ni3Fe") for o in doc.get("oracle", [])), None)
    lines = []
    for model in dict.fromkeys(r["model"] for r in doc.get("rows", [])):
        mine = [r for r in doc["rows"] if r["model"] == model]
        largest = max(mine, key=lambda r: r["patterns_seen"])
        slope = log_slope(doc["rows"], model)
        trend = f"{slope:+.3f} accuracy per tenfold more patterns" if slope is not None else "one budget only"
        gap = (
            f"; at {largest['patterns_seen']:,} patterns its Ni/Ni₃Fe pair accuracy {largest['pair_accuracy']:.2f} is "
            f"{oracle - largest['pair_accuracy']:.2f} below the ideal matcher's {oracle:.2f}"
            if oracle is not None and largest.get("pair_accuracy") is not None
            else ""
        )
        lines.append(f"{model}: {trend}{gap}.")
    return lines
