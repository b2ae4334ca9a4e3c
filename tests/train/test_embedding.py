"""UMAP projection: shape, dtype, determinism and the small-n fallback."""

import numpy as np
import pytest

from ebsdlib.train.embedding import MIN_UMAP_POINTS, umap_2d


def test_umap_shape_and_determinism():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (20, 6)), rng.normal(6, 1, (20, 6))])
    a = umap_2d(x, seed=4, n_neighbors=5)
    b = umap_2d(x, seed=4, n_neighbors=5)
    assert a.shape == (40, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    # the two clusters stay apart in 2-D
    gap = np.linalg.norm(a[:20].mean(0) - a[20:].mean(0))
    spread = max(a[:20].std(0).max(), a[20:].std(0).max())
    assert gap > 2 * spread


@pytest.mark.parametrize("n", [0, 1, 2, MIN_UMAP_POINTS - 1])
def test_small_inputs_fall_back_to_pca(n):
    x = np.random.default_rng(1).normal(size=(n, 3))
    out = umap_2d(x)
    assert out.shape == (n, 2) and out.dtype == np.float32
    if n >= 3:  # PCA: first axis carries the most variance
        assert out[:, 0].var() >= out[:, 1].var()


def test_bad_embeddings():
    with pytest.raises(ValueError, match=r"shape \(n, d\), got \(4,\)"):
        umap_2d(np.zeros(4))
    with pytest.raises(ValueError, match="NaN or infinite"):
        umap_2d(np.array([[np.nan, 1.0]]))
