"""The simulator's projection and detector model in PyTorch, for patterns made on the training device.

:class:`TorchRenderer` does what :func:`ebsdlib.simulate.project.project` (kikuchipy's
``EBSDMasterPattern.get_patterns``) and :meth:`ebsdlib.simulate.detector.DetectorModel.expose`
do, on tensors, on the CPU or CUDA, so that a training loop can draw fresh patterns every step
without leaving the device:

projection
    For each pattern centre, the direction of every detector pixel centre from the source point
    (kikuchipy's gnomonic bounds in the Bruker convention, pixel centres at half steps), turned
    into the sample frame with kikuchipy's detector-to-sample rotation (sample and camera
    tilt), rotated into the crystal by the orientation (active rotation of the quaternion, as
    kikuchipy's ``rotate_vector``), mapped to the square Lambert projection (EMsoft's, as
    kikuchipy's ``_vector2lambert``) and read from the master pattern's upper or lower
    hemisphere with bilinear interpolation (``grid_sample``, ``align_corners=True``: Lambert
    coordinate ±√(π/2) is the master's edge pixel centre, as in kikuchipy).
detector
    The smooth static background with its per-pattern gradient jitter, the band contrast, the
    point-spread blur (a separable Gaussian truncated at 4σ with edge replication, as
    ``scipy.ndimage.gaussian_filter(mode="nearest")``, applied as two matrix products), shot
    noise (Poisson; from :data:`NORMAL_SHOT_NOISE_FROM` counts a rounded normal of the same mean
    and variance, :func:`shot_noise`), Gaussian read noise and quantisation at the camera's gain.

Measured equal to the NumPy path in ``tests/simulate/test_torch_render.py``: the projected
patterns correlate with kikuchipy's at ≥ 0.9999 and the noise-free frames agree to 1e-4 of
their range; noisy frames are equal in mean and variance (seeds of the two paths differ).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.phases import Phase
from ebsdlib.simulate.detector import DetectorModel

if TYPE_CHECKING:
    import torch

_SQRT_PI_HALF = math.sqrt(math.pi / 2)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def quaternion_matrices(q: torch.Tensor) -> torch.Tensor:
    """``(n, 3, 3)`` rotation matrices of ``(n, 4)`` unit quaternions (a, b, c, d), active."""
    import torch

    q = q / q.norm(dim=-1, keepdim=True)
    a, b, c, d = q.unbind(-1)
    return torch.stack(
        [
            torch.stack([a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)], -1),
            torch.stack([2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)], -1),
            torch.stack([2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d], -1),
        ],
        -2,
    )


def square_lambert(v: torch.Tensor) -> torch.Tensor:
    """Square Lambert coordinates ``(…, 2)`` (X, Y in [−√(π/2), √(π/2)]) of unit vectors ``(…, 3)``."""
    import torch

    x, y, z = (c.contiguous() for c in v.unbind(-1))
    return torch.stack(_lambert_xy(x, y, z), -1)


def _lambert_xy(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """EMsoft's square Lambert projection of unit vectors given as three contiguous component
    tensors (elementwise passes over whole tensors, the fast layout on a CPU)."""
    import torch

    r = torch.sqrt(torch.clamp(2 - 2 * z.abs(), min=0))
    x_major = y.abs() <= x.abs()
    major = torch.where(x_major, x, y)
    minor = torch.where(x_major, y, x)
    signed_r = torch.sign(major) * r  # 0 at the poles (x = y = 0), where both coordinates are 0
    at = torch.atan(minor / torch.where(major == 0, torch.ones_like(major), major))
    a = signed_r * _SQRT_PI_OVER_2
    b = signed_r * _TWO_OVER_SQRT_PI * at
    return torch.where(x_major, a, b), torch.where(x_major, b, a)


def gaussian_kernel(sigma: float, device=None) -> torch.Tensor:
    """1-D Gaussian of σ pixels truncated at 4σ, normalised (scipy's ``gaussian_filter`` kernel)."""
    import torch

    radius = int(4.0 * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def blur_matrix(n: int, sigma: float, device=None) -> torch.Tensor:
    """``(n, n)`` matrix of the 1-D Gaussian filter with edges replicated: ``M @ x`` filters ``x``."""
    import torch

    k = gaussian_kernel(sigma)
    r = (len(k) - 1) // 2
    m = torch.zeros((n, n), dtype=torch.float64)
    rows = torch.arange(n)
    for t in range(len(k)):
        m.index_put_((rows, torch.clamp(rows + t - r, 0, n - 1)), k[t].expand(n), accumulate=True)
    return m.to(device)


def blur(frames: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of ``(B, H, W)`` frames, edges replicated (``mode="nearest"``), as two
    matrix products (the separable filter folded into banded matrices)."""
    if sigma <= 0:
        return frames
    _, h, w = frames.shape
    mh = blur_matrix(h, sigma, frames.device).to(frames.dtype)
    mw = blur_matrix(w, sigma, frames.device).to(frames.dtype)
    return mh @ frames @ mw.T


class TorchRenderer:
    """Clean patterns and raw detector frames of several phases, on a torch device.

    Parameters
    ----------
    masters
        Phase name → kikuchipy Lambert master pattern (both hemispheres), as
        :func:`ebsdlib.simulate.master.load_masters` gives; all of one size.
    phases
        The phases in label order (label ``i`` is ``phases[i]``).
    detector
        Geometry and noise model.
    shape
        Detector ``(H, W)`` in pixels.
    device
        ``torch.device`` or its name.
    """

    def __init__(
        self,
        masters: Mapping[str, object],
        phases: Sequence[Phase],
        detector: DetectorModel,
        shape: tuple[int, int],
        device: str | torch.device = "cpu",
    ):
        import torch

        missing = [p.name for p in phases if p.name not in masters]
        if missing:
            raise ValueError(f"no master pattern for phases {missing}; load them with load_masters first")
        arrays = [np.asarray(masters[p.name].data, dtype=np.float32) for p in phases]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1 or len(arrays[0].shape) != 3 or arrays[0].shape[0] != 2:
            raise ValueError(
                f"master patterns must all be (2, n, n) Lambert arrays of one size (both hemispheres), got {shapes}"
            )
        self.device = torch.device(device)
        self.detector = detector
        self.shape = (int(shape[0]), int(shape[1]))
        self.phases = tuple(phases)
        self.masters = torch.as_tensor(np.stack(arrays), device=self.device)  # (P, 2, n, n)
        om = np.asarray((~detector.kikuchipy_detector(self.shape).sample_to_detector).to_matrix()).reshape(3, 3)
        self.detector_to_sample = torch.as_tensor(om, dtype=torch.float32, device=self.device)
        self.static_background = torch.as_tensor(
            detector.background(self.shape), dtype=torch.float32, device=self.device
        )

    def directions(self, pcs: torch.Tensor, camera_tilts: np.ndarray | None = None) -> torch.Tensor:
        """Unit vectors ``(B, H, W, 3)`` in the sample frame from the source to each pixel centre
        (``camera_tilts``: per-pattern camera tilts in degrees; default the detector's)."""
        import torch

        return torch.stack(self._directions(pcs, camera_tilts), -1)

    def detector_to_sample_matrices(self, camera_tilts: np.ndarray) -> torch.Tensor:
        """``(B, 3, 3)`` detector-to-sample rotations at per-pattern camera tilts (degrees), each
        kikuchipy's for the detector with that tilt rounded to 0.01° (cached: a run's draws reuse them)."""
        import torch

        tilts = np.round(np.asarray(camera_tilts, dtype=np.float64).reshape(-1), 2)
        distinct, inverse = np.unique(tilts, return_inverse=True)
        mats = np.stack([_detector_to_sample(self.detector, self.shape, float(t)) for t in distinct])
        return torch.as_tensor(mats[inverse], dtype=torch.float32, device=self.device)

    def _directions(
        self, pcs: torch.Tensor, camera_tilts: np.ndarray | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`directions` as three contiguous ``(B, H, W)`` components."""
        import torch

        h, w = self.shape
        pcx, pcy, pcz = (c[:, None] for c in pcs.to(self.device, torch.float32).unbind(-1))
        aspect = w / h
        x0, x1 = -aspect * pcx / pcz, aspect * (1 - pcx) / pcz
        y0, y1 = -(1 - pcy) / pcz, pcy / pcz
        u = (torch.arange(w, device=self.device, dtype=torch.float32) + 0.5) / w
        v = (torch.arange(h, device=self.device, dtype=torch.float32) + 0.5) / h
        gx = ((x0 + u[None] * (x1 - x0)) * pcz)[:, None, :]  # (B, 1, W)
        gy = ((y1 - v[None] * (y1 - y0)) * pcz)[:, :, None]  # (B, H, 1)
        gz = pcz[:, :, None]  # (B, 1, 1)
        if camera_tilts is None:  # one rotation for all: scalars, the fast path
            m = self.detector_to_sample.tolist()
            comps = [m[i][0] * gx + m[i][1] * gy + m[i][2] * gz for i in range(3)]  # (B, H, W) each
        else:
            m = self.detector_to_sample_matrices(camera_tilts)[:, :, :, None, None]  # (B, 3, 3, 1, 1)
            comps = [m[:, i, 0] * gx + m[:, i, 1] * gy + m[:, i, 2] * gz for i in range(3)]
        norm = torch.sqrt(comps[0] ** 2 + comps[1] ** 2 + comps[2] ** 2)
        return tuple(c / norm for c in comps)

    def clean(
        self,
        labels: torch.Tensor,
        quaternions: torch.Tensor,
        pcs: torch.Tensor,
        camera_tilts: np.ndarray | None = None,
    ) -> torch.Tensor:
        """Noise-free patterns ``(B, H, W)`` float32 of phases ``labels`` at ``(B, 4)`` orientations
        (orix/kikuchipy convention), ``(B, 3)`` Bruker pattern centres and, optionally, ``(B,)``
        camera tilts in degrees (default: the detector's)."""
        import torch
        import torch.nn.functional as F

        labels = labels.to(self.device).long()
        q = quaternions.to(self.device, torch.float32)
        d = self._directions(pcs, camera_tilts)
        rot = quaternion_matrices(q)[:, :, :, None, None]  # (B, 3, 3, 1, 1)
        vx, vy, vz = (rot[:, i, 0] * d[0] + rot[:, i, 1] * d[1] + rot[:, i, 2] * d[2] for i in range(3))
        lx, ly = _lambert_xy(vx, vy, vz)
        grid = torch.stack([lx, ly], -1) / _SQRT_PI_HALF  # grid_sample's [-1, 1] with align_corners=True
        upper = vz >= 0
        b, h, w = upper.shape
        out = torch.empty((b, h, w), dtype=torch.float32, device=self.device)
        for label in torch.unique(labels).tolist():
            sel = labels == label
            g = grid[sel].reshape(1, -1, w, 2)  # every selected pattern's rows stacked
            both = F.grid_sample(self.masters[label][None], g, mode="bilinear", align_corners=True)
            both = both[0].reshape(2, -1, h, w)
            out[sel] = torch.where(upper[sel], both[0], both[1])
        return out

    def expose(
        self,
        modulation: torch.Tensor,
        dose: torch.Tensor,
        generator: torch.Generator | None,
        nominal_dose: float | None = None,
        *,
        band_contrast: np.ndarray | None = None,
        psf_sigma: np.ndarray | None = None,
        background_jitter: np.ndarray | None = None,
    ) -> torch.Tensor:
        """Raw frames from standardised clean patterns, as :meth:`DetectorModel.expose`.

        ``generator`` ``None`` gives the noise-free expected frame (float32); else quantised
        frames (float32 holding whole grey levels, the camera's dtype range). ``band_contrast``,
        ``psf_sigma`` and ``background_jitter`` give ``(B,)`` per-pattern values (domain
        randomisation, :mod:`ebsdlib.simulate.randomise`); ``None`` keeps the detector's.
        """
        import torch

        det = self.detector
        k = modulation.to(self.device, torch.float32)
        b, h, w = k.shape
        dose = torch.as_tensor(dose, dtype=torch.float32, device=self.device).expand(b)
        bg = self.static_background[None].expand(b, h, w)
        jitter = det.background_jitter if background_jitter is None else self._per_pattern(background_jitter)
        if generator is not None and (background_jitter is not None or det.background_jitter > 0):
            gy = torch.linspace(-0.5, 0.5, h, device=self.device)
            gx = torch.linspace(-0.5, 0.5, w, device=self.device)
            a = torch.randn((b, 2), generator=generator, device=self.device)
            a = a * (jitter[:, None] if isinstance(jitter, torch.Tensor) else jitter)
            bg = bg * (1 + a[:, 0, None, None] * gx[None, None, :] + a[:, 1, None, None] * gy[None, :, None])
        contrast = det.band_contrast if band_contrast is None else self._per_pattern(band_contrast)[:, None, None]
        lit = torch.clamp(bg * (1 + contrast * k), min=0)
        blurred = blur(lit, det.psf_sigma) if psf_sigma is None else blur_each(lit, np.asarray(psf_sigma))
        signal = blurred * dose[:, None, None]
        if generator is None:
            return signal
        counts = shot_noise(signal, generator)
        if det.read_noise > 0:
            counts = counts + torch.randn(counts.shape, generator=generator, device=self.device) * det.read_noise
        full = float(np.iinfo(det.dtype).max)
        gain = det.fill * full / float(nominal_dose if nominal_dose is not None else dose.mean())
        return torch.clamp(torch.round(counts * gain), 0, full)

    def _per_pattern(self, values: np.ndarray) -> torch.Tensor:
        """``(B,)`` float32 tensor of per-pattern values on the device."""
        import torch

        return torch.as_tensor(np.asarray(values, dtype=np.float32), device=self.device)


@functools.lru_cache(maxsize=8192)
def _detector_to_sample(detector: DetectorModel, shape: tuple[int, int], camera_tilt: float) -> np.ndarray:
    """kikuchipy's ``(3, 3)`` detector-to-sample rotation of ``detector`` at ``camera_tilt`` degrees."""
    import dataclasses

    tilted = dataclasses.replace(detector, camera_tilt=camera_tilt).kikuchipy_detector(shape)
    return np.asarray((~tilted.sample_to_detector).to_matrix()).reshape(3, 3)


def blur_each(frames: torch.Tensor, sigmas: np.ndarray) -> torch.Tensor:
    """:func:`blur` with its own σ per frame (``(B,)`` pixels, 0: unblurred), as batched matrix products."""
    import torch

    _, h, w = frames.shape
    sigmas = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    if len(sigmas) != frames.shape[0]:
        raise ValueError(f"{len(sigmas)} blur σ for {frames.shape[0]} frames; give one per frame")
    sigmas = np.round(sigmas, 3)  # 0.001 px steps: the matrices of a run's draws are reused
    mh = torch.stack([_blur_or_identity(h, float(s)) for s in sigmas]).to(frames.device, frames.dtype)
    mw = torch.stack([_blur_or_identity(w, float(s)) for s in sigmas]).to(frames.device, frames.dtype)
    return mh @ frames @ mw.transpose(1, 2)


@functools.lru_cache(maxsize=4096)
def _blur_or_identity(n: int, sigma: float) -> torch.Tensor:
    """:func:`blur_matrix` on the CPU, or the identity for σ ≤ 0 (cached; callers must not modify it)."""
    import torch

    return blur_matrix(n, sigma) if sigma > 0 else torch.eye(n, dtype=torch.float64)


#: Mean count from which :func:`shot_noise` draws a rounded normal N(λ, λ) instead of Poisson(λ):
#: there the two agree in mean and variance (the rounding adds 1/12, under 0.1 %) and differ only
#: in a skewness of 1/√λ ≤ 0.1. torch's Poisson sampler is the slowest step of a streamed batch on
#: the CPU (a third of a 128-px batch's time at the default dose, where every pixel is above it).
NORMAL_SHOT_NOISE_FROM = 100.0


def shot_noise(signal: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Whole electron counts of mean ``signal``: Poisson below :data:`NORMAL_SHOT_NOISE_FROM`, a
    normal of the same mean and variance rounded to whole counts (and at least 0) from there."""
    import torch

    counts = torch.round(
        signal + torch.sqrt(signal) * torch.randn(signal.shape, generator=generator, device=signal.device)
    )
    low = signal < NORMAL_SHOT_NOISE_FROM
    if bool(low.any()):
        counts[low] = torch.poisson(signal[low], generator=generator)
    return counts.clamp_min(0)


def standardise(patterns: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit σ per ``(H, W)`` pattern (population σ, as NumPy; constant patterns → 0)."""
    import torch

    mean = patterns.mean(dim=(-2, -1), keepdim=True)
    std = patterns.std(dim=(-2, -1), keepdim=True, correction=0)
    return (patterns - mean) / torch.where(std > 0, std, torch.ones_like(std))
