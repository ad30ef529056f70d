"""Conformal calibration (forecast.intervals.calibrate): the step scale and the pooled scores."""

import numpy as np

from fastlstm.forecast import intervals


def _errors(growth: float, n_origins: int = 40, horizon: int = 12, seed: int = 0) -> dict:
    """Back-test errors whose size grows as step**growth (NaN past the data, as in a back-test)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(1, horizon + 1)
    e = rng.normal(size=(n_origins, horizon)) * steps**growth
    e[np.arange(n_origins)[:, None] + steps[None, :] > n_origins] = np.nan
    return {0: e}


def test_step_scale_follows_the_errors_growth():
    z = np.cumsum(np.random.default_rng(1).normal(size=200))
    _, (a, b), scores = intervals.calibrate(_errors(1.0), [z], 12)
    assert abs(b - 1.0) < 0.15  # fitted where it is above the floor
    assert np.all(np.diff(scores) >= 0) and np.isfinite(scores).all()


def test_step_scale_grows_at_least_as_a_random_walk():
    """Errors that do not grow with the step (as a back-test with few long-step origins can
    show) still get intervals that widen like sqrt(step): b is held at MIN_STEP_EXPONENT."""
    z = np.cumsum(np.random.default_rng(1).normal(size=200))
    _, (a, b), scores = intervals.calibrate(_errors(0.0), [z], 12)
    assert b == intervals.MIN_STEP_EXPONENT == 0.5
    width = intervals.halfwidth(scores, np.array([a, b]), 0.8, 12)
    np.testing.assert_allclose(width[3] / width[0], 2.0, rtol=1e-12)  # sqrt(4)
