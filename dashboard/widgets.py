"""Small rendering pieces the pages share: empty states, the phase legend, pattern galleries."""

from __future__ import annotations

import html
from collections.abc import Sequence

import cache
import numpy as np
import pandas as pd
import streamlit as st

from ebsdlib.methods import is_network_run, run_method_label
from ebsdlib.phases import NOT_INDEXED_COLOR, Phase, with_colors
from ebsdlib.views.gallery import GalleryItem

NO_RUNS = (
    "No runs yet. Start one with **Train a new run** in the sidebar, or from a terminal: "
    "`python -m ebsdlib train --loss ce --data artifacts/datasets/default.h5` "
    "(and `python -m ebsdlib demo` builds a complete example)."
)


def pick_run(run_id: str | None, needs: str = "metrics") -> cache.RunData | None:
    """Load the run chosen in the sidebar, or say why there is nothing to show and return ``None``.

    Parameters
    ----------
    run_id
        From the sidebar; ``None`` when there are no runs.
    needs
        ``"metrics"`` (an evaluated run), ``"predictions"``, ``"umap"`` or ``"phasemap"``.
    """
    if run_id is None:
        st.info(NO_RUNS, icon=":material/info:")
        return None
    try:
        data = cache.load_run(run_id)
    except FileNotFoundError:
        st.warning(f"Run `{run_id}` is gone (deleted?). Pick another run in the sidebar.")
        return None
    except ValueError as e:  # an id that is not a safe folder name never reaches the disk
        st.error(str(e))
        return None
    if data.problem:
        st.error(
            f"Run `{run_id}` cannot be read: {data.problem}. Other runs are not affected; "
            "pick another one in the sidebar, or delete this one with "
            f"`python -m ebsdlib runs --delete {run_id}`.",
            icon=":material/broken_image:",
        )
        return None
    if data.state in ("queued", "running") and data.metrics is None:
        st.info(
            f"Run `{run_id}` is still {data.state}; its results appear here when it finishes "
            "(progress in the sidebar).",
            icon=":material/hourglass_top:",
        )
        return None
    if data.state in ("failed", "cancelled") and data.metrics is None:
        st.warning(
            f"Run `{run_id}` {data.state} before it was evaluated"
            + (f": {data.error}" if data.error else ".")
            + f" Continue it with `python -m ebsdlib resume {run_id}` or pick another run."
        )
        return None
    missing = {
        "metrics": data.metrics is None,
        "predictions": data.predictions is None,
        "umap": not data.has_umap or data.predictions is None,
        "phasemap": not data.scans,
    }[needs]
    if missing:
        what = {
            "metrics": "no evaluation (metrics.json)",
            "predictions": "no predictions table (predictions.csv)",
            "umap": "no UMAP of its embeddings (it was trained with UMAP off)",
            "phasemap": "no phase map yet",
        }[needs]
        network = is_network_run(data.config)
        if needs == "umap" and not network:
            what = f"no embeddings: it is a {run_method_label(data.config) or 'non-network'} run, not a trained network"
        fix = {
            "metrics": f"`python -m ebsdlib evaluate {run_id}`",
            "predictions": f"`python -m ebsdlib evaluate {run_id}`",
            "umap": f"`python -m ebsdlib evaluate {run_id}` (with UMAP on in its config)",
            "phasemap": f"`python -m ebsdlib predict --run {run_id} --data SCAN.h5`",
        }[needs]
        if needs == "umap" and not network:
            st.info(
                f"Run `{run_id}` has {what}. Pick a cross-entropy or contrastive run in the sidebar.",
                icon=":material/info:",
            )
        else:
            st.info(
                f"Run `{run_id}` has {what}. Make it with {fix}, or pick another run in the sidebar.",
                icon=":material/info:",
            )
        return None
    return data


def legend(phases: Sequence[Phase], not_indexed: bool = False) -> None:
    """The phase colours as a one-line legend (the same colours as every plot)."""
    items = [(p.display_name, p.color) for p in with_colors(phases)]
    if not_indexed:
        items.append(("not indexed", NOT_INDEXED_COLOR))
    markup = " ".join(  # names come from folder and file names: escaped, never markup
        f'<span style="display:inline-flex;align-items:center;margin-right:1.1em;">'
        f'<span style="width:1em;height:1em;background:{html.escape(c)};border:1px solid #888;display:inline-block;'
        f'margin-right:0.35em;border-radius:2px"></span>{html.escape(name)}</span>'
        for name, c in items
    )
    st.markdown(markup, unsafe_allow_html=True)


