"""Prediction intervals by split conformal prediction on forecast errors, and quantiles.

Each error ``e`` (on the network's scale ``z``, from every origin and step ``j`` of the
calibration window, :func:`fastlstm.forecast.backtest.calibration_errors`: the back-test's
stretch and the final forecast's in-sample errors from the origins before it) is divided by
the series' mean absolute one-step change ``s_i`` (its noise scale) and by a step scale
``g(j) = exp(a) j^b`` fitted to the mean absolute error by step (``0.5 <= b <= 1.5``: errors
grow at least as a random walk's, see :data:`MIN_STEP_EXPONENT`). The interval of coverage
``c`` is ``z_hat +- q_c s_i g(j)``, mapped back to the original units, with ``q_c`` the
``ceil((N + 1) c)``-th smallest of the ``N`` pooled scores (a normal approximation when ``N``
is too small).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from .._validation import check_int
from . import frames, metrics
from .prepare import inverse_transform

__all__ = [
    "MAX_SCORES",
    "MIN_STEP_EXPONENT",
    "PredictionIntervals",
    "bounds",
    "calibrate",
    "check_levels",
    "halfwidth",
    "interval_columns",
    "quantile_coverages",
    "quantiles_from",
]

#: The most calibration scores a fit keeps: past it, that many order statistics evenly spaced
#: over the sorted scores (a panel of 10,000 monthly series has about 13 million scores;
#: keeping a million moves a quantile by about two millionths of the ranks, and the memory and the
#: checkpoint stay bounded: 8 MB).
MAX_SCORES = 1_000_000

#: The least growth of the errors with the step, ``g(j) ~ j**0.5``: a random walk's
#: (docs/forecasting.md, "Prediction intervals", has the measurements behind it).
MIN_STEP_EXPONENT = 0.5


def calibrate(errors: dict, zs: list[np.ndarray], horizon: int):
    """Split-conformal scores: |error| / (noise scale * step scale), pooled and sorted.

    Parameters
    ----------
    errors : dict of int to numpy.ndarray, shape (n_origins, horizon)
        Per series (by its number), the z-scale errors of its forecasts (NaN past the data).
    zs : list of numpy.ndarray
        Every series on the z scale (for the noise scales).
    horizon : int

    Returns
    -------
    noise_scale : numpy.ndarray, shape (n_series,)
    step_scale : numpy.ndarray, shape (2,)
        ``(a, b)`` of ``g(j) = exp(a + b log j)``.
    scores : numpy.ndarray
        Sorted; at most :data:`MAX_SCORES` of them (evenly spaced order statistics of all).
    """
    # the noise scale: the MASE scale at lag 1 of the z-scale series (metrics.mase_scale)
    sig = np.array([metrics.mase_scale(z, 1, fallback=True) for z in zs])
    # per step, the scaled absolute errors of every series in turn (arrays, not lists of
    # Python floats: a panel's errors are millions of values)
    parts = [[] for _ in range(horizon)]
    for i, e in errors.items():
        a = np.abs(e) / sig[i]
        for j in range(horizon):
            col = a[:, j]
            parts[j].append(col[np.isfinite(col)])
    per_step = [np.concatenate(p) if p else np.empty(0) for p in parts]
    del parts
    steps = np.array([j + 1 for j in range(horizon) if len(per_step[j])], dtype=np.float64)
    means = np.array([np.mean(per_step[j]) for j in range(horizon) if len(per_step[j])])
    counts = np.array([len(per_step[j]) for j in range(horizon) if len(per_step[j])], dtype=np.float64)
    means = np.maximum(means, 1e-12)
    if len(steps) >= 2:
        A = np.stack([np.ones_like(steps), np.log(steps)], axis=1) * np.sqrt(counts)[:, None]
        coef = np.linalg.lstsq(A, np.log(means) * np.sqrt(counts), rcond=None)[0]
        b = float(np.clip(coef[1], MIN_STEP_EXPONENT, 1.5))
        a = float(np.average(np.log(means) - b * np.log(steps), weights=counts))
    else:
        b = MIN_STEP_EXPONENT
        a = float(np.log(means[0])) if len(means) else 0.0
    scores = [per_step[j] / np.exp(a + b * np.log(j + 1)) for j in range(horizon) if len(per_step[j])]
    del per_step
    scores = np.concatenate(scores) if scores else np.empty(0)
    scores.sort()
    if len(scores) > MAX_SCORES:
        scores = scores[np.round(np.linspace(0, len(scores) - 1, MAX_SCORES)).astype(np.intp)]
    return sig, np.array([a, b]), scores


def halfwidth(scores: np.ndarray, step_scale: np.ndarray, c: float, steps: int) -> np.ndarray:
    """Half-width ``(steps,)`` of the central ``c`` interval on the z scale, before the noise scale."""
    u = scores
    N = len(u)
    rank = int(np.ceil((N + 1) * c))
    gauss = float(ndtri(0.5 + c / 2) * np.sqrt(np.mean(u**2))) if N else 0.0
    q = float(u[rank - 1]) if 0 < rank <= N else max(float(u[-1]) if N else 0.0, gauss)
    a, b = step_scale
    return q * np.exp(a + b * np.log(np.arange(1, steps + 1)))


def bounds(z: np.ndarray, widths: list[np.ndarray], noise_scale: float, log: bool) -> np.ndarray:
    """Interval bounds ``(h, len(widths), 2)`` (lower, upper) in the original units around the
    z-scale point forecast ``z`` (h,), from each coverage's :func:`halfwidth`."""
    b = np.empty((len(z), len(widths), 2))
    with np.errstate(over="ignore", invalid="ignore"):
        for j, w in enumerate(widths):
            half = w * noise_scale
            b[:, j, 0] = inverse_transform(z - half, log)
            b[:, j, 1] = inverse_transform(z + half, log)
    return b


