"""Reader for vendor scan files through :func:`kikuchipy.load`, converted to the HDF5 format.

kikuchipy recognises the vendor format itself (EDAX/Bruker/Oxford/kikuchipy h5ebsd, EMsoft
simulated patterns, Oxford binary ``.ebsp``, NORDIF ``.dat``, EDAX binary ``.up1``/``.up2``).
The scan is read lazily and written in blocks of rows, so a scan larger than memory converts.

What is kept: the patterns (``uint8``/``uint16`` as stored; other integer types as ``uint16``
when their values fit, else ``float32``; floats as ``float32``), the scan shape (a line scan
is one row, a single pattern a 1×1 scan), each pattern's row and column, the step size in µm
(when the file gives a length unit), the vendor's static background (when present, finite
and positive; else the mean pattern is used), and the detector geometry, beam energy and the
vendor's phase names and the number of blank (constant) frames in the provenance. Labels are
``-1``: a vendor scan is unlabelled and becomes a phase map after prediction. A split is drawn
only when ``fractions`` is given, by 10×10 spatial blocks (:func:`ebsdlib.data.splits.spatial_blocks`).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ebsdlib.data.checks import DataFormatError, check_patterns, constant_mask
from ebsdlib.data.format import create_dataset
from ebsdlib.phases import DEFAULT_PHASES, Phase

BLOCK_PATTERNS = 1024
SPLIT_BLOCK = 10
_UNIT_TO_UM = {"um": 1.0, "µm": 1.0, "μm": 1.0, "micron": 1.0, "nm": 1e-3, "mm": 1e3}


def read_signal(path: str | Path):
    """Load ``path`` lazily with kikuchipy and return its EBSD signal.

    Raises
    ------
    DataFormatError
        kikuchipy cannot read the file, or it holds no EBSD patterns (e.g. a master pattern).
    """
    import kikuchipy as kp

    path = Path(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            signal = kp.load(path, lazy=True)
    except Exception as e:  # kikuchipy raises many kinds for unreadable files
        raise DataFormatError(
            f"{path}: kikuchipy cannot read this file as an EBSD scan ({type(e).__name__}: {e}){_found(path)}; "
            "expected EDAX/Bruker/Oxford/kikuchipy h5ebsd, EMsoft, Oxford .ebsp, NORDIF .dat or "
            "EDAX .up1/.up2: check the file is complete and of one of these formats"
        ) from e
    if isinstance(signal, list):
        signal = next((s for s in signal if isinstance(s, kp.signals.EBSD)), signal[0] if signal else None)
    if not isinstance(signal, kp.signals.EBSD):
        raise DataFormatError(
            f"{path}: kikuchipy read it as {type(signal).__name__}, not a scan of "
            "EBSD patterns; master patterns and other signals cannot be imported"
        )
    signal.metadata.set_item(
        "General.ebsdlib_reader_warnings",
        sorted({str(w.message) for w in caught if not issubclass(w.category, ResourceWarning)}),
    )
    return signal


def _found(path: Path) -> str:
    """For an HDF5 file, what it holds at the top level (to say what was found)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            keys = sorted(f.keys())[:6]
            manufacturer = f.get("manufacturer", f.get("Manufacturer"))
            made = f", manufacturer {manufacturer[()]!r}" if isinstance(manufacturer, h5py.Dataset) else ""
    except (OSError, ValueError, TypeError):
        return ""
    return f"; the HDF5 file holds top-level entries {keys}{made}"


def _read_block(flat, start: int, stop: int, path: Path) -> np.ndarray:
    """Patterns ``start:stop`` of the lazily loaded scan; a short file is reported as such."""
    try:
        return np.asarray(flat[start:stop])
    except (OSError, ValueError, IndexError) as e:
        raise DataFormatError(
            f"{path}: reading patterns {start}..{stop - 1} failed ({type(e).__name__}: "
            f"{e}); the file is truncated or corrupt: copy or export it again"
        ) from e


def _scan_layout(data_shape: tuple[int, ...], path: Path) -> tuple[int, int]:
    nav = data_shape[:-2]
    if len(data_shape) < 2 or len(nav) > 2 or 0 in data_shape:
        raise DataFormatError(
            f"{path}: pattern array of shape {data_shape}; expected (rows, cols, H, W), "
            "(n, H, W) or (H, W) with no empty axis"
        )
    if len(nav) == 0:
        return 1, 1
    if len(nav) == 1:
        return 1, nav[0]
    return nav[0], nav[1]


def _target_dtype(data, path: Path) -> np.dtype:
    dtype = np.dtype(data.dtype)
    if dtype in (np.uint8, np.uint16):
        return dtype
    if dtype.kind == "f":
        return np.dtype(np.float32)
    if dtype.kind in "iu":
        import dask

        lo, hi = (int(v) for v in dask.compute(data.min(), data.max()))
        return np.dtype(np.uint16 if lo >= 0 and hi <= 65535 else np.float32)
    raise DataFormatError(f"{path}: patterns of dtype {dtype} cannot be imported; expected integers or floats")


