"""The dashboard's cached loaders: the only module that uses ``st.cache_data``/``st.cache_resource``.

Every loader takes the run folder's :meth:`ebsdlib.runs.RunDir.mtime` (or the listing's stamp)
as an argument, so a run that changes — a training that finishes, a new phase map — is read
again on the next rerun, and finished runs appear without restarting the server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from ebsdlib.paths import artifacts_root, datasets_root, runs_root
from ebsdlib.phases import Phase
from ebsdlib.runs import RunDir, list_runs, open_run
from ebsdlib.views import gallery
from ebsdlib.views import runs as runs_view
from ebsdlib.views.phases import phase_names_of, phases_from_names
from ebsdlib.views.predictions import prediction_frame


def root() -> Path:
    """The artifacts folder this dashboard shows (``$EBSDLIB_ARTIFACTS`` or ``./artifacts``)."""
    return artifacts_root().resolve()


def listing_stamp(base: Path) -> tuple:
    """Cheap fingerprint of every run folder (name, latest mtime): changes when any run changes."""
    rr = runs_root(base)
    if not rr.is_dir():
        return ()
    out = []
    for p in sorted(rr.iterdir()):
        if p.is_dir() and not p.is_symlink() and not p.name.startswith("."):
            try:
                out.append((p.name, RunDir(p).mtime()))
            except OSError:
                continue
    return tuple(out)


@st.cache_data(show_spinner=False, max_entries=32)
def runs_table(base: str, stamp: tuple) -> pd.DataFrame:
    """The Home page's runs table (see :func:`ebsdlib.views.runs.runs_table`)."""
    return runs_view.runs_table(list_runs(base))


def current_runs() -> pd.DataFrame:
    """The runs table as it is on disk now."""
    base = root()
    return runs_table(str(base), listing_stamp(base))


@st.cache_data(show_spinner=False, max_entries=16)
def datasets_table(base: str, stamp: tuple) -> pd.DataFrame:
    """:func:`ebsdlib.views.runs.datasets_table`; ``stamp`` is ``((path, mtime), …)``."""
    return runs_view.datasets_table([Path(p) for p, _ in stamp], base=datasets_root(base))


def current_datasets() -> pd.DataFrame:
    """Data sets under ``artifacts/datasets`` with their summary (re-read when a file changes)."""
    base = root()
    stamp = tuple((str(p), p.stat().st_mtime) for p in runs_view.list_datasets(base))
    return datasets_table(str(base), stamp)


@dataclass
class RunData:
    """Everything a page needs of one run; missing parts are ``None`` and ``problem`` says why."""

    run_id: str
    config: dict = field(default_factory=dict)
    state: str = ""
    error: str | None = None
    metrics: dict | None = None
    history: pd.DataFrame | None = None
    predictions: pd.DataFrame | None = None
    phases: tuple[Phase, ...] = ()
    scans: list[str] = field(default_factory=list)
    has_umap: bool = False
    problem: str | None = None
    #: What the metrics and predictions are of: ``None`` for the run's own split, else the name of
    #: one of :attr:`evaluations` (another data set or split, ``evaluations/<name>/``).
    evaluated_on: str | None = None
    evaluations: list[str] = field(default_factory=list)
    #: Fingerprint of the data set ``config["data"]`` names, as the run stored it (``None`` for runs
    #: made before fingerprints): the galleries check the file they find against it.
    data_fingerprint: dict | None = None

    @property
    def phase_names(self) -> list[str]:
        return [p.name for p in self.phases]


@st.cache_data(show_spinner=False, max_entries=64)
def run_data(base: str, run_id: str, mtime: float, evaluation: str | None = None) -> RunData:
    """Read one run (config, status, metrics, history, predictions); never raises.

    With ``evaluation`` the metrics and predictions are those of ``evaluations/<evaluation>/``
    and ``config["data"]`` names the data set evaluated there (what the galleries show).
    """
    from ebsdlib.train.cross_eval import list_evaluations

    run = open_run(run_id, base)
    data = RunData(run_id=run_id, evaluated_on=evaluation)
    try:
        data.config = run.config() if run.config_path.exists() else {}
        st_ = run.read_status() if run.status_path.exists() else None
        data.state = st_.state if st_ else ("completed" if run.metrics_path.exists() else "unknown")
        data.error = st_.error if st_ else None
        data.history = run.history()
        found = list_evaluations(run)
        data.evaluations = list(found)
        if evaluation is None:
            data.metrics = run.metrics()
            preds = run.predictions()
        else:
            folder = found[evaluation]
            data.metrics = json.loads((folder / "metrics.json").read_text())
            preds = pd.read_csv(folder / "predictions.csv") if (folder / "predictions.csv").exists() else None
            data.config = {**data.config, "data": data.metrics.get("data", data.config.get("data"))}
        own = data.config.get("data_fingerprint") if evaluation is None else None  # dictionary runs: in config.json
        data.data_fingerprint = (data.metrics or {}).get("data_fingerprint", own)
        if data.metrics is not None or preds is not None:
            names = phase_names_of(data.metrics, preds)
            data.phases = phases_from_names(names)
            if preds is not None:
                data.predictions = prediction_frame(preds, names)
        data.scans = run.phasemap_scans()
        data.has_umap = run.umap_path.exists()
    except Exception as e:  # noqa: BLE001 - a broken run is shown as broken, never as a traceback
        data.problem = f"{type(e).__name__}: {e}"
    return data


