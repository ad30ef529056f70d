"""The command line: forecast, predict, bench forwarding, errors."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import types

import numpy as np
import pytest

from fastlstm import baselines, metrics
from fastlstm.cli import main, read_csv_column
from fastlstm.forecast import Forecaster
from fastlstm.forecast.backtest import mix_name
from fastlstm.forecast.datasets import load_airpassengers

QUICK = ["--epochs", "3", "--n-models", "1", "--hidden-size", "8"]


def test_forecast_default_series_table_plot_and_save(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png, npz = tmp_path / "f.png", tmp_path / "m.npz"
    assert main(["forecast", "--evaluate", *QUICK, "--plot", str(png), "--save", str(npz)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert f"plot written to {png}" in captured.err and f"model saved to {npz}" in captured.err
    # monthly dates: season 12 and M4's monthly horizon, 18, held out
    assert "airpassengers, 144 points; trained on the first 126, tested on the last 18" in out
    assert "season 12 (monthly dates)" in out and "interval coverage on the hold-out: 80% interval" in out
    for name in (
        "fastlstm LSTM",
        "naive",
        "seasonal naive (m=12)",
        "drift",
        "MAPE%",
        "sMAPE%",
        "MASE",
        "training time",
    ):
        assert name in out
    # the back-test's choice is named (one of the Forecaster's mixes)
    f = Forecaster.load(npz)
    assert f"back-test choice: {mix_name(f.mix_[0])} (among the network, seasonal naive" in out
    sn_row = next(line for line in out.splitlines() if line.startswith("seasonal naive"))
    air = load_airpassengers()
    sn = baselines.seasonal_naive(air[:-18], 18, 12)
    expected = [
        metrics.mape(air[-18:], sn),
        metrics.smape(air[-18:], sn),
        metrics.mase(air[-18:], sn, air[:-18], 12),
    ]
    assert sn_row.split()[-3:] == [f"{v:.3f}" for v in expected]  # MAPE, sMAPE, MASE of the reference
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    f = Forecaster.load(npz)
    assert f.epochs == 3 and f.n_series_ == 1

    # predict from the saved model: the stored history (trained on 1949-01 .. 1959-06), then a CSV
    assert main(["predict", "--model", str(npz), "--horizon", "5"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [r["ds"] for r in rows] == ["1959-07", "1959-08", "1959-09", "1959-10", "1959-11"]
    assert {r["unique_id"] for r in rows} == {"airpassengers"}
    np.testing.assert_allclose([float(r["forecast"]) for r in rows], f.predict(5), rtol=1e-5)
    csv = tmp_path / "s.csv"
    y = load_airpassengers()[:100]
    csv.write_text("t,value\n" + "".join(f"{i},{v}\n" for i, v in enumerate(y)))
    assert main(["predict", "--model", str(npz), str(csv), "--column", "value"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert len(rows) == f.horizon and rows[0]["ds"] == "101"  # no dates: row numbers
    np.testing.assert_allclose([float(r["forecast"]) for r in rows], f.predict(y=y), rtol=1e-5)


def test_forecast_from_csv(tmp_path, capsys):
    rng = np.random.default_rng(0)
    t = np.arange(90)
    y = 50 + 0.3 * t + 5 * np.sin(2 * np.pi * t / 12) + rng.normal(size=90)
    csv = tmp_path / "d.csv"
    csv.write_text("date,sales,other\n" + "".join(f"d{i},{v:.3f},x\n" for i, v in enumerate(y)))
    assert (
        main(
            [
                "forecast",
                str(csv),
                "--column",
                "sales",
                "--horizon",
                "6",
                "--input-size",
                "12",
                "--test-size",
                "12",
                *QUICK,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "series: sales, 90 points; trained on the first 78, tested on the last 12" in out


def _rows(text: str) -> list[dict]:
    """The forecast rows of forecast/predict's stdout, checked for the columns and the bounds' order."""
    import csv as _csv
    import io

    rows = list(_csv.DictReader(io.StringIO(text)))
    assert rows and list(rows[0]) == ["unique_id", "ds", "forecast", "lo80", "hi80", "lo95", "hi95"]
    for r in rows:
        v = [float(r[k]) for k in ("lo95", "lo80", "forecast", "hi80", "hi95")]
        assert v == sorted(v), r
    return rows


def test_accuracy_report_averages_metrics_score_over_the_series():
    from fastlstm import cli

    trains = [np.array([1.0, 3.0, 2.0, 6.0]), np.full(4, 5.0)]  # the second has no MASE scale
    tests = [np.array([1.0, 2.0]), np.array([0.0, 5.0])]  # a zero: no MAPE
    preds = [np.array([2.0, 2.0]), np.array([5.0, 4.0])]
    ivs = [np.stack([np.stack([p - 0.5, p + 0.5], -1)] * 2, axis=1) for p in preds]
    acc = cli._accuracy(tests, preds, trains, 2, ivs)
    each = [metrics.score(te, p, tr, 2, iv) for te, p, tr, iv in zip(tests, preds, trains, ivs, strict=True)]
    for key in ("mae", "rmse", "smape", "cov80", "cov95"):
        assert acc[key] == np.mean([e[key] for e in each])
    assert acc["cov95"] == 0.25 and acc["mae"] == 1.75  # only the 2.0 inside; errors 0.5 and 3
    assert np.isnan(acc["mape"]) and np.isnan(acc["mase"])  # printed as nan in the table
    assert [head for head, _ in cli.ACCURACY_COLUMNS] == ["MAE", "RMSE", "MAPE%", "sMAPE%", "MASE"]


def test_read_csv_column(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("month,a,b\n2000-01,1,2.5\n2000-02,3,4\n\n")
    values, labels, name = read_csv_column(str(p))
    assert name == "b" and labels == ["2000-01", "2000-02"]
    np.testing.assert_array_equal(values, [2.5, 4])
    assert read_csv_column(str(p), "a")[0].tolist() == [1, 3]
    with pytest.raises(ValueError, match="--column: expected one of"):
        read_csv_column(str(p), "c")
    with pytest.raises(ValueError, match="non-numeric"):
        read_csv_column(str(p), "month")


def test_errors_exit_with_status_1(tmp_path, capsys):
    assert main(["forecast", str(tmp_path / "missing.csv")]) == 1
    assert "error" in capsys.readouterr().err
    assert main(["forecast", "--test-size", "500", *QUICK]) == 1
    assert "--test-size: expected between 1 and 143" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    assert main(["predict", "--model", str(bad)]) == 1
    assert "not a valid fastlstm checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["nonsense"])


def test_plot_without_matplotlib_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(["forecast", *QUICK, "--plot", str(tmp_path / "x.png")]) == 1
    assert "fastlstm[plot]" in capsys.readouterr().err  # the install hint


def test_bench_forwards_its_arguments(monkeypatch):
    seen = []
    fake = types.ModuleType("fastlstm.bench")
    fake.main = lambda argv, prog: seen.append((argv, prog)) or 0
    monkeypatch.setitem(sys.modules, "fastlstm.bench", fake)
    import fastlstm

    monkeypatch.setattr(fastlstm, "bench", fake, raising=False)
    assert main(["bench", "--quick", "-n", "3"]) == 0
    assert seen == [(["--quick", "-n", "3"], "fastlstm bench")]


def test_python_dash_m_help():
    r = subprocess.run(
        [sys.executable, "-m", "fastlstm", "--help"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0
    assert "forecast" in r.stdout and "predict" in r.stdout and "bench" in r.stdout


# ---------------------------------------------------------------- dates, panels, bad CSVs
def _monthly_csv(path, values, start_year=2000, extra=""):
    lines = ["month,sales"]
    for i, v in enumerate(values):
        lines.append(f"{start_year + i // 12}-{i % 12 + 1:02d},{v}")
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def test_season_is_read_from_the_date_column(tmp_path, capsys):
    y = load_airpassengers()[:72]
    csv = _monthly_csv(tmp_path / "m.csv", y)
    assert main(["forecast", str(csv), "--evaluate", *QUICK]) == 0
    out = capsys.readouterr().out
    assert "season 12 (monthly dates)" in out and "trained on the first 54, tested on the last 18" in out
    q = tmp_path / "q.csv"
    q.write_text("quarter,v\n" + "".join(f"{2000 + i // 4} Q{i % 4 + 1},{v}\n" for i, v in enumerate(y[:40])))
    assert main(["forecast", str(q), "--evaluate", *QUICK]) == 0
    assert "season 4 (quarterly dates)" in capsys.readouterr().out
    assert main(["forecast", str(q), "--season", "1", "--test-size", "6", *QUICK]) == 0
    assert "season 1 (given)" in capsys.readouterr().out


def test_panel_csv_trains_one_global_model(tmp_path, capsys):
    air = load_airpassengers()
    rows = ["store,month,units"]
    for sid, scale in (("a", 1.0), ("b", 0.5), ("c", 2.0)):
        rows += [f"{sid},{1990 + i // 12}-{i % 12 + 1:02d},{scale * v}" for i, v in enumerate(air[:60])]
    csv = tmp_path / "panel.csv"
    csv.write_text("\n".join(rows) + "\n")
    npz = tmp_path / "p.npz"
    assert (
        main(
            [
                "forecast",
                str(csv),
                "--id-col",
                "store",
                "--time-col",
                "month",
                "--evaluate",
                "--save",
                str(npz),
                *QUICK,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "panel: 3 series of units (store)" in out and "season 12 (monthly dates)" in out
    f = Forecaster.load(npz)
    assert f.n_series_ == 3 and len(f.candidates_["network"].models_) == 1
    counts = out.split("back-test choice: ")[1].split(" (among")[0]  # "network 2, drift 1"
    assert sum(int(part.rsplit(" ", 1)[1]) for part in counts.split(", ")) == 3
    assert main(["predict", "--model", str(npz), "--horizon", "2"]) == 0
    rows = _rows(capsys.readouterr().out)  # the model was trained on 1990-01 .. 1993-06
    assert [(r["unique_id"], r["ds"]) for r in rows[:3]] == [
        ("a", "1993-07"),
        ("a", "1993-08"),
        ("b", "1993-07"),
    ]
    np.testing.assert_allclose([float(r["forecast"]) for r in rows[4:6]], f.predict(2)[2], rtol=1e-5)


@pytest.mark.parametrize(
    "body, message",
    [
        ("2000-01,1\n2000-02,\n2000-03,3\n", "line 3, column 'sales': missing value"),
        ("2000-01,1\n2000-02,x\n2000-03,3\n", "line 3, column 'sales': expected a number, got 'x'"),
        ("2000-01,1\n2000-02,nan\n2000-03,3\n", "line 3, column 'sales': expected a finite number"),
        ("2000-01,1\n2000-01,2\n2000-02,3\n", "line 3: duplicated date '2000-01'"),
        (
            "2000-02,1\n2000-01,2\n2000-03,3\n",
            "line 3: date '2000-01' comes before the previous line's '2000-02'",
        ),
        (
            "2000-01,1\n2000-02,2\n2000-04,3\n",
            "line 4: gap in a regular series, '2000-02' is followed by '2000-04'",
        ),
    ],
)
def test_bad_csvs_name_line_and_column(tmp_path, capsys, body, message):
    csv = tmp_path / "bad.csv"
    csv.write_text("month,sales\n" + body)
    npz = tmp_path / "never.npz"
    assert (
        main(["forecast", str(csv), "--time-col", "month", "--column", "sales", "--save", str(npz), *QUICK])
        == 1
    )
    err = capsys.readouterr().err
    assert "bad.csv" in err and message in err
    assert not npz.exists() and list(tmp_path.iterdir()) == [csv]  # nothing half-written


@pytest.mark.parametrize(
    "body, message",
    [
        ("2000-01,1\n2000-02,\n2000-03,3\n", "bad.csv: line 3, column 'sales': missing value"),
        ("2000-01,1\n2000-02,x\n2000-03,3\n", "bad.csv: line 3, column 'sales': expected a number, got 'x'"),
        (
            "2000-01,1\n2000-03,2\n2000-04,3\n",
            "line 3: gap in a regular series, '2000-01' is followed by '2000-03'",
        ),
    ],
)
def test_bad_csvs_without_column_flags(tmp_path, capsys, body, message):
    """The value and date columns found automatically get the same row-level messages."""
    csv = tmp_path / "bad.csv"
    csv.write_text("month,sales\n" + body)
    assert main(["forecast", str(csv), *QUICK]) == 1
    assert message in capsys.readouterr().err


def test_bad_panel_csv_names_the_series(tmp_path, capsys):
    csv = tmp_path / "p.csv"
    csv.write_text("id,month,v\na,2000-01,1\na,2000-02,2\nb,2000-01,1\nb,2000-02,2\nb,2000-04,2\n")
    assert main(["forecast", str(csv), "--id-col", "id", *QUICK]) == 1
    err = capsys.readouterr().err
    assert "column 'month', id 'b', line 6: gap in a regular series" in err
    assert main(["forecast", str(csv), "--id-col", "store", *QUICK]) == 1
    assert "--id-col: expected one of ['id', 'month', 'v'], got 'store'" in capsys.readouterr().err


def test_evaluate_command_on_the_check_set(monkeypatch, tmp_path, capsys):
    from fastlstm import evaluate

    monkeypatch.setattr(evaluate, "FASTLSTM_PARAMS", {"epochs": 2, "n_models": 1, "hidden_size": 4})
    md = tmp_path / "table.md"
    argv = ["evaluate", "--set", "check", "--frequencies", "yearly", "--no-stats", "--output", str(md)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "evaluation set 'check': yearly" in out
    for method in ("| seasonal naive | 1.000 |", "| naive |", "| fastlstm |"):
        assert method in out
    assert md.read_text().startswith("yearly (")
    assert "fastlstm's back-test choices, yearly: " in out
    assert main(["evaluate", "--frequencies", "weekly"]) == 1
    assert "--frequencies: expected names among" in capsys.readouterr().err


# ------------------------------------------------------- the future, panels, predict, messages
def _panel_csv(path, n=48, header="store,month,units"):
    """Three monthly series; b starts and ends three months after a and c."""
    air = load_airpassengers()
    rows = [header]
    for sid, scale, off in (("a", 1.0, 0), ("b", 0.5, 3), ("c", 2.0, 0)):
        for i in range(n):
            month = f"{1990 + (i + off) // 12}-{(i + off) % 12 + 1:02d}"
            cells = {"store": sid, "month": month, "units": f"{scale * air[i]}"}
            rows.append(",".join(cells[c] for c in header.split(",")))
    path.write_text("\n".join(rows) + "\n")
    return path


def test_forecast_writes_the_future_of_the_airline_series(tmp_path, capsys):
    npz = tmp_path / "air.npz"
    assert main(["forecast", *QUICK, "--threads", "1", "--save", str(npz)]) == 0
    captured = capsys.readouterr()
    rows = _rows(captured.out)  # stdout: the rows alone
    assert len(rows) == 18 and {r["unique_id"] for r in rows} == {"airpassengers"}
    assert rows[0]["ds"] == "1961-01" and rows[-1]["ds"] == "1962-06"
    assert "1949-01 .. 1960-12" in captured.err and "1961-01 .. 1962-06" in captured.err
    f = Forecaster.load(npz)
    np.testing.assert_allclose([float(r["forecast"]) for r in rows], f.predict(18), rtol=1e-5)
    # predict from a CSV that starts later, with dates: forecasts dated after its end
    air = load_airpassengers()
    csv = _monthly_csv(tmp_path / "late.csv", air[60:], start_year=1954)
    assert main(["predict", "--model", str(npz), str(csv), "--horizon", "3"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [r["ds"] for r in rows] == ["1961-01", "1961-02", "1961-03"]
    assert {r["unique_id"] for r in rows} == {"sales"}


def test_panel_future_output_file_and_predict_with_ids(tmp_path, capsys, monkeypatch):
    import fastlstm

    csv = _panel_csv(tmp_path / "panel.csv")
    out, npz = tmp_path / "f.csv", tmp_path / "p.npz"
    old_umask = os.umask(0o027)
    try:
        argv = ["forecast", str(csv), "--id-col", "store", "--horizon", "4", "--output", str(out)]
        assert main([*argv, "--save", str(npz), *QUICK]) == 0
    finally:
        os.umask(old_umask)
    captured = capsys.readouterr()
    assert captured.out == "" and f"forecasts written to {out}" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv", "p.npz", "panel.csv"]  # no temp file
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # the umask applies
    rows = _rows(out.read_text())
    by_id = {u: [r["ds"] for r in rows if r["unique_id"] == u] for u in ("a", "b", "c")}
    assert by_id == {
        "a": ["1994-01", "1994-02", "1994-03", "1994-04"],
        "b": ["1994-04", "1994-05", "1994-06", "1994-07"],  # b ends three months later
        "c": ["1994-01", "1994-02", "1994-03", "1994-04"],
    }

    # predict: the stored history, then the CSV with --id-col; --threads before any work
    seen = []
    monkeypatch.setattr(fastlstm, "set_num_threads", seen.append)
    assert main(["predict", "--model", str(npz), "--horizon", "2", "--threads", "1"]) == 0
    assert seen == [1]
    rows = _rows(capsys.readouterr().out)
    assert [(r["unique_id"], r["ds"]) for r in rows] == [
        ("a", "1994-01"),
        ("a", "1994-02"),
        ("b", "1994-04"),
        ("b", "1994-05"),
        ("c", "1994-01"),
        ("c", "1994-02"),
    ]
    longer = _panel_csv(tmp_path / "longer.csv", n=50)
    assert main(["predict", "--model", str(npz), str(longer), "--id-col", "store", "--horizon", "1"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [(r["unique_id"], r["ds"]) for r in rows] == [("a", "1994-03"), ("b", "1994-06"), ("c", "1994-03")]
    assert main(["predict", "--model", str(npz), str(longer)]) == 1
    assert "looks like a panel in long format: pass --id-col store" in capsys.readouterr().err
    # a file saved without the labels (Forecaster.save): series numbered, rows counted
    old = tmp_path / "old.npz"
    Forecaster.load(npz).save(old)
    assert main(["predict", "--model", str(old), "--horizon", "1"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [(r["unique_id"], r["ds"]) for r in rows] == [("0", "49"), ("1", "49"), ("2", "49")]


def test_evaluate_output_has_the_hold_out_and_actuals(tmp_path, capsys):
    csv = _monthly_csv(tmp_path / "m.csv", load_airpassengers()[:60])
    out = tmp_path / "hold.csv"
    assert main(["forecast", str(csv), "--test-size", "6", "--output", str(out), *QUICK]) == 0
    report = capsys.readouterr().out
    assert "tested on the last 6" in report and "fastlstm LSTM" in report and "MASE" in report
    text = out.read_text()
    assert text.splitlines()[0].endswith(",y")
    assert [ln.split(",")[1] for ln in text.splitlines()[1:]] == [f"2004-{m:02d}" for m in range(7, 13)]


def test_a_short_series_says_what_was_held_out(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Forecaster, "fit", _never)
    csv = _monthly_csv(tmp_path / "s.csv", np.arange(1.0, 13.0))
    argv = ["forecast", str(csv), "--test-size", "8", "--input-size", "4", "--horizon", "2", *QUICK]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "s.csv, column 'sales': expected at least lookback + horizon = 6 points, got 4" in err
    assert "12 points, of which the last 8 are held out for evaluation" in err and "--test-size" in err
    panel = tmp_path / "p.csv"
    panel.write_text(
        "id,v\n" + "".join(f"a,{i}\n" for i in range(20)) + "".join(f"b,{i}\n" for i in range(5))
    )
    assert main(["forecast", str(panel), "--id-col", "id", "--input-size", "4", "--horizon", "2"]) == 1
    err = capsys.readouterr().err
    assert "p.csv, column 'v', id 'b': expected at least lookback + horizon = 6 points, got 5" in err


@pytest.mark.parametrize("header", ["store,month,units", "month,store,units"])
def test_a_long_panel_without_id_col_gets_a_hint(tmp_path, capsys, monkeypatch, header):
    monkeypatch.setattr(Forecaster, "fit", _never)
    csv = _panel_csv(tmp_path / "p.csv", n=12, header=header)
    assert main(["forecast", str(csv)]) == 1
    err = capsys.readouterr().err
    assert "looks like a panel in long format: pass --id-col store" in err and err.count("\n") == 1


def test_missing_optional_packages_fail_before_training(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(Forecaster, "fit", _never)
    monkeypatch.setattr(Forecaster, "load", _never)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "tqdm", None)
    assert main(["forecast", *QUICK, "--plot", str(tmp_path / "x.png")]) == 1
    assert "--plot needs matplotlib" in capsys.readouterr().err
    assert main(["forecast", *QUICK, "--progress"]) == 1
    assert "--progress needs tqdm" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path / "m.npz"), "--plot", str(tmp_path / "x.png")]) == 1
    assert "--plot needs matplotlib" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def _never(*args, **kwargs):
    raise AssertionError("must not be reached")


@pytest.mark.parametrize(
    "label, k, freq, expected",
    [
        ("1960-12", 1, None, "1961-01"),
        ("1960-3", -4, None, "1959-11"),
        ("1960 Dec", 1, None, "1961 Jan"),
        ("1960 DEC", 2, None, "1961 FEB"),
        ("2000 Q4", 1, None, "2001 Q1"),
        ("2000-q1", -1, None, "1999-q4"),
        ("1999", 2, None, "2001"),
        ("2020-12-31", 1, None, "2021-01-01"),
        ("2020-01-05T00:00", 2, "weekly", "2020-01-19T00:00"),
    ],
)
def test_shift_label_keeps_the_format(label, k, freq, expected):
    from fastlstm.forecast.csvio import periods_between, shift_label

    assert shift_label(label, k, freq) == expected
    assert periods_between(label, expected, freq) == k


def test_shift_label_refuses_what_is_not_a_date():
    from fastlstm.forecast.csvio import shift_label

    with pytest.raises(ValueError, match="label: expected a date .* got 'd7'"):
        shift_label("d7", 1)


# ------------------------------------------------------- ISO dates (issue 18: dates through pandas)
def _dated_csv(path, dates, values):
    """A CSV of ``date,sales`` rows, dates written as pandas' ``to_csv`` writes a dated index."""
    path.write_text("date,sales\n" + "".join(f"{d},{v}\n" for d, v in zip(dates, values, strict=False)))
    return path


