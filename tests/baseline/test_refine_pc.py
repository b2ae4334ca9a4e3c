"""Refinement of orientation and pattern centre together, where each pattern's refinement starts,
and the options and flag that ask for it."""

import json
import warnings
from dataclasses import replace

import numpy as np
import pytest

from ebsdlib.baseline import DictionaryConfig
from ebsdlib.baseline.dictionary import build_dictionary
from ebsdlib.baseline.geometry import (
    Geometry,
    geometry_for,
    point_pcs,
    refinement_start_pcs,
    true_pcs,
    vendor_point_pcs,
)
from ebsdlib.baseline.index import index_patterns
from ebsdlib.baseline.refine import PCRefinedResult, check_trust_regions, refine_result, refinement_metrics
from ebsdlib.cli import main
from ebsdlib.data.format import EBSDDataset, write_dataset
from ebsdlib.phases import DEFAULT_PHASES

from .conftest import DETECTOR, MASTER_HALF, PREPROCESS, RESOLUTION, SIZE, frames, grid_orientations

#: The dictionary's PC is this far from the one the patterns were made at, in each coordinate.
PC_OFFSET = np.array([0.01, -0.01, 0.01])


def exact_record() -> dict:
    """A simulation record whose detector drew no PC variation: every pattern is at its PC."""
    return {
        "source": "simulation",
        "config": {
            "detector": replace(DETECTOR, pc_spread=0.0).to_dict(),
            "master_half_size": MASTER_HALF,
            "min_dspacing": 0.7,
            "forward_model": "kinematical",
        },
    }


@pytest.fixture(scope="module")
def at_true_pc(cache_root):
    """Kinematical patterns, three of each phase, at the detector's PC and on the dictionary's grid."""
    q = grid_orientations(3, seed=5)
    labels = np.repeat(np.arange(3), 3).astype(np.int16)
    quats = np.tile(q, (3, 1))
    path = write_dataset(
        cache_root / "true_pc.h5",
        frames(labels, quats, cache_root, "kinematical"),
        labels,
        DEFAULT_PHASES,
        provenance=exact_record(),
        preprocessing=PREPROCESS.to_dict(),
        orientations=quats.astype(np.float32),
        split=np.full(len(labels), 2, np.int8),
        split_rule="all test",
    )
    return path, labels


@pytest.fixture(scope="module")
def off_pc():
    """The dictionary's geometry with its PC ``PC_OFFSET`` from the patterns', and that dictionary."""
    off = tuple(float(v) for v in np.asarray(DETECTOR.pc) + PC_OFFSET)
    geometry = Geometry(replace(DETECTOR, pc=off), master_half_size=MASTER_HALF, forward_model="kinematical")
    return off, geometry, build_dictionary(DEFAULT_PHASES, geometry, (SIZE, SIZE), PREPROCESS, RESOLUTION)


def test_pc_refinement_moves_the_pc_towards_the_true_one(at_true_pc, off_pc):
    path, labels = at_true_pc
    off, geometry, d = off_pc
    with EBSDDataset(path) as ds:
        matched = index_patterns(ds, d, None, PREPROCESS)
        refined = refine_result(matched, ds, DEFAULT_PHASES, geometry, PREPROCESS, refine_pc=True, pc_trust_region=0.03)
        metrics = refinement_metrics(refined, ds)
        assert refinement_metrics(matched, ds) == {}  # nothing is recorded without PC refinement
    rows = np.arange(len(labels))
    assert isinstance(refined, PCRefinedResult) and refined.refined and refined.pcs.shape == (9, 3, 3)
    np.testing.assert_allclose(refined.start_pcs, np.tile(off, (9, 1)))
    assert refined.start_source == "the dictionary's PC"
    pc = metrics["pc_refinement"]
    assert metrics["refined_pc"] and pc["true_pc_source"] == "the simulation record's PC" and pc["n"] == 9
    before, after = pc["error_before"]["median"], pc["error_after"]["median"]
    assert before == pytest.approx(np.linalg.norm(PC_OFFSET))
    assert after < 0.6 * before, (before, after)
    np.testing.assert_allclose(pc["mean"], refined.best_pcs().mean(axis=0))
    # scored as templates at their refined PCs, the true phase's matches fit better than at the
    # dictionary's wrong PC, and Ni3Al stays told apart; Ni and Ni3Fe differ by ~0.01 % in
    # correlation here, so which of the two wins is not a measure of the refinement
    assert (refined.scores[rows, labels] > matched.scores[rows, labels]).all()
    assert ((refined.pred == 1) == (labels == 1)).all() and ((matched.pred == 1) == (labels == 1)).all()
    json.dumps(metrics)


