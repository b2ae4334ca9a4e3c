"""The project's HDF5 data-set format, version 1: layout, atomic writer and checked reader.

Layout
------
One HDF5 file per data set (labelled training set or scan). ``N`` patterns of ``H × W`` pixels.

=========================  ===============  ===========================================
path                       shape / dtype    meaning
=========================  ===============  ===========================================
``/patterns``              (N, H, W)        uint8, uint16 or float32; chunked by pattern
                                            blocks and compressed, so batches stream
``/labels``                (N,) int16       index into the phase table, ``-1`` = unknown
``/split``        (opt.)   (N,) int8        0 train, 1 validation, 2 test, -1 none
``/scan/row``     (opt.)   (N,) int32       scan row of each pattern
``/scan/col``     (opt.)   (N,) int32       scan column of each pattern
``/quality``      (opt.)   (N,) float32     pattern-quality value (image quality)
``/orientations`` (opt.)   (N, 4) float32   true orientation as unit quaternion (a, b, c, d)
``/pc``           (opt.)   (N, 3) float32   pattern centre each pattern was made at (Bruker
                                            PCx, PCy, PCz; simulated data)
``/grain_id``     (opt.)   (N,) int32       grain of each pattern
``/static_background``     (H, W) float32   mean raw pattern, for static background
                  (opt.)                    correction (computed on write if absent)
=========================  ===============  ===========================================

Root attributes: ``format`` (= ``"ebsdlib-dataset"``), ``format_version`` (= 1), ``phases``
(JSON list of :class:`ebsdlib.phases.Phase` dictionaries), ``provenance`` (JSON: how the data
was made, simulator parameters or source file), ``preprocessing`` (JSON of the
:class:`ebsdlib.data.preprocess.PreprocessConfig` recommended for this data), ``split_rule``
(how the split was drawn), ``seed``, ``ebsdlib_version``, ``created``; for scans
``scan_shape`` (rows, cols) and ``step_size`` (µm).

Files are written to a temporary name beside the target and renamed when complete, so a
failed write never leaves a half-written data set. What every block, field and file must be is
checked by :mod:`ebsdlib.data.checks`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from ebsdlib.data.checks import (
    ALLOWED_DTYPES,
    FORMAT_NAME,
    FORMAT_VERSION,
    OPTIONAL_FIELDS,
    SPLIT_CODES,
    SPLIT_NAMES,
    DataFormatError,
    check_constant,
    check_field,
    check_file,
    check_labels,
    check_patterns,
    check_scan,
    get_dataset,
)
from ebsdlib.phases import Phase, with_colors


def pattern_chunks(n: int, height: int, width: int, target_bytes: int = 1 << 20) -> tuple[int, int, int]:
    """Chunk shape holding whole patterns, about ``target_bytes`` of uint16 each."""
    per_pattern = max(1, height * width * 2)
    block = int(max(1, min(n, target_bytes // per_pattern, 1024)))
    return (block, height, width)


@dataclass
class DatasetWriter:
    """Append-only writer for a data set larger than memory; use :func:`create_dataset`."""

    file: h5py.File
    n: int
    where: str
    n_phases: int
    written: int = 0
    constant: int = 0

    def write(self, start: int, patterns: np.ndarray, **per_pattern: np.ndarray) -> None:
        """Write a block of patterns (and optional per-pattern arrays) at ``start``.

        Per-pattern keys are ``labels`` and the names in :data:`OPTIONAL_FIELDS` given to
        :func:`create_dataset`; ``scan/row`` may be passed as ``scan_row``.
        """
        patterns = np.asarray(patterns)
        check_patterns(patterns, self.where, offset=start)
        stop = start + len(patterns)
        if start < 0 or stop > self.n:
            raise DataFormatError(f"{self.where}: block [{start}, {stop}) lies outside the {self.n} patterns declared")
        want = self.file["patterns"].shape[1:]
        if patterns.shape[1:] != want or patterns.dtype != self.file["patterns"].dtype:
            raise DataFormatError(
                f"{self.where}: block of shape {patterns.shape[1:]} and dtype {patterns.dtype} does not "
                f"match the declared pattern shape {want} and dtype {self.file['patterns'].dtype}"
            )
        checked = {}
        for key, values in per_pattern.items():
            key = key.replace("scan_", "scan/") if key in ("scan_row", "scan_col") else key
            if key not in self.file or key not in ("labels", *OPTIONAL_FIELDS):
                raise DataFormatError(
                    f"{self.where}: per-pattern field {key!r} was not declared; pass it in "
                    f"create_dataset(optional=...) (known fields: labels, {', '.join(OPTIONAL_FIELDS)})"
                )
            checked[key] = check_field(key, values, len(patterns), self.n_phases, self.where)
        self.constant += check_constant(patterns, checked.get("labels"), self.where, start)
        self.file["patterns"][start:stop] = patterns
        for key, values in checked.items():
            self.file[key][start:stop] = values
        self.written = max(self.written, stop)


def _attrs_common(
    phases: Iterable[Phase], provenance: dict, preprocessing: dict | None, split_rule: str, seed: int | None
) -> dict:
    from ebsdlib import __version__

    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "phases": json.dumps([p.to_dict() for p in with_colors(list(phases))]),
        "provenance": json.dumps(provenance, default=str),
        "preprocessing": json.dumps(preprocessing or {}),
        "split_rule": split_rule,
        "seed": -1 if seed is None else int(seed),
        "ebsdlib_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def create_dataset(
    path: str | Path,
    n: int,
    shape: tuple[int, int],
    dtype: np.dtype | type,
    phases: Iterable[Phase],
    *,
    provenance: dict,
    preprocessing: dict | None = None,
    optional: Iterable[str] = (),
    split_rule: str = "none",
    seed: int | None = None,
    scan_shape: tuple[int, int] | None = None,
    step_size: float | None = None,
    compression: str = "lzf",
):
    """Open a data set for block-wise writing; a context manager yielding a :class:`DatasetWriter`.

    Per-pattern arrays named in ``optional`` (``labels`` always exists) are created empty and
    filled through :meth:`DatasetWriter.write`. The file appears under ``path`` only when the
    ``with`` block finishes without error.

    Examples
    --------
    >>> with create_dataset("scan.h5", n, (60, 60), np.uint8, phases, provenance={}) as w:
    ...     for start, block in blocks:
    ...         w.write(start, block, labels=lab)
    """
    from contextlib import contextmanager

    dtype = np.dtype(dtype)
    if dtype not in ALLOWED_DTYPES:
        raise DataFormatError(f"{path}: pattern dtype {dtype} is not supported; use uint8, uint16 or float32")
    if int(n) < 1 or len(shape) != 2 or min(shape) < 1:
        raise DataFormatError(
            f"{path}: cannot create a data set of {n} patterns of shape {tuple(shape)}; "
            "it needs at least one pattern of at least 1×1 pixels"
        )
    phases = with_colors(list(phases))
    if scan_shape is not None and (np.shape(scan_shape) != (2,) or min(int(v) for v in scan_shape) < 1):
        raise DataFormatError(f"{path}: scan_shape {scan_shape!r} must be two positive integers (rows, cols)")
    if step_size is not None and not (np.isfinite(step_size) and step_size > 0):
        raise DataFormatError(f"{path}: step_size {step_size!r} must be a positive number of µm, or None")
    names = [p.name for p in phases]
    if len(set(names)) != len(names):
        raise DataFormatError(f"{path}: phase names {names} repeat; every phase needs its own name")

    @contextmanager
    def _ctx() -> Iterator[DatasetWriter]:
        path_ = Path(path)
        path_.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path_.name}.", suffix=".part", dir=path_.parent)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a data set is as readable as any file
        try:
            with h5py.File(tmp, "w") as f:
                yield from _fill(f)
            os.replace(tmp, path_)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _fill(f: h5py.File) -> Iterator[DatasetWriter]:
        f.attrs.update(_attrs_common(phases, provenance, preprocessing, split_rule, seed))
        if scan_shape is not None:
            f.attrs["scan_shape"] = np.asarray(scan_shape, dtype=np.int64)
        if step_size is not None:
            f.attrs["step_size"] = float(step_size)
        f.create_dataset(
            "patterns", shape=(n, *shape), dtype=dtype, chunks=pattern_chunks(n, *shape), compression=compression
        )
        f.create_dataset("labels", shape=(n,), dtype=np.int16, fillvalue=-1)
        for key in optional:
            spec = OPTIONAL_FIELDS.get(key)
            if spec is None:
                raise DataFormatError(f"{path}: unknown per-pattern field {key!r}; known are {sorted(OPTIONAL_FIELDS)}")
            fshape, fdtype, fill = spec
            f.create_dataset(key, shape=(n, *fshape), dtype=fdtype, fillvalue=fill)
        writer = DatasetWriter(f, n, str(path), len(phases))
        yield writer
        if writer.written != n:
            raise DataFormatError(f"{path}: only {writer.written} of {n} patterns were written")
        if writer.constant >= n:
            raise DataFormatError(
                f"{path}: all {n} patterns are constant (blank frames); the data "
                "holds no diffraction signal: check the source"
            )
        _finish(f, scan_shape, str(path))

    return _ctx()


def _finish(f: h5py.File, scan_shape: tuple[int, int] | None, where: str) -> None:
    """Validate labels and scan positions and store the static background."""
    phases = json.loads(f.attrs["phases"])
    labels = f["labels"][()]
    check_labels(labels, len(phases), where)
    if scan_shape is not None and "scan/row" in f:
        check_scan(f["scan/row"][()], f["scan/col"][()], scan_shape, where)
    if "static_background" not in f:
        f.create_dataset("static_background", data=mean_pattern(f["patterns"]))


def mean_pattern(patterns: h5py.Dataset | np.ndarray, max_patterns: int = 2000) -> np.ndarray:
    """Mean of up to ``max_patterns`` evenly spaced patterns, read block-wise (float32)."""
    n = len(patterns)
    step = max(1, n // max_patterns)
    block = patterns.chunks[0] if isinstance(patterns, h5py.Dataset) and patterns.chunks else 256
    total = np.zeros(patterns.shape[1:], dtype=np.float64)
    count = 0
    for start in range(0, n, block * step):
        chunk = np.asarray(patterns[start : min(n, start + block)], dtype=np.float64)
        total += chunk.sum(axis=0)
        count += len(chunk)
    return (total / max(count, 1)).astype(np.float32)


def write_dataset(
    path: str | Path,
    patterns: np.ndarray,
    labels: np.ndarray | None,
    phases: Iterable[Phase],
    *,
    provenance: dict,
    preprocessing: dict | None = None,
    split: np.ndarray | None = None,
    split_rule: str = "none",
    seed: int | None = None,
    scan_row: np.ndarray | None = None,
    scan_col: np.ndarray | None = None,
    scan_shape: tuple[int, int] | None = None,
    step_size: float | None = None,
    quality: np.ndarray | None = None,
    orientations: np.ndarray | None = None,
    grain_id: np.ndarray | None = None,
    pc: np.ndarray | None = None,
) -> Path:
    """Write an in-memory data set atomically and return its path.

    Parameters
    ----------
    path
        Target ``.h5`` file; replaced only once the new file is complete.
    patterns
        ``(N, H, W)`` uint8, uint16 or float32.
    labels
        ``(N,)`` phase indices, ``-1`` for unknown; ``None`` means all unknown.
    phases
        The phase table; label ``i`` means ``phases[i]``.
    provenance
        JSON-serialisable description of how the data was made.
    """
    patterns = np.asarray(patterns)
    check_patterns(patterns, str(path))
    n = len(patterns)
    if n == 0:
        raise DataFormatError(f"{path}: no patterns to write; a data set needs at least one pattern")
    fields = {
        "labels": labels,
        "split": split,
        "scan/row": scan_row,
        "scan/col": scan_col,
        "quality": quality,
        "orientations": orientations,
        "grain_id": grain_id,
        "pc": pc,
    }
    phases = list(phases)
    given = {k: check_field(k, v, n, len(phases), str(path)) for k, v in fields.items() if v is not None}
    with create_dataset(
        path,
        n,
        patterns.shape[1:],
        patterns.dtype,
        phases,
        provenance=provenance,
        preprocessing=preprocessing,
        optional=[k for k in given if k != "labels"],
        split_rule=split_rule,
        seed=seed,
        scan_shape=scan_shape,
        step_size=step_size,
    ) as w:
        w.write(0, patterns, **given)
    return Path(path)


class EBSDDataset:
    """A data set file opened read-only and checked; arrays are read lazily.

    Use :func:`ebsdlib.data.load` rather than this class directly: it also recognises
    image folders and vendor files.

    Parameters
    ----------
    path
        HDF5 file in the project's format.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(
                f"{self.path}: no such data set file; check the path or run "
                "`python -m ebsdlib simulate` / `python -m ebsdlib import` first"
            )
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as e:
            raise DataFormatError(
                f"{self.path}: cannot be opened as HDF5 ({e}); the file is corrupt or truncated: recreate it"
            ) from e
        try:
            self.phases = check_file(self._file, str(self.path))
        except Exception:
            self._file.close()
            raise

    # -- checks ---------------------------------------------------------------------------
    # -- properties -----------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._file["patterns"].shape[0])

    def __repr__(self) -> str:
        return f"EBSDDataset({str(self.path)!r}, n={len(self)}, pattern_shape={self.pattern_shape})"

    def __enter__(self) -> EBSDDataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying HDF5 file."""
        if self._file.id.valid:
            self._file.close()

    @property
    def patterns(self) -> h5py.Dataset:
        """The ``(N, H, W)`` pattern dataset (lazy, slice it to read)."""
        return self._file["patterns"]

    @property
    def pattern_shape(self) -> tuple[int, int]:
        return tuple(self._file["patterns"].shape[1:])

    @property
    def phase_names(self) -> list[str]:
        return [p.name for p in self.phases]

    @property
    def labels(self) -> np.ndarray:
        return self._file["labels"][()].astype(np.int64)

    def optional(self, key: str) -> np.ndarray | None:
        """A per-pattern field (``split``, ``scan/row``, ``quality``, …) or ``None``."""
        ds = get_dataset(self._file, key)
        return None if ds is None else ds[()]

    @property
    def split(self) -> np.ndarray | None:
        return self.optional("split")

    @property
    def scan_shape(self) -> tuple[int, int] | None:
        s = self._file.attrs.get("scan_shape")
        return None if s is None else (int(s[0]), int(s[1]))

    @property
    def step_size(self) -> float | None:
        s = self._file.attrs.get("step_size")
        return None if s is None else float(s)

    @property
    def static_background(self) -> np.ndarray:
        if "static_background" in self._file:
            return self._file["static_background"][()].astype(np.float32)
        return mean_pattern(self.patterns)

    @property
    def attrs(self) -> dict:
        """Root attributes with JSON values decoded."""
        out = {}
        for k, v in self._file.attrs.items():
            if k in ("phases", "provenance", "preprocessing"):
                v = json.loads(v)
            elif isinstance(v, np.ndarray):
                v = v.tolist()
            elif isinstance(v, np.generic):
                v = v.item()
            out[k] = v
        return out

    @property
    def provenance(self) -> dict:
        return json.loads(self._file.attrs.get("provenance", "{}"))

    @property
    def preprocessing(self) -> dict:
        return json.loads(self._file.attrs.get("preprocessing", "{}"))

    def indices(self, split: str | None) -> np.ndarray:
        """Indices of the patterns in one split (``train``, ``val``, ``test``) or all (``None``)."""
        if split is None:
            return np.arange(len(self))
        if split not in SPLIT_CODES:
            raise ValueError(f"unknown split {split!r}; options are 'train', 'val', 'test' or None")
        s = self.split
        if s is None:
            raise DataFormatError(
                f"{self.path}: has no '/split'; run `python -m ebsdlib split` or re-import with a split"
            )
        return np.flatnonzero(s == SPLIT_CODES[split])

    def read(self, indices: np.ndarray | slice) -> np.ndarray:
        """Patterns at sorted ``indices`` (or a slice) as an array of the stored dtype."""
        if isinstance(indices, slice):
            return self.patterns[indices]
        indices = np.asarray(indices)
        if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
            raise IndexError(
                f"{self.path}: indices must be a 1-D array of integers, "
                f"got shape {indices.shape} and dtype {indices.dtype}"
            )
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(
                f"{self.path}: pattern indices span [{indices.min()}, {indices.max()}] "
                f"but the data set has {len(self)} patterns (0..{len(self) - 1})"
            )
        if len(indices) == 0:
            return np.empty((0, *self.pattern_shape), dtype=self.patterns.dtype)
        order = np.argsort(indices, kind="stable")
        sorted_idx = indices[order]
        lo, hi = int(sorted_idx[0]), int(sorted_idx[-1]) + 1
        if hi - lo <= 4 * len(indices):
            block = self.patterns[lo:hi][sorted_idx - lo]
        else:
            block = self.patterns[np.unique(sorted_idx)]
            block = block[np.searchsorted(np.unique(sorted_idx), sorted_idx)]
        out = np.empty_like(block)
        out[order] = block
        return out

    def iter_batches(
        self, batch_size: int, indices: np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(indices, patterns)`` in order, reading block-wise (bounded memory)."""
        idx = np.arange(len(self)) if indices is None else np.sort(np.asarray(indices))
        for start in range(0, len(idx), batch_size):
            chunk = idx[start : start + batch_size]
            yield chunk, self.read(chunk)

    def verify(self, batch_size: int = 1024, progress: bool = False) -> None:
        """Read every pattern once; refuse NaN/inf, labelled constant ones, or all constant.

        Opening a file checks its layout only; this also checks the pixel values, which
        every writer of this module already did. Raises :class:`DataFormatError` naming the
        first bad pattern.
        """
        from tqdm.auto import tqdm

        labels = self.labels
        constant = 0
        with tqdm(total=len(self), desc=f"verify {self.path.name}", unit="pattern", disable=not progress) as bar:
            for start in range(0, len(self), batch_size):
                block = self.patterns[start : start + batch_size]
                check_patterns(block, str(self.path), offset=start)
                constant += check_constant(block, labels[start : start + len(block)], str(self.path), start)
                bar.update(len(block))
        if constant == len(self):
            raise DataFormatError(
                f"{self.path}: all {len(self)} patterns are constant (blank frames); "
                "the data holds no diffraction signal: recreate it"
            )

    def summary(self) -> dict:
        """Counts per phase and split, pattern size, preprocessing and provenance."""
        labels = self.labels
        split = self.split
        counts = {}
        for lab, name in [*enumerate(self.phase_names), (-1, "unknown")]:
            mask = labels == lab
            row = {"total": int(mask.sum())}
            if split is not None:
                for code, sname in SPLIT_NAMES.items():
                    if code >= 0:
                        row[sname] = int((mask & (split == code)).sum())
            counts[name] = row
        attrs = self.attrs
        return {
            "path": str(self.path),
            "n_patterns": len(self),
            "pattern_shape": list(self.pattern_shape),
            "dtype": str(self.patterns.dtype),
            "phases": [p.to_dict() for p in self.phases],
            "counts": counts,
            "split_rule": attrs.get("split_rule", "none"),
            "scan_shape": list(self.scan_shape) if self.scan_shape else None,
            "step_size": self.step_size,
            "fields": [k for k in OPTIONAL_FIELDS if get_dataset(self._file, k) is not None],
            "preprocessing": self.preprocessing,
            "provenance": self.provenance,
            "seed": attrs.get("seed"),
            "format_version": attrs.get("format_version"),
            "ebsdlib_version": attrs.get("ebsdlib_version"),
            "created": attrs.get("created"),
        }
