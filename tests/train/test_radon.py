"""The Radon front end: lines become peaks where they are, faint bands rise above the noise, and a
network with it keeps the pattern network's weights and checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ebsdlib.train.config import TrainConfig
from ebsdlib.train.models import build_model
from ebsdlib.train.radon import ANGLES, OFFSETS, RadonTransform, radon_grid


def band(size: int, theta: float, rho: float, half_width: float = 0.03) -> torch.Tensor:
    """A ``(1, 1, size, size)`` pattern with one bright strip ``|x cos θ + y sin θ - ρ| < half_width``
    (``x`` right, ``y`` down, pixel centres in -1..1)."""
    centres = (torch.arange(size, dtype=torch.float64) + 0.5) / (size / 2) - 1
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    strip = ((x * math.cos(theta) + y * math.sin(theta) - rho).abs() < half_width).float()
    return strip[None, None]


@pytest.mark.parametrize(("degrees", "rho"), [(0.0, 0.5), (45.0, 0.3), (90.0, -0.4), (120.0, 0.1), (165.0, -0.6)])
def test_a_band_is_one_peak_at_its_angle_and_offset(degrees, rho):
    sinogram = RadonTransform()(band(128, math.radians(degrees), rho))[0, 0]
    assert sinogram.shape == (ANGLES, OFFSETS)
    row, column = divmod(int(sinogram.argmax()), OFFSETS)
    assert abs(row * 180 / ANGLES - degrees) <= 180 / ANGLES  # one angle step
    assert abs(torch.linspace(-1, 1, OFFSETS)[column].item() - rho) <= 2 / (OFFSETS - 1)  # one offset step


def test_a_band_below_the_pixel_noise_stands_out_of_the_transform():
    """A strip 0.3 noise-σ bright is invisible pixel by pixel; the transform's peak at its line is
    far above the largest value pure noise reaches there."""
    rng = np.random.default_rng(0)
    theta, rho = math.radians(30), 0.2
    noise = torch.from_numpy(rng.normal(size=(8, 1, 128, 128))).float()
    signal = noise + 0.3 * band(128, theta, rho, half_width=0.05).float()
    radon = RadonTransform()
    row, column = round(30 / (180 / ANGLES)), int(np.abs(np.linspace(-1, 1, OFFSETS) - rho).argmin())
    with_band = radon(signal)[:, 0, row, column]
    without = radon(noise)[:, 0].amax(dim=(1, 2))
    assert bool((with_band > without).all()), (with_band, without)
    assert float(with_band.min()) > 4  # standardised: four times the spread of all lines


def test_noise_has_the_same_spread_on_long_and_short_lines():
    rng = np.random.default_rng(1)
    grid, weight = radon_grid(ANGLES, OFFSETS, 96)
    sums = RadonTransform()(torch.from_numpy(rng.normal(size=(64, 1, 64, 64))).float())[:, 0].reshape(64, -1)
    long, short = weight <= weight.min() * 1.2, weight >= weight.max() * 0.9  # diameters, corner chords
    assert grid.shape == (1, ANGLES * OFFSETS, 96, 2) and weight.max() > 1.5 * weight.min()
    ratio = sums[:, long].std() / sums[:, short].std()
    assert 0.8 < float(ratio) < 1.25, float(ratio)


def test_a_radon_network_has_the_pattern_network_s_weights():
    torch.manual_seed(0)
    pattern = build_model(TrainConfig(model="test_efficientnet"), 3)
    radon = build_model(TrainConfig(model="test_efficientnet", front_end="radon"), 3)
    assert pattern.state_dict().keys() == radon.state_dict().keys()
    radon.load_state_dict(pattern.state_dict())  # strict: a checkpoint of either loads into the other
    x = torch.randn(2, 1, 128, 128)
    assert radon(x).shape == (2, 3)
    assert torch.equal(radon.embed(x), radon.encoder(RadonTransform()(x)))
    assert not torch.equal(radon(x), pattern(x))
