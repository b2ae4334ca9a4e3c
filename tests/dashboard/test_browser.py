"""The dashboard in headless Chromium (Playwright driving Debian's /usr/bin/chromium) against
``streamlit run dashboard/Home.py`` on a free localhost port.

Set ``EBSDLIB_SHOTS=/some/folder`` to keep a full-page screenshot of every page.
"""

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from ebsdlib.runs import list_runs

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
PAGES = {
    "": "EBSD phase mapping",
    "accuracy": "Accuracy",
    "confusion": "Confusion matrix",
    "embeddings": "Embeddings",
    "phase_maps": "Phase maps",
}


@pytest.fixture(scope="module")
def server(built, tmp_path_factory, serve):
    """``streamlit run`` on a copy of the test artifacts; yields (url, artifacts folder)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing; install it with `apt-get install -y chromium` (as root; `make browser` does it)"
        )
    root = tmp_path_factory.mktemp("browser_artifacts")
    shutil.copytree(built["root"], root, dirs_exist_ok=True)
    with serve(root, max_runs=2) as url:
        yield url, root


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page(viewport={"width": 1500, "height": 1000})
    pg.set_default_timeout(60_000)
    yield pg
    pg.close()


def open_page(page, url: str, path: str) -> None:
    page.goto(f"{url}/{path}")
    page.get_by_role("heading", name=PAGES[path]).first.wait_for()
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)


def assert_no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()


def test_every_page_opens(page, server):
    url, _ = server
    shots = os.environ.get("EBSDLIB_SHOTS")
    for path in PAGES:
        open_page(page, url, path)
        page.wait_for_timeout(500)  # let the charts draw
        assert_no_exception(page)
        if path in ("confusion", "accuracy", "embeddings", "phase_maps"):
            # Plotly draws after the script has finished: wait for the second chart, not a fixed time
            page.locator(".js-plotly-plot").nth(1).wait_for(timeout=30_000)
            assert page.locator(".js-plotly-plot").count() >= 2, path
        if shots:  # the whole page: make the window as tall as it
            Path(shots).mkdir(parents=True, exist_ok=True)
            height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
            page.set_viewport_size({"width": 1500, "height": min(int(height) + 40, 5000)})
            page.wait_for_timeout(1500)
            page.screenshot(path=str(Path(shots) / f"{path or 'home'}.png"))
            page.set_viewport_size({"width": 1500, "height": 1000})


def test_choosing_a_confusion_cell_shows_its_patterns(page, server):
    url, _ = server
    open_page(page, url, "confusion")
    heading = page.get_by_text(re.compile(r"^True .+ → predicted .+: \d+ patterns")).first
    before = heading.inner_text()
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    for row in range(9):  # click each row until the cell changes
        page.mouse.click(box["x"] + 14, box["y"] + 35 * (row + 1) + 17)
        page.wait_for_timeout(300)
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
        if heading.inner_text() != before:
            break
    after = heading.inner_text()
    assert after != before, "choosing a row of the cells table did not change the gallery"
    n = int(re.search(r": (\d+) patterns", after).group(1))
    images = page.locator('[data-testid="stImage"] img')
    assert images.count() == min(n, 18)
    assert_no_exception(page)


def test_confidence_threshold_marks_pixels_not_indexed(page, server):
    url, _ = server
    open_page(page, url, "phase_maps")
    caption = page.get_by_text("pixels not indexed").first
    assert "At threshold 0.00: 0 of 48 pixels not indexed" in caption.inner_text()
    thumb = page.get_by_role("slider", name="Confidence threshold")  # by name: the sidebar's form has sliders too
    thumb.focus()
    page.keyboard.press("End")  # threshold 1.00: only certain pixels stay
    page.wait_for_function("() => document.body.innerText.includes('At threshold 1.00')")
    text = page.get_by_text("pixels not indexed").first.inner_text()
    assert int(text.split(": ")[1].split(" of")[0]) > 0
    assert_no_exception(page)


def test_clicking_a_map_pixel_shows_its_pattern(page, server):
    url, _ = server
    open_page(page, url, "phase_maps")
    row, col = page.get_by_label("Row", exact=True), page.get_by_label("Column", exact=True)
    page.get_by_text("pattern #28").first.wait_for()  # the centre pixel to start with: row 3, col 4
    chart = page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    x, y = chart.evaluate("""g => { const r = g.getBoundingClientRect(), xa = g._fullLayout.xaxis,
        ya = g._fullLayout.yaxis; return [r.left + xa._offset + xa.l2p(6), r.top + ya._offset + ya.l2p(2)]; }""")
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    deadline = time.monotonic() + 60
    while (row.input_value(), col.input_value()) != ("2", "6") and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert (row.input_value(), col.input_value()) == ("2", "6")
    page.wait_for_function("() => document.body.innerText.includes('pattern #22')")  # row 2 · 8 + column 6
    assert page.locator('[data-testid="stImage"] img').count() == 1
    assert_no_exception(page)


def test_lasso_on_an_embedding_shows_the_selected_patterns(page, server):
    url, _ = server
    open_page(page, url, "embeddings")
    chart = page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    x0, y0, w, h = chart.evaluate("""g => { const r = g.getBoundingClientRect(), xa = g._fullLayout.xaxis,
        ya = g._fullLayout.yaxis; return [r.left + xa._offset, r.top + ya._offset, xa._length, ya._length]; }""")
    corners = [(x0 + 3, y0 + 3), (x0 + w - 3, y0 + 3), (x0 + w - 3, y0 + h - 3), (x0 + 3, y0 + h - 3), (x0 + 3, y0 + 6)]
    page.mouse.move(*corners[0])
    page.mouse.down()
    for corner in corners[1:]:  # a lasso around the whole plot: every point
        page.mouse.move(*corner, steps=8)
    page.mouse.up()
    selected = page.get_by_text("patterns selected").first
    selected.wait_for()
    n = int(re.search(r"(\d+) patterns selected", selected.inner_text()).group(1))
    assert n == 6  # the run's test split
    page.wait_for_function(f"() => document.querySelectorAll('[data-testid=\"stImage\"] img').length == {n}")
    assert_no_exception(page)


def test_start_a_training_run_from_the_sidebar_and_see_it_finish(page, server):
    url, root = server
    open_page(page, url, "")
    before = {r.run_id for r in list_runs(root)}
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Train a new run", exact=True).first.click()
    sidebar.get_by_label("Model (timm name)", exact=True).fill("test_efficientnet")
    sidebar.get_by_label("Epochs", exact=True).fill("1")
    sidebar.get_by_label("Batch size", exact=True).fill("8")
    sidebar.get_by_text("Advanced options", exact=True).first.click()
    sidebar.get_by_label("Image size (px)", exact=True).fill("32")
    sidebar.get_by_text("Compute UMAP of the embeddings", exact=True).first.click()
    sidebar.get_by_role("button", name="Validate and start").click()
    started = sidebar.get_by_text("Started run").first
    started.wait_for(timeout=60_000)
    run_id = (
        started.inner_text().split("`")[1]
        if "`" in started.inner_text()
        else started.inner_text().split("Started run ")[1].split(" ")[0]
    )
    assert run_id not in before
    sidebar.get_by_text(run_id).first.wait_for(timeout=30_000)  # live progress in the sidebar
    page.get_by_text(f"Run {run_id} completed.").wait_for(timeout=300_000)
    run = next(r for r in list_runs(root) if r.run_id == run_id)
    assert run.state == "completed" and run.metrics is not None
    assert run.config["model"] == "test_efficientnet" and run.config["epochs"] == 1
    assert_no_exception(page)
