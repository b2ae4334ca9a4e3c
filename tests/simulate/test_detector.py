"""The detector model: dose, noise, blur, quantisation and geometry."""

import numpy as np
import pytest

from ebsdlib.data.preprocess import PreprocessConfig, preprocess_batch
from ebsdlib.simulate.detector import DetectorModel, standardise


def _modulation(n=16, size=32, seed=0):
    """Band-like clean patterns: a few random straight bright bands."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    out = np.zeros((n, size, size))
    for i in range(n):
        for _ in range(4):
            angle, offset = rng.uniform(0, np.pi), rng.uniform(0.2, 0.8)
            d = np.abs(np.cos(angle) * x + np.sin(angle) * y - offset)
            out[i] += d < 0.05
    return standardise(out)


def _corr(a, b):
    a = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(1, keepdims=True)
    b = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))


def test_more_dose_means_less_noise():
    det = DetectorModel()
    k = _modulation()
    ref = det.expose(k, 1000.0, None)
    cfg = PreprocessConfig(size=None)
    clean = preprocess_batch(ref, cfg, ref.mean(0))[:, 0].numpy()
    corrs = []
    for dose in (30, 300, 3000, 30000, 300000):
        raw = det.expose(k, dose, np.random.default_rng(1))
        x = preprocess_batch(raw, cfg, raw.astype(np.float64).mean(0))[:, 0].numpy()
        corrs.append(_corr(x, clean).mean())
    assert np.all(np.diff(corrs) > 0.02), corrs
    assert corrs[0] < 0.5 < corrs[-1]


def test_frames_are_quantised_to_the_camera_depth():
    k = _modulation(n=4)
    for bits, dtype in ((8, np.uint8), (16, np.uint16)):
        det = DetectorModel(bit_depth=bits)
        raw = det.expose(k, 50.0, np.random.default_rng(0))
        assert raw.dtype == dtype
        # the mean background sits at `fill` of the full scale
        assert raw.mean() == pytest.approx(det.fill * np.iinfo(dtype).max, rel=0.15)


def test_fixed_gain_makes_low_dose_patterns_darker():
    det = DetectorModel()
    k = _modulation(n=2)
    raw = det.expose(k, np.array([10.0, 40.0]), np.random.default_rng(0), nominal_dose=40.0)
    assert raw[0].mean() < 0.5 * raw[1].mean()


def test_noise_free_frame_is_deterministic_float_and_follows_the_background():
    det = DetectorModel(psf_sigma=0.0)
    k = np.zeros((1, 32, 32))
    frame = det.expose(k, 20.0, None)
    assert frame.dtype == np.float32
    np.testing.assert_allclose(frame[0], 20.0 * det.background((32, 32)), rtol=1e-5)


def test_background_is_smooth_with_mean_one():
    bg = DetectorModel().background((40, 40))
    assert bg.mean() == pytest.approx(1.0)
    assert bg.max() / bg.min() > 1.5
    assert np.abs(np.diff(bg, axis=0)).max() < 0.1


def test_same_generator_state_gives_the_same_frame():
    det = DetectorModel()
    k = _modulation(n=3)
    a = det.expose(k, 12.0, np.random.default_rng(5))
    b = det.expose(k, 12.0, np.random.default_rng(5))
    c = det.expose(k, 12.0, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_detector_geometry_reaches_kikuchipy():
    det = DetectorModel(pc=(0.4, 0.3, 0.6), sample_tilt=70.0)
    kp_det = det.kikuchipy_detector((20, 30), pcs=np.full((5, 3), [0.4, 0.3, 0.6]))
    assert kp_det.shape == (20, 30) and kp_det.navigation_shape == (5,)
    assert kp_det.sample_tilt == 70.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(bit_depth=12), "bit_depth 12 is not supported"),
        (dict(read_noise=-1.0), "read_noise -1.0"),
        (dict(pc=(0.4, 0.3)), r"pattern centre \(0.4, 0.3\)"),
        (dict(fill=1.5), "fill 1.5"),
    ],
)
def test_bad_detector_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DetectorModel(**kwargs)


def test_bad_dose_is_refused():
    with pytest.raises(ValueError, match="must be positive electrons per pixel"):
        DetectorModel().expose(_modulation(n=1), 0.0, np.random.default_rng(0))


def test_round_trip_and_unknown_key():
    det = DetectorModel(bit_depth=16, pc=(0.5, 0.2, 0.55))
    assert DetectorModel.from_dict(det.to_dict()) == det
    with pytest.raises(ValueError, match=r"unknown detector keys \['gain'\]"):
        DetectorModel.from_dict({"gain": 2})
