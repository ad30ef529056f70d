"""fit_many: many independent fits on joblib (local processes) and on a Dask cluster.

Every path runs in CI: joblib's default process backend with 2 workers, and a
Dask ``LocalCluster`` through ``joblib.parallel_config(backend="dask")`` (two
in-process workers, one thread each, so the test starts in well under a second).
Results must equal plain serial fits (same seeds, same data) up to float32 rounding:
a fit in another process has been seen to differ in the last bits (relative 4e-9),
while a different series or different parameters change forecasts by percents.
"""

from __future__ import annotations

import sys

import numba
import numpy as np
import pytest

from fastlstm import get_num_threads as threads_now
from fastlstm import threads
from fastlstm.forecast import Forecaster
from fastlstm.forecast.datasets import load_airpassengers
from fastlstm.forecast.fit_many import FitFailure, FitManyError, fit_many

RTOL = 1e-5  # float32 fits in other processes (see the module docstring)
TEMPLATE = dict(lookback=12, horizon=6, hidden_size=8, epochs=4, n_models=1, seed=0)


@pytest.fixture(scope="module")
def series():
    air = load_airpassengers()
    return {"a": air[:60], "b": 0.5 * air[30:90], "short": air[:10], "c": air[60:120]}


@pytest.fixture(scope="module")
def serial(series):
    """Forecasts of plain serial fits, the reference for every parallel run."""
    return {k: Forecaster(**TEMPLATE).fit(y).predict() for k, y in series.items() if k != "short"}


def check_results(results, series, serial):
    assert [type(r).__name__ for r in results] == ["Forecaster", "Forecaster", "FitFailure", "Forecaster"]
    for key, r in zip(series, results, strict=True):  # input order
        if key != "short":
            np.testing.assert_allclose(r.predict(), serial[key], rtol=RTOL, err_msg=key)
    failure = results[2]
    assert failure.index == 2 and failure.name == "series 'short'" and failure.error == "ValueError"
    assert "expected at least lookback + horizon = 18 points, got 10" in failure.message
    assert "Traceback" in failure.traceback
    assert str(failure).startswith("series 'short': ValueError: y: series 0 expected at least")


def test_local_processes(series, serial):
    results = fit_many(Forecaster(**TEMPLATE), series, n_jobs=2, on_error="return")
    check_results(results, series, serial)


def test_dask_local_cluster(series, serial):
    import distributed  # in the test extra: this test runs in CI, it does not skip
    import joblib

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        results = fit_many(Forecaster(**TEMPLATE), series, on_error="return")
    check_results(results, series, serial)


def test_a_failure_raises_after_all_fits_and_keeps_the_others(series, serial, caplog):
    with pytest.raises(FitManyError, match=r"1 of 4 fits failed .*\n  series 'short': ValueError") as info:
        fit_many(Forecaster(**TEMPLATE), series, n_jobs=1)
    check_results(info.value.results, series, serial)
    assert info.value.failures == [info.value.results[2]]
    assert "fit_many: series 'short' failed: ValueError" in caplog.text


def test_sweep_on_one_series(series):
    y = series["a"]
    fitted = fit_many(Forecaster(**TEMPLATE), y, params=[{"hidden_size": h} for h in (4, 6)], n_jobs=1)
    assert [f.hidden_size for f in fitted] == [4, 6]
    assert np.array_equal(fitted[1].predict(), Forecaster(**{**TEMPLATE, "hidden_size": 6}).fit(y).predict())


def test_one_params_dict_per_series_and_fit_params(series):
    ys = [series["a"], series["c"]]
    fitted = fit_many(
        Forecaster(**TEMPLATE), ys, params=[{"seed": 1}, {"seed": 2}], fit_params={"val_size": 6}, n_jobs=1
    )
    assert [f.seed for f in fitted] == [1, 2]
    assert all(len(f.histories_[0].val_loss) == TEMPLATE["epochs"] for f in fitted)


def _mean_and_cov(y, X=None, scale=1.0):
    return scale * float(np.mean(y)) + (0.0 if X is None else float(np.sum(X)))


