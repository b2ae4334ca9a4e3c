"""A network run's phase map with orientations: the hybrid map (network phase, Hough orientation),
the orientation sources and their choice, the exports read back by orix, bad input, and a set
without scan positions.

The network is a freshly initialised ``test_efficientnet`` (its phases are what matters here, not
its accuracy); the scan is simulated (dynamical, 64×64, one pattern centre for every pattern) so
that PyEBSDIndex solves it. One Hough mapping per module: the first PyEBSDIndex call of a process
compiles its numba kernels (minutes on two cores when numba's cache is empty).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.cli import main
from ebsdlib.data.format import EBSDDataset, write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phasemap import load_phasemap
from ebsdlib.phases import DEFAULT_PHASES, Phase
from ebsdlib.predict import predict_scan
from ebsdlib.predict._orientations import resolve_orientation_source
from ebsdlib.runs import RunDir
from ebsdlib.simulate.detector import DetectorModel
from ebsdlib.train.config import TrainConfig

DETECTOR = DetectorModel(pc=(0.45, 0.25, 0.55), pc_spread=0.0, camera_tilt=8.0)
SHAPE = (4, 5)


def make_run(path: Path, phases=DEFAULT_PHASES, seed: int = 0) -> RunDir:
    """A run folder whose best checkpoint is an untrained ``test_efficientnet`` over ``phases``."""
    import torch

    from ebsdlib.train.checkpoint import save_checkpoint
    from ebsdlib.train.models import build_model

    config = TrainConfig(
        data="unused.h5", model="test_efficientnet", device="cpu", preprocess=PreprocessConfig(size=16)
    )
    torch.manual_seed(seed)
    model = build_model(config, len(phases))
    run = RunDir(path)
    run.path.mkdir(parents=True)
    save_checkpoint(
        run.best_checkpoint,
        {"model": model.state_dict(), "config": config.to_dict(), "phases": [p.to_dict() for p in phases], "epoch": 0},
    )
    return run


def rotation_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (degrees) of the rotation between two sets of quaternions, no crystal symmetry."""
    from orix.quaternion import Rotation

    return np.rad2deg(Rotation(a).angle_with(Rotation(b)))


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("orient_artifacts")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EBSDLIB_ARTIFACTS", str(root))  # the master-pattern cache of the simulation
        yield root


@pytest.fixture(scope="module")
def scan(root) -> Path:
    """A simulated 4×5 scan: true orientations stored, simulation record with the detector."""
    from ebsdlib.simulate import ScanConfig, simulate_scan

    config = ScanConfig(shape=SHAPE, n_grains=3, pattern_size=64, detector=DETECTOR, seed=1)
    return simulate_scan(config, root / "scan.h5", progress=False)


@pytest.fixture(scope="module")
def run(root) -> RunDir:
    return make_run(root / "runs" / "net")


def copy_without(scan: Path, out: Path, *, orientations: bool = True, provenance: bool = True) -> Path:
    """The scan rewritten without its stored orientations and/or its simulation record."""
    with EBSDDataset(scan) as ds:
        return write_dataset(
            out,
            ds.read(slice(None)),
            ds.labels,
            ds.phases,
            provenance=ds.provenance if provenance else {"test": "no geometry"},
            preprocessing=ds.preprocessing,
            scan_row=ds.optional("scan/row"),
            scan_col=ds.optional("scan/col"),
            scan_shape=ds.scan_shape,
            step_size=ds.step_size,
            orientations=ds.optional("orientations") if orientations else None,
        )


def chosen_proba(labels: np.ndarray) -> np.ndarray:
    """Network output with known phases: the true one on even patterns, the next one on odd
    patterns, at confidences from 0.4 to 0.9."""
    n = len(labels)
    pred = np.where(np.arange(n) % 2 == 0, labels, (labels + 1) % 3)
    conf = np.linspace(0.4, 0.9, n)
    proba = np.repeat(((1 - conf) / 2)[:, None], 3, axis=1)
    proba[np.arange(n), pred] = conf
    return proba.astype(np.float32)