def check_levels(values, name: str, low: float, high: float) -> tuple[float, ...]:
    """One level or several (coverages, quantiles), each in ``(low, high)``, as floats."""
    vals = (values,) if np.isscalar(values) else tuple(values)
    if not vals:
        raise ValueError(f"{name}: expected at least one value, got none")
    for v in vals:
        if not isinstance(v, (int, float, np.floating)) or not low < float(v) < high:
            raise ValueError(f"{name}: expected values in ({low:g}, {high:g}), got {v!r}")
    return tuple(float(v) for v in vals)


def interval_columns(coverage) -> list[str]:
    """``lower_80, upper_80, lower_95, ...``: the pandas columns of the bounds."""
    cols = []
    for c in coverage:
        tag = f"{100 * c:g}"
        cols += [f"lower_{tag}", f"upper_{tag}"]
    return cols


def quantile_coverages(quantiles) -> tuple[float, ...]:
    """The central intervals whose bounds are the quantiles (``|2 q - 1|``; 0.5 is the point)."""
    return tuple(abs(2 * q - 1) for q in quantiles if q != 0.5)


def quantiles_from(
    quantiles, steps: int, intervals: np.ndarray | None, point: np.ndarray | None
) -> np.ndarray:
    """Quantiles ``(steps, len(quantiles))`` of one series: ``q < 0.5`` the lower bound of the
    ``1 - 2q`` interval, ``q > 0.5`` the upper bound of the ``2q - 1`` one, ``0.5`` the point.

    ``intervals`` holds the bounds of :func:`quantile_coverages`'s intervals, in that order.
    """
    q = np.empty((steps, len(quantiles)))
    j_iv = 0
    for j, p in enumerate(quantiles):
        if p == 0.5:
            q[:, j] = point
        else:
            q[:, j] = intervals[:, j_iv, 0 if p < 0.5 else 1]
            j_iv += 1
    return q


