"""The Phase maps page's orientation views: the IPF map beside the phase map, boundaries over both.

The arithmetic is :mod:`ebsdlib.phasemap.orientation` (orix); this module puts the images the
page draws together — the phase overlay and the IPF map with the same boundaries, the IPF
colour key of each phase as a PNG, and the sentence that says where the orientations come from.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from ebsdlib.phasemap.assemble import PhaseMap
from ebsdlib.phasemap.orientation import (
    GrainBoundaries,
    draw_boundaries,
    grain_boundaries,
    ipf_direction,
    ipf_rgb,
    point_group,
)
from ebsdlib.phasemap.render import render_phasemap

#: What each orientation source means, for the page.
SOURCE_TEXT = {
    "file": "stored in the scan file",
    "hough": "Hough/Radon indexing (PyEBSDIndex) of each point's predicted phase — the hybrid map",
    "dictionary": "dictionary indexing of each point's predicted phase",
    "indexing": "the indexing method's own solution",
    "none": "none",
}


@dataclass(frozen=True)
class OrientationViews:
    """The two images the page shows side by side and the boundaries drawn on them.

    Attributes
    ----------
    phase
        ``(H, W, 3)`` uint8 phase overlay with boundaries.
    ipf
        ``(H, W, 3)`` uint8 IPF map with the same boundaries.
    boundaries
        The boundaries (counts for the caption).
    """

    phase: np.ndarray
    ipf: np.ndarray
    boundaries: GrainBoundaries


def orientation_views(
    phasemap: PhaseMap,
    direction: str = "z",
    angle: float = 5.0,
    threshold: float = 0.0,
    opacity: float = 0.7,
    boundaries: bool = True,
) -> OrientationViews:
    """The phase overlay and the IPF map of ``phasemap``, with grain and phase boundaries drawn when asked.

    Parameters
    ----------
    phasemap
        The map.
    direction
        IPF sample direction (``"x"``, ``"y"``, ``"z"``).
    angle
        Grain-boundary misorientation in degrees.
    threshold, opacity
        As on the phase map.
    boundaries
        Draw the boundaries (they are counted either way).
    """
    gb = grain_boundaries(phasemap, angle, threshold)
    phase = render_phasemap(phasemap, threshold, opacity)
    ipf = ipf_rgb(phasemap, direction, threshold)
    if boundaries:
        phase, ipf = draw_boundaries(phase, gb), draw_boundaries(ipf, gb)
    return OrientationViews(phase, ipf, gb)


def ipf_key_png(phasemap: PhaseMap, phase_index: int, direction: str = "z") -> bytes:
    """orix's IPF colour key of one phase (its Laue group) for ``direction``, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from orix.plot import IPFColorKeyTSL

    key = IPFColorKeyTSL(point_group(phasemap.phases[phase_index]).laue, direction=ipf_direction(direction))
    fig = key.plot(return_figure=True)
    fig.set_size_inches(2.4, 2.0)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def orientation_caption(phasemap: PhaseMap, views: OrientationViews | None = None) -> str:
    """One paragraph for the page: where the orientations come from, how many points have one,
    what "not indexed" means in the hybrid map, and the boundary counts."""
    n = int(phasemap.measured.sum())
    k = int(phasemap.oriented.sum())
    source = SOURCE_TEXT.get(phasemap.orientation_source, phasemap.orientation_source)
    text = f"Orientations: {source}; {k} of {n} points have one."
    detail = phasemap.meta.get("orientations")
    if isinstance(detail, str) and phasemap.orientation_source == "file":
        text += f" ({detail}.)"
    if phasemap.hybrid:
        text += (
            " A point is not indexed only when its confidence is below the threshold and Hough found no solution"
            " for its predicted phase."
        )
    if views is not None:
        gb = views.boundaries
        text += (
            f" Boundaries above {gb.angle:g}° between 4-neighbours: {gb.n_boundaries} pairs,"
            f" {gb.n_phase_boundaries} of them between phases."
        )
    return text


def pixel_orientation_text(info: dict) -> str:
    """The orientation of one pixel (from :meth:`ebsdlib.phasemap.PhaseMap.pixel`) as Bunge Euler
    angles in degrees, with Hough's fit where known; ``"no orientation"`` without one."""
    from orix.quaternion import Rotation

    q = info.get("orientation")
    if q is None:
        return "no orientation"
    phi1, big_phi, phi2 = np.rad2deg(Rotation(np.asarray(q, dtype=np.float64)).to_euler()[0]) % 360.0
    text = f"Euler (φ1, Φ, φ2) = ({phi1:.1f}°, {big_phi:.1f}°, {phi2:.1f}°)"
    if info.get("orientation_source") == "hough" and info.get("orientation_fit") is not None:
        text += f", Hough fit {info['orientation_fit']:.2f}° with {info.get('orientation_bands')} bands"
    return text
