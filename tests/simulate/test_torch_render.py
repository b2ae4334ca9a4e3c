"""The torch projection and detector model equal the NumPy/kikuchipy path they stand in for."""

import numpy as np
import pytest
import torch

from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.simulate.dataset import render_clean
from ebsdlib.simulate.detector import DetectorModel
from ebsdlib.simulate.detector import standardise as np_standardise
from ebsdlib.simulate.orientations import random_quaternions
from ebsdlib.simulate.torch_render import TorchRenderer, blur, square_lambert, standardise


@pytest.fixture(scope="module")
def masters():
    from ebsdlib.simulate.master import load_masters

    return load_masters(DEFAULT_PHASES)[0]  # the shipped dynamical masters


@pytest.mark.parametrize(
    "detector, shape",
    [
        (DetectorModel(), (64, 64)),
        (DetectorModel(pc=(0.55, 0.3, 0.62), sample_tilt=68.0, camera_tilt=6.0), (48, 60)),
    ],
    ids=["default", "tilted-camera-wide"],
)
def test_projection_equals_kikuchipy(masters, detector, shape):
    rng = np.random.default_rng(1)
    n = 30
    q = random_quaternions(n, rng)
    labels = rng.integers(3, size=n)
    pcs = np.asarray(detector.pc)[None] + rng.normal(0, 0.02, (n, 3))
    expected = np_standardise(render_clean(masters, DEFAULT_PHASES, labels, q, pcs, detector, shape))
    got = TorchRenderer(masters, DEFAULT_PHASES, detector, shape).clean(
        torch.as_tensor(labels), torch.as_tensor(q), torch.as_tensor(pcs)
    )
    got = np_standardise(got.numpy())
    corr = (expected * got).reshape(n, -1).mean(1)
    assert corr.min() >= 0.9999
    assert np.abs(expected - got).max() < 0.05  # in units of the pattern's σ
    # a wrong convention (the inverse rotation) is caught
    wrong = TorchRenderer(masters, DEFAULT_PHASES, detector, shape).clean(
        torch.as_tensor(labels), torch.as_tensor(q * [1, -1, -1, -1]), torch.as_tensor(pcs)
    )
    assert ((expected * np_standardise(wrong.numpy())).reshape(n, -1).mean(1)).mean() < 0.9


def test_noise_free_frames_equal_the_numpy_detector():
    det = DetectorModel(background_jitter=0.0)
    k = np_standardise(np.random.default_rng(2).normal(size=(5, 40, 36)))
    dose = np.array([100.0, 500.0, 4000.0, 4000.0, 20000.0])
    expected = det.expose(k, dose, None)
    renderer = TorchRenderer.__new__(TorchRenderer)  # the detector part only: no masters needed
    renderer.device, renderer.detector, renderer.shape = torch.device("cpu"), det, (40, 36)
    renderer.static_background = torch.as_tensor(det.background((40, 36)), dtype=torch.float32)
    got = renderer.expose(torch.as_tensor(k), torch.as_tensor(dose), None).numpy()
    assert np.abs(got - expected).max() <= 1e-4 * np.ptp(expected)


def test_noisy_frames_have_the_detector_statistics(masters):
    det = DetectorModel(background_jitter=0.0, psf_sigma=0.0)
    renderer = TorchRenderer(masters, DEFAULT_PHASES, det, (16, 16))
    dose = 50.0
    flat = torch.zeros((4000, 16, 16))
    frames = renderer.expose(flat, torch.tensor(dose), torch.Generator().manual_seed(0), nominal_dose=dose)
    gain = det.fill * 255 / dose
    counts = frames.double() / gain
    expected = torch.as_tensor(det.background((16, 16))) * dose
    # shot noise (Poisson, variance = mean) plus read noise, then rounding to grey levels
    assert torch.allclose(counts.mean(0), expected, rtol=0.03)
    var = counts.var(0)
    assert torch.allclose(var, expected + det.read_noise**2 + 1 / (12 * gain**2), rtol=0.12)
    assert frames.min() >= 0 and frames.max() <= 255 and torch.equal(frames, frames.round())
    again = renderer.expose(flat, torch.tensor(dose), torch.Generator().manual_seed(0), nominal_dose=dose)
    assert torch.equal(frames, again)  # the same seed, the same frames


def test_blur_equals_scipy():
    from scipy.ndimage import gaussian_filter

    x = np.random.default_rng(3).normal(size=(3, 20, 25))
    for sigma in (0.7, 1.6):
        expected = gaussian_filter(x, sigma=(0, sigma, sigma), mode="nearest")
        np.testing.assert_allclose(blur(torch.as_tensor(x), sigma).numpy(), expected, atol=1e-10)


def test_lambert_and_standardise_edge_cases():
    v = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    xy = square_lambert(v)
    assert torch.allclose(xy[:2], torch.zeros(2, 2)) and torch.isfinite(xy).all()
    assert xy[2, 0] == pytest.approx(np.sqrt(np.pi / 2)) and xy[3, 1] == pytest.approx(np.sqrt(np.pi / 2))
    assert torch.equal(standardise(torch.ones(2, 3, 3)), torch.zeros(2, 3, 3))


def test_masters_of_different_sizes_or_missing_are_refused(masters):
    from ebsdlib.phases import NI, NI3AL

    with pytest.raises(ValueError, match=r"no master pattern for phases \['Ni3Al'\]"):
        TorchRenderer({"Ni": masters["Ni"]}, (NI, NI3AL), DetectorModel(), (8, 8))

    class Small:
        data = np.zeros((2, 11, 11), dtype=np.float32)

    with pytest.raises(ValueError, match="of one size"):
        TorchRenderer({"Ni": masters["Ni"], "Ni3Al": Small()}, (NI, NI3AL), DetectorModel(), (8, 8))


def test_shot_noise_is_poisson_below_the_switch_and_a_rounded_normal_of_the_same_moments_above():
    from ebsdlib.simulate.torch_render import NORMAL_SHOT_NOISE_FROM, shot_noise

    means = torch.tensor([3.0, 40.0, NORMAL_SHOT_NOISE_FROM, 4000.0, 60000.0])
    signal = means[:, None].expand(5, 40000).contiguous()
    counts = shot_noise(signal, torch.Generator().manual_seed(0)).double()
    assert torch.equal(counts, counts.round()) and counts.min() >= 0  # whole electrons
    assert torch.allclose(counts.mean(1), means.double(), rtol=0.01)
    assert torch.allclose(counts.var(1), means.double(), rtol=0.05)  # shot noise: variance = mean
    # the Poisson side keeps its skew (1/√λ, 0.58 at λ = 3), which a rounded normal would not have
    low = counts[0]
    assert ((low - low.mean()) ** 3).mean() / low.std() ** 3 == pytest.approx(3.0**-0.5, abs=0.05)
    again = shot_noise(signal, torch.Generator().manual_seed(0))
    assert torch.equal(counts, again.double())  # the same seed, the same counts
