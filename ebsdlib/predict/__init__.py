"""Map a whole scan with a trained run: stream every pattern through the model, save the phase map.

:func:`predict_scan` loads the run's best checkpoint, streams the scan from its file in batches
(never the whole scan in memory: only the patterns of the batch being classified and the
``(n, C)`` probabilities), assembles the maps and writes them to
``runs/<run_id>/phasemaps/<scan>/`` (layout in :mod:`ebsdlib.phasemap.store`). An indexing
run maps the scan itself (:func:`ebsdlib.baseline.index_scan`, :func:`ebsdlib.baseline.hough_scan`).
Under ``torchrun`` every process classifies a contiguous share of the patterns and rank 0
writes the one phase map (:mod:`ebsdlib.predict._torchrun`).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
