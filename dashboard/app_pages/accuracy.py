"""Accuracy: per-class precision/recall/F1 of several runs side by side, and training curves."""

import cache
import pandas as pd
import sidebar
import streamlit as st
import widgets

from ebsdlib.methods import run_method_label
from ebsdlib.report import build_report, report_html
from ebsdlib.views.calibration import calibration_table, reliability_figure, reliability_frame
from ebsdlib.views.classes import compare_per_class, headline, per_class_long, same_band_notes, same_split
from ebsdlib.views.curves import curves_frame
from ebsdlib.views.figures import curves_figure, per_class_figure
from ebsdlib.views.runs import run_label, short_labels

st.title("Accuracy")
table = cache.current_runs()
if not len(table):
    st.info(widgets.NO_RUNS, icon=":material/info:")
    st.stop()

labels = {r["run_id"]: run_label(r) for _, r in table.iterrows()}
evaluated = [r for r in table.loc[table["accuracy"].notna(), "run_id"]]
a, b = sidebar.selected_runs()
default = [r for r in (a, b) if r in evaluated] or evaluated[:2]
chosen = st.multiselect(
    "Runs to compare",
    evaluated,
    default=default,
    format_func=labels.get,
    key="acc_runs",
    help="Evaluated runs; the sidebar's two runs are chosen first.",
)
if not evaluated:
    st.info(
        "No run has been evaluated yet. Results appear when a training run finishes (progress in the sidebar).",
        icon=":material/hourglass_top:",
    )
    st.stop()
if not chosen:
    st.info("Choose one or more runs above.")
    st.stop()
short = short_labels(table, chosen)
found = sorted({e for run_id in chosen for e in cache.load_run(run_id).evaluations})
evaluation = widgets.evaluation_choice(found, key="acc_evaluation")

runs = {}
for run_id in chosen:
    data = cache.load_run(run_id)
    if evaluation is not None:
        if evaluation not in data.evaluations:
            st.caption(f"Run `{run_id}` was not evaluated on {evaluation}; it is left out.")
            continue
        data = cache.load_run(run_id, evaluation)
    if data.problem or data.metrics is None:
        st.warning(f"Run `{run_id}` has no readable evaluation: {data.problem or 'metrics.json missing'}")
        continue
    runs[short[run_id]] = data
if not runs:
    st.stop()

ok, why = same_split({label: d.config for label, d in runs.items()})
if not ok:
    st.warning(why, icon=":material/warning:")

# the meeting report of these runs: one HTML file that opens offline (ebsdlib.report)
report_runs = (tuple(d.run_id for d in runs.values()), evaluation)
r1, r2, r3 = st.columns([1, 1, 2], vertical_alignment="center")
if r1.button(
    "Build meeting report",
    key="acc_report_build",
    help="Configs, accuracy, confusion matrices, UMAPs, phase maps and the physical limit of these runs",
):
    with st.spinner("Building the meeting report…"):
        try:
            report = report_html(build_report(report_runs[0], cache.root(), evaluation=evaluation))
            st.session_state["acc_report"] = (report_runs, report.encode("utf-8"))
        except (FileNotFoundError, ValueError) as e:  # a run deleted meanwhile: say so, keep the page
            st.error(f"The meeting report cannot be built: {e}")
ready = st.session_state.get("acc_report")
if ready is not None and ready[0] == report_runs:  # built for the runs shown now
    r2.download_button(
        "Download meeting report (HTML)",
        ready[1],
        file_name="meeting_report.html",
        mime="text/html",
        key="acc_report_download",
        on_click="ignore",
    )
    r3.caption(f"{len(ready[1]) / 1e6:.1f} MB, self-contained: it opens offline.")

rows = []
for label, d in runs.items():
    h = headline(d.metrics)
    rows.append(
        {
            "run": label,
            "run id": d.run_id,
            "method": run_method_label(d.config),
            "accuracy": h["accuracy"],
            "95% CI": (f"{h['accuracy_low']:.3f}–{h['accuracy_high']:.3f}" if h["accuracy_low"] is not None else ""),
            "balanced accuracy": h["balanced_accuracy"],
            "macro F1": h["macro_f1"],
            "top-2 accuracy": h["top2_accuracy"],
            "ECE": h["ece"],
            "Ni↔Ni₃Fe confusion": h["ni_ni3fe_confusion"],
            "Ni → Ni₃Fe": h["ni_to_ni3fe"],
            "Ni₃Fe → Ni": h["ni3fe_to_ni"],
            "probe accuracy": h["probe_accuracy"],
            "k-NN accuracy": h["knn_accuracy"],
            "patterns": h["n"],
        }
    )
summary = pd.DataFrame(rows).dropna(axis=1, how="all")
st.subheader("Overall")
st.dataframe(
    summary,
    hide_index=True,
    width="stretch",
    column_config={
        c: st.column_config.NumberColumn(c, format="%.3f")
        for c in summary.columns
        if c not in ("run", "run id", "method", "95% CI", "patterns")
    },
)
st.caption(
    "Contrastive runs classify with a linear probe on frozen embeddings; the k-NN vote is shown "
    "beside it. ECE: expected calibration error (15 bins)."
)
for note in same_band_notes({label: d.metrics for label, d in runs.items()}):
    st.info(note, icon=":material/info:")

st.subheader("Calibration")
run_metrics = {label: d.metrics for label, d in runs.items()}
reliability = reliability_frame(run_metrics)
if len(reliability):
    st.plotly_chart(reliability_figure(reliability), width="stretch", key="acc_reliability")
    st.dataframe(
        calibration_table(run_metrics),
        hide_index=True,
        width="stretch",
        column_config={
            c: st.column_config.NumberColumn(c, format="%.3f")
            for c in ("temperature", "ECE uncalibrated", "ECE calibrated")
        },
    )
    st.caption(
        "A calibrated run is right as often as it says: at confidence 0.8, 8 patterns in 10. Networks are "
        "calibrated after training on patterns they did not train on ('held out'; 'fitted on' names them) "
        "by one softmax temperature, or by a scale and an offset per phase (vector scaling, which can also "
        "undo a lean towards one phase and so move a few predictions); 'auto' took the one with the lower "
        "cross-validated log-loss on those patterns. The confidence threshold and 'not indexed' on the "
        "Phase maps page use these calibrated probabilities."
    )
else:
    st.info("These runs record no calibration bins; re-evaluate them (`python -m ebsdlib evaluate RUN`).")

phases = next(iter(runs.values())).phases
per_class = compare_per_class({label: d.metrics for label, d in runs.items()}, phases)
st.subheader("Per phase")
widgets.legend(phases)
st.plotly_chart(per_class_figure(per_class_long(per_class), phases), width="stretch", key="acc_per_class")
with st.expander("Per-phase table"):
    st.dataframe(
        per_class.drop(columns=["phase"]),
        hide_index=True,
        width="stretch",
        column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in ("precision", "recall", "f1")},
    )

st.subheader("Training curves")
curves = curves_frame({label: d.history for label, d in runs.items()})
if not len(curves):
    st.info("These runs have no per-epoch history (history.csv).")
else:
    st.plotly_chart(curves_figure(curves), width="stretch", key="acc_curves")
    st.caption(
        "Colours are runs, dashes are metrics. Cross-entropy and SupCon losses have different "
        "scales: compare how they fall, not their values."
    )
