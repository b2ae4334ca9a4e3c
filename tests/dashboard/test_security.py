"""What the dashboard lets in: the server binds to localhost, data sets chosen in the sidebar stay
inside the artifacts folder (paths, '..', symlinks), nothing reaches a shell, and names from imported
folders and files (phases, runs) reach the browser as text, never as HTML or Plotly markup."""

import os
import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ebsdlib.data.format import write_dataset
from ebsdlib.phases import DEFAULT_PHASES

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


def test_server_config_is_local_and_quiet():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
    assert config["server"]["headless"] is True
    assert config["server"]["maxUploadSize"] <= 10
    assert config["server"]["enableXsrfProtection"] is True
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"  # no tracebacks in the browser


def launch_from_sidebar(data: str) -> None:
    """Run the sidebar's launch step with a data-set path, as if it came from the form.

    AppTest runs this in the test process, where pytest has put the dashboard folder on the path
    (``pythonpath`` in pyproject.toml), as ``streamlit run dashboard/Home.py`` does for the app.
    """
    import cache
    import sidebar
    import streamlit as st

    sidebar._launch(
        cache.root(),
        dict(
            data=data,
            loss="ce",
            model="test_efficientnet",
            epochs=1,
            batch_size=8,
            lr=1e-3,
            validation=False,
            name="",
            weight_decay=0.0,
            schedule="constant",
            temperature=0.1,
            seed=0,
            device="cpu",
            augment=False,
            umap=False,
        ),
        32,
    )
    st.write(st.session_state["tf_message"][1])


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """An artifacts folder with one real data set, and a secret data set outside it; the dashboard's
    modules importable (for :func:`launch_from_sidebar`)."""
    rng = np.random.default_rng(0)
    pats = rng.integers(0, 255, (6, 16, 16), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2])
    art = tmp_path / "artifacts"
    write_dataset(art / "datasets" / "ok.h5", pats, labels, DEFAULT_PHASES, provenance={})
    secret = write_dataset(tmp_path / "elsewhere" / "secret.h5", pats, labels, DEFAULT_PHASES, provenance={})
    os.symlink(secret, art / "datasets" / "link.h5")
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(art))
    return art, secret


