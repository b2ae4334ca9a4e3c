"""What a report is made of: sections of figures, tables, text and notes, before any HTML.

:func:`ebsdlib.report.build.build_report` fills these; :mod:`ebsdlib.report.document` writes
them out. Keeping the two apart lets tests check what a report says without parsing HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pandas as pd

#: How a text block reads: ``"text"`` a paragraph (``**bold**`` allowed), ``"note"`` a part a run
#: lacks or a warning, said in place of the figure.
TextKind = Literal["text", "note"]


@dataclass(frozen=True)
class Figure:
    """A Plotly figure, as the dashboard draws it, with a caption below it."""

    figure: Any
    caption: str = ""


@dataclass(frozen=True)
class Table:
    """A table; floats are written with ``digits`` decimals, ``None``/NaN as an em dash.

    ``collapsed`` tables sit in a ``<details>`` element under ``caption``.
    """

    frame: pd.DataFrame
    caption: str = ""
    digits: int = 3
    collapsed: bool = False


@dataclass(frozen=True)
class Text:
    """A paragraph (``kind="text"``) or a plain sentence in place of a missing part (``"note"``)."""

    text: str
    kind: TextKind = "text"


@dataclass(frozen=True)
class Legend:
    """The phase colours as one line, as the dashboard's pages show them: ``(name, colour)`` pairs."""

    items: tuple[tuple[str, str], ...]


Block = Figure | Table | Text | Legend


@dataclass
class Section:
    """One part of the report: a heading (with its anchor ``key``) and its blocks in order."""

    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> Section:
        self.blocks.extend(blocks)
        return self

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]

    @property
    def notes(self) -> list[str]:
        return [b.text for b in self.blocks if isinstance(b, Text) and b.kind == "note"]


@dataclass
class Report:
    """A whole report: its title, when it was made, the runs it is of and its sections."""

    title: str
    created: datetime
    run_ids: list[str]
    sections: list[Section] = field(default_factory=list)

    def section(self, key: str) -> Section:
        """The section with anchor ``key``; ``KeyError`` naming the keys there are."""
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(f"the report has no section {key!r}; its sections are {[s.key for s in self.sections]}")

    @property
    def figures(self) -> list[Figure]:
        """Every figure of the report, in order."""
        return [f for s in self.sections for f in s.figures]
