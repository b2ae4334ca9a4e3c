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

With ``refine_pc`` the pattern centre is refined together with the orientation
(:meth:`kikuchipy.signals.EBSD.refine_orientation_projection_center`, Nelder–Mead within
± ``trust_region`` degrees and ± ``pc_trust_region`` in each PC coordinate), per pattern and
phase, each pattern starting at its own PC where the vendor file stores a per-point map
(:func:`ebsdlib.baseline.geometry.refinement_start_pcs`; the dictionary itself stays at the
mean PC), else at the dictionary's. kikuchipy compares the pattern with a bare projection,
so the patterns it refines against always have the static background divided out (the data
set's, :attr:`~ebsdlib.data.format.EBSDDataset.static_background`), even where the matching
skips that step. Measured on 32×32 kinematical patterns (Ni, six orientations, start 0.017
from the true PC): with only the dynamic background removed kikuchipy's NCC is about 0.3 and
the refined PC ends a median 0.021 from the true one (0.020 even when started at it); with
the static background (the patterns' mean) divided out the NCC is about 0.85 and the median
error 0.003. Each refined match is then scored as a template rendered at its own refined PC
(:func:`templates_at_pcs`: the dictionary's rendering with one PC per pattern), and the
phase is the one with the best of those scores. :func:`refinement_metrics` summarises the
refined PCs for the run.

With ``fit`` each phase's refined match is then fitted to the pattern, PC and orientation
together, by gradient ascent on the correlation with the simulator's own forward model
(:func:`ebsdlib.simulate.fit.fit_patterns`: detector frame, blur and the same preprocessing,
so nothing is lost to a bare projection), and the phase is the one with the best fitted score.
This is what reads Ni against Ni₃Fe: scored at a PC off by 0.005 of the detector the pair is
at chance, fitted per phase the PC comes back from the pattern (the physical limit's fitted
curves, :func:`ebsdlib.simulate.limit.physical_limit`).
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.baseline.geometry import Geometry, refinement_start_pcs, true_pcs
from ebsdlib.baseline.index import IndexResult
from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import Phase

if TYPE_CHECKING:
    import torch

#: Patterns refined per call of kikuchipy (bounded memory).
REFINE_CHUNK = 2000


@dataclass(frozen=True)
class PCRefinedResult(IndexResult):
    """An :class:`~ebsdlib.baseline.index.IndexResult` of orientation and PC refinement.

    Attributes
    ----------
    pcs
        ``(n, P, 3)`` refined PC (Bruker) of each phase's match.
    start_pcs
        ``(n, 3)`` PC each pattern's refinement started from.
    start_source
        Where the starting PCs come from.
    """

    pcs: np.ndarray | None = None
    start_pcs: np.ndarray | None = None
    start_source: str = ""

    def best_pcs(self) -> np.ndarray:
        """``(n, 3)`` refined PC of the predicted phase's match."""
        return self.pcs[np.arange(len(self)), self.pred]

    def subset(self, rows: np.ndarray) -> PCRefinedResult:
        """The rows ``rows`` only (times scaled by the fraction kept)."""
        return replace(IndexResult.subset(self, rows), pcs=self.pcs[rows], start_pcs=self.start_pcs[rows])


def refine_result(
    result: IndexResult,
    dataset: EBSDDataset,
    phases: tuple[Phase, ...],
    geometry: Geometry,
    preprocess: PreprocessConfig,
    *,
    trust_region: float = 2.0,
    refine_pc: bool = False,
    pc_trust_region: float = 0.02,
    fit: bool = False,
    device: str = "cpu",
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
    refine_pc
        Refine each match's PC with its orientation; the result is then a
        :class:`PCRefinedResult`.
    pc_trust_region
        Search half-width about the starting PC in each coordinate (with ``refine_pc``).
    fit
        Then fit each phase's refined match, PC and orientation together, to the pattern
        (:func:`ebsdlib.simulate.fit.fit_patterns`, from the refined PC with ``refine_pc``, else
        from the start of PC refinement) and score it by the fitted correlation; the result is
        a :class:`PCRefinedResult`.
    device
        Where the fit runs (``"cpu"`` or ``"cuda"``).
    progress
        Show a tqdm bar over the chunks of patterns.

    Raises
    ------
    ValueError
        A trust region that is not a positive number (at most 15° and 0.2).
    """
    from tqdm.auto import tqdm

    from ebsdlib.baseline.dictionary import band_free_frame, render_templates
    from ebsdlib.baseline.match import normalise_rows
    from ebsdlib.data.preprocess import preprocess_batch
    from ebsdlib.simulate.fit import fit_patterns
    from ebsdlib.simulate.master import load_masters

    check_trust_regions(trust_region, pc_trust_region)
    masters, _ = load_masters(phases, **geometry.master_options())
    t0 = time.perf_counter()
    scores = np.empty_like(result.scores)
    rotations = np.empty_like(result.rotations)
    order = np.argsort(result.indices, kind="stable")
    background = dataset.static_background if preprocess.static_background else None
    static = band_free_frame(geometry, tuple(dataset.pattern_shape)) if preprocess.static_background else None
    if refine_pc or fit:
        start_pcs, start_source = refinement_start_pcs(dataset, result.indices, geometry)
        pcs = np.empty((*result.rotations.shape[:2], 3))
    if fit:
        from ebsdlib.simulate.torch_render import TorchRenderer

        renderer = TorchRenderer(masters, phases, geometry.detector, tuple(dataset.pattern_shape), device)
    chunks = range(0, len(order), REFINE_CHUNK)
    what = "orientations and PCs" if refine_pc else "orientations"
    what += " and fitting the patterns" if fit else ""
    for start in tqdm(chunks, desc=f"refining {what}", unit="chunk", disable=not progress):
        rows = order[start : start + REFINE_CHUNK]
        raw = dataset.read(result.indices[rows])
        processed = preprocess_batch(raw, preprocess, background)
        rows_ncc = None if fit else normalise_rows(processed)
        patterns = processed[:, 0].numpy()
        if refine_pc and not preprocess.static_background:
            patterns = preprocess_batch(raw, replace(preprocess, static_background=True), dataset.static_background)
            patterns = patterns[:, 0].numpy()
        for p, phase in enumerate(phases):
            if refine_pc:
                _, q, pc = refine_phase_pc(
                    patterns,
                    result.rotations[rows, p],
                    start_pcs[rows],
                    masters[phase.name],
                    geometry,
                    trust_region,
                    pc_trust_region,
                )
            else:
                _, q = refine_phase(patterns, result.rotations[rows, p], masters[phase.name], geometry, trust_region)
                pc = start_pcs[rows] if fit else None
            if fit:  # the fit scores each match itself
                fitted = fit_patterns(renderer, p, processed[:, 0], q, pc, preprocess=preprocess)
                scores[rows, p], q, pc = fitted.scores, fitted.quaternions, fitted.pcs
            else:
                if refine_pc:
                    templates = templates_at_pcs(
                        masters[phase.name], q, pc, geometry, dataset.pattern_shape, preprocess, static
                    )
                else:
                    templates = render_templates(
                        masters[phase.name], q, geometry, tuple(dataset.pattern_shape), preprocess, static
                    )
                scores[rows, p] = (rows_ncc * templates).sum(dim=1).numpy()
            rotations[rows, p] = q
            if refine_pc or fit:
                pcs[rows, p] = pc
    seconds = time.perf_counter() - t0
    if not (refine_pc or fit):
        return replace(result, scores=scores, rotations=rotations, refined=True, refine_seconds=seconds)
    return PCRefinedResult(
        **{f: getattr(result, f) for f in ("indices", "seconds")},
        scores=scores,
        rotations=rotations,
        refined=True,
        refine_seconds=seconds,
        pcs=pcs,
        start_pcs=start_pcs,
        start_source=start_source,
    )


def check_trust_regions(trust_region: float, pc_trust_region: float) -> None:
    """Refuse search half-widths that are not positive numbers (at most 15° and 0.2 of the detector)."""
    for name, value, top, unit in (
        ("trust_region", trust_region, 15.0, "degrees, e.g. 2"),
        ("pc_trust_region", pc_trust_region, 0.2, "fractions of the detector, e.g. 0.02"),
    ):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= top
        if not ok:
            raise ValueError(f"refinement {name}={value!r} is not allowed; give a number in (0, {top:g}] ({unit})")


def templates_at_pcs(
    master,
    quaternions: np.ndarray,
    pcs: np.ndarray,
    geometry: Geometry,
    shape: tuple[int, int],
    preprocess: PreprocessConfig,
    static_background: np.ndarray | None,
) -> torch.Tensor:
    """Templates ``(n, d)`` of one phase, pattern ``i`` at orientation ``quaternions[i]`` seen
    from PC ``pcs[i]``.

    The steps of :func:`~ebsdlib.baseline.dictionary.render_templates` (projection, the
    detector's noise-free frame, preprocessing), with one PC per pattern in the projection as
    the simulator does (:func:`ebsdlib.simulate.dataset.render_clean`: the PC moves the bands,
    the detector's background and ``static_background`` stay the dictionary's). That function
    takes one PC per call; once per pattern it costs about 58 ms a pattern at 32×32
    (kikuchipy's projection set-up, measured warm on one core) against about 2 ms a pattern
    here. A test pins the two equal at one PC.
    """
    import torch

    from ebsdlib.baseline.match import prepare
    from ebsdlib.simulate.detector import standardise
    from ebsdlib.simulate.project import project

    shape = (int(shape[0]), int(shape[1]))
    clean = project(master, quaternions, geometry.detector, shape, np.asarray(pcs, dtype=np.float64).reshape(-1, 3))
    frames = geometry.detector.expose(standardise(clean), 1.0, None)
    bg = None if static_background is None else torch.as_tensor(static_background)
    return prepare(torch.as_tensor(frames), preprocess, bg)


def refinement_metrics(result: IndexResult, dataset: EBSDDataset) -> dict:
    """What ``metrics.json`` records of PC refinement; ``{}`` for any other result.

    ``pc_refinement`` holds the start's source and mean, the refined PCs of the predicted
    phase's matches (``mean``, ``std`` per coordinate), and, where the true PC is known
    (:func:`ebsdlib.baseline.geometry.true_pcs`), ``error_before`` and ``error_after``: the
    median and mean Euclidean distance (fractions of the detector) of the starting and the
    refined PC from the true one, and the mean absolute error per coordinate.
    """
    if not isinstance(result, PCRefinedResult) or result.pcs is None:
        return {}
    refined = result.best_pcs()
    truth, truth_source = true_pcs(dataset)
    out = {
        "start_source": result.start_source,
        "start_mean": _vector(result.start_pcs.mean(axis=0)) if len(result) else None,
        "mean": _vector(refined.mean(axis=0)) if len(result) else None,
        "std": _vector(refined.std(axis=0)) if len(result) else None,
        "true_pc_source": truth_source,
        "error_before": None,
        "error_after": None,
        "n": len(result),
    }
    if truth is not None and len(result):
        true_rows = truth[result.indices]
        out["error_before"] = _pc_error(result.start_pcs, true_rows)
        out["error_after"] = _pc_error(refined, true_rows)
    return {"refined_pc": True, "pc_refinement": out}


def _pc_error(pcs: np.ndarray, truth: np.ndarray) -> dict:
    diff = np.asarray(pcs, dtype=np.float64) - truth
    dist = np.linalg.norm(diff, axis=1)
    return {"median": float(np.median(dist)), "mean": float(dist.mean()), "mean_abs_xyz": _vector(np.abs(diff).mean(0))}


def _vector(v: np.ndarray) -> list[float]:
    return [float(x) for x in v]


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


def refine_phase_pc(
    patterns: np.ndarray,
    quaternions: np.ndarray,
    start_pcs: np.ndarray,
    master,
    geometry: Geometry,
    trust_region: float,
    pc_trust_region: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refine ``(n, 4)`` orientations and ``(n, 3)`` starting PCs of one phase together.

    Returns kikuchipy's refined NCC ``(n,)``, the refined orientations ``(n, 4)`` and PCs ``(n, 3)``.
    """
    from kikuchipy.signals import EBSD
    from orix.crystal_map import CrystalMap, PhaseList
    from orix.quaternion import Rotation

    if len(patterns) == 0:
        return np.empty(0, np.float32), np.empty((0, 4)), np.empty((0, 3))
    signal = EBSD(np.asarray(patterns, dtype=np.float32))
    xmap = CrystalMap(rotations=Rotation(np.asarray(quaternions, dtype=np.float64)), phase_list=PhaseList(master.phase))
    detector = geometry.detector.kikuchipy_detector(patterns.shape[1:], np.asarray(start_pcs, dtype=np.float64))
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        out, refined_detector = signal.refine_orientation_projection_center(
            xmap,
            detector,
            master,
            energy=geometry.detector.voltage,
            method="minimize",
            method_kwargs={"method": "Nelder-Mead"},
            trust_region=[trust_region] * 3 + [pc_trust_region] * 3,
            rtol=1e-4,
        )
    pcs = np.broadcast_to(np.asarray(refined_detector.pc, dtype=np.float64).reshape(-1, 3), (len(patterns), 3))
    return (
        np.asarray(out.scores, dtype=np.float32).reshape(-1),
        np.asarray(out.rotations.data).reshape(-1, 4),
        np.array(pcs),
    )
