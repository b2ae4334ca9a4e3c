"""The Benchmarks page's physical-limit panel: which cue tells Ni from Ni₃Fe, from which dose, how
much pattern-centre uncertainty erases it, and how much of it a PC fitted to the pattern gives back.

Reads the ``limit`` rows that ``python -m ebsdlib bench dose`` stores (made by
:func:`ebsdlib.simulate.limit.physical_limit`); the findings are sentences computed from them,
so the page says only what the curves show.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

#: Cue → legend label and colour.
CUE_STYLE = {
    "real": ("Ni vs Ni₃Fe (both cues)", "#000000"),
    "order": ("chemical order only (Ni₃Fe at Ni's a)", "#d62728"),
    "lattice": ("lattice parameter only (Ni at Ni₃Fe's a)", "#1f77b4"),
}
LIMIT_COLUMNS = [
    "cue",
    "pc_sigma",
    "pc_fitted",
    "dose",
    "pair_accuracy",
    "low",
    "high",
    "n",
    "pc_error_start",
    "pc_error_fitted",
]


def limit_frame(doc: dict) -> pd.DataFrame:
    """The ``limit`` rows of a dose benchmark, sorted by cue, fitted or not, σ and dose (empty
    when it has none; rows stored before the fitted curves read as not fitted)."""
    frame = pd.DataFrame(doc.get("limit") or [], columns=LIMIT_COLUMNS)
    if not len(frame):
        return frame
    frame["pc_fitted"] = frame["pc_fitted"].map(lambda v: v is True or v == 1.0)  # missing (stored before): False
    order = {c: i for i, c in enumerate(CUE_STYLE)}
    frame = frame[frame["cue"].isin(order)]
    return frame.sort_values(
        ["cue", "pc_fitted", "pc_sigma", "dose"], key=lambda c: c.map(order) if c.name == "cue" else c
    ).reset_index(drop=True)


def panels(frame: pd.DataFrame) -> list[tuple[float, bool]]:
    """The figure's panels ``(σ, fitted)``: each σ as the matcher was given it, then the fitted ones."""
    pairs = {(float(s), bool(f)) for s, f in zip(frame["pc_sigma"], frame["pc_fitted"], strict=True)}
    return sorted(pairs, key=lambda p: (p[1], p[0]))


def _sigma_text(sigma: float, fitted: bool = False) -> str:
    if fitted:
        return f"PC fitted to the pattern (from ±{sigma:g})"
    return "PC known exactly" if sigma == 0 else f"PC known to ±{sigma:g}"


def _part(frame: pd.DataFrame, cue: str, sigma: float, fitted: bool = False) -> pd.DataFrame:
    return frame[(frame["cue"] == cue) & (frame["pc_sigma"] == sigma) & (frame["pc_fitted"] == fitted)]


