"""The detector model: from clean kinematical patterns to realistic raw detector frames.

A kinematical pattern is clean; a real EBSD frame is not. :class:`DetectorModel` adds, in the
order the signal meets them:

1. **band contrast** — the clean pattern, standardised per pattern, modulates the background by
   ``band_contrast`` (the standard deviation of the Kikuchi signal relative to the background).
   The default 2.2 % reproduces kikuchipy's real Ni scan, whose background-corrected patterns
   carry a band signal of 1.8 % r.m.s. (2.45 % in all, 1.66 % of it noise);
2. **smooth large background** — a broad bright lobe below the pattern centre (where
   back-scattered electrons are most numerous at 70° tilt) with a gentle fall-off, plus a small
   random per-pattern gradient (``background_jitter``) that static background correction alone
   cannot remove;
3. **point-spread blur** — the screen's light spread and the energy spread of the electrons
   soften the bands: a Gaussian of ``psf_sigma`` pixels on the signal. At the binned pixel sizes
   of fast EBSD (binning 4–8) the spread is below a pixel, so the noise of neighbouring pixels
   stays uncorrelated, as in kikuchipy's real Ni scan (lag-1 noise autocorrelation ≈ 0.01);
4. **dose** — the expected number of detected electrons per pixel, averaged over the frame;
   each pixel's count is Poisson distributed, so the relative shot noise is ``1/√(dose·b)``;
5. **read noise** — Gaussian, ``read_noise`` electrons r.m.s.;
6. **quantisation** — a gain that puts the mean background at ``fill`` of the full scale of an
   8- or 16-bit camera, rounding and clipping.

The geometry (pattern centre, sample tilt 70°, camera tilt, 20 kV) lives here too, so that the
data set and scan simulators share one detector.

``dose`` is the knob that moves a data set from easy to hard: the signal-to-noise ratio of a
pixel is about ``band_contrast·√dose``. The default (:data:`ebsdlib.simulate.config.DEFAULT_DOSE`)
matches the noise of kikuchipy's real Ni scan; see :mod:`ebsdlib.simulate.calibrate`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector


@dataclass(frozen=True)
class DetectorModel:
    """Geometry and noise of the simulated EBSD camera.

    Parameters
    ----------
    pc
        Pattern centre (PCx, PCy, PCz) in kikuchipy's Bruker convention (fractions of the
        detector width/height and the detector distance over its height).
    pc_spread
        Standard deviation of the random per-pattern PC variation (data sets) or the total PC
        shift across the scan width (scans, from beam scanning).
    sample_tilt
        Sample tilt in degrees (70° in EBSD).
    camera_tilt
        Detector tilt in degrees.
    voltage
        Accelerating voltage in kV.
    band_contrast
        Standard deviation of the Kikuchi modulation relative to the background.
    background_jitter
        Standard deviation of the random per-pattern background gradient (fraction per width).
    read_noise
        Read noise in electrons r.m.s.
    psf_sigma
        Point-spread blur σ in pixels (0 for none).
    bit_depth
        Camera bit depth, 8 or 16; the stored dtype is uint8 or uint16.
    fill
        Fraction of the full scale at which the mean background sits.
    """

    pc: tuple[float, float, float] = (0.42, 0.22, 0.50)
    pc_spread: float = 0.01
    sample_tilt: float = 70.0
    camera_tilt: float = 0.0
    voltage: float = 20.0
    band_contrast: float = 0.022
    background_jitter: float = 0.05
    read_noise: float = 10.0
    psf_sigma: float = 0.7
    bit_depth: Literal[8, 16] = 8
    fill: float = 0.4

    def __post_init__(self) -> None:
        if len(self.pc) != 3 or not all(0 < float(v) < 2 for v in self.pc):
            raise ValueError(f"pattern centre {self.pc!r} must be three numbers (PCx, PCy, PCz) in (0, 2)")
        if self.bit_depth not in (8, 16):
            raise ValueError(f"bit_depth {self.bit_depth!r} is not supported; options are 8 or 16")
        for name in ("pc_spread", "band_contrast", "background_jitter", "read_noise", "psf_sigma"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"detector {name} {value!r} must be a finite number ≥ 0")
        if not 0 < self.fill <= 1:
            raise ValueError(f"detector fill {self.fill!r} must lie in (0, 1]: the fraction of full scale")
        if not 0 < self.voltage <= 300:
            raise ValueError(f"voltage {self.voltage!r} kV is outside (0, 300] kV; EBSD uses 5–30 kV")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["pc"] = list(self.pc)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DetectorModel:
        """Inverse of :meth:`to_dict`; unknown keys are an error that names them."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown detector keys {sorted(unknown)}; known are {sorted(known)}")
        d = dict(d)
        if "pc" in d:
            d["pc"] = tuple(float(v) for v in d["pc"])
        return cls(**d)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8 if self.bit_depth == 8 else np.uint16)

    def kikuchipy_detector(self, shape: tuple[int, int], pcs: np.ndarray | None = None) -> EBSDDetector:
        """A kikuchipy detector of ``shape`` with one PC, or one PC per pattern (``pcs`` (n, 3))."""
        from kikuchipy.detectors import EBSDDetector

        pc = np.asarray(self.pc, dtype=float) if pcs is None else np.asarray(pcs, dtype=float)
        return EBSDDetector(
            shape=tuple(int(s) for s in shape), pc=pc, sample_tilt=self.sample_tilt, tilt=self.camera_tilt
        )

    def background(self, shape: tuple[int, int]) -> np.ndarray:
        """The smooth static background, mean 1, float64 ``shape``.

        A broad anisotropic Gaussian lobe centred a little below the pattern centre (the
        forward-scattering direction at 70° tilt) on a floor, as raw EBSD frames show.
        """
        h, w = shape
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        cx, cy = self.pc[0] * (w - 1), (self.pc[1] + 0.35) * (h - 1)
        lobe = np.exp(-0.5 * (((x - cx) / (0.55 * w)) ** 2 + ((y - cy) / (0.45 * h)) ** 2))
        bg = 0.35 + lobe
        return bg / bg.mean()

    def expose(
        self,
        modulation: np.ndarray,
        dose: float | np.ndarray,
        rng: np.random.Generator | None,
        nominal_dose: float | None = None,
    ) -> np.ndarray:
        """Raw detector frames from clean patterns.

        Parameters
        ----------
        modulation
            ``(B, H, W)`` Kikuchi signal relative to the background: a pure pattern standardised
            with :func:`standardise` (zero mean, unit σ); a mixed pattern at a grain boundary,
            the weighted sum of its parts' standardised patterns (so it has less contrast).
        dose
            Mean detected electrons per pixel: one value or one per pattern ``(B,)``.
        rng
            Random generator for the noise; ``None`` gives the noise-free expected frame
            (blurred, not quantised) as float32 — the reference for calibration.
        nominal_dose
            The dose the camera gain is set for (default: the mean of ``dose``); patterns with
            less dose than that come out darker, as with a fixed gain.

        Returns
        -------
        numpy.ndarray
            ``(B, H, W)`` uint8/uint16 frames (float32 when ``rng`` is ``None``).
        """
        k = np.asarray(modulation, dtype=np.float64)
        if k.ndim != 3:
            raise ValueError(f"modulation must have shape (B, H, W), got {k.shape}")
        b, h, w = k.shape
        dose = np.broadcast_to(np.asarray(dose, dtype=np.float64), (b,))
        if not (np.isfinite(dose).all() and (dose > 0).all()):
            raise ValueError(f"dose {dose.min()!r}…{dose.max()!r} must be positive electrons per pixel")
        bg = self.background((h, w))[None]
        if self.background_jitter > 0 and rng is not None:
            gy, gx = np.linspace(-0.5, 0.5, h), np.linspace(-0.5, 0.5, w)
            a = rng.normal(0.0, self.background_jitter, size=(b, 2))
            bg = bg * (1 + a[:, 0, None, None] * gx[None, None, :] + a[:, 1, None, None] * gy[None, :, None])
        signal = blur(np.clip(bg * (1 + self.band_contrast * k), 0, None), self.psf_sigma)
        signal = signal * dose[:, None, None]
        if rng is None:
            return signal.astype(np.float32)
        counts = rng.poisson(signal).astype(np.float64)
        if self.read_noise > 0:
            counts += rng.normal(0.0, self.read_noise, size=counts.shape)
        full = float(np.iinfo(self.dtype).max)
        gain = self.fill * full / float(nominal_dose if nominal_dose is not None else dose.mean())
        return np.clip(np.rint(counts * gain), 0, full).astype(self.dtype)


def standardise(patterns: np.ndarray) -> np.ndarray:
    """Zero mean, unit standard deviation per pattern (constant patterns become zeros)."""
    x = np.asarray(patterns, dtype=np.float64)
    mean = x.mean(axis=(-2, -1), keepdims=True)
    std = x.std(axis=(-2, -1), keepdims=True)
    return (x - mean) / np.where(std > 0, std, 1.0)


def blur(patterns: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of each ``(H, W)`` pattern of a ``(B, H, W)`` stack (σ in pixels)."""
    if sigma <= 0:
        return patterns
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(patterns, sigma=(0, sigma, sigma), mode="nearest")
