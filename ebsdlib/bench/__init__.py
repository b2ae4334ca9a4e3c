"""Benchmarks: accuracy against dose per method, and throughput of the pipeline.

- :mod:`.dose` — :func:`run_dose_bench`: simulated data sets over a range of doses; cross-entropy,
  SupCon and dictionary indexing trained/evaluated at each; ``artifacts/bench/dose.json`` (+ ``.csv``);
- :mod:`.speed` — :func:`run_speed_bench`: model alone, end-to-end pipeline, a naive script and
  dictionary indexing on the current device; ``artifacts/bench/speed.json``;
- :mod:`.measure` — timing and peak-memory measurement;
- :mod:`.naive` — the naive baseline (one PNG per pattern, read with PIL);
- :mod:`.report` — environment record, JSON/CSV output and terminal tables.

Timings on a shared machine are noisy: the speed benchmark interleaves its stages and reports
ratios measured in the same run.
"""

from ebsdlib.bench.dose import DoseBenchConfig
from ebsdlib.bench.speed import SpeedBenchConfig

__all__ = ["DoseBenchConfig", "SpeedBenchConfig"]
