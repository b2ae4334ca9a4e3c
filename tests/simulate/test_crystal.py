"""The crystallography behind the phases: structure factors and reflectors."""

import numpy as np
import pytest

from ebsdlib.phases import NI, NI3AL, NI3FE, Phase
from ebsdlib.simulate.crystal import orix_phase, reflectors, structure_factor


def test_superlattice_reflector_present_in_ni3al_absent_in_ni():
    assert structure_factor(NI, (1, 0, 0)) < 1e-6
    assert structure_factor(NI, (1, 1, 0)) < 1e-6
    assert structure_factor(NI3AL, (1, 0, 0)) > 0.5
    assert structure_factor(NI3AL, (1, 1, 0)) > 0.5


def test_ni3fe_superlattice_far_weaker_than_ni3al():
    # f_Ni − f_Fe (Z 28 vs 26) against f_Ni − f_Al (Z 28 vs 13)
    assert structure_factor(NI3FE, (1, 0, 0)) < 0.25 * structure_factor(NI3AL, (1, 0, 0))
    assert structure_factor(NI3FE, (1, 0, 0)) > 0.01


def test_fundamental_reflectors_alike_in_all_three_phases():
    f111 = [structure_factor(p, (1, 1, 1)) for p in (NI, NI3AL, NI3FE)]
    assert max(f111) / min(f111) < 1.25
    assert min(f111) > 5 * structure_factor(NI3AL, (1, 0, 0))


def test_reflectors_drop_extinct_planes_and_carry_bragg_angles():
    ni, ni3al = reflectors(NI, min_dspacing=1.0), reflectors(NI3AL, min_dspacing=1.0)
    has_100 = lambda ref: bool(np.any(np.all(np.isclose(np.abs(ref.hkl), [1, 0, 0]), axis=1)))  # noqa: E731
    assert not has_100(ni)
    assert has_100(ni3al)
    assert ni.size < ni3al.size
    theta = ni.theta
    assert np.all(np.isfinite(theta)) and np.all((theta > 0) & (theta < 0.1))


def test_orix_phase_expands_the_cell():
    phase = orix_phase(NI)
    assert phase.space_group.number == 225
    assert phase.structure.lattice.a == pytest.approx(3.524)


def test_phase_without_atoms_is_refused_with_a_clear_message():
    bare = Phase(name="Mystery", space_group=225, lattice_a=3.6, color="#000000")
    with pytest.raises(ValueError, match="'Mystery' has no atoms"):
        orix_phase(bare)


def test_bad_min_dspacing_is_refused():
    with pytest.raises(ValueError, match="min_dspacing -1"):
        reflectors(NI, min_dspacing=-1)
