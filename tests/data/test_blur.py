"""The matrix form of the dynamic-background blur equals padding and convolving (speed fix of the pipeline)."""

import pytest
import torch
import torch.nn.functional as F

from ebsdlib.data.preprocess import _gaussian_kernel, gaussian_blur


def padded_convolution(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """The blur written as two padded one-dimensional convolutions."""
    k = _gaussian_kernel(sigma, x.device, x.dtype)
    r = (len(k) - 1) // 2
    mode = "reflect" if r < min(x.shape[-2:]) else "replicate"
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode=mode), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode=mode), k.view(1, 1, -1, 1))


@pytest.mark.parametrize("shape", [(64, 64), (60, 80), (7, 5), (1, 9)])
@pytest.mark.parametrize("sigma", [0.5, 1.3, 8.0, 20.0])
def test_matrix_blur_equals_padded_convolution(shape, sigma):
    x = torch.rand(3, 1, *shape, generator=torch.Generator().manual_seed(0)) * 200
    expected = padded_convolution(x, sigma)
    torch.testing.assert_close(gaussian_blur(x, sigma), expected, rtol=1e-5, atol=1e-4)
    with torch.inference_mode():  # cached matrices work in and out of inference mode
        torch.testing.assert_close(gaussian_blur(x, sigma), expected, rtol=1e-5, atol=1e-4)
    y = x.clone().requires_grad_()
    gaussian_blur(y, sigma).sum().backward()
    assert y.grad is not None and torch.isfinite(y.grad).all()
