"""Home: the data sets and runs at a glance, the best run of each method, what to look at next."""

from pathlib import Path

import cache
import streamlit as st
import widgets

from ebsdlib.methods import method_keys, method_label
from ebsdlib.views.runs import best_runs, filter_runs, run_label

st.title("EBSD phase mapping: Ni, Ni₃Al and Ni₃Fe")
st.caption(
    "Deep-learning phase classification of Kikuchi patterns. Ni₃Al is told apart by bright "
    "superlattice bands; Ni↔Ni₃Fe is the physically hard pair (their superlattice bands are "
    "about ten times fainter)."
)

table = cache.current_runs()
if not len(table):
    widgets.legend([])
    st.info(widgets.NO_RUNS, icon=":material/info:")
else:
    best = best_runs(table)
    st.subheader("Best run of each method")
    if not best:
        st.info("No run has finished its evaluation yet; the best runs appear here when one does.")
    per_row = 3  # wider cards than this would truncate their figures
    items = list(best.items())
    cards = [
        col
        for start in range(0, len(items), per_row)
        for col in st.columns(per_row)[: len(items[start : start + per_row])]
    ]
    for col, (method, row) in zip(cards, items, strict=True):
        with col.container(border=True):
            st.markdown(f"**{method_label(method)}**  \n{run_label(row)}")
            c1, c2, c3 = st.columns(3)
            ci = f"95% CI {widgets.fmt(row['accuracy_low'], pct=True)}–{widgets.fmt(row['accuracy_high'], pct=True)}"
            c1.metric("Accuracy", widgets.fmt(row["accuracy"], pct=True), help=ci)
            c1.caption(ci)
            c2.metric("Macro F1", widgets.fmt(row["macro_f1"]))
            c3.metric(
                "Ni↔Ni₃Fe",
                widgets.fmt(row["ni_ni3fe_confusion"], pct=True),
                help="Ni↔Ni₃Fe confusion: the share of true Ni and true Ni₃Fe patterns predicted "
                "as the other one (0.5: the pair is not told apart).",
            )
            st.caption(f"{row['model']} · {row['dataset']} · {row['eval_split']} split")

    st.subheader("All runs")
    f1, f2, f3 = st.columns([1, 1, 2])
    present = [k for k in method_keys() if k in set(table["method"])]  # registry order
    methods = f1.multiselect("Method", present, format_func=method_label, key="home_method")
    states = f2.multiselect("State", sorted(set(table["state"])), key="home_state")
    text = f3.text_input("Search (id, name, model)", key="home_text")
    shown = filter_runs(table, methods=methods, states=states, text=text)
    view = shown.assign(
        accuracy_ci=shown.apply(
            lambda r: "" if r["accuracy"] != r["accuracy"] else f"{r['accuracy_low']:.3f}–{r['accuracy_high']:.3f}",
            axis=1,
        )
        if len(shown)
        else [],
    )
    st.dataframe(
        view,
        hide_index=True,
        width="stretch",
        key="home_runs",
        column_order=[
            "run_id",
            "name",
            "method_label",
            "model",
            "dataset",
            "eval_split",
            "accuracy",
            "accuracy_ci",
            "macro_f1",
            "ni_ni3fe_confusion",
            "state",
            "progress",
            "created",
            "error",
        ],
        column_config={
            "run_id": st.column_config.TextColumn("Run", width="medium"),
            "name": "Name",
            "method_label": "Method",
            "model": "Model",
            "dataset": "Data set",
            "eval_split": st.column_config.TextColumn("Split", help="Split the run reports on"),
            "accuracy": st.column_config.NumberColumn("Accuracy", format="percent"),
            "accuracy_ci": st.column_config.TextColumn("95% CI", help="Bootstrap interval of the accuracy"),
            "macro_f1": st.column_config.NumberColumn("Macro F1", format="%.3f"),
            "ni_ni3fe_confusion": st.column_config.NumberColumn(
                "Ni↔Ni₃Fe", format="percent", help="Share of true Ni and Ni₃Fe predicted as the other"
            ),
            "state": "State",
            "progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0),
            "created": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm"),
            "error": st.column_config.TextColumn("Error", width="medium"),
        },
    )
    st.caption(f"{len(shown)} of {len(table)} runs. Click a column header to sort.")
    broken = table[table["state"] == "broken"]
    if len(broken):
        st.warning(
            f"{len(broken)} run folder(s) cannot be read; their errors are in the table. "
            "The other runs are shown normally."
        )

with st.expander("Data sets", expanded=not len(table)):
    datasets = cache.current_datasets()
    if not len(datasets):
        st.info(
            "No data sets under `artifacts/datasets/`. `python -m ebsdlib simulate` makes the "
            "synthetic default; `python -m ebsdlib import` brings in your own patterns."
        )
    else:
        st.dataframe(
            datasets,
            hide_index=True,
            width="stretch",
            column_config={"patterns": st.column_config.NumberColumn("Patterns", format="%d")},
        )

PAGES = Path(__file__).resolve().parent
st.subheader("What to look at next")
c1, c2 = st.columns(2)
with c1:
    st.page_link(
        PAGES / "confusion.py",
        label="Confusion matrix: which Ni patterns are taken for Ni₃Fe, and what they look like",
        icon=":material/grid_on:",
    )
    st.page_link(
        PAGES / "accuracy.py", label="Accuracy: per-phase recall and F1, training curves", icon=":material/bar_chart:"
    )
with c2:
    st.page_link(
        PAGES / "embeddings.py",
        label="Embeddings: contrastive vs cross-entropy UMAP, select a cluster to see its patterns",
        icon=":material/scatter_plot:",
    )
    st.page_link(
        PAGES / "phase_maps.py", label="Phase maps: a whole scan, confidence threshold, errors", icon=":material/map:"
    )
