"""The back-test's choice (backtest.choose_mix) on constructed inputs: the pick is shrunk towards the
network unless the evidence for it is strong (a near-exact pick) or the half mix would lose to
seasonal naive on the back-test."""

import numpy as np

from fastlstm.forecast.backtest import KEEP_RATIO, MIXES, choose_mix

NETWORK, SNAIVE = MIXES[0], MIXES[2]
N, H = 60, 6
ORIGINS = np.arange(N - 2 * H, N)  # two horizons, as for a series without a season


def _window(s):
    t = ORIGINS[:, None] + np.arange(H)[None, :]
    ok = t < N
    return np.where(ok, s[np.minimum(t, N - 1)], np.nan), t


def _naive(s):
    return np.repeat(s[ORIGINS - 1][:, None], H, axis=1)


def _choose(s, fz, mixes):
    # no log, no season: the z scale is the series itself
    return choose_mix(s, s.copy(), ORIGINS, fz, None, False, 1, mixes)


def test_weak_evidence_keeps_half_the_network():
    """A random walk and a network whose errors are independent of naive's and a little larger:
    naive is the pick, on weak evidence, and half of each beats both (the errors partly cancel)."""
    s = 100.0 + np.cumsum(np.random.default_rng(0).normal(size=N))
    actual, _ = _window(s)
    noise = np.random.default_rng(10).normal(scale=1.6, size=actual.shape)
    fz = np.where(np.isfinite(actual), actual, s[-1]) + noise
    mae_net, mae_naive = np.nanmean(np.abs(actual - fz)), np.nanmean(np.abs(actual - _naive(s)))
    assert KEEP_RATIO * mae_net < mae_naive < mae_net  # the naive pick, on weak evidence
    err, w = _choose(s, fz, [NETWORK, SNAIVE])
    assert w.tolist() == [0.5, 0.5, 0.0, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(err, actual - (0.5 * fz + 0.5 * _naive(s)), rtol=1e-12)
    assert np.nanmean(np.abs(err)) <= mae_naive  # never worse than seasonal naive on the back-test
    # one mix: its errors, not shrunk
    err1, w1 = _choose(s, fz, [SNAIVE])
    assert w1.tolist() == list(SNAIVE)
    np.testing.assert_allclose(err1, actual - _naive(s), rtol=1e-12)


def test_a_half_mix_that_loses_to_seasonal_naive_is_not_taken():
    """A network off by a constant: half of it would lose to naive on the back-test, so naive
    alone is kept (the fallback's guarantee), though the evidence is not near-exact."""
    s = 100.0 + np.cumsum(np.random.default_rng(0).normal(size=N))
    actual, _ = _window(s)
    mae_naive = np.nanmean(np.abs(actual - _naive(s)))
    fz = _naive(s) + 2.5 * mae_naive
    mae_net = np.nanmean(np.abs(actual - fz))
    half = np.nanmean(np.abs(actual - (0.5 * fz + 0.5 * _naive(s))))
    assert KEEP_RATIO * mae_net < mae_naive < half  # not near-exact, and the half mix loses
    err, w = _choose(s, fz, [NETWORK, SNAIVE])
    assert w.tolist() == list(SNAIVE)
    np.testing.assert_allclose(err, actual - _naive(s), rtol=1e-12)


def test_strong_evidence_switches_to_the_pick():
    """A series flat over the back-test: naive is exact, the network is not: naive alone."""
    s = np.concatenate([100.0 + np.cumsum(np.random.default_rng(1).normal(size=40)), np.full(N - 40, 7.0)])
    actual, _ = _window(s)
    fz = _naive(s) + 0.8
    err, w = _choose(s, fz, [NETWORK, SNAIVE])
    assert w.tolist() == list(SNAIVE)
    np.testing.assert_array_equal(err[np.isfinite(actual)], 0.0)


def test_the_network_picked_stays_alone():
    s = 100.0 + np.cumsum(np.random.default_rng(2).normal(size=N))
    actual, _ = _window(s)
    fz = np.where(np.isfinite(actual), actual, 0.0) + 0.01  # nearly exact
    err, w = _choose(s, fz, list(MIXES[:3]))
    assert w.tolist() == list(NETWORK)
    np.testing.assert_allclose(err[np.isfinite(actual)], -0.01, rtol=1e-9)
