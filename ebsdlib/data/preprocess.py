"""Pattern preprocessing, identical for simulated and real patterns, training and inference.

The steps follow EBSD practice, in this order:

1. **static background** — divide each raw pattern by the data set's mean pattern
   (``/static_background``), which removes the detector's fixed intensity profile;
2. **dynamic background** — divide by a Gaussian blur of the pattern itself (σ a fraction of
   the pattern width), which removes the remaining smooth, pattern-specific background;
3. **resize** to the model input size (area-antialiased bilinear);
4. **normalise** each pattern: ``"standard"`` (zero mean, unit variance) or ``"minmax"``
   (to [0, 1]) or ``"none"``;
5. optional **circular mask** that zeroes the corners outside the inscribed circle.

The steps run in torch on whatever device the batch is on, so the GPU does this work at
inference time. The config is stored with every data set and every run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import torch

NORMALISATIONS = ("standard", "minmax", "none")
#: Smallest and largest model input size in pixels (``PreprocessConfig.size``).
SIZE_RANGE = (8, 1024)


@dataclass(frozen=True)
class PreprocessConfig:
    """How raw patterns become model inputs.

    Parameters
    ----------
    static_background
        Divide by the data set's mean pattern.
    dynamic_background
        Divide by a Gaussian blur of each pattern.
    dynamic_sigma
        Blur σ as a fraction of the pattern width.
    size
        Model input size in pixels (square); ``None`` keeps the stored size.
    normalise
        ``"standard"``, ``"minmax"`` or ``"none"``.
    circular_mask
        Zero the pixels outside the inscribed circle.
    """

    static_background: bool = True
    dynamic_background: bool = True
    dynamic_sigma: float = 0.125
    size: int | None = 64
    normalise: Literal["standard", "minmax", "none"] = "standard"
    circular_mask: bool = False

    def __post_init__(self) -> None:
        for name in ("static_background", "dynamic_background", "circular_mask"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} {getattr(self, name)!r} must be True or False")
            object.__setattr__(self, name, bool(getattr(self, name)))  # numpy bools: plain JSON
        if isinstance(self.dynamic_sigma, bool) or not isinstance(self.dynamic_sigma, (int, float)):
            raise ValueError(
                f"dynamic_sigma {self.dynamic_sigma!r} must be a number in (0, 1): a fraction of the width"
            )
        if not isinstance(self.normalise, str) or self.normalise not in NORMALISATIONS:
            raise ValueError(
                f"unknown normalise {self.normalise!r}; options are {', '.join(map(repr, NORMALISATIONS))}"
            )
        if not (0 < self.dynamic_sigma < 1):
            raise ValueError(f"dynamic_sigma {self.dynamic_sigma!r} must lie in (0, 1): a fraction of the width")
        if self.size is not None and (
            isinstance(self.size, bool)
            or not isinstance(self.size, (int, float))
            or not math.isfinite(self.size)
            or int(self.size) != self.size
        ):
            raise ValueError(f"size {self.size!r} must be a whole number of pixels, or None")
        if self.size is not None and not (SIZE_RANGE[0] <= self.size <= SIZE_RANGE[1]):
            raise ValueError(
                f"size {self.size!r} must be between {SIZE_RANGE[0]} and {SIZE_RANGE[1]} pixels, "
                "or None to keep the stored size"
            )
        if self.size is not None:
            object.__setattr__(self, "size", int(self.size))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> PreprocessConfig:
        """Build from a stored dictionary; unknown keys are an error that names them."""
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = [k for k in d if k not in known]
        if unknown:
            raise ValueError(f"unknown preprocessing keys {sorted(unknown, key=repr)}; known are {sorted(known)}")
        return cls(**d)


def _gaussian_kernel(sigma: float, device, dtype) -> torch.Tensor:
    import torch

    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(B, 1, H, W)`` with reflect padding.

    Each 1-D pass (pad, convolve) is a linear map of a row, applied as one matrix product
    (:func:`_blur_matrix`): the same result as padding and convolving, up to float rounding,
    but an order of magnitude faster than a one-channel convolution on the CPU.
    """
    h, w = x.shape[-2:]
    radius = max(1, math.ceil(3 * sigma))
    pad_mode = "reflect" if radius < min(h, w) else "replicate"
    x = x @ _blur_matrix(w, float(sigma), pad_mode, x.device, x.dtype)
    return (x.transpose(-1, -2) @ _blur_matrix(h, float(sigma), pad_mode, x.device, x.dtype)).transpose(-1, -2)


