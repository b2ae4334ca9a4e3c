"""Fixtures shared by several test folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Load the numba gufuncs in the order ``tests/warm_numba.py`` (run by ``make test`` first) wrote
    their cache, before any test compiles others: a process that loads a cached gufunc after
    compiling different ones can pair mismatched cache entries and crash (numba issue #10128; seen
    here as a segmentation fault in orix after PyEBSDIndex's kernels)."""
    from tests import warm_numba

    warm_numba.main()


@pytest.fixture
def one_torch_thread():
    """Run the test with one torch thread, restoring the count afterwards.

    Tiny models on a shared machine: one thread avoids OpenMP spinning against other
    processes, and matches the launched processes (one thread each).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- the tiny ``--quick`` benchmarks, run once per session through the CLI ------------------------
# (tests/bench checks them, the Benchmarks page test shows them)


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
def robustness_doc(bench_artifacts) -> dict:
    """``bench robustness --quick`` for two training domains into ``<artifacts>/bench``."""
    argv = ["bench", "robustness", "--quick", "--no-progress", "--trainings", "kinematical", "randomised"]
    assert run_cli(argv, bench_artifacts) == 0
    return json.loads((bench_artifacts / "bench" / "robustness.json").read_text())


@pytest.fixture(scope="session")
def scaling_doc(bench_artifacts) -> dict:
    """``bench scaling --quick`` (one test model, two budgets) into ``<artifacts>/bench``."""
    assert run_cli(["bench", "scaling", "--quick", "--no-progress"], bench_artifacts) == 0
    return json.loads((bench_artifacts / "bench" / "scaling.json").read_text())


@pytest.fixture(scope="session")
def speed_doc(bench_artifacts) -> dict:
    """``bench speed --quick`` into ``<artifacts>/bench``."""
    assert run_cli(["bench", "speed", "--quick", "--no-progress"], bench_artifacts) == 0
    return json.loads((bench_artifacts / "bench" / "speed.json").read_text())
