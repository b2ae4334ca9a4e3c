"""Real artifacts for the dashboard tests, made with the library itself.

A tiny labelled data set and a tiny scan are written with :func:`ebsdlib.data.format.write_dataset`;
``test_efficientnet`` runs of both losses are trained with :func:`ebsdlib.train.loop.train`, and
the scan is mapped with :func:`ebsdlib.predict.predict_scan`. Beside them: a run still training
and a broken run folder, as a shared lab machine has.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.data.format import write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.io import write_json
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.runs import RunDir
from ebsdlib.train.config import TrainConfig

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
HOME = str(DASHBOARD / "Home.py")
SIZE = 32
PAGES = ["overview", "accuracy", "confusion", "embeddings", "phase_maps"]


def patterns_for(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stripe patterns whose frequency depends on the phase, over a smooth background, with noise;
    Ni and Ni3Fe are close (as in the physics), Ni3Al is apart."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    background = 90 + 60 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.4) ** 2) * 3)
    freq = np.array([3.0, 5.5, 3.3])
    out = np.empty((len(labels), SIZE, SIZE), np.float64)
    for k, lab in enumerate(labels):
        a = rng.uniform(0, np.pi)
        out[k] = (
            background
            + 30 * np.sin(2 * np.pi * freq[lab] * (np.cos(a) * xx + np.sin(a) * yy))
            + rng.normal(0, 14, (SIZE, SIZE))
        )
    return out.clip(0, 255).astype(np.uint8)


def write_scan(path: Path, truth: np.ndarray, shape: tuple[int, int], phases, rng: np.random.Generator) -> Path:
    """A labelled ``shape`` scan, row by row, of :func:`patterns_for` patterns (phase index mod 3)."""
    rr, cc = np.mgrid[0 : shape[0], 0 : shape[1]]
    return write_dataset(
        path,
        patterns_for(truth % 3, rng),
        truth,
        phases,
        provenance={"made_by": "tests/dashboard"},
        scan_row=rr.ravel(),
        scan_col=cc.ravel(),
        scan_shape=shape,
        step_size=0.5,
        quality=rng.uniform(0.3, 1.0, truth.size).astype(np.float32),
    )


def make_datasets(root: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 10)
    split = np.tile(np.array([0, 0, 0, 1, 2], np.int8), len(labels) // 5)  # 6 test patterns per run
    data = write_dataset(
        root / "datasets" / "tiny.h5",
        patterns_for(labels, rng),
        labels,
        DEFAULT_PHASES,
        provenance={"made_by": "tests/dashboard"},
        split=split,
        split_rule="test",
        preprocessing=PreprocessConfig(size=SIZE).to_dict(),
    )
    cc = np.mgrid[0:6, 0:8][1]
    truth = np.where(cc < 3, 0, np.where(cc < 5, 1, 2)).ravel()
    scan = write_scan(root / "datasets" / "scan.h5", truth, (6, 8), DEFAULT_PHASES, rng)
    return data, scan


def tiny_config(data: Path, loss: str, **kw) -> TrainConfig:
    return TrainConfig(
        data=str(data),
        loss=loss,
        model="test_efficientnet",
        epochs=2,
        batch_size=8,
        lr=3e-3,
        device="cpu",
        preprocess=PreprocessConfig(size=SIZE),
        probe_epochs=10,
        knn_k=3,
        name=f"tiny {loss}",
        **kw,
    )


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> dict:
    """The artifacts folder with two real runs (ce, supcon) and their phase maps of the scan."""
    from ebsdlib.predict import predict_scan
    from ebsdlib.train.loop import train

    root = tmp_path_factory.mktemp("dashboard_artifacts")
    data, scan = make_datasets(root)
    runs = {}
    for loss in ("ce", "supcon"):
        run = train(tiny_config(data, loss), progress=False, root=root)
        predict_scan(run, scan, progress=False, device="cpu")
        runs[loss] = run.run_id
    return {"root": root, "runs": runs, "data": data, "scan": scan}


@pytest.fixture(scope="session")
def artifacts(built, tmp_path_factory) -> dict:
    """:func:`built` plus a run still training and a broken run folder (a copy: tests may add runs)."""
    root = tmp_path_factory.mktemp("dashboard_lab")
    shutil.copytree(built["root"], root, dirs_exist_ok=True)
    running = RunDir(root / "runs" / "20990101-000000-supcon-test_efficientnet")
    running.path.mkdir()
    write_json(running.config_path, tiny_config(built["data"], "supcon").to_dict())
    running.update_status(state="running", epoch=1, epochs=2, train_loss=1.5, eta_seconds=40)
    broken = root / "runs" / "20990101-000001-ce-broken"
    broken.mkdir()
    (broken / "status.json").write_text('{"state": "runn')  # a write cut short
    return {
        **built,
        "root": root,
        "running": running.run_id,
        "broken": broken.name,
        "data": root / "datasets" / "tiny.h5",
        "scan": root / "datasets" / "scan.h5",
    }


def open_on_page(home: str, page: str) -> None:
    """Run the dashboard's entry file with ``page`` (a page's url path) as the start page.

    AppTest's ``switch_page`` runs a page without the entry file of an ``st.navigation`` app
    (so without the shared sidebar, whose state is then lost); starting the entry file on the
    page, as a browser opening ``/<page>`` does, keeps both.
    """
    import runpy

    import streamlit as st

    real = st.navigation

    def navigation(pages, **kwargs):
        for p in pages:
            p._default = p._url_path == page
        return real(pages, **kwargs)

    st.navigation = navigation
    try:
        runpy.run_path(home, run_name="__main__")
    finally:
        st.navigation = real


@pytest.fixture
def app(artifacts, monkeypatch):
    """``app(page)`` runs the dashboard on the artifacts, opened on ``page`` (e.g. ``"confusion"``)."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(artifacts["root"]))

    def open_page(page: str = "overview", root: Path | None = None) -> AppTest:
        if root is not None:
            monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(root))
        at = AppTest.from_function(open_on_page, args=(HOME, page), default_timeout=120)
        return at.run()

    return open_page


