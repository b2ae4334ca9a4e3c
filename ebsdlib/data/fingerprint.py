"""Which data set a run used: a cheap fingerprint stored next to every data path.

Run folders and phase maps store the data path relative to the artifacts root
(:func:`ebsdlib.paths.portable_path`), so a clone or a copied artifacts folder finds its data sets.
A relative path may then lead to another file of the same name (a data set rebuilt with other
settings, an import of other patterns); the fingerprint tells them apart.

What the fingerprint holds
--------------------------
- The project's HDF5 (``format = "ebsdlib-dataset"``): the pattern count, shape and dtype, the
  phase names, the ``seed`` attribute, the scan shape, and SHA-256 of the labels and of the
  split. Those are the content and are the same when the demo rebuilds a data set from its seed,
  but not the file's bytes, which hold the creation date. Reading them costs the labels
  (2 bytes a pattern), never the patterns.
- Any other file (a vendor file): its size and SHA-256 of its first MiB.
- A folder (image folders): its file count, total size and SHA-256 of the sorted names and sizes.

Every writer stores ``{"data": …, "data_fingerprint": …}`` through :func:`data_entry`, and every
reader finds the file through :func:`resolve_data`; artifacts without a fingerprint (made before
it existed) resolve as before, unchecked.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from ebsdlib.paths import data_candidates, portable_path

#: Bytes of a file other than the project's HDF5 that its fingerprint hashes.
HEAD_BYTES = 1 << 20
#: ``format`` attribute of the project's HDF5 (:data:`ebsdlib.data.checks.FORMAT_NAME`).
_FORMAT = "ebsdlib-dataset"


class DataSetMismatchError(ValueError):
    """The file found at a run's data path is not the data set the run used."""


def fingerprint(path: str | Path) -> dict:
    """The fingerprint of the data set at ``path`` (see the module docstring).

    Raises
    ------
    FileNotFoundError
        When nothing is at ``path``.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{str(p)!r}: no data set to fingerprint; give the path of an existing file or folder")
    if p.is_dir():  # walked each time: a folder's time stamp misses changes in its sub-folders
        return _folder(p)
    st = p.stat()
    return json.loads(_cached(str(p.resolve()), st.st_size, st.st_mtime_ns))


@lru_cache(maxsize=256)
def _cached(path: str, size: int, mtime_ns: int) -> str:
    """:func:`fingerprint` of a file as JSON, by (path, size, mtime): read once while it is unchanged."""
    project = _project_hdf5(Path(path))
    if project is not None:
        return json.dumps(project)
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    return json.dumps({"kind": "file", "size": size, "head_sha256": hashlib.sha256(head).hexdigest()})


def _project_hdf5(path: Path) -> dict | None:
    import h5py
    import numpy as np

    try:
        f = h5py.File(path, "r")
    except OSError:  # not HDF5
        return None
    with f:
        if f.attrs.get("format") != _FORMAT or "patterns" not in f or "labels" not in f:
            return None
        patterns = f["patterns"]
        labels = np.asarray(f["labels"][()], dtype=np.int16)
        split = np.asarray(f["split"][()], dtype=np.int8) if "split" in f else None
        scan_shape = f.attrs.get("scan_shape")
        return {
            "kind": "ebsdlib-hdf5",
            "n": int(patterns.shape[0]),
            "pattern_shape": [int(s) for s in patterns.shape[1:]],
            "dtype": str(patterns.dtype),
            "phases": [d.get("name") for d in json.loads(f.attrs.get("phases", "[]"))],
            "seed": int(f.attrs.get("seed", -1)),
            "scan_shape": None if scan_shape is None else [int(s) for s in scan_shape],
            "labels_sha256": hashlib.sha256(labels.tobytes()).hexdigest(),
            "split_sha256": None if split is None else hashlib.sha256(split.tobytes()).hexdigest(),
        }


def _folder(path: Path) -> dict:
    names = hashlib.sha256()
    n = total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            size = full.stat().st_size
            names.update(f"{full.relative_to(path).as_posix()}\0{size}\n".encode())
            n, total = n + 1, total + size
    return {"kind": "folder", "n_files": n, "size": total, "names_sha256": names.hexdigest()}


def differences(found: Mapping, stored: Mapping) -> list[str]:
    """What differs between the fingerprint ``found`` now and the ``stored`` one, one entry per
    field (``"labels_sha256 2765a9fc… → 0b1e55d7…"``); empty when they agree.

    Only fields both hold are compared, so a fingerprint that gains a field later still matches
    the older ones; fingerprints of different kinds (an HDF5 file where a folder was) differ.
    """
    if found.get("kind") != stored.get("kind"):
        return [f"kind {stored.get('kind')!r} → {found.get('kind')!r}"]
    out = []
    for key in stored:
        if key in found and found[key] != stored[key]:
            out.append(f"{key} {_short(stored[key])} → {_short(found[key])}")
    return out


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:12] + "…" + text[-8:]


def data_entry(path: str | Path, root: str | Path | None = None) -> dict:
    """``{"data": portable path, "data_fingerprint": fingerprint}``: what every writer stores for
    the data set at ``path`` (``root``: the artifacts folder the record lies in)."""
    return {"data": portable_path(path, root), "data_fingerprint": fingerprint(path)}


def resolve_data(stored: str | os.PathLike, root: str | Path | None = None, expected: Mapping | None = None) -> Path:
    """The file a stored data path means, checked against its stored fingerprint.

    Parameters
    ----------
    stored
        The ``data`` entry of a run's config, metrics or phase map.
    root
        The artifacts folder the record lies in (where the path is resolved from; see
        :func:`ebsdlib.paths.data_candidates`).
    expected
        The ``data_fingerprint`` stored next to it; ``None`` (an artifact older than fingerprints)
        skips the check.

    Returns
    -------
    pathlib.Path
        The first candidate that exists and, when ``expected`` is given, has that fingerprint.

    Raises
    ------
    FileNotFoundError
        When no candidate exists; names the places looked at.
    DataSetMismatchError
        When files exist but none is the data set the run used; names the stored path, the file
        found and what differs.
    """
    candidates = data_candidates(stored, root)
    found = [c for c in candidates if c.exists()]
    if not found:
        raise FileNotFoundError(
            f"the run's data set {str(stored)!r} was not found (looked at {[str(c) for c in candidates]}); "
            "put the data set there (or rebuild it) to show its patterns"
        )
    if not expected or "kind" not in expected:
        return found[0]
    diffs = {}
    for c in found:
        d = differences(fingerprint(c), expected)
        if not d:
            return c
        diffs[c] = d
    first = found[0]
    raise DataSetMismatchError(
        f"the data set at {str(first)!r} is not the one the run used ({str(stored)!r}): its "
        f"{'; '.join(diffs[first])}; put the run's own data set back at that path, or evaluate or "
        "predict the run again on this one"
    )
