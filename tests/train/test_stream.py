"""Stream training: fresh simulated patterns every step; validation and test stay on the stored data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ebsdlib.data.format import EBSDDataset, write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import NI, Phase
from ebsdlib.runs import RunDir
from ebsdlib.simulate.orientations import random_quaternions
from ebsdlib.train.loop import resume, train

#: A toy phase far from Ni: the same fcc crystal at twice the lattice parameter (bands half as wide).
NI_X2 = Phase("NiX2", 225, 2 * NI.lattice_a, "#d62728", NI.atoms)


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory) -> Path:
    """A simulated data set of Ni and NiX2 (kinematical, small masters, 32×32, a high dose)."""
    from ebsdlib.simulate import SimulationConfig, simulate_dataset

    root = tmp_path_factory.mktemp("stream")
    config = SimulationConfig(
        phases=("Ni", "NiX2"),
        custom_phases=(NI_X2,),
        n_per_phase=30,
        patterns_per_grain=1,
        pattern_size=32,
        dose=20000.0,
        forward_model="kinematical",
        master_half_size=40,
        cache_dir=str(root / "cache"),
    )
    return simulate_dataset(config, root / "toy.h5", progress=False)


def _config(tiny_config, data: Path, **changes):
    return tiny_config(
        data=str(data), stream=True, stream_patterns=192, batch_size=32, preprocess=PreprocessConfig(size=32), **changes
    )


def test_a_stream_trained_model_learns_a_separable_toy_problem(tiny_config, toy_data, artifacts):
    run = train(_config(tiny_config, toy_data, epochs=10, lr=3e-3), progress=False)
    metrics = run.metrics()
    assert run.config()["stream"] is True and metrics["split"] == "test"  # evaluated on the stored split
    losses = run.history()["train_loss"].tolist()
    assert losses[-1] < 0.5 * losses[0], f"the streamed training loss did not fall: {losses}"
    assert metrics["accuracy"] >= 0.85, f"test accuracy {metrics['accuracy']} after losses {losses}"


def test_stream_resume_equals_an_uninterrupted_run(tiny_config, toy_data, artifacts):
    config = _config(tiny_config, toy_data, epochs=2)
    reference = train(config, progress=False)

    class PowerCut(RuntimeError):
        pass

    def stop(epoch: int, row: dict) -> None:
        if epoch == 1:
            raise PowerCut("power cut after epoch 1")

    broken = RunDir(artifacts / "runs" / "broken")
    with pytest.raises(PowerCut):
        train(config, broken, progress=False, on_epoch_end=stop)
    resume("broken", progress=False)
    cols = ["epoch", "train_loss", "lr"]
    pd.testing.assert_frame_equal(broken.history()[cols], reference.history()[cols])
    pd.testing.assert_frame_equal(broken.predictions(), reference.predictions())


def test_every_step_draws_new_patterns_and_a_seed_repeats_them(toy_data):
    import torch

    from ebsdlib.train.stream import StreamFeeder, stream_settings

    with EBSDDataset(toy_data) as ds:
        settings = stream_settings(ds)
        stored = ds.read(slice(None)).astype(np.float32)
    assert settings.phases == ("Ni", "NiX2") and settings.resolved_phases()[1].lattice_a == NI_X2.lattice_a
    feeder = StreamFeeder(settings, 64, "cpu")
    assert feeder.steps(16) == 4
    epoch0 = list(feeder.batches(16, np.random.default_rng([0, 0])))
    again = list(feeder.batches(16, np.random.default_rng([0, 0])))
    epoch1 = list(feeder.batches(16, np.random.default_rng([0, 1])))
    raws = torch.cat([raw for _, raw, _ in epoch0 + epoch1]).reshape(128, -1)
    assert len(torch.unique(raws, dim=0)) == 128  # no pattern twice within or across epochs
    assert all(torch.equal(a[1], b[1]) and np.array_equal(a[2], b[2]) for a, b in zip(epoch0, again, strict=True))
    labels = np.concatenate([lab for _, _, lab in epoch0])
    assert set(labels) == {0, 1} and epoch0[0][1].shape == (16, 32, 32)
    # the same grey-level range and mean brightness as the stored patterns of this data set
    assert float(raws.min()) >= 0 and float(raws.max()) <= 255
    assert float(raws.mean()) == pytest.approx(float(stored.mean()), rel=0.1)


def test_streaming_from_data_that_is_not_simulated_is_refused(tiny_config, tmp_path, artifacts):
    patterns = np.random.default_rng(0).integers(0, 255, (12, 24, 24)).astype(np.uint8)
    labels = np.arange(12) % 3
    data = write_dataset(
        tmp_path / "real.h5",
        patterns,
        labels.astype(np.int16),
        (NI, NI_X2, Phase("X", 229, 2.87, "#000000")),
        provenance={"reader": "image_folder"},
        split=np.tile([0, 0, 1, 2], 3).astype(np.int8),
    )
    with pytest.raises(ValueError, match=r"real\.h5: stream training .* the data set is not simulated"):
        train(tiny_config(data=str(data), stream=True, preprocess=PreprocessConfig(size=24)), progress=False)


def test_an_epoch_smaller_than_a_batch_is_refused(tiny_config, toy_data):
    with pytest.raises(ValueError, match=r"stream_patterns=4 is not allowed; use 0 .* or at least batch_size \(32\)"):
        tiny_config(data=str(toy_data), stream=True, stream_patterns=4, batch_size=32)


def test_domain_ranges_reach_the_streamed_patterns_and_the_run(tiny_config, toy_data, artifacts):
    from ebsdlib.simulate.randomise import DomainRanges
    from ebsdlib.train.stream import StreamFeeder, stream_settings

    with EBSDDataset(toy_data) as ds:
        settings = stream_settings(ds)
    plain = StreamFeeder(settings, 64, "cpu")
    empty = StreamFeeder(settings, 64, "cpu", ranges=DomainRanges())
    a, b = (list(f.batches(32, np.random.default_rng([3, 0]))) for f in (plain, empty))
    assert all(x[1].equal(y[1]) for x, y in zip(a, b, strict=True))  # no ranges: the data set's own draws

    def noise(feeder) -> float:  # pixel-to-pixel σ relative to the brightness: the shot noise
        raw = next(feeder.batches(32, np.random.default_rng([3, 0])))[1]
        return float((raw[:, 1:, :] - raw[:, :-1, :]).std() / raw.mean())

    # the bright one at the data set's nominal dose (20,000: above it the 8-bit frames saturate), the dim
    # one where a pattern still spans a few grey levels (at 200 it is 0–2, and rounding hides the noise)
    dim = StreamFeeder(settings, 64, "cpu", ranges=DomainRanges(dose=(500, 500)))
    bright = StreamFeeder(settings, 64, "cpu", ranges=DomainRanges(dose=(20000, 20000)))
    assert noise(dim) > 3 * noise(bright)  # the dose range sets the noise (σ ∝ 1/√dose: 6.3× less signal-to-noise)
    run = train(
        _config(tiny_config, toy_data, epochs=1, randomise={"dose": [2000, 40000], "psf_sigma": [0.3, 1.0]}),
        progress=False,
    )
    assert run.config()["randomise"]["dose"] == [2000.0, 40000.0] and run.read_status().state == "completed"


def test_a_kinematical_dynamical_mix_renders_each_pattern_with_its_own_masters():
    import torch

    from ebsdlib.simulate.config import AcquisitionSettings
    from ebsdlib.simulate.randomise import DomainRanges
    from ebsdlib.train.stream import StreamFeeder

    feeder = StreamFeeder(AcquisitionSettings(), 64, "cpu", ranges=DomainRanges(dynamical_fraction=0.5))
    assert set(feeder.renderers) == {"kinematical", "dynamical"}
    rng = np.random.default_rng(7)
    labels, q = rng.integers(3, size=8), random_quaternions(8, rng)
    pcs = np.tile(AcquisitionSettings().detector.pc, (8, 1))
    dynamical = np.array([True, False] * 4)
    mixed = feeder._clean(labels, q, pcs, None, dynamical)
    for model, sel in (("dynamical", dynamical), ("kinematical", ~dynamical)):
        own = feeder.renderers[model].clean(
            torch.as_tensor(labels[sel]), torch.as_tensor(q[sel]), torch.as_tensor(pcs[sel])
        )
        assert torch.equal(mixed[torch.as_tensor(sel)], own)
    kin = feeder.renderers["kinematical"].clean(torch.as_tensor(labels), torch.as_tensor(q), torch.as_tensor(pcs))
    dyn = feeder.renderers["dynamical"].clean(torch.as_tensor(labels), torch.as_tensor(q), torch.as_tensor(pcs))
    assert not torch.allclose(kin, dyn, atol=1e-2)  # the two forward models do differ
