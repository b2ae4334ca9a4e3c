"""Dynamical master patterns (de-ebsd): crystal set-up, physics checks, shipped masters, bad input.

The physics checks run on small masters (npx 40) built once per session; the agreement with
EMsoft uses the shipped Ni master, so nothing here builds at the default resolution.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from ebsdlib.phases import DEFAULT_PHASES, NI, NI3AL, NI3FE, Phase
from ebsdlib.simulate import dynamical as dyn
from ebsdlib.simulate import master as master_mod
from ebsdlib.simulate.convergence import correlation, study_orientations
from ebsdlib.simulate.detector import DetectorModel
from ebsdlib.simulate.dynamical import DynamicalSettings
from ebsdlib.simulate.project import project

#: Small but with every band of the 64-pixel patterns: a few seconds per master on two cores.
SMALL = DynamicalSettings(npx=40, dmin=0.08, mc_electrons=5000)
#: Smaller still, for tests of the plumbing only.
TINY = DynamicalSettings(npx=16, dmin=0.12, mc_electrons=1000)

NI_PRIMITIVE = Phase(
    "NiP", 221, NI.lattice_a, "", (("Ni", 0, 0, 0), ("Ni", 0.5, 0.5, 0), ("Ni", 0.5, 0, 0.5), ("Ni", 0, 0.5, 0.5))
)
NI3AL_AT_NI = Phase("Ni3Al-a", 221, NI.lattice_a, "", NI3AL.atoms)


def _patterns(master, n=100):
    return project(master, study_orientations(n), DetectorModel(), (64, 64))


@pytest.fixture(scope="session")
def small_masters(tmp_path_factory):
    """Ni, the same Ni written in Pm-3m, and Ni₃Al at Ni's lattice parameter, at :data:`SMALL`."""
    cache = tmp_path_factory.mktemp("dynamical-cache")
    phases = (NI, NI_PRIMITIVE, NI3AL_AT_NI)
    masters, _ = master_mod.load_masters(phases, cache_dir=cache, forward_model="dynamical", dynamical=SMALL)
    return {name: _patterns(mp) for name, mp in masters.items()}


def test_asymmetric_unit_keeps_one_atom_per_orbit():
    assert dyn.asymmetric_unit(NI) == (("Ni", 0.0, 0.0, 0.0),)
    assert dyn.asymmetric_unit(NI3AL) == (("Al", 0.0, 0.0, 0.0), ("Ni", 0.5, 0.5, 0.0))
    assert dyn.asymmetric_unit(NI3FE) == (("Fe", 0.0, 0.0, 0.0), ("Ni", 0.5, 0.5, 0.0))
    assert dyn.asymmetric_unit(NI_PRIMITIVE) == (("Ni", 0.0, 0.0, 0.0), ("Ni", 0.5, 0.5, 0.0))
    # a full fcc cell written in Fm-3m is one atom too
    assert dyn.asymmetric_unit(Phase("Ni4", 225, 3.524, "", NI_PRIMITIVE.atoms)) == (("Ni", 0.0, 0.0, 0.0),)
    for phase in (NI, NI3AL, NI3FE, NI_PRIMITIVE):
        assert dyn.cell_atoms(phase) == 4
        assert sum(dyn.de_crystal(phase).multiplicities) == 4


def test_mean_inner_potential_of_the_expanded_cells():
    import de_ebsd as de

    def v0(crystal):
        return de.MasterPatternSimulator(crystal, de.Microscope(), npx=16, dmin=0.1).structure_factors().v0

    assert v0(dyn.de_crystal(NI)) == pytest.approx(29.6, abs=0.1)
    assert v0(dyn.de_crystal(NI3FE)) == pytest.approx(29.6, abs=0.1)
    assert v0(dyn.de_crystal(NI3AL)) == pytest.approx(27.9, abs=0.1)
    assert v0(dyn.de_crystal(NI_PRIMITIVE)) == pytest.approx(v0(dyn.de_crystal(NI)), rel=1e-9)
    # the trap: handing de-ebsd the full cell gives nine Ni atoms and a far too large potential
    full = de.Crystal.from_parameters(a=0.3567, space_group=221, atoms=[(e, (x, y, z)) for e, x, y, z in NI3AL.atoms])
    assert sum(full.multiplicities) == 10 and v0(full) > 60


def test_setting_does_not_change_the_pattern(small_masters):
    r = correlation(small_masters["Ni"], small_masters["NiP"])
    assert np.median(r) >= 0.999 and r.min() >= 0.998


def test_superlattice_changes_the_pattern_and_ni_does_not(small_masters):
    same = np.median(correlation(small_masters["Ni"], small_masters["NiP"]))
    ordered = np.median(correlation(small_masters["Ni"], small_masters["Ni3Al-a"]))
    assert ordered < 0.995 and 1 - ordered > 10 * (1 - same)


