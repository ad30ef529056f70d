"""The ES-RNN hybrid (fastlstm/forecast/esrnn.py): its exact gradient, determinism, learning a
seasonal pattern, bad inputs, and ``Forecaster(model="esrnn")``."""

from __future__ import annotations

import numpy as np
import pytest
from tolerances import ESRNN_FD, ESRNN_FD_STEP, ESRNN_SEASON_ATOL, gradcheck_err

from fastlstm.forecast import Forecaster
from fastlstm.forecast import esrnn as E
from fastlstm.nn.layers import LSTMRegressor
from fastlstm.nn.losses import get_loss

PATTERN = np.array([0.3, -0.1, -0.35, 0.15])  # centred: sums to 0


def _sim(seed: int, n: int = 120) -> np.ndarray:
    """A log-scale series: a drifting random-walk level, PATTERN, small noise."""
    r = np.random.default_rng(seed)
    level = 3 + np.cumsum(r.normal(0.005, 0.02, n))
    return level + PATTERN[np.arange(n) % 4] + r.normal(0, 0.02, n)


def _fd(f, x: np.ndarray, idx, step: float) -> float:
    """Fourth-order central difference of ``f`` in the entry ``idx`` of ``x`` (restored after)."""
    x0 = x[idx]
    vals = []
    for k in (-2, -1, 1, 2):
        x[idx] = x0 + k * step
        vals.append(f())
    x[idx] = x0
    return (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * step)


@pytest.mark.parametrize("loss_name", ["mse", "huber"])
def test_gradient_through_smoothing_and_network_matches_finite_differences(loss_name):
    rng = np.random.default_rng(0)
    m, k, h = 4, 6, 5
    series = [_sim(s, n) for s, n in ((1, 30), (2, 26), (3, 33))]
    data = E._Data(series, m, np.array([True, False, True]), np.array([0.05, 0.08, 0.06]))
    es = {
        "raw_alpha": rng.normal(0, 1, 3),
        "raw_gamma": rng.normal(-1, 1, 3),
        "s0": rng.normal(0, 0.1, (3, m)),
    }
    net = LSTMRegressor(1, h, hidden_size=5, dtype=np.float64, seed=1).train()
    loss = get_loss(loss_name)
    sid, t = np.array([0, 0, 1, 2, 2, 1, 0]), np.array([5, 20, 10, 7, 27, 20, 29 - h])

    def value():
        return E.batch_loss(data, es, net, loss, sid, t, k, h)[0]

    net.zero_grad()
    _, grads = E.batch_loss(data, es, net, loss, sid, t, k, h)
    net_grads = [p.grad.copy() for p in net.parameters()]  # value() below accumulates more
    checked = 0
    for name, arr in es.items():
        for idx in np.ndindex(arr.shape):
            num = _fd(value, arr, idx, ESRNN_FD_STEP)
            err = gradcheck_err(grads[name][idx], num)
            assert err <= ESRNN_FD, f"{name}{idx}: analytic {grads[name][idx]:.6e}, numeric {num:.6e}"
            checked += abs(num) > 1e-6
    assert checked >= 12  # the smoothing gradients are not trivially zero
    # the level-only series has no seasonal gradient, exactly
    assert grads["raw_gamma"][1] == 0 and not grads["s0"][1].any()
    params = net.parameters()
    for j in (0, 1, 2, len(params) - 1):  # LSTM weights and the head's bias
        p, analytic = params[j], net_grads[j]
        for idx in [tuple(rng.integers(0, d) for d in p.shape) for _ in range(3)]:
            num = _fd(value, p.data, idx, ESRNN_FD_STEP)
            assert gradcheck_err(analytic[idx], num) <= ESRNN_FD, f"{p.name}{idx}"


