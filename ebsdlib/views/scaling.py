"""The Benchmarks page's scaling table: accuracy against patterns seen and model size, beside the ideal matcher.

Reads ``<artifacts>/bench/scaling.json`` (``python -m ebsdlib bench scaling``) and the runs of other
conditions kept one folder each under ``<artifacts>/bench/scaling-conditions/``
(``bench scaling --out artifacts/bench/scaling-conditions/NAME``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd

from ebsdlib.metrics import LogTrend, log_slope, log_trend, pair_chance_loss


def scaling_table(doc: dict) -> pd.DataFrame:
    """One row per model and budget: parameters, patterns seen, accuracy [95 % CI], pair accuracy,
    and the ideal matcher's pair accuracy at the same dose."""
    oracle = _oracle_pair(doc)
    rows = []
    for r in doc.get("rows", []):
        rows.append(
            {
                "model": r["model"],
                "parameters": r.get("parameters"),
                "patterns seen": r["patterns_seen"],
                "accuracy": _accuracy_text(r),
                "Ni/Ni₃Fe pair accuracy": r.get("pair_accuracy"),
                "ideal matcher's pair accuracy": oracle,
                "stream loss, first → last epoch": _loss_change(r),
                "training patterns/s": r.get("train_patterns_per_second"),
            }
        )
    return pd.DataFrame(rows)


def _oracle_pair(doc: dict) -> float | None:
    """The ideal matcher's Ni/Ni₃Fe pair accuracy at the benchmark's dose (``None`` without one)."""
    return next((o.get("oracle_Ni_vs_Ni3Fe") for o in doc.get("oracle", [])), None)


def _accuracy_text(row: dict) -> str:
    """``"0.600 [0.55, 0.65]"``: a row's accuracy with its 95 % interval when it has one."""
    low, high = row.get("accuracy_low"), row.get("accuracy_high")
    return f"{row['accuracy']:.3f}" + (f" [{low:.2f}, {high:.2f}]" if low is not None else "")


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
    oracle = _oracle_pair(doc)
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


def _pair_floor(chance: float) -> float:
    """:func:`~ebsdlib.metrics.pair_chance_loss` of the phases whose chance loss (ln of their number)
    a row records."""
    return pair_chance_loss(round(math.exp(chance)))


def _stream_verdict(row: dict) -> str:
    """A sentence on whether the network fitted the stream: fresh patterns every step, so its
    training loss is a loss on unseen patterns of the training distribution. Below chance, it is also
    set against :func:`~ebsdlib.metrics.pair_chance_loss`: a loss above it means every gain came from
    the phases other than a pair it still guesses."""
    last, chance = row.get("train_loss_last"), row.get("chance_loss")
    if last is None or chance is None:
        return ""
    if last >= chance - LEARNT_MARGIN:
        return (
            f" Its loss on fresh patterns stayed at {last:.3f} (chance {chance:.3f}): within this budget it "
            "learnt nothing that holds on new patterns."
        )
    text = f" Its loss on fresh patterns fell to {last:.3f} (chance {chance:.3f}): it learnt from the stream"
    floor = _pair_floor(chance)
    if last > floor - LEARNT_MARGIN:
        return (
            f"{text}, but not the pair: {floor:.3f} is the loss of a network sure of the other phases that "
            "guesses between two, so at this budget its loss shows no sign of the last pair."
        )
    return f"{text}, below {floor:.3f} (sure of all but one pair, guessing that pair): it reads part of the pair."


def _pc_spread(cfg: dict) -> float:
    """A condition's σ of the pattern centre; conditions stored before it was a setting, or that left it
    ``None``, used the detector's default."""
    from ebsdlib.simulate.detector import DetectorModel

    spread = cfg.get("pc_spread")
    return float(DetectorModel().pc_spread if spread is None else spread)


