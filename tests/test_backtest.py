"""The back-test's choice (backtest.choose_mix) on constructed inputs: a seasonal series' pick is
shrunk towards the network unless the evidence for it is strong (a near-exact pick) or the half
mix would lose to seasonal naive on the back-test; a series without a season keeps its pick."""

import numpy as np

from fastlstm.forecast.backtest import KEEP_RATIO, MIXES, choose_mix
from fastlstm.forecast.candidates import Prepared, SeasonalNaive

NETWORK, SNAIVE = MIXES[0], MIXES[2]
N, H, M = 96, 12, 12
ORIGINS = np.arange(N - H, N)  # one horizon, as for a seasonal series


def _series(seed: int) -> np.ndarray:
    """A random walk plus a fixed season of period M."""
    rng = np.random.default_rng(seed)
    return 100.0 + np.cumsum(rng.normal(size=N)) + 5.0 * np.sin(2 * np.pi * np.arange(N) / M)


def _actual(s):
    t = ORIGINS[:, None] + np.arange(H)[None, :]
    return np.where(t < N, s[np.minimum(t, N - 1)], np.nan)


def _snaive(s, m=M):
    j = np.arange(H)[None, :]
    return s[ORIGINS[:, None] - m + (j % m)]


def _choose(s, fz, mixes, season=M):
    # no log, no seasonal indices: the z scale is the series itself, and the network's forecast
    # in the original units is fz
    data = Prepared([s], np.array([False]), [None], season, H, H, H)
    snaive = SeasonalNaive().forecast(data, 0, s, ORIGINS, H)
    cands = None if mixes == [NETWORK] else {"network": fz, "seasonal naive": snaive}
    return choose_mix(s, s.copy(), ORIGINS, fz, fz, cands, None, False, season, mixes)


def _mae(actual, forecast) -> float:
    return float(np.nanmean(np.abs(actual - forecast)))


def test_weak_evidence_keeps_half_the_network():
    """A network whose errors are independent of seasonal naive's and a little larger: seasonal
    naive is the pick, on weak evidence, and half of each beats both (the errors partly cancel)."""
    s = _series(0)
    actual = _actual(s)
    noise = np.random.default_rng(10).normal(scale=1.5 * _mae(actual, _snaive(s)), size=actual.shape)
    fz = np.where(np.isfinite(actual), actual, s[-1]) + noise
    mae_net, mae_sn = _mae(actual, fz), _mae(actual, _snaive(s))
    assert KEEP_RATIO * mae_net < mae_sn < mae_net  # the seasonal naive pick, on weak evidence
    err, w = _choose(s, fz, [NETWORK, SNAIVE])
    assert w == {"network": 0.5, "seasonal naive": 0.5}
    np.testing.assert_allclose(err, actual - (0.5 * fz + 0.5 * _snaive(s)), rtol=1e-12)
    assert np.nanmean(np.abs(err)) <= mae_sn  # never worse than seasonal naive on the back-test
    # one mix: its errors, not shrunk
    err1, w1 = _choose(s, fz, [SNAIVE])
    assert w1 == SNAIVE
    np.testing.assert_allclose(err1, actual - _snaive(s), rtol=1e-12)


def test_a_half_mix_that_loses_to_seasonal_naive_is_not_taken():
    """A network off by a constant: half of it would lose to seasonal naive on the back-test, so
    seasonal naive alone is kept (the fallback's guarantee), though the evidence is not near-exact."""
    s = _series(0)
    actual = _actual(s)
    mae_sn = _mae(actual, _snaive(s))
    bias = np.sign(np.nanmean(_snaive(s) - actual))  # the side seasonal naive errs on
    fz = _snaive(s) + bias * mae_sn  # further to that side
    half = _mae(actual, 0.5 * fz + 0.5 * _snaive(s))
    assert KEEP_RATIO * _mae(actual, fz) < mae_sn < half  # not near-exact, and the half mix loses
    err, w = _choose(s, fz, [NETWORK, SNAIVE])
    assert w == SNAIVE
    np.testing.assert_allclose(err, actual - _snaive(s), rtol=1e-12)


