"""Every page of the dashboard with Streamlit's AppTest, on real runs made with the library."""

import base64
import json
import shutil

import numpy as np
import pytest

from ebsdlib.methods import method_label
from ebsdlib.runs import open_run


def no_exception(at) -> None:
    assert not at.exception, [e.message for e in at.exception]


def texts(at) -> str:
    """All text shown: titles, markdown, captions and alerts of the page and the sidebar."""
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(getattr(e, "value", "")) for e in at.get(kind)]
    return "\n".join(parts)


def charts(at) -> list:
    return list(at.get("plotly_chart"))


def images(at) -> int:
    return len(at.get("image"))


def test_home_lists_runs_best_per_loss_and_broken_ones(app, artifacts):
    at = app()
    no_exception(at)
    assert at.title[0].value.startswith("EBSD phase mapping")
    runs_df = next(d for d in at.dataframe if "run_id" in d.value.columns)
    ids = set(runs_df.value["run_id"])
    assert set(artifacts["runs"].values()) | {artifacts["running"], artifacts["broken"]} <= ids
    row = runs_df.value.set_index("run_id").loc[artifacts["broken"]]
    assert row["state"] == "broken" and "not valid JSON" in row["error"]
    metrics = {m.label: m.value for m in at.metric}
    assert "Accuracy" in metrics and metrics["Accuracy"].endswith("%")
    shown = texts(at)
    assert "cross-entropy" in shown and "supervised contrastive (SupCon)" in shown
    assert "cannot be read" in shown  # the broken folder is called out
    assert [s.label for s in at.sidebar.selectbox][:2] == ["Run", "Compare with"]


def test_home_filters(app, artifacts):
    at = app()
    at.multiselect(key="home_method").set_value(["supcon"]).run()
    no_exception(at)
    runs_df = next(d for d in at.dataframe if "run_id" in d.value.columns)
    assert set(runs_df.value["method_label"]) == {method_label("supcon")}


def test_accuracy_page(app, artifacts):
    at = app("accuracy")
    no_exception(at)
    assert set(at.multiselect(key="acc_runs").value) == set(artifacts["runs"].values())
    assert len(charts(at)) == 3  # reliability diagram, per-class bars and training curves
    calibration = next(d.value for d in at.dataframe if "ECE calibrated" in d.value.columns)
    assert len(calibration) == 2 and calibration["temperature"].notna().all()  # both runs were calibrated
    summary = at.dataframe[0].value
    assert {"accuracy", "macro F1", "Ni↔Ni₃Fe confusion"} <= set(summary.columns)
    assert summary["probe accuracy"].notna().sum() == 1  # the contrastive run's linear probe
    at.multiselect(key="acc_runs").set_value([artifacts["runs"]["ce"]]).run()
    no_exception(at)
    assert len(at.dataframe[0].value) == 1


def test_confusion_page_modes_difference_and_gallery(app, artifacts):
    at = app("confusion")
    no_exception(at)
    assert len(charts(at)) == 3  # A, B and A − B
    for mode in ("row", "column", "counts"):
        at.radio(key="cm_mode").set_value(mode).run()
        no_exception(at)
    cells = at.dataframe[0].value
    assert len(cells) == 9 and cells["count"].sum() > 0
    assert images(at) > 0  # the preselected cell's patterns
    assert "→ predicted" in texts(at)
    at.radio(key="cm_gallery_run").set_value("B").run()
    no_exception(at)
    assert images(at) > 0


def test_pages_show_a_run_evaluated_on_another_data_set(app, artifacts, tmp_path):
    """``evaluate RUN --data OTHER``: Accuracy and Confusion offer it, and the gallery shows that
    data set's patterns (a copy of the tiny set with its patterns inverted, so they differ)."""
    from ebsdlib.data.format import EBSDDataset, write_dataset
    from ebsdlib.train.cross_eval import evaluate_on

    root = tmp_path / "lab"
    shutil.copytree(artifacts["root"], root)
    with EBSDDataset(artifacts["data"]) as ds:
        other = write_dataset(
            root / "datasets" / "other.h5",
            255 - ds.read(slice(None)),
            ds.labels,
            ds.phases,
            provenance={"test": "inverted copy"},
            split=ds.split,
        )
    run_a = artifacts["runs"]["ce"]
    metrics = evaluate_on(root / "runs" / run_a, other, "test", device="cpu", progress=False)
    at = app("confusion", root)
    no_exception(at)
    at.session_state["run_a"] = run_a
    at.run()
    at.selectbox(key="cm_evaluation").set_value("other-test").run()
    no_exception(at)
    cells = at.dataframe[0].value
    assert int(cells["count"].sum()) == metrics["n"]  # the evaluation's patterns, not the run's own
    assert images(at) > 0 and "not available" not in texts(at)
    at = app("accuracy", root)
    at.selectbox(key="acc_evaluation").set_value("other-test").run()
    no_exception(at)
    summary = at.dataframe[0].value
    assert len(summary) == 1 and summary["accuracy"].iloc[0] == pytest.approx(metrics["accuracy"])
    assert "was not evaluated on other-test" in texts(at)


