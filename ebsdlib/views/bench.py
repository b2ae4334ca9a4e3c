"""The Benchmarks page's tables and figures: accuracy against dose, throughput, baseline vs networks.

Reads what ``python -m ebsdlib bench dose|speed|robustness`` wrote (``<artifacts>/bench/dose.json``,
``speed.json``, ``robustness.json``) and the runs table; plotly is imported inside the figure functions.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ebsdlib.methods import get_method, indexing_methods, method_keys, method_label
from ebsdlib.paths import artifacts_root

#: Colour of a method the registry does not know (a file written by another version).
OTHER_COLOR = "#1f77b4"
ORACLE_LABEL = "oracle (true orientation known)"

#: The command that makes each benchmark file, for empty states.
COMMANDS = {
    "dose": "python -m ebsdlib bench dose",
    "speed": "python -m ebsdlib bench speed",
    "robustness": "python -m ebsdlib bench robustness",
    "scaling": "python -m ebsdlib bench scaling",
}

Bench = Literal["dose", "speed", "robustness", "scaling"]


def bench_path(name: Bench, root: str | Path | None = None) -> Path:
    """``<artifacts>/bench/<name>.json``."""
    return artifacts_root(root) / "bench" / f"{name}.json"


def load_bench(name: Bench, root: str | Path | None = None) -> tuple[dict | None, str | None]:
    """A benchmark document and, when it cannot be used, why (``(None, None)`` when it was never made)."""
    path = bench_path(name, root)
    if not path.exists():
        return None, None
    return read_bench_file(path, COMMANDS[name])


def conditions_dir(name: Bench, root: str | Path | None = None) -> Path:
    """``<artifacts>/bench/<name>-conditions``: one folder per run of the ``name`` benchmark under other conditions."""
    return artifacts_root(root) / "bench" / f"{name}-conditions"


def load_conditions(name: Bench, root: str | Path | None = None) -> tuple[dict[str, dict], list[str]]:
    """The ``name`` benchmark made under other conditions, kept one folder each under
    ``<artifacts>/bench/<name>-conditions/`` (``--out`` of the bench command): every document by
    folder name (sorted), and a sentence for each one that cannot be used."""
    docs, problems = {}, []
    for path in sorted(conditions_dir(name, root).glob(f"*/{name}.json")):
        doc, problem = read_bench_file(path, f"{COMMANDS[name]} --out {path.parent}")
        if problem:
            problems.append(problem)
        else:
            docs[path.parent.name] = doc
    return docs, problems


def read_bench_file(path: Path, command: str) -> tuple[dict | None, str | None]:
    """The benchmark document in ``path`` (written by ``command``), or ``None`` and why it cannot be used."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        return None, f"{path} cannot be read ({type(e).__name__}: {e}); run `{command}` again"
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
        return None, f"{path} has no 'rows' list; it was not written by `{command}` — run it again"
    return doc, None


def dose_frame(doc: dict) -> pd.DataFrame:
    """One row per dose and method, sorted by method (in :data:`ebsdlib.methods.METHODS` order) and
    dose, with the method's display label."""
    frame = pd.DataFrame(doc["rows"])
    if not len(frame):
        return frame
    frame["label"] = frame["method"].map(method_label)
    order = {m: i for i, m in enumerate(method_keys())}
    return frame.sort_values(["method", "dose"], key=lambda c: c.map(order) if c.name == "method" else c).reset_index(
        drop=True
    )


def oracle_frame(doc: dict) -> pd.DataFrame:
    """Per dose: the oracle's Ni-vs-Ni₃Fe accuracy, its confusion (1 − accuracy) and the pattern correlations."""
    rows = []
    for o in doc.get("oracle") or []:
        acc = o.get("oracle_Ni_vs_Ni3Fe")
        rows.append(
            {
                "dose": float(o["dose"]),
                "oracle_pair_accuracy": acc,
                "oracle_ni_ni3fe_confusion": None if acc is None else 1.0 - acc,
                "oracle_ni_vs_ni3al": o.get("oracle_Ni_vs_Ni3Al"),
                "corr_clean": o.get("corr_clean"),
                "corr_repeat": o.get("corr_repeat"),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "dose",
            "oracle_pair_accuracy",
            "oracle_ni_ni3fe_confusion",
            "oracle_ni_vs_ni3al",
            "corr_clean",
            "corr_repeat",
        ],
    )


