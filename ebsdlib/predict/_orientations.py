"""Where a network phase map's orientations come from: the scan file, Hough or dictionary indexing, or none.

A classifier predicts phases, not orientations; a phase map that MTEX or orix opens needs both.
:func:`scan_orientations` gives every pattern of a scan an orientation from one source:

``file``
    The orientations the data set stores (``/orientations``, :mod:`ebsdlib.data.format`). For a
    scan the project simulated these are the simulator's **true** orientations: the map then
    shows exactly the orientations the patterns were made with, not measured ones (the map's
    ``meta["orientations"]`` says so). Vendor scans imported through kikuchipy do not carry the
    vendor's own indexing into the data set, so they have none.
``hough``
    Hough/Radon indexing with PyEBSDIndex (:mod:`ebsdlib.baseline.hough`, its conventions
    pinned there) with the network's phase table: PyEBSDIndex solves every candidate phase for
    every pattern, and each point takes the solution of the phase **the network predicted**.
    A point's orientation is good when that phase matched three bands or more; its fit (mean
    angular deviation of the matched bands, degrees) and matched bands are kept. This is the
    *hybrid map*: network phase, Hough orientation, and "not indexed" only where the calibrated
    confidence is below the threshold and the Hough fit failed
    (:meth:`ebsdlib.phasemap.PhaseMap.indexed`). One process (PyEBSDIndex's numba kernels on
    numba's threads); the first call of a process compiles them.
``dictionary``
    Dictionary indexing (:mod:`ebsdlib.baseline.run`: the dictionary, built or read from its
    cache, and the matching) with the network's phases; each point takes the best match of the
    predicted phase, its normalised cross-correlation as the fit.
``none``
    No orientations: identity in the exports.
``auto`` (the default)
    ``file`` when the data set stores orientations, else ``hough`` when every phase of the
    network has a band list (a cubic space group and a lattice parameter) and the data set
    records its detector geometry (a vendor scan, a simulation), else ``none``: without the
    geometry a Hough orientation is a guess, so it is made only when asked for.

Measured (2026-12-02, 2 shared CPU cores, a simulated 64×64 scan of 64×64 dynamical patterns,
an untrained ``efficientnet_b0``, after a warm-up call): network alone (HDF5 → map) about 470
patterns/s, the hybrid map about 120 patterns/s, its Hough pass about 175 patterns/s in one
process — Hough sets the pace. The untrained network called every pattern Ni₃Fe, so every point
was solved with the L1₂ band list: all found a solution, median error 0.54° against the true
orientations, but 30 % more than 5° off (:mod:`ebsdlib.baseline.hough` measures 29 % for L1₂,
0.1 % for the fcc list). The predicted phase decides the band list and so the orientation's
robustness; ``orientation_fit`` and ``orientation_bands`` let a user filter the points.

Both indexers see the scan through its own detector when its file records one (simulation
record or vendor file, :func:`ebsdlib.baseline.geometry.geometry_for`), else through the
simulator's default detector, with a warning that names it. Every source is checked by
:func:`resolve_orientation_source` before a pattern is classified, so a bad choice fails before
anything is computed or written.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ebsdlib.data.format import EBSDDataset
from ebsdlib.phases import Phase

#: What ``predict --orientations`` takes.
OrientationRequest = Literal["auto", "file", "hough", "dictionary", "none"]
ORIENTATION_REQUESTS = ("auto", "file", "hough", "dictionary", "none")


@dataclass(frozen=True)
class ScanOrientations:
    """One orientation per pattern of a scan, in file order, and where it comes from.

    Attributes
    ----------
    source
        ``"file"``, ``"hough"``, ``"dictionary"`` or ``"none"``.
    rotations
        ``(n, 4)`` unit quaternions (orix convention; identity where ``ok`` is False), or
        ``None`` for ``"none"``.
    ok
        ``(n,)`` bool: the pattern has an orientation (a Hough solution of its phase, a finite
        stored one), or ``None``.
    fit
        ``(n,)`` float32: Hough's mean angular deviation (degrees, NaN without a solution) or
        the dictionary's cross-correlation, or ``None``.
    bands
        ``(n,)`` int16 bands Hough matched (0 without a solution), or ``None``.
    seconds
        Wall time of the indexing (0 for ``file`` and ``none``).
    detail
        What the phase map's ``meta`` records: a description, the geometry, patterns/s.
    """

    source: str
    rotations: np.ndarray | None = None
    ok: np.ndarray | None = None
    fit: np.ndarray | None = None
    bands: np.ndarray | None = None
    seconds: float = 0.0
    detail: dict = field(default_factory=dict)

    def save_kwargs(self) -> dict:
        """Keywords of :func:`ebsdlib.phasemap.store.save_scan_phasemap` for these orientations."""
        return {
            "orientations": self.rotations,
            "orientation_source": self.source,
            "orientation_ok": self.ok,
            "orientation_fit": self.fit,
            "orientation_bands": self.bands,
        }


def stored_orientations(dataset: EBSDDataset) -> np.ndarray | None:
    """The data set's ``/orientations`` when it has any finite one, else ``None``."""
    q = dataset.optional("orientations")
    if q is None or not np.isfinite(q).all(axis=1).any():
        return None
    return q


