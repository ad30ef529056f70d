"""Forecaster: accuracy on the embedded series, determinism, save/load, data hygiene."""

from __future__ import annotations

import numpy as np
import pytest

from fastlstm import baselines, metrics
from fastlstm.forecast import Backtest, Forecaster
from fastlstm.forecast.datasets import load_airpassengers

FAST = {"epochs": 5, "n_models": 2, "hidden_size": 8, "seed": 0}


@pytest.fixture(scope="module")
def air():
    return load_airpassengers()


def _seasonal_covariates(n):
    t = np.arange(n)
    return np.stack([np.sin(2 * np.pi * t / 12), np.cos(2 * np.pi * t / 12)], axis=1)


def test_beats_seasonal_naive_on_airpassengers(air):
    train, test = air[:-24], air[-24:]
    # a reduced budget (one network, 60 epochs) so the test stays fast; the CLI default trains more
    f = Forecaster(24, 24, epochs=60, n_models=1, seed=0).fit(train)
    pred = f.predict()
    sn = baselines.seasonal_naive(train, 24, m=12)
    mape, mase = metrics.mape(test, pred), metrics.mase(test, pred, train, m=12)
    assert mape < 0.65 * metrics.mape(test, sn)  # seasonal naive: 15.5 %
    assert mase < 0.65 * metrics.mase(test, sn, train, m=12)  # seasonal naive: 2.49
    assert np.all(np.isfinite(pred)) and pred.shape == (24,)


def test_same_seed_gives_identical_forecasts(air):
    a = Forecaster(24, 12, **FAST).fit(air).predict(20)
    b = Forecaster(24, 12, **FAST).fit(air).predict(20)
    np.testing.assert_array_equal(a, b)
    # the seed moves the networks (the back-test may give the series to a statistical member,
    # which has no seed, as it does here): compare the networks' own forecasts
    n0 = Forecaster(24, 12, fallback=False, **FAST).fit(air).predict(20)
    n1 = Forecaster(24, 12, fallback=False, **{**FAST, "seed": 1}).fit(air).predict(20)
    assert not np.array_equal(n0, n1)


@pytest.mark.parametrize("case", ["single", "list", "covariates", "recursive"])
def test_save_load_round_trips_predictions_exactly(air, tmp_path, case):
    X = _seasonal_covariates(len(air) + 18)
    kwargs, fit_args, pred_args = dict(FAST), {}, {"h": 18}
    y = air
    if case == "list":
        y = [air, air[30:] * 0.5]
    elif case == "covariates":
        fit_args, pred_args = {"X": X[: len(air)]}, {"h": 18, "X_future": X[len(air) :]}
    elif case == "recursive":
        kwargs["strategy"] = "recursive"
    f = Forecaster(24, 12, **kwargs).fit(y, **fit_args)
    path = f.save(tmp_path / "f.npz")
    g = Forecaster.load(path)
    assert g.get_params() == f.get_params()
    a, b = f.predict(**pred_args), g.predict(**pred_args)
    if case == "list":
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(u, v)
    else:
        np.testing.assert_array_equal(a, b)


def test_load_rejects_other_checkpoints(air, tmp_path):
    from fastlstm.train.io import save_checkpoint

    save_checkpoint(tmp_path / "other.npz", "optimizer", {"x": np.ones(1)})
    with pytest.raises(ValueError, match="expected a checkpoint of kind 'forecaster'"):
        Forecaster.load(tmp_path / "other.npz")
    save_checkpoint(tmp_path / "broken.npz", "forecaster", {"x": np.ones(1)}, {"params": {}})
    with pytest.raises(ValueError, match="inconsistent forecaster checkpoint"):
        Forecaster.load(tmp_path / "broken.npz")


def test_scalers_see_only_training_data(air):
    X = _seasonal_covariates(len(air))
    f = Forecaster(24, 12, **FAST).fit(air, X=X, val_size=24)
    y2, X2 = air.copy(), X.copy()
    y2[-24:] *= 50.0  # wild validation values must not move any fitted statistic
    X2[-24:] += 100.0
    g = Forecaster(24, 12, **FAST).fit(y2, X=X2, val_size=24)
    fn, gn = f.candidates_["network"], g.candidates_["network"]
    for a, b in zip(fn.scalers_ + [fn.cov_scaler_], gn.scalers_ + [gn.cov_scaler_], strict=True):
        for k, v in a.get_state().items():
            np.testing.assert_array_equal(v, b.get_state()[k])
    # without a validation split the last values do count (the check above is not vacuous)
    h = Forecaster(24, 12, **FAST).fit(y2, X=X2)
    assert not np.array_equal(h.candidates_["network"].scalers_[0].scale_, fn.scalers_[0].scale_)
    assert f.histories_[0].val_loss  # the validation windows were used


def test_chaining_blocks_past_the_horizon(air):
    # the network alone (a mix of it with a statistical member chains each member on its own)
    f = Forecaster(24, 12, fallback=False, **FAST).fit(air)
    long, short = f.predict(30), f.predict(12)
    np.testing.assert_array_equal(long[:12], short)
    assert long.shape == (30,)
    # the second block starts from the first block's forecasts
    np.testing.assert_allclose(long[12:24], f.predict(12, y=np.concatenate([air, short])), rtol=1e-12)
    r = Forecaster(24, 12, strategy="recursive", **FAST).fit(air)
    assert r.candidates_["network"].models_[0].output_size == 1 and r.predict(30).shape == (30,)