def test_a_function_with_covariates_and_a_failure():
    ys = [np.arange(4.0), np.arange(2.0), np.array([])]
    Xs = [np.ones(2), np.zeros(2), None]
    res = fit_many(_mean_and_cov, ys, Xs, params={"scale": 2.0}, n_jobs=1, on_error="return")
    assert res[:2] == [5.0, 1.0]
    assert isinstance(res[2], FitFailure) and res[2].name == "series 2"
    assert fit_many(_mean_and_cov, (np.arange(3.0),), n_jobs=1) == [1.0]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"y": np.zeros((5, 2))}, TypeError, r"y: a 2-D array is ambiguous; pass list\(arr.T\)"),
        ({"y": 3.0}, TypeError, "y: expected a list or tuple of series, a dict of them, or one 1-D series"),
        ({"y": []}, ValueError, "y: expected at least one series, got none"),
        (
            {"params": {"hiden_size": 3}},
            ValueError,
            r"params: expected parameters of Forecaster .* \['hiden_size'\]",
        ),
        ({"params": [{}, {"hidden": 1}]}, ValueError, r"params\[1\]: expected parameters of Forecaster"),
        ({"params": [{}, {}, {}]}, ValueError, r"params: expected 1 dict or one per series \(2\), got 3"),
        ({"params": ["a"]}, TypeError, r"params\[0\]: expected a dict of parameters, got str"),
        ({"params": []}, ValueError, "params: expected at least one dict"),
        ({"params": 3}, TypeError, "params: expected a dict or a list of dicts, got int"),
        ({"X": [None]}, ValueError, r"X: expected one entry per series of y \(2\), got 1"),
        ({"n_jobs": 0}, ValueError, "n_jobs: expected a positive int or a negative one"),
        ({"n_jobs": 1.5}, TypeError, "n_jobs: expected an int, got float"),
        ({"on_error": "ignore"}, ValueError, "on_error: expected 'raise' or 'return', got 'ignore'"),
        ({"threads_per_fit": 0}, ValueError, "threads_per_fit: expected an int >= 1, got 0"),
        ({"fit_params": 1}, TypeError, "fit_params: expected a dict, got int"),
        (
            {"estimator": Forecaster},
            TypeError,
            r"estimator: expected an unfitted instance such as Forecaster\(...\)",
        ),
        ({"estimator": 3}, TypeError, "estimator: expected an object with get_params"),
    ],
)
def test_argument_errors(kwargs, exc, match):
    args = {"estimator": Forecaster(**TEMPLATE), "y": [np.arange(30.0), np.arange(30.0)], **kwargs}
    with pytest.raises(exc, match=match):
        fit_many(args.pop("estimator"), args.pop("y"), **args)


def test_threads_per_fit(series, serial):
    outer = min(2, numba.config.NUMBA_NUM_THREADS)
    with threads(outer):
        fitted = fit_many(Forecaster(**TEMPLATE), [series["a"]], n_jobs=1, threads_per_fit=1)
        assert threads_now() == outer  # restored after the fit
    np.testing.assert_allclose(fitted[0].predict(), serial["a"], rtol=RTOL)


def test_missing_joblib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "joblib", None)
    with pytest.raises(ImportError, match=r"pip install 'fastlstm\[dask\]'"):
        fit_many(Forecaster(**TEMPLATE), [np.arange(30.0)])


def _observed_threads(y):
    """Run inside a worker: the thread count fastlstm uses there."""
    return threads_now()


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
def test_two_workers_run_one_thread_each_by_default():
    import os

    seen = fit_many(_observed_threads, [np.arange(3.0), np.arange(4.0)], n_jobs=2)
    assert seen == [max(1, (os.cpu_count() or 1) // 2)] * 2
    # one worker (in this process) gets every core, as many as Numba allows
    with threads(1):
        alone = fit_many(_observed_threads, [np.arange(3.0)], n_jobs=1)
    assert alone == [min(numba.config.NUMBA_NUM_THREADS, os.cpu_count() or 1)]
    with threads(1):  # an explicit count wins over the default
        assert fit_many(_observed_threads, [np.arange(3.0)], n_jobs=1, threads_per_fit=2) == [2]


def test_dask_worker_processes_equal_serial_fits_bit_for_bit(series):
    """Per-series models on a LocalCluster of 2 worker processes: the same bits as serial fits.

    One Numba/BLAS thread per fit on both sides (``threads_per_fit=1``), so that every fit
    runs the same kernels in the same order; the forecasts and the intervals must then be
    identical, not merely close, and the failure of the short series reported the same way.
    """
    import os

    import distributed
    import joblib

    template = Forecaster(**TEMPLATE)
    serial = fit_many(template, series, n_jobs=1, threads_per_fit=1, on_error="return")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_config(backend="dask"),
    ):
        results = fit_many(template, series, threads_per_fit=1, on_error="return")
        pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids  # two worker processes, not this one
    assert [type(r).__name__ for r in results] == [type(r).__name__ for r in serial]
    for key, got, want in zip(series, results, serial, strict=True):
        if isinstance(want, FitFailure):
            assert (got.index, got.name, got.error, got.message) == (
                want.index,
                want.name,
                want.error,
                want.message,
            )
            continue
        assert np.array_equal(got.predict(), want.predict()), key
        assert np.array_equal(got.predict_interval(), want.predict_interval()), key