def conditions_table(docs: dict[str, dict]) -> pd.DataFrame:
    """One row per network of each condition: what the patterns were (forward model, dose, pattern
    size, the network's input size, the σ of each pattern's PC, whether training flipped them), the
    budget, whether the stream loss left chance, the accuracy [95 % CI], Ni₃Al recall and the Ni/Ni₃Fe
    pair accuracy beside the ideal matcher's; sorted by forward model, dose, pattern size, input size,
    PC σ, flips and patterns seen."""
    rows = []
    for name, doc in docs.items():
        cfg = doc.get("config", {})
        oracle = _oracle_pair(doc)
        size = cfg.get("pattern_size")
        for r in doc["rows"]:
            rows.append(
                {
                    "condition": name,
                    "forward model": cfg.get("forward_model"),
                    "dose (e⁻/px)": cfg.get("dose"),
                    "pattern px": size,
                    "network input px": r.get("input_size") or cfg.get("input_size") or size,
                    "PC σ": _pc_spread(cfg),
                    "flips": "yes" if cfg.get("augment", True) else "no",
                    "model": r["model"],
                    "patterns seen": r["patterns_seen"],
                    "stream loss, first → last epoch": _loss_change(r),
                    "accuracy": _accuracy_text(r),
                    "Ni₃Al recall": r.get("recall_Ni3Al"),
                    "Ni/Ni₃Fe pair accuracy": r.get("pair_accuracy"),
                    "ideal matcher's pair accuracy": oracle,
                }
            )
    frame = pd.DataFrame(rows)
    if not len(frame):
        return frame
    keys = ["forward model", "dose (e⁻/px)", "pattern px", "network input px", "PC σ", "flips", "patterns seen"]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def stream_loss_frame(docs: dict[str, dict]) -> pd.DataFrame:
    """The streamed training loss after each epoch of every network whose benchmark recorded it
    (``train_loss_curve``): one row per condition, model and epoch with the patterns seen so far
    and the loss, the chance loss and :func:`~ebsdlib.metrics.pair_chance_loss` beside it."""
    rows = []
    for name, doc in docs.items():
        for r in doc.get("rows", []):
            curve, per_epoch, chance = r.get("train_loss_curve"), r.get("patterns_per_epoch"), r.get("chance_loss")
            if not curve or not per_epoch or chance is None:
                continue
            floor = _pair_floor(chance)
            for epoch, loss in enumerate(curve, start=1):
                rows.append(
                    {
                        "condition": name,
                        "model": r["model"],
                        "patterns seen": epoch * int(per_epoch),
                        "loss": float(loss),
                        "chance": chance,
                        "one pair guessed": floor,
                    }
                )
    return pd.DataFrame(rows, columns=["condition", "model", "patterns seen", "loss", "chance", "one pair guessed"])


def stream_loss_figure(frame: pd.DataFrame, height: int = 380):
    """Streamed training loss against patterns seen (log axis), one line per condition and model,
    with chance (nothing learnt) and the loss of a network sure of all phases but one pair it
    guesses: below that line, it has begun to read the pair."""
    import html

    import plotly.graph_objects as go

    fig = go.Figure()
    for (condition, model), part in frame.groupby(["condition", "model"], sort=False):
        label = html.escape(f"{condition} ({model})", quote=False)
        fig.add_trace(
            go.Scatter(
                x=part["patterns seen"],
                y=part["loss"],
                mode="lines",
                name=label,
                showlegend=True,  # with one line too: the legend names the condition
                hovertemplate=label + "<br>%{x:,} patterns seen<br>loss %{y:.3f}<extra></extra>",
            )
        )
    levels = _reference_levels(zip(frame["condition"], frame["chance"], frame["one pair guessed"], strict=True))
    for (chance, floor), whose in levels.items():
        fig.add_hline(y=chance, line=dict(color="#999999", dash="dot"), annotation_text=f"chance {chance:.3f}{whose}")
        fig.add_hline(
            y=floor,
            line=dict(color="#d95f02", dash="dash"),
            annotation_text=f"sure of all but one pair, guessing it: {floor:.3f}{whose}",
            annotation_position="bottom left",
        )
    fig.update_yaxes(title_text="streamed training loss")
    return _against_patterns_seen(fig, height)


