"""Normalised cross-correlation: kikuchipy's definition, best match per phase, softmax temperature."""

import numpy as np
import pytest
import torch

from ebsdlib.baseline.match import best_matches, normalise_rows
from ebsdlib.baseline.proba import fit_temperature, negative_log_likelihood, scores_to_proba


def test_ncc_is_kikuchipys_metric():
    from kikuchipy.indexing import NormalizedCrossCorrelationMetric

    rng = np.random.default_rng(0)
    exp = rng.random((5, 64)).astype(np.float32)
    dic = rng.random((7, 64)).astype(np.float32)
    metric = NormalizedCrossCorrelationMetric(5, 7)
    expected = np.asarray(metric.match(metric.prepare_experimental(exp), metric.prepare_dictionary(dic)))
    ours = (normalise_rows(torch.from_numpy(exp)) @ normalise_rows(torch.from_numpy(dic)).T).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_best_match_per_phase():
    rng = np.random.default_rng(1)
    templates = [normalise_rows(torch.from_numpy(rng.random((m, 50)).astype(np.float32))) for m in (4, 6)]
    # pattern 0 is template 2 of phase 1 plus a little noise; pattern 1 is template 3 of phase 0
    x = torch.stack([templates[1][2] + 0.01 * torch.randn(50), templates[0][3]])
    scores, index = best_matches(normalise_rows(x), templates)
    assert scores.shape == (2, 2) and index.shape == (2, 2)
    assert index[0, 1] == 2 and scores[0].argmax() == 1
    assert index[1, 0] == 3 and scores[1, 0] == pytest.approx(1.0, abs=1e-5)


def test_pixel_count_mismatch_is_explained():
    with pytest.raises(
        ValueError,
        match=r"patterns have 10 pixels after preprocessing but the dictionary's "
        r"templates have 12",
    ):
        best_matches(torch.ones(2, 10), [torch.ones(3, 12)])


def test_softmax_rows_and_argmax():
    scores = np.array([[0.30, 0.31, 0.29], [0.5, 0.1, 0.2]])
    for t in (0.001, 0.01, 1.0):
        p = scores_to_proba(scores, t)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
        assert list(p.argmax(axis=1)) == [1, 0]
    assert scores_to_proba(scores, 0.001).max() > scores_to_proba(scores, 0.1).max()
    with pytest.raises(ValueError, match="temperature 0 must be a positive number"):
        scores_to_proba(scores, 0)


def test_fitted_temperature_recovers_the_true_one():
    rng = np.random.default_rng(2)
    scores = rng.normal(0.3, 0.01, size=(4000, 3))
    true_t = 0.004
    p = scores_to_proba(scores, true_t)
    labels = np.array([rng.choice(3, p=row / row.sum()) for row in p.astype(np.float64)])
    fitted = fit_temperature(scores, labels)
    assert fitted == pytest.approx(true_t, rel=0.15)
    assert negative_log_likelihood(scores, labels, fitted) <= negative_log_likelihood(scores, labels, 10 * true_t)


def test_fitting_needs_labels():
    with pytest.raises(ValueError, match="no labelled patterns to fit the softmax temperature"):
        fit_temperature(np.zeros((3, 2)), np.array([-1, -1, -1]))
