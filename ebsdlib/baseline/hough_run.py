"""Hough/Radon indexing stored like a run, beside dictionary indexing and the networks.

:func:`hough_run` writes ``artifacts/runs/<run_id>/`` with the layout of :mod:`ebsdlib.runs`:

=======================  ==========================================================
``config.json``          ``method: "hough"`` (a key of :mod:`ebsdlib.methods`; no ``loss``),
                         ``model`` (e.g. ``"PyEBSDIndex 0.3.10.1, 9 bands"``), ``data``,
                         ``validation``, ``split``, ``epochs: 0``, ``preprocess``, ``hough``
                         (:class:`~ebsdlib.baseline.hough_config.HoughConfig`), ``geometry``
                         (:class:`~ebsdlib.baseline.geometry.Geometry`: the detector used)
``status.json``          running → completed (or failed with the error)
``metrics.json``         :func:`ebsdlib.metrics.compute_metrics` of the reported split with
                         the probabilities of :mod:`ebsdlib.baseline.hough`, plus ``split``,
                         ``method``, ``model``, ``phases``, ``inference_seconds``,
                         ``inference_patterns_per_second``, ``temperature``,
                         ``temperature_source``, ``hough`` (version, vendor convention, band
                         families per phase, processes, numba threads), ``mean_fit_deg`` and
                         ``mean_matched_bands`` of the chosen phase, ``not_indexed`` (fraction
                         of patterns no phase found a solution for) and, when the data set
                         stores true orientations, ``orientation_error_deg`` (median and 90th
                         percentile of the symmetry-reduced misorientation of the true phase's
                         solution)
``predictions.csv``      as for a network (:func:`ebsdlib.train.evaluate.write_predictions`)
``phasemaps/<scan>/``    :func:`hough_scan`: the phase map of a scan with each point's
                         Hough orientation of the chosen phase
=======================  ==========================================================
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
from ebsdlib.baseline.config import DictionaryConfig
from ebsdlib.baseline.hough import HoughIndexer, HoughResult
from ebsdlib.baseline.hough_config import DEFAULT_HOUGH_TEMPERATURE, HoughConfig
from ebsdlib.data.fingerprint import data_entry
from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.io import write_json
from ebsdlib.methods import method_of_run, run_method_label
from ebsdlib.runs import RunDir

#: The :mod:`ebsdlib.methods` key of the runs :func:`hough_run` makes.
HOUGH_METHOD = "hough"


def is_hough_run(config: dict) -> bool:
    """Whether a run's ``config.json`` describes Hough indexing; never an error."""
    try:
        return method_of_run(config).key == HOUGH_METHOD
    except ValueError:
        return False


def model_label(config: HoughConfig) -> str:
    """The ``model`` entry of the run: ``"PyEBSDIndex 0.3.10.1, 9 bands"``."""
    from importlib.metadata import version

    return f"PyEBSDIndex {version('pyebsdindex')}, {config.n_bands} bands"


def geometry_options(config: HoughConfig) -> DictionaryConfig:
    """The detector overrides of ``config`` in the form :func:`~ebsdlib.baseline.geometry.geometry_for` takes."""
    return DictionaryConfig(pc=config.pc, sample_tilt=config.sample_tilt, camera_tilt=config.camera_tilt)


