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
                "stream loss, first → last epoch": _loss_change(r),
                "training patterns/s": r.get("train_patterns_per_second"),
            }
        )
    return pd.DataFrame(rows)


def _loss_change(row: dict) -> str | None:
    """``"1.10 → 0.85 (chance 1.10)"``: the streamed training loss of the first and last epoch."""
    first, last, chance = row.get("train_loss_first"), row.get("train_loss_last"), row.get("chance_loss")
    if first is None or last is None:
        return None
    return f"{first:.3f} → {last:.3f}" + (f" (chance {chance:.3f})" if chance is not None else "")


def scaling_findings(doc: dict) -> list[str]:
    """Plain sentences: each model's change in accuracy per tenfold more patterns, the gap left to
    the ideal matcher on the Ni/Ni₃Fe pair at the largest budget, and whether that network learnt
    anything from the stream (its last epoch's loss on fresh patterns against chance)."""
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
        lines.append(f"{model}: {trend}{gap}.{_stream_verdict(largest)}")
    return lines


#: A last-epoch stream loss this far under chance counts as learning from the stream.
LEARNT_MARGIN = 0.02


def _stream_verdict(row: dict) -> str:
    """A sentence on whether the network fitted the stream: fresh patterns every step, so its
    training loss is a loss on unseen patterns of the training distribution."""
    last, chance = row.get("train_loss_last"), row.get("chance_loss")
    if last is None or chance is None:
        return ""
    if last < chance - LEARNT_MARGIN:
        return f" Its loss on fresh patterns fell to {last:.3f} (chance {chance:.3f}): it learnt from the stream."
    return (
        f" Its loss on fresh patterns stayed at {last:.3f} (chance {chance:.3f}): within this budget it "
        "learnt nothing that holds on new patterns."
    )
