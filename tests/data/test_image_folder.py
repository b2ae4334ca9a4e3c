"""Image-folder reader: formats, bit depths, colour, resizing, labels, split and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ebsdlib.data.format import DataFormatError
from ebsdlib.data.readers import load

from .conftest import random_patterns, save_image


def _originals(root: Path, order: list[str]) -> np.ndarray:
    files = [p for name in order for p in sorted((root / name).iterdir())]
    return np.stack([np.asarray(Image.open(p)) for p in files])


@pytest.mark.parametrize(
    ("ext", "dtype"),
    [
        (".png", np.uint8),
        (".png", np.uint16),
        (".tif", np.uint8),
        (".tiff", np.uint16),
        (".bmp", np.uint8),
        (".tif", np.float32),
    ],
)
def test_lossless_formats_round_trip(make_image_folder, tmp_path: Path, ext: str, dtype) -> None:
    root = make_image_folder(classes={"Ni3Fe": 3, "Ni": 4, "Ni3Al": 2}, shape=(12, 10), ext=ext, dtype=dtype)
    with load(root, out=tmp_path / "out.h5") as ds:
        assert ds.patterns.dtype == np.dtype(dtype) and ds.pattern_shape == (12, 10)
        assert ds.phase_names == ["Ni", "Ni3Al", "Ni3Fe"]  # the project's order, not alphabetical
        np.testing.assert_array_equal(ds.labels, [0] * 4 + [1] * 2 + [2] * 3)
        np.testing.assert_array_equal(ds.read(slice(None)), _originals(root, ["Ni", "Ni3Al", "Ni3Fe"]))
        prov = ds.provenance
        assert prov["reader"] == "image_folder" and prov["source"] == str(root.resolve())
        assert prov["classes"] == {"Ni": 4, "Ni3Al": 2, "Ni3Fe": 3} and prov["resize"] == "none"


def test_jpeg_and_colour_images_become_grey(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    save_image(tmp_path / "f" / "Ni" / "a.png", colour)
    save_image(tmp_path / "f" / "Ni" / "b.png", np.dstack([colour, np.full((16, 16), 255, np.uint8)]))
    save_image(tmp_path / "f" / "Ni3Al" / "c.jpg", colour)
    save_image(tmp_path / "f" / "Ni3Al" / "d.jpeg", colour[..., 0])
    with load(tmp_path / "f", out=tmp_path / "out.h5") as ds:
        grey = np.asarray(Image.fromarray(colour).convert("L"))
        p = ds.read(slice(None))
        np.testing.assert_array_equal(p[0], grey)  # RGB → ITU-R 601 luma
        np.testing.assert_array_equal(p[1], grey)  # alpha dropped
        assert np.abs(p[2].astype(int) - grey).mean() < 12  # JPEG is lossy
        assert np.abs(p[3].astype(int) - colour[..., 0]).mean() < 12
        assert ds.provenance["source_modes"] == {"RGB": 2, "RGBA": 1, "L": 1}


def test_mixed_sizes_are_resized_to_the_most_common(tmp_path: Path) -> None:
    yy, xx = np.mgrid[0:40, 0:60]
    ramp = (xx * 2 + yy).astype(np.uint8)  # smooth: resizing keeps it a ramp
    small = np.asarray(Image.fromarray(ramp).resize((30, 20), Image.Resampling.BILINEAR))
    for i in range(3):
        save_image(tmp_path / "f" / "Ni" / f"{i}.png", small + i)
    save_image(tmp_path / "f" / "Ni3Fe" / "big.png", ramp)
    with load(tmp_path / "f", out=tmp_path / "out.h5") as ds:
        assert ds.pattern_shape == (20, 30)
        resized = ds.read(np.array([3]))[0].astype(int)
        assert np.abs(resized - small.astype(int)).max() <= 2
        assert ds.provenance["source_shapes"] == {"20x30": 3, "40x60": 1}
        assert ds.provenance["resize"].startswith("Pillow bilinear")
    with load(tmp_path / "f", out=tmp_path / "sized.h5", size=10) as ds:
        assert ds.pattern_shape == (10, 15)  # rows = size, width keeps the aspect ratio


def test_8_and_16_bit_images_mix_into_uint16(tmp_path: Path) -> None:
    a8 = random_patterns(1, (8, 8), np.uint8, seed=1)[0]
    a16 = random_patterns(1, (8, 8), np.uint16, seed=2)[0]
    save_image(tmp_path / "f" / "Ni" / "a.png", a8)
    save_image(tmp_path / "f" / "Ni" / "b.png", a16)
    with load(tmp_path / "f", out=tmp_path / "out.h5") as ds:
        assert ds.patterns.dtype == np.uint16
        np.testing.assert_array_equal(ds.read(slice(None)), np.stack([a8.astype(np.uint16) * 257, a16]))


def test_split_is_seeded_stratified_and_stored(make_image_folder, tmp_path: Path) -> None:
    root = make_image_folder(classes={"Ni": 20, "Ni3Al": 20}, shape=(8, 8))
    with (
        load(root, out=tmp_path / "a.h5", seed=4) as a,
        load(root, out=tmp_path / "b.h5", seed=4) as b,
        load(root, out=tmp_path / "c.h5", seed=5, fractions=(0.5, 0.25, 0.25)) as c,
    ):
        np.testing.assert_array_equal(a.split, b.split)
        for lab in (0, 1):
            assert np.bincount(a.split[a.labels == lab], minlength=3).tolist() == [14, 3, 3]
            assert np.bincount(c.split[c.labels == lab], minlength=3).tolist() == [10, 5, 5]
        assert a.summary()["split_rule"].endswith("seed 4") and a.summary()["seed"] == 4


def test_given_phases_set_label_order_and_refuse_unknown_names(make_image_folder, tmp_path: Path) -> None:
    root = make_image_folder(classes={"ni3fe": 2, "Ni": 2}, shape=(8, 8))
    with load(root, out=tmp_path / "a.h5", phases=["Ni3Fe", "Ni"]) as ds:
        assert ds.phase_names == ["Ni3Fe", "Ni"]
        np.testing.assert_array_equal(ds.labels, [1, 1, 0, 0])  # folders sorted Ni, ni3fe
    with pytest.raises(DataFormatError, match=r"unknown phase names \['ni3fe'\]; expected one of \['Ni', 'Ni3Al'\]"):
        load(root, out=tmp_path / "b.h5", phases=["Ni", "Ni3Al"])
    with load(make_image_folder(classes={"Gamma": 2, "Ni": 2}, name="other"), out=tmp_path / "c.h5") as ds:
        assert ds.phase_names == ["Ni", "Gamma"]  # default phases first, then others
        assert ds.phases[1].color and ds.phases[1].color != ds.phases[0].color
    assert not (tmp_path / "b.h5").exists()


def test_hidden_and_non_image_files_are_ignored(make_image_folder, tmp_path: Path) -> None:
    root = make_image_folder(classes={"Ni": 2}, shape=(8, 8))
    (root / "Ni" / "notes.txt").write_text("acquired 2024")
    (root / ".DS_Store").write_bytes(b"\0\1")
    save_image(root / "Ni" / ".thumb.png", random_patterns(1, (4, 4))[0])
    with load(root, out=tmp_path / "a.h5") as ds:
        assert len(ds) == 2 and ds.pattern_shape == (8, 8)


def _write_bad(root: Path, case: str) -> None:
    good = random_patterns(2, (8, 8))
    save_image(root / "Ni" / "ok0.png", good[0])
    save_image(root / "Ni" / "ok1.png", good[1])
    if case == "garbage":
        (root / "Ni" / "bad.png").write_bytes(b"not an image at all")
    elif case == "truncated":
        full = root / "Ni" / "ok1.png"
        save_image(root / "Ni" / "bad.png", random_patterns(1, (64, 64), seed=3)[0])
        (root / "Ni" / "bad.png").write_bytes((root / "Ni" / "bad.png").read_bytes()[:300])
        assert full.exists()
    elif case == "constant":
        save_image(root / "Ni" / "bad.png", np.full((8, 8), 9, np.uint8))
    elif case == "nan":
        arr = random_patterns(1, (8, 8), np.float32)[0]
        arr[2, 2] = np.nan
        for p in (root / "Ni").iterdir():
            p.unlink()
        save_image(root / "Ni" / "ok.tif", random_patterns(1, (8, 8), np.float32)[0])
        save_image(root / "Ni" / "bad.tif", arr)
    elif case == "aspect":
        save_image(root / "Ni" / "bad.png", random_patterns(1, (8, 12))[0])
    elif case == "float_mix":
        save_image(root / "Ni" / "bad.tif", random_patterns(1, (8, 8), np.float32)[0])
    elif case == "empty_class":
        (root / "Ni3Al").mkdir()
        (root / "Ni3Al" / "readme.txt").write_text("todo")
    elif case == "loose":
        save_image(root / "bad.png", good[0])
    elif case == "int32":
        Image.fromarray(np.full((8, 8), 70000, np.int32) + np.eye(8, dtype=np.int32)).save(root / "Ni" / "bad.tif")


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("garbage", r"bad.png: cannot be read as an image .* corrupt or not a PNG/TIFF/JPEG/BMP"),
        ("truncated", r"bad.png: the image cannot be decoded .* corrupt or truncated"),
        ("constant", r"bad.png: every pixel is 9, a blank image carries no diffraction pattern"),
        ("nan", r"bad.tif: 1 pixels are NaN or inf"),
        (
            "aspect",
            r"bad.png: image of 8×12 pixels cannot be resized to the common shape: its aspect ratio "
            r"1.500 differs from 1.000 of 2 images such as .*ok0.png \(8×8\)",
        ),
        ("float_mix", r"mixes float images \(e.g. .*bad.tif\) with 8/16-bit integer images"),
        ("empty_class", r"Ni3Al: empty class folder: expected images .* found 1 other files, e.g. \['readme.txt'\]"),
        ("loose", r"images \['bad.png'\] lie outside the phase sub-folders"),
        ("int32", r"bad.tif: 32-bit integer image with values in \[70000, 70001\], outside 0..65535"),
    ],
)
def test_bad_image_folders_are_refused_and_nothing_is_written(tmp_path: Path, case: str, match: str) -> None:
    root = tmp_path / "images"
    _write_bad(root, case)
    out = tmp_path / "out" / "data.h5"
    out.parent.mkdir()
    with pytest.raises(DataFormatError, match=match):
        load(root, out=out)
    assert list(out.parent.iterdir()) == []


def test_folder_without_class_sub_folders(tmp_path: Path) -> None:
    (tmp_path / "flat").mkdir()
    save_image(tmp_path / "flat" / "a.png", random_patterns(1, (8, 8))[0])
    with pytest.raises(
        DataFormatError,
        match=r"flat: a folder of images needs one sub-folder per phase .* "
        r"found no sub-folders but 1 files, e.g. \['a.png'\]",
    ):
        load(tmp_path / "flat")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="found no sub-folders but nothing"):
        load(tmp_path / "empty")


def test_image_that_resizes_to_blank_is_named(tmp_path: Path) -> None:
    save_image(tmp_path / "f" / "Ni" / "checker.png", np.array([[0, 255], [255, 0]], np.uint8))
    with pytest.raises(
        DataFormatError,
        match=r"checker.png: becomes blank \(every pixel 128\) when resized "
        r"from 2×2 to 1×1",
    ):
        load(tmp_path / "f", out=tmp_path / "o.h5", size=1)
    assert not (tmp_path / "o.h5").exists()
