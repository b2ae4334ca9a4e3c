"""Timing and peak memory of one benchmark stage.

Time is taken twice: wall-clock (what a user waits) and the CPU time of this process, all
threads together (:func:`time.process_time`). On a machine shared with other work the wall
clock of a CPU-bound stage stretches with the load, while its CPU time does not; ratios of
CPU-time throughputs are the steadier comparison there (on a GPU the wall clock is the one
that counts).

Peak memory is measured three ways, as available:

``peak_rss_mb``
    the process's resident set size, sampled every 5 ms by a background thread while the
    stage runs (``/proc/self/statm``; elsewhere the lifetime maximum of ``resource``);
``python_peak_mb``
    the peak of memory allocated through Python's allocators (numpy arrays included) during
    the stage, from :mod:`tracemalloc` — only when asked, since tracing slows allocation;
``cuda_peak_mb``
    ``torch.cuda.max_memory_allocated`` during the stage, on CUDA.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

MB = 1024 * 1024


def current_rss() -> int | None:
    """Resident set size of this process in bytes (``None`` where it cannot be read)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def lifetime_max_rss() -> int | None:
    """Largest RSS the process ever had, in bytes (``resource.getrusage``)."""
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
    except (ImportError, OSError):
        return None


class RssSampler:
    """Context manager that records the highest RSS seen while its block runs."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss = current_rss()
            if rss is not None:
                self.peak = rss if self.peak is None else max(self.peak, rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        if current_rss() is None:
            return self
        self._thread = threading.Thread(target=self._sample, name="ebsdlib-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is None:
            self.peak = lifetime_max_rss()
            return
        self._stop.set()
        self._thread.join()
        rss = current_rss()
        if rss is not None:
            self.peak = max(self.peak or 0, rss)


@dataclass
class Measurement:
    """Wall time and peak memory of one call of a stage."""

    seconds: float
    patterns: int
    cpu_seconds: float | None = None
    peak_rss_mb: float | None = None
    python_peak_mb: float | None = None
    cuda_peak_mb: float | None = None

    @property
    def patterns_per_second(self) -> float:
        return self.patterns / self.seconds if self.seconds > 0 else float("nan")

    @property
    def patterns_per_cpu_second(self) -> float:
        """Patterns per second of this process's CPU time."""
        return self.patterns / self.cpu_seconds if self.cpu_seconds else float("nan")


def synchronize(device) -> None:
    """Wait for queued CUDA work (a no-op on the CPU)."""
    import torch

    if getattr(device, "type", str(device)).startswith("cuda"):
        torch.cuda.synchronize(device)


def measure(stage: Callable[[], int], device, *, trace_python: bool = False) -> Measurement:
    """Run ``stage()`` (which returns the number of patterns it processed) and measure it.

    Parameters
    ----------
    stage
        The work to time.
    device
        The torch device it runs on (CUDA work is synchronised before the clock stops).
    trace_python
        Also record the Python-allocator peak with :mod:`tracemalloc`.
    """
    import torch

    cuda = getattr(device, "type", str(device)).startswith("cuda")
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    if trace_python:
        tracemalloc.start()
    try:
        with RssSampler() as rss:
            t0, c0 = time.perf_counter(), time.process_time()
            patterns = int(stage())
            synchronize(device)
            seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        python_peak = tracemalloc.get_traced_memory()[1] / MB if trace_python else None
    finally:
        if trace_python:
            tracemalloc.stop()
    return Measurement(
        seconds=seconds,
        patterns=patterns,
        cpu_seconds=cpu_seconds,
        peak_rss_mb=rss.peak / MB if rss.peak is not None else None,
        python_peak_mb=python_peak,
        cuda_peak_mb=torch.cuda.max_memory_allocated(device) / MB if cuda else None,
    )