@pytest.fixture(scope="module")
def hybrid(run, scan):
    """The hybrid map of the scan (network output :func:`chosen_proba`), and PyEBSDIndex's own
    result for every phase of the same patterns."""
    from ebsdlib.baseline.hough import build_indexer, hough_patterns, hough_preprocess
    from ebsdlib.baseline.hough_config import HoughConfig

    with EBSDDataset(scan) as ds:
        proba = chosen_proba(ds.labels.astype(np.int64))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ebsdlib.train.inference.predict_dataset", lambda *a, **k: (proba, None))
        folder = predict_scan(run, scan, device="cpu", progress=False, orientations="hough", scan_name="hybrid")
    config = HoughConfig()
    with EBSDDataset(scan) as ds:
        indexer = build_indexer(DEFAULT_PHASES, DETECTOR, ds.pattern_shape, config)
        direct = hough_patterns(ds, indexer, None, hough_preprocess(config, ds.preprocessing))
        true_q = ds.optional("orientations").astype(np.float64)
        row, col = ds.optional("scan/row"), ds.optional("scan/col")
    return folder, load_phasemap(run, "hybrid"), direct, true_q, (row, col)


def test_hybrid_map_takes_the_hough_solution_of_the_networks_phase(hybrid, scan):
    _, pm, direct, _, (row, col) = hybrid
    assert pm.orientation_source == "hough" and pm.hybrid
    pred = pm.pred[row, col].astype(np.int64)
    with EBSDDataset(scan) as ds:
        np.testing.assert_array_equal(pred, chosen_proba(ds.labels.astype(np.int64)).argmax(axis=1))
    assert len(np.unique(pred)) == 3
    rows = np.arange(len(pred))
    np.testing.assert_array_equal(pm.oriented[row, col], direct.indexed[rows, pred])
    np.testing.assert_array_equal(pm.orientation_bands[row, col], direct.nmatch[rows, pred])
    ok = direct.indexed[rows, pred]
    assert ok.sum() >= len(pred) // 2  # Hough solves most of these clean patterns
    np.testing.assert_allclose(pm.orientation_fit[row, col][ok], direct.fit[rows, pred][ok], atol=1e-5)
    assert (
        rotation_angle(pm.orientations[row, col][ok].astype(np.float64), direct.rotations[rows, pred][ok]).max() < 0.01
    )
    assert pm.meta["orientations"].startswith("Hough solution") and pm.meta["geometry"]["detector"]["pc"] == [
        0.45,
        0.25,
        0.55,
    ]


def test_hybrid_not_indexed_means_low_confidence_and_no_hough_solution(hybrid):
    _, pm, _, _, _ = hybrid
    # every confidence is below 1: only Hough's solutions stay indexed
    np.testing.assert_array_equal(pm.indexed(1.0), pm.oriented)
    rows = {r["phase"]: r["count"] for r in pm.fractions(1.0)["rows"]}
    assert rows["not indexed"] == int(pm.measured.sum() - pm.oriented.sum())
    np.testing.assert_array_equal(pm.indexed(0.0), pm.measured)
    # at 0.65 a point is indexed when confident or solved by Hough, and only then
    want = (pm.confidence >= 0.65) | pm.oriented
    np.testing.assert_array_equal(pm.indexed(0.65), want)
    assert (pm.oriented & (pm.confidence < 0.65)).any()


def test_hybrid_exports_read_back_in_orix_with_equal_rotations_and_phases(hybrid):
    from orix import io as oio

    folder, pm, _, _, _ = hybrid
    ok = pm.oriented.ravel()
    q = np.tile([1.0, 0.0, 0.0, 0.0], (pm.pred.size, 1))  # identity where Hough found nothing
    q[ok] = pm.orientations.reshape(-1, 4)[ok]
    assert ok.any()
    names = np.array(pm.phase_names)[pm.pred.ravel()]
    for name in ("crystalmap.h5", "crystalmap.ang", "crystalmap.ctf"):
        xmap = oio.load(folder / name)
        read = np.array([xmap.phases[int(i)].name for i in xmap.phase_id])  # .ang/.ctf number phases from 1
        np.testing.assert_array_equal(read, names, err_msg=name)
        angle = rotation_angle(xmap.rotations.data, q)
        assert angle.max() < 0.01, (name, angle.max())
    xmap = oio.load(folder / "crystalmap.h5")
    np.testing.assert_array_equal(xmap.prop["orientation_ok"], ok.astype(int))


def test_ctf_holds_houghs_bands_and_fit(hybrid):
    folder, pm, _, _, _ = hybrid
    lines = (folder / "crystalmap.ctf").read_text().splitlines()
    start = lines.index(next(line for line in lines if line.startswith("Phase\tX\tY\tBands")))
    table = np.array([line.split("\t") for line in lines[start + 1 :]], dtype=float)
    np.testing.assert_array_equal(table[:, 3], pm.orientation_bands.ravel())
    fit = np.nan_to_num(pm.orientation_fit.ravel(), nan=0.0)
    np.testing.assert_allclose(table[:, 8], fit, atol=1e-4)


