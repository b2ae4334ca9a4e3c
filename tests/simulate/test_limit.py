"""The physical limit taken apart: chemical order, lattice parameter, pattern-centre uncertainty."""

import pytest

from ebsdlib.phases import NI, NI3AL, NI3FE
from ebsdlib.simulate.config import AcquisitionSettings
from ebsdlib.simulate.dynamical import DynamicalSettings
from ebsdlib.simulate.limit import CUES, cue_differences, cue_pairs, physical_limit, wilson_interval

N = 24


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """Coarse dynamical masters (seconds to build) of Ni, Ni₃Fe and the two variants, 32×32 patterns."""
    base = AcquisitionSettings(
        pattern_size=32,
        dynamical=DynamicalSettings(npx=40, dmin=0.1, mc_electrons=2000),
        cache_dir=str(tmp_path_factory.mktemp("limit_masters")),
    )
    return physical_limit([3.0, 1e6], n_per_phase=N, pc_sigmas=(0.0, 0.01), base=base, fit_pc=True, fit_steps=80)


def _row(rows, cue, sigma, dose, fitted=False):
    (row,) = [
        r for r in rows if r["cue"] == cue and r["pc_sigma"] == sigma and r["dose"] == dose and r["pc_fitted"] == fitted
    ]
    return row


def test_the_variants_change_one_cue_each():
    pairs = cue_pairs()
    assert pairs["real"] == (NI, NI3FE)
    _, ordered = pairs["order"]  # Ni₃Fe's atoms and space group at Ni's lattice parameter
    assert ordered.lattice_a == NI.lattice_a and ordered.atoms == NI3FE.atoms and ordered.space_group == 221
    _, bigger = pairs["lattice"]  # Ni's atoms and space group at Ni₃Fe's lattice parameter
    assert bigger.lattice_a == NI3FE.lattice_a and bigger.atoms == NI.atoms and bigger.space_group == 225
    assert len({p.name for pair in pairs.values() for p in pair}) == 4  # own cache files


def test_every_cue_sigma_and_dose_has_a_row_with_its_interval(rows):
    assert len(rows) == len(CUES) * 2 * 2 + len(CUES) * 2  # two σ as given, one fitted from ±0.01
    for r in rows:
        assert r["n"] == 2 * N and (r["pair_accuracy"] * r["n"]).is_integer()
        assert r["low"] <= r["pair_accuracy"] <= r["high"]


def test_noise_hides_every_cue_and_a_clean_pattern_shows_each(rows):
    for cue in CUES:
        assert _row(rows, cue, 0.0, 3.0)["low"] < 0.5 + 0.05  # at 3 electrons per pixel: chance is inside
        assert _row(rows, cue, 0.0, 1e6)["pair_accuracy"] >= 0.85


def test_an_uncertain_pattern_centre_erases_the_lattice_parameter_cue(rows):
    exact, uncertain = (_row(rows, "lattice", s, 1e6)["pair_accuracy"] for s in (0.0, 0.01))
    assert uncertain < exact - 0.1


def test_fitting_the_pattern_centre_to_the_pattern_gives_the_cues_back(rows):
    for cue in CUES:
        fitted = _row(rows, cue, 0.01, 1e6, fitted=True)
        assert fitted["pc_error_fitted"] < fitted["pc_error_start"] / 3
        assert fitted["pair_accuracy"] >= 0.75
    lattice = _row(rows, "lattice", 0.01, 1e6, fitted=True)["pair_accuracy"]
    assert lattice > _row(rows, "lattice", 0.01, 1e6)["pair_accuracy"] + 0.1  # the cue an uncertain PC erased
    assert _row(rows, "real", 0.01, 3.0, fitted=True)["low"] < 0.55  # fitting invents nothing from noise


def test_fitting_needs_a_pattern_centre_error_to_start_from():
    with pytest.raises(ValueError, match=r"fit_pc starts from the largest pc_sigma, and \[0.0\] has none above 0"):
        physical_limit([1e6], n_per_phase=2, pc_sigmas=(0.0,), fit_pc=True)


def test_wilson_interval():
    low, high = wilson_interval(45, 50)
    assert 0.78 < low < 0.9 < high < 0.97
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    with pytest.raises(ValueError, match="n 0 must be positive"):
        wilson_interval(0, 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"doses": [0.0]}, r"doses \[0\.0\] must be one or more positive numbers"),
        ({"doses": [10.0], "pc_sigmas": [0.5]}, r"pc_sigmas \[0\.5\] must be one or more values in \[0, 0\.1\]"),
        ({"doses": [10.0], "cues": ["charge"]}, r"cues \['charge'\] are not allowed; choose from"),
        ({"doses": [10.0], "n_per_phase": 1}, r"n_per_phase 1 must be an integer of at least 2"),
    ],
)
def test_bad_settings_are_named_before_anything_is_built(kwargs, match, monkeypatch):
    from ebsdlib.simulate import master

    monkeypatch.setattr(master, "load_masters", lambda *a, **k: pytest.fail("built masters for bad input"))
    with pytest.raises(ValueError, match=match):
        physical_limit(**kwargs)


def test_cue_differences_find_the_superlattice_and_nothing_between_equal_phases(tmp_path):
    small = dict(forward_model="kinematical", n=12, shape=(32, 32), half_size=40, cache_dir=str(tmp_path))
    al = cue_differences(NI, NI3AL, **small)
    assert set(al) == set(CUES)
    # the kinematical superlattice bands of Ni₃Al (|F₁₀₀| ≈ 1.2) outweigh its 1.2 % lattice parameter
    assert al["order"] > 2 * al["lattice"] > 0 and al["real"] > al["lattice"]
    same = cue_differences(NI, NI, **small)  # every variant of Ni against Ni is Ni
    assert max(same.values()) < 1e-6 < al["order"]
