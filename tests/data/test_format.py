"""The HDF5 data-set format: round trip, streaming, atomic writes and checks on open."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from ebsdlib.data.format import (
    DataFormatError,
    EBSDDataset,
    create_dataset,
    write_dataset,
)
from ebsdlib.phases import DEFAULT_PHASES

from .conftest import random_patterns


def test_round_trip_keeps_every_field(tiny_dataset: Path) -> None:
    with EBSDDataset(tiny_dataset) as ds:
        n = len(ds)
        assert n == 30 and ds.pattern_shape == (12, 16) and ds.patterns.dtype == np.uint8
        np.testing.assert_array_equal(ds.read(slice(None)), random_patterns(30))
        np.testing.assert_array_equal(ds.labels, np.arange(n) % 3)
        np.testing.assert_array_equal(ds.split, np.arange(n) % 3)
        np.testing.assert_array_equal(ds.optional("scan/row"), np.arange(n) // 6)
        np.testing.assert_array_equal(ds.optional("scan/col"), np.arange(n) % 6)
        np.testing.assert_allclose(ds.optional("quality"), np.linspace(0, 1, n), rtol=1e-6)
        np.testing.assert_array_equal(ds.optional("orientations")[:, 0], 1.0)
        np.testing.assert_array_equal(ds.optional("grain_id"), np.arange(n) // 2)
        assert ds.scan_shape == (5, 6) and ds.step_size == 0.5
        assert ds.phase_names == ["Ni", "Ni3Al", "Ni3Fe"] and ds.phases == DEFAULT_PHASES
        assert ds.provenance == {"made_by": "conftest"}
        np.testing.assert_allclose(ds.static_background, random_patterns(30).mean(axis=0), rtol=1e-5)
        s = ds.summary()
        assert s["split_rule"] == "test rule" and s["seed"] == 7
        assert s["counts"]["Ni"] == {"total": 10, "train": 10, "val": 0, "test": 0}
        assert s["fields"] == ["split", "scan/row", "scan/col", "quality", "orientations", "grain_id"]
        assert ds.optional("nonexistent") is None
        np.testing.assert_array_equal(ds.indices("val"), np.arange(1, n, 3))


def test_read_keeps_requested_order_and_duplicates(tiny_dataset: Path) -> None:
    want = random_patterns(30)
    with EBSDDataset(tiny_dataset) as ds:
        for idx in ([5, 2, 2, 29, 0], [29, 0], []):
            np.testing.assert_array_equal(ds.read(np.array(idx, dtype=int)), want[idx])
        with pytest.raises(IndexError, match=r"span \[0, 30\] but the data set has 30 patterns"):
            ds.read(np.array([0, 30]))


def test_iter_batches_streams_in_bounded_blocks(tiny_dataset: Path) -> None:
    want = random_patterns(30)
    with EBSDDataset(tiny_dataset) as ds:
        batches = list(ds.iter_batches(7))
        assert [len(b) for _, b in batches] == [7, 7, 7, 7, 2]
        np.testing.assert_array_equal(np.concatenate([b for _, b in batches]), want)
        picked = list(ds.iter_batches(4, indices=np.array([20, 3, 11])))
        assert [i.tolist() for i, _ in picked] == [[3, 11, 20]]
        np.testing.assert_array_equal(picked[0][1], want[[3, 11, 20]])


def test_block_writer_streams_a_file(tmp_path: Path) -> None:
    out = tmp_path / "blocks.h5"
    with create_dataset(out, 10, (8, 8), np.uint16, DEFAULT_PHASES, provenance={}, optional=["grain_id"]) as w:
        for start in (0, 4, 8):
            block = random_patterns(min(4, 10 - start), (8, 8), np.uint16, seed=start)
            w.write(start, block, labels=np.zeros(len(block), int), grain_id=np.full(len(block), start))
    with EBSDDataset(out) as ds:
        np.testing.assert_array_equal(ds.optional("grain_id"), [0] * 4 + [4] * 4 + [8] * 2)
        np.testing.assert_array_equal(ds.read(slice(8, 10)), random_patterns(2, (8, 8), np.uint16, seed=8))


def test_exception_mid_write_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "broken.h5"
    with pytest.raises(RuntimeError, match="disk on fire"):
        with create_dataset(out, 10, (8, 8), np.uint8, DEFAULT_PHASES, provenance={}) as w:
            w.write(0, random_patterns(5, (8, 8)))
            raise RuntimeError("disk on fire")
    assert list(out.parent.iterdir()) == []


def test_incomplete_write_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "partial.h5"
    with pytest.raises(DataFormatError, match="only 5 of 10 patterns were written"):
        with create_dataset(out, 10, (8, 8), np.uint8, DEFAULT_PHASES, provenance={}) as w:
            w.write(0, random_patterns(5, (8, 8)))
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_old_file(tiny_dataset: Path) -> None:
    before = tiny_dataset.read_bytes()
    with pytest.raises(DataFormatError, match="out of range"):
        write_dataset(tiny_dataset, random_patterns(3), [0, 1, 9], DEFAULT_PHASES, provenance={})
    assert tiny_dataset.read_bytes() == before
    assert [p.name for p in tiny_dataset.parent.iterdir()] == ["tiny.h5"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"patterns": np.zeros((3, 4), np.uint8)}, r"shape \(N, H, W\), got shape \(3, 4\)"),
        ({"patterns": random_patterns(3).astype(np.int64)}, "dtype int64 is not supported"),
        ({"patterns": np.zeros((0, 4, 4), np.uint8)}, "no patterns to write"),
        (
            {"patterns": np.where(np.eye(4, dtype=bool)[None], np.nan, 1).astype(np.float32).repeat(2, 0)},
            "pattern 0 contains NaN or inf",
        ),
        ({"labels": [0, 1, 3]}, r"label 3 at pattern 2 is out of range; labels must be -1 \(unknown\) or 0..2"),
        ({"labels": [0, -2, 1]}, "label -2 at pattern 1 is out of range"),
        ({"labels": [0, 1]}, r"labels has shape \(2,\), expected \(3,\)"),
        ({"labels": [0.5, 1, 2]}, "labels has dtype float64, expected integers"),
        ({"labels": [0, 70000, 1]}, "label 70000 at pattern 1 is out of range"),
        ({"split": [0, 1, 5]}, r"split code 5 at pattern 2 is not one of 0 \(train\)"),
        ({"orientations": np.zeros((3, 3))}, r"orientations has shape \(3, 3\), expected \(3, 4\)"),
        ({"quality": ["a", "b", "c"]}, "quality has dtype <U1, expected numbers"),
        (
            {"scan_row": [0, 1, 2], "scan_col": [0, 0, 0], "scan_shape": (2, 2)},
            r"scan position \(row 2, col 0\) of pattern 2 lies outside the scan shape 2×2",
        ),
        ({"scan_shape": (0, 3)}, r"scan_shape \(0, 3\) must be two positive integers"),
        ({"step_size": -1.0}, "step_size -1.0 must be a positive number"),
        ({"phases": [DEFAULT_PHASES[0], DEFAULT_PHASES[0]], "labels": [0, 1, 1]}, r"phase names \['Ni', 'Ni'\] repeat"),
    ],
)
def test_writer_refuses_bad_input_and_writes_nothing(tmp_path: Path, kwargs: dict, match: str) -> None:
    args = {"patterns": random_patterns(3), "labels": [0, 1, 2], "phases": DEFAULT_PHASES} | kwargs
    out = tmp_path / "bad.h5"
    with pytest.raises(DataFormatError, match=match):
        write_dataset(out, args.pop("patterns"), args.pop("labels"), args.pop("phases"), provenance={}, **args)
    assert list(tmp_path.iterdir()) == []


def test_constant_patterns_refused_when_labelled_kept_when_unlabelled(tmp_path: Path) -> None:
    patterns = random_patterns(4)
    patterns[2] = 17
    with pytest.raises(DataFormatError, match=r"pattern 2 \(label 2\) is constant, every pixel 17"):
        write_dataset(tmp_path / "a.h5", patterns, [0, 1, 2, 0], DEFAULT_PHASES, provenance={})
    path = write_dataset(tmp_path / "b.h5", patterns, [0, 1, -1, 0], DEFAULT_PHASES, provenance={})
    with EBSDDataset(path) as ds:
        ds.verify()
    with pytest.raises(DataFormatError, match="all 4 patterns are constant"):
        write_dataset(tmp_path / "c.h5", np.zeros((4, 5, 5), np.uint8), None, DEFAULT_PHASES, provenance={})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.h5"]


def test_block_writer_refuses_undeclared_fields_and_wrong_blocks(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="per-pattern field 'quality' was not declared"):
        with create_dataset(tmp_path / "x.h5", 2, (4, 4), np.uint8, DEFAULT_PHASES, provenance={}) as w:
            w.write(0, random_patterns(2, (4, 4)), quality=np.ones(2))
    with pytest.raises(DataFormatError, match=r"block \[1, 3\) lies outside the 2 patterns declared"):
        with create_dataset(tmp_path / "x.h5", 2, (4, 4), np.uint8, DEFAULT_PHASES, provenance={}) as w:
            w.write(1, random_patterns(2, (4, 4)))
    with pytest.raises(DataFormatError, match=r"block of shape \(5, 4\) and dtype uint8 does not match"):
        with create_dataset(tmp_path / "x.h5", 2, (4, 4), np.uint8, DEFAULT_PHASES, provenance={}) as w:
            w.write(0, random_patterns(2, (5, 4)))
    with pytest.raises(DataFormatError, match="pattern dtype float64 is not supported"):
        create_dataset(tmp_path / "x.h5", 2, (4, 4), np.float64, DEFAULT_PHASES, provenance={})
    with pytest.raises(DataFormatError, match="unknown per-pattern field 'colour'"):
        with create_dataset(tmp_path / "x.h5", 2, (4, 4), np.uint8, DEFAULT_PHASES, provenance={}, optional=["colour"]):
            pass
    assert list(tmp_path.iterdir()) == []


# -- files broken after writing: refused on open -----------------------------------------------


def _edit(path: Path, edit) -> Path:
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def _replace(f: h5py.File, key: str, data) -> None:
    del f[key]
    f[key] = data


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda f: f.attrs.__setitem__("format", "something-else"),
            "attribute 'format' is 'something-else', expected 'ebsdlib-dataset'",
        ),
        (lambda f: f.attrs.__setitem__("format_version", 99), "format_version 99 is not supported"),
        (lambda f: f.__delitem__("labels"), "dataset '/labels' is missing"),
        (
            lambda f: _replace(f, "patterns", np.zeros((30, 12, 16), np.float64)),
            r"'/patterns' has shape \(30, 12, 16\) and dtype float64",
        ),
        (lambda f: _replace(f, "patterns", np.zeros((30, 12), np.uint8)), r"'/patterns' has shape \(30, 12\)"),
        (lambda f: _replace(f, "labels", np.zeros(29, np.int16)), r"'/labels' has shape \(29,\), expected \(30,\)"),
        (lambda f: _replace(f, "labels", np.zeros(30, np.float32)), "'/labels' has dtype float32, expected int16"),
        (lambda f: _replace(f, "labels", np.full(30, 3, np.int16)), "label 3 at pattern 0 is out of range"),
        (
            lambda f: _replace(f, "orientations", np.zeros((30, 3), np.float32)),
            r"'/orientations' has shape \(30, 3\), expected \(30, 4\)",
        ),
        (lambda f: _replace(f, "split", np.full(30, 4, np.int8)), "'/split' holds code 4"),
        (lambda f: f.__delitem__("scan/col"), "has only one of '/scan/row' and '/scan/col'"),
        (
            lambda f: _replace(f, "scan/row", np.full(30, 9, np.int32)),
            r"scan position \(row 9, col 0\) of pattern 0 lies outside the scan shape 5×6",
        ),
        (lambda f: f.attrs.__setitem__("scan_shape", np.array([5, 6, 7])), "attribute 'scan_shape' is"),
        (lambda f: f.attrs.__setitem__("phases", "{not json"), "attribute 'phases' is missing or not a valid JSON"),
        (
            lambda f: f.attrs.__setitem__("phases", json.dumps([{"name": "Ni"}])),
            "attribute 'phases' is missing or not a valid JSON list of phases",
        ),
        (lambda f: f.attrs.__setitem__("provenance", "{oops"), "attribute 'provenance' is not valid JSON"),
        (
            lambda f: _replace(f, "static_background", np.ones((3, 3), np.float32)),
            r"'/static_background' has shape \(3, 3\), expected the pattern shape \(12, 16\)",
        ),
        (lambda f: _replace(f, "patterns", np.zeros((0, 12, 16), np.uint8)), "the data set is empty"),
    ],
)
def test_broken_files_are_refused_on_open(tiny_dataset: Path, edit, match: str) -> None:
    _edit(tiny_dataset, edit)
    with pytest.raises(DataFormatError, match=match):
        EBSDDataset(tiny_dataset)


def test_verify_finds_nan_and_labelled_blank_patterns(tiny_dataset: Path) -> None:
    def to_float_with_nan(f: h5py.File) -> None:
        data = f["patterns"][()].astype(np.float32)
        data[17, 3, 3] = np.inf
        _replace(f, "patterns", data)

    _edit(tiny_dataset, to_float_with_nan)
    with EBSDDataset(tiny_dataset) as ds:  # opening checks the layout only
        with pytest.raises(DataFormatError, match="pattern 17 contains NaN or inf values"):
            ds.verify(batch_size=8)


def test_missing_truncated_and_non_hdf5_files(tiny_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such data set file"):
        EBSDDataset(tmp_path / "absent.h5")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(tiny_dataset.read_bytes()[:2000])
    with pytest.raises(DataFormatError, match=r"cannot be opened as HDF5 .* corrupt or truncated"):
        EBSDDataset(truncated)
    text = tmp_path / "text.h5"
    text.write_text("hello")
    with pytest.raises(DataFormatError, match=r"text.h5: cannot be opened as HDF5"):
        EBSDDataset(text)


def test_written_file_honours_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = write_dataset(tmp_path / "m.h5", random_patterns(2), None, DEFAULT_PHASES, provenance={})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
