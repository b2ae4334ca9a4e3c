"""Reader for labelled pattern images, converted to the HDF5 format.

Layouts (see :mod:`ebsdlib.data.labels` for every label source)::

    root/                       root/                              root/
      Ni/      0001.png …         Ni_Site 1_0001.png                 train/  Ni/ …  (or Ni_0001.png …)
      Ni3Al/   …                  originalsize_FeNi3_Site 1_0001.png val/    …      (or validation/)
      Ni3Fe/   …                  Ni3Al_Site 2_0001.png …            test/   …

    label_from="folder"         label_from="name"                  split folders keep their split

or ``label_regex`` (a regex with one group, or a group named ``phase``, searched in each file
name), or a CSV ``manifest`` with the columns ``file,phase`` and optionally ``split`` (paths
relative to the manifest's folder). Phase names map to the phase table by name, ignoring case,
or by chemical formula (``FeNi3`` is Ni₃Fe, ``AlNi3`` is Ni₃Al); with ``phases`` given every name
must map to one of them, without, names that are no default phase become new phases
(:mod:`ebsdlib.data.import_plan`). ``max_per_phase`` keeps at most that many images per phase
(per phase and split when the source gives the splits), drawn with the seed. Hidden files and
folders are skipped. Everything about labels is checked before any pixel is read
(:func:`~ebsdlib.data.import_plan.plan_image_import`; the CLI's ``--dry-run`` stops there).

Images may be PNG, TIFF, JPEG or BMP, 8- or 16-bit grey (or 32-bit float TIFF); colour images
(such as the 229×229 RGB PNGs of Kaufmann et al., 2020) are converted to grey with the ITU-R 601
luma weights (Pillow's ``"L"``).

Sizes: every image is resized (area-antialiased bilinear, Pillow) to one target shape. The
target is the most common image shape, or, when ``size`` is given, ``size`` rows and the
width that keeps the most common aspect ratio (``size × size`` for square images). Images
whose aspect ratio differs from the common one by more than 1 % are refused, since resizing
them would distort the pattern geometry.

Bit depth: all 8-bit → ``uint8``; any 16-bit → ``uint16`` with 8-bit images scaled by 257 so
both span the same range; float images → ``float32`` (float and integer images are not mixed).

Labels index the phase table: the given ``phases``, or the default phases found, in the
project's order, then new phases alphabetically. The split is the source's (split folders, a
manifest's ``split`` column) or a seeded split stratified by phase
(:func:`ebsdlib.data.splits.make_splits`). The file appears only when complete.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ebsdlib.data.format import DataFormatError, create_dataset
from ebsdlib.data.import_plan import ImportPlan, plan_image_import
from ebsdlib.data.labels import IMAGE_EXTENSIONS, LabelFrom, class_folders
from ebsdlib.phases import Phase

__all__ = ["IMAGE_EXTENSIONS", "class_folders", "convert_image_folder", "convert_plan", "plan_shape"]

ASPECT_TOLERANCE = 0.01
BLOCK = 256
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _header(path: Path) -> tuple[tuple[int, int], str]:
    """(rows, cols) and Pillow mode of an image, without decoding its pixels."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            shape, mode, kind = (im.height, im.width), im.mode, im.format
    except Exception as e:  # Pillow raises UnidentifiedImageError, OSError, DecompressionBombError, …
        raise DataFormatError(
            f"{path}: cannot be read as an image ({e}); the file is corrupt or "
            f"not a PNG/TIFF/JPEG/BMP: replace or remove it"
        ) from e
    if min(shape) < 1 or kind not in ("PNG", "TIFF", "JPEG", "BMP", "MPO"):
        raise DataFormatError(
            f"{path}: read as a {shape[0]}×{shape[1]} {kind} image; expected a "
            "PNG, TIFF, JPEG or BMP pattern: replace or remove it"
        )
    return shape, mode


def _depth(mode: str) -> str:
    if mode == "F":
        return "float"
    return "16" if mode in _SIXTEEN_BIT_MODES else "8"