def resolve_orientation_source(request: str, dataset: EBSDDataset, phases: Sequence[Phase]) -> str:
    """The source :func:`scan_orientations` will use for ``request``, checked against the data.

    Parameters
    ----------
    request
        One of :data:`ORIENTATION_REQUESTS`.
    dataset
        The scan (its stored orientations are looked for).
    phases
        The network's phase table (Hough and dictionary indexing need each phase's
        crystallography).

    Raises
    ------
    ValueError
        For an unknown request, ``"file"`` on a data set without orientations, or
        ``"hough"``/``"dictionary"`` with a phase that lacks what the indexer needs; the
        message names the file or the phase and the fix.
    """
    from ebsdlib.baseline.geometry import recorded_geometry
    from ebsdlib.baseline.hough_families import check_hough_phase

    if request not in ORIENTATION_REQUESTS:
        raise ValueError(f"orientations {request!r} is not allowed; use one of {', '.join(ORIENTATION_REQUESTS)}")
    if request == "auto":
        if stored_orientations(dataset) is not None:
            return "file"
        try:
            for p in phases:
                check_hough_phase(p)
            known_geometry = recorded_geometry(dataset) is not None
        except ValueError:  # a phase without band list, or an unreadable geometry record
            return "none"
        return "hough" if known_geometry else "none"
    if request == "file" and stored_orientations(dataset) is None:
        raise ValueError(
            f"{dataset.path}: stores no orientations ('/orientations' is "
            f"{'absent' if dataset.optional('orientations') is None else 'all NaN'}), so --orientations file has "
            "nothing to read; use --orientations hough (Radon indexing of the patterns), dictionary, or none"
        )
    if request == "hough":
        for p in phases:
            try:
                check_hough_phase(p, str(dataset.path))
            except ValueError as e:
                raise ValueError(
                    f"--orientations hough: {e}; or map without Hough orientations (--orientations none or file)"
                ) from None
    if request == "dictionary":
        for p in phases:
            if not p.space_group or not p.lattice_a or p.lattice_a <= 0 or not p.atoms:
                raise ValueError(
                    f"--orientations dictionary: phase {p.name!r} of the run has space group {p.space_group!r}, "
                    f"lattice parameter {p.lattice_a!r} Å and {len(p.atoms)} atoms, so no master pattern can be "
                    "simulated for it; train on a data set whose phase table has its crystallography, or use "
                    "--orientations hough, file or none"
                )
    return request


def scan_orientations(
    source: str,
    dataset: EBSDDataset,
    phases: Sequence[Phase],
    pred: np.ndarray,
    *,
    options: object = None,
    progress: bool = False,
) -> ScanOrientations:
    """An orientation for every pattern of ``dataset`` from ``source`` (see the module docstring).

    Parameters
    ----------
    source
        A source :func:`resolve_orientation_source` returned.
    dataset
        The scan, opened.
    phases
        The network's phase table; ``pred`` indexes it.
    pred
        ``(n,)`` the network's predicted phase of every pattern, in file order.
    options
        A :class:`~ebsdlib.baseline.hough_config.HoughConfig` for ``"hough"`` or a
        :class:`~ebsdlib.baseline.config.DictionaryConfig` for ``"dictionary"``; ``None`` takes
        their defaults.
    progress
        Show tqdm bars.
    """
    pred = np.asarray(pred, dtype=np.int64)
    if len(pred) != len(dataset):
        raise ValueError(f"pred has {len(pred)} entries but {dataset.path} holds {len(dataset)} patterns")
    if source == "none":
        return ScanOrientations("none", detail={"orientations": "none (identity in the exports)"})
    if source == "file":
        q = stored_orientations(dataset)
        if q is None:
            resolve_orientation_source("file", dataset, phases)  # raises with the message
        q = np.asarray(q, dtype=np.float64)
        ok = np.isfinite(q).all(axis=1) & (np.linalg.norm(np.nan_to_num(q), axis=1) > 0)
        simulated = dataset.provenance.get("source") == "simulation"
        what = "the simulator's true orientations stored in the file" if simulated else "stored in the file"
        return ScanOrientations("file", _unit(q, ok), ok, detail={"orientations": what})
    if source == "hough":
        return hough_orientations(dataset, phases, pred, options, progress)
    if source == "dictionary":
        return dictionary_orientations(dataset, phases, pred, options, progress)
    raise ValueError(f"orientation source {source!r} is not allowed; use 'file', 'hough', 'dictionary' or 'none'")


