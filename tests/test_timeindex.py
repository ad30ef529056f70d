"""Seasons from frequencies, CSV date labels with row-level errors, future pandas indexes."""

from __future__ import annotations

import sys

import pytest

from fastlstm.forecast.timeindex import (
    default_horizon,
    future_index,
    index_meta,
    parse_dates,
    season_of_freq,
    shift_meta,
    start_offset,
)


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


@pytest.mark.parametrize(
    "meta, expected",
    [
        ({"kind": "datetime", "freq": "M", "last": "2000-01-31"}, ["2000-02-29", "2000-03-31"]),
        ({"kind": "datetime", "freq": "ME", "last": "2000-01-31"}, ["2000-02-29", "2000-03-31"]),
        ({"kind": "datetime", "freq": "A-DEC", "last": "2000-12-31"}, ["2001-12-31", "2002-12-31"]),
        (
            {"kind": "datetime", "freq": "H", "last": "2000-01-01 05:00"},
            ["2000-01-01 06:00", "2000-01-01 07:00"],
        ),
        ({"kind": "period", "freq": "A-DEC", "last": "2000"}, ["2001", "2002"]),
        ({"kind": "period", "freq": "Y-DEC", "last": "2000"}, ["2001", "2002"]),
    ],
)
def test_future_dates_of_descriptions_written_by_another_pandas(meta, expected):
    # the aliases pandas renamed in 2.2 and removed in 3.0 (checkpoints keep the writer's)
    pd = pytest.importorskip("pandas")
    fut = future_index(meta, 2)
    if meta["kind"] == "period":
        assert [str(p) for p in fut] == expected
    else:
        assert list(fut) == [pd.Timestamp(e) for e in expected]


def test_start_offset_counts_steps_between_first_dates():
    pd = pytest.importorskip("pandas")
    q = pd.date_range("2000-01-01", periods=40, freq="QS")
    fit = index_meta(q)
    assert start_offset(fit, 40, index_meta(q[1:]), 39) == 1
    assert start_offset(fit, 40, index_meta(q[5:30]), 25) == 5
    early = pd.date_range("1999-04-01", periods=10, freq="QS")
    assert start_offset(fit, 40, index_meta(early), 10) == -3
    # the same quarter starts under another anchor alias
    assert start_offset(fit, 40, {"kind": "datetime", "freq": "QS-OCT", "last": str(q[-1])}, 40) == 0
    with pytest.raises(
        ValueError, match=r"y: expected dates of frequency 'QS-JAN' \(as in fit\), got dates of"
    ):
        start_offset(fit, 40, index_meta(pd.date_range("2000-01-01", periods=40, freq="MS")), 40)
    with pytest.raises(ValueError, match="expected dates"):  # quarter ends are other dates
        start_offset(fit, 40, index_meta(pd.date_range("2000-03-31", periods=40, freq="QE")), 40)
    with pytest.raises(ValueError, match="expected naive dates"):
        start_offset(fit, 40, index_meta(pd.date_range("2000-01-01", periods=40, freq="QS", tz="UTC")), 40)
    p = pd.period_range("2000Q1", periods=20, freq="Q")
    assert start_offset(index_meta(p), 20, index_meta(p[2:]), 18) == 2
    with pytest.raises(ValueError, match="got dates"):
        start_offset(index_meta(p), 20, index_meta(q[:20]), 20)
    ints = {"kind": "int", "freq": "2", "last": "38"}
    assert start_offset(ints, 20, {"kind": "int", "freq": "2", "last": "38"}, 17) == 3
    with pytest.raises(ValueError, match="integer steps"):
        start_offset(ints, 20, {"kind": "int", "freq": "2", "last": "37"}, 17)


def test_inferred_frequencies_are_strings_without_warnings():
    pd = pytest.importorskip("pandas")
    idx = pd.DatetimeIndex(list(pd.date_range("2000-01-01", periods=12, freq="MS")))  # no freq set
    assert idx.freq is None
    assert index_meta(idx)["freq"] == "MS"  # pandas >= 3.1 warns from infer_freq unless asked for offsets


def test_shift_meta_moves_the_last_date_by_steps():
    pytest.importorskip("pandas")
    assert shift_meta({"kind": "period", "freq": "Q-DEC", "last": "2000Q4"}, 3)["last"] == "2001Q3"
    assert shift_meta({"kind": "datetime", "freq": "MS", "last": "2000-01-01"}, -2)["last"].startswith(
        "1999-11-01"
    )
    assert shift_meta({"kind": "int", "freq": "2", "last": "10"}, 4) == {
        "kind": "int",
        "freq": "2",
        "last": "18",
    }


# ------------------------------------------------------- ISO dates: frequencies from pandas
def _iso(start, freq, n=8):
    """``n`` dates as pandas' ``to_csv`` writes them (no time part at midnight)."""
    pd = pytest.importorskip("pandas")
    dates = pd.date_range(start, periods=n, freq=freq)
    return [str(d.date()) if d == d.normalize() else str(d) for d in dates]