def dose_table(frame: pd.DataFrame, oracle: pd.DataFrame) -> pd.DataFrame:
    """The numbers behind the dose plots: one row per dose and method (a network's with where it
    started, each phase's recall where the benchmark stored it), the oracle beside."""
    cols = [
        "dose",
        "label",
        "accuracy",
        "accuracy_low",
        "accuracy_high",
        "ni_ni3fe_confusion",
        "ni_to_ni3fe",
        "ni3fe_to_ni",
        "pair_accuracy",
        "n_test",
        "seconds",
        "init",
    ]
    # rows stored since they existed, in the phase table's order (the order the rows wrote them)
    recalls = [c for c in frame.columns if c.startswith("recall_")]
    out = frame[[c for c in cols if c in frame.columns] + recalls]
    if len(oracle):
        out = out.merge(oracle[["dose", "oracle_pair_accuracy"]], on="dose", how="left")
    return out


#: What the dose plots show, for their caption.
DOSE_CAPTION = (
    "Bands: bootstrap 95 % intervals of the accuracy. The oracle is a template matcher that knows each "
    "pattern's true orientation and pattern centre: where it falls to 0.5 confusion, Ni and Ni₃Fe cannot be "
    "told apart from the pattern at that dose by any method."
)


def dose_settings(doc: dict) -> str:
    """One sentence of a dose benchmark's settings: patterns per phase and size, how the networks
    were trained (epochs, streamed or stored, where each loss started), the dictionary, and
    where it ran."""
    cfg = doc.get("config", {})
    size = cfg.get("pattern_size", "?")
    if not cfg.get("stream"):
        fed = "of the stored patterns"
    elif isinstance(cfg.get("stream_patterns"), list):
        per_dose = ", ".join(
            f"{count:,} at {dose:,g}" for dose, count in zip(cfg.get("doses", []), cfg["stream_patterns"], strict=False)
        )
        fed = f"of freshly streamed patterns (per epoch {per_dose} e⁻/px)"
    elif cfg.get("stream_patterns"):
        fed = f"of {cfg['stream_patterns']:,} freshly streamed patterns"
    else:
        fed = "of freshly streamed patterns"
    text = (
        f"Per dose {cfg.get('n_per_phase', '?')} patterns per phase of {size}×{size} pixels; networks: "
        f"{cfg.get('model', '?')}, {cfg.get('epochs', '?')} epochs {fed}"
    )
    if cfg.get("ce_init") == "higher_dose":
        text += ", each dose's cross-entropy network fine-tuned from the next-higher dose's, the highest from scratch"
    if cfg.get("contrastive_init") == "ce":
        epochs = cfg.get("contrastive_epochs") or cfg.get("epochs", "?")
        text += f" (SupCon and contrastive: {epochs} more from the cross-entropy encoder)"
    return text + f"; dictionary: {cfg.get('resolution', '?')}° sampling. " + environment_line(doc) + "."


#: The issue's goals for the dose benchmark: the best network at least as accurate as refined
#: dictionary indexing at every dose, and within this of the ideal matcher's Ni/Ni₃Fe pair
#: accuracy at the highest dose.
PAIR_GOAL_GAP = 0.05


