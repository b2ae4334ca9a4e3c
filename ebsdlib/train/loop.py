"""Training: :func:`train` a new run or :func:`resume` an interrupted one.

One code path for the CPU and CUDA: AdamW with warmup and a cosine/constant/step schedule;
on CUDA bf16/fp16 autocast (a grad scaler for fp16), channels-last and pinned, non-blocking
copies. Seeded and reproducible on the CPU: the seed fixes the initial weights, each epoch's
shuffle and flips are drawn from ``(seed, epoch)``, and the torch RNG state (dropout) is
saved in ``checkpoint_last.pt``, so a resumed run ends where an uninterrupted one does.

Which weights become ``checkpoint_best.pt``
    With ``validation=True``: the epoch with the highest validation accuracy (cross-entropy:
    the classifier's; SupCon: a k-NN vote of the validation embeddings against up to
    :data:`KNN_REFERENCE_SIZE` training patterns), the earlier epoch on a tie. With
    ``validation=False`` (train on train+val, report on test) there is no held-out data to
    select on and the test split must not be looked at, so the last epoch is used.

After the epochs, a SupCon run fits a linear probe on the frozen embeddings of its training
patterns (the probe becomes the classifier used for predictions). Then the run's report
split is evaluated (:mod:`ebsdlib.train.evaluate`).

Life of ``status.json``: ``queued`` (written by a launcher) → ``running`` → ``completed``;
``cancelled`` when the ``CANCEL`` file appears (polled every step) or on Ctrl-C; ``failed``
with the error message on any exception. A cancelled or failed run resumes from the last
finished epoch.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ebsdlib.data.format import EBSDDataset
from ebsdlib.io import write_json
from ebsdlib.runs import RunDir, _pid_alive, check_run_id, new_run_id, runs_root
from ebsdlib.train.config import TrainConfig
from ebsdlib.train.status import StatusReporter, as_run_dir
from ebsdlib.train.trainer import Cancelled, EpochCallback, Trainer

__all__ = ["Cancelled", "resume", "train"]

def train(config: TrainConfig, run_dir: RunDir | str | Path | None = None, progress: bool = True, *,
          root: str | Path | None = None, on_epoch_end: EpochCallback | None = None) -> RunDir:
    """Train a new run and evaluate it; return its folder.

    Parameters
    ----------
    config
        The resolved training config (written to ``config.json`` and every checkpoint).
    run_dir
        A folder a launcher created (status ``queued``), a run id under ``root``, or ``None``
        for a fresh ``artifacts/runs/<run_id>``.
    progress
        Show a tqdm bar in the terminal.
    root
        Artifacts folder (default ``$EBSDLIB_ARTIFACTS`` or ``./artifacts``).
    on_epoch_end
        Called as ``on_epoch_end(epoch, history_row)`` after each epoch's checkpoint.

    Returns
    -------
    RunDir
        The run folder; its ``status.json`` says ``completed`` or ``cancelled``. Any error
        leaves ``failed`` with the message and is raised again.
    """
    if run_dir is None:
        run = RunDir(runs_root(root) / new_run_id(config.loss, config.model, root))
    elif isinstance(run_dir, str) and "/" not in run_dir:
        run = RunDir(runs_root(root) / check_run_id(run_dir))
    else:
        run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    run.path.mkdir(parents=True, exist_ok=True)
    if run.last_checkpoint.exists() or run.metrics_path.exists():
        raise ValueError(f"run folder {str(run.path)!r} already holds a trained run; "
                         f"`python -m ebsdlib resume {run.run_id}` continues it, or choose a new run id")
    write_json(run.config_path, config.to_dict())
    return _execute(run, config, None, progress, on_epoch_end)


def resume(run: RunDir | str | Path, progress: bool = True, *, root: str | Path | None = None,
           on_epoch_end: EpochCallback | None = None) -> RunDir:
    """Continue a cancelled, failed or killed run from ``checkpoint_last.pt``.

    A run that stopped before its first checkpoint starts again from the beginning.
    Raises ``ValueError`` for a completed run (use :func:`ebsdlib.train.evaluate.evaluate_run`).
    """
    from ebsdlib.train.checkpoint import load_checkpoint

    run = as_run_dir(run, root)
    try:
        state = run.read_status().state
    except (FileNotFoundError, ValueError):
        state = None
    if state == "completed":
        raise ValueError(f"run {run.run_id!r} is already completed; nothing to resume "
                         f"(`python -m ebsdlib evaluate {run.run_id}` re-evaluates it)")
    if state in ("queued", "running"):
        pid = run.read_status().pid
        if pid and pid != os.getpid() and _pid_alive(pid):
            raise ValueError(f"run {run.run_id!r} is {state} in process {pid}; cancel it first "
                             f"(from the dashboard, or `kill {pid}`, which cancels it cleanly)")
    config = TrainConfig.from_dict(run.config())
    ckpt = load_checkpoint(run.last_checkpoint) if run.last_checkpoint.exists() else None
    run.cancel_path.unlink(missing_ok=True)
    return _execute(run, config, ckpt, progress, on_epoch_end)


def _execute(run: RunDir, config: TrainConfig, ckpt: dict | None, progress: bool,
             on_epoch_end: EpochCallback | None) -> RunDir:
    reporter = StatusReporter(run)
    if ckpt is None and run.cancel_requested:
        reporter.update(force=True, state="cancelled", message="cancelled before it started")
        return run
    reporter.update(force=True, state="running", epoch=0 if ckpt is None else int(ckpt["epoch"]),
                    epochs=config.epochs, step=0, error=None, pid=os.getpid(), started=time.time(),
                    message="loading data", eta_seconds=None)
    trainer = None
    try:
        with EBSDDataset(config.data) as dataset:
            trainer = Trainer(config, run, dataset, reporter, progress, on_epoch_end)
            if ckpt is not None:
                trainer.load_state(ckpt)
            trainer.fit()
            trainer.finish()
        run.cancel_path.unlink(missing_ok=True)  # a request that came after the last step
        reporter.update(force=True, state="completed", message="done", eta_seconds=0.0)
    except (Cancelled, KeyboardInterrupt) as e:
        done = trainer.epoch if trainer else 0
        reporter.update(force=True, state="cancelled", eta_seconds=None,
                        message=f"cancelled after {done} finished epochs; "
                                f"`python -m ebsdlib resume {run.run_id}` continues it")
        if isinstance(e, KeyboardInterrupt):
            raise
    except BaseException as e:
        reporter.update(force=True, state="failed", eta_seconds=None, error=f"{type(e).__name__}: {e}",
                        message="failed; see error")
        raise
    return run
