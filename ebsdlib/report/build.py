"""The sections of a meeting report, built with the dashboard's own tables and figures.

Every figure comes from the builders the pages call (:mod:`ebsdlib.views.figures`,
:mod:`ebsdlib.views.limit`), from the same view tables, so the report shows what the
dashboard shows. A part a run lacks (no evaluation, no UMAP, no phase map, an indexing run
without embeddings) is one plain sentence in its place.

Sections, in order (their ``key``):

``runs``
    Which runs, their method, model, data set and state.
``config``
    Each run's resolved ``config.json``, flattened; with several runs the settings that differ
    first.
``accuracy``
    The Accuracy page's overall table, with the stored bootstrap 95 % interval and the Wilson
    95 % interval of the accuracy (:func:`ebsdlib.simulate.limit.wilson_interval`), and per
    phase precision, recall (with its Wilson interval) and F1, with the per-phase figure.
``confusion``
    Each run's confusion matrix and, from the second run on, its difference from the first.
``umap``
    Each run's UMAP of its embeddings, coloured by true phase.
``phasemap``
    Each run's first phase map over pattern quality, with its phase fractions.
``limit``
    The Benchmarks page's physical-limit panel from ``<artifacts>/bench/dose.json``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ebsdlib.methods import is_network_run, run_method_label
from ebsdlib.phases import NOT_INDEXED_COLOR, Phase, with_colors
from ebsdlib.report._load import ReportRun, evaluated_runs, load_runs
from ebsdlib.report.blocks import Figure, Legend, Report, Section, Table, Text
from ebsdlib.report.tables import accuracy_table, config_table, per_phase_table
from ebsdlib.views.confusion import Normalisation, confusion_array, difference

#: What each normalisation of the confusion matrices shows, for the section's text.
NORMALISATION_WORDS = {
    "counts": "pattern counts",
    "row": "row-normalised: each true phase sums to 100 % (recall)",
    "column": "column-normalised: each predicted phase sums to 100 % (precision)",
}
#: Opacity of the phase colours over the quality map: the Phase maps page's default.
MAP_OPACITY = 0.7


def build_report(
    run_ids: Sequence[str],
    root: str | Path | None = None,
    *,
    evaluation: str | None = None,
    confusion: Normalisation = "row",
    title: str = "EBSD phase mapping: meeting report",
) -> Report:
    """The report of ``run_ids`` (see the module docstring for its sections).

    Parameters
    ----------
    run_ids
        Run ids under the artifacts folder, the first being the one the others are compared with.
    root
        The artifacts folder (``$EBSDLIB_ARTIFACTS`` or ``./artifacts`` when ``None``); the
        physical limit is read from its ``bench/dose.json``.
    evaluation
        Report the runs' evaluation ``evaluations/<evaluation>/`` (another data set or split)
        instead of their own split; UMAPs and phase maps are always the runs' own.
    confusion
        Normalisation of the confusion matrices and their differences.
    title
        The report's title.

    Raises
    ------
    FileNotFoundError
        When a run id has no folder (the message names it and how to list the runs).
    ValueError
        When no run is given, one is given twice, or ``confusion`` is unknown.
    """
    if confusion not in NORMALISATION_WORDS:
        raise ValueError(
            f"confusion normalisation {confusion!r} is not allowed; use one of {tuple(NORMALISATION_WORDS)}"
        )
    runs = load_runs(run_ids, root, evaluation)
    report = Report(title=title, created=datetime.now().astimezone(), run_ids=[r.run_id for r in runs])
    report.sections = [
        runs_section(runs, evaluation),
        config_section(runs),
        accuracy_section(runs),
        confusion_section(runs, confusion),
        umap_section(runs),
        phasemap_section(runs),
        limit_section(root),
    ]
    return report


def _plain(text: object) -> str:
    """A name (run, phase, method) for a Plotly title, which reads markup: escaped."""
    return html.escape(str(text), quote=False)


def legend_of(phases: Sequence[Phase], not_indexed: bool = False) -> Legend:
    """The phase colours of ``phases`` (and "not indexed") as a :class:`Legend`."""
    items = [(p.display_name, p.color) for p in with_colors(phases)]
    if not_indexed:
        items.append(("not indexed", NOT_INDEXED_COLOR))
    return Legend(tuple(items))


def runs_section(runs: Sequence[ReportRun], evaluation: str | None) -> Section:
    """The runs of the report in one table; a run whose evaluation cannot be shown says why."""
    rows = [
        {
            "run": r.label,
            "run id": r.run_id,
            "method": run_method_label(r.config),
            "model": str(r.config.get("model", "")),
            "data set": Path(str(r.config.get("data", ""))).name,
            "split": "validation" if r.config.get("validation") else ("test" if r.config else ""),
            "state": r.state,
            "epochs": int(r.config.get("epochs", 0) or 0),
        }
        for r in runs
    ]
    section = Section("runs", "Runs")
    intro = (
        f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
        + (f", compared with the first, {runs[0].label}" if len(runs) > 1 else "")
        + (f"; evaluated on {evaluation}" if evaluation else "; each evaluated on its own split")
        + "."
    )
    section.add(Text(intro), Table(pd.DataFrame(rows)))
    for r in runs:
        if r.problem:
            section.add(Text(f"{r.label}: {r.problem}.", "note"))
    return section


def config_section(runs: Sequence[ReportRun]) -> Section:
    """Each run's configuration: the settings that differ between the runs, then all of them."""
    section = Section("config", "Configurations")
    table = config_table(runs)
    if not len(table):
        return section.add(Text("None of these runs has a config.json.", "note"))
    if len(runs) > 1:
        values = table.drop(columns="setting")
        differ = table[values.nunique(axis=1) > 1]
        if len(differ):
            section.add(Table(differ, caption=f"{len(differ)} settings differ between the runs."))
        else:
            section.add(Text("The runs have the same settings."))
    section.add(
        Table(
            table,
            caption=f"All {len(table)} settings as written in each run's config.json.",
            collapsed=len(runs) > 1,
        )
    )
    return section


