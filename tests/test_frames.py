"""Direct tests of fastlstm.forecast.frames: data in (ingest), forecasts out (pack), histories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from fastlstm.forecast import frames

H = 3
MONTHS = pd.date_range("2020-01-01", periods=12, freq="MS")
MONTHLY = {"kind": "datetime", "freq": "MS", "last": "2020-12-01 00:00:00"}
STEPS = {"kind": "int", "freq": "2", "last": "10"}


def layout(form: str, meta: dict) -> dict:
    """The fit's layout, as ``Forecaster`` hands it to ``pack``."""
    return {"form": form, "index": None, "ids": None, "columns": None, "name": None, **meta}


def forecasts(n: int, steps: int = H) -> list[np.ndarray]:
    return [100.0 * (i + 1) + np.arange(steps) for i in range(n)]


def assert_series_equal(got: list[np.ndarray], expected: list) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == np.float64 and g.ndim == 1
        assert_array_equal(g, e)


# ------------------------------------------------------------------ ingest
def test_ingest_arrays_and_lists():
    series, form, meta = frames.ingest([1, 2, 3], "y")
    assert (form, meta) == ("1d", {})
    assert_series_equal(series, [[1, 2, 3]])

    y2 = np.arange(8.0).reshape(4, 2)
    series, form, meta = frames.ingest(y2, "y")
    assert (form, meta) == ("2d", {})
    assert_series_equal(series, [y2[:, 0], y2[:, 1]])
    assert all(s.flags.c_contiguous for s in series)

    series, form, meta = frames.ingest([np.arange(3), [4.0, 5.0]], "y")
    assert (form, meta) == ("list", {})
    assert_series_equal(series, [[0, 1, 2], [4, 5]])


def test_ingest_pandas_series_and_frames():
    series, form, meta = frames.ingest(pd.Series(np.arange(12.0), index=MONTHS, name="sales"), "y")
    assert (form, meta) == ("series", {"index": MONTHLY, "name": "sales"})
    assert_series_equal(series, [np.arange(12.0)])

    periods = pd.period_range("2020-01", periods=12, freq="M")
    _, form, meta = frames.ingest(pd.Series(np.arange(12.0), index=periods), "y")
    assert (form, meta) == (
        "series",
        {"index": {"kind": "period", "freq": "M", "last": "2020-12"}, "name": None},
    )

    # an undated Series is a 1-D array
    assert frames.ingest(pd.Series([1.0, 2.0]), "y")[1:] == ("1d", {})

    wide = pd.DataFrame({"a": np.arange(12.0), "b": np.ones(12)}, index=MONTHS)
    series, form, meta = frames.ingest(wide, "y")
    assert (form, meta) == ("frame", {"columns": ["a", "b"], "index": MONTHLY})
    assert_series_equal(series, [np.arange(12.0), np.ones(12)])
    # undated: a 2-D array that remembers its columns
    assert frames.ingest(wide.reset_index(drop=True), "y")[1:] == ("2d", {"columns": ["a", "b"]})


def test_ingest_a_frame_with_a_date_column_is_one_series():
    series, form, meta = frames.ingest(pd.DataFrame({"date": MONTHS, "sales": np.arange(12.0)}), "y")
    assert (form, meta) == ("series", {"index": MONTHLY, "name": "sales"})
    assert_series_equal(series, [np.arange(12.0)])
    # integer steps in a column named ds
    _, form, meta = frames.ingest(pd.DataFrame({"ds": [0, 2, 4], "v": [1.0, 2.0, 3.0]}), "y")
    assert (form, meta) == ("series", {"index": {"kind": "int", "freq": "2", "last": "4"}, "name": "v"})