def test_templates_at_one_pc_each_are_the_dictionarys_templates(cache_root):
    from ebsdlib.baseline.dictionary import band_free_frame, render_templates
    from ebsdlib.baseline.refine import templates_at_pcs
    from ebsdlib.simulate.master import load_masters

    geometry = Geometry(DETECTOR, master_half_size=MASTER_HALF, forward_model="kinematical")
    masters, _ = load_masters(DEFAULT_PHASES, **geometry.master_options())
    q = grid_orientations(3, seed=8)
    for preprocess in (PREPROCESS, replace(PREPROCESS, static_background=True)):
        static = band_free_frame(geometry, (SIZE, SIZE)) if preprocess.static_background else None
        same = np.tile(DETECTOR.pc, (3, 1))
        got = templates_at_pcs(masters["Ni"], q, same, geometry, (SIZE, SIZE), preprocess, static)
        want = render_templates(masters["Ni"], q, geometry, (SIZE, SIZE), preprocess, static)
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)
    # a different PC per pattern moves that pattern's bands only
    moved = same + np.array([[0.0, 0.0, 0.0], [0.02, 0.0, 0.0], [0.0, 0.0, 0.0]])
    got = templates_at_pcs(masters["Ni"], q, moved, geometry, (SIZE, SIZE), PREPROCESS, None).numpy()
    want = render_templates(masters["Ni"], q, geometry, (SIZE, SIZE), PREPROCESS, None).numpy()
    assert np.allclose(got[[0, 2]], want[[0, 2]], atol=1e-5) and (got[1] * want[1]).sum() < 0.999


def test_subset_keeps_the_pcs_of_its_rows(at_true_pc):
    path, _ = at_true_pc
    geometry = Geometry(DETECTOR, master_half_size=MASTER_HALF, forward_model="kinematical")
    d = build_dictionary(DEFAULT_PHASES, geometry, (SIZE, SIZE), PREPROCESS, RESOLUTION)
    with EBSDDataset(path) as ds:
        matched = index_patterns(ds, d, np.array([0, 4]), PREPROCESS)
        refined = refine_result(matched, ds, DEFAULT_PHASES, geometry, PREPROCESS, refine_pc=True)
    part = refined.subset(np.array([1]))
    assert part.indices.tolist() == [4] and part.pcs.shape == (1, 3, 3) and part.start_pcs.shape == (1, 3)
    np.testing.assert_array_equal(part.pcs[0], refined.pcs[1])


def test_true_pcs_only_where_the_simulator_drew_none(at_true_pc, clean_data):
    path, _ = at_true_pc
    with EBSDDataset(path) as ds:
        truth, source = true_pcs(ds)
        assert truth.shape == (9, 3) and source == "the simulation record's PC"
    with EBSDDataset(clean_data) as ds:  # the fixtures' record keeps the default pc_spread
        truth, source = true_pcs(ds)
        assert truth is None and "pc_spread 0.01" in source and "not stored" in source


def test_point_pcs_from_a_detector_pc_map():
    grid = np.zeros((2, 3, 3))
    grid[..., 0] = 0.40 + 0.01 * np.arange(3)[None]
    grid[..., 1] = 0.20 + 0.01 * np.arange(2)[:, None]
    grid[..., 2] = 0.5
    got = point_pcs(grid, (2, 3), np.array([1, 0]), np.array([2, 1]))
    np.testing.assert_allclose(got, [[0.42, 0.21, 0.5], [0.41, 0.20, 0.5]])
    # a line scan's map (n, 3) indexes the one row
    np.testing.assert_allclose(point_pcs(grid.reshape(-1, 3), (1, 6), np.array([0]), np.array([4])), [grid[1, 1]])
    assert point_pcs(np.array([0.4, 0.2, 0.5]), (2, 3), np.zeros(1), np.zeros(1)) is None
    assert point_pcs(np.tile([0.4, 0.2, 0.5], (2, 3, 1)), (2, 3), np.zeros(1), np.zeros(1)) is None
    with pytest.raises(ValueError, match=r"PC array of shape \(4, 3\) is neither one PC .* 2×3 scan"):
        point_pcs(np.full((4, 3), 0.4), (2, 3), np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match=r"detector PC \[0\.42, 0\.21, 2\.5\] has a coordinate outside \(0, 2\)"):
        point_pcs(np.where(np.arange(18).reshape(6, 3) == 17, 2.5, grid.reshape(-1, 3)), (2, 3), [0], [0])
    with pytest.raises(ValueError, match=r"scan position \(row 2, col 0\) lies outside the 2×3 scan"):
        point_pcs(grid, (2, 3), np.array([2]), np.array([0]))


