"""The network: modules and parameters, the LSTM layer and its stepper, heads and losses.

Built on :mod:`fastlstm.kernels` (the layer calls ``kernels.api`` and nothing private).

- ``module``: :class:`Module` and :class:`Parameter` (parameters, state dicts), ``read_config``.
- ``lstm``: :class:`LSTM`, the multi-layer, optionally bidirectional layer with exact BPTT.
- ``stepper``: :class:`Stepper`, one compiled call per time step for streaming inference.
- ``convert``: the LSTM's weights to and from ``torch.nn.LSTM`` and Keras.
- ``layers``: :class:`Linear` and :class:`LSTMRegressor` (LSTM + linear head).
- ``losses``: :class:`MSELoss`, :class:`MAELoss`, :class:`HuberLoss`.
"""

from __future__ import annotations

from .layers import Linear, LSTMRegressor, derive_seeds
from .losses import HuberLoss, Loss, MAELoss, MSELoss, get_loss
from .lstm import LSTM
from .module import Module, Parameter
from .stepper import Stepper

__all__ = [
    "LSTM",
    "HuberLoss",
    "LSTMRegressor",
    "Linear",
    "Loss",
    "MAELoss",
    "MSELoss",
    "Module",
    "Parameter",
    "Stepper",
    "derive_seeds",
    "get_loss",
]
