"""The back-test: the choice of each series' mix of candidates, and :class:`Backtest`.

:meth:`Forecaster.fit` trains the candidates on every series less its last stretch (one
horizon, two without a season) and forecasts from every origin in that stretch
(:func:`run`); per series it then picks the mix of candidates (:mod:`.candidates`) with the
lowest mean absolute error there and shrinks the pick towards the network (:func:`choose_mix`).
A mix is a dict of candidate names to weights (:data:`MIXES`, ``Forecaster.mix_``).

Adding a candidate: register it in :mod:`.candidates` and name it in the mixes below.
"""

from __future__ import annotations

import numpy as np

from .. import _validation
from . import frames, metrics
from .candidates import MEMBERS, NETWORK, Prepared, forecasts, mix
from .prepare import forward_transform, seasonal_at

__all__ = [
    "CALIBRATION_HORIZONS",
    "KEEP_RATIO",
    "MIXES",
    "SHORT_MIX",
    "SHRINK",
    "Backtest",
    "backtest_series",
    "calibration_errors",
    "choose_mix",
    "errors_and_mix",
    "fit_candidates",
    "from_origins",
    "mix_name",
    "names_in",
    "run",
    "score_backtest",
]

#: the mixes the back-test chooses from (the network alone first: it wins ties): the network,
#: seasonal naive and drift alone and the network's equal mixes with either; each statistical
#: member alone; the network with ARIMA; and the equal combination of the network and the three
#: members (M4's "Comb" with the network in it). docs/forecasting.md says what chose them.
MIXES = (
    {NETWORK: 1.0},
    {NETWORK: 0.5, "seasonal naive": 0.5},
    {"seasonal naive": 1.0},
    {NETWORK: 0.5, "drift": 0.5},
    {"drift": 1.0},
    {"damped": 1.0},
    {"theta": 1.0},
    {"arima": 1.0},
    {NETWORK: 0.5, "arima": 0.5},
    {NETWORK: 0.25, "damped": 0.25, "theta": 0.25, "arima": 0.25},
)
#: the forecast of a series too short for a back-test (with ``fallback``): the network, the
#: damped trend and ARIMA, equally (docs/forecasting.md, "What chose the defaults")
SHORT_MIX = {NETWORK: 1 / 3, "damped": 1 / 3, "arima": 1 / 3}
#: the back-test's stretch, in horizons, for seasonal and for non-seasonal series
_BACKTEST_HORIZONS = {"seasonal": 1, "non-seasonal": 2}
#: training windows a series needs in the back-test to take part in it
_MIN_BACKTEST_WINDOWS = 8
#: a seasonal series' back-test pick is shrunk towards the network: its weights become
#: ``SHRINK`` of the pick and ``1 - SHRINK`` of the network alone, unless the pick's back-test MAE
#: is at most ``KEEP_RATIO`` times the network's (a near-exact pick, kept alone) or the shrunk mix
#: does worse than seasonal naive on the back-test; see :func:`choose_mix`
SHRINK = 0.5
KEEP_RATIO = 0.25
_NETWORK_ALONE = {NETWORK: 1.0}
#: the intervals' calibration window, in horizons before the end of each series' fitted data:
#: the back-test's errors and, from the origins before its stretch, the final candidates'
#: in-sample errors (:func:`calibration_errors`; docs/forecasting.md, "Prediction intervals",
#: has the measurements that chose it)
CALIBRATION_HORIZONS = 4


def _clean(weights) -> dict[str, float]:
    """A mix as a dict of its candidates with weight (floats)."""
    return {k: float(v) for k, v in dict(weights).items() if v}


def names_in(mixes) -> list[str]:
    """The candidates other than the network with weight in any of ``mixes``, in sum order."""
    return [name for name in MEMBERS if any(w.get(name) for w in mixes)]


def mix_name(weights) -> str:
    """The name of a mix: ``"network + arima"`` for an equal mix, ``"0.75 network + 0.25 arima"``
    otherwise (a pick shrunk towards the network)."""
    used = [(c, w) for c, w in _clean(weights).items()]
    order = (NETWORK, *MEMBERS)
    used.sort(key=lambda cw: order.index(cw[0]))
    if len({x for _, x in used}) <= 1:
        return " + ".join(c for c, _ in used)
    return " + ".join(f"{x:g} {c}" for c, x in used)


def backtest_series(lengths: list[int], season: int, horizon: int, lookback: int, out_steps: int):
    """The back-test's stretch (points held out per series) and the series long enough for it."""
    stretch = _BACKTEST_HORIZONS["seasonal" if season > 1 else "non-seasonal"] * horizon
    need = lookback + out_steps + _MIN_BACKTEST_WINDOWS - 1
    return stretch, [i for i, n in enumerate(lengths) if n - stretch >= need]


