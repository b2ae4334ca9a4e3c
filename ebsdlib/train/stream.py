"""Stream training: every step draws fresh simulated patterns, so no training pattern is seen twice.

With ``TrainConfig.stream`` the training split of the stored data set is replaced by patterns made
on the training device by :class:`~ebsdlib.simulate.torch_render.TorchRenderer` from the
simulator settings the data set records (its provenance ``config``: phases, detector, dose and
its spread, forward model, master patterns): each pattern has a uniformly random orientation and
phase, a pattern centre drawn around the detector's (σ = ``pc_spread``), a log-normal dose, and
its own noise. Validation, test, the SupCon probe and the evaluation stay on the stored data set,
which is preprocessed with the same static background, so the numbers compare with a stored run.

An epoch is ``stream_patterns`` patterns (default: as many as the stored training split). Draws
come from ``(seed, epoch, rank)``, so an epoch's patterns do not depend on what ran before it: a
resumed run sees the same patterns as an uninterrupted one.

``TrainConfig.randomise`` (:class:`~ebsdlib.simulate.randomise.DomainRanges`) widens the draws:
per-pattern ranges of pattern centre, dose, blur, background gradient, band contrast, camera
tilt and forward model (a kinematical/dynamical mix renders each pattern with its own masters).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ebsdlib.data.format import EBSDDataset

if TYPE_CHECKING:
    import torch

    from ebsdlib.simulate.config import AcquisitionSettings
    from ebsdlib.simulate.randomise import DomainRanges


def stream_settings(dataset: EBSDDataset) -> AcquisitionSettings:
    """The simulator settings a simulated data set records, to stream more patterns like its own.

    Raises
    ------
    ValueError
        For a data set that is not simulated (imported images, vendor scans) or whose record
        cannot be read, or whose phases differ from the record's.
    """
    from dataclasses import fields

    from ebsdlib.simulate.config import AcquisitionSettings

    info = dataset.provenance
    record = info.get("config") if info.get("source") == "simulation" else None
    if not isinstance(record, dict):
        raise ValueError(
            f"{dataset.path}: stream training draws patterns like the data set's own, but the data set is not "
            "simulated (it records no simulator settings); train on it without --stream, or stream from a "
            "simulated data set (python -m ebsdlib simulate)"
        )
    known = {f.name for f in fields(AcquisitionSettings)}
    try:
        settings = AcquisitionSettings.from_dict({k: v for k, v in record.items() if k in known})
    except (TypeError, ValueError) as e:
        raise ValueError(f"{dataset.path}: the simulation record cannot be read for streaming ({e})") from e
    if list(settings.phases) != dataset.phase_names:
        raise ValueError(
            f"{dataset.path}: the simulation record's phases {list(settings.phases)} differ from the data set's "
            f"{dataset.phase_names}; the streamed labels would not match"
        )
    return settings


class StreamFeeder:
    """Batches of freshly simulated raw patterns on the training device, the
    :class:`~ebsdlib.train.data.PatternFeeder` interface.

    Parameters
    ----------
    settings
        Simulator settings (:func:`stream_settings`).
    patterns_per_epoch
        Patterns of one epoch (whole batches of it are drawn).
    device
        Where the patterns are made (the training device).
    rank
        Process rank under torchrun: each rank draws its own patterns.
    ranges
        Domain randomisation (:class:`~ebsdlib.simulate.randomise.DomainRanges`); the default
        draws every condition like the data set's own.
    """

    def __init__(
        self,
        settings: AcquisitionSettings,
        patterns_per_epoch: int,
        device,
        rank: int = 0,
        ranges: DomainRanges | None = None,
    ):
        from ebsdlib.simulate.master import load_masters
        from ebsdlib.simulate.randomise import DomainRanges
        from ebsdlib.simulate.torch_render import TorchRenderer

        self.settings = settings
        self.ranges = ranges if ranges is not None else DomainRanges()
        self.patterns_per_epoch = int(patterns_per_epoch)
        self.rank = int(rank)
        phases = settings.resolved_phases()
        size = int(settings.pattern_size)
        models = (settings.forward_model,) if self.ranges.dynamical_fraction is None else ("kinematical", "dynamical")
        #: Forward model → renderer of its masters (both models for a kinematical/dynamical mix).
        self.renderers = {}
        for model in models:
            masters, _ = load_masters(phases, **settings.replace(forward_model=model).master_options())
            self.renderers[model] = TorchRenderer(masters, phases, settings.detector, (size, size), device)
        self.renderer = self.renderers.get(settings.forward_model) or self.renderers["dynamical"]
        self.n_phases = len(phases)

    def __len__(self) -> int:
        return self.patterns_per_epoch

    def steps(self, batch_size: int, drop_last: bool = True) -> int:
        """Steps of one epoch (at least one)."""
        return max(1, self.patterns_per_epoch // batch_size)

    def batches(
        self, batch_size: int, rng: np.random.Generator | None
    ) -> Iterator[tuple[None, torch.Tensor, np.ndarray]]:
        """``(None, raw, labels)`` per step: ``raw`` ``(B, H, W)`` float32 grey levels on the device,
        ``labels`` ``(B,)`` int64. ``rng`` (seeded from the epoch) seeds the draws; ``None`` seeds 0."""
        import torch

        from ebsdlib.simulate.orientations import random_quaternions
        from ebsdlib.simulate.torch_render import standardise

        seed = int(rng.integers(2**63)) if rng is not None else 0
        draws = np.random.default_rng([seed, self.rank])
        noise = torch.Generator(device=self.renderer.device).manual_seed(int(draws.integers(2**63)))
        s, det, r = self.settings, self.settings.detector, self.ranges
        pc_sigma = det.pc_spread if r.pc_sigma is None else r.pc_sigma
        for _ in range(self.steps(batch_size)):
            labels = draws.integers(self.n_phases, size=batch_size)
            q = random_quaternions(batch_size, draws)
            pcs = np.asarray(det.pc)[None] + draws.normal(0, pc_sigma, (batch_size, 3))
            if r.dose is None:
                doses = s.pattern_doses(batch_size, draws)
            else:
                doses = np.exp(draws.uniform(np.log(r.dose[0]), np.log(r.dose[1]), batch_size))
            conditions = {name: _uniform(getattr(r, name), batch_size, draws) for name in _DETECTOR_RANGES}
            tilts = _uniform(r.camera_tilt, batch_size, draws)
            dynamical = None if r.dynamical_fraction is None else draws.random(batch_size) < r.dynamical_fraction
            clean = self._clean(labels, q, pcs, tilts, dynamical)
            raw = self.renderer.expose(
                standardise(clean), torch.from_numpy(doses), noise, nominal_dose=s.dose, **conditions
            )
            yield None, raw, labels.astype(np.int64)

    def _clean(
        self,
        labels: np.ndarray,
        q: np.ndarray,
        pcs: np.ndarray,
        tilts: np.ndarray | None,
        dynamical: np.ndarray | None,
    ) -> torch.Tensor:
        """Noise-free patterns, each made by its forward model's renderer (``dynamical``: per-pattern
        choice of the dynamical masters; ``None``: the data set's model for all)."""
        import torch

        def render(renderer, sel) -> torch.Tensor:
            return renderer.clean(
                torch.from_numpy(labels[sel]),
                torch.from_numpy(q[sel]),
                torch.from_numpy(pcs[sel]),
                None if tilts is None else tilts[sel],
            )

        if dynamical is None:
            return render(self.renderer, slice(None))
        out = torch.empty((len(labels), *self.renderer.shape), dtype=torch.float32, device=self.renderer.device)
        for model, sel in (("dynamical", dynamical), ("kinematical", ~dynamical)):
            if sel.any():
                out[torch.from_numpy(sel).to(out.device)] = render(self.renderers[model], sel)
        return out


#: Detector conditions drawn per pattern from :class:`~ebsdlib.simulate.randomise.DomainRanges`.
_DETECTOR_RANGES = ("band_contrast", "psf_sigma", "background_jitter")


def _uniform(bounds: tuple[float, float] | None, n: int, draws: np.random.Generator) -> np.ndarray | None:
    """``(n,)`` uniform draws in ``bounds``, or ``None`` (no draw: the default stays bit-identical)."""
    return None if bounds is None else draws.uniform(bounds[0], bounds[1], n)
