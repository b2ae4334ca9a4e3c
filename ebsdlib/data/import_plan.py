"""What an image import will write, decided before any pixel is read: files, phases, labels, splits.

:func:`plan_image_import` labels the images (:mod:`ebsdlib.data.labels`), maps the names found
to a phase table, applies the per-phase cap and assigns the splits. The CLI's ``--dry-run``
prints the plan; :func:`ebsdlib.data.image_folder.convert_plan` writes it.

Phase names map by name, ignoring case, or by chemical formula (:func:`ebsdlib.phases.match_phase`:
``FeNi3`` → ``Ni3Fe``). With ``phases`` given, every name must map to one of them; without, names
map to the project's default phases, and the rest become new phases (default phases first, in
their order, then the new ones alphabetically).

Cap: with ``max_per_phase = N``, a phase with more than N images keeps N of them drawn without
replacement by ``numpy.random.default_rng(seed)``; when the splits come from the source (split
folders or a manifest column) the cap holds per phase and split. The kept images stay in source
order. Splits not given by the source are drawn afterwards, stratified by phase
(:func:`ebsdlib.data.splits.make_splits`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ebsdlib.data.checks import SPLIT_CODES, DataFormatError
from ebsdlib.data.labels import LabelFrom, LabelledFile, label_folder, read_manifest
from ebsdlib.phases import DEFAULT_PHASES, MATCH_BY_NAME, Phase, match_phase, phase_from_name

#: How a found name became a phase, beside :data:`ebsdlib.phases.MATCH_BY_FORMULA`.
SAME_NAME = "same name"
OTHER_CASE = "name, other case"
NEW_PHASE = "new phase"
_SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ImportPlan:
    """The outcome of an import, short of the pixels.

    Attributes
    ----------
    source
        The image folder, or the manifest.
    files
        The images to write, in order.
    labels, split
        ``(N,)`` phase indices into ``phases`` and split codes 0/1/2 (train/val/test).
    split_rule
        How the split was made, in words (stored in the data set).
    phases
        The phase table.
    mapping
        ``(name found, phase name, how)`` for each distinct name in the source; ``how`` is
        ``"same name"``, ``"name, other case"``, ``"alias by formula"`` or ``"new phase"``.
    label_source
        Where the labels came from, in words.
    found
        Images per name found, before the cap.
    max_per_phase
        The cap, or ``None``.
    seed
        Seed of the cap and the drawn split.
    """

    source: Path
    files: tuple[Path, ...]
    labels: np.ndarray
    split: np.ndarray
    split_rule: str
    phases: tuple[Phase, ...]
    mapping: tuple[tuple[str, str, str], ...]
    label_source: str
    found: dict[str, int]
    max_per_phase: int | None
    seed: int

    def counts(self) -> dict[str, dict[str, int]]:
        """Phase name → ``{"total", "train", "val", "test"}`` image counts."""
        out = {}
        for i, p in enumerate(self.phases):
            mine = self.split[self.labels == i]
            out[p.name] = {"total": len(mine)} | {k: int((mine == SPLIT_CODES[k]).sum()) for k in _SPLITS}
        return out


def _how(name: str, phase: Phase, by: str) -> str:
    if by != MATCH_BY_NAME:
        return by
    return SAME_NAME if name == phase.name else OTHER_CASE


def map_names(
    names: Sequence[str], phases: Sequence[Phase] | None, example: dict[str, Path], source: str, where: Path
) -> tuple[tuple[Phase, ...], tuple[tuple[str, str, str], ...]]:
    """The phase table and ``(name, phase name, how)`` for each name found (see the module docstring).

    Parameters
    ----------
    names
        The distinct names found, in source order.
    phases
        The expected phase table, or ``None``.
    example, source, where
        A file of each name, the label source in words and the source path, for the message.

    Raises
    ------
    DataFormatError
        ``phases`` is given and a name matches none of them by name or formula.
    """
    if phases is not None:
        matches = {name: match_phase(name, phases) for name in names}
        unknown = [name for name, m in matches.items() if m is None]
        if unknown:
            raise DataFormatError(
                f"{where}: unknown phase names {unknown}; expected one of {[p.name for p in phases]} "
                f"(by name in any case, or by chemical formula); e.g. {example[unknown[0]]} is labelled "
                f"{unknown[0]!r} by its {source}. Rename it, add the phase to --phases (phases=...), or "
                "leave --phases out to import it as a new phase"
            )
        mapping = tuple((name, m[0].name, _how(name, *m)) for name, m in matches.items())
        return tuple(phases), mapping
    found: dict[str, tuple[Phase, str]] = {}
    new: list[Phase] = []
    for name in sorted(names, key=lambda n: (n.lower(), n)):
        m = match_phase(name, DEFAULT_PHASES) or match_phase(name, new)
        if m is None:
            new.append(phase_from_name(name))
            m = (new[-1], NEW_PHASE)
        found[name] = m
    used = {p.name for p, _ in found.values()}
    table = (*(p for p in DEFAULT_PHASES if p.name in used), *new)
    mapping = tuple((name, found[name][0].name, _how(name, *found[name])) for name in names)
    return table, mapping


def _cap(files: list[LabelledFile], labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of the kept files: at most ``n`` per phase (and source split), in source order."""
    if int(n) < 1:
        raise ValueError(f"max_per_phase {n!r} must be a positive number of images per phase")
    rng = np.random.default_rng(seed)
    groups: dict[tuple[int, str], list[int]] = {}
    for i, (f, lab) in enumerate(zip(files, labels.tolist(), strict=True)):
        groups.setdefault((lab, f.split or ""), []).append(i)
    keep = []
    for key in sorted(groups):
        members = np.array(groups[key])
        keep.append(members if len(members) <= n else rng.choice(members, int(n), replace=False))
    return np.sort(np.concatenate(keep))


