"""Mapping a scan reads its patterns batch by batch, each once: memory does not grow with the patterns.

The measured numbers for a 1,000 × 1,000 scan are in the README ("Several GPUs or nodes");
here a small scan checks the mechanism: every read of ``/patterns`` during ``predict_scan``
is at most one batch, and the patterns are read exactly once.
"""

from __future__ import annotations

import numpy as np
import pytest

from ebsdlib.data.format import EBSDDataset, write_dataset
from ebsdlib.data.preprocess import PreprocessConfig
from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.predict import predict_scan
from ebsdlib.runs import RunDir
from ebsdlib.train.config import TrainConfig


class CountingPatterns:
    """An h5py ``/patterns`` dataset that records how many patterns each read returns."""

    def __init__(self, dataset, reads: list[int]):
        self._dataset, self._reads = dataset, reads

    def __getitem__(self, key):
        out = self._dataset[key]
        self._reads.append(len(out) if np.ndim(out) == 3 else 1)
        return out

    def __getattr__(self, name):
        return getattr(self._dataset, name)


@pytest.fixture
def untrained_run(tmp_path) -> RunDir:
    """A run folder whose best checkpoint holds a freshly initialised ``test_efficientnet``."""
    import torch

    from ebsdlib.train.checkpoint import save_checkpoint
    from ebsdlib.train.models import build_model

    config = TrainConfig(
        data="unused.h5", model="test_efficientnet", device="cpu", preprocess=PreprocessConfig(size=16)
    )
    torch.manual_seed(0)
    model = build_model(config, len(DEFAULT_PHASES))
    run = RunDir(tmp_path / "runs" / "r")
    run.path.mkdir(parents=True)
    save_checkpoint(
        run.best_checkpoint,
        {
            "model": model.state_dict(),
            "config": config.to_dict(),
            "phases": [p.to_dict() for p in DEFAULT_PHASES],
            "epoch": 0,
        },
    )
    return run


def test_predict_reads_every_pattern_once_and_never_more_than_a_batch(untrained_run, tmp_path, monkeypatch):
    rows, cols, batch = 9, 11, 16
    n = rows * cols
    rng = np.random.default_rng(0)
    scan = write_dataset(
        tmp_path / "scan.h5",
        rng.integers(0, 255, (n, 16, 16), dtype=np.uint8),
        (np.arange(n) % 3).astype(np.int16),
        DEFAULT_PHASES,
        provenance={"test": "noise"},
        scan_shape=(rows, cols),
    )
    reads: list[int] = []
    original = EBSDDataset.patterns
    monkeypatch.setattr(EBSDDataset, "patterns", property(lambda self: CountingPatterns(original.fget(self), reads)))
    folder = predict_scan(untrained_run, scan, batch_size=batch, device="cpu", progress=False, orientations="none")
    assert (folder / "phasemap.npz").exists()
    assert sum(reads) == n  # each pattern once
    assert max(reads) <= batch  # never more than one batch at a time
    assert len(reads) == -(-n // batch)