def _reference_levels(series) -> dict[tuple[float, float], str]:
    """The distinct pairs of reference lines among ``series`` of ``(name, upper, lower)``, each with
    the text that says whose lines they are: empty when all series share one pair (the usual case:
    one dose, three phases), else " (name, name)" so that each line names its series (names
    escaped for Plotly's HTML-like text)."""
    import html

    whose: dict[tuple[float, float], list[str]] = {}
    for name, upper, lower in series:
        names = whose.setdefault((float(upper), float(lower)), [])
        if name not in names:
            names.append(name)
    if len(whose) < 2:
        return {levels: "" for levels in whose}
    return {levels: html.escape(" (" + ", ".join(names) + ")", quote=False) for levels, names in whose.items()}


def _against_patterns_seen(fig, height: int):
    """The layout the scaling figures share: patterns seen on a log axis, the legend below."""
    fig.update_xaxes(type="log", title_text="fresh patterns seen")
    fig.update_layout(
        height=height,
        font=dict(size=14),
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=-0.3),
        hovermode="closest",
    )
    return fig


#: The project's goal for the networks: a Ni/Ni₃Fe pair accuracy within this of the ideal matcher's.
PAIR_MARGIN = 0.05


@dataclass(frozen=True)
class PairTrend:
    """Networks that differ only in their budget, their pair accuracies and the log-linear trend
    through them (:func:`~ebsdlib.metrics.log_trend`) towards the ideal matcher less
    :data:`PAIR_MARGIN`."""

    label: str
    patterns_seen: tuple[int, ...]
    pair_accuracy: tuple[float, ...]
    conditions: tuple[str, ...]
    oracle: float
    trend: LogTrend
    patterns_per_second: float | None
    device: str | None


def _settings(cfg: dict, row: dict) -> tuple:
    """What a network's patterns and training were, all but its model and budget: two networks
    compare on these only when they match."""
    size = cfg.get("pattern_size")
    return (
        cfg.get("forward_model"),
        cfg.get("dose"),
        size,
        row.get("input_size") or cfg.get("input_size") or size,
        _pc_spread(cfg),
        bool(cfg.get("augment", True)),
        cfg.get("n_per_phase"),
        cfg.get("batch_size"),
        cfg.get("lr"),
    )


def _settings_text(settings: tuple) -> str:
    """``"dynamical, 4,000 e⁻/px, 128 px"``, with the input size, PC σ and flips where not the default."""
    forward, dose, size, input_size, spread, augment = settings[:6]
    extra = "".join(
        [
            f", input {input_size} px" if input_size != size else "",
            f", PC σ {spread:g}" if spread != _pc_spread({}) else "",
            "" if augment else ", no flips",
        ]
    )
    dose_text = f"{dose:,.0f} e⁻/px" if dose is not None else "dose not recorded"
    size_text = f"{size} px" if size else "size not recorded"
    return f"{forward or 'forward model not recorded'}, {dose_text}, {size_text}{extra}"


class _Point(NamedTuple):
    """One network of a trend: its budget, pair accuracy with its standard error, and where it came from."""

    patterns_seen: int
    pair_accuracy: float
    pair_sd: float | None
    condition: str
    oracle: float
    patterns_per_second: float | None
    device: str | None


def _pair_sd(row: dict) -> float | None:
    """The binomial standard error of a row's pair accuracy: over its ``pair_n`` patterns, or, for rows
    stored before that was recorded, over the two phases' share of a balanced test split (``n_test``
    times 2 over the number of phases with a recall), which is what the scaling benchmark tests on."""
    p, n = row["pair_accuracy"], row.get("pair_n")
    if n is None:
        phases = sum(1 for key in row if key.startswith("recall_"))
        n = row["n_test"] * 2 / phases if row.get("n_test") and phases >= 2 else None
    return math.sqrt(p * (1 - p) / n) if n else None