def test_ingest_a_long_panel():
    ds = list(MONTHS[:3])
    df = pd.DataFrame({"unique_id": ["b"] * 3 + ["a"] * 3, "ds": ds + ds, "y": np.arange(6.0)})
    series, form, meta = frames.ingest(df, "y")
    assert form == "panel"
    assert meta["ids"] == ["b", "a"]  # in order of first appearance
    march = {"kind": "datetime", "freq": "MS", "last": "2020-03-01 00:00:00"}
    assert meta["index"] == [march, march]
    assert_series_equal(series, [[0, 1, 2], [3, 4, 5]])


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.array(["2020-01-01"], dtype="datetime64[D]"), r"^y: expected numbers, got dates"),
        (pd.Series(MONTHS), r"^y: expected numbers, got dates"),
        ([np.ones(3), np.ones((2, 2))], r"^y\[1\]: expected a 1-D series, got shape \(2, 2\)"),
        (np.array([1.0, np.nan]), r"^y: expected finite values"),
        (
            pd.DataFrame({"a": np.ones(3), "td": pd.to_timedelta([1, 2, 3], unit="D")}),
            r"^y, column 'td': expected numbers, got dates",
        ),
        (
            pd.DataFrame({"ds": MONTHS, "a": 1.0, "b": 2.0}),
            r"^y: date column 'ds' with value columns \['a', 'b'\]",
        ),
        (pd.DataFrame({"ds": MONTHS, "d2": MONTHS, "a": 1.0}), r"^y: several date columns \['ds', 'd2'\]"),
        (pd.DataFrame({"ds": MONTHS, "a": 1.0}, index=MONTHS), r"^y: column 'ds' holds dates, and the index"),
    ],
)
def test_ingest_refuses_by_name(y, match):
    with pytest.raises(ValueError, match=match):
        frames.ingest(y, "y")


@pytest.mark.parametrize(
    ("ds", "values", "match"),
    [
        (
            [1, 2, 5],
            [1.0, 2.0, 3.0],
            r"^y: unique_id 'a', row 2, column 'ds': expected increasing, evenly spaced",
        ),
        (["x", "y", "z"], [1.0, 2.0, 3.0], r"^y: unique_id 'a', column 'ds': expected datetimes, periods or"),
        ([1, 2, 3], [1.0, np.nan, 2.0], r"^y: unique_id 'a', row 1, column 'y': expected a finite number"),
        (
            [1, 2, 3],
            [1.0, "x", 2.0],
            r"^y: unique_id 'a', row 1, column 'y': expected a finite number, got 'x'",
        ),
    ],
)
def test_ingest_refuses_a_panel_row_by_row(ds, values, match):
    with pytest.raises(ValueError, match=match):
        frames.ingest(pd.DataFrame({"unique_id": "a", "ds": ds, "y": values}), "y")


def test_ingest_refuses_a_panel_of_several_frequencies():
    df = pd.DataFrame({"unique_id": ["a"] * 3 + ["b"] * 3, "ds": [1, 2, 3, 2, 4, 6], "y": 1.0})
    with pytest.raises(ValueError, match=r"^y: expected one frequency for every unique_id, got \['1', '2'\]"):
        frames.ingest(df, "y")


# ------------------------------------------------------------------ round trips
def _round_trip(y, n_series: int):
    """ingest ``y``, pack forecasts in its form, and ingest those again."""
    series, form, meta = frames.ingest(y, "y")
    assert len(series) == n_series
    fc = forecasts(n_series)
    out = frames.pack(fc, H, layout(form, meta))
    back = out.rename(columns={"forecast": "y"}) if form == "panel" else out
    series2, form2, meta2 = frames.ingest(back, "y")
    assert form2 == form
    assert_series_equal(series2, fc)
    return out, meta, meta2


def test_round_trip_arrays_and_lists():
    out, _, _ = _round_trip(np.arange(10.0), 1)
    assert isinstance(out, np.ndarray) and out.shape == (H,)
    out, _, _ = _round_trip(np.arange(20.0).reshape(10, 2), 2)
    assert isinstance(out, np.ndarray) and out.shape == (H, 2)
    out, _, _ = _round_trip([np.arange(10.0), np.arange(7.0)], 2)
    assert isinstance(out, list) and [a.shape for a in out] == [(H,), (H,)]


