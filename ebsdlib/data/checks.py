"""Checks of the data-set format: what a pattern block, a per-pattern field and a file must be.

Every writer in :mod:`ebsdlib.data.format` and every reader calls these, so one message names the
file, the key, the value found and the fix wherever the input comes from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import h5py
import numpy as np

from ebsdlib.phases import Phase

FORMAT_NAME = "ebsdlib-dataset"
FORMAT_VERSION = 1
ALLOWED_DTYPES = (np.uint8, np.uint16, np.float32)
SPLIT_NAMES = {0: "train", 1: "val", 2: "test", -1: "none"}
SPLIT_CODES = {v: k for k, v in SPLIT_NAMES.items()}


class DataFormatError(ValueError):
    """A file does not follow the data-set format; the message names file, key and fix."""


def check_phase_names(found: Sequence[str], phases: Sequence[Phase], where: str) -> None:
    """Refuse phase names in a file that are not in the expected phase table."""
    known = {p.name.lower() for p in phases}
    unknown = [name for name in found if name.lower() not in known]
    if unknown:
        raise DataFormatError(
            f"{where}: unknown phase names {unknown}; expected one of "
            f"{[p.name for p in phases]} (rename them or pass phases=...)"
        )


#: Optional per-pattern fields: trailing shape, dtype and fill value.
OPTIONAL_FIELDS: dict[str, tuple[tuple[int, ...], type, float]] = {
    "split": ((), np.int8, -1),
    "scan/row": ((), np.int32, -1),
    "scan/col": ((), np.int32, -1),
    "quality": ((), np.float32, np.nan),
    "orientations": ((4,), np.float32, np.nan),
    "pc": ((3,), np.float32, np.nan),
    "grain_id": ((), np.int32, -1),
}


def check_patterns(patterns: np.ndarray, where: str, offset: int = 0) -> None:
    """Refuse patterns of the wrong shape or dtype, or with NaN/inf pixels.

    ``offset`` is the index of the first pattern of the block, so messages name the pattern.
    """
    if patterns.ndim != 3:
        raise DataFormatError(
            f"{where}: patterns must have shape (N, H, W), got shape {patterns.shape}; "
            "stack single patterns along a first axis"
        )
    if patterns.dtype not in ALLOWED_DTYPES:
        raise DataFormatError(f"{where}: pattern dtype {patterns.dtype} is not supported; use uint8, uint16 or float32")
    if patterns.dtype == np.float32:
        bad = ~np.isfinite(patterns)
        if bad.any():
            first = int(np.argwhere(bad.reshape(len(patterns), -1).any(axis=1))[0, 0])
            raise DataFormatError(
                f"{where}: pattern {first + offset} contains NaN or inf values "
                f"({int(bad.sum())} pixels in all); remove or repair these patterns"
            )


def constant_mask(patterns: np.ndarray) -> np.ndarray:
    """``(N,)`` True where a pattern has the same value in every pixel (a blank frame)."""
    flat = np.asarray(patterns).reshape(len(patterns), -1)
    if flat.shape[1] == 0:
        return np.ones(len(flat), dtype=bool)
    return flat.min(axis=1) == flat.max(axis=1)


def check_constant(patterns: np.ndarray, labels: np.ndarray | None, where: str, offset: int = 0) -> int:
    """Refuse constant patterns that carry a phase label; return how many constant ones there are.

    A blank frame in an unlabelled scan (label -1) is a scan point without data and is kept;
    a labelled one would teach a model nothing but noise.
    """
    mask = constant_mask(patterns)
    if labels is not None:
        bad = mask & (np.asarray(labels) >= 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataFormatError(
                f"{where}: pattern {i + offset} (label {int(labels[i])}) is constant, every pixel "
                f"{patterns[i].flat[0].item()!r} ({int(bad.sum())} such labelled patterns in this "
                "block); a blank frame carries no diffraction signal: remove it or label it -1"
            )
    return int(mask.sum())


def check_field(key: str, values: np.ndarray, n: int, n_phases: int, where: str) -> np.ndarray:
    """Check one per-pattern array (shape, dtype kind, value range) and cast it for storage."""
    trailing, dtype, _ = OPTIONAL_FIELDS.get(key, ((), np.int16, -1))
    values = np.asarray(values)
    if values.shape != (n, *trailing):
        raise DataFormatError(
            f"{where}: {key} has shape {values.shape}, expected {(n, *trailing)} (one entry per pattern)"
        )
    integer = np.issubdtype(np.dtype(dtype), np.integer)
    kinds = "biu" if integer else "biuf"
    if values.dtype.kind not in kinds:
        raise DataFormatError(
            f"{where}: {key} has dtype {values.dtype}, expected {'integers' if integer else 'numbers'}"
        )
    if key == "labels" and values.size:
        bad = (values < -1) | (values >= n_phases)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataFormatError(
                f"{where}: label {values[i].item()!r} at pattern {i} is out of range; labels must be "
                f"-1 (unknown) or 0..{n_phases - 1} for the {n_phases} phases in the phase table"
            )
    if key == "split" and values.size and not np.isin(values, list(SPLIT_NAMES)).all():
        i = int(np.argmax(~np.isin(values, list(SPLIT_NAMES))))
        raise DataFormatError(
            f"{where}: split code {values[i].item()!r} at pattern {i} is not one of "
            "0 (train), 1 (val), 2 (test), -1 (none)"
        )
    if integer and values.size:
        info = np.iinfo(dtype)
        if values.min() < info.min or values.max() > info.max:
            raise DataFormatError(
                f"{where}: {key} values span [{values.min()}, {values.max()}], "
                f"beyond what {np.dtype(dtype).name} stores"
            )
    return values.astype(dtype)


def check_labels(labels: np.ndarray, n_phases: int, where: str) -> None:
    bad = (labels < -1) | (labels >= n_phases)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFormatError(
            f"{where}: label {int(labels[i])} at pattern {i} is out of range; labels must be "
            f"-1 (unknown) or 0..{n_phases - 1} for the {n_phases} phases in the phase table"
        )


def check_scan(row: np.ndarray, col: np.ndarray, scan_shape: tuple[int, int], where: str) -> None:
    rows, cols = (int(s) for s in scan_shape)
    bad = (row < 0) | (row >= rows) | (col < 0) | (col >= cols)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFormatError(
            f"{where}: scan position (row {int(row[i])}, col {int(col[i])}) of pattern {i} lies "
            f"outside the scan shape {rows}×{cols}; fix scan/row, scan/col or the scan_shape attribute"
        )


def plain(value: object) -> object:
    """NumPy scalars and arrays as plain Python values, for readable messages."""
    return value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value


def get_dataset(f: h5py.File, key: str) -> h5py.Dataset | None:
    """The dataset at ``key``, or ``None`` when absent (or when something else sits there)."""
    try:
        obj = f.get(key)
    except (KeyError, TypeError, ValueError):
        return None
    return obj if isinstance(obj, h5py.Dataset) else None


def check_file(f: h5py.File, where: str) -> tuple[Phase, ...]:
    """Check an open file's layout (not its pixel values) and return its phase table.

    Raises
    ------
    DataFormatError
        Naming the file, the dataset or attribute, what was found and what was expected.
    """
    fmt = f.attrs.get("format")
    if fmt != FORMAT_NAME:
        raise DataFormatError(
            f"{where}: attribute 'format' is {fmt!r}, expected {FORMAT_NAME!r}; "
            "this is not an ebsdlib data set (vendor files load through "
            "ebsdlib.data.load or `python -m ebsdlib import`)"
        )
    version = f.attrs.get("format_version")
    if not isinstance(version, (int, np.integer)) or int(version) != FORMAT_VERSION:
        raise DataFormatError(
            f"{where}: format_version {plain(version)!r} is not supported by this "
            f"ebsdlib (reads version {FORMAT_VERSION}); re-import the data"
        )
    for key in ("patterns", "labels"):
        if not isinstance(f.get(key), h5py.Dataset):
            raise DataFormatError(f"{where}: dataset '/{key}' is missing; the file is incomplete")
    p = f["patterns"]
    if p.ndim != 3 or p.dtype not in ALLOWED_DTYPES:
        raise DataFormatError(
            f"{where}: '/patterns' has shape {p.shape} and dtype {p.dtype}; "
            "expected (N, H, W) of uint8, uint16 or float32"
        )
    n = p.shape[0]
    if n == 0 or min(p.shape[1:]) == 0:
        raise DataFormatError(
            f"{where}: '/patterns' has shape {p.shape}: the data set is empty; recreate it with at least one pattern"
        )
    for key in ["labels", *OPTIONAL_FIELDS]:
        ds = get_dataset(f, key)
        if ds is None:
            continue
        trailing, dtype, _ = OPTIONAL_FIELDS.get(key, ((), np.int16, -1))
        want = (n, *trailing)
        if ds.shape != want:
            raise DataFormatError(f"{where}: '/{key}' has shape {ds.shape}, expected {want} to match {n} patterns")
        kinds = "iu" if np.issubdtype(np.dtype(dtype), np.integer) else "iuf"
        if ds.dtype.kind not in kinds:
            raise DataFormatError(f"{where}: '/{key}' has dtype {ds.dtype}, expected {np.dtype(dtype).name}")
    if (get_dataset(f, "scan/row") is None) != (get_dataset(f, "scan/col") is None):
        raise DataFormatError(f"{where}: has only one of '/scan/row' and '/scan/col'; scan positions need both")
    try:
        table = json.loads(f.attrs["phases"])
        phases = tuple(Phase.from_dict(d) for d in table)
    except (KeyError, TypeError, ValueError) as e:
        raise DataFormatError(
            f"{where}: attribute 'phases' is missing or not a valid JSON list of phases ({e}); recreate the file"
        ) from e
    s = f.attrs.get("scan_shape")
    if s is not None and (np.shape(s) != (2,) or np.asarray(s).dtype.kind not in "iu" or min(s) < 1):
        raise DataFormatError(
            f"{where}: attribute 'scan_shape' is {plain(s)!r}; expected two positive integers (rows, cols)"
        )
    for key in ("provenance", "preprocessing"):
        try:
            json.loads(f.attrs.get(key, "{}"))
        except (TypeError, ValueError) as e:
            raise DataFormatError(f"{where}: attribute {key!r} is not valid JSON ({e}); recreate the file") from e
    bg = f.get("static_background")
    if bg is not None and (not isinstance(bg, h5py.Dataset) or bg.shape != p.shape[1:]):
        raise DataFormatError(
            f"{where}: '/static_background' has shape "
            f"{getattr(bg, 'shape', None)}, expected the pattern shape {p.shape[1:]}"
        )
    check_labels(f["labels"][()], len(phases), where)
    split = get_dataset(f, "split")
    if split is not None:
        codes = split[()]
        if not np.isin(codes, list(SPLIT_NAMES)).all():
            bad = codes[~np.isin(codes, list(SPLIT_NAMES))][0]
            raise DataFormatError(
                f"{where}: '/split' holds code {bad.item()!r}; allowed are 0 (train), 1 (val), 2 (test), -1 (none)"
            )
    if get_dataset(f, "scan/row") is not None and s is not None:
        check_scan(f["scan/row"][()], f["scan/col"][()], tuple(int(v) for v in s), where)
    return phases
