"""fastlstm.sktime.LSTMForecaster: sktime's own conformance suite, and agreement with Forecaster."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sktime")

from sktime.forecasting.base import ForecastingHorizon  # noqa: E402
from sktime.utils.estimator_checks import check_estimator  # noqa: E402

import fastlstm  # noqa: E402
from fastlstm.forecast.timeindex import season_of_freq  # noqa: E402
from fastlstm.sktime import LSTMForecaster  # noqa: E402

# Tiny and fast, as in get_test_params; the forecasts are compared with Forecaster's, not judged.
# fallback=False: the network's own forecast (the back-test's choice could replace it by
# seasonal naive, and the covariate test compares networks)
TINY = {
    "lookback": 4,
    "hidden_size": 3,
    "epochs": 2,
    "n_models": 1,
    "batch_size": 64,
    "seed": 3,
    "fallback": False,
}


def _series(rng, n=40, freq="M"):
    values = 50 + 10 * np.sin(np.arange(n) / 3) + rng.standard_normal(n)
    return pd.Series(values, index=pd.period_range("2001-01", periods=n, freq=freq), name="sales")


def _direct(y, horizon, h, X=None, X_future=None, **kw):
    """The same forecast straight from fastlstm.Forecaster."""
    season = season_of_freq(y.index.freqstr)[0]  # what the wrapper reads from the dates
    f = fastlstm.Forecaster(horizon=horizon, season_length=season, **{**TINY, **kw})
    f.fit(y.to_numpy(), X=X)
    return f.predict(h, X_future=X_future)


# sktime's own code (BaseForecaster._format_moving_cutoff_predictions) calls pd.concat on
# DatetimeIndex forecasts without `sort=`, which pandas 3 warns about; the warning comes
# from neither fastlstm nor the checks' outcome.
@pytest.mark.filterwarnings("ignore:Sorting by default when concatenating all DatetimeIndex")
def test_check_estimator_all_pass():
    results = check_estimator(LSTMForecaster, raise_exceptions=False, verbose=False)
    failed = {k: v for k, v in results.items() if v != "PASSED"}
    assert not failed, f"{len(failed)} of {len(results)} sktime checks failed: {list(failed.items())[:5]}"
    # the suite really ran (both parameter sets, forecasting checks included)
    assert len(results) > 500
    assert any(k.startswith("test_predict_time_index_with_X[LSTMForecaster-1") for k in results)


def test_relative_and_absolute_fh_match_forecaster(rng):
    y = _series(rng)
    fh_rel = [1, 3, 6]
    f = LSTMForecaster(**TINY).fit(y, fh=fh_rel)
    pred = f.predict()
    expected = _direct(y, horizon=6, h=6)[np.array(fh_rel) - 1]
    np.testing.assert_array_equal(pred.to_numpy(), expected)
    assert list(pred.index) == list(pd.period_range("2004-05", periods=6, freq="M")[[0, 2, 5]])
    assert pred.name == "sales"
    # the same steps as an absolute horizon
    fh_abs = ForecastingHorizon(pred.index, is_relative=False)
    pred_abs = LSTMForecaster(**TINY).fit(y, fh=fh_abs).predict()
    pd.testing.assert_series_equal(pred_abs, pred)


def test_fixed_horizon_needs_no_fh_in_fit_and_chains_blocks(rng):
    y = _series(rng)
    f = LSTMForecaster(horizon=2, **TINY)
    assert f.get_tag("requires-fh-in-fit") is False
    assert LSTMForecaster(**TINY).get_tag("requires-fh-in-fit") is True
    f.fit(y)
    pred = f.predict(fh=[1, 5])  # past the 2-step block: chained
    np.testing.assert_array_equal(pred.to_numpy(), _direct(y, horizon=2, h=5)[[0, 4]])
    assert f.horizon_ == 2


def test_in_sample_fh_is_refused(rng):
    y = _series(rng)
    with pytest.raises(NotImplementedError, match="in-sample"):
        LSTMForecaster(**TINY).fit(y, fh=[-1, 2])
    f = LSTMForecaster(horizon=2, **TINY).fit(y)
    with pytest.raises(NotImplementedError, match="in-sample"):
        f.predict(fh=[0])


def test_no_fh_without_horizon_is_refused(rng):
    with pytest.raises(ValueError, match="fh"):
        LSTMForecaster(**TINY).fit(_series(rng))


def test_exogenous_X_matches_forecaster_and_must_be_contiguous(rng):
    y = _series(rng, n=46)
    X = pd.DataFrame({"promo": rng.standard_normal(46), "month": np.arange(46) % 12}, index=y.index)
    y_tr, X_tr, X_te = y.iloc[:40], X.iloc[:40], X.iloc[40:]
    f = LSTMForecaster(**TINY).fit(y_tr, X=X_tr, fh=[2, 4])
    pred = f.predict(X=X_te)
    expected = _direct(y_tr, 4, 4, X=X_tr.to_numpy(float), X_future=X_te.iloc[:4].to_numpy(float))
    np.testing.assert_array_equal(pred.to_numpy(), expected[[1, 3]])
    # the covariates change the forecast
    assert not np.array_equal(
        pred.to_numpy(), LSTMForecaster(**TINY).fit(y_tr, fh=[2, 4]).predict().to_numpy()
    )
    with pytest.raises(ValueError, match=r"X: expected rows for every step .* got 2 of them"):
        f.predict(X=X_te.iloc[[1, 3]])  # only the rows of fh: not enough for the network
    with pytest.raises(ValueError, match="X: expected the covariates"):
        f.predict()


def test_update_without_refit_forecasts_from_the_new_end(rng):
    y = _series(rng, n=48)
    f = LSTMForecaster(horizon=3, **TINY).fit(y.iloc[:40])
    f.update(y.iloc[40:], update_params=False)
    assert f.cutoff[0] == y.index[-1]
    direct = fastlstm.Forecaster(horizon=3, **TINY).fit(y.iloc[:40].to_numpy())
    np.testing.assert_array_equal(f.predict(fh=[1, 2, 3]).to_numpy(), direct.predict(3, y=y.to_numpy()))
    # update_params=True refits on everything seen
    f.update(y.iloc[40:], update_params=True)
    np.testing.assert_array_equal(f.predict(fh=[1, 2, 3]).to_numpy(), _direct(y, 3, 3))


def test_intervals_and_quantiles_are_forecasters(rng):
    y = _series(rng)
    f = LSTMForecaster(**TINY).fit(y, fh=[1, 4])
    direct = fastlstm.Forecaster(horizon=4, season_length=12, **TINY).fit(y.to_numpy())  # monthly: season 12
    q = f.predict_quantiles(alpha=[0.1, 0.5, 0.9])
    assert list(q.columns) == [("sales", a) for a in (0.1, 0.5, 0.9)]
    expected_q = direct.predict_quantiles(4, quantiles=(0.1, 0.5, 0.9), y=y.to_numpy())
    np.testing.assert_array_equal(q.to_numpy(), expected_q[[0, 3]])
    iv = f.predict_interval(coverage=[0.8, 0.95])
    assert list(iv.columns) == [("sales", c, b) for c in (0.8, 0.95) for b in ("lower", "upper")]
    expected_iv = direct.predict_interval(4, coverage=(0.8, 0.95), y=y.to_numpy())[[0, 3]]
    np.testing.assert_array_equal(iv.to_numpy(), expected_iv.reshape(2, 4))
    assert np.all(iv.xs("lower", axis=1, level=2).to_numpy() <= iv.xs("upper", axis=1, level=2).to_numpy())
    with pytest.raises(NotImplementedError, match="in-sample"):
        LSTMForecaster(horizon=2, **TINY).fit(y).predict_interval(fh=[-1, 1])


def test_bad_settings_are_reported_by_forecaster(rng):
    with pytest.raises(ValueError, match="strategy"):
        LSTMForecaster(strategy="direct", **TINY).fit(_series(rng), fh=[1])
    with pytest.raises(ValueError, match="lookback"):
        LSTMForecaster(**{**TINY, "lookback": 60}).fit(_series(rng), fh=[1])


def test_clone_and_params_round_trip():
    f = LSTMForecaster(horizon=5, hidden_size=7)
    g = f.clone()
    assert g.get_params() == f.get_params()
    assert g.get_params()["hidden_size"] == 7 and not g.is_fitted


def test_import_fastlstm_does_not_import_sktime():
    code = "import sys, fastlstm; print(sorted(set(sys.modules) & {'sktime', 'pandas', 'sklearn'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_sktime_says_how_to_install():
    code = "import sys; sys.modules['sktime'] = None; import fastlstm.sktime"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode != 0
    assert "pip install 'fastlstm[sktime]'" in res.stderr


def test_former_argument_names_warn_and_still_work(rng):
    y = _series(rng)
    new = LSTMForecaster(**{**TINY, "lookback": 6}).fit(y, fh=[1, 2])
    old = LSTMForecaster(**{**TINY, "lookback": None, "input_size": 6})
    with pytest.warns(DeprecationWarning, match="'input_size' is renamed 'lookback'"):
        old.fit(y, fh=[1, 2])
    np.testing.assert_array_equal(old.predict().to_numpy(), new.predict().to_numpy())
    with pytest.warns(DeprecationWarning, match="'season' is renamed 'sp'"):
        LSTMForecaster(**{**TINY, "season": 1}).fit(y, fh=[1])


# ------------------------------------------------------------------ panels (one global model)
def _panel(rng, n=30, ids=("a", "b", "c"), starts=None):
    """A monthly pd-multiindex panel (store, month) of sales, with a promo covariate and
    static region (text) and size (number) columns in X."""
    ys, xs = [], []
    for k, uid in enumerate(ids):
        m = n if starts is None else n - starts[k]
        t = pd.period_range("2001-01", periods=n, freq="M")[n - m :]
        promo = rng.standard_normal(m)
        vals = 50 + 10 * k + 10 * np.sin(np.arange(m) / 3) + 5 * promo + rng.standard_normal(m)
        index = pd.MultiIndex.from_product([[uid], t], names=["store", "month"])
        ys.append(pd.DataFrame({"sales": vals}, index=index))
        region, size = ("north", "south")[k % 2], float(k + 1)
        xs.append(pd.DataFrame({"promo": promo, "region": region, "size": size}, index=index))
    return pd.concat(ys), pd.concat(xs)


def _split(frame, n_train):
    """The first n_train time points of every instance, and the rest."""
    pos = frame.groupby(level=0, sort=False).cumcount().to_numpy()
    return frame[pos < n_train], frame[pos >= n_train]


def _long(y, X=None):
    """y (and X's dynamic columns) as fastlstm's long panel, in order of first appearance."""
    ids = list(y.index.get_level_values(0).unique())
    long = pd.DataFrame(
        {"unique_id": y.index.get_level_values(0), "ds": y.index.get_level_values(1), "y": y["sales"]}
    ).reset_index(drop=True)
    covs = None if X is None else [X.xs(u, level=0)[["promo"]].to_numpy(float) for u in ids]
    return long, covs


def test_panel_forecasts_are_one_global_forecaster_on_the_long_panel(rng):
    y, _ = _panel(rng)
    y_tr, _ = _split(y, 24)
    f = LSTMForecaster(**TINY).fit(y_tr, fh=[1, 3])
    pred = f.predict()
    # sktime's panel frame: (instance, time) for every instance and step, y's names
    times = pd.period_range("2003-01", periods=3, freq="M")[[0, 2]]
    assert list(pred.index) == [(u, t) for u in "abc" for t in times]
    assert list(pred.index.names) == ["store", "month"] and list(pred.columns) == ["sales"]
    # one fastlstm.Forecaster on the long panel (not one per instance)
    long, _ = _long(y_tr)
    direct = fastlstm.Forecaster(horizon=3, season_length=12, **TINY).fit(long)
    expected = direct.predict(3)
    assert list(expected["unique_id"].unique()) == ["a", "b", "c"]
    np.testing.assert_array_equal(
        pred["sales"].to_numpy(), expected["forecast"].to_numpy().reshape(3, 3)[:, [0, 2]].ravel()
    )
    q = f.predict_quantiles(alpha=[0.1, 0.9])
    assert q.index.equals(pred.index) and list(q.columns) == [("sales", 0.1), ("sales", 0.9)]
    expected_q = direct.predict_quantiles(3, quantiles=(0.1, 0.9))
    np.testing.assert_array_equal(
        q.to_numpy(), expected_q[[0.1, 0.9]].to_numpy().reshape(3, 3, 2)[:, [0, 2]].reshape(6, 2)
    )
    iv = f.predict_interval(coverage=[0.8])
    assert list(iv.columns) == [("sales", 0.8, "lower"), ("sales", 0.8, "upper")]
    expected_iv = direct.predict_interval(3, coverage=(0.8,))
    np.testing.assert_array_equal(
        iv.to_numpy(),
        expected_iv[["lower_80", "upper_80"]].to_numpy().reshape(3, 3, 2)[:, [0, 2]].reshape(6, 2),
    )


def test_panel_static_and_dynamic_X_match_forecaster_with_static(rng):
    y, X = _panel(rng, starts=(0, 4, 2))  # unequal starts, common end
    y_tr, _ = _split(y, 22)
    pos = X.groupby(level=0, sort=False).cumcount().to_numpy()
    lengths = X.groupby(level=0, sort=False).size().to_numpy()
    n_tr = np.repeat(lengths - 30 + 24, lengths)  # every instance ends at 2002-12 in training
    y_tr, X_tr, X_te = y[pos < n_tr], X[pos < n_tr], X[pos >= n_tr]
    f = LSTMForecaster(static_cols=["region", "size"], **TINY).fit(y_tr, X=X_tr, fh=[1, 2, 4])
    assert f.get_tag("capability:categorical_in_X") is True
    pred = f.predict(X=X_te[["promo"]])  # the static columns are not needed after fit
    long, covs = _long(y_tr, X_tr)
    static = X_tr.groupby(level=0, sort=False)[["region", "size"]].first()  # indexed by unique_id
    direct = fastlstm.Forecaster(horizon=4, season_length=12, **TINY).fit(long, X=covs, static=static)
    assert direct.static_columns_ == ["region=north", "region=south", "size"]
    fut = [X_te.xs(u, level=0)[["promo"]].to_numpy(float)[:4] for u in "abc"]
    expected = direct.predict(4, X_future=fut)["forecast"].to_numpy().reshape(3, 4)[:, [0, 1, 3]]
    np.testing.assert_array_equal(pred["sales"].to_numpy(), expected.ravel())
    # the static features reach the network: without them the forecasts differ
    plain = LSTMForecaster(**TINY).fit(y_tr, X=X_tr[["promo"]], fh=[1, 2, 4]).predict(X=X_te[["promo"]])
    assert not np.array_equal(plain.to_numpy(), pred.to_numpy())
    # static columns given again must keep fit's values; another value is refused
    np.testing.assert_array_equal(f.predict(X=X_te).to_numpy(), pred.to_numpy())
    changed = X_te.copy()
    changed.loc["b", "region"] = "north"
    with pytest.raises(
        ValueError, match=r"X: static column 'region' of instance 'b' is 'south' in fit, got 'north'"
    ):
        f.predict(X=changed)
    with pytest.raises(ValueError, match="X: expected the covariates"):
        f.predict()
    with pytest.raises(ValueError, match=r"X: expected a panel with an \(instance, time\) MultiIndex"):
        f.predict(X=X_te.xs("a", level=0)[["promo"]])


def test_static_column_varying_within_an_instance_is_refused(rng):
    y, X = _panel(rng)
    X.loc[("b", X.xs("b", level=0).index[5]), "size"] = 9.0
    with pytest.raises(
        ValueError,
        match=r"X: static column 'size' \(static_cols\) expected one value within instance 'b', got 2",
    ):
        LSTMForecaster(static_cols=["size"], **TINY).fit(y, X=X[["promo", "size"]], fh=[1])
    y1 = _series(rng)
    X1 = pd.DataFrame({"kind": ["x"] * 39 + ["y"]}, index=y1.index)
    with pytest.raises(ValueError, match=r"static column 'kind' .* within the series, got 2"):
        LSTMForecaster(static_cols=["kind"], **TINY).fit(y1, X=X1, fh=[1])


def test_static_cols_are_validated(rng):
    y, X = _panel(rng)
    with pytest.raises(
        TypeError,
        match=r"static_cols: expected a list of column names of X, got str 'region' "
        r"\(for one column write \['region'\]\)",
    ):
        LSTMForecaster(static_cols="region", **TINY).fit(y, X=X, fh=[1])
    with pytest.raises(ValueError, match=r"static_cols: expected column names of X, got \['shop'\]"):
        LSTMForecaster(static_cols=["shop"], **TINY).fit(y, X=X, fh=[1])
    with pytest.raises(ValueError, match=r"static_cols: expected distinct column names"):
        LSTMForecaster(static_cols=["size", "size"], **TINY).fit(y, X=X, fh=[1])
    with pytest.raises(ValueError, match=r"X: expected a DataFrame with the static columns \['size'\]"):
        LSTMForecaster(static_cols=["size"], **TINY).fit(y, fh=[1])
    # a text column that is not static: refused by name, never encoded as a covariate
    with pytest.raises(
        TypeError, match=r"X: column 'region' is not numeric .* must be one of static_cols \['size'\]"
    ):
        LSTMForecaster(static_cols=["size"], **TINY).fit(y, X=X, fh=[1])
    # without static_cols sktime refuses categorical X, as before
    assert LSTMForecaster(**TINY).get_tag("capability:categorical_in_X") is False
    with pytest.raises(TypeError, match="categorical"):
        LSTMForecaster(**TINY).fit(y, X=X, fh=[1])


def test_panel_instances_ending_before_the_cutoff_forecast_further(rng):
    y, X = _panel(rng)
    months = y.index.get_level_values(1)
    train = months < pd.Period("2003-01", "M")
    y_tr = y[train].drop(index=("a", pd.Period("2002-12", "M")))  # a ends one step before the cutoff
    X_tr = X.loc[y_tr.index, ["promo"]]
    f = LSTMForecaster(**TINY).fit(y_tr, X=X_tr, fh=[1, 2])
    pred = f.predict(X=X[["promo"]])
    times = pd.period_range("2003-01", periods=2, freq="M")
    assert list(pred.index) == [(u, t) for u in "abc" for t in times]  # the same dates for all
    long, covs = _long(y_tr, X_tr)
    direct = fastlstm.Forecaster(horizon=2, season_length=12, **TINY).fit(long, X=covs)
    rows = {u: X.xs(u, level=0)[["promo"]] for u in "abc"}
    # a: steps 2 and 3 after its own end (2002-11), its covariates from 2002-12 on
    fut = [
        rows[u].loc[pd.period_range(start, periods=3, freq="M")].to_numpy(float)
        for u, start in (("a", "2002-12"), ("b", "2003-01"), ("c", "2003-01"))
    ]
    a = direct.predict(3, X_future=fut)["forecast"].to_numpy().reshape(3, 3)[0, [1, 2]]
    # b, c: steps 1 and 2, exactly as a 2-step forecast (a's longer reach changes nothing)
    bc = direct.predict(2, X_future=[x[:2] for x in fut])["forecast"].to_numpy().reshape(3, 2)[1:]
    np.testing.assert_array_equal(pred["sales"].to_numpy(), np.concatenate([a, bc.ravel()]))
    iv = f.predict_interval(X=X[["promo"]], coverage=[0.9])
    expected_iv = direct.predict_interval(3, coverage=(0.9,), X_future=fut)
    np.testing.assert_array_equal(
        iv.to_numpy()[:2], expected_iv[["lower_90", "upper_90"]].to_numpy().reshape(3, 3, 2)[0, [1, 2]]
    )
    # a's covariates are needed from the step after its own last point
    with pytest.raises(
        ValueError, match=r"X: expected rows for every step from the first after instance 'a''s"
    ):
        f.predict(X=X[["promo"]].drop(index=("a", pd.Period("2002-12", "M"))))


def test_panel_update_without_refit_forecasts_from_the_new_end(rng):
    y, _ = _panel(rng)
    y_tr, y_new = _split(y, 24)
    f = LSTMForecaster(horizon=2, **TINY).fit(y_tr)
    f.update(y_new, update_params=False)
    assert f.cutoff[0] == pd.Period("2003-06", "M")
    pred = f.predict(fh=[1, 2])
    assert list(pred.index.get_level_values(1).unique()) == list(
        pd.period_range("2003-07", periods=2, freq="M")
    )
    direct = fastlstm.Forecaster(horizon=2, season_length=12, **TINY).fit(_long(y_tr)[0])
    expected = direct.predict(2, y=_long(y)[0])["forecast"].to_numpy()
    np.testing.assert_array_equal(pred["sales"].to_numpy(), expected)


def test_panel_with_static_X_only_needs_no_X_in_predict_and_reads_dated_seasons(rng):
    y, X = _panel(rng)
    # a DatetimeIndex time level (its frequency is lost in the MultiIndex): sp "auto" reads 12
    dated = y.index.set_levels(y.index.levels[1].to_timestamp(), level=1)
    y, X = y.set_axis(dated), X.set_axis(dated)[["region"]]
    f = LSTMForecaster(static_cols=["region"], **TINY).fit(y, X=X, fh=[1, 2])
    pred = f.predict()  # static columns alone: predict needs no X
    assert list(pred.index.get_level_values(1).unique()) == list(
        pd.date_range("2003-07", periods=2, freq="MS")
    )
    long, _ = _long(y)
    static = X.groupby(level=0, sort=False).first()
    direct = fastlstm.Forecaster(horizon=2, season_length=12, **TINY).fit(long, static=static)
    np.testing.assert_array_equal(pred["sales"].to_numpy(), direct.predict(2)["forecast"].to_numpy())
    # update checks the static values too: a new one for a fitted instance is refused
    new = pd.MultiIndex.from_product([list("abc"), [pd.Timestamp("2003-07-01")]], names=y.index.names)
    y_new = pd.DataFrame({"sales": [60.0, 70.0, 80.0]}, index=new)
    with pytest.raises(ValueError, match=r"X: static column 'region' of instance 'a' is 'north' in fit"):
        f.update(y_new, X=pd.DataFrame({"region": "south"}, index=new), update_params=False)
    f.update(y_new, X=pd.DataFrame({"region": ["north", "south", "north"]}, index=new), update_params=False)
    assert f.cutoff[0] == pd.Timestamp("2003-07-01")
    np.testing.assert_array_equal(
        f.predict()["sales"].to_numpy(),
        direct.predict(2, y=_long(pd.concat([y, y_new]).sort_index())[0])["forecast"].to_numpy(),
    )
