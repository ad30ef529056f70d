"""Saved forecasts of a fixed set of fits: the restructuring check of the forecast wing.

Each case fits a small :class:`~fastlstm.forecast.Forecaster` and collects what users read from
it (point forecasts, intervals, quantiles, a back-test, the per-series choice of candidates).
``tests/data/forecast_reference.npz`` holds the outputs of the code before the forecast wing was
restructured around its candidate protocol; ``tests/test_forecast_reference.py`` checks that
today's code gives the same numbers, bit for bit on the CPU that wrote the file.

Regenerate (only for an intended change of the forecasts, said so in the commit)::

    NUMBA_NUM_THREADS=1 python tests/forecast_reference.py            # everything
    NUMBA_NUM_THREADS=1 python tests/forecast_reference.py panel      # one case; the checkpoints stay

Intended changes so far: ``panel`` (per-series log transform: its one series with values <= 0
no longer keeps the other four off the log scale; then written again with the BLAS on one thread,
as every case now runs), ``short_series`` and ``long_dated_panel`` (a series too short for a
back-test is forecast by the network, the damped trend and ARIMA in equal thirds, no longer the
network and ARIMA in halves); every case's ``interval`` and ``quantiles`` (the intervals'
calibration window of four horizons, ``backtest.CALIBRATION_HORIZONS``; the points unchanged).
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

PATH = os.path.join(os.path.dirname(__file__), "data", "forecast_reference.npz")


def cpu_key() -> str:
    """The CPU (as Numba's LLVM names it) and the kernels' vector width: the bits of the
    compiled arithmetic, so the bits of the forecasts."""
    import llvmlite.binding as llvm

    return f"{llvm.get_host_cpu_name()}|{os.environ.get('FASTLSTM_VECTOR_BITS', 'auto')}"


def _air() -> np.ndarray:
    from fastlstm import load_airpassengers

    return np.asarray(load_airpassengers(), dtype=np.float64)


def _panel(n: int = 5, seed: int = 3) -> list[np.ndarray]:
    """Seasonal, trending, flat and one non-positive series of different lengths."""
    r = np.random.default_rng(seed)
    out = []
    for k in range(n):
        t = np.arange(60 + 7 * k)
        s = 10 + 0.05 * (k + 1) * t + (1 + k % 3) * np.sin(2 * np.pi * t / 12) + r.normal(0, 0.3, len(t))
        out.append(s)
    out[-1] = out[-1] - 14.0  # crosses zero: no log transform for the panel
    return out


def _outputs(f, y_bt=None, extra=None, X_bt=None) -> dict[str, np.ndarray]:
    if _SAVE_TO is not None:
        f.save(_SAVE_TO)
    out = {"mix": _mix_rows(f.mix_), "calibration": np.array(f.calibration_)}
    out["point"] = _flat(f.predict(**(extra or {})))
    if f.conformal:
        out["interval"] = _flat(f.predict_interval(**(extra or {})))
        out["quantiles"] = _flat(f.predict_quantiles(quantiles=(0.1, 0.5, 0.9), **(extra or {})))
        out["noise_scale"] = np.asarray(f.noise_scale_, dtype=np.float64)
    if y_bt is not None:
        b = f.backtest(y_bt, n_windows=3, step=2, X=X_bt, season_length=1)
        out["backtest"] = b.forecasts
        out["backtest_mase"] = b.metrics["mase"]
    return out


#: the candidates in the order of the saved ``mix`` rows
ORDER = ("network", "seasonal naive", "drift", "damped", "theta", "arima")


def _mix_rows(mixes) -> np.ndarray:
    """Per-series mixes (name -> weight dicts) as rows of weights in :data:`ORDER`."""
    return np.array([[float(w.get(c, 0.0)) for c in ORDER] for w in mixes])


def _flat(obj) -> np.ndarray:
    """A prediction as one float64 array (pandas objects by their values, lists stacked)."""
    if hasattr(obj, "select_dtypes"):
        return obj.select_dtypes("number").to_numpy(dtype=np.float64)
    if hasattr(obj, "to_numpy"):
        return obj.to_numpy(dtype=np.float64)
    if isinstance(obj, list):
        return np.concatenate([np.ravel(np.asarray(o, dtype=np.float64)) for o in obj])
    return np.asarray(obj, dtype=np.float64)


def case_single():
    from fastlstm.forecast import Forecaster

    y = _air()
    f = Forecaster(input_size=24, horizon=12, epochs=6, n_models=2, dtype=np.float64, seed=1).fit(y[:-12])
    return _outputs(f, y_bt=y[:-12])


def case_single_float32_recursive():
    from fastlstm.forecast import Forecaster

    y = _air()[:96]
    f = Forecaster(strategy="recursive", input_size=12, horizon=6, epochs=4, n_models=1, seed=2).fit(y)
    return _outputs(f, extra={"h": 9})


def case_panel():
    from fastlstm.forecast import Forecaster

    f = Forecaster(horizon=6, season=12, epochs=5, n_models=2, dtype=np.float64, seed=0).fit(_panel())
    return _outputs(f)


def case_long_dated_panel():
    import pandas as pd

    from fastlstm.forecast import Forecaster

    rows = []
    for k, s in enumerate(_panel(4, seed=5)):
        ds = pd.period_range("2001-01", periods=len(s), freq="M").to_timestamp()
        rows.append(pd.DataFrame({"unique_id": f"s{k}", "ds": ds, "y": s + 20}))
    df = pd.concat(rows, ignore_index=True)
    f = Forecaster(epochs=4, n_models=2, dtype=np.float64, seed=4).fit(df)
    return _outputs(f)


def case_dated_series():
    import pandas as pd

    from fastlstm.forecast import Forecaster

    y = _air()
    s = pd.Series(y, index=pd.period_range("1949-01", periods=len(y), freq="M"))
    f = Forecaster(epochs=5, n_models=2, dtype=np.float64, seed=7, deseasonalize=True).fit(s)
    return _outputs(f, y_bt=s)


def case_covariates():
    from fastlstm.forecast import Forecaster

    r = np.random.default_rng(11)
    n, h = 90, 6
    x = r.normal(0, 1, (n + h, 1))
    y = 50 + np.cumsum(r.normal(0, 0.2, n + h)) + 3 * x[:, 0]
    f = Forecaster(input_size=12, horizon=h, epochs=6, n_models=2, dtype=np.float64, seed=3)
    f.fit(y[:n], X=x[:n])
    return _outputs(f, extra={"X_future": x[n:]})


def case_esrnn():
    from fastlstm.forecast import Forecaster

    y = _air()
    f = Forecaster(model="esrnn", horizon=12, epochs=4, n_models=2, dtype=np.float64, seed=5).fit(y[:-12])
    return _outputs(f, y_bt=y[:-12])


def case_esrnn_network():
    from fastlstm.forecast import Forecaster

    y = _air()[:100]
    f = Forecaster(model="esrnn", horizon=6, epochs=3, n_models=1, fallback=False, dtype=np.float64, seed=6)
    f.fit(y)
    return _outputs(f, y_bt=y)


def _covariates_network_data():
    r = np.random.default_rng(12)
    n, h = 80, 4
    x = r.normal(0, 1, (n + h, 2))
    y = 20 + np.cumsum(r.normal(0, 0.2, n + h)) + 2 * x[:, 0] - x[:, 1]
    return y[:n], x[:n], x[n:]


def case_covariates_network():
    from fastlstm.forecast import Forecaster

    y, x, x_future = _covariates_network_data()
    f = Forecaster(input_size=8, horizon=4, epochs=5, n_models=2, fallback=False, dtype=np.float64, seed=8)
    f.fit(y, X=x)
    return _outputs(f, y_bt=y, extra={"X_future": x_future}, X_bt=x)


def case_short_series():
    from fastlstm.forecast import Forecaster

    y = _air()[:28]
    f = Forecaster(input_size=12, horizon=6, season=12, epochs=3, n_models=1, dtype=np.float64, seed=2).fit(y)
    return _outputs(f)


def case_no_fallback():
    from fastlstm.forecast import Forecaster

    f = Forecaster(horizon=4, season=4, epochs=4, n_models=1, fallback=False, transform=None, seed=9)
    f.set_params(dtype=np.float64)
    y = _panel(3, seed=8)
    f.fit(y)
    return _outputs(f)


CASES = {
    name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_") and callable(fn)
}


#: cases whose fitted forecaster is also saved, in the checkpoint format of the time, to check
#: that checkpoints written before a change still load and predict the same
SAVED = ("panel", "esrnn_network", "covariates_network", "long_dated_panel")


def predict_kwargs(name: str) -> dict:
    """What ``predict`` needs besides the fitted state, for a case of :data:`SAVED`."""
    return {"X_future": _covariates_network_data()[2]} if name == "covariates_network" else {}


def checkpoint_path(name: str) -> str:
    return os.path.join(os.path.dirname(PATH), f"forecaster-{name.replace('_', '-')}.ckpt")


def run(name: str, save_to: str | None = None) -> dict[str, np.ndarray]:
    """Case ``name``'s outputs, with one thread for the kernels and the BLAS (NumPy's products
    in the networks' heads round differently with another BLAS thread count, and a test that
    set threads before this one must not move the last bits)."""
    import fastlstm

    with warnings.catch_warnings(), fastlstm.threads(1):
        warnings.simplefilter("ignore", DeprecationWarning)  # old argument names, where renamed
        global _SAVE_TO
        _SAVE_TO = save_to
        try:
            return CASES[name]()
        finally:
            _SAVE_TO = None


_SAVE_TO = None


def main(only: list[str] | None = None) -> None:
    """Write the saved outputs: every case (and the checkpoints, whose forecasts are kept under
    ``ckpt/{name}/point``), or only the cases ``only`` (checkpoints and their forecasts kept)."""
    arrays = {"cpu_key": np.array(cpu_key())}
    if only:
        arrays = dict(np.load(PATH))
    for name in only or CASES:
        out = run(name, None if only else checkpoint_path(name) if name in SAVED else None)
        for k, v in out.items():
            arrays[f"{name}/{k}"] = v
        if not only and name in SAVED:
            arrays[f"ckpt/{name}/point"] = out["point"]
        print(name, "done", file=sys.stderr)
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    np.savez(PATH, **arrays)


if __name__ == "__main__":
    main(sys.argv[1:])