def hough_run(
    data: str | Path,
    config: HoughConfig | None = None,
    *,
    split: Literal["val", "test"] = "test",
    scans: Sequence[str | Path] = (),
    name: str = "",
    run_id: str | None = None,
    root: str | Path | None = None,
    progress: bool = True,
) -> RunDir:
    """Index a labelled data set's split by Hough/Radon indexing and store it as a run.

    Parameters
    ----------
    data
        The labelled data set: project HDF5, or anything :func:`ebsdlib.data.load` reads.
    config
        Options of the method; defaults of :class:`HoughConfig` when ``None``.
    split
        The split reported (``"test"`` or ``"val"``; training patterns fit the temperature).
    scans
        Scans to map into ``phasemaps/<scan>/``.
    name
        Free-text name of the run.
    run_id
        Folder name under ``artifacts/runs``; a fresh id from the time when ``None``.
    root
        Artifacts folder (default ``$EBSDLIB_ARTIFACTS`` or ``./artifacts``).
    progress
        Show tqdm bars.

    Returns
    -------
    RunDir
        The completed run. A phase without space group or lattice parameter is refused
        before the run folder exists; a later failure leaves ``failed`` with the error in
        ``status.json`` and is raised again.
    """
    from ebsdlib.baseline.geometry import geometry_for
    from ebsdlib.baseline.hough import build_indexer, hough_preprocess
    from ebsdlib.baseline.hough_families import check_hough_phase
    from ebsdlib.data import load
    from ebsdlib.train.evaluate import write_predictions

    config = config or HoughConfig()
    with load(data, progress=progress) as ds:
        for p in ds.phases:
            check_hough_phase(p, str(ds.path))
        indices = reported_indices(ds, split)
        preprocess = hough_preprocess(config, ds.preprocessing)
        geometry = geometry_for(ds, geometry_options(config))
        indexer = build_indexer(ds.phases, geometry.detector, ds.pattern_shape, config)
        run = new_indexing_run(root, run_id, HOUGH_METHOD, "pyebsdindex")
        write_json(run.config_path, run_config(config, data, split, name, preprocess, geometry, run.path.parent.parent))
        mark_running(run, "indexing")
        with failing_run(run):
            run.update_status(message="fitting the softmax temperature")
            temperature, source = choose_temperature(ds, indexer, preprocess, config, progress)
            run.update_status(message=f"indexing split {split!r}")
            result = index_split(ds, indexer, preprocess, config, indices, progress)
            metrics = run_metrics(result, ds, indexer, config, split, temperature, source)
            proba = _proba(result, temperature)
            names = [p.name for p in indexer.phases]
            write_predictions(run.predictions_path, result.indices, split, ds.labels[result.indices], proba, names)
            write_json(run.metrics_path, metrics)
    return map_scans_and_finish(run, scans, lambda scan: hough_scan(run, scan, indexer=indexer, progress=progress))


def hough_scan(
    run: RunDir | str | Path,
    scan: str | Path,
    *,
    scan_name: str | None = None,
    root: str | Path | None = None,
    indexer: HoughIndexer | None = None,
    progress: bool = True,
) -> Path:
    """Map a scan with a Hough-indexing run: ``runs/<run_id>/phasemaps/<scan>/``.

    The run's options, preprocessing and temperature are used, with the scan's own detector
    when its file records one (:func:`~ebsdlib.baseline.geometry.scan_geometry`); the map's
    orientations are each point's Hough solution for the chosen phase.

    Parameters
    ----------
    run
        Run id, folder or :class:`~ebsdlib.runs.RunDir` made by :func:`hough_run`.
    scan
        The scan: project HDF5 with a scan shape, or anything :func:`ebsdlib.data.load` reads.
    scan_name
        Folder name under ``phasemaps/``; default: the file's stem.
    root
        Artifacts folder for a run id.
    indexer
        An indexer made with the run's settings (reused when its detector and shape fit).
    progress
        Show tqdm bars.
    """
    from ebsdlib.baseline.geometry import Geometry, scan_geometry
    from ebsdlib.baseline.hough import build_indexer
    from ebsdlib.data import load
    from ebsdlib.data.scan import scan_name_from_path, scan_positions
    from ebsdlib.phasemap.store import save_scan_phasemap
    from ebsdlib.phases import Phase
    from ebsdlib.train.inference import check_phases

    run, cfg, metrics = finished_indexing_run(
        run,
        root,
        is_hough_run,
        lambda run, cfg: (
            f"run {run.run_id!r} is a {run_method_label(cfg) or '?'} run, not Hough indexing; map its scans with "
            f"`python -m ebsdlib predict --run {run.run_id} --data SCAN.h5`"
        ),
        "python -m ebsdlib index --method hough",
    )
    config = HoughConfig.from_dict(cfg["hough"])
    preprocess = PreprocessConfig.from_dict(cfg["preprocess"])
    phases = tuple(Phase.from_dict(p) for p in metrics["phases"])
    name = scan_name if scan_name is not None else scan_name_from_path(scan)
    run.phasemap_dir(name)  # refuses a name that is not a safe folder name
    with load(scan, progress=progress) as ds:
        scan_positions(ds)  # a scan without geometry is refused before it is indexed
        check_phases(phases, ds)
        geometry = scan_geometry(Geometry.from_dict(cfg["geometry"]), ds, geometry_options(config))
        if indexer is None or indexer.detector != geometry.detector or indexer.pattern_shape != ds.pattern_shape:
            indexer = build_indexer(phases, geometry.detector, ds.pattern_shape, config)
        result = index_split(ds, indexer, preprocess, config, None, progress)
        meta = scan_meta(
            run,
            name,
            scan,
            cfg,
            HOUGH_METHOD,
            "Hough solution of the chosen phase",
            geometry,
            result.patterns_per_second,
        )
        best = result.rotations[np.arange(len(result)), result.scores.argmax(axis=1)]
        return save_scan_phasemap(run, name, ds, _proba(result, float(metrics["temperature"])), phases, meta, best)