@pytest.mark.parametrize(
    "start, freq, expected",
    [
        ("1960-01-01", "QS", (4, "quarterly")),
        ("1960-02-01", "QS-NOV", (4, "quarterly")),
        ("1960-03-31", "QE-DEC", (4, "quarterly")),
        ("1960-01-01", "MS", (12, "monthly")),
        ("1960-01-31", "ME", (12, "monthly")),
        ("1960-01-01", "YS", (1, "yearly")),
        ("1960-12-31", "YE", (1, "yearly")),
        ("2020-01-05", "W-SUN", (52, "weekly")),
        ("2020-01-06", "W-MON", (52, "weekly")),
        ("2020-01-01", "D", (7, "daily")),
        ("2020-01-06", "B", (5, "business daily")),
        ("2020-01-01 00:00", "h", (24, "hourly")),
    ],
)
def test_iso_dates_get_their_frequency_from_pandas(start, freq, expected):
    labels = _iso(start, _OLD.get(freq, freq) if _old() else freq)
    assert parse_dates(labels) == expected
    assert parse_dates([lab.replace(" ", "T") for lab in labels]) == expected  # "T" before the time


#: pandas < 2.2's spelling of the period ends and hours
_OLD = {"QE-DEC": "Q-DEC", "ME": "M", "YE": "A", "h": "H"}


def _old() -> bool:
    """Whether pandas is older than 2.2."""
    pd = pytest.importorskip("pandas")
    return tuple(int(p) for p in pd.__version__.split(".")[:2]) < (2, 2)


@pytest.mark.parametrize(
    "labels, message",
    [
        (
            ["1960-01-01", "1960-04-01", "1960-10-01", "1961-01-01", "1961-04-01"],
            "s.csv, line 4: gap in a regular series, '1960-04-01' is followed by '1960-10-01'",
        ),
        (
            ["1960-01-01", "1960-03-01", "1960-04-01", "1960-05-01", "1960-06-01"],
            "s.csv, line 3: gap in a regular series, '1960-01-01' is followed by '1960-03-01'",
        ),
        (
            ["1960-01-31", "1960-02-29", "1960-03-31", "1960-05-31", "1960-06-30", "1960-07-31"],
            "s.csv, line 5: gap in a regular series, '1960-03-31' is followed by '1960-05-31'",
        ),
        (
            ["2020-01-01 00:00:00", "2020-01-01 01:00:00", "2020-01-01 03:00:00", "2020-01-01 04:00:00"],
            "s.csv, line 4: gap in a regular series, '2020-01-01 01:00:00' is followed by",
        ),
        (["1960-01-01", "1960-04-01", "1960-04-01"], "s.csv, line 4: duplicated date '1960-04-01'"),
        (
            ["1960-04-01", "1960-01-01", "1960-07-01"],
            "s.csv, line 3: date '1960-01-01' comes before the previous line's '1960-04-01'",
        ),
        (
            ["2000-01-15", "2000-02-15", "2000-03-15", "2000-04-15"],
            r"s.csv, lines 2-5: expected dates at one frequency .* got '2000-01-15', '2000-02-15', "
            r"'2000-03-15', \.\.\.",
        ),
        (
            ["2000-01-01", "2000-03-01", "2000-05-01"],
            "s.csv: expected yearly, quarterly, monthly, .* got dates of pandas frequency '2MS'",
        ),
        (["2000-01-01 00:00", "2000-01-01 00:01", "2000-01-01 00:02"], "pandas frequency 'min'"),
        (["1960-01-01", "1960-04-01"], "s.csv: expected at least 3 dates to infer their frequency"),
        (["1960-01-01", "1960-02-30"], r"s.csv, line 3: expected a date \(YYYY, .*got '1960-02-30'"),
        (["1960-01-01", "1960-02"], "s.csv, line 3: date '1960-02' has another format than line 2"),
    ],
)
def test_irregular_iso_dates_name_the_line(labels, message):
    pytest.importorskip("pandas")
    with pytest.raises(ValueError, match=message):
        parse_dates(labels, "s.csv", rows=list(range(2, 2 + len(labels))))


def test_iso_dates_without_pandas(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    # a day or a week apart: read by hand, as before pandas read them
    assert parse_dates(["2000-02-28", "2000-02-29", "2000-03-01"]) == (7, "daily")
    assert parse_dates(["2000-01-03T00:00", "2000-01-10T00:00", "2000-01-17T00:00"]) == (52, "weekly")
    assert parse_dates(["2000-01", "2000-02", "2000-03"]) == (12, "monthly")
    with pytest.raises(ValueError, match="s.csv, line 4: gap in a regular series, '2000-01-02' is followed"):
        parse_dates(["2000-01-01", "2000-01-02", "2000-01-04", "2000-01-05"], "s.csv", rows=[2, 3, 4, 5])
    # quarter starts: pandas infers them, and the message says how to install it
    with pytest.raises(ImportError) as err:
        parse_dates(["1960-01-01", "1960-04-01", "1960-07-01"], "q.csv, column 'ds'")
    assert str(err.value).startswith(
        "q.csv, column 'ds': reading dates such as '1960-01-01' at steps other than a day or a week "
        "needs pandas, an optional dependency: pip install 'fastlstm[pandas]'"
    )


def test_index_meta_names_the_gap_whatever_three_dates_have_a_frequency():
    pd = pytest.importorskip("pandas")
    idx = pd.date_range("2000-01-01", periods=12, freq="MS")
    with pytest.raises(ValueError, match="gap at row 1: 2000-01-01 00:00:00 is followed by 2000-03-01"):
        index_meta(idx.delete(1))  # its first three dates are two months apart, most are one
