"""The Radon transform of a pattern as the encoder's input (``TrainConfig.front_end="radon"``).

On a flat detector every Kikuchi band is a straight strip (the gnomonic projection of a great
circle), so the integral of the pattern along lines, the Radon transform that Hough/Radon
indexing looks for peaks in, turns each band into one peak. A band whose contrast is below the
shot noise of single pixels rises above the noise of a line integral over ~√(length) pixels:
at a low dose the superlattice bands that tell Ni₃Al from Ni are such bands, and a convolutional
encoder on the raw pattern has to learn that integration over its whole receptive field.

:class:`RadonTransform` has no weights: a fixed bilinear sampling grid (``torch``'s
``grid_sample``) on the training device, differentiable, and the same on the CPU as on CUDA
(``skimage.transform.radon`` and PyEBSDIndex's Radon are NumPy, on the host).

Conventions (``x`` to the right, ``y`` down, both in the pattern's normalised coordinates from
-1 to 1): the line of angle ``θ`` and offset ``ρ`` is ``x cos θ + y sin θ = ρ``; ``θ`` runs over
``[0, π)`` (rows of the output) and ``ρ`` over ``[-1, 1]`` (columns), so every line through the
inscribed circle is sampled once. Each line's sum is divided by the square root of its number of
samples inside the pattern, so pure noise has the same spread on every line (a matched filter's
weighting: a band's peak grows with √length); the shortest lines, chords at ``|ρ| = 1`` across a
corner, still have 0.4 of a diameter's samples. The result is standardised per pattern, as the
patterns themselves are.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: Patterns are averaged down to this many pixels a side before the lines are sampled: at 128 px
#: the bands of the default geometry are 6-10 pixels wide, 3-5 after pooling, and the sampling
#: grid then costs 0.08 s per batch of 32 on one CPU core (against 0.43 s at full size).
WORK_SIZE = 64
#: Angles (rows, 1.9° apart), offsets (columns) and samples along each line at :data:`WORK_SIZE`.
ANGLES, OFFSETS, SAMPLES = 96, 64, 96


def radon_grid(angles: int, offsets: int, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The sampling grid and per-line weights of the transform.

    Returns
    -------
    grid
        ``(1, angles * offsets, samples, 2)``: the ``(x, y)`` of every sample in ``grid_sample``'s
        normalised coordinates; lines run over the whole diagonal, samples outside the pattern
        read zero.
    weight
        ``(angles * offsets,)``: ``1 / √n`` for a line with ``n`` samples inside the pattern.
    """
    theta = torch.arange(angles, dtype=torch.float64) * math.pi / angles
    rho = torch.linspace(-1, 1, offsets, dtype=torch.float64)
    t = torch.linspace(-math.sqrt(2), math.sqrt(2), samples, dtype=torch.float64)
    cos, sin = theta.cos()[:, None, None], theta.sin()[:, None, None]
    x = rho[None, :, None] * cos - t[None, None, :] * sin
    y = rho[None, :, None] * sin + t[None, None, :] * cos
    grid = torch.stack([x, y], dim=-1).reshape(1, angles * offsets, samples, 2)
    inside = ((x.abs() <= 1) & (y.abs() <= 1)).sum(-1).reshape(-1)
    return grid.float(), inside.clamp(min=1).double().rsqrt().float()


class RadonTransform(nn.Module):
    """Patterns ``(B, C, H, W)`` to standardised Radon transforms ``(B, C, ANGLES, OFFSETS)``.

    Parameters
    ----------
    angles, offsets, samples
        Resolution of the transform (defaults :data:`ANGLES`, :data:`OFFSETS`, :data:`SAMPLES`).
    work_size
        Patterns larger than this are averaged down to it first (:data:`WORK_SIZE`).
    """

    def __init__(
        self, angles: int = ANGLES, offsets: int = OFFSETS, samples: int = SAMPLES, work_size: int = WORK_SIZE
    ):
        super().__init__()
        self.angles, self.offsets, self.work_size = int(angles), int(offsets), int(work_size)
        grid, weight = radon_grid(angles, offsets, samples)
        # not persistent: the grid is rebuilt from the config, so checkpoints stay the encoder's
        self.register_buffer("grid", grid, persistent=False)
        self.register_buffer("weight", weight, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        if h > self.work_size or w > self.work_size:
            x = F.adaptive_avg_pool2d(x, (min(h, self.work_size), min(w, self.work_size)))
        x = x.float().reshape(b * c, 1, *x.shape[-2:])
        lines = F.grid_sample(
            x, self.grid.expand(b * c, -1, -1, -1), mode="bilinear", padding_mode="zeros", align_corners=False
        )
        sums = lines.sum(-1).squeeze(1) * self.weight  # (B*C, lines)
        standard = (sums - sums.mean(1, keepdim=True)) / sums.std(1, keepdim=True).clamp(min=1e-6)
        return standard.reshape(b, c, self.angles, self.offsets)

    def extra_repr(self) -> str:
        return f"angles={self.angles}, offsets={self.offsets}, work_size={self.work_size}"
