"""fastlstm: LSTMs trained on the CPU with fused Numba kernels and exact BPTT."""

from __future__ import annotations

from . import baselines, kernels, metrics
from ._threads import get_num_threads, set_num_threads, threads
from .datasets import load_airpassengers
from .forecast import Backtest, Forecaster
from .io import load_checkpoint, load_module, load_optimizer, save_checkpoint, save_module, save_optimizer
from .losses import HuberLoss, MAELoss, MSELoss
from .lstm import LSTM
from .module import Module, Parameter
from .nn import Linear, LSTMRegressor
from .optim import SGD, Adam, AdamW, clip_grad_norm
from .parallel import FitFailure, FitManyError, fit_many
from .scalers import MinMaxScaler, RobustScaler, StandardScaler
from .schedules import CosineAnnealingLR, ReduceLROnPlateau, StepLR
from .training import Callback, CheckpointCallback, History, LambdaCallback, NonFiniteError, Trainer, fit
from .windows import Windows, make_windows, sliding_windows

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
    "get_num_threads",
    "kernels",
    "load_airpassengers",
    "load_checkpoint",
    "load_module",
    "load_optimizer",
    "make_windows",
    "metrics",
    "save_checkpoint",
    "save_module",
    "save_optimizer",
    "set_num_threads",
    "sliding_windows",
    "threads",
]
