"""Confusion matrix: counts or normalised, two runs side by side and their difference; choosing a
cell shows the patterns in it with their probabilities."""

import cache
import sidebar
import streamlit as st
import widgets

from ebsdlib.methods import run_method_label
from ebsdlib.phases import HARD_PAIR
from ebsdlib.views.confusion import NORMALISATIONS, cell_index, cells_table, confusion_array, difference
from ebsdlib.views.figures import confusion_figure, difference_figure
from ebsdlib.views.gallery import cell_rows, default_cell, gallery_items, selected_cell
from ebsdlib.views.phases import display_names

MODES = {"counts": "counts", "row": "row-normalised (recall)", "column": "column-normalised (precision)"}

st.title("Confusion matrix")
a, b = sidebar.selected_runs()
data_a = widgets.pick_run(a, needs="metrics")
if data_a is None:
    st.stop()
evaluation = widgets.evaluation_choice(data_a.evaluations, key="cm_evaluation")
if evaluation is not None:
    data_a = cache.load_run(a, evaluation)
data_b = cache.load_run(b) if b else None
if data_b is not None and evaluation is not None:
    data_b = cache.load_run(b, evaluation) if evaluation in data_b.evaluations else None
    if data_b is None:
        st.caption(f"Run `{b}` was not evaluated on {evaluation}; only A is shown.")
if data_b is not None and (data_b.problem or data_b.metrics is None or data_b.phase_names != data_a.phase_names):
    st.caption(f"Run `{b}` cannot be compared here (not evaluated, unreadable, or other phases).")
    data_b = None

mode = st.radio(
    "Show",
    NORMALISATIONS,
    format_func=MODES.get,
    horizontal=True,
    key="cm_mode",
    help="Row-normalised: each true phase sums to 100% (recall). Column-normalised: each "
    "predicted phase sums to 100% (precision).",
)
labels = [p.display_name for p in data_a.phases]


def title(data) -> str:
    return f"{run_method_label(data.config)} · `{data.run_id}`"


try:
    cm_a = confusion_array(data_a.metrics, len(labels))
    cm_b = confusion_array(data_b.metrics, len(labels)) if data_b else None
except ValueError as e:
    st.error(str(e))
    st.stop()

cols = st.columns(2 if data_b else 1)
with cols[0]:
    st.markdown(f"**A:** {title(data_a)}")
    st.plotly_chart(confusion_figure(cm_a, labels, mode), width="stretch", key="cm_a")
if data_b:
    with cols[1]:
        st.markdown(f"**B:** {title(data_b)}")
        st.plotly_chart(confusion_figure(cm_b, labels, mode), width="stretch", key="cm_b")
    with st.expander("Difference A − B", expanded=True):
        d1, d2 = st.columns(2, vertical_alignment="center")
        d1.plotly_chart(difference_figure(difference(cm_a, cm_b, mode), labels, mode), width="stretch", key="cm_diff")
        d2.caption(
            "Red: A has more of this cell than B; blue: fewer. Off the diagonal, blue means A "
            "confuses these phases less."
            + (" Counts depend on the number of test patterns: compare normalised views." if mode == "counts" else "")
        )
else:
    st.caption("Choose a second run under **Compare with** in the sidebar to see two matrices and their difference.")

st.subheader("Patterns in a cell")
source = data_a
if data_b is not None:
    which = st.radio(
        "Patterns of run",
        ["A", "B"],
        horizontal=True,
        key="cm_gallery_run",
        format_func=lambda v: f"{v}: {data_a.run_id if v == 'A' else data_b.run_id}",
    )
    source = data_a if which == "A" else data_b
if source.predictions is None:
    st.info(
        f"Run `{source.run_id}` has no predictions table, so its patterns cannot be listed; "
        f"`python -m ebsdlib evaluate {source.run_id}` writes it."
    )
    st.stop()

cm_src = cm_a if source is data_a else cm_b
cells = cells_table(cm_src, source.phase_names, labels)
names = source.phase_names
hard = (HARD_PAIR[0], HARD_PAIR[1]) if all(n in names for n in HARD_PAIR) else (names[0], names[-1])
first = default_cell(cells, hard)
left, right = st.columns([2, 3])
with left:
    st.caption("Choose a cell: click the box at the start of a row.")
    event = st.dataframe(
        cells[["true_label", "predicted_label", "count", "row_pct", "col_pct"]],
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=f"cm_cells_{source.run_id}",
        selection_default={"selection": {"rows": [cell_index(names, *first)] if first else []}},
        column_config={
            "true_label": "True",
            "predicted_label": "Predicted",
            "count": "Patterns",
            "row_pct": st.column_config.NumberColumn("% of true", format="%.1f%%"),
            "col_pct": st.column_config.NumberColumn("% of predicted", format="%.1f%%"),
        },
    )
cell = selected_cell(cells, event.selection.rows if event is not None else None, default=first)
with right:
    if cell is None:
        st.info("Choose a cell in the table.")
        st.stop()
    true, pred = cell
    pretty = display_names(source.phases)
    sort = st.selectbox(
        "Order",
        ["confidence", "margin", "index"],
        key="cm_sort",
        format_func={
            "confidence": "most confident first",
            "margin": "closest calls first",
            "index": "pattern index",
        }.get,
    )
    limit = st.slider("Patterns to show", 6, 60, 18, step=6, key="cm_limit")
    rows = cell_rows(source.predictions, true, pred, sort)
    st.markdown(
        f"**True {pretty.get(true, true)} → predicted {pretty.get(pred, pred)}: {len(rows)} patterns**"
        + (f", showing {min(limit, len(rows))}" if len(rows) else "")
    )
widgets.gallery(
    gallery_items(rows, source.phases, limit),
    source.config.get("data", ""),
    source.config.get("preprocess"),
    key="cm_gallery",
    fingerprint=source.data_fingerprint,
)
