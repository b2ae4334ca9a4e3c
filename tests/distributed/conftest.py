"""Fixtures of the distributed tests: tiny data, a tiny scan, and torchrun with two CPU processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ebsdlib.data.format import write_dataset
from ebsdlib.phases import DEFAULT_PHASES

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("worker.py")
SIZE = 24


def stripes(labels: np.ndarray, seed: int) -> np.ndarray:
    """Learnable uint8 patterns: stripes whose direction is the class (rows, columns, diagonal)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    waves = [np.sin(yy / 2.0), np.sin(xx / 2.0), np.sin((xx + yy) / 2.0)]
    bg = 60 + 40 * np.exp(-((yy - SIZE / 2) ** 2 + (xx - SIZE / 2) ** 2) / SIZE**2)
    out = np.empty((len(labels), SIZE, SIZE), dtype=np.uint8)
    for i, lab in enumerate(labels):
        out[i] = np.clip(bg + 40 * waves[lab] + rng.normal(0, 8, (SIZE, SIZE)), 0, 255)
    return out


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """48 patterns, 3 phases, splits 24 train / 12 val / 12 test."""
    n = 48
    labels = (np.arange(n) % 3).astype(np.int16)
    split = np.zeros(n, dtype=np.int8)
    split[np.arange(n) % 4 == 1] = 1
    split[np.arange(n) % 4 == 3] = 2
    return write_dataset(
        tmp_path_factory.mktemp("data") / "tiny.h5",
        stripes(labels, 0),
        labels,
        DEFAULT_PHASES,
        provenance={"test": "stripes"},
        split=split,
        split_rule="every 4th pattern",
        seed=0,
    )


@pytest.fixture(scope="session")
def tiny_scan(tmp_path_factory) -> Path:
    """A 7 × 5 scan (35 patterns: the two ranks get 17 and 18) with true phases, stored row by row."""
    rows, cols = 7, 5
    labels = ((np.arange(rows * cols) // 3) % 3).astype(np.int16)
    flat = np.arange(rows * cols)
    return write_dataset(
        tmp_path_factory.mktemp("scan") / "scan.h5",
        stripes(labels, 1),
        labels,
        DEFAULT_PHASES,
        provenance={"test": "stripe scan"},
        scan_row=(flat // cols).astype(np.int32),
        scan_col=(flat % cols).astype(np.int32),
        scan_shape=(rows, cols),
        step_size=0.5,
    )


@pytest.fixture(scope="session")
def train_flags():
    """``train_flags(data, **overrides)``: the ``train`` flags of a tiny, fast CPU run."""
    return _train_flags


def _train_flags(data: Path, **overrides) -> list[str]:
    flags = {
        "data": str(data),
        "model": "test_efficientnet",
        "epochs": "2",
        "batch-size": "4",
        "lr": "3e-3",
        "warmup-epochs": "1",
        "device": "cpu",
        "image-size": str(SIZE),
        "eval-batch-size": "16",
        "probe-epochs": "5",
        "knn-k": "3",
    }
    flags.update({k.replace("_", "-"): str(v) for k, v in overrides.items()})
    return [a for k, v in flags.items() for a in (f"--{k}", v)] + ["--no-umap", "--quiet"]


@dataclass
class Launch:
    """The outcome of one torchrun launch."""

    returncode: int
    output: str
    seconds: float
    audit: dict[int, dict]  # rank → {"inside": operations under the artifacts folder, "outside": count}


@pytest.fixture(scope="session")
def torchrun(tmp_path_factory):
    """Run ``torchrun --standalone --nproc_per_node=N [-m ebsdlib | worker.py] ARGS``.

    ``torchrun(args, artifacts, module=False, nproc=2)`` starts ``worker.py`` (which audits the
    ranks other than 0), or ``python -m ebsdlib`` with ``module=True``; one thread per process
    and a 60 s collective timeout (``collective_timeout``), so a hang fails the test instead of
    stalling it; the launch fails after ``timeout`` seconds.
    """

    def launch(
        args: list[str],
        artifacts: Path,
        module: bool = False,
        timeout: float = 120,
        nproc: int = 2,
        collective_timeout: float = 60,
    ) -> Launch:
        audit = tmp_path_factory.mktemp("audit")
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "EBSDLIB_ARTIFACTS": str(artifacts),
            "AUDIT_DIR": str(audit),
            "EBSDLIB_DIST_TIMEOUT": str(collective_timeout),
        }
        for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
            env.pop(key, None)
        target = ["-m", "ebsdlib"] if module else [str(WORKER)]
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            *target,
            *args,
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        seconds = time.perf_counter() - t0
        records = {int(p.stem[4:]): json.loads(p.read_text()) for p in audit.glob("rank*.json")}
        return Launch(proc.returncode, proc.stdout + proc.stderr, seconds, records)

    return launch


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """In-process runs: one torch thread, like the launched processes (tests/conftest.py)."""
