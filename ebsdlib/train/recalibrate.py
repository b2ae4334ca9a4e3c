"""Calibrate a trained run again on labelled patterns it never saw, and re-evaluate it.

A run calibrates itself on its validation split; a run trained on train+validation (the demo's
networks, runs from before the calibration hold-out) had none left that it had not trained on, and
a network trained on simulations meets other patterns in a lab. :func:`recalibrate` takes another
labelled data set — freshly simulated patterns of the same settings and another seed, or a few
hundred labelled experimental patterns — undoes the run's calibration, fits a new calibrator on that
set (:func:`ebsdlib.train.temperature.fit_calibrator`: a temperature, vector scaling, or the one of
the two that cross-validates better), folds it into the classifier of
``checkpoint_best.pt`` and re-evaluates the run's own split, so ``metrics.json`` (ECE before and
after, ``calibration_*``), the predictions and every later phase map use the new probabilities.
A set whose fingerprint is the run's own training data is refused: that is not held out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.runs import RunDir

if TYPE_CHECKING:
    import torch

#: Splits of the calibration data set that may be chosen (``None``: all its labelled patterns).
SPLITS = ("train", "val", "test")


def recalibrate(
    run: RunDir | str | Path,
    data: str | Path,
    split: str | None = None,
    *,
    calibrator: str = "auto",
    device: str | torch.device = "auto",
    progress: bool = True,
    root: str | Path | None = None,
) -> dict:
    """Fit a calibrator (``calibrator``: one of :data:`~ebsdlib.train.config.CALIBRATORS`) on
    ``data`` (all its labelled patterns, or ``split``), fold it into the run's best checkpoint in
    place of the old one, and re-evaluate the run; returns the metrics.

    Raises
    ------
    ValueError
        For a run that is not a completed network run, an unknown calibrator, a data set with no
        labelled patterns of the run's phases, or the run's own training data.
    """
    from ebsdlib.data import load
    from ebsdlib.data.fingerprint import data_entry, differences, fingerprint
    from ebsdlib.io import read_json, write_json
    from ebsdlib.train.checkpoint import load_checkpoint, save_checkpoint
    from ebsdlib.train.cross_eval import label_map
    from ebsdlib.train.evaluate import evaluate_run
    from ebsdlib.train.inference import load_model, predict_dataset
    from ebsdlib.train.status import as_run_dir
    from ebsdlib.train.temperature import (
        calibrate_classifier,
        check_calibrator,
        checkpoint_calibration,
        stored_calibrator,
    )

    run = as_run_dir(run, root)
    check_calibrator(calibrator)  # before any work
    if split is not None and split not in SPLITS:
        raise ValueError(f"split {split!r} is not allowed; use one of {list(SPLITS)} or none (all patterns)")
    state = run.read_status().state if run.status_path.exists() else "unknown"
    if state != "completed" or not run.best_checkpoint.exists():
        raise ValueError(f"run {run.run_id!r} is {state}; only a completed network run can be calibrated again")
    metrics = run.metrics() or {}
    own = metrics.get("data_fingerprint")
    found = fingerprint(Path(data))
    if own and not differences(own, found):
        raise ValueError(
            f"{data}: this is the data set run {run.run_id!r} was trained on, so its patterns are not held out; "
            "calibrate on patterns the run never saw (simulate more with another --seed, or label a few of yours)"
        )
    checkpoint = load_checkpoint(run.best_checkpoint)
    model, config, phases = load_model(run.best_checkpoint, device)
    old = stored_calibrator(checkpoint_calibration(checkpoint), model.num_classes)
    if old is not None:
        old.unfold(model)  # the raw logits again
    with load(data, progress=progress) as ds:
        mapping = label_map(phases, ds)
        candidates = ds.indices(split) if split is not None else np.arange(len(ds))
        indices = candidates[ds.labels[candidates] >= 0]
        if len(indices) < 2:
            raise ValueError(
                f"{ds.path}: {len(indices)} labelled patterns to calibrate on; a temperature needs at least two "
                "(give a labelled data set, or another split)"
            )
        _, features = predict_dataset(
            model, ds, indices, config.preprocess, device, config.eval_batch_size, config.precision, progress=progress
        )
        labels = mapping[ds.labels[indices]]
        entry = data_entry(ds.path, run.path.parent.parent)
    fitted, nll = calibrate_classifier(model, features, labels, calibrator)

    calibration = {
        "temperature": fitted.temperature,
        "calibrator": fitted.to_dict(),
        "calibration_split": f"{Path(data).name}" + (f" ({split})" if split else ""),
        "calibration_patterns": len(indices),
        "calibration_held_out": True,
        "calibration_nll": nll,
        "calibration_data": entry,
        "replaced_calibrator": old.to_dict() if old is not None else None,
    }
    state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    like = checkpoint["model"]
    # a compacted (fp16) checkpoint keeps its dtypes, but the classifier stays float32: a large
    # temperature divides its weights into fp16's subnormal range, where ties would flip arg-maxes
    checkpoint["model"] = {
        k: v if k.startswith("classifier.") or k not in like else v.to(like[k].dtype) for k, v in state_dict.items()
    }
    checkpoint["temperature"] = fitted.temperature
    checkpoint["calibration"] = calibration
    save_checkpoint(run.best_checkpoint, checkpoint)
    stored = read_json(run.metrics_path) if run.metrics_path.exists() else {}
    stored.update({k: v for k, v in calibration.items() if k != "calibration_data"})
    write_json(run.metrics_path, stored)  # evaluate_run keeps these calibration fields
    out = evaluate_run(run, device=device, progress=progress)
    out["calibration_data"] = entry
    out["replaced_calibrator"] = calibration["replaced_calibrator"]
    write_json(run.metrics_path, out)
    return out