def run(data: Prepared, network, ends: list[int], mixes, short_mix, bar=None) -> tuple[list[dict], dict]:
    """The back-test of :meth:`Forecaster.fit`: each series' mix and its z-scale errors.

    Parameters
    ----------
    data : Prepared
        The panel.
    network : Candidate
        An unfitted learned candidate (trained here on the series less their stretch).
    ends : list of int
        Per series, the points before its validation tail.
    mixes : sequence of dict
        The mixes to choose from (:data:`MIXES`, or the network alone without ``fallback``).
    short_mix : dict or None
        The mix of a series too short for the back-test (None: the network alone).
    bar : ProgressBar, optional
        Where the network's training reports (:class:`~fastlstm.train.callbacks.ProgressBar`).

    Returns
    -------
    mixes : list of dict
        Per series.
    errors : dict of int to numpy.ndarray
        The back-test's z-scale errors of the series that had one.
    """
    stretch, rows = backtest_series(ends, data.season, data.horizon, data.lookback, data.out_steps)
    chosen = [dict(_NETWORK_ALONE) for _ in ends]
    errors = {}
    if rows:
        starts = [ends[i] - stretch for i in rows]
        network.fit(data, rows, starts, stage="back-test", bar=bar)
        members = {name: MEMBERS[name]().fit(data, rows, starts) for name in names_in(mixes)}
        candidates = {NETWORK: network, **members}
        for i in rows:
            origins = np.arange(ends[i] - stretch, ends[i])
            errors[i], chosen[i] = errors_and_mix(data, candidates, i, ends[i], origins, mixes)
    if short_mix is not None:
        for i in set(range(len(ends))) - set(rows):
            chosen[i] = dict(short_mix)
    return chosen, errors


def fit_candidates(
    data: Prepared, network, mixes: list[dict], ends: list[int], lengths, val: int, bar=None
) -> dict:
    """The final candidates: ``network`` trained on all the data (``val``: its validation tail;
    reporting to ``bar``), each other candidate fitted on the series whose mix it is in, on their
    first ``ends[i]`` points."""
    candidates = {
        NETWORK: network.fit(data, range(len(lengths)), lengths, val=val, stage="final fit", bar=bar)
    }
    for name in MEMBERS:
        rows = [i for i, w in enumerate(mixes) if w.get(name)]
        candidates[name] = MEMBERS[name]().fit(data, rows, [ends[i] for i in rows])
    return candidates


def calibration_errors(data: Prepared, candidates: dict, mixes: list[dict], errors: dict, ends) -> tuple:
    """The z-scale errors the intervals are calibrated on, per series, and which they are.

    Each series' errors come from the origins of its last :data:`CALIBRATION_HORIZONS` horizons
    before ``ends[i]`` (from its lookback on, for a shorter series): the back-test's ``errors``
    for the origins of its stretch, and the in-sample errors of the final ``candidates`` (the
    series' mix ``mixes[i]``) for the origins before it. A series too short for a back-test has
    in-sample errors only. Where a candidate cannot forecast from the earliest origins (an AR
    order longer than the history there), a back-tested series keeps its back-test errors
    alone and a short one the origins of its last horizon.

    Returns
    -------
    errors : dict of int to numpy.ndarray, shape (n_origins, horizon)
        Per series, oldest origin first (NaN past the data).
    kind : str
        ``"backtest"`` (every series had a back-test), ``"in-sample"`` (none had) or ``"mixed"``.
    """
    out = {}
    for i, w in enumerate(mixes):
        held = errors.get(i)
        stop = ends[i] - (0 if held is None else held.shape[0])  # the back-test's first origin
        lowest = data.lookback if ends[i] > data.lookback else 1
        origins = np.arange(max(lowest, ends[i] - CALIBRATION_HORIZONS * data.horizon), stop)
        before = None
        if len(origins):
            try:
                before = errors_and_mix(data, candidates, i, ends[i], origins, [w])[0]
            except ValueError:  # a candidate cannot forecast from the earliest origins
                if held is None:
                    origins = np.arange(max(lowest, ends[i] - data.horizon), ends[i])
                    before = errors_and_mix(data, candidates, i, ends[i], origins, [w])[0]
        parts = [e for e in (before, held) if e is not None]
        out[i] = np.concatenate(parts) if len(parts) > 1 else parts[0]
    n_short = sum(i not in errors for i in range(len(mixes)))
    if not n_short:
        return out, "backtest"
    return out, "in-sample" if n_short == len(mixes) else "mixed"


