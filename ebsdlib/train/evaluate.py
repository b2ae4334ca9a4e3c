"""Evaluation of a trained model on one split: predictions, metrics, embeddings and UMAP.

Writes, atomically, into the run folder (or ``evaluations/<split>/`` inside it for a split
other than the run's own): ``predictions.csv``, ``metrics.json``, ``embeddings.npy``
(float16) and, when the config asks for it, ``umap.npy``.

``metrics.json`` holds :func:`ebsdlib.metrics.compute_metrics`'s dictionary plus
``split``, ``loss``, ``model``, ``phases`` (the phase table), ``inference_seconds`` (the whole
pass), ``inference_patterns_per_second`` (steady state: the first batch, the warm-up, excluded
when there are two or more; ``inference_throughput`` says which,
:class:`~ebsdlib.train.inference.InferenceClock`) and, for SupCon, ``probe_accuracy`` (the linear probe,
used for the predictions) and ``knn_accuracy`` (k-NN vote on the embeddings); for a calibrated
model (:mod:`ebsdlib.train.temperature`) ``temperature`` (``None`` for vector scaling),
``calibrator`` (method, scales, offsets, the cross-validated NLLs behind ``auto``), ``calibration_split``,
``calibration_held_out``, ``calibration_nll`` (before, after) and ``ece_uncalibrated`` /
``calibration_uncalibrated`` beside the calibrated ``ece`` / ``calibration``; the
trainer adds its own figures (``training_seconds``, ``train_patterns_per_second``, ``device``,
``precision``, ``torch_threads``, ``selected_epoch``, ``selected_on`` and, under torchrun,
``distributed``: world size, effective batch size and learning rate).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.data.format import EBSDDataset
from ebsdlib.io import atomic_write, write_json, write_npy
from ebsdlib.methods import method_of_run
from ebsdlib.phases import Phase
from ebsdlib.runs import RunDir
from ebsdlib.train.config import TrainConfig
from ebsdlib.train.holdout import fitted_indices

if TYPE_CHECKING:
    import torch

    from ebsdlib.train.models import EBSDNet


def evaluate_model(
    model: EBSDNet,
    config: TrainConfig,
    phases: tuple[Phase, ...],
    dataset: EBSDDataset,
    split: str,
    out_dir: str | Path,
    *,
    device: str | torch.device = "auto",
    knn_reference: tuple[np.ndarray, np.ndarray] | None = None,
    extra: dict | None = None,
    progress: bool = False,
) -> dict:
    """Predict ``split`` and write the evaluation artifacts to ``out_dir``; return the metrics.

    Parameters
    ----------
    model, config, phases
        The trained model, its config and phase table.
    dataset
        The data set named by the config.
    split
        ``"train"``, ``"val"`` or ``"test"``.
    out_dir
        Folder that receives the files.
    device
        Device of the forward passes.
    knn_reference
        ``(features, labels)`` of the training patterns: adds ``knn_accuracy`` (SupCon).
    extra
        More entries for ``metrics.json``.
    progress
        Show a tqdm bar.
    """
    from ebsdlib.metrics import compute_metrics, expected_calibration_error
    from ebsdlib.train.inference import InferenceClock, predict_dataset
    from ebsdlib.train.temperature import stored_calibrator, uncalibrated_proba

    out_dir = Path(out_dir)
    indices = dataset.indices(split)
    if len(indices) == 0:
        raise ValueError(
            f"{dataset.path}: split {split!r} has no patterns to evaluate; choose another split (train, val, test)"
        )
    clock = InferenceClock()
    proba, emb = predict_dataset(
        model,
        dataset,
        indices,
        config.preprocess,
        device,
        config.eval_batch_size,
        config.precision,
        progress=progress,
        clock=clock,
    )
    y = dataset.labels[indices]
    names = [p.name for p in phases]
    metrics = compute_metrics(y, proba, names, n_boot=1000, seed=0)
    metrics.update(
        {
            "split": split,
            "loss": config.loss,
            "model": config.model,
            "phases": [p.to_dict() for p in phases],
            **clock.metrics(),
        }
    )
    if config.metric_learning:
        metrics["probe_accuracy"] = metrics["accuracy"]
        metrics["knn_accuracy"] = None
        metrics["precision_at_1"] = None
        if knn_reference is not None:
            from ebsdlib.train.probe import knn_predict, precision_at_1

            known = y >= 0
            pred = knn_predict(knn_reference[0], knn_reference[1], emb[known], config.knn_k)
            metrics["knn_accuracy"] = float((pred == y[known]).mean()) if known.any() else None
            if known.any():
                metrics["precision_at_1"] = precision_at_1(knn_reference[0], knn_reference[1], emb[known], y[known])
    metrics.update(extra or {})
    calibrator = stored_calibrator(metrics, model.num_classes)
    known = y >= 0
    if calibrator is not None and known.any():  # calibrated probabilities: the ECE before, for comparison
        metrics["ece_uncalibrated"], metrics["calibration_uncalibrated"] = expected_calibration_error(
            uncalibrated_proba(model, emb[known], calibrator), y[known]
        )
    write_predictions(out_dir / "predictions.csv", indices, split, y, proba, names)
    write_npy(out_dir / "embeddings.npy", emb.astype(np.float16))
    if config.umap:
        from ebsdlib.train.embedding import umap_2d

        write_npy(out_dir / "umap.npy", umap_2d(emb, seed=config.seed))
    write_json(out_dir / "metrics.json", metrics)
    return metrics


def write_predictions(
    path: str | Path, indices: np.ndarray, split: str, y_true: np.ndarray, proba: np.ndarray, phase_names: list[str]
) -> Path:
    """``predictions.csv``: index, split, true, pred, prob_<phase>…, confidence (one row per pattern).

    ``true`` and ``pred`` are indices into the phase table (``-1`` = unknown label).
    """
    import pandas as pd

    df = pd.DataFrame(
        {
            "index": np.asarray(indices, dtype=np.int64),
            "split": split,
            "true": np.asarray(y_true, dtype=np.int64),
            "pred": proba.argmax(axis=1).astype(np.int64),
        }
    )
    for c, name in enumerate(phase_names):
        df[f"prob_{name}"] = proba[:, c]
    df["confidence"] = proba.max(axis=1)
    return atomic_write(path, lambda p: df.to_csv(p, index=False, float_format="%.6g"))


def evaluate_run(
    run: RunDir | str | Path,
    split: str | None = None,
    *,
    device: str | torch.device = "auto",
    progress: bool = True,
    root: str | Path | None = None,
) -> dict:
    """Re-evaluate a finished run from its best checkpoint.

    The run's own split (``config.eval_split``) rewrites the run's artifacts; another split
    writes to ``evaluations/<split>/`` in the run folder. Returns the metrics.

    Parameters
    ----------
    run
        Run id, run folder or :class:`RunDir`.
    split
        ``"train"``, ``"val"`` or ``"test"``; ``None`` for the run's own split.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    progress
        Show tqdm bars.
    root
        Artifacts folder (default ``$EBSDLIB_ARTIFACTS`` or ``./artifacts``).
    """
    from ebsdlib.data.fingerprint import data_entry, resolve_data
    from ebsdlib.train.checkpoint import load_checkpoint
    from ebsdlib.train.inference import check_phases, load_model, predict_dataset
    from ebsdlib.train.status import as_run_dir
    from ebsdlib.train.temperature import checkpoint_calibration

    run = as_run_dir(run, root)
    method = None
    if run.config_path.exists():
        with contextlib.suppress(ValueError):  # names no method: loading the checkpoint below says what is wrong
            method = method_of_run(run.config())
    if method is not None and not method.is_network:
        raise ValueError(
            f"run {run.run_id!r} is {method.label}: it has no trained model to re-evaluate; "
            "index the data again (dictionary indexing: `python -m ebsdlib index --data FILE`)"
        )
    state = run.read_status().state if run.status_path.exists() else "unknown"
    if state != "completed":
        raise ValueError(
            f"run {run.run_id!r} is {state}; only a completed run can be evaluated "
            f"(`python -m ebsdlib resume {run.run_id}` finishes an interrupted one)"
        )
    model, config, phases = load_model(run.best_checkpoint, device)
    split = split or config.eval_split
    out_dir = run.path if split == config.eval_split else run.path / "evaluations" / split
    base = run.path.parent.parent  # the artifacts folder: where the stored data path is resolved from
    own = run.metrics() if run.metrics_path.exists() else None
    used = resolve_data(config.data, base, (own or {}).get("data_fingerprint"))
    with EBSDDataset(used) as ds:
        check_phases(phases, ds)
        reference = None
        if config.metric_learning:
            train_idx = fitted_indices(ds, config, config.probe_splits)
            _, feats = predict_dataset(
                model,
                ds,
                train_idx,
                config.preprocess,
                device,
                config.eval_batch_size,
                config.precision,
                progress=progress,
            )
            reference = (feats, ds.labels[train_idx])
        previous = run.metrics() if out_dir == run.path else None
        keep = {
            k: previous[k]
            for k in (
                "training_seconds",
                "train_patterns_per_second",
                "selected_epoch",
                "selected_on",
                "device",
                "precision",
                "torch_threads",
                "temperature",
                "calibration_split",
                "calibration_patterns",
                "calibration_held_out",
                "calibration_nll",
            )
            if previous and k in previous
        }
        keep.update(checkpoint_calibration(load_checkpoint(run.best_checkpoint)))
        keep.update(data_entry(ds.path, base))
        return evaluate_model(
            model,
            config,
            phases,
            ds,
            split,
            out_dir,
            device=device,
            knn_reference=reference,
            extra=keep,
            progress=progress,
        )
