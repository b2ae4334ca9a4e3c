"""Where a data set's patterns lie on the scan grid, and the names a scan's phase map may take.

Shared by everything that turns per-pattern results into a map (network prediction, dictionary
indexing, torchrun's sharded prediction): :func:`scan_positions` places each pattern,
:func:`true_labels` matches a scan's labels to a model's phases by name and
:func:`scan_name_from_path` makes the folder name of the map (checked by
:meth:`ebsdlib.runs.RunDir.phasemap_dir`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ebsdlib.data.checks import DataFormatError
from ebsdlib.data.format import EBSDDataset
from ebsdlib.phases import Phase

__all__ = ["scan_name_from_path", "scan_positions", "true_labels"]


def scan_positions(dataset: EBSDDataset) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """``(row, col, scan_shape)`` of every pattern of a scan.

    Uses ``/scan/row`` and ``/scan/col`` when present; a scan with a ``scan_shape`` but no
    positions is taken as stored row by row (then it must hold rows × cols patterns).
    """
    shape = dataset.scan_shape
    if shape is None:
        raise DataFormatError(
            f"{dataset.path}: has no 'scan_shape' attribute, so its patterns have no place on a map; "
            "a phase map needs a scan (simulate one with a scan shape, or import a vendor scan)"
        )
    row, col = dataset.optional("scan/row"), dataset.optional("scan/col")
    if row is not None and col is not None:
        return row.astype(np.int64), col.astype(np.int64), shape
    rows, cols = shape
    if len(dataset) != rows * cols:
        raise DataFormatError(
            f"{dataset.path}: has no '/scan/row' and '/scan/col' and {len(dataset)} patterns, which do "
            f"not fill its scan shape {rows}×{cols} row by row; store the scan positions"
        )
    flat = np.arange(len(dataset))
    return flat // cols, flat % cols, shape


def true_labels(dataset: EBSDDataset, phases: Sequence[Phase]) -> np.ndarray | None:
    """The scan's labels in the model's phase order (matched by name), or ``None`` if unlabelled.

    Labels of phases the model does not know become ``-1`` (unknown).
    """
    labels = dataset.labels
    if not (labels >= 0).any():
        return None
    model_index = {p.name.lower(): i for i, p in enumerate(phases)}
    lut = np.array([model_index.get(n.lower(), -1) for n in dataset.phase_names] + [-1], dtype=np.int64)
    return lut[np.where(labels >= 0, labels, len(lut) - 1)]


def scan_name_from_path(path: str | Path) -> str:
    """A safe folder name from a data file's stem (``my scan.h5`` → ``my_scan``)."""
    stem = Path(path).stem if Path(path).suffix else Path(path).name
    name = re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip("._-")[:128]
    return name or "scan"
