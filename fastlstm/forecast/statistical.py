"""Small statistical forecasters in NumPy/SciPy, with the hot recursions in Numba.

They are the statistical members of :class:`~fastlstm.forecast.Forecaster`'s
back-test (see ``docs/forecasting.md``) and work on its internal scale: the
series log-transformed when positive and deseasonalised when seasonal, so
non-seasonal additive models suffice.

==================  ==========================================================
function            model
==================  ==========================================================
:func:`ses`         simple exponential smoothing (level)
:func:`damped`      Holt's additive damped trend (level, trend, damping)
:func:`theta`       the Theta method (SES plus half the linear-trend slope)
:func:`arima_lite`  AR(p) by least squares, order by AIC, on the series or on
                    its differences as a KPSS test decides (an ARIMA(p, d, 0),
                    d in {0, 1}, with a constant or drift)
==================  ==========================================================

Each takes ``(y, horizon)`` and returns ``(forecast, params)``: the point
forecast, shape ``(horizon,)``, and a dict of the fitted parameters.
:func:`fit` and :func:`forecast_from` split the two steps, so that the
parameters fitted once can forecast from several origins (a back-test) by
running the recursion forward.

Exponential smoothing parameters minimise the in-sample sum of squared one-step
errors (SSE). The errors are linear in the initial states, so for given
smoothing parameters the initial level and trend are solved by least squares
(the SSE is concentrated on them); the smoothing parameters start from the best
point of a small grid and are refined by ``scipy.optimize.minimize``
(SLSQP) within the bounds ``alpha`` in [1e-4, 0.9999], ``beta`` in
[0, alpha] (as ``beta = alpha * beta_star``) and ``phi`` in [0.8, 0.98], the
damping range of Hyndman's ``forecast`` package and statsforecast.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.optimize import minimize

from .._config import JIT_EXACT
from .._validation import as_float_array, check_int

__all__ = ["METHODS", "arima_lite", "damped", "fit", "forecast_from", "kpss_level", "ses", "theta"]

#: the methods, by name
METHODS = ("ses", "damped", "theta", "arima")

#: KPSS's 5% critical value for level stationarity (Kwiatkowski et al., 1992, table 1)
KPSS_CRITICAL_5PCT = 0.463
#: below this length the KPSS test is not used and ARIMA differences once
KPSS_MIN_LENGTH = 10

ALPHA_BOUNDS = (1e-4, 0.9999)
PHI_BOUNDS = (0.8, 0.98)


def _series(y, name: str = "y", minimum: int = 2) -> np.ndarray:
    arr = as_float_array(y, name, ndim=1, cast=True).astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: expected finite values, got NaN or Inf")
    if len(arr) < minimum:
        raise ValueError(f"{name}: expected at least {minimum} points, got {len(arr)}")
    return np.ascontiguousarray(arr)


# ------------------------------------------------------------------ recursions
@njit(**JIT_EXACT)
def _holt_states(y, alpha, beta, phi, l0, b0):
    """Level and trend after each observation (index t: after ``y[:t]``), and the SSE."""
    n = len(y)
    lev = np.empty(n + 1)
    tr = np.empty(n + 1)
    lev[0], tr[0] = l0, b0
    sse = 0.0
    for t in range(n):
        f = lev[t] + phi * tr[t]
        e = y[t] - f
        sse += e * e
        lev[t + 1] = f + alpha * e
        tr[t + 1] = phi * tr[t] + beta * e
    return lev, tr, sse


@njit(**JIT_EXACT)
def _concentrated(y, alpha, beta, phi, trend):
    """SSE minimised over the initial states for the given smoothing parameters.

    The one-step errors are ``e = e_y - l0 u - b0 v``, with ``e_y`` the errors from
    zero initial states and ``u``, ``v`` the (negated) errors of the data-free
    recursion started from a unit level or trend; ``(l0, b0)`` solve the normal
    equations. Returns ``(sse, l0, b0)`` (``b0 = 0`` without ``trend``).
    """
    ly = 0.0
    by = 0.0
    lu = 1.0
    bu = 0.0
    lv = 0.0
    bv = 1.0
    suu = 0.0
    svv = 0.0
    suv = 0.0
    syu = 0.0
    syv = 0.0
    syy = 0.0
    for t in range(len(y)):
        ey = y[t] - (ly + phi * by)
        eu = lu + phi * bu  # the error is -eu per unit of l0
        ev = lv + phi * bv
        suu += eu * eu
        svv += ev * ev
        suv += eu * ev
        syu += ey * eu
        syv += ey * ev
        syy += ey * ey
        ly, by = ly + phi * by + alpha * ey, phi * by + beta * ey
        lu, bu = lu + phi * bu - alpha * eu, phi * bu - beta * eu
        lv, bv = lv + phi * bv - alpha * ev, phi * bv - beta * ev
    ridge = 1e-12 * (suu + svv + 1.0)
    if not trend:
        l0 = syu / (suu + ridge)
        return max(syy - l0 * syu, 0.0), l0, 0.0
    a11 = suu + ridge
    a22 = svv + ridge
    det = a11 * a22 - suv * suv
    if det <= 1e-14 * a11 * a22:  # b0 not identified: level only
        l0 = syu / a11
        return max(syy - l0 * syu, 0.0), l0, 0.0
    l0 = (a22 * syu - suv * syv) / det
    b0 = (a11 * syv - suv * syu) / det
    return max(syy - l0 * syu - b0 * syv, 0.0), l0, b0


@njit(**JIT_EXACT)
def _grid(y, alphas, betas, phis, trend):
    """The (alpha, beta_star, phi) of the grid with the lowest concentrated SSE."""
    best = np.inf
    ba, bb, bp = alphas[0], 0.0, 1.0
    for a in alphas:
        for bs in betas:
            for p in phis:
                s = _concentrated(y, a, a * bs, p, trend)[0]
                if s < best:
                    best, ba, bb, bp = s, a, bs, p
    return ba, bb, bp


_ALPHA_GRID = np.array([0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99])
_BETA_GRID = np.array([0.0, 0.05, 0.2, 0.5, 1.0])
_PHI_GRID = np.array([0.8, 0.9, 0.95, 0.98])


def _fit_es(y: np.ndarray, trend: bool) -> dict:
    """Fit SES (``trend=False``) or the damped trend by concentrated SSE."""
    one = np.array([1.0])
    if not trend:
        a0 = _grid(y, _ALPHA_GRID, np.array([0.0]), one, False)[0]

        def obj(p):
            return _concentrated(y, p[0], 0.0, 1.0, False)[0]

        res = minimize(obj, [a0], method="SLSQP", bounds=[ALPHA_BOUNDS])
        alpha = float(res.x[0]) if res.fun <= obj([a0]) else float(a0)
        sse, l0, _ = _concentrated(y, alpha, 0.0, 1.0, False)
        return {"alpha": alpha, "beta": 0.0, "phi": 1.0, "l0": float(l0), "b0": 0.0, "sse": float(sse)}
    a0, bs0, p0 = _grid(y, _ALPHA_GRID, _BETA_GRID, _PHI_GRID, True)

    def obj3(p):
        return _concentrated(y, p[0], p[0] * p[1], p[2], True)[0]

    x0 = np.array([a0, bs0, p0])
    res = minimize(obj3, x0, method="SLSQP", bounds=[ALPHA_BOUNDS, (0.0, 1.0), PHI_BOUNDS])
    x = res.x if res.fun <= obj3(x0) else x0
    alpha, beta, phi = float(x[0]), float(x[0] * x[1]), float(x[2])
    sse, l0, b0 = _concentrated(y, alpha, beta, phi, True)
    return {"alpha": alpha, "beta": beta, "phi": phi, "l0": float(l0), "b0": float(b0), "sse": float(sse)}


def _fit_theta(y: np.ndarray) -> dict:
    """SES with its initial level at ``y[0]`` (as statsmodels' ``ThetaModel``) and the OLS slope."""
    n = len(y)
    t = np.arange(n, dtype=np.float64)
    tc = t - t.mean()
    b0 = float(tc @ (y - y.mean()) / (tc @ tc))

    def obj(p):
        return _holt_states(y, p[0], 0.0, 1.0, y[0], 0.0)[2]

    a0 = min(_ALPHA_GRID, key=lambda a: obj([a]))
    res = minimize(obj, [a0], method="SLSQP", bounds=[ALPHA_BOUNDS])
    alpha = float(res.x[0]) if res.fun <= obj([a0]) else float(a0)
    return {"alpha": alpha, "l0": float(y[0]), "b0": b0, "sse": float(obj([alpha]))}


def _ar_design(d: np.ndarray, p: int, start: int, drift: bool) -> tuple[np.ndarray, np.ndarray]:
    rows = len(d) - start
    cols = [d[start - k : len(d) - k] for k in range(1, p + 1)]
    if drift:
        cols.append(np.ones(rows))
    X = np.stack(cols, axis=1) if cols else np.zeros((rows, 0))
    return X, d[start:]


def _stationary(coef: np.ndarray) -> bool:
    if len(coef) == 0:
        return True
    comp = np.zeros((len(coef), len(coef)))
    comp[0] = coef
    comp[1:, :-1] = np.eye(len(coef) - 1)
    return bool(np.max(np.abs(np.linalg.eigvals(comp))) < 0.99)


def kpss_level(y) -> float:
    """The KPSS statistic for level stationarity (Kwiatkowski, Phillips, Schmidt and Shin, 1992).

    ``sum(S_t^2) / (n^2 s^2)`` with ``S_t`` the partial sums of ``y - mean(y)`` and ``s^2`` the
    Newey-West long-run variance with Bartlett weights and ``trunc(3 sqrt(n) / 13)`` lags, the
    truncation R's ``forecast::ndiffs`` (and so ``auto.arima``) uses. Large values reject
    stationarity; :data:`KPSS_CRITICAL_5PCT` is the 5% level. A constant series gives 0.

    Parameters
    ----------
    y : array_like, shape (n,)
        At least 2 finite values.

    Returns
    -------
    float
    """
    y = _series(y)
    n = len(y)
    e = y - y.mean()
    lags = int(3 * np.sqrt(n) / 13)
    lrv = float(e @ e) / n
    for k in range(1, lags + 1):
        lrv += 2.0 * (1.0 - k / (lags + 1.0)) * float(e[k:] @ e[:-k]) / n
    if lrv <= 1e-300 * max(1.0, float(np.max(np.abs(y)))):
        return 0.0
    s = np.cumsum(e)
    return float(s @ s) / (n * n * lrv)


def _fit_arima(y: np.ndarray, max_p: int | None) -> dict:
    """AR(p) on ``y`` (with a constant) or on ``diff(y)`` (with or without drift), as the KPSS test
    decides (``auto.arima``'s rule for ``d``); least squares, the lowest AIC on a common sample."""
    differenced = len(y) < KPSS_MIN_LENGTH or np.ptp(y) == 0 or kpss_level(y) > KPSS_CRITICAL_5PCT
    d = np.diff(y) if differenced else y
    if max_p is None:
        max_p = int(min(8, max(0, (len(d) - 4) // 6)))
    max_p = min(max_p, max(0, len(d) - 3))
    nobs = len(d) - max_p
    best = None
    for drift in (False, True) if differenced else (True,):  # on levels, always a constant (the mean)
        for p in range(max_p + 1):
            X, target = _ar_design(d, p, max_p, drift)
            k = X.shape[1]
            if k >= nobs:
                continue
            coef = np.linalg.lstsq(X, target, rcond=None)[0] if k else np.zeros(0)
            if not _stationary(coef[:p]):
                continue
            resid = target - X @ coef
            sse = float(resid @ resid)
            aic = nobs * np.log(max(sse / nobs, 1e-300)) + 2 * (k + 1)
            if best is None or aic < best[0] - 1e-9:
                best = (aic, p, drift)
    _, p, drift = best if best is not None else (0.0, 0, False)
    X, target = _ar_design(d, p, p, drift)  # refit the chosen order on all its rows
    coef = np.linalg.lstsq(X, target, rcond=None)[0] if X.shape[1] else np.zeros(0)
    if not _stationary(coef[:p]):
        p, coef = 0, coef[p:]
    return {
        "d": int(differenced),
        "p": p,
        "drift": bool(drift),
        "ar": coef[:p].copy(),
        "const": float(coef[p]) if drift else 0.0,
        "aic": float(best[0]) if best is not None else float("nan"),
    }


# ------------------------------------------------------------------ public
def fit(y, method: str, max_p: int | None = None) -> dict:
    """Fit one method's parameters to ``y`` (see the module's table).

    Parameters
    ----------
    y : array_like, shape (n,)
        At least 2 finite values.
    method : {"ses", "damped", "theta", "arima"}
    max_p : int, optional
        Largest AR order for ``"arima"`` (default ``min(8, (n - 5) // 6)``).

    Returns
    -------
    dict
        The fitted parameters (``"method"`` names the method).
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    y = _series(y)
    if max_p is not None:
        max_p = check_int(max_p, "max_p", minimum=0)
    if method == "ses":
        params = _fit_es(y, False)
    elif method == "damped":
        params = _fit_es(y, True)
    elif method == "theta":
        params = _fit_theta(y)
    else:
        params = _fit_arima(y, max_p)
    params["method"] = method
    return params


def forecast_from(params: dict, y, origins, horizon: int) -> np.ndarray:
    """Forecasts ``(len(origins), horizon)`` from each origin with fixed parameters.

    Origin ``o`` forecasts ``y[o], y[o + 1], ...`` from ``y[:o]``: the recursion
    runs through ``y`` with the parameters of :func:`fit` (fitted on any
    stretch), so a back-test costs one pass, not one fit per origin.

    Parameters
    ----------
    params : dict
        From :func:`fit`.
    y : array_like, shape (n,)
    origins : array_like of int
        Each in ``[1, n]`` (``[2, n]`` for ``"arima"`` with a lag).
    horizon : int

    Returns
    -------
    ndarray, shape (len(origins), horizon)
    """
    y = _series(y, minimum=1)
    horizon = check_int(horizon, "horizon", minimum=1)
    o = np.asarray(origins, dtype=np.int64).reshape(-1)
    if len(o) and (o.min() < 1 or o.max() > len(y)):
        raise ValueError(f"origins: expected values in [1, {len(y)}], got {o.min()}..{o.max()}")
    method = params.get("method")
    h = np.arange(1, horizon + 1, dtype=np.float64)
    if method in ("ses", "damped"):
        lev, tr, _ = _holt_states(
            y, params["alpha"], params["beta"], params["phi"], params["l0"], params["b0"]
        )
        phi = params["phi"]
        damp = h if phi == 1.0 else np.cumsum(phi**h)
        return lev[o][:, None] + tr[o][:, None] * damp[None, :]
    if method == "theta":
        a = params["alpha"]
        lev, _, _ = _holt_states(y, a, 0.0, 1.0, params["l0"], 0.0)
        steps = (h - 1.0)[None, :] + 1.0 / a - ((1.0 - a) ** o[:, None]) / a
        return lev[o][:, None] + 0.5 * params["b0"] * steps
    if method == "arima":
        p, ar, c = params["p"], params["ar"], params["const"]
        diff = int(params.get("d", 1))  # files written before d was chosen differenced once
        if len(o) and p and o.min() < p + diff:
            raise ValueError(f"origins: expected values >= {p + diff} for an AR({p}), got {o.min()}")
        d = np.diff(y) if diff else y
        lags = np.stack([d[oo - diff - p : oo - diff][::-1] for oo in o]) if p else np.zeros((len(o), 0))
        out = np.empty((len(o), horizon))
        for j in range(horizon):
            step = c + lags @ ar if p else np.full(len(o), c)
            out[:, j] = step
            if p:
                lags = np.concatenate([step[:, None], lags[:, :-1]], axis=1)
        return y[o - 1][:, None] + np.cumsum(out, axis=1) if diff else out
    raise ValueError(f"params: expected the result of fit (method one of {METHODS}), got method {method!r}")


def _one(y, horizon: int, method: str, **kw) -> tuple[np.ndarray, dict]:
    y = _series(y)
    horizon = check_int(horizon, "horizon", minimum=1)
    params = fit(y, method, **kw)
    return forecast_from(params, y, [len(y)], horizon)[0], params


def ses(y, horizon: int) -> tuple[np.ndarray, dict]:
    """Simple exponential smoothing: ``alpha`` and the initial level by least squares.

    Returns ``(forecast (horizon,), params)``.
    """
    return _one(y, horizon, "ses")


def damped(y, horizon: int) -> tuple[np.ndarray, dict]:
    """Holt's additive damped trend: ``alpha``, ``beta``, ``phi``, initial level and trend.

    Returns ``(forecast (horizon,), params)``.
    """
    return _one(y, horizon, "damped")


def theta(y, horizon: int) -> tuple[np.ndarray, dict]:
    """The Theta method (M4's benchmark, theta = 2): SES plus half the OLS slope as drift.

    The forecast is ``l_n + b0 / 2 (h - 1 + 1 / alpha - (1 - alpha)^n / alpha)``
    (Hyndman and Billah, 2003), as statsmodels' ``ThetaModel``. Returns
    ``(forecast (horizon,), params)``.
    """
    return _one(y, horizon, "theta")


def arima_lite(y, horizon: int, max_p: int | None = None) -> tuple[np.ndarray, dict]:
    """ARIMA(p, d, 0): ``d`` by the KPSS test (:func:`kpss_level`), then ``p`` and the drift by
    AIC, least squares.

    Returns ``(forecast (horizon,), params)``.
    """
    return _one(y, horizon, "arima", max_p=max_p)
