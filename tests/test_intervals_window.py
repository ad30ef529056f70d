"""The intervals' calibration window (forecast.backtest.calibration_errors): the back-test's errors
and the final candidates' in-sample errors before it, CALIBRATION_HORIZONS horizons in all."""

import numpy as np
import pytest

import fastlstm
from fastlstm.forecast import Forecaster, backtest, intervals

H = 4


def _walks(n: int, length: int, burst: float, seed: int) -> tuple[list, list]:
    """Random walks (step sd 1) whose last horizon before the end of the training data has step
    sd ``burst`` (a recession in the calibration window, a calm hold-out after it)."""
    r = np.random.default_rng(seed)
    trains, tests = [], []
    for _ in range(n):
        sd = np.ones(length + H)
        sd[length - H : length] = burst
        y = 50 + np.cumsum(r.normal(0, 1, length + H) * sd)
        trains.append(y[:length])
        tests.append(y[length:])
    return trains, tests


def _fit(trains) -> Forecaster:
    f = Forecaster(horizon=H, season_length=1, lookback=8, epochs=2, n_models=1, transform=None, seed=0)
    with fastlstm.threads(1):
        return f.fit(trains)


@pytest.fixture(scope="module")
def fitted():
    trains, tests = _walks(40, 72, 3.0, 0)
    return _fit(trains), tests


def test_a_volatile_last_stretch_does_not_set_the_intervals_alone(fitted):
    """The calibration of one stretch (the back-test's two horizons) gave 95% of the calm hold-out
    inside the 80% intervals (100% inside the 95% ones); four horizons give 83% / 99%."""
    f, tests = fitted
    assert f.calibration_ == "backtest"
    with fastlstm.threads(1):
        iv = f.predict_interval(coverage=(0.8, 0.95))
    inside = np.array(
        [
            [np.mean((t >= v[:, j, 0]) & (t <= v[:, j, 1])) for j in (0, 1)]
            for t, v in zip(tests, iv, strict=True)
        ]
    )
    cov80, cov95 = inside.mean(axis=0)
    assert abs(cov80 - 0.8) <= 0.07, cov80
    assert cov95 >= 0.9, cov95


def test_the_window_is_the_back_test_and_the_in_sample_errors_before_it(fitted):
    f, _ = fitted
    data, ends = f._data, [len(s) for s in f.series_]
    stretch = 2 * H  # no season: the back-test holds out two horizons
    held = {i: np.full((stretch, H), float(i)) for i in range(3)}  # stand-ins, recognisable
    with fastlstm.threads(1):
        errors, kind = backtest.calibration_errors(data, f.candidates_, f.mix_, held, ends)
    assert kind == "mixed"  # series 3, 4, ... had no back-test errors here
    for i in range(3):
        assert errors[i].shape == (backtest.CALIBRATION_HORIZONS * H, H)
        np.testing.assert_array_equal(errors[i][-stretch:], held[i])  # the back-test's, last
        assert np.isfinite(errors[i][:-stretch][:, 0]).all()  # in-sample, every step inside the data
    assert errors[3].shape == (backtest.CALIBRATION_HORIZONS * H, H)  # in-sample only
    assert np.isnan(errors[3][-1, 1:]).all() and np.isfinite(errors[3][-1, 0])  # past the data: NaN


def test_a_series_too_short_for_the_window_starts_at_its_lookback():
    trains, _ = _walks(3, 14, 1.0, 1)  # 14 points: no back-test, 6 origins after the lookback
    f = _fit(trains)
    assert f.calibration_ == "in-sample"
    data, ends = f._data, [len(s) for s in f.series_]
    with fastlstm.threads(1):
        errors, kind = backtest.calibration_errors(data, f.candidates_, f.mix_, {}, ends)
    assert kind == "in-sample"
    assert all(e.shape == (14 - f.lookback_, H) for e in errors.values())
    assert np.isfinite(f.scores_).all() and len(f.scores_) > 0


def test_origins_a_candidate_cannot_forecast_from_fall_back(fitted, monkeypatch):
    """As an AR order longer than the history at the window's first origins: the back-tested
    series keep their back-test errors alone, a short one the origins of its last horizon."""
    f, _ = fitted
    data, ends = f._data, [len(s) for s in f.series_]
    real = backtest.errors_and_mix
    earliest = ends[0] - 2 * H  # the window's earlier origins raise

    def picky(data, candidates, i, end, origins, mixes):
        if origins.min() < earliest:
            raise ValueError(f"origins: expected values >= {earliest}, got {origins.min()}")
        return real(data, candidates, i, end, origins, mixes)

    monkeypatch.setattr(backtest, "errors_and_mix", picky)
    held = {0: np.zeros((2 * H, H))}
    with fastlstm.threads(1):
        errors, kind = backtest.calibration_errors(data, f.candidates_, f.mix_, held, ends)
    assert kind == "mixed"
    np.testing.assert_array_equal(errors[0], held[0])  # the back-test alone
    assert errors[1].shape == (H, H)  # the last horizon's origins
    np.testing.assert_array_equal(
        errors[1], real(data, f.candidates_, 1, ends[1], np.arange(ends[1] - H, ends[1]), [f.mix_[1]])[0]
    )


def test_a_large_panel_keeps_evenly_spaced_order_statistics_of_its_scores(monkeypatch):
    rng = np.random.default_rng(0)
    horizon = 3
    errors = {i: rng.standard_normal((10, horizon)) for i in range(40)}
    zs = [np.cumsum(rng.standard_normal(50)) for _ in range(40)]
    _, step_all, all_scores = intervals.calibrate(errors, zs, horizon)
    monkeypatch.setattr(intervals, "MAX_SCORES", 101)
    _, step, kept = intervals.calibrate(errors, zs, horizon)
    assert len(all_scores) == 1200 and len(kept) == 101
    np.testing.assert_array_equal(step, step_all)
    assert kept[0] == all_scores[0] and kept[-1] == all_scores[-1]
    assert np.all(np.diff(kept) >= 0)
    for c in (0.5, 0.8, 0.95):  # a quantile moves by at most two steps of the thinning (12 ranks)
        q_all = intervals.halfwidth(all_scores, step, c, 1)[0]
        q_kept = intervals.halfwidth(kept, step, c, 1)[0]
        lo, hi = np.searchsorted(all_scores, [q_kept, q_all])
        assert abs(int(hi) - int(lo)) <= 2 * 12 + 1
