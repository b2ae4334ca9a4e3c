"""Tiny simulation settings for fast tests: small master patterns cached once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ebsdlib.phases import DEFAULT_PHASES
from ebsdlib.simulate import ScanConfig, SimulationConfig

#: Small but physically meaningful: 32-pixel patterns from 121-pixel master patterns.
TINY = dict(pattern_size=32, master_half_size=60, block_size=16)


@pytest.fixture(scope="session")
def master_cache(tmp_path_factory) -> Path:
    """One master-pattern cache folder for the whole test session."""
    return tmp_path_factory.mktemp("master-cache")


@pytest.fixture
def tiny_config(master_cache) -> SimulationConfig:
    return SimulationConfig(n_per_phase=12, patterns_per_grain=3, cache_dir=str(master_cache), **TINY)


@pytest.fixture
def tiny_scan_config(master_cache) -> ScanConfig:
    return ScanConfig(shape=(12, 10), n_grains=5, cache_dir=str(master_cache), **TINY)


@pytest.fixture(scope="session")
def masters_64(master_cache):
    """Master patterns of the three phases at a resolution fit for 64-pixel patterns."""
    from ebsdlib.simulate.master import load_masters

    masters, _ = load_masters(DEFAULT_PHASES, cache_dir=master_cache)  # the shipped dynamical masters
    return masters


@pytest.fixture(scope="session")
def orientations_20():
    from ebsdlib.simulate.orientations import random_quaternions

    return random_quaternions(20, np.random.default_rng(7))