def test_auto_takes_the_files_orientations_and_says_they_are_true(run, scan):
    folder = predict_scan(run, scan, device="cpu", progress=False, scan_name="auto")
    pm = load_phasemap(run, folder.name)
    assert pm.orientation_source == "file" and not pm.hybrid
    with EBSDDataset(scan) as ds:
        row, col, q = ds.optional("scan/row"), ds.optional("scan/col"), ds.optional("orientations")
    assert rotation_angle(pm.orientations[row, col].astype(np.float64), q.astype(np.float64)).max() < 0.01
    assert pm.meta["orientations"] == "the simulator's true orientations stored in the file"


def test_auto_chooses_by_what_the_data_has(run, scan, tmp_path):
    without = copy_without(scan, tmp_path / "no_orient.h5", orientations=False)
    bare = copy_without(scan, tmp_path / "bare.h5", orientations=False, provenance=False)
    no_bands = (Phase("A", 0, 0.0, "#123456"), Phase("B", 0, 0.0, "#654321"))
    with EBSDDataset(scan) as a, EBSDDataset(without) as b, EBSDDataset(bare) as c:
        assert resolve_orientation_source("auto", a, DEFAULT_PHASES) == "file"
        assert resolve_orientation_source("auto", b, DEFAULT_PHASES) == "hough"  # geometry recorded, bands known
        assert resolve_orientation_source("auto", c, DEFAULT_PHASES) == "none"  # no geometry: no guess
        assert resolve_orientation_source("auto", b, no_bands) == "none"
        assert resolve_orientation_source("none", a, DEFAULT_PHASES) == "none"
        with pytest.raises(ValueError, match="orientations 'best' is not allowed; use one of auto, file"):
            resolve_orientation_source("best", a, DEFAULT_PHASES)


def test_hough_without_recorded_geometry_warns_and_names_the_default(run, scan, tmp_path, hybrid):
    bare = copy_without(scan, tmp_path / "bare.h5", orientations=False, provenance=False)
    with pytest.warns(UserWarning, match=r"bare.h5: records no detector geometry, so Hough orientations use"):
        predict_scan(run, bare, device="cpu", progress=False, orientations="hough", scan_name="bare")
    assert load_phasemap(run, "bare").orientation_source == "hough"


