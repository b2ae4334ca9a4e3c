import numpy as np
import pytest

from ebsdlib.phasemap import build_phasemap, render_rgb
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.views.confusion import difference
from ebsdlib.views.embedding import embedding_frame
from ebsdlib.views.figures import (
    confusion_figure,
    difference_figure,
    embedding_figure,
    map_figure,
    probability_figure,
)
from ebsdlib.views.mapview import click_grid, fractions_frame, grid_hover, pixel_from_point, pixel_table
from ebsdlib.views.predictions import prediction_frame


def _map(h=3, w=4):
    rr, cc = np.mgrid[0:h, 0:w]
    pred = (cc % 3).ravel()
    proba = np.full((h * w, 3), 0.1, dtype=np.float32)
    proba[np.arange(h * w), pred] = 0.8
    proba[0] = [0.4, 0.35, 0.25]
    true = pred.copy()
    true[1] = 2
    return build_phasemap(proba, rr.ravel(), cc.ravel(), (h, w), DEFAULT_PHASES, true=true)


def test_click_grid_small_and_large():
    r, c, step = click_grid((3, 4))
    assert step == 1 and len(r) == 12 and (r[5], c[5]) == (1, 1)
    r, c, step = click_grid((1000, 1000), max_points=40_000)
    assert step == 5 and len(r) == 200 * 200 and r.max() == 995
    with pytest.raises(ValueError, match=r"empty"):
        click_grid((0, 4))


def test_pixel_from_point():
    assert pixel_from_point({"customdata": [2, 3], "x": 0, "y": 0}, (3, 4)) == (2, 3)
    assert pixel_from_point({"customdata": {"0": 1, "1": 2}, "x": 0, "y": 0}, (3, 4)) == (1, 2)
    assert pixel_from_point({"x": 3.4, "y": 0.6}, (3, 4)) == (1, 3)
    assert pixel_from_point({"x": 99, "y": -5}, (3, 4)) == (0, 3)
    assert pixel_from_point(None, (3, 4)) is None
    assert pixel_from_point({"text": "x"}, (3, 4)) is None


def test_fractions_frame_threshold():
    pm = _map()
    f = fractions_frame(pm.fractions(0.5), pm.phases).set_index("phase")
    assert f.loc["not indexed", "count"] == 1 and f.loc["not indexed", "color"] == "#000000"
    assert (
        f.loc["Ni", "count"] == 5
        and f.loc["Ni3Al", "count"] == 3
        and f.loc["Ni", "label"] == "Ni"
        and f.loc["Ni3Fe", "label"] == "Ni₃Fe"
    )
    assert f["percent"].sum() == pytest.approx(100)
    with pytest.raises(ValueError, match=r"have no 'rows'"):
        fractions_frame({}, pm.phases)


def test_grid_hover_and_pixel_table():
    pm = _map()
    r, c, _ = click_grid(pm.scan_shape)
    text = grid_hover(pm, r, c)
    assert text[1] == "Ni₃Al · confidence 0.80<br>true Ni₃Fe"
    t = pixel_table(pm.pixel(0, 0), pm.phases)
    assert t["label"].tolist() == ["Ni", "Ni₃Al", "Ni₃Fe"]
    assert t["probability"].iloc[0] == pytest.approx(0.4, abs=1e-3)


def test_map_figure_sends_one_image_and_a_light_grid():
    rgb = np.zeros((1000, 1000, 3), np.uint8)
    r, c, _ = click_grid((1000, 1000))
    fig = map_figure(rgb, click=(r, c), marked=(10, 20))
    image, grid, mark = fig.data
    assert image.type == "image" and image.source.startswith("data:image/png;base64,")
    assert len(grid.x) == 40_000 and tuple(grid.customdata[1]) == (0, 5)
    assert (mark.x[0], mark.y[0]) == (20, 10)
    assert len(fig.to_json()) < 3_000_000  # an image, not 10^6 markers


