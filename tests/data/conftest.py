"""Fixtures of the data-layer tests: tiny patterns, data-set files and image folders."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.data.format import write_dataset
from ebsdlib.phases import DEFAULT_PHASES


def random_patterns(n: int, shape: tuple[int, int] = (12, 16), dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """Non-constant random patterns of ``dtype``."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.random((n, *shape)).astype(dtype)
    top = np.iinfo(dtype).max
    return rng.integers(0, top, (n, *shape), endpoint=True).astype(dtype)


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the import cache and default outputs of every test inside its own tmp_path."""
    monkeypatch.setenv("EBSDLIB_ARTIFACTS", str(tmp_path / "artifacts"))


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """A 30-pattern uint8 data set with every optional field."""
    n = 30
    row, col = np.divmod(np.arange(n), 6)
    return write_dataset(
        tmp_path / "tiny.h5",
        random_patterns(n),
        np.arange(n) % 3,
        DEFAULT_PHASES,
        provenance={"made_by": "conftest"},
        split=np.arange(n) % 3,
        split_rule="test rule",
        seed=7,
        scan_row=row,
        scan_col=col,
        scan_shape=(5, 6),
        step_size=0.5,
        quality=np.linspace(0, 1, n),
        orientations=np.tile([1.0, 0, 0, 0], (n, 1)),
        grain_id=np.arange(n) // 2,
    )


def save_image(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    """Write ``array`` with Pillow (format from the extension)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


@pytest.fixture
def make_image_folder(tmp_path: Path) -> Callable[..., Path]:
    """Factory: a folder with one sub-folder of images per phase.

    ``make_image_folder(classes={"Ni": 5, ...}, shape=(20, 20), ext=".png", dtype=np.uint8)``.
    """

    def make(
        classes: dict[str, int] | None = None,
        shape: tuple[int, int] = (20, 20),
        ext: str = ".png",
        dtype=np.uint8,
        name: str = "images",
        seed: int = 0,
    ) -> Path:
        root = tmp_path / name
        rng = np.random.default_rng(seed)
        for phase, count in (classes or {"Ni": 5, "Ni3Al": 5, "Ni3Fe": 5}).items():
            for i in range(count):
                arr = random_patterns(1, shape, dtype, seed=int(rng.integers(1 << 30)))[0]
                save_image(root / phase / f"{i:03d}{ext}", arr)
        return root

    return make


@pytest.fixture(scope="session")
def kp_data() -> Path:
    """kikuchipy's bundled sample files (inside its wheel; nothing is downloaded)."""
    spec = importlib.util.find_spec("kikuchipy")
    return Path(spec.origin).parent / "data"