def gallery(
    items: list[GalleryItem],
    data_path: str,
    preprocess: dict | None,
    key: str,
    columns: int = 6,
    fingerprint: dict | None = None,
) -> None:
    """A grid of patterns with what the model said about each; ``fingerprint`` is the one the run
    stored for ``data_path`` (a file found there that is another data set is named, not shown)."""
    from ebsdlib.data.fingerprint import DataSetMismatchError

    if not items:
        st.caption("No patterns in this selection.")
        return
    processed = st.toggle("Background-corrected (as the model sees them)", True, key=f"{key}_proc")
    try:
        images = cache.load_patterns(data_path, [it.index for it in items], processed, preprocess, fingerprint)
    except (FileNotFoundError, DataSetMismatchError) as e:
        st.warning(f"Patterns cannot be shown: {e}")
        return
    except Exception as e:  # noqa: BLE001 - a data set that changed or cannot be read: say so, keep the page
        st.warning(f"Patterns cannot be read from `{data_path}`: {e}")
        return
    cols = st.columns(columns)
    for k, (item, img) in enumerate(zip(items, images, strict=True)):
        with cols[k % columns]:
            st.image(np.asarray(img), width="stretch", caption=f"#{item.index} · {item.true} → {item.pred}")
            st.caption(" · ".join(f"{n} {v:.2f}" for n, v in item.probabilities.items()))


def fmt(value: float | None, pct: bool = False, digits: int = 3) -> str:
    """A number for a metric card, ``—`` when missing."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{100 * value:.1f}%" if pct else f"{value:.{digits}f}"


def evaluation_choice(evaluations: list[str], key: str) -> str | None:
    """A selector of what a run was evaluated on: its own split (``None``) or one of its
    ``evaluations/<name>/`` (another data set or split, ``python -m ebsdlib evaluate RUN --data``);
    shown only when there is a choice."""
    if not evaluations:
        return None
    own = "the run's own split"
    choice = st.selectbox(
        "Evaluated on",
        [own, *evaluations],
        key=key,
        help="A run evaluated on another data set (`python -m ebsdlib evaluate RUN --data FILE`) "
        "or split keeps each evaluation under evaluations/<name>/ in its folder.",
    )
    return None if choice == own else choice


def bench_conditions(kind: str, root) -> dict[str, dict]:
    """The ``kind`` benchmark's runs under other conditions (:func:`ebsdlib.views.bench.load_conditions`)
    by folder name, after showing each one that cannot be read as an error."""
    from ebsdlib.views.bench import load_conditions

    docs, problems = load_conditions(kind, root)
    for problem in problems:
        st.error(problem, icon=":material/broken_image:")
    return docs


def bench_document(kind: str, root, missing: str) -> dict | None:
    """The stored ``kind`` benchmark (:func:`ebsdlib.views.bench.load_bench`) when it has rows;
    otherwise ``None``, after showing why: the file's problem as an error, or ``missing`` (what
    to run) as a note."""
    from ebsdlib.views.bench import load_bench

    doc, problem = load_bench(kind, root)
    if problem:
        st.error(problem, icon=":material/broken_image:")
        return None
    if doc is None or not doc["rows"]:
        st.info(missing, icon=":material/info:")
        return None
    return doc


def matcher_across_models(table: pd.DataFrame, findings: Sequence[str], key: str) -> None:
    """The robustness benchmark's ideal matcher across forward models
    (:func:`ebsdlib.views.robustness.matcher_table`) with its findings; a note on how to add it when
    the stored benchmark has none."""
    if not len(table):
        st.caption(
            "The ideal matcher across forward models is not in this benchmark yet: "
            "`python -m ebsdlib bench robustness --update-ideal --out FOLDER` adds it without training."
        )
        return
    st.markdown(
        "**The ideal matcher across forward models**: each test pattern against every phase's noise-free "
        "pattern at its true orientation and pattern centre, drawn by one forward model (the templates)."
    )
    st.dataframe(table, hide_index=True, width="stretch", key=key)
    for line in findings:
        st.markdown(f"- {line}")
