"""Series from CSV files (fastlstm.forecast.csvio): columns, panels, dates, and the messages that
name the file, the line and the flag to pass."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from fastlstm.forecast.csvio import periods_between, read_csv_column, read_csv_series, shift_label


def _write(tmp_path, text, name="s.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------------ one series
def test_one_series_with_month_labels(tmp_path):
    path = _write(tmp_path, "month,sales\n" + "".join(f"2000-{m:02d},{m}.5\n" for m in range(1, 13)))
    data = read_csv_series(path)
    assert data["ids"] == [""] and data["name"] == "sales"
    assert (data["season"], data["freq"]) == (12, "monthly")
    np.testing.assert_array_equal(data["values"][0], np.arange(1, 13) + 0.5)
    assert data["labels"][0][0] == "2000-01" and data["labels"][0][-1] == "2000-12"


def test_one_series_with_quarter_start_dates_as_pandas_writes_them(tmp_path):
    pd = pytest.importorskip("pandas")
    s = pd.Series(np.arange(12.0), index=pd.date_range("1960-01-01", periods=12, freq="QS"), name="v")
    path = str(tmp_path / "q.csv")
    s.rename_axis("date").to_csv(path)
    data = read_csv_series(path)
    assert (data["season"], data["freq"], data["name"]) == (4, "quarterly", "v")
    assert data["labels"][0][:2] == ["1960-01-01", "1960-04-01"]


def test_one_series_without_dates(tmp_path):
    path = _write(tmp_path, "t,y\n1,5\n2,6\n3,7\n")
    data = read_csv_series(path)
    assert data["labels"] == [None] and data["season"] is None and data["freq"] is None
    np.testing.assert_array_equal(data["values"][0], [5.0, 6.0, 7.0])


def test_read_csv_column_picks_the_last_numeric_column(tmp_path):
    path = _write(tmp_path, "month,a,b,note\n2000-01,1,10,x\n2000-02,2,20,y\n")
    values, labels, name = read_csv_column(path)
    assert name == "b" and labels == ["2000-01", "2000-02"]
    np.testing.assert_array_equal(values, [10.0, 20.0])
    values, _, name = read_csv_column(path, "a")
    assert name == "a" and values.tolist() == [1.0, 2.0]


# ------------------------------------------------------------------ panels
def test_long_panel_by_id(tmp_path):
    rows = [f"{sid},2001 Q{q},{i * q}" for i, sid in enumerate("ab", start=1) for q in range(1, 5)]
    path = _write(tmp_path, "store,quarter,units\n" + "\n".join(rows) + "\n")
    data = read_csv_series(path, id_col="store")
    assert data["ids"] == ["a", "b"] and data["name"] == "units"
    assert (data["season"], data["freq"]) == (4, "quarterly")
    assert data["labels"][1] == ["2001 Q1", "2001 Q2", "2001 Q3", "2001 Q4"]
    np.testing.assert_array_equal(data["values"][1], [2.0, 4.0, 6.0, 8.0])


def test_long_panel_without_id_col_names_the_column_to_pass(tmp_path):
    rows = [f"{sid},2001-0{m},{m}" for sid in "ab" for m in range(1, 4)]
    path = _write(tmp_path, "store,month,units\n" + "\n".join(rows) + "\n")
    with pytest.raises(
        ValueError, match="line 5, column 'month': date '2001-01' repeats line 2's.*--id-col store"
    ):
        read_csv_series(path)


def test_panel_series_of_two_frequencies_are_refused(tmp_path):
    path = _write(tmp_path, "id,d,v\na,2000,1\na,2001,2\nb,2000-01,1\nb,2000-02,2\n")
    with pytest.raises(
        ValueError, match=r"s.csv: expected one frequency for every series, got \['monthly', 'yearly'\]"
    ):
        read_csv_series(path, id_col="id")


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"column": "units"}, r"--column: expected one of \['month', 'sales'\], got 'units'"),
        ({"time_col": "date"}, r"--time-col: expected one of \['month', 'sales'\], got 'date'"),
        ({"id_col": "store"}, r"--id-col: expected one of \['month', 'sales'\], got 'store'"),
    ],
)
def test_unknown_columns_name_the_flag(tmp_path, kwargs, message):
    path = _write(tmp_path, "month,sales\n2000-01,1\n2000-02,2\n")
    with pytest.raises(ValueError, match=message):
        read_csv_series(path, **kwargs)


@pytest.mark.parametrize(
    "body, message",
    [
        ("2000-01,1\n2000-02,\n", "s.csv: line 3, column 'sales': missing value"),
        ("2000-01,1\n2000-02,x\n", "s.csv: line 3, column 'sales': expected a number, got 'x'"),
        ("2000-01,1\n2000-02,inf\n", "s.csv: line 3, column 'sales': expected a finite number, got 'inf'"),
        ("2000-01,1\n,2\n", "s.csv: line 3, column 'month': missing value"),
        ("2000-01,1\n2000-03,2\n", "s.csv, column 'month', line 3: gap in a regular series, '2000-01' is"),
        (
            "1960-01-01,1\n1960-04-01,2\n1960-10-01,3\n1961-01-01,4\n",
            "s.csv, column 'month', line 4: gap in a regular series, '1960-04-01' is followed by "
            "'1960-10-01'",
        ),
        ("1960-01-01,1\n1960-04-01,2\n1960-04-01,3\n", "s.csv, column 'month', line 4: duplicated date"),
    ],
)
def test_bad_cells_name_the_line_and_column(tmp_path, body, message):
    if "1960" in body:
        pytest.importorskip("pandas")
    path = _write(tmp_path, "month,sales\n" + body)
    with pytest.raises(ValueError, match=message):
        read_csv_series(path, column="sales", time_col="month")


def test_a_file_that_is_not_text(tmp_path):
    path = tmp_path / "b.csv"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ValueError, match="b.csv: expected a UTF-8 CSV text file"):
        read_csv_series(str(path))


def test_quarter_dates_without_pandas_say_how_to_install_it(tmp_path, monkeypatch):
    path = _write(tmp_path, "date,v\n1960-01-01,1\n1960-04-01,2\n1960-07-01,3\n")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(
        ImportError, match=r"s.csv, column 'date': .* needs pandas.*pip install 'fastlstm\[pandas\]'"
    ):
        read_csv_series(path)
    daily = _write(tmp_path, "date,v\n2000-01-01,1\n2000-01-02,2\n2000-01-03,3\n", "d.csv")
    assert read_csv_series(daily)["freq"] == "daily"


# ------------------------------------------------------------------ labels moved by periods
@pytest.mark.parametrize(
    "label, k, freq, expected",
    [
        ("1960-12", 1, None, "1961-01"),
        ("1960-3", -4, "monthly", "1959-11"),
        ("1960 dec", 1, None, "1961 jan"),
        ("2000Q4", 5, "quarterly", "2002Q1"),
        ("2000 - Q2", -2, None, "1999 - Q4"),
        ("0999", 3, None, "1002"),
        ("1960-01-01", 4, "quarterly", "1961-01-01"),
        ("1960-10-01", 1, "quarterly", "1961-01-01"),
        ("1960-03-31", 1, "quarterly", "1960-06-30"),
        ("1960-01-31", 1, "monthly", "1960-02-29"),
        ("1960-02-29", 12, "monthly", "1961-02-28"),
        ("1960-01-01", -1, "monthly", "1959-12-01"),
        ("1960-12-31", 2, "yearly", "1962-12-31"),
        ("1960-01-01", 1, "yearly", "1961-01-01"),
        ("2020-01-03", 1, "business daily", "2020-01-06"),
        ("2020-01-06", -1, "business daily", "2020-01-03"),
        ("2020-01-01 23:00:00", 2, "hourly", "2020-01-02 01:00:00"),
        ("2020-01-01T23:00", 1, "hourly", "2020-01-02T00:00"),
        ("2020-01-05 00:00", 1, "daily", "2020-01-06 00:00"),
        ("2020-01-05", 3, "weekly", "2020-01-26"),
    ],
)
def test_shift_label_continues_each_format(label, k, freq, expected):
    assert shift_label(label, k, freq) == expected
    assert periods_between(label, expected, freq) == k
    assert periods_between(expected, label, freq) == -k


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: shift_label("soon", 1), r"label: expected a date \(YYYY, .* got 'soon'"),
        (lambda: shift_label("1960-13", 1), "label: expected a date .* got '1960-13'"),
        (
            lambda: shift_label("1960-01-15", 1, "monthly"),
            "label: expected the first or last day of a month for monthly dates, got '1960-01-15'",
        ),
        (lambda: shift_label("1960-01-15", 1, "fortnightly"), "freq: expected one of .* got 'fortnightly'"),
        (lambda: shift_label("9999-12-31", 1), "label: '9999-12-31' moved by 1: out of the calendar"),
        (lambda: shift_label("9999-10-01", 1, "quarterly"), "label: '9999-10-01' moved by 1: out of the"),
        (lambda: periods_between("1960-01", "1960-02-01"), "label: expected two dates of one format"),
        (
            lambda: periods_between("2020-01-05", "2020-01-09", "weekly"),
            "label: expected dates a whole number of weeks apart, got '2020-01-05' and '2020-01-09'",
        ),
        (
            lambda: periods_between("1960-01-01", "1960-03-31", "quarterly"),
            "label: expected dates a whole number of quarters apart",
        ),
    ],
)
def test_label_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------- covariates, static columns, future rows (issue 19)
PANEL = (
    "id,month,kind,size,promo,y\n"
    "a,2000-01,big,3,0,1\na,2000-02,big,3,1,2\na,2000-03,big,3,0,\na,2000-04,big,3,1,\n"
    "b,2000-01,small,1.5,1,4\nb,2000-02,small,1.5,0,5\nb,2000-03,small,1.5,0,\nb,2000-04,small,1.5,0,\n"
)


def test_covariates_static_columns_and_future_rows(tmp_path):
    path = _write(tmp_path, PANEL)
    data = read_csv_series(path, id_col="id", covariates=["promo"], static_cols=["kind", "size"], future=True)
    assert data["name"] == "y" and data["ids"] == ["a", "b"]  # the value column is not a covariate
    np.testing.assert_array_equal(data["values"][1], [4.0, 5.0])
    assert data["labels"][0] == ["2000-01", "2000-02"] and data["future"] == [2, 2]
    assert data["future_labels"] == [["2000-03", "2000-04"], ["2000-03", "2000-04"]]
    assert data["covariate_names"] == ["promo"]
    np.testing.assert_array_equal(data["covariates"][0], [[0], [1], [0], [1]])  # history, then future
    assert data["static_names"] == ["kind", "size"] and data["static_numeric"] == [False, True]
    assert data["static"] == [["big", "3"], ["small", "1.5"]]
    plain = read_csv_series(_write(tmp_path, "id,month,y\na,2000-01,1\na,2000-02,2\n", "p.csv"), id_col="id")
    assert plain["future"] == [0] and "covariates" not in plain and "static" not in plain


@pytest.mark.parametrize(
    "text, kwargs, message",
    [
        (
            PANEL,
            {},
            "s.csv: line 4, column 'y': missing value; rows at the end of a series with an "
            "empty value are its future: they need --covariates",
        ),
        (
            PANEL,
            {"covariates": ["promo"]},
            "line 4, column 'y': missing value; rows at the end of a "
            "series with an empty value are its future: forecast them without --evaluate",
        ),
        (
            PANEL.replace("a,2000-01,big,3,0,1", "a,2000-01,big,3,0,"),
            {"covariates": ["promo"], "future": True},
            "s.csv: line 2, column 'y': missing value (only the rows at the end of a series",
        ),
        (
            PANEL.replace("b,2000-04,small,1.5,0,", "b,2000-04,small,1.5,inf,"),
            {"covariates": ["promo"], "future": True},
            "s.csv: line 9, column 'promo': expected a finite number, got 'inf'",
        ),
        (
            PANEL.replace("b,2000-02,small,1.5", "b,2000-02,small,2"),
            {"static_cols": ["size"], "covariates": ["promo"], "future": True},
            "s.csv: line 7, column 'size', id 'b': expected the value of the series' first row (line 6), "
            "'1.5', on every row, got '2'",
        ),
        (
            PANEL.replace("small,1.5", "small,x"),
            {"static_cols": ["size"], "covariates": ["promo"], "future": True},
            "s.csv, column 'size': expected numbers for every series or text for every series (one-hot "
            "encoded), got '3' for id 'a' and 'x' for id 'b'",
        ),
        (PANEL, {"covariates": ["promo", "price"]}, "--covariates: expected columns among"),
        (
            PANEL,
            {"covariates": ["month"]},
            "--covariates: expected columns other than the value, id and date",
        ),
        (PANEL, {"future": True}, "future rows: expected covariates (--covariates)"),
        (
            PANEL.replace(",1\n", ",\n").replace(",2\n", ",\n"),
            {"covariates": ["promo"], "future": True},
            "s.csv, column 'y', id 'a': expected values before the future rows, got none (lines 2 .. 5",
        ),
    ],
)
def test_covariate_and_static_refusals(tmp_path, text, kwargs, message):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as err:
        read_csv_series(path, id_col="id", time_col="month", **{"column": "y", **kwargs})
    assert message in str(err.value)


def test_static_columns_need_an_id_column(tmp_path):
    path = _write(tmp_path, "month,kind,y\n2000-01,big,1\n2000-02,big,2\n")
    with pytest.raises(ValueError, match="--static-cols: expected --id-col too"):
        read_csv_series(path, static_cols=["kind"])
