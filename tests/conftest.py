"""Fixtures shared by several test folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Load the numba gufuncs in the order ``tests/warm_numba.py`` (run by ``make test`` first) wrote
    their cache, before any test compiles others: a process that loads a cached gufunc after
    compiling different ones can pair mismatched cache entries and crash (numba issue #10128; seen
    here as a segmentation fault in orix after PyEBSDIndex's kernels)."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if getattr(config.option, "numprocesses", None) and not workers:
        return  # the xdist controller: it runs no test
    from tests import warm_numba

    warm_numba.main()
    if workers:  # an xdist worker: its share of the cores, so two workers don't spin against each other
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(workers)))


#: The session fixtures behind the tiny ``--quick`` benchmarks (below): the tests that use them
#: share one xdist group, so one worker runs each benchmark once.
BENCH_DOCS = frozenset({"dose_doc", "robustness_doc", "scaling_doc", "speed_doc"})

#: The longest groups, longest first (seconds summed over their tests, measured 2026-12-03 with
#: ``--durations=0`` on the 2-core machine: 209, 229, 187, 164, 147, 86): xdist hands groups out in
#: collection order, so these go first and the short ones fill in at the end.
LONG_GROUPS = ("test_device_check", "dashboard", "bench", "train", "distributed", "baseline")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put each test in the xdist group (``make test`` runs ``-n auto --dist loadgroup``) of the
    session fixtures it builds on: the quick benchmarks' tests together, a test folder's tests
    together (its conftest's session fixtures are built once), a top-level test file's tests
    together (its module fixtures likewise); the longest groups first. Without xdist the marks
    change nothing and only the order differs from pytest's."""
    tests_root = Path(__file__).parent
    groups: dict[pytest.Item, str] = {}
    for item in items:
        if BENCH_DOCS.intersection(getattr(item, "fixturenames", ())):
            group = "bench"
        else:
            relative = item.path.relative_to(tests_root)
            group = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        item.add_marker(pytest.mark.xdist_group(group))
        groups[item] = group
    rank = {g: i for i, g in enumerate(LONG_GROUPS)}
    items.sort(key=lambda item: rank.get(groups[item], len(rank)))  # stable: each group keeps its order


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
