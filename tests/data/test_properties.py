"""Property-based tests: any input either round-trips or is refused with DataFormatError."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ebsdlib.data.format import ALLOWED_DTYPES, DataFormatError, write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.data.readers import load
from ebsdlib.phases import DEFAULT_PHASES

from .conftest import save_image

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = [np.uint8, np.uint16, np.float32, np.float64, np.int64, np.int8, np.bool_]


@st.composite
def pattern_arrays(draw) -> np.ndarray:
    """Half plausible patterns (allowed dtype, (N, H, W), finite), half anything."""
    if draw(st.booleans()):
        dtype = np.dtype(draw(st.sampled_from(ALLOWED_DTYPES)))
        shape = draw(hnp.array_shapes(min_dims=3, max_dims=3, min_side=2, max_side=5))
        kw = {"allow_nan": False, "allow_infinity": False, "width": 32} if dtype.kind == "f" else {}
    else:
        dtype = np.dtype(draw(st.sampled_from(DTYPES)))
        ndim = draw(st.sampled_from([3, 3, 2, 4]))
        shape = draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=0, max_side=5))
        kw = {"allow_nan": True, "allow_infinity": True, "width": 32} if dtype.kind == "f" else {}
    elements = st.floats(**kw) if dtype.kind == "f" else hnp.from_dtype(dtype)
    return draw(hnp.arrays(dtype, shape, elements=elements, fill=st.nothing()))


@st.composite
def label_arrays(draw, n: int, n_phases: int):
    kind = draw(st.sampled_from(["good", "good", "good", "none", "range", "float", "length"]))
    if kind == "none":
        return None
    if kind == "float":
        return draw(hnp.arrays(np.float64, n, elements=st.floats(-2, 4)))
    length = draw(st.integers(0, n + 2)) if kind == "length" else n
    lo, hi = (-1, n_phases - 1) if kind == "good" else (-40000, 40000)
    return draw(hnp.arrays(np.int64, length, elements=st.integers(lo, hi)))


def _valid(patterns: np.ndarray, labels, n_phases: int) -> bool:
    """What the writer must accept, stated independently of its code."""
    if patterns.ndim != 3 or patterns.dtype not in ALLOWED_DTYPES or 0 in patterns.shape:
        return False
    if patterns.dtype.kind == "f" and not np.isfinite(patterns).all():
        return False
    lab = np.full(len(patterns), -1) if labels is None else np.asarray(labels)
    if lab.dtype.kind not in "iu" or lab.shape != (len(patterns),) or ((lab < -1) | (lab >= n_phases)).any():
        return False
    flat = patterns.reshape(len(patterns), -1)
    constant = flat.min(axis=1) == flat.max(axis=1)
    return not (constant & (lab >= 0)).any() and not constant.all()


@SETTINGS
@given(data=st.data())
def test_arrays_round_trip_or_are_refused(data) -> None:
    patterns = data.draw(pattern_arrays())
    phases = DEFAULT_PHASES[: data.draw(st.integers(1, 3))]
    labels = data.draw(label_arrays(len(patterns) if patterns.ndim else 0, len(phases)))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "p.h5"
        try:
            write_dataset(out, patterns, labels, phases, provenance={"test": "hypothesis"})
        except DataFormatError:
            event("refused")
            assert not _valid(patterns, labels, len(phases))
            assert list(Path(tmp).iterdir()) == []
            return
        event("round trip")
        assert _valid(patterns, labels, len(phases))
        with load(out, verify=True) as ds:
            np.testing.assert_array_equal(ds.read(slice(None)), patterns)
            want = np.full(len(patterns), -1) if labels is None else labels
            np.testing.assert_array_equal(ds.labels, want)
            assert ds.phase_names == [p.name for p in phases]


MODES = ["L", "I;16", "RGB", "F"]


@st.composite
def image_folders(draw) -> list[list[tuple[str, str, tuple[int, int], int]]]:
    """Classes of (mode, extension, shape, seed): mostly one mode and shape, sometimes mixed."""
    common_mode = draw(st.sampled_from([*MODES, "mixed"]))
    common = draw(st.tuples(st.integers(2, 12), st.integers(2, 12)))
    classes = []
    for _ in range(draw(st.integers(1, 3))):
        images = []
        for _ in range(draw(st.integers(0, 3) if draw(st.integers(0, 9)) == 0 else st.integers(1, 3))):
            mode = draw(st.sampled_from(MODES)) if common_mode == "mixed" else common_mode
            ext = ".tif" if mode == "F" else draw(st.sampled_from([".png", ".tif"]))
            odd = draw(st.integers(0, 5)) == 0
            scale = draw(st.integers(1, 3))
            shape = (
                draw(st.tuples(st.integers(1, 12), st.integers(1, 12)))
                if odd
                else (common[0] * scale, common[1] * scale)
            )
            images.append((mode, ext, shape, draw(st.integers(0, 2**16))))
        classes.append(images)
    return classes


def _image(mode: str, shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if mode == "L":
        return rng.integers(0, 3, shape).astype(np.uint8)  # few levels: blank images happen
    if mode == "I;16":
        return rng.integers(0, 65535, shape).astype(np.uint16)
    if mode == "RGB":
        return rng.integers(0, 255, (*shape, 3)).astype(np.uint8)
    return rng.normal(size=shape).astype(np.float32)


@SETTINGS
@given(classes=image_folders(), size=st.sampled_from([None, None, 8]))
def test_image_folders_import_or_are_refused(classes, size) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        root.mkdir()
        for c, images in enumerate(classes):
            (root / f"phase{c}").mkdir()
            for i, (mode, ext, shape, seed) in enumerate(images):
                save_image(root / f"phase{c}" / f"{i}{ext}", _image(mode, shape, seed))
        out = Path(tmp) / "out" / "o.h5"
        try:
            ds = load(root, out=out, size=size)
        except DataFormatError as e:
            event(f"refused: {str(e).split(': ', 1)[1][:25]}")
            assert not out.exists() and not any(out.parent.glob("*.part"))
            return
        event("imported")
        with ds:
            n = sum(len(images) for images in classes)
            assert len(ds) == n and ds.phase_names == [f"phase{c}" for c in range(len(classes))]
            assert size is None or ds.pattern_shape[0] == size
            ds.verify()


@SETTINGS
@given(
    payload=st.binary(max_size=600),
    ext=st.sampled_from([".h5", ".dat", ".ebsp", ".up1", ".up2", ".png", ".xyz"]),
    hdf5_head=st.booleans(),
)
def test_random_bytes_are_refused_cleanly(payload: bytes, ext: str, hdf5_head: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"junk{ext}"
        src.write_bytes((b"\x89HDF\r\n\x1a\n" if hdf5_head else b"") + payload)
        with warnings.catch_warnings(), pytest.raises(DataFormatError, match="junk"):
            warnings.simplefilter("ignore")
            load(src, out=Path(tmp) / "o.h5")
        assert not (Path(tmp) / "o.h5").exists()


@SETTINGS
@given(
    payload=st.binary(max_size=400),
    ext=st.sampled_from([".png", ".tif", ".jpg", ".bmp"]),
    head=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"\xff\xd8\xff", b"BM"]),
)
def test_undecodable_images_in_a_class_folder_are_named(payload: bytes, ext: str, head: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        save_image(root / "Ni" / "good.png", np.arange(64, dtype=np.uint8).reshape(8, 8))
        (root / "Ni" / f"junk{ext}").write_bytes(head + payload)
        with pytest.raises(DataFormatError, match="junk"):
            load(root, out=Path(tmp) / "o.h5")
        assert not (Path(tmp) / "o.h5").exists()


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(["static_background", "dynamic_sigma", "size", "normalise", "circular_mask", "colour"]),
        st.one_of(
            st.booleans(),
            st.integers(-5, 2000),
            st.floats(allow_nan=True),
            st.sampled_from(["standard", "minmax", "none", "zscore"]),
            st.none(),
        ),
    )
)
def test_preprocess_config_accepts_or_names_the_problem(d: dict) -> None:
    try:
        cfg = PreprocessConfig.from_dict(d)
    except ValueError as e:
        assert any(repr(v) in str(e) or k in str(e) for k, v in d.items())
        return
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg
