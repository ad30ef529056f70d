"""The benchmark script's report (schema, fallback, plot) and the thread controls.

Speed is measured, not asserted: nothing here compares timings.
"""

from __future__ import annotations

import json
import logging
import sys

import numba
import numpy as np
import pytest

from fastlstm import _threads, bench
from fastlstm._optional import install_hint

TINY = ["--config", "t:2,3,2,4,float32", "--only", "t", "--repeat", "2", "--threads", "1"]

TOP_KEYS = {
    "schema",
    "created",
    "baseline",
    "baseline_description",
    "threads",
    "repeat",
    "flop_count",
    "speedup",
    "matmul",
    "results",
    "cold_start",
    "environment",
    "argv",
}
TIMING_KEYS = {"median", "q1", "q3", "min", "number", "repeat", "gflops", "matmul_share"}


def _run(tmp_path, *extra):
    path = tmp_path / "report.json"
    assert bench.main([*TINY, "--json", str(path), *extra]) == 0
    with open(path) as fh:
        return json.load(fh)


def _check_schema(report, baseline):
    assert set(report) == TOP_KEYS
    assert report["schema"] == bench.SCHEMA
    assert report["baseline"] == baseline
    assert report["threads"] == 1 and report["repeat"] == 2
    assert report["matmul"]["float32"]["gflops"] > 0
    (entry,) = report["results"]
    assert entry["config"] == {"name": "t", "B": 2, "T": 3, "I": 2, "H": 4, "dtype": "float32"}
    assert entry["flops"] == {"forward": 2 * 3 * 2 * 16 * 6, "training": 3 * 2 * 3 * 2 * 16 * 6}
    assert entry["streaming"] is False
    check = entry["check"]
    assert check["passed"] is True, check
    assert check["max_rel_err"] <= check["rtol"] == bench.CHECK_RTOL["float32"]
    assert set(check["errors"]) >= {"output", "h_n", "c_n", "d_x", "d_weight_ih", "d_weight_hh", "d_bias"}
    for kind in ("training", "inference"):
        block = entry[kind]
        for who in ("fastlstm", "baseline"):
            assert set(block[who]) == TIMING_KEYS
            assert block[who]["repeat"] == 2
            assert 0 < block[who]["q1"] <= block[who]["median"] <= block[who]["q3"]
        assert block["speedup"] == pytest.approx(block["baseline"]["median"] / block["fastlstm"]["median"])
    assert set(entry["code_path"]) >= {"activations", "recurrent", "weight_gradients"}
    env = report["environment"]
    assert env["numba"] == numba.__version__ and env["numpy"] == np.__version__
    assert {"model", "avx2", "fma", "avx512f"} <= set(env["cpu"])
    assert env["threads"]["numba_threads"] == 1
    assert set(env["code_path"]) == {"float32", "float64"}
    assert report["argv"][:2] == TINY[:2]
    return entry


def test_report_schema_with_torch(tmp_path, capsys, restore_numba_threads):
    pytest.importorskip("torch")
    report = _run(tmp_path, "--no-memory")
    entry = _check_schema(report, "torch")
    assert entry["check"]["reference"] == "torch in float64"
    assert entry["memory"] is None
    assert report["environment"]["torch"]["threads"] == 1
    out = capsys.readouterr().out
    assert "torch.nn.LSTM" in out.splitlines()[0]
    assert "ok" in out and "wrote" in out


def test_no_torch_fallback(tmp_path, capsys, monkeypatch, restore_numba_threads):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    before = (_threads.get_num_threads(), _blas_threads())
    report = _run(tmp_path)
    assert (_threads.get_num_threads(), _blas_threads()) == before  # --threads 1 held for the run only
    entry = _check_schema(report, "numpy")
    assert "not installed" in report["baseline_description"]
    assert "torch" not in report["environment"]
    assert entry["check"]["reference"] == "numpy reference in float64"
    # peak memory: one child process per library, the same method for both
    for who in ("fastlstm", "baseline"):
        mem = entry["memory"][who]
        assert "error" not in mem, mem
        assert mem["method"] in ("rss-hwm", "ru_maxrss")
        assert mem["peak_bytes"] >= 0 and mem["tracemalloc_peak_bytes"] > 0
    assert "NumPy LSTM" in capsys.readouterr().out.splitlines()[0]


