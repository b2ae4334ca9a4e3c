"""Dictionary indexing of kikuchipy's real Ni scan (3×3, 60×60 pixels, its own pattern centre).

A dictionary run is made on a tiny simulated data set (dynamical, the default), then maps the
real scan: the dictionary of the scan is simulated with the scan's own detector (its mean
pattern centre, tilts and beam energy from the file), not with the simulator's. With the
kinematical masters all nine patterns came out Ni₃Al; with dynamical ones no pattern may, plain,
refined or fitted to the pattern (the fit's PC and orientation start at the scan's own PC).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.baseline import DictionaryConfig
from ebsdlib.baseline.geometry import geometry_for
from ebsdlib.baseline.run import index_run
from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.readers import load
from ebsdlib.phasemap import load_phasemap

pytest.importorskip("kikuchipy")


@pytest.fixture(scope="module")
def real_ni(tmp_path_factory) -> Path:
    """kikuchipy's real Ni scan (in its wheel), converted to the project's format."""
    source = Path(importlib.util.find_spec("kikuchipy").origin).parent / "data" / "kikuchipy_h5ebsd" / "patterns.h5"
    out = tmp_path_factory.mktemp("real") / "nickel_ebsd_small.h5"
    with load(source, out=out):
        pass
    return out


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    from ebsdlib.simulate import SimulationConfig, simulate_dataset

    config = SimulationConfig(n_per_phase=6, pattern_size=60, patterns_per_grain=1, split_fractions=(0.5, 0.0, 0.5))
    return simulate_dataset(config, tmp_path_factory.mktemp("sim") / "labelled.h5", progress=False)


def test_the_scan_brings_its_own_detector(real_ni):
    with EBSDDataset(real_ni) as ds:
        geometry = geometry_for(ds, DictionaryConfig())
    assert geometry.detector.pc == pytest.approx((0.4251, 0.2131, 0.5011), abs=1e-3)  # the file's mean PC
    assert geometry.detector.sample_tilt == 70.0 and geometry.detector.voltage == 20.0
    assert geometry.forward_model == "dynamical" and "nickel_ebsd_small.h5" in geometry.source
    with EBSDDataset(real_ni) as ds:  # an option still wins over the file
        assert geometry_for(ds, DictionaryConfig(pc=(0.5, 0.3, 0.6))).detector.pc == (0.5, 0.3, 0.6)


@pytest.mark.parametrize(
    "options", [{}, {"refine": True}, {"refine_fit": True}], ids=["dictionary", "refined", "fitted"]
)
def test_no_dictionary_method_calls_real_ni_ni3al(labelled, real_ni, tmp_path, options):
    config = DictionaryConfig(resolution=5.0, calibration_patterns=0, device="cpu", **options)
    run = index_run(labelled, config, scans=[real_ni], root=tmp_path, progress=False)
    pm = load_phasemap(run, "nickel_ebsd_small")
    names = [p.name for p in pm.phases]
    assert pm.scan_shape == (3, 3)
    assert not (pm.pred == names.index("Ni3Al")).any(), f"real Ni indexed as {[names[i] for i in pm.pred.ravel()]}"
    detector = pm.meta["geometry"]["detector"]
    assert detector["pc"] == pytest.approx([0.4251, 0.2131, 0.5011], abs=1e-3)  # indexed with the scan's own PC
    assert pm.meta["geometry"]["forward_model"] == "dynamical"
    assert pm.meta["data"].endswith("nickel_ebsd_small.h5")
    # the run's own (simulated) split was indexed with the simulator's detector
    assert run.config()["geometry"]["detector"]["pc"] == pytest.approx([0.42, 0.22, 0.50])
    assert np.isfinite(pm.confidence).all()