def plan_image_import(
    root: str | Path,
    *,
    label_from: LabelFrom | None = None,
    label_regex: str | None = None,
    manifest: str | Path | None = None,
    phases: Sequence[Phase] | None = None,
    seed: int = 0,
    fractions: tuple[float, float, float] | None = None,
    max_per_phase: int | None = None,
) -> ImportPlan:
    """Label the images and decide the phase table, cap and splits (no pixel is read, nothing written).

    Parameters
    ----------
    root
        The image folder (see :mod:`ebsdlib.data.labels` for the layouts), or a ``.csv`` manifest.
    label_from
        ``"folder"`` (default) or ``"name"``; not with ``manifest``, and not ``"folder"`` with
        ``label_regex``.
    label_regex
        Label from this regex's one group (or group ``phase``) in each file name.
    manifest
        CSV manifest (``file,phase[,split]``); ``root`` then only names the source.
    phases
        The expected phase table; every name found must map to one of them.
    seed
        Seed of the cap and of the drawn split.
    fractions
        Train/val/test fractions of the drawn split (default 0.7/0.15/0.15); refused when the
        source gives the splits.
    max_per_phase
        Keep at most this many images per phase (per phase and split for source splits).

    Raises
    ------
    ValueError
        Options that exclude each other, a bad regex or cap.
    DataFormatError
        A layout, manifest or name the plan cannot use; the message names the file.
    """
    from ebsdlib.data.splits import DEFAULT_FRACTIONS, make_splits

    root = Path(root)
    if manifest is None and root.is_file() and root.suffix.lower() == ".csv":
        manifest = root
    if manifest is not None:
        if label_from is not None or label_regex is not None:
            raise ValueError(f"--manifest {str(manifest)!r} gives the labels; leave out --label-from and --label-regex")
        source = Path(manifest)
        files, label_source = read_manifest(source)
    else:
        if label_regex is not None and label_from == "folder":
            raise ValueError("--label-regex labels from file names; leave out --label-from folder")
        source = root
        files, label_source = label_folder(root, label_from=label_from or "folder", label_regex=label_regex)
    found = Counter(f.name for f in files)
    example: dict[str, Path] = {}
    for f in files:
        example.setdefault(f.name, f.path)
    table, mapping = map_names(list(found), phases, example, label_source, source)
    position = {p.name: i for i, p in enumerate(table)}
    index = {name: position[phase] for name, phase, _ in mapping}
    labels = np.array([index[f.name] for f in files], dtype=np.int64)
    if max_per_phase is not None:
        keep = _cap(files, labels, max_per_phase, seed)
        files, labels = [files[i] for i in keep], labels[keep]
    given = files[0].split is not None
    if given:
        if fractions is not None:
            raise ValueError(
                f"{source}: the splits come from the {label_source}; leave out the split fractions "
                f"{tuple(fractions)!r} (--split), or remove the split folders or column to draw a split"
            )
        split = np.array([SPLIT_CODES[f.split] for f in files], dtype=np.int8)
        rule = f"given by the source ({label_source})"
    else:
        split, rule = make_splits(labels, fractions=fractions or DEFAULT_FRACTIONS, seed=seed)
    if max_per_phase is not None:
        rule += f"; at most {int(max_per_phase)} per phase{' and split' if given else ''} (seed {seed})"
    return ImportPlan(
        source=source,
        files=tuple(f.path for f in files),
        labels=labels,
        split=split,
        split_rule=rule,
        phases=table,
        mapping=mapping,
        label_source=label_source,
        found=dict(found),
        max_per_phase=None if max_per_phase is None else int(max_per_phase),
        seed=seed,
    )
