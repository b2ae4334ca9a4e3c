"""Evaluation of a trained run on another data set: "train on simulations, test on my patterns".

:func:`evaluate_on` predicts a labelled data set that is not the run's own (another simulation,
imported experimental patterns) with the run's best checkpoint and preprocessing (the static
background is the other data set's own), and writes into the run folder, under
``evaluations/<data set>/`` (``evaluations/<data set>-<split>/`` for one split of it):
``metrics.json``, ``predictions.csv`` (calibrated probabilities, as every prediction of a
calibrated run) and ``embeddings.npy``.

Phases are matched by name, ignoring case, or by chemical formula (``FeNi3`` is the run's
``Ni3Fe``; :func:`ebsdlib.phases.match_phase`); a phase of the data set that the run does not
know is an error that names it. Labels are re-indexed into the run's phase table, so the
metrics and confusion matrix use the run's phases; a phase of the run that the data set lacks
simply has no true patterns.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.data.format import EBSDDataset
from ebsdlib.io import write_json, write_npy
from ebsdlib.phases import Phase
from ebsdlib.runs import RunDir

if TYPE_CHECKING:
    import torch

#: Folder of the evaluations of a run on other data (inside the run folder).
EVALUATIONS = "evaluations"
_OWN_SPLITS = ("train", "val", "test")


def evaluation_name(data_path: str | Path, split: str | None) -> str:
    """The folder name of an evaluation: the data set's file stem, ``-<split>`` for one split
    (a stem that is a split name gets ``-data``, so it never meets ``evaluations/<split>/``)."""
    from ebsdlib.paths import check_name

    stem = Path(data_path).stem
    if stem in _OWN_SPLITS:
        stem = f"{stem}-data"
    return check_name(stem if split is None else f"{stem}-{split}", "data-set name")


def label_map(model_phases: tuple[Phase, ...], dataset: EBSDDataset) -> np.ndarray:
    """``map[i]``: the run's index of the data set's phase ``i`` (by name or formula).

    Raises
    ------
    ValueError
        Naming every phase of the data set the run does not know, and the run's phases.
    """
    from ebsdlib.phases import match_phase

    out, missing = [], []
    for name in dataset.phase_names:
        match = match_phase(name, model_phases)
        if match is None:
            missing.append(name)
            out.append(-1)
        else:
            out.append([p.name for p in model_phases].index(match[0].name))
    if missing:
        raise ValueError(
            f"{dataset.path}: its phases {missing} are not among the run's {[p.name for p in model_phases]} "
            "(matched by name or chemical formula); evaluate on patterns of the run's phases, or train a run "
            "that knows them"
        )
    return np.asarray(out, dtype=np.int64)


def evaluate_on(
    run: RunDir | str | Path,
    data: str | Path,
    split: str | None = None,
    *,
    device: str | torch.device = "auto",
    progress: bool = True,
    root: str | Path | None = None,
) -> dict:
    """Evaluate a finished network run on another labelled data set; returns the metrics.

    Parameters
    ----------
    run
        Run id, run folder or :class:`RunDir` of a completed network run.
    data
        A labelled data set (project HDF5, or anything :func:`ebsdlib.data.load` converts).
    split
        ``"train"``, ``"val"`` or ``"test"`` of that data set; ``None`` for all its labelled patterns.
    device, progress, root
        As for :func:`ebsdlib.train.evaluate.evaluate_run`.
    """
    from ebsdlib.data import load
    from ebsdlib.data.fingerprint import data_entry
    from ebsdlib.metrics import compute_metrics, expected_calibration_error
    from ebsdlib.train.checkpoint import load_checkpoint
    from ebsdlib.train.evaluate import write_predictions
    from ebsdlib.train.inference import load_model, predict_dataset
    from ebsdlib.train.status import as_run_dir
    from ebsdlib.train.temperature import checkpoint_calibration, stored_calibrator, uncalibrated_proba

    run = as_run_dir(run, root)
    if split is not None and split not in _OWN_SPLITS:
        raise ValueError(f"split {split!r} is not allowed; use one of {list(_OWN_SPLITS)} or none (all patterns)")
    state = run.read_status().state if run.status_path.exists() else "unknown"
    if state != "completed":
        raise ValueError(f"run {run.run_id!r} is {state}; only a completed network run can be evaluated on other data")
    model, config, phases = load_model(run.best_checkpoint, device)
    calibration = checkpoint_calibration(load_checkpoint(run.best_checkpoint))
    calibrator = stored_calibrator(calibration, model.num_classes)
    name = evaluation_name(data, split)
    out_dir = run.path / EVALUATIONS / name
    with load(data, progress=progress) as ds:
        mapping = label_map(phases, ds)
        candidates = ds.indices(split) if split is not None else np.arange(len(ds))
        indices = candidates[ds.labels[candidates] >= 0]
        if len(indices) == 0:
            where = f"split {split!r}" if split else "the data set"
            raise ValueError(
                f"{ds.path}: {where} has no labelled patterns to evaluate on; label them at import "
                "(`python -m ebsdlib import … --label-from name`) or predict them as a scan (`ebsdlib predict`)"
            )
        t0 = time.perf_counter()
        proba, emb = predict_dataset(
            model, ds, indices, config.preprocess, device, config.eval_batch_size, config.precision, progress=progress
        )
        seconds = time.perf_counter() - t0
        y = mapping[ds.labels[indices]]
        names = [p.name for p in phases]
        metrics = compute_metrics(y, proba, names, n_boot=1000, seed=0)
        metrics.update(
            {
                "split": split or "all",
                **data_entry(ds.path, run.path.parent.parent),
                "data_phases": ds.phase_names,
                "evaluated_on": name,
                "run_data": config.data,
                "loss": config.loss,
                "model": config.model,
                "phases": [p.to_dict() for p in phases],
                "inference_seconds": seconds,
                "inference_patterns_per_second": len(indices) / max(seconds, 1e-9),
                "temperature": calibration.get("temperature"),
                "calibrator": calibration.get("calibrator"),
            }
        )
        if calibrator is not None:
            metrics["ece_uncalibrated"], metrics["calibration_uncalibrated"] = expected_calibration_error(
                uncalibrated_proba(model, emb, calibrator), y
            )
        write_predictions(out_dir / "predictions.csv", indices, split or "all", y, proba, names)
        write_npy(out_dir / "embeddings.npy", emb.astype(np.float16))
        write_json(out_dir / "metrics.json", metrics)
    return metrics


def list_evaluations(run: RunDir) -> dict[str, Path]:
    """Evaluation name → folder of the run's evaluations on other data or splits (with a metrics.json)."""
    base = run.path / EVALUATIONS
    if not base.is_dir():
        return {}
    return {p.name: p for p in sorted(base.iterdir()) if (p / "metrics.json").is_file()}