def test_a_wrong_recursion_gradient_is_caught(monkeypatch):
    """The check above can fail: drop the seasonal term's dependence on the level."""
    real = E._es_backward.py_func

    def broken(y, lengths, alpha, gamma, seasonal, level, seas, g_level, g_seas, d_alpha, d_gamma, d_s0):
        real(y, lengths, alpha, gamma, seasonal, level, seas, g_level, g_seas, d_alpha, d_gamma, d_s0)
        d_alpha *= 1.01

    monkeypatch.setattr(E, "_es_backward", broken)
    series = [_sim(1, 30)]
    data = E._Data(series, 4, np.array([True]), np.array([0.05]))
    es = {"raw_alpha": np.array([0.3]), "raw_gamma": np.array([-1.0]), "s0": np.full((1, 4), 0.05)}
    net = LSTMRegressor(1, 3, hidden_size=4, dtype=np.float64, seed=2).train()
    loss, sid, t = get_loss("mse"), np.array([0, 0]), np.array([7, 20])
    _, grads = E.batch_loss(data, es, net, loss, sid, t, 6, 3)
    num = _fd(
        lambda: E.batch_loss(data, es, net, loss, sid, t, 6, 3)[0], es["raw_alpha"], (0,), ESRNN_FD_STEP
    )
    assert gradcheck_err(grads["raw_alpha"][0], num) > ESRNN_FD


def test_same_seed_same_forecasts_other_seed_other_forecasts():
    ys = [_sim(s, 60) for s in range(3)]
    kw = {"season_length": 4, "horizon": 4, "n_models": 2, "hidden_size": 6, "epochs": 3}
    a = E.ESRNN(seed=5, **kw).fit(ys)
    b = E.ESRNN(seed=5, **kw).fit(ys)
    c = E.ESRNN(seed=6, **kw).fit(ys)
    for p, q in zip(a.predict(), b.predict(), strict=True):
        np.testing.assert_array_equal(p, q)
    for name in ("raw_alpha", "raw_gamma", "s0"):
        np.testing.assert_array_equal(a.es_[1][name], b.es_[1][name])
    assert not np.array_equal(a.predict()[0], c.predict()[0])
    assert not np.array_equal(a.es_[0]["raw_alpha"], E._RAW_ALPHA0)  # the smoothing was trained


def test_recovers_a_seasonal_pattern_learned_from_zero(monkeypatch):
    """With the initial seasonal indices at 0 (not the classical decomposition's), the gradient
    alone must find the simulated pattern."""
    real = E.ESRNN._init_es

    def zero_start(self, series):
        seasonal, scale, s0 = real(self, series)
        return np.ones_like(seasonal), scale, np.zeros_like(s0)

    monkeypatch.setattr(E.ESRNN, "_init_es", zero_start)
    ys = [_sim(s) for s in range(4)]
    f = E.ESRNN(season_length=4, horizon=4, n_models=1, hidden_size=8, seed=0).fit(ys)
    assert f.losses_[0][-1] < 0.6 * f.losses_[0][0]
    for i, y in enumerate(ys):
        _, seas = f.smoothing(i, y)
        last = np.empty(4)
        last[np.arange(len(y), len(y) + 4) % 4] = seas[len(y) : len(y) + 4]
        np.testing.assert_allclose(last - last.mean(), PATTERN, atol=ESRNN_SEASON_ATOL)
    # the forecasts carry the pattern too
    fc = f.predict()[0]
    est = np.empty(4)
    est[np.arange(len(ys[0]), len(ys[0]) + 4) % 4] = fc
    np.testing.assert_allclose(est - est.mean(), PATTERN, atol=2 * ESRNN_SEASON_ATOL)


