"""The labelled data set: contents, split by grain, provenance, determinism."""

import numpy as np
import pytest

from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.simulate import SimulationConfig, simulate_dataset


@pytest.fixture
def tiny_file(tiny_config, tmp_path):
    return simulate_dataset(tiny_config, tmp_path / "tiny.h5", progress=False)


def test_file_holds_labels_orientations_grains_quality_split(tiny_file, tiny_config):
    with EBSDDataset(tiny_file) as ds:
        assert len(ds) == 36 and ds.pattern_shape == (32, 32)
        assert ds.patterns.dtype == np.uint8
        assert ds.phase_names == ["Ni", "Ni3Al", "Ni3Fe"]
        assert np.bincount(ds.labels).tolist() == [12, 12, 12]
        q = ds.optional("orientations")
        np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
        quality = ds.optional("quality")
        assert np.all(np.isfinite(quality)) and np.all(quality < 1)
        grains = ds.optional("grain_id")
        assert len(np.unique(grains)) == 12  # 36 patterns, 3 per grain
        pc = ds.optional("pc")  # each pattern's own PC, drawn around the detector's
        spread = tiny_config.detector.pc_spread
        assert pc.shape == (36, 3) and np.abs(pc - np.asarray(tiny_config.detector.pc)).max() < 6 * spread + 1e-6
        assert spread == 0 or pc.std(axis=0).min() > 0
        assert ds.split is not None and set(np.unique(ds.split)) <= {0, 1, 2}
        # recommended at the simulated size (32), not the library's default input size (64)
        assert ds.preprocessing == PreprocessConfig(size=32).to_dict() != PreprocessConfig().to_dict()
        prov = ds.provenance
        assert prov["simulator"] == "ebsdlib.simulate.dataset"
        assert prov["config"]["dose"] == tiny_config.dose
        assert set(prov["master_patterns"]) == {"Ni", "Ni3Al", "Ni3Fe"}
        assert "kikuchipy" in prov["versions"]
        assert ds.attrs["seed"] == tiny_config.seed


def test_no_grain_on_two_sides_of_the_split(tiny_file):
    with EBSDDataset(tiny_file) as ds:
        grains, split, labels = ds.optional("grain_id"), ds.split, ds.labels
    for g in np.unique(grains):
        assert len(np.unique(split[grains == g])) == 1
        assert len(np.unique(labels[grains == g])) == 1


def test_patterns_of_a_grain_are_close_in_orientation(tiny_file):
    from ebsdlib.simulate.orientations import misorientation_deg

    with EBSDDataset(tiny_file) as ds:
        q, grains = ds.optional("orientations"), ds.optional("grain_id")
    same = grains[:, None] == grains[None, :]
    angles = misorientation_deg(q[:, None], q[None, :])
    assert angles[same].max() < 10
    assert np.median(angles[~same]) > 30


def test_same_seed_same_file_other_seed_other_patterns(tiny_config, tmp_path):
    a = simulate_dataset(tiny_config, tmp_path / "a.h5", progress=False)
    b = simulate_dataset(tiny_config, tmp_path / "b.h5", progress=False)
    c = simulate_dataset(tiny_config.replace(seed=1), tmp_path / "c.h5", progress=False)
    with EBSDDataset(a) as da, EBSDDataset(b) as db, EBSDDataset(c) as dc:
        np.testing.assert_array_equal(da.patterns[()], db.patterns[()])
        np.testing.assert_array_equal(da.split, db.split)
        assert not np.array_equal(da.patterns[()], dc.patterns[()])


def test_class_imbalance_and_phase_subset(tiny_config, tmp_path):
    config = tiny_config.replace(phases=("Ni", "Ni3Fe"), n_per_phase=(5, 9))
    path = simulate_dataset(config, tmp_path / "imb.h5", progress=False)
    with EBSDDataset(path) as ds:
        assert ds.phase_names == ["Ni", "Ni3Fe"]
        assert np.bincount(ds.labels).tolist() == [5, 9]


def test_sixteen_bit_camera(tiny_config, tmp_path):
    from ebsdlib.simulate.detector import DetectorModel

    path = simulate_dataset(
        tiny_config.replace(detector=DetectorModel(bit_depth=16)), tmp_path / "u16.h5", progress=False
    )
    with EBSDDataset(path) as ds:
        assert ds.patterns.dtype == np.uint16


def test_config_round_trip():
    config = SimulationConfig(n_per_phase=(3, 4, 5), dose=7.5)
    assert SimulationConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(phases=("Ni", "Cu")), r"unknown phases \['Cu'\]"),
        (dict(phases=("Ni", "Ni")), "name a phase twice"),
        (dict(n_per_phase=(3, 4)), "has 2 entries for 3 phases"),
        (dict(n_per_phase=0), "at least one pattern"),
        (dict(dose=-3.0), "dose -3.0 must be a positive"),
        (dict(pattern_size=4), "pattern_size 4"),
        (dict(patterns_per_grain=0), "patterns_per_grain 0"),
    ],
)
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SimulationConfig(**kwargs)


def test_unknown_config_key_is_named():
    with pytest.raises(ValueError, match=r"unknown SimulationConfig keys \['colour'\]"):
        SimulationConfig.from_dict({"colour": "red"})
