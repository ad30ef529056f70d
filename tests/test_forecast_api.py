"""Forecaster beyond NumPy: dates and seasons, panels, intervals, scikit-learn conventions."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from tolerances import COVERAGE_SLACK

from fastlstm import metrics
from fastlstm.forecast import Forecaster
from fastlstm.forecast.backtest import CALIBRATION_HORIZONS
from fastlstm.forecast.datasets import load_airpassengers

pd = pytest.importorskip("pandas")

TINY = {"epochs": 4, "n_models": 1, "hidden_size": 8, "seed": 0}


@pytest.fixture(scope="module")
def air():
    return load_airpassengers()


# ------------------------------------------------------------------ dates and seasons
def test_dated_series_in_series_out(air):
    s = pd.Series(air, index=pd.date_range("1949-01-01", periods=len(air), freq="MS"), name="passengers")
    f = Forecaster(**TINY).fit(s)
    assert f.season_length_ == 12 and f.horizon_ == 18 and f.seasonal_[0] is not None  # M4 monthly horizon
    p = f.predict()
    assert isinstance(p, pd.Series) and p.name == "passengers"
    assert list(p.index) == list(pd.date_range("1961-01-01", periods=18, freq="MS"))
    # a new history: forecasts start after its own last date
    earlier = f.predict(h=3, y=s.iloc[:-12])
    assert list(earlier.index) == list(pd.date_range("1960-01-01", periods=3, freq="MS"))
    assert f.predict_interval(h=3, y=s.iloc[:-12]).index[0] == pd.Timestamp("1960-01-01")
    # the same numbers as a NumPy fit told the season
    np.testing.assert_array_equal(p.to_numpy(), Forecaster(season_length=12, **TINY).fit(air).predict())
    iv = f.predict_interval(h=5)
    assert list(iv.columns) == ["lower_80", "upper_80", "lower_95", "upper_95"]
    assert list(iv.index) == list(p.index[:5])
    q = f.predict_quantiles(h=5, quantiles=(0.025, 0.1, 0.5, 0.9))
    assert list(q.columns) == [0.025, 0.1, 0.5, 0.9]
    np.testing.assert_allclose(q[0.1], iv["lower_80"])
    np.testing.assert_allclose(q[0.025], iv["lower_95"])
    np.testing.assert_allclose(q[0.5], p.iloc[:5])
    assert np.all(np.diff(q.to_numpy(), axis=1) >= 0)


def test_period_index_and_plain_numpy(air):
    q = air[::3][:44]  # a quarterly-looking series
    s = pd.Series(q, index=pd.period_range("1990Q1", periods=len(q), freq="Q"))
    f = Forecaster(**TINY).fit(s)
    assert f.season_length_ == 4 and f.horizon_ == 8
    assert f.predict().index[0] == pd.Period("2001Q1")
    g = Forecaster(**TINY).fit(q)  # NumPy: no dates, no season unless told
    assert g.season_length_ == 1 and g.seasonal_ == [None] and isinstance(g.predict(), np.ndarray)
    # a Series with a RangeIndex is not dated: NumPy out
    assert isinstance(Forecaster(**TINY).fit(pd.Series(q)).predict(), np.ndarray)


def test_irregular_dates_are_refused(air):
    idx = pd.date_range("1949-01-01", periods=len(air), freq="MS").delete(30)
    with pytest.raises(ValueError, match="y: expected a regular date index .*gap at row 30"):
        Forecaster(**TINY).fit(pd.Series(air[:-1], index=idx))


# ------------------------------------------------------------------------- panels
def _panel(air, n=3):
    frames = []
    for i in range(n):
        y = air[10 * i :] * (1 + 0.5 * i)
        ds = pd.date_range("1950-01-01", periods=len(y), freq="MS")
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)


def test_long_panel_one_global_model(air):
    df = _panel(air)
    f = Forecaster(**TINY).fit(df)
    assert f.n_series_ == 3 and f.season_length_ == 12 and len(f.candidates_["network"].models_) == 1
    p = f.predict(h=4)
    assert list(p.columns) == ["unique_id", "ds", "forecast"] and len(p) == 12
    last = df.groupby("unique_id")["ds"].max()
    for uid, g in p.groupby("unique_id"):
        assert g["ds"].iloc[0] == last[uid] + pd.offsets.MonthBegin(1)
    # per series, the numbers of a list fit
    lst = (
        Forecaster(season_length=12, **TINY)
        .fit([g["y"].to_numpy() for _, g in df.groupby("unique_id")])
        .predict(4)
    )
    np.testing.assert_array_equal(p["forecast"].to_numpy(), np.concatenate(lst))
    iv = f.predict_interval(h=4, coverage=0.9)
    assert list(iv.columns) == ["unique_id", "ds", "lower_90", "upper_90"]
    assert np.all(iv["lower_90"] <= p["forecast"]) and np.all(p["forecast"] <= iv["upper_90"])


def test_panel_errors_name_the_row(air):
    df = _panel(air, 2)
    bad = df.copy()
    bad.loc[5, "y"] = np.nan
    with pytest.raises(ValueError, match="y: unique_id 's0', row 5, column 'y': expected a finite number"):
        Forecaster(**TINY).fit(bad)
    dup = pd.concat([df.iloc[:3], df.iloc[2:]], ignore_index=True)
    with pytest.raises(ValueError, match="y: unique_id 's0': row 3: duplicated date"):
        Forecaster(**TINY).fit(dup)
    ints = df.assign(ds=np.r_[np.arange(144), np.arange(134)])
    assert Forecaster(**TINY).fit(ints).predict(h=2)["ds"].tolist() == [144, 145, 134, 135]
    mixed = df.copy()
    mixed.loc[mixed.unique_id == "s1", "ds"] = pd.date_range("1950-01-01", periods=134, freq="QS")
    with pytest.raises(ValueError, match="expected one frequency for every unique_id"):
        Forecaster(**TINY).fit(mixed)


# ----------------------------------------------------------------------- intervals
def test_conformal_intervals_cover_simulated_data():
    """Local-level series plus noise, 40 series: the hold-out coverage is near nominal."""
    rng = np.random.default_rng(7)
    n, h, k = 90, 8, 40
    ys = [100 + np.cumsum(rng.normal(0, 1.0, n + h)) + rng.normal(0, 1.0, n + h) for _ in range(k)]
    f = Forecaster(horizon=h, lookback=12, epochs=8, n_models=1, hidden_size=8, seed=0, transform=None)
    f.fit([y[:n] for y in ys])
    # no season: a back-test over two horizons, 2h origins, each scored up to the series' end,
    # and the in-sample errors of every step from the origins before it (CALIBRATION_HORIZONS in all)
    before = (CALIBRATION_HORIZONS - 2) * h
    assert f.calibration_ == "backtest" and len(f.scores_) == k * (before * h + h * h + h * (h + 1) // 2)
    ivs = f.predict_interval(h, coverage=(0.8, 0.95))
    for j, nominal in enumerate((0.8, 0.95)):
        cov = np.mean(
            [metrics.coverage(y[n:], iv[:, j, 0], iv[:, j, 1]) for y, iv in zip(ys, ivs, strict=True)]
        )
        assert abs(cov - nominal) < COVERAGE_SLACK, (nominal, cov)
    widths = np.stack([iv[:, 1, 1] - iv[:, 1, 0] for iv in ivs])
    assert np.all(np.diff(widths.mean(axis=0)) >= 0)  # wider further ahead
    assert np.all(ivs[0][:, 1, 0] <= ivs[0][:, 0, 0]) and np.all(ivs[0][:, 0, 1] <= ivs[0][:, 1, 1])


def test_interval_arguments_and_too_short_series(air):
    f = Forecaster(lookback=6, horizon=3, **TINY).fit(air[:12])  # too short for a back-test
    assert f.calibration_ == "in-sample" and not f.fallback_.any()
    assert f.predict_interval().shape == (3, 2, 2)
    assert f.predict_quantiles(quantiles=0.5).shape == (3, 1)
    with pytest.raises(ValueError, match="coverage: expected values in \\(0, 1\\), got 95"):
        f.predict_interval(coverage=95)
    with pytest.raises(ValueError, match="quantiles: expected values in \\(0, 1\\), got 1.0"):
        f.predict_quantiles(quantiles=(0.5, 1.0))
    g = Forecaster(lookback=6, horizon=3, conformal=False, **TINY).fit(air[:40])
    with pytest.raises(RuntimeError, match="intervals need conformal=True"):
        g.predict_interval()
    with pytest.raises(ValueError, match="expected at least"):
        g.fit(air[:5])
    assert not g.fitted  # a failed refit leaves no stale model behind
    with pytest.raises(RuntimeError, match="call fit"):
        g.predict()


def test_fallback_picks_seasonal_naive_when_it_wins():
    """A pure seasonal pattern: seasonal naive is exact, a barely trained network is not."""
    y = np.tile([5.0, 9.0, 2.0, 7.0], 15)
    f = Forecaster(season_length=4, deseasonalize=False, epochs=1, n_models=1, hidden_size=4, seed=0).fit(y)
    assert f.fallback_.all()
    np.testing.assert_array_equal(f.predict(8), y[-8:])
    g = Forecaster(season_length=4, deseasonalize=False, fallback=False, epochs=1, n_models=1, seed=0).fit(y)
    assert not g.fallback_.any()
    bt = f.backtest(y, n_windows=3, season_length=1)
    np.testing.assert_array_equal(bt.forecasts, bt.actuals)


def test_back_test_picks_drift_or_mixes_it_in(monkeypatch):
    """A straight line: drift is exact; without pure drift, half of it beats a barely trained network."""
    from fastlstm.forecast import forecaster as forecast

    y = 10.0 + 0.5 * np.arange(60)
    drift = y[-1] + 0.5 * np.arange(1, 7)
    kw = {"lookback": 6, "horizon": 6, "epochs": 1, "n_models": 1, "hidden_size": 4, "seed": 0}
    f = Forecaster(**kw).fit(y)
    assert f.mix_ == [{"drift": 1.0}] and not f.fallback_.any()
    np.testing.assert_allclose(f.predict(6), drift, rtol=1e-12)
    # the network, seasonal naive and their mixes with drift, without drift alone (nor the
    # statistical members, which a straight line on the log scale would also favour)
    members = ("damped", "theta", "arima")
    only = [w for w in forecast._MIXES if w != {"drift": 1.0} and not any(w.get(c) for c in members)]
    monkeypatch.setattr(forecast, "_MIXES", only)
    g = Forecaster(**kw).fit(y)
    assert g.mix_ == [{"network": 0.5, "drift": 0.5}]
    net = Forecaster(fallback=False, **kw).fit(y).predict(6)  # the same networks, unmixed
    np.testing.assert_allclose(g.predict(6), 0.5 * net + 0.5 * drift, rtol=1e-12)
    bt = g.backtest(y, n_windows=2)
    assert (
        bt.summary()["mae"]
        < Forecaster(fallback=False, **kw).fit(y).backtest(y, n_windows=2).summary()["mae"]
    )


def test_save_load_keeps_dates_seasons_and_intervals(air, tmp_path):
    s = pd.Series(air, index=pd.date_range("1949-01-01", periods=len(air), freq="MS"))
    f = Forecaster(**TINY).fit(s)
    g = Forecaster.load(f.save(tmp_path / "f.npz"))
    pd.testing.assert_series_equal(f.predict(), g.predict())
    t = Forecaster(**TINY).fit(s.rename(("passengers", 1)))
    assert t.predict().name == ("passengers", 1)  # any name is kept in memory ...
    assert (
        Forecaster.load(t.save(tmp_path / "t.npz")).predict().name == "('passengers', 1)"
    )  # ... its str on disk
    pd.testing.assert_frame_equal(f.predict_interval(), g.predict_interval())
    p = Forecaster(**TINY).fit(_panel(air, 2))
    q = Forecaster.load(p.save(tmp_path / "p.npz"))
    pd.testing.assert_frame_equal(p.predict(), q.predict())


# --------------------------------------------------------------- scikit-learn conventions
def test_get_set_params_cover_every_constructor_argument():
    f = Forecaster(horizon=6, epochs=3)
    names = list(inspect.signature(Forecaster).parameters)
    assert list(f.get_params()) == names
    assert f.get_params(deep=False) == f.get_params()
    assert f.set_params(hidden_size=5, season_length=4) is f
    assert f.hidden_size == 5 and f.season_length == 4
    with pytest.raises(ValueError, match="set_params: expected parameters of Forecaster .*\\['hiden'\\]"):
        f.set_params(hiden=3)
    # stored as given (scikit-learn's convention), checked by fit
    assert f.set_params(strategy="direct").strategy == "direct"
    with pytest.raises(ValueError, match="strategy: expected 'mimo' or 'recursive', got 'direct'"):
        f.fit(np.arange(1.0, 60.0))
    f.set_params(strategy="mimo")
    assert repr(f) == "Forecaster(horizon=6, hidden_size=5, season_length=4, epochs=3)"
    assert repr(Forecaster()) == "Forecaster()"


def test_clone_is_unfitted_and_fitted_attributes_end_in_underscore(air):
    from sklearn.base import clone

    f = Forecaster(**TINY)
    before = set(vars(f))
    f.fit(air[:60])
    new = set(vars(f)) - before
    assert new and all(a.endswith("_") for a in new), sorted(a for a in new if not a.endswith("_"))
    c = clone(f)
    assert c.get_params() == f.get_params() and not c.fitted
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(f)
    with pytest.raises(NotFittedError):
        check_is_fitted(c)
    assert not any(a.endswith("_") and not a.startswith("_") for a in vars(c))


def test_grid_search_over_two_settings_with_a_time_series_split(air):
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

    h = 12

    def neg_mae(estimator, y_test, _=None):
        return -metrics.mae(y_test, estimator.predict(h=len(y_test)))

    search = GridSearchCV(
        Forecaster(horizon=h, lookback=12, season_length=12, epochs=3, n_models=1, hidden_size=4, seed=0),
        {"hidden_size": [4, 8]},
        cv=TimeSeriesSplit(n_splits=2, test_size=h),
        scoring=neg_mae,
    )
    search.fit(air[:96])
    assert len(search.cv_results_["params"]) == 2
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_params_["hidden_size"] in (4, 8)
    assert search.best_estimator_.fitted and search.best_estimator_.predict().shape == (h,)


def test_model_parameter_defaults_to_the_lstm_and_round_trips():
    f = Forecaster(**TINY)
    assert f.get_params()["model"] == "lstm" and " model=" not in repr(f)
    g = Forecaster(model="lstm", **TINY)
    assert repr(g) == repr(f)
    assert repr(f.set_params(model="esrnn")).endswith("model='esrnn')")
    f.set_params(model="gru")  # stored; fit refuses it
    with pytest.raises(ValueError, match="model: expected 'lstm' or 'esrnn', got 'gru'"):
        f.fit(np.arange(1.0, 60.0))


def test_renamed_arguments_warn_and_still_work(air):
    """season -> season_length, input_size -> lookback (Forecaster), m -> season_length
    (backtest): the old names work for one release, with a DeprecationWarning naming the new."""
    with pytest.warns(DeprecationWarning, match="is renamed") as record:
        f = Forecaster(season=12, input_size=24, horizon=12, epochs=1, n_models=1, hidden_size=4)
    messages = sorted(str(w.message) for w in record)
    assert "'input_size' is renamed 'lookback'" in messages[0] and len(messages) == 2
    assert "'season' is renamed 'season_length'" in messages[1]
    assert f.season_length == 12 and f.lookback == 24 and "season" not in f.get_params()
    with pytest.warns(DeprecationWarning, match="'input_size' is renamed 'lookback'"):
        f.set_params(input_size=12)
    assert f.lookback == 12
    with pytest.raises(TypeError, match="season: renamed 'season_length'; got both"):
        Forecaster(season=12, season_length=12)
    f.fit(air[:-12])
    with pytest.warns(DeprecationWarning, match="'m' is renamed 'season_length'"):
        old = f.backtest(air, n_windows=2, m=1)
    new = f.backtest(air, n_windows=2, season_length=1)
    np.testing.assert_array_equal(old.metrics["mase"], new.metrics["mase"])
    # the default scale is the fitted season's now (it was lag 1 whatever the season)
    seasonal = f.backtest(air, n_windows=2)
    np.testing.assert_array_equal(seasonal.forecasts, new.forecasts)
    assert not np.array_equal(seasonal.metrics["mase"], new.metrics["mase"])


def test_short_series_of_a_panel_are_padded_not_capping_the_lookback():
    """Issue 19: the lookback comes from the median length, not the shortest series; a series
    shorter than it is padded on the left with its first value, so its forecast is that of the
    padded history (the network alone here)."""
    rng = np.random.default_rng(0)
    panel = [100 + np.cumsum(rng.normal(size=n)) for n in (120, 110, 100, 90, 14, 9)]
    kw = {"horizon": 6, "season_length": 1, "epochs": 2, "n_models": 1, "hidden_size": 4, "seed": 0}
    f = Forecaster(fallback=False, conformal=False, **kw).fit(panel)
    assert f.lookback_ == Forecaster(**kw).fit(panel[:4]).lookback_ == 6
    padded = [np.r_[np.full(f.lookback_ - len(s), s[0]), s] if len(s) < f.lookback_ else s for s in panel]
    for a, b in zip(f.predict(), f.predict(y=padded), strict=True):
        np.testing.assert_array_equal(a, b)
    g = Forecaster(**kw).fit(panel)  # with the back-test and intervals: short series calibrated in-sample
    assert g.calibration_ == "mixed" and np.isfinite(np.concatenate(g.predict())).all()
    # a single series keeps the strict rule: it must fill one window
    with pytest.raises(ValueError, match="series 0 expected at least lookback \\+ horizon"):
        Forecaster(lookback=12, **kw).fit(panel[-1])
