"""CSV, PNG, orix CrystalMap (HDF5 and .ang) and the saved phase-map folder."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ebsdlib.phasemap import load_phasemap, render_rgb, save_phasemap
from ebsdlib.phasemap.crystalmap import to_crystal_map, write_crystal_map
from ebsdlib.phasemap.export import png_bytes, to_dataframe, write_csv
from ebsdlib.runs import RunDir


def test_csv_rows(phasemap, tmp_path):
    path = write_csv(phasemap, tmp_path / "map.csv", threshold=0.5)
    df = pd.read_csv(path, keep_default_na=False)
    assert list(df.columns) == [
        "index",
        "row",
        "col",
        "x",
        "y",
        "phase",
        "confidence",
        "prob_Ni",
        "prob_Ni3Al",
        "prob_Ni3Fe",
        "true",
        "qa",
        "qb",
        "qc",
        "qd",
        "orientation_ok",
    ]
    assert len(df) == 29  # the unmeasured point is left out
    r = df[(df["row"] == 2) & (df["col"] == 3)].iloc[0]
    assert (r["x"], r["y"], r["phase"], r["true"]) == (1.5, 1.0, "Ni3Al", "Ni3Al")
    assert r["prob_Ni3Al"] == pytest.approx(0.8, abs=1e-3)
    assert (df[df["row"] == 0]["phase"] == "not indexed").all()
    assert df[(df["row"] == 0) & (df["col"] == 3)].iloc[0]["true"] == ""
    assert (to_dataframe(phasemap)["phase"] != "not indexed").all()


def test_png_round_trip(phasemap):
    rgb = render_rgb(phasemap.pred, phasemap.confidence, phasemap.quality, phasemap.phases, 0.5, 0.7)
    back = np.asarray(Image.open(io.BytesIO(png_bytes(rgb))))
    np.testing.assert_array_equal(back, rgb)
    with pytest.raises(ValueError, match=r"image must be \(H, W, 3\) uint8"):
        png_bytes(rgb[..., 0])


def test_crystal_map_reads_back_in_orix(phasemap, scan_predictions, tmp_path):
    from orix import io as oio
    from orix.quaternion import Rotation

    path = write_crystal_map(phasemap, tmp_path / "crystalmap.h5", threshold=0.5)
    xmap = oio.load(path)
    want = np.where(phasemap.indexed(0.5), phasemap.pred, -1).ravel()
    np.testing.assert_array_equal(xmap.phase_id, want)
    assert xmap.shape == (6, 5) and xmap.dx == pytest.approx(0.5)
    assert [xmap.phases[i].name for i in (0, 1, 2)] == ["Ni", "Ni3Al", "Ni3Fe"]
    assert [xmap.phases[i].space_group.number for i in (0, 1, 2)] == [225, 221, 221]
    al = [a.element for a in xmap.phases[1].structure]
    assert sorted(al) == ["Al", "Ni", "Ni", "Ni"]
    assert xmap.phases[2].structure.lattice.a == pytest.approx(3.55)
    np.testing.assert_allclose(xmap.prop["confidence"][:2], [0.4, 0.4], atol=1e-6)
    # rotations are the scan's true orientations; the unmeasured point is identity
    q = Rotation(scan_predictions["orientations"][:3].astype(float))
    got = xmap.rotations[:3]
    np.testing.assert_allclose(np.abs((got.conj * q).a), 1.0, atol=1e-5)
    assert xmap.rotations[-1].a == pytest.approx(1.0)


def test_ang_export_reads_back(phasemap, tmp_path):
    from orix import io as oio

    xmap = oio.load(write_crystal_map(phasemap, tmp_path / "crystalmap.ang"))
    # .ang numbers phases from 1 (0 = not indexed), orix reads them as they are stored
    np.testing.assert_array_equal(xmap.phase_id, np.where(phasemap.pred >= 0, phasemap.pred + 1, -1).ravel())
    with pytest.raises(ValueError, match=r"unsupported CrystalMap suffix '.ctf'"):
        write_crystal_map(phasemap, tmp_path / "map.ctf")  # .ctf is written by ebsdlib.phasemap.ctf


def test_ctf_export_reads_back_in_orix_with_equal_rotations_and_phases(phasemap, tmp_path):
    from orix import io as oio

    from ebsdlib.phasemap.ctf import write_ctf

    path = write_ctf(phasemap, tmp_path / "crystalmap.ctf", threshold=0.5)
    xmap = oio.load(path)
    want = to_crystal_map(phasemap, threshold=0.5)
    # .ctf numbers phases from 1 (0 = not indexed): orix reads 1… as they are and 0 as -1
    np.testing.assert_array_equal(xmap.phase_id, np.where(want.phase_id >= 0, want.phase_id + 1, -1))
    assert [xmap.phases[i].name for i in (1, 2, 3)] == ["Ni", "Ni3Al", "Ni3Fe"]
    assert [xmap.phases[i].space_group.number for i in (1, 2, 3)] == [225, 221, 221]
    assert xmap.phases[3].structure.lattice.a == pytest.approx(3.55)
    # the same rotations, to the 1e-4° of the file's Euler angles
    dot = np.abs(np.sum(xmap.rotations.data * want.rotations.data, axis=1))
    assert np.degrees(2 * np.arccos(np.clip(dot, -1, 1))).max() < 1e-3
    assert xmap.shape == (6, 5) and xmap.dx == pytest.approx(0.5)
    np.testing.assert_allclose(xmap.prop["BS"] / 255, want.prop["confidence"], atol=0.5 / 255)


def test_ctf_needs_cubic_phases_with_lattices(phasemap):
    from dataclasses import replace

    from ebsdlib.phasemap.ctf import laue_id, writable

    assert writable(phasemap) and laue_id(221) == 11 and laue_id(200) == 10
    phasemap.phases = (replace(phasemap.phases[0], space_group=0, lattice_a=0.0), *phasemap.phases[1:])
    assert not writable(phasemap)
    with pytest.raises(ValueError, match="space group 194 is not cubic"):
        laue_id(194)


def test_identity_rotations_without_orientations(phasemap):
    phasemap.orientations = None
    xmap = to_crystal_map(phasemap)
    np.testing.assert_allclose(xmap.rotations.a, 1.0)


def test_save_and_load(phasemap, tmp_path):
    run = RunDir(tmp_path / "run1")
    folder = run.phasemap_dir("tiny")
    paths = save_phasemap(phasemap, folder)
    assert {p.name for p in folder.iterdir()} == {
        "phasemap.npz",
        "phasemap.png",
        "phasemap.csv",
        "crystalmap.h5",
        "crystalmap.ang",
        "crystalmap.ctf",
        "fractions.json",
        "metrics.json",
    }
    assert set(paths) >= {"npz", "png", "csv", "crystalmap", "fractions"}
    assert run.phasemap_scans() == ["tiny"]
    back = load_phasemap(run, "tiny")
    np.testing.assert_array_equal(back.pred, phasemap.pred)
    np.testing.assert_array_equal(back.true, phasemap.true)
    np.testing.assert_array_equal(back.index, phasemap.index)
    np.testing.assert_allclose(back.proba, phasemap.proba)
    assert back.step_size == 0.5 and back.meta["scan"] == "tiny"
    assert back.phases == phasemap.phases
    with np.load(folder / "phasemap.npz") as z:
        np.testing.assert_array_equal(z["error"], phasemap.error)
        assert z["scan_shape"].tolist() == [6, 5]
    fractions = json.loads((folder / "fractions.json").read_text())
    assert fractions["accuracy"] == pytest.approx(27 / 28) and fractions["n_wrong"] == 1
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["n"] == 28 and metrics["confusion_matrix"][2][1] == 1
    assert load_phasemap(str(run.path), "tiny").scan_shape == (6, 5)


def test_load_missing_phasemap(tmp_path):
    run = RunDir(tmp_path / "run1")
    run.path.mkdir()
    with pytest.raises(FileNotFoundError, match="no phase map 'nope' in run 'run1'"):
        load_phasemap(run, "nope")
    with pytest.raises(ValueError, match=r"scan name '../x' is not allowed"):
        load_phasemap(run, "../x")