def run_config(
    config: HoughConfig,
    data: str | Path,
    split: str,
    name: str,
    preprocess: PreprocessConfig,
    geometry,
    root: str | Path | None = None,
) -> dict:
    """The run's ``config.json`` (keys the runs table reads, plus the method's own); ``data`` is
    stored relative to the artifacts folder ``root``, with its fingerprint
    (:func:`ebsdlib.data.fingerprint.data_entry`)."""
    return {
        "method": HOUGH_METHOD,
        "model": model_label(config),
        **data_entry(data, root),
        "validation": split == "val",
        "split": split,
        "epochs": 0,
        "name": name,
        "preprocess": preprocess.to_dict(),
        "hough": config.to_dict(),
        "geometry": geometry.to_dict(),
    }


def index_split(
    ds: EBSDDataset,
    indexer: HoughIndexer,
    preprocess: PreprocessConfig,
    config: HoughConfig,
    indices: np.ndarray | None,
    progress: bool,
) -> HoughResult:
    """Hough-index the patterns at ``indices`` (``None``: all) with every candidate phase."""
    from ebsdlib.baseline.hough import hough_patterns

    return hough_patterns(ds, indexer, indices, preprocess, batch_size=config.batch_size, progress=progress)


def choose_temperature(
    ds: EBSDDataset, indexer: HoughIndexer, preprocess: PreprocessConfig, config: HoughConfig, progress: bool
) -> tuple[float, str]:
    """The softmax temperature and where it comes from: given, fitted on labelled training
    patterns (:func:`ebsdlib.baseline.proba.fit_temperature`), or :data:`DEFAULT_HOUGH_TEMPERATURE`."""
    from ebsdlib.baseline.proba import fit_temperature

    if config.temperature is not None:
        return float(config.temperature), "given"
    train = ds.indices("train") if ds.split is not None else np.empty(0, np.int64)
    train = train[ds.labels[train] >= 0]
    if config.calibration_patterns == 0 or len(np.unique(ds.labels[train])) < 2:
        return DEFAULT_HOUGH_TEMPERATURE, "default (no labelled training patterns of two phases or more)"
    rng = np.random.default_rng(config.seed)
    chosen = np.sort(rng.choice(train, min(len(train), config.calibration_patterns), replace=False))
    result = index_split(ds, indexer, preprocess, config, chosen, progress)
    return fit_temperature(result.scores, ds.labels[chosen]), f"fitted on {len(chosen)} training patterns"


def run_metrics(
    result: HoughResult,
    ds: EBSDDataset,
    indexer: HoughIndexer,
    config: HoughConfig,
    split: str,
    temperature: float,
    source: str,
) -> dict:
    """``metrics.json`` of the run (see the module docstring)."""
    from ebsdlib.baseline.run import orientation_error
    from ebsdlib.metrics import compute_metrics

    names = [p.name for p in indexer.phases]
    y = ds.labels[result.indices]
    metrics = compute_metrics(y, _proba(result, temperature), names, n_boot=1000, seed=0)
    rows = np.arange(len(result))
    chosen = result.scores.argmax(axis=1) if len(result) else np.empty(0, np.int64)
    true_q = ds.optional("orientations")
    metrics.update(
        {
            "split": split,
            "method": HOUGH_METHOD,
            "model": model_label(config),
            "phases": [p.to_dict() for p in indexer.phases],
            "inference_seconds": result.seconds,
            "inference_patterns_per_second": result.patterns_per_second,
            "temperature": temperature,
            "temperature_source": source,
            "hough": indexer.summary(),
            "mean_fit_deg": _mean(result.fit[rows, chosen][result.indexed[rows, chosen]]),
            "mean_matched_bands": _mean(result.nmatch[rows, chosen]),
            "not_indexed": float((~result.indexed.any(axis=1)).mean()) if len(result) else None,
            "orientation_error_deg": (
                orientation_error(result.as_index_result(), true_q[result.indices], y, indexer.phases)
                if true_q is not None and len(result)
                else None
            ),
        }
    )
    return metrics


def _mean(values: np.ndarray) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _proba(result: HoughResult, temperature: float) -> np.ndarray:
    from ebsdlib.baseline.proba import scores_to_proba

    return scores_to_proba(result.scores, temperature)
