"""fastlstm: LSTMs trained on the CPU with fused Numba kernels and exact BPTT."""

from __future__ import annotations

from . import kernels
from ._threads import get_num_threads, set_num_threads, threads
from .lstm import LSTM
from .module import Module, Parameter

__version__ = "0.1.0"

__all__ = [
    "LSTM",
    "Module",
    "Parameter",
    "__version__",
    "get_num_threads",
    "kernels",
    "set_num_threads",
    "threads",
]