def load_run(run_id: str, evaluation: str | None = None) -> RunData:
    """:func:`run_data` of ``run_id`` (or of one of its evaluations) as it is on disk now."""
    base = root()
    run = open_run(run_id, base)
    stamp = run.mtime()
    if evaluation is not None:
        metrics = run.path / "evaluations" / evaluation / "metrics.json"
        stamp = max(stamp, metrics.stat().st_mtime) if metrics.exists() else stamp
    return run_data(str(base), run_id, stamp, evaluation)


@st.cache_data(show_spinner=False, max_entries=16)
def umap_coords(base: str, run_id: str, mtime: float) -> np.ndarray | None:
    return open_run(run_id, base).umap()


def load_umap(run_id: str) -> np.ndarray | None:
    base = root()
    return umap_coords(str(base), run_id, open_run(run_id, base).mtime())


@st.cache_resource(show_spinner=False, max_entries=8)
def phasemap(base: str, run_id: str, scan: str, mtime: float):
    """A run's phase map (shared, read-only: large arrays are not copied on every rerun)."""
    from ebsdlib.phasemap import load_phasemap

    return load_phasemap(open_run(run_id, base), scan)


def load_phasemap(run_id: str, scan: str):
    base = root()
    return phasemap(str(base), run_id, scan, open_run(run_id, base).mtime())


@st.cache_data(show_spinner=False, max_entries=64)
def map_image(
    base: str, run_id: str, scan: str, mtime: float, kind: str, threshold: float, opacity: float
) -> np.ndarray:
    """A rendered map: ``overlay`` (predicted over quality), ``true`` or ``error``."""
    from ebsdlib.phasemap import render_error, render_labels, render_phasemap

    pm = phasemap(base, run_id, scan, mtime)
    if kind == "overlay":
        return render_phasemap(pm, threshold, opacity)
    if kind == "true":
        return render_labels(pm.true, pm.phases)
    if kind == "error":
        return render_error(pm.error)
    raise ValueError(f"unknown map kind {kind!r}; use 'overlay', 'true' or 'error'")


def render_map(run_id: str, scan: str, kind: str, threshold: float = 0.0, opacity: float = 1.0) -> np.ndarray:
    base = root()
    return map_image(str(base), run_id, scan, open_run(run_id, base).mtime(), kind, float(threshold), float(opacity))


@st.cache_data(show_spinner=False, max_entries=16)
def orientation_images(
    base: str,
    run_id: str,
    scan: str,
    mtime: float,
    direction: str,
    angle: float,
    threshold: float,
    opacity: float,
    boundaries: bool,
):
    """The phase map and the IPF map with boundaries (:func:`ebsdlib.views.orientation.orientation_views`)."""
    from ebsdlib.views.orientation import orientation_views

    pm = phasemap(base, run_id, scan, mtime)
    return orientation_views(pm, direction, float(angle), float(threshold), float(opacity), bool(boundaries))


def render_orientations(
    run_id: str, scan: str, direction: str, angle: float, threshold: float, opacity: float, boundaries: bool
):
    base = root()
    mtime = open_run(run_id, base).mtime()
    return orientation_images(str(base), run_id, scan, mtime, direction, angle, threshold, opacity, boundaries)


@st.cache_data(show_spinner=False, max_entries=256)
def patterns(
    data_path: str, indices: tuple[int, ...], processed: bool, preprocess_json: str, file_mtime: float
) -> np.ndarray:
    import json

    return gallery.load_patterns(data_path, list(indices), processed, json.loads(preprocess_json) or None)


def load_patterns(
    config_data: str, indices, processed: bool, preprocess: dict | None, fingerprint: dict | None = None
) -> np.ndarray:
    """Patterns of a run's data set as display images.

    Raises ``FileNotFoundError`` if it is gone, and
    :class:`ebsdlib.data.fingerprint.DataSetMismatchError` when the file found there is not the data
    set of ``fingerprint`` (what the run stored next to ``config_data``).
    """
    import json

    path = gallery.resolve_data_path(config_data, root(), fingerprint)
    return patterns(
        str(path),
        tuple(int(i) for i in indices),
        bool(processed),
        json.dumps(preprocess or {}, sort_keys=True),
        path.stat().st_mtime,
    )


@st.cache_resource(show_spinner=False)
def start_demo_data(base: str) -> bool:
    """Once per server and artifacts folder: rebuild the committed demo's data sets in the
    background if they are missing (:func:`ebsdlib.demo.start_data_rebuild`)."""
    from ebsdlib import demo

    try:
        return demo.start_data_rebuild(base)
    except Exception:  # noqa: BLE001 - the dashboard works without the demo data; the sidebar shows the state
        return False


def demo_data_status() -> dict | None:
    """Progress of the demo data rebuild (``None`` when none was started)."""
    from ebsdlib import demo

    try:
        return demo.rebuild_status(root())
    except Exception:  # noqa: BLE001 - an unreadable progress file means no progress to show
        return None
