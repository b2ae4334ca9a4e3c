"""A simulated EBSD scan: a grid of Voronoi grains of known phase, for phase maps.

Grains are the Voronoi cells of random seed points on the scan grid; each grain has a phase
(drawn with ``phase_fractions``, every phase at least once when there are enough grains), a
random orientation, and a dose factor (log-normal, ``dose_spread``: grains diffract more or less
brightly, as channelling contrast gives). Within a grain each point is misoriented slightly
(``grain_spread_deg``).

At a grain boundary the beam's interaction volume (a Gaussian footprint of σ = ``beam_sigma``
scan steps) straddles two grains: the pattern is the mix of both grains' patterns, weighted by
the share of the footprint on each side, ``w = ½·erfc(d / (σ√2))`` for a point a distance ``d``
from the boundary. The image quality (:mod:`ebsdlib.simulate.quality`) measures the shape of a
pattern's spectrum, and a mix of two patterns has about the mean of their spectra: measured on
the same 24×24 scan with and without mixing (seed 2, points weighted > 0.3), mean IQ 0.7737
against 0.7738 with dynamical 64×64 patterns, so the simulated IQ map does not darken at
boundaries as real ones do (where deformation and surface relief add to the overlap); noise
lowers it (a lower dose gives a lower IQ). The pattern centre drifts linearly across the scan
(``detector.pc_spread`` over the full width/height), as beam scanning makes it.

The labels are the true phase of each point's own grain; the file also stores scan row/column,
``scan_shape``, ``step_size`` (µm), grain ids, true orientations, pattern quality, and a split
by whole grains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ebsdlib.simulate.config import AcquisitionSettings

#: Boundary mixing below this weight is not simulated (the second pattern would not show).
MIN_MIX_WEIGHT = 0.01


@dataclass(frozen=True)
class ScanConfig(AcquisitionSettings):
    """How the scan is simulated (see :class:`AcquisitionSettings` for the shared settings).

    Parameters
    ----------
    shape
        Scan rows and columns.
    n_grains
        Number of Voronoi grains.
    phase_fractions
        Probability of each phase per grain (label order); ``None`` for equal.
    step_size
        Scan step in µm (stored; the grain size in µm follows from it).
    beam_sigma
        Interaction-volume σ in scan steps: how far boundary mixing reaches.
    grain_spread_deg
        σ of the point-to-point misorientation within a grain, in degrees.
    """

    shape: tuple[int, int] = (100, 100)
    n_grains: int = 40
    phase_fractions: tuple[float, ...] | None = None
    step_size: float = 0.5
    beam_sigma: float = 0.6
    grain_spread_deg: float = 0.3

    def __post_init__(self) -> None:
        super().__post_init__()
        shape = tuple(int(s) for s in self.shape)
        if len(shape) != 2 or min(shape) < 1 or shape[0] * shape[1] > 10_000_000:
            raise ValueError(
                f"scan shape {self.shape!r} must be two positive numbers (rows, cols) with at most 10 000 000 points"
            )
        object.__setattr__(self, "shape", shape)
        if not 1 <= int(self.n_grains) <= shape[0] * shape[1]:
            raise ValueError(f"n_grains {self.n_grains!r} must lie between 1 and the {shape[0] * shape[1]} scan points")
        if self.phase_fractions is not None:
            fr = np.asarray(self.phase_fractions, dtype=float)
            if fr.shape != (len(self.phases),) or (fr < 0).any() or fr.sum() <= 0:
                raise ValueError(
                    f"phase_fractions {self.phase_fractions!r} must be {len(self.phases)} "
                    f"non-negative weights, one per phase {self.phases!r}"
                )
            object.__setattr__(self, "phase_fractions", tuple(float(f) for f in fr))
        if not self.step_size > 0:
            raise ValueError(f"step_size {self.step_size!r} must be a positive step in µm")
        if not 0 <= self.beam_sigma <= 10:
            raise ValueError(f"beam_sigma {self.beam_sigma!r} must lie in [0, 10] scan steps")
        if not 0 <= self.grain_spread_deg <= 30:
            raise ValueError(f"grain_spread_deg {self.grain_spread_deg!r} must lie in [0, 30] degrees")


@dataclass(frozen=True)
class ScanPlan:
    """Everything random about a scan except the noise, per scan point (row-major)."""

    row: np.ndarray  # (N,) int32
    col: np.ndarray  # (N,) int32
    grain_id: np.ndarray  # (N,) int32, the point's own grain
    labels: np.ndarray  # (N,) int16, phase of the own grain
    orientations: np.ndarray  # (N, 4) own grain's orientation at this point
    neighbour: np.ndarray  # (N,) int32, the nearest other grain
    neighbour_labels: np.ndarray  # (N,) int16
    neighbour_orientations: np.ndarray  # (N, 4)
    weight: np.ndarray  # (N,) share of the neighbour grain in the pattern
    pcs: np.ndarray  # (N, 3)
    doses: np.ndarray  # (N,)


def grain_phases(config: ScanConfig, rng: np.random.Generator) -> np.ndarray:
    """Phase label of each grain; every phase with a non-zero fraction appears when it can."""
    n_phases = len(config.phases)
    fr = np.ones(n_phases) if config.phase_fractions is None else np.asarray(config.phase_fractions)
    fr = fr / fr.sum()
    present = np.flatnonzero(fr > 0)
    labels = rng.choice(n_phases, size=config.n_grains, p=fr)
    if config.n_grains >= len(present):
        labels[: len(present)] = present
    return rng.permutation(labels).astype(np.int16)


def plan_scan(config: ScanConfig, rng: np.random.Generator) -> ScanPlan:
    """Grains, phases, orientations, boundary mixing, pattern centres and doses of every point."""
    from scipy.spatial import cKDTree
    from scipy.special import erfc

    from ebsdlib.simulate.orientations import perturb, random_quaternions

    rows, cols = config.shape
    row, col = (a.ravel().astype(np.int32) for a in np.mgrid[0:rows, 0:cols])
    seeds = rng.random((config.n_grains, 2)) * [rows, cols]
    phase_of = grain_phases(config, rng)
    grain_q = random_quaternions(config.n_grains, rng)
    grain_dose = config.pattern_doses(config.n_grains, rng)
    points = np.column_stack([row, col]).astype(np.float64)
    k = min(2, config.n_grains)
    dist, idx = cKDTree(seeds).query(points, k=k)
    if k == 1:
        own, other = idx.astype(np.int32), idx.astype(np.int32)
        weight = np.zeros(len(points))
    else:
        own, other = idx[:, 0].astype(np.int32), idx[:, 1].astype(np.int32)
        sep = np.linalg.norm(seeds[other] - seeds[own], axis=1)
        to_boundary = (dist[:, 1] ** 2 - dist[:, 0] ** 2) / (2 * np.clip(sep, 1e-9, None))
        if config.beam_sigma > 0:
            weight = 0.5 * erfc(to_boundary / (config.beam_sigma * math.sqrt(2)))
        else:
            weight = np.zeros(len(points))
        weight[weight < MIN_MIX_WEIGHT] = 0.0
    u = col / max(cols - 1, 1) - 0.5
    v = row / max(rows - 1, 1) - 0.5
    s, tilt = config.detector.pc_spread, np.deg2rad(config.detector.sample_tilt)
    pc0 = np.asarray(config.detector.pc, dtype=float)
    pcs = np.column_stack([pc0[0] - s * u, pc0[1] - s * v * np.sin(tilt), pc0[2] - s * v * np.cos(tilt)])
    doses = (1 - weight) * grain_dose[own] + weight * grain_dose[other]
    return ScanPlan(
        row=row,
        col=col,
        grain_id=own,
        labels=phase_of[own],
        orientations=perturb(grain_q[own], config.grain_spread_deg, rng),
        neighbour=other,
        neighbour_labels=phase_of[other],
        neighbour_orientations=perturb(grain_q[other], config.grain_spread_deg, rng),
        weight=weight,
        pcs=pcs,
        doses=doses,
    )


def simulate_scan(
    config: ScanConfig | None = None,
    out_path: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """Simulate a scan of Voronoi grains and write it in the project's HDF5 format.

    Parameters
    ----------
    config
        Scan settings; ``None`` for the defaults (100×100 points, 40 grains).
    out_path
        Target ``.h5`` file (replaced atomically when complete); ``None`` for
        ``artifacts/datasets/default_scan.h5`` (honours ``$EBSDLIB_ARTIFACTS``).
    progress
        Show tqdm progress bars.

    Returns
    -------
    pathlib.Path
        ``out_path``.
    """
    from tqdm.auto import tqdm

    from ebsdlib.data.format import create_dataset
    from ebsdlib.data.preprocess import PreprocessConfig
    from ebsdlib.data.splits import make_splits
    from ebsdlib.simulate.dataset import render_clean
    from ebsdlib.simulate.detector import standardise
    from ebsdlib.simulate.master import load_masters
    from ebsdlib.simulate.provenance import provenance
    from ebsdlib.simulate.quality import image_quality

    config = config or ScanConfig()
    if out_path is None:
        from ebsdlib.paths import datasets_root

        out_path = datasets_root() / "default_scan.h5"
    phases = config.resolved_phases()
    seeds = np.random.SeedSequence(config.seed).spawn(2)
    plan = plan_scan(config, np.random.default_rng(seeds[0]))
    split, rule = make_splits(plan.labels, groups=plan.grain_id, seed=config.seed)
    masters, master_info = load_masters(phases, progress=progress, **config.master_options())
    n, size = len(plan.labels), int(config.pattern_size)
    shape = (size, size)
    det = config.detector
    block = int(config.block_size)
    block_seeds = seeds[1].spawn(math.ceil(n / block))
    with (
        create_dataset(
            out_path,
            n,
            shape,
            det.dtype,
            phases,
            provenance=provenance("scan", config.to_dict(), master_info),
            # the recommendation keeps the simulated size: a 128-pixel set trains at 128, not 64
            preprocessing=PreprocessConfig(size=size).to_dict(),
            optional=("split", "scan/row", "scan/col", "quality", "orientations", "grain_id", "pc"),
            split_rule=rule,
            seed=config.seed,
            scan_shape=config.shape,
            step_size=config.step_size,
        ) as writer,
        tqdm(total=n, desc="simulating scan", unit="pattern", disable=not progress) as bar,
    ):
        for b, start in enumerate(range(0, n, block)):
            idx = np.arange(start, min(n, start + block))
            k = standardise(
                render_clean(masters, phases, plan.labels[idx], plan.orientations[idx], plan.pcs[idx], det, shape)
            )
            mixed = plan.weight[idx] > 0
            if mixed.any():
                m = idx[mixed]
                other = standardise(
                    render_clean(
                        masters,
                        phases,
                        plan.neighbour_labels[m],
                        plan.neighbour_orientations[m],
                        plan.pcs[m],
                        det,
                        shape,
                    )
                )
                w = plan.weight[m][:, None, None]
                k[mixed] = (1 - w) * k[mixed] + w * other
            raw = det.expose(k, plan.doses[idx], np.random.default_rng(block_seeds[b]), nominal_dose=config.dose)
            writer.write(
                start,
                raw,
                labels=plan.labels[idx],
                split=split[idx],
                **{"scan/row": plan.row[idx], "scan/col": plan.col[idx]},
                quality=image_quality(raw),
                orientations=plan.orientations[idx].astype(np.float32),
                grain_id=plan.grain_id[idx],
                pc=plan.pcs[idx].astype(np.float32),
            )
            bar.update(len(idx))
    return Path(out_path)
