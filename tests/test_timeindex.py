"""Seasons from frequencies, CSV date labels with row-level errors, future pandas indexes."""

from __future__ import annotations

import pytest

from fastlstm.forecast.timeindex import default_horizon, future_index, index_meta, parse_dates, season_of_freq


@pytest.mark.parametrize(
    "freq, season",
    [
        ("MS", 12),
        ("ME", 12),
        ("M", 12),
        ("QS-JAN", 4),
        ("Q-DEC", 4),
        ("YS-JAN", 1),
        ("A-DEC", 1),
        ("W-SUN", 52),
        ("D", 7),
        ("B", 5),
        ("h", 24),
        ("2M", 1),
        ("min", 1),
    ],
)
def test_season_of_freq(freq, season):
    assert season_of_freq(freq)[0] == season


def test_default_horizons_are_m4s():
    assert [default_horizon(m) for m in (12, 4, 1, 52, 7, 24, 3)] == [18, 8, 6, 13, 14, 48, 6]


@pytest.mark.parametrize(
    "labels, expected",
    [
        (["1999", "2000", "2001"], (1, "yearly")),
        (["1999 Q4", "2000 Q1", "2000 Q2"], (4, "quarterly")),
        (["1999-Q4", "2000-Q1"], (4, "quarterly")),
        (["1999-11", "1999-12", "2000-01"], (12, "monthly")),
        (["1999 Nov", "1999 Dec", "2000 Jan"], (12, "monthly")),
        (["2000-02-28", "2000-02-29", "2000-03-01"], (7, "daily")),
        (["2000-01-03", "2000-01-10", "2000-01-17"], (52, "weekly")),
    ],
)
def test_parse_dates(labels, expected):
    assert parse_dates(labels) == expected


@pytest.mark.parametrize(
    "labels, message",
    [
        (["2000-01", "2000-02", "2000-02"], "s.csv, line 4: duplicated date '2000-02'"),
        (["2000-02", "2000-03", "2000-01"], "s.csv, line 4: date '2000-01' comes before"),
        (
            ["2000-01", "2000-02", "2000-04"],
            "s.csv, line 4: gap in a regular series, '2000-02' is followed by '2000-04'",
        ),
        (["2000-01", "soon"], "s.csv, line 3: expected a date .* got 'soon'"),
        (["2000-01", "2000"], "s.csv, line 3: date '2000' has another format than line 2"),
        (["2000-13", "2000-14"], "s.csv, line 2: expected a date"),
    ],
)
def test_parse_dates_errors_name_the_line(labels, message):
    with pytest.raises(ValueError, match=message):
        parse_dates(labels, "s.csv", rows=list(range(2, 2 + len(labels))))


def test_pandas_index_meta_and_future_dates():
    pd = pytest.importorskip("pandas")
    idx = pd.date_range("2000-01-01", periods=30, freq="MS")
    meta = index_meta(idx)
    assert meta["kind"] == "datetime" and season_of_freq(meta["freq"])[0] == 12
    fut = future_index(meta, 3)
    assert list(fut) == list(pd.date_range("2002-07-01", periods=3, freq="MS"))
    pidx = pd.period_range("2000Q1", periods=10, freq="Q")
    pm = index_meta(pidx)
    assert list(future_index(pm, 2)) == [pd.Period("2002Q3"), pd.Period("2002Q4")]
    assert index_meta(pd.RangeIndex(10)) is None
    gap = idx.delete(5)
    gap_at = "gap at row 5: 2000-05-01 00:00:00 is followed by 2000-07-01"
    with pytest.raises(ValueError, match=f"y: expected a regular date index .*{gap_at}"):
        index_meta(gap)
    with pytest.raises(ValueError, match="y: row 2: duplicated date"):
        index_meta(idx[[0, 1, 1, 2]])
    with pytest.raises(ValueError, match="comes before the previous row's"):
        index_meta(idx[[0, 2, 1]])
