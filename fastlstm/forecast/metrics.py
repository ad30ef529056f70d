"""Point-forecast accuracy measures.

Every function takes ``y_true`` and ``y_pred`` of the same shape and returns a
float averaged over all entries. Percentage measures (:func:`mape`,
:func:`smape`) are returned in percent, as in Hyndman & Athanasopoulos,
*Forecasting: Principles and Practice*.

==========  ===============================================================
measure     definition
==========  ===============================================================
``mae``     ``mean(|y - f|)``
``rmse``    ``sqrt(mean((y - f)^2))``
``mape``    ``100 * mean(|y - f| / |y|)``
``smape``   ``100 * mean(2 |y - f| / (|y| + |f|))`` (0 to 200)
``mase``    ``mae / mean(|y_train[t] - y_train[t - m]|)``
==========  ===============================================================

Interval measures take the lower and upper bounds instead of ``y_pred``:
:func:`coverage` (the share of actual values inside, 0 to 1) and :func:`msis`
(the M4 competition's mean scaled interval score).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_int

__all__ = ["coverage", "mae", "mape", "mase", "msis", "rmse", "smape"]


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    yt = as_float_array(y_true, "y_true", cast=True)
    yp = as_float_array(y_pred, "y_pred", cast=True)
    if yt.shape != yp.shape:
        raise ValueError(f"y_pred: expected the shape of y_true {yt.shape}, got {yp.shape}")
    return yt.astype(np.float64, copy=False), yp.astype(np.float64, copy=False)


def mae(y_true, y_pred) -> float:
    """Mean absolute error.

    Parameters
    ----------
    y_true, y_pred : array_like
        Actual and forecast values, same shape.

    Returns
    -------
    float
    """
    yt, yp = _pair(y_true, y_pred)
    return float(np.mean(np.abs(yt - yp)))


def rmse(y_true, y_pred) -> float:
    """Root mean squared error.

    Parameters
    ----------
    y_true, y_pred : array_like
        Actual and forecast values, same shape.

    Returns
    -------
    float
    """
    yt, yp = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((yt - yp) ** 2)))


def mape(y_true, y_pred) -> float:
    """Mean absolute percentage error, in percent.

    Parameters
    ----------
    y_true, y_pred : array_like
        Actual and forecast values, same shape. ``y_true`` must not contain 0.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``y_true`` contains a zero.
    """
    yt, yp = _pair(y_true, y_pred)
    if np.any(yt == 0):
        raise ValueError("y_true: expected no zeros (MAPE divides by y_true), got a zero")
    return float(100.0 * np.mean(np.abs((yt - yp) / yt)))


def smape(y_true, y_pred) -> float:
    """Symmetric mean absolute percentage error, in percent (0 to 200).

    Terms where both ``y_true`` and ``y_pred`` are 0 count as 0.

    Parameters
    ----------
    y_true, y_pred : array_like
        Actual and forecast values, same shape.

    Returns
    -------
    float
    """
    yt, yp = _pair(y_true, y_pred)
    num = 2.0 * np.abs(yt - yp)
    den = np.abs(yt) + np.abs(yp)
    ratio = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(100.0 * np.mean(ratio))


def mase(y_true, y_pred, y_train, m: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler, 2006).

    The forecast MAE divided by the in-sample MAE of the (seasonal) naive
    forecast on the training series.

    Parameters
    ----------
    y_true, y_pred : array_like
        Actual and forecast values, same shape.
    y_train : array_like, shape (n,) or (n, k)
        The series the forecast was made from (time on axis 0).
    m : int
        Season length of the naive scale (1: naive, 12: monthly seasonal naive).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``y_train`` is not longer than ``m``, or the scale is 0 (a constant
        training series).
    """
    yt, yp = _pair(y_true, y_pred)
    m = check_int(m, "m", minimum=1)
    tr = as_float_array(y_train, "y_train", cast=True).astype(np.float64, copy=False)
    if tr.shape[0] <= m:
        raise ValueError(f"y_train: expected more than m={m} points, got {tr.shape[0]}")
    scale = float(np.mean(np.abs(tr[m:] - tr[:-m])))
    if scale == 0.0:
        raise ValueError("y_train: the in-sample naive error is 0 (constant series); MASE is undefined")
    return float(np.mean(np.abs(yt - yp)) / scale)


def coverage(y_true, lower, upper) -> float:
    """Share of actual values inside their interval ``[lower, upper]`` (0 to 1).

    Parameters
    ----------
    y_true, lower, upper : array_like
        Actual values and interval bounds, same shape.

    Returns
    -------
    float
    """
    yt, lo = _pair(y_true, lower)
    _, hi = _pair(y_true, upper)
    return float(np.mean((yt >= lo) & (yt <= hi)))


def msis(y_true, lower, upper, y_train, m: int = 1, alpha: float = 0.05) -> float:
    """Mean scaled interval score (Gneiting & Raftery, 2007; the M4 competition).

    ``mean((u - l) + 2/alpha (l - y) [y < l] + 2/alpha (y - u) [y > u])``
    divided by the in-sample seasonal naive MAE, as in :func:`mase`. Lower is
    better: narrow intervals that hold the actual values.

    Parameters
    ----------
    y_true, lower, upper : array_like
        Actual values and the bounds of the ``1 - alpha`` interval, same shape.
    y_train : array_like
        The series the forecast was made from.
    m : int
        Season length of the scale.
    alpha : float
        One minus the interval's nominal coverage (0.05 for 95%).

    Returns
    -------
    float
    """
    yt, lo = _pair(y_true, lower)
    _, hi = _pair(y_true, upper)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: expected a value in (0, 1), got {alpha!r}")
    m = check_int(m, "m", minimum=1)
    tr = as_float_array(y_train, "y_train", cast=True).astype(np.float64, copy=False)
    if tr.shape[0] <= m:
        raise ValueError(f"y_train: expected more than m={m} points, got {tr.shape[0]}")
    scale = float(np.mean(np.abs(tr[m:] - tr[:-m])))
    if scale == 0.0:
        raise ValueError("y_train: the in-sample naive error is 0 (constant series); MSIS is undefined")
    pen = (hi - lo) + (2.0 / alpha) * ((lo - yt) * (yt < lo) + (yt - hi) * (yt > hi))
    return float(np.mean(pen) / scale)
