"""The back-test: candidate forecasts, the choice among their mixes, and :class:`Backtest`.

:meth:`Forecaster.fit` trains the ensemble on every series less its last stretch (one horizon,
two without a season) and forecasts from every origin in that stretch; per series it then picks
the mix of candidate forecasts with the lowest mean absolute error there and shrinks the pick
towards the network (:func:`choose_mix`). The candidates, in the
order of every weight vector (:data:`MIXES`, ``Forecaster.mix_``), are :data:`CANDIDATES`: the
network, seasonal naive, drift, and the statistical members of
:mod:`fastlstm.forecast.statistical` (:data:`STATISTICAL`), fitted on the z scale (transformed,
deseasonalised) of the part of the series before the stretch and run forward through it.

Adding a candidate forecast: name it in :data:`CANDIDATES`, compute it in
:func:`candidate_forecasts` from the series and the origins, and give :data:`MIXES` (and the
checkpoints' ``mix`` arrays) one more weight per mix.
"""

from __future__ import annotations

import numpy as np

from . import metrics, statistical
from .prepare import forward_transform, inverse_transform, seasonal_at

__all__ = [
    "CANDIDATES",
    "KEEP_RATIO",
    "MIXES",
    "SHORT_MIX",
    "SHRINK",
    "STATISTICAL",
    "Backtest",
    "backtest_series",
    "candidate_forecasts",
    "choose_mix",
    "mix",
    "mix_name",
    "fit_statistical",
    "score_backtest",
    "statistical_forecasts",
]