def test_round_trip_dated_series():
    out, meta, meta2 = _round_trip(pd.Series(np.arange(12.0), index=MONTHS, name="sales"), 1)
    assert isinstance(out, pd.Series) and out.name == "sales"
    assert out.index.equals(pd.date_range("2021-01-01", periods=H, freq="MS"))
    assert meta2 == {"index": {**MONTHLY, "last": "2021-03-01 00:00:00"}, "name": "sales"}

    periods = pd.period_range("2020Q1", periods=8, freq="Q")
    out, _, meta2 = _round_trip(pd.Series(np.arange(8.0), index=periods, name="q"), 1)
    assert out.index.equals(pd.period_range("2022Q1", periods=H, freq="Q"))
    assert meta2["index"]["last"] == "2022Q3"


def test_round_trip_wide_frame():
    wide = pd.DataFrame({"a": np.arange(12.0), "b": np.ones(12)}, index=MONTHS)
    out, _, meta2 = _round_trip(wide, 2)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["a", "b"]
    assert out.index.equals(pd.date_range("2021-01-01", periods=H, freq="MS"))
    assert meta2["columns"] == ["a", "b"]


def test_round_trip_long_panel():
    df = pd.DataFrame(
        {
            "unique_id": ["b"] * 4 + ["a"] * 3,
            "ds": [1, 2, 3, 4] + [10, 11, 12],
            "y": np.arange(7.0),
        }
    )
    out, _, meta2 = _round_trip(df, 2)
    assert list(out.columns) == ["unique_id", "ds", "forecast"]
    assert out["unique_id"].tolist() == ["b"] * H + ["a"] * H
    assert out["ds"].tolist() == [5, 6, 7, 13, 14, 15]
    assert meta2["ids"] == ["b", "a"]


def test_round_trip_dated_panel():
    ds = list(MONTHS[:4])
    df = pd.DataFrame({"unique_id": [1] * 4 + [2] * 4, "ds": ds + ds, "y": np.arange(8.0)})
    out, _, _ = _round_trip(df, 2)
    may = pd.date_range("2020-05-01", periods=H, freq="MS")
    assert out["ds"].tolist() == list(may) * 2


# ------------------------------------------------------------------ pack with columns, pack_levels
def test_pack_with_columns():
    lo_hi = [np.column_stack([np.zeros(H), np.ones(H)]), np.column_stack([np.full(H, 2.0), np.full(H, 3.0)])]
    meta = {"index": MONTHLY, "name": "s"}
    df = frames.pack(lo_hi[:1], H, layout("series", meta), columns=["lo", "hi"])
    assert list(df.columns) == ["lo", "hi"] and df["hi"].tolist() == [1.0] * H
    df = frames.pack(
        lo_hi, H, layout("frame", {"index": MONTHLY, "columns": ["a", "b"]}), columns=["lo", "hi"]
    )
    assert list(df.columns) == [("a", "lo"), ("a", "hi"), ("b", "lo"), ("b", "hi")]
    assert df[("b", "lo")].tolist() == [2.0] * H
    panel = layout("panel", {"ids": ["x", "y"], "index": [STEPS, STEPS]})
    df = frames.pack(lo_hi, H, panel, columns=["lo", "hi"])
    assert list(df.columns) == ["unique_id", "ds", "lo", "hi"]
    assert df["hi"].tolist() == [1.0] * H + [3.0] * H


def test_pack_from_another_history():
    # ``index``: the dates of the history forecast from, not the fitted one's
    later = {**MONTHLY, "last": "2021-06-01 00:00:00"}
    out = frames.pack(forecasts(1), H, layout("series", {"index": MONTHLY, "name": None}), index=later)
    assert out.index[0] == pd.Timestamp("2021-07-01")


def test_pack_levels():
    arr = np.arange(H * 2 * 3, dtype=float).reshape(H, 2, 3)  # (steps, levels, bounds)
    # NumPy forms keep the shape
    assert_array_equal(frames.pack_levels([arr], H, layout("1d", {}), ["c"] * 6), arr)
    assert frames.pack_levels([arr, arr], H, layout("2d", {}), ["c"] * 6).shape == (H, 2, 2, 3)
    # pandas forms: one column per value, in C order
    cols = [f"{lv}_{b}" for lv in ("80", "95") for b in ("lo", "mid", "hi")]
    df = frames.pack_levels([arr], H, layout("series", {"index": MONTHLY, "name": "s"}), cols)
    assert list(df.columns) == cols
    assert df["95_mid"].tolist() == arr[:, 1, 1].tolist()


