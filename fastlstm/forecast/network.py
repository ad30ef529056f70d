"""The network's part of the pipeline (steps 3 to 6): windows to network data and back, the
ensemble's training, and block chaining, the one loop that forecasts past the network's reach.

A window's past values (``input_size`` of them, on the network's scale ``z``) lose their level
(``normalize``: their mean, or the last value) and are scaled by the series' scaler; the
network's ``out_steps`` outputs (the horizon for ``mimo``, 1 for ``recursive``) are mapped back
the same way. Every function takes plain arrays that :meth:`Forecaster.fit` has validated.
"""

from __future__ import annotations

import hashlib
import logging
import warnings

import numpy as np

from ..nn.layers import LSTMRegressor
from ..train.optim import AdamW
from ..train.schedules import CosineAnnealingLR
from ..train.sources import EpochSource
from ..train.trainer import Trainer
from .esrnn import ESRNN
from .prepare import _MAX_BATCH, _TARGET_STEPS, training_sizes
from .scalers import Scaler, StandardScaler, get_scaler
from .windows import cut_windows

__all__ = [
    "WINDOW_BUDGET",
    "WindowSampler",
    "chain_blocks",
    "from_outputs",
    "median_of",
    "to_inputs",
    "train_esrnn",
    "train_networks",
]

logger = logging.getLogger(__name__)

#: training windows past which a panel's windows are sampled per epoch instead of all built:
#: the optimiser steps the default sizes aim at (``_TARGET_STEPS``, 900) times their largest
#: batch (256), i.e. what one default epoch covers. Below it every window is built (and the
#: defaults take one epoch or more over them); past it an epoch is a fresh sample of this many.
WINDOW_BUDGET = _TARGET_STEPS * _MAX_BATCH


def median_of(outs: list[np.ndarray]) -> np.ndarray:
    """The ensemble's forecast (back-test, calibration and ``predict`` alike): the median of
    its networks' outputs (docs/forecasting.md, "What chose the defaults", says why)."""
    return np.median(outs, axis=0)


def _levels(past: np.ndarray, normalize: str | None) -> np.ndarray:
    """Per-window level, shape (N, 1): the mean of the past values, the last one, or 0."""
    if normalize == "window":
        return past.mean(axis=1, keepdims=True)
    if normalize == "last":
        return past[:, -1:].copy()
    return np.zeros((past.shape[0], 1))


def to_inputs(
    past_z: np.ndarray, scaler: Scaler | None, fut_cov, cov_scaler, normalize: str | None, dtype
) -> np.ndarray:
    """Network input from past values (N, input_size) and covariates (N, input_size + k, F)."""
    lev = _levels(past_z, normalize)
    v = past_z - lev
    if scaler is not None:
        v = (v - scaler.center_) / scaler.scale_
    n, lookback = v.shape
    if fut_cov is None:
        return v[:, :, None].astype(dtype)
    steps, n_cov = fut_cov.shape[1], fut_cov.shape[2]
    out = np.zeros((n, steps, 1 + n_cov), dtype=dtype)
    out[:, :lookback, 0] = v
    out[:, :, 1:] = (fut_cov - cov_scaler.center_) / cov_scaler.scale_
    return out


def from_outputs(out: np.ndarray, past_z: np.ndarray, scaler: Scaler | None, normalize: str | None):
    """Network outputs (N, k) back to the network's scale ``z``."""
    v = out.astype(np.float64)
    if scaler is not None:
        v = v * scaler.scale_ + scaler.center_
    return v + _levels(past_z, normalize)


def _check_network_data(
    xin, yt, i: int, s: np.ndarray, dtype: np.dtype, scaled: bool, stacklevel: int
) -> None:
    """Overflowed (non-finite) network data is an error; large unscaled data a warning."""
    if not (np.isfinite(xin).all() and np.isfinite(yt).all()):
        raise ValueError(
            f"y: series {i} has values too large for {dtype.name} once windowed and scaled "
            f"(largest |y| = {np.max(np.abs(s)):.3g}); divide the series by a constant first"
        )
    big = max(float(np.max(np.abs(xin[:, :, 0]))), float(np.max(np.abs(yt))))
    if not scaled and big > 1e3:
        warnings.warn(
            f"Forecaster: with scaler=None the network sees values up to {big:.3g} (series {i}); "
            "its gates saturate and it trains poorly at that scale: use scaler='standard'",
            UserWarning,
            stacklevel=stacklevel,  # to Forecaster.fit
        )


