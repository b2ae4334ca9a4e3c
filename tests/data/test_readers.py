"""The one entry point: sniffing, dispatch, the import cache and errors for unknown input."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

import ebsdlib.data
from ebsdlib.data.format import DataFormatError, EBSDDataset
from ebsdlib.data.readers import cache_path, load, sniff

from .conftest import save_image


def test_sniff_by_content(tiny_dataset: Path, make_image_folder, kp_data: Path, tmp_path: Path) -> None:
    assert sniff(tiny_dataset) == "ebsdlib"
    renamed = tmp_path / "dataset.bin"  # content decides, not the name
    renamed.write_bytes(tiny_dataset.read_bytes())
    assert sniff(renamed) == "ebsdlib"
    assert sniff(make_image_folder()) == "image_folder"
    assert sniff(kp_data / "kikuchipy_h5ebsd" / "patterns.h5") == "vendor"
    assert sniff(kp_data / "nordif" / "Pattern.dat") == "vendor"


def test_project_hdf5_opens_directly(tiny_dataset: Path) -> None:
    with ebsdlib.data.load(tiny_dataset) as ds:
        assert isinstance(ds, EBSDDataset) and ds.path == tiny_dataset and len(ds) == 30
    with load(tiny_dataset, phases=["Ni", "Ni3Al", "Ni3Fe", "Cu"], verify=True) as ds:
        assert ds.phase_names == ["Ni", "Ni3Al", "Ni3Fe"]
    with pytest.raises(
        DataFormatError, match=r"tiny.h5: unknown phase names \['Ni3Al', 'Ni3Fe'\]; expected one of \['Ni'\]"
    ):
        load(tiny_dataset, phases=["Ni"])


def test_project_hdf5_copied_to_out(tiny_dataset: Path, tmp_path: Path) -> None:
    with load(tiny_dataset, out=tmp_path / "copies" / "copy.h5") as ds:
        assert ds.path == tmp_path / "copies" / "copy.h5"
        np.testing.assert_array_equal(ds.labels, np.arange(30) % 3)


def test_imports_are_cached_by_source_and_options(make_image_folder) -> None:
    root = make_image_folder(classes={"Ni": 3, "Ni3Al": 3}, shape=(8, 8))
    with load(root) as first:
        path = first.path
    assert path.parent == Path(os.environ["EBSDLIB_ARTIFACTS"]) / "cache" / "imported"
    assert path.name.startswith("images-") and path == cache_path(
        root, {"size": None, "phases": None, "seed": 0, "fractions": None}
    )
    stamp = path.stat().st_mtime_ns
    with load(root) as again:
        assert again.path == path and path.stat().st_mtime_ns == stamp  # reused, not rewritten
    with load(root, seed=1) as other:
        assert other.path != path
    new_image = root / "Ni" / "999.png"
    save_image(new_image, np.arange(64, dtype=np.uint8).reshape(8, 8))
    with load(root) as changed:
        assert changed.path != path and len(changed) == 7


def test_missing_and_unknown_inputs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere.h5: no such file or folder"):
        load(tmp_path / "nowhere.h5")
    (tmp_path / "notes.xyz").write_text("hello")
    with pytest.raises(
        DataFormatError,
        match=r"notes.xyz: unknown format \(extension '.xyz', first bytes "
        r"b'hello'\); known formats: an ebsdlib HDF5 data set",
    ):
        load(tmp_path / "notes.xyz")
    (tmp_path / "fake.h5").write_text("not hdf5")
    with pytest.raises(DataFormatError, match=r"fake.h5: named like HDF5 but does not start with the HDF5 signature"):
        load(tmp_path / "fake.h5")
    save_image(tmp_path / "one.png", np.eye(8, dtype=np.uint8))
    with pytest.raises(DataFormatError, match=r"one.png: a single image; put labelled images in a folder"):
        load(tmp_path / "one.png")


def test_truncated_hdf5(tiny_dataset: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.h5"
    cut.write_bytes(tiny_dataset.read_bytes()[:4096])
    with pytest.raises(
        DataFormatError, match=r"cut.h5: has the HDF5 signature but cannot be opened .* corrupt or truncated"
    ):
        load(cut)


def test_verify_reads_every_pattern(tiny_dataset: Path) -> None:
    with h5py.File(tiny_dataset, "r+") as f:
        data = f["patterns"][()].astype(np.float32)
        data[29, 0, 0] = np.nan
        del f["patterns"]
        f["patterns"] = data
    load(tiny_dataset).close()  # the layout is fine
    with pytest.raises(DataFormatError, match="pattern 29 contains NaN or inf values"):
        load(tiny_dataset, verify=True)


def test_empty_phase_list_is_an_error(tiny_dataset: Path) -> None:
    with pytest.raises(ValueError, match="phases is empty"):
        load(tiny_dataset, phases=[])
