"""An sktime forecaster wrapping :class:`fastlstm.Forecaster`.

``LSTMForecaster`` follows sktime's forecaster interface (``fit(y, X=None, fh=...)``,
``predict(fh, X=None)``, relative and absolute horizons, any pandas index sktime
supports), so fastlstm's forecaster can be used with sktime's pipelines, model
selection, evaluation and reduction tools. Install it with::

    pip install 'fastlstm[sktime]'

Importing this module imports sktime (and pandas); ``import fastlstm`` does not.

Scope
-----
* Univariate ``y``: a multivariate ``y`` is split by sktime into one forecaster per column.
* Panels are one global model: a ``pd-multiindex`` ``y`` (a DataFrame indexed by
  (instance, time)) trains one :class:`fastlstm.Forecaster` on all its instances (the
  same model as ``Forecaster.fit`` on the long panel ``unique_id, ds, y``); a hierarchical
  ``y`` is split by sktime into one panel per top-level group. Instances may start and end
  at different times: each is forecast from its own last point, so one that ends before the
  cutoff (the latest time in ``y``) forecasts the steps from there to the last of ``fh``.
  ``predict``, ``predict_interval`` and ``predict_quantiles`` return (instance, time)
  frames, every instance at the dates of ``fh`` after the cutoff, with ``y``'s column name.
  ``X`` is then a panel with a row for every (instance, time) of ``y``, and in ``predict``
  rows of every step from each instance's last point to the last of ``fh``.
* Static per-series features: ``static_cols`` names the columns of ``X`` that hold one
  value per instance (numbers used as they are; text, categorical or bool one-hot
  encoded: ``Forecaster.fit``'s ``static``). A static column that varies within an
  instance is refused (ValueError naming it). ``predict`` and ``update`` need no static
  column (fit's values are used); one given there must keep fit's value for every
  instance (a ValueError otherwise: two values are never chosen between). With
  ``static_cols``, ``capability:categorical_in_X`` is True; any other non-numeric column
  of ``X`` is refused (TypeError naming it). Without, it is False, and sktime refuses
  categorical ``X``.
* Out-of-sample horizons only (``capability:insample`` is False): an ``fh`` with a step
  at or before the cutoff raises sktime's ``NotImplementedError`` ("can not perform
  in-sample prediction").
* The other columns of ``X`` are known-future covariates (read by name): ``predict`` needs
  the rows of every step from the first after the cutoff to the last step of ``fh`` (the
  network reads a contiguous block), so ``capability:non_contiguous_X`` is False.
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
    static_cols : list of str or None, default=None
        Columns of ``X`` that are per-series static features (one value per instance of a
        panel, numeric or categorical; see the module's Scope); the other columns of ``X`` are
        known-future covariates. A string is refused (write ``["region"]``).
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
        # a Series, or a panel (one global model over its instances); hierarchical data is
        # split by sktime into one panel per top-level group
        "y_inner_mtype": ["pd.Series", "pd-multiindex"],
        "X_inner_mtype": ["pd.DataFrame", "pd-multiindex"],
        "capability:multivariate": False,
        "capability:exogenous": True,
        "capability:insample": False,
        "capability:pred_int": True,
        "capability:pred_int:insample": False,
        "capability:missing_values": False,
        "capability:non_contiguous_X": False,
        "capability:categorical_in_X": False,  # True with static_cols (set in __init__)
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
        static_cols=None,
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
        self.static_cols = static_cols
        super().__init__()
        # sktime sets these only when remember_data is on; its checks may turn it on later
        self._y = self._X = None
        if horizon is not None:
            self.set_tags(**{"requires-fh-in-fit": False})
        if static_cols:  # text or categorical static columns are one-hot encoded
            self.set_tags(**{"capability:categorical_in_X": True})

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
        index = y.index
        if isinstance(index, pd.MultiIndex):  # a panel: the first instance's time index
            index = y.xs(index[0][0], level=0).index
            if isinstance(index, pd.DatetimeIndex) and index.freq is None and len(index) >= 3:
                index = pd.DatetimeIndex(index, freq=pd.infer_freq(index))
        freq = getattr(index, "freqstr", None)
        return season_of_freq(freq)[0] if freq else 1

    def _fit(self, y, X=None, fh=None):
        """Train the networks on ``y`` (and ``X``); see :class:`fastlstm.Forecaster`.

        A panel ``y`` (pd-multiindex) trains one global forecaster on its instances (each its
        own series, in order of first appearance); ``static_cols`` of ``X`` become its
        per-series static features, the other columns of ``X`` its known-future covariates.
        """
        if self.horizon is not None:
            horizon = self.horizon
        else:
            # requires-fh-in-fit is True here, and the base class refuses in-sample steps
            horizon = int(np.max(self._steps(fh)))
        self._panel = isinstance(y.index, pd.MultiIndex)
        static_cols = self._check_static_cols(X)
        self._dynamic = [] if X is None else [c for c in X.columns if c not in static_cols]
        if self._panel:
            self._ids = list(y.index.get_level_values(0).unique())
            ys = self._series_list(y)
        static = None
        if static_cols:
            static = self._static_frame(X, static_cols)
            self._static_values = static
        self.forecaster_ = self._make_forecaster(horizon, self._season(y))
        if self._panel:
            covs = self._history_covariates(ys, X)
            self.forecaster_.fit([s.to_numpy(np.float64) for s in ys], X=covs, static=static)
        else:
            covs = None if not self._dynamic else self._values(X[self._dynamic], "X")
            self.forecaster_.fit(self._values(y, "y"), X=covs, static=static)
        self.horizon_ = self.forecaster_.horizon
        self._history_y, self._history_X = y, X
        self._uses_X = bool(self._dynamic)
        self._static_cols = static_cols
        return self

    def _update(self, y, X=None, update_params=True):
        """Append ``y`` (and ``X``) to the history; refit from scratch if ``update_params``."""
        if X is not None and self._static_cols:
            self._check_static_unchanged(X)
        self._history_y = _combine(self._history_y, y)
        if self._uses_X and X is None:
            raise ValueError("X: expected the new rows of the covariates (fitted with X), got None")
        if X is not None and self._history_X is not None:
            self._history_X = _combine(self._history_X, X)
        if update_params:
            self._fit(self._history_y, self._history_X, self._fh)
        return self

    # ------------------------------------------------------------------- predict
    def _predict(self, fh, X=None):
        """Forecast the steps of ``fh`` (all after the cutoff) from the history's end."""
        steps, h, kwargs = self._predict_args(fh, X)
        full = self.forecaster_.predict(h, **kwargs)
        if self._panel:
            rows = [f[st - 1] for f, st in zip(full, steps, strict=True)]
            return self._panel_frame(rows, fh, self._history_y.columns)
        index = fh.to_absolute_index(self.cutoff)
        return pd.Series(full[steps - 1], index=index, name=self._history_y.name)

    def _predict_quantiles(self, fh, X, alpha):
        """Quantiles ``alpha`` of the steps of ``fh``: :meth:`fastlstm.Forecaster.predict_quantiles`."""
        steps, h, kwargs = self._predict_args(fh, X)
        q = self.forecaster_.predict_quantiles(h, quantiles=tuple(alpha), **kwargs)  # (h, len(alpha))
        columns = self._get_columns("predict_quantiles", alpha=alpha)
        if self._panel:
            rows = [np.asarray(f)[st - 1] for f, st in zip(q, steps, strict=True)]
            return self._panel_frame(rows, fh, columns)
        return pd.DataFrame(
            np.asarray(q)[steps - 1], index=fh.to_absolute_index(self.cutoff), columns=columns
        )

    def _predict_interval(self, fh, X, coverage):
        """Intervals of the steps of ``fh``: :meth:`fastlstm.Forecaster.predict_interval`."""
        steps, h, kwargs = self._predict_args(fh, X)
        iv = self.forecaster_.predict_interval(h, coverage=tuple(coverage), **kwargs)  # (h, C, 2)
        # columns (name, coverage, lower/upper), coverage-major, as the (C, 2) rows flatten
        columns = self._get_columns("predict_interval", coverage=coverage)
        # a list (and steps per instance) for a panel, one array for a series
        per_series, per_steps = (iv, steps) if self._panel else ([iv], [steps])
        rows = [
            np.asarray(f)[st - 1].reshape(len(st), 2 * len(coverage))
            for f, st in zip(per_series, per_steps, strict=True)
        ]
        if self._panel:
            return self._panel_frame(rows, fh, columns)
        return pd.DataFrame(rows[0], index=fh.to_absolute_index(self.cutoff), columns=columns)

    # ------------------------------------------------------------------- helpers
    def _predict_args(self, fh, X):
        """``steps`` of ``fh`` (ints >= 1), ``h = max(steps)`` and the history/covariate
        keyword arguments of :meth:`fastlstm.Forecaster.predict`. For a panel, ``steps`` is
        a list: per instance, the steps of ``fh`` counted from its own last point (an
        instance that ends before the cutoff forecasts further), and ``h`` their maximum."""
        steps = self._steps(fh)
        h = int(np.max(steps))
        if X is not None and self._static_cols:
            self._check_static_unchanged(X)
        if self._uses_X and X is None:
            raise ValueError(
                f"X: expected the covariates of the {h} steps after the cutoff (fitted with X), got None"
            )
        if self._panel:
            ys = self._series_list(self._history_y)
            lags = [self._lag(s.index[-1], fh) for s in ys]
            each = [steps + d for d in lags]
            h = int(np.max(steps)) + max(lags)
            kwargs = {"y": [s.to_numpy(np.float64) for s in ys], "X_future": None, "X": None}
            if self._uses_X:
                kwargs["X"] = self._history_covariates(ys, self._history_X)
                groups = self._by_instance(X)
                kwargs["X_future"] = [
                    _pad(self._future_covariates(self._rows_of(groups, uid), int(np.max(st)), fh, s, uid), h)
                    for uid, s, st in zip(self._ids, ys, each, strict=True)
                ]
            return each, h, kwargs
        kwargs = {"y": self._values(self._history_y, "y"), "X_future": None, "X": None}
        if self._uses_X:
            kwargs["X_future"] = self._values(self._future_rows(X, h, fh)[self._dynamic], "X")
            kwargs["X"] = self._values(self._history_X[self._dynamic], "X")
        return steps, h, kwargs

    def _panel_frame(self, rows, fh, columns) -> pd.DataFrame:
        """Per-instance arrays (one row per step of ``fh``) as sktime's pd-multiindex frame."""
        times = fh.to_absolute_index(self.cutoff)
        index = pd.MultiIndex.from_product([self._ids, times], names=self._history_y.index.names)
        return pd.DataFrame(np.concatenate(rows, axis=0), index=index, columns=columns)

    def _lag(self, end, fh) -> int:
        """Steps from ``end`` (an instance's last point) to the cutoff (0 where it ends there)."""
        if end == self.cutoff[0]:
            return 0
        at_cutoff = ForecastingHorizon(self.cutoff, is_relative=False, freq=fh.freq)
        return int(at_cutoff.to_relative(pd.Index([end])).to_numpy()[0])

    def _future_covariates(self, rows, h: int, fh, s, uid) -> np.ndarray:
        """The dynamic covariates of steps 1..h after instance ``uid``'s last point."""
        where = "the cutoff" if s.index[-1] == self.cutoff[0] else f"instance {uid!r}'s last point"
        end = pd.Index([s.index[-1]])
        return self._values(self._future_rows(rows, h, fh, end=end, where=where)[self._dynamic], "X")

    def _series_list(self, y) -> list:
        """A panel's instances (in fit's order) as Series on their time index."""
        out = []
        grouped = dict(tuple(y.iloc[:, 0].groupby(level=0, sort=False)))
        for uid in self._ids:
            if uid not in grouped:
                raise ValueError(f"y: expected rows of every instance seen in fit, instance {uid!r} has none")
            out.append(grouped[uid].droplevel(0))
        if len(grouped) != len(self._ids):
            new = [u for u in grouped if u not in self._ids]
            raise ValueError(f"y: instances {new[:5]} were not seen in fit (refit with update_params=True)")
        return out

    @staticmethod
    def _by_instance(X) -> dict:
        """A panel ``X`` split once into its instances' rows, each on its time index (looking
        up one instance at a time rescans the whole index: quadratic in the instances)."""
        if not isinstance(X.index, pd.MultiIndex):
            raise ValueError(
                "X: expected a panel with an (instance, time) MultiIndex, as y in fit, "
                f"got a {type(X.index).__name__}"
            )
        return {uid: rows.droplevel(0) for uid, rows in X.groupby(level=0, sort=False)}

    @staticmethod
    def _rows_of(groups: dict, uid) -> pd.DataFrame:
        """Instance ``uid``'s rows from :meth:`_by_instance`'s split."""
        if uid not in groups:
            raise ValueError(f"X: expected rows of every instance of y, instance {uid!r} has none")
        return groups[uid]

    def _history_covariates(self, ys, X) -> list | None:
        """Per instance, the dynamic columns of ``X`` at the time points of its series."""
        if not self._dynamic:
            return None
        out, groups = [], self._by_instance(X)
        for uid, s in zip(self._ids, ys, strict=True):
            rows = self._rows_of(groups, uid)
            missing = s.index[~s.index.isin(rows.index)]
            if len(missing):
                raise ValueError(
                    f"X: expected a row for every time point of y, instance {uid!r} lacks "
                    f"{list(missing[:3])}{' ...' if len(missing) > 3 else ''}"
                )
            out.append(self._values(rows.loc[s.index, self._dynamic], "X"))
        return out

    def _check_static_cols(self, X) -> list:
        """``static_cols`` validated against ``X`` (a list, [] without)."""
        cols = self.static_cols
        if cols is None:
            return []
        if isinstance(cols, (str, bytes)) or not isinstance(cols, (list, tuple)):
            raise TypeError(
                f"static_cols: expected a list of column names of X, got {type(cols).__name__} {cols!r}"
                + (f" (for one column write [{cols!r}])" if isinstance(cols, str) else "")
            )
        cols = list(cols)
        if len(set(cols)) != len(cols):
            raise ValueError(f"static_cols: expected distinct column names, got {cols}")
        if not cols:
            return []
        if X is None:
            raise ValueError(
                f"X: expected a DataFrame with the static columns {cols} (static_cols), got None"
            )
        missing = [c for c in cols if c not in X.columns]
        if missing:
            raise ValueError(
                f"static_cols: expected column names of X, got {missing} not among {list(X.columns)}"
            )
        for c in X.columns:
            if c not in cols and not _is_numeric(X[c]):
                raise TypeError(
                    f"X: column {c!r} is not numeric (dtype {X[c].dtype}): expected numbers in the "
                    "known-future covariates; a categorical column must be one of static_cols "
                    f"{cols} (one value per instance)"
                )
        return cols

    def _static_frame(self, X, cols) -> pd.DataFrame:
        """One row per instance (fit's order) of the static columns, refusing any that varies."""
        if self._panel:
            groups = self._by_instance(X)
            parts = [(uid, self._rows_of(groups, uid)) for uid in self._ids]
        else:
            parts = [(None, X)]
        rows = []
        for uid, rows_i in parts:
            for c in cols:
                values = rows_i[c].astype(object).unique()
                if len(values) > 1:
                    where = f"within instance {uid!r}" if self._panel else "within the series"
                    raise ValueError(
                        f"X: static column {c!r} (static_cols) expected one value {where}, "
                        f"got {len(values)}: {list(values[:3])}{' ...' if len(values) > 3 else ''}"
                    )
            rows.append(rows_i[cols].iloc[:1])
        static = pd.concat(rows)
        static.index = self._ids if self._panel else [0]
        return static

    def _check_static_unchanged(self, X) -> None:
        """The static columns present in a later ``X`` (predict, update) must keep fit's values:
        two values for one instance are refused, not chosen between."""
        present = [c for c in self._static_cols if c in X.columns]
        if not present:
            return
        if self._panel:
            parts = list(self._by_instance(X).items())
        else:
            parts = [(None, X)]
        for uid, rows in parts:
            key = uid if self._panel else 0
            if key not in self._static_values.index:
                continue  # an instance not fitted: refused where its y is read
            for c in present:
                fitted = self._static_values.loc[key, c]
                got = rows[c].astype(object).to_numpy()
                if np.any(got != fitted):
                    bad = got[got != fitted][0]
                    where = f" of instance {uid!r}" if self._panel else ""
                    raise ValueError(
                        f"X: static column {c!r}{where} is {fitted!r} in fit, got {bad!r}: static "
                        "features are one value per instance (drop the column here to use fit's value)"
                    )

    def _steps(self, fh) -> np.ndarray:
        """Steps of ``fh`` after the cutoff, as ints >= 1."""
        steps = np.asarray(fh.to_relative(self.cutoff).to_numpy(), dtype=np.int64)
        if steps.size == 0 or np.any(steps < 1):  # the base class should have refused these
            raise NotImplementedError(
                f"LSTMForecaster can not perform in-sample prediction; fh relative to the cutoff: {steps}"
            )
        return steps

    def _future_rows(self, X, h: int, fh, end=None, where="the cutoff") -> pd.DataFrame:
        """The rows of ``X`` for steps 1..h after the cutoff, or ``end`` (the network needs all
        of them)."""
        needed = ForecastingHorizon(np.arange(1, h + 1), is_relative=True, freq=fh.freq)
        index = needed.to_absolute_index(self.cutoff if end is None else end)
        missing = index[~index.isin(X.index)]
        if len(missing):
            raise ValueError(
                f"X: expected rows for every step from the first after {where} to the last of fh "
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


def _pad(rows: np.ndarray, h: int) -> np.ndarray:
    """``rows`` extended to ``h`` by repeating its last row (as ``Forecaster.predict`` fills a
    last block): an instance that needs fewer steps than the panel's longest forecast."""
    return np.concatenate([rows, np.repeat(rows[-1:], h - len(rows), axis=0)]) if len(rows) < h else rows


def _is_numeric(column) -> bool:
    """Numbers or bools (what the covariates take as they are)."""
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _combine(old, new):
    """``old`` with the rows of ``new`` appended or overwritten, in index order."""
    if old is None:
        return new
    out = new.combine_first(old) if len(old) else new
    return out.sort_index()
