"""Embeddings: the UMAP of each run's embeddings (WebGL), coloured by true/predicted phase or
correctness; selecting points with the box or lasso shows their patterns."""

import html

import cache
import sidebar
import streamlit as st
import widgets

from ebsdlib.methods import run_method_label
from ebsdlib.views.embedding import COLOR_BY, embedding_frame, selection_summary
from ebsdlib.views.figures import embedding_figure
from ebsdlib.views.gallery import gallery_items, rows_from_points, sort_rows
from ebsdlib.views.phases import display_names

st.title("Embeddings")
a, b = sidebar.selected_runs()
data_a = widgets.pick_run(a, needs="umap")
if data_a is None:
    st.stop()
data_b = cache.load_run(b) if b else None
if data_b is not None and (data_b.problem or not data_b.has_umap or data_b.predictions is None):
    st.caption(f"Run `{b}` has no UMAP to compare with.")
    data_b = None

color_by = st.radio("Colour by", list(COLOR_BY), format_func=COLOR_BY.get, horizontal=True, key="emb_color")
widgets.legend(data_a.phases)
st.caption(
    "Drag a box or lasso around points to see their patterns (the lasso is the default tool; "
    "the box is in the chart's toolbar). Double-click the chart to clear the selection."
)

shown = [data_a] + ([data_b] if data_b else [])
cols = st.columns(len(shown))
selections = {}
for col, data in zip(cols, shown, strict=True):
    with col:
        method = run_method_label(data.config)
        try:
            emb = embedding_frame(cache.load_umap(data.run_id), data.predictions)
        except ValueError as e:
            st.error(f"`{data.run_id}`: {e}")
            continue
        acc = emb["correct"].eq("correct").mean()
        name = html.escape(method, quote=False)  # a title is Plotly markup; the method comes from config.json
        fig = embedding_figure(
            emb, color_by, data.phases, title=f"{name}: {len(emb):,} patterns, {100 * acc:.1f}% correct"
        )
        event = st.plotly_chart(
            fig,
            width="stretch",
            on_select="rerun",
            selection_mode=("box", "lasso"),
            key=f"emb_{data.run_id}",
            config={"scrollZoom": True, "displaylogo": False},
        )
        st.caption(f"`{data.run_id}`")
        points = event.selection.points if event is not None else []
        selections[data.run_id] = (data, emb, rows_from_points(points, len(data.predictions)))

if not selections:
    st.stop()
picked = [(run_id, v) for run_id, v in selections.items() if len(v[2])]
st.subheader("Selected patterns")
if not picked:
    st.info(
        "Nothing selected yet: draw a lasso around a cluster, for example around the Ni points that "
        "sit among the Ni₃Fe ones."
    )
    st.stop()
for run_id, (data, emb, rows) in picked:
    pretty = display_names(data.phases)
    summary = selection_summary(emb, rows).assign(
        true_name=lambda d, pretty=pretty: d["true_name"].map(lambda n: pretty.get(n, n)),
        pred_name=lambda d, pretty=pretty: d["pred_name"].map(lambda n: pretty.get(n, n)),
    )
    st.markdown(f"**`{run_id}`**: {len(rows)} patterns selected")
    c1, c2 = st.columns([1, 3])
    with c1:
        st.dataframe(
            summary,
            hide_index=True,
            width="stretch",
            column_config={"true_name": "True", "pred_name": "Predicted", "count": "Patterns"},
        )
        limit = st.slider("Patterns to show", 6, 60, 18, step=6, key=f"emb_limit_{run_id}")
        wrong_first = st.checkbox("Wrong predictions first", True, key=f"emb_wrong_{run_id}")
    with c2:
        sel = data.predictions.iloc[rows]
        sel = sort_rows(sel, "confidence")
        if wrong_first:
            sel = sel.sort_values("correct", kind="stable")
        widgets.gallery(
            gallery_items(sel, data.phases, limit),
            data.config.get("data", ""),
            data.config.get("preprocess"),
            key=f"emb_gallery_{run_id}",
            fingerprint=data.data_fingerprint,
        )
