"""Pattern quality: the image-quality (IQ) value EBSD software shows as a grey map.

IQ after Krieger Lassen, as kikuchipy computes it: one minus the spectrum-weighted mean spatial
squared spatial frequency over its value for white noise. Sharp, strong bands put power at low frequencies and
give values near 1; noise, blur and mixed patterns at grain boundaries lower it. Each pattern's
smooth background is divided out first (a Gaussian blur of σ = 1/8 of the width), so the value
does not depend on the detector's brightness profile.
"""

from __future__ import annotations

import numpy as np


def image_quality(patterns: np.ndarray, background_sigma: float = 0.125) -> np.ndarray:
    """IQ of each pattern of a ``(B, H, W)`` stack, float32 ``(B,)``, at most 1.

    Parameters
    ----------
    patterns
        Raw or clean patterns, any dtype.
    background_sigma
        σ of the background blur as a fraction of the pattern width.
    """
    from scipy.ndimage import gaussian_filter

    x = np.asarray(patterns, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"patterns must have shape (B, H, W), got {x.shape}")
    _b, h, w = x.shape
    sigma = max(0.5, background_sigma * w)
    smooth = gaussian_filter(x, sigma=(0, sigma, sigma), mode="nearest")
    x = x / np.clip(smooth, 1e-6, None)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    spectrum = np.abs(np.fft.fft2(x)) ** 2
    fy, fx = np.fft.fftfreq(h), np.fft.fftfreq(w)
    freq = fy[:, None] ** 2 + fx[None, :] ** 2
    inertia = (spectrum * freq).sum(axis=(1, 2)) / np.clip(spectrum.sum(axis=(1, 2)), 1e-12, None)
    return (1.0 - inertia / freq.mean()).astype(np.float32)
