"""The labelled synthetic data set: patterns of Ni, Ni₃Al and Ni₃Fe grains for training.

Patterns come in "grains": each grain has one random orientation (uniform over SO(3)) and its
patterns are turned from it by small random misorientations (``grain_spread_deg``), as
neighbouring scan points of one grain are. The split keeps every grain on one side
(:func:`ebsdlib.data.splits.make_splits` with the grain ids as groups), so no near-duplicate
pattern leaks from training into validation or test. Each pattern has its own pattern centre
(random, ``detector.pc_spread``) and dose (log-normal, ``dose_spread``).

The file is written block by block with :func:`ebsdlib.data.format.create_dataset`; it holds
the labels, true orientations, grain ids, pattern quality, split, the recommended
preprocessing and the full provenance (every parameter, the master-pattern keys, versions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ebsdlib.data.splits import DEFAULT_FRACTIONS
from ebsdlib.phases import Phase
from ebsdlib.simulate.config import AcquisitionSettings
from ebsdlib.simulate.detector import DetectorModel


@dataclass(frozen=True)
class SimulationConfig(AcquisitionSettings):
    """How the labelled data set is simulated (see :class:`AcquisitionSettings` for the rest).

    Parameters
    ----------
    n_per_phase
        Patterns per phase: one number (balanced classes) or one per phase (imbalance).
    patterns_per_grain
        Patterns that share one grain orientation.
    grain_spread_deg
        σ of the misorientation (degrees) of a grain's patterns about its orientation.
    split_fractions
        Train, validation and test fractions (by whole grains, stratified by phase).
    """

    n_per_phase: int | tuple[int, ...] = 2000
    patterns_per_grain: int = 10
    grain_spread_deg: float = 1.0
    split_fractions: tuple[float, float, float] = DEFAULT_FRACTIONS

    def __post_init__(self) -> None:
        super().__post_init__()
        counts = self.counts()
        if any(c < 1 for c in counts):
            raise ValueError(f"n_per_phase {self.n_per_phase!r} must give every phase at least one pattern")
        if sum(counts) > 10_000_000:
            raise ValueError(f"n_per_phase {self.n_per_phase!r} asks for {sum(counts)} patterns; at most 10 000 000")
        if int(self.patterns_per_grain) < 1:
            raise ValueError(f"patterns_per_grain {self.patterns_per_grain!r} must be at least 1")
        if not 0 <= self.grain_spread_deg <= 30:
            raise ValueError(f"grain_spread_deg {self.grain_spread_deg!r} must lie in [0, 30] degrees")
        object.__setattr__(self, "split_fractions", tuple(float(f) for f in self.split_fractions))

    def counts(self) -> tuple[int, ...]:
        """Number of patterns of each phase, in label order."""
        n = self.n_per_phase
        if isinstance(n, (int, np.integer)):
            return tuple(int(n) for _ in self.phases)
        n = tuple(int(v) for v in n)
        if len(n) != len(self.phases):
            raise ValueError(
                f"n_per_phase {self.n_per_phase!r} has {len(n)} entries for "
                f"{len(self.phases)} phases {self.phases!r}; give one per phase or one number"
            )
        return n


@dataclass(frozen=True)
class DatasetPlan:
    """Everything random about a data set except the noise, drawn up front from the seed."""

    labels: np.ndarray  # (N,) int16
    grain_id: np.ndarray  # (N,) int32
    orientations: np.ndarray  # (N, 4) float64
    pcs: np.ndarray  # (N, 3) float64
    doses: np.ndarray  # (N,) float64


def plan_dataset(config: SimulationConfig, rng: np.random.Generator) -> DatasetPlan:
    """Labels, grains, orientations, pattern centres and doses of every pattern, shuffled."""
    from ebsdlib.simulate.orientations import perturb, random_quaternions

    labels, grains = [], []
    next_grain = 0
    for label, count in enumerate(config.counts()):
        n_grains = math.ceil(count / config.patterns_per_grain)
        grain = next_grain + np.arange(count) // config.patterns_per_grain
        labels.append(np.full(count, label, dtype=np.int16))
        grains.append(grain.astype(np.int32))
        next_grain += n_grains
    labels, grain_id = np.concatenate(labels), np.concatenate(grains)
    grain_q = random_quaternions(next_grain, rng)
    q = perturb(grain_q[grain_id], config.grain_spread_deg, rng)
    pcs = np.asarray(config.detector.pc)[None] + rng.normal(0, config.detector.pc_spread, (len(labels), 3))
    doses = config.pattern_doses(len(labels), rng)
    order = rng.permutation(len(labels))
    return DatasetPlan(labels[order], grain_id[order], q[order], pcs[order], doses[order])


def render_clean(
    masters: dict,
    phases: tuple[Phase, ...],
    labels: np.ndarray,
    orientations: np.ndarray,
    pcs: np.ndarray | None,
    detector: DetectorModel,
    shape: tuple[int, int],
) -> np.ndarray:
    """Clean patterns ``(n, H, W)`` float32: each pattern from the master of its label's phase."""
    from ebsdlib.simulate.project import project

    clean = np.empty((len(labels), *shape), dtype=np.float32)
    for label, phase in enumerate(phases):
        sel = np.asarray(labels) == label
        if sel.any():
            clean[sel] = project(
                masters[phase.name], orientations[sel], detector, shape, None if pcs is None else pcs[sel]
            )
    return clean


def simulate_dataset(
    config: SimulationConfig | None = None,
    out_path: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """Simulate the labelled data set and write it in the project's HDF5 format.

    Parameters
    ----------
    config
        Simulation settings; ``None`` for the defaults.
    out_path
        Target ``.h5`` file (replaced atomically when complete); ``None`` for
        ``artifacts/datasets/default.h5`` (honours ``$EBSDLIB_ARTIFACTS``).
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
    from ebsdlib.simulate.detector import standardise
    from ebsdlib.simulate.master import load_masters
    from ebsdlib.simulate.provenance import provenance
    from ebsdlib.simulate.quality import image_quality

    config = config or SimulationConfig()
    if out_path is None:
        from ebsdlib.paths import datasets_root

        out_path = datasets_root() / "default.h5"
    phases = config.resolved_phases()
    seeds = np.random.SeedSequence(config.seed).spawn(2)
    plan = plan_dataset(config, np.random.default_rng(seeds[0]))
    split, rule = make_splits(plan.labels, groups=plan.grain_id, fractions=config.split_fractions, seed=config.seed)
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
            provenance=provenance("dataset", config.to_dict(), master_info),
            # the recommendation keeps the simulated size: a 128-pixel set trains at 128, not 64
            preprocessing=PreprocessConfig(size=size).to_dict(),
            optional=("split", "quality", "orientations", "grain_id", "pc"),
            split_rule=rule,
            seed=config.seed,
        ) as writer,
        tqdm(total=n, desc="simulating data set", unit="pattern", disable=not progress) as bar,
    ):
        for b, start in enumerate(range(0, n, block)):
            idx = np.arange(start, min(n, start + block))
            clean = render_clean(masters, phases, plan.labels[idx], plan.orientations[idx], plan.pcs[idx], det, shape)
            raw = det.expose(
                standardise(clean), plan.doses[idx], np.random.default_rng(block_seeds[b]), nominal_dose=config.dose
            )
            writer.write(
                start,
                raw,
                labels=plan.labels[idx],
                split=split[idx],
                quality=image_quality(raw),
                orientations=plan.orientations[idx].astype(np.float32),
                grain_id=plan.grain_id[idx],
                pc=plan.pcs[idx].astype(np.float32),
            )
            bar.update(len(idx))
    return Path(out_path)
