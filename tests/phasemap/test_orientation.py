"""IPF colours and grain boundaries of a phase map, against orix's own colour key and misorientations."""

import numpy as np
import pytest

from ebsdlib.phasemap import build_phasemap
from ebsdlib.phasemap.orientation import draw_boundaries, grain_boundaries, ipf_rgb
from ebsdlib.phases import DEFAULT_PHASES, Phase

ROWS, COLS = 4, 6


def two_grains(second_angle: float, axis=(0, 0, 1), phases=(0, 0), ok=None):
    """A 4×6 map: columns 0-2 one grain, 3-5 a grain turned by ``second_angle`` degrees about ``axis``."""
    from orix.quaternion import Rotation

    n = ROWS * COLS
    row, col = np.divmod(np.arange(n), COLS)
    base = Rotation.from_euler(np.deg2rad([30.0, 20.0, 10.0]))
    turn = Rotation.from_axes_angles(axis, np.deg2rad(second_angle))
    q = np.where((col < 3)[:, None], base.data, (turn * base).data)
    pred = np.where(col < 3, phases[0], phases[1])
    proba = np.full((n, 3), 0.1, np.float32)
    proba[np.arange(n), pred] = 0.8
    return build_phasemap(
        proba, row, col, (ROWS, COLS), DEFAULT_PHASES, orientations=q, orientation_ok=ok, orientation_source="file"
    )


def test_ipf_colours_are_orix_key_colours_of_each_points_phase():
    from orix.plot import IPFColorKeyTSL
    from orix.quaternion import Orientation
    from orix.quaternion.symmetry import get_point_group
    from orix.vector import Vector3d

    pm = two_grains(40.0, phases=(0, 1))
    for direction, vector in (("z", Vector3d.zvector()), ("x", Vector3d.xvector())):
        rgb = ipf_rgb(pm, direction)
        for col, sg in ((0, 225), (5, 221)):
            pg = get_point_group(sg)
            want = IPFColorKeyTSL(pg.laue, direction=vector).orientation2color(
                Orientation(pm.orientations[0, col].astype(np.float64), symmetry=pg)
            )
            np.testing.assert_array_equal(rgb[0, col], np.rint(255 * np.asarray(want)).astype(np.uint8).ravel())
    assert not np.array_equal(ipf_rgb(pm, "z"), ipf_rgb(pm, "x"))
    with pytest.raises(ValueError, match="IPF direction 'w' is not allowed; use one of x, y, z"):
        ipf_rgb(pm, "w")


def test_points_without_orientation_or_not_indexed_are_black():
    ok = np.ones(ROWS * COLS, bool)
    ok[0] = False
    pm = two_grains(40.0, ok=ok)
    rgb = ipf_rgb(pm, "z")
    assert (rgb[0, 0] == 0).all() and rgb[0, 1].any()
    assert (ipf_rgb(pm, "z", threshold=0.9) == 0).all()  # confidence 0.8 everywhere


def test_grain_boundaries_follow_the_misorientation_angle():
    pm = two_grains(10.0)
    gb = grain_boundaries(pm, 5.0)
    want = np.zeros((ROWS, COLS - 1), bool)
    want[:, 2] = True  # between columns 2 and 3
    np.testing.assert_array_equal(gb.right, want)
    assert not gb.down.any() and gb.n_boundaries == ROWS and gb.n_phase_boundaries == 0
    assert grain_boundaries(pm, 15.0).n_boundaries == 0
    mask = gb.mask()
    assert mask[:, 2].all() and mask.sum() == ROWS


def test_grain_boundaries_are_symmetry_aware():
    # 90° about z is a symmetry of the cubic crystal: the same orientation, no boundary
    assert grain_boundaries(two_grains(90.0), 5.0).n_boundaries == 0
    # 90° + 10° is 10° away
    assert grain_boundaries(two_grains(100.0), 5.0).n_boundaries == ROWS


def test_phase_boundaries_and_points_without_orientation():
    gb = grain_boundaries(two_grains(0.0, phases=(0, 2)), 5.0)
    assert gb.n_phase_boundaries == ROWS and gb.n_boundaries == ROWS
    ok = np.ones(ROWS * COLS, bool)
    ok[3] = False  # (0, 3): no orientation, so no grain boundary to its neighbours
    assert grain_boundaries(two_grains(10.0, ok=ok), 5.0).n_boundaries == ROWS - 1


def test_draw_boundaries_and_bad_input():
    pm = two_grains(10.0)
    gb = grain_boundaries(pm, 5.0)
    img = np.full((ROWS, COLS, 3), 200, np.uint8)
    out = draw_boundaries(img, gb, "#ff0000")
    assert (out[:, 2] == [255, 0, 0]).all() and (out[:, 0] == 200).all()
    assert (img == 200).all()  # a copy
    with pytest.raises(ValueError, match="grain-boundary angle 0 is not allowed"):
        grain_boundaries(pm, 0)
    with pytest.raises(ValueError, match=r"image has shape \(2, 2, 3\)"):
        draw_boundaries(img[:2, :2], gb)


def test_a_phase_without_space_group_is_named():
    from ebsdlib.phasemap.orientation import point_group

    with pytest.raises(ValueError, match="phase 'A' has space group 0, so its orientations have no crystal symmetry"):
        point_group(Phase("A", 0, 0.0, "#123456"))
