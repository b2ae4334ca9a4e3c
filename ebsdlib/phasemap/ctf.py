"""Export a phase map as an Oxford Instruments Channel Text File (``.ctf``, AZtec/HKL; MTEX reads it).

orix reads ``.ctf`` but does not write it, so the writer is here. The layout is AZtec's: a
header with the grid (``XCells``, ``YCells``, ``XStep``, ``YStep``), the acquisition (beam
energy, tilt) and one line per phase (lattice ``a;b;c``, angles, name, Laue group id, space
group), then one row per point with ``Phase X Y Bands Error Euler1 Euler2 Euler3 MAD BC BS``.

Conventions: phases are numbered from 1 (0 = not indexed, with ``Error`` 3, "no solution");
Euler angles are Bunge ZXZ in degrees, written as orix's ``Rotation.to_euler`` gives them, so
``orix.io.load`` reads back the same rotations (the test pins this); ``BC`` holds the pattern
quality scaled to 0–255 and ``BS`` the classifier's confidence scaled to 0–255 (the format has
no confidence column). ``Bands`` and ``MAD`` are Hough's matched bands and mean angular
deviation (degrees) where the orientations come from Hough indexing, 0 otherwise.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ebsdlib.phasemap.assemble import PhaseMap
from ebsdlib.phasemap.crystalmap import to_crystal_map

HEADER_COLUMNS = "Phase\tX\tY\tBands\tError\tEuler1\tEuler2\tEuler3\tMAD\tBC\tBS"


def laue_id(space_group: int) -> int:
    """The CTF Laue-group id of a cubic space group: 10 (m-3, 195–206) or 11 (m-3m, 207–230).

    Raises
    ------
    ValueError
        For a space group outside the cubic ones (ebsdlib phases are cubic).
    """
    if 195 <= space_group <= 206:
        return 10
    if 207 <= space_group <= 230:
        return 11
    raise ValueError(f"space group {space_group!r} is not cubic (195–230); a .ctf phase line needs its Laue group")


def writable(phasemap: PhaseMap) -> bool:
    """Whether the map can be a ``.ctf``: it has scan positions and every phase has what a phase
    line needs, a cubic space group and a lattice parameter."""
    return phasemap.positions and all(
        195 <= int(p.space_group) <= 230 and float(p.lattice_a) > 0 for p in phasemap.phases
    )


def write_ctf(
    phasemap: PhaseMap, path: str | Path, threshold: float = 0.0, voltage: float = 20.0, tilt: float = 70.0
) -> Path:
    """Write ``phasemap`` as an Oxford ``.ctf`` file (atomically).

    Parameters
    ----------
    phasemap
        The map; its orientations are written when it has them (identity elsewhere).
    path
        Target ``….ctf`` file.
    threshold
        Confidence below which a point is not indexed (phase 0).
    voltage, tilt
        Beam energy (kV) and sample tilt (degrees) for the header.
    """
    path = Path(path)
    xmap = to_crystal_map(phasemap, threshold)
    rows, cols = phasemap.scan_shape
    step = float(phasemap.step_size or 1.0)
    phase_id = np.asarray(xmap.phase_id)
    euler = np.rad2deg(xmap.rotations.to_euler()) % 360.0
    confidence = np.asarray(xmap.prop["confidence"], dtype=np.float64)
    quality = np.asarray(xmap.prop.get("quality", np.zeros(len(phase_id))), dtype=np.float64)
    hough = phasemap.orientation_source == "hough" and "bands" in xmap.prop
    bands = np.asarray(xmap.prop["bands"] if hough else np.zeros(len(phase_id)), dtype=np.int64)
    mad = np.asarray(xmap.prop["fit"] if hough and "fit" in xmap.prop else np.zeros(len(phase_id)), np.float64)
    q_max = float(quality.max()) if quality.size and quality.max() > 0 else 1.0
    lines = [
        "Channel Text File",
        "Prj\tebsdlib phase map",
        "Author\tebsdlib",
        "JobMode\tGrid",
        f"XCells\t{cols}",
        f"YCells\t{rows}",
        f"XStep\t{step:.4f}",
        f"YStep\t{step:.4f}",
        "AcqE1\t0",
        "AcqE2\t0",
        "AcqE3\t0",
        "Euler angles refer to Sample Coordinate system (CS0)!\tMag\t0\tCoverage\t100\tDevice\t0"
        f"\tKV\t{voltage:g}\tTiltAngle\t{tilt:g}\tTiltAxis\t0",
        f"Phases\t{len(phasemap.phases)}",
    ]
    for p in phasemap.phases:
        a = float(p.lattice_a)
        lines.append(
            f"{a:.4f};{a:.4f};{a:.4f}\t90.000;90.000;90.000\t{p.name}\t{laue_id(int(p.space_group))}\t{p.space_group}"
        )
    lines.append(HEADER_COLUMNS)
    x, y = np.asarray(xmap.x), np.asarray(xmap.y)
    for i in range(len(phase_id)):
        indexed = phase_id[i] >= 0
        lines.append(
            f"{phase_id[i] + 1 if indexed else 0}\t{x[i]:.4f}\t{y[i]:.4f}\t{bands[i]}\t{0 if indexed else 3}\t"
            f"{euler[i, 0]:.4f}\t{euler[i, 1]:.4f}\t{euler[i, 2]:.4f}\t{mad[i]:.4f}\t"
            f"{round(255 * quality[i] / q_max)}\t{round(255 * confidence[i])}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
