"""ebsdlib: phase mapping in EBSD with deep learning.

Importing the package is cheap: torch, timm, kikuchipy and umap are imported inside the
functions that need them, and sub-packages attach their public names lazily
(``lazy_loader`` stubs). From the bottom of the import graph up (imports point one way):

- :mod:`ebsdlib.paths`, :mod:`ebsdlib.io`, :mod:`ebsdlib.phases`, :mod:`ebsdlib.methods`,
  :mod:`ebsdlib.metrics` — artifact roots and safe names, atomic writes, the phase table, the
  registry of methods, classification metrics.
- :mod:`ebsdlib.data` — the HDF5 data-set format, readers (HDF5, image folders, vendor files
  through kikuchipy), preprocessing, splits and scan geometry.
- :mod:`ebsdlib.simulate` — the physics-based synthetic default (Ni, Ni₃Al, Ni₃Fe),
  dynamical (de-ebsd, the default) or kinematical master patterns.
- :mod:`ebsdlib.runs` — the run-folder layout and its reader API.
- :mod:`ebsdlib.distributed` — the torchrun process group.
- :mod:`ebsdlib.train` — training (cross-entropy, supervised contrastive), evaluation,
  embeddings and UMAP.
- :mod:`ebsdlib.phasemap`, :mod:`ebsdlib.baseline`, :mod:`ebsdlib.predict` — phase maps,
  dictionary indexing, and batched inference over whole scans.
- :mod:`ebsdlib.bench`, :mod:`ebsdlib.jobs`, :mod:`ebsdlib.demo`, :mod:`ebsdlib.views`,
  :mod:`ebsdlib.cli` — benchmarks, training processes, the demo, what the dashboard shows,
  and the ``ebsdlib`` command.
"""

__version__ = "0.1.0"
