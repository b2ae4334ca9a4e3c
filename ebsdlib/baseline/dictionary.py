"""The dictionary: simulated patterns of every phase over a sampling of orientation space.

For each phase, orientations are sampled on its fundamental zone with
:func:`orix.sampling.get_sample_fundamental` (cubochoric, ``resolution`` degrees). Each
orientation is projected from the phase's cached kinematical master pattern
(:func:`ebsdlib.simulate.master.load_masters`, the simulator's) onto the detector
(:func:`ebsdlib.simulate.project.project`), turned into the detector's noise-free frame
(:meth:`ebsdlib.simulate.detector.DetectorModel.expose` without noise: band contrast on the
smooth background, point-spread blur) and preprocessed with
:func:`ebsdlib.data.preprocess.preprocess_batch` — the function, and the config, used on the
patterns to index. The static background of the dictionary is the detector's band-free frame
(what the mean of many patterns tends to). Each template is stored flattened with zero mean
and unit norm, so a dot product with a pattern prepared the same way is the normalised
cross-correlation (:mod:`ebsdlib.baseline.match`).

Built dictionaries are cached in ``<artifacts>/cache/dictionary/<key>.npz`` (float16
templates; the key hashes every parameter), so a dose sweep or a second scan does not pay
for the simulation again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.baseline.geometry import Geometry
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import Phase

if TYPE_CHECKING:
    import torch

#: Bump when the way dictionaries are built changes, so old cache files are not reused.
DICTIONARY_VERSION = 1


@dataclass(frozen=True)
class Dictionary:
    """Templates and orientations of every phase.

    Attributes
    ----------
    phases
        The phases, in label order.
    rotations
        Per phase, ``(m_p, 4)`` unit quaternions of the templates.
    templates
        Per phase, ``(m_p, d)`` float32 tensor; each row has zero mean and unit norm.
    pattern_shape
        Detector shape the templates were simulated at.
    parameters
        Everything the dictionary depends on (:func:`dictionary_parameters`).
    build_seconds
        Time spent simulating (0 when read from the cache).
    from_cache
        Whether it was read from the cache.
    """

    phases: tuple[Phase, ...]
    rotations: tuple[np.ndarray, ...]
    templates: tuple[torch.Tensor, ...]
    pattern_shape: tuple[int, int]
    parameters: dict
    build_seconds: float = 0.0
    from_cache: bool = False

    @property
    def size(self) -> int:
        """Number of templates of all phases together."""
        return int(sum(len(r) for r in self.rotations))

    @property
    def device(self) -> torch.device:
        return self.templates[0].device

    def to(self, device: str | torch.device) -> Dictionary:
        """The same dictionary with its templates on ``device``."""
        return replace(self, templates=tuple(t.to(device) for t in self.templates))

    def summary(self) -> dict:
        """JSON-ready description for run records."""
        return {
            "size": self.size,
            "per_phase": {p.name: len(r) for p, r in zip(self.phases, self.rotations, strict=True)},
            "resolution_deg": self.parameters["resolution"],
            "pattern_shape": list(self.pattern_shape),
            "build_seconds": self.build_seconds,
            "from_cache": self.from_cache,
            "cache_key": cache_key(self.parameters),
        }


def dictionary_parameters(
    phases: Sequence[Phase],
    geometry: Geometry,
    pattern_shape: tuple[int, int],
    preprocess: PreprocessConfig,
    resolution: float,
) -> dict:
    """Everything a dictionary depends on, JSON-ready (the cache key hashes it)."""
    return {
        "version": DICTIONARY_VERSION,
        "phases": [
            {
                "name": p.name,
                "space_group": int(p.space_group),
                "lattice_a": float(p.lattice_a),
                "atoms": [[str(e), float(x), float(y), float(z)] for e, x, y, z in p.atoms],
            }
            for p in phases
        ],
        "geometry": {k: v for k, v in geometry.to_dict().items() if k != "source"},
        "pattern_shape": [int(s) for s in pattern_shape],
        "preprocess": preprocess.to_dict(),
        "resolution": float(resolution),
        "sampling": "orix get_sample_fundamental, cubochoric",
    }


def cache_key(parameters: dict) -> str:
    """File name of a dictionary in the cache: a hash of :func:`dictionary_parameters`."""
    text = json.dumps(parameters, sort_keys=True)
    return f"dictionary-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def default_cache_dir() -> Path:
    """``<artifacts>/cache/dictionary`` (honours ``$EBSDLIB_ARTIFACTS``)."""
    from ebsdlib.paths import artifacts_root

    return artifacts_root() / "cache" / "dictionary"


def sample_orientations(phase: Phase, resolution: float) -> np.ndarray:
    """``(m, 4)`` orientations covering the phase's fundamental zone at ``resolution`` degrees."""
    from orix.sampling import get_sample_fundamental

    return np.asarray(get_sample_fundamental(resolution, space_group=int(phase.space_group)).data, dtype=np.float64)