def test_confusion_gallery_follows_the_chosen_cell(app, artifacts):
    """Choosing a row of the cells table (here: the cell with most patterns) shows that cell."""
    at = app("confusion")
    run_a = at.session_state["run_a"]
    cells = at.dataframe[0].value
    target = int(np.argmax(cells["count"].to_numpy()))
    at.session_state[f"cm_cells_{run_a}"] = {"selection": {"rows": [target], "columns": [], "cells": []}}
    at.run()
    no_exception(at)
    want = (
        f"**True {cells.iloc[target]['true_label']} → predicted {cells.iloc[target]['predicted_label']}: "
        f"{int(cells.iloc[target]['count'])} patterns**"
    )
    assert want in texts(at)
    assert images(at) == min(18, int(cells.iloc[target]["count"]))


def test_embeddings_page(app, artifacts):
    at = app("embeddings")
    no_exception(at)
    figs = charts(at)
    assert len(figs) == 2  # cross-entropy beside contrastive
    for color_by in ("pred", "correct", "true"):
        at.radio(key="emb_color").set_value(color_by).run()
        no_exception(at)
    assert "Nothing selected yet" in texts(at)


def test_phase_maps_page_threshold_pixel_and_downloads(app, artifacts):
    at = app("phase_maps")
    no_exception(at)
    assert len(charts(at)) == 4  # overlay, pixel probabilities, true, errors
    fractions = at.dataframe[0].value.set_index("label")
    assert fractions.loc["not indexed", "count"] == 0 and fractions["count"].sum() == 48
    at.slider(key="pm_threshold").set_value(0.99).run()
    no_exception(at)
    assert at.dataframe[0].value.set_index("label").loc["not indexed", "count"] > 0
    at.number_input(key="pm_row").set_value(5).run()
    at.number_input(key="pm_col").set_value(7).run()
    no_exception(at)
    assert "pattern #47" in texts(at)
    assert images(at) == 1
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == [
        "PNG (this view)",
        "CSV (all pixels)",
        "CrystalMap (orix .h5)",
        "CrystalMap (.ang, MTEX)",
        "CrystalMap (.ctf, AZtec)",
    ]


def test_pages_explain_a_run_still_training_and_a_broken_run(app, artifacts):
    for page in ("confusion", "embeddings", "phase_maps"):
        at = app(page)
        at.sidebar.selectbox(key="run_a").set_value(artifacts["running"]).run()
        no_exception(at)
        assert "is still running" in texts(at)
        at.sidebar.selectbox(key="run_a").set_value(artifacts["broken"]).run()
        no_exception(at)
        assert "cannot be read" in texts(at)


def test_every_page_on_an_empty_artifacts_folder(app, tmp_path):
    for page in ["overview", "accuracy", "confusion", "embeddings", "phase_maps"]:
        at = app(page, root=tmp_path)
        no_exception(at)
        assert "No runs yet" in texts(at), page


def test_active_run_shows_progress_in_the_sidebar(app, artifacts):
    at = app()
    shown = texts(at)
    assert artifacts["running"] in shown
    bars = list(at.sidebar.get("progress"))
    assert bars and bars[0].proto.value == 50 and "ETA 40s" in bars[0].proto.text
    assert any(b.key == f"cancel_{artifacts['running']}" for b in at.sidebar.button)


def test_training_form_validates_inline_and_launches(app, artifacts, monkeypatch):
    from ebsdlib import jobs

    launched = []
    monkeypatch.setattr(jobs, "launch", lambda config, root: launched.append((config, root)) or "new-run-id")
    at = app()
    at.sidebar.number_input(key="tf_epochs").set_value(3)
    at.sidebar.radio(key="tf_loss").set_value("supcon")
    at.sidebar.text_input(key="tf_model").set_value("test_efficientnet")
    at.sidebar.number_input(key="tf_size").set_value(32)
    at.sidebar.checkbox(key="tf_size_own").uncheck()
    tiny = str((artifacts["root"] / "datasets" / "tiny.h5").resolve())
    at.sidebar.selectbox(key="tf_data").set_value(tiny)
    next(b for b in at.get("button") if "Validate" in b.proto.label).click()
    at.run()
    no_exception(at)
    assert "Started run `new-run-id`" in texts(at)
    ((config, root),) = launched
    assert (config.loss, config.epochs, config.model, config.preprocess.size) == ("supcon", 3, "test_efficientnet", 32)
    assert config.data == tiny and root == artifacts["root"].resolve()


