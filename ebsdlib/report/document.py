"""A :class:`~ebsdlib.report.blocks.Report` as one self-contained HTML file.

Self-contained means it opens offline and asks the network for nothing: plotly.js is inlined
once in the ``<head>`` (``plotly.offline.get_plotlyjs``) and every figure is a ``<div>`` with its
data (``plotly.io.to_html(..., include_plotlyjs=False)``); images are data URIs (the phase maps,
:func:`ebsdlib.views.figures.image_data_uri`); the style sheet is inline and uses the system's
fonts. Every text that comes from a run (names, phases, settings) is escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ebsdlib import __version__
from ebsdlib.io import atomic_write
from ebsdlib.report.blocks import Block, Figure, Legend, Report, Section, Table, Text
from ebsdlib.views.confusion import Normalisation

#: Plotly's options for every figure: no logo, resizing with the page.
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

STYLE = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 0 auto; max-width: 1200px; padding: 1.5rem 2rem 4rem; color: #1f2328; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; }
h2 { margin-top: 2.4rem; border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem; }
.meta { color: #57606a; margin-top: 0; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.55rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
.caption { color: #57606a; font-size: 0.88rem; margin: 0.2rem 0 1rem; }
.note { background: #fff8c5; border-left: 4px solid #d4a72c; padding: 0.45rem 0.8rem; margin: 0.6rem 0; }
.legend span.swatch { width: 1em; height: 1em; display: inline-block; border: 1px solid #888;
                      border-radius: 2px; margin-right: 0.35em; vertical-align: -0.15em; }
.legend span.item { margin-right: 1.1em; white-space: nowrap; }
.figure { margin: 0.8rem 0; }
details summary { cursor: pointer; color: #0969da; margin: 0.4rem 0; }
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _markup(text: str) -> str:
    """Escaped text with ``**bold**`` and ```code``` of the findings as HTML."""
    out = _esc(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", out)


def _cell(value: object, digits: int) -> tuple[str, bool]:
    """A table cell's text and whether it is a number."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—", False
    if isinstance(value, (bool, np.bool_)):
        return ("yes" if value else "no"), False
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}", True
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}f}", True
    return str(value), False


def table_html(frame: pd.DataFrame, digits: int = 3) -> str:
    """A table as HTML: escaped headers and cells, numbers right-aligned."""
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = []
        for v in values:
            text, number = _cell(v, digits)
            cells.append(f'<td class="num">{_esc(text)}</td>' if number else f"<td>{_esc(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def figure_html(figure, div_id: str) -> str:
    """One figure's ``<div>`` and the script that draws it (plotly.js not included)."""
    import plotly.io as pio

    return pio.to_html(
        figure,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        config=PLOTLY_CONFIG,
        div_id=div_id,
        default_width="100%",
    )


def block_html(block: Block, div_id: str) -> str:
    """HTML of one block; ``div_id`` names a figure's ``<div>``."""
    if isinstance(block, Figure):
        caption = f'<p class="caption">{_esc(block.caption)}</p>' if block.caption else ""
        return f'<div class="figure">{figure_html(block.figure, div_id)}{caption}</div>'
    if isinstance(block, Table):
        body = table_html(block.frame, block.digits)
        if block.collapsed:
            return f"<details><summary>{_esc(block.caption or 'Table')}</summary>{body}</details>"
        caption = f'<p class="caption">{_esc(block.caption)}</p>' if block.caption else ""
        return body + caption
    if isinstance(block, Text):
        return f'<p class="note">{_markup(block.text)}</p>' if block.kind == "note" else f"<p>{_markup(block.text)}</p>"
    if isinstance(block, Legend):
        items = "".join(
            f'<span class="item"><span class="swatch" style="background:{_esc(color)}"></span>{_esc(name)}</span>'
            for name, color in block.items
        )
        return f'<p class="legend">{items}</p>'
    raise TypeError(f"a report block must be a Figure, Table, Text or Legend, not {type(block).__name__}")


def _section_html(section: Section, first_figure: int) -> str:
    parts = [f'<section id="{_esc(section.key)}"><h2>{_esc(section.title)}</h2>']
    k = first_figure
    for block in section.blocks:
        parts.append(block_html(block, f"figure-{k}"))
        k += isinstance(block, Figure)
    parts.append("</section>")
    return "\n".join(parts)


def report_html(report: Report) -> str:
    """The whole report as one HTML document (see the module docstring)."""
    from plotly.offline import get_plotlyjs

    script = f'<script type="text/javascript">{get_plotlyjs()}</script>' if report.figures else ""
    nav = " ".join(f'<a href="#{_esc(s.key)}">{_esc(s.title)}</a>' for s in report.sections)
    body, k = [], 0
    for section in report.sections:
        body.append(_section_html(section, k))
        k += len(section.figures)
    made = report.created.strftime("%Y-%m-%d %H:%M %Z").strip()
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(report.title)}</title>\n<style>{STYLE}</style>\n{script}\n</head>\n<body>\n"
        f"<h1>{_esc(report.title)}</h1>\n"
        f'<p class="meta">Made {_esc(made)} by ebsdlib {_esc(__version__)} from runs '
        f"{_esc(', '.join(report.run_ids))}. Self-contained: it opens offline.</p>\n"
        f"<nav>{nav}</nav>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def write_report(
    run_ids: Sequence[str],
    out: str | Path,
    root: str | Path | None = None,
    *,
    evaluation: str | None = None,
    confusion: Normalisation = "row",
) -> Path:
    """Build the report of ``run_ids`` and write it to ``out`` atomically.

    The folder of ``out`` is made when missing; the file is written beside it under a temporary
    name and renamed (:func:`ebsdlib.io.atomic_write`), so a failure never leaves half a report.

    Parameters
    ----------
    run_ids
        Run ids under the artifacts folder (the first is the one the others are compared with).
    out
        The HTML file to write.
    root
        The artifacts folder (``$EBSDLIB_ARTIFACTS`` or ``./artifacts`` when ``None``).
    evaluation, confusion
        As :func:`ebsdlib.report.build.build_report`.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    from ebsdlib.report.build import build_report

    out = Path(out)
    if out.is_dir():
        raise ValueError(
            f"the report's file {str(out)!r} is a folder; name a file such as {str(out / 'report.html')!r}"
        )
    text = report_html(build_report(run_ids, root, evaluation=evaluation, confusion=confusion))
    return atomic_write(out, lambda p: p.write_text(text, encoding="utf-8"))
