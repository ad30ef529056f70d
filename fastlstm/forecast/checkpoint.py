"""A fitted :class:`~fastlstm.forecast.forecaster.Forecaster` as checkpoint arrays and config.

:meth:`Forecaster.save` writes :func:`fitted_state` with :func:`fastlstm.train.io.save_checkpoint`;
:meth:`Forecaster.load` reads it back with :func:`restore`. Arrays: ``model{j}.*`` (each network's
weights), ``series{i}``, ``covariates{i}``, ``scaler{i}.*``, ``cov_scaler.*``, ``seasonal{i}``,
``mix``, ``stat{i}.{method}.*`` (the parameters of the statistical members in series i's mix),
``calibration.*``, ``esrnn.*`` (``model="esrnn"``: the smoothing parameters); the config holds
the constructor's parameters and what fit decided, and, in files written by
:func:`save_with_history` (the command line's ``--save``), a ``history`` entry: the training
history's labels (value column, series ids, first and last dates, frequency), which
:func:`load_with_history` returns (None for files without it; :meth:`Forecaster.load` ignores it).
"""

from __future__ import annotations

import numpy as np

from ..nn.layers import LSTMRegressor
from ..train import io as _io
from .backtest import CANDIDATES
from .esrnn import ESRNN
from .prepare import forward_transform
from .scalers import StandardScaler, scaler_from_config

__all__ = ["KIND", "fitted_state", "load_with_history", "restore", "save_with_history"]

#: the checkpoint kind of a forecaster
KIND = "forecaster"


def _json_id(u):
    """A name or panel id as a JSON value: NumPy scalars to Python ones, anything else but
    None, str, int and float to its string."""
    u = u.item() if isinstance(u, np.generic) else u
    return u if u is None or isinstance(u, (str, int, float)) else str(u)


def _config_params(f) -> dict:
    """JSON-able parameters of ``f`` (``comm`` left out)."""
    params = f.get_params()
    params.pop("comm")
    params["dtype"] = np.dtype(f.dtype).name
    return params