def limit_figure(frame: pd.DataFrame, height: int = 380):
    """Pair accuracy against dose (log axis), one panel per pattern-centre σ (and one per fitted
    start, :func:`panels`), one line per cue with its Wilson 95 % band; chance (0.5) dotted."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    shown = panels(frame)
    fig = make_subplots(rows=1, cols=len(shown), shared_yaxes=True, subplot_titles=[_sigma_text(*p) for p in shown])
    for col, (sigma, fitted) in enumerate(shown, start=1):
        for cue, (label, color) in CUE_STYLE.items():
            part = _part(frame, cue, sigma, fitted).sort_values("dose")
            if not len(part):
                continue
            r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
            fig.add_trace(
                go.Scatter(
                    x=np.r_[part["dose"], part["dose"][::-1]],
                    y=np.r_[part["high"], part["low"][::-1]],
                    fill="toself",
                    fillcolor=f"rgba({r},{g},{b},0.12)",
                    mode="lines",  # without it plotly marks the band's corners with stray dots
                    line=dict(width=0),
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=cue,
                ),
                row=1,
                col=col,
            )
            hover = [
                html.escape(label, quote=False)
                + f"<br>{_sigma_text(sigma, fitted)}<br>dose {d:g} e⁻/px"
                + f"<br>pair accuracy {a:.3f} (95% CI {lo:.3f}–{hi:.3f})"
                for d, a, lo, hi in zip(part["dose"], part["pair_accuracy"], part["low"], part["high"], strict=True)
            ]
            fig.add_trace(
                go.Scatter(
                    x=part["dose"],
                    y=part["pair_accuracy"],
                    mode="lines+markers",
                    name=html.escape(label, quote=False),
                    legendgroup=cue,
                    showlegend=col == 1,
                    line=dict(color=color, width=3, dash="dash" if cue == "real" else "solid"),
                    marker=dict(size=8),
                    hovertext=hover,
                    hoverinfo="text",
                ),
                row=1,
                col=col,
            )
        fig.add_hline(y=0.5, line=dict(color="#999999", dash="dot"), row=1, col=col)
    doses = sorted(frame["dose"].unique())
    fig.update_xaxes(
        type="log",
        tickvals=doses,
        ticktext=[f"{d:,.0f}" for d in doses],
        title_text="dose (e⁻ per pixel)",
    )
    fig.update_yaxes(range=[0.4, 1.02])
    fig.update_yaxes(title_text="ideal matcher's pair accuracy", row=1, col=1)
    fig.update_layout(
        height=height,
        font=dict(size=14),
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", y=-0.3),
        hovermode="closest",
    )
    return fig


def first_separating_dose(frame: pd.DataFrame, cue: str, sigma: float, fitted: bool = False) -> float | None:
    """The lowest dose from which the cue's pair accuracy stays above chance (its 95 % interval
    above 0.5 at that dose and every higher one); ``None`` if it never does."""
    part = _part(frame, cue, sigma, fitted).sort_values("dose")
    above = (part["low"] > 0.5).to_numpy()
    if not len(part) or not above[-1]:
        return None
    first = len(above) - int(np.argmin(above[::-1])) if not above.all() else 0
    return float(part["dose"].iloc[first])


def _acc(frame: pd.DataFrame, cue: str, sigma: float, dose: float, fitted: bool = False) -> float | None:
    hit = _part(frame, cue, sigma, fitted)
    hit = hit[hit["dose"] == dose]
    return float(hit["pair_accuracy"].iloc[0]) if len(hit) else None


def limit_findings(frame: pd.DataFrame, default_dose: float | None = None) -> list[str]:
    """Plain-words findings of the curves (markdown): which cue separates Ni from Ni₃Fe, from
    which dose, and how much pattern-centre uncertainty erases it; empty without rows.

    Parameters
    ----------
    frame
        :func:`limit_frame`.
    default_dose
        The simulator's default dose, named when it is among the doses.
    """
    if not len(frame):
        return []
    sigmas = sorted(frame.loc[~frame["pc_fitted"], "pc_sigma"].unique())
    doses = sorted(frame["dose"].unique())
    top, exact, worst = doses[-1], sigmas[0], sigmas[-1]
    out = []

    def since(cue: str, sigma: float, fitted: bool = False) -> str:
        d = first_separating_dose(frame, cue, sigma, fitted)
        return "at no dose measured" if d is None else f"from {d:,.0f} e⁻/px"

    order, lattice, real = (_acc(frame, c, exact, top) for c in ("order", "lattice", "real"))
    if None not in (order, lattice, real):
        stronger = "chemical order" if order > lattice else "the lattice parameter"
        out.append(
            f"**Which cue:** with the pattern centre known exactly, at {top:,.0f} e⁻/px the ideal matcher tells "
            f"Ni from Ni₃Fe at {real:.2f} with both cues, {order:.2f} on chemical order alone and {lattice:.2f} "
            f"on lattice parameter alone — {stronger} is the stronger cue."
        )
    out.append(
        f"**From which dose** (95 % interval above chance, {_sigma_text(exact)}): both cues {since('real', exact)}; "
        f"chemical order alone {since('order', exact)}; lattice parameter alone {since('lattice', exact)}."
    )
    if worst > exact:
        parts = []
        for cue, words in (("lattice", "lattice parameter alone"), ("order", "chemical order alone"), ("real", "both")):
            a0, a1 = _acc(frame, cue, exact, top), _acc(frame, cue, worst, top)
            if a0 is not None and a1 is not None:
                parts.append(f"{words} {a0:.2f} → {a1:.2f}")
        out.append(
            f"**Pattern-centre uncertainty:** at {top:,.0f} e⁻/px, from an exact PC to ±{worst:g}: "
            + "; ".join(parts)
            + f". With ±{worst:g}, both cues separate {since('real', worst)}."
        )
    fitted = frame[frame["pc_fitted"]]
    if len(fitted):
        start = float(fitted["pc_sigma"].iloc[0])
        parts = []
        for cue, words in (("lattice", "lattice parameter alone"), ("order", "chemical order alone"), ("real", "both")):
            a1, a2 = _acc(frame, cue, start, top), _acc(frame, cue, start, top, fitted=True)
            if a1 is not None and a2 is not None:
                parts.append(f"{words} {a1:.2f} → {a2:.2f}")
        top_rows = fitted[(fitted["cue"] == "real") & (fitted["dose"] == top)]
        error = (
            f" (median PC error {top_rows['pc_error_start'].iloc[0]:.4f} → {top_rows['pc_error_fitted'].iloc[0]:.4f} "
            "of the detector)"
            if len(top_rows) and pd.notna(top_rows["pc_error_fitted"].iloc[0])
            else ""
        )
        out.append(
            f"**Pattern centre fitted to the pattern:** starting from ±{start:g} and fitting each candidate's PC and "
            f"orientation to the pattern itself{error}, at {top:,.0f} e⁻/px: "
            + "; ".join(parts)
            + f". Fitted, both cues separate {since('real', start, True)}: the pattern holds its own PC, so an "
            "uncertain calibration is a limit only for a method that does not fit it."
        )
    if default_dose is not None and default_dose in doses:
        real0, real1 = _acc(frame, "real", exact, default_dose), _acc(frame, "real", worst, default_dose)
        order0 = _acc(frame, "order", exact, default_dose)
        lattice0 = _acc(frame, "lattice", exact, default_dose)
        if None not in (real0, real1, order0, lattice0):
            out.append(
                f"**At the default dose** ({default_dose:,.0f} e⁻/px) the limit is {real0:.2f} with an exact PC and "
                f"{real1:.2f} with ±{worst:g}; chemical order alone (the Z = 26 vs 28 contrast of the seed's "
                f"hypothesis) gives {order0:.2f}, lattice parameter alone {lattice0:.2f}."
            )
    return out
