"""Phase maps: the predicted map over the pattern-quality map, confidence threshold, true and
error maps, phase fractions, a clicked pixel's pattern and probabilities, the IPF orientation map
beside the phase map with grain boundaries over both, and downloads."""

import cache
import sidebar
import streamlit as st
import widgets

from ebsdlib.runs import open_run
from ebsdlib.views.figures import map_figure, probability_figure
from ebsdlib.views.mapview import click_grid, fractions_frame, grid_hover, pixel_from_point, pixel_table
from ebsdlib.views.orientation import ipf_key_png, orientation_caption, pixel_orientation_text
from ebsdlib.views.phases import NOT_INDEXED, display_names

st.title("Phase maps")
a, _ = sidebar.selected_runs()
data = widgets.pick_run(a, needs="phasemap")
if data is None:
    st.stop()

c1, c2, c3 = st.columns([2, 2, 2])
scan = c1.selectbox("Scan", data.scans, key="pm_scan")
threshold = c2.slider(
    "Confidence threshold",
    0.0,
    1.0,
    0.0,
    0.01,
    key="pm_threshold",
    help="Pixels whose highest class probability is below this show as not indexed (black).",
)
opacity = c3.slider(
    "Phase colour opacity",
    0.0,
    1.0,
    0.7,
    0.05,
    key="pm_opacity",
    help="0 shows only the pattern-quality map, 1 only the phase colours.",
)
try:
    pm = cache.load_phasemap(data.run_id, scan)
except (FileNotFoundError, ValueError) as e:
    st.error(f"The phase map cannot be read: {e}")
    st.stop()
h, w = pm.scan_shape
widgets.legend(pm.phases, not_indexed=True)


def _fractions_table() -> None:
    st.markdown("**Phase fractions**")
    frac = fractions_frame(pm.fractions(threshold), pm.phases)
    st.dataframe(
        frac[["label", "count", "percent"]],
        hide_index=True,
        width="stretch",
        column_config={
            "label": "Phase",
            "count": "Pixels",
            "percent": st.column_config.NumberColumn("%", format="%.1f"),
        },
    )
    n_not = int(frac.loc[frac["phase"] == NOT_INDEXED, "count"].sum())
    st.caption(f"At threshold {threshold:.2f}: {n_not} of {int(frac['count'].sum())} pixels not indexed.")
    if pm.has_truth:
        acc = pm.accuracy
        st.caption(
            f"Against the true phases: {100 * acc:.1f}% of the pixels are right (no threshold)."
            if acc is not None
            else ""
        )


if not pm.positions:
    st.info(
        f"This data set has no scan positions (no scan shape), so there is no map to draw: its {w} patterns "
        "were classified, and their predictions, fractions and accuracy are below and in the CSV."
    )
    _fractions_table()
    path = open_run(data.run_id, cache.root()).phasemap_dir(scan) / "phasemap.csv"
    if path.exists():
        st.download_button(
            "CSV (all patterns)",
            path.read_bytes,
            file_name=f"{data.run_id}_{scan}_phasemap.csv",
            mime="text/csv",
            key="dl_phasemap.csv",
            on_click="ignore",
        )
    st.stop()