def test_confusion_and_difference_figures():
    cm = np.array([[8, 2], [1, 9]])
    fig = confusion_figure(cm, ["Ni", "Ni₃Fe"], "row")
    assert fig.data[0].text[0] == ["80.0%", "20.0%"]
    assert "2 patterns" in fig.data[0].hovertext[0][1]
    d = difference_figure(difference(cm, np.array([[5, 5], [5, 5]]), "row"), ["Ni", "Ni₃Fe"], "row")
    assert d.data[0].text[0][0] == "+30.0 pp" and d.data[0].zmid == 0


def test_embedding_figure_is_webgl_with_rows(predictions):
    f = prediction_frame(predictions, ["Ni", "Ni3Al", "Ni3Fe"])
    e = embedding_frame(np.random.default_rng(0).normal(size=(8, 2)), f)
    fig = embedding_figure(e, "true", DEFAULT_PHASES)
    assert {t.type for t in fig.data} == {"scattergl"}
    legend = [(t.name, t.marker.color) for t in fig.data if t.showlegend]
    assert legend == [("Ni", "#1f77b4"), ("Ni₃Al", "#2ca02c"), ("Ni₃Fe", "#d62728")]
    rows = sorted(int(r[0]) for t in fig.data for r in t.customdata)
    assert rows == list(range(8))
    mistake = next(t for t in fig.data if 6 in t.customdata[:, 0])  # pattern 106: true Ni3Fe, predicted Ni
    assert "true Ni₃Fe → predicted Ni<br>" in mistake.hovertemplate and mistake.marker.color == "#d62728"
    fig = embedding_figure(e, "correct", DEFAULT_PHASES)
    assert [t.name for t in fig.data if t.showlegend] == ["correct", "wrong"]


def test_embedding_figure_100k_points_stays_light():
    """100 000 points in a few MB of JSON; the time to build the figure is measured by ``bench speed``."""
    import pandas as pd

    n = 100_000
    rng = np.random.default_rng(0)
    true = rng.integers(0, 3, n)
    e = pd.DataFrame(
        {
            "x": rng.normal(size=n).astype(np.float32),
            "y": rng.normal(size=n).astype(np.float32),
            "row": np.arange(n),
            "index": np.arange(n),
            "true_name": np.array(["Ni", "Ni3Al", "Ni3Fe"])[true],
            "pred_name": np.array(["Ni", "Ni3Al", "Ni3Fe"])[true],
            "correct": "correct",
            "confidence": rng.uniform(size=n),
        }
    )
    fig = embedding_figure(e, "pred", DEFAULT_PHASES)
    assert sum(len(tr.x) for tr in fig.data) == n and fig.data[0].marker.size == 2.5
    assert len(fig.to_json()) < 4_000_000  # float32 customdata and coordinates as typed arrays


def test_probability_figure_colours():
    pm = _map()
    fig = probability_figure(pixel_table(pm.pixel(0, 0), pm.phases))
    assert list(fig.data[0].marker.color) == ["#d62728", "#2ca02c", "#1f77b4"]  # least likely drawn first


def test_render_threshold_shows_not_indexed():
    pm = _map()
    rgb = render_rgb(pm.pred, pm.confidence, pm.quality, pm.phases, threshold=0.5, opacity=1.0)
    assert tuple(rgb[0, 0]) == (0, 0, 0) and tuple(rgb[0, 1]) == (0x2C, 0xA0, 0x2C)


def test_curves_figure_facets_only_what_was_recorded():
    import pandas as pd

    from ebsdlib.views.curves import curves_frame
    from ebsdlib.views.figures import curves_figure

    h = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5]})
    fig = curves_figure(curves_frame({"A": h, "B": h}))
    assert len(fig.data) == 2 and fig.layout.xaxis.dtick == 1 and "xaxis2" not in fig.layout
    h2 = h.assign(val_accuracy=[0.5, 0.7])
    fig = curves_figure(curves_frame({"A": h2}))
    assert "xaxis2" in fig.layout  # a second panel for the accuracy
