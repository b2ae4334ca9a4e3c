"""The phase table: names, crystallography and the one colour each phase has everywhere.

Every data set stores its own phase table (see :mod:`ebsdlib.data.format`); this module
holds the project's three default phases and the colours used on every plot and map.

Names resolve to phases by name (case-insensitive: ``ni3fe`` and ``NI`` are Ni₃Fe and Ni) or,
failing that, by chemical formula: a name is parsed into element counts, so any order of the
same elements and counts is the same phase (``FeNi3`` is Ni₃Fe, ``AlNi3`` is Ni₃Al). Counts are
compared as written, not reduced (``Ni2`` is not Ni). A name written with the usual capitals is
read as written (``Co`` is cobalt); only a name that so matches no phase is also read ignoring
case (``FENI3``, ``feni3``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

#: Colour of pixels below the confidence threshold ("not indexed") on every map.
NOT_INDEXED_COLOR = "#000000"

#: Colours given, in order, to phases that carry none of their own.
FALLBACK_COLORS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
)


@dataclass(frozen=True)
class Phase:
    """One crystalline phase as the project stores it.

    Parameters
    ----------
    name
        Short name used as the class label, e.g. ``"Ni3Fe"``.
    space_group
        International Tables space-group number.
    lattice_a
        Cubic lattice parameter in Å.
    color
        Display colour as ``#rrggbb``; the same on every page and plot.
    atoms
        Asymmetric unit as ``(element, x, y, z)`` tuples in fractional coordinates; empty
        for phases read from files that do not say.
    label
        Pretty name for plots, e.g. ``"Ni₃Fe"``.
    """

    name: str
    space_group: int
    lattice_a: float
    color: str
    atoms: tuple[tuple[str, float, float, float], ...] = field(default_factory=tuple)
    label: str = ""

    @property
    def display_name(self) -> str:
        """Name shown in plots and tables."""
        return self.label or self.name

    def to_dict(self) -> dict:
        """Plain dictionary for JSON storage."""
        d = asdict(self)
        d["atoms"] = [list(a) for a in self.atoms]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Phase:
        """Inverse of :meth:`to_dict`; tolerant of missing optional keys."""
        missing = {"name", "space_group", "lattice_a", "color"} - set(d)
        if missing:
            raise ValueError(
                f"phase entry {d!r} lacks the keys {sorted(missing)}; every phase needs "
                "name, space_group, lattice_a and color"
            )
        return cls(
            name=str(d["name"]),
            space_group=int(d["space_group"]),
            lattice_a=float(d["lattice_a"]),
            color=str(d["color"]),
            atoms=tuple(tuple(a) for a in d.get("atoms", ())),
            label=str(d.get("label", "")),
        )


NI = Phase(
    name="Ni",
    label="Ni",
    space_group=225,
    lattice_a=3.524,
    color="#1f77b4",
    atoms=(("Ni", 0.0, 0.0, 0.0),),
)
NI3AL = Phase(
    name="Ni3Al",
    label="Ni₃Al",
    space_group=221,
    lattice_a=3.567,
    color="#2ca02c",
    atoms=(
        ("Al", 0.0, 0.0, 0.0),
        ("Ni", 0.5, 0.5, 0.0),
        ("Ni", 0.5, 0.0, 0.5),
        ("Ni", 0.0, 0.5, 0.5),
    ),
)
NI3FE = Phase(
    name="Ni3Fe",
    label="Ni₃Fe",
    space_group=221,
    lattice_a=3.55,
    color="#d62728",
    atoms=(
        ("Fe", 0.0, 0.0, 0.0),
        ("Ni", 0.5, 0.5, 0.0),
        ("Ni", 0.5, 0.0, 0.5),
        ("Ni", 0.0, 0.5, 0.5),
    ),
)

#: The project's default phases, in label order 0, 1, 2.
DEFAULT_PHASES: tuple[Phase, ...] = (NI, NI3AL, NI3FE)

#: The pair users ask about: fcc Ni and L1₂ Ni₃Fe.
HARD_PAIR = ("Ni", "Ni3Fe")


_ELEMENT_TEXT = """H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr
    Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu
    Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg
    Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"""
#: Chemical element symbols, H to Og.
ELEMENTS = tuple(_ELEMENT_TEXT.split())
_SYMBOLS = frozenset(ELEMENTS)
_BY_LOWER = {e.lower(): e for e in ELEMENTS}
_FORMULA = re.compile(r"(?:[A-Z][a-z]?[0-9]*)+")
_TERM = re.compile(r"([A-Z][a-z]?)([0-9]*)")

#: How a name matched a phase: by its name (ignoring case) or by its chemical formula.
MATCH_BY_NAME = "name"
MATCH_BY_FORMULA = "alias by formula"


def formula_counts(formula: str) -> dict[str, int] | None:
    """Element counts of a formula written with the usual capitals, or ``None`` if it is not one.

    Parameters
    ----------
    formula
        E.g. ``"Ni3Fe"`` → ``{"Ni": 3, "Fe": 1}``; ``"FeNi3"`` gives the same counts. Repeated
        elements add up (``"NiAlNi2"`` → ``{"Ni": 3, "Al": 1}``); a count of 0 or an unknown
        symbol makes it no formula.
    """
    if not _FORMULA.fullmatch(formula):
        return None
    counts: Counter[str] = Counter()
    for symbol, digits in _TERM.findall(formula):
        if symbol not in _SYMBOLS or digits.startswith("0"):
            return None
        counts[symbol] += int(digits or 1)
    return dict(counts)


def _counts_ignoring_case(name: str) -> list[dict[str, int]]:
    """Every reading of ``name`` as element symbols and counts when capitals are ignored (64 at most)."""
    text = name.lower()

    def steps(i: int) -> list[tuple[str, int, int]]:
        """(symbol, count, next position) for each element symbol that can start at ``i``."""
        out = []
        for width in (2, 1):
            symbol = _BY_LOWER.get(text[i : i + width]) if i + width <= len(text) else None
            digits = re.match(r"[0-9]*", text[i + width :]).group()
            if symbol is not None and not digits.startswith("0"):
                out.append((symbol, int(digits or 1), i + width + len(digits)))
        return out

    # ends[i]: text[i:] reads as symbols to the end, so the walk below never enters a dead end
    ends = [False] * len(text) + [True]
    for i in range(len(text) - 1, -1, -1):
        ends[i] = any(ends[j] for _, _, j in steps(i))
    readings: list[dict[str, int]] = []

    def walk(i: int, counts: dict[str, int]) -> None:
        if i == len(text):
            readings.append(counts)
        for symbol, n, j in steps(i):
            if ends[j] and len(readings) < 64:
                walk(j, {**counts, symbol: counts.get(symbol, 0) + n})

    if text and ends[0]:
        walk(0, {})
    return readings


def match_phase(name: str, phases: Sequence[Phase] = DEFAULT_PHASES) -> tuple[Phase, str] | None:
    """The phase of ``phases`` that ``name`` stands for, and how it matched.

    Parameters
    ----------
    name
        A phase name as found in a file or folder name, e.g. ``"FeNi3"`` or ``"ni"``.
    phases
        The candidates; a phase matches by formula when its own name is a formula.

    Returns
    -------
    match
        ``(phase, MATCH_BY_NAME)`` for the same name ignoring case, ``(phase, MATCH_BY_FORMULA)``
        for the same element counts, or ``None``.

    Raises
    ------
    ValueError
        ``name`` has the composition of more than one of ``phases``.
    """
    for p in phases:
        if p.name.lower() == name.lower():
            return p, MATCH_BY_NAME
    compositions = {p.name: formula_counts(p.name) for p in phases}
    exact = formula_counts(name)
    for readings in ([exact] if exact else [], _counts_ignoring_case(name)):
        found = [p for p in phases if compositions[p.name] is not None and compositions[p.name] in readings]
        if len(found) > 1:
            raise ValueError(
                f"phase name {name!r} has the composition of several phases {[p.name for p in found]}; "
                "use one of these names exactly"
            )
        if found:
            return found[0], MATCH_BY_FORMULA
    return None


def resolve_phase_name(name: str, phases: Sequence[Phase] = DEFAULT_PHASES) -> Phase | None:
    """The phase of ``phases`` named ``name`` (ignoring case) or with its formula, else ``None``.

    See :func:`match_phase`; ``resolve_phase_name("FeNi3")`` is the default Ni₃Fe.
    """
    match = match_phase(name, phases)
    return match[0] if match else None


def phase_from_name(name: str) -> Phase:
    """Default phase of that name or formula, or a generic one with a fallback colour.

    Parameters
    ----------
    name
        Phase name such as a class sub-folder's name; ``"ni3fe"`` and ``"FeNi3"`` both give
        the default Ni₃Fe (see :func:`resolve_phase_name`).
    """
    return resolve_phase_name(name) or Phase(name=name, space_group=0, lattice_a=0.0, color="")


def with_colors(phases: list[Phase] | tuple[Phase, ...]) -> tuple[Phase, ...]:
    """Give every phase without a colour one from :data:`FALLBACK_COLORS`."""
    used = {p.color for p in phases if p.color}
    free = [c for c in FALLBACK_COLORS if c not in used]
    out = []
    for p in phases:
        if not p.color:
            color = free.pop(0) if free else FALLBACK_COLORS[len(out) % len(FALLBACK_COLORS)]
            p = Phase(p.name, p.space_group, p.lattice_a, color, p.atoms, p.label)
        out.append(p)
    return tuple(out)


def color_map(phases: list[Phase] | tuple[Phase, ...]) -> dict[str, str]:
    """Phase name → colour, for Plotly ``color_discrete_map`` and friends."""
    return {p.name: p.color for p in with_colors(phases)}
