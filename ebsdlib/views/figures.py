"""The dashboard's Plotly figures, built from the tables of :mod:`ebsdlib.views`.

Phase colours come from :func:`ebsdlib.views.phases.color_lookup`, so every figure colours
a phase the same way. Figures that can be selected carry the prediction row (or the map pixel)
in ``customdata[0]`` (and ``customdata[1]``), read back by
:func:`ebsdlib.views.gallery.rows_from_points` and :func:`ebsdlib.views.mapview.pixel_from_point`.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ebsdlib.phases import Phase
from ebsdlib.views.confusion import Normalisation, hover_text, normalise
from ebsdlib.views.embedding import COLOR_BY, ColorBy, color_column
from ebsdlib.views.phases import CORRECT_COLORS, color_lookup, display_names

FONT = dict(size=15)


def _escape(text) -> str:
    """A name (phase, run) as plain text for Plotly, which reads ``<b>``, ``<br>`` and ``<a href>`` in
    labels, legends and hover text; Plotly decodes ``&lt;``, ``&gt;``, ``&amp;`` but not ``&quot;``."""
    return html.escape(str(text), quote=False)


def confusion_figure(
    cm: np.ndarray, labels: Sequence[str], mode: Normalisation = "counts", title: str = "", height: int = 430
):
    """Heatmap of a confusion matrix (true down, predicted across) with counts or percentages
    written in the cells and full details on hover."""
    import plotly.graph_objects as go

    cm = np.asarray(cm)
    z = normalise(cm, mode)
    text = (
        [[f"{int(v)}" for v in row] for row in cm]
        if mode == "counts"
        else [[f"{100 * v:.1f}%" for v in row] for row in z]
    )
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[_escape(n) for n in labels],
            y=[_escape(n) for n in labels],
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=16),
            hovertext=hover_text(cm, labels),
            hoverinfo="text",
            colorscale="Blues",
            zmin=0,
            zmax=(None if mode == "counts" else 1.0),
            colorbar=dict(title="count" if mode == "counts" else "fraction", thickness=14),
        )
    )
    fig.update_layout(
        title=title,
        height=height,
        font=FONT,
        margin=dict(l=10, r=10, t=50, b=10),
        xaxis=dict(title="predicted phase", side="bottom", type="category"),
        yaxis=dict(title="true phase", autorange="reversed", type="category"),
    )
    return fig


def difference_figure(diff: np.ndarray, labels: Sequence[str], mode: Normalisation, title: str = "", height: int = 430):
    """Heatmap of a difference of two confusion matrices on a red–blue scale centred on 0."""
    import plotly.graph_objects as go

    d = np.asarray(diff, dtype=float)
    labels = [_escape(n) for n in labels]
    fmt = (lambda v: f"{v:+.0f}") if mode == "counts" else (lambda v: f"{100 * v:+.1f} pp")
    text = [[fmt(v) for v in row] for row in d]
    lim = float(np.abs(d).max()) or 1.0
    hover = [
        [f"true {labels[i]} → predicted {labels[j]}<br>A − B = {text[i][j]}" for j in range(d.shape[1])]
        for i in range(d.shape[0])
    ]
    fig = go.Figure(
        go.Heatmap(
            z=d,
            x=list(labels),
            y=list(labels),
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=16),
            hovertext=hover,
            hoverinfo="text",
            colorscale="RdBu_r",
            zmid=0,
            zmin=-lim,
            zmax=lim,
            colorbar=dict(title="A − B", thickness=14),
        )
    )
    fig.update_layout(
        title=title,
        height=height,
        font=FONT,
        margin=dict(l=10, r=10, t=50, b=10),
        xaxis=dict(title="predicted phase", type="category"),
        yaxis=dict(title="true phase", autorange="reversed", type="category"),
    )
    return fig


def embedding_figure(
    emb: pd.DataFrame,
    color_by: ColorBy,
    phases: Sequence[Phase],
    title: str = "",
    height: int = 520,
    marker_size: float | None = None,
):
    """WebGL scatter of a UMAP, selectable with box or lasso.

    One trace per (true, predicted) pair, coloured by ``color_by`` and grouped in the legend by
    colour, so each trace's hover text names its phases once instead of per point, and
    ``customdata`` stays a compact numeric array ``[row, index, confidence]`` (what keeps
    100,000 points quick to send and to select).
    """
    import plotly.graph_objects as go

    col = color_column(color_by)
    colors = CORRECT_COLORS if color_by == "correct" else color_lookup(phases)
    pretty = display_names(phases)
    order = list(CORRECT_COLORS) if color_by == "correct" else [p.name for p in phases] + ["unknown"]
    size = marker_size or (6 if len(emb) < 2_000 else 4 if len(emb) < 20_000 else 2.5)
    fig = go.Figure()
    for group in order:
        g = emb[emb[col] == group]
        first = True
        for (true, pred), part in g.groupby(["true_name", "pred_name"], sort=True):
            custom = np.column_stack(
                [
                    part["row"].to_numpy(np.float32),
                    part["index"].to_numpy(np.float32),
                    part["confidence"].to_numpy(np.float32),
                ]
            )  # exact to 2**24 rows
            fig.add_trace(
                go.Scattergl(
                    x=part["x"].to_numpy(),
                    y=part["y"].to_numpy(),
                    mode="markers",
                    name=_escape(pretty.get(group, group)),
                    legendgroup=group,
                    showlegend=first,
                    marker=dict(size=size, color=colors.get(group, "#7f7f7f"), opacity=0.8),
                    customdata=custom,
                    hovertemplate=(
                        f"pattern #%{{customdata[1]}}<br>true {_escape(pretty.get(true, true))} → predicted "
                        f"{_escape(pretty.get(pred, pred))}<br>confidence %{{customdata[2]:.2f}}<extra></extra>"
                    ),
                )
            )
            first = False
    fig.update_layout(
        title=title,
        height=height,
        font=FONT,
        dragmode="lasso",
        hovermode="closest",
        legend=dict(title=COLOR_BY[color_by], itemsizing="constant"),
        margin=dict(l=10, r=10, t=50, b=10),
        xaxis=dict(title="UMAP 1", showticklabels=False),
        yaxis=dict(title="UMAP 2", showticklabels=False),
    )
    return fig


def per_class_figure(long: pd.DataFrame, phases: Sequence[Phase], height: int = 400):
    """Grouped bars of precision, recall and F1 per run, one colour per phase."""
    import plotly.express as px

    colors = {_escape(k): v for k, v in color_lookup(phases).items()}
    long = long.assign(run=long["run"].map(_escape), label=long["label"].map(_escape))
    fig = px.bar(
        long,
        x="run",
        y="value",
        color="label",
        facet_col="metric",
        barmode="group",
        color_discrete_map=colors,
        category_orders={"label": [_escape(p.display_name) for p in phases], "metric": ["precision", "recall", "f1"]},
        hover_data={"support": True, "value": ":.3f"},
        height=height,
    )
    fig.update_yaxes(range=[0, 1.02], title="")
    fig.update_xaxes(title="")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_layout(font=FONT, legend_title="phase", margin=dict(l=10, r=10, t=40, b=10))
    return fig


def curves_figure(curves: pd.DataFrame, height: int = 380):
    """Loss (and, when recorded, accuracy) per epoch: one colour per run, one dash per metric.

    Losses of different kinds (cross-entropy, SupCon) have their own scales; compare their shapes.
    """
    import plotly.express as px

    kinds = [k for k in ("loss", "accuracy") if (curves["kind"] == k).any()]
    fig = px.line(
        curves.assign(run=curves["run"].map(_escape)),
        x="epoch",
        y="value",
        color="run",
        line_dash="metric",
        facet_col="kind" if len(kinds) > 1 else None,
        markers=True,
        height=height,
        category_orders={"kind": kinds},
        color_discrete_sequence=px.colors.qualitative.Dark2,
        labels={"value": kinds[0] if len(kinds) == 1 else ""},
    )
    fig.update_yaxes(matches=None, showticklabels=True)
    fig.update_xaxes(dtick=1, tickformat="d")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_layout(
        font=FONT,
        margin=dict(l=10, r=10, t=40, b=10),
        legend_title_text="run, metric",
        legend=dict(orientation="h", yanchor="top", y=-0.25),
    )
    return fig


def image_data_uri(rgb: np.ndarray) -> str:
    """A PNG data URI of an image (sent to the browser as one compressed picture)."""
    from ebsdlib.phasemap.export import png_bytes

    return "data:image/png;base64," + base64.b64encode(png_bytes(rgb)).decode("ascii")


def map_figure(
    rgb: np.ndarray,
    title: str = "",
    click: tuple[np.ndarray, np.ndarray] | None = None,
    hover: np.ndarray | None = None,
    marked: tuple[int, int] | None = None,
    height: int = 560,
):
    """A map shown as one PNG image, optionally with an invisible grid of clickable points.

    Parameters
    ----------
    rgb
        ``uint8 (H, W, 3)``.
    click
        ``(rows, cols)`` of clickable pixel centres (see :func:`ebsdlib.views.mapview.click_grid`).
    hover
        Per clickable point, a text shown on hover (same length as ``click[0]``).
    marked
        (row, col) drawn as a white ring (the selected pixel).
    """
    import plotly.graph_objects as go

    h, w = rgb.shape[:2]
    fig = go.Figure(go.Image(source=image_data_uri(rgb), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip"))
    if click is not None:
        rows, cols = click
        fig.add_trace(
            go.Scattergl(
                x=cols,
                y=rows,
                mode="markers",
                marker=dict(size=8, color="rgba(0,0,0,0)", opacity=0.01),
                customdata=np.column_stack([rows, cols]),
                text=hover,
                hovertemplate=(
                    "row %{customdata[0]}, col %{customdata[1]}<br>%{text}<extra></extra>"
                    if hover is not None
                    else "row %{customdata[0]}, col %{customdata[1]}<extra></extra>"
                ),
                showlegend=False,
                name="pixels",
            )
        )
    if marked is not None:
        fig.add_trace(
            go.Scatter(
                x=[marked[1]],
                y=[marked[0]],
                mode="markers",
                showlegend=False,
                hoverinfo="skip",
                marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(color="white", width=2.5)),
            )
        )
    fig.update_layout(
        title=title,
        height=height,
        font=FONT,
        margin=dict(l=10, r=10, t=50, b=10),
        dragmode=False if click is None else "zoom",
        hovermode="closest",
        clickmode="event+select",
    )
    fig.update_xaxes(range=[-0.5, w - 0.5], showgrid=False, zeroline=False, title="column", constrain="domain")
    fig.update_yaxes(
        range=[h - 0.5, -0.5], showgrid=False, zeroline=False, title="row", scaleanchor="x", constrain="domain"
    )
    return fig


def probability_figure(table: pd.DataFrame, height: int = 220):
    """Horizontal bars of one pattern's class probabilities in the phase colours.

    Parameters
    ----------
    table
        ``label``, ``color``, ``probability`` (see :func:`ebsdlib.views.mapview.pixel_table`).
    """
    import plotly.graph_objects as go

    t = table.iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=t["probability"],
            y=[_escape(n) for n in t["label"]],
            orientation="h",
            marker_color=list(t["color"]),
            text=[f"{v:.2f}" for v in t["probability"]],
            textposition="auto",
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        font=FONT,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(range=[0, 1], title="probability"),
        yaxis=dict(title=""),
    )
    return fig
