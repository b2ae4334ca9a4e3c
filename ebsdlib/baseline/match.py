"""Normalised cross-correlation (NCC) of patterns with a dictionary, best match per phase.

NCC of two patterns ``a`` and ``b`` of ``d`` pixels is
``Σ (a − ā)(b − b̄) / (‖a − ā‖ ‖b − b̄‖)``, kikuchipy's ``"ncc"`` metric
(:class:`kikuchipy.indexing.NormalizedCrossCorrelationMetric`). :func:`prepare` turns raw
patterns into rows with zero mean and unit norm, after which NCC is a matrix product — done
in torch, on the device the patterns are on, phase by phase.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.data.preprocess import PreprocessConfig, preprocess_batch

if TYPE_CHECKING:
    import torch


def normalise_rows(x: torch.Tensor) -> torch.Tensor:
    """Flatten ``(n, …)`` to ``(n, d)`` float32 rows with zero mean and unit norm."""
    x = x.reshape(len(x), -1).float()
    x = x - x.mean(dim=1, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def prepare(
    raw: torch.Tensor | np.ndarray,
    preprocess: PreprocessConfig,
    static_background: torch.Tensor | np.ndarray | None,
) -> torch.Tensor:
    """Raw ``(n, H, W)`` patterns → preprocessed, flattened NCC rows ``(n, d)`` on the patterns' device."""
    return normalise_rows(preprocess_batch(raw, preprocess, static_background))


def best_matches(x: torch.Tensor, templates: Sequence[torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """Best NCC of each row of ``x`` with each phase's templates.

    Parameters
    ----------
    x
        ``(n, d)`` rows from :func:`prepare`.
    templates
        Per phase, ``(m_p, d)`` rows prepared the same way, on ``x``'s device.

    Returns
    -------
    scores
        ``(n, P)`` float32: the highest NCC with a template of each phase.
    index
        ``(n, P)`` int64: which template of that phase it was.
    """
    import torch

    n = len(x)
    scores = np.empty((n, len(templates)), dtype=np.float32)
    index = np.empty((n, len(templates)), dtype=np.int64)
    for p, t in enumerate(templates):
        if t.shape[1] != x.shape[1]:
            raise ValueError(
                f"patterns have {x.shape[1]} pixels after preprocessing but the dictionary's "
                f"templates have {t.shape[1]}; build the dictionary with the same pattern "
                "shape and preprocessing"
            )
        best = torch.max(x @ t.T, dim=1)
        scores[:, p] = best.values.float().cpu().numpy()
        index[:, p] = best.indices.cpu().numpy()
    return scores, index
