"""One global model for several series, with known-future covariates and a backtest.

Three related monthly series (the airline series and two synthetic variants
with other levels, trends and noise) train one Forecaster; month-of-year
enters as known-future covariates (sine and cosine). Each series' last
year is held out; the script prints per-series accuracy against seasonal naive,
then backtests the first series from several origins in one batched pass.

Run: python examples/multi_series.py
"""

from __future__ import annotations

import numpy as np
from fastlstm.baselines import seasonal_naive
from fastlstm.metrics import mape, mase

from fastlstm.forecast import Forecaster
from fastlstm.forecast.datasets import load_airpassengers

H = 12


def month_features(n: int) -> np.ndarray:
    t = np.arange(n)
    return np.stack([np.sin(2 * np.pi * t / 12), np.cos(2 * np.pi * t / 12)], axis=1)


def main() -> None:
    rng = np.random.default_rng(0)
    air = load_airpassengers()
    t = np.arange(len(air))
    series = [
        air,
        0.4 * air * np.exp(0.002 * t) + rng.normal(0, 3, len(air)) + 40,
        (60 + 0.5 * t) * (1 + 0.2 * np.sin(2 * np.pi * (t + 3) / 12)) + rng.normal(0, 2, len(air)),
    ]
    train = [s[:-H] for s in series]
    X_train = [month_features(len(s))[:-H] for s in series]
    X_future = [month_features(len(s))[-H:] for s in series]

    f = Forecaster(lookback=24, horizon=H, epochs=80, n_models=1, seed=0)
    f.fit(train, X=X_train)
    preds = f.predict(X_future=X_future)
    print(f"one model for {len(series)} series, trained in {f.fit_time_:.1f} s")
    for i, (s, p) in enumerate(zip(series, preds, strict=True)):
        sn = seasonal_naive(s[:-H], H, 12)
        print(
            f"series {i}: MAPE {mape(s[-H:], p):5.2f} % (seasonal naive {mape(s[-H:], sn):5.2f} %), "
            f"MASE {mase(s[-H:], p, s[:-H], m=12):.2f}"
        )

    # backtest needs a model of one series: refit on the first one alone
    g = Forecaster(lookback=24, horizon=H, epochs=80, n_models=1, seed=0).fit(air[:-36])
    bt = g.backtest(air, n_windows=3, step=12, m=12)
    print("backtest origins", bt.origins.tolist(), {k: round(v, 3) for k, v in bt.summary().items()})


if __name__ == "__main__":
    main()
