"""An ES-RNN-style hybrid (Smyl, M4 2018): per-series exponential smoothing normalises the windows
of a global LSTM, and both are trained together by gradient.

On the (log) scale of the series the smoothing is additive. Per series ``i``, with
``a_i = sigmoid(raw_alpha_i)``, ``g_i = sigmoid(raw_gamma_i)`` and ``m`` initial seasonal indices
``s_0 .. s_{m-1}`` (all learned)::

    l_0 = y_0 - s_0
    l_t = a_i (y_t - s_t) + (1 - a_i) l_{t-1}          (t >= 1)
    s_{t+m} = g_i (y_t - l_t) + (1 - g_i) s_t           (t >= 0)

A window whose last input is step ``t`` reads ``x_k = (y_{t-k} - s_{t-k} - l_t) / c_i``
(``k = input_size - 1 .. 0``) and is trained towards ``(y_{t+j} - s'_{t+j} - l_t) / c_i``
(``j = 1 .. horizon``), where ``s'`` continues the seasonal indices known at ``t`` periodically
(``s'_{t+j} = s_{t+1+((j-1) mod m)}``: the same seasonal term the forecast uses, and no look-ahead
past step ``t``). ``c_i`` is the series' mean absolute one-step change (a constant). The forecast
from ``t`` is ``c_i out_j + l_t + s'_{t+j}``. Series without a season (``m = 1``, or where the
seasonality test finds none) keep the level only (Smyl used Holt's trend for yearly series; here the
network carries the trend).

Gradients: the loss's ``dL/d out`` goes through :meth:`LSTMRegressor.backward` to ``dL/dx``; that and
``dL/d target = -dL/d out`` are scattered onto ``dL/dl`` and ``dL/ds``, and a reverse-mode pass
over time (:func:`es_backward`, Numba) carries them to ``a_i``, ``g_i`` and the initial seasonal
indices. :func:`batch_loss` is the whole pipeline for one batch (the tests check it against
central differences in float64). The recursion is recomputed for every series at every step (it
costs microseconds), so every step uses the current parameters.

The network and the smoothing parameters are trained jointly with Adam (cosine-annealed learning
rate, the network's gradient clipped), ``n_models`` members with their own seeds, network and
smoothing parameters; the forecast is the median of the members'.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._config import JIT_EXACT
from .._params import renamed
from .._validation import as_float_array, check_dtype, check_float, check_int
from ..nn.layers import LSTMRegressor, derive_seeds
from ..nn.losses import get_loss
from ..nn.module import Parameter
from ..train.optim import Adam, clip_grad_norm
from ..train.schedules import CosineAnnealingLR
from .decompose import classical_decompose, seasonality_test
from .metrics import mase_scale
from .prepare import choose_sizes, training_sizes

__all__ = ["ESRNN", "batch_loss", "es_backward", "es_forward"]

#: initial smoothing coefficients (before training): a = sigmoid(0) = 0.5, g = sigmoid(-2) = 0.12
_RAW_ALPHA0, _RAW_GAMMA0 = 0.0, -2.0


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ------------------------------------------------------------------ recursions
@njit(**JIT_EXACT)
def _es_forward(y, lengths, alpha, gamma, s0, seasonal, level, seas):  # pragma: no cover - compiled
    n, m = s0.shape
    for i in range(n):
        T = lengths[i]
        a, g = alpha[i], gamma[i]
        if seasonal[i]:
            for j in range(m):
                seas[i, j] = s0[i, j]
        level[i, 0] = y[i, 0] - seas[i, 0]
        if seasonal[i]:
            seas[i, m] = g * (y[i, 0] - level[i, 0]) + (1.0 - g) * seas[i, 0]
        for t in range(1, T):
            level[i, t] = a * (y[i, t] - seas[i, t]) + (1.0 - a) * level[i, t - 1]
            if seasonal[i]:
                seas[i, t + m] = g * (y[i, t] - level[i, t]) + (1.0 - g) * seas[i, t]


@njit(**JIT_EXACT)
def _es_backward(
    y, lengths, alpha, gamma, seasonal, level, seas, g_level, g_seas, d_alpha, d_gamma, d_s0
):  # pragma: no cover - compiled
    n, m = d_s0.shape
    for i in range(n):
        T = lengths[i]
        a, g = alpha[i], gamma[i]
        da = 0.0
        dg = 0.0
        for t in range(T - 1, -1, -1):
            if seasonal[i]:  # s_{t+m} = g (y_t - l_t) + (1 - g) s_t
                gs = g_seas[i, t + m]
                dg += gs * (y[i, t] - level[i, t] - seas[i, t])
                g_level[i, t] -= g * gs
                g_seas[i, t] += (1.0 - g) * gs
            gl = g_level[i, t]
            if t >= 1:  # l_t = a (y_t - s_t) + (1 - a) l_{t-1}
                da += gl * (y[i, t] - seas[i, t] - level[i, t - 1])
                g_seas[i, t] -= a * gl
                g_level[i, t - 1] += (1.0 - a) * gl
            else:  # l_0 = y_0 - s_0
                g_seas[i, 0] -= gl
        d_alpha[i] = da
        d_gamma[i] = dg
        if seasonal[i]:
            for j in range(m):
                d_s0[i, j] = g_seas[i, j]


def es_forward(y, lengths, alpha, gamma, s0, seasonal):
    """Levels ``(n, T)`` and seasonal terms ``(n, T + m)`` of the padded series ``y`` ``(n, T)``.

    ``alpha``, ``gamma`` ``(n,)`` are the coefficients (after the sigmoid), ``s0`` ``(n, m)`` the
    initial seasonal indices, ``seasonal`` ``(n,)`` bool (False: level only, seasonal terms 0).
    """
    n, T = y.shape
    level = np.zeros((n, T))
    seas = np.zeros((n, T + s0.shape[1]))
    _es_forward(y, lengths, alpha, gamma, s0, seasonal, level, seas)
    return level, seas


def es_backward(y, lengths, alpha, gamma, seasonal, level, seas, g_level, g_seas):
    """``(dL/d alpha, dL/d gamma, dL/d s0)`` from ``dL/d level`` and ``dL/d seas`` (both consumed:
    they are overwritten with the total derivatives)."""
    n, m = y.shape[0], seas.shape[1] - y.shape[1]
    d_alpha, d_gamma, d_s0 = np.zeros(n), np.zeros(n), np.zeros((n, m))
    _es_backward(y, lengths, alpha, gamma, seasonal, level, seas, g_level, g_seas, d_alpha, d_gamma, d_s0)
    return d_alpha, d_gamma, d_s0


# ------------------------------------------------------------------ windows
def _offsets(input_size: int, horizon: int, m: int):
    past = np.arange(input_size - 1, -1, -1)
    return past, np.arange(1, horizon + 1), 1 + np.arange(horizon) % m


def gather(y, level, seas, scale, sid, t, input_size: int, horizon: int, m: int):
    """Inputs ``(B, input_size)`` and targets ``(B, horizon)`` of the windows ending at steps ``t``
    of series ``sid`` (see the module docstring)."""
    past, fut, sea = _offsets(input_size, horizon, m)
    r, c, lt = sid[:, None], scale[sid][:, None], level[sid, t][:, None]
    ip = t[:, None] - past[None, :]
    x = (y[r, ip] - seas[r, ip] - lt) / c
    target = (y[r, t[:, None] + fut[None, :]] - seas[r, t[:, None] + sea[None, :]] - lt) / c
    return x, target


def scatter(d_x, d_target, scale, sid, t, shape, input_size: int, horizon: int, m: int):
    """``dL/d level`` ``(n, T)`` and ``dL/d seas`` ``(n, T + m)`` from the windows' ``dL/dx`` and
    ``dL/d target`` (the transpose of :func:`gather` with respect to level and seas)."""
    n, T = shape
    past, _, sea = _offsets(input_size, horizon, m)
    c = scale[sid][:, None]
    gx, gt = d_x / c, d_target / c
    g_level = np.bincount(sid * T + t, weights=-(gx.sum(axis=1) + gt.sum(axis=1)), minlength=n * T)
    w = T + m
    flat = np.concatenate(
        [
            (sid[:, None] * w + t[:, None] - past[None, :]).ravel(),
            (sid[:, None] * w + t[:, None] + sea[None, :]).ravel(),
        ]
    )
    g_seas = np.bincount(flat, weights=-np.concatenate([gx.ravel(), gt.ravel()]), minlength=n * w)
    return g_level.reshape(n, T), g_seas.reshape(n, w)


class _Data:
    """The padded series of one fit and what the recursion needs."""

    def __init__(self, series, m: int, seasonal: np.ndarray, scale: np.ndarray) -> None:
        self.lengths = np.array([len(s) for s in series], dtype=np.int64)
        self.y = np.zeros((len(series), int(self.lengths.max())))
        for i, s in enumerate(series):
            self.y[i, : len(s)] = s
        self.m, self.seasonal, self.scale = m, seasonal, scale


def batch_loss(data: _Data, es: dict, net: LSTMRegressor, loss, sid, t, input_size: int, horizon: int):
    """One batch through the whole pipeline: the loss, the network's parameter gradients
    (accumulated into ``net``) and the smoothing parameters' gradients (returned).

    Parameters
    ----------
    data : _Data
    es : dict
        ``raw_alpha``, ``raw_gamma`` ``(n,)`` and ``s0`` ``(n, m)``: arrays of the smoothing parameters.
    net : LSTMRegressor
        In training mode; its gradients are added to (zero them first).
    loss : fastlstm.nn.losses.Loss
    sid, t : numpy.ndarray of int
        The batch's windows: series and step of the last input.
    input_size, horizon : int
        The windows' input and forecast steps (see :func:`gather`).

    Returns
    -------
    value : float
    grads : dict
        ``raw_alpha``, ``raw_gamma``, ``s0``: dL/d each.
    """
    alpha, gamma = _sigmoid(es["raw_alpha"]), _sigmoid(es["raw_gamma"])
    level, seas = es_forward(data.y, data.lengths, alpha, gamma, es["s0"], data.seasonal)
    x, target = gather(data.y, level, seas, data.scale, sid, t, input_size, horizon, data.m)
    out = net.forward(np.ascontiguousarray(x[:, :, None], dtype=net.dtype))
    value, d_out = loss.value_and_grad(out, target)
    if not np.isfinite(value):
        raise FloatingPointError("ESRNN: the training loss is not finite (lower lr)")
    d_x = net.backward(d_out)[:, :, 0].astype(np.float64)
    g_level, g_seas = scatter(
        d_x, -d_out.astype(np.float64), data.scale, sid, t, data.y.shape, input_size, horizon, data.m
    )
    d_alpha, d_gamma, d_s0 = es_backward(
        data.y, data.lengths, alpha, gamma, data.seasonal, level, seas, g_level, g_seas
    )
    grads = {
        "raw_alpha": d_alpha * alpha * (1 - alpha),
        "raw_gamma": d_gamma * gamma * (1 - gamma),
        "s0": d_s0,
    }
    return value, grads


def _check_series(series, name: str = "series") -> list[np.ndarray]:
    if isinstance(series, np.ndarray) and series.ndim == 1:
        raise TypeError(f"{name}: expected a list of 1-D arrays, got one 1-D array (wrap it in a list)")
    if not isinstance(series, (list, tuple)) or not series:
        raise TypeError(f"{name}: expected a non-empty list of 1-D arrays, got {type(series).__name__}")
    out = []
    for i, s in enumerate(series):
        a = as_float_array(s, f"{name}[{i}]", ndim=1, cast=True).astype(np.float64)
        if not np.isfinite(a).all():
            raise ValueError(f"{name}[{i}]: expected finite values, got NaN or Inf")
        out.append(np.ascontiguousarray(a))
    return out


class ESRNN:
    """ES-RNN-style hybrid: per-series Holt-Winters-style smoothing (learned) and a global LSTM.

    Fitted on a list of series on an additive scale (the log of positive series, for
    multiplicative seasonality and growth). See the module docstring for the equations.

    Parameters
    ----------
    season_length : int
        Season length ``m`` (1: level only). Formerly ``season``.
    horizon : int
        Steps forecast at once.
    lookback : int, optional
        Past steps a window reads (formerly ``input_size``); default as the Forecaster's
        (``max(horizon, 2 m)``, shortened so that the shortest series keeps 8 windows).
    hidden_size, num_layers : int
        The LSTM's size.
    n_models : int
        Ensemble members (the forecast is their median).
    epochs, batch_size : int, optional
        Default as the Forecaster's: about 900 steps per member, batches of 16 windows (more for
        large panels).
    lr : float
        Adam's peak learning rate for the network, annealed to 1% by a cosine schedule.
    es_lr : float, optional
        The same for the smoothing parameters (default ``lr``).
    clip_norm : float or None
        The network's gradient-norm clipping.
    loss : {"mae", "mse", "huber"}
        On the scaled windows.
    deseasonalize : {"auto", True, False}
        Per series: learn a season when ``m > 1`` and the series has two seasons and (``"auto"``)
        passes the 90% autocorrelation test at lag ``m``; else level only.
    dtype : float32 or float64
        The network's precision (the smoothing runs in float64).
    seed : int or None

    Attributes
    ----------
    networks_ : list of LSTMRegressor
    es_ : list of dict
        Per member: ``raw_alpha``, ``raw_gamma`` ``(n,)``, ``s0`` ``(n, m)``.
    scale_ : numpy.ndarray, shape (n,)
    seasonal_ : numpy.ndarray of bool, shape (n,)
    lookback_, epochs_, batch_size_ : int
    losses_ : list of list of float
        Per member, the mean training loss of each epoch.
    """

    @renamed(season="season_length", input_size="lookback", seasonality="deseasonalize")
    def __init__(
        self,
        season_length: int = 1,
        horizon: int = 1,
        lookback: int | None = None,
        hidden_size: int = 32,
        num_layers: int = 1,
        n_models: int = 1,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float = 1e-2,
        es_lr: float | None = None,
        clip_norm: float | None = 1.0,
        loss: str = "mae",
        deseasonalize="auto",
        dtype=np.float32,
        seed: int | None = 0,
    ) -> None:
        self.season_length = check_int(season_length, "season_length", minimum=1)
        self.horizon = check_int(horizon, "horizon", minimum=1)
        self.lookback = None if lookback is None else check_int(lookback, "lookback", minimum=1)
        self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        self.num_layers = check_int(num_layers, "num_layers", minimum=1)
        self.n_models = check_int(n_models, "n_models", minimum=1)
        self.epochs = None if epochs is None else check_int(epochs, "epochs", minimum=1)
        self.batch_size = None if batch_size is None else check_int(batch_size, "batch_size", minimum=1)
        self.lr = check_float(lr, "lr", minimum=0.0, min_inclusive=False)
        self.es_lr = None if es_lr is None else check_float(es_lr, "es_lr", minimum=0.0, min_inclusive=False)
        if clip_norm is not None:
            check_float(clip_norm, "clip_norm", minimum=0.0, min_inclusive=False)
        self.clip_norm = clip_norm
        get_loss(loss)
        self.loss = loss
        if deseasonalize not in ("auto", True, False):
            raise ValueError(f"deseasonalize: expected 'auto', True or False, got {deseasonalize!r}")
        self.deseasonalize = deseasonalize
        self.dtype = check_dtype(dtype)
        self.seed = None if seed is None else check_int(seed, "seed", minimum=0)

    # ------------------------------------------------------------------ fit
    def _init_es(self, series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per series: whether seasonal, the scale, and the initial seasonal indices (classical
        decomposition of the whole series)."""
        m = self.season_length
        seasonal = np.zeros(len(series), dtype=np.bool_)
        s0 = np.zeros((len(series), m))
        scale = np.ones(len(series))
        for i, s in enumerate(series):
            scale[i] = mase_scale(s, 1, fallback=True)
            if m > 1 and len(s) >= 2 * m and self.deseasonalize is not False:
                if self.deseasonalize is True or seasonality_test(s, m):
                    seasonal[i] = True
                    s0[i] = classical_decompose(s, m, "additive").indices
        return seasonal, scale, s0

    def fit(self, series) -> ESRNN:
        """Train on the series (a list of 1-D arrays: one global network, per-series smoothing).

        Returns
        -------
        self
        """
        series = _check_series(series)
        lengths = [len(s) for s in series]
        m, h = self.season_length, self.horizon
        _, _, self.lookback_ = choose_sizes(m, h, self.lookback, True, None, lengths, 0)
        k = self.lookback_
        for i, n in enumerate(lengths):
            if n < k + h:
                raise ValueError(
                    f"series[{i}]: expected at least lookback + horizon = {k + h} points, got {n}"
                )
        self.seasonal_, self.scale_, s0 = self._init_es(series)
        data = _Data(series, m, self.seasonal_, self.scale_)
        sid = np.concatenate([np.full(n - k - h + 1, i) for i, n in enumerate(lengths)])
        t = np.concatenate([np.arange(k - 1, n - h) for n in lengths])
        self.epochs_, self.batch_size_ = training_sizes(len(sid), self.batch_size, self.epochs)
        seeds = derive_seeds(self.seed, 2 * self.n_models)
        self.networks_, self.es_, self.losses_ = [], [], []
        for j in range(self.n_models):
            es = {
                "raw_alpha": np.full(len(series), _RAW_ALPHA0),
                "raw_gamma": np.full(len(series), _RAW_GAMMA0),
                "s0": s0.copy(),
            }
            net, losses = self._train(data, es, sid, t, seeds[2 * j], seeds[2 * j + 1])
            self.networks_.append(net)
            self.es_.append(es)
            self.losses_.append(losses)
        self.n_series_ = len(series)
        self.series_ = series
        return self

    def _train(self, data, es, sid, t, net_seed: int, batch_seed: int):
        k, h = self.lookback_, self.horizon
        net = LSTMRegressor(
            1,
            h,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            head="last",
            batch_first=True,
            dtype=self.dtype,
            seed=net_seed,
        )
        params = {name: Parameter(value, name) for name, value in es.items()}
        opt_net = Adam(net.parameters(), lr=self.lr)
        opt_es = Adam(list(params.values()), lr=self.lr if self.es_lr is None else self.es_lr)
        scheds = [CosineAnnealingLR(o, T_max=self.epochs_, eta_min=o.lr * 0.01) for o in (opt_net, opt_es)]
        loss = get_loss(self.loss)
        rng = np.random.default_rng(batch_seed)
        batch, losses = self.batch_size_, []
        net.train()
        for _ in range(self.epochs_):
            order = rng.permutation(len(sid))
            total = 0.0
            for b in range(0, len(order), batch):
                idx = order[b : b + batch]
                opt_net.zero_grad()
                value, grads = batch_loss(
                    data, {n: p.data for n, p in params.items()}, net, loss, sid[idx], t[idx], k, h
                )
                for name, p in params.items():
                    p.grad[...] = grads[name]
                if self.clip_norm is not None:
                    clip_grad_norm(net.parameters(), self.clip_norm)
                opt_net.step()
                opt_es.step()
                total += value * len(idx)
            losses.append(total / len(order))
            for s in scheds:
                s.step()
        net.eval()
        for name, p in params.items():
            es[name] = p.data.copy()
        return net, losses

    # ------------------------------------------------------------------ forecast
    def _check_fitted(self) -> None:
        if not getattr(self, "networks_", None):
            raise RuntimeError("ESRNN: call fit before forecasting")

    def smoothing(self, i: int, y, member: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Levels ``(n,)`` and seasonal terms ``(n + m,)`` of series ``i``'s parameters run over ``y``."""
        es = self.es_[member]
        y = np.asarray(y, dtype=np.float64)[None, :]
        level, seas = es_forward(
            y,
            np.array([y.shape[1]]),
            _sigmoid(es["raw_alpha"][i : i + 1]),
            _sigmoid(es["raw_gamma"][i : i + 1]),
            es["s0"][i : i + 1],
            self.seasonal_[i : i + 1],
        )
        return level[0], seas[0]

    def _member_block(self, i: int, y: np.ndarray, origins: np.ndarray, member: int) -> np.ndarray:
        """One member's forecasts ``(n_origins, horizon)`` of series ``i`` from ``origins`` of ``y``."""
        level, seas = self.smoothing(i, y, member)
        k, h, m = self.lookback_, self.horizon, self.season_length
        t = origins - 1
        zero = np.zeros(len(t), dtype=np.int64)
        x, _ = gather(y[None, :], level[None, :], seas[None, :], self.scale_[i : i + 1], zero, t, k, 0, m)
        out = self.networks_[member].forward(np.ascontiguousarray(x[:, :, None], dtype=self.dtype))
        sea = seas[t[:, None] + 1 + np.arange(h)[None, :] % m]
        return out.astype(np.float64) * self.scale_[i] + level[t][:, None] + sea

    @renamed(steps="h")
    def forecast(self, i: int, y, origins, h: int) -> np.ndarray:
        """Forecasts ``(n_origins, h)`` of series ``i`` (its fitted parameters) from each origin
        of ``y`` (the index of the first forecast step, at least ``lookback_``), the median of the
        members; past ``horizon`` the forecasts are appended to the history and forecast on.

        Parameters
        ----------
        i : int
            Which fitted series' smoothing parameters.
        y : array_like, shape (n,)
            A history on the fitted scale, starting at the fitted series' season position.
        origins : array_like of int
        h : int
            Steps to forecast (formerly ``steps``).
        """
        self._check_fitted()
        i = check_int(i, "i", minimum=0, maximum=self.n_series_ - 1)
        y = _check_series([y], "y")[0]
        h = check_int(h, "h", minimum=1)
        origins = np.asarray(origins, dtype=np.int64).reshape(-1)
        if len(origins) == 0 or origins.min() < self.lookback_ or origins.max() > len(y):
            raise ValueError(f"origins: expected steps in [{self.lookback_}, {len(y)}], got {origins}")
        return self._forecast(i, y, origins, h)

    def _forecast(self, i: int, y: np.ndarray, origins: np.ndarray, steps: int) -> np.ndarray:
        h = self.horizon
        block = np.median([self._member_block(i, y, origins, j) for j in range(len(self.networks_))], axis=0)
        if steps <= h:
            return block[:, :steps]
        out = np.empty((len(origins), steps))
        for r, o in enumerate(origins):  # chain: append the forecasts, smooth on, forecast again
            hist = np.concatenate([y[:o], block[r]])
            while len(hist) - o < steps:
                nxt = np.median(
                    [
                        self._member_block(i, hist, np.array([len(hist)]), j)
                        for j in range(len(self.networks_))
                    ],
                    axis=0,
                )[0]
                hist = np.concatenate([hist, nxt])
            out[r] = hist[o : o + steps]
        return out

    def predict(self, h: int | None = None, series=None) -> list[np.ndarray]:
        """Forecast ``h`` steps (default ``horizon``) past the end of each series (the fitted ones,
        or ``series``, one per fitted series, in the same order)."""
        self._check_fitted()
        h = self.horizon if h is None else check_int(h, "h", minimum=1)
        hist = self.series_ if series is None else _check_series(series)
        if len(hist) != self.n_series_:
            raise ValueError(f"series: expected {self.n_series_} series as in fit, got {len(hist)}")
        for i, s in enumerate(hist):
            if len(s) < self.lookback_:
                raise ValueError(f"series[{i}]: expected at least lookback = {self.lookback_} points")
        return [self._forecast(i, s, np.array([len(s)]), h)[0] for i, s in enumerate(hist)]

    # ------------------------------------------------------------------ state
    def get_state(self) -> dict[str, np.ndarray]:
        """The fitted smoothing arrays (the networks' weights are the LSTMRegressors' own)."""
        out = {"scale": self.scale_, "seasonal": self.seasonal_.astype(np.float64)}
        for j, es in enumerate(self.es_):
            for name, value in es.items():
                out[f"{j}.{name}"] = value
        return out

    def get_config(self) -> dict:
        """Constructor arguments and fitted sizes (JSON-able)."""
        names = (
            "season_length",
            "horizon",
            "lookback",
            "hidden_size",
            "num_layers",
            "n_models",
            "epochs",
            "batch_size",
            "lr",
            "es_lr",
            "clip_norm",
            "loss",
            "deseasonalize",
            "seed",
        )
        cfg = {name: getattr(self, name) for name in names}
        cfg["dtype"] = self.dtype.name
        cfg["fitted"] = {
            "lookback": self.lookback_,
            "epochs": self.epochs_,
            "batch_size": self.batch_size_,
        }
        return cfg

    @classmethod
    def restore(cls, config: dict, state: dict, networks: list, series: list) -> ESRNN:
        """A fitted model from :meth:`get_config`, :meth:`get_state`, the networks and the series."""
        cfg = dict(config)
        fitted = cfg.pop("fitted")
        renamed_args = ESRNN.__init__.renamed  # files written before the renaming
        for old, new in renamed_args.items():
            if old in cfg:
                cfg[new] = cfg.pop(old)
        model = cls(**cfg)
        model.lookback_, model.epochs_, model.batch_size_ = (
            int(fitted.get("lookback", fitted.get("input_size"))),
            int(fitted["epochs"]),
            int(fitted["batch_size"]),
        )
        model.scale_ = np.asarray(state["scale"], dtype=np.float64)
        model.seasonal_ = np.asarray(state["seasonal"]) != 0
        model.es_ = [
            {
                name: np.asarray(state[f"{j}.{name}"], dtype=np.float64)
                for name in ("raw_alpha", "raw_gamma", "s0")
            }
            for j in range(len(networks))
        ]
        model.networks_, model.losses_ = list(networks), []
        model.series_, model.n_series_ = list(series), len(series)
        if len(model.scale_) != model.n_series_:
            raise KeyError(f"esrnn: {len(model.scale_)} scales for {model.n_series_} series")
        return model
