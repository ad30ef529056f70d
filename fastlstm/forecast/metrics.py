"""Forecast accuracy measures: the one definition the package scores with.

The command line's accuracy report (``fastlstm forecast --evaluate``), the
back-test (:meth:`Forecaster.backtest <fastlstm.forecast.Forecaster.backtest>`),
the evaluation of :mod:`fastlstm.forecast.evaluate` and the documentation's
tables all score with this module: :func:`score` gives every measure at once.

Point measures take ``y_true`` and ``y_pred`` of the same shape and return a
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
``mase``    ``mae / scale``, the scale of :func:`mase_scale`
==========  ===============================================================

Interval measures take the lower and upper bounds instead of ``y_pred``:
:func:`coverage` (the share of actual values inside, 0 to 1) and :func:`msis`
(the M4 competition's mean scaled interval score, divided by the same scale).

The scale of MASE and MSIS, :func:`mase_scale`, is the in-sample mean absolute
error of the seasonal naive forecast at lag ``m``,
``mean(|y_train[t] - y_train[t - m]|)``. Where it is undefined (a training series not longer than
``m``, or a zero scale) the strict form raises; the fallback form, for means
over a panel from which no series may be dropped, uses lag 1 instead, then 1.0.
At ``m = 1`` and with the fallback it is the noise scale the conformal intervals
(:mod:`fastlstm.forecast.intervals`) and the ES-RNN hybrid divide by, the mean
absolute one-step change (there computed on the transformed series).
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import as_float_array, check_int

__all__ = ["coverage", "coverage_key", "mae", "mape", "mase", "mase_scale", "msis", "rmse", "score", "smape"]


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


def _train(y_train) -> np.ndarray:
    return as_float_array(y_train, "y_train", cast=True, allow_empty=True).astype(np.float64, copy=False)


def _lag_mae(tr: np.ndarray, lag: int) -> float:
    return float(np.mean(np.abs(tr[lag:] - tr[:-lag])))


def _scale(tr: np.ndarray, m: int, fallback: bool) -> float:
    """:func:`mase_scale` of a validated series; NaN where the strict scale is undefined."""
    n = tr.shape[0]
    if not fallback:
        s = _lag_mae(tr, m) if n > m else math.nan
        return s if s > 0 else math.nan
    if n < 2:
        return 1.0
    s = _lag_mae(tr, m if n > m else 1)
    if s > 0:
        return s
    s = _lag_mae(tr, 1)
    return s if s > 0 else 1.0


def _checked_scale(tr: np.ndarray, m: int, fallback: bool, measure: str) -> float:
    s = _scale(tr, m, fallback)
    if math.isnan(s):
        if tr.shape[0] <= m:
            raise ValueError(f"y_train: expected more than m={m} points, got {tr.shape[0]}")
        raise ValueError(
            f"y_train: the in-sample naive error at lag m={m} is 0 (constant series, or one that "
            f"repeats every m points); {measure} is undefined"
        )
    return s


def mase_scale(y_train, m: int = 1, fallback: bool = False) -> float:
    """The scale of MASE and MSIS: the in-sample mean absolute seasonal naive error.

    ``mean(|y_train[t] - y_train[t - m]|)`` over ``t = m, ..., n - 1`` (and over
    the columns of a 2-D ``y_train``).

    Parameters
    ----------
    y_train : array_like, shape (n,) or (n, k)
        The series the forecast was made from (time on axis 0).
    m : int
        Season length of the naive forecast (1: naive, 12: monthly seasonal naive).
    fallback : bool
        False (strict): raise where the scale is undefined. True (for means over
        a panel, from which no series may be dropped): lag 1 when ``y_train`` is
        not longer than ``m``; a zero scale is replaced by the lag-1 scale, and a
        zero lag-1 scale (a constant series) or a series of fewer than 2 points
        by 1.0.

    Returns
    -------
    float
        Positive.

    Raises
    ------
    ValueError
        Strict only: ``y_train`` is not longer than ``m``, or the scale is 0 (a
        constant series, or one that repeats every ``m`` points).
    """
    m = check_int(m, "m", minimum=1)
    return _checked_scale(_train(y_train), m, bool(fallback), "the scale")


def mase(y_true, y_pred, y_train, m: int = 1, fallback: bool = False) -> float:
    """Mean absolute scaled error (Hyndman & Koehler, 2006).

    The forecast MAE divided by :func:`mase_scale`, the in-sample MAE of the
    (seasonal) naive forecast on the training series.

    Parameters
    ----------
    y_true, y_pred : array_like
        Actual and forecast values, same shape.
    y_train : array_like, shape (n,) or (n, k)
        The series the forecast was made from (time on axis 0).
    m : int
        Season length of the naive scale (1: naive, 12: monthly seasonal naive).
    fallback : bool
        Replace an undefined scale as :func:`mase_scale` does (False: raise).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Without ``fallback``: ``y_train`` is not longer than ``m``, or the scale
        is 0 (a constant training series).
    """
    yt, yp = _pair(y_true, y_pred)
    m = check_int(m, "m", minimum=1)
    scale = _checked_scale(_train(y_train), m, bool(fallback), "MASE")
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


def _interval_score(yt, lo, hi, alpha: float) -> float:
    pen = (hi - lo) + (2.0 / alpha) * ((lo - yt) * (yt < lo) + (yt - hi) * (yt > hi))
    return float(np.mean(pen))


def msis(y_true, lower, upper, y_train, m: int = 1, alpha: float = 0.05, fallback: bool = False) -> float:
    """Mean scaled interval score (Gneiting & Raftery, 2007; the M4 competition).

    ``mean((u - l) + 2/alpha (l - y) [y < l] + 2/alpha (y - u) [y > u])``
    divided by :func:`mase_scale`, as in :func:`mase`. Lower is better: narrow
    intervals that hold the actual values.

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
    fallback : bool
        Replace an undefined scale as :func:`mase_scale` does (False: raise).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``alpha`` is not in (0, 1); without ``fallback``, the scale is undefined
        (see :func:`mase`).
    """
    yt, lo = _pair(y_true, lower)
    _, hi = _pair(y_true, upper)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: expected a value in (0, 1), got {alpha!r}")
    m = check_int(m, "m", minimum=1)
    scale = _checked_scale(_train(y_train), m, bool(fallback), "MSIS")
    return _interval_score(yt, lo, hi, alpha) / scale


def coverage_key(level: float) -> str:
    """The key of an interval's coverage in :func:`score`'s result: ``"cov"`` and the level in percent.

    Parameters
    ----------
    level : float
        The interval's nominal coverage (0.8: ``"cov80"``).

    Returns
    -------
    str
    """
    return f"cov{100 * float(level):g}"


#: ``alpha`` of the interval :func:`score` reports MSIS for (M4's: the 95% interval)
MSIS_ALPHA = 0.05


def score(
    y_true, y_pred, y_train, m: int = 1, intervals=None, levels=(0.8, 0.95), fallback: bool = False
) -> dict:
    """Every measure of one forecast: the point measures and, given intervals, coverage and MSIS.

    Unlike the single measures, ``score`` does not raise where a measure is
    undefined: it reports NaN (MAPE when an actual value is 0; MASE and MSIS
    where the strict scale of :func:`mase_scale` is undefined).

    Parameters
    ----------
    y_true, y_pred : array_like
        Actual and forecast values, same shape.
    y_train : array_like, shape (n,) or (n, k)
        The series the forecast was made from (time on axis 0), for the scale.
    m : int
        Season length of the scale.
    intervals : array_like, optional
        Interval bounds, shape ``y_true.shape + (len(levels), 2)`` (lower,
        upper): what :meth:`Forecaster.predict_interval
        <fastlstm.forecast.Forecaster.predict_interval>` returns.
    levels : sequence of float
        The nominal coverage of each interval in ``intervals``.
    fallback : bool
        Scale MASE and MSIS by :func:`mase_scale`'s fallback form (for means over
        a panel) instead of reporting NaN where the scale is undefined.

    Returns
    -------
    dict of str to float
        ``mae``, ``rmse``, ``mape``, ``smape``, ``mase``; with ``intervals``,
        ``cov80``, ``cov95``, ... (:func:`coverage_key`) per level,
        and ``msis`` of the 95% interval when ``levels`` has 0.95.

    Raises
    ------
    ValueError
        Shapes that do not match, or non-finite values.
    """
    yt, yp = _pair(y_true, y_pred)
    m = check_int(m, "m", minimum=1)
    scale = _scale(_train(y_train), m, bool(fallback))
    err = np.abs(yt - yp)
    out = {
        "mae": float(np.mean(err)),
        "rmse": rmse(yt, yp),
        "mape": mape(yt, yp) if np.all(yt != 0) else math.nan,
        "smape": smape(yt, yp),
        "mase": float(np.mean(err) / scale),
    }
    if intervals is None:
        return out
    levels = [float(c) for c in levels]
    iv = as_float_array(intervals, "intervals", cast=True).astype(np.float64, copy=False)
    if iv.shape != yt.shape + (len(levels), 2):
        raise ValueError(
            f"intervals: expected shape {yt.shape + (len(levels), 2)} (y_true's, levels, lower and upper), "
            f"got {iv.shape}"
        )
    for j, c in enumerate(levels):
        lo, hi = iv[..., j, 0], iv[..., j, 1]
        out[coverage_key(c)] = coverage(yt, lo, hi)
        if abs(c - (1.0 - MSIS_ALPHA)) < 1e-9:
            out["msis"] = _interval_score(yt, lo, hi, MSIS_ALPHA) / scale
    return out
