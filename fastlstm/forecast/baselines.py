"""Reference forecasts every model should beat.

Each function takes a history ``y`` (time on axis 0, shape ``(n,)`` or
``(n, k)`` for ``k`` series) and a horizon ``h`` and returns the forecast of
shape ``(h,)`` or ``(h, k)``.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_int

__all__ = ["drift", "naive", "seasonal_naive"]


def _history(y, need: int) -> np.ndarray:
    arr = as_float_array(y, "y", ndim=(1, 2), cast=True).astype(np.float64, copy=False)
    if arr.shape[0] < need:
        raise ValueError(f"y: expected at least {need} points, got {arr.shape[0]}")
    return arr


def naive(y, h: int) -> np.ndarray:
    """Repeat the last observation ``h`` times.

    Parameters
    ----------
    y : array_like, shape (n,) or (n, k)
        History.
    h : int
        Forecast horizon.

    Returns
    -------
    numpy.ndarray, shape (h,) or (h, k)
    """
    h = check_int(h, "h", minimum=1)
    arr = _history(y, 1)
    return np.repeat(arr[-1:], h, axis=0)


def seasonal_naive(y, h: int, m: int = 12) -> np.ndarray:
    """Repeat the last full season: ``f[n + j] = y[n - m + (j mod m)]``.

    Parameters
    ----------
    y : array_like, shape (n,) or (n, k)
        History, at least ``m`` points.
    h : int
        Forecast horizon.
    m : int
        Season length.

    Returns
    -------
    numpy.ndarray, shape (h,) or (h, k)
    """
    h = check_int(h, "h", minimum=1)
    m = check_int(m, "m", minimum=1)
    arr = _history(y, m)
    idx = arr.shape[0] - m + (np.arange(h) % m)
    return arr[idx].copy()


def drift(y, h: int) -> np.ndarray:
    """Extend the line through the first and last observations.

    ``f[n + j] = y[n - 1] + (j + 1) * (y[n - 1] - y[0]) / (n - 1)``.

    Parameters
    ----------
    y : array_like, shape (n,) or (n, k)
        History, at least 2 points.
    h : int
        Forecast horizon.

    Returns
    -------
    numpy.ndarray, shape (h,) or (h, k)
    """
    h = check_int(h, "h", minimum=1)
    arr = _history(y, 2)
    slope = (arr[-1] - arr[0]) / (arr.shape[0] - 1)
    steps = np.arange(1, h + 1, dtype=np.float64).reshape((h,) + (1,) * (arr.ndim - 1))
    return arr[-1] + steps * slope
