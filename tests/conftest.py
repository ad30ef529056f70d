"""Shared fixtures: seeded random data, hypothesis settings, numba thread restoration."""

from __future__ import annotations

import os
import sys
import zlib

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# tests/naive.py and tests/tolerances.py are imported as top-level modules by the test
# files, whatever pytest's import mode.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# Property tests: modest example counts (CI runs on 2 cores), no deadline (the first
# example of a new dtype may include JIT compilation), derandomised so CI is repeatable
# (and so no example database is needed).
settings.register_profile(
    "fastlstm",
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("fastlstm")


@pytest.fixture
def rng(request):
    """A generator seeded from the test's node id: reproducible, different per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def restore_numba_threads():
    """Put numba's thread count back after a test that changes it."""
    n = numba.get_num_threads()
    yield
    numba.set_num_threads(n)
