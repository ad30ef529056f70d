"""Accuracy measures, baselines and the embedded data set."""

from __future__ import annotations

import numpy as np
import pytest

from fastlstm import baselines, metrics
from fastlstm.forecast.datasets import load_airpassengers


def test_metric_values():
    y = np.array([1.0, 2.0, 4.0])
    f = np.array([2.0, 2.0, 2.0])
    assert metrics.mae(y, f) == pytest.approx(1.0)
    assert metrics.rmse(y, f) == pytest.approx(np.sqrt(5 / 3))
    assert metrics.mape(y, f) == pytest.approx(100 * (1 + 0 + 0.5) / 3)
    assert metrics.smape(y, f) == pytest.approx(100 * (2 / 3 + 0 + 4 / 6) / 3)
    assert metrics.smape([0.0], [0.0]) == 0.0
    train = np.array([1.0, 3.0, 2.0, 6.0])
    assert metrics.mase(y, f, train) == pytest.approx(1.0 / (7 / 3))
    assert metrics.mase(y, f, train, m=2) == pytest.approx(1.0 / 2.0)


def test_metrics_against_sklearn_style_definitions(rng):
    y = rng.uniform(1, 10, size=(20, 3))
    f = y + rng.normal(size=y.shape)
    assert metrics.mae(y, f) == pytest.approx(np.abs(y - f).mean())
    assert metrics.rmse(y, f) == pytest.approx(np.sqrt(((y - f) ** 2).mean()))