def test_training_form_refuses_a_bad_model(app, artifacts, monkeypatch):
    from ebsdlib import jobs

    monkeypatch.setattr(jobs, "launch", lambda *a, **k: pytest.fail("must not launch"))
    at = app()
    at.sidebar.text_input(key="tf_model").set_value("efficientnet_b00")
    next(b for b in at.get("button") if "Validate" in b.proto.label).click()
    at.run()
    no_exception(at)
    assert "Not started: model 'efficientnet_b00' is not a timm model" in texts(at)


def test_cached_runs_table_notices_a_finished_run(app, artifacts):
    at = app()
    before = next(d for d in at.dataframe if "run_id" in d.value.columns).value
    running = open_run(artifacts["running"], artifacts["root"])
    running.update_status(state="cancelled")
    at.run()
    after = next(d for d in at.dataframe if "run_id" in d.value.columns).value
    assert before.set_index("run_id").loc[artifacts["running"], "state"] == "running"
    assert after.set_index("run_id").loc[artifacts["running"], "state"] == "cancelled"
    running.update_status(state="running")


def test_a_million_pixel_phase_map_renders(app, built, tmp_path):
    """A 1000×1000 map: sent as one image plus a light clickable grid; redrawn at a new threshold.

    The time of the redraw's library work is measured by ``bench speed`` (``display`` in speed.json).
    """
    from ebsdlib.phasemap import build_phasemap
    from ebsdlib.phasemap.store import _write_npz
    from ebsdlib.phases import DEFAULT_PHASES

    shutil.copytree(built["root"], tmp_path, dirs_exist_ok=True)
    h = w = 1000
    rng = np.random.default_rng(0)
    rr, cc = np.mgrid[0:h, 0:w]
    grains = ((rr // 100) + 2 * (cc // 100)) % 3
    proba = rng.dirichlet([1.0, 1.0, 1.0], h * w).astype(np.float32)
    proba[np.arange(h * w), grains.ravel()] += 1.0
    proba /= proba.sum(axis=1, keepdims=True)
    pm = build_phasemap(
        proba,
        rr.ravel(),
        cc.ravel(),
        (h, w),
        DEFAULT_PHASES,
        true=grains.ravel(),
        quality=rng.uniform(0.2, 1.0, h * w).astype(np.float32),
    )
    run = open_run(built["runs"]["ce"], tmp_path)
    _write_npz(pm, run.phasemap_dir("big") / "phasemap.npz")  # the map only; exports are not needed here
    at = app("phase_maps", root=tmp_path)
    at.sidebar.selectbox(key="run_a").set_value(run.run_id).run()
    at.selectbox(key="pm_scan").set_value("big").run()
    no_exception(at)
    overlay = charts(at)[0].proto.spec
    image, grid, _ = json.loads(overlay)["data"]
    assert image["source"].startswith("data:image/png;base64,")
    xs = grid["x"]  # plotly sends arrays as typed base64
    xs = np.frombuffer(base64.b64decode(xs["bdata"]), dtype=xs["dtype"]) if isinstance(xs, dict) else xs
    assert len(xs) == 200 * 200
    assert len(overlay) < 15_000_000  # not 10^6 markers
    at.slider(key="pm_threshold").set_value(0.6).run()
    no_exception(at)
    fractions = at.dataframe[0].value.set_index("label")
    assert fractions["count"].sum() == 1_000_000 and fractions.loc["not indexed", "count"] > 0


def test_sidebar_shows_the_demo_data_rebuild(app, tmp_path):
    import os

    from ebsdlib.io import write_json

    write_json(
        tmp_path / "cache" / "demo-data.json",
        {"state": "running", "progress": 0.4, "pid": os.getpid(), "message": "simulating the demo scan (2 of 2)"},
    )
    at = app(root=tmp_path)
    no_exception(at)
    bars = [b.proto for b in at.sidebar.get("progress")]
    assert any(b.value == 40 and "simulating the demo scan" in b.text for b in bars)
