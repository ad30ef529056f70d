"""fastlstm: LSTMs trained on the CPU with fused Numba kernels and exact BPTT."""

from __future__ import annotations

import importlib as _importlib
import importlib.abc  # noqa: F401 - _importlib.abc
import importlib.util  # noqa: F401 - _importlib.util
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


_OWN_SPECS: dict = {}


class _OldPathFinder(_importlib.abc.MetaPathFinder, _importlib.abc.Loader):
    """Imports of an old module path (``fastlstm.training``) load the moved module, on first use:
    ``import fastlstm`` itself loads none of them (the evaluation, MPI and process-pool modules
    stay unimported until asked for)."""

    def find_spec(self, fullname, path=None, target=None):
        prefix, _, old = fullname.partition(".")
        if prefix != __name__ or old not in _OLD_PATHS:
            return None
        return _importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = _importlib.import_module(f"{__name__}.{_OLD_PATHS[spec.name.partition('.')[2]]}")
        _OWN_SPECS[id(module)] = module.__spec__  # the import system sets the alias's spec on it next
        return module

    def exec_module(self, module):
        """Nothing to run (the moved module is already executed): give it back its own spec,
        which the import system just replaced by the alias's."""
        module.__spec__ = _OWN_SPECS.pop(id(module))


if not any(isinstance(f, _OldPathFinder) for f in _sys.meta_path):
    _sys.meta_path.append(_OldPathFinder())


def __getattr__(name: str):
    """``fastlstm.training`` and the other old module paths, as attributes (imported on first use)."""
    if name in _OLD_PATHS:
        return _importlib.import_module(f"{__name__}.{name}")
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
