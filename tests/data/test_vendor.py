"""Vendor scans through kikuchipy, with the small sample files kikuchipy ships in its wheel."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from ebsdlib.data.format import DataFormatError
from ebsdlib.data.readers import load

kp = pytest.importorskip("kikuchipy")

# file, scan shape, step size (µm), pattern dtype
SAMPLES = [
    ("kikuchipy_h5ebsd/patterns.h5", (3, 3), 1.5, np.uint8),
    ("kikuchipy_h5ebsd/patterns_nochunks.h5", (1, 1), None, np.uint8),
    ("edax_h5ebsd/patterns.h5", (3, 3), 1.5, np.uint8),
    ("nordif/Pattern.dat", (3, 3), 1.5, np.uint8),
    ("oxford_binary/patterns.ebsp", (3, 3), 1.5, np.uint8),
    ("edax_binary/edax_binary.up1", (1, 9), 1.0, np.uint8),
    ("edax_binary/edax_binary.up2", (1, 10), np.pi / 2, np.uint16),
    ("emsoft_ebsd/EBSD_TEST_Ni.h5", (1, 1), None, np.uint8),
]


def _kikuchipy_patterns(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = kp.load(path)
    return np.asarray(s.data).reshape(-1, *s.data.shape[-2:])


@pytest.fixture(scope="session")
def dummy_vendor_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Bruker and Oxford h5ebsd files made by kikuchipy's own dummy-file writers (no download)."""
    from kikuchipy.data._dummy_files.bruker_h5ebsd import create_dummy_bruker_h5ebsd_file
    from kikuchipy.data._dummy_files.oxford_h5ebsd import create_dummy_oxford_h5ebsd_file

    d = tmp_path_factory.mktemp("vendor")
    create_dummy_bruker_h5ebsd_file(d / "bruker.h5")
    create_dummy_oxford_h5ebsd_file(d / "oxford.h5oina")
    return {"bruker": d / "bruker.h5", "oxford": d / "oxford.h5oina"}


def _save_kikuchipy(path: Path, data: np.ndarray, step: float = 0.25) -> Path:
    s = kp.signals.EBSD(data)
    for axis in s.axes_manager.navigation_axes:
        axis.scale, axis.units = step, "um"
    s.save(path)
    return path


@pytest.mark.parametrize(("name", "scan_shape", "step", "dtype"), SAMPLES)
def test_vendor_samples_convert(kp_data: Path, tmp_path: Path, name: str, scan_shape, step, dtype) -> None:
    src = kp_data / name
    with load(src, out=tmp_path / "scan.h5") as ds:
        assert ds.scan_shape == scan_shape and ds.patterns.dtype == dtype
        assert ds.step_size == pytest.approx(step) if step else ds.step_size is None
        np.testing.assert_array_equal(ds.read(slice(None)), _kikuchipy_patterns(src))
        n = scan_shape[0] * scan_shape[1]
        assert (ds.labels == -1).all() and len(ds) == n
        row, col = np.divmod(np.arange(n), scan_shape[1])
        np.testing.assert_array_equal(ds.optional("scan/row"), row)
        np.testing.assert_array_equal(ds.optional("scan/col"), col)
        assert ds.split is None and ds.summary()["split_rule"] == "none (unlabelled scan)"
        prov = ds.provenance
        assert prov["reader"] == "vendor" and prov["source"] == str(src.resolve())
        assert prov["kikuchipy_version"] == kp.__version__
        assert ds.phase_names == ["Ni", "Ni3Al", "Ni3Fe"]


@pytest.mark.parametrize("which", ["bruker", "oxford"])
def test_bruker_and_oxford_h5ebsd(dummy_vendor_files: dict, tmp_path: Path, which: str) -> None:
    src = dummy_vendor_files[which]
    with load(src, out=tmp_path / "scan.h5") as ds:
        assert ds.scan_shape == (3, 3) and ds.step_size == pytest.approx(1.5)
        np.testing.assert_array_equal(ds.read(slice(None)), _kikuchipy_patterns(src))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            detector = kp.load(src).detector
        assert ds.provenance["detector"]["sample_tilt"] == pytest.approx(detector.sample_tilt)
        assert ds.provenance["detector"]["pc_mean"] == pytest.approx(detector.pc_average.tolist())


def test_static_background_from_the_file_is_kept(kp_data: Path, tmp_path: Path) -> None:
    src = kp_data / "kikuchipy_h5ebsd" / "patterns.h5"
    with load(src, out=tmp_path / "scan.h5") as ds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = kp.load(src).static_background
        np.testing.assert_allclose(ds.static_background, want)
        assert ds.provenance["static_background"] == "from the file"
        assert ds.provenance["detector"]["pc_mean"] == pytest.approx([0.425, 0.213, 0.501], abs=1e-3)


