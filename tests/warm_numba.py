"""Compile the numba gufuncs the tests reach, once, in one process, before the test processes start.

orix, diffsims and kikuchipy compile ``guvectorize(cache=True)`` functions on first use into a cache
shared by every process of the environment. Two processes compiling them at once can write an
inconsistent cache (numba issue #10128: mismatched ABI tags between ``.nbc`` and ``guf-*.nbc``
files), and a later process loading it dies with a segmentation fault — seen once in this
project's CI, in orix's ``qu_rotate_vec`` during a kinematical master build. Run by ``make test``
before pytest: a kinematical master pattern of each default phase, its projection onto a detector,
and orix's rotation, symmetry and misorientation paths, in float64 as the tests use them; then,
since ``make test`` runs pytest's workers in parallel (xdist), the other cached kernels that tests in
different workers reach: PyEBSDIndex's (a Hough indexer on a few patterns) and UMAP's layout.
"""

from __future__ import annotations

import tempfile

import numpy as np


def main() -> np.ndarray:
    """Load (or compile) orix's and kikuchipy's gufuncs in the order every test process loads them;
    returns the three rendered patterns."""
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
        return render_clean(masters, DEFAULT_PHASES, np.arange(3), q, None, DetectorModel(), (32, 32))


def _warm_hough(patterns: np.ndarray) -> None:
    """Index a few patterns with PyEBSDIndex: its numba kernels (radon, band detection, voting)."""
    from ebsdlib.baseline.hough import build_indexer
    from ebsdlib.baseline.hough_config import HoughConfig
    from ebsdlib.phases import DEFAULT_PHASES
    from ebsdlib.simulate.detector import DetectorModel

    indexer = build_indexer(DEFAULT_PHASES, DetectorModel(), patterns.shape[1:], HoughConfig())
    indexer.indexer.index_pats(patsin=np.ascontiguousarray(patterns, dtype=np.float32), chunksize=len(patterns))


def _warm_umap() -> None:
    """A UMAP of a few dozen points, as every evaluation makes one."""
    from ebsdlib.train.embedding import MIN_UMAP_POINTS, umap_2d

    umap_2d(np.random.default_rng(0).normal(size=(max(MIN_UMAP_POINTS, 40), 8)), seed=0)


if __name__ == "__main__":
    _warm_hough(main())
    _warm_umap()
