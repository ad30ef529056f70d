"""Covariates on panels (issue 19): a known-future covariate that drives a panel halves the
error at least; per-series static features (numbers, categories) reach the network as
constant columns, are saved and reused by predict, and bad ones are refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fastlstm.forecast import Forecaster, frames

N, T, H = 8, 100, 6
KW = {"lookback": 12, "horizon": H, "season_length": 1, "epochs": 15, "n_models": 1, "hidden_size": 8}


def _promotions(seed: int = 0):
    """A panel whose level jumps by 4 on promotion days, known in advance (x = 1)."""
    rng = np.random.default_rng(seed)
    xs = [rng.integers(0, 2, size=(T + H, 1)).astype(float) for _ in range(N)]
    ys = [20 + 2 * k + 4 * x[:, 0] + rng.normal(0, 0.3, T + H) for k, x in enumerate(xs)]
    return ys, xs


def _mae(preds, ys) -> float:
    return float(np.mean([np.abs(p - y[T:]).mean() for p, y in zip(preds, ys, strict=True)]))


def test_a_known_future_covariate_at_least_halves_the_error():
    ys, xs = _promotions()
    f = Forecaster(seed=0, **KW).fit([y[:T] for y in ys], X=[x[:T] for x in xs])
    with_x = _mae(f.predict(X_future=[x[T:] for x in xs]), ys)
    without = _mae(Forecaster(seed=0, **KW).fit([y[:T] for y in ys]).predict(), ys)
    assert with_x <= 0.5 * without, (with_x, without)


def test_static_features_numbers_and_categories():
    values, columns = frames.static_features(
        pd.DataFrame({"size": [1.0, 2.0, 3.0], "region": ["n", "s", "n"]}), 3
    )
    assert columns == ["size", "region=n", "region=s"]
    np.testing.assert_array_equal(values, [[1, 1, 0], [2, 0, 1], [3, 1, 0]])
    # a long panel's frame is matched by unique_id, in any order
    values, _ = frames.static_features(pd.DataFrame({"a": [5.0, 6.0]}, index=["y", "x"]), 2, ids=["x", "y"])
    np.testing.assert_array_equal(values[:, 0], [6.0, 5.0])
    with pytest.raises(ValueError, match="static: expected a row for every unique_id, missing \\['z'\\]"):
        frames.static_features(pd.DataFrame({"a": [1.0]}, index=["x"]), 2, ids=["x", "z"])
    with pytest.raises(ValueError, match="static: expected one row per series \\(3\\)"):
        frames.static_features(np.ones((2, 1)), 3)
    with pytest.raises(ValueError, match="static: expected finite values"):
        frames.static_features(np.array([1.0, np.nan]), 2)


def test_static_features_reach_the_network_and_are_kept(tmp_path):
    ys, _ = _promotions()
    panel = [y[:T] for y in ys]
    group = pd.DataFrame({"group": ["a", "b"] * (N // 2), "size": np.arange(N, dtype=float)})
    kw = {**KW, "epochs": 2, "seed": 0}
    f = Forecaster(**kw).fit(panel, static=group)
    assert f.static_.shape == (N, 3) and f.static_columns_ == ["group=a", "group=b", "size"]
    # the network reads 3 constant input columns more than without
    plain = Forecaster(**kw).fit(panel)
    assert (
        f.candidates_["network"].models_[0].input_size
        == plain.candidates_["network"].models_[0].input_size + 3
    )
    p = f.predict()
    assert not all(np.array_equal(a, b) for a, b in zip(p, plain.predict(), strict=True))
    f.save(tmp_path / "f.npz")
    g = Forecaster.load(tmp_path / "f.npz")
    np.testing.assert_array_equal(g.static_, f.static_)
    for a, b in zip(p, g.predict(), strict=True):
        np.testing.assert_array_equal(a, b)
    iv = f.predict_interval(coverage=0.8)
    assert all(np.isfinite(x).all() for x in iv)
    with pytest.raises(ValueError, match="static: not supported with model='esrnn'"):
        Forecaster(model="esrnn", **kw).fit(panel, static=group)
