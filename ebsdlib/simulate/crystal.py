"""Crystal structures and Kikuchi reflectors of the project's phases.

Turns an :class:`ebsdlib.phases.Phase` (space group, cubic lattice parameter, atoms) into the
objects kikuchipy simulates from: an :class:`orix.crystal_map.Phase` carrying a
:class:`diffpy.structure.Structure`, and the list of reflectors (lattice planes) with their
kinematical structure factors for electrons and their Bragg angles.

Structure factors use the Lobato–Van Dyck electron scattering factors (``"lobato"``), not the
X-ray tables, because EBSD bands are electron diffraction. Reflectors with |F| ≈ 0 (the
fcc extinctions, e.g. {100} and {110} of Ni) are dropped; the L1₂ superlattice reflectors stay,
with |F| ∝ f_Ni − f_Al (Ni₃Al, clearly non-zero) or f_Ni − f_Fe (Ni₃Fe, about an order of
magnitude smaller).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.phases import Phase

if TYPE_CHECKING:
    from diffsims.crystallography import ReciprocalLatticeVector
    from orix.crystal_map import Phase as OrixPhase

#: Reflectors with |F| below this fraction of the strongest are treated as extinct.
EXTINCTION_TOLERANCE = 1e-5


def check_simulatable(phase: Phase) -> None:
    """Raise ``ValueError`` naming the phase when it lacks what a simulation needs."""
    if not phase.atoms:
        raise ValueError(
            f"phase {phase.name!r} has no atoms; a simulation needs the asymmetric unit as "
            "(element, x, y, z) tuples in Phase.atoms"
        )
    if not 1 <= phase.space_group <= 230:
        raise ValueError(
            f"phase {phase.name!r} has space group {phase.space_group!r}; give its International Tables number (1–230)"
        )
    if not phase.lattice_a > 0:
        raise ValueError(
            f"phase {phase.name!r} has lattice parameter {phase.lattice_a!r} Å; give the cubic "
            "lattice parameter a > 0 in Å"
        )


def orix_phase(phase: Phase) -> OrixPhase:
    """The phase as an :class:`orix.crystal_map.Phase` with a cubic crystal structure.

    Parameters
    ----------
    phase
        A phase with space group, ``lattice_a`` (Å) and atoms in fractional coordinates.
    """
    from diffpy.structure import Atom, Lattice, Structure
    from orix.crystal_map import Phase as OrixPhase

    check_simulatable(phase)
    a = float(phase.lattice_a)
    lattice = Lattice(a, a, a, 90, 90, 90)
    atoms = [Atom(element, [x, y, z]) for element, x, y, z in phase.atoms]
    structure = Structure(atoms=atoms, lattice=lattice)
    return OrixPhase(name=phase.name, space_group=phase.space_group, structure=structure, color=phase.color or None)


def reflectors(
    phase: Phase,
    min_dspacing: float = 0.7,
    voltage: float = 20e3,
) -> ReciprocalLatticeVector:
    """Kinematical reflectors of a phase: structure factors and Bragg angles set, extinct ones dropped.

    Parameters
    ----------
    phase
        The phase to simulate.
    min_dspacing
        Smallest interplanar spacing in Å; smaller values add more, weaker, narrower bands.
    voltage
        Accelerating voltage in V (sets the electron wavelength and so the band widths).
    """
    from diffsims.crystallography import ReciprocalLatticeVector

    if not min_dspacing > 0:
        raise ValueError(f"min_dspacing {min_dspacing!r} must be a positive spacing in Å, e.g. 0.7")
    ref = ReciprocalLatticeVector.from_min_dspacing(orix_phase(phase), min_dspacing=min_dspacing)
    ref.sanitise_phase()
    ref.calculate_structure_factor("lobato")
    amplitude = np.abs(ref.structure_factor)
    ref = ref[amplitude > EXTINCTION_TOLERANCE * amplitude.max()]
    ref.calculate_theta(voltage)
    return ref


def structure_factor(phase: Phase, hkl: tuple[int, int, int]) -> float:
    """Kinematical electron structure-factor amplitude |F_hkl| of one reflection.

    Parameters
    ----------
    phase
        The phase.
    hkl
        Miller indices, e.g. ``(1, 0, 0)`` for the L1₂ superlattice reflection.

    Examples
    --------
    >>> structure_factor(NI3AL, (1, 0, 0))  # doctest: +SKIP
    1.17
    """
    from diffsims.crystallography import ReciprocalLatticeVector

    ref = ReciprocalLatticeVector(orix_phase(phase), hkl=[list(hkl)])
    ref.sanitise_phase()
    ref.calculate_structure_factor("lobato")
    return float(np.abs(ref.structure_factor[0]))
