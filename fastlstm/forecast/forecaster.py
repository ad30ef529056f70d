"""The :class:`Forecaster`, which orchestrates the rooms of :mod:`fastlstm.forecast`
(docs/architecture.md lists them; docs/forecasting.md describes the pipeline)."""

from __future__ import annotations

import logging
import time

import numpy as np

from .._estimator import Estimator
from .._params import renamed
from .._validation import check_int
from ..nn.layers import derive_seeds
from ..train import io as _io
from ..train.callbacks import ProgressBar
from . import backtest, checkpoint, frames, intervals
from .backtest import MIXES as _MIXES  # read at fit time and passed inward: a test swaps it
from .backtest import SHORT_MIX, Backtest
from .candidates import MEMBERS, NETWORK, NETWORKS, Prepared, forecasts, mix
from .intervals import PredictionIntervals
from .params import RENAMED, check_params
from .prepare import (
    check_lengths,
    choose_sizes,
    forward_transform,
    inverse_transform,
    seasonal_indices,
    use_log,
)

__all__ = ["Backtest", "Forecaster"]

logger = logging.getLogger(__name__)


class Forecaster(PredictionIntervals, Estimator):
    """Multi-step forecaster: an LSTM ensemble and statistical candidates, mixed per series.

    Follows scikit-learn's estimator conventions: the constructor only stores its arguments
    (:meth:`get_params`, :meth:`set_params`, ``sklearn.base.clone``), :meth:`fit` validates
    them, and what it learns ends in ``_``.

    Parameters
    ----------
    lookback : int, optional
        Past steps the network reads. Default: ``max(horizon, 2 * season_length)``, shortened
        so that the series of median length keeps at least 8 training windows (``lookback_``
        after fit); in a panel, series shorter than it are padded on the left with their first
        value. Formerly ``input_size``.
    horizon : int, optional
        Steps forecast in one block (``mimo``) and the default ``h`` of :meth:`predict`.
        Default from the season length: 18 monthly, 8 quarterly, 6 yearly (M4's horizons),
        ``horizon_`` after fit.
    hidden_size : int
        LSTM hidden units.
    num_layers : int
        Stacked LSTM layers.
    strategy : {"mimo", "recursive"}
        One network output per horizon step, or a one-step network fed its own forecasts.
    scaler : {"standard", "minmax", "robust"} or None
        Per-series scaling, fitted on training windows only.
    transform : {"auto", "log", None}
        Log-transform the series (``"auto"``: each series whose values are all positive, so
        one series with a value <= 0 keeps the others on the log scale; ``log_``, per series,
        after fit).
    normalize : {"window", "last", None}
        Subtract from each window its level (the mean, or the last value, of its past values),
        inputs and targets alike: the network learns shapes relative to the recent level.
    season_length : int or "auto"
        Season length (12 monthly, 4 quarterly, 1: none). ``"auto"``: from the frequency of a
        pandas ``DatetimeIndex``/``PeriodIndex`` (or a panel's ``ds`` column), else 1
        (``season_length_`` after fit). Formerly ``season``.
    deseasonalize : {"auto", True, False}
        Remove a classical decomposition's seasonal indices (on the transformed scale) before
        the network and add them back to its forecasts. ``"auto"``: for each series where the
        90% autocorrelation test at lag ``season_length`` finds seasonality.
    epochs : int, optional
        Training epochs per network. Default: about 900 optimiser steps per network (1 to
        150 epochs: at least one pass over a large panel's windows), ``epochs_`` after fit.
    lr : float
        Peak learning rate of AdamW (annealed to 1% of it by a cosine schedule).
    batch_size : int, optional
        Windows per step. Default: 16, more for panels (``windows // 60``, at most 256).
    weight_decay : float
        AdamW's decoupled weight decay.
    clip_norm : float or None
        Global gradient-norm clipping.
    n_models : int
        Ensemble size: networks with different seeds, the median of their outputs.
    loss : {"mae", "mse", "huber", "l1"}
        Training loss in the normalised space.
    dropout : float
        Dropout between LSTM layers, in [0, 1).
    patience : int or None
        Early stopping on the validation windows (needs ``val_size`` in :meth:`fit`).
    fallback : bool
        Choose each series' forecast by a back-test: the candidates (``candidates_``: the
        network, seasonal naive, drift, damped trend, Theta, ARIMA) are fitted on each series
        less its last ``horizon`` points (two horizons without a season) and forecast from every
        origin there; the mix of them with the lowest mean absolute error is the series'
        forecast (``mix_``, name -> weight; ``fallback_``: seasonal naive alone), shrunk
        towards the network for a seasonal series unless that would do worse than seasonal
        naive on the back-test. So no series does worse than seasonal naive on its back-test.
        Series too short for a back-test get the equal mix of the network, the damped trend
        and ARIMA.
    conformal : bool
        Calibrate prediction intervals (:meth:`predict_interval`) on the errors of each
        series' last four horizons of forecast origins: the back-test's, and the final
        model's in-sample errors before its stretch; series too short for a back-test use
        in-sample errors only (``calibration_`` says which).
    dtype : float32 or float64
        Network precision.
    seed : int or None
        Seeds initialisation and batch order: the same seed and data give the same
        forecasts, bit for bit.
    verbose : bool
        A progress bar over the whole fit on stderr (series, the network being trained, epochs
        done, the loss), when stderr is a terminal (never in a log or a pipe); needs tqdm
        (``pip install 'fastlstm[progress]'``). Formerly ``progress``.
    comm : mpi4py.MPI.Intracomm, optional
        Data-parallel training over MPI (see :class:`~fastlstm.train.Trainer`); :meth:`save`
        then writes on rank 0 only. Not saved in a checkpoint.
    model : {"lstm", "esrnn"}
        The network candidate: the LSTM ensemble, or the ES-RNN-style hybrid of
        :mod:`fastlstm.forecast.esrnn` (per-series level and seasonal smoothing learned by
        gradient with one global LSTM; ``scaler``, ``normalize`` and the classical seasonal
        indices do not reach it, ``strategy`` must be ``"mimo"``, and ``X`` and ``val_size``
        are not accepted).

    Attributes
    ----------
    candidates_ : dict of str to Candidate
        The fitted candidates by name (:mod:`fastlstm.forecast.candidates`).
    mix_ : list of dict
        Per series, the weights of the candidates its forecast mixes.
    season_length_, horizon_, lookback_, epochs_, batch_size_ : int
        The sizes fit used.
    histories_ : list
        The networks' training histories.

    Examples
    --------
    >>> from fastlstm import load_airpassengers
    >>> y = load_airpassengers()
    >>> f = Forecaster(lookback=24, horizon=12, epochs=20, n_models=1).fit(y[:-12])
    >>> f.predict().shape
    (12,)
    """

    _renamed = RENAMED

    @renamed(**RENAMED)
    def __init__(
        self,
        lookback: int | None = None,
        horizon: int | None = None,
        hidden_size: int = 32,
        num_layers: int = 1,
        strategy: str = "mimo",
        scaler: str | None = "standard",
        transform: str | None = "auto",
        normalize: str | None = "window",
        season_length="auto",
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
        verbose: bool = False,
        comm=None,
        model: str = "lstm",
    ) -> None:
        for name, value in locals().items():  # stored as given; checked in fit
            if name != "self":
                setattr(self, name, value)

    def _validate_params(self) -> None:
        """Check every constructor argument (called by :meth:`fit`)."""
        check_params(self.get_params())

    @property
    def fallback_(self) -> np.ndarray:
        """Per series: forecast by seasonal naive alone (bool array, after fit)."""
        return np.array([w == {"seasonal naive": 1.0} for w in self.mix_], dtype=bool)

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`load`) has run."""
        return bool(getattr(self, "candidates_", None))

    @property
    def _out_steps(self) -> int:
        return self.horizon_ if self.strategy == "mimo" else 1

    @property
    def _layout(self) -> dict:
        """What :func:`~fastlstm.forecast.frames.pack` needs to give results in the fit's form."""
        names = ("form", "index", "ids", "columns")
        return {**{k: getattr(self, f"{k}_") for k in names}, "name": self.series_name_}

    @property
    def _data(self) -> Prepared:
        """The fitted panel as the candidates see it."""
        sizes = (self.season_length_, self.horizon_, self.lookback_, self._out_steps)
        covs = frames.with_static(self.covariates_, self.static_, [len(s) for s in self.series_])
        return Prepared(self.series_, self.log_, self.seasonal_, *sizes, covs)

    # ---------------------------------------------------------------------- fit
    def fit(self, y, X=None, val_size: int | None = None, static=None) -> Forecaster:
        """Train the ensemble on one or several series.

        Parameters
        ----------
        y : array_like, pandas Series/DataFrame, or list of 1-D arrays
            One series ``(T,)``; several series (``(T, k)``, a list, a wide DataFrame) train
            one global model; a long DataFrame with columns ``unique_id``, ``ds``, ``y`` (as
            statsforecast and neuralforecast use) is a panel: one global model, forecasts per
            ``unique_id``. A ``DatetimeIndex``/``PeriodIndex`` (or datetime ``ds``) sets the
            season length (``season_length="auto"``) and :meth:`predict` then returns pandas
            objects indexed by the future dates.
        X : array_like, shape (T, F), or list of them, optional
            Known-future covariates aligned with ``y`` (one array per series).
        val_size : int, optional
            Hold out the windows whose targets reach into the last ``val_size`` steps of each
            series as validation data: the best epoch's weights are kept, and ``patience``
            enables early stopping.
        static : array_like or pandas.DataFrame, optional
            Per-series static features (store size, region, product category): one row per
            series, numbers used as they are, text or categorical columns of a DataFrame one-hot
            encoded; a long panel's DataFrame is indexed by ``unique_id``
            (:func:`~fastlstm.forecast.frames.static_features`). They reach the network as
            constant input columns beside ``X`` (``static_``, ``static_columns_`` after fit);
            :meth:`predict` uses them for the same series.

        Returns
        -------
        self
        """
        self._validate_params()
        self.__dict__.pop("candidates_", None)  # a fit that fails leaves an unfitted forecaster
        series, form, meta = frames.ingest(y, "y")  # validated here, once
        lengths = [len(s) for s in series]
        covs = frames.split_covariates(X, lengths, "X")
        val = 0 if val_size is None else check_int(val_size, "val_size", minimum=0)
        network_cls = NETWORKS[self.model]
        network_cls.check_inputs(self.model, X=covs is not None, static=static is not None, val_size=val)
        mimo = self.strategy == "mimo"
        self.season_length_, self.horizon_, self.lookback_ = choose_sizes(
            self.season_length, self.horizon, self.lookback, mimo, meta.get("index"), lengths, val
        )
        lookback, horizon = self.lookback_, self.horizon_
        check_lengths(lengths, lookback, self._out_steps, val, pad=network_cls.pads and len(lengths) > 1)
        self.log_ = use_log(self.transform, series)
        self.form_, self.index_, self.ids_ = form, meta.get("index"), meta.get("ids")
        self.columns_, self.series_name_ = meta.get("columns"), meta.get("name")
        self.n_series_ = len(series)
        self.n_covariates_ = 0 if covs is None else covs[0].shape[1]
        self.seasonal_ = seasonal_indices(series, val, self.season_length_, self.deseasonalize, self.log_)
        self.series_ = [s.copy() for s in series]
        self.covariates_ = None if covs is None else [c.copy() for c in covs]
        self.static_, self.static_columns_ = None, []
        if static is not None:
            self.static_, self.static_columns_ = frames.static_features(static, len(series), self.ids_)
        data = self._data
        seeds = derive_seeds(self.seed, 4 * self.n_models)
        params = self.get_params()

        t0 = time.perf_counter()
        ends = [n - val for n in lengths]
        self.mix_ = [{NETWORK: 1.0} for _ in series]
        errors = {}
        self.calibration_ = "none"
        root = self.comm is None or self.comm.Get_rank() == 0  # one bar, on MPI rank 0
        with ProgressBar(f"fastlstm: {len(series)} series", show=self.verbose and root) as bar:
            if self.fallback or self.conformal:
                mixes = _MIXES if self.fallback else _MIXES[:1]  # read at fit time (a test swaps them)
                short = SHORT_MIX if self.fallback else None
                network = network_cls(params, seeds[2 * self.n_models :])
                self.mix_, errors = backtest.run(data, network, ends, mixes, short, bar)
                self.calibration_ = "backtest" if errors else "none"
            network = network_cls(params, seeds[: 2 * self.n_models])
            self.candidates_ = backtest.fit_candidates(data, network, self.mix_, ends, lengths, val, bar)
        self.epochs_, self.batch_size_ = network.epochs_, network.batch_size_
        self.histories_ = network.histories_
        if self.conformal:
            errors, self.calibration_ = backtest.calibration_errors(
                data, self.candidates_, self.mix_, errors, ends
            )
            zs = [data.z(i, s) for i, s in enumerate(series)]
            self.noise_scale_, self.step_scale_, self.scores_ = intervals.calibrate(errors, zs, horizon)
        self.fit_time_ = time.perf_counter() - t0
        sizes = (self.season_length_, horizon, lookback, int(self.fallback_.sum()))
        logger.info(
            "fitted %d series in %.2f s (season length %d, horizon %d, lookback %d, %d on seasonal naive)",
            len(series),
            self.fit_time_,
            *sizes,
        )
        return self

    # ------------------------------------------------------------------ predict
    def _positional(self) -> list[bool]:
        """Per series, whether its forecast depends on the season position of the history: it has
        seasonal indices, or a candidate learned its season."""
        learned = [any(c.positional(i) for c in self.candidates_.values()) for i in range(self.n_series_)]
        return [ind is not None or x for ind, x in zip(self.seasonal_, learned, strict=True)]

    def _histories(self, h, X_future, y, X, start=None):
        """(series, covariates of history + future, the history's dates) for predict and the
        interval methods: the fitted history, or ``y`` (validated, and aligned to the fitted
        season position, here)."""
        fitted = {"fitted": self.series_, "fitted_covariates": self.covariates_, "fitted_ids": self.ids_}
        fitted.update(fitted_index=self.index_, n_covariates=self.n_covariates_, log=self.log_)
        pads = NETWORKS[self.model].pads and self.n_series_ > 1  # short histories padded
        sizes = {"input_size": 1 if pads else self.lookback_, "season": self.season_length_}
        return frames.history_inputs(
            h,
            X_future,
            y,
            X,
            start=start,
            positional=self._positional(),
            static=self.static_,
            **fitted,
            **sizes,
        )

    def _point(
        self, i: int, s: np.ndarray, h: int, cov, data: Prepared, transformed: bool = False
    ) -> np.ndarray:
        """Point forecast (h,) of series ``i`` from the end of ``s``: the chosen mix of the
        candidates, in the original units, or on the transformed scale (seasonal indices
        included: the intervals' scale). ``data`` is :attr:`_data`, built once per call of
        the caller (it lists every series: building it per series made a panel's forecast
        quadratic in the number of series)."""
        w, origin = self.mix_[i], np.array([len(s)])
        net = None
        if w.get(NETWORK):
            zf = self.candidates_[NETWORK].forecast_transformed(data, i, s, origin, h, cov)[0]
            if transformed and w[NETWORK] == 1:
                return zf
            with np.errstate(over="ignore", invalid="ignore"):
                net = inverse_transform(zf, self.log_[i])
            if w[NETWORK] == 1:
                return net
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            names = [name for name in MEMBERS if w.get(name)]
            cands = {
                k: v[0] for k, v in forecasts(self.candidates_, data, names, i, s, origin, h, cov).items()
            }
            if net is not None:
                cands[NETWORK] = net
            f = mix(w, cands)
            if not transformed:
                return f
            if self.log_[i] and np.any(f <= 0):
                raise ValueError(
                    "y: a drift forecast crosses zero on the log scale (refit with transform=None)"
                )
            return forward_transform(f, self.log_[i])

    def predict(self, h: int | None = None, X_future=None, y=None, X=None, start=None):
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
            A new history to forecast from, in the form given to :meth:`fit` (default: the
            series seen by :meth:`fit`). Where it starts, relative to the fitted series, sets its
            season position (seasonal indices and a learned season are tied to it) and, after a
            dated fit, the forecasts' dates. It is found as follows:

            * fit and ``y`` both dated: from the dates, which must have the fitted frequency;
            * otherwise ``start`` if given;
            * otherwise, when the fit was dated or the series' forecast depends on the season
              position, ``y`` must begin with the fitted series' values (the fitted series, its
              first points, or it extended by new points: ``start`` 0); anything else is
              refused, never read at a wrong season position. (An undated fit whose forecasts
              do not depend on the position takes any history.)

            A history that does not start at the fitted season position loses its first
            ``(-start) % season_length_`` points (and rows of ``X``). A panel history must have
            the fit's ``unique_id`` values, in the same order.
        X : array_like, optional
            Covariates of the new history ``y`` (required with ``y`` when fitted
            with ``X``).
        start : int or sequence of int, optional
            The step of ``y``'s first point counted from the first point given to
            :meth:`fit` (one per series, or one for all): ``0`` when ``y`` begins
            where the fitted series began, ``len(fitted series)`` when it begins
            right after it. It sets the season position (``start % season_length_``) and,
            after a dated fit, the forecasts' dates; with a dated ``y`` it must
            agree with the dates (up to whole seasons), which are used.

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
        series, cov, index = self._histories(h, X_future, y, X, start)
        out, data = [], self._data
        for i, s in enumerate(series):
            f = self._point(i, s, h, cov[i], data)
            if not np.isfinite(f).all():
                raise ValueError(f"y: the forecast of series {i} overflows float64 (the series is too large)")
            out.append(f)
        return frames.pack(out, h, self._layout, index=index)

    # ----------------------------------------------------------------- backtest
    @renamed(m="season_length")
    def backtest(
        self, y, n_windows: int = 5, step: int = 1, X=None, season_length: int | None = None, start=None
    ) -> Backtest:
        """Forecast one ``horizon`` block from each of several origins in one batched pass.

        The origins are ``len(y) - horizon - i * step`` for ``i < n_windows``. The fitted
        candidates and their mix are reused (no refitting): origins inside the fitted range
        measure in-sample fit, origins after it out-of-sample accuracy.

        Parameters
        ----------
        y : array_like, shape (T,)
            One series, aligned to the fitted season position as the ``y`` of :meth:`predict`.
        n_windows : int
            Number of origins.
        step : int
            Steps between consecutive origins.
        X : array_like, shape (T, F), optional
            Covariates aligned with ``y`` (required when fitted with ``X``).
        season_length : int, optional
            Season length of the MASE scale (default: the fitted ``season_length_``).
            Formerly ``m``, whose default 1 ignored the fitted season.
        start : int, optional
            The step of ``y``'s first point counted from the fitted series' first point, as in
            :meth:`predict`.

        Returns
        -------
        Backtest
        """
        self._check_fitted()
        return backtest.from_origins(self, y, n_windows, step, X, season_length, start)

    # ---------------------------------------------------------------- save/load
    def save(self, path) -> str:
        """Write the fitted forecaster to one checkpoint file (see :mod:`fastlstm.train.io`).

        With ``comm``, only rank 0 writes; every rank returns once the file is complete.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        str
        """
        self._check_fitted()
        arrays, config = checkpoint.fitted_state(self)
        from ..train.distributed import on_root

        return on_root(self.comm, _io.save_checkpoint, path, checkpoint.KIND, arrays, config)

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
        return checkpoint.load_with_history(cls, path)[0]
