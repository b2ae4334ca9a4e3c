"""The phase table of a run and the one colour each phase has on every plot."""

from __future__ import annotations

from collections.abc import Sequence

from ebsdlib.phases import NOT_INDEXED_COLOR, Phase, phase_from_name, with_colors

#: Name used for pixels or patterns below the confidence threshold.
NOT_INDEXED = "not indexed"

#: Colours of the correct/wrong colouring of embeddings.
CORRECT_COLORS = {"correct": "#7f7f7f", "wrong": "#e6550d"}


def phases_from_names(names: Sequence[str]) -> tuple[Phase, ...]:
    """Default phases for known names (with their colours), fallback colours for the rest.

    Parameters
    ----------
    names
        Phase names in label order, e.g. ``["Ni", "Ni3Al", "Ni3Fe"]``.
    """
    return with_colors([phase_from_name(str(n)) for n in names])


def phase_names_of(metrics: dict | None, predictions=None) -> list[str]:
    """Phase names of a run, from ``metrics.json`` or the ``prob_<phase>`` columns.

    Parameters
    ----------
    metrics
        The run's metrics dictionary (or ``None``).
    predictions
        The run's predictions table (or ``None``).

    Raises
    ------
    ValueError
        When neither source names the phases.
    """
    if metrics:
        for key in ("phase_names", "phases", "class_names"):
            names = metrics.get(key)
            if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
                return list(names)
        per_class = metrics.get("per_class")
        if isinstance(per_class, dict) and per_class:
            return list(per_class)
        if isinstance(per_class, list) and per_class and all(isinstance(r, dict) and "phase" in r for r in per_class):
            return [str(r["phase"]) for r in per_class]
    if predictions is not None:
        names = [c[len("prob_") :] for c in predictions.columns if c.startswith("prob_")]
        if names:
            return names
    raise ValueError(
        "the run names no phases: metrics.json has no 'phase_names' and predictions.csv "
        "has no 'prob_<phase>' columns; re-evaluate it with `python -m ebsdlib evaluate RUN`"
    )


def color_lookup(phases: Sequence[Phase], *, not_indexed: bool = True) -> dict[str, str]:
    """Phase name *and* display name → colour (so either can label a plot), plus "not indexed"."""
    out: dict[str, str] = {}
    for p in with_colors(phases):
        out[p.name] = p.color
        out[p.display_name] = p.color
    if not_indexed:
        out[NOT_INDEXED] = NOT_INDEXED_COLOR
    return out


def display_names(phases: Sequence[Phase]) -> dict[str, str]:
    """Phase name → pretty name (``Ni3Fe`` → ``Ni₃Fe``)."""
    return {p.name: p.display_name for p in phases}
