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
