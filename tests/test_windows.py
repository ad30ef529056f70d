"""Sliding windows (views, covariates, pandas) and the scalers."""

from __future__ import annotations

import numpy as np
import pytest

from fastlstm.forecast.scalers import (
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
    get_scaler,
    scaler_from_config,
)
from fastlstm.forecast.windows import as_series, make_windows, sliding_windows


def test_windows_values_and_shapes():
    y = np.arange(10.0)
    w = make_windows(y, lookback=4, horizon=2)
    assert w.past.shape == (5, 4, 1) and w.future.shape == (5, 2, 1) and len(w) == 5
    np.testing.assert_array_equal(w.past[2, :, 0], [2, 3, 4, 5])
    np.testing.assert_array_equal(w.future[2, :, 0], [6, 7])
    np.testing.assert_array_equal(w.origins, [4, 5, 6, 7, 8])
    for i, o in enumerate(w.origins):  # origins index the first target step
        assert w.future[i, 0, 0] == y[o]


def test_windows_are_views_not_copies():
    y = np.arange(200.0).reshape(100, 2)
    w = make_windows(y, 10, 5, past_covariates=y, future_covariates=y)
    for arr in (w.past, w.future, w.past_covariates, w.future_covariates):
        assert np.shares_memory(arr, y)
        assert arr.base is not None and not arr.flags.writeable
    assert w.past.shape == (86, 10, 2) and w.future_covariates.shape == (86, 15, 2)
    v = sliding_windows(np.arange(20.0), 5, stride=3)
    assert np.shares_memory(v, v.base) and v.shape == (6, 5)
    np.testing.assert_array_equal(v[1], [3, 4, 5, 6, 7])


def test_stride_and_2d_series():
    y = np.stack([np.arange(30.0), -np.arange(30.0)], axis=1)
    w = make_windows(y, 6, 3, stride=4)
    assert w.past.shape == (6, 6, 2)
    np.testing.assert_array_equal(w.origins, [6, 10, 14, 18, 22, 26])
    np.testing.assert_array_equal(w.future[-1, :, 1], [-26, -27, -28])


def test_covariates_and_inputs():
    y = np.arange(12.0)
    past = 100 + np.arange(12.0)
    fut = 1000 + np.arange(14.0)  # extends horizon=2 past the end of y
    w = make_windows(y, 4, 2, past_covariates=past, future_covariates=fut, targets=False)
    assert w.future is None and len(w) == 9
    x = w.inputs(np.float64)
    assert x.shape == (9, 6, 3) and w.n_features == 3
    np.testing.assert_array_equal(x[-1, :, 0], [8, 9, 10, 11, 0, 0])
    np.testing.assert_array_equal(x[-1, :, 1], [108, 109, 110, 111, 0, 0])
    np.testing.assert_array_equal(x[-1, :, 2], [1008, 1009, 1010, 1011, 1012, 1013])
    x32 = make_windows(y, 4, 2).inputs()
    assert x32.dtype == np.float32 and x32.flags.c_contiguous and x32.shape == (7, 4, 1)


def test_pandas_inputs():
    pd = pytest.importorskip("pandas")
    idx = pd.date_range("2000-01", periods=20, freq="MS")
    s = pd.Series(np.arange(20), index=idx)
    df = pd.DataFrame({"a": np.arange(20.0), "b": np.ones(20)}, index=idx)
    w = make_windows(s, 5, 2, past_covariates=df)
    assert w.past.shape == (14, 5, 1) and w.past_covariates.shape == (14, 5, 2)
    assert as_series(df, "df").shape == (20, 2)


def test_window_errors():
    with pytest.raises(ValueError, match="y: expected at least lookback \\+ horizon = 8 points, got 5"):
        make_windows(np.arange(5.0), 6, 2)
    with pytest.raises(ValueError, match="past_covariates: expected 10 rows"):
        make_windows(np.arange(10.0), 3, 2, past_covariates=np.zeros(9))
    with pytest.raises(ValueError, match="future_covariates: expected 12 rows"):
        make_windows(np.arange(10.0), 3, 2, future_covariates=np.zeros(10), targets=False)
    with pytest.raises(ValueError, match="y: expected finite values"):
        make_windows(np.array([1.0, np.nan, 2, 3, 4]), 2, 1)
    with pytest.raises(ValueError, match="y: expected 1 or 2 dimensions"):
        make_windows(np.zeros((3, 3, 3)), 1, 1)
    with pytest.raises(TypeError, match="lookback: expected an int"):
        make_windows(np.arange(10.0), 2.5, 1)
    with pytest.raises(ValueError, match="window"):
        sliding_windows(np.arange(3.0), 4)


# --------------------------------------------------------------------- scalers
@pytest.mark.parametrize("scaler", [StandardScaler(), MinMaxScaler(), MinMaxScaler((-1, 1)), RobustScaler()])
def test_scalers_round_trip_and_fit_on_training_part_only(rng, scaler):
    y = np.cumsum(rng.normal(size=(120, 2)), axis=0)
    train, test = y[:100], y[100:]
    scaler.fit(train)
    z = scaler.transform(train)
    np.testing.assert_allclose(scaler.inverse_transform(z), train, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(test)), test, rtol=1e-12, atol=1e-12)
    before = scaler.get_state()
    y2 = y.copy()
    y2[100:] *= 1000  # the test part must not matter
    scaler.fit(y2[:100])
    for k, v in before.items():
        np.testing.assert_array_equal(scaler.get_state()[k], v)
    fresh = scaler_from_config(scaler.get_config()).set_state(scaler.get_state())
    np.testing.assert_array_equal(fresh.transform(test), scaler.transform(test))


def test_scaler_statistics(rng):
    y = rng.normal(5, 3, size=500)
    z = StandardScaler().fit_transform(y)
    assert abs(z.mean()) < 1e-12 and abs(z.std() - 1) < 1e-12
    z = MinMaxScaler((-1, 2)).fit_transform(y)
    assert z.min() == pytest.approx(-1) and z.max() == pytest.approx(2)
    r = RobustScaler().fit(y)
    assert r.center_ == pytest.approx(np.median(y))
    outlier = np.append(y, 1e6)
    assert RobustScaler().fit(outlier).scale_ == pytest.approx(r.scale_, rel=0.02)


def test_constant_column_and_dtype():
    s = StandardScaler().fit(np.full(10, 3.0))
    assert s.scale_ == 1.0
    np.testing.assert_array_equal(s.transform(np.full(3, 3.0)), 0)
    assert s.transform(np.ones(3, np.float32)).dtype == np.float32


def test_scaler_errors():
    with pytest.raises(RuntimeError, match="call fit"):
        StandardScaler().transform(np.zeros(3))
    s = StandardScaler().fit(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="x: expected"):
        s.transform(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="feature_range"):
        MinMaxScaler((1, 0))
    with pytest.raises(ValueError, match="scaler: expected one of"):
        get_scaler("zscore")
    assert get_scaler(None) is None and isinstance(get_scaler("robust"), RobustScaler)
