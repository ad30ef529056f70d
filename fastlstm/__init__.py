"""fastlstm: LSTMs trained on the CPU with fused Numba kernels and exact BPTT."""

from __future__ import annotations

import importlib as _importlib
import sys as _sys

from . import (
    _threads,  # noqa: F401 - first: sets the OpenMP wait policy before Numba loads OpenMP
    forecast,
    kernels,
    nn,
    train,
)
from ._threads import get_num_threads, set_num_threads, threads
from .forecast import (
    Backtest,
    FitFailure,
    FitManyError,
    Forecaster,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
    Windows,
    baselines,
    fit_many,
    load_airpassengers,
    make_windows,
    metrics,
    sliding_windows,
)
from .nn import LSTM, HuberLoss, Linear, LSTMRegressor, MAELoss, Module, MSELoss, Parameter
from .train import (
    SGD,
    Adam,
    AdamW,
    Callback,
    CheckpointCallback,
    CosineAnnealingLR,
    History,
    LambdaCallback,
    NonFiniteError,
    ReduceLROnPlateau,
    StepLR,
    Trainer,
    clip_grad_norm,
    fit,
    load_checkpoint,
    load_module,
    load_optimizer,
    save_checkpoint,
    save_module,
    save_optimizer,
)

#: Module paths of fastlstm 0.1, before the subpackages (docs/architecture.md). They stay
#: importable (``from fastlstm.training import Trainer``) as names for the moved modules.
_OLD_PATHS = {
    "lstm": "nn.lstm",
    "module": "nn.module",
    "losses": "nn.losses",
    "stepper": "nn.stepper",
    "training": "train.trainer",
    "optim": "train.optim",
    "schedules": "train.schedules",
    "io": "train.io",
    "distributed": "train.distributed",
    "baselines": "forecast.baselines",
    "metrics": "forecast.metrics",
    "windows": "forecast.windows",
    "scalers": "forecast.scalers",
    "datasets": "forecast.datasets",
    "decompose": "forecast.decompose",
    "timeindex": "forecast.timeindex",
    "evaluate": "forecast.evaluate",
    "parallel": "forecast.fit_many",
}
for _old, _new in _OLD_PATHS.items():
    _sys.modules.setdefault(f"{__name__}.{_old}", _importlib.import_module(f"{__name__}.{_new}"))
del _old, _new


def __getattr__(name: str):
    """``fastlstm.training`` and the other old module paths, as attributes."""
    if name in _OLD_PATHS:
        return _sys.modules[f"{__name__}.{name}"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "LSTM",
    "SGD",
    "Adam",
    "AdamW",
    "Backtest",
    "Callback",
    "CheckpointCallback",
    "CosineAnnealingLR",
    "FitFailure",
    "FitManyError",
    "Forecaster",
    "History",
    "HuberLoss",
    "LSTMRegressor",
    "LambdaCallback",
    "Linear",
    "MAELoss",
    "MSELoss",
    "MinMaxScaler",
    "Module",
    "NonFiniteError",
    "Parameter",
    "ReduceLROnPlateau",
    "RobustScaler",
    "StandardScaler",
    "StepLR",
    "Trainer",
    "Windows",
    "__version__",
    "baselines",
    "clip_grad_norm",
    "fit",
    "fit_many",
    "forecast",
    "get_num_threads",
    "kernels",
    "load_airpassengers",
    "load_checkpoint",
    "load_module",
    "load_optimizer",
    "make_windows",
    "metrics",
    "nn",
    "save_checkpoint",
    "save_module",
    "save_optimizer",
    "set_num_threads",
    "sliding_windows",
    "threads",
    "train",
]
