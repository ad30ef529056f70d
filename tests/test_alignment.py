"""No silent wrong forecasts: a new history's season position, date columns, pandas warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fastlstm.forecast import Forecaster
from fastlstm.forecast.frames import ingest

pd = pytest.importorskip("pandas")

QUICK = {"epochs": 3, "n_models": 1, "hidden_size": 4, "seed": 0, "fallback": False, "deseasonalize": True}
PATTERN = np.array([60.0, -40.0, 20.0, -40.0])  # a strong quarterly season


def _quarterly(n=48, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 330.0 + 2.0 * t + PATTERN[t % 4] + rng.normal(0.0, 3.0, n)


@pytest.fixture(scope="module")
def fitted():
    y = _quarterly()
    s = pd.Series(y, index=pd.date_range("2000-01-01", periods=len(y), freq="QS"), name="sales")
    f = Forecaster(lookback=8, horizon=4, **QUICK).fit(s.iloc[:40])
    assert f.season_length_ == 4 and f.seasonal_[0] is not None
    return f, s


# ------------------------------------------------------------- season position
def test_dated_history_is_aligned_by_its_dates(fitted):
    f, s = fitted
    late = s.iloc[1:]  # starts one quarter after the fitted series
    p = f.predict(y=late)
    aligned = f.predict(y=s.iloc[4:])  # the same history from its first point at season position 0
    np.testing.assert_array_equal(p.to_numpy(), aligned.to_numpy())
    assert list(p.index) == list(pd.date_range("2012-01-01", periods=4, freq="QS"))
    # without the dates, taken to start at position 0: the misaligned forecast the dates prevent
    wrong = f.predict(y=late.to_numpy(), start=0)
    assert np.max(np.abs(wrong - p.to_numpy())) > 20
    # the intervals and quantiles read the same history
    iv = f.predict_interval(y=late, coverage=0.8)
    np.testing.assert_array_equal(iv.to_numpy(), f.predict_interval(y=s.iloc[4:], coverage=0.8).to_numpy())
    np.testing.assert_allclose(f.predict_quantiles(y=late, quantiles=0.5)[0.5], p)


def test_period_index_and_panels_align_from_dates():
    y = _quarterly()
    s = pd.Series(y, index=pd.period_range("2000Q1", periods=len(y), freq="Q"))
    f = Forecaster(lookback=8, horizon=4, **QUICK).fit(s.iloc[:40])
    np.testing.assert_array_equal(f.predict(y=s.iloc[2:]).to_numpy(), f.predict(y=s.iloc[4:]).to_numpy())
    ds = pd.date_range("2000-01-01", periods=len(y), freq="QS")
    panel = pd.concat(
        [pd.DataFrame({"unique_id": u, "ds": ds, "y": y * k}) for u, k in (("a", 1.0), ("b", 2.0))],
        ignore_index=True,
    )
    g = Forecaster(lookback=8, horizon=4, **QUICK).fit(panel[panel.ds < ds[40]])
    late = panel[panel.ds >= ds[3]]  # each series starts three quarters later
    aligned = panel[panel.ds >= ds[4]]
    np.testing.assert_array_equal(g.predict(y=late)["forecast"], g.predict(y=aligned)["forecast"])
    swapped = pd.concat([aligned[aligned.unique_id == "b"], aligned[aligned.unique_id == "a"]])
    with pytest.raises(
        ValueError, match=r"y: expected the unique_id values of fit in their order \['a', 'b'\]"
    ):
        g.predict(y=swapped)  # never paired with another series' model state
    wide = pd.DataFrame({"a": y, "b": 2.0 * y}, index=ds)
    w = Forecaster(lookback=8, horizon=4, **QUICK).fit(wide.iloc[:40])
    np.testing.assert_array_equal(
        w.predict(y=wide.iloc[2:]).to_numpy(), w.predict(y=wide.iloc[4:]).to_numpy()
    )


def test_undated_history_needs_its_start_unless_it_begins_as_fitted(fitted):
    f, s = fitted
    y = s.to_numpy()
    with pytest.raises(
        ValueError,
        match=r"y: where this history starts is unknown \(needed for its season position and the "
        r"forecast dates\).*start=",
    ):
        f.predict(y=y[1:])
    by_start, by_dates = f.predict(y=y[1:], start=1), f.predict(y=s.iloc[1:])
    pd.testing.assert_series_equal(by_start, by_dates)  # the same numbers on the same dates
    assert np.array_equal(f.predict(y=y[1:], start=5), f.predict(y=y[1:], start=1))  # start % season
    # the common uses: no history, the fitted series, a part of it from its start, it extended
    for ok in (None, y[:40], y[:30], y):
        assert np.isfinite(f.predict(y=ok).to_numpy()).all()
    pd.testing.assert_series_equal(f.predict(y=y), f.predict(y=s))  # its dates continue the extension
    assert f.predict(y=y).index[0] == pd.Timestamp("2012-01-01")
    with pytest.raises(ValueError, match="start: 2 disagrees with the dates of y"):
        f.predict(y=s.iloc[1:], start=2)
    with pytest.raises(ValueError, match="start: expected None when y is None"):
        f.predict(start=1)
    with pytest.raises(TypeError, match="start: expected an int"):
        f.predict(y=y[1:], start=1.0)
    with pytest.raises(ValueError, match=r"after dropping its first 3 .* got 7"):
        f.predict(y=s.iloc[1:11])


def test_position_free_models_take_any_history_with_known_dates():
    y = _quarterly()
    f = Forecaster(lookback=8, horizon=4, season_length=4, **{**QUICK, "deseasonalize": False}).fit(y[:40])
    assert f.predict(y=y[1:]).shape == (4,)  # no seasonal indices: the position does not matter
    s = pd.Series(y, index=pd.date_range("2000-01-01", periods=len(y), freq="QS"))
    g = Forecaster(lookback=8, horizon=4, **{**QUICK, "deseasonalize": False}).fit(s.iloc[:40])
    assert g._positional() == [False]
    with pytest.raises(ValueError, match=r"unknown \(needed for the forecast dates\)"):
        g.predict(y=y[1:])  # the forecasts' dates would be unknown
    pd.testing.assert_series_equal(g.predict(y=y[1:], start=1), g.predict(y=s.iloc[1:]))


def test_dated_history_of_another_frequency_is_refused(fitted):
    f, s = fitted
    monthly = pd.Series(s.to_numpy(), index=pd.date_range("2000-01-01", periods=len(s), freq="MS"))
    with pytest.raises(ValueError, match=r"y: expected dates of frequency 'QS-\w+' \(as in fit\), got dates"):
        f.predict(y=monthly)
    periods = pd.Series(s.to_numpy(), index=pd.period_range("2000Q1", periods=len(s), freq="Q"))
    with pytest.raises(ValueError, match="got periods"):
        f.predict(y=periods)
    # quarter starts inferred as QS-OCT are the fitted QS-JAN dates: accepted
    other_alias = pd.Series(s.to_numpy(), index=pd.DatetimeIndex(list(s.index), freq="QS-OCT"))
    np.testing.assert_array_equal(f.predict(y=other_alias).to_numpy(), f.predict(y=s).to_numpy())


def test_saved_model_aligns_as_before(fitted, tmp_path):
    f, s = fitted
    g = Forecaster.load(f.save(tmp_path / "q.npz"))
    np.testing.assert_array_equal(g.predict(y=s.iloc[1:]).to_numpy(), f.predict(y=s.iloc[1:]).to_numpy())
    with pytest.raises(ValueError, match="start="):
        g.predict(y=s.to_numpy()[1:])


# ---------------------------------------------------------------- date columns
def test_date_and_value_frame_is_one_dated_series(fitted):
    f, s = fitted
    df = pd.DataFrame({"ds": s.index[:40], "y": s.to_numpy()[:40]})
    g = Forecaster(lookback=8, horizon=4, **QUICK).fit(df)
    p = g.predict()
    assert g.n_series_ == 1 and g.season_length_ == 4 and isinstance(p, pd.Series) and p.name == "y"
    assert list(p.index) == list(pd.date_range("2010-01-01", periods=4, freq="QS"))  # continues
    np.testing.assert_array_equal(p.to_numpy(), f.predict().to_numpy())  # as the dated Series
    assert p.min() > 300  # never the dates' numbers
    # any date column name and dtype; the history may be such a frame too
    other = pd.DataFrame({"when": s.index.to_period("Q"), "sales": s.to_numpy()})
    series, form, meta = ingest(other, "y")
    assert form == "series" and meta["name"] == "sales" and meta["index"]["kind"] == "period"
    late = pd.DataFrame({"ds": s.index[1:40], "y": s.to_numpy()[1:40]})
    np.testing.assert_array_equal(g.predict(y=late).to_numpy(), g.predict(y=df.iloc[4:]).to_numpy())
    ints = pd.DataFrame({"ds": np.arange(40), "y": s.to_numpy()[:40]})
    assert list(Forecaster(lookback=8, horizon=4, **QUICK).fit(ints).predict(h=2).index) == [40, 41]


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda s: pd.DataFrame({"ds": s.index, "a": s.values, "b": s.values}),
            r"value columns \['a', 'b'\]",
        ),
        (lambda s: pd.DataFrame({"ds": s.index, "t": s.index, "y": s.values}), "several date columns"),
        (lambda s: pd.DataFrame({"unique_id": 1, "ds": s.index, "v": s.values}), "long panel with columns"),
        (lambda s: pd.DataFrame({"t": s.index, "y": s.values}, index=s.index), "the index is already dated"),
        (lambda s: pd.Series(s.index), r"y: expected numbers, got dates \(dtype datetime64"),
        (lambda s: s.index.to_numpy(), r"y: expected numbers, got dates \(dtype datetime64"),
        (
            lambda s: pd.DataFrame({"y": s.values, "lag": s.index - s.index[0]}),
            "column .lag.: expected numbers",
        ),
    ],
    ids=["two-values", "two-dates", "id-not-panel", "dated-index", "series", "array", "timedelta"],
)
def test_dates_are_never_values(fitted, make, message):
    s = fitted[1]
    with pytest.raises(ValueError, match=message):
        Forecaster(lookback=8, horizon=4, **QUICK).fit(make(s))


# ------------------------------------------------------------- pandas warnings
@pytest.mark.parametrize("freq", ["MS", "ME", "QS", "QE", "YS", "W", "D", "B", "h"])
def test_no_pandas_warnings_reading_dates(freq):
    ds = pd.date_range("2000-01-03", periods=30, freq=freq)
    y = np.arange(1.0, 31.0)
    forms = [
        pd.DataFrame({"unique_id": "a", "ds": ds, "y": y}),
        pd.DataFrame({"unique_id": "a", "ds": list(ds), "y": y}),  # no freq: inferred
        pd.Series(y, index=pd.DatetimeIndex(list(ds))),
        pd.DataFrame({"ds": list(ds), "y": y}),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' deprecations too (pyproject: filterwarnings error)
        for obj in forms:
            _, _, meta = ingest(obj, "y")
            index = meta["index"][0] if isinstance(meta["index"], list) else meta["index"]
            assert isinstance(index["freq"], str)


def test_backtest_aligns_its_history_as_predict_does(fitted):
    f, s = fitted
    late = s.iloc[1:]  # one quarter after the fitted series
    by_dates = f.backtest(late, n_windows=2)
    aligned = f.backtest(s.iloc[4:], n_windows=2)
    np.testing.assert_array_equal(by_dates.forecasts, aligned.forecasts)
    by_start = f.backtest(late.to_numpy(), n_windows=2, start=1)
    np.testing.assert_array_equal(by_start.forecasts, aligned.forecasts)
    with pytest.raises(ValueError, match="start="):
        f.backtest(late.to_numpy(), n_windows=2)
