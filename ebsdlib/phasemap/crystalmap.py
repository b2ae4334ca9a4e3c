"""Export a phase map as an orix ``CrystalMap`` (orix HDF5 and EDAX TSL ``.ang``).

The orix HDF5 file (``crystalmap.h5``) reads back with ``orix.io.load`` with the same phase
ids (0, 1, 2 …, and -1 for not indexed) and the full phase list: names, space groups and
crystal structures (lattice and atoms), and colours. The ``.ang`` file is what MTEX and
OIM read; that format numbers phases from 1 (0 = not indexed) and keeps only the point group
and lattice parameters, which is the format's limit, not the export's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ebsdlib.phasemap.assemble import PhaseMap
from ebsdlib.phases import Phase


def orix_phase_list(phases: Sequence[Phase]):
    """orix ``PhaseList`` with ids 0 … C-1 built from the project's phases.

    Each phase gets a ``diffpy.structure.Structure`` (cubic lattice ``lattice_a`` and the
    atoms of its asymmetric unit) and its space group; a phase stored without a space group or
    lattice (``0``) gets none.
    """
    from diffpy.structure import Atom, Lattice, Structure
    from orix.crystal_map import Phase as OrixPhase
    from orix.crystal_map import PhaseList

    out = []
    for p in phases:
        a = float(p.lattice_a)
        lattice = Lattice(a, a, a, 90, 90, 90) if a > 0 else Lattice()
        atoms = [Atom(str(el), [float(x), float(y), float(z)]) for el, x, y, z in p.atoms]
        structure = Structure(atoms=atoms, lattice=lattice, title=p.name)
        out.append(
            OrixPhase(name=p.name, space_group=int(p.space_group) or None, structure=structure, color=p.color or None)
        )
    return PhaseList(phases=out, ids=list(range(len(out))))


def to_crystal_map(phasemap: PhaseMap, threshold: float = 0.0):
    """The phase map as an orix ``CrystalMap`` over the whole scan grid.

    Points with no pattern or that are not indexed at ``threshold``
    (:meth:`~ebsdlib.phasemap.PhaseMap.indexed`) get phase id ``-1`` (orix's "not_indexed").
    x and y are column and row times the step size (1 when unknown), in µm. Rotations are the
    map's orientations (:attr:`~ebsdlib.phasemap.PhaseMap.orientation_source`: the file's, Hough's
    or dictionary indexing's) where a point has one, identity elsewhere. Properties:
    ``confidence``, ``prob_<phase>`` per phase, ``orientation_ok`` (1 where the point has an
    orientation), ``quality`` when the scan has it, ``fit`` (Hough's mean angular deviation in
    degrees, or the dictionary's cross-correlation) and ``bands`` (Hough's matched bands) when
    the map has them.

    Parameters
    ----------
    phasemap
        The map to export.
    threshold
        Confidence below which a point is not indexed, in [0, 1].
    """
    from orix.crystal_map import CrystalMap
    from orix.quaternion import Rotation

    rows, cols = phasemap.scan_shape
    n = rows * cols
    step = phasemap.step_size or 1.0
    r = np.repeat(np.arange(rows), cols)
    c = np.tile(np.arange(cols), rows)
    phase_id = np.where(phasemap.indexed(threshold), phasemap.pred, -1).ravel().astype(np.int32)

    if not phasemap.positions:
        raise ValueError(
            f"the phase map of {phasemap.meta.get('scan', 'this set')!r} has no scan positions, so it "
            "cannot be a CrystalMap; store the scan shape and positions with the data set to export one"
        )
    quats = np.zeros((n, 4), dtype=np.float64)
    quats[:, 0] = 1.0
    oriented = phasemap.oriented.ravel()
    if phasemap.orientations is not None:
        q = phasemap.orientations.reshape(n, 4).astype(np.float64)
        quats[oriented] = q[oriented] / np.linalg.norm(q[oriented], axis=1, keepdims=True)

    prop = {"confidence": np.nan_to_num(phasemap.confidence.ravel(), nan=0.0).astype(np.float32)}
    for k, name in enumerate(phasemap.phase_names):
        prop[f"prob_{name}"] = phasemap.proba[..., k].ravel().astype(np.float32)
    prop["orientation_ok"] = oriented.astype(np.int32)
    if phasemap.quality is not None:
        prop["quality"] = np.nan_to_num(phasemap.quality.ravel(), nan=0.0).astype(np.float32)
    if phasemap.orientation_fit is not None:
        prop["fit"] = np.nan_to_num(phasemap.orientation_fit.ravel(), nan=0.0).astype(np.float32)
    if phasemap.orientation_bands is not None:
        prop["bands"] = phasemap.orientation_bands.ravel().astype(np.int32)

    return CrystalMap(
        rotations=Rotation(quats),
        phase_id=phase_id,
        x=(c * step).astype(np.float64),
        y=(r * step).astype(np.float64),
        phase_list=orix_phase_list(phasemap.phases),
        prop=prop,
        scan_unit="um",
    )


def write_crystal_map(
    phasemap: PhaseMap,
    path: str | Path,
    threshold: float = 0.0,
    xmap=None,
) -> Path:
    """Save the phase map with ``orix.io.save``; the format follows the suffix (``.h5``, ``.ang``).

    The file is written under a temporary folder beside ``path`` and moved into place, so a
    reader never sees half a file.

    Parameters
    ----------
    phasemap
        The map to export.
    path
        Target file, ``….h5`` (orix HDF5) or ``….ang`` (EDAX TSL, for MTEX).
    threshold
        Confidence below which a point is not indexed.
    xmap
        A ``CrystalMap`` already made by :func:`to_crystal_map`, to save it in two formats
        without building it twice.
    """
    from orix import io

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".h5", ".hdf5", ".ang"):
        raise ValueError(f"{path}: unsupported CrystalMap suffix {path.suffix!r}; use '.h5' or '.ang'")
    xmap = to_crystal_map(phasemap, threshold) if xmap is None else xmap
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        tmp = tmp_dir / path.name
        kwargs = {}
        if suffix == ".ang":
            kwargs = {"confidence_index_prop": "confidence"}
            if "quality" in xmap.prop:
                kwargs["image_quality_prop"] = "quality"
            if "fit" in xmap.prop:
                kwargs["pattern_fit_prop"] = "fit"
        io.save(tmp, xmap, overwrite=True, **kwargs)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return path