# ------------------------------------------------------------------ next_index
def test_next_index():
    assert frames.next_index(None, 0, H) is None
    idx = frames.next_index(STEPS, 0, H)
    assert idx.tolist() == [12, 14, 16] and idx.name == "ds"
    idx = frames.next_index([STEPS, MONTHLY], 1, 2)
    assert idx.equals(pd.DatetimeIndex(["2021-01-01", "2021-02-01"], freq="MS"))


# ------------------------------------------------------------------ split_covariates
def test_split_covariates():
    assert frames.split_covariates(None, [5], "X") is None
    (one,) = frames.split_covariates(np.arange(5), [5], "X")
    assert one.shape == (5, 1) and one.dtype == np.float64
    parts = frames.split_covariates([np.ones((5, 2)), np.zeros((3, 2))], [5, 3], "X")
    assert [p.shape for p in parts] == [(5, 2), (3, 2)]


@pytest.mark.parametrize(
    ("X", "lengths", "match"),
    [
        ([np.ones(5)], [5, 3], r"^X: expected one covariate array per series \(2\), got 1"),
        (np.ones(5), [5, 3], r"^X: with 2 series, expected a list of covariate arrays"),
        (np.ones((4, 2)), [5], r"^X: series 0 expected 5 rows, got 4"),
        ([np.ones(5), np.array([1.0, np.nan, 2.0])], [5, 3], r"^X\[1\]: expected finite values"),
    ],
)
def test_split_covariates_refuses_by_name(X, lengths, match):
    with pytest.raises(ValueError, match=match):
        frames.split_covariates(X, lengths, "X")


# ------------------------------------------------------------------ season_drops, season_starts
def test_season_drops():
    # to the next season start: (-k) % 4
    assert frames.season_drops([0, 1, 5, None], 4, [True] * 4) == [0, 3, 3, 0]
    assert frames.season_drops([1, 1], 4, [True, False]) == [3, 0]
    assert frames.season_drops([1], 4, None) == [0]
    assert frames.season_drops([1], 1, [True]) == [0]


def test_season_starts_undated():
    fitted = [np.arange(10.0)]
    # not needed: start as given (None when not)
    assert frames.season_starts([np.ones(4)], None, None, fitted, None, 4, None) == [None]
    assert frames.season_starts([np.ones(4)], None, 2, fitted, None, 4, None) == [2]
    two = [np.ones(4), np.ones(4)]
    assert frames.season_starts(two, None, [1, 2], fitted * 2, None, 4, None) == [1, 2]
    # needed (positional): the fitted series extended starts at 0; anything else is unknown
    longer = np.arange(12.0)
    assert frames.season_starts([longer], None, None, fitted, None, 4, [True]) == [0]
    with pytest.raises(ValueError, match=r"^y: where this history starts is unknown .*its season position"):
        frames.season_starts([longer + 1], None, None, fitted, None, 4, [True])


@pytest.mark.parametrize(
    ("start", "error", "match"),
    [
        ([1, 2, 3], ValueError, r"^start: expected one int or 2 \(one per series\), got 3"),
        (1.5, TypeError, r"^start: expected an int \(or one per series\), got float 1.5"),
        (True, TypeError, r"^start: expected an int"),
    ],
)
def test_season_starts_refuses_start(start, error, match):
    with pytest.raises(error, match=match):
        frames.season_starts([np.ones(3)] * 2, None, start, [np.ones(3)] * 2, None, 4, None)


def test_season_starts_from_the_dates():
    fitted = [np.arange(12.0)]
    # April 2020 to February 2021: 3 months after the fitted January 2020
    history = {**MONTHLY, "last": "2021-02-01 00:00:00"}
    assert frames.season_starts([np.ones(11)], history, None, fitted, MONTHLY, 12, None) == [3]
    # a start that agrees (modulo the season) gives way to the dates
    assert frames.season_starts([np.ones(11)], history, 15, fitted, MONTHLY, 12, None) == [3]
    with pytest.raises(ValueError, match=r"^start: 7 disagrees with the dates of y"):
        frames.season_starts([np.ones(11)], history, 7, fitted, MONTHLY, 12, None)
    # a dated fit and an undated history that does not begin with the fitted values
    with pytest.raises(ValueError, match=r"the forecast dates.*pass it with its dates, or start="):
        frames.season_starts([np.ones(11)], None, None, fitted, MONTHLY, 12, None)


