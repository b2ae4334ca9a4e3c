"""Fixtures of the benchmark tests: the tiny ``--quick`` benchmarks run once through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def run_cli(argv: list[str], artifacts: Path) -> int:
    from ebsdlib.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EBSDLIB_ARTIFACTS", str(artifacts))
        return main(argv)


@pytest.fixture(scope="session")
def bench_artifacts(tmp_path_factory) -> Path:
    """Artifacts folder of the session (master-pattern and dictionary caches, scratch)."""
    return tmp_path_factory.mktemp("bench_artifacts")


@pytest.fixture(scope="session")
def dose_doc(bench_artifacts) -> dict:
    """``bench dose --quick`` (two doses, all three methods), written to ``<artifacts>/bench``."""
    assert run_cli(["bench", "dose", "--quick", "--no-progress"], bench_artifacts) == 0
    return json.loads((bench_artifacts / "bench" / "dose.json").read_text())


@pytest.fixture(scope="session")
def speed_doc(bench_artifacts) -> dict:
    """``bench speed --quick`` into ``<artifacts>/bench``."""
    assert run_cli(["bench", "speed", "--quick", "--no-progress"], bench_artifacts) == 0
    return json.loads((bench_artifacts / "bench" / "speed.json").read_text())
