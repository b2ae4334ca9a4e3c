"""The Phase maps page with orientations (IPF map beside the phase map, boundaries over both) and
with a set that has no scan positions (said plainly, no map drawn)."""

import shutil

import numpy as np
import pytest

from ebsdlib.phasemap import build_phasemap, save_phasemap
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.runs import open_run


def no_exception(at) -> None:
    assert not at.exception, [e.message for e in at.exception]


def texts(at) -> str:
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(getattr(e, "value", "")) for e in at.get(kind)]
    return "\n".join(parts)


def charts(at) -> list:
    return list(at.get("plotly_chart"))


@pytest.fixture
def mapped(artifacts, tmp_path):
    """A copy of :func:`artifacts` (the other page tests see the shared one) whose cross-entropy run
    has two more maps: a hybrid map with two grains 40° apart, and the predictions of a set without
    positions. Returns the copy's root."""
    from orix.quaternion import Rotation

    root = tmp_path / "artifacts"
    shutil.copytree(artifacts["root"], root)
    run = open_run(artifacts["runs"]["ce"], root)
    rows, cols = 6, 8
    n = rows * cols
    r, c = np.divmod(np.arange(n), cols)
    q = np.where((c < 4)[:, None], Rotation.identity().data, Rotation.from_axes_angles((0, 1, 0), 0.7).data)
    proba = np.full((n, 3), 0.2, np.float32)
    proba[:, 0] = 0.6
    ok = np.ones(n, bool)
    ok[:3] = False
    save_phasemap(
        build_phasemap(
            proba,
            r,
            c,
            (rows, cols),
            DEFAULT_PHASES,
            orientations=q,
            orientation_ok=ok,
            orientation_source="hough",
            orientation_fit=np.full(n, 0.4),
            orientation_bands=np.full(n, 8),
            meta={"scan": "hybrid"},
        ),
        run.phasemap_dir("hybrid"),
    )
    save_phasemap(
        build_phasemap(proba[:10], None, None, None, DEFAULT_PHASES, true=np.zeros(10, int), meta={"scan": "nopos"}),
        run.phasemap_dir("nopos"),
    )
    return root


def test_orientation_maps_beside_the_phase_map(app, mapped):
    at = app("phase_maps", root=mapped)
    at.selectbox(key="pm_scan").set_value("hybrid").run()
    no_exception(at)
    titles = [ch.proto.spec for ch in charts(at)]
    assert any("IPF-Z orientations with boundaries" in t for t in titles)
    assert any("Phases with boundaries" in t for t in titles)
    shown = texts(at)
    assert "Hough/Radon indexing (PyEBSDIndex)" in shown and "45 of 48 points have one" in shown
    assert "Boundaries above 5° between 4-neighbours: 6 pairs, 0 of them between phases" in shown
    keys = len(at.get("image"))
    at.selectbox(key="pm_ipf_direction").set_value("x").run()
    no_exception(at)
    assert any("IPF-X orientations" in ch.proto.spec for ch in charts(at))
    at.slider(key="pm_gb_angle").set_value(30.0).run()
    no_exception(at)
    assert "Boundaries above 30° between 4-neighbours: 6 pairs" in texts(at)  # 40° apart
    assert keys >= 1  # the IPF colour key of Ni


def test_a_map_without_orientations_says_how_to_get_them(app, artifacts):
    at = app("phase_maps")
    at.selectbox(key="pm_scan").set_value("scan").run()
    no_exception(at)
    assert "This map has no orientations" in texts(at) and "--orientations hough" in texts(at)


def test_a_set_without_positions_is_said_plainly_and_not_drawn(app, mapped):
    at = app("phase_maps", root=mapped)
    at.selectbox(key="pm_scan").set_value("nopos").run()
    no_exception(at)
    assert "This data set has no scan positions (no scan shape), so there is no map to draw" in texts(at)
    assert charts(at) == []
    assert at.dataframe[0].value["count"].sum() == 10
    assert [b.proto.label for b in at.get("download_button")] == ["CSV (all patterns)"]
