"""Entry of the dashboard: ``streamlit run dashboard/Home.py``.

Sets up the page, builds the sidebar every page shares (run picker, training launcher, live
progress of active runs) and routes to the pages in ``dashboard/app_pages/``, which only render.
(The folder is not called ``pages/``: Streamlit would then run a page file on its own, without
this entry file and its sidebar, when a fresh server is opened on a page's address.)
"""

from __future__ import annotations

from pathlib import Path

import cache  # the dashboard's own modules: `streamlit run` puts this script's folder on the path
import sidebar
import streamlit as st

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="EBSD phase mapping", page_icon=":material/grain:", layout="wide")

PAGES = [
    st.Page(HERE / "app_pages" / "overview.py", title="Home", icon=":material/home:", default=True),
    st.Page(HERE / "app_pages" / "accuracy.py", title="Accuracy", icon=":material/bar_chart:"),
    st.Page(HERE / "app_pages" / "confusion.py", title="Confusion matrix", icon=":material/grid_on:"),
    st.Page(HERE / "app_pages" / "embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
    st.Page(HERE / "app_pages" / "phase_maps.py", title="Phase maps", icon=":material/map:"),
]
if (HERE / "app_pages" / "benchmarks.py").exists():
    PAGES.append(st.Page(HERE / "app_pages" / "benchmarks.py", title="Benchmarks", icon=":material/speed:"))

page = st.navigation(PAGES)

cache.start_demo_data(str(cache.root()))  # a fresh clone: simulate the demo's data sets in the background

with st.sidebar:
    table = cache.current_runs()
    sidebar.run_picker(table)
    sidebar.training_form()
    sidebar.active_runs_panel()

page.run()
