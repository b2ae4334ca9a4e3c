"""The simulated scan: grid positions, grains, labels, boundary mixing and quality."""

import numpy as np
import pytest

from ebsdlib.data.format import EBSDDataset
from ebsdlib.simulate import ScanConfig, simulate_scan
from ebsdlib.simulate.scan import plan_scan


@pytest.fixture
def scan_file(tiny_scan_config, tmp_path):
    return simulate_scan(tiny_scan_config, tmp_path / "scan.h5", progress=False)


def test_scan_file_has_positions_labels_quality(scan_file, tiny_scan_config):
    with EBSDDataset(scan_file) as ds:
        assert ds.scan_shape == (12, 10) and len(ds) == 120
        assert ds.step_size == pytest.approx(tiny_scan_config.step_size)
        row, col = ds.optional("scan/row"), ds.optional("scan/col")
        assert sorted(zip(row.tolist(), col.tolist(), strict=True)) == [(r, c) for r in range(12) for c in range(10)]
        grains, labels = ds.optional("grain_id"), ds.labels
        assert set(np.unique(grains)) <= set(range(5))
        for g in np.unique(grains):  # one phase per grain
            assert len(np.unique(labels[grains == g])) == 1
        quality = ds.optional("quality")
        assert quality.shape == (120,) and np.all(np.isfinite(quality))
        assert ds.provenance["simulator"] == "ebsdlib.simulate.scan"
        assert ds.provenance["config"]["shape"] == [12, 10]
        assert ds.preprocessing["size"] == 32  # recommended at the simulated size


def test_every_phase_appears_when_grains_allow(tiny_scan_config):
    plan = plan_scan(tiny_scan_config, np.random.default_rng(0))
    assert set(np.unique(plan.labels)) == {0, 1, 2}


def test_grains_are_voronoi_cells_and_boundaries_mix():
    config = ScanConfig(shape=(30, 30), n_grains=6, beam_sigma=0.6)
    plan = plan_scan(config, np.random.default_rng(3))
    own = plan.grain_id.reshape(30, 30)
    mixed = (plan.weight > 0).reshape(30, 30)
    # a point that mixes has a point of another grain within two steps
    from scipy.ndimage import maximum_filter, minimum_filter

    near_other = (maximum_filter(own, size=5) != own) | (minimum_filter(own, size=5) != own)
    assert mixed.any() and near_other[mixed].all()
    assert plan.weight.max() <= 0.5
    assert mixed.mean() < 0.5
    no_mix = plan_scan(config.replace(beam_sigma=0.0), np.random.default_rng(3))
    assert not (no_mix.weight > 0).any()


def test_noisier_patterns_have_lower_quality(master_cache, tmp_path):
    quality = {}
    for dose in (100.0, 4000.0):  # the same grains, orientations and noise draws, scaled
        config = ScanConfig(shape=(8, 8), n_grains=4, pattern_size=32, cache_dir=str(master_cache), seed=2, dose=dose)
        with EBSDDataset(simulate_scan(config, tmp_path / f"q{dose:g}.h5", progress=False)) as ds:
            quality[dose] = ds.optional("quality")
    assert quality[100.0].shape == (64,) and np.isfinite(quality[100.0]).all()
    assert (quality[100.0] < quality[4000.0]).all()


def test_pattern_centre_drifts_across_the_scan(tiny_scan_config):
    plan = plan_scan(tiny_scan_config, np.random.default_rng(0))
    pcx = plan.pcs[:, 0].reshape(12, 10)
    spread = tiny_scan_config.detector.pc_spread
    assert pcx[0, 0] - pcx[0, -1] == pytest.approx(spread)


def test_scan_is_deterministic(tiny_scan_config, tmp_path):
    a = simulate_scan(tiny_scan_config, tmp_path / "a.h5", progress=False)
    b = simulate_scan(tiny_scan_config, tmp_path / "b.h5", progress=False)
    with EBSDDataset(a) as da, EBSDDataset(b) as db:
        np.testing.assert_array_equal(da.patterns[()], db.patterns[()])
        np.testing.assert_array_equal(da.labels, db.labels)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(shape=(0, 5)), r"scan shape \(0, 5\)"),
        (dict(shape=(4, 4), n_grains=17), "n_grains 17"),
        (dict(phase_fractions=(1.0, 0.0)), r"phase_fractions \(1.0, 0.0\) must be 3"),
        (dict(step_size=0.0), "step_size 0.0"),
    ],
)
def test_bad_scan_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ScanConfig(**kwargs)