# ------------------------------------------------------------------ history_inputs
def _history(y=None, X=None, X_future=None, steps=H, **kw):
    args = {
        "fitted": [np.arange(1.0, 11.0)],
        "fitted_covariates": None,
        "n_covariates": 0,
        "log": [False],
        "input_size": 4,
    }
    return frames.history_inputs(steps, X_future, y, X, **{**args, **kw})


def test_history_inputs_of_the_fit():
    series, cov, index = _history()
    assert_series_equal(series, [np.arange(1.0, 11.0)])
    assert cov == [None] and index is None
    with pytest.raises(ValueError, match=r"^X: expected None when y is None"):
        _history(X=np.ones(10))
    with pytest.raises(ValueError, match=r"^start: expected None when y is None"):
        _history(start=0)


def test_history_inputs_of_a_new_history():
    series, cov, index = _history(y=[5.0, 6.0, 7.0, 8.0, 9.0])
    assert_series_equal(series, [[5, 6, 7, 8, 9]])
    assert cov == [None] and index is None
    # at the fitted season position: a history starting at step 1 drops (-1) % 4 = 3 points
    series, _, _ = _history(y=np.arange(8.0), start=1, season=4, positional=[True])
    assert_series_equal(series, [np.arange(3.0, 8.0)])
    with pytest.raises(ValueError, match=r"^y: series 0 expected at least lookback=4 points after dropping"):
        _history(y=np.arange(5.0), start=1, season=4, positional=[True])
    with pytest.raises(ValueError, match=r"^y: series 0 expected at least lookback=4 points, got 3"):
        _history(y=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"^y: expected 1 series \(as in fit\), got 2"):
        _history(y=[np.ones(5), np.ones(5)])
    with pytest.raises(ValueError, match=r"^y: expected positive values"):
        _history(y=[1.0, 2.0, 0.0, 4.0], log=[True])


def test_history_inputs_dates_follow_the_fit():
    # undated, beginning with the fitted values, two points longer: two months later
    y = np.arange(1.0, 13.0)
    _, _, index = _history(y=y, fitted_index=MONTHLY)
    assert index == {**MONTHLY, "last": "2021-02-01 00:00:00"}
    # a dated history keeps its own dates
    dated = pd.Series(y, index=pd.date_range("2020-01-01", periods=12, freq="MS"))
    assert _history(y=dated, fitted_index=MONTHLY)[2] == MONTHLY


def test_history_inputs_covariates():
    fit = {"fitted_covariates": [np.ones((10, 1))], "n_covariates": 1}
    _, cov, _ = _history(X_future=np.full(H, 2.0), **fit)
    assert cov[0].shape == (10 + H, 1) and cov[0][-H:, 0].tolist() == [2.0] * H
    _, cov, _ = _history(y=np.arange(5.0), X=np.zeros(5), X_future=np.ones(H), **fit)
    assert cov[0][:, 0].tolist() == [0.0] * 5 + [1.0] * H
    with pytest.raises(ValueError, match=r"^X_future: expected 3 future rows of the 1 covariates, got None"):
        _history(**fit)
    with pytest.raises(ValueError, match=r"^X_future: expected 1 covariates, got 2"):
        _history(X_future=np.ones((H, 2)), **fit)
    with pytest.raises(ValueError, match=r"^X: expected covariates for the history y"):
        _history(y=np.arange(5.0), X_future=np.ones(H), **fit)
    with pytest.raises(ValueError, match=r"^X_future: expected None \(the model was fitted without X\)"):
        _history(X_future=np.ones(H))