def dose_findings(frame: pd.DataFrame, oracle: pd.DataFrame) -> list[str]:
    """What a dose benchmark shows against its goals: per dose the best network beside refined
    dictionary indexing (or plain, when refinement was not run), how many doses the network wins
    (against dictionary indexing + pattern fit too, where it was run), and at the highest dose
    the best network's and the best indexing method's Ni/Ni₃Fe pair accuracy beside the ideal
    matcher's."""
    if not len(frame):
        return []
    networks = frame[frame["method"].map(lambda m: m in method_keys() and get_method(m).is_network)]
    if not len(networks):
        return []
    reference = "dictionary_refined" if (frame["method"] == "dictionary_refined").any() else "dictionary"
    fitted = frame[frame["method"] == "dictionary_fitted"].set_index("dose")["accuracy"]
    lines, wins, doses = [], 0, sorted(frame["dose"].unique())
    fit_wins = fit_doses = 0
    for dose in doses:
        nets = networks[networks["dose"] == dose]
        ref = frame[(frame["dose"] == dose) & (frame["method"] == reference)]
        if not len(nets):
            continue
        best = nets.loc[nets["accuracy"].idxmax()]
        text = f"dose {dose:g}: best network {best['label']} {best['accuracy']:.3f}"
        if len(ref):
            gap = best["accuracy"] - ref["accuracy"].iloc[0]
            wins += gap >= 0
            text += f" against {method_label(reference)} {ref['accuracy'].iloc[0]:.3f} ({gap:+.3f})"
        if dose in fitted.index:
            fit_doses += 1
            fit_wins += best["accuracy"] >= fitted[dose]
        lines.append(text)
    headline = frame["method"].eq(reference).any()
    if headline:
        lines.insert(
            0,
            f"The best network is at least as accurate as {method_label(reference)} at {wins} of "
            f"{len(lines)} doses (goal: every dose).",
        )
    if fit_doses:
        lines.insert(
            int(headline),
            f"Against {method_label('dictionary_fitted')}, the best network is at least as accurate at {fit_wins} "
            f"of {fit_doses} doses.",
        )
    top = doses[-1]
    nets = networks[(networks["dose"] == top) & networks["pair_accuracy"].notna()]
    ideal = oracle.loc[oracle["dose"] == top, "oracle_pair_accuracy"].dropna() if len(oracle) else pd.Series()
    if len(nets) and len(ideal):
        best = nets.loc[nets["pair_accuracy"].idxmax()]
        gap = float(ideal.iloc[0] - best["pair_accuracy"])
        met = "met" if gap <= PAIR_GOAL_GAP else "not met"
        lines.append(
            f"At the highest dose ({top:g}) the best network's Ni/Ni₃Fe pair accuracy is "
            f"{best['pair_accuracy']:.3f} ({best['label']}) against the ideal matcher's {ideal.iloc[0]:.3f}: "
            f"{abs(gap):.3f} {'short' if gap > 0 else 'above it'} (goal: within {PAIR_GOAL_GAP:g}, {met})."
        )
    indexing = frame[
        (frame["dose"] == top)
        & frame["pair_accuracy"].notna()
        & frame["method"].map(lambda m: m in method_keys() and not get_method(m).is_network)
    ]
    if len(indexing) and len(ideal):
        best = indexing.loc[indexing["pair_accuracy"].idxmax()]
        lines.append(
            f"Of the indexing methods, {best['label']} reads the pair best at the highest dose: "
            f"{best['pair_accuracy']:.3f} against the ideal matcher's {ideal.iloc[0]:.3f}."
        )
    return lines


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def dose_figure(
    frame: pd.DataFrame,
    oracle: pd.DataFrame | None = None,
    metric: Literal["accuracy", "ni_ni3fe_confusion"] = "accuracy",
    height: int = 420,
):
    """Metric against dose (log axis), one line per method; accuracy with its 95 % band.

    ``"accuracy"`` draws chance (1/3) as a dotted line; ``"ni_ni3fe_confusion"`` draws 0.5 —
    a method that knows a pattern is Ni or Ni₃Fe but not which — and the oracle's confusion.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    for method, part in frame.groupby("method", sort=False):
        part = part.sort_values("dose")
        color = get_method(method).color if method in method_keys() else OTHER_COLOR
        label = html.escape(method_label(method), quote=False)
        if metric == "accuracy" and part["accuracy_low"].notna().all():
            fig.add_trace(
                go.Scatter(
                    x=np.r_[part["dose"], part["dose"][::-1]],
                    y=np.r_[part["accuracy_high"], part["accuracy_low"][::-1]],
                    mode="lines",
                    fill="toself",
                    fillcolor=_rgba(color, 0.15),
                    line=dict(width=0),
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=label,
                    name=f"{label} 95% CI",
                )
            )
        hover = [
            f"{label}<br>dose {d:g} e⁻/px<br>{metric.replace('_', ' ')} {v:.3f}"
            + (f" (95% CI {lo:.3f}–{hi:.3f})" if metric == "accuracy" and not np.isnan(lo) else "")
            + f"<br>{int(n)} test patterns"
            for d, v, lo, hi, n in zip(
                part["dose"],
                part[metric],
                part["accuracy_low"],
                part["accuracy_high"],
                part["n_test"].fillna(0),
                strict=False,
            )
        ]
        fig.add_trace(
            go.Scatter(
                x=part["dose"],
                y=part[metric],
                mode="lines+markers",
                name=label,
                legendgroup=label,
                line=dict(color=color, width=3),
                marker=dict(size=9),
                hovertext=hover,
                hoverinfo="text",
            )
        )
    if metric == "accuracy":
        chance, title, ytitle = 1 / 3, "Accuracy against dose (3 phases)", "accuracy"
    else:
        chance, title, ytitle = 0.5, "Ni↔Ni₃Fe confusion against dose", "Ni↔Ni₃Fe confusion"
        if oracle is not None and len(oracle) and oracle["oracle_ni_ni3fe_confusion"].notna().any():
            o = oracle.sort_values("dose")
            fig.add_trace(
                go.Scatter(
                    x=o["dose"],
                    y=o["oracle_ni_ni3fe_confusion"],
                    mode="lines+markers",
                    name=ORACLE_LABEL,
                    line=dict(color="black", dash="dash", width=2),
                    marker=dict(symbol="diamond", size=8),
                )
            )
    fig.add_hline(
        y=chance,
        line=dict(color="#999999", dash="dot"),
        annotation_text="chance" if metric == "accuracy" else "chance between Ni and Ni₃Fe",
        annotation_position="bottom right" if metric == "accuracy" else "top left",
    )
    doses = sorted(set(frame["dose"]))
    fig.update_layout(
        title=title,
        height=height,
        font=dict(size=15),
        hovermode="closest",
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", y=-0.25),
        xaxis=dict(
            title="dose (detected electrons per pixel)",
            type="log",
            tickvals=doses,
            ticktext=[f"{d:,.0f}" if d >= 1 else f"{d:g}" for d in doses],
        ),
        yaxis=dict(title=ytitle, range=[0, 1.02]),
    )
    return fig


def throughput_table(doc: dict) -> pd.DataFrame:
    """The speed benchmark's stages: patterns/s (median of the timed rounds) and peak memory."""
    cols = {
        "kind": "stage",
        "pipeline": "pipeline",
        "precision": "precision",
        "patterns": "patterns",
        "patterns_per_second": "patterns/s",
        "patterns_per_cpu_second": "patterns/CPU-s",
        "seconds": "seconds",
        "peak_rss_mb": "peak RSS (MB)",
        "python_peak_mb": "Python peak (MB)",
        "cuda_peak_mb": "CUDA peak (MB)",
    }
    frame = pd.DataFrame(doc["rows"])
    if not len(frame):
        return pd.DataFrame(columns=list(cols.values()))
    frame = frame[[c for c in cols if c in frame.columns]].rename(columns=cols)
    return frame.dropna(axis=1, how="all")