#: Phase names as an image folder can carry them: a sub-folder named like HTML that runs script, and
#: one named like the markup Plotly reads in labels (a folder name cannot hold ``/``, so no closing tag).
HOSTILE_PHASE = '<img src=x onerror="window.__xss=1">'
MARKUP_PHASE = "<b>bold"
#: A run name typed into the sidebar's form.
HOSTILE_RUN = '<img src=x onerror="window.__xss=2"> run'


@pytest.fixture(scope="session")
def hostile_artifacts(tmp_path_factory) -> dict:
    """An artifacts folder whose phase names come from an imported image folder (sub-folders Ni,
    Ni3Al, :data:`HOSTILE_PHASE` and :data:`MARKUP_PHASE`), with one run named :data:`HOSTILE_RUN`
    trained on it (with its UMAP) and its phase map of a scan of those phases."""
    from PIL import Image

    from ebsdlib.data.format import EBSDDataset
    from ebsdlib.data.image_folder import convert_image_folder
    from ebsdlib.predict import predict_scan
    from ebsdlib.train.loop import train

    base = tmp_path_factory.mktemp("hostile")
    source, root = base / "images", base / "artifacts"
    names = ["Ni", "Ni3Al", HOSTILE_PHASE, MARKUP_PHASE]
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(len(names)), 8)
    for k, (lab, pattern) in enumerate(zip(labels, patterns_for(labels % 3, rng), strict=True)):
        folder = source / names[lab]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pattern).save(folder / f"{k:03d}.png")
    data = convert_image_folder(source, root / "datasets" / "imported.h5")
    with EBSDDataset(data) as ds:
        phases = ds.phases
    truth = (np.mgrid[0:4, 0:8][1] // 2).ravel()
    scan = write_scan(root / "datasets" / "scan.h5", truth, (4, 8), phases, rng)
    run = train(dataclasses.replace(tiny_config(data, "ce"), name=HOSTILE_RUN), progress=False, root=root)
    predict_scan(run, scan, progress=False, device="cpu")
    return {
        "root": root,
        "run": run.run_id,
        "phases": [p.name for p in phases],
        "phase": HOSTILE_PHASE,
        "markup": MARKUP_PHASE,
        "run_name": HOSTILE_RUN,
    }


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(root: Path, max_runs: int = 1) -> Iterator[str]:
    """``streamlit run dashboard/Home.py`` on the artifacts folder ``root`` at a free localhost port,
    with at most ``max_runs`` training runs at once; yields its url and stops the server (its
    process group) afterwards."""
    port = free_port()
    env = dict(os.environ, EBSDLIB_ARTIFACTS=str(root), EBSDLIB_MAX_RUNS=str(max_runs))
    log_path = root / "streamlit.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                HOME,
                "--server.port",
                str(port),
                "--server.address",
                "localhost",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=DASHBOARD.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://localhost:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError("streamlit did not start:\n" + log_path.read_text()) from None
                    time.sleep(0.3)
            yield url
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)


@pytest.fixture(scope="session")
def serve():
    """:func:`streamlit_server`, for test modules (which cannot import this conftest)."""
    return streamlit_server
