"""Panel forecasting throughput: ``python -m fastlstm.bench --forecast`` (``fastlstm bench --forecast``).

One synthetic panel of monthly series (:func:`make_panel`: seeded level, trend,
seasonality with a per-series amplitude and phase, noise; lengths a little below
``length``, all ending in the same month) is forecast by

* ``fastlstm``: one global :class:`~fastlstm.forecast.Forecaster` with its default
  settings (``fit`` on the long DataFrame, then ``predict`` and ``predict_interval``
  at 80 % and 95 %);
* ``AutoETS``: statsforecast's ``AutoETS(season_length=12)``, ``StatsForecast.fit``
  then ``predict(h, level=[80, 95])``, when statsforecast is installed;
* ``neuralforecast-LSTM``: neuralforecast's ``LSTM`` with its default settings and an
  ``MQLoss`` for the same two intervals, when neuralforecast is installed;

and, when asked for by name (``--methods``), two ways past one process:

* ``fastlstm-mpi``: the same global model trained data-parallel (``Forecaster(comm=...)``)
  on ``threads`` MPI ranks of one thread each (``mpiexec -n threads python -m mpi4py``);
  times are the slowest rank's, memory the sum over the ranks;
* ``fastlstm-dask``: one ``Forecaster`` per series (default settings) through
  :func:`~fastlstm.forecast.fit_many` on a Dask ``LocalCluster`` of ``threads``
  single-threaded worker processes (``joblib.parallel_config(backend="dask")``), then
  ``predict`` and ``predict_interval`` of every model in the driver.

Every method runs in its own fresh child process (:func:`run_method`), with the same
number of cores (fastlstm's Numba and BLAS threads, statsforecast's ``n_jobs``). The
child first fits a tiny panel, untimed, so that compiled code is loaded (Numba's
cache) and first-call costs are paid; then it times ``fit`` and ``predict`` + intervals
on the panel. Peak memory is the child's resident set: the kernel's high-water mark
(``VmHWM``, reset after the warm-up) together with a 20 ms sampler of the RSS of the
child and every process it started (statsforecast's worker pool), whichever is larger;
``peak_mib`` is the whole process (interpreter and libraries included), ``extra_mib``
what the timed run added on top of the RSS before it.
"""

from __future__ import annotations

import cProfile
import io
import json
import logging
import math
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import numpy as np

from .._atomic import atomic_write
from .._optional import install_hint
from .memory import _maxrss_kib, _proc_status_kib, _reset_hwm

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "format_forecast_report",
    "main",
    "make_panel",
    "run_forecast_benchmark",
    "run_method",
    "write_forecast_json",
]

logger = logging.getLogger(__name__)

SCHEMA = "fastlstm.bench.forecast/1"

#: method name -> (module that must be importable, install hint)
METHODS: dict[str, tuple[str, str]] = {
    "fastlstm": ("fastlstm", "fastlstm itself"),
    "AutoETS": ("statsforecast", install_hint("eval")),
    "neuralforecast-LSTM": ("neuralforecast", install_hint("neural")),
    "fastlstm-mpi": (
        "mpi4py",
        f"{install_hint('mpi')}, and an MPI library (the mpich wheel, or the system's)",
    ),
    "fastlstm-dask": ("distributed", install_hint("dask")),
}
#: what runs when no method is named (the other two are asked for by name)
DEFAULT_METHODS = ("fastlstm", "AutoETS", "neuralforecast-LSTM")
_ALIASES = {
    "fastlstm": "fastlstm",
    "autoets": "AutoETS",
    "ets": "AutoETS",
    "neuralforecast": "neuralforecast-LSTM",
    "neuralforecast-lstm": "neuralforecast-LSTM",
    "nf": "neuralforecast-LSTM",
    "mpi": "fastlstm-mpi",
    "dask": "fastlstm-dask",
}
LEVELS = (80, 95)


