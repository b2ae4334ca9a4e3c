"""Orientation maps of a phase map: IPF colours and grain boundaries, computed with orix.

:func:`ipf_rgb`
    Each indexed point with an orientation in the colour orix's ``IPFColorKeyTSL`` gives the
    sample direction (x, y or z, in the sample frame of the orientations) in the crystal frame,
    for the Laue group of **that point's phase** (from its space group); points without an
    orientation, not indexed or without a pattern are :data:`~ebsdlib.phases.NOT_INDEXED_COLOR`.
:func:`grain_boundaries`
    Between every pair of 4-neighbours that are both indexed: a *phase boundary* where their
    phases differ, a *grain boundary* where they share a phase, both have an orientation and the
    symmetry-reduced misorientation (orix ``Orientation.angle_with`` under the phase's proper
    point group) exceeds the angle. Pairs with a point that is not indexed or has no orientation
    carry no boundary.
:func:`draw_boundaries`
    Marks the boundary pixels on any image of the map (the phase map, the IPF map).

orix is imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ebsdlib.phasemap.assemble import PhaseMap
from ebsdlib.phasemap.render import hex_to_rgb
from ebsdlib.phases import NOT_INDEXED_COLOR, Phase

#: Sample directions an IPF map can show.
IPF_DIRECTIONS = ("x", "y", "z")

#: Misorientations computed at once (orix makes ``pairs × symmetry elements`` dot products).
_CHUNK = 100_000


def point_group(phase: Phase, proper: bool = False):
    """orix point group of ``phase`` from its space group (``proper``: rotations only).

    Raises
    ------
    ValueError
        For a phase without a space group, naming it and the fix.
    """
    from orix.quaternion.symmetry import get_point_group

    sg = int(phase.space_group or 0)
    if not 1 <= sg <= 230:
        raise ValueError(
            f"phase {phase.name!r} has space group {phase.space_group!r}, so its orientations have no crystal "
            "symmetry for an IPF colour or a misorientation; give the data set's phase table its space group"
        )
    return get_point_group(sg, proper=proper)


def ipf_direction(direction: str):
    """orix ``Vector3d`` of the sample direction ``"x"``, ``"y"`` or ``"z"``."""
    from orix.vector import Vector3d

    if direction not in IPF_DIRECTIONS:
        raise ValueError(f"IPF direction {direction!r} is not allowed; use one of {', '.join(IPF_DIRECTIONS)}")
    return {"x": Vector3d.xvector, "y": Vector3d.yvector, "z": Vector3d.zvector}[direction]()


def ipf_rgb(phasemap: PhaseMap, direction: Literal["x", "y", "z"] = "z", threshold: float = 0.0) -> np.ndarray:
    """The IPF-coloured orientation map (see the module docstring).

    Parameters
    ----------
    phasemap
        The map; its orientations and phases.
    direction
        Sample direction shown: ``"x"``, ``"y"`` or ``"z"`` (the surface normal, the default).
    threshold
        Confidence threshold of :meth:`~ebsdlib.phasemap.PhaseMap.indexed`.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` uint8 RGB image.
    """
    from orix.plot import IPFColorKeyTSL
    from orix.quaternion import Orientation

    vector = ipf_direction(direction)
    out = np.empty((*phasemap.scan_shape, 3), dtype=np.uint8)
    out[:] = hex_to_rgb(NOT_INDEXED_COLOR)
    show = phasemap.indexed(threshold) & phasemap.oriented
    if not show.any():
        return out
    for k, phase in enumerate(phasemap.phases):
        sel = show & (phasemap.pred == k)
        if not sel.any():
            continue
        pg = point_group(phase)
        key = IPFColorKeyTSL(pg.laue, direction=vector)
        rgb = key.orientation2color(Orientation(phasemap.orientations[sel].astype(np.float64), symmetry=pg))
        out[sel] = np.clip(np.rint(255 * np.asarray(rgb)), 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True)
class GrainBoundaries:
    """Boundaries between 4-neighbours of a map.

    Attributes
    ----------
    right
        ``(H, W-1)`` bool: a boundary between ``(r, c)`` and ``(r, c+1)``.
    down
        ``(H-1, W)`` bool: a boundary between ``(r, c)`` and ``(r+1, c)``.
    phase_right, phase_down
        The same for phase boundaries only (the neighbours' phases differ).
    angle
        Misorientation (degrees) above which two points of one phase are in different grains.
    """

    right: np.ndarray
    down: np.ndarray
    phase_right: np.ndarray
    phase_down: np.ndarray
    angle: float

    @property
    def n_boundaries(self) -> int:
        """Neighbour pairs across any boundary."""
        return int(self.right.sum() + self.down.sum())

    @property
    def n_phase_boundaries(self) -> int:
        """Neighbour pairs across a phase boundary."""
        return int(self.phase_right.sum() + self.phase_down.sum())

    def mask(self) -> np.ndarray:
        """``(H, W)`` bool pixels drawn as boundary: those whose right or lower neighbour lies across one."""
        h, w = self.down.shape[0] + 1, self.right.shape[1] + 1
        out = np.zeros((h, w), dtype=bool)
        out[:, :-1] |= self.right
        out[:-1, :] |= self.down
        return out


def grain_boundaries(phasemap: PhaseMap, angle: float = 5.0, threshold: float = 0.0) -> GrainBoundaries:
    """Grain and phase boundaries between 4-neighbours (see the module docstring).

    Parameters
    ----------
    phasemap
        The map.
    angle
        Misorientation threshold in degrees, in (0, 180).
    threshold
        Confidence threshold of :meth:`~ebsdlib.phasemap.PhaseMap.indexed`.
    """
    if not isinstance(angle, (int, float)) or not 0 < float(angle) < 180:
        raise ValueError(f"grain-boundary angle {angle!r} is not allowed; use degrees in (0, 180)")
    indexed = phasemap.indexed(threshold)
    oriented = phasemap.oriented
    pred = phasemap.pred
    out = {}
    for axis, name in ((1, "right"), (0, "down")):
        a = (slice(None), slice(None, -1)) if axis == 1 else (slice(None, -1), slice(None))
        b = (slice(None), slice(1, None)) if axis == 1 else (slice(1, None), slice(None))
        both = indexed[a] & indexed[b]
        phase = both & (pred[a] != pred[b])
        grain = np.zeros_like(both)
        same = both & ~phase & oriented[a] & oriented[b]
        if same.any():
            grain[same] = _misorientation(phasemap, pred[a][same], a, b, same) > float(angle)
        out[name], out[f"phase_{name}"] = phase | grain, phase
    return GrainBoundaries(out["right"], out["down"], out["phase_right"], out["phase_down"], float(angle))


def _misorientation(phasemap: PhaseMap, phase: np.ndarray, a: tuple, b: tuple, same: np.ndarray) -> np.ndarray:
    """Symmetry-reduced misorientation (degrees) of the neighbour pairs ``same``, whose phase is ``phase``."""
    from orix.quaternion import Orientation

    qa = phasemap.orientations[a][same].astype(np.float64)
    qb = phasemap.orientations[b][same].astype(np.float64)
    angles = np.empty(len(phase), dtype=np.float64)
    for k in np.unique(phase):
        sym = point_group(phasemap.phases[int(k)], proper=True)
        rows = np.flatnonzero(phase == k)
        for start in range(0, len(rows), _CHUNK):
            r = rows[start : start + _CHUNK]
            angles[r] = Orientation(qa[r], symmetry=sym).angle_with(Orientation(qb[r], symmetry=sym), degrees=True)
    return angles


def draw_boundaries(rgb: np.ndarray, boundaries: GrainBoundaries, color: str = "#000000") -> np.ndarray:
    """A copy of the ``(H, W, 3)`` uint8 image with the boundary pixels in ``color``."""
    rgb = np.asarray(rgb)
    mask = boundaries.mask()
    if rgb.shape != (*mask.shape, 3):
        raise ValueError(
            f"image has shape {rgb.shape!r} but the boundaries are of a {mask.shape[0]}×{mask.shape[1]} map"
        )
    out = rgb.copy()
    out[mask] = hex_to_rgb(color)
    return out
