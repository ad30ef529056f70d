r"""Benchmark fastlstm against PyTorch's ``nn.LSTM`` (or a NumPy LSTM): ``python -m fastlstm.bench``.

For every configuration (one layer, ``B`` batch rows, ``T`` steps, ``I`` inputs,
``H`` hidden units, a dtype) the script

1. checks fastlstm once against a float64 oracle (PyTorch in float64, or the NumPy
   reference below without PyTorch): outputs, final states and every gradient;
2. times, after warm-up, the median over ``--repeat`` samples of

   * a training step: ``zero_grad()``, forward over the whole sequence, backward
     with an upstream gradient on every ``h_t``, giving the input gradient and every
     parameter gradient (fastlstm through its :class:`~fastlstm.LSTM` layer, PyTorch
     with ``x.requires_grad = True`` and ``y.backward(dy)``);
   * inference: one forward (fastlstm in ``eval()``, PyTorch under
     ``torch.inference_mode()``); for ``T = 1`` (the ``step`` configuration) the
     state is carried from call to call: streaming latency;

   with PyTorch, ``fastlstm.torch.LSTM`` (the ``torch.nn.Module`` on fastlstm's kernels)
   is timed exactly as ``torch.nn.LSTM`` is, in rows of its own;

3. derives speed-ups (baseline time / fastlstm time), GFLOP/s and their share of the
   NumPy matrix-product rate measured in the same run (the practical ceiling);
4. measures the peak memory of one training step of each library in a child process
   (see :func:`measure_peak_memory`).

FLOP count: a forward pass does ``2 T B 4H (I + H)`` (the two products of (F1) and
(F2), a multiply and an add per term; the pointwise work is not counted), a training
step three times that (forward, and the two products of the backward (B6)-(B8)).

Nothing here is imported by ``import fastlstm``; PyTorch and Matplotlib are optional
(``pip install 'fastlstm[bench]'``; PyTorch: ``pip install torch==2.13.0``).
"""

from __future__ import annotations

from .cli import main
from .config import CHECK_RTOL, PROJECTION_CONFIGS, REFERENCE_CONFIGS, SCHEMA, Config, parse_config
from .environment import environment_info
from .memory import measure_cold_start, measure_peak_memory
from .reference import reference_backward, reference_forward
from .report import format_report, plot_speedups, write_json
from .run import run_benchmarks
from .runners import check_config, matmul_rate, time_call

__all__ = [
    "CHECK_RTOL",
    "SCHEMA",
    "check_config",
    "format_report",
    "write_json",
    "PROJECTION_CONFIGS",
    "REFERENCE_CONFIGS",
    "Config",
    "environment_info",
    "main",
    "matmul_rate",
    "measure_cold_start",
    "measure_peak_memory",
    "parse_config",
    "plot_speedups",
    "reference_backward",
    "reference_forward",
    "run_benchmarks",
    "time_call",
]