def pair_trends(docs: dict[str, dict]) -> list[PairTrend]:
    """The Ni/Ni₃Fe pair accuracy against patterns seen for every set of networks, across the stored
    benchmarks ``docs`` (name → document), that share all settings but the budget and hold at least
    three budgets (two distinct), extrapolated to the ideal matcher's pair accuracy less
    :data:`PAIR_MARGIN`; sets without the ideal matcher are left out. The slope's interval allows for
    each test score's binomial error (:func:`_pair_sd`) as well as the points' scatter."""
    groups: dict[tuple, list[_Point]] = {}
    for name, doc in docs.items():
        cfg, oracle = doc.get("config", {}), _oracle_pair(doc)
        device = doc.get("environment", {}).get("device") or cfg.get("device")
        for r in doc.get("rows", []):
            if r.get("pair_accuracy") is None or oracle is None:
                continue
            point = _Point(
                int(r["patterns_seen"]),
                float(r["pair_accuracy"]),
                _pair_sd(r),
                name,
                float(oracle),
                r.get("train_patterns_per_second"),
                device,
            )
            groups.setdefault((r["model"], *_settings(cfg, r)), []).append(point)
    trends = []
    for key, points in groups.items():
        points.sort(key=lambda p: (p.patterns_seen, p.condition))
        if len(points) < 3 or len({p.patterns_seen for p in points}) < 2:
            continue
        seen = tuple(p.patterns_seen for p in points)
        pair = tuple(p.pair_accuracy for p in points)
        sds = [p.pair_sd for p in points]
        last = points[-1]
        trends.append(
            PairTrend(
                label=f"{key[0]} ({_settings_text(key[1:])})",
                patterns_seen=seen,
                pair_accuracy=pair,
                conditions=tuple(p.condition for p in points),
                oracle=last.oracle,
                trend=log_trend(seen, pair, target=last.oracle - PAIR_MARGIN, score_sd=None if None in sds else sds),
                patterns_per_second=last.patterns_per_second,
                device=last.device,
            )
        )
    return trends


def _patterns_text(n: float) -> str:
    """``"5.5×10⁸"``: a count of patterns in scientific notation."""
    exponent = math.floor(math.log10(n))
    if round(n / 10**exponent, 1) >= 10:  # 998,400 is 1.0×10⁶, not 10.0×10⁵
        exponent += 1
    digits = str(exponent).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{n / 10**exponent:.1f}×10{digits}"


def _duration_text(seconds: float) -> str:
    """``"29 days"``, ``"5.2 h"`` or ``"14 min"``."""
    if seconds >= 3 * 86400:
        return f"{seconds / 86400:,.0f} days"
    if seconds >= 3 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"


def trend_findings(trends: list[PairTrend]) -> list[str]:
    """One sentence per :class:`PairTrend`: the measured gain per tenfold more patterns with its
    interval, where the line reaches the ideal matcher less :data:`PAIR_MARGIN`, and how long that
    budget takes at the throughput measured for the largest one."""
    lines = []
    for t in trends:
        fit = t.trend
        head = (
            f"{t.label}: Ni/Ni₃Fe pair accuracy {fit.slope:+.3f} per tenfold more patterns "
            f"[{fit.slope_low:+.3f}, {fit.slope_high:+.3f}] over {fit.n_points} networks "
            f"({_patterns_text(t.patterns_seen[0])} to {_patterns_text(t.patterns_seen[-1])} patterns, r = {fit.r:.2f})"
        )
        goal = f"{fit.target:.2f} (the ideal matcher's {t.oracle:.2f} less {PAIR_MARGIN:.2f})"
        if max(t.pair_accuracy) >= fit.target:
            lines.append(f"{head}; it has reached {goal}.")
            continue
        if fit.patterns_needed is None:
            lines.append(f"{head}; at this trend it does not reach {goal}.")
            continue
        high = _patterns_text(fit.patterns_high) if fit.patterns_high is not None else "unbounded"
        text = (
            f"{head}. If the trend holds, it reaches {goal} at about {_patterns_text(fit.patterns_needed)} "
            f"patterns ({_patterns_text(fit.patterns_low)} to {high})"
        )
        if t.patterns_per_second:
            where = {"cpu": " on the CPU", "cuda": " on the GPU"}.get(t.device, f" on {t.device}") if t.device else ""
            text += (
                f": {_duration_text(fit.patterns_needed / t.patterns_per_second)} at the "
                f"{t.patterns_per_second:,.0f} patterns/s measured{where}"
            )
        lines.append(text + ".")
    return lines