def test_monte_carlo_and_build_are_repeatable():
    dyn._depth_profile_of.cache_clear()
    first, info = dyn.build_dynamical_lambert(NI, TINY)
    dyn._depth_profile_of.cache_clear()
    second, _ = dyn.build_dynamical_lambert(NI, TINY)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (2, 33, 33) and first.dtype == np.float32 and info["cell_atoms"] == 4
    # rounded through the storage dtype, so a fresh build equals the file it writes
    np.testing.assert_array_equal(first, first.astype(dyn.STORAGE_DTYPE).astype(np.float32))


def test_cache_round_trip_equals_fresh_build(tmp_path, monkeypatch):
    fresh = master_mod.master_pattern(NI, cache_dir=tmp_path, forward_model="dynamical", dynamical=TINY)
    (path,) = tmp_path.glob("Ni-*.npz")
    assert master_mod.locate(NI, cache_dir=tmp_path, forward_model="dynamical", dynamical=TINY) == path
    monkeypatch.setattr(dyn, "build_dynamical_lambert", _fail)
    again = master_mod.master_pattern(NI, cache_dir=tmp_path, forward_model="dynamical", dynamical=TINY)
    np.testing.assert_array_equal(fresh.data, again.data)
    # another forward model, resolution or de-ebsd version is another key
    keys = {
        master_mod.cache_key(master_mod.parameters_of(NI, forward_model=m, dynamical=d))
        for m, d in (("kinematical", None), ("dynamical", TINY), ("dynamical", SMALL))
    }
    assert len(keys) == 3
    monkeypatch.setattr(dyn, "de_ebsd_version", lambda: "9.9")
    assert master_mod.cache_key(master_mod.parameters_of(NI, forward_model="dynamical", dynamical=TINY)) != path.stem


def _fail(*args, **kwargs):
    raise AssertionError("built although shipped or cached")


def test_default_phases_dynamical_masters_are_shipped_and_read(tmp_path, monkeypatch):
    monkeypatch.setattr(dyn, "build_dynamical_lambert", _fail)
    masters, info = master_mod.load_masters(DEFAULT_PHASES, cache_dir=tmp_path, forward_model="dynamical")
    n = 2 * dyn.DEFAULT_NPX + 1
    for phase in DEFAULT_PHASES:
        where = master_mod.locate(phase, cache_dir=tmp_path, forward_model="dynamical")
        assert where.parent == master_mod.PACKAGED_DIR and where.stem == info[phase.name]["cache_key"]
        assert masters[phase.name].data.shape == (2, n, n)
    assert not list(tmp_path.iterdir())


def test_shipped_ni_agrees_with_the_emsoft_master(tmp_path, monkeypatch):
    """Through :func:`emsoft_agreement` (the shipped masters: nothing is built): dynamical Ni at
    the default npx ≥ 0.90 (measured 0.909), the kinematical row well below (0.57)."""
    from ebsdlib.simulate.convergence import emsoft_agreement

    monkeypatch.setattr(dyn, "build_dynamical_lambert", _fail)
    monkeypatch.setattr(master_mod, "build_lambert", _fail)
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path))
    kinematical, dynamical = emsoft_agreement((dyn.DEFAULT_NPX,), progress=False)
    assert kinematical["forward_model"] == "kinematical" and dynamical["npx"] == dyn.DEFAULT_NPX
    assert dynamical["median_corr"] >= 0.90 and dynamical["median_corr"] > kinematical["median_corr"] + 0.2


def test_dynamical_data_set_records_its_forward_model(tmp_path):
    from ebsdlib.baseline.geometry import geometry_for
    from ebsdlib.data.format import EBSDDataset
    from ebsdlib.simulate import SimulationConfig, simulate_dataset

    config = SimulationConfig(
        phases=("Ni",),
        n_per_phase=3,
        pattern_size=32,
        forward_model="dynamical",
        dynamical=TINY,
        cache_dir=str(tmp_path / "cache"),
    )
    path = simulate_dataset(config, tmp_path / "d.h5", progress=False)
    with EBSDDataset(path) as ds:
        record = ds.provenance
        geometry = geometry_for(ds)
    assert record["config"]["forward_model"] == "dynamical" and record["config"]["dynamical"] == TINY.to_dict()
    assert record["master_patterns"]["Ni"]["forward_model"] == "dynamical"
    assert "de-ebsd" in record["method"] and "de-ebsd" in record["versions"]
    assert type(config).from_dict(record["config"]) == config
    assert geometry.forward_model == "dynamical" and geometry.dynamical == TINY
    assert geometry.master_options()["forward_model"] == "dynamical"
    # a record written before forward models existed is kinematical
    old = {k: v for k, v in record["config"].items() if k not in ("forward_model", "dynamical", "master_device")}
    old_ds = SimpleNamespace(provenance={**record, "config": old}, path=path)
    assert geometry_for(old_ds).forward_model == "kinematical"


