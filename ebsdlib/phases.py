"""The phase table: names, crystallography and the one colour each phase has everywhere.

Every data set stores its own phase table (see :mod:`ebsdlib.data.format`); this module
holds the project's three default phases and the colours used on every plot and map.
"""

from __future__ import annotations

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


def phase_from_name(name: str) -> Phase:
    """Default phase of that name, or a generic one with a fallback colour.

    Parameters
    ----------
    name
        Phase name such as a class sub-folder's name.
    """
    for p in DEFAULT_PHASES:
        if p.name.lower() == name.lower():
            return p
    return Phase(name=name, space_group=0, lattice_a=0.0, color="")


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
