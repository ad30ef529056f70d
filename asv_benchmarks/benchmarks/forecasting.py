"""Panel fitting throughput: one global ``Forecaster`` over a panel of monthly series.

A seeded synthetic panel (50 monthly series of 108 to 120 points: level, trend,
seasonality with a per-series amplitude and phase, noise; a long DataFrame
``unique_id, ds, y``) is fitted with fastlstm's default pipeline (back-test,
statistical candidates, conformal intervals) but a short training (3 epochs, 2
networks) so that one fit takes about a second; ``predict`` and ``predict_interval``
are part of the timed body, as in ``python -m fastlstm.bench --forecast`` (which
measures the full default training on 1,000 series beside statsforecast's AutoETS;
docs/scaling.md).

``setup`` warms the JIT with a tiny fit and checks that the forecasts and intervals
are finite and ordered (AssertionError otherwise, so a fast but broken fit fails).
"""

import numpy as np

from . import common

N_SERIES, LENGTH, HORIZON = 50, 120, 12
FIT = dict(horizon=HORIZON, epochs=3, n_models=2, seed=0)


def make_panel(n_series: int, length: int, seed: int = 0):
    """Seeded positive monthly series ending in the same month, as a long DataFrame."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    dates = pd.date_range("2000-01", periods=length, freq="MS")
    frames = []
    for i in range(n_series):
        n = int(rng.integers(int(0.9 * length), length + 1))
        t = np.arange(length - n, length, dtype=np.float64)
        level, slope = np.exp(rng.normal(np.log(300.0), 1.0)), rng.normal(0.0, 0.004)
        amp, phase, noise = rng.uniform(0.0, 0.35), rng.uniform(0.0, 2 * np.pi), rng.uniform(0.01, 0.08)
        e = np.clip(rng.normal(0.0, noise, size=n), -0.5, 0.5)
        y = level * np.exp(slope * t) * (1 + amp * np.sin(2 * np.pi * t / 12 + phase)) * (1 + e)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": dates[length - n :], "y": y}))
    return pd.concat(frames, ignore_index=True)


def fit_and_forecast(panel):
    """What a panel user calls: fit, the point forecasts, the 80 % and 95 % intervals."""
    from fastlstm.forecast import Forecaster

    f = Forecaster(**FIT).fit(panel)
    return f.predict(), f.predict_interval(coverage=(0.8, 0.95))


class TimePanelFit:
    """One global model on 50 series x ~120 months: fit + predict + intervals."""

    params = [common.THREADS]
    param_names = ["threads"]
    timeout = 300
    number = 1
    repeat = (1, 5, 60.0)
    warmup_time = 0

    def setup(self, threads):
        common.set_threads(threads)
        fit_and_forecast(make_panel(3, 60, seed=1))  # JIT / Numba cache, first-call costs
        self.panel = make_panel(N_SERIES, LENGTH)
        point, interval = fit_and_forecast(self.panel)
        values = point["forecast"].to_numpy(float)
        assert len(point) == N_SERIES * HORIZON and np.isfinite(values).all(), "point forecasts"
        lo, hi = interval["lower_95"].to_numpy(float), interval["upper_95"].to_numpy(float)
        assert np.isfinite(lo).all() and np.isfinite(hi).all(), "95 % intervals"
        assert (lo <= values).all() and (values <= hi).all(), "95 % intervals around the forecasts"

    def time_fit_predict_intervals(self, threads):
        fit_and_forecast(self.panel)

    def peakmem_fit_predict_intervals(self, threads):
        fit_and_forecast(self.panel)

    def track_series_per_second(self, threads):
        """Panel throughput: series fitted and forecast per second (median of 3 runs)."""
        return N_SERIES / common.median_time(lambda: fit_and_forecast(self.panel), repeat=3)

    track_series_per_second.unit = "series/s"