def errors_and_mix(data: Prepared, candidates: dict, i: int, end: int, origins, mixes) -> tuple:
    """Series ``i``'s z-scale errors from ``origins`` of its first ``end`` points, forecast by the
    best of ``mixes`` of the fitted ``candidates`` (:func:`choose_mix`), and that mix."""
    s = data.series[i][:end]
    cov = None if data.covariates is None else data.covariates[i]
    network = candidates[NETWORK]
    fz = network.forecast_z(data, i, s, origins, data.horizon, cov)
    net = data.original(i, fz, origins)
    names = names_in([*mixes, {"seasonal naive": 1.0}])  # seasonal naive: the guarantee's yardstick
    cands = None
    if len(mixes) > 1 or _clean(mixes[0]) != _NETWORK_ALONE:
        cands = forecasts(candidates, data, names, i, s, origins, data.horizon, cov)
        cands = {NETWORK: net, **cands}
    return choose_mix(
        s, data.z(i, s), origins, fz, net, cands, data.seasonal[i], data.log[i], data.season, mixes
    )


def choose_mix(s, z, origins, fz, net, cands, indices, log: bool, season: int, mixes):
    """Errors on the z scale of the back-test's forecast, and its mix.

    The pick is the mix of ``mixes`` with the lowest mean absolute error (MAE) over every
    origin and step (the first on ties). For a seasonal series (``season > 1``), the forecast is
    then half the pick and half the network alone (:data:`SHRINK`), unless the pick's MAE is at
    most :data:`KEEP_RATIO` times the network's own (a near-exact pick: seasonal naive on a fixed
    pattern, drift on a line) or that half mix does worse than seasonal naive on the back-test;
    then the pick alone. So the forecast never does worse than seasonal naive on the back-test
    (the fallback's guarantee). Series without a season keep the pick. With ``mixes`` of one,
    that mix's errors, unshrunk. docs/forecasting.md ("What chose the defaults") has the
    measurements behind the rule.

    Parameters
    ----------
    s, z : numpy.ndarray, shape (n,)
        The series and its z scale (transformed, seasonal ``indices`` removed).
    origins : numpy.ndarray of int
    fz : numpy.ndarray, shape (n_origins, horizon)
        The network's forecasts on the z scale.
    net : numpy.ndarray, shape (n_origins, horizon)
        The same in the original units.
    cands : dict of str to numpy.ndarray, or None
        Every candidate's forecasts in the original units, by name (the network's included);
        None when ``mixes`` is the network alone.
    indices : numpy.ndarray or None
        The series' seasonal indices.
    log : bool
        Whether ``z`` is on the log scale.
    season : int
    mixes : sequence of dict
        :data:`MIXES`, a subset, or one mix; the first wins ties.

    Returns
    -------
    err : numpy.ndarray, shape (n_origins, horizon)
        NaN past the data.
    weights : dict of str to float
        Not necessarily one of ``mixes`` (a shrunk pick).
    """
    n, horizon = len(s), fz.shape[1]
    t = origins[:, None] + np.arange(horizon)[None, :]
    ok = t < n
    tt = np.minimum(t, n - 1)
    actual = np.where(ok, s[tt], np.nan)
    w_best = _clean(mixes[0])
    if cands is not None:
        best = np.inf
        for w in mixes:
            w = _clean(w)
            with np.errstate(over="ignore", invalid="ignore"):
                mae = np.nanmean(np.abs(actual - mix(w, cands)))
            if mae < best or (not np.isfinite(best) and not w.get(NETWORK)):
                best, w_best = mae, w
        with np.errstate(over="ignore", invalid="ignore"):
            mae_net = np.nanmean(np.abs(actual - net))
        weak = np.isfinite(mae_net) and np.isfinite(best) and best > KEEP_RATIO * mae_net
        if season > 1 and len(mixes) > 1 and weak:
            names = set(w_best) | {NETWORK}
            shrunk = {
                c: SHRINK * w_best.get(c, 0.0) + (1 - SHRINK) * _NETWORK_ALONE.get(c, 0.0) for c in names
            }
            shrunk = _clean(shrunk)
            with np.errstate(over="ignore", invalid="ignore"):
                mae_shrunk = np.nanmean(np.abs(actual - mix(shrunk, cands)))
                mae_snaive = np.nanmean(np.abs(actual - cands["seasonal naive"]))
            if mae_shrunk <= mae_snaive:  # the fallback's guarantee: never worse than seasonal naive
                w_best = shrunk
        if w_best != _NETWORK_ALONE:
            mixed = mix(w_best, cands)
            if log and np.any(mixed <= 0):  # drift can cross zero: keep the network
                w_best = dict(_NETWORK_ALONE)
            else:
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    fz = forward_transform(mixed, log) - seasonal_at(indices, t)
    z_act = np.where(ok, z[tt], np.nan)
    return z_act - fz, w_best


