"""Forecasting with an ensemble of small LSTMs: fit, predict, intervals, backtest, save, load.

Pipeline
--------
For each series (a global model is trained on all of them):

0. The season length ``m`` and the horizon come from the arguments or a
   pandas date index (:mod:`fastlstm.timeindex`).
1. ``transform="log"`` (``"auto"``: when every training value is positive)
   turns multiplicative seasonality and growth into additive ones.
2. ``deseasonalize="auto"``: when the seasonality test at lag ``m`` says so,
   a classical decomposition's seasonal indices are removed (and added back
   to the forecasts; :mod:`fastlstm.decompose`).
3. ``normalize="window"`` subtracts from every window its own level, the mean
   of its ``input_size`` past values, from inputs and targets alike: the
   network learns the *shape* of the next ``horizon`` steps relative to the
   recent level, which carries over to levels never seen in training (trend).
4. The ``scaler`` is fitted on the values of the training windows only, one
   scaler per series.
5. ``strategy="mimo"``: one network output per horizon step (multi-input
   multi-output); ``"recursive"``: a one-step model fed its own forecasts.
   Forecasts past the model's reach are chained block by block.
6. ``n_models`` networks with different seeds are trained; the forecast is
   the median of their outputs.
7. A back-test (the same training on each series less its last ``horizon``
   points, two horizons without a season) chooses per series between the network, seasonal naive, drift and
   equal mixes (``fallback``), and its errors calibrate conformal prediction
   intervals (``conformal``); then the networks are trained on all the data.

Known-future covariates ``X`` (calendar, prices) enter as extra input
features; the network's sequence is then ``input_size + k`` steps long
(``k = horizon`` for ``mimo``, 1 for ``recursive``)
(see :meth:`fastlstm.windows.Windows.inputs`), and :meth:`Forecaster.predict`
needs their future values.
"""

from __future__ import annotations

import inspect
import logging
import time
import warnings

import numpy as np
from scipy.special import ndtri

from .._validation import check_bool, check_dtype, check_float, check_int
from ..nn.layers import LSTMRegressor, derive_seeds
from ..nn.losses import get_loss
from ..train import io as _io
from ..train.optim import AdamW
from ..train.schedules import CosineAnnealingLR
from ..train.trainer import Trainer
from .decompose import classical_decompose, seasonality_test
from .scalers import Scaler, StandardScaler, get_scaler, scaler_from_config
from .timeindex import default_horizon, future_index, index_meta, season_of_freq
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


_PARAMS = (
    "input_size",
    "horizon",
    "hidden_size",
    "num_layers",
    "strategy",
    "scaler",
    "transform",
    "normalize",
    "season",
    "deseasonalize",
    "epochs",
    "lr",
    "batch_size",
    "weight_decay",
    "clip_norm",
    "n_models",
    "loss",
    "dropout",
    "patience",
    "fallback",
    "conformal",
    "dtype",
    "seed",
    "progress",
    "comm",
)

#: optimiser steps per network that ``epochs=None`` aims at
_TARGET_STEPS = 900
#: how the ensemble's outputs are combined: the median (of 5 networks) had both a lower
#: error and a lower spread over seeds than the mean (of 3) for the same training cost
_AGGREGATE = np.median
#: the back-test's stretch, in horizons, for seasonal and for non-seasonal series: two
#: horizons made the choices of the short yearly series less noisy (see docs/forecasting.md)
_BACKTEST_HORIZONS = {"seasonal": 1, "non-seasonal": 2}
#: training windows a series needs in the back-test to take part in it
_MIN_BACKTEST_WINDOWS = 8
#: the forecasts the back-test chooses from, as weights of (network, seasonal naive, drift)
_MIXES = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.0), (0.0, 1.0, 0.0), (0.5, 0.0, 0.5), (0.0, 0.0, 1.0))


