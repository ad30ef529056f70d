"""The Forecaster's constructor arguments: their declared constraints and the checks across them.

The constructor only stores its arguments (scikit-learn's convention); :meth:`Forecaster.fit`
validates them against :data:`CONSTRAINTS` (one message format, :mod:`fastlstm._params`) and
:func:`check_params`. Their names come from the constructor's signature
(:func:`fastlstm._params.param_names`).
"""

from __future__ import annotations

from .._params import Interval, Options, validate_params
from .candidates import NETWORKS

__all__ = ["CONSTRAINTS", "RENAMED", "check_params"]

_POSITIVE_INT = Interval(int, 1)

#: the accepted values of each constructor argument
CONSTRAINTS = {
    "lookback": [_POSITIVE_INT, None],
    "horizon": [_POSITIVE_INT, None],
    "hidden_size": [_POSITIVE_INT],
    "num_layers": [_POSITIVE_INT],
    "strategy": [Options("mimo", "recursive")],
    "scaler": [Options("standard", "minmax", "robust"), None],
    "transform": [Options("auto", "log"), None],
    "normalize": [Options("window", "last"), None],
    "season_length": [Options("auto"), _POSITIVE_INT],
    "deseasonalize": [Options("auto", True, False)],
    "epochs": [_POSITIVE_INT, None],
    "lr": [Interval(float, 0.0, None, closed="neither")],
    "batch_size": [_POSITIVE_INT, None],
    "weight_decay": [Interval(float, 0.0)],
    "clip_norm": [Interval(float, 0.0, None, closed="neither"), None],
    "n_models": [_POSITIVE_INT],
    "loss": [Options("mae", "mse", "huber", "l1")],
    "dropout": [Interval(float, 0.0, 1.0, closed="left")],
    "patience": [Interval(int, 0), None],
    "fallback": ["boolean"],
    "conformal": ["boolean"],
    "dtype": ["dtype"],
    "seed": [Interval(int, 0), None],
    "verbose": ["boolean"],
    "comm": ["any"],
    "model": [Options(*NETWORKS)],
}

#: arguments renamed for one name per concept (the old names warn for one release)
RENAMED = {"season": "season_length", "input_size": "lookback", "progress": "verbose"}


def check_params(params: dict) -> None:
    """Validate the Forecaster's arguments ``params`` (:meth:`~Forecaster.get_params`): each
    against :data:`CONSTRAINTS`, then the rules across them."""
    validate_params(params, CONSTRAINTS)
    if params["model"] == "esrnn" and params["strategy"] != "mimo":
        raise ValueError(
            f"strategy: model='esrnn' expected 'mimo' (one block of outputs), got {params['strategy']!r}"
        )
