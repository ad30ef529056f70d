"""Forecasting: the :class:`Forecaster`, its data pieces, baselines, metrics and evaluation.

Built on :mod:`fastlstm.train` and :mod:`fastlstm.nn`.

- ``forecaster``: :class:`Forecaster` (fit, predict with intervals, back-test, save/load), which
  orchestrates the pipeline's rooms: ``frames`` (data in and out: arrays, pandas, panels),
  ``prepare`` (season, sizes, transform, seasonal indices), ``network`` (windows to network data,
  training, block chaining), ``statistical`` (damped trend, Theta, ARIMA-lite, SES),
  ``esrnn`` (the ES-RNN-style hybrid of ``model="esrnn"``), ``backtest`` (candidate forecasts,
  the choice of their mix, :class:`Backtest`),
  ``intervals`` (conformal calibration, quantiles), ``checkpoint`` (save/load) and ``params``
  (the constructor's arguments and their checks).
- ``csvio``: series and panels from CSV files, checked (the command line's input).
- ``windows``, ``scalers``: series to supervised windows, and scaling.
- ``decompose``, ``timeindex``: seasonality test and classical decomposition; dates and seasons.
- ``baselines``, ``metrics``: naive forecasts, and MASE, sMAPE, coverage, MSIS.
- ``fit_many``: many independent forecasters in parallel processes.
- ``evaluate``: the ``fastlstm evaluate`` command on textbook series.
- ``datasets``: the embedded airline series.
"""

from __future__ import annotations

from .datasets import load_airpassengers
from .fit_many import FitFailure, FitManyError, fit_many
from .forecaster import Backtest, Forecaster
from .scalers import MinMaxScaler, RobustScaler, StandardScaler
from .windows import Windows, make_windows, sliding_windows

__all__ = [
    "Backtest",
    "FitFailure",
    "FitManyError",
    "Forecaster",
    "MinMaxScaler",
    "RobustScaler",
    "StandardScaler",
    "Windows",
    "fit_many",
    "load_airpassengers",
    "make_windows",
    "sliding_windows",
]