def _targets(fut: np.ndarray, lev: np.ndarray, scaler, dtype) -> np.ndarray:
    """Network targets from future values (N, out_steps) and the windows' levels."""
    yt = fut - lev
    if scaler is not None:
        yt = (yt - scaler.center_) / scaler.scale_
    return yt.astype(dtype)


def _series_data(i, z, cov, val, input_size, out_steps, params, cov_scaler, raw_i, stacklevel=6):
    """Series ``i``'s windows as network data: ``(xin, yt, is_tr, scaler)``, checked."""
    normalize, dtype = params["normalize"], np.dtype(params["dtype"])
    w = cut_windows(z, input_size, out_steps, future_covariates=cov)
    past, fut = w.past[:, :, 0], w.future[:, :, 0]
    # a window is for training when its last target index is before len - val
    is_tr = w.origins + out_steps - 1 < len(z) - val
    if not is_tr.any():
        raise ValueError(f"val_size: leaves series {i} no training windows (got val_size={val})")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
        lev = _levels(past, normalize)
        scaler = get_scaler(params["scaler"])
        if scaler is not None:
            try:
                scaler.fit(np.concatenate([(past - lev)[is_tr].ravel(), (fut - lev)[is_tr].ravel()]))
            except ValueError as exc:
                raise ValueError(f"y: series {i} cannot be scaled ({exc})") from exc
        xin = to_inputs(past, scaler, w.future_covariates, cov_scaler, normalize, dtype)
        yt = _targets(fut, lev, scaler, dtype)
    # Forecaster.fit -> _train -> LSTMEnsemble.fit -> training_data [-> _sampled_data] -> here
    _check_network_data(xin, yt, i, raw_i, dtype, params["scaler"] is not None, stacklevel)
    return xin, yt, is_tr, scaler


def training_data(zs, covs, val: int, input_size: int, out_steps: int, params: dict, raw, budget=None):
    """Network training (and validation) data from the z-scale series ``zs``.

    Each series gives every window of ``input_size`` past and ``out_steps`` future values; a
    window whose last target falls in the last ``val`` steps is for validation. The scaler
    (``params["scaler"]``, one per series) and the covariates' scaler see training windows only.

    Up to ``budget`` training windows (default :data:`WINDOW_BUDGET`) they are all built, as
    arrays. Past it, none is kept: the training data is a :class:`WindowSampler` that builds a
    fresh sample of about ``budget`` windows, spread over every series, for each epoch, and the
    validation windows are at most ``budget // 4``, spread evenly over each series' validation
    windows (every one when they are fewer). The scalers are the same either way.

    Returns
    -------
    x_train, y_train : numpy.ndarray, or WindowSampler and None
    validation : tuple of numpy.ndarray, or None
    scalers : list of Scaler or None, one per series
    cov_scaler : StandardScaler or None
    """
    budget = WINDOW_BUDGET if budget is None else budget
    cov_scaler = None
    if covs is not None:
        rows = np.concatenate([c[: len(z) - val] for c, z in zip(covs, zs, strict=True)])
        cov_scaler = StandardScaler().fit(rows)
    n_train = sum(max(0, len(z) - val - input_size - out_steps + 1) for z in zs)
    if n_train > budget:
        return _sampled_data(zs, covs, val, input_size, out_steps, params, raw, cov_scaler, budget)
    xs_tr, ys_tr, xs_va, ys_va, scalers = [], [], [], [], []
    for i, z in enumerate(zs):
        cov = None if covs is None else covs[i]
        xin, yt, is_tr, scaler = _series_data(
            i, z, cov, val, input_size, out_steps, params, cov_scaler, raw[i]
        )
        scalers.append(scaler)
        xs_tr.append(xin[is_tr])
        ys_tr.append(yt[is_tr])
        xs_va.append(xin[~is_tr])
        ys_va.append(yt[~is_tr])
    x_tr, y_tr = np.concatenate(xs_tr), np.concatenate(ys_tr)
    validation = None
    if val:
        x_va, y_va = np.concatenate(xs_va), np.concatenate(ys_va)
        if len(x_va):
            validation = (x_va, y_va)
    if len(x_tr) == 0:
        raise ValueError(f"val_size: leaves no training windows (got val_size={val})")
    return x_tr, y_tr, validation, scalers, cov_scaler


