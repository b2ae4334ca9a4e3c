"""render_rgb: phase colours, not-indexed colour, threshold, opacity over the quality map."""

import numpy as np
import pytest

from ebsdlib.phasemap import render_error, render_labels, render_rgb
from ebsdlib.phasemap.render import hex_to_rgb, quality_to_grey
from ebsdlib.phases import DEFAULT_PHASES, NOT_INDEXED_COLOR

NI, NI3AL, NI3FE = (np.array(hex_to_rgb(p.color)) for p in DEFAULT_PHASES)
BLACK = np.array(hex_to_rgb(NOT_INDEXED_COLOR))


def test_colours_and_threshold():
    pred = np.array([[0, 1], [2, -1]])
    conf = np.array([[0.9, 0.4], [0.7, np.nan]])
    img = render_rgb(pred, conf, None, DEFAULT_PHASES, threshold=0.0, opacity=1.0)
    assert img.dtype == np.uint8 and img.shape == (2, 2, 3)
    np.testing.assert_array_equal(img[0, 0], NI)
    np.testing.assert_array_equal(img[0, 1], NI3AL)
    np.testing.assert_array_equal(img[1, 0], NI3FE)
    np.testing.assert_array_equal(img[1, 1], BLACK)  # no pattern
    img = render_rgb(pred, conf, None, DEFAULT_PHASES, threshold=0.5, opacity=1.0)
    np.testing.assert_array_equal(img[0, 1], BLACK)  # 0.4 < 0.5: not indexed
    np.testing.assert_array_equal(img[1, 0], NI3FE)


def test_opacity_blends_with_quality():
    pred = np.zeros((1, 3), dtype=int)
    conf = np.ones((1, 3))
    quality = np.array([[0.0, 5.0, 10.0]])
    img = render_rgb(pred, conf, quality, DEFAULT_PHASES, opacity=0.0)
    # opacity 0 shows only the grey quality map, scaled between its 1st and 99th percentile
    assert img[0, 0].tolist() == [0, 0, 0] and img[0, 2].tolist() == [255, 255, 255]
    assert img[0, 1].tolist() == [128, 128, 128]
    img = render_rgb(pred, conf, quality, DEFAULT_PHASES, opacity=0.5)
    grey = quality_to_grey(quality)[0, 1] * 255
    np.testing.assert_allclose(img[0, 1], np.rint(0.5 * NI + 0.5 * grey), atol=1)
    # without a quality map the background is white
    img = render_rgb(pred, conf, None, DEFAULT_PHASES, opacity=0.5)
    np.testing.assert_allclose(img[0, 0], np.rint(0.5 * NI + 127.5), atol=1)


def test_large_map_renders():
    """A 1000×1000 map; its rendering time is measured by ``bench speed`` (``display`` in speed.json)."""
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 3, (1000, 1000))
    conf = rng.random((1000, 1000), dtype=np.float32)
    quality = rng.random((1000, 1000), dtype=np.float32)
    img = render_rgb(pred, conf, quality, DEFAULT_PHASES, threshold=0.3, opacity=0.6)
    assert img.shape == (1000, 1000, 3) and img.dtype == np.uint8


def test_label_and_error_maps():
    img = render_labels(np.array([[0, -1]]), DEFAULT_PHASES)
    np.testing.assert_array_equal(img[0, 0], NI)
    np.testing.assert_array_equal(img[0, 1], BLACK)
    err = render_error(np.array([[0, 1, -1]]))
    assert err[0].tolist() == [[0xE0, 0xE0, 0xE0], [0, 0, 0], [0xFF, 0xFF, 0xFF]]  # correct, wrong, unknown


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": 1.2}, "threshold 1.2 must lie in"),
        ({"opacity": -0.1}, "opacity -0.1 must lie in"),
        ({"quality": np.zeros((3, 3))}, r"quality has shape \(3, 3\), expected \(2, 2\)"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"quality": None, "threshold": 0.0, "opacity": 1.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        render_rgb(
            np.zeros((2, 2), int), np.ones((2, 2)), args["quality"], DEFAULT_PHASES, args["threshold"], args["opacity"]
        )


def test_hex_to_rgb_error():
    with pytest.raises(ValueError, match="colour 'red' is not of the form"):
        hex_to_rgb("red")
