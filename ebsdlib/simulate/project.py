"""Projection of master patterns onto the detector for many orientations and pattern centres."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.simulate.detector import DetectorModel

if TYPE_CHECKING:
    from kikuchipy.signals import EBSDMasterPattern


def project(
    master: EBSDMasterPattern,
    quaternions: np.ndarray,
    detector: DetectorModel,
    shape: tuple[int, int],
    pcs: np.ndarray | None = None,
) -> np.ndarray:
    """Clean kinematical patterns, float32 ``(n, H, W)``.

    Parameters
    ----------
    master
        Lambert master pattern from :func:`ebsdlib.simulate.master.master_pattern`.
    quaternions
        ``(n, 4)`` crystal orientations (a, b, c, d) in kikuchipy's sample frame
        (EDAX TSL RD-TD-ND, Bunge convention).
    detector
        Geometry (tilts, pattern centre).
    shape
        Detector ``(H, W)`` in pixels.
    pcs
        ``(n, 3)`` one pattern centre per pattern, or ``None`` for ``detector.pc`` everywhere.
    """
    from orix.quaternion import Rotation

    q = np.asarray(quaternions, dtype=np.float64).reshape(-1, 4)
    if len(q) == 0:
        return np.empty((0, *shape), dtype=np.float32)
    if pcs is not None and len(pcs) != len(q):
        raise ValueError(f"{len(pcs)} pattern centres given for {len(q)} orientations; give one per pattern")
    kp_detector = detector.kikuchipy_detector(shape, pcs)
    sim = master.get_patterns(Rotation(q), kp_detector, dtype_out=np.float32, compute=True, show_progressbar=False)
    return np.asarray(sim.data, dtype=np.float32).reshape(len(q), *shape)
