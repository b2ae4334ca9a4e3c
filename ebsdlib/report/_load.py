"""The runs of a report as the report reads them: config, evaluation, predictions, UMAP, scans.

The same files the dashboard's pages read (``ebsdlib.runs.RunDir``), with the same view
functions turning them into tables; a part a run lacks stays ``None`` and the report says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ebsdlib.phases import Phase
from ebsdlib.runs import RunDir, open_run, summarize_run
from ebsdlib.views.phases import phase_names_of, phases_from_names
from ebsdlib.views.predictions import prediction_frame
from ebsdlib.views.runs import runs_table, short_labels


@dataclass
class ReportRun:
    """One run of a report; missing parts are ``None`` (or empty) and ``problem`` says why the
    evaluation cannot be shown.

    Parameters
    ----------
    run_id
        The run's id (its folder name).
    label
        Short, unique label among the report's runs (:func:`ebsdlib.views.runs.short_labels`).
    run
        The run folder.
    config
        ``config.json`` (``{}`` when absent); with an evaluation on another data set its
        ``data`` names that data set.
    state
        The run's state from the runs table (``completed``, ``running``, ``broken``, …).
    metrics
        ``metrics.json`` of what the run was evaluated on, or ``None``.
    predictions
        :func:`ebsdlib.views.predictions.prediction_frame` of its ``predictions.csv``, or ``None``.
    phases
        The run's phases, in label order.
    umap
        ``(n, 2)`` UMAP of the run's own split, or ``None``.
    own_predictions
        Predictions of the run's own split (the rows of ``umap``), or ``None``.
    scans
        Names of the run's phase maps, sorted.
    evaluated_on
        ``None`` for the run's own split, else the name of ``evaluations/<name>/``.
    problem
        Why the run's evaluation cannot be read, or ``None``.
    """

    run_id: str
    label: str
    run: RunDir
    config: dict = field(default_factory=dict)
    state: str = ""
    metrics: dict | None = None
    predictions: pd.DataFrame | None = None
    phases: tuple[Phase, ...] = ()
    umap: np.ndarray | None = None
    own_predictions: pd.DataFrame | None = None
    scans: list[str] = field(default_factory=list)
    evaluated_on: str | None = None
    problem: str | None = None

    @property
    def phase_names(self) -> list[str]:
        return [p.name for p in self.phases]


def evaluated_runs(runs: Sequence[ReportRun]) -> list[ReportRun]:
    """The runs that have an evaluation to show, in order."""
    return [r for r in runs if r.metrics is not None]


def check_run_ids(run_ids: Sequence[str], root: str | Path | None = None) -> list[RunDir]:
    """The run folders of ``run_ids``, checked before any work is done.

    Raises
    ------
    ValueError
        When no run is given or one is given twice.
    FileNotFoundError
        Naming the first run id that has no folder, and how to list the runs.
    """
    ids = list(run_ids)
    if not ids:
        raise ValueError("a report needs at least one run id; `python -m ebsdlib runs` lists the runs")
    twice = sorted({r for r in ids if ids.count(r) > 1})
    if twice:
        raise ValueError(f"run ids {twice} are given more than once; name each run once")
    return [open_run(r, root) for r in ids]


def load_runs(run_ids: Sequence[str], root: str | Path | None = None, evaluation: str | None = None) -> list[ReportRun]:
    """Read the report's runs (see :class:`ReportRun`), in the order given.

    Parameters
    ----------
    run_ids
        Run ids under ``root``.
    root
        The artifacts folder (``$EBSDLIB_ARTIFACTS`` or ``./artifacts`` when ``None``).
    evaluation
        Show the runs' evaluation ``evaluations/<evaluation>/`` (another data set or split,
        ``python -m ebsdlib evaluate RUN --data FILE``) instead of their own split; a run without
        it has a ``problem`` saying so.
    """
    folders = check_run_ids(run_ids, root)
    summaries = [summarize_run(f.path) for f in folders]
    labels = short_labels(runs_table(summaries), [f.run_id for f in folders])
    return [
        _read(folder, labels[folder.run_id], summary.state, evaluation)
        for folder, summary in zip(folders, summaries, strict=True)
    ]


def _read(run: RunDir, label: str, state: str, evaluation: str | None) -> ReportRun:
    """One :class:`ReportRun`; unreadable files become its ``problem``, never an exception."""
    from ebsdlib.train.cross_eval import list_evaluations

    out = ReportRun(run_id=run.run_id, label=label, run=run, state=state, evaluated_on=evaluation)
    try:
        out.config = run.config() if run.config_path.exists() else {}
    except ValueError as e:
        out.problem = str(e)
        return out
    out.scans = run.phasemap_scans()
    try:
        own_metrics, own_preds = run.metrics(), run.predictions()
        if evaluation is None:
            metrics, preds = own_metrics, own_preds
        else:
            found = list_evaluations(run)
            if evaluation not in found:
                out.problem = (
                    f"run {run.run_id!r} was not evaluated on {evaluation!r} (it has {sorted(found) or 'no other'} "
                    f"evaluations); `python -m ebsdlib evaluate {run.run_id} --data FILE` makes one"
                )
                metrics, preds = None, None
            else:
                metrics = json.loads((found[evaluation] / "metrics.json").read_text())
                path = found[evaluation] / "predictions.csv"
                preds = pd.read_csv(path) if path.exists() else None
                out.config = {**out.config, "data": metrics.get("data", out.config.get("data"))}
        names = _names(metrics, preds, own_metrics, own_preds)
        out.phases = phases_from_names(names) if names else ()
        out.metrics = metrics
        out.predictions = prediction_frame(preds, names) if preds is not None else None
        out.own_predictions = prediction_frame(own_preds, names) if own_preds is not None else None
        out.umap = run.umap()
    except (OSError, ValueError, KeyError) as e:  # a broken file: the report shows the reason
        out.problem = out.problem or f"{type(e).__name__}: {e}"
    if out.metrics is None and out.problem is None:
        out.problem = (
            f"run {run.run_id!r} has no evaluation (metrics.json; state {state}); "
            f"`python -m ebsdlib evaluate {run.run_id}` makes one"
        )
    return out


def _names(metrics, preds, own_metrics, own_preds) -> list[str]:
    """The phase names of whichever evaluation names them (``[]`` when none does)."""
    for m, p in ((metrics, preds), (own_metrics, own_preds)):
        if m is not None or p is not None:
            try:
                return phase_names_of(m, p)
            except ValueError:
                continue
    return []