def pair_trend_figure(trends: list[PairTrend], height: int = 380):
    """Pair accuracy against patterns seen (log axis) for each :class:`PairTrend`: the measured
    networks as markers, the fitted line carried on to where it meets the target, and the ideal
    matcher and target as lines."""
    import html

    import plotly.graph_objects as go

    fig = go.Figure()
    palette = ["#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]
    for i, t in enumerate(trends):
        color, label = palette[i % len(palette)], html.escape(t.label, quote=False)
        fig.add_trace(
            go.Scatter(
                x=list(t.patterns_seen),
                y=list(t.pair_accuracy),
                mode="markers",
                marker=dict(size=10, color=color),
                name=label,
                customdata=list(t.conditions),
                hovertemplate="%{customdata}<br>%{x:,} patterns seen<br>pair accuracy %{y:.3f}<extra></extra>",
            )
        )
        end = max(t.patterns_seen[-1], t.trend.patterns_needed or 0.0)
        xs = [t.patterns_seen[0], end]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[t.trend.intercept + t.trend.slope * math.log10(x) for x in xs],
                mode="lines",
                line=dict(color=color, dash="dash"),
                name=f"{label}: fitted trend",
                hoverinfo="skip",
            )
        )
    for (oracle, target), whose in _reference_levels((t.label, t.oracle, t.trend.target) for t in trends).items():
        fig.add_hline(y=oracle, line=dict(color="#444444"), annotation_text=f"ideal matcher {oracle:.2f}{whose}")
        fig.add_hline(
            y=target,
            line=dict(color="#d95f02", dash="dot"),
            annotation_text=f"goal {target:.2f}{whose}",
            annotation_position="bottom right",
        )
    fig.update_yaxes(title_text="Ni/Ni₃Fe pair accuracy", range=[0.4, 1.02])
    return _against_patterns_seen(fig, height)


def model_size_table(docs: dict[str, dict]) -> pd.DataFrame:
    """Networks of different models trained with the same settings and patterns seen, across the
    stored benchmarks ``docs``: one row each with its parameters, accuracy [95 % CI], Ni/Ni₃Fe pair
    accuracy, last-epoch stream loss, ECE and training throughput; grouped by budget and settings,
    smallest model first. Budgets and settings with one model only are left out."""
    groups: dict[tuple, list[tuple[str, dict]]] = {}
    for name, doc in docs.items():
        cfg = doc.get("config", {})
        for r in doc.get("rows", []):
            groups.setdefault((r["patterns_seen"], *_settings(cfg, r)), []).append((name, r))
    rows = []
    for key, members in groups.items():
        if len({r["model"] for _, r in members}) < 2:
            continue
        for name, r in sorted(members, key=lambda m: (m[1].get("parameters") or 0, m[0])):
            rows.append(
                {
                    "patterns seen": key[0],
                    "settings": _settings_text(key[1:]),
                    "model": r["model"],
                    "parameters": r.get("parameters"),
                    "accuracy": _accuracy_text(r),
                    "Ni/Ni₃Fe pair accuracy": r.get("pair_accuracy"),
                    "stream loss, last epoch": r.get("train_loss_last"),
                    "ECE": r.get("ece"),
                    "training patterns/s": r.get("train_patterns_per_second"),
                    "condition": name,
                }
            )
    return pd.DataFrame(rows)
