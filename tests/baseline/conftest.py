"""Fixtures of the dictionary-indexing tests: noise-free simulated patterns made with the simulator's
own master patterns and detector model, and a session-wide cache of master patterns and dictionaries.

The data sets carry a simulation record like the simulator writes (``source: simulation`` with the
detector and master-pattern parameters), so the dictionary is built with the same geometry.
Preprocessing skips the static background: with a couple of dozen patterns, a data set's mean
pattern still shows bands.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ebsdlib.data.format import write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.simulate.detector import DetectorModel, standardise

SIZE = 32
MASTER_HALF = 60
RESOLUTION = 20.0
PREPROCESS = PreprocessConfig(size=SIZE, static_background=False)
DETECTOR = DetectorModel()


def record(forward_model: str = "dynamical") -> dict:
    """The simulation record of the test data (what the dictionary reads its geometry from)."""
    return {
        "source": "simulation",
        "config": {
            "detector": DETECTOR.to_dict(),
            "master_half_size": MASTER_HALF,
            "min_dspacing": 0.7,
            "forward_model": forward_model,
        },
    }


def frames(labels: np.ndarray, quaternions: np.ndarray, cache: Path, forward_model: str = "dynamical") -> np.ndarray:
    """Noise-free detector frames (float32) of the given phases and orientations."""
    from ebsdlib.simulate.dataset import render_clean
    from ebsdlib.simulate.master import load_masters

    masters, _ = load_masters(
        DEFAULT_PHASES, MASTER_HALF, 0.7, 20e3, cache_dir=cache / "cache" / "master", forward_model=forward_model
    )
    clean = render_clean(masters, DEFAULT_PHASES, labels, quaternions, None, DETECTOR, (SIZE, SIZE))
    return DETECTOR.expose(standardise(clean), 500.0, None)


def grid_orientations(n: int, seed: int) -> np.ndarray:
    """``n`` orientations of the dictionary's own sampling (exact matches exist)."""
    from ebsdlib.baseline.dictionary import sample_orientations

    q = sample_orientations(DEFAULT_PHASES[0], RESOLUTION)
    return q[np.random.default_rng(seed).choice(len(q), n, replace=False)]


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory) -> Path:
    """Artifacts folder holding the master-pattern and dictionary caches of the whole session."""
    return tmp_path_factory.mktemp("baseline_artifacts")


@pytest.fixture(scope="module", autouse=True)
def _artifacts_env(cache_root):
    """Point ``$EBSDLIB_ARTIFACTS`` (the caches) at :func:`cache_root` for each module, module fixtures included."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EBSDLIB_ARTIFACTS", str(cache_root))
        yield


@pytest.fixture(scope="session")
def clean_data(cache_root) -> Path:
    """Noise-free patterns: 4 training and 4 test orientations per phase, on the dictionary grid."""
    q = grid_orientations(8, seed=1)
    labels = np.repeat(np.arange(3), 8).astype(np.int16)
    quats = np.tile(q, (3, 1))
    split = np.tile(np.r_[np.zeros(4), np.full(4, 2)], 3).astype(np.int8)
    return write_dataset(
        cache_root / "clean.h5",
        frames(labels, quats, cache_root),
        labels,
        DEFAULT_PHASES,
        provenance=record(),
        preprocessing=PREPROCESS.to_dict(),
        split=split,
        split_rule="first four of each phase train, the rest test",
        orientations=quats.astype(np.float32),
    )


@pytest.fixture(scope="session")
def clean_scan(cache_root) -> Path:
    """A 3×4 noise-free scan: one column band per phase (Ni, Ni3Al, Ni3Fe, Ni)."""
    rr, cc = np.mgrid[0:3, 0:4]
    labels = np.array([0, 1, 2, 0])[cc.ravel()].astype(np.int16)
    quats = grid_orientations(12, seed=2)
    return write_dataset(
        cache_root / "scan.h5",
        frames(labels, quats, cache_root),
        labels,
        DEFAULT_PHASES,
        provenance=record(),
        preprocessing=PREPROCESS.to_dict(),
        scan_row=rr.ravel(),
        scan_col=cc.ravel(),
        scan_shape=(3, 4),
        step_size=0.5,
        quality=np.ones(12, np.float32),
        orientations=quats.astype(np.float32),
    )