def test_metric_errors():
    with pytest.raises(ValueError, match="y_pred: expected the shape of y_true"):
        metrics.mae([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="zeros"):
        metrics.mape([0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="constant series"):
        metrics.mase([1.0], [2.0], [5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="more than m=12"):
        metrics.mase([1.0], [2.0], np.arange(12.0), m=12)
    with pytest.raises(ValueError, match="y_true: expected finite"):
        metrics.rmse([np.nan], [1.0])


def test_baselines():
    y = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    np.testing.assert_array_equal(baselines.naive(y, 3), [30, 30, 30])
    np.testing.assert_array_equal(baselines.seasonal_naive(y, 5, m=3), [10, 20, 30, 10, 20])
    np.testing.assert_allclose(baselines.drift(y, 2), [30 + 29 / 5, 30 + 2 * 29 / 5])
    two = np.stack([y, -y], axis=1)
    assert baselines.seasonal_naive(two, 4, m=3).shape == (4, 2)
    np.testing.assert_allclose(baselines.drift(two, 2)[:, 1], -baselines.drift(y, 2))
    with pytest.raises(ValueError, match="y: expected at least 12 points"):
        baselines.seasonal_naive(y, 2, m=12)
    with pytest.raises(ValueError, match="h: expected an int >= 1"):
        baselines.naive(y, 0)


def test_airpassengers_and_reference_scores():
    y, months = load_airpassengers(return_months=True)
    assert y.shape == (144,) and y.dtype == np.float64
    assert (y[0], y[-1], months[0], months[-1]) == (112.0, 432.0, "1949-01", "1960-12")
    train, test = y[:-24], y[-24:]
    sn = baselines.seasonal_naive(train, 24, m=12)
    # the published reference figures the forecaster is compared with
    assert metrics.mape(test, sn) == pytest.approx(15.52, abs=0.01)
    assert metrics.mase(test, sn, train, m=12) == pytest.approx(2.49, abs=0.01)


def test_interval_measures():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    lo, hi = np.array([0.0, 2.5, 2.0, 4.0]), np.array([2.0, 3.0, 3.5, 5.0])
    assert metrics.coverage(y, lo, hi) == 0.75  # 2.0 < 2.5 is outside; bounds count as inside
    train = np.array([1.0, 3.0, 2.0, 6.0])
    width = np.mean(hi - lo)
    penalty = 2 / 0.05 * 0.5 / 4  # the one miss, 0.5 below its lower bound
    assert metrics.msis(y, lo, hi, train) == pytest.approx((width + penalty) / (7 / 3))
    with pytest.raises(ValueError, match="alpha: expected a value in \\(0, 1\\), got 95"):
        metrics.msis(y, lo, hi, train, alpha=95)
    with pytest.raises(ValueError, match="upper|y_pred"):
        metrics.coverage(y, lo, hi[:2])


TRAIN = np.array([1.0, 3.0, 2.0, 6.0])  # lag-1 changes 2, 1, 4 (scale 7/3); lag-2 changes 1, 3 (scale 2)


def test_mase_scale_strict_and_fallback():
    assert metrics.mase_scale(TRAIN) == pytest.approx(7 / 3)
    assert metrics.mase_scale(TRAIN, m=2) == pytest.approx(2.0)
    two = np.stack([TRAIN, [0.0, 0.0, 0.0, 4.0]], axis=1)  # time on axis 0, mean over both columns
    assert metrics.mase_scale(two) == pytest.approx((7 + 4) / 6)
    # not longer than m: strict raises, the fallback uses lag 1
    with pytest.raises(ValueError, match="y_train: expected more than m=4 points, got 4"):
        metrics.mase_scale(TRAIN, m=4)
    assert metrics.mase_scale(TRAIN, m=4, fallback=True) == pytest.approx(7 / 3)
    # zero at lag m (a series repeating every m points): the fallback takes lag 1
    periodic = np.array([1.0, 3.0, 1.0, 3.0, 1.0, 3.0])
    with pytest.raises(ValueError, match="y_train: the in-sample naive error at lag m=2 is 0"):
        metrics.mase_scale(periodic, m=2)
    assert metrics.mase_scale(periodic, m=2, fallback=True) == 2.0
    # constant, or a single point: strict raises, the fallback is 1.0
    with pytest.raises(ValueError, match="y_train: .*constant series"):
        metrics.mase_scale([5.0, 5.0, 5.0])
    assert metrics.mase_scale([5.0, 5.0, 5.0], m=12, fallback=True) == 1.0
    with pytest.raises(ValueError, match="y_train: expected more than m=1 points, got 1"):
        metrics.mase_scale([4.0])
    assert metrics.mase_scale([4.0], fallback=True) == 1.0
    with pytest.raises(ValueError, match="m: expected an int >= 1"):
        metrics.mase_scale(TRAIN, m=0)
    with pytest.raises(ValueError, match="y_train: expected finite"):
        metrics.mase_scale([1.0, np.nan, 2.0], fallback=True)


def test_mase_and_msis_divide_by_the_one_scale():
    y, f = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0])
    lo, hi = f - 1.0, f + 1.0
    for train, m, fallback in ((TRAIN, 2, False), (TRAIN, 4, True), ([5.0, 5.0, 5.0], 1, True)):
        scale = metrics.mase_scale(train, m, fallback)
        assert metrics.mase(y, f, train, m, fallback=fallback) == pytest.approx(1.0 / scale)
        # width 2; the 4 is 1.0 above its upper bound: 2/alpha * 1.0 / 3 points
        msis = metrics.msis(y, lo, hi, train, m, fallback=fallback)
        assert msis == pytest.approx((2.0 + 40.0 / 3) / scale)
    with pytest.raises(ValueError, match="MSIS is undefined"):
        metrics.msis(y, lo, hi, [5.0, 5.0, 5.0])


def test_score_gives_every_measure_of_the_single_functions():
    y, f = np.array([1.0, 2.0, 4.0, 3.0]), np.array([2.0, 2.0, 2.0, 2.5])
    lo, hi = np.array([0.0, 2.5, 2.0, 4.0]), np.array([2.0, 3.0, 3.5, 5.0])
    intervals = np.stack([np.stack([f - 0.1, f + 0.1], -1), np.stack([lo, hi], -1)], axis=1)  # (4, 2, 2)
    s = metrics.score(y, f, TRAIN, m=2, intervals=intervals, levels=(0.8, 0.95))
    assert list(s) == ["mae", "rmse", "mape", "smape", "mase", "cov80", "cov95", "msis"]
    assert s["mae"] == metrics.mae(y, f) and s["rmse"] == metrics.rmse(y, f)
    assert s["mape"] == metrics.mape(y, f) and s["smape"] == metrics.smape(y, f)
    assert s["mase"] == metrics.mase(y, f, TRAIN, m=2)
    assert s["cov80"] == 0.25  # only the 2.0 is within 0.1 of its forecast
    assert s["cov95"] == metrics.coverage(y, lo, hi) == 0.25  # only the 1.0 is inside
    penalty = 40.0 * (0.5 + 0.5 + 1.0) / 4  # the misses: 0.5 below, 0.5 above, 1.0 below
    assert s["msis"] == pytest.approx((np.mean(hi - lo) + penalty) / 2.0)
    assert s["msis"] == metrics.msis(y, lo, hi, TRAIN, m=2)
    assert list(metrics.score(y, f, TRAIN)) == ["mae", "rmse", "mape", "smape", "mase"]
    assert "msis" not in metrics.score(y, f, TRAIN, intervals=intervals[:, :1], levels=(0.8,))
    assert metrics.coverage_key(0.8) == "cov80" and metrics.coverage_key(0.975) == "cov97.5"


def test_score_reports_nan_where_a_measure_is_undefined():
    y, f = np.array([0.0, 2.0]), np.array([1.0, 2.0])
    iv = np.stack([f - 1.0, f + 1.0], -1)[:, None, :]
    s = metrics.score(y, f, [5.0, 5.0, 5.0], intervals=iv, levels=(0.95,))
    assert np.isnan(s["mape"]) and np.isnan(s["mase"]) and np.isnan(s["msis"])
    assert s["mae"] == 0.5 and s["cov95"] == 1.0
    assert np.isnan(metrics.score(y, f, [], m=1)["mase"])  # an empty history: no scale
    fb = metrics.score(y, f, [5.0, 5.0, 5.0], intervals=iv, levels=(0.95,), fallback=True)
    assert fb["mase"] == metrics.mase(y, f, [5.0, 5.0, 5.0], fallback=True) == 0.5
    assert fb["msis"] == metrics.msis(y, iv[:, 0, 0], iv[:, 0, 1], [5.0, 5.0, 5.0], fallback=True)
    with pytest.raises(ValueError, match=r"intervals: expected shape \(2, 2, 2\)"):
        metrics.score(y, f, TRAIN, intervals=iv)
    with pytest.raises(ValueError, match="y_pred: expected the shape of y_true"):
        metrics.score(y, f[:1], TRAIN)


def test_back_test_windows_are_scored_by_score():
    from fastlstm.forecast.backtest import score_backtest

    y = np.array([3.0, 3.0, 3.0, 1.0, 2.0, 0.0, 4.0, 6.0, 5.0])
    origins = np.array([0, 2, 3, 6])
    forecasts = np.ones((4, 3))
    bt = score_backtest(y, origins, forecasts, m=2)
    for i, o in enumerate(origins):
        s = metrics.score(y[o : o + 3], forecasts[i], y[:o], m=2)
        for k in ("mae", "rmse", "mape", "smape", "mase"):
            np.testing.assert_equal(bt.metrics[k][i], s[k])
    # no scale before origins 0 and 2 (not longer than m) nor 3 (constant); a zero actual: no MAPE
    assert np.isnan(bt.metrics["mase"][:3]).all() and np.isfinite(bt.metrics["mase"][3])
    assert np.isnan(bt.metrics["mape"][2]) and np.isfinite(bt.metrics["mape"][[0, 1, 3]]).all()
