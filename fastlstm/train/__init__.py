"""Training: the loop, its callbacks, optimisers, schedules, checkpoints and data parallelism.

Built on :mod:`fastlstm.nn`; knows nothing of forecasting.

- ``trainer``: :class:`Trainer` and :func:`fit` (the public entry, which validates).
- ``loop``: one checked step and one epoch of ``fit``, :class:`History`, :class:`NonFiniteError`.
- ``callbacks``: :class:`Callback`, :class:`LambdaCallback`, :class:`CheckpointCallback`.
- ``checkpoint``: saving the whole training state and resuming from it.
- ``optim``: :class:`SGD`, :class:`Adam`, :class:`AdamW`, gradient clipping.
- ``schedules``: learning-rate schedules.
- ``io``: checksummed, atomically written checkpoints of modules, optimisers and training state.
- ``distributed``: MPI data parallelism (:class:`DataParallel`).
- ``sources``: :class:`EpochSource`, training samples drawn afresh for each epoch.
"""

from __future__ import annotations

from .callbacks import Callback, CheckpointCallback, LambdaCallback
from .io import load_checkpoint, load_module, load_optimizer, save_checkpoint, save_module, save_optimizer
from .loop import History, NonFiniteError
from .optim import SGD, Adam, AdamW, Optimizer, clip_grad_norm
from .schedules import CosineAnnealingLR, LRScheduler, ReduceLROnPlateau, StepLR
from .sources import EpochSource
from .trainer import Trainer, fit

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "Callback",
    "CheckpointCallback",
    "CosineAnnealingLR",
    "EpochSource",
    "History",
    "LRScheduler",
    "LambdaCallback",
    "NonFiniteError",
    "Optimizer",
    "ReduceLROnPlateau",
    "StepLR",
    "Trainer",
    "clip_grad_norm",
    "fit",
    "load_checkpoint",
    "load_module",
    "load_optimizer",
    "save_checkpoint",
    "save_module",
    "save_optimizer",
]
