"""Dictionary indexing stored like a training run, so the dashboard shows it beside the networks.

:func:`index_run` writes ``artifacts/runs/<run_id>/`` with the layout of
:mod:`ebsdlib.runs`:

=======================  ==========================================================
``config.json``          ``method`` (``"dictionary"``, or ``"dictionary_refined"`` with
                         refinement: keys of :mod:`ebsdlib.methods`; no ``loss``),
                         ``model`` (e.g. ``"NCC dictionary 5°"``), ``data``, ``validation``
                         (``True`` when the reported split is ``val``), ``epochs: 0``,
                         ``preprocess``, ``dictionary`` (:class:`DictionaryConfig`),
                         ``geometry`` (:class:`~ebsdlib.baseline.geometry.Geometry`)
``status.json``          running → completed (or failed with the error)
``metrics.json``         :func:`ebsdlib.metrics.compute_metrics` of the reported split
                         with probabilities from :mod:`ebsdlib.baseline.proba`, plus
                         ``split``, ``method``, ``model``, ``phases``,
                         ``inference_seconds``, ``inference_patterns_per_second``,
                         ``temperature``, ``temperature_source``, ``dictionary`` (size, build
                         time), ``refined``, ``mean_best_ncc`` and, when the data set stores
                         true orientations, ``orientation_error_deg`` (median, symmetry-reduced)
``predictions.csv``      as for a network (:func:`ebsdlib.train.evaluate.write_predictions`)
``phasemaps/<scan>/``    :func:`index_scan`: the phase map of a scan
                         (:mod:`ebsdlib.phasemap.store`), orientations of the best match
=======================  ==========================================================

There are no checkpoints, embeddings or UMAP: nothing is learnt.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from ebsdlib.baseline._driver import (
    failing_run,
    finished_indexing_run,
    map_scans_and_finish,
    mark_running,
    new_indexing_run,
    reported_indices,
    scan_meta,
)
from ebsdlib.baseline.config import DEFAULT_TEMPERATURE, DictionaryConfig
from ebsdlib.baseline.dictionary import Dictionary
from ebsdlib.baseline.geometry import Geometry
from ebsdlib.baseline.index import IndexResult
from ebsdlib.data.fingerprint import data_entry
from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.io import write_json
from ebsdlib.methods import method_label, method_of_run
from ebsdlib.phases import Phase
from ebsdlib.runs import RunDir

#: The :mod:`ebsdlib.methods` keys of the runs :func:`index_run` makes.
DICTIONARY_METHODS = ("dictionary", "dictionary_refined", "dictionary_fitted")


def method_key(config: DictionaryConfig) -> str:
    """The run's ``method``: ``"dictionary_fitted"`` with the pattern fit, ``"dictionary_refined"``
    with refinement alone, else ``"dictionary"``."""
    if config.refine_fit:
        return DICTIONARY_METHODS[2]
    return DICTIONARY_METHODS[1] if config.refine else DICTIONARY_METHODS[0]


def is_dictionary_run(config: dict) -> bool:
    """Whether a run's ``config.json`` describes dictionary indexing (also as written before runs
    recorded their method, see :func:`ebsdlib.methods.method_of_run`); a config naming no known
    method is not."""
    try:
        return method_of_run(config).key in DICTIONARY_METHODS
    except ValueError:
        return False


def model_label(config: DictionaryConfig) -> str:
    """The ``model`` entry of the run: ``"NCC dictionary 5°"`` (``+ refinement``, or ``+ refinement of
    orientation and PC``)."""
    return f"NCC dictionary {config.resolution:g}°" + config.refinement_label


def index_run(
    data: str | Path,
    config: DictionaryConfig | None = None,
    *,
    split: Literal["val", "test"] = "test",
    scans: Sequence[str | Path] = (),
    name: str = "",
    run_id: str | None = None,
    root: str | Path | None = None,
    dictionary: Dictionary | None = None,
    progress: bool = True,
) -> RunDir:
    """Index a labelled data set's split by dictionary indexing and store it as a run.

    Parameters
    ----------
    data
        The labelled data set: project HDF5, or anything :func:`ebsdlib.data.load` reads.
    config
        Options of the method; defaults of :class:`DictionaryConfig` when ``None``.
    split
        The split reported (``"test"``, as networks trained on train+val; or ``"val"``).
    scans
        Scans to map into ``phasemaps/<scan>/`` with the same dictionary.
    name
        Free-text name of the run.
    run_id
        Folder name under ``artifacts/runs``; a fresh id from the time when ``None``.
    root
        Artifacts folder (default ``$EBSDLIB_ARTIFACTS`` or ``./artifacts``).
    dictionary
        A dictionary already built for this data set (the dose benchmark reuses one).
    progress
        Show tqdm bars.

    Returns
    -------
    RunDir
        The completed run; a failure leaves ``failed`` with the error in ``status.json`` and
        is raised again.
    """
    from ebsdlib.baseline.geometry import geometry_for
    from ebsdlib.data import load
    from ebsdlib.metrics import compute_metrics
    from ebsdlib.train.evaluate import write_predictions

    config = config or DictionaryConfig()
    with load(data, progress=progress) as ds:
        indices = reported_indices(ds, split)
        preprocess = config.preprocess or PreprocessConfig.from_dict(ds.preprocessing)
        geometry = geometry_for(ds, config)
        run = new_indexing_run(root, run_id, DICTIONARY_METHODS[0], f"ncc-{config.resolution:g}deg")
        write_json(run.config_path, run_config(config, data, split, name, preprocess, geometry, run.path.parent.parent))
        mark_running(run, "building the dictionary")
        with failing_run(run):
            dictionary = ensure_dictionary(
                dictionary, ds.phases, geometry, ds.pattern_shape, preprocess, config, progress
            )
            run.update_status(message="fitting the softmax temperature")
            temperature, source = choose_temperature(ds, dictionary, geometry, preprocess, config, progress)
            run.update_status(message=f"indexing split {split!r}")
            result = index_split(ds, dictionary, geometry, preprocess, config, indices, progress)
            metrics = run_metrics(result, ds, dictionary, config, split, temperature, source, compute_metrics)
            names = [p.name for p in dictionary.phases]
            proba = _proba(result, temperature)
            write_predictions(run.predictions_path, result.indices, split, ds.labels[result.indices], proba, names)
            write_json(run.metrics_path, metrics)
    return map_scans_and_finish(
        run, scans, lambda scan: index_scan(run, scan, dictionary=dictionary, progress=progress)
    )


def index_scan(
    run: RunDir | str | Path,
    scan: str | Path,
    *,
    scan_name: str | None = None,
    root: str | Path | None = None,
    dictionary: Dictionary | None = None,
    progress: bool = True,
) -> Path:
    """Map a scan with a dictionary-indexing run: ``runs/<run_id>/phasemaps/<scan>/``.

    The run's dictionary options, master patterns, preprocessing and fitted temperature are
    used, with the scan's own detector when its file records one
    (:func:`~ebsdlib.baseline.geometry.scan_geometry`); the dictionary is rebuilt (or read from
    the cache) when the scan's pattern shape or detector differs from the run's.
    The map's orientations are those of each point's best match.

    Parameters
    ----------
    run
        Run id, folder or :class:`~ebsdlib.runs.RunDir` made by :func:`index_run`.
    scan
        The scan: project HDF5 with a scan shape, or anything :func:`ebsdlib.data.load` reads.
    scan_name
        Folder name under ``phasemaps/``; default: the file's stem.
    root
        Artifacts folder for a run id.
    dictionary
        A dictionary built with the run's settings (reused when its pattern shape fits).
    progress
        Show tqdm bars.
    """
    from ebsdlib.baseline.geometry import scan_geometry
    from ebsdlib.data import load
    from ebsdlib.data.scan import scan_name_from_path, scan_positions
    from ebsdlib.phasemap.store import save_scan_phasemap
    from ebsdlib.train.inference import check_phases

    run, cfg, metrics = finished_indexing_run(
        run,
        root,
        is_dictionary_run,
        lambda run, cfg: (
            f"run {run.run_id!r} is a {method_label(cfg.get('method') or cfg.get('loss', '?'))} run, "
            "not dictionary indexing; "
            f"map scans of trained runs with `python -m ebsdlib predict --run {run.run_id}`"
        ),
        "python -m ebsdlib index",
    )
    config = DictionaryConfig.from_dict(cfg["dictionary"])
    run_geometry = Geometry.from_dict(cfg["geometry"])
    preprocess = PreprocessConfig.from_dict(cfg["preprocess"])
    phases = tuple(Phase.from_dict(p) for p in metrics["phases"])
    name = scan_name if scan_name is not None else scan_name_from_path(scan)
    run.phasemap_dir(name)  # refuses a name that is not a safe folder name
    with load(scan, progress=progress) as ds:
        scan_positions(ds)  # a scan without geometry is refused before it is indexed
        check_phases(phases, ds)
        geometry = scan_geometry(run_geometry, ds, config)
        dictionary = ensure_dictionary(dictionary, phases, geometry, ds.pattern_shape, preprocess, config, progress)
        result = index_split(ds, dictionary, geometry, preprocess, config, None, progress)
        meta = scan_meta(
            run, name, scan, cfg, method_key(config), "best dictionary match", geometry, result.patterns_per_second
        )
        return save_scan_phasemap(
            run, name, ds, _proba(result, float(metrics["temperature"])), phases, meta, result.best_rotations()
        )


def run_config(
    config: DictionaryConfig,
    data: str | Path,
    split: str,
    name: str,
    preprocess: PreprocessConfig,
    geometry: Geometry,
    root: str | Path | None = None,
) -> dict:
    """The run's ``config.json`` (keys the runs table reads, plus the method's own); ``data`` is
    stored relative to the artifacts folder ``root``, with its fingerprint
    (:func:`ebsdlib.data.fingerprint.data_entry`)."""
    return {
        "method": method_key(config),
        "model": model_label(config),
        **data_entry(data, root),
        "validation": split == "val",
        "split": split,
        "epochs": 0,
        "name": name,
        "preprocess": preprocess.to_dict(),
        "dictionary": config.to_dict(),
        "geometry": geometry.to_dict(),
    }


def ensure_dictionary(
    dictionary: Dictionary | None,
    phases: Sequence[Phase],
    geometry: Geometry,
    pattern_shape: tuple[int, int],
    preprocess: PreprocessConfig,
    config: DictionaryConfig,
    progress: bool,
) -> Dictionary:
    """``dictionary`` when it was built with these settings, else a (cached) new one."""
    from ebsdlib.baseline.dictionary import build_dictionary, dictionary_parameters
    from ebsdlib.train.device import resolve_device

    device = resolve_device(config.device)
    wanted = dictionary_parameters(tuple(phases), geometry, pattern_shape, preprocess, config.resolution)
    if dictionary is not None and dictionary.parameters == wanted:
        return dictionary if dictionary.device == device else dictionary.to(device)
    return build_dictionary(
        tuple(phases),
        geometry,
        pattern_shape,
        preprocess,
        config.resolution,
        device=device,
        use_cache=config.cache,
        progress=progress,
    )


def index_split(
    ds: EBSDDataset,
    dictionary: Dictionary,
    geometry: Geometry,
    preprocess: PreprocessConfig,
    config: DictionaryConfig,
    indices: np.ndarray | None,
    progress: bool,
) -> IndexResult:
    """Match (and, when the config says so, refine) the patterns at ``indices``."""
    from ebsdlib.baseline.index import index_patterns
    from ebsdlib.baseline.refine import refine_result

    result = index_patterns(ds, dictionary, indices, preprocess, batch_size=config.batch_size, progress=progress)
    if config.refine:
        result = refine_result(
            result,
            ds,
            dictionary.phases,
            geometry,
            preprocess,
            trust_region=config.refine_trust_region,
            refine_pc=config.refine_pc,
            pc_trust_region=config.refine_pc_trust_region,
            fit=config.refine_fit,
            device=str(dictionary.device),
            progress=progress,
        )
    return result


def choose_temperature(
    ds: EBSDDataset,
    dictionary: Dictionary,
    geometry: Geometry,
    preprocess: PreprocessConfig,
    config: DictionaryConfig,
    progress: bool,
) -> tuple[float, str]:
    """The softmax temperature and where it comes from (see :mod:`ebsdlib.baseline.proba`)."""
    from ebsdlib.baseline.proba import fit_temperature

    if config.temperature is not None:
        return float(config.temperature), "given"
    train = ds.indices("train") if ds.split is not None else np.empty(0, np.int64)
    train = train[ds.labels[train] >= 0]
    if config.calibration_patterns == 0 or len(np.unique(ds.labels[train])) < 2:
        return DEFAULT_TEMPERATURE, "default (no labelled training patterns of two phases or more)"
    rng = np.random.default_rng(config.seed)
    chosen = np.sort(rng.choice(train, min(len(train), config.calibration_patterns), replace=False))
    result = index_split(ds, dictionary, geometry, preprocess, config, chosen, progress)
    return fit_temperature(result.scores, ds.labels[chosen]), f"fitted on {len(chosen)} training patterns"


def run_metrics(
    result: IndexResult,
    ds: EBSDDataset,
    dictionary: Dictionary,
    config: DictionaryConfig,
    split: str,
    temperature: float,
    source: str,
    compute_metrics,
) -> dict:
    """``metrics.json`` of the run (see the module docstring)."""
    from ebsdlib.baseline.refine import refinement_metrics

    names = [p.name for p in dictionary.phases]
    y = ds.labels[result.indices]
    metrics = compute_metrics(y, _proba(result, temperature), names, n_boot=1000, seed=0)
    true_q = ds.optional("orientations")
    metrics.update(
        {
            "split": split,
            "method": method_key(config),
            "model": model_label(config),
            "phases": [p.to_dict() for p in dictionary.phases],
            "inference_seconds": result.seconds + result.refine_seconds,
            "inference_patterns_per_second": result.patterns_per_second,
            "matching_seconds": result.seconds,
            "refine_seconds": result.refine_seconds,
            "refined": result.refined,
            "temperature": temperature,
            "temperature_source": source,
            "dictionary": dictionary.summary(),
            "mean_best_ncc": float(result.scores.max(axis=1).mean()) if len(result) else None,
            "orientation_error_deg": (
                orientation_error(result, true_q[result.indices], y, dictionary.phases)
                if true_q is not None and len(result)
                else None
            ),
            **refinement_metrics(result, ds),
        }
    )
    return metrics


def orientation_error(
    result: IndexResult, true_q: np.ndarray, labels: np.ndarray, phases: Sequence[Phase]
) -> dict | None:
    """Median and 90th percentile of the symmetry-reduced misorientation (degrees) between the
    best match of the *true* phase and the true orientation, over patterns with a known phase."""
    from orix.quaternion import Orientation
    from orix.quaternion.symmetry import get_point_group

    known = labels >= 0
    if not known.any():
        return None
    errors = np.empty(int(known.sum()))
    rows = np.flatnonzero(known)
    for p, phase in enumerate(phases):
        sel = labels[rows] == p
        if not sel.any():
            continue
        sym = get_point_group(int(phase.space_group), proper=True)
        found = Orientation(result.rotations[rows[sel], p], symmetry=sym)
        true = Orientation(np.asarray(true_q[rows[sel]], dtype=np.float64), symmetry=sym)
        errors[sel] = found.angle_with(true, degrees=True)
    return {"median": float(np.median(errors)), "p90": float(np.percentile(errors, 90)), "n": len(errors)}


def _proba(result: IndexResult, temperature: float) -> np.ndarray:
    from ebsdlib.baseline.proba import scores_to_proba

    return scores_to_proba(result.scores, temperature)
