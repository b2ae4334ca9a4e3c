"""Benchmarks: accuracy against dose per method, the throughput table, and the conventional
baselines (dictionary and Hough indexing) beside the networks."""

import cache
import streamlit as st
import widgets

from ebsdlib.simulate.config import DEFAULT_DOSE
from ebsdlib.views.bench import (
    COMMANDS,
    DOSE_CAPTION,
    dose_figure,
    dose_findings,
    dose_frame,
    dose_settings,
    dose_table,
    environment_line,
    method_comparison,
    oracle_frame,
    ratio_table,
    throughput_table,
)
from ebsdlib.views.limit import limit_figure, limit_findings, limit_frame
from ebsdlib.views.robustness import conditions_table as robustness_conditions
from ebsdlib.views.robustness import (
    distinct_matchers,
    matcher_conditions_table,
    matcher_findings,
    matcher_table,
    robustness_findings,
    robustness_frame,
    robustness_table,
)
from ebsdlib.views.scaling import (
    conditions_table,
    model_size_table,
    pair_trend_figure,
    pair_trends,
    scaling_findings,
    scaling_table,
    stream_loss_figure,
    stream_loss_frame,
    trend_findings,
)

st.title("Benchmarks")
st.caption(
    "Does deep learning separate Ni, Ni₃Al and Ni₃Fe better than conventional dictionary and Hough indexing, and "
    "where does the physics stop every method? Numbers come from the bench commands, on simulated "
    "patterns whose noise follows the dose."
)
base = cache.root()
pct = st.column_config.NumberColumn(format="%.3f")


def dose_results(frame, oracle, caption: str, key: str, numbers_of: str = "") -> None:
    """A dose benchmark's accuracy and Ni↔Ni₃Fe curves, its findings, ``caption`` and its numbers
    (widget keys start with ``key``; ``numbers_of`` names it in the expander's title)."""
    left, right = st.columns(2)
    left.plotly_chart(dose_figure(frame, oracle, "accuracy"), width="stretch", key=f"{key}_accuracy")
    right.plotly_chart(dose_figure(frame, oracle, "ni_ni3fe_confusion"), width="stretch", key=f"{key}_confusion")
    for line in dose_findings(frame, oracle):
        st.markdown(f"- {line}")
    st.caption(caption)
    with st.expander(f"Numbers per dose and method{numbers_of}"):
        table = dose_table(frame, oracle)
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            key=f"{key}_table",
            column_config={c: pct for c in table.columns if c not in ("dose", "label", "n_test", "init")},
        )


st.subheader("Accuracy against dose")
dose_doc = widgets.bench_document(
    "dose",
    base,
    f"No dose benchmark yet. Run `{COMMANDS['dose']}` (about ten minutes on two idle CPU cores; "
    f"`{COMMANDS['dose']} --quick` takes seconds) and reload this page.",
)
if dose_doc is not None:
    frame, oracle = dose_frame(dose_doc), oracle_frame(dose_doc)
    if not dose_doc.get("complete", True):
        done, planned = frame["dose"].nunique(), len(dose_doc.get("config", {}).get("doses", []))
        st.warning(
            f"This dose benchmark has {done} of its {planned} doses: it is still running, or it stopped "
            f"early. Run `{COMMANDS['dose']}` again for the rest.",
            icon=":material/hourglass_top:",
        )
    dose_results(frame, oracle, DOSE_CAPTION + " " + dose_settings(dose_doc), "bench_dose")


def dose_condition(name: str, doc: dict) -> None:
    """One dose benchmark under other conditions: what it was, its curves, findings and numbers."""
    frame, oracle = dose_frame(doc), oracle_frame(doc)
    if not len(frame):
        st.info(f"The dose benchmark {name} has no finished dose yet.", icon=":material/hourglass_top:")
        return
    cfg = doc.get("config", {})
    st.markdown(
        f"**The same benchmark under other conditions: {name}** — {cfg.get('pattern_size', '?')}×"
        f"{cfg.get('pattern_size', '?')} pixels, networks "
        + ("stream-trained" if cfg.get("stream") else "trained on stored patterns")
        + ("" if doc.get("complete", True) else f" ({frame['dose'].nunique()} of {len(cfg.get('doses', []))} doses)")
    )
    caption = dose_settings(doc) + f" `python -m ebsdlib bench dose … --out artifacts/bench/dose-conditions/{name}`."
    dose_results(frame, oracle, caption, f"bench_dose_{name}", f" ({name})")