#: the statistical members among the candidates (methods of :mod:`.statistical`), in order
STATISTICAL = ("damped", "theta", "arima")
#: the forecasts a back-test chooses among, in the order of the weights of :data:`MIXES`
CANDIDATES = ("network", "seasonal naive", "drift", *STATISTICAL)
#: the mixes the back-test chooses from, as weights of :data:`CANDIDATES` (the network alone
#: first: it wins ties): the network, seasonal naive and drift alone and the network's equal
#: mixes with either; each statistical member alone; the network with ARIMA; and the equal
#: combination of the network and the three members (M4's "Comb" with the network in it).
#: Chosen on the development set (docs/forecasting.md, "What chose the defaults").
MIXES = (
    (1.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    (0.5, 0.5, 0.0, 0.0, 0.0, 0.0),
    (0.0, 1.0, 0.0, 0.0, 0.0, 0.0),
    (0.5, 0.0, 0.5, 0.0, 0.0, 0.0),
    (0.0, 0.0, 1.0, 0.0, 0.0, 0.0),
    (0.0, 0.0, 0.0, 1.0, 0.0, 0.0),
    (0.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    (0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
    (0.5, 0.0, 0.0, 0.0, 0.0, 0.5),
    (0.25, 0.0, 0.0, 0.25, 0.25, 0.25),
)
#: the forecast of a series too short for a back-test (with ``fallback``): the network and
#: ARIMA, equally
SHORT_MIX = (0.5, 0.0, 0.0, 0.0, 0.0, 0.5)
_N_BASE = 3  # network, seasonal naive, drift: the candidates before the statistical members
#: the back-test's stretch, in horizons, for seasonal and for non-seasonal series: two
#: horizons made the choices of the short yearly series less noisy (see docs/forecasting.md)
_BACKTEST_HORIZONS = {"seasonal": 1, "non-seasonal": 2}
#: training windows a series needs in the back-test to take part in it
_MIN_BACKTEST_WINDOWS = 8
#: a seasonal series' back-test pick is shrunk towards the network: its weights become
#: ``SHRINK`` of the pick and ``1 - SHRINK`` of the network alone, unless the pick's back-test MAE
#: is at most ``KEEP_RATIO`` times the network's (a near-exact pick, kept alone) or the shrunk mix
#: does worse than seasonal naive on the back-test; see :func:`choose_mix`
SHRINK = 0.5
KEEP_RATIO = 0.25


def mix_name(weights) -> str:
    """The name of a mix of :data:`CANDIDATES` from its weights: ``"network + arima"`` for an
    equal mix, ``"0.75 network + 0.25 arima"`` otherwise (a pick shrunk towards the network)."""
    used = [(c, float(x)) for c, x in zip(CANDIDATES, weights, strict=True) if x]
    if len({x for _, x in used}) <= 1:
        return " + ".join(c for c, _ in used)
    return " + ".join(f"{x:g} {c}" for c, x in used)


def backtest_series(lengths: list[int], season: int, horizon: int, lookback: int, out_steps: int):
    """The back-test's stretch (points held out per series) and the series long enough for it."""
    stretch = _BACKTEST_HORIZONS["seasonal" if season > 1 else "non-seasonal"] * horizon
    need = lookback + out_steps + _MIN_BACKTEST_WINDOWS - 1
    return stretch, [i for i, n in enumerate(lengths) if n - stretch >= need]


def candidate_forecasts(
    s: np.ndarray, origins: np.ndarray, horizon: int, season: int, net, stats=None
) -> tuple:
    """Each candidate's forecasts (n_origins, horizon) from each origin of ``s``, in the order of
    :data:`CANDIDATES`: the network's ``net`` (given; None when it has no weight), seasonal naive,
    drift (the line through the first point and the last before the origin), and the statistical
    members' ``stats`` (given, from :func:`statistical_forecasts`; None for those without weight)."""
    j = np.arange(horizon)[None, :]
    o = origins[:, None]
    m = season if int(origins.min()) >= season else 1
    snaive = s[o - m + (j % m)]
    last = s[o - 1]
    slope = (last - s[0]) / np.maximum(o - 1, 1)
    members = tuple(stats) if stats is not None else (None,) * len(STATISTICAL)
    return (net, snaive, last + (j + 1) * slope, *members)


def statistical_forecasts(
    z: np.ndarray, origins: np.ndarray, horizon: int, indices, log: bool, params: dict, weights=None
) -> tuple:
    """The statistical members' forecasts (n_origins, horizon) in the original units, from each
    origin of the z-scale series ``z``, with the fitted ``params`` (method -> parameters of
    :func:`.statistical.fit`); None for a member whose weight in every one of ``weights`` is 0."""
    t = origins[:, None] + np.arange(horizon)[None, :]
    out = []
    for k, method in enumerate(STATISTICAL):
        if weights is not None and not any(w[_N_BASE + k] for w in weights):
            out.append(None)
            continue
        fz = statistical.forecast_from(params[method], z, origins, horizon)
        with np.errstate(over="ignore", invalid="ignore"):
            out.append(inverse_transform(fz + seasonal_at(indices, t), log))
    return tuple(out)


def fit_statistical(z: np.ndarray, weights=None) -> dict:
    """The statistical members (those with weight in any of ``weights``) fitted on ``z``."""
    return {
        m: statistical.fit(z, m)
        for k, m in enumerate(STATISTICAL)
        if weights is None or any(w[_N_BASE + k] for w in weights)
    }


def mix(weights, forecasts) -> np.ndarray:
    """``sum(w_c forecast_c)`` over the candidates (terms with weight 0 left out: no NaN leaks)."""
    out = np.zeros(np.shape(forecasts[1]))
    for wk, fk in zip(weights, forecasts, strict=True):
        if wk:
            out = out + wk * fk
    return out


def choose_mix(s, z, origins, fz, indices, log: bool, season: int, mixes, fit_end: int | None = None):
    """Errors on the z scale of the back-test's forecast, and its weights.

    The pick is the mix of ``mixes`` with the lowest mean absolute error (MAE) over every
    origin and step (the first on ties). For a seasonal series (``season > 1``), the forecast is
    then half the pick and half the network alone (:data:`SHRINK`), unless the pick's MAE is at
    most :data:`KEEP_RATIO` (0.25) times the network's own (a near-exact pick: seasonal naive
    on a fixed pattern, drift on a line) or that half mix does worse than seasonal naive on the
    back-test; then the pick alone. So the forecast never does worse than seasonal naive on the
    back-test (the fallback's guarantee), and a pick among ten mixes by a back-test of one
    horizon, which overfits its origins, is tempered by the network. On every seasonal series
    of the development set (``load_dev_set(sample=None)``: 148 monthly and 20 quarterly series;
    seeds 0 / 1 / 2) relMASE went from 0.410 / 0.418 / 0.419 to 0.386 / 0.393 / 0.393 (monthly)
    and from 0.907 / 0.908 / 0.877 to 0.877 / 0.875 / 0.866 (quarterly). Series without a
    season keep the pick: there the same rule left the 51 yearly development series with a
    back-test as they were (0.731 to 0.729) and made the yearly sample of ``fastlstm evaluate``
    worse (0.719 to 0.765). A gate that kept the pick only when it beat a default by k
    standard errors of the per-origin differences, softmax weights and fewer candidates did
    less (docs/forecasting.md, "What chose the defaults"). With ``mixes`` of one, that mix's
    errors, unshrunk.

    Parameters
    ----------
    s, z : numpy.ndarray, shape (n,)
        The series and its z scale (transformed, seasonal ``indices`` removed).
    origins : numpy.ndarray of int
    fz : numpy.ndarray, shape (n_origins, horizon)
        The network's forecasts on the z scale.
    indices : numpy.ndarray or None
        The series' seasonal indices.
    log : bool
        Whether ``z`` is on the log scale.
    season : int
    mixes : sequence of weight tuples
        :data:`MIXES`, a subset, or one mix; the first wins ties.
    fit_end : int, optional
        The statistical members are fitted on ``z[:fit_end]`` (default: up to the first origin,
        out of sample) and run forward with those parameters through the origins.

    Returns
    -------
    err : numpy.ndarray, shape (n_origins, horizon)
        NaN past the data.
    weights : numpy.ndarray, shape (len(CANDIDATES),)
        Not necessarily one of ``mixes`` (a shrunk pick).
    """
    n, horizon = len(s), fz.shape[1]
    t = origins[:, None] + np.arange(horizon)[None, :]
    ok = t < n
    tt = np.minimum(t, n - 1)
    actual = np.where(ok, s[tt], np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        net = inverse_transform(fz + seasonal_at(indices, t), log)
    network_alone = tuple(float(x) for x in MIXES[0])
    w_best = mixes[0]
    if len(mixes) > 1 or tuple(float(x) for x in w_best) != network_alone:
        end = int(origins[0]) if fit_end is None else fit_end
        params = fit_statistical(z[:end], mixes)
        stats = statistical_forecasts(z, origins, horizon, indices, log, params, mixes)
        cands = candidate_forecasts(s, origins, horizon, season, net, stats)
        best = np.inf
        for w in mixes:
            with np.errstate(over="ignore", invalid="ignore"):
                mae = np.nanmean(np.abs(actual - mix(w, cands)))
            if mae < best or (not np.isfinite(best) and w[0] == 0):
                best, w_best = mae, w
        with np.errstate(over="ignore", invalid="ignore"):
            mae_net = np.nanmean(np.abs(actual - net))
        weak = np.isfinite(mae_net) and np.isfinite(best) and best > KEEP_RATIO * mae_net
        if season > 1 and len(mixes) > 1 and weak:
            pairs = zip(w_best, MIXES[0], strict=True)
            shrunk = tuple(SHRINK * float(x) + (1 - SHRINK) * y for x, y in pairs)
            with np.errstate(over="ignore", invalid="ignore"):
                mae_shrunk = np.nanmean(np.abs(actual - mix(shrunk, cands)))
                mae_snaive = np.nanmean(np.abs(actual - cands[1]))
            if mae_shrunk <= mae_snaive:  # the fallback's guarantee: never worse than seasonal naive
                w_best = shrunk
        if tuple(float(x) for x in w_best) != network_alone:
            mixed = mix(w_best, cands)
            if log and np.any(mixed <= 0):  # drift can cross zero: keep the network
                w_best = MIXES[0]
            else:
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    fz = forward_transform(mixed, log) - seasonal_at(indices, t)
    z_act = np.where(ok, z[tt], np.nan)
    return z_act - fz, np.array(w_best)


class Backtest:
    """Forecasts from several origins of one series (:meth:`Forecaster.backtest`).

    Attributes
    ----------
    origins : numpy.ndarray of int, shape (n_windows,)
        Index of each forecast's first step in the series, oldest first.
    forecasts, actuals : numpy.ndarray, shape (n_windows, horizon)
    metrics : dict of str to numpy.ndarray
        ``mae``, ``rmse``, ``mape``, ``smape``, ``mase`` per window.
    """

    def __init__(self, origins, forecasts, actuals, metrics) -> None:
        self.origins, self.forecasts, self.actuals, self.metrics = origins, forecasts, actuals, metrics

    def summary(self) -> dict[str, float]:
        """Each metric averaged over the windows."""
        return {k: float(np.mean(v)) for k, v in self.metrics.items()}

    def __repr__(self) -> str:
        s = ", ".join(f"{k}={v:.4g}" for k, v in self.summary().items())
        return f"Backtest({len(self.origins)} windows, {s})"


def score_backtest(y: np.ndarray, origins: np.ndarray, forecasts: np.ndarray, m: int) -> Backtest:
    """The forecasts ``(n_windows, horizon)`` from ``origins`` of ``y``, scored per window (MASE
    scaled by the in-sample seasonal naive error of lag ``m`` before each origin)."""
    horizon = forecasts.shape[1]
    actuals = np.stack([y[o : o + horizon] for o in origins])
    per = {name: np.empty(len(origins)) for name in ("mae", "rmse", "mape", "smape", "mase")}
    for i, o in enumerate(origins):
        a, f = actuals[i], forecasts[i]
        per["mae"][i] = metrics.mae(a, f)
        per["rmse"][i] = metrics.rmse(a, f)
        per["mape"][i] = metrics.mape(a, f) if np.all(a != 0) else np.nan
        per["smape"][i] = metrics.smape(a, f)
        per["mase"][i] = metrics.mase(a, f, y[:o], m=m) if o > m else np.nan
    return Backtest(origins, forecasts, actuals, per)
