"""The network's part of the pipeline (steps 3 to 6): windows to network data and back, the
ensemble's training, and block chaining, the one loop that forecasts past the network's reach.

A window's past values (``input_size`` of them, on the network's scale ``z``) lose their level
(``normalize``: their mean, or the last value) and are scaled by the series' scaler; the
network's ``out_steps`` outputs (the horizon for ``mimo``, 1 for ``recursive``) are mapped back
the same way. Every function takes plain arrays that :meth:`Forecaster.fit` has validated.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from ..nn.layers import LSTMRegressor
from ..train.optim import AdamW
from ..train.schedules import CosineAnnealingLR
from ..train.trainer import Trainer
from .esrnn import ESRNN
from .prepare import training_sizes
from .scalers import Scaler, StandardScaler, get_scaler
from .windows import cut_windows

__all__ = ["chain_blocks", "from_outputs", "median_of", "to_inputs", "train_esrnn", "train_networks"]

logger = logging.getLogger(__name__)


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


def _check_network_data(xin, yt, i: int, s: np.ndarray, dtype: np.dtype, scaled: bool) -> None:
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
            stacklevel=5,  # Forecaster.fit -> _train -> training_data -> here
        )


def training_data(zs, covs, val: int, input_size: int, out_steps: int, params: dict, raw):
    """Network training (and validation) data from the z-scale series ``zs``.

    Each series gives every window of ``input_size`` past and ``out_steps`` future values; a
    window whose last target falls in the last ``val`` steps is for validation. The scaler
    (``params["scaler"]``, one per series) and the covariates' scaler see training windows only.

    Returns
    -------
    x_train, y_train : numpy.ndarray
    validation : tuple of numpy.ndarray, or None
    scalers : list of Scaler or None, one per series
    cov_scaler : StandardScaler or None
    """
    normalize, dtype = params["normalize"], np.dtype(params["dtype"])
    cov_scaler = None
    if covs is not None:
        rows = np.concatenate([c[: len(z) - val] for c, z in zip(covs, zs, strict=True)])
        cov_scaler = StandardScaler().fit(rows)
    xs_tr, ys_tr, xs_va, ys_va, scalers = [], [], [], [], []
    for i, z in enumerate(zs):
        w = cut_windows(z, input_size, out_steps, future_covariates=None if covs is None else covs[i])
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
            scalers.append(scaler)
            xin = to_inputs(past, scaler, w.future_covariates, cov_scaler, normalize, dtype)
            yt = fut - lev
            if scaler is not None:
                yt = (yt - scaler.center_) / scaler.scale_
            yt = yt.astype(dtype)
        _check_network_data(xin, yt, i, raw[i], dtype, params["scaler"] is not None)
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


def train_networks(x_tr, y_tr, validation, seeds, params: dict, bar=None, stage: str = "fit"):
    """Train ``params["n_models"]`` networks (network ``j`` seeded by ``seeds[2 j]``, its batch
    order by ``seeds[2 j + 1]``), each announced on the progress ``bar`` (a
    :class:`~fastlstm.train.callbacks.ProgressBar`, or None) as ``"{stage} network j/n"``.

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
    lr = params["lr"]
    models, histories = [], []
    for j in range(params["n_models"]):
        model = LSTMRegressor(
            x_tr.shape[2],
            y_tr.shape[1],
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
