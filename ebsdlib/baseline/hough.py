"""Hough/Radon indexing with PyEBSDIndex: band families, the indexer, its conventions, per-phase scores.

PyEBSDIndex (US Naval Research Laboratory; Rowenhorst, Callahan and Ånes, J. Appl. Cryst. 57
(2024) 3–19) finds the ``n_bands`` strongest bands of each pattern in a Radon transform, turns
them into plane normals with the detector geometry, and indexes them by triplet voting against
the interplanar angles of each candidate phase's band families. Only band *geometry* enters:
neither band intensity (the structure factor) nor band width (the Bragg angle, so the lattice
parameter) is used to choose a phase.

Band families
    Those the phase's lattice centring allows and that are bright enough to be detected
    (kinematical ``|F|²`` ≥ ``HoughConfig.min_band_intensity`` of the strongest,
    :mod:`ebsdlib.baseline.hough_families`): fcc {111} {200} {220} {311}, PyEBSDIndex's own
    list, and the same for L1₂ Ni₃Al and Ni₃Fe, whose superlattice families are 1 % and 0.02 %
    of {111}. Phases with the same families (and Laue class) are one PyEBSDIndex phase: indexed
    once, their solutions and scores are the same for every pattern, and the run records them
    as a group band geometry cannot separate (``summary()["same_bands"]``).

Conventions (pinned by ``tests/baseline/test_hough.py``)
    The indexer is made with ``vendor="KIKUCHIPY"``, as kikuchipy's own wrapper
    (``EBSDDetector.get_indexer``) does: the pattern centre is then read in the Bruker
    convention — the project's (:class:`~ebsdlib.simulate.detector.DetectorModel`) — with the
    sample tilt and the camera tilt (``camElev``), and the quaternions come back in
    kikuchipy's sample frame, the one orix ``Orientation`` and the simulator's true
    orientations use. ``vendor="BRUKER"`` reads the same pattern centre but returns
    orientations in a sample frame turned 90° about the surface normal: in orix,
    ``Rotation(q_kikuchipy) == Rotation(q_bruker) * Rotation.from_axes_angles((0, 0, 1), -90°)``
    (a change of sample frame, not an active/passive inversion). Compared with the true
    orientations as they are, that gives a median of about 40°, the naive comparison the
    physics notes report.

Phase scores
    For every candidate phase ``p`` PyEBSDIndex reports a fit ``f_p`` (mean angular deviation of
    the matched bands, degrees) and the number of matched bands ``m_p``; it picks the phase with
    the largest ``m_p · (3° − f_p)``. The score here is that criterion over its ideal,
    ``s_p = m_p · (3° − f_p) / (3° · n_bands)`` (1: every band matched exactly; 0: no
    solution), so the arg-max is PyEBSDIndex's own choice (ties go to the first phase of the
    table). Probabilities are ``softmax(s / T)`` (:func:`ebsdlib.baseline.proba.scores_to_proba`)
    with a temperature fitted on training patterns or given.

Measured with every allowed family (``min_band_intensity=0``, the lists before 2026-12-02; 2
busy CPU cores; ``simulate --what dataset --n-per-phase 300``, all 900 dynamical 64×64 patterns
at the default dose)
    Phase choice: accuracy 0.318 (95 % CI 0.289–0.349; chance 1/3), Ni/Ni₃Fe pair accuracy 0.503,
    confusion (rows true Ni, Ni₃Al, Ni₃Fe) ``[[219, 81, 0], [233, 67, 0], [216, 84, 0]]``: Ni₃Al and
    Ni₃Fe score the same on every pattern (ties go to Ni₃Al) and tie with Ni on a third. The fitted
    temperature runs to its bound (≈ 1): the scores say next to nothing about the phase.
    Orientations of the true phase's solution: median 1.37° (Ni 1.17°), 0.22° when every pattern
    has the mean pattern centre (the simulator spreads it by σ 0.01). The larger L1₂ family list
    costs robustness: solved as Ni₃Al or Ni₃Fe, 29 % of the patterns are more than 5° off (as Ni,
    0.1 %); at 48×48 pixels the L1₂ median error is about 40°. About 210 patterns/s on a 64×64
    scan (``bench speed``, after the warm-up round).

Measured with the bright families (the default; the demo's Hough run, ``demo --only hough``, the
same 900 test patterns)
    Accuracy 1/3 (95 % CI 0.304–0.366): the three phases tie on every pattern and every pattern is
    called Ni, the first of the table, with probabilities 1/3 each (ECE 0.000). Orientations of
    the solution: median 1.10°, 90th percentile 2.06° (the spurious-band failures are gone).
    kikuchipy's real 3×3 Ni scan: 9 of 9 Ni — by the tie, not by recognising Ni.

One process: PyEBSDIndex's single-process indexer (no ray, no OpenCL), its numba kernels using
numba's threads. The first call compiles them (minutes on two cores; cached on disk by numba
under ``~/.pyebsdindex``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ebsdlib.baseline.hough_config import HoughConfig
from ebsdlib.baseline.hough_families import band_families, check_hough_phase
from ebsdlib.baseline.index import IndexResult
from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import Phase
from ebsdlib.simulate.detector import DetectorModel

#: PyEBSDIndex's phase criterion: ``nmatch · (FIT_CEILING − fit)``, fit in degrees.
FIT_CEILING = 3.0


@contextmanager
def keeping_numba_cache_dir() -> Iterator[None]:
    """Run PyEBSDIndex's code with ``$NUMBA_CACHE_DIR`` left as it was.

    PyEBSDIndex 0.3.10's modules set ``os.environ["NUMBA_CACHE_DIR"]`` to
    ``~/.pyebsdindex/numbacache`` when they are imported. numba in this process reads its cache
    folder once, at its own import (done here first, so that folder stays this environment's),
    but every process started afterwards — a training job launched from the dashboard,
    torchrun's workers — would inherit the variable and compile cold into a second cache beside
    the one the environment's other processes share.
    """
    import numba  # noqa: F401  (reads NUMBA_CACHE_DIR before PyEBSDIndex changes it)

    before = os.environ.get("NUMBA_CACHE_DIR")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("NUMBA_CACHE_DIR", None)
        else:
            os.environ["NUMBA_CACHE_DIR"] = before


@dataclass
class HoughIndexer:
    """A PyEBSDIndex indexer for some phases, one detector and one pattern shape.

    Attributes
    ----------
    indexer
        The ``pyebsdindex.ebsd_index.EBSDIndexer``.
    phases
        The candidate phases, in the order of the scores.
    families
        Per phase, the band families PyEBSDIndex keeps (parallel ones removed).
    detector, pattern_shape, config
        What it was made for.
    library_of
        Per phase, its PyEBSDIndex phase (column of ``index_pats``' output): phases with the same
        band families and Laue class share one and are indexed once.
    """

    indexer: object
    phases: tuple[Phase, ...]
    families: list[list[list[int]]]
    detector: DetectorModel
    pattern_shape: tuple[int, int]
    config: HoughConfig
    library_of: tuple[int, ...]

    def same_bands(self) -> list[list[str]]:
        """Groups (two phases or more) that share one PyEBSDIndex phase: the same band families in
        the same Laue class, so the same solution and score for every pattern — Hough indexing cannot
        choose between them (ties go to the first of the phase table)."""
        groups: dict[int, list[str]] = {}
        for phase, library in zip(self.phases, self.library_of, strict=True):
            groups.setdefault(library, []).append(phase.name)
        return [g for g in groups.values() if len(g) > 1]

    def summary(self) -> dict:
        """What ``metrics.json`` records of the indexer."""
        import numba

        with keeping_numba_cache_dir():
            import pyebsdindex

        return {
            "pyebsdindex": pyebsdindex.__version__,
            "vendor": "KIKUCHIPY",
            "families": {p.name: fam for p, fam in zip(self.phases, self.families, strict=True)},
            "min_band_intensity": float(self.config.min_band_intensity),
            "same_bands": self.same_bands(),
            "processes": 1,
            "numba_threads": int(numba.get_num_threads()),
        }


def build_indexer(
    phases: Sequence[Phase], detector: DetectorModel, pattern_shape: tuple[int, int], config: HoughConfig
) -> HoughIndexer:
    """A PyEBSDIndex indexer for ``phases`` seen through ``detector`` at ``pattern_shape``.

    Every phase is checked first (:func:`check_hough_phase`), so a bad phase is refused before
    anything is built. Every candidate phase is indexed for every pattern (no early exit).
    """
    for p in phases:
        check_hough_phase(p)
    with keeping_numba_cache_dir():
        from pyebsdindex.ebsd_index import EBSDIndexer
        from pyebsdindex.tripletvote import addphase

    libraries, keys, library_of, families = [], [], [], []
    for p in phases:
        lib = addphase(
            phasename=p.name,
            spacegroup=int(p.space_group),
            latticeparameter=[float(p.lattice_a)] * 3 + [90.0, 90.0, 90.0],
            polefamilies=np.array(band_families(p, config.max_family_index, config.min_band_intensity)),
        )
        lib.angTol = float(config.angle_tolerance)
        families.append(lib.polefamilies.tolist())
        # a cubic phase's interplanar angles do not depend on its lattice parameter: the same
        # families in the same Laue class (m-3 below space group 207, m-3m from it) vote the same
        key = (tuple(map(tuple, families[-1])), int(p.space_group) >= 207)
        if key not in keys:
            keys.append(key)
            libraries.append(lib)
        library_of.append(keys.index(key))
    indexer = EBSDIndexer(
        phaselist=libraries,
        vendor="KIKUCHIPY",
        PC=np.asarray(detector.pc, dtype=np.float64),
        sampleTilt=float(detector.sample_tilt),
        camElev=float(detector.camera_tilt),
        nRho=config.n_rho,
        nTheta=config.n_theta,
        tSigma=config.t_sigma,
        rSigma=config.r_sigma,
        rhoMaskFrac=config.rho_mask_fraction,
        nBands=config.n_bands,
        patDim=tuple(int(s) for s in pattern_shape),
        nband_earlyexit=config.n_bands + 1,  # every phase is tried on every pattern
    )
    return HoughIndexer(indexer, tuple(phases), families, detector, tuple(pattern_shape), config, tuple(library_of))


@dataclass(frozen=True)
class HoughResult:
    """PyEBSDIndex's solution for every candidate phase of each indexed pattern.

    Attributes
    ----------
    indices
        ``(n,)`` pattern indices in the data set.
    fit
        ``(n, P)`` PyEBSDIndex's fit of each phase (degrees; 180 without a solution).
    nmatch
        ``(n, P)`` bands matched by each phase (0 without a solution).
    rotations
        ``(n, P, 4)`` orientation of each phase's solution (orix convention; identity without one).
    seconds
        Wall time of reading, background correction and indexing.
    n_bands
        Bands detected per pattern.
    """

    indices: np.ndarray
    fit: np.ndarray
    nmatch: np.ndarray
    rotations: np.ndarray
    seconds: float
    n_bands: int

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def scores(self) -> np.ndarray:
        """``(n, P)`` PyEBSDIndex's phase criterion over its ideal (see the module docstring)."""
        return (self.nmatch * (FIT_CEILING - self.fit) / (FIT_CEILING * self.n_bands)).astype(np.float32)

    @property
    def indexed(self) -> np.ndarray:
        """``(n, P)`` whether each phase found a solution (three bands matched or more)."""
        return self.nmatch >= 3

    @property
    def patterns_per_second(self) -> float:
        return len(self) / self.seconds if self.seconds > 0 else float("nan")

    def as_index_result(self) -> IndexResult:
        """The same solution as dictionary indexing's result type (scores, rotations, time)."""
        return IndexResult(self.indices, self.scores, self.rotations, self.seconds)


def to_orix_quaternions(quat: np.ndarray, indexed: np.ndarray) -> np.ndarray:
    """PyEBSDIndex's ``vendor="KIKUCHIPY"`` quaternions as the project stores orientations.

    They already are orix's convention (see the module docstring); this normalises them, puts
    them in the hemisphere ``a ≥ 0`` and gives patterns without a solution the identity.
    """
    q = np.asarray(quat, dtype=np.float64).copy()
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    ok = np.asarray(indexed, bool) & (norm[..., 0] > 0)
    q[ok] /= norm[ok]
    q[~ok] = (1.0, 0.0, 0.0, 0.0)
    q[q[..., 0] < 0] *= -1
    return q


def hough_patterns(
    dataset: EBSDDataset,
    indexer: HoughIndexer,
    indices: np.ndarray | None,
    preprocess: PreprocessConfig,
    *,
    batch_size: int = 512,
    progress: bool = False,
) -> HoughResult:
    """Index the patterns at ``indices`` (``None``: all) with every candidate phase.

    Batches are read in file order by a background thread, background-corrected with
    ``preprocess`` (:func:`~ebsdlib.data.preprocess.preprocess_batch`, on the CPU) and indexed
    by PyEBSDIndex; output row ``i`` belongs to ``indices[i]``.
    """
    from tqdm.auto import tqdm

    from ebsdlib.data.preprocess import preprocess_batch
    from ebsdlib.train.data import prefetch

    if tuple(dataset.pattern_shape) != tuple(indexer.pattern_shape):
        raise ValueError(
            f"{dataset.path}: patterns are {dataset.pattern_shape[0]}×{dataset.pattern_shape[1]} but the Hough "
            f"indexer was made for {indexer.pattern_shape[0]}×{indexer.pattern_shape[1]}; make one for this data set"
        )
    idx = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=np.int64)
    order = np.argsort(idx, kind="stable")
    n, n_phases = len(idx), len(indexer.phases)
    columns = list(indexer.library_of)  # each phase's PyEBSDIndex phase (shared ones indexed once)
    fit = np.full((n, n_phases), 180.0, dtype=np.float32)
    nmatch = np.zeros((n, n_phases), dtype=np.int32)
    rotations = np.empty((n, n_phases, 4), dtype=np.float64)
    rotations[:] = (1.0, 0.0, 0.0, 0.0)
    bg = dataset.static_background if preprocess.static_background else None
    t0 = time.perf_counter()
    done = 0
    with tqdm(total=n, desc="Hough indexing", unit="pattern", disable=not progress) as bar:
        for _, raw in prefetch(dataset.iter_batches(batch_size, idx[order])):
            rows = order[done : done + len(raw)]
            x = preprocess_batch(np.ascontiguousarray(raw), preprocess, bg)[:, 0].numpy()
            with keeping_numba_cache_dir():  # it may import more of PyEBSDIndex
                data, *_ = indexer.indexer.index_pats(patsin=x, chunksize=len(x))
            solved = data["nmatch"][columns].T >= 3  # (batch, P)
            fit[rows] = np.where(solved, data["fit"][columns].T, 180.0)
            nmatch[rows] = np.where(solved, data["nmatch"][columns].T, 0)
            rotations[rows] = to_orix_quaternions(data["quat"][columns].transpose(1, 0, 2), solved)
            done += len(raw)
            bar.update(len(raw))
    return HoughResult(idx, fit, nmatch, rotations, time.perf_counter() - t0, indexer.config.n_bands)


def hough_preprocess(config: HoughConfig, dataset_preprocessing: dict | None) -> PreprocessConfig:
    """The preprocessing before the Radon transform: the config's, else the data set's background
    corrections at the stored pattern size (no resize: the pattern centre is in its pixels) and
    without a circular mask (PyEBSDIndex masks the Radon transform itself)."""
    from dataclasses import replace

    if config.preprocess is not None:
        return config.preprocess
    return replace(PreprocessConfig.from_dict(dataset_preprocessing), size=None, circular_mask=False)