@lru_cache(maxsize=32)
def _blur_matrix(n: int, sigma: float, pad_mode: str, device, dtype) -> torch.Tensor:
    """``(n, n)`` matrix ``M`` such that ``row @ M`` is the padded 1-D Gaussian convolution of ``row``."""
    import torch
    import torch.nn.functional as F

    with torch.inference_mode(False), torch.no_grad():  # a plain tensor, usable in and out of inference mode
        k = _gaussian_kernel(sigma, device, dtype)
        r = (len(k) - 1) // 2
        eye = torch.eye(n, device=device, dtype=dtype)[:, None, None, :]
        return F.conv2d(F.pad(eye, (r, r, 0, 0), mode=pad_mode), k.view(1, 1, 1, -1))[:, 0, 0, :].contiguous()


def circular_mask(size: tuple[int, int], device=None) -> torch.Tensor:
    """Boolean ``(H, W)`` mask of the inscribed circle."""
    import torch

    h, w = size
    yy, xx = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    cy, cx = (h - 1) / 2, (w - 1) / 2
    return ((yy - cy) / (h / 2)) ** 2 + ((xx - cx) / (w / 2)) ** 2 <= 1.0


def preprocess_batch(
    raw: torch.Tensor | np.ndarray,
    config: PreprocessConfig,
    static_background: torch.Tensor | np.ndarray | None = None,
) -> torch.Tensor:
    """Raw ``(B, H, W)`` patterns (any dtype) → float32 ``(B, 1, S, S)`` model inputs.

    Parameters
    ----------
    raw
        Batch of raw patterns, on the device where the work should run.
    config
        The preprocessing to apply.
    static_background
        ``(H, W)`` mean raw pattern of the scan; required when ``config.static_background``.
    """
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(raw)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"expected a batch of patterns (B, H, W), got shape {tuple(x.shape)}")
    x = x.to(torch.float32)[:, None]
    eps = 1e-6
    if config.static_background:
        if static_background is None:
            raise ValueError(
                "static background correction needs the data set's mean pattern; "
                "pass static_background or set static_background=False"
            )
        bg = torch.as_tensor(static_background, device=x.device, dtype=torch.float32)
        if bg.shape != x.shape[-2:]:
            raise ValueError(f"static background shape {tuple(bg.shape)} does not match patterns {tuple(x.shape[-2:])}")
        x = x / (bg / bg.mean().clamp_min(eps)).clamp_min(eps)
    if config.dynamic_background:
        sigma = max(0.5, config.dynamic_sigma * x.shape[-1])
        x = x / gaussian_blur(x, sigma).clamp_min(eps)
    if config.size is not None and tuple(x.shape[-2:]) != (config.size, config.size):
        x = F.interpolate(x, size=(config.size, config.size), mode="bilinear", antialias=True, align_corners=False)
    mask = circular_mask(tuple(x.shape[-2:]), x.device) if config.circular_mask else None
    if config.normalise == "standard":
        if mask is None:
            mean = x.mean(dim=(-2, -1), keepdim=True)
            std = x.std(dim=(-2, -1), keepdim=True)
        else:
            vals = x[..., mask]
            mean = vals.mean(dim=-1)[..., None, None]
            std = vals.std(dim=-1)[..., None, None]
        x = (x - mean) / std.clamp_min(eps)
    elif config.normalise == "minmax":
        flat = x.flatten(-2)
        lo = flat.min(dim=-1).values[..., None, None]
        hi = flat.max(dim=-1).values[..., None, None]
        x = (x - lo) / (hi - lo).clamp_min(eps)
    if mask is not None:
        x = x * mask
    return x.contiguous()
