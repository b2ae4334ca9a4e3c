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

Under ``torchrun`` both functions train with DistributedDataParallel on every process (rules
in :mod:`ebsdlib.distributed`): rank 0 creates or reads the run folder and hands the run id,
config and checkpoint to the others, which never open a file in it; after the epochs the
other ranks are done and rank 0 alone fits the probe and evaluates.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from ebsdlib._process import pid_alive
from ebsdlib.data.fingerprint import resolve_data
from ebsdlib.data.format import EBSDDataset
from ebsdlib.distributed import Context, setup
from ebsdlib.io import write_json
from ebsdlib.paths import portable_path, runs_root
from ebsdlib.runs import RunDir, check_run_id, new_run_id
from ebsdlib.train.config import TrainConfig
from ebsdlib.train.status import StatusReporter, as_run_dir
from ebsdlib.train.trainer import Cancelled, EpochCallback, Trainer

__all__ = ["Cancelled", "resume", "train"]


def train(
    config: TrainConfig,
    run_dir: RunDir | str | Path | None = None,
    progress: bool = True,
    *,
    root: str | Path | None = None,
    on_epoch_end: EpochCallback | None = None,
) -> RunDir:
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
        Called as ``on_epoch_end(epoch, history_row)`` after each epoch's checkpoint (on rank 0
        only under torchrun).

    Returns
    -------
    RunDir
        The run folder; its ``status.json`` says ``completed`` or ``cancelled``. Any error
        leaves ``failed`` with the message and is raised again.
    """
    ctx = setup()

    def prepare() -> str:  # rank 0 only under torchrun
        if run_dir is None:
            run = RunDir(runs_root(root) / new_run_id(config.loss, config.model, root))
        elif isinstance(run_dir, str) and "/" not in run_dir:
            run = RunDir(runs_root(root) / check_run_id(run_dir))
        else:
            run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
        run.path.mkdir(parents=True, exist_ok=True)
        if run.last_checkpoint.exists() or run.metrics_path.exists():
            raise ValueError(
                f"run folder {str(run.path)!r} already holds a trained run; "
                f"`python -m ebsdlib resume {run.run_id}` continues it, or choose a new run id"
            )
        base = run.path.parent.parent  # the artifacts folder: stored paths are relative to it when inside
        weights = portable_path(config.pretrained, base) if config.pretrained else None
        stored = replace(config, data=portable_path(config.data, base), pretrained=weights)
        write_json(run.config_path, stored.to_dict())
        return str(run.path), stored.to_dict()

    path, stored = ctx.main_only(prepare)
    return _execute(RunDir(path), TrainConfig.from_dict(stored), None, progress, on_epoch_end, ctx)


def resume(
    run: RunDir | str | Path,
    progress: bool = True,
    *,
    root: str | Path | None = None,
    on_epoch_end: EpochCallback | None = None,
) -> RunDir:
    """Continue a cancelled, failed or killed run from ``checkpoint_last.pt``.

    A run that stopped before its first checkpoint starts again from the beginning.
    Raises ``ValueError`` for a completed run (use :func:`ebsdlib.train.evaluate.evaluate_run`).
    Under torchrun the run must be resumed on as many processes as it was trained on.
    """
    from ebsdlib.train.checkpoint import load_checkpoint

    ctx = setup()

    def prepare() -> tuple[str, dict, dict | None]:  # rank 0 only under torchrun
        folder = as_run_dir(run, root)
        try:
            state = folder.read_status().state
        except (FileNotFoundError, ValueError):
            state = None
        if state == "completed":
            raise ValueError(
                f"run {folder.run_id!r} is already completed; nothing to resume "
                f"(`python -m ebsdlib evaluate {folder.run_id}` re-evaluates it)"
            )
        if state in ("queued", "running"):
            pid = folder.read_status().pid
            if pid and pid != os.getpid() and pid_alive(pid):
                raise ValueError(
                    f"run {folder.run_id!r} is {state} in process {pid}; cancel it first "
                    f"(from the dashboard, or `kill {pid}`, which cancels it cleanly)"
                )
        config = TrainConfig.from_dict(folder.config())
        ckpt = load_checkpoint(folder.last_checkpoint) if folder.last_checkpoint.exists() else None
        folder.cancel_path.unlink(missing_ok=True)
        for partial in folder.path.glob(".*.part"):  # temporary files of writes a killed process left
            partial.unlink(missing_ok=True)
        return str(folder.path), config.to_dict(), ckpt

    path, config, ckpt = ctx.main_only(prepare)
    return _execute(RunDir(path), TrainConfig.from_dict(config), ckpt, progress, on_epoch_end, ctx)


class SilentReporter:
    """The status reporter of ranks other than 0 under torchrun: they never write ``status.json``."""

    def due(self) -> bool:
        return False

    def update(self, force: bool = False, **changes) -> None:
        """Nothing: rank 0 reports the run."""


def _execute(
    run: RunDir,
    config: TrainConfig,
    ckpt: dict | None,
    progress: bool,
    on_epoch_end: EpochCallback | None,
    ctx: Context | None = None,
) -> RunDir:
    ctx = ctx or Context()
    reporter = StatusReporter(run) if ctx.is_main else SilentReporter()
    ctx.on_remote_failure(
        lambda error: reporter.update(
            force=True, state="failed", eta_seconds=None, error=error, message="failed; see error"
        )
    )
    if ckpt is None and ctx.main_only(lambda: run.cancel_requested):
        reporter.update(force=True, state="cancelled", message="cancelled before it started")
        return run
    on = f" on {ctx.world_size} processes" if ctx.enabled else ""
    reporter.update(
        force=True,
        state="running",
        epoch=0 if ckpt is None else int(ckpt["epoch"]),
        epochs=config.epochs,
        step=0,
        error=None,
        pid=os.getpid(),
        started=time.time(),
        message=f"loading data{on}",
        eta_seconds=None,
    )
    trainer = None
    try:
        with EBSDDataset(resolve_data(config.data, run.path.parent.parent)) as dataset:
            trainer = Trainer(config, run, dataset, reporter, progress and ctx.is_main, on_epoch_end, dist=ctx)
            if ckpt is not None:
                trainer.load_state(ckpt)
            trainer.fit()
            if ctx.is_main:  # the other ranks are done; rank 0 fits the probe and evaluates
                trainer.finish()
        if ctx.is_main:
            run.cancel_path.unlink(missing_ok=True)  # a request that came after the last step
        reporter.update(force=True, state="completed", message="done", eta_seconds=0.0)
    except (Cancelled, KeyboardInterrupt) as e:
        done = trainer.epoch if trainer else 0
        reporter.update(
            force=True,
            state="cancelled",
            eta_seconds=None,
            message=f"cancelled after {done} finished epochs; `python -m ebsdlib resume {run.run_id}` continues it",
        )
        if isinstance(e, KeyboardInterrupt):
            raise
    except BaseException as e:
        error = ctx.fail(e)  # under torchrun: tell the other ranks; an earlier error of theirs wins
        reporter.update(force=True, state="failed", eta_seconds=None, error=error, message="failed; see error")
        raise
    return run
