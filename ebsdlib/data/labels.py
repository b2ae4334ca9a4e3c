"""Where an image's phase label (and split) comes from: folders, file names, a regex or a manifest.

Every source returns the same list of :class:`LabelledFile` (path, phase name as written in the
source, split or ``None``); :mod:`ebsdlib.data.image_folder` turns the names into a phase table.

Sources:

``folder``
    one sub-folder per phase, searched recursively (``root/Ni/…/*.png``);
``name``
    the file name's prefix up to the first ``_`` or space, after a known prefix such as
    ``originalsize_`` (``originalsize_FeNi3_Site 1_0001.png`` → ``FeNi3``); every image under
    the folder counts, in whatever sub-folders (one per scan set, say);
``regex``
    the one group, or the group named ``phase``, of a regular expression searched in the file
    name (``re.search``), e.g. ``r"^(?:originalsize_)?([A-Za-z0-9]+)_"``;
manifest
    a CSV file with the columns ``file`` and ``phase`` and optionally ``split``; paths are
    relative to the manifest's folder (or absolute).

Split folders: when a sub-folder of the root is named ``train``, ``val`` (or ``validation``) or
``test``, every sub-folder must be one, and each is labelled as above (phase sub-folders, file
names or the regex) and keeps its split.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ebsdlib.data.checks import DataFormatError

IMAGE_EXTENSIONS = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
#: Split-folder names (and manifest ``split`` values), case-insensitive, and the split they mean.
SPLIT_FOLDERS = {"train": "train", "val": "val", "validation": "val", "test": "test"}
#: File-name prefixes that precede the phase name (case-insensitive), e.g. Kaufmann et al. (2020).
NAME_PREFIXES = ("originalsize_",)
_ALLOWED_SPLITS = "train, val (or validation) or test"
_NAME_HINT = (
    "for images named after their phase (Ni_0001.png) use --label-from name (label_from='name'), "
    "--label-regex or --manifest"
)

LabelFrom = Literal["folder", "name"]


@dataclass(frozen=True)
class LabelledFile:
    """One image, the phase name its source gives it and its split (``None``: drawn later)."""

    path: Path
    name: str
    split: str | None = None


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _images_under(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and _visible(p, folder)
    )


def class_folders(root: str | Path) -> list[tuple[str, list[Path]]]:
    """The class sub-folders of ``root`` and their image files, sorted by name.

    Raises
    ------
    DataFormatError
        ``root`` has no sub-folders, has images outside them, or a sub-folder holds no image.
    """
    root = Path(root)
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    folders = [p for p in entries if p.is_dir()]
    loose = [p.name for p in entries if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if not folders:
        found = f"{len(entries)} files, e.g. {[p.name for p in entries[:3]]}" if entries else "nothing"
        raise DataFormatError(
            f"{root}: a folder of images needs one sub-folder per phase (e.g. {root}/Ni/*.png); "
            f"found no sub-folders but {found}; {_NAME_HINT}. Other inputs: an ebsdlib .h5 file or a "
            "vendor scan file (h5ebsd, .ebsp, .dat, .up1/.up2)"
        )
    if loose:
        raise DataFormatError(
            f"{root}: images {loose[:3]} lie outside the phase sub-folders; move "
            f"each into the sub-folder named after its phase, or {_NAME_HINT}"
        )
    out = []
    for folder in folders:
        files = sorted(p for p in folder.rglob("*") if p.is_file() and _visible(p, folder))
        images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
        if not images:
            other = f"{len(files)} other files, e.g. {[p.name for p in files[:3]]}" if files else "no files"
            raise DataFormatError(
                f"{folder}: empty class folder: expected images ({', '.join(IMAGE_EXTENSIONS)}), "
                f"found {other}; add images of phase {folder.name!r} or remove the folder"
            )
        out.append((folder.name, images))
    return out


def name_prefix(filename: str) -> str:
    """The phase part of a file name: after a known prefix, up to the first ``_`` or space.

    ``"originalsize_Ni3Al_Site 1_0001.png"`` → ``"Ni3Al"``; ``"FeNi3 0001.png"`` → ``"FeNi3"``.
    """
    stem = Path(filename).stem
    prefix = next((p for p in NAME_PREFIXES if stem.lower().startswith(p)), "")
    return re.split(r"[_ ]", stem[len(prefix) :], maxsplit=1)[0]


def compile_label_regex(regex: str) -> re.Pattern:
    """Compile ``--label-regex``; it needs one group, or a group named ``phase``.

    Raises
    ------
    ValueError
        The regex does not compile, has no group, or several unnamed ones.
    """
    try:
        pattern = re.compile(regex)
    except re.error as e:
        raise ValueError(f"--label-regex '{regex}' is not a valid regular expression ({e})") from e
    if "phase" not in pattern.groupindex and pattern.groups != 1:
        what = "has no group" if pattern.groups == 0 else f"has {pattern.groups} groups and none named 'phase'"
        raise ValueError(
            f"--label-regex '{regex}' {what}; put the phase part of the file name in one group, "
            r"e.g. '^([A-Za-z0-9]+)_', or name it '(?P<phase>...)' and make other groups non-capturing '(?:...)'"
        )
    return pattern


def _label_by_name(images: list[Path], split: str | None) -> list[LabelledFile]:
    out = []
    for path in images:
        name = name_prefix(path.name)
        if not re.search(r"[^\W\d_]", name):
            raise DataFormatError(
                f"{path}: the file name {path.name!r} starts with {name!r}, not a phase name; "
                "name files like 'Ni_0001.png' (an optional 'originalsize_' first), or label them "
                "with --label-regex, --manifest or phase sub-folders"
            )
        out.append(LabelledFile(path, name, split))
    return out


def _label_by_regex(images: list[Path], pattern: re.Pattern, split: str | None, where: Path) -> list[LabelledFile]:
    group = "phase" if "phase" in pattern.groupindex else 1
    matches = [(path, pattern.search(path.name)) for path in images]
    if images and not any(m for _, m in matches):
        raise DataFormatError(
            f"{where}: --label-regex '{pattern.pattern}' matches none of the {len(images)} file names, "
            f"e.g. {[p.name for p in images[:3]]}; the regex is searched in the file name (not the path)"
        )
    out = []
    for path, m in matches:
        name = m.group(group) if m else None
        if not name:
            what = "does not match" if m is None else "matches with an empty phase group"
            raise DataFormatError(
                f"{path}: the file name {path.name!r} {what} --label-regex '{pattern.pattern}'; "
                "change the regex so that it fits every file, or move the file out of the folder"
            )
        out.append(LabelledFile(path, name, split))
    return out


def _label_tree(
    folder: Path, label_from: LabelFrom, pattern: re.Pattern | None, split: str | None
) -> list[LabelledFile]:
    if pattern is None and label_from == "folder":
        return [LabelledFile(path, name, split) for name, images in class_folders(folder) for path in images]
    images = _images_under(folder)
    if not images:
        raise DataFormatError(
            f"{folder}: holds no images ({', '.join(IMAGE_EXTENSIONS)}); add the labelled images or remove the folder"
        )
    if pattern is not None:
        return _label_by_regex(images, pattern, split, folder)
    return _label_by_name(images, split)


def split_folders(root: str | Path) -> list[tuple[str, Path]] | None:
    """``(split, folder)`` of each split folder of ``root`` in train, val, test order, or ``None``.

    Raises
    ------
    DataFormatError
        Some sub-folders are split folders and another is not, or images lie beside them.
    """
    root = Path(root)
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    folders = [p for p in entries if p.is_dir()]
    if not any(p.name.lower() in SPLIT_FOLDERS for p in folders):
        return None
    for p in folders:
        if p.name.lower() not in SPLIT_FOLDERS:
            named = [q.name for q in folders if q.name.lower() in SPLIT_FOLDERS]
            raise DataFormatError(
                f"{p}: unknown split folder {p.name!r} beside the split folders {named}; split folders "
                f"must be named {_ALLOWED_SPLITS}: rename or move {p.name!r}"
            )
    loose = [p.name for p in entries if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if loose:
        raise DataFormatError(
            f"{root}: images {loose[:3]} lie beside the split folders; move each into "
            f"{_ALLOWED_SPLITS.replace(' (or validation)', '')}"
        )
    order = list(dict.fromkeys(SPLIT_FOLDERS.values()))
    return sorted(((SPLIT_FOLDERS[p.name.lower()], p) for p in folders), key=lambda s: (order.index(s[0]), s[1]))


def label_folder(
    root: str | Path, *, label_from: LabelFrom = "folder", label_regex: str | None = None
) -> tuple[list[LabelledFile], str]:
    """Label every image under ``root`` (see the module docstring).

    Parameters
    ----------
    root
        The image folder, with or without split folders.
    label_from
        ``"folder"``: phase sub-folders; ``"name"``: the file-name prefix.
    label_regex
        Label from this regex's group instead (see :func:`compile_label_regex`).

    Returns
    -------
    files
        The images in source order, with phase names and splits (``None`` without split folders).
    source
        How labels were read, in words, for the provenance and the dry run.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder; check the path")
    if label_from not in ("folder", "name"):
        raise ValueError(f"label_from {label_from!r} is not one of 'folder', 'name'")
    pattern = compile_label_regex(label_regex) if label_regex is not None else None
    if pattern is not None:
        source = f"file names, --label-regex '{label_regex}'"
    else:
        source = "phase sub-folders" if label_from == "folder" else "file-name prefix"
    splits = split_folders(root)
    if splits is None:
        return _label_tree(root, label_from, pattern, None), source
    files = [f for split, folder in splits for f in _label_tree(folder, label_from, pattern, split)]
    return files, f"{source} under the split folders {[folder.name for _, folder in splits]}"