def _quarter_starts(n, year=1960):
    return [f"{year + i // 4}-{3 * (i % 4) + 1:02d}-01" for i in range(n)]


def _month_starts(n, year=1960):
    return [f"{year + i // 12}-{i % 12 + 1:02d}-01" for i in range(n)]


def test_forecast_reads_quarter_and_month_start_dates(tmp_path, capsys):
    pytest.importorskip("pandas")
    air = load_airpassengers()
    q = _dated_csv(tmp_path / "q.csv", _quarter_starts(40), air[:40])
    assert main(["forecast", str(q), *QUICK]) == 0
    captured = capsys.readouterr()
    assert "season 4 (quarterly dates)" in captured.err and "1960-01-01 .. 1969-10-01" in captured.err
    rows = _rows(captured.out)
    assert [r["ds"] for r in rows] == _quarter_starts(8, 1970)  # M4's quarterly horizon, 8
    m = _dated_csv(tmp_path / "m.csv", _month_starts(48), air[:48])
    assert main(["forecast", str(m), *QUICK]) == 0
    captured = capsys.readouterr()
    assert "season 12 (monthly dates)" in captured.err
    assert [r["ds"] for r in _rows(captured.out)] == _month_starts(18, 1964)


@pytest.mark.parametrize(
    "dates, season, future",
    [
        (  # month ends stay month ends, leap day included
            ["1963-10-31", "1963-11-30", "1963-12-31"],
            "season 12 (monthly dates)",
            ["1964-01-31", "1964-02-29", "1964-03-31"],
        ),
        (["1990-01-01", "1991-01-01", "1992-01-01"], "season 1 (yearly dates)", ["1993-01-01", "1994-01-01"]),
        (["1999-12-31", "2000-12-31", "2001-12-31"], "season 1 (yearly dates)", ["2002-12-31", "2003-12-31"]),
        (
            ["2020-12-20", "2020-12-27", "2021-01-03"],
            "season 52 (weekly dates)",
            ["2021-01-10", "2021-01-17"],
        ),
        (
            ["2020-03-31", "2020-06-30", "2020-09-30"],
            "season 4 (quarterly dates)",
            ["2020-12-31", "2021-03-31"],
        ),
    ],
)
def test_forecast_continues_iso_dates_at_their_frequency(tmp_path, capsys, dates, season, future):
    """The last three dates of a 40-point series; its forecasts dated on from them."""
    pd = pytest.importorskip("pandas")
    freq = pd.infer_freq(pd.DatetimeIndex(dates))
    index = pd.date_range(end=dates[-1], periods=40, freq=freq)
    assert [str(d.date()) for d in index[-3:]] == dates
    csv = _dated_csv(tmp_path / "d.csv", [str(d.date()) for d in index], load_airpassengers()[:40])
    assert main(["forecast", str(csv), "--horizon", str(len(future)), *QUICK]) == 0
    captured = capsys.readouterr()
    assert season in captured.err
    assert [r["ds"] for r in _rows(captured.out)] == future


