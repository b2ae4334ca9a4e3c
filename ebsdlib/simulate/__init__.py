"""The physics-based synthetic default: EBSD patterns of Ni, Ni₃Al and Ni₃Fe (or any cubic phase
with atoms) from dynamical (default, de-ebsd) or kinematical master patterns (``forward_model``).

- :func:`simulate_dataset` with :class:`SimulationConfig` — a labelled data set of grains of
  random orientation, split by grain, for training;
- :func:`simulate_scan` with :class:`ScanConfig` — a Voronoi-grain scan with boundary mixing
  and a pattern-quality map, for phase maps.

Both write the project's HDF5 format (:mod:`ebsdlib.data.format`). Modules: :mod:`.crystal`
(structures, reflectors, structure factors), :mod:`.master` (cached master patterns),
:mod:`.dynamical` (de-ebsd Bloch-wave masters), :mod:`.convergence` (their resolution study),
:mod:`.detector` (geometry and noise), :mod:`.calibrate` (how hard a dose is), :mod:`.limit`
(the physical limit of Ni/Ni₃Fe taken apart into its cues), :mod:`.torch_render` (projection
and detector in torch, for stream training).
Heavy packages (kikuchipy, orix, diffsims) are imported only when a simulation runs.
"""

from ebsdlib.simulate.config import DEFAULT_DOSE
from ebsdlib.simulate.dataset import SimulationConfig, simulate_dataset
from ebsdlib.simulate.detector import DetectorModel
from ebsdlib.simulate.scan import ScanConfig, simulate_scan

__all__ = [
    "DEFAULT_DOSE",
    "DetectorModel",
    "ScanConfig",
    "SimulationConfig",
    "simulate_dataset",
    "simulate_scan",
]
