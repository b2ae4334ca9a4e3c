"""The Phase maps page's orientation views: both images with the same boundaries, the IPF key, captions."""

import io
import re

import numpy as np
from PIL import Image

from ebsdlib.phasemap import build_phasemap
from ebsdlib.phasemap.orientation import grain_boundaries, ipf_rgb
from ebsdlib.phasemap.render import render_phasemap
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.views.orientation import ipf_key_png, orientation_caption, orientation_views, pixel_orientation_text


def hybrid_map(ok_first: bool = False):
    """A 3×4 hybrid map (source hough): two grains 20° apart, point (0, 0) without Hough solution."""
    from orix.quaternion import Rotation

    n = 12
    row, col = np.divmod(np.arange(n), 4)
    q = np.where((col < 2)[:, None], Rotation.identity().data, Rotation.from_axes_angles((1, 0, 0), 0.35).data)
    proba = np.full((n, 3), 0.2, np.float32)
    proba[:, 0] = 0.6
    ok = np.ones(n, bool)
    ok[0] = ok_first
    return build_phasemap(
        proba,
        row,
        col,
        (3, 4),
        DEFAULT_PHASES,
        orientations=q,
        orientation_ok=ok,
        orientation_source="hough",
        orientation_fit=np.full(n, 0.5),
        orientation_bands=np.full(n, 7),
    )


def test_views_draw_the_same_boundaries_on_both_images():
    pm = hybrid_map()
    views = orientation_views(pm, "z", 5.0, 0.0, 0.7)
    gb = grain_boundaries(pm, 5.0)
    mask = gb.mask()
    assert mask[:, 1].all() and mask.sum() == 3
    assert (views.phase[mask] == 0).all() and (views.ipf[mask] == 0).all()
    np.testing.assert_array_equal(views.phase[~mask], render_phasemap(pm, 0.0, 0.7)[~mask])
    np.testing.assert_array_equal(views.ipf[~mask], ipf_rgb(pm, "z")[~mask])
    plain = orientation_views(pm, "z", 5.0, 0.0, 0.7, boundaries=False)
    np.testing.assert_array_equal(plain.ipf, ipf_rgb(pm, "z"))
    assert plain.boundaries.n_boundaries == 3


def test_hybrid_threshold_keeps_hough_solutions_on_the_phase_map():
    pm = hybrid_map()
    img = render_phasemap(pm, 0.9, 1.0)  # every confidence is 0.6
    assert (img[0, 0] == 0).all()  # no Hough solution: not indexed (black)
    assert img[0, 1].any() and img[2, 3].any()  # Hough solutions keep their phase colour


def test_ipf_key_is_a_png():
    data = ipf_key_png(hybrid_map(), 0, "y")
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG" and img.size[0] > 50


def test_captions_say_where_orientations_come_from():
    pm = hybrid_map()
    text = orientation_caption(pm, orientation_views(pm, "z", 5.0))
    assert "Hough/Radon indexing (PyEBSDIndex)" in text and "11 of 12 points have one" in text
    assert "not indexed only when its confidence is below the threshold and Hough found no solution" in text
    assert "Boundaries above 5° between 4-neighbours: 3 pairs, 0 of them between phases" in text
    assert pixel_orientation_text(pm.pixel(0, 0)) == "no orientation"
    shown = pixel_orientation_text(pm.pixel(0, 3))
    assert re.match(r"Euler \(φ1, Φ, φ2\) = \(\d+\.\d°, 20\.1°, \d+\.\d°\)", shown)  # 0.35 rad about x
    assert shown.endswith("Hough fit 0.50° with 7 bands")
