"""Fitting a phase's simulated pattern to a pattern: the PC and orientation come back from the pattern."""

import numpy as np
import pytest

from ebsdlib.phases import NI
from ebsdlib.simulate.detector import DetectorModel
from ebsdlib.simulate.fit import fit_patterns, rotate_by

SHAPE = (32, 32)


@pytest.fixture(scope="module")
def setup(masters_64, orientations_20):
    """Clean 32×32 Ni patterns (preprocessed like the data) at per-pattern PCs around the detector's."""
    import torch

    from ebsdlib.data.preprocess import PreprocessConfig, preprocess_batch
    from ebsdlib.simulate.torch_render import TorchRenderer, standardise

    det = DetectorModel()
    renderer = TorchRenderer(masters_64, (NI,), det, SHAPE)
    rng = np.random.default_rng(3)
    q = orientations_20[:12]
    pcs = np.asarray(det.pc)[None] + rng.normal(0, 0.01, (len(q), 3))
    with torch.no_grad():
        clean = renderer.clean(torch.zeros(len(q)), torch.as_tensor(q), torch.as_tensor(pcs))
        frames = renderer.expose(standardise(clean), torch.full((len(q),), 1e5), None)
        x = preprocess_batch(frames, PreprocessConfig(size=None), renderer.static_background)[:, 0]
    return renderer, x.numpy(), q, pcs


def test_the_pattern_centre_comes_back_from_the_pattern(setup):
    renderer, x, q, pcs = setup
    start = pcs + np.random.default_rng(4).choice([-1, 1], pcs.shape) * 0.01  # 0.017 off in all
    fit = fit_patterns(renderer, 0, x, q, start, fit_orientation=False)
    before = np.linalg.norm(start - pcs, axis=1)
    after = np.linalg.norm(fit.pcs - pcs, axis=1)
    assert np.median(after) < 0.003 < 0.015 < np.median(before)
    assert (fit.scores > fit.start_scores).all() and np.median(fit.scores) > 0.99
    np.testing.assert_allclose(fit.quaternions, q, atol=1e-6)  # orientation not fitted: left at the start


def test_orientation_and_pattern_centre_fitted_together(setup):
    import torch

    renderer, x, q, pcs = setup
    turned = rotate_by(torch.as_tensor(q, dtype=torch.float32), torch.full((len(q), 3), 0.01)).numpy()  # ≈ 1°
    fit = fit_patterns(renderer, 0, x, turned, pcs + 0.005)
    angle = 2 * np.degrees(np.arccos(np.clip(np.abs((fit.quaternions * q).sum(1)), 0, 1)))
    start_angle = 2 * np.degrees(np.arccos(np.clip(np.abs((turned * q).sum(1)), 0, 1)))
    assert np.median(angle) < 0.3 < 0.9 < np.median(start_angle)
    assert np.median(np.linalg.norm(fit.pcs - pcs, axis=1)) < 0.003


def test_batches_change_nothing_but_memory(setup):
    renderer, x, q, pcs = setup
    start = pcs + 0.008
    whole = fit_patterns(renderer, 0, x, q, start, steps=30)
    batched = fit_patterns(renderer, 0, x, q, start, steps=30, batch_size=5)  # 5 + 5 + 2
    np.testing.assert_allclose(batched.pcs, whole.pcs, atol=1e-5)
    np.testing.assert_allclose(batched.scores, whole.scores, atol=1e-5)
    np.testing.assert_allclose(batched.quaternions, whole.quaternions, atol=1e-5)


def test_bad_input_is_refused(setup):
    renderer, x, q, pcs = setup
    with pytest.raises(ValueError, match=r"one \(4,\) orientation and one \(3,\) PC per pattern"):
        fit_patterns(renderer, 0, x, q[:3], pcs)
    with pytest.raises(ValueError, match="steps 0 must be a positive integer"):
        fit_patterns(renderer, 0, x, q, pcs, steps=0)
    with pytest.raises(ValueError, match="label 1 is not one of the renderer's 1 phases"):
        fit_patterns(renderer, 1, x, q, pcs)
    with pytest.raises(ValueError, match="batch_size 0 must be a positive integer"):
        fit_patterns(renderer, 0, x, q, pcs, batch_size=0)
