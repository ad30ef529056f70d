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
