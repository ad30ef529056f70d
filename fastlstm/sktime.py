"""An sktime forecaster wrapping :class:`fastlstm.Forecaster`.

``LSTMForecaster`` follows sktime's forecaster interface (``fit(y, X=None, fh=...)``,
``predict(fh, X=None)``, relative and absolute horizons, any pandas index sktime
supports), so fastlstm's forecaster can be used with sktime's pipelines, model
selection, evaluation and reduction tools. Install it with::

    pip install 'fastlstm[sktime]'

Importing this module imports sktime (and pandas); ``import fastlstm`` does not.

Scope
-----
* Univariate ``y``: a multivariate ``y`` or a panel is split by sktime into one
  forecaster per column or instance.
* Out-of-sample horizons only (``capability:insample`` is False): an ``fh`` with a step
  at or before the cutoff raises sktime's ``NotImplementedError`` ("can not perform
  in-sample prediction").
* Exogenous ``X`` are known-future covariates: ``predict`` needs the rows of every
  step from the first after the cutoff to the last step of ``fh`` (the network reads
  a contiguous block), so ``capability:non_contiguous_X`` is False.
* Prediction intervals and quantiles (``predict_interval``, ``predict_quantiles``, and
  with skpro installed ``predict_proba``) are :meth:`fastlstm.Forecaster.predict_interval`
  and :meth:`~fastlstm.Forecaster.predict_quantiles`, out of sample only.
"""

from __future__ import annotations

import numpy as np

from ._optional import import_optional
from ._params import param_names, warn_renamed
from .forecast.forecaster import Forecaster
from .forecast.timeindex import season_of_freq

pd = import_optional("pandas", "fastlstm.sktime", extra="sktime")
_base = import_optional("sktime.forecasting.base", "fastlstm.sktime", extra="sktime")
BaseForecaster, ForecastingHorizon = _base.BaseForecaster, _base.ForecastingHorizon

__all__ = ["LSTMForecaster"]

# Forecaster's constructor arguments passed through unchanged (read from its signature): all
# but ``horizon`` and ``season_length`` (resolved in fit from fh and the dates; sktime calls
# the season length ``sp``) and ``verbose``/``comm`` (a progress bar and MPI training have no
# place inside sktime's loops).
_PASSED = tuple(
    name for name in param_names(Forecaster) if name not in ("horizon", "season_length", "verbose", "comm")
)


