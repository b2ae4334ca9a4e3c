"""The Accuracy page's reliability diagram: how sure each run says it is against how often it is right."""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd

#: Colours of the runs in the diagram, in order.
RUN_COLORS = ("#6a3d9a", "#ff7f00", "#1b9e77", "#e7298a", "#666666", "#a6761d")


def is_calibrated(m: Mapping) -> bool:
    """Whether a run's ``metrics.json`` says its probabilities are calibrated (a temperature or a
    vector calibrator folded into its classifier)."""
    return m.get("temperature") is not None or bool(m.get("calibrator"))


def calibrator_label(m: Mapping) -> str:
    """``temperature``, ``vector scaling`` (``… (auto)`` when cross-validation chose it), or ``—``."""
    entry = m.get("calibrator")
    if entry:
        name = "vector scaling" if entry.get("method") == "vector" else "temperature"
        return name + (" (auto)" if entry.get("cv_nll") else "")
    return "temperature" if m.get("temperature") is not None else "—"


def reliability_frame(metrics: Mapping[str, dict]) -> pd.DataFrame:
    """One row per run, state (``calibrated`` / ``uncalibrated``) and non-empty confidence bin:
    ``run``, ``state``, ``confidence``, ``accuracy``, ``count``, ``ece``."""
    rows = []
    for run, m in metrics.items():
        calibrated = is_calibrated(m)
        states = [("calibrated" if calibrated else "as trained", m.get("calibration"), m.get("ece"))]
        if calibrated and m.get("calibration_uncalibrated"):
            states.append(("uncalibrated", m["calibration_uncalibrated"], m.get("ece_uncalibrated")))
        for state, bins, ece in states:
            if not bins:
                continue
            for conf, acc, count in zip(bins["confidence"], bins["accuracy"], bins["count"], strict=True):
                if count:
                    rows.append(
                        {"run": run, "state": state, "confidence": conf, "accuracy": acc, "count": count, "ece": ece}
                    )
    return pd.DataFrame(rows, columns=["run", "state", "confidence", "accuracy", "count", "ece"])


def calibration_table(metrics: Mapping[str, dict]) -> pd.DataFrame:
    """Per run: calibrator, temperature, ECE before and after, the split it was fitted on and whether
    held out."""
    rows = [
        {
            "run": run,
            "calibrator": calibrator_label(m),
            "temperature": m.get("temperature"),
            "ECE uncalibrated": m.get("ece_uncalibrated", m.get("ece") if not is_calibrated(m) else None),
            "ECE calibrated": m.get("ece") if is_calibrated(m) else None,
            "fitted on": m.get("calibration_split") or "—",
            "held out": m.get("calibration_held_out"),
        }
        for run, m in metrics.items()
    ]
    return pd.DataFrame(rows)


def reliability_figure(frame: pd.DataFrame, height: int = 420):
    """Accuracy against confidence per bin (marker size ∝ patterns), one colour per run, solid
    calibrated, dashed uncalibrated; the diagonal is perfect calibration."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#999999", dash="dot"), name="perfectly calibrated"
        )
    )
    for i, (run, part) in enumerate(frame.groupby("run", sort=False)):
        color = RUN_COLORS[i % len(RUN_COLORS)]
        for state, sub in part.groupby("state", sort=False):
            label = html.escape(f"{run} ({state}, ECE {sub['ece'].iloc[0]:.3f})", quote=False)
            size = 6 + 14 * (sub["count"] / max(part["count"].max(), 1)) ** 0.5
            fig.add_trace(
                go.Scatter(
                    x=sub["confidence"],
                    y=sub["accuracy"],
                    mode="lines+markers",
                    name=label,
                    line=dict(
                        color=color,
                        width=3 if state != "uncalibrated" else 2,
                        dash="dash" if state == "uncalibrated" else "solid",
                    ),
                    marker=dict(size=size, color=color),
                    hovertext=[
                        f"{label}<br>confidence {c:.2f}: right {a:.2f} of {int(n)} patterns"
                        for c, a, n in zip(sub["confidence"], sub["accuracy"], sub["count"], strict=True)
                    ],
                    hoverinfo="text",
                )
            )
    fig.update_layout(
        title="Reliability: how often a run is right at each confidence",
        height=height,
        font=dict(size=14),
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", y=-0.25),
        xaxis=dict(title="confidence (top probability)", range=[0, 1.02]),
        yaxis=dict(title="accuracy in the bin", range=[0, 1.02]),
    )
    return fig
