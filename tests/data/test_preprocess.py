"""Preprocessing: background correction, normalisation, resize, mask and the config."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ebsdlib.data.preprocess import PreprocessConfig, circular_mask, preprocess_batch  # noqa: E402

SIZE = 48


def _grid() -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) / SIZE


def _bands(seed: int) -> np.ndarray:
    """Fine stripes in a random direction: the 'diffraction signal', zero mean."""
    angle = np.random.default_rng(seed).uniform(0, np.pi)
    yy, xx = _grid()
    return np.sin(2 * np.pi * 6 * (xx * np.cos(angle) + yy * np.sin(angle)))


def _smooth_background() -> np.ndarray:
    yy, xx = _grid()
    return 40 + 160 * np.exp(-((xx - 0.4) ** 2 + (yy - 0.3) ** 2) / 0.3)


def _corr(a: torch.Tensor | np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64).ravel()
    return float(np.corrcoef(a, np.asarray(b, dtype=np.float64).ravel())[0, 1])


def test_static_background_correction_removes_the_detector_profile() -> None:
    bg = _smooth_background()
    bands = np.stack([_bands(s) for s in range(16)])
    raw = bg * (1 + 0.15 * bands)
    cfg = PreprocessConfig(static_background=True, dynamic_background=False, size=None)
    out = preprocess_batch(raw, cfg, static_background=raw.mean(axis=0)).numpy()[:, 0]
    plain = preprocess_batch(
        raw, PreprocessConfig(static_background=False, dynamic_background=False, size=None)
    ).numpy()[:, 0]
    for i in range(4):
        assert _corr(out[i], bands[i]) > 0.95
        assert abs(_corr(out[i], bg)) < 0.1
        assert _corr(plain[i], bg) > 0.5  # without correction the background dominates


def test_dynamic_background_correction_removes_a_pattern_specific_background() -> None:
    yy, xx = _grid()
    smooth = np.stack([30 + 150 * np.exp(-((xx - c) ** 2 + (yy - 0.5) ** 2) / 0.4) for c in (0.2, 0.5, 0.8)])
    cfg = PreprocessConfig(static_background=False, dynamic_background=True, size=None, normalise="none")
    flat = preprocess_batch(smooth, cfg).numpy()[:, 0]
    for i in range(3):
        before = smooth[i].std() / smooth[i].mean()
        after = flat[i].std() / flat[i].mean()
        assert before > 0.15 and after < 0.08  # the background's relative variation falls 3–5×
    raw = smooth * (1 + 0.15 * np.stack([_bands(i) for i in range(3)]))
    out = preprocess_batch(raw, PreprocessConfig(static_background=False, size=None)).numpy()[:, 0]
    for i in range(3):
        assert _corr(raw[i], _bands(i)) < 0.5  # before: the background hides the bands
        assert _corr(out[i], _bands(i)) > 0.8


def test_standard_and_minmax_normalisation() -> None:
    raw = np.random.default_rng(0).integers(0, 255, (5, 20, 30)).astype(np.uint8)
    cfg = PreprocessConfig(static_background=False, dynamic_background=False, size=None)
    out = preprocess_batch(raw, cfg)
    assert out.shape == (5, 1, 20, 30) and out.dtype == torch.float32
    np.testing.assert_allclose(out.mean(dim=(-2, -1)).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(dim=(-2, -1)).numpy(), 1, atol=1e-5)
    mm = preprocess_batch(
        raw, PreprocessConfig(static_background=False, dynamic_background=False, size=None, normalise="minmax")
    )
    np.testing.assert_allclose(mm.amin(dim=(-2, -1)).numpy(), 0, atol=1e-6)
    np.testing.assert_allclose(mm.amax(dim=(-2, -1)).numpy(), 1, atol=1e-6)
    none = preprocess_batch(
        raw, PreprocessConfig(static_background=False, dynamic_background=False, size=None, normalise="none")
    )
    np.testing.assert_array_equal(none.numpy()[:, 0], raw.astype(np.float32))


def test_resize_to_model_size_from_any_shape() -> None:
    raw = np.random.default_rng(1).random((3, 60, 80)).astype(np.float32) + 1
    cfg = PreprocessConfig(static_background=True, size=32)
    out = preprocess_batch(raw, cfg, static_background=raw.mean(axis=0))
    assert out.shape == (3, 1, 32, 32)
    assert torch.isfinite(out).all()
    single = preprocess_batch(raw[0], cfg, static_background=raw.mean(axis=0))
    torch.testing.assert_close(single[0], out[0])


def test_circular_mask_zeroes_corners_and_normalises_inside() -> None:
    raw = np.random.default_rng(2).integers(1, 255, (4, 32, 32)).astype(np.uint8)
    cfg = PreprocessConfig(static_background=False, dynamic_background=False, size=None, circular_mask=True)
    out = preprocess_batch(raw, cfg)
    mask = circular_mask((32, 32))
    assert not mask[0, 0] and mask[16, 16] and 0.75 < mask.float().mean() < 0.8
    assert (out[..., ~mask] == 0).all()
    inside = out[..., mask]
    np.testing.assert_allclose(inside.mean(dim=-1).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(inside.std(dim=-1).numpy(), 1, atol=1e-5)


def test_same_result_for_uint8_uint16_and_float64_input() -> None:
    raw = np.random.default_rng(3).integers(1, 255, (4, 30, 30)).astype(np.uint8)
    cfg = PreprocessConfig(size=16, circular_mask=True)
    bg = raw.mean(axis=0)
    ref = preprocess_batch(raw, cfg, static_background=bg)
    for other in (raw.astype(np.float64), raw.astype(np.uint16), torch.from_numpy(raw.astype(np.float32))):
        torch.testing.assert_close(preprocess_batch(other, cfg, static_background=bg), ref)


def test_config_round_trip_and_errors() -> None:
    cfg = PreprocessConfig(dynamic_sigma=0.2, size=32, normalise="minmax", circular_mask=True)
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg
    assert PreprocessConfig.from_dict(None) == PreprocessConfig()
    with pytest.raises(ValueError, match=r"unknown preprocessing keys \['sigma'\]; known are"):
        PreprocessConfig.from_dict({"sigma": 1})
    with pytest.raises(ValueError, match="unknown normalise 'zscore'; options are 'standard'"):
        PreprocessConfig(normalise="zscore")
    with pytest.raises(ValueError, match="dynamic_sigma 2 must lie in"):
        PreprocessConfig(dynamic_sigma=2)
    with pytest.raises(ValueError, match="size 4 must be between 8 and 1024"):
        PreprocessConfig(size=4)
    with pytest.raises(ValueError, match=r"size 64.5 must be a whole number"):
        PreprocessConfig(size=64.5)


def test_batch_errors_name_the_problem() -> None:
    cfg = PreprocessConfig(size=None)
    with pytest.raises(ValueError, match="static background correction needs the data set's mean pattern"):
        preprocess_batch(np.ones((2, 8, 8)), cfg)
    with pytest.raises(ValueError, match=r"static background shape \(4, 4\) does not match patterns \(8, 8\)"):
        preprocess_batch(np.ones((2, 8, 8)), cfg, static_background=np.ones((4, 4)))
    with pytest.raises(ValueError, match=r"expected a batch of patterns \(B, H, W\), got shape \(1, 2, 8, 8\)"):
        preprocess_batch(np.ones((1, 2, 8, 8)), cfg, static_background=np.ones((8, 8)))