def test_plot_is_written(tmp_path, restore_numba_threads):
    pytest.importorskip("matplotlib")
    png = tmp_path / "speedups.png"
    assert bench.main([*TINY, "--no-torch", "--no-memory", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reference_lstm_matches_kernels(rng):
    from fastlstm import kernels

    T, B, In, H = 5, 3, 2, 4
    x, dy = rng.standard_normal((T, B, In)), rng.standard_normal((T, B, H))
    w_ih, w_hh = rng.standard_normal((4 * H, In)), rng.standard_normal((4 * H, H))
    b = rng.standard_normal(4 * H)
    y, h_n, c_n, cache = bench.reference_forward(x, w_ih, w_hh, b)
    ky, kh, kc, kcache = kernels.lstm_forward(x, None, None, w_ih, w_hh, b)
    np.testing.assert_allclose(y, ky, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c_n, kc, rtol=1e-12, atol=1e-13)
    ref = bench.reference_backward(dy, cache, w_ih, w_hh)
    res = kernels.lstm_backward(dy, None, None, kcache, w_ih, w_hh)
    for got, want in zip(ref, (res.dx, res.dh0, res.dc0, res.dw_ih, res.dw_hh, res.db), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize(
    "text, message",
    [
        ("t:1,2,3,float32", "NAME:B,T,I,H,dtype"),
        ("t:1,2,3,x,f32", "integers"),
        ("t:0,2,3,4,f32", ">= 1"),
        ("t:1,2,3,4,float16", "float32 or float64"),
        (":1,2,3,4,f32", "NAME:B,T,I,H,dtype"),
    ],
)
def test_parse_config_errors(text, message):
    with pytest.raises(ValueError, match=message):
        bench.parse_config(text)


def test_parse_config_and_flops():
    cfg = bench.parse_config("mine:32,100,8,64,f64")
    assert cfg == bench.Config("mine", 32, 100, 8, 64, "float64")
    assert cfg.flops_forward == 2 * 100 * 32 * 4 * 64 * (8 + 64)
    assert cfg.flops_training == 3 * cfg.flops_forward
    assert bench.REFERENCE_CONFIGS["step"].streaming


def test_cli_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--only", "nope"])
    with pytest.raises(SystemExit):
        bench.main(["--config", "tiny:1,1,1,1,f32"])  # a reference name
    assert "unknown configuration" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------
# _threads
# ----------------------------------------------------------------------------------------
def _blas_threads():
    blas = _threads.thread_info()["blas"]
    return [pool["threads"] for pool in blas] if isinstance(blas, list) else None


def test_threads_round_trip(restore_numba_threads):
    original = (_threads.get_num_threads(), _blas_threads())
    try:
        _threads.set_num_threads(1)
        assert _threads.get_num_threads() == 1 == numba.get_num_threads()
        blas = _blas_threads()
        if blas is not None:  # threadpoolctl installed: every BLAS pool, NumPy's and SciPy's
            assert blas and set(blas) == {1}
        top = numba.config.NUMBA_NUM_THREADS
        with _threads.threads(top) as n:
            assert n == top == _threads.get_num_threads()
            if blas is not None:
                assert set(_blas_threads()) == {top}
        assert _threads.get_num_threads() == 1
        if blas is not None:
            assert set(_blas_threads()) == {1}
    finally:
        _threads.set_num_threads(original[0])
    info = _threads.thread_info()
    assert {"numba_threading_layer", "numba_threads", "numba_max_threads", "blas"} <= set(info)
    if isinstance(info["blas"], list):
        assert {p["directory"] for p in info["blas"]} >= {"scipy.libs"}  # what numba's np.dot calls
        assert all({"library", "threads", "architecture", "filename"} <= set(p) for p in info["blas"])


@pytest.mark.parametrize(
    "n, exc", [(0, ValueError), (10**6, ValueError), (1.0, TypeError), (True, TypeError)]
)
def test_threads_reject_bad_counts(n, exc):
    with pytest.raises(exc, match="n: expected"):
        _threads.set_num_threads(n)


def test_threads_without_threadpoolctl(monkeypatch, caplog, restore_numba_threads):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    monkeypatch.setattr(_threads, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="fastlstm._threads"):
        _threads.set_num_threads(1)
    assert _threads.get_num_threads() == 1
    assert "threadpoolctl is not installed" in caplog.text
    info = _threads.thread_info()
    assert info["threadpoolctl"] is None and "unknown" in info["blas"]


def test_torch_module_rows(tmp_path, capsys, restore_numba_threads):
    """With PyTorch, fastlstm.torch.LSTM is timed like torch.nn.LSTM and gets rows of its own."""
    pytest.importorskip("torch")
    entry = _run(tmp_path, "--no-memory")["results"][0]
    for kind in ("training", "inference"):
        block = entry[kind]
        assert set(block["fastlstm_torch"]) == TIMING_KEYS
        assert block["speedup_fastlstm_torch"] == pytest.approx(
            block["baseline"]["median"] / block["fastlstm_torch"]["median"]
        )
    out = capsys.readouterr().out
    assert "fastlstm.torch.LSTM (a torch.nn.Module on fastlstm's kernels)" in out
    assert bench.main([*TINY, "--no-torch", "--no-memory", "--json", str(tmp_path / "n.json")]) == 0
    with open(tmp_path / "n.json") as fh:
        assert "fastlstm_torch" not in json.load(fh)["results"][0]["training"]
    assert "fastlstm.torch" not in capsys.readouterr().out


def test_profile_parts_add_up_to_the_step():
    """--profile: every part is measured (non-negative), the drivers' parts fit inside the
    one-thread step, and the table names every part."""
    from fastlstm.bench.profile import PARTS, format_profile, profile_config

    cfg = bench.Config("p", 4, 6, 3, 20, "float32")
    prof = profile_config(cfg, repeat=3, threads=1)
    assert set(prof["parts"]) == set(PARTS)
    assert all(v >= 0 for v in prof["parts"].values())
    assert prof["parts"]["recurrent"] > 0 and prof["parts"]["elementwise"] > 0
    assert prof["drivers_1"] <= prof["step_1"] * 1.5  # the drivers are inside the layer's step
    table = format_profile({"p": prof})
    for label in ("input proj.", "recurrent", "elementwise", "weight grads", "input grad", "Python"):
        assert label in table
    # the bound: the products at the micro-kernel's in-L1 rate plus the elementwise passes
    assert prof["microkernel_gflops"] > 0
    assert prof["bound_1"] == pytest.approx(
        cfg.flops_training / (prof["microkernel_gflops"] * 1e9) + prof["parts"]["elementwise"]
    )
    assert prof["parts"]["elementwise"] < prof["bound_1"] <= prof["drivers_1"] * 1.5
    assert prof["bound_threads"] == pytest.approx(prof["bound_1"])  # one thread
    assert 0 < prof["bound_inference_threads"] < prof["bound_threads"]
    with_base = format_profile({"p": prof}, {"p": (2 * prof["step_threads"], None)})
    assert "2.00x" in with_base and "at most" in with_base


def test_profile_flag_prints_the_table(capsys, restore_numba_threads):
    assert (
        bench.main(
            [
                "--config",
                "q:2,3,2,4,float32",
                "--only",
                "q",
                "--repeat",
                "2",
                "--no-torch",
                "--no-memory",
                "--threads",
                "1",
                "--profile",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "parts timed separately on 1 thread" in out and "q " in out


def test_contention_table_and_the_busy_process_is_gone(capsys, restore_numba_threads):
    import os

    from fastlstm.bench.cli import main
    from fastlstm.bench.contention import run_contention

    report = run_contention([bench.REFERENCE_CONFIGS["step"]], repeat=2, rounds=1, busy_limit_s=60)
    assert set(report["situations"]) == {"quiet", "busy", "pair"}
    for table in report["situations"].values():
        t = table["step"]
        assert t["default"] > 0 and t["one"] > 0 and t["default_threads"] >= 1
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(report["busy_pid"], 0)
    assert main(["--contention", "--only", "step", "--repeat", "2", "--situations", "quiet,busy"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("CPU: ") and "default/1" in out[1]
    rows = [line.split() for line in out[2:]]
    assert [r[:2] for r in rows] == [["quiet", "step"], ["busy", "step"]]
    assert all(float(r[5]) > 0 for r in rows)


def test_contention_rejects_unknown_situations(capsys):
    from fastlstm.bench.cli import main

    with pytest.raises(SystemExit):
        main(["--contention", "--situations", "loud"])
    assert "--situations: expected some of quiet,busy,pair, got 'loud'" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------
# panel forecasting: python -m fastlstm.bench --forecast
# ----------------------------------------------------------------------------------------
def test_make_panel_is_seeded_positive_and_ends_together():
    from fastlstm.bench.forecast import make_panel

    df = make_panel(5, 40, seed=3)
    assert list(df.columns) == ["unique_id", "ds", "y"]
    assert df.equals(make_panel(5, 40, seed=3)) and not df.equals(make_panel(5, 40, seed=4))
    sizes = df.groupby("unique_id", sort=False).size()
    assert list(sizes.index) == [f"s{i}" for i in range(5)] and sizes.between(36, 40).all()
    assert df.groupby("unique_id")["ds"].max().nunique() == 1  # every series ends in the same month
    assert (df["y"] > 0).all() and np.isfinite(df["y"]).all()
    with pytest.raises(ValueError, match="length >= 24"):
        make_panel(2, 10)


def test_forecast_table_and_json(tmp_path, capsys, monkeypatch):
    """Tiny panel, 2 epochs, 1 network: the table and the JSON, with finite positive figures."""
    import importlib.util

    from fastlstm.bench import forecast

    real = forecast._installed
    monkeypatch.setattr(forecast, "_installed", lambda m: m != "neuralforecast" and real(m))
    has_ets = importlib.util.find_spec("statsforecast") is not None
    path = tmp_path / "panel.json"
    argv = ["--forecast", "--series", "6", "--length", "60", "--epochs", "2", "--n-models", "1"]
    argv += ["--threads", "1", "--methods", "fastlstm,AutoETS,neuralforecast", "--json", str(path)]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "method    series  fit s  predict s  seconds  series/s  peak MiB  vs AutoETS" in out
    assert f"neuralforecast-LSTM (6 series): not installed: {install_hint('neural')}" in out
    with open(path) as fh:
        report = json.load(fh)
    assert report["schema"] == "fastlstm.bench.forecast/1"
    assert report["panel"]["series"] == [6] and report["panel"]["length"] == 60
    assert report["params"] == {"epochs": 2, "n_models": 1} and report["threads"] == 1
    by_method = {r["method"]: r for r in report["results"]}
    assert by_method["neuralforecast-LSTM"]["skipped"] == f"not installed: {install_hint('neural')}"
    timed = ["fastlstm", "AutoETS"] if has_ets else ["fastlstm"]
    for name in timed:
        r = by_method[name]
        for key in ("fit_s", "predict_s", "seconds", "series_per_s", "peak_mib", "extra_mib"):
            assert np.isfinite(r[key]) and r[key] > 0, (name, key, r[key])
        assert r["finite"] and r["n_forecasts"] == 6 * 18 and r["series"] == 6
        assert r["seconds"] == pytest.approx(r["fit_s"] + r["predict_s"])
        assert r["series_per_s"] == pytest.approx(6 / r["seconds"])
        assert r["peak_mib"] >= r["extra_mib"]
        assert f"\n{name.ljust(8)}  6 " in out
    assert by_method["fastlstm"]["settings"]["epochs"] == 2
    if has_ets:
        assert by_method["AutoETS"]["ratio_to_autoets"] == 1.0
        ratio = by_method["fastlstm"]["ratio_to_autoets"]
        assert ratio == pytest.approx(by_method["AutoETS"]["seconds"] / by_method["fastlstm"]["seconds"])


def test_forecast_past_one_process(tmp_path):
    """The global model on 2 MPI ranks and per-series models on a 2-worker Dask LocalCluster."""
    from fastlstm.bench.forecast import run_forecast_benchmark

    report = run_forecast_benchmark(
        [3], 60, methods=["mpi", "dask"], threads=2, params={"epochs": 1, "n_models": 1}, timeout=120
    )
    assert [r["method"] for r in report["results"]] == ["fastlstm-mpi", "fastlstm-dask"]
    for r in report["results"]:
        assert "error" not in r, r
        assert r["finite"] and r["n_forecasts"] == 3 * 18
        assert all(np.isfinite(r[k]) and r[k] > 0 for k in ("seconds", "series_per_s", "peak_mib"))
    assert report["results"][0]["settings"]["epochs"] == 1
    assert report["results"][1]["settings"] == {"workers": 2, "threads_per_worker": 1, "models": 3}


def test_forecast_cli_rejects_bad_arguments(capsys):
    for argv in (["--methods", "prophet"], ["--series", "0"], ["--length", "20"], ["--threads", "0"]):
        with pytest.raises(SystemExit):
            bench.main(["--forecast", *argv])
    assert "unknown method 'prophet'" in capsys.readouterr().err