@pytest.fixture(scope="module")
def per_point_scan(tmp_path_factory, cache_root):
    """A 2×3 kikuchipy h5ebsd scan of Ni patterns, each made at its own PC (stored per point)."""
    import kikuchipy as kp

    from ebsdlib.simulate.dataset import render_clean
    from ebsdlib.simulate.detector import standardise
    from ebsdlib.simulate.master import load_masters

    pcs = np.zeros((2, 3, 3))
    pcs[..., 0] = 0.41 + 0.01 * np.arange(3)[None]
    pcs[..., 1] = 0.21 + 0.02 * np.arange(2)[:, None]
    pcs[..., 2] = 0.49 + 0.01 * np.arange(3)[None]
    masters, _ = load_masters(
        DEFAULT_PHASES, MASTER_HALF, 0.7, 20e3, cache_dir=cache_root / "cache" / "master", forward_model="kinematical"
    )
    labels = np.zeros(6, np.int16)
    clean = render_clean(
        masters, DEFAULT_PHASES, labels, grid_orientations(6, seed=7), pcs.reshape(-1, 3), DETECTOR, (SIZE, SIZE)
    )
    raw = DETECTOR.expose(standardise(clean), 500.0, None)
    data = np.round(255 * raw / raw.max()).astype(np.uint8).reshape(2, 3, SIZE, SIZE)
    signal = kp.signals.EBSD(data)
    signal.detector = kp.detectors.EBSDDetector(shape=(SIZE, SIZE), pc=pcs, sample_tilt=70.0)
    path = tmp_path_factory.mktemp("vendor") / "per_point.h5"
    signal.save(path)
    return path, pcs


def test_per_point_pcs_of_a_vendor_scan_start_the_refinement(per_point_scan, tmp_path):
    from ebsdlib.data import load

    path, pcs = per_point_scan
    options = DictionaryConfig(master_half_size=MASTER_HALF, forward_model="kinematical", device="cpu")
    with load(path, out=tmp_path / "per_point_converted.h5") as ds:
        geometry = geometry_for(ds, options)
        np.testing.assert_allclose(geometry.detector.pc, pcs.reshape(-1, 3).mean(axis=0))  # one dictionary
        rows, cols = ds.optional("scan/row"), ds.optional("scan/col")
        np.testing.assert_allclose(vendor_point_pcs(ds), pcs[rows, cols])
        start, source = refinement_start_pcs(ds, np.array([5, 0]), geometry)
        np.testing.assert_allclose(start, pcs[rows, cols][[5, 0]])
        assert source == "per-point PC map of per_point.h5"
        # a PC given in the options replaces the file's map
        given = geometry_for(ds, options.replace(pc=(0.4, 0.2, 0.5)))
        start, source = refinement_start_pcs(ds, np.array([5, 0]), given)
        np.testing.assert_allclose(start, [[0.4, 0.2, 0.5]] * 2) and source == "the dictionary's PC"
        # the refinement itself starts each pattern at its own PC
        d = build_dictionary(DEFAULT_PHASES, geometry, (SIZE, SIZE), PREPROCESS, RESOLUTION)
        matched = index_patterns(ds, d, np.array([1, 4]), PREPROCESS)
        refined = refine_result(matched, ds, DEFAULT_PHASES, geometry, PREPROCESS, refine_pc=True)
        np.testing.assert_allclose(refined.start_pcs, pcs[rows, cols][[1, 4]])
        assert refinement_metrics(refined, ds)["pc_refinement"]["true_pc_source"] == "not simulated: no true PC"
        assert (np.abs(refined.pcs - refined.start_pcs[:, None]) <= 0.02 + 1e-9).all()  # within the trust region


def test_a_vendor_file_that_is_gone_starts_at_the_mean_with_a_warning(per_point_scan, tmp_path):
    import shutil

    from ebsdlib.data import load

    path, pcs = per_point_scan
    moved = tmp_path / "moved.h5"
    shutil.copy(path, moved)
    converted = tmp_path / "moved_converted.h5"
    load(moved, out=converted).close()
    moved.unlink()
    with EBSDDataset(converted) as ds:
        geometry = geometry_for(ds, DictionaryConfig(master_half_size=MASTER_HALF, forward_model="kinematical"))
        with pytest.warns(UserWarning, match=r"moved\.h5 it was converted from is gone; PC refinement starts"):
            start, source = refinement_start_pcs(ds, np.arange(6), geometry)
    np.testing.assert_allclose(start, np.tile(pcs.reshape(-1, 3).mean(axis=0), (6, 1)))
    assert source == "the dictionary's PC"


