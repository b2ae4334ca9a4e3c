"""ebsdlib: phase mapping in EBSD with deep learning.

Importing the package is cheap: torch, timm, kikuchipy and umap are imported inside the
functions that need them. Subpackages:

- :mod:`ebsdlib.data` — the HDF5 data-set format, readers (HDF5, image folders, vendor
  files through kikuchipy), preprocessing and splits.
- :mod:`ebsdlib.simulate` — the physics-based synthetic default (Ni, Ni₃Al, Ni₃Fe).
- :mod:`ebsdlib.train` — training (cross-entropy, supervised contrastive), evaluation,
  embeddings and UMAP.
- :mod:`ebsdlib.runs` — the run-folder layout and its reader API.
- :mod:`ebsdlib.predict` — batched inference over whole scans and phase maps.
"""

__version__ = "0.1.0"