def ratio_table(doc: dict) -> pd.DataFrame:
    """End-to-end ÷ model alone against its goal, and end-to-end ÷ naive, per stage and precision,
    from the wall clock and from the process's CPU time."""

    def verdict(ok: bool | None) -> str:
        return "meets the goal" if ok else "below the goal"

    rows = []
    for r in doc.get("ratios") or []:
        rows.append(
            {
                "stage": r["kind"],
                "precision": r["precision"],
                "end-to-end ÷ model alone": r.get("end_to_end_over_model"),
                "verdict": verdict(r.get("meets_goal")),
                "same, CPU time": r.get("end_to_end_over_model_cpu"),
                "verdict (CPU time)": verdict(r.get("meets_goal_cpu")),
                "goal": r.get("goal"),
                "end-to-end ÷ naive": r.get("end_to_end_over_naive"),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "stage",
            "precision",
            "end-to-end ÷ model alone",
            "verdict",
            "same, CPU time",
            "verdict (CPU time)",
            "goal",
            "end-to-end ÷ naive",
        ],
    )


def environment_line(doc: dict) -> str:
    """When, where and how big: one line under a benchmark's tables."""
    env = doc.get("environment") or {}
    load = env.get("load_average")
    parts = [
        f"measured {env.get('created', '?')} on {env.get('device', '?')} ({env.get('device_name', '?')}, "
        f"{env.get('cpu_count', '?')} CPUs, torch {env.get('torch', '?')})"
    ]
    if load:
        parts.append(f"load average {load[0]:.1f} at the start")
    if doc.get("seconds") is not None:
        parts.append(f"took {doc['seconds']:.0f} s")
    for update in doc.get("updates") or []:  # ``bench dose --update``: some methods measured again later
        u_env = update.get("environment") or {}
        if update.get("limit"):  # ``bench dose --update-limit``
            parts.append(
                f"physical limit taken apart again with {update['limit']} {u_env.get('created', '?')} on "
                f"{u_env.get('device', '?')} (took {update.get('seconds', 0):.0f} s)"
            )
            continue
        names = ", ".join(method_label(m) for m in update.get("methods", []))
        checked = "" if update.get("data_checked") else ", data not checked against the stored patterns"
        parts.append(
            f"{names} measured again {u_env.get('created', '?')} on {u_env.get('device', '?')} "
            f"(took {update.get('seconds', 0):.0f} s{checked})"
        )
    return "; ".join(parts)


def method_comparison(table: pd.DataFrame, metrics: Mapping[str, dict | None]) -> pd.DataFrame:
    """Evaluated runs of every method side by side: accuracy with its interval, Ni↔Ni₃Fe, patterns/s.

    Parameters
    ----------
    table
        :func:`ebsdlib.views.runs.runs_table`.
    metrics
        Run id → its ``metrics.json`` (for the throughput), ``None`` when unreadable.
    """
    columns = [
        "run_id",
        "method",
        "model",
        "dataset",
        "eval_split",
        "accuracy",
        "accuracy_low",
        "accuracy_high",
        "ni_ni3fe_confusion",
        "patterns_per_second",
    ]
    if not len(table):
        return pd.DataFrame(columns=columns)
    done = table[(table["state"] == "completed") & table["accuracy"].notna()].copy()
    done["baseline"] = done["method"].isin([m.key for m in indexing_methods()])
    done["method"] = done["method_label"]
    done["patterns_per_second"] = [
        (metrics.get(r) or {}).get("inference_patterns_per_second", np.nan) for r in done["run_id"]
    ]
    return done.sort_values(["dataset", "accuracy"], ascending=[True, False])[[*columns, "baseline"]].reset_index(
        drop=True
    )