def make_panel(n_series: int = 1000, length: int = 200, seed: int = 0, start: str = "2000-01"):
    """A seeded synthetic panel of positive monthly series, as a long DataFrame.

    Series ``i`` is ``level_i * exp(slope_i t) * (1 + a_i sin(2 pi t / 12 + phi_i)) * (1 + e_t)``
    with a log-normal level (median 300), a slope of about +-0.4 % a month, a seasonal
    amplitude ``a_i`` uniform in [0, 0.35] and phase ``phi_i`` uniform in [0, 2 pi),
    and Gaussian noise ``e_t`` of a per-series scale uniform in [0.01, 0.08]. Lengths are
    uniform in ``[0.9 length, length]``; every series ends in the same month.

    Parameters
    ----------
    n_series : int
        Number of series.
    length : int
        Length of the longest series (at least 24).
    seed : int
        Seed of NumPy's ``default_rng``: the same seed gives the same panel.
    start : str
        The month of the first point of the longest series.

    Returns
    -------
    pandas.DataFrame
        Columns ``unique_id`` (``"s0"``, ``"s1"``, ...), ``ds`` (month starts) and
        ``y`` (float64), sorted by series and date.
    """
    import pandas as pd

    if n_series < 1 or length < 24:
        raise ValueError(f"make_panel: expected n_series >= 1 and length >= 24, got {n_series}, {length}")
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=length, freq="MS")
    lengths = rng.integers(int(math.ceil(0.9 * length)), length + 1, size=n_series)
    level = np.exp(rng.normal(np.log(300.0), 1.0, size=n_series))
    slope = rng.normal(0.0, 0.004, size=n_series)
    amp = rng.uniform(0.0, 0.35, size=n_series)
    phase = rng.uniform(0.0, 2 * np.pi, size=n_series)
    noise = rng.uniform(0.01, 0.08, size=n_series)
    ids, ds, ys = [], [], []
    for i in range(n_series):
        n = int(lengths[i])
        t = np.arange(length - n, length, dtype=np.float64)
        e = np.clip(rng.normal(0.0, noise[i], size=n), -0.5, 0.5)
        y = level[i] * np.exp(slope[i] * t) * (1 + amp[i] * np.sin(2 * np.pi * t / 12 + phase[i])) * (1 + e)
        ids.append(np.full(n, f"s{i}", dtype=object))
        ds.append(dates[length - n :])
        ys.append(y)
    return pd.DataFrame(
        {
            "unique_id": np.concatenate(ids),
            "ds": np.concatenate([d.values for d in ds]),
            "y": np.concatenate(ys),
        }
    )


def _canonical(name: str) -> str:
    key = name.strip()
    if key in METHODS:
        return key
    try:
        return _ALIASES[key.lower()]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; known: {', '.join(METHODS)}") from None


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# ------------------------------------------------------------------------------------------
# the methods (run inside the child process)
# ------------------------------------------------------------------------------------------
def _fastlstm_runner(spec: dict) -> Callable:
    from .. import _threads
    from ..forecast import Forecaster

    comm = None
    if spec["method"] == "fastlstm-mpi":  # one rank per core, one thread each
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
    _threads.set_num_threads(1 if comm is not None else spec["threads"])
    params = dict(spec.get("params") or {})
    params.setdefault("horizon", spec["horizon"])

    def run(df, timings):
        if comm is not None:
            comm.Barrier()
        t0 = time.perf_counter()
        f = Forecaster(**params, comm=comm).fit(df)
        t1 = time.perf_counter()
        point = f.predict()
        lo_hi = f.predict_interval(coverage=tuple(lv / 100 for lv in LEVELS))
        t2 = time.perf_counter()
        timings.update(fit_s=t1 - t0, predict_s=t2 - t1)
        return {
            "n_forecasts": int(len(point)),
            "finite": bool(
                np.isfinite(point["forecast"].to_numpy(float)).all()
                and np.isfinite(lo_hi.drop(columns=["unique_id", "ds"]).to_numpy(float)).all()
            ),
            "settings": {
                "epochs": int(f.epochs_),
                "batch_size": int(f.batch_size_),
                "lookback": int(f.lookback_),
                "n_models": int(f.n_models),
                "hidden_size": int(f.hidden_size),
            },
        }

    return run