dose_conditions = widgets.bench_conditions("dose", base)
if dose_conditions:  # one tab each: the page stays one screen of curves per benchmark
    for tab, (name, doc) in zip(st.tabs(list(dose_conditions)), dose_conditions.items(), strict=True):
        with tab:
            dose_condition(name, doc)

if dose_doc is not None:
    limit = limit_frame(dose_doc)
    st.subheader("The physical limit, taken apart")
    if not len(limit):
        st.info(
            f"This dose benchmark has no physical-limit curves (it was made before they existed, or with "
            f"`--no-limit`). Run `{COMMANDS['dose']}` again for them.",
            icon=":material/info:",
        )
    else:
        st.plotly_chart(limit_figure(limit), width="stretch", key="bench_limit")
        for line in limit_findings(limit, default_dose=DEFAULT_DOSE):
            st.markdown(f"- {line}")
        st.caption(
            "The ideal matcher knows each pattern's true orientation and decides between two candidates by "
            "which noise-free pattern it correlates with more: Ni against Ni₃Fe as they are, against Ni₃Fe at "
            "Ni's lattice parameter (chemical order is the only difference), and against Ni at Ni₃Fe's lattice "
            "parameter (0.7 % larger, the only difference). With the pattern centre known to ±σ, the candidates' "
            "patterns are made at a pattern centre off by a normal error of σ (a fraction of the detector). "
            "Fitted: from that wrong pattern centre and the true orientation, each candidate's pattern centre and "
            "orientation are fitted to the pattern by gradient ascent on the correlation before the two are "
            "compared, as a matcher that reads the pattern centre from the pattern does. "
            f"Bands: Wilson 95 % intervals over {int(limit['n'].iloc[0])} decisions per point; "
            f"{dose_doc.get('config', {}).get('forward_model', 'kinematical')} patterns."
        )
        with st.expander("Numbers of the physical limit"):
            st.dataframe(
                limit,
                hide_index=True,
                width="stretch",
                key="bench_limit_table",
                column_config={c: pct for c in ("pair_accuracy", "low", "high")},
            )

st.subheader("Robustness: trained on one forward model, tested on another")
robust_doc = widgets.bench_document(
    "robustness",
    base,
    f"No robustness benchmark yet. Run `{COMMANDS['robustness']}` (minutes on the CPU with a small model; "
    f"`{COMMANDS['robustness']} --quick` takes seconds) and reload this page.",
)
if robust_doc is not None:
    robust = robustness_frame(robust_doc)
    st.dataframe(robustness_table(robust), hide_index=True, width="stretch", key="bench_robustness")
    for line in robustness_findings(robust):
        st.markdown(f"- {line}")
    rcfg = robust_doc.get("config", {})
    dose_text = f"{rcfg['dose']:g}" if isinstance(rcfg.get("dose"), (int, float)) else "?"
    st.caption(
        "Each network is stream-trained on fresh patterns of one kind and tested on stored test patterns of "
        "each forward model with the same orientations, pattern centres and dose, so a row differs from "
        f"another only in what it was trained on. Dose {dose_text} electrons per pixel; "
        f"{rcfg.get('model', '?')}, {rcfg.get('epochs', '?')} epochs of {rcfg.get('stream_patterns', '?')} "
        "patterns; accuracy with bootstrap 95 % intervals. " + environment_line(robust_doc) + "."
    )
    widgets.matcher_across_models(matcher_table(robust_doc), matcher_findings(robust_doc), "bench_robustness_matcher")
robust_conditions = widgets.bench_conditions("robustness", base)
if robust_conditions:
    st.markdown("**The same benchmark under other conditions**: pattern size and dose")
    st.dataframe(
        robustness_conditions(robust_conditions), hide_index=True, width="stretch", key="bench_robustness_conditions"
    )
    for name, doc in robust_conditions.items():
        for line in robustness_findings(robustness_frame(doc)):
            st.markdown(f"- {name}: {line}")
    matchers = distinct_matchers(robust_conditions)  # conditions with the same test sets once
    widgets.matcher_across_models(
        matcher_conditions_table(matchers),
        [f"{name}: {line}" for name, doc in matchers.items() for line in matcher_findings(doc)],
        "bench_robustness_conditions_matcher",
    )
    st.caption(
        "Each a `python -m ebsdlib bench robustness --pattern-size P --dose D --out "
        "artifacts/bench/robustness-conditions/NAME` run; same layout as the table above."
    )

