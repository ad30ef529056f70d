"""The forecasts a :class:`~fastlstm.forecast.Forecaster` chooses among, behind one protocol.

A candidate is fitted on the prepared panel (:class:`Prepared`: the series, their transformed and
deseasonalised ``z`` scale, the season, horizon and lookback), forecasts any series it was
fitted on from given origins of a history, and carries its own fitted state into and out of a
checkpoint. The Forecaster holds candidates by name and, per series, a name -> weight mix of
them (:mod:`fastlstm.forecast.backtest` chooses it); one loop over the candidates
(:func:`forecasts`) serves ``predict``, both back-tests and the intervals.

=====================  =========================================================================
name                   candidate
=====================  =========================================================================
``"network"``          the learned model: :class:`LSTMEnsemble` (``model="lstm"``) or
                       :class:`ESRNNNetwork` (``model="esrnn"``, see :data:`NETWORKS`)
``"seasonal naive"``   :class:`SeasonalNaive`: the value one season before
``"drift"``            :class:`Drift`: the line through the first point and the last
``"damped"``           :class:`StatisticalMember`: Holt's damped trend (:mod:`.statistical`)
``"theta"``            :class:`StatisticalMember`: the Theta method
``"arima"``            :class:`StatisticalMember`: ARIMA(p, d, 0)
=====================  =========================================================================

Adding a candidate: subclass :class:`Candidate` (``fit``, ``forecast``, and ``get_state`` /
``restore`` when it has fitted state), register it in :data:`MEMBERS`, and name it in the mixes
of :mod:`fastlstm.forecast.backtest`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..nn.layers import LSTMRegressor
from . import network, statistical
from .esrnn import ESRNN
from .prepare import forward_transform, inverse_transform, seasonal_at, to_z
from .scalers import StandardScaler, scaler_from_config

__all__ = [
    "MEMBERS",
    "NETWORK",
    "NETWORKS",
    "Candidate",
    "Drift",
    "ESRNNNetwork",
    "LSTMEnsemble",
    "Prepared",
    "SeasonalNaive",
    "StatisticalMember",
    "forecasts",
    "mix",
    "names",
]

#: the name of the learned candidate in every mix: the back-test's anchor (it wins ties, and a
#: seasonal series' pick is shrunk towards it)
NETWORK = "network"


@dataclass
class Prepared:
    """The panel as every candidate sees it (fitted state of the Forecaster, no copies).

    Attributes
    ----------
    series : list of numpy.ndarray
        The training series, original units.
    log : numpy.ndarray of bool
        Per series, whether its transformed scale is the log.
    seasonal : list of (numpy.ndarray or None)
        Per series, the classical seasonal indices on the transformed scale.
    season, horizon, lookback, out_steps : int
        Season length, forecast block, past steps the network reads, network outputs per block.
    covariates : list of numpy.ndarray or None
        Known-future covariates, one ``(T_i, F)`` array per series.
    """

    series: list
    log: np.ndarray
    seasonal: list
    season: int
    horizon: int
    lookback: int
    out_steps: int
    covariates: list | None = None

    def z(self, i: int, s: np.ndarray) -> np.ndarray:
        """History ``s`` of series ``i`` on the z scale (transformed, seasonal indices removed)."""
        return to_z(s, self.log[i], self.seasonal[i])

    def seasonal_at(self, i: int, origins: np.ndarray, h: int) -> np.ndarray:
        """Series ``i``'s seasonal indices at the ``h`` steps from each origin, (n_origins, h)."""
        return seasonal_at(self.seasonal[i], np.asarray(origins)[:, None] + np.arange(h)[None, :])

    def original(self, i: int, fz: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """Z-scale forecasts of series ``i`` in the original units."""
        with np.errstate(over="ignore", invalid="ignore"):
            return inverse_transform(fz + self.seasonal_at(i, origins, fz.shape[1]), self.log[i])


class Candidate:
    """The protocol: what a forecast must offer to be chosen by the back-test.

    ``fit`` learns from the first ``ends[i]`` points of each series ``i`` in ``rows``;
    ``forecast`` gives ``(n_origins, h)`` forecasts in the original units of series ``i`` from
    each origin (index of the first forecast step) of a history ``s`` that starts at the fitted
    series' season position. Candidates with fitted state give it to checkpoints as arrays and a
    JSON-able config (``get_state``) and rebuild from them (``restore``).
    """

    #: whether the candidate reads known-future covariates
    covariates = False
    #: whether ``fit`` accepts a validation tail (``val``)
    validation = False
    #: whether series shorter than the lookback are forecast (padded on the left)
    pads = True

    def fit(self, data: Prepared, rows, ends, **kwargs) -> Candidate:
        """Fit on the first ``ends[k]`` points of series ``rows[k]`` (nothing to fit by default)."""
        return self

    def forecast(self, data: Prepared, i: int, s: np.ndarray, origins: np.ndarray, h: int, cov=None):
        """Forecasts ``(n_origins, h)`` of series ``i`` in the original units."""
        raise NotImplementedError

    @classmethod
    def check_inputs(cls, model: str, **given) -> None:
        """Refuse inputs this candidate cannot read: ``X`` and ``static`` without
        :attr:`covariates`, ``val_size`` without :attr:`validation` (``ValueError`` naming it).

        Parameters
        ----------
        model : str
            The Forecaster's ``model``, for the message.
        **given
            Input name -> whether it was given.
        """
        can = {"X": cls.covariates, "static": cls.covariates, "val_size": cls.validation}
        for name, value in given.items():
            if value and not can[name]:
                raise ValueError(f"{name}: not supported with model={model!r}")

    def positional(self, i: int) -> bool:
        """Whether series ``i``'s forecast depends on the season position beyond the classical
        seasonal indices (a learned season)."""
        return False

    def get_state(self) -> tuple[dict, dict]:
        """``(arrays, config)`` of the fitted state for a checkpoint (empty by default)."""
        return {}, {}

    def restore(self, data: Prepared, arrays: dict, config: dict) -> Candidate:
        """Rebuild the fitted state from :meth:`get_state`'s output (nothing by default)."""
        return self


class SeasonalNaive(Candidate):
    """The value one season before (the last value without a season, or when an origin has less
    than one season of history)."""

    def forecast(self, data, i, s, origins, h, cov=None):
        j = np.arange(h)[None, :]
        m = data.season if int(origins.min()) >= data.season else 1
        return s[origins[:, None] - m + (j % m)]


class Drift(Candidate):
    """The line through the series' first point and the last before the origin."""

    def forecast(self, data, i, s, origins, h, cov=None):
        j = np.arange(h)[None, :]
        o = origins[:, None]
        last = s[o - 1]
        slope = (last - s[0]) / np.maximum(o - 1, 1)
        return last + (j + 1) * slope


class StatisticalMember(Candidate):
    """One method of :mod:`.statistical` on the z scale, its parameters fitted per series and
    run forward from each origin (refitted on a history too short for them, e.g. a shorter
    ``y`` than the fit's, or after loading a file without them)."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.params_: dict[int, dict] = {}

    def fit(self, data, rows, ends, **kwargs):
        for i, end in zip(rows, ends, strict=True):
            self.params_[i] = statistical.fit(data.z(i, data.series[i][:end]), self.method)
        return self

    def forecast(self, data, i, s, origins, h, cov=None):
        z = data.z(i, s)
        fz = None
        if i in self.params_:
            try:
                fz = statistical.forecast_from(self.params_[i], z, origins, h)
            except (ValueError, KeyError):  # a history shorter than the AR order
                pass
        if fz is None:  # no parameters (a file without them), or too short a history for them
            fz = statistical.forecast_from(statistical.fit(z, self.method), z, origins, h)
        return data.original(i, fz, origins)

    def get_state(self):
        arrays = {
            f"stat{i}.{self.method}.{key}": np.asarray(value)
            for i, params in sorted(self.params_.items())
            for key, value in params.items()
            if key != "method"
        }
        return arrays, {}

    def restore(self, data, arrays, config):
        prefix = f".{self.method}."
        for key, value in arrays.items():
            if key.startswith("stat") and prefix in key:
                i, name = key[len("stat") :].split(prefix)
                if not i.isdigit() or int(i) >= len(data.series):
                    continue  # not this forecaster's: the checkpoint refuses it as unexpected
                params = self.params_.setdefault(int(i), {"method": self.method})
                params[name] = value.item() if value.ndim == 0 else value
        return self


class _Network(Candidate):
    """The learned candidate's common part: a model trained on the panel's rows, forecasting on
    the z scale; ``forecast`` maps to the original units. Its rows are addressed by series number
    (a back-test trains it on the series long enough for one)."""

    def __init__(self, params: dict, seeds) -> None:
        self.params = params
        self.seeds = list(seeds)
        self.row_: dict[int, int] = {}

    def forecast_z(self, data, i, s, origins, h, cov=None) -> np.ndarray:
        """Forecasts ``(n_origins, h)`` on the z scale (seasonal indices removed)."""
        raise NotImplementedError

    def forecast_transformed(self, data, i, s, origins, h, cov=None) -> np.ndarray:
        """Forecasts ``(n_origins, h)`` on the transformed scale (seasonal indices included)."""
        return self.forecast_z(data, i, s, origins, h, cov) + data.seasonal_at(i, origins, h)

    def forecast(self, data, i, s, origins, h, cov=None):
        return data.original(i, self.forecast_z(data, i, s, origins, h, cov), origins)


def _pad(z: np.ndarray, cov, need: int) -> tuple:
    """``z`` (and its covariate rows) repeated at their first value on the left to ``need`` points,
    and how many were added."""
    p = max(0, need - len(z))
    if not p:
        return z, cov, 0
    z = np.concatenate([np.full(p, z[0]), z])
    cov = None if cov is None else np.concatenate([np.repeat(cov[:1], p, axis=0), cov])
    return z, cov, p


class LSTMEnsemble(_Network):
    """``n_models`` LSTMs trained on windows of every series, the median of their outputs
    (:mod:`.network`: windows, normalisation, scaling, block chaining). A series shorter than
    the lookback (in a panel of longer ones) is padded on the left with its first value, for
    training and forecasting, as N-BEATS and ES-RNN padded M4's short series."""

    covariates = True
    validation = True

    def fit(self, data, rows, ends, val: int = 0, stage: str = "fit", bar=None, **kwargs):
        zs = [data.z(i, data.series[i][:e]) for i, e in zip(rows, ends, strict=True)]
        covs = (
            None
            if data.covariates is None
            else [data.covariates[i][:e] for i, e in zip(rows, ends, strict=True)]
        )
        need = data.lookback + data.out_steps + val
        padded = [_pad(z, None if covs is None else covs[k], need) for k, z in enumerate(zs)]
        zs = [z for z, _, _ in padded]
        covs = None if covs is None else [c for _, c, _ in padded]
        raw = [data.series[i] for i in rows]
        x_tr, y_tr, validation, self.scalers_, self.cov_scaler_ = network.training_data(
            zs, covs, val, data.lookback, data.out_steps, self.params, raw
        )
        self.models_, self.histories_, self.epochs_, self.batch_size_ = network.train_networks(
            x_tr, y_tr, validation, self.seeds, self.params, bar, stage
        )
        self.row_ = {i: k for k, i in enumerate(rows)}
        return self

    def forecast_z(self, data, i, s, origins, h, cov=None):
        k = self.row_[i]
        block = network.ensemble_block(
            self.models_,
            self.scalers_[k],
            self.cov_scaler_,
            self.params["normalize"],
            np.dtype(self.params["dtype"]),
        )
        z, cov, p = _pad(data.z(i, s), cov, len(s) + max(0, data.lookback - int(origins.min())))
        return network.chain_blocks(z, origins + p, h, data.lookback, data.out_steps, block, cov)

    def get_state(self):
        arrays = {}
        for j, model in enumerate(self.models_):
            for name, value in model.state_dict().items():
                arrays[f"model{j}.{name}"] = value
        for i, k in self.row_.items():
            if self.scalers_[k] is not None:
                for key, value in self.scalers_[k].get_state().items():
                    arrays[f"scaler{i}.{key}"] = value
        if self.cov_scaler_ is not None:
            for key, value in self.cov_scaler_.get_state().items():
                arrays[f"cov_scaler.{key}"] = value
        config = {
            "scalers": [
                None if self.scalers_[k] is None else self.scalers_[k].get_config()
                for k in self.row_.values()
            ],
            "model": self.models_[0].get_config(),
            "epochs": self.epochs_,
            "batch_size": self.batch_size_,
        }
        return arrays, config

    def restore(self, data, arrays, config):
        self.scalers_ = []
        for i, sc_cfg in enumerate(config["scalers"]):
            sc = None
            if sc_cfg is not None:
                sc = scaler_from_config(sc_cfg).set_state(
                    {"center": arrays[f"scaler{i}.center"], "scale": arrays[f"scaler{i}.scale"]}
                )
            self.scalers_.append(sc)
        if len(self.scalers_) != len(data.series):
            raise KeyError(f"{len(self.scalers_)} scalers for {len(data.series)} series")
        self.row_ = {i: i for i in range(len(data.series))}
        self.cov_scaler_ = None
        if data.covariates is not None:
            self.cov_scaler_ = StandardScaler().set_state(
                {"center": arrays["cov_scaler.center"], "scale": arrays["cov_scaler.scale"]}
            )
        self.models_ = _networks(arrays, config, self.params["n_models"])
        self.histories_ = []
        self.epochs_, self.batch_size_ = int(config["epochs"]), int(config["batch_size"])
        return self


class ESRNNNetwork(_Network):
    """The ES-RNN-style hybrid (:mod:`.esrnn`): per-series level and seasonal smoothing learned by
    gradient with one global LSTM, on the transformed scale (its own normalisation: the
    Forecaster's ``scaler``, ``normalize`` and classical seasonal indices do not reach it)."""

    pads = False

    def fit(self, data, rows, ends, **kwargs):
        logs = [forward_transform(data.series[i][:e], data.log[i]) for i, e in zip(rows, ends, strict=True)]
        self.esrnn_ = network.train_esrnn(
            logs, data.season, data.horizon, data.lookback, self.seeds[0], self.params
        )
        self.models_, self.histories_ = self.esrnn_.networks_, self.esrnn_.losses_
        self.epochs_, self.batch_size_ = self.esrnn_.epochs_, self.esrnn_.batch_size_
        self.row_ = {i: k for k, i in enumerate(rows)}
        return self

    def forecast_transformed(self, data, i, s, origins, h, cov=None):
        return self.esrnn_._forecast(self.row_[i], forward_transform(s, data.log[i]), origins, h)

    def forecast_z(self, data, i, s, origins, h, cov=None):
        return self.forecast_transformed(data, i, s, origins, h) - data.seasonal_at(i, origins, h)

    def positional(self, i):
        return bool(self.esrnn_.seasonal_[self.row_[i]])

    def get_state(self):
        arrays = {}
        for j, model in enumerate(self.models_):
            for name, value in model.state_dict().items():
                arrays[f"model{j}.{name}"] = value
        for key, value in self.esrnn_.get_state().items():
            arrays[f"esrnn.{key}"] = value
        config = {
            "scalers": [None] * len(self.row_),
            "model": self.models_[0].get_config(),
            "esrnn": self.esrnn_.get_config(),
            "epochs": self.epochs_,
            "batch_size": self.batch_size_,
        }
        return arrays, config

    def restore(self, data, arrays, config):
        self.models_ = _networks(arrays, config, self.params["n_models"])
        state = {k[len("esrnn.") :]: v for k, v in arrays.items() if k.startswith("esrnn.")}
        logs = [forward_transform(s, log) for s, log in zip(data.series, data.log, strict=True)]
        self.esrnn_ = ESRNN.restore(config["esrnn"], state, self.models_, logs)
        self.histories_ = []
        self.row_ = {i: i for i in range(len(data.series))}
        self.epochs_, self.batch_size_ = int(config["epochs"]), int(config["batch_size"])
        return self


def _networks(arrays: dict, config: dict, n_models: int) -> list:
    models = []
    for j in range(n_models):
        model = LSTMRegressor.from_config(config["model"], seed=0)
        prefix = f"model{j}."
        model.load_state_dict({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
        model.eval()
        models.append(model)
    return models


#: the learned candidate of each ``Forecaster(model=...)``
NETWORKS = {"lstm": LSTMEnsemble, "esrnn": ESRNNNetwork}

#: the other candidates, by name, in the order of every mix's sum (after the network)
MEMBERS = {
    "seasonal naive": SeasonalNaive,
    "drift": Drift,
    "damped": lambda: StatisticalMember("damped"),
    "theta": lambda: StatisticalMember("theta"),
    "arima": lambda: StatisticalMember("arima"),
}


def names() -> tuple[str, ...]:
    """Every candidate's name, the network first then :data:`MEMBERS` in order: the order mixes
    are summed in (a candidate registered later is included)."""
    return (NETWORK, *MEMBERS)


def forecasts(candidates: dict, data: Prepared, which, i: int, s, origins, h: int, cov=None) -> dict:
    """The forecasts ``(n_origins, h)`` in original units of the candidates named ``which`` for
    series ``i`` from ``origins`` of its history ``s`` (covariate rows ``cov``): the one loop over
    candidates behind ``predict``, the intervals and both back-tests."""
    return {name: candidates[name].forecast(data, i, s, origins, h, cov) for name in which}


def mix(weights: dict, forecasts: dict) -> np.ndarray:
    """``sum(w_c forecast_c)`` over the candidates with weight, in the order of :func:`names`
    (terms with weight 0 left out: no NaN leaks)."""
    out = np.zeros(np.shape(next(iter(forecasts.values()))))
    for name in names():
        w = weights.get(name, 0.0)
        if w:
            out = out + w * forecasts[name]
    return out