def _autoets_runner(spec: dict) -> Callable:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    def run(df, timings):
        t0 = time.perf_counter()
        sf = StatsForecast(models=[AutoETS(season_length=12)], freq="MS", n_jobs=spec["threads"])
        sf.fit(df)
        t1 = time.perf_counter()
        out = sf.predict(h=spec["horizon"], level=list(LEVELS))
        t2 = time.perf_counter()
        timings.update(fit_s=t1 - t0, predict_s=t2 - t1)
        return _long_frame_result(out, {"season_length": 12, "n_jobs": spec["threads"]})

    return run


def _long_frame_result(out, settings: dict) -> dict:
    """A runner's result from a Nixtla-style long forecast frame (``unique_id, ds`` and value
    columns): how many rows, whether every value is finite, and the method's settings."""
    values = out.drop(columns=[c for c in ("unique_id", "ds") if c in out.columns]).to_numpy(float)
    return {"n_forecasts": int(len(out)), "finite": bool(np.isfinite(values).all()), "settings": settings}


def _neuralforecast_runner(spec: dict) -> Callable:  # pragma: no cover - not a test dependency
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MQLoss
    from neuralforecast.models import LSTM

    try:
        import torch

        torch.set_num_threads(spec["threads"])
    except ImportError:
        pass

    def run(df, timings):
        t0 = time.perf_counter()
        model = LSTM(h=spec["horizon"], loss=MQLoss(level=list(LEVELS)), enable_progress_bar=False)
        nf = NeuralForecast(models=[model], freq="MS")
        nf.fit(df)
        t1 = time.perf_counter()
        out = nf.predict()
        t2 = time.perf_counter()
        timings.update(fit_s=t1 - t0, predict_s=t2 - t1)
        return _long_frame_result(out, {"max_steps": int(getattr(model, "max_steps", -1))})

    return run


def _dask_runner(spec: dict) -> Callable:
    """Per-series models: one Forecaster per series through fit_many on a Dask LocalCluster."""
    import distributed
    import joblib

    from ..forecast import Forecaster
    from ..forecast.fit_many import fit_many

    params = dict(spec.get("params") or {})
    params.setdefault("horizon", spec["horizon"])
    cluster = distributed.LocalCluster(
        n_workers=spec["threads"], threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)

    def run(df, timings):
        series = {k: g.set_index("ds")["y"].asfreq("MS") for k, g in df.groupby("unique_id", sort=False)}
        t0 = time.perf_counter()
        with joblib.parallel_config(backend="dask"):
            fitted = fit_many(Forecaster(**params), series, threads_per_fit=1)
        t1 = time.perf_counter()
        points = [f.predict() for f in fitted]
        bounds = [f.predict_interval(coverage=tuple(lv / 100 for lv in LEVELS)) for f in fitted]
        t2 = time.perf_counter()
        timings.update(fit_s=t1 - t0, predict_s=t2 - t1)
        values = np.concatenate([np.ravel(p.to_numpy(float)) for p in points + bounds])
        return {
            "n_forecasts": int(sum(len(p) for p in points)),
            "finite": bool(np.isfinite(values).all()),
            "settings": {"workers": spec["threads"], "threads_per_worker": 1, "models": len(fitted)},
        }

    def close() -> None:
        client.close()
        cluster.close()

    run.close = close
    return run


_RUNNERS = {
    "fastlstm": _fastlstm_runner,
    "AutoETS": _autoets_runner,
    "neuralforecast-LSTM": _neuralforecast_runner,
    "fastlstm-mpi": _fastlstm_runner,
    "fastlstm-dask": _dask_runner,
}