@pytest.mark.parametrize("choice", ["absolute", "dotdot", "symlink"])
def test_sidebar_refuses_data_sets_outside_the_artifacts_folder(lab, choice, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ebsdlib import jobs

    art, secret = lab
    monkeypatch.setattr(jobs, "launch", lambda *a, **k: pytest.fail("must not launch"))
    path = {
        "absolute": str(secret),
        "dotdot": str(art / "datasets" / ".." / ".." / "elsewhere" / "secret.h5"),
        "symlink": str(art / "datasets" / "link.h5"),
    }[choice]
    at = AppTest.from_function(launch_from_sidebar, args=(path,), default_timeout=60).run()
    assert not at.exception
    message = at.markdown[0].value
    assert message.startswith("Not started: path") and "lies outside" in message


def test_sidebar_launches_a_data_set_inside(lab, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ebsdlib import jobs

    art, _ = lab
    launched = []
    monkeypatch.setattr(jobs, "launch", lambda config, root: launched.append(config) or "run-1")
    at = AppTest.from_function(launch_from_sidebar, args=(str(art / "datasets" / "ok.h5"),), default_timeout=60).run()
    assert not at.exception and at.markdown[0].value.startswith("Started run `run-1`")
    assert launched[0].data == str((art / "datasets" / "ok.h5").resolve())


#: Names Plotly would read as markup: bold text, a link, and a tag it does not know.
PLOTLY_NAMES = ["Ni₃Al", "<b>bold", '<a href="https://example.org">link', '<img src=x onerror="alert(1)">']
PLOTLY_TEXT = [n.replace("<", "&lt;").replace(">", "&gt;") for n in PLOTLY_NAMES]  # what Plotly shows as the names


def test_names_in_plotly_figures_are_text_not_markup():
    """Labels, legends and hover text carry names escaped (Plotly turns ``&lt;`` back into ``<``)."""
    from ebsdlib.phases import phase_from_name
    from ebsdlib.views.confusion import difference
    from ebsdlib.views.figures import (
        confusion_figure,
        curves_figure,
        difference_figure,
        embedding_figure,
        per_class_figure,
        probability_figure,
    )
    from ebsdlib.views.mapview import grid_hover, pixel_table

    names, text, n = PLOTLY_NAMES, PLOTLY_TEXT, len(PLOTLY_NAMES)

    def hover(fig) -> str:
        return " ".join(str(v) for v in np.ravel(fig.data[0].hovertext))

    cm = np.arange(n * n).reshape(n, n)
    for fig in (confusion_figure(cm, names), difference_figure(difference(cm, cm.T, "row"), names, "row")):
        assert list(fig.data[0].x) == text and list(fig.data[0].y) == text
        assert all(f"predicted {t}" in hover(fig) for t in text) and "<b>" not in hover(fig)

    phases = [phase_from_name(name) for name in names]
    pm = SimpleNamespace(
        phases=phases, pred=np.arange(n)[None], confidence=np.ones((1, n)), true=np.arange(n)[::-1][None]
    )
    hovers = list(grid_hover(pm, np.zeros(n, int), np.arange(n)))
    assert hovers[1] == f"{text[1]} · confidence 1.00<br>true {text[2]}"
    assert not any("<b>" in h or "<a " in h or "<img" in h for h in hovers)

    proba = probability_figure(pixel_table({"proba": dict(zip(names, [0.4, 0.3, 0.2, 0.1], strict=True))}, phases))
    assert sorted(proba.data[0].y) == sorted(text)

    emb = pd.DataFrame(
        {
            "x": np.arange(n, dtype=float),
            "y": np.arange(n, dtype=float),
            "row": np.arange(n),
            "index": np.arange(n),
            "true_name": names,
            "pred_name": names[::-1],
            "correct": "wrong",
            "confidence": 0.5,
        }
    )
    fig = embedding_figure(emb, "true", phases)
    assert [t.name for t in fig.data] == text
    assert all(f"true {text[i]} → predicted {text[n - 1 - i]}" in fig.data[i].hovertemplate for i in range(n))

    long = pd.DataFrame(
        {"run": names[1], "phase": names, "label": names, "support": 3, "metric": "recall", "value": 0.5}
    )
    fig = per_class_figure(long, phases)
    assert sorted(t.name for t in fig.data) == sorted(text) and {x for t in fig.data for x in t.x} == {text[1]}
    curves = pd.DataFrame({"run": names[2], "epoch": [0, 1], "metric": "train_loss", "kind": "loss", "value": 1.0})
    assert curves_figure(curves).data[0].name.startswith(text[2])


#: Each page: its heading, how many Plotly charts it draws (the test waits for the last) and whether
#: it shows the phase legend (:func:`widgets.legend`, HTML).
HOSTILE_PAGES = {
    "": ("EBSD phase mapping", 0, False),
    "accuracy": ("Accuracy", 2, True),
    "confusion": ("Confusion matrix", 1, False),
    "embeddings": ("Embeddings", 1, True),
    "phase_maps": ("Phase maps", 2, True),
}
#: The text of each element (Plotly draws SVG, which has no innerText).
TEXTS = "els => els.map(e => e.textContent)"


@pytest.mark.browser
def test_names_from_imported_folders_reach_the_browser_as_text(hostile_artifacts, serve):
    """A phase imported from a folder named ``<img src=x onerror=...>`` and a run named like it:
    in headless Chromium no script runs and no tag is made on any page; the names show as text,
    in the HTML phase legend, in Markdown and in Plotly's labels (``<b>bold`` is not bold)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with `apt-get install -y chromium` (as root)")
    phase, markup, run_name = (hostile_artifacts[k] for k in ("phase", "markup", "run_name"))
    assert {phase, markup} <= set(hostile_artifacts["phases"])  # the importer took the folder names as they are
    dialogs = []
    with serve(hostile_artifacts["root"]) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.set_default_timeout(60_000)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            for path, (heading, n_charts, has_legend) in HOSTILE_PAGES.items():
                page.goto(f"{url}/{path}")
                page.get_by_role("heading", name=heading).first.wait_for()
                page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
                if n_charts:
                    page.locator(".js-plotly-plot").nth(n_charts - 1).wait_for()
                page.wait_for_timeout(1000)  # an <img> whose source fails fires onerror by then
                assert page.evaluate("() => window.__xss") is None, path
                assert page.locator("img[src='x']").count() == 0, path
                bold = page.eval_on_selector_all(".js-plotly-plot tspan[style*=bold]", TEXTS)
                assert "bold" not in bold, path  # Plotly did not read the phase <b>bold as markup (titles are bold)
                markdown = page.locator('[data-testid="stMarkdownContainer"]')
                if path == "":
                    assert markdown.get_by_text(run_name).first.is_visible()  # the best run's card
                    continue
                for name in (phase, markup) if has_legend else ():  # the phase legend above the charts
                    assert markdown.get_by_text(name, exact=True).first.is_visible(), (path, name)
                plotly = page.eval_on_selector_all(".js-plotly-plot text", TEXTS)
                assert any(markup in t for t in plotly), (path, plotly)
        finally:
            browser.close()
    assert dialogs == []