st.subheader("Scaling: patterns seen and model size")
scaling_doc = widgets.bench_document(
    "scaling",
    base,
    f"No scaling benchmark yet. Run `{COMMANDS['scaling']}` (tens of minutes on the CPU; a GPU reaches "
    "10⁶ patterns) and reload this page.",
)
if scaling_doc is not None:
    st.dataframe(
        scaling_table(scaling_doc),
        hide_index=True,
        width="stretch",
        key="bench_scaling",
        column_config={
            "Ni/Ni₃Fe pair accuracy": st.column_config.NumberColumn(format="%.3f"),
            "ideal matcher's pair accuracy": st.column_config.NumberColumn(format="%.3f"),
            "training patterns/s": st.column_config.NumberColumn(format="%.0f"),
        },
    )
    for line in scaling_findings(scaling_doc):
        st.markdown(f"- {line}")
    scfg = scaling_doc.get("config", {})
    st.caption(
        "Cross-entropy networks stream-trained on fresh patterns (each seen once) of the "
        f"{scfg.get('forward_model', '?')} default, tested on a stored split of the same settings; accuracy with "
        "bootstrap 95 % intervals. " + environment_line(scaling_doc) + "."
    )
conditions = widgets.bench_conditions("scaling", base)
if conditions:
    st.markdown(
        "**The same measurement under other conditions**: forward model, dose, pattern size, network input, "
        "the spread of the pattern centre and whether training flipped the patterns"
    )
    st.dataframe(
        conditions_table(conditions),
        hide_index=True,
        width="stretch",
        key="bench_scaling_conditions",
        column_config={
            "Ni₃Al recall": pct,
            "Ni/Ni₃Fe pair accuracy": pct,
            "ideal matcher's pair accuracy": pct,
        },
    )
    st.caption(
        "Each row a cross-entropy network stream-trained on fresh patterns of those settings "
        "(`python -m ebsdlib bench scaling --forward-model F --dose D --pattern-size P --input-size I "
        "--pc-spread S [--no-augment] --out artifacts/bench/scaling-conditions/NAME`), tested on a stored split of "
        "the same settings. Every streamed pattern is new, so a stream loss that stays at chance (ln 3 = 1.099) "
        "means the network learnt nothing that holds on new patterns. PC σ: the spread of each pattern's pattern "
        "centre (fractions of the detector); flips: random horizontal and vertical flips in training, which move "
        "the pattern centre (PC y 0.22 becomes 0.78)."
    )
scaling_docs = {**({"scaling.json": scaling_doc} if scaling_doc is not None else {}), **conditions}
sizes = model_size_table(scaling_docs)
if len(sizes):
    st.markdown("**Model size at one budget** (the same settings and patterns seen, different networks)")
    st.dataframe(
        sizes,
        hide_index=True,
        width="stretch",
        key="bench_scaling_sizes",
        column_config={
            "parameters": st.column_config.NumberColumn(format="compact"),
            "Ni/Ni₃Fe pair accuracy": st.column_config.NumberColumn(format="%.2f"),
            "stream loss, last epoch": st.column_config.NumberColumn(format="%.3f"),
            "ECE": st.column_config.NumberColumn(format="%.3f"),
            "training patterns/s": st.column_config.NumberColumn(format="%.0f"),
        },
    )
trends = pair_trends(scaling_docs)
if trends:
    st.markdown("**How far the networks are from the ideal matcher on the pair, and what closing it would take**")
    st.plotly_chart(pair_trend_figure(trends), width="stretch", key="bench_scaling_trend")
    for line in trend_findings(trends):
        st.markdown(f"- {line}")
    st.caption(
        "Networks that share every setting but their budget (from the table above), with a least-squares line "
        "of pair accuracy against log₁₀ patterns seen and its 95 % interval (the wider of the points' scatter "
        "and each test score's binomial error); the range of patterns is where "
        "the interval's slopes reach the goal. An extrapolation of measured points, not a law: a trend that "
        "bends up (the stream loss below) or a larger network would get there sooner, one that saturates later."
    )