class Backtest:
    """Forecasts from several origins of one series (:meth:`Forecaster.backtest`).

    Parameters
    ----------
    origins, forecasts, actuals, metrics
        Stored as the attributes below.

    Attributes
    ----------
    origins : numpy.ndarray of int, shape (n_windows,)
        Index of each forecast's first step in the series, oldest first.
    forecasts, actuals : numpy.ndarray, shape (n_windows, horizon)
    metrics : dict of str to numpy.ndarray
        ``mae``, ``rmse``, ``mape``, ``smape``, ``mase`` per window
        (:func:`fastlstm.metrics.score`; NaN where a measure is undefined).
    """

    def __init__(self, origins, forecasts, actuals, metrics) -> None:
        self.origins, self.forecasts, self.actuals, self.metrics = origins, forecasts, actuals, metrics

    def summary(self) -> dict[str, float]:
        """Each metric averaged over the windows."""
        return {k: float(np.mean(v)) for k, v in self.metrics.items()}

    def __repr__(self) -> str:
        s = ", ".join(f"{k}={v:.4g}" for k, v in self.summary().items())
        return f"Backtest({len(self.origins)} windows, {s})"


#: the measures of each back-test window
BACKTEST_MEASURES = ("mae", "rmse", "mape", "smape", "mase")


def score_backtest(y: np.ndarray, origins: np.ndarray, forecasts: np.ndarray, m: int) -> Backtest:
    """Score forecasts from several origins of one series, window by window.

    Parameters
    ----------
    y : numpy.ndarray, shape (n,)
        The series.
    origins : numpy.ndarray of int, shape (n_windows,)
        Index of each window's first forecast step in ``y``.
    forecasts : numpy.ndarray, shape (n_windows, horizon)
        The forecasts; each window ends inside ``y``.
    m : int
        Season length of the MASE scale.

    Returns
    -------
    Backtest
        With :func:`fastlstm.metrics.score`'s point measures per window: MASE
        scaled by the strict :func:`~fastlstm.metrics.mase_scale` of the points
        before the origin (NaN where it is undefined: ``origin <= m`` or a zero
        scale), MAPE NaN where an actual value is 0.
    """
    horizon = forecasts.shape[1]
    actuals = np.stack([y[o : o + horizon] for o in origins])
    per = {name: np.empty(len(origins)) for name in BACKTEST_MEASURES}
    for i, o in enumerate(origins):
        scores = metrics.score(actuals[i], forecasts[i], y[:o], m=m)
        for name in BACKTEST_MEASURES:
            per[name][i] = scores[name]
    return Backtest(origins, forecasts, actuals, per)


def from_origins(f, y, n_windows: int, step: int, X, season_length, start) -> Backtest:
    """:meth:`Forecaster.backtest` of the fitted forecaster ``f`` (its arguments, as documented
    there)."""
    if f.n_series_ != 1:
        raise ValueError(f"y: backtest takes one series, but the model was fitted on {f.n_series_}")
    n_windows = _validation.check_int(n_windows, "n_windows", minimum=1)
    step = _validation.check_int(step, "step", minimum=1)
    series, _, meta = frames.ingest(y, "y")
    if len(series) != 1:
        raise ValueError(f"y: expected a 1-D series, got shape {np.shape(y)}")
    positional = f._positional()
    starts = frames.season_starts(
        series, meta.get("index"), start, f.series_, f.index_, f.season_length_, positional
    )
    drop = frames.season_drops(starts, f.season_length_, positional)[0]
    s = series[0][drop:]
    lookback, horizon = f.lookback_, f.horizon_
    origins = len(s) - horizon - step * np.arange(n_windows)[::-1]
    if origins[0] < lookback:
        raise ValueError(
            f"n_windows: {n_windows} windows with step {step} need "
            f"{lookback + horizon + step * (n_windows - 1)} points, "
            f"got {len(s)}"
        )
    covs = frames.split_covariates(X, [len(series[0])], "X")
    covs = None if covs is None else [c[drop:] for c in covs]
    if (covs is None) != (f.n_covariates_ == 0):
        raise ValueError(f"X: expected {'covariates' if f.n_covariates_ else 'None'} as in fit")
    covs = frames.with_static(covs, f.static_, [len(s)])
    w, data = f.mix_[0], f._data
    cov = None if covs is None else covs[0]
    names = [name for name in (NETWORK, *MEMBERS) if w.get(name)]
    cands = forecasts(f.candidates_, data, names, 0, s, origins, horizon, cov)
    m = (
        f.season_length_
        if season_length is None
        else _validation.check_int(season_length, "season_length", minimum=1)
    )
    return score_backtest(s, origins, mix(w, cands), m)