def test_split_by_spatial_blocks_only_when_asked(tmp_path: Path) -> None:
    data = np.random.default_rng(0).integers(0, 255, (25, 32, 6, 7)).astype(np.uint8)
    src = _save_kikuchipy(tmp_path / "big.h5", data)
    with load(src, out=tmp_path / "plain.h5", phases=["Ni", "Ni3Fe"]) as ds:
        assert ds.split is None and ds.step_size == pytest.approx(0.25)
        assert ds.scan_shape == (25, 32) and ds.phase_names == ["Ni", "Ni3Fe"]
    with load(src, out=tmp_path / "split.h5", fractions=(0.6, 0.2, 0.2), seed=1) as ds:
        split, row, col = ds.split, ds.optional("scan/row"), ds.optional("scan/col")
        assert set(np.unique(split)) == {0, 1, 2}
        block = (row // 10) * 4 + col // 10
        for b in np.unique(block):
            assert len(np.unique(split[block == b])) == 1
        assert "10×10 scan blocks" in ds.summary()["split_rule"]


@pytest.mark.parametrize(
    ("dtype", "scale", "want"),
    [(np.int32, 100, np.uint16), (np.int32, 100_000, np.float32), (np.float64, 1, np.float32)],
)
def test_other_dtypes_are_converted(tmp_path: Path, dtype, scale, want) -> None:
    data = (np.random.default_rng(1).random((2, 3, 5, 5)) * scale + 1).astype(dtype)
    src = _save_kikuchipy(tmp_path / "x.h5", data)
    with load(src, out=tmp_path / "scan.h5") as ds:
        assert ds.patterns.dtype == want
        np.testing.assert_allclose(ds.read(slice(None)), data.reshape(6, 5, 5).astype(want))


def test_blank_frames_are_kept_and_counted_all_blank_refused(tmp_path: Path) -> None:
    data = np.random.default_rng(2).integers(1, 255, (2, 3, 5, 5)).astype(np.uint8)
    data[1, 2] = 0
    with load(_save_kikuchipy(tmp_path / "some.h5", data), out=tmp_path / "a.h5") as ds:
        assert ds.provenance["blank_patterns"] == 1 and len(ds) == 6
    src = _save_kikuchipy(tmp_path / "none.h5", np.zeros((2, 3, 5, 5), np.uint8))
    with pytest.raises(DataFormatError, match=r"none.h5: all 6 patterns are constant \(blank frames\)"):
        load(src, out=tmp_path / "b.h5")
    assert not (tmp_path / "b.h5").exists()


def test_nan_patterns_are_refused_naming_the_source(tmp_path: Path) -> None:
    data = np.random.default_rng(3).random((2, 2, 5, 5)).astype(np.float32)
    data[1, 0, 2, 2] = np.nan
    src = _save_kikuchipy(tmp_path / "nan.h5", data)
    with pytest.raises(DataFormatError, match=r"nan.h5: pattern 2 contains NaN or inf values"):
        load(src, out=tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_master_pattern_is_refused(kp_data: Path, tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="read it as LazyEBSDMasterPattern, not a scan of EBSD patterns"):
        load(kp_data / "emsoft_ebsd_master_pattern" / "master_patterns.h5", out=tmp_path / "o.h5")


def test_unreadable_vendor_files(kp_data: Path, tmp_path: Path) -> None:
    # a truncated NORDIF acquisition: the settings promise more frames than the file holds
    (tmp_path / "nordif").mkdir()
    raw = (kp_data / "nordif" / "Pattern.dat").read_bytes()
    (tmp_path / "nordif" / "Pattern.dat").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "nordif" / "Setting.txt").write_bytes((kp_data / "nordif" / "Setting.txt").read_bytes())
    with pytest.raises(DataFormatError, match=r"Pattern.dat: reading patterns 0..8 failed .* truncated or corrupt"):
        load(tmp_path / "nordif" / "Pattern.dat", out=tmp_path / "a.h5")
    # a truncated Oxford binary file
    ebsp = tmp_path / "cut.ebsp"
    ebsp.write_bytes((kp_data / "oxford_binary" / "patterns.ebsp").read_bytes()[:5000])
    with pytest.raises(DataFormatError, match=r"cut.ebsp: kikuchipy cannot read this file as an EBSD scan"):
        load(ebsp, out=tmp_path / "b.h5")
    # an HDF5 file that is neither an ebsdlib data set nor a vendor scan
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["something"] = np.arange(3)
    with pytest.raises(
        DataFormatError,
        match=r"other.h5: kikuchipy cannot read this file as an EBSD scan "
        r".*the HDF5 file holds top-level entries \['something'\]",
    ):
        load(tmp_path / "other.h5", out=tmp_path / "c.h5")
    # a vendor file that is only a name
    (tmp_path / "fake.up1").write_bytes(b"\x00\x01")
    with pytest.raises(DataFormatError, match=r"fake.up1: kikuchipy cannot read this file"):
        load(tmp_path / "fake.up1", out=tmp_path / "d.h5")
    assert not any(tmp_path.glob("?.h5")) and not any(tmp_path.glob("*.part"))


def test_size_is_refused_for_scans(kp_data: Path) -> None:
    with pytest.raises(ValueError, match="size=32 applies to image folders only"):
        load(kp_data / "nordif" / "Pattern.dat", size=32)
