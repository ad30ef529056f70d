"""The command line: forecast, predict, bench forwarding, errors."""

from __future__ import annotations

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
    assert main(["forecast", *QUICK, "--plot", str(png), "--save", str(npz)]) == 0
    out = capsys.readouterr().out
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

    # predict from the saved model: the stored history, then a CSV history
    assert main(["predict", "--model", str(npz), "--horizon", "5"]) == 0
    lines = capsys.readouterr().out.split()
    assert lines[0] == "step,forecast" and len(lines) == 6
    np.testing.assert_allclose([float(v.split(",")[1]) for v in lines[1:]], f.predict(5), rtol=1e-5)
    csv = tmp_path / "s.csv"
    y = load_airpassengers()[:100]
    csv.write_text("t,value\n" + "".join(f"{i},{v}\n" for i, v in enumerate(y)))
    assert main(["predict", "--model", str(npz), str(csv), "--column", "value"]) == 0
    lines = capsys.readouterr().out.split()
    assert len(lines) == 1 + f.horizon
    np.testing.assert_allclose([float(v.split(",")[1]) for v in lines[1:]], f.predict(y=y), rtol=1e-5)


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
    assert "pip install fastlstm[plot]" in capsys.readouterr().err


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
    assert main(["forecast", str(csv), *QUICK]) == 0
    out = capsys.readouterr().out
    assert "season 12 (monthly dates)" in out and "trained on the first 54, tested on the last 18" in out
    q = tmp_path / "q.csv"
    q.write_text("quarter,v\n" + "".join(f"{2000 + i // 4} Q{i % 4 + 1},{v}\n" for i, v in enumerate(y[:40])))
    assert main(["forecast", str(q), *QUICK]) == 0
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
        main(["forecast", str(csv), "--id-col", "store", "--time-col", "month", "--save", str(npz), *QUICK])
        == 0
    )
    out = capsys.readouterr().out
    assert "panel: 3 series of units (store)" in out and "season 12 (monthly dates)" in out
    f = Forecaster.load(npz)
    assert f.n_series_ == 3 and len(f.models_) == 1
    counts = out.split("back-test choice: ")[1].split(" (among")[0]  # "network 2, drift 1"
    assert sum(int(part.rsplit(" ", 1)[1]) for part in counts.split(", ")) == 3
    assert main(["predict", "--model", str(npz), "--horizon", "2"]) == 0
    lines = capsys.readouterr().out.split()
    assert lines[0] == "series,step,forecast" and [ln.split(",")[:2] for ln in lines[1:3]] == [
        ["0", "1"],
        ["0", "2"],
    ]
    np.testing.assert_allclose([float(ln.split(",")[2]) for ln in lines[5:7]], f.predict(2)[2], rtol=1e-5)


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