def accuracy_section(runs: Sequence[ReportRun]) -> Section:
    """Overall numbers with intervals, then per phase (table and the Accuracy page's figure)."""
    from ebsdlib.views.classes import compare_per_class, per_class_long, same_split
    from ebsdlib.views.figures import per_class_figure

    section = Section("accuracy", "Accuracy")
    evaluated = evaluated_runs(runs)
    for r in runs:
        if r.metrics is None:
            section.add(Text(f"{r.label} has no evaluation to show: {r.problem}.", "note"))
    if not evaluated:
        return section
    ok, why = same_split({r.label: r.config for r in evaluated})
    if not ok:
        section.add(Text(why, "note"))
    section.add(
        Table(
            accuracy_table(evaluated),
            caption=(
                "Bootstrap: the percentile interval stored with each evaluation; Wilson: the score interval of "
                "the same proportion. Contrastive runs classify with a linear probe on frozen "
                "embeddings; the k-NN vote is shown beside it. ECE: expected calibration error (15 bins)."
            ),
        )
    )
    phases = evaluated[0].phases
    section.add(
        Table(per_phase_table(evaluated, phases), caption="Per phase; support is the number of true patterns."),
        legend_of(phases),
        Figure(
            per_class_figure(per_class_long(compare_per_class({r.label: r.metrics for r in evaluated}, phases)), phases)
        ),
    )
    return section


def confusion_section(runs: Sequence[ReportRun], mode: Normalisation = "row") -> Section:
    """Each evaluated run's confusion matrix; each later run's difference from the first."""
    from ebsdlib.views.figures import confusion_figure, difference_figure

    section = Section("confusion", "Confusion matrices")
    section.add(Text(f"Rows are true phases, columns predicted phases; {NORMALISATION_WORDS[mode]}."))
    matrices: dict[str, np.ndarray] = {}
    for r in runs:
        if r.metrics is None:
            section.add(Text(f"{r.label}: no confusion matrix, the run has no evaluation.", "note"))
            continue
        try:
            matrices[r.run_id] = confusion_array(r.metrics, len(r.phases))
        except ValueError as e:
            section.add(Text(f"{r.label}: no confusion matrix ({e}).", "note"))
            continue
        labels = [p.display_name for p in r.phases]
        section.add(
            Figure(
                confusion_figure(matrices[r.run_id], labels, mode, title=_plain(r.label)),
                caption=f"Run {r.run_id} · {run_method_label(r.config)}.",
            )
        )
    shown = [r for r in runs if r.run_id in matrices]
    if len(shown) < 2:
        return section
    first = shown[0]
    for r in shown[1:]:
        if r.phase_names != first.phase_names:
            section.add(
                Text(
                    f"{r.label} − {first.label}: no difference, the runs have other phases "
                    f"({r.phase_names} and {first.phase_names}).",
                    "note",
                )
            )
            continue
        diff = difference(matrices[r.run_id], matrices[first.run_id], mode)
        labels = [p.display_name for p in r.phases]
        caption = (
            f"A = {r.label}, B = {first.label}. Red: A has more of this cell than B; blue: fewer. Off the "
            "diagonal, blue means A confuses these phases less."
            + (" Counts depend on the number of test patterns: compare normalised views." if mode == "counts" else "")
        )
        section.add(
            Figure(
                difference_figure(diff, labels, mode, title=f"Difference {_plain(r.label)} − {_plain(first.label)}"),
                caption=caption,
            )
        )
    return section


def umap_section(runs: Sequence[ReportRun]) -> Section:
    """Each run's UMAP of its embeddings coloured by true phase (the Embeddings page's figure)."""
    from ebsdlib.views.embedding import embedding_frame
    from ebsdlib.views.figures import embedding_figure

    section = Section("umap", "Embeddings (UMAP)")
    phases = next((r.phases for r in runs if r.umap is not None and r.phases), ())
    if phases:
        section.add(legend_of(phases))
    for r in runs:
        if r.umap is None:
            section.add(Text(_no_umap(r), "note"))
            continue
        if r.own_predictions is None:
            section.add(Text(f"{r.label}: its UMAP has no predictions table (predictions.csv) to colour it.", "note"))
            continue
        try:
            emb = embedding_frame(r.umap, r.own_predictions)
        except ValueError as e:
            section.add(Text(f"{r.label}: {e}.", "note"))
            continue
        acc = emb["correct"].eq("correct").mean()
        title = f"{_plain(r.label)}: {len(emb):,} patterns, {100 * acc:.1f}% correct"
        section.add(
            Figure(
                embedding_figure(emb, "true", r.phases, title=title),
                caption=f"Run {r.run_id}, its own split; colours are the true phases.",
            )
        )
    return section