def build_dictionary(
    phases: Sequence[Phase],
    geometry: Geometry,
    pattern_shape: tuple[int, int],
    preprocess: PreprocessConfig,
    resolution: float = 5.0,
    *,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    block_size: int = 1000,
    progress: bool = False,
) -> Dictionary:
    """Simulate (or read from the cache) the dictionary of ``phases``.

    Parameters
    ----------
    phases
        Phases with atoms (the simulator needs the structure), in label order.
    geometry
        Detector and master-pattern parameters (:func:`ebsdlib.baseline.geometry.geometry_for`).
    pattern_shape
        Detector ``(H, W)`` of the patterns to index.
    preprocess
        The preprocessing of the patterns to index.
    resolution
        Orientation sampling in degrees.
    device
        Where the templates live and are preprocessed.
    cache_dir
        Cache folder; default :func:`default_cache_dir`.
    use_cache
        Read and write the cache.
    block_size
        Orientations simulated at once (bounded memory).
    progress
        Show a tqdm bar.
    """
    import torch
    from tqdm.auto import tqdm

    from ebsdlib.simulate.crystal import check_simulatable

    phases = tuple(phases)
    if not phases:
        raise ValueError("no phases to build a dictionary of; the data set's phase table is empty")
    for p in phases:
        check_simulatable(p)
    shape = (int(pattern_shape[0]), int(pattern_shape[1]))
    params = dictionary_parameters(phases, geometry, shape, preprocess, resolution)
    path = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / f"{cache_key(params)}.npz"
    if use_cache:
        cached = _read_cache(path, params, phases, shape, device)
        if cached is not None:
            return cached
    t0 = time.perf_counter()
    rotations = tuple(sample_orientations(p, resolution) for p in phases)
    masters = _masters(phases, geometry)
    static = band_free_frame(geometry, shape) if preprocess.static_background else None
    templates = []
    total = sum(len(r) for r in rotations)
    with tqdm(total=total, desc="dictionary", unit="pattern", disable=not progress) as bar:
        for phase, rot in zip(phases, rotations, strict=True):
            blocks = []
            for start in range(0, len(rot), block_size):
                q = rot[start : start + block_size]
                blocks.append(render_templates(masters[phase.name], q, geometry, shape, preprocess, static, device))
                bar.update(len(q))
            templates.append(torch.cat(blocks) if blocks else torch.empty(0))
    built = Dictionary(
        phases, rotations, tuple(templates), shape, params, build_seconds=time.perf_counter() - t0, from_cache=False
    )
    if use_cache:
        _write_cache(path, built)
    return built


def render_templates(
    master,
    quaternions: np.ndarray,
    geometry: Geometry,
    shape: tuple[int, int],
    preprocess: PreprocessConfig,
    static_background: np.ndarray | None,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Templates ``(n, d)`` (zero mean, unit norm) of one phase's master pattern at ``quaternions``."""
    import torch

    from ebsdlib.baseline.match import prepare
    from ebsdlib.simulate.detector import standardise
    from ebsdlib.simulate.project import project

    clean = project(master, quaternions, geometry.detector, shape)
    frames = geometry.detector.expose(standardise(clean), 1.0, None)
    x = torch.as_tensor(frames, device=device)
    bg = None if static_background is None else torch.as_tensor(static_background, device=device)
    return prepare(x, preprocess, bg)


def band_free_frame(geometry: Geometry, shape: tuple[int, int]) -> np.ndarray:
    """The detector's noise-free frame without bands: the dictionary's static background."""
    return geometry.detector.expose(np.zeros((1, *shape)), 1.0, None)[0]


def _masters(phases: tuple[Phase, ...], geometry: Geometry) -> dict:
    from ebsdlib.simulate.master import load_masters

    masters, _ = load_masters(phases, **geometry.master_options())
    return masters


def _read_cache(
    path: Path, params: dict, phases: tuple[Phase, ...], shape: tuple[int, int], device
) -> Dictionary | None:
    """The cached dictionary, or ``None`` when absent, unreadable or built differently."""
    import torch

    if not path.exists():
        return None
    try:
        with np.load(path) as f:
            if json.loads(str(f["parameters"])) != params:
                return None
            rotations = tuple(f[f"rotations_{i}"].astype(np.float64) for i in range(len(phases)))
            templates = tuple(
                torch.from_numpy(f[f"templates_{i}"].astype(np.float32)).to(device) for i in range(len(phases))
            )
    except (OSError, ValueError, KeyError):
        return None
    return Dictionary(phases, rotations, templates, shape, params, build_seconds=0.0, from_cache=True)


def _write_cache(path: Path, dictionary: Dictionary) -> None:
    from ebsdlib.io import atomic_write

    arrays = {"parameters": np.array(json.dumps(dictionary.parameters, sort_keys=True))}
    for i, (rot, tpl) in enumerate(zip(dictionary.rotations, dictionary.templates, strict=True)):
        arrays[f"rotations_{i}"] = rot.astype(np.float64)
        arrays[f"templates_{i}"] = tpl.detach().cpu().numpy().astype(np.float16)

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write(path, _write)
