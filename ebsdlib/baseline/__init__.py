"""The conventional baselines: dictionary indexing with normalised cross-correlation, and Hough/Radon
indexing with PyEBSDIndex.

A dictionary of simulated patterns of every phase over an orix sampling of orientation
space is built from the same kinematical master patterns and detector geometry the
simulator uses (:mod:`ebsdlib.simulate`) and run through the same preprocessing as the
patterns to index (:func:`ebsdlib.data.preprocess.preprocess_batch`). Each pattern takes the
phase whose best-matching dictionary pattern correlates best with it, optionally after
kikuchipy's orientation refinement of each phase's best match.

- :mod:`.config` — :class:`DictionaryConfig`, every option of the method;
- :mod:`.geometry` — detector geometry and master-pattern parameters of a data set;
- :mod:`.dictionary` — :func:`build_dictionary` (cached on disk);
- :mod:`.match` — normalised cross-correlation, best match per phase;
- :mod:`.refine` — kikuchipy's ``refine_orientation`` of the best matches;
- :mod:`.proba` — from correlations to phase probabilities (temperature-scaled softmax);
- :mod:`.index` — :func:`index_patterns` streams a data set through the dictionary;
- :mod:`.run` — :func:`index_run` and :func:`index_scan` store the result like a training run;
- :mod:`.hough_config` — :class:`HoughConfig`, every option of Hough indexing;
- :mod:`.hough_families` — the band families of a phase, from its lattice centring;
- :mod:`.hough` — PyEBSDIndex's indexer for the data set's phases (conventions, per-phase scores);
- :mod:`.hough_run` — :func:`hough_run` and :func:`hough_scan`, stored like dictionary runs.

Hough indexing uses band geometry only (PyEBSDIndex's triplet voting); dictionary indexing
compares whole simulated patterns.

torch, kikuchipy, orix and pyebsdindex are imported only inside the functions that need them; the
package's attributes load on first use (``lazy_loader``; the public names are in ``__init__.pyi``).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