def hough_orientations(
    dataset: EBSDDataset, phases: Sequence[Phase], pred: np.ndarray, config: object = None, progress: bool = False
) -> ScanOrientations:
    """Hough/Radon orientations of every pattern, each for its predicted phase (PyEBSDIndex).

    Parameters
    ----------
    dataset
        The scan.
    phases
        The network's phases, in the order of ``pred``.
    pred
        ``(n,)`` predicted phase per pattern.
    config
        :class:`~ebsdlib.baseline.hough_config.HoughConfig`; defaults when ``None``.
    progress
        Show a tqdm bar.
    """
    from ebsdlib.baseline.geometry import geometry_for
    from ebsdlib.baseline.hough import build_indexer, hough_patterns, hough_preprocess
    from ebsdlib.baseline.hough_config import HoughConfig
    from ebsdlib.baseline.hough_run import geometry_options

    config = config or HoughConfig()
    if not isinstance(config, HoughConfig):
        raise TypeError(f"options for Hough orientations must be a HoughConfig, not {type(config).__name__}")
    geometry = geometry_for(dataset, geometry_options(config))
    _warn_default_geometry(dataset, geometry, "Hough")
    indexer = build_indexer(tuple(phases), geometry.detector, dataset.pattern_shape, config)
    t0 = time.perf_counter()
    result = hough_patterns(
        dataset,
        indexer,
        None,
        hough_preprocess(config, dataset.preprocessing),
        batch_size=config.batch_size,
        progress=progress,
    )
    seconds = time.perf_counter() - t0
    rows = np.arange(len(result))
    ok = result.indexed[rows, pred]
    fit = np.where(ok, result.fit[rows, pred], np.nan).astype(np.float32)
    return ScanOrientations(
        "hough",
        result.rotations[rows, pred],
        ok,
        fit,
        result.nmatch[rows, pred].astype(np.int16),
        seconds,
        {
            "orientations": "Hough solution (PyEBSDIndex, 1 process) of the network's predicted phase",
            "geometry": geometry.to_dict(),
            "hough": indexer.summary(),
            "orientation_patterns_per_second": len(result) / seconds if seconds > 0 else None,
            "hough_solved": float(ok.mean()) if len(ok) else None,
        },
    )


def dictionary_orientations(
    dataset: EBSDDataset, phases: Sequence[Phase], pred: np.ndarray, config: object = None, progress: bool = False
) -> ScanOrientations:
    """Dictionary-indexing orientations of every pattern, each the best match of its predicted phase.

    Parameters
    ----------
    dataset
        The scan.
    phases
        The network's phases, in the order of ``pred``.
    pred
        ``(n,)`` predicted phase per pattern.
    config
        :class:`~ebsdlib.baseline.config.DictionaryConfig`; defaults when ``None``.
    progress
        Show tqdm bars.
    """
    from ebsdlib.baseline.config import DictionaryConfig
    from ebsdlib.baseline.geometry import geometry_for
    from ebsdlib.baseline.run import ensure_dictionary, index_split
    from ebsdlib.data.preprocess import PreprocessConfig

    config = config or DictionaryConfig()
    if not isinstance(config, DictionaryConfig):
        raise TypeError(f"options for dictionary orientations must be a DictionaryConfig, not {type(config).__name__}")
    geometry = geometry_for(dataset, config)
    _warn_default_geometry(dataset, geometry, "dictionary")
    preprocess = config.preprocess or PreprocessConfig.from_dict(dataset.preprocessing)
    t0 = time.perf_counter()
    dictionary = ensure_dictionary(None, tuple(phases), geometry, dataset.pattern_shape, preprocess, config, progress)
    result = index_split(dataset, dictionary, geometry, preprocess, config, None, progress)
    seconds = time.perf_counter() - t0
    rows = np.arange(len(result))
    q = result.rotations[rows, pred].astype(np.float64)
    ok = np.isfinite(q).all(axis=1)
    return ScanOrientations(
        "dictionary",
        _unit(q, ok),
        ok,
        result.scores[rows, pred].astype(np.float32),
        None,
        seconds,
        {
            "orientations": f"best dictionary match ({config.resolution:g}°) of the network's predicted phase",
            "geometry": geometry.to_dict(),
            "orientation_patterns_per_second": len(result) / seconds if seconds > 0 else None,
        },
    )


def _unit(q: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Quaternions normalised where ``ok``, identity elsewhere."""
    out = np.zeros((len(q), 4), dtype=np.float64)
    out[:, 0] = 1.0
    out[ok] = q[ok] / np.linalg.norm(q[ok], axis=1, keepdims=True)
    return out


def _warn_default_geometry(dataset: EBSDDataset, geometry, method: str) -> None:
    if geometry.source.startswith("simulator defaults"):
        d = geometry.detector
        warnings.warn(
            f"{dataset.path}: records no detector geometry, so {method} orientations use the simulator's "
            f"default detector (pattern centre {tuple(d.pc)}, sample tilt {d.sample_tilt}°, camera tilt "
            f"{d.camera_tilt}°); orientations are only as right as that guess",
            UserWarning,
            stacklevel=3,
        )