def test_multiple_series_train_one_global_model(air):
    two = np.stack([air, air * 0.3 + 10], axis=1)
    f = Forecaster(24, 12, **FAST).fit(two)
    assert len(f.candidates_["network"].models_) == FAST["n_models"] and f.n_series_ == 2
    p = f.predict(5)
    assert p.shape == (5, 2) and np.all(p[:, 0] > p[:, 1])
    g = Forecaster(24, 12, **FAST).fit([air, air[50:] * 2])
    out = g.predict()
    assert isinstance(out, list) and [o.shape for o in out] == [(12,), (12,)]
    with pytest.raises(ValueError, match="y: expected 2 series"):
        g.predict(y=air)


def test_covariates_required_at_prediction(air):
    X = _seasonal_covariates(len(air) + 12)
    f = Forecaster(24, 12, **FAST).fit(air, X=X[: len(air)])
    assert f.predict(X_future=X[len(air) :]).shape == (12,)
    with pytest.raises(ValueError, match="X_future: expected 12 future rows"):
        f.predict()
    with pytest.raises(ValueError, match="X_future: series 0 expected 12 rows"):
        f.predict(X_future=X[len(air) : -1])
    g = Forecaster(24, 12, **FAST).fit(air)
    with pytest.raises(ValueError, match="X_future: expected None"):
        g.predict(X_future=X[:12])


def test_backtest_is_consistent_with_predict(air):
    f = Forecaster(24, 12, **FAST).fit(air[:-12])
    bt = f.backtest(air, n_windows=4, step=6, season_length=12)
    assert isinstance(bt, Backtest)
    np.testing.assert_array_equal(bt.origins, [114, 120, 126, 132])
    assert bt.forecasts.shape == bt.actuals.shape == (4, 12)
    np.testing.assert_array_equal(bt.actuals[-1], air[-12:])
    for i in (0, 3):  # a batched pass equals one forecast per origin, up to rounding
        np.testing.assert_allclose(bt.forecasts[i], f.predict(y=air[: bt.origins[i]]), rtol=1e-5)
    s = bt.summary()
    assert set(s) == {"mae", "rmse", "mape", "smape", "mase"}
    assert s["mae"] == pytest.approx(np.mean(np.abs(bt.forecasts - bt.actuals).mean(axis=1)))
    with pytest.raises(ValueError, match="n_windows"):
        f.backtest(air, n_windows=200)


def test_pandas_series_input(air):
    pd = pytest.importorskip("pandas")
    s = pd.Series(air, index=pd.date_range("1949-01", periods=len(air), freq="MS"))
    a = Forecaster(24, 12, **FAST).fit(s).predict()  # the season (12) comes from the dates
    b = Forecaster(24, 12, season_length=12, **FAST).fit(air).predict()
    assert isinstance(a, pd.Series) and a.index[0] == pd.Timestamp("1961-01-01")
    np.testing.assert_array_equal(a.to_numpy(), b)


def test_log_transform_choice_and_errors(air):
    f = Forecaster(24, 12, **FAST).fit(air - 200)  # has values <= 0: no log
    assert not f.log_.any()
    assert Forecaster(24, 12, **FAST).fit(air).log_.all()
    # per series: the one series with values <= 0 leaves the other on the log scale, whose
    # forecast is the same as in a panel of positive series only
    g = Forecaster(24, 12, **FAST).fit([air, air - 200])
    assert g.log_.tolist() == [True, False]
    both_positive = Forecaster(24, 12, **FAST).fit([air, air + 1.0])
    assert both_positive.log_.tolist() == [True, True]
    assert np.isfinite(np.concatenate(g.predict())).all()
    lo, hi = g.predict_interval(coverage=0.9)[0][:, 0].T
    assert np.all(lo > 0) and np.all(hi / lo > 1.0)  # log-scale bounds: positive, asymmetric
    with pytest.raises(ValueError, match="transform='log' expected positive values"):
        Forecaster(24, 12, transform="log", **FAST).fit(air - 200)
    with pytest.raises(
        ValueError, match="y: series 0 expected at least lookback \\+ horizon = 36 points, got 30"
    ):
        Forecaster(24, 12, **FAST).fit(air[:30])
    # the constructor only stores; fit checks every argument, in one message format
    with pytest.raises(ValueError, match="strategy: expected 'mimo' or 'recursive', got 'direct'"):
        Forecaster(24, 12, strategy="direct").fit(air)
    with pytest.raises(ValueError, match="scaler: expected 'standard', 'minmax' or 'robust' or None, got"):
        Forecaster(24, 12, scaler="zscore").fit(air)
    with pytest.raises(TypeError, match="lookback: expected an int >= 1 or None, got 24.0"):
        Forecaster(24.0, 12).fit(air)
    with pytest.raises(RuntimeError, match="call fit"):
        Forecaster(24, 12).predict()
    with pytest.raises(ValueError, match="y: expected finite values"):
        Forecaster(24, 12, **FAST).fit(np.append(air, np.nan))


@pytest.mark.parametrize("scaler", ["minmax", "robust", None])
def test_other_scalers_and_settings(air, scaler):
    f = Forecaster(24, 12, scaler=scaler, normalize=None, loss="huber", num_layers=2, **FAST).fit(air)
    p = f.predict()
    assert p.shape == (12,) and np.all(np.isfinite(p))
