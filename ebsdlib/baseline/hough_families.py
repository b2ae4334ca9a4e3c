"""The band families a phase offers Hough indexing, from its space group's lattice centring.

Every ``{hkl}`` that the lattice centring allows with ``h² + k² + l² ≤ max_index`` (11 by
default: the d-spacing cut of PyEBSDIndex's own fcc list): fcc (F) {111} {200} {220} {311};
bcc (I) {110} {200} {211} {220} {310} (PyEBSDIndex's BCC list and {220}, which is parallel to
{110}); primitive cubic (P, e.g. L1₂ in Pm-3m) every family, so L1₂ adds the superlattice
families {100} {110} {210} {211} {221} {310}. Only cubic phases: the phase table stores one
lattice parameter.
"""

from __future__ import annotations

import numpy as np

from ebsdlib.phases import Phase

#: Cubic space groups with a face-centred (F) or body-centred (I) lattice; the rest of 195–230 are primitive.
_F_CENTRED = frozenset({196, 202, 203, 209, 210, 216, 219, 225, 226, 227, 228})
_I_CENTRED = frozenset({197, 199, 204, 206, 211, 214, 217, 220, 229, 230})


def lattice_centring(space_group: int) -> str:
    """``"F"``, ``"I"`` or ``"P"``: the lattice centring of a cubic space group (195–230).

    Raises
    ------
    ValueError
        For a space group that is not cubic.
    """
    if not isinstance(space_group, (int, np.integer)) or not 195 <= int(space_group) <= 230:
        raise ValueError(
            f"space group {space_group!r} is not cubic (195–230); Hough indexing here supports cubic phases only"
        )
    sg = int(space_group)
    return "F" if sg in _F_CENTRED else "I" if sg in _I_CENTRED else "P"


def check_hough_phase(phase: Phase, where: str = "") -> None:
    """Refuse a phase Hough indexing cannot make band families for, naming it and the fix.

    Parameters
    ----------
    phase
        A candidate phase.
    where
        The file whose phase table it comes from, for the message.
    """
    prefix = f"{where}: " if where else ""
    if not phase.space_group or not phase.lattice_a or phase.lattice_a <= 0:
        raise ValueError(
            f"{prefix}phase {phase.name!r} has space group {phase.space_group!r} and lattice parameter "
            f"{phase.lattice_a!r} Å, so Hough indexing has no band families for it; name the phase after "
            "a known one (Ni, Ni3Al, Ni3Fe, e.g. `ebsdlib import … --phases Ni Ni3Al Ni3Fe`) or give the "
            "data set's phase table its space group and lattice parameter"
        )
    try:
        lattice_centring(phase.space_group)
    except ValueError as e:
        raise ValueError(f"{prefix}phase {phase.name!r}: {e}") from None


def band_families(phase: Phase, max_index: int = 11) -> list[tuple[int, int, int]]:
    """The band (plane) families ``{hkl}`` of ``phase``: those its lattice centring allows with
    ``h² + k² + l² ≤ max_index``, in order of decreasing d-spacing (see the module docstring).

    Raises
    ------
    ValueError
        For a phase without space group or lattice parameter, or a non-cubic one.
    """
    check_hough_phase(phase)
    centring = lattice_centring(phase.space_group)
    found = []
    top = int(np.sqrt(max_index))
    for h in range(top + 1):
        for k in range(h + 1):
            for l in range(k + 1):  # noqa: E741 - Miller index
                n = h * h + k * k + l * l
                if n == 0 or n > max_index:
                    continue
                if centring == "F" and len({h % 2, k % 2, l % 2}) > 1:
                    continue
                if centring == "I" and (h + k + l) % 2:
                    continue
                found.append((n, (h, k, l)))
    return [hkl for _, hkl in sorted(found)]
