"""The candidate protocol (fastlstm/forecast/candidates.py): the simple candidates on hand-made
inputs, the statistical members' refit, and a candidate added from outside, chosen by the
back-test, predicted and saved like the built-in ones."""

from __future__ import annotations

import numpy as np
import pytest

from fastlstm.forecast import Forecaster, candidates, forecaster
from fastlstm.forecast.candidates import Drift, Prepared, SeasonalNaive, StatisticalMember


def _data(s, season=4, log=False):
    return Prepared([np.asarray(s, dtype=float)], np.array([log]), [None], season, 3, 4, 3)


def test_seasonal_naive_repeats_the_last_season_and_falls_back_to_naive():
    s = np.arange(10.0)
    origins = np.array([8, 10])
    np.testing.assert_array_equal(
        SeasonalNaive().forecast(_data(s), 0, s, origins, 3), [[4.0, 5.0, 6.0], [6.0, 7.0, 8.0]]
    )
    # an origin with less than one season of history: the last value
    np.testing.assert_array_equal(SeasonalNaive().forecast(_data(s), 0, s, np.array([3]), 2), [[2.0, 2.0]])


def test_drift_continues_the_line_through_the_first_and_last_points():
    s = np.array([1.0, 5.0, 2.0, 7.0])  # first 1, last 7: slope 2 per step
    np.testing.assert_array_equal(Drift().forecast(_data(s), 0, s, np.array([4]), 3), [[9.0, 11.0, 13.0]])


def test_statistical_member_refits_where_it_has_no_parameters():
    rng = np.random.default_rng(0)
    s = 50 + np.cumsum(rng.normal(size=60))
    data = _data(s, season=1)
    fitted = StatisticalMember("theta").fit(data, [0], [60])
    unfitted = StatisticalMember("theta")  # as after loading a file without its parameters
    origins = np.array([60])
    np.testing.assert_array_equal(
        fitted.forecast(data, 0, s, origins, 5), unfitted.forecast(data, 0, s, origins, 5)
    )
    arrays, _ = fitted.get_state()
    restored = StatisticalMember("theta").restore(data, arrays, {})
    np.testing.assert_array_equal(
        restored.forecast(data, 0, s, origins, 5), fitted.forecast(data, 0, s, origins, 5)
    )


class Mean(candidates.Candidate):
    """The mean of the history before each origin (the example of docs/forecasting.md)."""

    def forecast(self, data, i, s, origins, h, cov=None):
        return np.stack([np.full(h, s[:o].mean()) for o in origins])


@pytest.fixture
def with_mean(monkeypatch):
    monkeypatch.setitem(candidates.MEMBERS, "mean", Mean)
    monkeypatch.setattr(forecaster, "_MIXES", ({"network": 1.0}, {"mean": 1.0}, {"seasonal naive": 1.0}))


def test_a_candidate_added_from_outside_is_chosen_predicted_and_saved(with_mean, tmp_path):
    y = 20.0 + np.random.default_rng(1).normal(scale=0.01, size=80)  # a level: the mean is best
    f = Forecaster(lookback=6, horizon=4, season_length=1, epochs=1, n_models=1, hidden_size=4, seed=0)
    f.fit(y)
    assert f.mix_ == [{"mean": 1.0}]
    assert "mean" in candidates.names() and "mean" in f.candidates_
    np.testing.assert_allclose(f.predict(), np.full(4, y.mean()), rtol=1e-12)
    lo, hi = f.predict_interval(coverage=0.9)[:, 0].T
    assert np.all(lo < y.mean()) and np.all(y.mean() < hi)
    f.save(tmp_path / "f.npz")
    g = Forecaster.load(tmp_path / "f.npz")
    assert g.mix_ == f.mix_
    np.testing.assert_array_equal(g.predict(), f.predict())
