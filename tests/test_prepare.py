"""Direct tests of fastlstm.forecast.prepare: sizes, transform and seasonal indices, by hand."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastlstm.forecast import prepare

MONTHLY = {"kind": "datetime", "freq": "MS", "last": "2020-12-01 00:00:00"}
STEPS = {"kind": "int", "freq": "1", "last": "99"}

#: the additive season of the seasonal series below (sum 0), and its length
PATTERN = np.array([1.0, -1.0, 2.0, -2.0])
M = len(PATTERN)


def seasonal_series(n: int) -> np.ndarray:
    """``PATTERN`` repeated on a linear trend: a 2 x 4 moving average removes the trend exactly."""
    t = np.arange(n)
    return 10.0 + 0.5 * t + PATTERN[t % M]


# ------------------------------------------------------------------ choose_sizes
def test_choose_sizes_keeps_what_is_given():
    # the input size as given; the horizon as given; the season as given
    assert prepare.choose_sizes(12, 5, 7, True, None, [100], 0) == (12, 5, 7)


def test_choose_sizes_season_from_the_dates():
    # monthly dates: m = 12, M4's horizon 18, input max(18, 2 * 12) = 24 (room enough)
    assert prepare.choose_sizes("auto", None, None, True, MONTHLY, [200], 0) == (12, 18, 24)
    # a panel's first series decides; integer steps have no season: m = 1, horizon 6, input 6
    assert prepare.choose_sizes("auto", None, None, True, [STEPS, MONTHLY], [200, 200], 0) == (1, 6, 6)
    # no dates at all: m = 1
    assert prepare.choose_sizes("auto", None, None, True, None, [200], 0) == (1, 6, 6)


def test_choose_sizes_without_season_reads_at_least_four_steps():
    assert prepare.choose_sizes(1, 2, None, False, None, [100], 0) == (1, 2, 4)


def test_choose_sizes_shortens_the_input_for_short_series():
    # m = 12, h = 6, one step out: lookback 24; the shortest series (40 - val 10 = 30) keeps
    # 8 windows in the back-test only with 30 - 6 - 1 + 1 - 8 = 16 < 24 points, so the fit
    # alone decides: 30 - 1 + 1 - 8 = 22
    assert prepare.choose_sizes(12, 6, None, False, None, [100, 40], 10) == (12, 6, 22)
    # the back-test's room when it is enough: 60 - 6 - 1 + 1 - 8 = 46 >= 24
    assert prepare.choose_sizes(12, 6, None, False, None, [60], 0) == (12, 6, 24)
    # never below 2
    assert prepare.choose_sizes(12, 6, None, True, None, [10], 0) == (12, 6, 2)


# ------------------------------------------------------------------ use_log, transforms
def test_use_log():
    pos, zero = np.array([1.0, 2.0]), np.array([1.0, 0.0])
    assert prepare.use_log("log", [pos]).tolist() == [True]
    assert prepare.use_log("auto", [pos, pos]).tolist() == [True, True]
    # per series: one series with a value <= 0 keeps the others on the log scale
    assert prepare.use_log("auto", [pos, zero, pos]).tolist() == [True, False, True]
    assert prepare.use_log(None, [pos]).tolist() == [False]
    with pytest.raises(ValueError, match=r"y: transform='log' expected positive values, series 1"):
        prepare.use_log("log", [pos, zero])


def test_forward_and_inverse_transform():
    s = np.array([1.0, np.e, np.e**2])
    assert_allclose(prepare.forward_transform(s, True), [0.0, 1.0, 2.0])
    assert prepare.forward_transform(s, False) is s
    assert_allclose(prepare.inverse_transform(np.array([0.0, 1.0]), True), [1.0, np.e])
    z = np.array([-1.0, 3.0])
    assert prepare.inverse_transform(z, False) is z
    assert_allclose(prepare.inverse_transform(prepare.forward_transform(s, True), True), s)
    with pytest.raises(ValueError, match=r"y: expected positive values"):
        prepare.forward_transform(np.array([1.0, -1.0]), True)


def test_seasonal_at():
    ind = np.array([1.0, 2.0, 3.0])
    assert_array_equal(prepare.seasonal_at(ind, np.arange(7)), [1, 2, 3, 1, 2, 3, 1])
    assert prepare.seasonal_at(ind, 5) == 3.0
    assert_array_equal(prepare.seasonal_at(None, np.arange(4)), np.zeros(4))
    assert prepare.seasonal_at(None, 3).shape == ()


def test_to_z():
    s = np.exp([1.0, 2.0, 3.0, 4.0])
    assert_allclose(prepare.to_z(s, True, np.array([0.5, -0.5])), [0.5, 2.5, 2.5, 4.5])
    assert_allclose(prepare.to_z(s, False, None), s)


# ------------------------------------------------------------------ seasonal_indices
def test_seasonal_indices_recover_the_season():
    out = prepare.seasonal_indices([seasonal_series(24)], 0, M, True, [False])
    assert len(out) == 1
    assert_allclose(out[0], PATTERN, atol=1e-12)
    # on the log scale: the season of the logs
    out = prepare.seasonal_indices([np.exp(0.1 * seasonal_series(24))], 0, M, True, [True])
    assert_allclose(out[0], 0.1 * PATTERN, atol=1e-12)


def test_seasonal_indices_ignore_the_validation_points():
    wild = np.r_[seasonal_series(24), 1e6 * np.arange(1.0, 9.0)]
    assert_allclose(prepare.seasonal_indices([wild], 8, M, True, [False])[0], PATTERN, atol=1e-9)


def test_seasonal_indices_when_none():
    s = seasonal_series(40)
    assert prepare.seasonal_indices([s], 0, 1, True, [False]) == [None]  # no season
    assert prepare.seasonal_indices([s], 0, M, False, [False]) == [None]  # not asked
    assert prepare.seasonal_indices([s[:7]], 0, M, True, [False]) == [None]  # < 2 seasons
    assert prepare.seasonal_indices([s[:8]], 0, M, True, [False])[0] is not None
    # "auto": only where the seasonality test finds a season (it needs 3 seasons)
    assert prepare.seasonal_indices([s[:10]], 0, M, "auto", [False]) == [None]
    noise = np.random.default_rng(0).standard_normal(40)
    found = prepare.seasonal_indices([s, noise], 0, M, "auto", [False, False])
    assert_allclose(found[0], PATTERN, atol=1e-9)
    assert found[1] is None


# ------------------------------------------------------------------ training_sizes
@pytest.mark.parametrize(
    ("n_windows", "expected"),
    [
        (100, (129, 16)),  # 16 per batch, ceil(100 / 16) = 7 steps: round(900 / 7) = 129 epochs
        (10, (150, 16)),  # one step per epoch: at most 150 epochs
        (3000, (15, 50)),  # 3000 // 60 = 50 per batch, 60 steps: 15 epochs
        (60000, (4, 256)),  # at most 256 per batch; 235 steps: round(900 / 235) = 4 epochs
        (600000, (1, 256)),  # a large panel: one pass over its windows (2344 steps)
    ],
)
def test_training_sizes_defaults(n_windows, expected):
    assert prepare.training_sizes(n_windows, None, None) == expected


def test_training_sizes_keep_what_is_given():
    assert prepare.training_sizes(1000, 32, 7) == (7, 32)
    # the epochs follow the given batch size: ceil(100 / 50) = 2 steps, 450 epochs -> 150
    assert prepare.training_sizes(100, 50, None) == (150, 50)
    assert prepare.training_sizes(1000, None, 3) == (3, 16)
