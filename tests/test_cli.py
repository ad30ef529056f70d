"""The command line: forecast, predict, bench forwarding, errors."""

from __future__ import annotations

import subprocess
import sys
import types

import numpy as np
import pytest

from fastlstm.cli import main, read_csv_column
from fastlstm.datasets import load_airpassengers
from fastlstm.forecast import Forecaster

QUICK = ["--epochs", "3", "--n-models", "1", "--hidden-size", "8"]


def test_forecast_default_series_table_plot_and_save(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png, npz = tmp_path / "f.png", tmp_path / "m.npz"
    assert main(["forecast", *QUICK, "--plot", str(png), "--save", str(npz)]) == 0
    out = capsys.readouterr().out
    assert "airpassengers, 144 points; trained on the first 120, tested on the last 24" in out
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
    sn_row = next(line for line in out.splitlines() if line.startswith("seasonal naive"))
    assert sn_row.split()[-3:] == ["15.523", "17.013", "2.494"]  # MAPE, sMAPE, MASE of the reference
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
