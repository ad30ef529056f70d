"""Seasonality test and classical decomposition against statsmodels and first principles."""

from __future__ import annotations

import numpy as np
import pytest
from tolerances import DECOMPOSE_RTOL

from fastlstm.forecast.datasets import load_airpassengers
from fastlstm.forecast.decompose import acf, classical_decompose, seasonality_test


def _seasonal(rng, n=120, m=12, amp=3.0):
    t = np.arange(n)
    return 50 + 0.1 * t + amp * np.sin(2 * np.pi * t / m) + rng.normal(size=n)


def test_acf_matches_its_definition(rng):
    x = rng.normal(size=50)
    r = acf(x, 5)
    d = x - x.mean()
    for k in range(6):
        assert r[k] == pytest.approx(np.sum(d[: 50 - k] * d[k:]) / np.sum(d * d), rel=1e-12)
    np.testing.assert_array_equal(acf(np.ones(10), 3), [1, 0, 0, 0])
    with pytest.raises(ValueError, match="max_lag: expected less than the series length 10, got 10"):
        acf(np.ones(10), 10)


def test_seasonality_test_finds_seasons_and_not_noise(rng):
    assert seasonality_test(_seasonal(rng), 12)
    assert seasonality_test(load_airpassengers(), 12)
    noise = [seasonality_test(rng.normal(size=120), 12) for _ in range(40)]
    assert sum(noise) <= 10  # a 90% test: about 4 false positives expected
    assert not seasonality_test(_seasonal(rng, n=30), 12)  # under 3 seasons
    assert not seasonality_test(_seasonal(rng), 1)


@pytest.mark.parametrize("model", ["additive", "multiplicative"])
@pytest.mark.parametrize("m, n", [(12, 144), (4, 41), (7, 50)])
def test_classical_decompose_matches_statsmodels(model, m, n):
    from statsmodels.tsa.seasonal import seasonal_decompose

    y = load_airpassengers()[:n]
    ours = classical_decompose(y, m, model)
    ref = seasonal_decompose(y, model=model, period=m)
    for name in ("trend", "seasonal", "resid"):
        a, b = getattr(ours, name), np.asarray(getattr(ref, name))
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        ok = ~np.isnan(b)
        np.testing.assert_allclose(a[ok], b[ok], rtol=DECOMPOSE_RTOL)
    np.testing.assert_allclose(
        ours.seasonal_at(np.arange(n, n + 2 * m)), ours.indices[np.arange(n, n + 2 * m) % m]
    )
    centre = 0.0 if model == "additive" else 1.0
    assert ours.indices.mean() == pytest.approx(centre, abs=1e-12)


def test_classical_decompose_recovers_a_known_pattern():
    m = 4
    pattern = np.array([3.0, -1.0, -4.0, 2.0])
    y = 10 + 0.5 * np.arange(40) + pattern[np.arange(40) % m]
    d = classical_decompose(y, m)
    np.testing.assert_allclose(d.indices, pattern, atol=1e-12)  # a linear trend passes the 2x4 MA exactly
    np.testing.assert_allclose(d.resid[2:-2], 0.0, atol=1e-12)


def test_decompose_errors():
    with pytest.raises(ValueError, match="y: expected at least 2 \\* m = 24 points, got 20"):
        classical_decompose(np.ones(20), 12)
    with pytest.raises(ValueError, match="model: expected 'additive' or 'multiplicative'"):
        classical_decompose(np.ones(30), 4, "both")
    with pytest.raises(ValueError, match="positive values"):
        classical_decompose(np.r_[0.0, np.ones(20)], 4, "multiplicative")
    with pytest.raises(ValueError, match="y: expected finite values"):
        seasonality_test(np.r_[np.nan, np.ones(40)], 4)