def test_history_inputs_panel_ids_in_order():
    ds = [1, 2, 3, 4, 5]
    fitted = {"fitted": [np.ones(5), np.ones(5)], "fitted_ids": ["a", "b"], "log": [False, False]}
    panel = pd.DataFrame({"unique_id": ["b"] * 5 + ["a"] * 5, "ds": ds + ds, "y": 1.0})
    with pytest.raises(ValueError, match=r"^y: expected the unique_id values of fit in their order"):
        _history(y=panel, **fitted)
    panel["unique_id"] = ["a"] * 5 + ["b"] * 5
    series, _, _ = _history(y=panel, **fitted)
    assert_series_equal(series, [np.ones(5), np.ones(5)])


def _pack_per_series(series, steps, layout, columns=None):
    """The long frame as pack built it before (one DataFrame per series, concatenated): the
    reference the columns-built-once version must equal exactly."""
    out = []
    for i, uid in enumerate(layout["ids"]):
        f = pd.DataFrame({"unique_id": [uid] * steps, "ds": frames.next_index(layout["index"], i, steps)})
        vals = series[i] if columns is not None else series[i][:, None]
        for j, c in enumerate(columns or ["forecast"]):
            f[c] = vals[:, j]
        out.append(f)
    return pd.concat(out, ignore_index=True)


@pytest.mark.parametrize(
    "metas",
    [
        # ragged: each series ends on its own date
        [{**MONTHLY, "last": f"2020-{m:02d}-01 00:00:00"} for m in (12, 3, 12, 7)],
        [{"kind": "period", "freq": "Q-DEC", "last": q} for q in ("2020Q4", "2019Q1", "2020Q4", "2021Q2")],
        [{"kind": "int", "freq": "2", "last": str(v)} for v in (10, 4, 10, 31)],
        MONTHLY,  # one description for every series
        None,  # no dates: a column of None
    ],
)
@pytest.mark.parametrize("ids", [["a", "b", "c", "d"], [3, 1, 7, 2]])
@pytest.mark.parametrize("columns", [None, ["lo", "hi"]])
def test_pack_of_a_ragged_panel_equals_a_frame_per_series_concatenated(metas, ids, columns):
    n = len(ids)
    if columns is None:
        fc = forecasts(n, steps=5)
    else:
        fc = [np.column_stack([f - 1.0, f + 1.0]) for f in forecasts(n, steps=5)]
    lay = layout("panel", {"ids": ids, "index": metas})
    got = frames.pack(fc, 5, lay, columns=columns)
    expected = _pack_per_series(fc, 5, lay, columns)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert list(got.dtypes) == list(expected.dtypes)
    assert got.index.equals(pd.RangeIndex(n * 5))


@pytest.mark.parametrize(
    "make_ds",
    [
        lambda start, n: pd.date_range(start, periods=n, freq="MS"),
        lambda start, n: pd.date_range(start, periods=n, freq="MS", tz="Europe/Paris"),
        lambda start, n: pd.period_range(start, periods=n, freq="M"),
        lambda start, n: pd.Series(2 * np.arange(n) + int(start[:4])),
    ],
)
def test_ingest_of_a_panel_describes_each_series_dates_as_alone(make_ds):
    # series sharing their dates (a, c), and others (b, d): each description is the one
    # _time_meta gives that series' column alone, and a copy of its own
    spans = {"a": ("2020-01", 12), "b": ("2020-04", 9), "c": ("2020-01", 12), "d": ("2021-02", 5)}
    parts = [
        pd.DataFrame({"unique_id": uid, "ds": make_ds(start, n), "y": np.arange(float(n))})
        for uid, (start, n) in spans.items()
    ]
    df = pd.concat(parts, ignore_index=True)
    _, _, meta = frames.ingest(df, "y")
    alone = [frames._time_meta(g["ds"], "y") for _, g in df.groupby("unique_id", sort=False)]
    assert meta["index"] == alone
    assert meta["index"][0] is not meta["index"][2]


def test_ingest_of_a_panel_refuses_bad_dates_after_the_same_dates_were_good():
    good = pd.DataFrame({"unique_id": "a", "ds": [1, 2, 3], "y": 1.0})
    bad = pd.DataFrame({"unique_id": "b", "ds": [1, 2, 2], "y": 1.0})
    with pytest.raises(ValueError, match=r"^y: unique_id 'b', row 8, column 'ds': expected increasing"):
        frames.ingest(pd.concat([good, good.assign(unique_id="c"), bad], ignore_index=True), "y")