class PredictionIntervals:
    """``predict_interval`` and ``predict_quantiles`` of a fitted forecaster: the conformal
    bounds around its point forecast on the transformed scale (the Forecaster's methods; they
    read its ``_point``, ``_histories``, ``_layout`` and calibration ``scores_``,
    ``step_scale_``, ``noise_scale_``)."""

    def _intervals(self, h, coverage, X_future, y, X, start) -> tuple[list[np.ndarray], dict | None]:
        """Per series (h, len(coverage), 2) bounds in the original units, and the history's dates."""
        self._check_fitted()
        if not self.conformal or not hasattr(self, "scores_"):
            raise RuntimeError("Forecaster: prediction intervals need conformal=True at fit")
        series, cov, index = self._histories(h, X_future, y, X, start)
        widths = [halfwidth(self.scores_, self.step_scale_, c, h) for c in coverage]
        data = self._data
        out = [
            bounds(
                self._point(i, s, h, cov[i], data, transformed=True),
                widths,
                self.noise_scale_[i],
                self.log_[i],
            )
            for i, s in enumerate(series)
        ]
        return out, index

    def predict_interval(
        self, h: int | None = None, coverage=(0.8, 0.95), X_future=None, y=None, X=None, start=None
    ):
        """Central prediction intervals, calibrated by split conformal prediction.

        At fit time (``conformal=True``) the forecast errors on the transformed
        scale, ``e``, from the origins of each series' last
        :data:`~fastlstm.forecast.backtest.CALIBRATION_HORIZONS` horizons (the
        back-test's, and before its stretch the final forecast's in-sample
        ones), are divided by the series' mean absolute
        one-step change ``s_i`` and by a step scale ``g(j) = exp(a) j^b``
        fitted to their mean by step ``j``; the interval of coverage ``c`` is
        ``z_hat +- q_c s_i g(j)`` mapped back to the original units, with
        ``q_c`` the ``ceil((N + 1) c)``-th smallest of the ``N`` scores (a
        normal approximation when ``N`` is too small). On the log scale the
        intervals are asymmetric, as the series' own variability is.

        Parameters
        ----------
        h : int, optional
            Steps (default ``horizon_``).
        coverage : float or sequence of float
            Nominal coverages, each in (0, 1).
        X_future, y, X, start
            As in :meth:`predict`.

        Returns
        -------
        numpy.ndarray or pandas.DataFrame
            ``(h, len(coverage), 2)`` (lower, upper) for one series (a list for
            several); fitted on dated pandas data: a DataFrame indexed by the
            future dates with columns ``lower_80, upper_80, lower_95, ...`` (a
            long DataFrame with ``unique_id, ds`` for a panel).
        """
        h = self.horizon_ if (h is None and self.fitted) else h
        self._check_fitted()
        h = check_int(h, "h", minimum=1)
        cov = check_levels(coverage, "coverage", 0.0, 1.0)
        out, index = self._intervals(h, cov, X_future, y, X, start)
        return frames.pack_levels(out, h, self._layout, interval_columns(cov), index=index)

    def predict_quantiles(
        self, h: int | None = None, quantiles=(0.1, 0.9), X_future=None, y=None, X=None, start=None
    ):
        """Forecast quantiles: the bounds of the conformal central

        Quantile ``q < 0.5`` is the lower bound of the ``1 - 2q`` interval,
        ``q > 0.5`` the upper bound of the ``2q - 1`` interval, and ``0.5`` the
        point forecast (see :meth:`predict_interval`).

        Parameters
        ----------
        h : int, optional
        quantiles : float or sequence of float
            Each in (0, 1).
        X_future, y, X, start
            As in :meth:`predict`.

        Returns
        -------
        numpy.ndarray or pandas.DataFrame
            ``(h, len(quantiles))`` for one series (a list for several); fitted on
            dated pandas data: a DataFrame indexed by the future dates, one
            column per quantile (a long DataFrame for a panel).
        """
        h = self.horizon_ if (h is None and self.fitted) else h
        self._check_fitted()
        h = check_int(h, "h", minimum=1)
        qs = check_levels(quantiles, "quantiles", 0.0, 1.0)
        covs = quantile_coverages(qs)
        ivs, index = (
            self._intervals(h, covs, X_future, y, X, start) if covs else ([None] * self.n_series_, None)
        )
        points = [None] * self.n_series_
        if 0.5 in qs:
            series, cov, index = self._histories(h, X_future, y, X, start)
            data = self._data
            points = [self._point(i, s, h, cov[i], data) for i, s in enumerate(series)]
        out = [quantiles_from(qs, h, iv, p) for iv, p in zip(ivs, points, strict=True)]
        return frames.pack_levels(out, h, self._layout, list(qs), index=index)
