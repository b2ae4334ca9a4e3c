"""Master patterns: the physics of the three phases and the on-disk cache."""

import numpy as np
import pytest

from ebsdlib.phases import NI, NI3AL, NI3FE
from ebsdlib.simulate import master as master_mod
from ebsdlib.simulate.detector import DetectorModel
from ebsdlib.simulate.project import project


def _corr(a, b):
    a = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(1, keepdims=True)
    b = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))


def test_same_orientation_ni_differs_from_ni3al_clearly_more_than_from_ni3fe(masters_64, orientations_20):
    det = DetectorModel()
    pats = {name: project(mp, orientations_20, det, (64, 64)) for name, mp in masters_64.items()}
    d_al = 1 - _corr(pats["Ni"], pats["Ni3Al"])
    d_fe = 1 - _corr(pats["Ni"], pats["Ni3Fe"])
    assert np.median(d_al) > 3 * np.median(d_fe)
    assert (d_al > d_fe).mean() > 0.9
    # the hard pair is still not identical: superlattice bands and lattice parameter differ
    assert np.median(d_fe) > 1e-4


def test_projection_follows_orientation(masters_64, orientations_20):
    det = DetectorModel()
    pats = project(masters_64["Ni"], orientations_20[:2], det, (32, 32))
    assert pats.shape == (2, 32, 32) and pats.dtype == np.float32
    assert _corr(pats[:1], pats[1:])[0] < 0.9


def test_cache_is_written_once_and_read_back(tmp_path, monkeypatch):
    first = master_mod.master_pattern(NI, half_size=20, cache_dir=tmp_path, forward_model="kinematical")
    files = list(tmp_path.glob("Ni-*.npz"))
    assert len(files) == 1

    def fail(*args, **kwargs):
        raise AssertionError("built again although cached")

    monkeypatch.setattr(master_mod, "build_lambert", fail)
    second = master_mod.master_pattern(NI, half_size=20, cache_dir=tmp_path, forward_model="kinematical")
    np.testing.assert_array_equal(first.data, second.data)
    assert second.projection == "lambert" and second.hemisphere == "both"


def test_cache_key_changes_with_phase_and_parameters():
    key = lambda phase, **kw: master_mod.cache_key(master_mod.master_parameters(phase, **kw))  # noqa: E731
    assert key(NI) == key(NI)
    assert len({key(NI), key(NI3AL), key(NI3FE), key(NI, half_size=100), key(NI, min_dspacing=1.0)}) == 5


def test_corrupt_cache_file_is_rebuilt(tmp_path):
    params = master_mod.master_parameters(NI, half_size=20)
    path = tmp_path / f"{master_mod.cache_key(params)}.npz"
    path.write_bytes(b"not an npz")
    mp = master_mod.master_pattern(NI, half_size=20, cache_dir=tmp_path, forward_model="kinematical")
    assert mp.data.shape == (2, 41, 41)
    with np.load(path) as f:
        assert f["lambert"].shape == (2, 41, 41)


def test_default_cache_dir_honours_artifacts_env(tmp_path, monkeypatch):
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path))
    assert master_mod.default_cache_dir() == tmp_path / "cache" / "master"


def test_bad_scaling_is_refused():
    with pytest.raises(ValueError, match="unknown scaling 'cubic'"):
        master_mod.build_lambert(NI, half_size=10, scaling="cubic")
