"""Phase maps: assembling per-pattern predictions on the scan grid, rendering and exports.

- :mod:`~ebsdlib.phasemap.assemble` — :class:`PhaseMap`, :func:`build_phasemap`,
  :func:`phase_fractions`;
- :mod:`~ebsdlib.phasemap.render` — :func:`render_rgb` and :func:`render_phasemap` (the
  dashboard's renderer), label and error maps;
- :mod:`~ebsdlib.phasemap.export` — CSV and PNG;
- :mod:`~ebsdlib.phasemap.crystalmap` — orix ``CrystalMap`` (HDF5 and ``.ang``);
- :mod:`~ebsdlib.phasemap.ctf` — Oxford ``.ctf``;
- :mod:`~ebsdlib.phasemap.orientation` — IPF colours and grain boundaries (orix);
- :mod:`~ebsdlib.phasemap.store` — the run's phase-map folder: :func:`save_phasemap`,
  :func:`load_phasemap`.

orix, pandas and Pillow are imported inside the functions that need them.
"""

from ebsdlib.phasemap.assemble import NOT_INDEXED, ORIENTATION_SOURCES, PhaseMap, build_phasemap, phase_fractions
from ebsdlib.phasemap.render import render_error, render_labels, render_phasemap, render_rgb
from ebsdlib.phasemap.store import load_phasemap, save_phasemap

__all__ = [
    "NOT_INDEXED",
    "ORIENTATION_SOURCES",
    "PhaseMap",
    "build_phasemap",
    "load_phasemap",
    "phase_fractions",
    "render_error",
    "render_labels",
    "render_phasemap",
    "render_rgb",
    "save_phasemap",
]