def read_manifest(path: str | Path) -> tuple[list[LabelledFile], str]:
    """Labels (and splits) from a CSV manifest with columns ``file``, ``phase`` and optional ``split``.

    Raises
    ------
    FileNotFoundError
        The manifest does not exist.
    DataFormatError
        A column is missing, or a row names a missing file, no phase or an unknown split; the
        message names the row.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such manifest file; check the path given to --manifest")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in ("file", "phase") if c not in header]
        if missing:
            raise DataFormatError(
                f"{path}: manifest columns {header} lack {missing}; the first line must name the "
                "columns, e.g. 'file,phase' or 'file,phase,split'"
            )
        col = {c: header.index(c) for c in ("file", "phase", "split") if c in header}
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    if not rows:
        raise DataFormatError(f"{path}: the manifest has a header but no rows; add one row per image")
    out, seen = [], {}
    for number, (line, row) in enumerate(rows, start=1):
        where = f"{path}, row {number} (line {line})"
        cells = {c: row[i].strip() if i < len(row) else "" for c, i in col.items()}
        if not cells["file"] or not cells["phase"]:
            raise DataFormatError(f"{where}: {row!r} has an empty 'file' or 'phase'; fill it in or remove the row")
        file = (path.parent / cells["file"]).resolve()
        if not file.is_file():
            raise DataFormatError(
                f"{where}: file {cells['file']!r} does not exist (looked for {file}); paths are relative "
                f"to the manifest's folder {path.parent}: fix the path or remove the row"
            )
        if file.suffix.lower() not in IMAGE_EXTENSIONS:
            raise DataFormatError(
                f"{where}: file {cells['file']!r} is not an image ({', '.join(IMAGE_EXTENSIONS)}); remove the row"
            )
        if file in seen:
            raise DataFormatError(
                f"{where}: file {cells['file']!r} is listed again (first in row {seen[file]}); keep one row per image"
            )
        seen[file] = number
        split = None
        if "split" in col:
            split = SPLIT_FOLDERS.get(cells["split"].lower())
            if split is None:
                raise DataFormatError(
                    f"{where}: split {cells['split']!r} is not one of {_ALLOWED_SPLITS}; fix the value "
                    "(or drop the split column to draw a split)"
                )
        out.append(LabelledFile(file, cells["phase"], split))
    source = f"manifest {path.name} ({'file, phase, split' if 'split' in col else 'file, phase'})"
    return out, source