@pytest.mark.parametrize(
    ("phase", "match"),
    [
        (Phase("X", 225, 3.5, ""), "phase 'X' has no atoms"),
        (Phase("X", 225, 0.0, "", NI.atoms), "lattice parameter 0.0 Å"),
        (Phase("X", 225, -1.0, "", NI.atoms), "lattice parameter -1.0 Å"),
        (Phase("X", 194, 3.5, "", NI.atoms), "trigonal/hexagonal space group 194"),
        (Phase("X", 221, 3.5, "", (("Ni", 0, 0, 0), ("Fe", 0, 0, 0))), "puts Ni and Fe on equivalent sites"),
    ],
)
def test_bad_phase_is_refused_before_anything_is_built(tmp_path, phase, match):
    with pytest.raises(ValueError, match=match):
        master_mod.load_masters((NI, phase), cache_dir=tmp_path, forward_model="dynamical", dynamical=TINY)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"npx": 5}, r"npx 5 must be a whole number of pixels in \[16, 1000\]"),
        ({"npx": 2000}, "npx 2000"),
        ({"npx": 40.5}, "npx 40.5"),
        ({"dmin": 0.6}, r"dmin 0.6 nm must lie in \[0.02, 0.25\] nm.*not Å"),
        ({"dmin": 0.0}, "dmin 0.0 nm"),
        ({"mc_electrons": 10}, "mc_electrons 10"),
    ],
)
def test_bad_resolution_is_refused(changes, match):
    with pytest.raises(ValueError, match=match):
        DynamicalSettings(**changes)


def test_unknown_forward_model_and_device_are_refused(tmp_path):
    from ebsdlib.simulate import SimulationConfig

    with pytest.raises(ValueError, match="unknown forward model 'bloch'; options are 'kinematical'"):
        SimulationConfig(forward_model="bloch")
    with pytest.raises(ValueError, match="unknown forward model 'bloch'"):
        master_mod.master_pattern(NI, cache_dir=tmp_path, forward_model="bloch")
    with pytest.raises(ValueError, match="master_device 'tpu' is unknown"):
        SimulationConfig(master_device="tpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        dyn.check_device("tpu")
    with pytest.raises(ValueError, match="unknown dynamical keys"):
        SimulationConfig.from_dict({"dynamical": {"npix": 3}})
    assert not list(tmp_path.iterdir())


def test_cuda_without_a_gpu_says_so():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ValueError, match="torch sees no CUDA device; use device 'cpu'"):
        dyn.check_device("cuda")


def test_cli_builds_masters_then_reads_them(tmp_path, capsys):
    from ebsdlib.cli import main

    args = ["simulate", "masters", "--forward-model", "dynamical", "--phases", "Ni", "--npx", "16", "--dmin", "0.12"]
    args += ["--mc-electrons", "1000", "--cache-dir", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    assert "Ni       built" in capsys.readouterr().out
    assert main(args) == 0
    assert "Ni       cached" in capsys.readouterr().out
    shipped = ["simulate", "masters", "--forward-model", "dynamical", "--cache-dir", str(tmp_path), "--no-progress"]
    assert main(shipped) == 0
    assert capsys.readouterr().out.count("shipped") == 3


def test_cli_bad_dynamical_option_writes_nothing(tmp_path, monkeypatch, capsys):
    from ebsdlib.cli import main

    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    rc = main(["simulate", "--out", str(tmp_path / "d.h5"), "--forward-model", "dynamical", "--npx", "5"])
    assert rc == 2 and "dynamical npx 5 must be" in capsys.readouterr().err
    assert not (tmp_path / "d.h5").exists() and not (tmp_path / "artifacts").exists()


def test_cli_convergence_prints_the_table(capsys):
    from ebsdlib.cli import main

    args = ["simulate", "convergence", "--npx", "16", "--dmin", "0.12", "--mc-electrons", "1000", "--orientations", "4"]
    args += ["--npx-values", "16", "20", "--dmin-values", "0.12", "0.1", "--mc-values", "1000", "2000", "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "median_corr" in out and "mc_electrons" in out and len(out.splitlines()) == 8


def test_cli_convergence_refines_only_the_named_parameters(capsys):
    from ebsdlib.cli import main

    args = ["simulate", "convergence", "--parameters", "npx", "--npx-values", "16", "20", "--dmin", "0.12"]
    args += ["--mc-electrons", "1000", "--orientations", "4", "--no-progress"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4  # title, header, npx 16 → 20 and the finest npx
    assert lines[2].split()[:3] == ["npx", "16", "20"] and lines[3].split()[:2] == ["npx", "20"]
