"""Forecasting with an ensemble of small LSTMs: fit, predict, backtest, save, load.

Pipeline
--------
For each series (a global model is trained on all of them):

1. ``transform="log"`` (``"auto"``: when every training value is positive)
   turns multiplicative seasonality and growth into additive ones.
2. ``normalize="window"`` subtracts from every window its own level, the mean
   of its ``input_size`` past values, from inputs and targets alike: the
   network learns the *shape* of the next ``horizon`` steps relative to the
   recent level, which carries over to levels never seen in training (trend).
3. The ``scaler`` is fitted on the values of the training windows only, one
   scaler per series.
4. ``strategy="mimo"``: one network output per horizon step (multi-input
   multi-output); ``"recursive"``: a one-step model fed its own forecasts.
   Forecasts past the model's reach are chained block by block.
5. ``n_models`` networks with different seeds are trained and their outputs
   averaged (in the normalised space).

Known-future covariates ``X`` (calendar, prices) enter as extra input
features; the network's sequence is then ``input_size + k`` steps long
(``k = horizon`` for ``mimo``, 1 for ``recursive``)
(see :meth:`fastlstm.windows.Windows.inputs`), and :meth:`Forecaster.predict`
needs their future values.
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np

from . import io as _io
from ._validation import check_bool, check_dtype, check_float, check_int
from .losses import get_loss
from .nn import LSTMRegressor, derive_seeds
from .optim import AdamW
from .scalers import Scaler, StandardScaler, get_scaler, scaler_from_config
from .schedules import CosineAnnealingLR
from .training import History, Trainer
from .windows import as_series, make_windows

__all__ = ["Backtest", "Forecaster"]

logger = logging.getLogger(__name__)

_KIND = "forecaster"


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


class Forecaster:
    """Multi-step forecaster: windows, scaling, an LSTM ensemble, inverse transforms.

    Parameters
    ----------
    input_size : int
        Past steps the network reads (lookback).
    horizon : int
        Steps forecast in one block (``mimo``) and the default of ``predict``.
    hidden_size : int
        LSTM hidden units.
    num_layers : int
        Stacked LSTM layers.
    strategy : {"mimo", "recursive"}
        Direct multi-output network, or a one-step network applied recursively.
    scaler : {"standard", "minmax", "robust"} or None
        Per-series scaling fitted on training windows only.
    transform : {"auto", "log", None}
        Log-transform the series (``"auto"``: if all training values are > 0).
    normalize : {"window", None}
        Subtract each window's mean level (see the module docstring).
    epochs : int
        Training epochs per network.
    lr : float
        Peak learning rate of AdamW (annealed to 1% of it by a cosine schedule).
    batch_size : int
        Windows per step.
    weight_decay : float
        AdamW's decoupled weight decay.
    clip_norm : float or None
        Global gradient-norm clipping.
    n_models : int
        Ensemble size (networks with different seeds, outputs averaged).
    loss : {"mse", "mae", "huber"}
        Training loss in the normalised space.
    dropout : float
        Dropout between LSTM layers.
    patience : int or None
        Early stopping on the validation windows (needs ``val_size`` in :meth:`fit`).
    dtype : float32 or float64
        Network precision.
    seed : int or None
        Seeds initialisation and batch order: the same seed and data give the
        same forecasts, bit for bit.
    progress : bool
        tqdm progress bars while training (``pip install fastlstm[progress]``).
    comm : mpi4py.MPI.Intracomm, optional
        Data-parallel training over MPI (see :class:`~fastlstm.training.Trainer`);
        :meth:`save` then writes on rank 0 only. Not part of :meth:`get_params`
        or of a saved checkpoint.

    Examples
    --------
    >>> from fastlstm.datasets import load_airpassengers
    >>> y = load_airpassengers()
    >>> f = Forecaster(input_size=24, horizon=12, epochs=20, n_models=1).fit(y[:-12])
    >>> f.predict().shape
    (12,)
    """

    def __init__(
        self,
        input_size: int,
        horizon: int,
        hidden_size: int = 32,
        num_layers: int = 1,
        strategy: str = "mimo",
        scaler: str | None = "standard",
        transform: str | None = "auto",
        normalize: str | None = "window",
        epochs: int = 150,
        lr: float = 1e-2,
        batch_size: int = 16,
        weight_decay: float = 0.0,
        clip_norm: float | None = 1.0,
        n_models: int = 3,
        loss: str = "mse",
        dropout: float = 0.0,
        patience: int | None = None,
        dtype=np.float32,
        seed: int | None = 0,
        progress: bool = False,
        comm=None,
    ) -> None:
        self.input_size = check_int(input_size, "input_size", minimum=1)
        self.horizon = check_int(horizon, "horizon", minimum=1)
        self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        self.num_layers = check_int(num_layers, "num_layers", minimum=1)
        if strategy not in ("mimo", "recursive"):
            raise ValueError(f"strategy: expected 'mimo' or 'recursive', got {strategy!r}")
        self.strategy = strategy
        if scaler is not None and not isinstance(scaler, str):
            raise TypeError(f"scaler: expected a name or None, got {type(scaler).__name__}")
        get_scaler(scaler)  # validates the name
        self.scaler = scaler
        if transform not in ("auto", "log", None):
            raise ValueError(f"transform: expected 'auto', 'log' or None, got {transform!r}")
        self.transform = transform
        if normalize not in ("window", None):
            raise ValueError(f"normalize: expected 'window' or None, got {normalize!r}")
        self.normalize = normalize
        self.epochs = check_int(epochs, "epochs", minimum=1)
        self.lr = check_float(lr, "lr", minimum=0.0, min_inclusive=False)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.weight_decay = check_float(weight_decay, "weight_decay", minimum=0.0)
        self.clip_norm = (
            None
            if clip_norm is None
            else check_float(clip_norm, "clip_norm", minimum=0.0, min_inclusive=False)
        )
        self.n_models = check_int(n_models, "n_models", minimum=1)
        get_loss(loss)
        self.loss = loss
        self.dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0, max_inclusive=False)
        self.patience = None if patience is None else check_int(patience, "patience", minimum=0)
        self.dtype = check_dtype(dtype)
        self.seed = None if seed is None else check_int(seed, "seed", minimum=0)
        self.progress = check_bool(progress, "progress")
        self.comm = comm
        self.models_: list[LSTMRegressor] = []
        self.histories_: list[History] = []

    # ------------------------------------------------------------------ config
    def get_params(self) -> dict:
        """Constructor arguments (JSON-able)."""
        return {
            "input_size": self.input_size,
            "horizon": self.horizon,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "strategy": self.strategy,
            "scaler": self.scaler,
            "transform": self.transform,
            "normalize": self.normalize,
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "weight_decay": self.weight_decay,
            "clip_norm": self.clip_norm,
            "n_models": self.n_models,
            "loss": self.loss,
            "dropout": self.dropout,
            "patience": self.patience,
            "dtype": self.dtype.name,
            "seed": self.seed,
            "progress": self.progress,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"Forecaster({args})"

    @property
    def fitted(self) -> bool:
        return bool(self.models_)

    @property
    def _out_steps(self) -> int:
        return self.horizon if self.strategy == "mimo" else 1

    # ------------------------------------------------------------- data shapes
    @staticmethod
    def _split_series(y, name: str) -> tuple[list[np.ndarray], str]:
        """A list of 1-D float64 series and the input form ('1d', '2d', 'list')."""
        if isinstance(y, (list, tuple)) and len(y) > 0 and not np.isscalar(y[0]) and np.ndim(y[0]) >= 1:
            out = []
            for i, s in enumerate(y):
                arr = as_series(s, f"{name}[{i}]").astype(np.float64)
                if arr.ndim != 1:
                    raise ValueError(f"{name}[{i}]: expected a 1-D series, got shape {arr.shape}")
                out.append(arr)
            return out, "list"
        arr = as_series(y, name).astype(np.float64, copy=False)
        if arr.ndim == 1:
            return [arr], "1d"
        return [np.ascontiguousarray(arr[:, j]) for j in range(arr.shape[1])], "2d"

    def _split_covariates(self, X, lengths: list[int], name: str) -> list[np.ndarray] | None:
        """One (n_i, F) float64 array per series, or None."""
        if X is None:
            return None
        if isinstance(X, (list, tuple)):
            if len(X) != len(lengths):
                raise ValueError(
                    f"{name}: expected one covariate array per series ({len(lengths)}), got {len(X)}"
                )
            parts = [as_series(x, f"{name}[{i}]").astype(np.float64) for i, x in enumerate(X)]
        else:
            if len(lengths) != 1:
                raise ValueError(f"{name}: with {len(lengths)} series, expected a list of covariate arrays")
            parts = [as_series(X, name).astype(np.float64)]
        out = []
        for i, (p, n) in enumerate(zip(parts, lengths, strict=True)):
            p = p.reshape(p.shape[0], -1)
            if p.shape[0] != n:
                raise ValueError(f"{name}: series {i} expected {n} rows, got {p.shape[0]}")
            out.append(p)
        return out

    def _pack(self, series: list[np.ndarray]):
        """Series back into the form given to fit."""
        if self.form_ == "1d":
            return series[0]
        if self.form_ == "2d":
            return np.stack(series, axis=1)
        return series

    # --------------------------------------------------------------- transforms
    def _forward_transform(self, s: np.ndarray) -> np.ndarray:
        if self.log_:
            if np.any(s <= 0):
                raise ValueError(
                    "y: expected positive values (the model was fitted on the log scale), got <= 0"
                )
            return np.log(s)
        return s

    def _inverse_transform(self, z: np.ndarray) -> np.ndarray:
        return np.exp(z) if self.log_ else z

    def _levels(self, past: np.ndarray) -> np.ndarray:
        """Per-window level, shape (N, 1): the mean of the past values (or 0)."""
        if self.normalize == "window":
            return past.mean(axis=1, keepdims=True)
        return np.zeros((past.shape[0], 1))

    def _inputs(self, past_z: np.ndarray, scaler: Scaler | None, fut_cov: np.ndarray | None) -> np.ndarray:
        """Network input from past (transformed) values (N, L) and covariates (N, L+k, F)."""
        lev = self._levels(past_z)
        v = past_z - lev
        if scaler is not None:
            v = (v - scaler.center_) / scaler.scale_
        n, L = v.shape
        if fut_cov is None:
            return v[:, :, None].astype(self.dtype)
        T, F = fut_cov.shape[1], fut_cov.shape[2]
        out = np.zeros((n, T, 1 + F), dtype=self.dtype)
        out[:, :L, 0] = v
        out[:, :, 1:] = (fut_cov - self.cov_scaler_.center_) / self.cov_scaler_.scale_
        return out

    def _outputs(self, out: np.ndarray, past_z: np.ndarray, scaler: Scaler | None) -> np.ndarray:
        """Network outputs (N, k) back to the transformed scale."""
        v = out.astype(np.float64)
        if scaler is not None:
            v = v * scaler.scale_ + scaler.center_
        return v + self._levels(past_z)

    def _check_network_data(self, xin: np.ndarray, yt: np.ndarray, i: int, s: np.ndarray) -> None:
        """Overflowed (non-finite) network data is an error; large unscaled data a warning."""
        if not (np.isfinite(xin).all() and np.isfinite(yt).all()):
            raise ValueError(
                f"y: series {i} has values too large for {self.dtype.name} once windowed and scaled "
                f"(largest |y| = {np.max(np.abs(s)):.3g}); divide the series by a constant first"
            )
        big = max(float(np.max(np.abs(xin[:, :, 0]))), float(np.max(np.abs(yt))))
        if self.scaler is None and big > 1e3:
            warnings.warn(
                f"Forecaster: with scaler=None the network sees values up to {big:.3g} (series {i}); "
                "its gates saturate and it trains poorly at that scale: use scaler='standard'",
                UserWarning,
                stacklevel=3,
            )

    # ---------------------------------------------------------------------- fit
    def fit(self, y, X=None, val_size: int | None = None) -> Forecaster:
        """Train the ensemble on one or several series.

        Parameters
        ----------
        y : array_like, shape (T,) or (T, k), list of 1-D arrays, or pandas Series/DataFrame
            The series (time on axis 0). Several series train one global model.
        X : array_like, shape (T, F), or list of them, optional
            Known-future covariates aligned with ``y`` (one array per series).
        val_size : int, optional
            Hold out the windows whose targets reach into the last ``val_size``
            steps of each series as validation data: the best epoch's weights are
            kept, and ``patience`` enables early stopping.

        Returns
        -------
        self
        """
        series, form = self._split_series(y, "y")
        L, k = self.input_size, self._out_steps
        lengths = [len(s) for s in series]
        covs = self._split_covariates(X, lengths, "X")
        val = 0 if val_size is None else check_int(val_size, "val_size", minimum=0)
        need = L + k + val
        for i, n in enumerate(lengths):
            if n < need:
                raise ValueError(
                    f"y: series {i} expected at least input_size + {'horizon' if k > 1 else '1'}"
                    f"{' + val_size' if val else ''} = {need} points, got {n}"
                )
        if self.transform == "log":
            self.log_ = True
            for i, s in enumerate(series):
                if np.any(s <= 0):
                    raise ValueError(
                        f"y: transform='log' expected positive values, series {i} has values <= 0"
                    )
        else:
            self.log_ = self.transform == "auto" and all(np.all(s > 0) for s in series)
        self.form_ = form
        self.n_series_ = len(series)
        self.n_covariates_ = 0 if covs is None else covs[0].shape[1]
        if covs is not None and any(c.shape[1] != self.n_covariates_ for c in covs):
            raise ValueError("X: expected the same number of covariates for every series")

        # covariate scaling: training rows only
        self.cov_scaler_ = None
        if covs is not None:
            rows = np.concatenate([c[: n - val] for c, n in zip(covs, lengths, strict=True)])
            self.cov_scaler_ = StandardScaler().fit(rows)

        xs_tr, ys_tr, xs_va, ys_va = [], [], [], []
        self.scalers_ = []
        for i, s in enumerate(series):
            z = self._forward_transform(s)
            w = make_windows(z, L, k, future_covariates=None if covs is None else covs[i], targets=True)
            past, fut = w.past[:, :, 0], w.future[:, :, 0]
            # a window is for training when its last target index is before len - val
            last_target = w.origins + k - 1
            is_tr = last_target < len(z) - val
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
                lev = self._levels(past)
                scaler = get_scaler(self.scaler)
                if scaler is not None:
                    try:
                        scaler.fit(np.concatenate([(past - lev)[is_tr].ravel(), (fut - lev)[is_tr].ravel()]))
                    except ValueError as exc:
                        raise ValueError(f"y: series {i} cannot be scaled ({exc})") from exc
                self.scalers_.append(scaler)
                fc = w.future_covariates
                xin = self._inputs(past, scaler, fc)
                yt = fut - lev
                if scaler is not None:
                    yt = (yt - scaler.center_) / scaler.scale_
                yt = yt.astype(self.dtype)
            self._check_network_data(xin, yt, i, s)
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

        self.series_ = [s.copy() for s in series]
        self.covariates_ = None if covs is None else [c.copy() for c in covs]
        seeds = derive_seeds(self.seed, 2 * self.n_models)
        self.models_, self.histories_ = [], []
        t0 = time.perf_counter()
        for j in range(self.n_models):
            model = LSTMRegressor(
                x_tr.shape[2],
                k,
                hidden_size=self.hidden_size,
                num_layers=self.num_layers,
                dropout=self.dropout,
                head="last",
                batch_first=True,
                dtype=self.dtype,
                seed=seeds[2 * j],
            )
            opt = AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            sched = CosineAnnealingLR(opt, T_max=self.epochs, eta_min=self.lr * 0.01)
            trainer = Trainer(
                model,
                self.loss,
                opt,
                sched,
                epochs=self.epochs,
                batch_size=self.batch_size,
                clip_norm=self.clip_norm,
                seed=seeds[2 * j + 1],
                patience=self.patience if validation is not None else None,
                progress=self.progress,
                comm=self.comm,
            )
            self.histories_.append(trainer.fit(x_tr, y_tr, validation_data=validation))
            model.eval()
            self.models_.append(model)
        self.fit_time_ = time.perf_counter() - t0
        logger.info("trained %d model(s) on %d windows in %.2f s", self.n_models, len(x_tr), self.fit_time_)
        return self

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError("Forecaster: call fit (or load) before predict/backtest")

    def _net(self, xin: np.ndarray) -> np.ndarray:
        """Ensemble mean of the network outputs, (N, k)."""
        outs = [m.forward(xin).astype(np.float64) for m in self.models_]
        return np.mean(outs, axis=0) if len(outs) > 1 else outs[0]

    def _block(self, past_z: np.ndarray, scaler, fut_cov) -> np.ndarray:
        """One network application: (N, L) transformed past -> (N, k) transformed forecast."""
        return self._outputs(self._net(self._inputs(past_z, scaler, fut_cov)), past_z, scaler)

    def _forecast_one(self, z: np.ndarray, h: int, scaler, cov: np.ndarray | None) -> np.ndarray:
        """Chain blocks from the end of the transformed history ``z``.

        ``cov`` holds covariate rows for the history and at least ``h`` future steps.
        """
        L, k = self.input_size, self._out_steps
        n = len(z)
        if cov is not None:
            need = n + -(-h // k) * k  # rows up to the end of the last block
            if cov.shape[0] < need:
                cov = np.concatenate([cov, np.repeat(cov[-1:], need - cov.shape[0], axis=0)])
        hist = np.concatenate([z[-L:], np.empty(-(-h // k) * k)])
        done = 0
        while done < h:
            past = hist[done : done + L][None, :]
            fc = None if cov is None else cov[n + done - L : n + done + k][None]
            hist[L + done : L + done + k] = self._block(past, scaler, fc)[0]
            done += k
        return hist[L : L + h].copy()

    def predict(self, h: int | None = None, X_future=None, y=None, X=None):
        """Forecast ``h`` steps past the end of each series.

        Parameters
        ----------
        h : int, optional
            Steps to forecast (default ``horizon``). More than the network's reach
            chains blocks, each reading the previous blocks' forecasts.
        X_future : array_like, shape (h, F), or a list of them, optional
            Future covariate values (required when fitted with ``X``). If ``h`` is
            not a multiple of the block length, the last row is repeated to fill
            the last block's window.
        y : array_like, optional
            A new history to forecast from, in the form given to :meth:`fit`
            (default: the series seen by :meth:`fit`).
        X : array_like, optional
            Covariates of the new history ``y`` (required with ``y`` when fitted
            with ``X``).

        Returns
        -------
        numpy.ndarray or list of numpy.ndarray
            ``(h,)`` for one series, ``(h, k)`` for a 2-D input, a list for a list
            input, in the original units.
        """
        self._check_fitted()
        h = self.horizon if h is None else check_int(h, "h", minimum=1)
        if y is None:
            if X is not None:
                raise ValueError("X: expected None when y is None (the fitted history's covariates are used)")
            series, covs = self.series_, self.covariates_
        else:
            series, _ = self._split_series(y, "y")
            if len(series) != self.n_series_:
                raise ValueError(f"y: expected {self.n_series_} series (as in fit), got {len(series)}")
            covs = self._split_covariates(X, [len(s) for s in series], "X")
            if (covs is None) != (self.n_covariates_ == 0):
                raise ValueError(
                    f"X: expected {'covariates for the history y' if self.n_covariates_ else 'None'} "
                    f"(the model was fitted {'with' if self.n_covariates_ else 'without'} X)"
                )
        for i, s in enumerate(series):
            if len(s) < self.input_size:
                raise ValueError(
                    f"y: series {i} expected at least input_size={self.input_size} points, got {len(s)}"
                )
        futs = None
        if self.n_covariates_:
            if X_future is None:
                raise ValueError(
                    f"X_future: expected {h} future rows of the {self.n_covariates_} covariates, got None"
                )
            futs = self._split_covariates(X_future, [h] * len(series), "X_future")
            if futs[0].shape[1] != self.n_covariates_:
                raise ValueError(
                    f"X_future: expected {self.n_covariates_} covariates, got {futs[0].shape[1]}"
                )
        elif X_future is not None:
            raise ValueError("X_future: expected None (the model was fitted without X)")
        out = []
        for i, s in enumerate(series):
            z = self._forward_transform(s)
            cov = None if futs is None else np.concatenate([covs[i], futs[i]])
            with np.errstate(over="ignore", invalid="ignore"):
                f = self._inverse_transform(self._forecast_one(z, h, self.scalers_[i], cov))
            if not np.isfinite(f).all():
                raise ValueError(f"y: the forecast of series {i} overflows float64 (the series is too large)")
            out.append(f)
        return self._pack(out)

    # ----------------------------------------------------------------- backtest
    def backtest(self, y, n_windows: int = 5, step: int = 1, X=None, m: int = 1) -> Backtest:
        """Forecast one ``horizon`` block from each of several origins in one batched pass.

        The origins are ``len(y) - horizon - i * step`` for ``i < n_windows``.
        The fitted networks and scalers are reused (no refitting): origins inside
        the fitted range measure in-sample fit, origins after it measure
        out-of-sample accuracy.

        Parameters
        ----------
        y : array_like, shape (T,)
            One series.
        n_windows : int
            Number of origins.
        step : int
            Steps between consecutive origins.
        X : array_like, shape (T, F), optional
            Covariates aligned with ``y`` (required when fitted with ``X``).
        m : int
            Season length of the MASE scale.

        Returns
        -------
        Backtest
        """
        from . import metrics

        self._check_fitted()
        if self.n_series_ != 1:
            raise ValueError(f"y: backtest takes one series, but the model was fitted on {self.n_series_}")
        n_windows = check_int(n_windows, "n_windows", minimum=1)
        step = check_int(step, "step", minimum=1)
        arr = as_series(y, "y").astype(np.float64)
        if arr.ndim != 1:
            raise ValueError(f"y: expected a 1-D series, got shape {arr.shape}")
        L, H, k = self.input_size, self.horizon, self._out_steps
        T = len(arr)
        origins = T - H - step * np.arange(n_windows)[::-1]
        if origins[0] < L:
            raise ValueError(
                f"n_windows: {n_windows} windows with step {step} need "
                f"{L + H + step * (n_windows - 1)} points, "
                f"got {T}"
            )
        covs = self._split_covariates(X, [T], "X")
        if (covs is None) != (self.n_covariates_ == 0):
            raise ValueError(f"X: expected {'covariates' if self.n_covariates_ else 'None'} as in fit")
        z = self._forward_transform(arr)
        scaler = self.scalers_[0]
        past = np.stack([z[o - L : o] for o in origins])  # (n_windows, L)
        hist = np.concatenate([past, np.empty((n_windows, -(-H // k) * k))], axis=1)
        done = 0
        while done < H:  # recursive strategy: H // k batched blocks
            fc = None
            if covs is not None:
                cov = covs[0]
                fc = np.stack([cov[o + done - L : o + done + k] for o in origins])
            hist[:, L + done : L + done + k] = self._block(hist[:, done : done + L], scaler, fc)
            done += k
        forecasts = self._inverse_transform(hist[:, L : L + H])
        actuals = np.stack([arr[o : o + H] for o in origins])
        per = {name: np.empty(n_windows) for name in ("mae", "rmse", "mape", "smape", "mase")}
        for i, o in enumerate(origins):
            a, f = actuals[i], forecasts[i]
            per["mae"][i] = metrics.mae(a, f)
            per["rmse"][i] = metrics.rmse(a, f)
            per["mape"][i] = metrics.mape(a, f) if np.all(a != 0) else np.nan
            per["smape"][i] = metrics.smape(a, f)
            per["mase"][i] = metrics.mase(a, f, arr[:o], m=m) if o > m else np.nan
        return Backtest(origins, forecasts, actuals, per)

    # ---------------------------------------------------------------- save/load
    def save(self, path) -> str:
        """Write the fitted forecaster to one checkpoint file (see :mod:`fastlstm.io`).

        With ``comm``, only rank 0 writes; every rank returns once the file is complete.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        str
        """
        self._check_fitted()
        arrays: dict[str, np.ndarray] = {}
        for j, model in enumerate(self.models_):
            for name, value in model.state_dict().items():
                arrays[f"model{j}.{name}"] = value
        for i, s in enumerate(self.series_):
            arrays[f"series{i}"] = s
            if self.covariates_ is not None:
                arrays[f"covariates{i}"] = self.covariates_[i]
            if self.scalers_[i] is not None:
                for key, value in self.scalers_[i].get_state().items():
                    arrays[f"scaler{i}.{key}"] = value
        if self.cov_scaler_ is not None:
            for key, value in self.cov_scaler_.get_state().items():
                arrays[f"cov_scaler.{key}"] = value
        config = {
            "params": self.get_params(),
            "fitted": {
                "log": self.log_,
                "form": self.form_,
                "n_series": self.n_series_,
                "n_covariates": self.n_covariates_,
                "fit_time": self.fit_time_,
                "scalers": [None if sc is None else sc.get_config() for sc in self.scalers_],
                "model": self.models_[0].get_config(),
            },
        }
        from .distributed import on_root

        return on_root(self.comm, _io.save_checkpoint, path, _KIND, arrays, config)

    @classmethod
    def load(cls, path) -> Forecaster:
        """Read a forecaster written by :meth:`save`; it predicts exactly as before.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        Forecaster

        Raises
        ------
        ValueError
            Not a forecaster checkpoint, or a corrupt or inconsistent one.
        """
        ckpt = _io.load_checkpoint(path, kind=_KIND)
        a, cfg = ckpt.arrays, ckpt.config
        try:
            params, fitted = dict(cfg["params"]), cfg["fitted"]
            f = cls(**params)
            f.log_, f.form_ = bool(fitted["log"]), fitted["form"]
            f.n_series_, f.n_covariates_ = int(fitted["n_series"]), int(fitted["n_covariates"])
            f.fit_time_ = float(fitted["fit_time"])
            f.series_ = [a[f"series{i}"] for i in range(f.n_series_)]
            f.covariates_ = [a[f"covariates{i}"] for i in range(f.n_series_)] if f.n_covariates_ else None
            f.scalers_ = []
            for i, sc_cfg in enumerate(fitted["scalers"]):
                sc = None
                if sc_cfg is not None:
                    sc = scaler_from_config(sc_cfg).set_state(
                        {"center": a[f"scaler{i}.center"], "scale": a[f"scaler{i}.scale"]}
                    )
                f.scalers_.append(sc)
            f.cov_scaler_ = None
            if f.n_covariates_:
                f.cov_scaler_ = StandardScaler().set_state(
                    {"center": a["cov_scaler.center"], "scale": a["cov_scaler.scale"]}
                )
            f.models_, f.histories_ = [], []
            for j in range(f.n_models):
                model = LSTMRegressor.from_config(fitted["model"], seed=0)
                prefix = f"model{j}."
                model.load_state_dict({k[len(prefix) :]: v for k, v in a.items() if k.startswith(prefix)})
                model.eval()
                f.models_.append(model)
            if len(f.scalers_) != f.n_series_:
                raise KeyError(f"{len(f.scalers_)} scalers for {f.n_series_} series")
            used = ("series", "covariates", "scaler", "cov_scaler.") + tuple(
                f"model{j}." for j in range(f.n_models)
            )
            extra = sorted(k for k in a if not k.startswith(used))
            if extra:
                raise KeyError(f"unexpected arrays {extra[:5]}")
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"{path}: inconsistent forecaster checkpoint ({type(exc).__name__}: {exc})"
            ) from exc
        return f