class _TreeSampler:
    """Peak of the summed RSS of this process and its descendants, sampled every ``interval`` s."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        try:
            import psutil

            self._proc = psutil.Process()
        except ImportError:  # pragma: no cover - psutil comes with dask/distributed
            self._proc = None
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> int:
        total = self._proc.memory_info().rss
        for child in self._proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except Exception:  # noqa: BLE001 - a worker that has just exited
                pass
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self):
        if self._proc is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._proc is not None:
            self._thread.join()
            self.peak = max(self.peak, self._sample())


def _child(spec_path: str) -> None:
    """Child-process body of :func:`run_method` (reads a JSON spec, writes a JSON result)."""
    with open(spec_path) as fh:
        spec = json.load(fh)
    method = spec["method"]
    run = _RUNNERS[method](spec)
    # untimed warm-up on a tiny panel: Numba's cache loaded, first-call costs paid
    warm_params = dict(spec, params={**(spec.get("params") or {}), "epochs": 1, "n_models": 1})
    warm = _RUNNERS[method](warm_params) if method in ("fastlstm", "fastlstm-mpi") else run
    warm(make_panel(4, max(60, 3 * spec["horizon"] + 24), seed=spec["seed"] + 1), {})
    df = make_panel(spec["n_series"], spec["length"], seed=spec["seed"])
    import gc

    gc.collect()
    hwm = _reset_hwm()
    base_kib = _proc_status_kib("VmRSS") if hwm else _maxrss_kib()
    timings: dict = {}
    profiler = cProfile.Profile() if spec.get("profile") else None
    with _TreeSampler() as sampler:
        if profiler is not None:
            profiler.enable()
        info = run(df, timings)
        if profiler is not None:
            profiler.disable()
    peak_kib = _proc_status_kib("VmHWM") if hwm else _maxrss_kib()
    peak_bytes = max(peak_kib * 1024, sampler.peak)
    base_bytes = base_kib * 1024
    if hasattr(run, "close"):
        run.close()
    if method == "fastlstm-mpi":  # every rank's memory (each holds the panel), rank 0 writes
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
        peak_bytes, base_bytes = comm.allreduce(peak_bytes), comm.allreduce(base_bytes)
        timings = {k: comm.allreduce(v, op=MPI.MAX) for k, v in sorted(timings.items())}
        if comm.Get_rank() != 0:
            return
    result = {
        **info,
        "fit_s": timings["fit_s"],
        "predict_s": timings["predict_s"],
        "seconds": timings["fit_s"] + timings["predict_s"],
        "peak_bytes": peak_bytes,
        "extra_bytes": max(peak_bytes - base_bytes, 0),
        "memory_method": ("VmHWM (reset after the warm-up)" if hwm else "ru_maxrss")
        + " and a 20 ms sampler of the process tree's RSS, the larger",
        "n_points": int(len(df)),
    }
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(spec.get("profile_top", 25))
        result["profile"] = text.getvalue()
    with open(spec["out"], "w") as fh:
        json.dump(result, fh)


def _mpiexec() -> str:
    """mpiexec next to this Python (the mpich wheel puts it there), else on PATH."""
    import shutil

    local = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = local if os.access(local, os.X_OK) else shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError(
            "mpiexec not found next to sys.executable or on PATH: install an MPI library "
            "(the mpich wheel, or the system's)"
        )
    return found


def run_method(
    method: str,
    n_series: int,
    length: int,
    *,
    horizon: int = 18,
    threads: int = 1,
    seed: int = 0,
    params: dict | None = None,
    profile: bool = False,
    timeout: float = 3600,
) -> dict:
    """Time one method on the synthetic panel, in a fresh child process.

    Parameters
    ----------
    method : str
        ``"fastlstm"``, ``"AutoETS"``, ``"neuralforecast-LSTM"``, ``"fastlstm-mpi"`` or
        ``"fastlstm-dask"`` (see :data:`METHODS` and the module's docstring).
    n_series : int
        Series in the panel (:func:`make_panel`).
    length : int
        Length of the longest series.
    horizon : int
        Forecast horizon (18, fastlstm's default for monthly data).
    threads : int
        Cores the method may use (fastlstm's threads, statsforecast's ``n_jobs``, MPI
        ranks, Dask workers).
    seed : int
        Seed of the panel.
    params : dict, optional
        Extra :class:`~fastlstm.forecast.Forecaster` parameters (fastlstm only), e.g.
        ``{"epochs": 2}`` for a quick run.
    profile : bool
        Run the timed part under :mod:`cProfile` and return the top 25 functions by
        cumulative time as ``"profile"`` (the times then include the profiler's cost).
    timeout : float
        Seconds the child may run.

    Returns
    -------
    dict
        ``method``, ``series``, ``fit_s``, ``predict_s``, ``seconds``, ``series_per_s``,
        ``peak_mib``, ``extra_mib``, ``settings``, ... or ``{"method", "series", "error"}``
        when the child failed, or ``"skipped"`` (with the install command) when the
        method's package is not installed.
    """
    method = _canonical(method)
    module, hint = METHODS[method]
    head = {"method": method, "series": n_series, "length": length}
    if not _installed(module):
        return {**head, "skipped": f"not installed: {hint}"}
    with tempfile.TemporaryDirectory(prefix="fastlstm-bench-forecast-") as tmp:
        spec_path, out = os.path.join(tmp, "spec.json"), os.path.join(tmp, "out.json")
        spec = dict(
            method=method,
            n_series=n_series,
            length=length,
            horizon=horizon,
            threads=threads,
            seed=seed,
            params=params or {},
            profile=profile,
            out=out,
        )
        with open(spec_path, "w") as fh:
            json.dump(spec, fh)
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
        code = "import sys; from fastlstm.bench.forecast import _child; _child(sys.argv[1])"
        cmd = [sys.executable, "-c", code, spec_path]
        if method == "fastlstm-mpi":  # `threads` ranks of one thread each
            env.update(NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
            cmd = [_mpiexec(), "-n", str(threads), sys.executable, "-m", "mpi4py", "-c", code, spec_path]
        try:
            proc = subprocess.run(
                cmd,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return {**head, "error": f"timed out after {timeout} s"}
        if proc.returncode != 0 or not os.path.exists(out):
            tail = (proc.stderr or "").strip().splitlines()[-3:]
            return {**head, "error": f"child exited with {proc.returncode}: " + " | ".join(tail)}
        with open(out) as fh:
            res = json.load(fh)
    res.update(head)
    res["series_per_s"] = n_series / res["seconds"]
    res["peak_mib"] = res.pop("peak_bytes") / 2**20
    res["extra_mib"] = res.pop("extra_bytes") / 2**20
    return res


def run_forecast_benchmark(
    series: list[int],
    length: int = 200,
    *,
    methods: list[str] | None = None,
    horizon: int = 18,
    threads: int = 1,
    seed: int = 0,
    params: dict | None = None,
    profile: bool = False,
    timeout: float = 3600,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Run every method on panels of each size; the report :func:`format_forecast_report` prints.

    Parameters
    ----------
    series : list of int
        Panel sizes (numbers of series), each a separate panel.
    length : int
        Length of the longest series.
    methods : list of str, optional
        Which of :data:`METHODS` (default all; those not installed are reported as skipped).
    horizon : int
        Forecast horizon.
    threads : int
        Cores every method may use.
    seed : int
        Seed of the panels.
    params : dict, optional
        Extra Forecaster parameters for fastlstm.
    profile : bool
        Also profile fastlstm's run (see :func:`run_method`).
    timeout : float
        Seconds each child may run.
    progress : callable, optional
        Called with a short message before each run.

    Returns
    -------
    dict
        ``schema``, ``panel``, ``threads``, ``environment``, ``load_average`` and
        ``results`` (one dict per method and size; ``ratio_to_autoets`` is AutoETS's
        seconds over the method's: above 1 means faster than AutoETS).
    """
    from .environment import environment_info

    names = [_canonical(m) for m in (methods or list(DEFAULT_METHODS))]
    results = []
    for n in series:
        row = []
        for name in names:
            if progress is not None:
                progress(f"{name}: {n} series x {length} points")
            row.append(
                run_method(
                    name,
                    n,
                    length,
                    horizon=horizon,
                    threads=threads,
                    seed=seed,
                    params=params if name.startswith("fastlstm") else None,
                    profile=profile and name.startswith("fastlstm"),
                    timeout=timeout,
                )
            )
        ets = next((r for r in row if r["method"] == "AutoETS" and "seconds" in r), None)
        for r in row:
            if ets is not None and "seconds" in r:
                r["ratio_to_autoets"] = ets["seconds"] / r["seconds"]
        results.extend(row)
    return {
        "schema": SCHEMA,
        "panel": {
            "series": list(series),
            "length": length,
            "horizon": horizon,
            "seed": seed,
            "generator": "fastlstm.bench.forecast.make_panel",
        },
        "threads": threads,
        "params": params or {},
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "environment": environment_info(),
        "results": results,
    }


def format_forecast_report(report: dict) -> str:
    """The table of a :func:`run_forecast_benchmark` report (skips and errors as lines under it).

    Parameters
    ----------
    report : dict
        As :func:`run_forecast_benchmark` returns it.

    Returns
    -------
    str
        Method, series, fit and predict seconds, series per second, peak MiB and the speed
        ratio to AutoETS, then the environment and any skipped or failed method.
    """
    head = ("method", "series", "fit s", "predict s", "seconds", "series/s", "peak MiB", "vs AutoETS")
    rows, notes = [], []
    for r in report["results"]:
        if "seconds" not in r:
            notes.append(
                f"{r['method']} ({r['series']} series): {r.get('skipped') or 'FAILED: ' + r['error']}"
            )
            continue
        ratio = r.get("ratio_to_autoets")
        rows.append(
            (
                r["method"],
                str(r["series"]),
                f"{r['fit_s']:.2f}",
                f"{r['predict_s']:.2f}",
                f"{r['seconds']:.2f}",
                f"{r['series_per_s']:.1f}",
                f"{r['peak_mib']:.0f}",
                "-" if ratio is None else f"{ratio:.2f}x",
            )
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = [
        f"Panel forecasting: monthly series of up to {report['panel']['length']} points, horizon "
        f"{report['panel']['horizon']}, fit + predict + intervals (80/95 %), {report['threads']} thread(s), "
        "each method in a fresh process after an untimed warm-up",
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.append(
        "vs AutoETS: AutoETS's seconds / the method's (above 1: faster); peak MiB: the whole process"
    )
    for r in report["results"]:
        if r["method"] in ("fastlstm", "fastlstm-mpi") and "settings" in r:
            s = r["settings"]
            lines.append(
                f"{r['method']} settings chosen ({r['series']} series): "
                + ", ".join(f"{k} {v}" for k, v in s.items())
            )
    cpu = report.get("environment", {}).get("cpu")
    cpu = cpu.get("model") if isinstance(cpu, dict) else cpu
    load = report.get("load_average")
    if cpu or load:
        lines.append(f"CPU: {cpu}; load average at the end: {', '.join(f'{v:.2f}' for v in load or [])}")
    lines += notes
    for r in report["results"]:
        if "profile" in r:
            lines += [
                "",
                f"profile of fastlstm, {r['series']} series (top functions by cumulative time):",
                r["profile"].rstrip(),
            ]
    return "\n".join(lines)


def write_forecast_json(report: dict, path) -> None:
    """Write ``report`` as JSON to ``path`` atomically (temporary file, then rename).

    Parameters
    ----------
    report : dict
        As :func:`run_forecast_benchmark` returns it.
    path : str or os.PathLike
        The file to write.
    """
    with atomic_write(path, text=True) as fh:
        json.dump(report, fh, indent=2, allow_nan=True)
        fh.write("\n")


def _parser(prog: str):
    import argparse

    import numba

    p = argparse.ArgumentParser(
        prog=prog,
        description="Panel forecasting throughput: one global fastlstm Forecaster (default settings) beside "
        "statsforecast's AutoETS and neuralforecast's LSTM (when installed) on a synthetic monthly panel; "
        "fit + predict + 80/95 %% intervals, each method in a fresh process after an untimed warm-up.",
    )
    p.add_argument("--series", default="1000", metavar="N[,N...]", help="panel sizes (default 1000)")
    p.add_argument("--length", type=int, default=200, help="points of the longest series (default 200)")
    p.add_argument("--horizon", type=int, default=18, help="forecast horizon (default 18, monthly)")
    p.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        metavar="LIST",
        help=f"comma-separated, of {', '.join(METHODS)} (default {','.join(DEFAULT_METHODS)}; missing "
        "packages are skipped). fastlstm-mpi: the global model data-parallel on --threads MPI ranks of one "
        "thread each; fastlstm-dask: one Forecaster per series through fit_many on a Dask LocalCluster of "
        "--threads single-threaded worker processes",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=min(os.cpu_count() or 1, numba.config.NUMBA_NUM_THREADS),
        help="cores for every method (fastlstm's threads, statsforecast's n_jobs; default all)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the panel (default 0)")
    p.add_argument("--epochs", type=int, help="fastlstm: Forecaster(epochs=...) instead of its default")
    p.add_argument("--n-models", type=int, help="fastlstm: Forecaster(n_models=...) instead of its default")
    p.add_argument(
        "--profile", action="store_true", help="profile fastlstm's run (cProfile, top 25 cumulative)"
    )
    p.add_argument("--timeout", type=float, default=3600, help="seconds per method and size (default 3600)")
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON (atomically)")
    return p


def main(argv=None, prog: str = "python -m fastlstm.bench --forecast") -> int:
    """Command line of the panel benchmark (``python -m fastlstm.bench --forecast``).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments, without ``--forecast`` (``sys.argv[1:]`` when None).
    prog : str
        The program name shown in ``--help`` and usage errors.

    Returns
    -------
    int
        0, or 1 if a method that is installed failed (the others are still reported).
    """
    parser = _parser(prog)
    args = parser.parse_args(argv)
    try:
        sizes = [int(v) for v in args.series.split(",") if v.strip()]
        methods = [_canonical(m) for m in args.methods.split(",") if m.strip()]
    except ValueError as exc:
        parser.error(str(exc))
    if not sizes or min(sizes) < 1:
        parser.error(f"--series: expected positive counts, got {args.series!r}")
    if not methods:
        parser.error("--methods: expected at least one method")
    if args.length < 24 or args.horizon < 1 or args.length < 2 * args.horizon:
        parser.error(
            f"--length/--horizon: expected length >= max(24, 2 * horizon), got {args.length}, {args.horizon}"
        )
    import numba

    if not 1 <= args.threads <= numba.config.NUMBA_NUM_THREADS:
        parser.error(
            f"--threads: expected 1 to NUMBA_NUM_THREADS = {numba.config.NUMBA_NUM_THREADS}, "
            f"got {args.threads}"
        )
    params = {k: v for k, v in (("epochs", args.epochs), ("n_models", args.n_models)) if v is not None}
    report = run_forecast_benchmark(
        sizes,
        args.length,
        methods=methods,
        horizon=args.horizon,
        threads=args.threads,
        seed=args.seed,
        params=params,
        profile=args.profile,
        timeout=args.timeout,
        progress=lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True),
    )
    report["argv"] = list(sys.argv[1:] if argv is None else argv)
    print(format_forecast_report(report))
    if args.json:
        write_forecast_json(report, args.json)
        print(f"wrote {args.json}")
    return 1 if any("error" in r for r in report["results"]) else 0