def _sampled_data(zs, covs, val, input_size, out_steps, params, raw, cov_scaler, budget):
    """:func:`training_data` past its budget: the scalers from each series' own windows (built
    and checked one series at a time, then dropped), a :class:`WindowSampler`, and bounded
    validation windows."""
    scalers = []
    for i, z in enumerate(zs):
        cov = None if covs is None else covs[i]
        scalers.append(_series_data(i, z, cov, val, input_size, out_steps, params, cov_scaler, raw[i], 7)[3])
    sampler = WindowSampler(zs, covs, val, input_size, out_steps, params, scalers, cov_scaler, budget)
    validation = None
    n_windows = np.array([len(z) - input_size - out_steps + 1 for z in zs])
    n_val = n_windows - sampler.n_train
    if val and n_val.sum():
        quota = np.minimum(n_val, _quotas(n_val, budget // 4))
        series = np.repeat(np.arange(len(zs)), quota)
        k = np.arange(len(series)) - np.repeat(np.cumsum(quota) - quota, quota)
        # evenly spaced over the series' validation windows (all of them when quota == n_val)
        pos = sampler.n_train[series] + ((k + 0.5) * n_val[series] / quota[series]).astype(np.int64)
        validation = sampler.windows(series, pos)
    return sampler, None, validation, scalers, cov_scaler


def _quotas(counts: np.ndarray, total: int) -> np.ndarray:
    """About ``total`` split over series in proportion to ``counts`` (largest remainders), at
    least one for every series with a count."""
    counts = np.asarray(counts, dtype=np.int64)
    share = counts * (total / counts.sum())
    quota = np.floor(share).astype(np.int64)
    left = total - int(quota.sum())
    if left > 0:
        quota[np.argsort(-(share - quota), kind="stable")[:left]] += 1
    return np.where(counts > 0, np.maximum(quota, 1), 0)


#: windows a :class:`WindowSampler` builds at a time
_CHUNK = 4096


class _RowScalers:
    """Per-window scaler statistics, shape (N, 1), in the place of one series' scaler."""

    def __init__(self, center: np.ndarray, scale: np.ndarray) -> None:
        self.center_, self.scale_ = center, scale


class WindowSampler(EpochSource):
    """A panel's training windows, drawn afresh for each epoch (:func:`training_data` past its
    budget): the :class:`~fastlstm.train.Trainer` calls :meth:`epoch` with its batch-order
    generator at the start of every epoch.

    An epoch is about ``budget`` windows: each series gets a share in proportion to its number
    of training windows (at least one), and its share is spread over its windows by stratified
    sampling (its windows cut into that many equal runs, one window drawn at random in each),
    so that every series and every stretch of every series is seen each epoch, no window twice.
    The windows are built from the series' values as :func:`training_data` builds them, with
    the same scalers.
    """

    def __init__(self, zs, covs, val, input_size, out_steps, params, scalers, cov_scaler, budget) -> None:
        self.input_size, self.out_steps = input_size, out_steps
        self.normalize, self.dtype = params["normalize"], np.dtype(params["dtype"])
        lengths = np.array([len(z) for z in zs], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self.values = np.concatenate(zs)
        self.covariates = None if covs is None else np.concatenate(covs)
        self.cov_scaler = cov_scaler
        self.n_train = np.maximum(0, lengths - val - input_size - out_steps + 1)
        self.scaled = scalers[0] is not None
        self.center = np.array([s.center_ if self.scaled else 0.0 for s in scalers], dtype=np.float64)
        self.scale = np.array([s.scale_ if self.scaled else 1.0 for s in scalers], dtype=np.float64)
        quota = _quotas(self.n_train, budget)
        self._series = np.repeat(np.arange(len(zs)), quota)
        self._rank = np.arange(len(self._series)) - np.repeat(np.cumsum(quota) - quota, quota)
        self._quota = quota
        self.n_features = 1 if covs is None else 1 + self.covariates.shape[1]
        self._fingerprint: str | None = None

    def __len__(self) -> int:
        """Windows per epoch."""
        return len(self._series)

    @property
    def n_windows(self) -> int:
        """Training windows of the panel (an epoch draws ``len(self)`` of them)."""
        return int(self.n_train.sum())

    def positions(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One epoch's windows: ``(series, position)``, the position counted from the series'
        first training window."""
        s = self._series
        n, q = self.n_train[s], self._quota[s]
        pos = ((self._rank + rng.random(len(s))) * n / q).astype(np.int64)
        return s, np.minimum(pos, n - 1)  # (k + u) may round up to k + 1 in float64

    def windows(self, series: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Network data ``(x, y)`` of the windows starting ``pos`` steps into each ``series``
        (the rows :func:`training_data` builds for them)."""
        n = len(series)
        steps = self.input_size if self.covariates is None else self.input_size + self.out_steps
        x = np.empty((n, steps, self.n_features), dtype=self.dtype)
        y = np.empty((n, self.out_steps), dtype=self.dtype)
        # in chunks: the float64 intermediates stay small (and in cache) whatever the epoch's size
        for a in range(0, n, _CHUNK):
            x[a : a + _CHUNK], y[a : a + _CHUNK] = self._build(series[a : a + _CHUNK], pos[a : a + _CHUNK])
        return x, y

    def _build(self, series: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        span = self.input_size + self.out_steps
        idx = (self.starts[series] + pos)[:, None] + np.arange(span)
        w = self.values[idx]
        past, fut = w[:, : self.input_size], w[:, self.input_size :]
        scaler = None
        if self.scaled:
            scaler = _RowScalers(self.center[series, None], self.scale[series, None])
        fut_cov = None if self.covariates is None else self.covariates[idx]
        lev = _levels(past, self.normalize)
        xin = to_inputs(past, scaler, fut_cov, self.cov_scaler, self.normalize, self.dtype)
        return xin, _targets(fut, lev, scaler, self.dtype)

    def epoch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.windows(*self.positions(rng))

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(f"{self.input_size},{self.out_steps},{self.normalize},{self.dtype.str};".encode())
            arrays = [self.values, self.starts, self.n_train, self.center, self.scale, self._quota]
            if self.covariates is not None:
                arrays += [self.covariates, self.cov_scaler.center_, self.cov_scaler.scale_]
            for a in arrays:
                h.update(np.ascontiguousarray(a).view(np.uint8).reshape(-1))
            self._fingerprint = h.hexdigest()
        return self._fingerprint


def train_networks(x_tr, y_tr, validation, seeds, params: dict, bar=None, stage: str = "fit"):
    """Train ``params["n_models"]`` networks (network ``j`` seeded by ``seeds[2 j]``, its batch
    order by ``seeds[2 j + 1]``), each announced on the progress ``bar`` (a
    :class:`~fastlstm.train.callbacks.ProgressBar`, or None) as ``"{stage} network j/n"``.

    ``x_tr`` is an array of windows, or a :class:`WindowSampler` (``y_tr`` None) whose epochs
    are drawn with the batch order's generator; the sizes then follow from its windows per
    epoch.

    Returns
    -------
    models : list of LSTMRegressor
        In eval mode.
    histories : list of History
    epochs, batch_size : int
        The sizes used (:func:`~fastlstm.forecast.prepare.training_sizes`).
    """
    n_win = len(x_tr)
    epochs, batch = training_sizes(n_win, params["batch_size"], params["epochs"])
    sampled = isinstance(x_tr, WindowSampler)
    n_in, n_out = (x_tr.n_features, x_tr.out_steps) if sampled else (x_tr.shape[2], y_tr.shape[1])
    lr = params["lr"]
    models, histories = [], []
    for j in range(params["n_models"]):
        model = LSTMRegressor(
            n_in,
            n_out,
            hidden_size=params["hidden_size"],
            num_layers=params["num_layers"],
            dropout=params["dropout"],
            head="last",
            batch_first=True,
            dtype=np.dtype(params["dtype"]),
            seed=seeds[2 * j],
        )
        opt = AdamW(model.parameters(), lr=lr, weight_decay=params["weight_decay"])
        sched = CosineAnnealingLR(opt, T_max=epochs, eta_min=lr * 0.01)
        trainer = Trainer(
            model,
            params["loss"],
            opt,
            sched,
            epochs=epochs,
            batch_size=batch,
            clip_norm=params["clip_norm"],
            seed=seeds[2 * j + 1],
            patience=params["patience"] if validation is not None else None,
            comm=params["comm"],
            callbacks=() if bar is None else (bar,),
        )
        if bar is not None:
            bar.stage(f"{stage} network {j + 1}/{params['n_models']}", epochs)
        # training_data made these arrays (model dtype, shapes) and checked them finite: no second pass
        x_va, y_va = validation if validation is not None else (None, None)
        histories.append(trainer._fit_validated(x_tr, y_tr, x_va, y_va))
        model.eval()
        models.append(model)
    if sampled:
        logger.info(
            "trained %d model(s) on %d of %d windows drawn per epoch, %d epochs of batches of %d",
            len(models),
            n_win,
            x_tr.n_windows,
            epochs,
            batch,
        )
    else:
        logger.info(
            "trained %d model(s) on %d windows, %d epochs of batches of %d", len(models), n_win, epochs, batch
        )
    return models, histories, epochs, batch


def train_esrnn(logs, season: int, horizon: int, input_size: int, seed: int, params: dict) -> ESRNN:
    """The ES-RNN hybrid (:mod:`.esrnn`) trained on the transformed series ``logs`` with the
    Forecaster's parameters ``params`` (its ``deseasonalize`` decides per series whether a season
    is learned)."""
    return ESRNN(
        season_length=season,
        horizon=horizon,
        lookback=input_size,
        hidden_size=params["hidden_size"],
        num_layers=params["num_layers"],
        n_models=params["n_models"],
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        lr=params["lr"],
        clip_norm=params["clip_norm"],
        loss=params["loss"],
        deseasonalize=params["deseasonalize"],
        dtype=params["dtype"],
        seed=seed,
    ).fit(logs)


def chain_blocks(z, origins, horizon: int, input_size: int, out_steps: int, block, cov=None) -> np.ndarray:
    """Forecast ``horizon`` steps from each origin of ``z``, ``out_steps`` at a time.

    Each block reads the ``input_size`` values before it, the forecasts of the blocks before it
    included; this is how ``predict`` (one origin, the end of the history) and the back-tests
    (many origins) forecast past the network's reach.

    Parameters
    ----------
    z : numpy.ndarray, shape (n,)
        A series on the network's scale.
    origins : numpy.ndarray of int, shape (n_origins,)
        Index of each forecast's first step, increasing, each ``>= input_size``.
    horizon, input_size, out_steps : int
    block : callable
        ``block(past, fut_cov) -> (n_origins, out_steps)``: one network application to ``past``
        ``(n_origins, input_size)`` and the covariate rows ``(n_origins, input_size + out_steps,
        F)`` (or None).
    cov : numpy.ndarray, shape (n', F), optional
        Covariate rows from the series' first step; the last row is repeated as far as the
        last block needs.

    Returns
    -------
    numpy.ndarray, shape (n_origins, horizon)
    """
    n_blocks = -(-horizon // out_steps)
    past = np.stack([z[o - input_size : o] for o in origins])
    hist = np.concatenate([past, np.empty((len(origins), n_blocks * out_steps))], axis=1)
    if cov is not None:
        need = int(origins[-1]) + n_blocks * out_steps  # rows up to the end of the last block
        if cov.shape[0] < need:
            cov = np.concatenate([cov, np.repeat(cov[-1:], need - cov.shape[0], axis=0)])
    done = 0
    while done < horizon:
        fc = None
        if cov is not None:
            fc = np.stack([cov[o + done - input_size : o + done + out_steps] for o in origins])
        hist[:, input_size + done : input_size + done + out_steps] = block(
            hist[:, done : done + input_size], fc
        )
        done += out_steps
    return hist[:, input_size : input_size + horizon]


def ensemble_block(models, scaler, cov_scaler, normalize: str | None, dtype):
    """The ``block`` of :func:`chain_blocks` for an ensemble: inputs, every network, their
    :func:`median_of`, back to the z scale."""

    def block(past, fut_cov):
        xin = to_inputs(past, scaler, fut_cov, cov_scaler, normalize, dtype)
        out = median_of([m.forward(xin).astype(np.float64) for m in models])
        return from_outputs(out, past, scaler, normalize)

    return block