def test_month_end_dates_saved_and_predicted(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    air = load_airpassengers()
    ends = [str(d.date()) for d in pd.date_range("1960-01-31", periods=60, freq=pd.offsets.MonthEnd())]
    csv = _dated_csv(tmp_path / "m.csv", ends[:48], air[:48])
    npz = tmp_path / "m.npz"
    assert main(["forecast", str(csv), "--horizon", "2", "--save", str(npz), *QUICK]) == 0
    assert [r["ds"] for r in _rows(capsys.readouterr().out)] == ["1964-01-31", "1964-02-29"]
    # the stored history: dated on from its last month end
    assert main(["predict", "--model", str(npz), "--horizon", "2"]) == 0
    assert [r["ds"] for r in _rows(capsys.readouterr().out)] == ["1964-01-31", "1964-02-29"]
    # a CSV that starts and ends a year later: its place counted in months
    later = _dated_csv(tmp_path / "later.csv", ends[12:60], air[12:60])
    assert main(["predict", "--model", str(npz), str(later), "--horizon", "2"]) == 0
    assert [r["ds"] for r in _rows(capsys.readouterr().out)] == ["1965-01-31", "1965-02-28"]


@pytest.mark.parametrize(
    "dates, message",
    [
        (
            _quarter_starts(12)[:5] + _quarter_starts(12)[6:],
            "d.csv, column 'date', line 7: gap in a regular series, '1961-01-01' is followed by '1961-07-01'",
        ),
        (
            _month_starts(12)[:4] + _month_starts(12)[3:],
            "d.csv, column 'date', line 6: duplicated date '1960-04-01'",
        ),
        (
            _month_starts(3) + ["1959-12-01"] + _month_starts(12)[4:],
            "d.csv, column 'date', line 5: date '1959-12-01' comes before the previous line's '1960-03-01'",
        ),
    ],
)
def test_irregular_iso_dates_name_the_line_before_any_work(tmp_path, capsys, monkeypatch, dates, message):
    pytest.importorskip("pandas")
    monkeypatch.setattr(Forecaster, "fit", _never)
    csv = _dated_csv(tmp_path / "d.csv", dates, range(len(dates)))
    assert main(["forecast", str(csv), *QUICK]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_quarter_start_dates_without_pandas_say_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Forecaster, "fit", _never)
    monkeypatch.setitem(sys.modules, "pandas", None)
    csv = _dated_csv(tmp_path / "q.csv", _quarter_starts(12), range(12))
    assert main(["forecast", str(csv), *QUICK]) == 1
    err = capsys.readouterr().err
    assert "q.csv, column 'date': reading dates such as '1960-01-01'" in err
    assert "needs pandas, an optional dependency: pip install 'fastlstm[pandas]'" in err


def test_progress_bar_by_default_only_when_tqdm_is_there(monkeypatch):
    """The forecast command asks for a bar unless --no-progress (the bar itself shows only on a
    terminal); without tqdm, the default quietly has none, while --progress refuses (above)."""
    from fastlstm.cli import _parser, _show_progress

    args = _parser().parse_args(["forecast"])
    assert _show_progress(args) is True
    assert _show_progress(_parser().parse_args(["forecast", "--no-progress"])) is False
    monkeypatch.setitem(sys.modules, "tqdm", None)
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert _show_progress(args) is False


# ------------------------------------- covariates and static columns (issue 19 item 4, command line)
TINY = ["--epochs", "1", "--n-models", "1", "--hidden-size", "4", "--no-progress"]
STORES = (("a", "north", 10), ("b", "south", 20), ("c", "north", 30))


def _promo(i: int, sid: str) -> int:
    return int((i + ord(sid)) % 4 == 0)


def _promo_panel(path, n=36, future=3, edit=None):
    """Three monthly stores (2000-01 on; a store's rows are lines 2 + k * (n + future) on): text
    ``region``, numeric ``size`` and ``promo`` columns; the last ``future`` rows of each store
    have an empty ``units`` and their own date style (``2003-1``). ``edit(line, cells)`` may
    change a row's cells (None drops it)."""
    lines = ["store,month,region,size,promo,units"]
    for sid, region, size in STORES:
        for i in range(n + future):
            month = f"{2000 + i // 12}-{i % 12 + 1}" if i >= n else f"{2000 + i // 12}-{i % 12 + 1:02d}"
            cells = [sid, month, region, str(size), str(_promo(i, sid))]
            cells.append("" if i >= n else f"{size + 5 * _promo(i, sid) + 0.1 * (i % 3):.2f}")
            if edit is not None:
                cells = edit(len(lines) + 1, cells)
            if cells is not None:
                lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_covariates_forecast_the_future_rows_on_their_dates(tmp_path, capsys):
    from fastlstm.forecast.checkpoint import load_with_history

    csv, npz = _promo_panel(tmp_path / "p.csv"), tmp_path / "m.npz"
    argv = ["forecast", str(csv), "--id-col", "store", "--covariates", "promo"]
    assert main([*argv, "--static-cols", "region,size", "--save", str(npz), *TINY]) == 0
    captured = capsys.readouterr()
    rows = _rows(captured.out)
    assert [(r["unique_id"], r["ds"]) for r in rows] == [
        (sid, f"2003-{m}")
        for sid, _, _ in STORES
        for m in (1, 2, 3)  # the future rows' own labels
    ]
    assert "covariates promo, static features region=north, region=south, size" in captured.err
    f, hist = load_with_history(Forecaster, npz)
    assert f.static_columns_ == ["region=north", "region=south", "size"]  # the text column one-hot
    np.testing.assert_array_equal(f.static_[:, :2], [[1, 0], [0, 1], [1, 0]])
    np.testing.assert_array_equal(f.static_[:, 2], [10, 20, 30])
    assert (
        f.n_covariates_ == 1 and hist["covariates"] == ["promo"] and hist["static_cols"] == ["region", "size"]
    )
    promos = [np.array([_promo(i, sid) for i in range(39)], float) for sid, _, _ in STORES]
    for c, p in zip(f.covariates_, promos, strict=True):  # the history's rows, the future's left out
        np.testing.assert_array_equal(c[:, 0], p[:36])
    expected = f.predict(3, X_future=[p[36:, None] for p in promos])
    np.testing.assert_allclose([float(r["forecast"]) for r in rows], np.concatenate(expected), rtol=1e-5)

    # predict: the same columns and future rows, the static features reused
    assert main(["predict", "--model", str(npz), str(csv), "--id-col", "store", "--covariates", "promo"]) == 0
    again = _rows(capsys.readouterr().out)
    assert [(r["ds"], r["forecast"]) for r in again] == [(r["ds"], r["forecast"]) for r in rows]
    assert main(["predict", "--model", str(npz)]) == 1
    err = capsys.readouterr().err
    assert "--covariates: " in err and "was fitted with covariates" in err and err.endswith("got no CSV\n")
    assert main(["predict", "--model", str(npz), str(csv), "--id-col", "store", "--covariates", "size"]) == 1
    assert "--covariates: expected the model's 1 column(s) promo, got size" in capsys.readouterr().err


def test_covariates_with_evaluate_take_the_hold_out_rows_from_the_file(tmp_path, capsys):
    import csv as csv_module
    import io

    csv, out = _promo_panel(tmp_path / "p.csv", n=40, future=0), tmp_path / "hold.csv"
    npz = tmp_path / "m.npz"
    argv = ["forecast", str(csv), "--id-col", "store", "--covariates", "promo", "--test-size", "4"]
    assert main([*argv, "--output", str(out), "--save", str(npz), *TINY]) == 0
    report = capsys.readouterr().out
    assert "each trained on all but its last 4 points" in report and ", covariates promo" in report
    f = Forecaster.load(npz)
    promos = [np.array([_promo(i, sid) for i in range(40)], float) for sid, _, _ in STORES]
    assert [len(c) for c in f.covariates_] == [36, 36, 36]
    rows = list(csv_module.DictReader(io.StringIO(out.read_text())))
    assert [r["ds"] for r in rows[:4]] == ["2003-01", "2003-02", "2003-03", "2003-04"]
    expected = f.predict(4, X_future=[p[36:, None] for p in promos])
    np.testing.assert_allclose([float(r["forecast"]) for r in rows], np.concatenate(expected), rtol=1e-5)


def _set(line_no, column, value):
    """An edit of ``_promo_panel``: cell ``column`` of line ``line_no`` set to ``value``."""
    j = "store,month,region,size,promo,units".split(",").index(column)

    def edit(line, cells):
        if line == line_no:
            cells[j] = value
        return cells

    return edit


@pytest.mark.parametrize(
    "edit, extra, message",
    [
        (
            _set(10, "units", ""),
            [],
            "p.csv: line 10, column 'units': missing value (only the rows at the end",
        ),
        (_set(50, "promo", "x"), [], "p.csv: line 50, column 'promo': expected a number, got 'x'"),
        (_set(39, "promo", ""), [], "p.csv: line 39, column 'promo': missing value"),
        (
            lambda line, cells: None if line == 118 else cells,  # store c's last future row
            [],
            "p.csv: expected the same number of future rows (an empty 'units') for every series, "
            "got 3 for store 'a' and 2 for store 'c'",
        ),
        (None, ["--horizon", "4"], "--horizon: expected 3 (the future rows of each series in"),
        (
            None,
            ["--evaluate"],
            "p.csv: line 38, column 'units': missing value; rows at the end of a series with an empty "
            "value are its future: forecast them without --evaluate/--test-size",
        ),
        (
            _set(60, "region", "east"),
            ["--static-cols", "region"],
            "p.csv: line 60, column 'region', store 'b': expected the value of the series' first row "
            "(line 41), 'south', on every row, got 'east'",
        ),
        (
            None,
            ["--column", "units", "--static-cols", "units"],
            "--static-cols: expected columns other than the value, id and date columns, got 'units'",
        ),
    ],
)
def test_covariate_refusals_name_line_and_column(tmp_path, capsys, monkeypatch, edit, extra, message):
    monkeypatch.setattr(Forecaster, "fit", _never)
    csv = _promo_panel(tmp_path / "p.csv", edit=edit)
    assert main(["forecast", str(csv), "--id-col", "store", "--covariates", "promo", *extra, *TINY]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_future_rows_need_covariates(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Forecaster, "fit", _never)
    csv = _promo_panel(tmp_path / "p.csv")
    assert main(["forecast", str(csv), "--id-col", "store", *TINY]) == 1
    assert (
        "p.csv: line 38, column 'units': missing value; rows at the end of a series with an empty value "
        "are its future: they need --covariates giving their known-future values"
    ) in capsys.readouterr().err
    full = _promo_panel(tmp_path / "full.csv", future=0)
    assert main(["forecast", str(full), "--id-col", "store", "--covariates", "promo", *TINY]) == 1
    assert "--covariates: expected future rows at the end of" in capsys.readouterr().err
    assert main(["forecast", str(full), "--static-cols", "region", *TINY]) == 1
    assert "--static-cols: expected --id-col too" in capsys.readouterr().err
    assert main(["forecast", "--covariates", "promo", *TINY]) == 1
    assert "--covariates: expected a CSV file to pick 'promo' from, got none" in capsys.readouterr().err


def _without_pandas(monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pandas" else find_spec(name, *a)
    )
    monkeypatch.setitem(sys.modules, "pandas", None)


def test_static_text_columns_without_pandas_say_so_before_any_work(tmp_path, capsys, monkeypatch):
    _without_pandas(monkeypatch)
    monkeypatch.setattr(Forecaster, "fit", _never)
    csv = _promo_panel(tmp_path / "full.csv", future=0)
    argv = ["forecast", str(csv), "--id-col", "store", "--static-cols", "size,region", *TINY]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "--static-cols with text columns (region) needs pandas, an optional dependency" in err


def test_static_numeric_columns_without_pandas(tmp_path, capsys, monkeypatch):
    """Numbers go to the fit as an array when pandas is not installed."""
    _without_pandas(monkeypatch)
    csv, npz = _promo_panel(tmp_path / "full.csv", future=0), tmp_path / "m.npz"
    argv = ["forecast", str(csv), "--id-col", "store", "--horizon", "2", "--static-cols", "size"]
    assert main([*argv, "--save", str(npz), *TINY]) == 0, capsys.readouterr().err
    f = Forecaster.load(npz)
    assert f.static_columns_ == ["static0"]
    np.testing.assert_array_equal(f.static_[:, 0], [10, 20, 30])