class LSTMForecaster(BaseForecaster):
    """sktime forecaster: an ensemble of small LSTMs (:class:`fastlstm.Forecaster`).

    Every argument and default is :class:`fastlstm.Forecaster`'s (its pipeline:
    transform, deseasonalising, ``n_models`` networks, the back-test's choice between
    the network, seasonal naive and drift, conformal intervals); forecasts beyond one
    block are chained.

    Parameters
    ----------
    lookback : int or None, default=None
        Past steps the network reads; None: from the season length and horizon. Formerly
        ``input_size``.
    horizon : int or None, default=None
        Steps the network forecasts in one block. None: the largest step of the
        ``fh`` passed to ``fit`` (which is then required in ``fit``). With an int,
        ``fh`` may be given in ``predict`` only, and may reach past ``horizon``.
    hidden_size, num_layers, strategy, scaler, transform, normalize
        As in :class:`fastlstm.Forecaster`.
    sp : int or "auto", default="auto"
        Season length (sktime's name; ``season_length`` of :class:`fastlstm.Forecaster`);
        "auto" reads it from the dated index of ``y`` (1 without one). Formerly ``season``.
    deseasonalize, epochs, lr, batch_size, weight_decay, clip_norm, n_models, loss
        As in :class:`fastlstm.Forecaster`.
    dropout, patience, fallback, conformal
        As in :class:`fastlstm.Forecaster`.
    dtype : {"float32", "float64"}, default="float32"
        Network precision.
    seed, model
        As in :class:`fastlstm.Forecaster`.
    input_size, season : optional
        The former names of ``lookback`` and ``sp``: still read, with a ``DeprecationWarning``,
        until the next release.

    Attributes
    ----------
    forecaster_ : fastlstm.Forecaster
        The fitted forecaster.
    horizon_ : int
        The block length used (``horizon``, or the largest step of ``fh`` in ``fit``).

    Notes
    -----
    ``update(y, update_params=False)`` appends ``y`` to the history the forecasts start
    from and keeps the networks; ``update_params=True`` refits them from scratch on all
    the data seen (training is not incremental, so ``capability:update`` is False).

    Examples
    --------
    >>> from sktime.datasets import load_airline  # doctest: +SKIP
    >>> from fastlstm.sktime import LSTMForecaster  # doctest: +SKIP
    >>> y = load_airline()  # doctest: +SKIP
    >>> f = LSTMForecaster(lookback=24, epochs=50).fit(y, fh=range(1, 13))  # doctest: +SKIP
    >>> f.predict().index[0]  # doctest: +SKIP
    Period('1961-01', 'M')
    """

    _tags = {
        "authors": ["fastlstm developers"],
        "maintainers": ["fastlstm developers"],
        "python_version": ">=3.10",
        "object_type": "forecaster",
        "y_inner_mtype": "pd.Series",
        "X_inner_mtype": "pd.DataFrame",
        "capability:multivariate": False,
        "capability:exogenous": True,
        "capability:insample": False,
        "capability:pred_int": True,
        "capability:pred_int:insample": False,
        "capability:missing_values": False,
        "capability:non_contiguous_X": False,
        "capability:categorical_in_X": False,
        "capability:update": False,
        "requires-fh-in-fit": True,  # False when horizon is an int (set in __init__)
        "X-y-must-have-same-index": True,
        "fit_is_empty": False,
    }
    # The forecaster keeps its own history (for update); sktime's copy in _y/_X is not
    # needed (and this is sktime's default from 1.3 on).
    _config = {"remember_data": False}

    def __init__(
        self,
        lookback=None,
        horizon=None,
        hidden_size=32,
        num_layers=1,
        strategy="mimo",
        scaler="standard",
        transform="auto",
        normalize="window",
        sp="auto",
        deseasonalize="auto",
        epochs=None,
        lr=1e-2,
        batch_size=None,
        weight_decay=0.0,
        clip_norm=1.0,
        n_models=5,
        loss="mae",
        dropout=0.0,
        patience=None,
        fallback=True,
        conformal=True,
        dtype="float32",
        seed=0,
        model="lstm",
        input_size=None,
        season=None,
    ):
        self.lookback = lookback
        self.sp = sp
        self.deseasonalize = deseasonalize
        self.patience = patience
        self.fallback = fallback
        self.conformal = conformal
        self.horizon = horizon
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.strategy = strategy
        self.scaler = scaler
        self.transform = transform
        self.normalize = normalize
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.n_models = n_models
        self.loss = loss
        self.dropout = dropout
        self.dtype = dtype
        self.seed = seed
        self.model = model
        self.input_size = input_size
        self.season = season
        super().__init__()
        # sktime sets these only when remember_data is on; its checks may turn it on later
        self._y = self._X = None
        if horizon is not None:
            self.set_tags(**{"requires-fh-in-fit": False})

    # ----------------------------------------------------------------------- fit
    def _renamed(self, old: str, new: str):
        """The value of ``new``, or of its deprecated name ``old`` when that was given."""
        if getattr(self, old) is None:
            return getattr(self, new)
        warn_renamed("LSTMForecaster", old, new, stacklevel=4)
        return getattr(self, old)

    def _make_forecaster(self, horizon: int, sp) -> Forecaster:
        params = {name: getattr(self, name) for name in _PASSED}
        params["lookback"] = self._renamed("input_size", "lookback")
        return Forecaster(horizon=horizon, season_length=sp, **params)

    def _season(self, y):
        """``sp``, or with "auto" the season length of y's dated index (1 without dates)."""
        sp = self._renamed("season", "sp")
        if sp != "auto":
            return sp
        freq = getattr(y.index, "freqstr", None)
        return season_of_freq(freq)[0] if freq else 1

    def _fit(self, y, X=None, fh=None):
        """Train the networks on ``y`` (and ``X``); see :class:`fastlstm.Forecaster`."""
        if self.horizon is not None:
            horizon = self.horizon
        else:
            # requires-fh-in-fit is True here, and the base class refuses in-sample steps
            horizon = int(np.max(self._steps(fh)))
        self.forecaster_ = self._make_forecaster(horizon, self._season(y))
        self.forecaster_.fit(self._values(y, "y"), X=None if X is None else self._values(X, "X"))
        self.horizon_ = self.forecaster_.horizon
        self._history_y, self._history_X = y, X
        self._uses_X = X is not None
        return self

    def _update(self, y, X=None, update_params=True):
        """Append ``y`` (and ``X``) to the history; refit from scratch if ``update_params``."""
        self._history_y = _combine(self._history_y, y)
        if self._uses_X:
            if X is None:
                raise ValueError("X: expected the new rows of the covariates (fitted with X), got None")
            self._history_X = _combine(self._history_X, X)
        if update_params:
            self._fit(self._history_y, self._history_X if self._uses_X else None, self._fh)
        return self

    # ------------------------------------------------------------------- predict
    def _predict(self, fh, X=None):
        """Forecast the steps of ``fh`` (all after the cutoff) from the history's end."""
        steps, h, kwargs = self._predict_args(fh, X)
        full = self.forecaster_.predict(h, **kwargs)
        index = fh.to_absolute_index(self.cutoff)
        return pd.Series(full[steps - 1], index=index, name=self._history_y.name)

    def _predict_quantiles(self, fh, X, alpha):
        """Quantiles ``alpha`` of the steps of ``fh``: :meth:`fastlstm.Forecaster.predict_quantiles`."""
        steps, h, kwargs = self._predict_args(fh, X)
        q = self.forecaster_.predict_quantiles(h, quantiles=tuple(alpha), **kwargs)  # (h, len(alpha))
        return pd.DataFrame(
            np.asarray(q)[steps - 1],
            index=fh.to_absolute_index(self.cutoff),
            columns=self._get_columns("predict_quantiles", alpha=alpha),
        )

    def _predict_interval(self, fh, X, coverage):
        """Intervals of the steps of ``fh``: :meth:`fastlstm.Forecaster.predict_interval`."""
        steps, h, kwargs = self._predict_args(fh, X)
        iv = self.forecaster_.predict_interval(h, coverage=tuple(coverage), **kwargs)  # (h, C, 2)
        # columns (name, coverage, lower/upper), coverage-major, as the (C, 2) rows flatten
        return pd.DataFrame(
            np.asarray(iv)[steps - 1].reshape(len(steps), 2 * len(coverage)),
            index=fh.to_absolute_index(self.cutoff),
            columns=self._get_columns("predict_interval", coverage=coverage),
        )

    # ------------------------------------------------------------------- helpers
    def _predict_args(self, fh, X):
        """``steps`` of ``fh`` (ints >= 1), ``h = max(steps)`` and the history/covariate
        keyword arguments of :meth:`fastlstm.Forecaster.predict`."""
        steps = self._steps(fh)
        h = int(np.max(steps))
        kwargs = {"y": self._values(self._history_y, "y"), "X_future": None, "X": None}
        if self._uses_X:
            if X is None:
                raise ValueError(
                    f"X: expected the covariates of the {h} steps after the cutoff (fitted with X), got None"
                )
            kwargs["X_future"] = self._values(self._future_rows(X, h, fh), "X")
            kwargs["X"] = self._values(self._history_X, "X")
        return steps, h, kwargs

    def _steps(self, fh) -> np.ndarray:
        """Steps of ``fh`` after the cutoff, as ints >= 1."""
        steps = np.asarray(fh.to_relative(self.cutoff).to_numpy(), dtype=np.int64)
        if steps.size == 0 or np.any(steps < 1):  # the base class should have refused these
            raise NotImplementedError(
                f"LSTMForecaster can not perform in-sample prediction; fh relative to the cutoff: {steps}"
            )
        return steps

    def _future_rows(self, X, h: int, fh) -> pd.DataFrame:
        """The rows of ``X`` for steps 1..h after the cutoff (the network needs all of them)."""
        needed = ForecastingHorizon(np.arange(1, h + 1), is_relative=True, freq=fh.freq)
        index = needed.to_absolute_index(self.cutoff)
        missing = index[~index.isin(X.index)]
        if len(missing):
            raise ValueError(
                f"X: expected rows for every step from the first after the cutoff to the last of fh "
                f"({h} rows, {index[0]} to {index[-1]}), got {len(index) - len(missing)} of them "
                f"(missing {list(missing[:3])}{' ...' if len(missing) > 3 else ''}); "
                "LSTMForecaster cannot use non-contiguous X"
            )
        return X.loc[index]

    @staticmethod
    def _values(data, name: str) -> np.ndarray:
        """float64 values of a Series or numeric DataFrame."""
        try:
            return data.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name}: expected numeric values, got dtypes {getattr(data, 'dtypes', None)}"
            ) from exc

    # ---------------------------------------------------------------- test params
    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Tiny settings for sktime's conformance suite: every fit takes milliseconds.

        Parameters
        ----------
        parameter_set : str, default="default"
            Unused; sktime's signature.

        Returns
        -------
        list of dict
        """
        tiny = {"lookback": 3, "hidden_size": 2, "epochs": 1, "n_models": 1, "batch_size": 64}
        return [
            {**tiny},  # mimo, horizon from fh, float32
            {**tiny, "horizon": 2, "strategy": "recursive", "scaler": "minmax", "dtype": "float64"},
        ]


def _combine(old, new):
    """``old`` with the rows of ``new`` appended or overwritten, in index order."""
    if old is None:
        return new
    out = new.combine_first(old) if len(old) else new
    return out.sort_index()