def test_level_only_without_a_season():
    ys = [3 + np.cumsum(np.random.default_rng(s).normal(0.01, 0.05, 40)) for s in range(2)]
    f = E.ESRNN(season_length=1, horizon=3, n_models=1, hidden_size=4, epochs=2).fit(ys)
    assert not f.seasonal_.any() and f.es_[0]["s0"].shape == (2, 1)
    assert np.all(f.es_[0]["raw_gamma"] == E._RAW_GAMMA0)  # never used, never moved
    p = f.predict(h=7)  # chained past the horizon
    assert p[0].shape == (7,) and np.isfinite(p[0]).all()
    np.testing.assert_array_equal(p[0][:3], f.predict()[0])


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="season"):
        E.ESRNN(season_length=0)
    with pytest.raises(ValueError, match="deseasonalize"):
        E.ESRNN(deseasonalize="yes")
    with pytest.raises(ValueError, match="loss"):
        E.ESRNN(loss="l3")
    f = E.ESRNN(season_length=4, horizon=4, epochs=1, n_models=1)
    with pytest.raises(TypeError, match="series: expected a list"):
        f.fit(np.ones(50))
    with pytest.raises(ValueError, match=r"series\[1\]: expected finite"):
        f.fit([np.ones(50), np.r_[np.ones(49), np.nan]])
    with pytest.raises(ValueError, match=r"series\[0\]: expected at least lookback \+ horizon"):
        E.ESRNN(season_length=4, horizon=4, lookback=8).fit([np.ones(11)])
    with pytest.raises(RuntimeError, match="call fit"):
        f.predict()
    f.fit([_sim(0, 40)])
    with pytest.raises(ValueError, match="origins"):
        f.forecast(0, _sim(0, 40), [2], 4)
    with pytest.raises(ValueError, match="series: expected 1 series"):
        f.predict(series=[_sim(0, 40), _sim(1, 40)])


# ------------------------------------------------------------------ Forecaster(model="esrnn")
TINY = {"epochs": 3, "n_models": 1, "hidden_size": 6, "seed": 0}


def test_forecaster_model_argument_is_checked():
    y = np.exp(_sim(0, 80))
    with pytest.raises(ValueError, match="model: expected 'lstm' or 'esrnn', got 'gru'"):
        Forecaster(model="gru").fit(y)
    with pytest.raises(ValueError, match="strategy: model='esrnn' expected 'mimo'"):
        Forecaster(model="esrnn", strategy="recursive").fit(y)
    with pytest.raises(ValueError, match="X: not supported with model='esrnn'"):
        Forecaster(model="esrnn", season_length=4, **TINY).fit(y, X=np.ones((80, 1)))
    with pytest.raises(ValueError, match="val_size: not supported"):
        Forecaster(model="esrnn", season_length=4, **TINY).fit(y, val_size=4)


def test_forecaster_esrnn_fits_predicts_and_round_trips(tmp_path):
    ys = [np.exp(_sim(s, 80)) for s in range(3)]
    f = Forecaster(model="esrnn", season_length=4, **TINY).fit(ys)
    net = f.candidates_["network"]
    assert net.esrnn_.n_series_ == 3 and net.models_ == net.esrnn_.networks_
    assert f.calibration_ == "backtest" and len(f.mix_) == 3 and all(isinstance(w, dict) for w in f.mix_)
    p = f.predict()
    assert len(p) == 3 and p[0].shape == (8,) and all(np.isfinite(x).all() for x in p)
    iv = f.predict_interval()
    assert np.all(iv[0][:, :, 0] <= iv[0][:, :, 1])
    g = Forecaster.load(f.save(tmp_path / "esrnn.ckpt"))
    assert g.model == "esrnn" and repr(g) == repr(f) and "model='esrnn'" in repr(f)
    for a, b in zip(g.predict(), p, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(g.predict_interval()[1], iv[1])


def test_former_argument_names_warn_and_still_work():
    with pytest.warns(DeprecationWarning, match="is renamed") as record:
        f = E.ESRNN(season=4, input_size=8, seasonality=False, horizon=4, epochs=1, n_models=1)
    assert len(record) == 3
    assert (f.season_length, f.lookback, f.deseasonalize) == (4, 8, False)
    f.fit([_sim(0, 40)])
    with pytest.warns(DeprecationWarning, match="'steps' is renamed 'h'"):
        old = f.forecast(0, _sim(0, 40), [30], steps=3)
    np.testing.assert_array_equal(old, f.forecast(0, _sim(0, 40), [30], h=3))