def _step_size(signal) -> tuple[float | None, str]:
    axes = signal.axes_manager.navigation_axes
    if not axes:
        return None, ""
    units = str(axes[0].units or "")
    factor = _UNIT_TO_UM.get(units.strip())
    scale = float(axes[0].scale)
    if factor is None or not np.isfinite(scale) or scale <= 0:
        return None, units
    return scale * factor, units


def _provenance(path: Path, signal) -> dict:
    import kikuchipy as kp

    info = {
        "reader": "vendor",
        "source": str(path.resolve()),
        "kikuchipy_version": kp.__version__,
        "signal_title": str(signal.metadata.get_item("General.title", "")),
    }
    manufacturer = signal.original_metadata.get_item("manufacturer", None)
    if manufacturer is not None:
        info["manufacturer"] = str(manufacturer)
    energy = signal.metadata.get_item("Acquisition_instrument.SEM.beam_energy", None)
    if energy is not None:
        info["beam_energy_kv"] = float(energy)
    det = signal.detector
    info["detector"] = {
        "pc_mean": [float(v) for v in np.asarray(det.pc).reshape(-1, 3).mean(axis=0)],
        "sample_tilt": float(det.sample_tilt),
        "tilt": float(det.tilt),
        "binning": int(det.binning),
        "px_size": float(det.px_size),
    }
    notes = signal.metadata.get_item("General.ebsdlib_reader_warnings", [])
    if notes:
        info["reader_warnings"] = list(notes)
    xmap = getattr(signal, "xmap", None)
    if xmap is not None:
        info["vendor_phases"] = [str(p.name) for _, p in xmap.phases_in_data if str(p.name)]
    return info


def _static_background(signal, shape: tuple[int, int]) -> np.ndarray | None:
    bg = getattr(signal, "static_background", None)
    if bg is None:
        return None
    bg = np.asarray(bg, dtype=np.float32)
    if bg.shape != shape or not np.isfinite(bg).all() or bg.min() <= 0:
        return None
    return bg


def convert_vendor(
    path: str | Path,
    out: str | Path,
    *,
    phases: Sequence[Phase] | None = None,
    seed: int = 0,
    fractions: tuple[float, float, float] | None = None,
    progress: bool = False,
) -> Path:
    """Convert a vendor scan file into an unlabelled data set file (atomically).

    Parameters
    ----------
    path
        Vendor file that :func:`kikuchipy.load` reads.
    out
        Target ``.h5`` file; it appears only when complete.
    phases
        Phase table stored with the scan; default the project's phases.
    seed, fractions
        When ``fractions`` is given, a split by 10×10 spatial blocks with this seed.
    progress
        Show a tqdm bar.
    """
    from tqdm.auto import tqdm

    from ebsdlib.data.preprocess import PreprocessConfig
    from ebsdlib.data.splits import make_splits, spatial_blocks

    path = Path(path)
    signal = read_signal(path)
    data = signal.data
    rows, cols = _scan_layout(tuple(data.shape), path)
    shape = tuple(int(v) for v in data.shape[-2:])
    flat = data.reshape((rows * cols, *shape))
    n = rows * cols
    dtype = _target_dtype(data, path)
    row, col = np.divmod(np.arange(n), cols)
    step, units = _step_size(signal)
    provenance = _provenance(path, signal) | {"step_units_in_file": units}
    bg = _static_background(signal, shape)
    provenance["static_background"] = "from the file" if bg is not None else "mean pattern"
    optional = ["scan/row", "scan/col"]
    split = None
    rule = "none (unlabelled scan)"
    if fractions is not None:
        split, rule = make_splits(np.full(n, -1), spatial_blocks(row, col, SPLIT_BLOCK), fractions=fractions, seed=seed)
        rule += f"; {SPLIT_BLOCK}×{SPLIT_BLOCK} scan blocks"
        optional.append("split")
    with (
        create_dataset(
            out,
            n,
            shape,
            dtype,
            phases or DEFAULT_PHASES,
            provenance=provenance,
            preprocessing=PreprocessConfig().to_dict(),
            optional=optional,
            split_rule=rule,
            seed=seed if split is not None else None,
            scan_shape=(rows, cols),
            step_size=step,
        ) as writer,
        tqdm(total=n, desc=f"import {path.name}", unit="pattern", disable=not progress) as bar,
    ):
        blank = 0
        for start in range(0, n, BLOCK_PATTERNS):
            stop = min(n, start + BLOCK_PATTERNS)
            block = _read_block(flat, start, stop, path)
            if block.dtype != dtype:
                block = block.astype(dtype)
            check_patterns(block, str(path), offset=start)  # name the source, not the target
            blank += int(constant_mask(block).sum())
            if blank == n:
                raise DataFormatError(
                    f"{path}: all {n} patterns are constant (blank frames); the "
                    "scan holds no diffraction signal: check the export"
                )
            extra = {"split": split[start:stop]} if split is not None else {}
            writer.write(
                start,
                block,
                labels=np.full(stop - start, -1),
                scan_row=row[start:stop],
                scan_col=col[start:stop],
                **extra,
            )
            bar.update(stop - start)
        if bg is not None:
            writer.file.create_dataset("static_background", data=bg)
        writer.file.attrs["provenance"] = json.dumps(provenance | {"blank_patterns": blank})
    return Path(out)
