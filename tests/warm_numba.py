"""Compile the numba gufuncs the tests reach, once, in one process, before the test processes start.

orix, diffsims and kikuchipy compile ``guvectorize(cache=True)`` functions on first use into a cache
shared by every process of the environment. Two processes compiling them at once can write an
inconsistent cache (numba issue #10128: mismatched ABI tags between ``.nbc`` and ``guf-*.nbc``
files), and a later process loading it dies with a segmentation fault — seen once in this
project's CI, in orix's ``qu_rotate_vec`` during a kinematical master build. Run by ``make test``
before pytest: a kinematical master pattern of each default phase, its projection onto a detector,
and orix's rotation, symmetry and misorientation paths, in float64 as the tests use them.
"""

from __future__ import annotations

import tempfile

import numpy as np


def main() -> None:
    from orix.quaternion import Orientation, Rotation
    from orix.quaternion.symmetry import Oh
    from orix.vector import Vector3d

    from ebsdlib.phases import DEFAULT_PHASES
    from ebsdlib.simulate.dataset import render_clean
    from ebsdlib.simulate.detector import DetectorModel
    from ebsdlib.simulate.master import load_masters
    from ebsdlib.simulate.orientations import random_quaternions

    r = Rotation.random(8)
    _ = r * Vector3d.xvector()
    _ = r.outer(r)
    o = Orientation(r, symmetry=Oh)
    _ = o.reduce()
    _ = o.angle_with(o[::-1])
    with tempfile.TemporaryDirectory() as cache:
        masters, _ = load_masters(DEFAULT_PHASES, half_size=10, forward_model="kinematical", cache_dir=cache)
        q = random_quaternions(3, np.random.default_rng(0))
        render_clean(masters, DEFAULT_PHASES, np.arange(3), q, None, DetectorModel(), (16, 16))


if __name__ == "__main__":
    main()