# a click on the map (or typed numbers) chooses the pixel shown on the right
rows, cols, step = click_grid((h, w))
for key, default in (("pm_row", h // 2), ("pm_col", w // 2)):
    if key not in st.session_state or st.session_state[key] >= (h if key == "pm_row" else w):
        st.session_state[key] = default


def _on_click() -> None:
    points = st.session_state["pm_click"].selection.points
    pixel = pixel_from_point(points[0] if points else None, (h, w))
    if pixel is not None:
        st.session_state["pm_row"], st.session_state["pm_col"] = pixel


left, right = st.columns([3, 2])
with left:
    overlay = cache.render_map(data.run_id, scan, "overlay", threshold, opacity)
    marked = (int(st.session_state["pm_row"]), int(st.session_state["pm_col"]))
    fig = map_figure(
        overlay,
        title=f"Predicted phases over pattern quality ({h}×{w})",
        click=(rows, cols),
        hover=grid_hover(pm, rows, cols),
        marked=marked,
    )
    st.plotly_chart(
        fig,
        width="stretch",
        on_select=_on_click,
        selection_mode="points",
        key="pm_click",
        config={"displaylogo": False},
    )
    st.caption(
        "Click a pixel to see its pattern"
        + (
            f" (every {step}th pixel is clickable on a map this large; type the exact row and column on the right)"
            if step > 1
            else ""
        )
        + "."
    )
with right:
    _fractions_table()
    st.markdown("**Pixel**")
    r1, r2 = st.columns(2)
    r1.number_input("Row", 0, h - 1, key="pm_row")
    r2.number_input("Column", 0, w - 1, key="pm_col")
    info = pm.pixel(int(st.session_state["pm_row"]), int(st.session_state["pm_col"]))
    if info["index"] < 0:
        st.info("No pattern was measured at this pixel.")
    else:
        pretty = display_names(pm.phases)
        shown = pretty.get(info["pred"], info["pred"]) if (info["confidence"] or 0) >= threshold else "not indexed"
        st.markdown(
            f"Predicted **{shown}**, confidence {info['confidence']:.2f}"
            + (f"; true **{pretty.get(info['true'], info['true'])}**" if info["true"] else "")
            + f" · pattern #{info['index']}"
        )
        if pm.orientation_source != "none":
            st.caption(f"Orientation: {pixel_orientation_text(info)}")
        p1, p2 = st.columns([1, 1])
        with p1:
            try:
                img = cache.load_patterns(
                    pm.meta.get("data", ""),
                    [info["index"]],
                    True,
                    data.config.get("preprocess"),
                    pm.meta.get("data_fingerprint"),  # a different file at that path is named, not shown
                )
                st.image(img[0], caption="background-corrected pattern", width="stretch")
            except Exception as e:  # noqa: BLE001 - the scan file moved: say so, keep the page
                st.caption(f"Pattern not available: {e}")
        with p2:
            st.plotly_chart(
                probability_figure(pixel_table(info, pm.phases)),
                width="stretch",
                key="pm_proba",
                config={"displayModeBar": False},
            )

st.subheader("Orientations")
if pm.has_orientations:
    o1, o2, o3 = st.columns([1, 2, 1])
    direction = o1.selectbox(
        "IPF direction",
        ("z", "x", "y"),
        key="pm_ipf_direction",
        help="Sample direction coloured by where it lies in the crystal (orix's TSL colour key); "
        "z is the surface normal.",
    )
    angle = o2.slider(
        "Grain-boundary angle (°)",
        0.5,
        30.0,
        5.0,
        0.5,
        key="pm_gb_angle",
        help="Neighbours of one phase misoriented by more than this (symmetry-aware) are in different grains; "
        "neighbours of different phases are always on a boundary.",
    )
    draw = o3.checkbox("Draw boundaries", value=True, key="pm_gb_draw")
    views = cache.render_orientations(data.run_id, scan, direction, angle, threshold, opacity, draw)
    g1, g2 = st.columns(2)
    with g1:
        st.plotly_chart(
            map_figure(views.phase, title="Phases with boundaries", height=420),
            width="stretch",
            key="pm_phase_gb",
            config={"displaylogo": False},
        )
    with g2:
        st.plotly_chart(
            map_figure(views.ipf, title=f"IPF-{direction.upper()} orientations with boundaries", height=420),
            width="stretch",
            key="pm_ipf",
            config={"displaylogo": False},
        )
    st.caption(orientation_caption(pm, views))
    present = sorted({int(k) for k in pm.pred[pm.oriented]})
    keys = st.columns(max(1, len(present)))
    for col, k in zip(keys, present, strict=False):
        try:
            col.image(ipf_key_png(pm, k, direction), caption=f"IPF key: {pm.phases[k].display_name}")
        except ValueError as e:  # a phase without space group has no colour key: say so, keep the page
            col.caption(str(e))
else:
    st.info(
        "This map has no orientations, so there is no IPF map or grain boundaries. Map the scan again with "
        f"`python -m ebsdlib predict --run {data.run_id} --data SCAN.h5 --orientations hough` (the hybrid map: "
        "network phase, Hough orientation) or `--orientations file` when the scan stores them."
    )

if pm.true is not None:
    t1, t2 = st.columns(2)
    with t1:
        st.plotly_chart(
            map_figure(cache.render_map(data.run_id, scan, "true"), title="True phases", height=420),
            width="stretch",
            key="pm_true",
            config={"displaylogo": False},
        )
    with t2:
        wrong = int((pm.error == 1).sum())
        st.plotly_chart(
            map_figure(
                cache.render_map(data.run_id, scan, "error"),
                title=f"Errors: {wrong} wrong pixels (black; right ones grey)",
                height=420,
            ),
            width="stretch",
            key="pm_error",
            config={"displaylogo": False},
        )
else:
    st.caption("This scan has no true phases, so there is no error map.")

st.subheader("Downloads")
folder = open_run(data.run_id, cache.root()).phasemap_dir(scan)
d1, d2, d3, d4, d5 = st.columns(5)
from ebsdlib.phasemap.export import png_bytes

d1.download_button(
    "PNG (this view)",
    lambda: png_bytes(overlay),
    file_name=f"{data.run_id}_{scan}_phasemap.png",
    mime="image/png",
    key="dl_png",
    on_click="ignore",
    width="stretch",
)
for col, name, label, mime in (
    (d2, "phasemap.csv", "CSV (all pixels)", "text/csv"),
    (d3, "crystalmap.h5", "CrystalMap (orix .h5)", "application/x-hdf5"),
    (d4, "crystalmap.ang", "CrystalMap (.ang, MTEX)", "text/plain"),
    (d5, "crystalmap.ctf", "CrystalMap (.ctf, AZtec)", "text/plain"),
):
    path = folder / name
    if path.exists():  # read only when clicked: a 1000×1000 map's files are hundreds of MB
        col.download_button(
            label,
            path.read_bytes,
            file_name=f"{data.run_id}_{scan}_{name}",
            mime=mime,
            key=f"dl_{name}",
            on_click="ignore",
            width="stretch",
        )
    else:
        col.caption(f"{name}: not written for this map")
