"""2-D UMAP of a run's embeddings, computed once at training time and saved with the run."""

from __future__ import annotations

import warnings

import numpy as np

#: Below this many points UMAP's graph and spectral layout are not meaningful; PCA is used.
MIN_UMAP_POINTS = 16


def umap_2d(
    embeddings: np.ndarray,
    seed: int = 0,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
) -> np.ndarray:
    """Project embeddings to 2-D with umap-learn, seeded.

    ``n_neighbors`` is lowered to ``n - 1`` for small inputs. With fewer than
    :data:`MIN_UMAP_POINTS` points UMAP cannot build a useful neighbour graph, so the
    projection falls back to the first two principal components (scikit-learn PCA, padded
    with zeros when the data have fewer than two dimensions or points). With a fixed seed
    UMAP runs single-threaded and the result is reproducible.

    Parameters
    ----------
    embeddings
        ``(n, d)`` features (penultimate layer or encoder embedding).
    seed
        ``random_state`` of UMAP.
    n_neighbors
        UMAP neighbourhood size.
    min_dist
        UMAP minimum distance between embedded points.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` float32 coordinates.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"embeddings must have shape (n, d), got {x.shape!r}")
    if not np.all(np.isfinite(x)):
        raise ValueError("embeddings contain NaN or infinite values; check the model outputs")
    if n_neighbors < 2:
        raise ValueError(f"n_neighbors must be at least 2, got {n_neighbors!r}")
    n = x.shape[0]
    if n < MIN_UMAP_POINTS:
        return _pca_2d(x)

    import umap

    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=min(n_neighbors, n - 1),
        min_dist=min_dist,
        random_state=seed,
        n_jobs=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_jobs/random_state and small-graph notices
        out = reducer.fit_transform(x)
    return np.asarray(out, dtype=np.float32)


def _pca_2d(x: np.ndarray) -> np.ndarray:
    n, d = x.shape
    out = np.zeros((n, 2), dtype=np.float32)
    k = min(2, n, d)
    if n < 2 or k == 0:
        return out
    from sklearn.decomposition import PCA

    out[:, :k] = PCA(n_components=k, svd_solver="full").fit_transform(x)
    return out
