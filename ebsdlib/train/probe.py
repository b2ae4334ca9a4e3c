"""Classification from frozen SupCon embeddings: a linear probe and a k-nearest-neighbour vote.

The probe is the classifier used for predictions after contrastive training; the k-NN
accuracy is reported beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def fit_linear_probe(
    features: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    epochs: int = 30,
    seed: int = 0,
    lr: float = 1e-2,
    weight_decay: float = 1e-4,
    batch_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Train a softmax-regression probe on frozen features; return ``(weight (C, d), bias (C,))``.

    Features are standardised with the training mean and standard deviation while fitting
    (AdamW, cross-entropy, seeded mini-batches on the CPU); the standardisation is then folded
    into the returned weight and bias, so the probe applies to raw features as one
    ``nn.Linear``. ``batch_size=None`` takes an eighth of the patterns, between 8 and 256, so
    that even a small training set gets at least eight steps per epoch.
    """
    import torch

    x = torch.as_tensor(np.asarray(features, dtype=np.float32))
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"the probe needs as many labels as features and at least one pattern; "
            f"got {len(x)} features and {len(y)} labels"
        )
    if batch_size is None:
        batch_size = min(256, max(8, -(-len(x) // 8)))
    mean = x.mean(0)
    std = x.std(0, unbiased=False).clamp_min(1e-6)
    xs = (x - mean) / std
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: thread start-up and spinning cost more than they save
    try:
        return _fit(xs, y, mean, std, num_classes, epochs, seed, lr, weight_decay, batch_size)
    finally:
        torch.set_num_threads(threads)


def _fit(
    xs: torch.Tensor,
    y: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    num_classes: int,
    epochs: int,
    seed: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The probe's optimisation on standardised features ``xs``; the result is on raw features."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(int(seed))
    linear = torch.nn.Linear(xs.shape[1], num_classes)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(linear.weight.shape, generator=gen) * 0.01)
        linear.bias.zero_()
    opt = torch.optim.AdamW(linear.parameters(), lr=lr, weight_decay=weight_decay)
    with torch.enable_grad():
        for _ in range(epochs):
            perm = torch.randperm(len(xs), generator=gen)
            for start in range(0, len(xs), batch_size):
                b = perm[start : start + batch_size]
                loss = F.cross_entropy(linear(xs[b]), y[b])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    with torch.no_grad():
        weight = linear.weight / std
        bias = linear.bias - weight @ mean
    return weight.numpy().astype(np.float32), bias.numpy().astype(np.float32)


def knn_predict(
    train_features: np.ndarray, train_labels: np.ndarray, query_features: np.ndarray, k: int = 10
) -> np.ndarray:
    """Majority vote of the ``k`` nearest training embeddings (cosine distance) for each query."""
    from sklearn.neighbors import KNeighborsClassifier

    k = max(1, min(int(k), len(train_features)))
    knn = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")
    knn.fit(np.asarray(train_features, dtype=np.float32), np.asarray(train_labels))
    return knn.predict(np.asarray(query_features, dtype=np.float32))


def precision_at_1(
    train_features: np.ndarray, train_labels: np.ndarray, query_features: np.ndarray, query_labels: np.ndarray
) -> float:
    """The seed's score: pytorch-metric-learning's ``AccuracyCalculator`` Precision@1 of the queries
    against the training embeddings (the nearest training embedding's class, cosine distance)."""
    import torch
    from pytorch_metric_learning.distances import CosineSimilarity
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    calculator = AccuracyCalculator(include=("precision_at_1",), k=1, knn_func=CustomKNN(CosineSimilarity()))
    result = calculator.get_accuracy(
        torch.as_tensor(np.asarray(query_features, dtype=np.float32)),
        torch.as_tensor(np.asarray(query_labels)),
        torch.as_tensor(np.asarray(train_features, dtype=np.float32)),
        torch.as_tensor(np.asarray(train_labels)),
        ref_includes_query=False,
    )
    return float(result["precision_at_1"])