def _no_umap(r: ReportRun) -> str:
    """Why a run has no UMAP, as the Embeddings page says it."""
    if not is_network_run(r.config):
        method = run_method_label(r.config) or "non-network"
        return f"{r.label} is a {method} run, not a trained network: it has no embeddings, so no UMAP."
    if r.run.embeddings_path.exists():
        return (
            f"{r.label} has embeddings but no UMAP of them (it was trained with UMAP off); "
            f"`python -m ebsdlib evaluate {r.run_id}` with UMAP on in its config makes one."
        )
    return f"{r.label} has no embeddings and no UMAP yet; `python -m ebsdlib evaluate {r.run_id}` makes them."


def phasemap_section(runs: Sequence[ReportRun]) -> Section:
    """Each run's first phase map over pattern quality (the Phase maps page's view at threshold
    0) with its phase fractions; a run without one says so."""
    from ebsdlib.phasemap import load_phasemap, render_rgb
    from ebsdlib.views.figures import map_figure
    from ebsdlib.views.mapview import fractions_frame

    section = Section("phasemap", "Phase maps")
    for r in runs:
        if not r.scans:
            section.add(
                Text(
                    f"{r.label} has no phase map; `python -m ebsdlib predict --run {r.run_id} --data SCAN.h5` "
                    "makes one.",
                    "note",
                )
            )
            continue
        scan = r.scans[0]
        try:
            pm = load_phasemap(r.run, scan)
        except (OSError, ValueError, KeyError) as e:
            section.add(Text(f"{r.label}: its phase map {scan!r} cannot be read ({e}).", "note"))
            continue
        h, w = pm.scan_shape
        overlay = render_rgb(pm.pred, pm.confidence, pm.quality, pm.phases, 0.0, MAP_OPACITY)
        accuracy = pm.accuracy if pm.has_truth else None
        more = [s for s in r.scans if s != scan]
        caption = (
            f"Run {r.run_id}, scan {scan}"
            + (f" (the run also maps {', '.join(more)})" if more else "")
            + (
                f". Against the true phases {100 * accuracy:.1f}% of the pixels are right."
                if accuracy is not None
                else "."
            )
        )
        fractions = fractions_frame(pm.fractions(0.0), pm.phases)[["label", "count", "percent"]]
        section.add(
            legend_of(pm.phases, not_indexed=True),
            Figure(
                map_figure(overlay, title=f"{_plain(r.label)}: predicted phases over pattern quality ({h}×{w})"),
                caption=caption,
            ),
            Table(
                fractions.rename(columns={"label": "phase", "count": "pixels", "percent": "%"}),
                caption=f"Phase fractions of {r.label} (no confidence threshold).",
                digits=1,
            ),
        )
    return section


def limit_section(root: str | Path | None = None) -> Section:
    """The Benchmarks page's physical-limit panel: pair accuracy of the ideal matcher against dose
    per cue, and the findings computed from it."""
    from ebsdlib.simulate.config import DEFAULT_DOSE
    from ebsdlib.views.bench import COMMANDS, bench_path, load_bench
    from ebsdlib.views.limit import limit_figure, limit_findings, limit_frame

    section = Section("limit", "The physical limit, taken apart")
    doc, problem = load_bench("dose", root)
    if problem:
        return section.add(Text(problem, "note"))
    if doc is None:
        return section.add(
            Text(f"No dose benchmark at {bench_path('dose', root)}; `{COMMANDS['dose']}` makes one.", "note")
        )
    frame = limit_frame(doc)
    if not len(frame):
        return section.add(
            Text(
                f"The dose benchmark has no physical-limit curves (made before they existed, or with --no-limit); "
                f"`{COMMANDS['dose']}` again makes them.",
                "note",
            )
        )
    cfg = doc.get("config", {})
    section.add(
        Figure(
            limit_figure(frame),
            caption=(
                "The ideal matcher knows each pattern's true orientation and decides between two candidates by "
                "which noise-free pattern it correlates with more: Ni against Ni₃Fe as they are, against Ni₃Fe at "
                "Ni's lattice parameter (chemical order the only difference), and against Ni at Ni₃Fe's lattice "
                f"parameter. Bands: Wilson 95 % intervals over {int(frame['n'].iloc[0])} decisions per point; "
                f"{cfg.get('forward_model', 'kinematical')} patterns."
            ),
        ),
        *(Text(line) for line in limit_findings(frame, default_dose=DEFAULT_DOSE)),
    )
    return section