def fitted_state(f) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and the JSON config of the fitted forecaster ``f``."""
    arrays: dict[str, np.ndarray] = {}
    for j, model in enumerate(f.models_):
        for name, value in model.state_dict().items():
            arrays[f"model{j}.{name}"] = value
    for i, s in enumerate(f.series_):
        arrays[f"series{i}"] = s
        if f.covariates_ is not None:
            arrays[f"covariates{i}"] = f.covariates_[i]
        if f.scalers_[i] is not None:
            for key, value in f.scalers_[i].get_state().items():
                arrays[f"scaler{i}.{key}"] = value
    if f.cov_scaler_ is not None:
        for key, value in f.cov_scaler_.get_state().items():
            arrays[f"cov_scaler.{key}"] = value
    for i, ind in enumerate(f.seasonal_):
        if ind is not None:
            arrays[f"seasonal{i}"] = ind
    arrays["mix"] = f.mix_
    for i, members in enumerate(getattr(f, "stat_params_", None) or []):
        for method, params in members.items():  # the statistical members of the series' mix
            for key, value in params.items():
                if key != "method":
                    arrays[f"stat{i}.{method}.{key}"] = np.asarray(value)
    if f.model == "esrnn":  # the smoothing parameters (its networks are the model{j} above)
        for key, value in f.esrnn_.get_state().items():
            arrays[f"esrnn.{key}"] = value
    if hasattr(f, "scores_"):
        arrays["calibration.scores"] = f.scores_
        arrays["calibration.step_scale"] = f.step_scale_
        arrays["calibration.noise_scale"] = f.noise_scale_
    config = {
        "params": _config_params(f),
        "fitted": {
            "log": f.log_,
            "form": f.form_,
            "n_series": f.n_series_,
            "n_covariates": f.n_covariates_,
            "fit_time": f.fit_time_,
            "season": f.season_,
            "horizon": f.horizon_,
            "input_size": f.input_size_,
            "epochs": f.epochs_,
            "batch_size": f.batch_size_,
            "calibration": f.calibration_,
            "index": f.index_,
            "ids": None if f.ids_ is None else [_json_id(u) for u in f.ids_],
            "columns": None if f.columns_ is None else [_json_id(c) for c in f.columns_],
            "series_name": _json_id(f.series_name_),
            "scalers": [None if sc is None else sc.get_config() for sc in f.scalers_],
            "model": f.models_[0].get_config(),
        },
    }
    if f.model == "esrnn":
        config["fitted"]["esrnn"] = f.esrnn_.get_config()
    return arrays, config


def restore(cls, a: dict, cfg: dict):
    """A fitted ``cls`` from :func:`fitted_state`'s arrays ``a`` and config ``cfg``.

    Raises
    ------
    KeyError, TypeError, AttributeError
        A missing, extra or inconsistent entry (:meth:`Forecaster.load` reports which file).
    """
    params, fitted = dict(cfg["params"]), cfg["fitted"]
    params["dtype"] = {"float32": np.float32, "float64": np.float64}.get(params["dtype"], params["dtype"])
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
    mixes = np.asarray(a["mix"], dtype=np.float64)
    width = mixes.shape[-1] if mixes.ndim == 2 else len(CANDIDATES)
    if width > len(CANDIDATES):
        raise KeyError(f"mix: {width} candidate weights, this version knows {len(CANDIDATES)}")
    # files written before the statistical members hold 3 weights (network, snaive, drift)
    f.mix_ = np.zeros((mixes.size // width, len(CANDIDATES)))
    f.mix_[:, :width] = mixes.reshape(-1, width)
    # statistical members' parameters (files without them refit on the series when predicting)
    f.stat_params_ = [{} for _ in range(int(fitted["n_series"]))]
    for key, value in a.items():
        if key.startswith("stat"):
            i, method, name = key[len("stat") :].split(".")
            params = f.stat_params_[int(i)].setdefault(method, {"method": method})
            params[name] = value.item() if value.ndim == 0 else value
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
    if f.model == "esrnn":
        state = {k[len("esrnn.") :]: v for k, v in a.items() if k.startswith("esrnn.")}
        logs = [forward_transform(s, f.log_) for s in f.series_]
        f.esrnn_ = ESRNN.restore(fitted["esrnn"], state, f.models_, logs)
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
        "stat",
        "calibration.",
        "esrnn.",
    ) + tuple(f"model{j}." for j in range(f.n_models))
    extra = sorted(k for k in a if not k.startswith(used))
    if extra:
        raise KeyError(f"unexpected arrays {extra[:5]}")
    return f


def save_with_history(f, path, history: dict) -> str:
    """:meth:`Forecaster.save` with the training history's labels in the config's ``history``.

    Parameters
    ----------
    f : Forecaster
        Fitted (without ``comm``: one process writes).
    path : str or os.PathLike
    history : dict
        JSON-able labels of the training history (the command line stores ``name``, ``ids``,
        ``id_col``, ``time_col``, ``freq``, ``first``, ``last``, ``lengths``).

    Returns
    -------
    str
        The path written.
    """
    if not isinstance(history, dict):
        raise TypeError(f"history: expected a dict, got {type(history).__name__}")
    if not f.fitted:
        raise RuntimeError("Forecaster: call fit (or load) before save")
    arrays, config = fitted_state(f)
    config["history"] = history
    return _io.save_checkpoint(path, KIND, arrays, config)


def load_with_history(cls, path) -> tuple:
    """A forecaster as :meth:`Forecaster.load` reads it, and the ``history`` entry of its file.

    Returns
    -------
    (Forecaster, dict or None)
        None for files written without a history (:meth:`Forecaster.save`, older files).

    Raises
    ------
    ValueError
        Not a forecaster checkpoint, or a corrupt or inconsistent one.
    """
    ckpt = _io.load_checkpoint(path, kind=KIND)
    try:
        f = restore(cls, ckpt.arrays, ckpt.config)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: inconsistent forecaster checkpoint ({type(exc).__name__}: {exc})") from exc
    history = ckpt.config.get("history")
    return f, history if isinstance(history, dict) else None
