"""The report opened offline in headless Chromium: every figure drawn, nothing fetched, nothing run
that a name smuggled in."""

from __future__ import annotations

import json

import pytest

from ebsdlib.report import build_report, write_report

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="window.__xss=1"> run'
#: Figures Plotly has drawn: their SVG with a plot area, an image layer or a WebGL container.
DRAWN = """() => [...document.querySelectorAll('.plotly-graph-div')].filter(d => d.querySelector('.main-svg')
    && d.querySelector('.main-svg .plot, .main-svg .imagelayer, .gl-container')).length"""


def test_every_figure_is_drawn_offline(lab, chromium, browser, tmp_path):
    root = lab["root"]
    config = root / "runs" / lab["supcon"] / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "name": HOSTILE}))
    out = write_report([lab["ce"], lab["supcon"]], tmp_path / "report.html", root)
    expected = len(build_report([lab["ce"], lab["supcon"]], root).figures)

    context = browser.new_context(offline=True, viewport={"width": 1300, "height": 1000})
    asked: list[str] = []

    def block(route):  # the network is cut: anything but the file itself is refused and recorded
        asked.append(route.request.url)
        if route.request.url == out.as_uri():
            return route.continue_()
        return route.abort()

    context.route("**/*", block)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(out.as_uri())
        page.wait_for_function(f"() => ({DRAWN})() >= {expected}", timeout=60_000)
        assert page.evaluate("() => document.querySelectorAll('.plotly-graph-div').length") == expected == 9
        assert page.evaluate(DRAWN) == expected
        # the heatmaps and the UMAP scatter have their data drawn, the maps their image
        assert (
            page.evaluate(
                "() => document.querySelectorAll('.main-svg .hm image, .main-svg .heatmaplayer image').length"
            )
            >= 3
        )
        assert page.evaluate("() => document.querySelectorAll('.imagelayer image').length") == 2
        assert page.evaluate("() => document.querySelectorAll('canvas').length") > 0  # WebGL UMAPs
        assert page.evaluate("() => window.__xss") is None
        assert page.get_by_text(HOSTILE).count() > 0  # shown as text
        assert asked == [out.as_uri()]
        assert errors == []
    finally:
        context.close()
