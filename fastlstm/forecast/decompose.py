"""Seasonality test and classical decomposition, in NumPy.

The M4 competition's statistical and ML benchmarks deseasonalised a series with
a classical multiplicative decomposition when a 90% autocorrelation test found
seasonality; :class:`~fastlstm.forecast.Forecaster` does the same (additively
on the log scale when it models logs, which is the multiplicative form).

==========================  ==================================================
function                    what
==========================  ==================================================
:func:`acf`                 sample autocorrelations at lags ``0..max_lag``
:func:`seasonality_test`    ``|r_m| > z * sqrt((1 + 2 sum_{k<m} r_k^2) / n)``
:func:`classical_decompose` centred moving-average trend, seasonal indices
==========================  ==================================================
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_float, check_int

__all__ = ["Decomposition", "acf", "classical_decompose", "seasonality_test"]


def _series(y, name: str = "y") -> np.ndarray:
    arr = as_float_array(y, name, ndim=1, cast=True).astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: expected finite values, got NaN or Inf")
    return arr


def acf(y, max_lag: int) -> np.ndarray:
    """Sample autocorrelation ``r_k = sum (y_t - mean)(y_{t+k} - mean) / sum (y_t - mean)^2``.

    Parameters
    ----------
    y : array_like, shape (n,)
    max_lag : int
        Largest lag, below ``n``.

    Returns
    -------
    numpy.ndarray, shape (max_lag + 1,)
        ``r_0 = 1`` first; all zeros after ``r_0`` for a constant series.
    """
    x = _series(y)
    max_lag = check_int(max_lag, "max_lag", minimum=0)
    if max_lag >= len(x):
        raise ValueError(f"max_lag: expected less than the series length {len(x)}, got {max_lag}")
    d = x - x.mean()
    den = float(d @ d)
    out = np.zeros(max_lag + 1)
    out[0] = 1.0
    if den == 0.0:
        return out
    for k in range(1, max_lag + 1):
        out[k] = float(d[:-k] @ d[k:]) / den
    return out


def seasonality_test(y, m: int, z: float = 1.645) -> bool:
    """Whether the autocorrelation at lag ``m`` is significant (M4's 90% test).

    ``|r_m| > z * sqrt((1 + 2 * sum_{k=1}^{m-1} r_k^2) / n)`` (Bartlett's
    standard error). Too-short series (``n < 3 m``) and ``m < 2`` are not
    seasonal.

    Parameters
    ----------
    y : array_like, shape (n,)
    m : int
        Season length.
    z : float
        Normal quantile of the test (1.645: 90% two-sided).

    Returns
    -------
    bool
    """
    x = _series(y)
    m = check_int(m, "m", minimum=1)
    z = check_float(z, "z", minimum=0.0)
    if m < 2 or len(x) < 3 * m:
        return False
    r = acf(x, m)
    limit = z * np.sqrt((1.0 + 2.0 * np.sum(r[1:m] ** 2)) / len(x))
    return bool(abs(r[m]) > limit)


class Decomposition:
    """Result of :func:`classical_decompose`.

    Attributes
    ----------
    trend : numpy.ndarray, shape (n,)
        Centred moving average (NaN for the first and last ``m // 2`` points).
    seasonal : numpy.ndarray, shape (n,)
        The seasonal index of each point.
    resid : numpy.ndarray, shape (n,)
        ``y - trend - seasonal`` (additive) or ``y / (trend * seasonal)``.
    indices : numpy.ndarray, shape (m,)
        One index per season position; position ``p`` is every ``t`` with
        ``t % m == p`` (sum 0 when additive, mean 1 when multiplicative).
    model : str
    """

    def __init__(self, trend, seasonal, resid, indices, model) -> None:
        self.trend, self.seasonal, self.resid = trend, seasonal, resid
        self.indices, self.model = indices, model

    def seasonal_at(self, t) -> np.ndarray:
        """Seasonal indices at time steps ``t`` (0 = the first point; may exceed ``n``)."""
        return self.indices[np.asarray(t) % len(self.indices)]

    def __repr__(self) -> str:
        return f"Decomposition(m={len(self.indices)}, model={self.model!r}, n={len(self.trend)})"


def classical_decompose(y, m: int, model: str = "additive") -> Decomposition:
    """Classical decomposition by a centred moving average (as R's ``decompose``).

    The trend is the centred moving average of order ``m`` (a ``2 x m`` average
    when ``m`` is even); the seasonal index of position ``p`` is the mean of the
    detrended values at positions ``p, p + m, ...``, then centred (sum 0) or
    normalised (mean 1).

    Parameters
    ----------
    y : array_like, shape (n,)
        At least ``2 m`` points (positive for ``"multiplicative"``).
    m : int
        Season length, at least 2.
    model : {"additive", "multiplicative"}

    Returns
    -------
    Decomposition
    """
    x = _series(y)
    m = check_int(m, "m", minimum=2)
    if model not in ("additive", "multiplicative"):
        raise ValueError(f"model: expected 'additive' or 'multiplicative', got {model!r}")
    n = len(x)
    if n < 2 * m:
        raise ValueError(f"y: expected at least 2 * m = {2 * m} points, got {n}")
    if model == "multiplicative" and np.any(x <= 0):
        raise ValueError("y: a multiplicative decomposition expects positive values, got values <= 0")
    if m % 2 == 0:
        w = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        w = np.ones(m) / m
    half = len(w) // 2
    trend = np.full(n, np.nan)
    trend[half : n - half] = np.convolve(x, w, mode="valid")
    detr = x - trend if model == "additive" else x / trend
    indices = np.array([np.nanmean(detr[p::m]) for p in range(m)])
    if model == "additive":
        indices -= indices.mean()
    else:
        indices /= indices.mean()
    seasonal = indices[np.arange(n) % m]
    resid = x - trend - seasonal if model == "additive" else x / (trend * seasonal)
    return Decomposition(trend, seasonal, resid, indices, model)