def test_a_series_without_a_season_keeps_its_pick():
    """The case of the first test, without a season: the pick (naive) alone, unshrunk."""
    s = _series(0)
    actual = _actual(s)
    noise = np.random.default_rng(10).normal(scale=1.5 * _mae(actual, _snaive(s, 1)), size=actual.shape)
    fz = np.where(np.isfinite(actual), actual, s[-1]) + noise
    assert _mae(actual, _snaive(s, 1)) < _mae(actual, fz)
    err, w = _choose(s, fz, [NETWORK, SNAIVE], season=1)
    assert w == SNAIVE
    np.testing.assert_allclose(err, actual - _snaive(s, 1), rtol=1e-12)


def test_strong_evidence_switches_to_the_pick():
    """A series that repeats its season exactly over the back-test: seasonal naive is exact, the
    network is not: seasonal naive alone."""
    s = _series(1)
    s[N - H - M :] = np.tile(s[N - H - M : N - H], 2)  # the last two seasons are the same
    actual = _actual(s)
    fz = _snaive(s) + 0.8
    err, w = _choose(s, fz, [NETWORK, SNAIVE])
    assert w == SNAIVE
    np.testing.assert_array_equal(err[np.isfinite(actual)], 0.0)


def test_the_network_picked_stays_alone():
    s = _series(2)
    actual = _actual(s)
    fz = np.where(np.isfinite(actual), actual, 0.0) + 0.01  # nearly exact
    err, w = _choose(s, fz, list(MIXES[:3]))
    assert w == NETWORK
    np.testing.assert_allclose(err[np.isfinite(actual)], -0.01, rtol=1e-9)


def test_no_series_of_a_panel_does_worse_than_seasonal_naive_on_its_back_test():
    """The fallback's guarantee, per series of a panel (issue 19): each series' chosen mix has a
    back-test MAE at most seasonal naive's, whatever the global network learned."""
    from fastlstm.forecast.backtest import SHORT_MIX, backtest_series, run
    from fastlstm.forecast.candidates import MEMBERS, LSTMEnsemble, forecasts, mix
    from fastlstm.forecast.forecaster import Forecaster

    rng = np.random.default_rng(3)
    t = np.arange(84)
    panel = [
        50 + a * np.sin(2 * np.pi * t / 12) + np.cumsum(rng.normal(0, noise, len(t)))
        for a, noise in ((5, 0.5), (0.5, 2.0), (8, 0.2), (2, 1.0), (0, 1.5), (6, 3.0))
    ]
    params = Forecaster(epochs=2, n_models=1, hidden_size=4, seed=0).get_params()
    data = Prepared(panel, np.zeros(len(panel), dtype=bool), [None] * len(panel), 12, 12, 24, 12)
    network = LSTMEnsemble(params, [1, 2])
    ends = [len(s) for s in panel]
    chosen, errors = run(data, network, ends, MIXES, SHORT_MIX)
    stretch, rows = backtest_series(ends, 12, 12, 24, 12)
    assert rows == list(range(len(panel))) and set(errors) == set(rows)
    starts = [e - stretch for e in ends]
    members = {name: MEMBERS[name]().fit(data, rows, starts) for name in MEMBERS}
    picks = set()
    for i in rows:
        s, origins = panel[i], np.arange(ends[i] - stretch, ends[i])
        cands = forecasts({"network": network, **members}, data, ["network", *MEMBERS], i, s, origins, 12)
        act = _actual_of(s, origins)
        mae_chosen = np.nanmean(np.abs(act - mix(chosen[i], cands)))
        mae_snaive = np.nanmean(np.abs(act - cands["seasonal naive"]))
        assert mae_chosen <= mae_snaive + 1e-9, (i, chosen[i], mae_chosen, mae_snaive)
        picks.add(tuple(sorted(chosen[i])))
    assert len(picks) > 1  # the series did not all get the same mix: the check is not vacuous


def _actual_of(s, origins):
    t = origins[:, None] + np.arange(12)[None, :]
    return np.where(t < len(s), s[np.minimum(t, len(s) - 1)], np.nan)
