"""Domain randomisation: ranges validated, per-pattern conditions that reach the rendered patterns."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.simulate.detector import DetectorModel
from ebsdlib.simulate.orientations import random_quaternions
from ebsdlib.simulate.randomise import DomainRanges
from ebsdlib.simulate.torch_render import TorchRenderer, blur, blur_each, standardise


@pytest.fixture(scope="module")
def masters():
    from ebsdlib.simulate.master import load_masters

    return load_masters(DEFAULT_PHASES)[0]  # the shipped dynamical masters


@pytest.mark.parametrize(
    "ranges, message",
    [
        ({"dose": (4000, 500)}, r"dose range \(4000, 500\) is empty; give LOW ≤ HIGH"),
        ({"dose": (0, 500)}, r"dose range \(0, 500\) starts below what is physical; use values > 0"),
        ({"psf_sigma": (-0.5, 1)}, r"psf_sigma range .* use values ≥ 0"),
        ({"band_contrast": (0.02,)}, r"band_contrast=\(0\.02,\) is not a range; give two numbers LOW HIGH"),
        ({"dynamical_fraction": 1.5}, r"dynamical_fraction=1\.5 is not allowed; use a probability from 0 to 1"),
        ({"pc_sigma": -0.01}, r"pc_sigma=-0\.01 is not allowed"),
    ],
)
def test_bad_ranges_are_refused_with_the_value_and_the_fix(ranges, message):
    with pytest.raises(ValueError, match=message):
        DomainRanges(**ranges)


def test_ranges_round_trip_and_say_what_they_vary():
    r = DomainRanges(dose=(500, 8000), camera_tilt=(-5, 5), dynamical_fraction=0.5)
    assert r.active and not DomainRanges().active
    assert DomainRanges.from_dict(r.to_dict()) == r and DomainRanges.from_dict(None) == DomainRanges()
    assert r.describe() == "dose 500–8000, camera_tilt -5–5, dynamical_fraction 0.5"
    with pytest.raises(ValueError, match=r"unknown domain-range keys \['tilt'\]"):
        DomainRanges.from_dict({"tilt": [0, 1]})


def test_per_pattern_camera_tilt_equals_a_detector_with_that_tilt(masters):
    rng = np.random.default_rng(4)
    n, shape = 6, (40, 40)
    q, labels = random_quaternions(n, rng), rng.integers(3, size=n)
    pcs = np.tile(DetectorModel().pc, (n, 1))
    tilts = np.array([-8.0, -8.0, 0.0, 3.0, 8.0, 8.0])
    mixed = TorchRenderer(masters, DEFAULT_PHASES, DetectorModel(), shape).clean(
        torch.as_tensor(labels), torch.as_tensor(q), torch.as_tensor(pcs), tilts
    )
    for t in np.unique(tilts):
        sel = tilts == t
        own = TorchRenderer(masters, DEFAULT_PHASES, DetectorModel(camera_tilt=float(t)), shape).clean(
            torch.as_tensor(labels[sel]), torch.as_tensor(q[sel]), torch.as_tensor(pcs[sel])
        )
        torch.testing.assert_close(mixed[torch.as_tensor(sel)], own, atol=1e-5, rtol=0)
    untilted = TorchRenderer(masters, DEFAULT_PHASES, DetectorModel(), shape).clean(
        torch.as_tensor(labels), torch.as_tensor(q), torch.as_tensor(pcs)
    )
    corr = (standardise(mixed) * standardise(untilted)).mean(dim=(1, 2))
    assert corr[2] > 0.9999 and corr[0] < 0.95  # the tilt moves the bands; 0° is the detector itself


def test_per_pattern_blur_and_contrast_equal_the_detector_with_those_values():
    x = torch.as_tensor(np.random.default_rng(5).normal(size=(3, 20, 24)))
    each = blur_each(x, np.array([0.0, 0.7, 1.6]))
    torch.testing.assert_close(each[0], x[0])
    for i, sigma in ((1, 0.7), (2, 1.6)):
        torch.testing.assert_close(each[i], blur(x[i : i + 1], sigma)[0], atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="2 blur σ for 3 frames"):
        blur_each(x, np.array([0.1, 0.2]))
    det = DetectorModel(background_jitter=0.0)
    k = standardise(torch.as_tensor(np.random.default_rng(6).normal(size=(2, 16, 16)), dtype=torch.float32))
    renderer = TorchRenderer.__new__(TorchRenderer)  # the detector part only: no masters needed
    renderer.device, renderer.detector, renderer.shape = torch.device("cpu"), det, (16, 16)
    renderer.static_background = torch.as_tensor(det.background((16, 16)), dtype=torch.float32)
    dose = torch.tensor([1000.0, 1000.0])
    varied = renderer.expose(k, dose, None, band_contrast=np.array([0.01, 0.04]), psf_sigma=np.array([0.0, 1.2]))
    for i, (contrast, sigma) in enumerate(((0.01, 0.0), (0.04, 1.2))):
        renderer.detector = dataclasses.replace(det, band_contrast=contrast, psf_sigma=sigma)
        torch.testing.assert_close(varied[i], renderer.expose(k[i : i + 1], dose[:1], None)[0], atol=1e-3, rtol=1e-5)
