"""Where artifacts live, and which names may become folders there.

The artifacts folder holds ``runs/``, ``datasets/``, ``cache/`` and ``bench/``; it is the
``root`` argument of every function that reads or writes artifacts, else
``$EBSDLIB_ARTIFACTS``, else ``./artifacts``. Run ids and scan names become folder names,
so both pass :func:`check_name`. This module sits at the bottom of the package: it imports
nothing from ebsdlib.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

#: A safe folder name: letters, digits, ``.``, ``_`` and ``-``, not starting with ``.``, ≤ 128 characters.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

NameKind = Literal["run id", "scan name", "data-set name"]


def artifacts_root(root: str | Path | None = None) -> Path:
    """The artifacts folder: ``root``, ``$EBSDLIB_ARTIFACTS`` or ``./artifacts``."""
    return Path(root) if root is not None else Path(os.environ.get("EBSDLIB_ARTIFACTS", "artifacts"))


def runs_root(root: str | Path | None = None) -> Path:
    """``<artifacts>/runs``: one folder per run."""
    return artifacts_root(root) / "runs"


def datasets_root(root: str | Path | None = None) -> Path:
    """``<artifacts>/datasets``: simulated and imported data sets."""
    return artifacts_root(root) / "datasets"


def cache_root(root: str | Path | None = None) -> Path:
    """``<artifacts>/cache``: master patterns, dictionaries and converted imports; safe to delete."""
    return artifacts_root(root) / "cache"


def portable_path(path: str | Path, root: str | Path | None = None) -> str:
    """``path`` as it is stored in a run folder: relative to the artifacts folder's parent
    (``artifacts/datasets/x.h5``) when it lies inside the artifacts folder ``root``, so that a
    clone in any other folder finds it; else absolute. :func:`data_candidates` reads it back.
    """
    base = artifacts_root(root).resolve()
    resolved = Path(path).resolve()
    if base in resolved.parents:
        return (Path(base.name) / resolved.relative_to(base)).as_posix()
    return str(resolved)


def data_candidates(stored: str | os.PathLike, root: str | Path | None = None) -> list[Path]:
    """Where a stored data path may point, most likely first (the inverse of :func:`portable_path`).

    A relative path ``artifacts/datasets/x.h5`` is looked for inside the artifacts folder ``root``
    wherever it now lies and whatever it is now called: first without its first part (the
    artifacts folder's name when it was stored), then as written inside it, then, unless it starts
    with the folder's name, from the working folder (old runs stored such paths). A sibling of
    ``root`` is never a candidate, so a copy beside the original reads its own data sets. An
    absolute path (a data set outside the artifacts, or an old run) is looked for as written.
    Either way ``<root>/datasets/<file name>`` comes last (a run copied from another machine).
    :func:`ebsdlib.data.fingerprint.resolve_data` picks among them and checks the fingerprint.
    """
    base = artifacts_root(root).resolve()
    p = Path(stored)
    if p.is_absolute():
        out = [p]
    else:
        out = [base.joinpath(*p.parts[1:])] if len(p.parts) > 1 else []
        out.append(base / p)
        if p.parts[0] != base.name:
            out.append(Path.cwd() / p)
    out.append(base / "datasets" / p.name)
    unique: list[Path] = []
    for c in out:
        if c not in unique:
            unique.append(c)
    return unique


def check_name(name: str, kind: NameKind = "run id") -> str:
    """Return ``name`` if it is a safe folder name, else raise ``ValueError`` naming it.

    Safe: letters, digits, ``.``, ``_`` and ``-``, not starting with a dot, at most 128
    characters; so no separators, no ``..`` and no absolute paths.
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or ".." in name:
        raise ValueError(
            f"{kind} {name!r} is not allowed; use letters, digits, '.', '_' and '-' "
            "(not starting with '.', no '..', at most 128 characters)"
        )
    return name


def inside(base: str | Path, candidate: str | Path) -> Path:
    """Resolve ``candidate`` (relative to ``base`` unless absolute) and insist it stays in ``base``.

    Symlinks are resolved first, so a link that points out of ``base`` is refused too.
    """
    base_r = Path(base).resolve()
    cand = Path(candidate)
    resolved = (cand if cand.is_absolute() else base_r / cand).resolve()
    if resolved != base_r and base_r not in resolved.parents:
        raise ValueError(f"path {str(candidate)!r} lies outside {str(base_r)!r}; choose a file inside it")
    return resolved
