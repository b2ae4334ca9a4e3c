"""Orientation refinement of each phase's best match with kikuchipy, then the phase on refined scores.

For every pattern and every phase, the best dictionary orientation is refined by
:meth:`kikuchipy.signals.EBSD.refine_orientation` (Nelder–Mead within a trust region of
± ``trust_region`` degrees about each Euler angle), which maximises the normalised
cross-correlation of the preprocessed pattern with patterns projected on the fly from that
phase's master pattern. kikuchipy projects the bare kinematical pattern (no detector blur, no
background correction), so its scores are not comparable with the dictionary's and are a poor
judge of the faint superlattice bands; the refined orientation of each phase is therefore
scored again exactly as dictionary templates are (:func:`ebsdlib.baseline.dictionary.render_templates`:
detector frame, same preprocessing, NCC), and the phases are compared on those scores.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from dataclasses import replace

import numpy as np

from ebsdlib.baseline.geometry import Geometry
from ebsdlib.baseline.index import IndexResult
from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import Phase

#: Patterns refined per call of kikuchipy (bounded memory).
REFINE_CHUNK = 2000


def refine_result(
    result: IndexResult,
    dataset: EBSDDataset,
    phases: tuple[Phase, ...],
    geometry: Geometry,
    preprocess: PreprocessConfig,
    *,
    trust_region: float = 2.0,
    progress: bool = False,
) -> IndexResult:
    """``result`` with every phase's match refined and scored again like a dictionary template.

    Parameters
    ----------
    result
        Dictionary matches (:func:`ebsdlib.baseline.index.index_patterns`).
    dataset
        The data set the patterns come from.
    phases
        The dictionary's phases, in the order of ``result``'s columns.
    geometry
        Detector geometry and master-pattern parameters of the dictionary.
    preprocess
        The preprocessing the patterns were matched with.
    trust_region
        Search half-width in degrees about each Euler angle.
    progress
        Show a tqdm bar over the chunks of patterns.
    """
    from tqdm.auto import tqdm

    from ebsdlib.baseline.dictionary import band_free_frame, render_templates
    from ebsdlib.baseline.match import normalise_rows
    from ebsdlib.data.preprocess import preprocess_batch
    from ebsdlib.simulate.master import load_masters

    masters, _ = load_masters(phases, **geometry.master_options())
    t0 = time.perf_counter()
    scores = np.empty_like(result.scores)
    rotations = np.empty_like(result.rotations)
    order = np.argsort(result.indices, kind="stable")
    background = dataset.static_background if preprocess.static_background else None
    static = band_free_frame(geometry, tuple(dataset.pattern_shape)) if preprocess.static_background else None
    chunks = range(0, len(order), REFINE_CHUNK)
    for start in tqdm(chunks, desc="refining orientations", unit="chunk", disable=not progress):
        rows = order[start : start + REFINE_CHUNK]
        processed = preprocess_batch(dataset.read(result.indices[rows]), preprocess, background)
        rows_ncc = normalise_rows(processed)
        patterns = processed[:, 0].numpy()
        for p, phase in enumerate(phases):
            _, q = refine_phase(patterns, result.rotations[rows, p], masters[phase.name], geometry, trust_region)
            templates = render_templates(
                masters[phase.name], q, geometry, tuple(dataset.pattern_shape), preprocess, static
            )
            scores[rows, p] = (rows_ncc * templates).sum(dim=1).numpy()
            rotations[rows, p] = q
    return replace(result, scores=scores, rotations=rotations, refined=True, refine_seconds=time.perf_counter() - t0)


def refine_phase(
    patterns: np.ndarray, quaternions: np.ndarray, master, geometry: Geometry, trust_region: float
) -> tuple[np.ndarray, np.ndarray]:
    """Refine ``(n, 4)`` starting orientations of one phase against ``(n, S, S)`` processed patterns.

    Returns kikuchipy's refined NCC ``(n,)`` and the refined orientations ``(n, 4)``.
    """
    from kikuchipy.signals import EBSD
    from orix.crystal_map import CrystalMap, PhaseList
    from orix.quaternion import Rotation

    if len(patterns) == 0:
        return np.empty(0, np.float32), np.empty((0, 4))
    signal = EBSD(np.asarray(patterns, dtype=np.float32))
    xmap = CrystalMap(rotations=Rotation(np.asarray(quaternions, dtype=np.float64)), phase_list=PhaseList(master.phase))
    detector = geometry.detector.kikuchipy_detector(patterns.shape[1:])
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        out = signal.refine_orientation(
            xmap,
            detector,
            master,
            energy=geometry.detector.voltage,
            method="minimize",
            method_kwargs={"method": "Nelder-Mead"},
            trust_region=[trust_region] * 3,
            rtol=1e-4,
        )
    return np.asarray(out.scores, dtype=np.float32).reshape(-1), np.asarray(out.rotations.data).reshape(-1, 4)
