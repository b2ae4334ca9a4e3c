"""The band families a phase offers Hough indexing: those its lattice allows and that are bright.

Allowed: every ``{hkl}`` that the lattice centring allows with ``h² + k² + l² ≤ max_index``
(11 by default: the d-spacing cut of PyEBSDIndex's own fcc list): fcc (F) {111} {200} {220}
{311}; bcc (I) {110} {200} {211} {220} {310} (PyEBSDIndex's BCC list and {220}, which is
parallel to {110}); primitive cubic (P, e.g. L1₂ in Pm-3m) every family, so L1₂ would add the
superlattice families {100} {110} {210} {211} {221} {300} {310}.

Bright: a Radon transform finds the strongest bands of a pattern, so a family is kept only when
its kinematical electron intensity ``|F_hkl|²`` (Lobato–Van Dyck scattering factors,
:func:`ebsdlib.simulate.crystal.structure_factor`) is at least ``min_intensity`` of the
phase's strongest allowed family. Relative to {111} (measured here): Ni {200} 0.78, {220}
0.39, {311} 0.27; the L1₂ superlattice families 0.006–0.013 in Ni₃Al (∝ (f_Ni − f_Al)²) and
≤ 0.0002 in Ni₃Fe. At the default 0.05 every superlattice family is dropped: they are never
among the nine bands detected, and listing them only lets an L1₂ phase fit spurious bands (in
an earlier version, that list called 5 of kikuchipy's 9 real Ni patterns Ni₃Al and put 29 % of
simulated L1₂ orientations more than 5° off). The three default phases then have the same
band families — band geometry cannot tell them apart (``HoughIndexer.same_bands``). A phase
without atoms has no structure factors; it keeps every allowed family. Only cubic phases: the
phase table stores one lattice parameter.
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


def band_families(phase: Phase, max_index: int = 11, min_intensity: float = 0.0) -> list[tuple[int, int, int]]:
    """The band (plane) families ``{hkl}`` of ``phase``: those its lattice centring allows with
    ``h² + k² + l² ≤ max_index`` and whose ``|F_hkl|²`` is at least ``min_intensity`` of the
    strongest of them (0: all allowed), in order of decreasing d-spacing (see the module docstring).

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
    allowed = [hkl for _, hkl in sorted(found)]
    if min_intensity <= 0 or not phase.atoms:
        return allowed
    from ebsdlib.simulate.crystal import structure_factor

    intensity = np.array([structure_factor(phase, hkl) ** 2 for hkl in allowed])
    return [hkl for hkl, i in zip(allowed, intensity, strict=True) if i >= min_intensity * intensity.max()]
