"""Phase-map artifacts of a run: write them all, read the map back.

Folder ``runs/<run_id>/phasemaps/<scan>/``
-----------------------------------------
=====================  ===============================================================
``phasemap.npz``       ``index`` (H, W) int64, ``pred`` (H, W) int16, ``proba`` (H, W, C)
                       float16, ``confidence`` (H, W) float32, ``scan_shape`` (2,), and when
                       known ``true`` (H, W) int16, ``error`` (H, W) int8, ``quality``
                       (H, W) float32, ``orientations`` (H, W, 4) float32 (unit quaternions,
                       orix convention) with ``orientation_ok`` (H, W) bool, and
                       ``orientation_fit`` (H, W) float32 and ``orientation_bands`` (H, W)
                       int16; ``meta``: JSON string with the phases, step size, orientation
                       source, whether the grid holds scan positions, run id, data path and
                       scan name. Files written before orientations were stored load with
                       none (identity in the exports, source ``"none"``)
``phasemap.png``       predicted phases in the phase colours (no threshold, full opacity)
``phasemap.csv``       one row per measured point (:func:`ebsdlib.phasemap.export.to_dataframe`)
``crystalmap.h5``      orix CrystalMap (``orix.io.load`` reads it)
``crystalmap.ang``     the same as EDAX TSL ``.ang`` (MTEX, OIM)
``crystalmap.ctf``     the same as Oxford ``.ctf`` (AZtec, MTEX; :mod:`ebsdlib.phasemap.ctf`),
                       when every phase has a cubic space group and lattice parameter
``fractions.json``     predicted (and true) phase fractions, accuracy and error count
``metrics.json``       :func:`ebsdlib.metrics.compute_metrics` over the scan's points
                       with known truth (only when the scan has true phases)
=====================  ===============================================================

A set without scan positions gets ``phasemap.npz`` (one row of its patterns in file order),
``phasemap.csv`` (no positions), ``fractions.json`` and ``metrics.json``: no image and no
CrystalMap, ``.ang`` or ``.ctf``, which need a grid.

Nothing is half-written: every file but ``phasemap.npz`` is written into a hidden folder beside
the target, which then replaces the target folder, and ``phasemap.npz`` is written last, so a
folder that lists as a phase map (:meth:`ebsdlib.runs.RunDir.phasemap_scans`) is complete and a
failure leaves the previous map, or none, never a mix.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ebsdlib.data.format import EBSDDataset
from ebsdlib.data.scan import scan_positions, true_labels
from ebsdlib.io import atomic_write, write_json
from ebsdlib.phasemap import ctf
from ebsdlib.phasemap.assemble import PhaseMap, build_phasemap
from ebsdlib.phasemap.crystalmap import to_crystal_map, write_crystal_map
from ebsdlib.phasemap.export import write_csv, write_png
from ebsdlib.phasemap.render import render_phasemap
from ebsdlib.phases import Phase
from ebsdlib.runs import RunDir, resolve_run

NPZ_NAME = "phasemap.npz"


def save_phasemap(phasemap: PhaseMap, folder: str | Path) -> dict[str, Path]:
    """Write every phase-map artifact into ``folder`` (see the module docstring).

    Parameters
    ----------
    phasemap
        The assembled map.
    folder
        Target folder, usually :meth:`ebsdlib.runs.RunDir.phasemap_dir`.

    Returns
    -------
    dict
        Artifact name → path.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        names = _write_artifacts(phasemap, staging)
        _replace_folder(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    paths = {key: folder / name for key, name in names.items()}
    paths["npz"] = _write_npz(phasemap, folder / NPZ_NAME)
    return paths


def _write_artifacts(phasemap: PhaseMap, folder: Path) -> dict[str, str]:
    """Every artifact but ``phasemap.npz`` into ``folder``; artifact name → file name."""
    paths: dict[str, Path] = {}
    if phasemap.positions:
        paths["png"] = write_png(render_phasemap(phasemap), folder / "phasemap.png")
    paths["csv"] = write_csv(phasemap, folder / "phasemap.csv")
    if phasemap.positions:
        xmap = to_crystal_map(phasemap)
        paths["crystalmap"] = write_crystal_map(phasemap, folder / "crystalmap.h5", xmap=xmap)
        paths["ang"] = write_crystal_map(phasemap, folder / "crystalmap.ang", xmap=xmap)
    if ctf.writable(phasemap):  # phases without crystallography (image folders) have no .ctf phase line
        paths["ctf"] = ctf.write_ctf(phasemap, folder / "crystalmap.ctf")
    paths["fractions"] = write_json(folder / "fractions.json", fractions_summary(phasemap))
    if phasemap.has_truth:
        paths["metrics"] = write_json(folder / "metrics.json", scan_metrics(phasemap))
    return {key: path.name for key, path in paths.items()}


def _replace_folder(new: Path, folder: Path) -> None:
    """Put the finished folder ``new`` in the place of ``folder`` (whose old content goes)."""
    old = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
        os.replace(folder, old / folder.name)
    os.replace(new, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_scan_phasemap(
    run: RunDir,
    name: str,
    dataset: EBSDDataset,
    proba: np.ndarray,
    phases: Sequence[Phase],
    meta: dict,
    orientations: np.ndarray | None = None,
    *,
    orientation_source: str | None = None,
    orientation_ok: np.ndarray | None = None,
    orientation_fit: np.ndarray | None = None,
    orientation_bands: np.ndarray | None = None,
) -> Path:
    """Lay the ``(n, C)`` probabilities of a scan's patterns out as its phase map and save it.

    Reads only the scan's per-pattern fields (positions, labels, quality, orientations),
    never its patterns. Without ``orientations`` the map takes the ones the file stores
    (source ``"file"``), else none; given ``orientations`` without a source are an indexing
    run's own solution (``"indexing"``). A set without a scan shape is laid out without
    positions (:func:`~ebsdlib.phasemap.build_phasemap`). ``meta`` gets the creation time.
    Returns ``runs/<run_id>/phasemaps/<name>/``.
    """
    folder = run.phasemap_dir(name)
    if dataset.scan_shape is None:
        row = col = scan_shape = None
    else:
        row, col, scan_shape = scan_positions(dataset)
    if orientations is None and orientation_source is None:
        orientations = dataset.optional("orientations")
        orientation_source = "none" if orientations is None else "file"
    phasemap = build_phasemap(
        proba,
        row,
        col,
        scan_shape,
        phases,
        true=true_labels(dataset, phases),
        quality=dataset.optional("quality"),
        orientations=orientations,
        orientation_ok=orientation_ok,
        orientation_source=orientation_source,
        orientation_fit=orientation_fit,
        orientation_bands=orientation_bands,
        step_size=dataset.step_size,
        meta={**meta, "created": datetime.now(UTC).isoformat(timespec="seconds")},
    )
    save_phasemap(phasemap, folder)
    return folder


def fractions_summary(phasemap: PhaseMap) -> dict:
    """Content of ``fractions.json``: predicted and true fractions, accuracy, error count."""
    err = phasemap.error
    return {
        "scan_shape": list(phasemap.scan_shape),
        "phases": phasemap.phase_names,
        "predicted": phasemap.fractions(0.0),
        "true": phasemap.true_fractions() if phasemap.has_truth else None,
        "accuracy": phasemap.accuracy,
        "n_wrong": None if err is None else int((err == 1).sum()),
        "n_known": None if err is None else int((err >= 0).sum()),
        "positions": phasemap.positions,
        "orientation_source": phasemap.orientation_source,
        "oriented": int(phasemap.oriented.sum()),
    }


def scan_metrics(phasemap: PhaseMap) -> dict:
    """Metrics over the measured points with known truth (the scan as a test set)."""
    from ebsdlib.metrics import compute_metrics

    keep = phasemap.measured & (phasemap.true >= 0)
    return compute_metrics(phasemap.true[keep], phasemap.proba[keep].astype(np.float32), phasemap.phase_names)


def load_phasemap(run_dir: RunDir | str | Path, scan: str) -> PhaseMap:
    """Read a saved phase map.

    Parameters
    ----------
    run_dir
        A :class:`~ebsdlib.runs.RunDir`, a run folder, or a run id under the artifacts root.
    scan
        Scan name (a folder under ``phasemaps/``).
    """
    run = resolve_run(run_dir)
    path = run.phasemap_dir(scan) / NPZ_NAME
    if not path.exists():
        have = run.phasemap_scans()
        raise FileNotFoundError(
            f"{path}: no phase map {scan!r} in run {run.run_id!r} (it has {have or 'none'}); make one "
            f"with `python -m ebsdlib predict --run {run.run_id} --data SCAN.h5 --name {scan}`"
        )
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    try:
        meta = json.loads(str(arrays.pop("meta")))
        phases = tuple(Phase.from_dict(d) for d in meta.pop("phases"))
    except (KeyError, ValueError) as e:
        raise ValueError(f"{path}: 'meta' is missing or unreadable ({e}); re-run predict") from e
    orientations = arrays.get("orientations")
    source = meta.pop("orientation_source", "none")
    return PhaseMap(
        phases=phases,
        index=arrays["index"],
        pred=arrays["pred"],
        proba=arrays["proba"],
        confidence=arrays["confidence"],
        true=arrays.get("true"),
        quality=arrays.get("quality"),
        step_size=meta.pop("step_size", None),
        orientations=orientations,
        orientation_ok=arrays.get("orientation_ok"),
        orientation_source=source if orientations is not None else "none",
        orientation_fit=arrays.get("orientation_fit"),
        orientation_bands=arrays.get("orientation_bands"),
        positions=bool(meta.pop("positions", True)),
        meta=meta,
    )


def _write_npz(phasemap: PhaseMap, path: Path) -> Path:
    meta = {
        **phasemap.meta,
        "phases": [p.to_dict() for p in phasemap.phases],
        "step_size": phasemap.step_size,
        "orientation_source": phasemap.orientation_source,
        "positions": phasemap.positions,
    }
    arrays = {
        "index": phasemap.index,
        "pred": phasemap.pred,
        "proba": phasemap.proba.astype(np.float16),
        "confidence": phasemap.confidence.astype(np.float32),
        "scan_shape": np.asarray(phasemap.scan_shape, dtype=np.int64),
        "meta": np.asarray(json.dumps(meta, default=str)),
    }
    if phasemap.true is not None:
        arrays["true"] = phasemap.true
        arrays["error"] = phasemap.error
    if phasemap.quality is not None:
        arrays["quality"] = phasemap.quality.astype(np.float32)
    if phasemap.orientations is not None:
        arrays["orientations"] = phasemap.orientations.astype(np.float32)
        arrays["orientation_ok"] = phasemap.oriented
    for key in ("orientation_fit", "orientation_bands"):
        if getattr(phasemap, key) is not None:
            arrays[key] = getattr(phasemap, key)

    def _w(p: Path) -> None:
        with open(p, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    return atomic_write(path, _w)
