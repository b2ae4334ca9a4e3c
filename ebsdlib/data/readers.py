"""One entry point, :func:`load`, for every kind of input the project reads.

Recognised inputs, sniffed by content rather than by name alone:

1. **the project's HDF5** (root attribute ``format = "ebsdlib-dataset"``), opened and
   checked by :class:`~ebsdlib.data.format.EBSDDataset`;
2. **a folder of images with one sub-folder per phase** (PNG, TIFF, JPEG, BMP; see
   :mod:`ebsdlib.data.image_folder`);
3. **vendor scan files** read through :func:`kikuchipy.load` (EDAX/Bruker/Oxford h5ebsd,
   Oxford binary, NORDIF, EMsoft, kikuchipy h5ebsd, EDAX binary; see
   :mod:`ebsdlib.data.vendor`).

Inputs 2 and 3 are converted once into the project's HDF5 format (atomically) and opened
from there, so everything downstream sees one API. Without ``out`` the converted file goes to
a cache, ``<artifacts>/cache/imported/<name>-<key>.h5``, where the key hashes the source path,
its size and modification time (every file's, for a folder) and the import options: a changed
source is converted again, an unchanged one is reused.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import h5py

from ebsdlib.data.checks import check_phase_names
from ebsdlib.data.format import FORMAT_NAME, DataFormatError, EBSDDataset
from ebsdlib.phases import Phase, phase_from_name

Kind = Literal["ebsdlib", "image_folder", "vendor"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: Extensions of the non-HDF5 vendor formats kikuchipy reads.
VENDOR_EXTENSIONS = {".dat": "NORDIF", ".ebsp": "Oxford binary", ".up1": "EDAX binary", ".up2": "EDAX binary"}
IMAGE_EXTENSIONS = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
KNOWN_FORMATS = (
    "an ebsdlib HDF5 data set (.h5); "
    "a folder with one sub-folder of images (PNG, TIFF, JPEG, BMP) per phase; "
    "a vendor scan kikuchipy reads: EDAX/Bruker/Oxford/kikuchipy h5ebsd or EMsoft (.h5, .hdf5, "
    ".h5oina), Oxford binary (.ebsp), NORDIF (.dat), EDAX binary (.up1, .up2)"
)


def sniff(path: str | Path) -> Kind:
    """Say which kind of input ``path`` is, from its content.

    Parameters
    ----------
    path
        File or folder.

    Returns
    -------
    kind
        ``"ebsdlib"``, ``"image_folder"`` or ``"vendor"``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataFormatError
        Nothing fits; the message names the formats known.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder; check the path")
    if path.is_dir():
        from ebsdlib.data.image_folder import class_folders

        class_folders(path)  # raises, naming what was found, when the layout does not fit
        return "image_folder"
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head == HDF5_SIGNATURE:
        try:
            with h5py.File(path, "r") as f:
                is_ours = f.attrs.get("format") == FORMAT_NAME
        except OSError as e:
            raise DataFormatError(
                f"{path}: has the HDF5 signature but cannot be opened ({e}); the "
                "file is corrupt or truncated: copy or export it again"
            ) from e
        return "ebsdlib" if is_ours else "vendor"
    suffix = path.suffix.lower()
    if suffix in VENDOR_EXTENSIONS:
        return "vendor"
    if suffix in (".h5", ".hdf5", ".h5ebsd", ".h5oina"):
        raise DataFormatError(
            f"{path}: named like HDF5 but does not start with the HDF5 signature "
            f"(found {head!r}); the file is corrupt, truncated or not HDF5"
        )
    if suffix in IMAGE_EXTENSIONS:
        raise DataFormatError(
            f"{path}: a single image; put labelled images in a folder with one "
            f"sub-folder per phase and load the folder. Known formats: {KNOWN_FORMATS}"
        )
    raise DataFormatError(
        f"{path}: unknown format (extension {suffix!r}, first bytes {head!r}); known formats: {KNOWN_FORMATS}"
    )


def resolve_phases(phases: Sequence[Phase | str] | None) -> tuple[Phase, ...] | None:
    """Phase objects from phases or names (names take the default phase of that name)."""
    if phases is None:
        return None
    out = tuple(p if isinstance(p, Phase) else phase_from_name(str(p)) for p in phases)
    if not out:
        raise ValueError("phases is empty; give at least one phase name, or None for the default table")
    return out


