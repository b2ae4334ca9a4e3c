"""Device-resident stored training data: the same batches as the RAM feeder, on the CPU.

The resident path is the CUDA default; here it is forced on the CPU (``resident=True``, or
``"cpu"`` added to :data:`~ebsdlib.train.data.RESIDENT_DEVICES`) so that the gather and the
whole training run can be compared bit for bit with the RAM path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ebsdlib.data.format import EBSDDataset, write_dataset
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.train import data as feed
from ebsdlib.train._ddp_sampler import ShardedFeeder
from ebsdlib.train.data import DeviceRows, PatternFeeder, resident_limit
from ebsdlib.train.loop import train

CPU = torch.device("cpu")


@pytest.fixture
def dataset(tiny_data):
    with EBSDDataset(tiny_data) as ds:
        yield ds


def batches(feeder: PatternFeeder, epoch: int, batch_size: int = 5) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    for pos, raw, labels in feeder.batches(batch_size, np.random.default_rng([0, epoch])):
        out.append((pos, raw.numpy() if isinstance(raw, torch.Tensor) else raw, labels))
    return out


@pytest.mark.parametrize("memory_limit", [1 << 30, 0], ids=["from-ram", "from-blocks"])
def test_resident_batches_are_the_ram_feeders_batches(dataset, memory_limit, monkeypatch):
    monkeypatch.setattr(feed, "RESIDENT_READ_CHUNK", 7)  # several reads into the device tensor
    idx = dataset.indices("train")
    ram = PatternFeeder(dataset, idx)
    resident = PatternFeeder(dataset, idx, memory_limit=memory_limit)
    assert ram.kind == "ram" and resident.kind == ("ram" if memory_limit else "blocks")
    assert resident.place(CPU, resident=True) == "resident" == resident.kind
    assert resident.in_memory  # a full shuffle, like RAM, also for a split that was held in blocks
    for epoch in range(2):
        for (p1, r1, l1), (p2, r2, l2) in zip(batches(ram, epoch), batches(resident, epoch), strict=True):
            np.testing.assert_array_equal(p1, p2)
            assert r2.dtype == r1.dtype == np.uint8
            np.testing.assert_array_equal(r1, r2)
            np.testing.assert_array_equal(l1, l2)
    _, raw, _ = next(iter(resident.batches(5, np.random.default_rng(0))))
    assert isinstance(raw, torch.Tensor) and raw.device == CPU


def test_placement_is_resident_on_listed_devices_when_the_split_fits(dataset, monkeypatch):
    idx = dataset.indices("train")
    assert PatternFeeder(dataset, idx).place(CPU) == "ram"  # the CPU is not a resident device by default
    assert PatternFeeder(dataset, idx).place(CPU, resident=False) == "ram"
    monkeypatch.setattr(feed, "RESIDENT_DEVICES", ("cuda", "cpu"))
    assert PatternFeeder(dataset, idx).place(CPU) == "resident"
    small = PatternFeeder(dataset, idx)
    monkeypatch.setattr(feed, "RESIDENT_LIMIT_BYTES", small.nbytes - 1)
    assert small.place(CPU) == "ram"  # does not fit: stays where it was
    with pytest.raises(ValueError, match=r"need 0\.0 MB, more than the 0\.0 MB a resident split may take on cpu"):
        small.place(CPU, resident=True)
    assert small.kind == "ram"


def test_the_cuda_limit_is_a_fraction_of_the_free_device_memory(monkeypatch):
    asked = []

    def mem_get_info(device):
        asked.append(device)
        return 8_000_000_000, 80_000_000_000

    monkeypatch.setattr(torch.cuda, "mem_get_info", mem_get_info)
    cuda = torch.device("cuda", 1)
    assert resident_limit(cuda) == int(8_000_000_000 * feed.RESIDENT_FRACTION)
    assert asked == [cuda]
    assert resident_limit(CPU) == feed.RESIDENT_LIMIT_BYTES


def test_uint16_patterns_are_gathered_exactly(tmp_path):
    rng = np.random.default_rng(1)
    patterns = rng.integers(0, 65536, (20, 8, 8), dtype=np.uint16)  # values above 32767 too
    labels = (np.arange(20) % 3).astype(np.int16)
    path = write_dataset(tmp_path / "u16.h5", patterns, labels, DEFAULT_PHASES, provenance={"test": "uint16"})
    with EBSDDataset(path) as ds:
        feeder = PatternFeeder(ds, np.arange(20))
        feeder.place(CPU, resident=True)
        for pos, raw, _ in feeder.batches(6, np.random.default_rng(3)):
            assert raw.dtype == torch.uint16
            np.testing.assert_array_equal(raw.numpy(), patterns[pos])
    rows = DeviceRows.empty((3, 2, 2), np.dtype(np.uint16), CPU)
    rows.write(0, np.full((3, 2, 2), 65535, np.uint16))
    assert rows[np.array([2, 0])].to(torch.float32).max() == 65535.0


def test_each_rank_of_a_sharded_feeder_gathers_its_part_on_its_device(dataset):
    idx = dataset.indices("train")
    for rank in range(2):
        ram = ShardedFeeder(dataset, idx, rank, 2)
        resident = ShardedFeeder(dataset, idx, rank, 2)
        assert resident.place(CPU, resident=True) == "resident"
        for (p1, r1, _), (p2, r2, _) in zip(batches(ram, 0, 4), batches(resident, 0, 4), strict=True):
            np.testing.assert_array_equal(p1, p2)
            np.testing.assert_array_equal(r1, r2)


def test_a_resident_run_equals_a_ram_run_bit_for_bit(tiny_config, artifacts, monkeypatch):
    config = tiny_config(validation=True, epochs=2)
    ram = train(config, progress=False)
    monkeypatch.setattr(feed, "RESIDENT_DEVICES", ("cuda", "cpu"))
    resident = train(config, progress=False)
    assert ram.metrics()["feeder"] == "ram" and resident.metrics()["feeder"] == "resident"
    assert ram.history()["train_loss"].tolist() == resident.history()["train_loss"].tolist()
    assert ram.history()["val_accuracy"].tolist() == resident.history()["val_accuracy"].tolist()
    pd.testing.assert_frame_equal(ram.predictions(), resident.predictions())
    np.testing.assert_array_equal(ram.embeddings(), resident.embeddings())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_the_split_is_resident_by_default_and_trains_like_ram(dataset, tiny_config, artifacts, monkeypatch):
    cuda = torch.device("cuda")
    idx = dataset.indices("train")
    feeder = PatternFeeder(dataset, idx)
    assert feeder.place(cuda) == "resident"
    pos, raw, _ = next(iter(feeder.batches(5, np.random.default_rng(0))))
    assert raw.device.type == "cuda" and raw.dtype == torch.uint8
    np.testing.assert_array_equal(raw.cpu().numpy(), dataset.read(idx[pos]))
    config = tiny_config(validation=True, epochs=2, device="cuda")
    resident = train(config, progress=False)
    monkeypatch.setattr(feed, "RESIDENT_DEVICES", ())
    ram = train(config, progress=False)
    assert resident.metrics()["feeder"] == "resident" and ram.metrics()["feeder"] == "ram"
    # the same batches; cuDNN's autotuned kernels may differ between runs, so close, not equal
    np.testing.assert_allclose(resident.history()["train_loss"], ram.history()["train_loss"], rtol=0.05)