def test_options_of_pc_refinement():
    cfg = DictionaryConfig(refine_pc=True, refine_pc_trust_region=0.05)
    assert cfg.refine and cfg.refinement_label == " + refinement of orientation and PC"
    assert DictionaryConfig.from_dict(cfg.to_dict()) == cfg
    # a run stored before PC refinement existed reads as orientation-only refinement
    old = {k: v for k, v in DictionaryConfig(refine=True).to_dict().items() if not k.startswith("refine_pc")}
    back = DictionaryConfig.from_dict(old)
    assert back.refine and not back.refine_pc and back.refinement_label == " + refinement"
    assert DictionaryConfig().refinement_label == ""
    with pytest.raises(ValueError, match=r"refine_pc_trust_region=0\.0 is not allowed; use a PC half-width in"):
        DictionaryConfig(refine_pc=True, refine_pc_trust_region=0.0)
    with pytest.raises(ValueError, match=r"refine_pc='yes' is not allowed; use True or False"):
        DictionaryConfig(refine_pc="yes")
    with pytest.raises(ValueError, match=r"refinement pc_trust_region=-0\.01 is not allowed; give a number in"):
        check_trust_regions(2.0, -0.01)
    with pytest.raises(ValueError, match=r"refinement trust_region=0 is not allowed; give a number in \(0, 15\]"):
        check_trust_regions(0, 0.02)


def test_cli_refine_pc_writes_the_flag(at_true_pc, tmp_path, monkeypatch, capsys):
    path, _ = at_true_pc
    root = tmp_path / "artifacts"
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(root))
    monkeypatch.chdir(tmp_path)
    args = ["index", "--data", str(path), "--resolution", str(RESOLUTION), "--device", "cpu", "--no-progress"]
    assert main([*args, "--split", "val", "--refine-pc", "--pc-trust-region", "0"]) == 2
    assert "refine_pc_trust_region=0.0 is not allowed" in capsys.readouterr().err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main([*args, "--refine-pc", "--temperature", "0.01", "--run-id", "pc"])
    assert code == 0, capsys.readouterr().err
    config = json.loads((root / "runs" / "pc" / "config.json").read_text())
    metrics = json.loads((root / "runs" / "pc" / "metrics.json").read_text())
    assert config["dictionary"]["refine_pc"] is True and config["dictionary"]["refine"] is True
    assert config["method"] == "dictionary_refined"
    assert config["model"] == f"NCC dictionary {RESOLUTION:g}° + refinement of orientation and PC"
    assert metrics["refined_pc"] is True and metrics["pc_refinement"]["error_before"]["median"] == 0.0
    assert main(["index", "--data", str(path), "--method", "hough", "--refine-pc", "--no-progress"]) == 2
    assert "--refine-pc does not apply to --method hough" in capsys.readouterr().err


def test_fitting_each_phase_to_the_pattern_finds_the_pc_and_the_phase(at_true_pc, off_pc):
    path, labels = at_true_pc
    off, geometry, d = off_pc
    with EBSDDataset(path) as ds:
        matched = index_patterns(ds, d, None, PREPROCESS)
        refined = refine_result(matched, ds, DEFAULT_PHASES, geometry, PREPROCESS)
        fitted = refine_result(matched, ds, DEFAULT_PHASES, geometry, PREPROCESS, fit=True)
        metrics = refinement_metrics(fitted, ds)
    rows = np.arange(len(labels))
    assert isinstance(fitted, PCRefinedResult) and fitted.refined and fitted.pcs.shape == (9, 3, 3)
    np.testing.assert_allclose(fitted.start_pcs, np.tile(off, (9, 1)))
    before, after = (
        metrics["pc_refinement"]["error_before"]["median"],
        metrics["pc_refinement"]["error_after"]["median"],
    )
    assert after < 0.25 * before, (before, after)
    # the fitted template of the true phase correlates better than the refined one at the wrong PC,
    # and the phase called is the true one for every pattern (noise-free, the generating model)
    assert (fitted.scores[rows, labels] > refined.scores[rows, labels]).all()
    assert (fitted.scores[rows, labels] > 0.99).all()
    assert (fitted.pred == labels).all(), (fitted.pred, labels)


def test_options_of_the_pattern_fit():
    from ebsdlib.baseline.run import method_key

    cfg = DictionaryConfig(refine_fit=True)
    assert cfg.refine and not cfg.refine_pc and cfg.refinement_label == " + refinement and pattern fit"
    assert DictionaryConfig.from_dict(cfg.to_dict()) == cfg and method_key(cfg) == "dictionary_fitted"
    old = {k: v for k, v in DictionaryConfig(refine=True).to_dict().items() if k != "refine_fit"}
    assert DictionaryConfig.from_dict(old).refine_fit is False  # a run stored before the fit
    with pytest.raises(ValueError, match=r"refine_fit=1 is not allowed; use True or False"):
        DictionaryConfig(refine_fit=1)
