"""A fitted :class:`~fastlstm.forecast.forecaster.Forecaster` as checkpoint arrays and config.

:meth:`Forecaster.save` writes :func:`fitted_state` with :func:`fastlstm.train.io.save_checkpoint`;
:meth:`Forecaster.load` reads it back with :func:`restore`. The arrays are the candidates' own
(:meth:`~fastlstm.forecast.candidates.Candidate.get_state`: ``model{j}.*``, ``scaler{i}.*``,
``cov_scaler.*`` and ``esrnn.*`` of the network, ``stat{i}.{method}.*`` of the statistical
members) and the Forecaster's: ``series{i}``, ``covariates{i}``, ``static`` (the per-series
static features), ``seasonal{i}``, ``mix`` (one
row of weights per series, columns named by the config's ``candidates``) and ``calibration.*``.
The config holds the constructor's parameters and one record of what fit decided
(``fitted``, the network's config included), and, in files written by
:func:`save_with_history` (the command line's ``--save``), a ``history`` entry: the training
history's labels (value column, series ids, first and last dates, frequency), which
:func:`load_with_history` returns (None for files without it; :meth:`Forecaster.load` ignores it).
Files written before the candidates were named hold the same arrays; their ``mix`` columns are
:data:`LEGACY_ORDER`'s.
"""

from __future__ import annotations

import numpy as np

from ..train import io as _io
from .candidates import MEMBERS, NETWORK, NETWORKS, names
from .params import RENAMED

__all__ = ["KIND", "LEGACY_ORDER", "fitted_state", "load_with_history", "restore", "save_with_history"]

#: the checkpoint kind of a forecaster
KIND = "forecaster"
#: the ``mix`` columns of files that do not name them (3 columns before the statistical members)
LEGACY_ORDER = ("network", "seasonal naive", "drift", "damped", "theta", "arima")


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
    net_config: dict = {}
    for name, cand in f.candidates_.items():
        cand_arrays, cand_config = cand.get_state()
        arrays.update(cand_arrays)
        if name == NETWORK:
            net_config = cand_config
    for i, s in enumerate(f.series_):
        arrays[f"series{i}"] = s
        if f.covariates_ is not None:
            arrays[f"covariates{i}"] = f.covariates_[i]
    for i, ind in enumerate(f.seasonal_):
        if ind is not None:
            arrays[f"seasonal{i}"] = ind
    if f.static_ is not None:
        arrays["static"] = f.static_
    arrays["mix"] = np.array([[w.get(c, 0.0) for c in names()] for w in f.mix_], dtype=np.float64)
    if hasattr(f, "scores_"):
        arrays["calibration.scores"] = f.scores_
        arrays["calibration.step_scale"] = f.step_scale_
        arrays["calibration.noise_scale"] = f.noise_scale_
    config = {
        "params": _config_params(f),
        "fitted": {
            "log": [bool(x) for x in f.log_],
            "form": f.form_,
            "n_series": f.n_series_,
            "n_covariates": f.n_covariates_,
            "fit_time": f.fit_time_,
            "season": f.season_length_,
            "horizon": f.horizon_,
            "input_size": f.lookback_,
            "calibration": f.calibration_,
            "index": f.index_,
            "ids": None if f.ids_ is None else [_json_id(u) for u in f.ids_],
            "columns": None if f.columns_ is None else [_json_id(c) for c in f.columns_],
            "series_name": _json_id(f.series_name_),
            "candidates": list(names()),
            "static_columns": list(f.static_columns_),
            **net_config,
        },
    }
    return arrays, config


def _mixes(a: dict, fitted: dict, n_series: int) -> list[dict]:
    columns = fitted.get("candidates", LEGACY_ORDER)
    unknown = sorted(set(columns) - set(names()))
    if unknown:
        raise KeyError(f"mix: candidates {unknown} unknown to this version")
    rows = np.asarray(a["mix"], dtype=np.float64)
    width = rows.shape[-1] if rows.ndim == 2 else len(columns)
    if rows.ndim > 2 or rows.size % width:
        raise KeyError(f"mix: shape {rows.shape} is not rows of {width} candidate weights")
    rows = rows.reshape(-1, width)
    if width > len(columns):
        raise KeyError(f"mix: {width} candidate weights, {len(columns)} candidates named")
    if len(rows) != n_series:
        raise KeyError(f"{len(rows)} forecast mixes for {n_series} series")
    return [{c: float(x) for c, x in zip(columns[:width], row, strict=True) if x} for row in rows]


def restore(cls, a: dict, cfg: dict):
    """A fitted ``cls`` from :func:`fitted_state`'s arrays ``a`` and config ``cfg``.

    Raises
    ------
    KeyError, TypeError, AttributeError
        A missing, extra or inconsistent entry (:meth:`Forecaster.load` reports which file).
    """
    params, fitted = dict(cfg["params"]), cfg["fitted"]
    params["dtype"] = {"float32": np.float32, "float64": np.float64}.get(params["dtype"], params["dtype"])
    for old, new in RENAMED.items():  # files written before the renaming
        if old in params:
            params[new] = params.pop(old)
    f = cls(**params)
    f.form_ = fitted["form"]
    f.season_length_, f.horizon_, f.lookback_ = (
        int(fitted["season"]),
        int(fitted["horizon"]),
        int(fitted["input_size"]),
    )
    f.calibration_ = fitted["calibration"]
    f.index_, f.ids_ = fitted["index"], fitted["ids"]
    f.columns_, f.series_name_ = fitted["columns"], fitted["series_name"]
    f.n_series_, f.n_covariates_ = int(fitted["n_series"]), int(fitted["n_covariates"])
    log = fitted["log"]  # one bool for the panel in files written before it was per series
    f.log_ = np.array(log if isinstance(log, list) else [log] * f.n_series_, dtype=bool)
    if len(f.log_) != f.n_series_:
        raise KeyError(f"log: {len(f.log_)} flags for {f.n_series_} series")
    f.fit_time_ = float(fitted["fit_time"])
    f.seasonal_ = [a.get(f"seasonal{i}") for i in range(f.n_series_)]
    f.series_ = [a[f"series{i}"] for i in range(f.n_series_)]
    f.covariates_ = [a[f"covariates{i}"] for i in range(f.n_series_)] if f.n_covariates_ else None
    f.static_, f.static_columns_ = a.get("static"), list(fitted.get("static_columns", []))
    f.mix_ = _mixes(a, fitted, f.n_series_)
    if "calibration.scores" in a:
        f.scores_ = a["calibration.scores"]
        f.step_scale_ = a["calibration.step_scale"]
        f.noise_scale_ = a["calibration.noise_scale"]
    data = f._data
    network = NETWORKS[f.model](f.get_params(), [])
    f.candidates_ = {NETWORK: network.restore(data, a, fitted)}
    for name, make in MEMBERS.items():
        f.candidates_[name] = make().restore(data, a, fitted)
    f.epochs_, f.batch_size_ = network.epochs_, network.batch_size_
    f.histories_ = []  # not saved
    extra = sorted(set(a) - set(fitted_state(f)[0]))  # what this file's forecaster writes
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
        why = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc  # a KeyError's str() quotes it
        raise ValueError(f"{path}: inconsistent forecaster checkpoint ({type(exc).__name__}: {why})") from exc
    history = ckpt.config.get("history")
    return f, history if isinstance(history, dict) else None