def _decode(path: Path) -> tuple[np.ndarray, str]:
    """Pixels as a 2-D array (uint8, uint16 or float32) and the bit depth they came in."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in _SIXTEEN_BIT_MODES or mode == "F":
                arr = np.asarray(im)
            else:
                arr = np.asarray(im.convert("L"))
    except Exception as e:  # Pillow's decoders raise OSError, ValueError, SyntaxError, EOFError, …
        raise DataFormatError(
            f"{path}: the image cannot be decoded ({e}); the file is corrupt or truncated: replace or remove it"
        ) from e
    depth = _depth(mode)
    if depth == "16":
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise DataFormatError(
                f"{path}: 32-bit integer image with values in [{arr.min()}, "
                f"{arr.max()}], outside 0..65535; save it as 16-bit or float TIFF"
            )
        arr = arr.astype(np.uint16)
    elif depth == "float":
        arr = arr.astype(np.float32)
    if arr.ndim != 2:
        raise DataFormatError(f"{path}: decoded to shape {arr.shape}, expected a 2-D grey image")
    if depth == "float" and not np.isfinite(arr).all():
        raise DataFormatError(
            f"{path}: {int((~np.isfinite(arr)).sum())} pixels are NaN or inf; repair or remove the image"
        )
    if arr.size and arr.min() == arr.max():
        raise DataFormatError(
            f"{path}: every pixel is {arr.flat[0].item()!r}, a blank image carries no diffraction pattern; remove it"
        )
    return arr, depth


def _resize(arr: np.ndarray, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    from PIL import Image

    if arr.shape == shape:
        return arr.astype(dtype)
    im = Image.fromarray(arr.astype(np.float32), mode="F")
    out = np.asarray(im.resize((shape[1], shape[0]), Image.Resampling.BILINEAR), dtype=np.float32)
    if dtype == np.float32:
        return out
    return np.clip(np.rint(out), 0, np.iinfo(dtype).max).astype(dtype)


def plan_shape(shapes: dict[Path, tuple[int, int]], size: int | None, root: Path) -> tuple[int, int]:
    """Target ``(rows, cols)``: ``size`` rows at the common aspect ratio, or the common shape.

    Raises
    ------
    DataFormatError
        An image's aspect ratio differs from the common one by more than 1 %.
    """
    counts = Counter(shapes.values())
    common = max(counts, key=lambda s: (counts[s], s[0] * s[1]))
    aspect = common[1] / common[0]
    for path, (h, w) in shapes.items():
        if abs((w / h) / aspect - 1) > ASPECT_TOLERANCE:
            example = next(p for p, s in shapes.items() if s == common)
            raise DataFormatError(
                f"{path}: image of {h}×{w} pixels cannot be resized to the common shape: its aspect "
                f"ratio {w / h:.3f} differs from {aspect:.3f} of {counts[common]} images such as "
                f"{example} ({common[0]}×{common[1]}); crop the images to one aspect ratio first"
            )
    if size is None:
        return common
    if int(size) < 1:
        raise ValueError(f"size {size!r} must be a positive number of pixels")
    return int(size), max(1, round(int(size) * aspect))


def convert_image_folder(
    root: str | Path,
    out: str | Path,
    *,
    size: int | None = None,
    phases: Sequence[Phase] | None = None,
    seed: int = 0,
    fractions: tuple[float, float, float] | None = None,
    progress: bool = False,
    label_from: LabelFrom | None = None,
    label_regex: str | None = None,
    manifest: str | Path | None = None,
    max_per_phase: int | None = None,
) -> Path:
    """Convert a folder of labelled images into a data set file (atomically).

    Parameters
    ----------
    root
        The image folder (a layout of the module docstring), or a ``.csv`` manifest.
    out
        Target ``.h5`` file; it appears only when complete.
    size
        Target rows (see the module docstring); default the most common image shape.
    phases
        Expected phase table; ``None`` builds it from the names found.
    seed, fractions
        Seed (of the split and the cap) and train/val/test fractions of the drawn split
        (default 0.7/0.15/0.15).
    progress
        Show a tqdm bar.
    label_from, label_regex, manifest, max_per_phase
        Label source and cap, see :func:`~ebsdlib.data.import_plan.plan_image_import`.
    """
    plan = plan_image_import(
        root,
        label_from=label_from,
        label_regex=label_regex,
        manifest=manifest,
        phases=phases,
        seed=seed,
        fractions=fractions,
        max_per_phase=max_per_phase,
    )
    return convert_plan(plan, out, size=size, progress=progress)


def convert_plan(plan: ImportPlan, out: str | Path, *, size: int | None = None, progress: bool = False) -> Path:
    """Read the images of ``plan`` and write them as a data set file (atomically).

    Parameters
    ----------
    plan
        From :func:`~ebsdlib.data.import_plan.plan_image_import`.
    out
        Target ``.h5`` file; it appears only when complete.
    size
        Target rows (see the module docstring); default the most common image shape.
    progress
        Show a tqdm bar.
    """
    from tqdm.auto import tqdm

    from ebsdlib.data.preprocess import PreprocessConfig

    root, files, labels, split = plan.source, plan.files, plan.labels, plan.split
    headers = {path: _header(path) for path in files}
    shape = plan_shape({p: h[0] for p, h in headers.items()}, size, root)
    depths = Counter(_depth(mode) for _, mode in headers.values())
    if depths["float"] and (depths["8"] or depths["16"]):
        example = next(p for p, (_, m) in headers.items() if _depth(m) == "float")
        raise DataFormatError(
            f"{root}: mixes float images (e.g. {example}) with 8/16-bit integer images; convert them to one kind first"
        )
    dtype = np.dtype(np.float32 if depths["float"] else np.uint16 if depths["16"] else np.uint8)
    names = [p.name for p in plan.phases]
    provenance = {
        "reader": "image_folder",
        "source": str(root.resolve()),
        "labels_from": plan.label_source,
        "classes": dict(Counter(names[lab] for lab in labels.tolist())),
        "phase_names": {found: f"{phase} ({how})" for found, phase, how in plan.mapping},
        "source_shapes": {f"{h}x{w}": c for (h, w), c in Counter(s for s, _ in headers.values()).items()},
        "source_modes": dict(Counter(m for _, m in headers.values())),
        "target_shape": list(shape),
        "resize": "Pillow bilinear, area-antialiased" if any(s != shape for s, _ in headers.values()) else "none",
        "grey": "ITU-R 601 luma (Pillow 'L') for colour images",
    }
    if plan.max_per_phase is not None:
        provenance |= {"max_per_phase": plan.max_per_phase, "found_before_cap": plan.found}
    with (
        create_dataset(
            out,
            len(files),
            shape,
            dtype,
            plan.phases,
            provenance=provenance,
            preprocessing=PreprocessConfig().to_dict(),
            optional=["split"],
            split_rule=plan.split_rule,
            seed=plan.seed,
        ) as writer,
        tqdm(total=len(files), desc=f"import {root.name}", unit="image", disable=not progress) as bar,
    ):
        for start in range(0, len(files), BLOCK):
            chunk = files[start : start + BLOCK]
            block = np.empty((len(chunk), *shape), dtype=dtype)
            for i, path in enumerate(chunk):
                arr, depth = _decode(path)
                if dtype == np.uint16 and depth == "8":
                    arr = arr.astype(np.uint16) * 257
                block[i] = _resize(arr, shape, dtype)
                if block[i].min() == block[i].max():
                    raise DataFormatError(
                        f"{path}: becomes blank (every pixel {block[i].flat[0].item()!r}) "
                        f"when resized from {arr.shape[0]}×{arr.shape[1]} to "
                        f"{shape[0]}×{shape[1]}; remove it or choose a larger size"
                    )
                bar.update(1)
            writer.write(
                start, block, labels=labels[start : start + len(chunk)], split=split[start : start + len(chunk)]
            )
    return Path(out)
