"""Building, caching and using the dictionary."""

import numpy as np
import pytest
import torch

from ebsdlib.baseline.dictionary import build_dictionary, cache_key, dictionary_parameters, sample_orientations
from ebsdlib.baseline.geometry import Geometry
from ebsdlib.baseline.index import index_patterns
from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import DEFAULT_PHASES, Phase
from ebsdlib.simulate.detector import DetectorModel

from .conftest import MASTER_HALF, PREPROCESS, RESOLUTION, SIZE

GEOMETRY = Geometry(detector=DetectorModel(), master_half_size=MASTER_HALF)


def test_templates_cover_the_sampling_and_are_normalised(cache_root):
    d = build_dictionary(DEFAULT_PHASES, GEOMETRY, (SIZE, SIZE), PREPROCESS, RESOLUTION, use_cache=False)
    n = len(sample_orientations(DEFAULT_PHASES[0], RESOLUTION))
    assert d.size == 3 * n and [len(r) for r in d.rotations] == [n, n, n]
    for t in d.templates:
        assert t.shape == (n, SIZE * SIZE) and t.dtype == torch.float32
        np.testing.assert_allclose(t.mean(dim=1).numpy(), 0.0, atol=1e-5)
        np.testing.assert_allclose(t.norm(dim=1).numpy(), 1.0, atol=1e-4)
    # same orientation: Ni and Ni3Fe templates nearly equal (the hard pair), Ni3Al less so
    ni, al, fe = (t[0] for t in d.templates)
    assert float(ni @ fe) > float(ni @ al) > 0.8
    assert not d.from_cache and d.build_seconds > 0


def test_cache_is_reused_and_keyed_on_every_parameter(cache_root):
    first = build_dictionary(DEFAULT_PHASES, GEOMETRY, (SIZE, SIZE), PREPROCESS, 30.0)
    again = build_dictionary(DEFAULT_PHASES, GEOMETRY, (SIZE, SIZE), PREPROCESS, 30.0)
    assert again.from_cache and again.build_seconds == 0.0
    assert (cache_root / "cache" / "dictionary" / f"{cache_key(first.parameters)}.npz").exists()
    for a, b in zip(first.templates, again.templates, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-3)  # stored as float16
    base = dictionary_parameters(DEFAULT_PHASES, GEOMETRY, (SIZE, SIZE), PREPROCESS, 30.0)
    other = [
        dictionary_parameters(DEFAULT_PHASES, GEOMETRY, (SIZE, SIZE), PREPROCESS, 25.0),
        dictionary_parameters(DEFAULT_PHASES, GEOMETRY, (SIZE, SIZE + 2), PREPROCESS, 30.0),
        dictionary_parameters(DEFAULT_PHASES, GEOMETRY, (SIZE, SIZE), PreprocessConfig(size=SIZE), 30.0),
    ]
    assert len({cache_key(p) for p in [base, *other]}) == 4


def test_phases_without_atoms_cannot_be_simulated():
    bare = Phase("X", 225, 3.5, "#123456")
    with pytest.raises(ValueError, match="phase 'X' has no atoms"):
        build_dictionary((bare,), GEOMETRY, (SIZE, SIZE), PREPROCESS, 30.0, use_cache=False)


def test_shape_and_preprocessing_must_match_the_dictionary(clean_data):
    d = build_dictionary(DEFAULT_PHASES, GEOMETRY, (SIZE + 2, SIZE + 2), PREPROCESS, 30.0)
    with EBSDDataset(clean_data) as ds:
        with pytest.raises(ValueError, match=r"patterns are 32×32 but the dictionary was simulated at 34×34"):
            index_patterns(ds, d, None, PREPROCESS)
    d = build_dictionary(DEFAULT_PHASES, GEOMETRY, (SIZE, SIZE), PREPROCESS, 30.0)
    with EBSDDataset(clean_data) as ds, pytest.raises(ValueError, match="use the same preprocessing for both"):
        index_patterns(ds, d, None, PreprocessConfig(size=SIZE))


def test_noise_free_patterns_get_their_phase_and_orientation(clean_data):
    d = build_dictionary(DEFAULT_PHASES, GEOMETRY, (SIZE, SIZE), PREPROCESS, RESOLUTION)
    with EBSDDataset(clean_data) as ds:
        idx = ds.indices("test")[::-1]  # any order: rows follow the indices
        result = index_patterns(ds, d, idx, PREPROCESS, batch_size=5)
        labels = ds.labels[idx]
        true_q = ds.optional("orientations")[idx]
    assert list(result.indices) == list(idx)
    assert (result.pred == labels).all()
    assert result.scores.max(axis=1).min() > 0.95
    dot = np.abs((result.best_rotations() * true_q).sum(axis=1))
    assert dot.min() > 0.9999  # the grid orientation itself
    assert result.patterns_per_second > 0
