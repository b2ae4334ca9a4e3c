"""Fixtures shared by several test folders."""

from __future__ import annotations

import pytest


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