def test_hough_for_a_phase_without_band_list_is_refused_before_anything_is_written(root, scan, capsys):
    phases = (DEFAULT_PHASES[0], Phase("Mystery", 0, 0.0, "#123456"), DEFAULT_PHASES[2])
    run = make_run(root / "runs" / "mystery", phases)
    code = main(["predict", "--run", str(run.path), "--data", str(scan), "--orientations", "hough", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--orientations hough:" in err and "phase 'Mystery' has space group 0" in err
    assert "give the data set's phase table its space group" in err
    assert not (run.path / "phasemaps").exists()


def test_file_without_orientations_is_refused_before_anything_is_written(root, scan, tmp_path, capsys):
    run = make_run(root / "runs" / "nofile")
    without = copy_without(scan, tmp_path / "no_orient.h5", orientations=False)
    code = main(["predict", "--run", str(run.path), "--data", str(without), "--orientations", "file", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no_orient.h5: stores no orientations ('/orientations' is absent)" in err
    assert "use --orientations hough" in err
    assert not (run.path / "phasemaps").exists()


def test_a_failure_while_indexing_leaves_the_previous_map(root, scan, monkeypatch):
    run = make_run(root / "runs" / "keep")
    predict_scan(run, scan, device="cpu", progress=False, orientations="none", scan_name="s")
    before = (run.phasemap_dir("s") / "phasemap.npz").read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("indexer died")

    monkeypatch.setattr("ebsdlib.predict._orientations.hough_orientations", broken)
    with pytest.raises(RuntimeError, match="indexer died"):
        predict_scan(run, scan, device="cpu", progress=False, orientations="hough", scan_name="s")
    assert (run.phasemap_dir("s") / "phasemap.npz").read_bytes() == before
    assert run.phasemap_scans() == ["s"]
    assert load_phasemap(run, "s").orientation_source == "none"


def test_indexing_runs_refuse_an_orientation_source(root, scan):
    run = RunDir(root / "runs" / "dict")
    run.path.mkdir(parents=True)
    run.config_path.write_text(json.dumps({"method": "dictionary", "model": "NCC dictionary 5°"}))
    with pytest.raises(ValueError, match="is an indexing baseline, whose maps carry its own orientations"):
        predict_scan(run, scan, progress=False, orientations="hough")


def test_a_labelled_set_without_positions_gets_predictions_but_no_map(root, tmp_path, capsys):
    run = make_run(root / "runs" / "nopos")
    labels = (np.arange(12) % 3).astype(np.int16)
    rng = np.random.default_rng(0)
    data = write_dataset(
        tmp_path / "labelled.h5",
        rng.integers(0, 255, (12, 16, 16), dtype=np.uint8),
        labels,
        DEFAULT_PHASES,
        provenance={"test": "no positions"},
    )
    code = main(["predict", "--run", str(run.path), "--data", str(data), "--device", "cpu", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "predictions of 12 patterns (no scan positions, so no map image)" in out and "accuracy" in out
    folder = run.phasemap_dir("labelled")
    assert {p.name for p in folder.iterdir()} == {"phasemap.npz", "phasemap.csv", "fractions.json", "metrics.json"}
    pm = load_phasemap(run, "labelled")
    assert not pm.positions and pm.scan_shape == (1, 12)
    np.testing.assert_array_equal(pm.index[0], np.arange(12))
    np.testing.assert_array_equal(pm.true[0], labels)
    fractions = json.loads((folder / "fractions.json").read_text())
    assert fractions["positions"] is False and fractions["accuracy"] == pytest.approx(pm.accuracy)
    import pandas as pd

    df = pd.read_csv(folder / "phasemap.csv")
    assert "row" not in df.columns and "x" not in df.columns and len(df) == 12


def test_an_old_phasemap_without_orientation_fields_loads_with_none(run, scan):
    predict_scan(run, scan, device="cpu", progress=False, scan_name="old")
    path = run.phasemap_dir("old") / "phasemap.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("orientation")}
    meta = json.loads(str(arrays["meta"]))
    for key in ("orientation_source", "positions"):
        meta.pop(key)
    arrays["meta"] = np.asarray(json.dumps(meta))
    np.savez_compressed(path, **arrays)
    pm = load_phasemap(run, "old")
    assert pm.orientations is None and pm.orientation_source == "none" and pm.positions
    assert not pm.has_orientations and not pm.oriented.any()
    from ebsdlib.phasemap.crystalmap import to_crystal_map

    xmap = to_crystal_map(pm)
    np.testing.assert_allclose(xmap.rotations.data, np.tile([1.0, 0, 0, 0], (pm.pred.size, 1)))


def test_dictionary_orientations_are_the_best_match_of_the_networks_phase(run, scan):
    from ebsdlib.baseline.config import DictionaryConfig
    from ebsdlib.baseline.geometry import geometry_for
    from ebsdlib.baseline.run import ensure_dictionary, index_split

    config = DictionaryConfig(resolution=30.0, device="cpu")
    with EBSDDataset(scan) as ds:
        proba = chosen_proba(ds.labels.astype(np.int64))
        row, col = ds.optional("scan/row"), ds.optional("scan/col")
        preprocess = PreprocessConfig.from_dict(ds.preprocessing)
        geometry = geometry_for(ds, config)
        dictionary = ensure_dictionary(None, DEFAULT_PHASES, geometry, ds.pattern_shape, preprocess, config, False)
        direct = index_split(ds, dictionary, geometry, preprocess, config, None, False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ebsdlib.train.inference.predict_dataset", lambda *a, **k: (proba, None))
        predict_scan(
            run,
            scan,
            device="cpu",
            progress=False,
            orientations="dictionary",
            orientation_options=config,
            scan_name="d",
        )
    pm = load_phasemap(run, "d")
    pred = proba.argmax(axis=1)
    rows = np.arange(len(pred))
    assert pm.orientation_source == "dictionary" and not pm.hybrid and pm.oriented.all()
    assert rotation_angle(pm.orientations[row, col].astype(np.float64), direct.rotations[rows, pred]).max() < 0.01
    np.testing.assert_allclose(pm.orientation_fit[row, col], direct.scores[rows, pred], atol=1e-4)  # batch order
    assert pm.meta["orientations"] == "best dictionary match (30°) of the network's predicted phase"
    # not the hybrid rule: below the threshold a point is not indexed, orientation or not
    assert not pm.indexed(0.95).any()