curves = stream_loss_frame(scaling_docs)
if len(curves):
    st.plotly_chart(stream_loss_figure(curves), width="stretch", key="bench_scaling_losses")
    st.caption(
        "The streamed training loss after each epoch, on patterns the network had never seen (networks whose "
        "benchmark recorded it). Above the dashed line the network is at best sure of all phases but one pair "
        "and guesses between that pair (here Ni and Ni₃Fe); below it, it has begun to read the pair."
    )

st.subheader("Throughput")
speed_doc = widgets.bench_document(
    "speed",
    base,
    f"No speed benchmark yet. Run `{COMMANDS['speed']}` on the machine you want numbers for "
    "(on a GPU it adds mixed-precision figures) and reload this page.",
)
if speed_doc is not None:
    ratios = ratio_table(speed_doc)
    numbers = ("end-to-end ÷ model alone", "same, CPU time", "goal", "end-to-end ÷ naive")
    st.dataframe(
        ratios,
        hide_index=True,
        width="stretch",
        key="bench_ratios",
        column_config={c: st.column_config.NumberColumn(format="%.2f") for c in numbers},
    )
    st.caption(
        "End-to-end ÷ model alone: how close the whole pipeline (HDF5 → phase map, HDF5 → updated model) "
        "comes to the network on tensors already in memory — the data pipeline must not be the bottleneck. "
        "End-to-end ÷ naive: the gain over a first script reading one PNG per pattern. Ratios are taken "
        "round by round (median of the rounds); on a machine shared with other work the CPU-time ratio is "
        "the steadier one, on a GPU the wall-clock one counts."
    )
    throughput = throughput_table(speed_doc)
    st.dataframe(
        throughput,
        hide_index=True,
        width="stretch",
        key="bench_throughput",
        column_config={
            "patterns/s": st.column_config.NumberColumn(format="%.1f"),
            "patterns/CPU-s": st.column_config.NumberColumn(format="%.1f"),
            "peak RSS (MB)": st.column_config.NumberColumn(format="%.0f"),
            "Python peak (MB)": st.column_config.NumberColumn(format="%.1f"),
            "CUDA peak (MB)": st.column_config.NumberColumn(format="%.0f"),
            "seconds": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    st.caption(
        environment_line(speed_doc) + ". Each figure is the median of the timed rounds; all stages ran "
        "interleaved in one process, so the ratios compare like with like on a shared machine."
    )

st.subheader("Conventional baseline beside the networks")
runs = cache.current_runs()
metrics = {r: cache.load_run(r).metrics for r in runs.loc[runs["accuracy"].notna(), "run_id"]} if len(runs) else {}
compared = method_comparison(runs, metrics)
if not (len(compared) and compared["baseline"].any()):
    st.info(
        "No indexing-baseline run yet. Index the default data set and map its scan with "
        "`python -m ebsdlib index --data artifacts/datasets/default.h5 --scan artifacts/datasets/default_scan.h5` "
        "(dictionary indexing; add `--method hough` for Hough indexing with PyEBSDIndex); "
        "the run then appears here and in every other page like a trained run.",
        icon=":material/info:",
    )
if len(compared):
    st.dataframe(
        compared.drop(columns=["baseline"]),
        hide_index=True,
        width="stretch",
        key="bench_methods",
        column_config={
            "run_id": "Run",
            "method": "Method",
            "model": "Model",
            "dataset": "Data set",
            "eval_split": "Split",
            "accuracy": st.column_config.NumberColumn(format="%.3f"),
            "accuracy_low": st.column_config.NumberColumn("CI low", format="%.3f"),
            "accuracy_high": st.column_config.NumberColumn("CI high", format="%.3f"),
            "ni_ni3fe_confusion": st.column_config.NumberColumn("Ni↔Ni₃Fe", format="%.3f"),
            "patterns_per_second": st.column_config.NumberColumn("patterns/s", format="%.0f"),
        },
    )
    st.caption(
        "Dictionary-indexing runs are stored like trained runs: pick one in the sidebar's run picker to "
        "see its confusion matrix on the Confusion matrix page and its phase map on the Phase maps page. "
        "Compare runs of the same data set and split."
    )