class Forecaster:
    """Multi-step forecaster: windows, scaling, an LSTM ensemble, inverse transforms.

    Follows scikit-learn's estimator conventions: the constructor only stores
    its arguments (:meth:`get_params`, :meth:`set_params`,
    ``sklearn.base.clone``), and what :meth:`fit` learns ends in ``_``.

    Parameters
    ----------
    input_size : int, optional
        Past steps the network reads (lookback). Default: ``max(horizon, 2 * season)``,
        shortened for short series so that each series keeps at least 8
        training windows (``input_size_`` after fit).
    horizon : int, optional
        Steps forecast in one block (``mimo``) and the default of ``predict``.
        Default from the season: 18 monthly, 8 quarterly, 6 yearly (M4's
        horizons, see :mod:`fastlstm.timeindex`), ``horizon_`` after fit.
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
    normalize : {"window", "last", None}
        Subtract each window's level, its mean or its last value (see the
        module docstring).
    season : int or "auto"
        Season length ``m`` (12 monthly, 4 quarterly, 1: none). ``"auto"``:
        from the frequency of a pandas ``DatetimeIndex``/``PeriodIndex`` (or a
        panel's ``ds`` column), else 1. ``season_`` after fit.
    deseasonalize : {"auto", True, False}
        Remove a classical decomposition's seasonal indices (on the
        transformed scale) before the network and add them back to its
        forecasts. ``"auto"``: for each series where the 90% autocorrelation
        test at lag ``season`` finds seasonality (:mod:`fastlstm.decompose`).
    epochs : int, optional
        Training epochs per network. Default: about 900 optimiser steps per
        network (10 to 150 epochs), ``epochs_`` after fit.
    lr : float
        Peak learning rate of AdamW (annealed to 1% of it by a cosine schedule).
    batch_size : int, optional
        Windows per step. Default: 16, more for panels (``windows // 60``, at most 256).
    weight_decay : float
        AdamW's decoupled weight decay.
    clip_norm : float or None
        Global gradient-norm clipping.
    n_models : int
        Ensemble size (networks with different seeds; the forecast is the median of
        their outputs, their mean for two).
    loss : {"mae", "mse", "huber"}
        Training loss in the normalised space (``"mae"``, the loss of the
        MASE and sMAPE it is judged by, did better than ``"mse"`` on every
        frequency of the development set, see ``docs/forecasting.md``).
    dropout : float
        Dropout between LSTM layers.
    patience : int or None
        Early stopping on the validation windows (needs ``val_size`` in :meth:`fit`).
    fallback : bool
        Back-test before the final fit: train on each series less its last
        ``horizon`` points (two horizons when ``season_`` is 1) and forecast from
        every origin in that last stretch;
        then forecast each series by whichever of the network, seasonal naive,
        the drift forecast, or the equal mix of the network with either had
        the lowest mean absolute error in the back-test (``mix_``: the weights
        of network, seasonal naive and drift per series; ``fallback_``:
        seasonal naive alone). So no series does worse than seasonal naive on
        its back-test. Series with fewer than 8 back-test windows keep the
        network.
    conformal : bool
        Calibrate prediction intervals (:meth:`predict_interval`) on the
        back-test's errors (split conformal, see :meth:`predict_interval`).
        When a series is too short for a back-test, the final model's
        in-sample errors are used (``calibration_`` says which).
    dtype : float32 or float64
        Network precision.
    seed : int or None
        Seeds initialisation and batch order: the same seed and data give the
        same forecasts, bit for bit.
    progress : bool
        tqdm progress bars while training (``pip install fastlstm[progress]``).
    comm : mpi4py.MPI.Intracomm, optional
        Data-parallel training over MPI (see :class:`~fastlstm.training.Trainer`);
        :meth:`save` then writes on rank 0 only. Not saved in a checkpoint.

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
        input_size: int | None = None,
        horizon: int | None = None,
        hidden_size: int = 32,
        num_layers: int = 1,
        strategy: str = "mimo",
        scaler: str | None = "standard",
        transform: str | None = "auto",
        normalize: str | None = "window",
        season="auto",
        deseasonalize="auto",
        epochs: int | None = None,
        lr: float = 1e-2,
        batch_size: int | None = None,
        weight_decay: float = 0.0,
        clip_norm: float | None = 1.0,
        n_models: int = 5,
        loss: str = "mae",
        dropout: float = 0.0,
        patience: int | None = None,
        fallback: bool = True,
        conformal: bool = True,
        dtype=np.float32,
        seed: int | None = 0,
        progress: bool = False,
        comm=None,
    ) -> None:
        self.input_size = input_size
        self.horizon = horizon
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.strategy = strategy
        self.scaler = scaler
        self.transform = transform
        self.normalize = normalize
        self.season = season
        self.deseasonalize = deseasonalize
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.n_models = n_models
        self.loss = loss
        self.dropout = dropout
        self.patience = patience
        self.fallback = fallback
        self.conformal = conformal
        self.dtype = dtype
        self.seed = seed
        self.progress = progress
        self.comm = comm
        self._validate_params()

    def _validate_params(self) -> None:
        """Check every constructor argument (called by ``__init__``, ``set_params`` and ``fit``)."""
        if self.input_size is not None:
            check_int(self.input_size, "input_size", minimum=1)
        if self.horizon is not None:
            check_int(self.horizon, "horizon", minimum=1)
        check_int(self.hidden_size, "hidden_size", minimum=1)
        check_int(self.num_layers, "num_layers", minimum=1)
        if self.strategy not in ("mimo", "recursive"):
            raise ValueError(f"strategy: expected 'mimo' or 'recursive', got {self.strategy!r}")
        if self.scaler is not None and not isinstance(self.scaler, str):
            raise TypeError(f"scaler: expected a name or None, got {type(self.scaler).__name__}")
        get_scaler(self.scaler)  # validates the name
        if self.transform not in ("auto", "log", None):
            raise ValueError(f"transform: expected 'auto', 'log' or None, got {self.transform!r}")
        if self.normalize not in ("window", "last", None):
            raise ValueError(f"normalize: expected 'window', 'last' or None, got {self.normalize!r}")
        if not (isinstance(self.season, str) and self.season == "auto"):
            if isinstance(self.season, str):
                raise ValueError(f"season: expected 'auto' or an int >= 1, got {self.season!r}")
            check_int(self.season, "season", minimum=1)
        if self.deseasonalize not in ("auto", True, False):
            raise ValueError(f"deseasonalize: expected 'auto', True or False, got {self.deseasonalize!r}")
        if self.epochs is not None:
            check_int(self.epochs, "epochs", minimum=1)
        check_float(self.lr, "lr", minimum=0.0, min_inclusive=False)
        if self.batch_size is not None:
            check_int(self.batch_size, "batch_size", minimum=1)
        check_float(self.weight_decay, "weight_decay", minimum=0.0)
        if self.clip_norm is not None:
            check_float(self.clip_norm, "clip_norm", minimum=0.0, min_inclusive=False)
        check_int(self.n_models, "n_models", minimum=1)
        get_loss(self.loss)
        check_float(self.dropout, "dropout", minimum=0.0, maximum=1.0, max_inclusive=False)
        if self.patience is not None:
            check_int(self.patience, "patience", minimum=0)
        check_bool(self.fallback, "fallback")
        check_bool(self.conformal, "conformal")
        check_dtype(self.dtype)
        if self.seed is not None:
            check_int(self.seed, "seed", minimum=0)
        check_bool(self.progress, "progress")

    # ------------------------------------------------------------------ config
    def get_params(self, deep: bool = True) -> dict:
        """Constructor arguments, as given (scikit-learn's convention).

        Parameters
        ----------
        deep : bool
            Ignored (no nested estimators); for scikit-learn compatibility.

        Returns
        -------
        dict
        """
        return {name: getattr(self, name) for name in _PARAMS}

    def set_params(self, **params) -> Forecaster:
        """Set constructor arguments (validated); a fitted model keeps its fit until the next :meth:`fit`.

        Parameters
        ----------
        **params
            Any of :meth:`get_params`'s keys.

        Returns
        -------
        self
        """
        unknown = sorted(set(params) - set(_PARAMS))
        if unknown:
            raise ValueError(f"set_params: expected parameters of Forecaster {list(_PARAMS)}, got {unknown}")
        old = self.get_params()
        for k, v in params.items():
            setattr(self, k, v)
        try:
            self._validate_params()
        except (TypeError, ValueError):
            for k, v in old.items():
                setattr(self, k, v)
            raise
        return self

    def _config_params(self) -> dict:
        """JSON-able parameters for a checkpoint (``comm`` left out)."""
        params = self.get_params()
        params.pop("comm")
        params["dtype"] = np.dtype(self.dtype).name
        return params

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self)).parameters
        args = []
        for k, v in self.get_params().items():
            d = defaults[k].default
            same = v is d or (type(v) is type(d) and v == d)
            if k == "dtype":
                same = np.dtype(v) == np.dtype(d)
                v = np.dtype(v).name
            if not same:
                args.append(f"{k}={v!r}")
        return f"Forecaster({', '.join(args)})"

    def __sklearn_tags__(self):
        """scikit-learn's tags (imported only when scikit-learn asks)."""
        from sklearn.utils import RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type="regressor",
            target_tags=TargetTags(required=False),
            regressor_tags=RegressorTags(),
        )

    @property
    def fallback_(self) -> np.ndarray:
        """Per series: forecast by seasonal naive alone (bool array, after fit)."""
        return self.mix_[:, 1] == 1.0

    @property
    def fitted(self) -> bool:
        return bool(getattr(self, "models_", None))

    def __sklearn_is_fitted__(self) -> bool:
        """For ``sklearn.utils.validation.check_is_fitted``."""
        return self.fitted

    @property
    def _dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    @property
    def _out_steps(self) -> int:
        return self.horizon_ if self.strategy == "mimo" else 1

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

    def _ingest(self, y, name: str) -> tuple[list[np.ndarray], str, dict]:
        """Series, form and pandas metadata (index, ids, columns) of ``y``."""
        meta: dict = {}
        if type(y).__module__.startswith("pandas"):
            import pandas as pd

            if isinstance(y, pd.DataFrame) and {"unique_id", "ds", "y"} <= set(y.columns):
                return self._ingest_panel(y, name)
            idx = index_meta(y.index, name)
            if idx is not None:
                meta["index"] = idx
            if isinstance(y, pd.DataFrame):
                meta["columns"] = list(y.columns)
            series, form = self._split_series(y, name)
            if idx is not None:
                form = "series" if form == "1d" else "frame"
                if form == "series":
                    meta["name"] = y.name
            return series, form, meta
        series, form = self._split_series(y, name)
        return series, form, meta

    @staticmethod
    def _ingest_panel(df, name: str) -> tuple[list[np.ndarray], str, dict]:
        """A long DataFrame (unique_id, ds, y): one series per id, in order of first appearance."""
        import pandas as pd

        series, ids, idx_metas = [], [], []
        for uid, g in df.groupby("unique_id", sort=False):
            ds = g["ds"]
            vals = g["y"]
            where = f"{name}: unique_id {uid!r}"
            bad = ~np.isfinite(pd.to_numeric(vals, errors="coerce").to_numpy(dtype=np.float64))
            if bad.any():
                row = g.index[int(np.flatnonzero(bad)[0])]
                raise ValueError(
                    f"{where}, row {row}, column 'y': expected a finite number, got {vals[row]!r}"
                )
            if pd.api.types.is_datetime64_any_dtype(ds) or isinstance(ds.dtype, pd.PeriodDtype):
                index = (
                    pd.DatetimeIndex(ds) if pd.api.types.is_datetime64_any_dtype(ds) else pd.PeriodIndex(ds)
                )
                idx_metas.append(index_meta(index, where))
            else:
                d = ds.to_numpy()
                if not np.issubdtype(d.dtype, np.number):
                    raise ValueError(
                        f"{where}, column 'ds': expected datetimes, periods or integers, got dtype {ds.dtype}"
                    )
                steps = np.diff(d)
                if len(steps) and (np.any(steps <= 0) or np.any(steps != steps[0])):
                    j = int(np.flatnonzero((steps <= 0) | (steps != steps[0]))[0]) + 1
                    raise ValueError(
                        f"{where}, row {g.index[j]}, column 'ds': expected increasing, evenly spaced values, "
                        f"got {d[j - 1]!r} then {d[j]!r}"
                    )
                step = int(steps[0]) if len(steps) else 1
                idx_metas.append({"kind": "int", "freq": str(step), "last": str(int(d[-1]))})
            series.append(vals.to_numpy(dtype=np.float64))
            ids.append(uid)
        freqs = {m["freq"] for m in idx_metas}
        if len(freqs) > 1:
            raise ValueError(f"{name}: expected one frequency for every unique_id, got {sorted(freqs)}")
        return series, "panel", {"ids": ids, "index": idx_metas}

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

    def _future_index(self, i: int, h: int, metas=None):
        """The pandas index of series ``i``'s next ``h`` steps (after ``metas``, default the fitted
        history's), or None."""
        metas = self.index_ if metas is None else metas
        if metas is None:
            return None
        meta = metas[i] if isinstance(metas, list) else metas
        if meta["kind"] == "int":
            import pandas as pd

            step = int(meta["freq"])
            return pd.Index(int(meta["last"]) + step * np.arange(1, h + 1), name="ds")
        return future_index(meta, h)

    def _pack(self, series: list[np.ndarray], h: int, columns: list[str] | None = None, index=None):
        """Forecasts (each (h,) or (h, c)) back into the form given to fit (dates after ``index``)."""
        form = self.form_
        if form in ("1d", "2d", "list"):
            if form == "1d":
                return series[0]
            if form == "2d":
                return np.stack(series, axis=1)
            return series
        import pandas as pd

        if form == "series":
            idx = self._future_index(0, h, index)
            if columns is None:
                return pd.Series(series[0], index=idx, name=self.series_name_)
            return pd.DataFrame(series[0], index=idx, columns=columns)
        if form == "frame":
            idx = self._future_index(0, h, index)
            if columns is None:
                return pd.DataFrame(np.stack(series, axis=1), index=idx, columns=self.columns_)
            cols = pd.MultiIndex.from_product([self.columns_, columns])
            return pd.DataFrame(np.concatenate(series, axis=1), index=idx, columns=cols)
        frames = []
        for i, uid in enumerate(self.ids_):
            f = pd.DataFrame({"unique_id": [uid] * h, "ds": self._future_index(i, h, index)})
            vals = series[i] if columns is not None else series[i][:, None]
            for j, c in enumerate(columns or ["forecast"]):
                f[c] = vals[:, j]
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

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

    def _seasonal(self, i: int, t: np.ndarray) -> np.ndarray:
        """Seasonal index of series ``i`` at steps ``t`` (0 = its first point; zeros when not seasonal)."""
        ind = self.seasonal_[i]
        if ind is None:
            return np.zeros(np.shape(t))
        return ind[np.asarray(t) % len(ind)]

    def _to_z(self, i: int, s: np.ndarray) -> np.ndarray:
        """Series ``i`` on the network's scale: transformed, seasonal indices removed."""
        return self._forward_transform(s) - self._seasonal(i, np.arange(len(s)))

    def _levels(self, past: np.ndarray) -> np.ndarray:
        """Per-window level, shape (N, 1): the mean of the past values (or 0)."""
        if self.normalize == "window":
            return past.mean(axis=1, keepdims=True)
        if self.normalize == "last":
            return past[:, -1:].copy()
        return np.zeros((past.shape[0], 1))

    def _inputs(self, past_z, scaler: Scaler | None, fut_cov, cov_scaler=None) -> np.ndarray:
        """Network input from past (transformed) values (N, L) and covariates (N, L+k, F)."""
        if fut_cov is not None and cov_scaler is None:
            cov_scaler = self.cov_scaler_
        lev = self._levels(past_z)
        v = past_z - lev
        if scaler is not None:
            v = (v - scaler.center_) / scaler.scale_
        n, L = v.shape
        if fut_cov is None:
            return v[:, :, None].astype(self._dtype)
        T, F = fut_cov.shape[1], fut_cov.shape[2]
        out = np.zeros((n, T, 1 + F), dtype=self._dtype)
        out[:, :L, 0] = v
        out[:, :, 1:] = (fut_cov - cov_scaler.center_) / cov_scaler.scale_
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
                f"y: series {i} has values too large for {self._dtype.name} once windowed and scaled "
                f"(largest |y| = {np.max(np.abs(s)):.3g}); divide the series by a constant first"
            )
        big = max(float(np.max(np.abs(xin[:, :, 0]))), float(np.max(np.abs(yt))))
        if self.scaler is None and big > 1e3:
            warnings.warn(
                f"Forecaster: with scaler=None the network sees values up to {big:.3g} (series {i}); "
                "its gates saturate and it trains poorly at that scale: use scaler='standard'",
                UserWarning,
                stacklevel=4,
            )

    # ---------------------------------------------------------------------- fit
    def _resolve_sizes(self, lengths: list[int], meta: dict, val: int) -> None:
        """``season_``, ``horizon_``, ``input_size_`` from the arguments, the index and the lengths."""
        if self.season == "auto":
            m = 1
            idx = meta.get("index")
            if idx is not None:
                first = idx[0] if isinstance(idx, list) else idx
                if first["kind"] != "int":
                    m = season_of_freq(first["freq"])[0]
        else:
            m = int(self.season)
        self.season_ = m
        H = default_horizon(m) if self.horizon is None else int(self.horizon)
        self.horizon_ = H
        k = H if self.strategy == "mimo" else 1
        if self.input_size is not None:
            self.input_size_ = int(self.input_size)
            return
        shortest = min(lengths) - val
        L = max(H, 2 * m) if m > 1 else max(H, 4)
        # keep >= 8 training windows in the back-test (or in the fit when too short for one)
        room = shortest - H - k + 1 - 8
        if room < L:
            room = shortest - k + 1 - 8
        self.input_size_ = int(max(2, min(L, room)))

    def _train(self, zs, covs, lengths, val, seeds, raw):
        """Train ``n_models`` networks on the z-scale series ``zs``.

        Returns (models, histories, scalers, cov_scaler).
        """
        L, k = self.input_size_, self._out_steps
        cov_scaler = None
        if covs is not None:
            rows = np.concatenate([c[: n - val] for c, n in zip(covs, lengths, strict=True)])
            cov_scaler = StandardScaler().fit(rows)
        xs_tr, ys_tr, xs_va, ys_va, scalers = [], [], [], [], []
        for i, z in enumerate(zs):
            w = make_windows(z, L, k, future_covariates=None if covs is None else covs[i], targets=True)
            past, fut = w.past[:, :, 0], w.future[:, :, 0]
            # a window is for training when its last target index is before len - val
            is_tr = w.origins + k - 1 < len(z) - val
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
                lev = self._levels(past)
                scaler = get_scaler(self.scaler)
                if scaler is not None:
                    try:
                        scaler.fit(np.concatenate([(past - lev)[is_tr].ravel(), (fut - lev)[is_tr].ravel()]))
                    except ValueError as exc:
                        raise ValueError(f"y: series {i} cannot be scaled ({exc})") from exc
                scalers.append(scaler)
                xin = self._inputs(past, scaler, w.future_covariates, cov_scaler)
                yt = fut - lev
                if scaler is not None:
                    yt = (yt - scaler.center_) / scaler.scale_
                yt = yt.astype(self._dtype)
            self._check_network_data(xin, yt, i, raw[i])
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
        n_win = len(x_tr)
        batch = self.batch_size or int(min(256, max(16, n_win // 60)))
        epochs = self.epochs or int(min(150, max(10, round(_TARGET_STEPS / -(-n_win // batch)))))
        self.epochs_, self.batch_size_ = epochs, batch
        models, histories = [], []
        for j in range(self.n_models):
            model = LSTMRegressor(
                x_tr.shape[2],
                k,
                hidden_size=self.hidden_size,
                num_layers=self.num_layers,
                dropout=self.dropout,
                head="last",
                batch_first=True,
                dtype=self._dtype,
                seed=seeds[2 * j],
            )
            opt = AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            sched = CosineAnnealingLR(opt, T_max=epochs, eta_min=self.lr * 0.01)
            trainer = Trainer(
                model,
                self.loss,
                opt,
                sched,
                epochs=epochs,
                batch_size=batch,
                clip_norm=self.clip_norm,
                seed=seeds[2 * j + 1],
                patience=self.patience if validation is not None else None,
                progress=self.progress,
                comm=self.comm,
            )
            histories.append(trainer.fit(x_tr, y_tr, validation_data=validation))
            model.eval()
            models.append(model)
        logger.info(
            "trained %d model(s) on %d windows, %d epochs of batches of %d", len(models), n_win, epochs, batch
        )
        return models, histories, scalers, cov_scaler

    def fit(self, y, X=None, val_size: int | None = None) -> Forecaster:
        """Train the ensemble on one or several series.

        Parameters
        ----------
        y : array_like, pandas Series/DataFrame, or list of 1-D arrays
            One series ``(T,)``; several series (``(T, k)``, a list, a wide
            DataFrame) train one global model; a long DataFrame with columns
            ``unique_id``, ``ds``, ``y`` (as statsforecast and neuralforecast
            use) is a panel: one global model, forecasts per ``unique_id``. A
            ``DatetimeIndex``/``PeriodIndex`` (or datetime ``ds``) sets the season
            (``season="auto"``) and :meth:`predict` then returns pandas objects
            indexed by the future dates.
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
        self._validate_params()
        self.__dict__.pop("models_", None)  # a fit that fails leaves an unfitted forecaster
        series, form, meta = self._ingest(y, "y")
        lengths = [len(s) for s in series]
        covs = self._split_covariates(X, lengths, "X")
        val = 0 if val_size is None else check_int(val_size, "val_size", minimum=0)
        self._resolve_sizes(lengths, meta, val)
        L, k, H, m = self.input_size_, self._out_steps, self.horizon_, self.season_
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
        self.index_ = meta.get("index")
        self.ids_ = meta.get("ids")
        self.columns_ = meta.get("columns")
        self.series_name_ = meta.get("name")
        self.n_series_ = len(series)
        self.n_covariates_ = 0 if covs is None else covs[0].shape[1]
        if covs is not None and any(c.shape[1] != self.n_covariates_ for c in covs):
            raise ValueError("X: expected the same number of covariates for every series")

        # seasonal indices from the training part of each series
        self.seasonal_ = []
        for s, n in zip(series, lengths, strict=True):
            ind = None
            if m > 1 and self.deseasonalize is not False:
                z = self._forward_transform(s[: n - val]) if self.log_ else s[: n - val]
                if len(z) >= 2 * m and (self.deseasonalize is True or seasonality_test(z, m)):
                    ind = classical_decompose(z, m, "additive").indices
            self.seasonal_.append(ind)
        zs = [self._to_z(i, s) for i, s in enumerate(series)]
        self.series_ = [s.copy() for s in series]
        self.covariates_ = None if covs is None else [c.copy() for c in covs]
        seeds = derive_seeds(self.seed, 4 * self.n_models)

        t0 = time.perf_counter()
        # back-test: every series less its last H points, forecasts from each origin after that
        B = _BACKTEST_HORIZONS["seasonal" if m > 1 else "non-seasonal"] * H  # back-test stretch
        bt = [i for i, n in enumerate(lengths) if n - val - B >= L + k + _MIN_BACKTEST_WINDOWS - 1]
        self.mix_ = np.tile(np.array(_MIXES[0]), (len(series), 1))
        errors = None
        self.calibration_ = "none"
        if (self.fallback or self.conformal) and bt:
            zb = [zs[i][: lengths[i] - val - B] for i in bt]
            cb = None if covs is None else [covs[i][: lengths[i] - val - B] for i in bt]
            models, _, scalers, cov_scaler = self._train(
                zb, cb, [len(z) for z in zb], 0, seeds[2 * self.n_models :], [series[i] for i in bt]
            )
            errors = {}
            for j, i in enumerate(bt):
                n = lengths[i] - val
                origins = np.arange(n - B, n)
                fz = self._rolling(
                    zs[i][:n], origins, H, models, scalers[j], cov_scaler, None if covs is None else covs[i]
                )
                err, w = self._backtest_errors(i, series[i][:n], zs[i][:n], origins, fz, self.fallback)
                self.mix_[i] = w
                errors[i] = err
            self.calibration_ = "backtest"
        self.models_, self.histories_, self.scalers_, self.cov_scaler_ = self._train(
            zs, covs, lengths, val, seeds[: 2 * self.n_models], series
        )
        if self.conformal:
            missing = [i for i in range(len(series)) if errors is None or i not in errors]
            if missing:
                errors = {} if errors is None else errors
                for i in missing:  # in-sample errors of the final model
                    n = lengths[i] - val
                    origins = np.arange(max(L, n - H), n)
                    fz = self._rolling(
                        zs[i][:n],
                        origins,
                        H,
                        self.models_,
                        self.scalers_[i],
                        self.cov_scaler_,
                        None if covs is None else covs[i],
                    )
                    errors[i] = self._backtest_errors(i, series[i][:n], zs[i][:n], origins, fz, False)[0]
                self.calibration_ = "in-sample" if len(missing) == len(series) else "mixed"
            self._calibrate(errors, zs, H)
        self.fit_time_ = time.perf_counter() - t0
        logger.info(
            "fitted %d series in %.2f s (season %d, horizon %d, input_size %d, %d on seasonal naive)",
            len(series),
            self.fit_time_,
            m,
            H,
            L,
            int(self.fallback_.sum()),
        )
        return self

    # ------------------------------------------------------- back-test, calibration
    def _rolling(self, z, origins, H, models, scaler, cov_scaler, cov) -> np.ndarray:
        """Network forecasts (n_origins, H) on the z scale from each origin of ``z``."""
        L, k = self.input_size_, self._out_steps
        n_o = len(origins)
        past = np.stack([z[o - L : o] for o in origins])
        hist = np.concatenate([past, np.empty((n_o, -(-H // k) * k))], axis=1)
        if cov is not None:
            need = int(origins[-1]) + hist.shape[1] - L + k
            if cov.shape[0] < need:
                cov = np.concatenate([cov, np.repeat(cov[-1:], need - cov.shape[0], axis=0)])
        done = 0
        while done < H:
            fc = None
            if cov is not None:
                fc = np.stack([cov[o + done - L : o + done + k] for o in origins])
            xin = self._inputs(hist[:, done : done + L], scaler, fc, cov_scaler)
            out = _AGGREGATE([mdl.forward(xin).astype(np.float64) for mdl in models], axis=0)
            hist[:, L + done : L + done + k] = self._outputs(out, hist[:, done : done + L], scaler)
            done += k
        return hist[:, L : L + H]

    @staticmethod
    def _baselines(s: np.ndarray, origins: np.ndarray, h: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Seasonal naive and drift forecasts (n_origins, h) from each origin of ``s``."""
        j = np.arange(h)[None, :]
        o = origins[:, None]
        mm = m if int(origins.min()) >= m else 1
        sn = s[o - mm + (j % mm)]
        last = s[o - 1]
        slope = (last - s[0]) / np.maximum(o - 1, 1)
        return sn, last + (j + 1) * slope

    def _mix(self, w, net, sn, dr) -> np.ndarray:
        """``w[0] net + w[1] snaive + w[2] drift`` (terms with weight 0 left out: no NaN leaks)."""
        out = np.zeros(np.shape(sn))
        for wk, fk in zip(w, (net, sn, dr), strict=True):
            if wk:
                out = out + wk * fk
        return out

    def _backtest_errors(self, i, s, z, origins, fz, choose: bool):
        """Errors on the z scale of the chosen forecast, and the chosen mix.

        With ``choose``, the mix of :data:`_MIXES` (weights of the network,
        seasonal naive and drift) with the lowest mean absolute error over every
        origin and step (the network on ties); else the network alone.
        Returns ``(err, w)`` with ``err`` of shape (n_origins, H), NaN past the data.
        """
        n, H = len(s), fz.shape[1]
        t = origins[:, None] + np.arange(H)[None, :]
        ok = t < n
        tt = np.minimum(t, n - 1)
        actual = np.where(ok, s[tt], np.nan)
        with np.errstate(over="ignore", invalid="ignore"):
            net = self._inverse_transform(fz + self._seasonal(i, t))
        w_best = _MIXES[0]
        if choose:
            sn, dr = self._baselines(s, origins, H, self.season_)
            best = np.inf
            for w in _MIXES:
                with np.errstate(over="ignore", invalid="ignore"):
                    mae = np.nanmean(np.abs(actual - self._mix(w, net, sn, dr)))
                if mae < best or (not np.isfinite(best) and w[0] == 0):
                    best, w_best = mae, w
            if w_best != _MIXES[0]:
                mix = self._mix(w_best, net, sn, dr)
                if self.log_ and np.any(mix <= 0):  # drift can cross zero: keep the network
                    w_best = _MIXES[0]
                else:
                    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                        fz = self._forward_transform(mix) - self._seasonal(i, t)
        z_act = np.where(ok, z[tt], np.nan)
        return z_act - fz, np.array(w_best)

    def _calibrate(self, errors: dict, zs, H: int) -> None:
        """Split-conformal scores: |error| / (series scale * step scale), pooled and sorted."""
        sig = np.empty(len(zs))
        for i, z in enumerate(zs):
            d = np.abs(np.diff(z))
            sig[i] = float(np.mean(d)) if len(d) and np.mean(d) > 0 else 1.0
        self.noise_scale_ = sig
        per_step = [[] for _ in range(H)]
        for i, e in errors.items():
            a = np.abs(e) / sig[i]
            for j in range(H):
                col = a[:, j]
                per_step[j].extend(col[np.isfinite(col)].tolist())
        steps = np.array([j + 1 for j in range(H) if per_step[j]], dtype=np.float64)
        means = np.array([np.mean(per_step[j]) for j in range(H) if per_step[j]])
        counts = np.array([len(per_step[j]) for j in range(H) if per_step[j]], dtype=np.float64)
        means = np.maximum(means, 1e-12)
        if len(steps) >= 2:
            A = np.stack([np.ones_like(steps), np.log(steps)], axis=1) * np.sqrt(counts)[:, None]
            coef = np.linalg.lstsq(A, np.log(means) * np.sqrt(counts), rcond=None)[0]
            a, b = float(coef[0]), float(np.clip(coef[1], 0.0, 1.5))
            a = float(np.average(np.log(means) - b * np.log(steps), weights=counts))
        else:
            b = 0.5
            a = float(np.log(means[0])) if len(means) else 0.0
        self.step_scale_ = np.array([a, b])
        scores = []
        for j in range(H):
            if per_step[j]:
                scores.extend((np.asarray(per_step[j]) / np.exp(a + b * np.log(j + 1))).tolist())
        self.scores_ = np.sort(np.asarray(scores, dtype=np.float64))

    def _halfwidth(self, c: float, h: int) -> np.ndarray:
        """Half-width (h,) of the central ``c`` interval on the z scale, before the series scale."""
        u = self.scores_
        N = len(u)
        rank = int(np.ceil((N + 1) * c))
        gauss = float(ndtri(0.5 + c / 2) * np.sqrt(np.mean(u**2))) if N else 0.0
        q = float(u[rank - 1]) if 0 < rank <= N else max(float(u[-1]) if N else 0.0, gauss)
        a, b = self.step_scale_
        return q * np.exp(a + b * np.log(np.arange(1, h + 1)))

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
        L, k = self.input_size_, self._out_steps
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

    def _histories(self, h, X_future, y, X):
        """(series, covariates of history + future) for predict and the interval methods."""
        index = None
        if y is None:
            if X is not None:
                raise ValueError("X: expected None when y is None (the fitted history's covariates are used)")
            series, covs = self.series_, self.covariates_
        else:
            series, _, meta = self._ingest(y, "y")
            index = meta.get("index")
            if len(series) != self.n_series_:
                raise ValueError(f"y: expected {self.n_series_} series (as in fit), got {len(series)}")
            covs = self._split_covariates(X, [len(s) for s in series], "X")
            if (covs is None) != (self.n_covariates_ == 0):
                raise ValueError(
                    f"X: expected {'covariates for the history y' if self.n_covariates_ else 'None'} "
                    f"(the model was fitted {'with' if self.n_covariates_ else 'without'} X)"
                )
        for i, s in enumerate(series):
            if self.log_ and np.any(s <= 0):
                raise ValueError(
                    "y: expected positive values (the model was fitted on the log scale), got <= 0"
                    + (f" in series {i}" if len(series) > 1 else "")
                )
            if len(s) < self.input_size_:
                raise ValueError(
                    f"y: series {i} expected at least input_size={self.input_size_} points, got {len(s)}"
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
        cov = [None if futs is None else np.concatenate([covs[i], futs[i]]) for i in range(len(series))]
        return series, cov, index

    def _point_z(self, i: int, s: np.ndarray, h: int, cov) -> np.ndarray:
        """Point forecast of series ``i`` on the transformed scale (seasonal indices included)."""
        w = self.mix_[i]
        if w[0] == 1:
            z = self._to_z(i, s)
            return self._forecast_one(z, h, self.scalers_[i], cov) + self._seasonal(i, len(s) + np.arange(h))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            f = self._transform_back_safe(self._point(i, s, h, cov))
        return f

    def _transform_back_safe(self, f: np.ndarray) -> np.ndarray:
        if self.log_ and np.any(f <= 0):
            raise ValueError("y: a drift forecast crosses zero on the log scale (refit with transform=None)")
        return self._forward_transform(f)

    def _point(self, i: int, s: np.ndarray, h: int, cov) -> np.ndarray:
        """Point forecast of series ``i`` in the original units (the chosen mix of :data:`_MIXES`)."""
        w = self.mix_[i]
        net = None
        if w[0]:
            z = self._to_z(i, s)
            zf = self._forecast_one(z, h, self.scalers_[i], cov) + self._seasonal(i, len(s) + np.arange(h))
            with np.errstate(over="ignore", invalid="ignore"):
                net = self._inverse_transform(zf)
            if w[0] == 1:
                return net
        sn, dr = self._baselines(s, np.array([len(s)]), h, self.season_)
        return self._mix(w, net, sn[0], dr[0])

    def predict(self, h: int | None = None, X_future=None, y=None, X=None):
        """Forecast ``h`` steps past the end of each series.

        Parameters
        ----------
        h : int, optional
            Steps to forecast (default ``horizon_``). More than the network's reach
            chains blocks, each reading the previous blocks' forecasts.
        X_future : array_like, shape (h, F), or a list of them, optional
            Future covariate values (required when fitted with ``X``). If ``h`` is
            not a multiple of the block length, the last row is repeated to fill
            the last block's window.
        y : array_like, optional
            A new history to forecast from, in the form given to :meth:`fit`
            (default: the series seen by :meth:`fit`). It must start at the same
            season position as the fitted series (seasonal indices are aligned
            to the first point).
        X : array_like, optional
            Covariates of the new history ``y`` (required with ``y`` when fitted
            with ``X``).

        Returns
        -------
        numpy.ndarray, list, pandas.Series or pandas.DataFrame
            ``(h,)`` for one series, ``(h, k)`` for a 2-D input, a list for a list
            input, in the original units. Fitted on a dated pandas Series: a
            Series indexed by the future dates; on a dated wide DataFrame: a
            DataFrame; on a panel: a long DataFrame ``unique_id, ds, forecast``.
        """
        self._check_fitted()
        h = self.horizon_ if h is None else check_int(h, "h", minimum=1)
        series, cov, index = self._histories(h, X_future, y, X)
        out = []
        for i, s in enumerate(series):
            f = self._point(i, s, h, cov[i])
            if not np.isfinite(f).all():
                raise ValueError(f"y: the forecast of series {i} overflows float64 (the series is too large)")
            out.append(f)
        return self._pack(out, h, index=index)

    def _intervals(self, h, coverage, X_future, y, X) -> tuple[list[np.ndarray], dict | None]:
        """Per series (h, len(coverage), 2) bounds in the original units, and the history's dates."""
        self._check_fitted()
        if not self.conformal or not hasattr(self, "scores_"):
            raise RuntimeError("Forecaster: prediction intervals need conformal=True at fit")
        series, cov, index = self._histories(h, X_future, y, X)
        widths = [self._halfwidth(c, h) for c in coverage]
        out = []
        for i, s in enumerate(series):
            z = self._point_z(i, s, h, cov[i])
            b = np.empty((h, len(coverage), 2))
            with np.errstate(over="ignore", invalid="ignore"):
                for j, w in enumerate(widths):
                    half = w * self.noise_scale_[i]
                    b[:, j, 0] = self._inverse_transform(z - half)
                    b[:, j, 1] = self._inverse_transform(z + half)
            out.append(b)
        return out, index

    @staticmethod
    def _check_levels(values, name: str, low: float, high: float) -> tuple[float, ...]:
        vals = (values,) if np.isscalar(values) else tuple(values)
        if not vals:
            raise ValueError(f"{name}: expected at least one value, got none")
        for v in vals:
            if not isinstance(v, (int, float, np.floating)) or not low < float(v) < high:
                raise ValueError(f"{name}: expected values in ({low:g}, {high:g}), got {v!r}")
        return tuple(float(v) for v in vals)

    def predict_interval(self, h: int | None = None, coverage=(0.8, 0.95), X_future=None, y=None, X=None):
        """Central prediction intervals, calibrated by split conformal prediction.

        At fit time (``conformal=True``) the back-test's forecast errors on the
        transformed scale, ``e``, are divided by the series' mean absolute
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
        X_future, y, X
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
        cov = self._check_levels(coverage, "coverage", 0.0, 1.0)
        out, index = self._intervals(h, cov, X_future, y, X)
        if self.form_ in ("1d", "2d", "list"):
            if self.form_ == "1d":
                return out[0]
            if self.form_ == "2d":
                return np.stack(out, axis=1)
            return out
        cols = []
        for c in cov:
            tag = f"{100 * c:g}"
            cols += [f"lower_{tag}", f"upper_{tag}"]
        return self._pack([b.reshape(h, -1) for b in out], h, columns=cols, index=index)

    def predict_quantiles(self, h: int | None = None, quantiles=(0.1, 0.9), X_future=None, y=None, X=None):
        """Forecast quantiles: the bounds of the conformal central intervals.

        Quantile ``q < 0.5`` is the lower bound of the ``1 - 2q`` interval,
        ``q > 0.5`` the upper bound of the ``2q - 1`` interval, and ``0.5`` the
        point forecast (see :meth:`predict_interval`).

        Parameters
        ----------
        h : int, optional
        quantiles : float or sequence of float
            Each in (0, 1).
        X_future, y, X
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
        qs = self._check_levels(quantiles, "quantiles", 0.0, 1.0)
        covs = tuple(abs(2 * q - 1) for q in qs if q != 0.5)
        ivs, index = self._intervals(h, covs, X_future, y, X) if covs else (None, None)
        points = None
        if 0.5 in qs:
            series, cov, index = self._histories(h, X_future, y, X)
            points = [self._point(i, s, h, cov[i]) for i, s in enumerate(series)]
        out = []
        for i in range(self.n_series_):
            q = np.empty((h, len(qs)))
            j_iv = 0
            for j, p in enumerate(qs):
                if p == 0.5:
                    q[:, j] = points[i]
                else:
                    q[:, j] = ivs[i][:, j_iv, 0 if p < 0.5 else 1]
                    j_iv += 1
            out.append(q)
        if self.form_ in ("1d", "2d", "list"):
            if self.form_ == "1d":
                return out[0]
            if self.form_ == "2d":
                return np.stack(out, axis=1)
            return out
        return self._pack(out, h, columns=list(qs), index=index)

    # ----------------------------------------------------------------- backtest
    def backtest(self, y, n_windows: int = 5, step: int = 1, X=None, m: int = 1) -> Backtest:
        """Forecast one ``horizon`` block from each of several origins in one batched pass.

        The origins are ``len(y) - horizon - i * step`` for ``i < n_windows``.
        The fitted networks and scalers are reused (no refitting): origins inside
        the fitted range measure in-sample fit, origins after it measure
        out-of-sample accuracy. A series on the seasonal naive fallback is
        forecast by seasonal naive from each origin.

        Parameters
        ----------
        y : array_like, shape (T,)
            One series (starting at the same season position as the fitted one).
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
        arr = self._ingest(y, "y")[0]
        if len(arr) != 1:
            raise ValueError(f"y: expected a 1-D series, got shape {np.shape(y)}")
        arr = arr[0]
        L, H = self.input_size_, self.horizon_
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
        t = origins[:, None] + np.arange(H)[None, :]
        sn, dr = self._baselines(arr, origins, H, self.season_)
        w = self.mix_[0]
        net = None
        if w[0]:
            z = self._to_z(0, arr)
            fz = self._rolling(
                z,
                origins,
                H,
                self.models_,
                self.scalers_[0],
                self.cov_scaler_,
                None if covs is None else covs[0],
            )
            net = self._inverse_transform(fz + self._seasonal(0, t))
        forecasts = self._mix(w, net, sn, dr)
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
        for i, ind in enumerate(self.seasonal_):
            if ind is not None:
                arrays[f"seasonal{i}"] = ind
        arrays["mix"] = self.mix_
        if hasattr(self, "scores_"):
            arrays["calibration.scores"] = self.scores_
            arrays["calibration.step_scale"] = self.step_scale_
            arrays["calibration.noise_scale"] = self.noise_scale_
        config = {
            "params": self._config_params(),
            "fitted": {
                "log": self.log_,
                "form": self.form_,
                "n_series": self.n_series_,
                "n_covariates": self.n_covariates_,
                "fit_time": self.fit_time_,
                "season": self.season_,
                "horizon": self.horizon_,
                "input_size": self.input_size_,
                "epochs": self.epochs_,
                "batch_size": self.batch_size_,
                "calibration": self.calibration_,
                "index": self.index_,
                "ids": None if self.ids_ is None else [_json_id(u) for u in self.ids_],
                "columns": None if self.columns_ is None else [_json_id(c) for c in self.columns_],
                "series_name": _json_id(self.series_name_),
                "scalers": [None if sc is None else sc.get_config() for sc in self.scalers_],
                "model": self.models_[0].get_config(),
            },
        }
        from ..train.distributed import on_root

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
            params["dtype"] = {"float32": np.float32, "float64": np.float64}.get(
                params["dtype"], params["dtype"]
            )
            f = cls(**params)
            f.log_, f.form_ = bool(fitted["log"]), fitted["form"]
            f.season_, f.horizon_, f.input_size_ = (
                int(fitted["season"]),
                int(fitted["horizon"]),
                int(fitted["input_size"]),
            )
            f.epochs_, f.batch_size_ = int(fitted["epochs"]), int(fitted["batch_size"])
            f.calibration_ = fitted["calibration"]
            f.index_, f.ids_ = fitted["index"], fitted["ids"]
            f.columns_, f.series_name_ = fitted["columns"], fitted["series_name"]
            f.seasonal_ = [a.get(f"seasonal{i}") for i in range(int(fitted["n_series"]))]
            f.mix_ = np.asarray(a["mix"], dtype=np.float64).reshape(-1, 3)
            if "calibration.scores" in a:
                f.scores_ = a["calibration.scores"]
                f.step_scale_ = a["calibration.step_scale"]
                f.noise_scale_ = a["calibration.noise_scale"]
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
            if len(f.mix_) != f.n_series_:
                raise KeyError(f"{len(f.mix_)} forecast mixes for {f.n_series_} series")
            used = (
                "series",
                "covariates",
                "scaler",
                "cov_scaler.",
                "seasonal",
                "mix",
                "calibration.",
            ) + tuple(f"model{j}." for j in range(f.n_models))
            extra = sorted(k for k in a if not k.startswith(used))
            if extra:
                raise KeyError(f"unexpected arrays {extra[:5]}")
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"{path}: inconsistent forecaster checkpoint ({type(exc).__name__}: {exc})"
            ) from exc
        return f


def _json_id(u):
    """A name or panel id as a JSON value: NumPy scalars to Python ones, anything else but
    None, str, int and float to its string."""
    u = u.item() if isinstance(u, np.generic) else u
    return u if u is None or isinstance(u, (str, int, float)) else str(u)
