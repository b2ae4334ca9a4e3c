"""The report's test artifacts: the dashboard tests' tiny trained runs, and the tiny dose benchmark.

The runs come from ``tests/dashboard/conftest.py`` (its ``built`` fixture: a tiny data set and scan
written with the library, a cross-entropy and a SupCon run trained on them, each with its UMAP and
its phase map); the dose benchmark from ``tests/conftest.py`` (``bench dose --quick``, with its
physical-limit curves). Nothing here makes data of its own. ``fetches`` is the offline check: what in
an HTML file would make a browser fetch something.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest


def _dashboard_module(name: str):
    """``tests/dashboard/<name>.py`` as a module: pytest shares no fixtures or helpers across
    sibling folders, and the report tests use the dashboard tests' runs and browser."""
    path = Path(__file__).resolve().parents[1] / "dashboard" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"ebsdlib_tests_dashboard_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_dashboard = _dashboard_module("conftest")
built, artifacts, app = _dashboard.built, _dashboard.artifacts, _dashboard.app
_browser = _dashboard_module("test_browser")
#: Headless Chromium as the dashboard's browser tests drive it (``browser`` is their fixture).
CHROMIUM, CHROMIUM_ARGS, browser = _browser.CHROMIUM, _browser.ARGS, _browser.browser


@pytest.fixture
def lab(built, dose_doc, bench_artifacts, tmp_path) -> dict:
    """A fresh copy of the trained runs with ``bench/dose.json`` beside them (tests may change it)."""
    root = tmp_path / "artifacts"
    shutil.copytree(built["root"], root)
    (root / "bench").mkdir()
    shutil.copy(bench_artifacts / "bench" / "dose.json", root / "bench" / "dose.json")
    return {"root": root, "ce": built["runs"]["ce"], "supcon": built["runs"]["supcon"], "limit": dose_doc["limit"]}


#: Attributes a browser loads (or follows on load) by themselves.
FETCHING = {"src", "href", "srcset", "poster", "data", "action", "formaction", "background", "manifest"}
CSS_URL = re.compile(r"url\(\s*['\"]?(?!data:|#)([^'\")\s]+)|@import", re.I)


class _Fetches(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self._in_style = tag == "style"
        for name, value in attrs:
            value = (value or "").strip()
            if name in FETCHING and value and not value.startswith(("#", "data:")):
                self.found.append(f"<{tag} {name}={value[:80]!r}>")
            if name == "style" and CSS_URL.search(value):
                self.found.append(f"<{tag} style={value[:80]!r}>")
        if tag == "meta" and any(n == "http-equiv" and (v or "").lower() == "refresh" for n, v in attrs):
            self.found.append("<meta http-equiv=refresh>")

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style and CSS_URL.search(data):
            self.found.append(f"<style> {CSS_URL.search(data).group(0)!r}")


def fetched_references(text: str) -> list[str]:
    """Every tag attribute and style rule of ``text`` that would load something from outside the
    file (links to anchors ``#…`` and ``data:`` URIs are the file's own). Script bodies are not
    markup: the URL strings inside plotly.js are not fetched by loading the page."""
    parser = _Fetches()
    parser.feed(text)
    parser.close()
    return parser.found


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium the browser tests drive; a missing one fails with how to install it."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing; install it with `apt-get install -y chromium` (as root; `make browser` does it)"
        )
    return CHROMIUM


@pytest.fixture
def fetches():
    """:func:`fetched_references`, for the test modules (which cannot import this conftest)."""
    return fetched_references