def source_key(path: Path, options: dict) -> str:
    """Hash of the source (path, size, modification time; every file's for a folder) and options."""
    path = path.resolve()
    h = hashlib.sha256(str(path).encode())
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(path.parent)}|{st.st_size}|{st.st_mtime_ns}".encode())
    h.update(json.dumps(options, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def cache_path(path: str | Path, options: dict, root: str | Path | None = None) -> Path:
    """Where the converted copy of ``path`` with these options lives in the import cache."""
    from ebsdlib.paths import artifacts_root

    path = Path(path)
    return artifacts_root(root) / "cache" / "imported" / f"{path.stem}-{source_key(path, options)}.h5"


def load(
    path: str | Path,
    *,
    out: str | Path | None = None,
    size: int | None = None,
    phases: Sequence[Phase | str] | None = None,
    progress: bool = False,
    seed: int = 0,
    fractions: tuple[float, float, float] | None = None,
    verify: bool = False,
) -> EBSDDataset:
    """Open any supported input as an :class:`~ebsdlib.data.format.EBSDDataset`.

    Parameters
    ----------
    path
        An ebsdlib HDF5 file, an image folder (one sub-folder per phase) or a vendor scan.
    out
        Where to write the converted HDF5 file. Default: the import cache (see the module
        docstring). For an ebsdlib HDF5 input, a checked copy is written there.
    size
        Image folders only: height in pixels that every image is resized to (the width
        follows the common aspect ratio). Default: the most common image size.
    phases
        The expected phase table (phases or names). Image folders: sub-folder names must
        be among them and labels index them; ebsdlib files: the file's phase names must be
        among them; vendor scans: the scan's phase table (default: the project's phases).
    progress
        Show tqdm progress bars while converting.
    seed
        Seed of the train/val/test split drawn for image folders (and split vendor scans).
    fractions
        Train/val/test fractions. Image folders default to (0.7, 0.15, 0.15), stratified by
        phase; vendor scans are split only when given, by 10×10 spatial blocks.
    verify
        Also read every pattern and refuse NaN/inf or constant ones (converted inputs are
        always checked while they are written).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataFormatError
        The input is of no known format or breaks the format; the message names the file,
        what was expected and what was found.
    """
    path = Path(path)
    kind = sniff(path)
    wanted = resolve_phases(phases)
    if size is not None and kind != "image_folder":
        raise ValueError(
            f"{path}: size={size!r} applies to image folders only; HDF5 data sets and "
            "vendor scans keep their pattern size (preprocessing resizes them)"
        )
    if kind == "ebsdlib":
        dataset = _open_checked(path, wanted, verify, progress)
        if out is None or Path(out).resolve() == path.resolve():
            return dataset
        dataset.close()
        from ebsdlib.io import atomic_write

        atomic_write(out, lambda tmp: shutil.copyfile(path, tmp))
        return _open_checked(Path(out), wanted, False, False)
    options = {
        "size": size,
        "phases": None if wanted is None else [p.name for p in wanted],
        "seed": seed,
        "fractions": fractions,
    }
    target = Path(out) if out is not None else cache_path(path, options)
    if out is None and target.exists():
        return _open_checked(target, None, verify, progress)
    if kind == "image_folder":
        from ebsdlib.data.image_folder import convert_image_folder

        convert_image_folder(path, target, size=size, phases=wanted, seed=seed, fractions=fractions, progress=progress)
    else:
        from ebsdlib.data.vendor import convert_vendor

        convert_vendor(path, target, phases=wanted, seed=seed, fractions=fractions, progress=progress)
    return _open_checked(target, None, False, False)


def _open_checked(path: Path, phases: tuple[Phase, ...] | None, verify: bool, progress: bool) -> EBSDDataset:
    dataset = EBSDDataset(path)
    try:
        if phases is not None:
            check_phase_names(dataset.phase_names, phases, str(path))
        if verify:
            dataset.verify(progress=progress)
    except BaseException:
        dataset.close()
        raise
    return dataset
