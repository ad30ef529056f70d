r"""Numba kernels for the LSTM cell and for batched sequences: forward and exact BPTT.

Notation (the same as ``docs/derivation.md``; equation tags ``(F*)``/``(B*)`` in
the comments refer to it)::

    T, B, I, H    time steps, batch rows, input features, hidden units
    x      [T, B, I]   inputs                 x_t = x[t]
    h, c   [T+1, B, H] hidden and cell states, hs[0] = h0, hs[t+1] = h_t
    W_ih   [4H, I]     input weights          (PyTorch's ``weight_ih_l0``)
    W_hh   [4H, H]     recurrent weights      (PyTorch's ``weight_hh_l0``)
    b      [4H]        b_ih + b_hh
    A_t    [B, 4H]     pre-activations, blocks [A_i | A_f | A_g | A_o]
    gates  [T, B, 4H]  activations [i | f | g | o]  (PyTorch's gate order)
    L      [B]         sequence lengths; row b is frozen for t >= L[b]   (F6)

    (F1) A^x_t = x_t W_ih^T + b                    one product for all t
    (F2) A_t   = A^x_t + h_{t-1} W_hh^T            one product per step
    (F3) i, f, o = sigmoid(A_i, A_f, A_o); g = tanh(A_g)
    (F4) c_t   = f * c_{t-1} + i * g
    (F5) h_t   = o * tanh(c_t)

    (B1) dh_t  = dy_t + dh^rec_t                   dh^rec_{T-1} = dh_n
    (B2) dc_t  = dc^rec_t + dh_t * o * (1 - tanh(c_t)^2)
    (B3) do = dh_t * tanh(c_t); di = dc_t * g; dg = dc_t * i; df = dc_t * c_{t-1}
    (B4) dA_i = di * i(1-i); dA_f = df * f(1-f); dA_g = dg * (1-g^2); dA_o = do * o(1-o)
    (B5) dc^rec_{t-1} = dc_t * f
    (B6) dh^rec_{t-1} = dA_t W_hh                  one product per step
    (B7) dx_t  = dA_t W_ih                         one product for all t
    (B8) dW_ih = sum_t dA_t^T x_t;  dW_hh = sum_t dA_t^T h_{t-1};  db = sum_{t,b} dA_t
    (B9) masked steps: dA_t[b] = 0, dh^rec and dc^rec pass through

Structure (three tiers, as in STUMPY's ``stump -> _stump -> _compute_diagonal``):

* :mod:`~fastlstm.kernels.api` validates and allocates (the public functions),
  and holds the unchecked seam that ``fastlstm.nn`` and ``fastlstm.torch`` call: the
  stacked LSTM (``stack_forward``, ``stack_backward``, its step mode ``stack_pack``,
  ``stack_step``) over ``forward_core``, ``backward_core``, ...;
* :mod:`~fastlstm.kernels.drivers` packs the weights and runs the time loop,
  over batch rows split across threads;
* :mod:`~fastlstm.kernels.simd` (the register-blocked product of (F1)+(F2) or
  (B6) for one panel, in LLVM IR) and the fused pointwise passes of
  :mod:`~fastlstm.kernels.drivers` and the explicit-vector pointwise passes of
  :mod:`~fastlstm.kernels.vecmath` do the arithmetic;
  :mod:`~fastlstm.kernels.activations` holds the scalar leaf functions and
  :mod:`~fastlstm.kernels.compiled` the API for users' own ``@njit`` code.

Following cuDNN/oneDNN, the input and weight gradients (B7, B8) are single large
products after the time loop (on the same micro-kernel; nothing calls BLAS). All
sums run in a fixed order, so results do not depend on the number of threads, in
float32 too (``docs/performance.md``).

Preconditions of the private ``@njit`` functions (the drivers; the public
wrappers enforce them): all float arrays share one dtype (float32 or float64), are C-contiguous
(transposed weights are passed as ``W.T`` views) and have the shapes above;
``lengths`` is int64 with ``0 <= L[b] <= T``. Other dtypes or layouts raise a
Numba ``TypingError`` or ``NotImplementedError`` (never a crash); wrong shapes or
lengths read out of bounds.
"""

from __future__ import annotations

from . import activations, api, compiled, drivers, simd, vecmath  # noqa: F401 (the submodules, as attributes)
from .activations import sigmoid, tanh
from .api import (
    CODE_PATH,
    BackwardResult,
    ForwardCache,
    cell_backward,
    cell_forward,
    lstm_backward,
    lstm_forward,
    timestep_gradients,
)
from .compiled import CellGrads, PackedLSTM, cell_step, cell_step_backward, pack
from .drivers import BAD_GRAD, BAD_STATE, BAD_WEIGHTS, BAD_X, OK  # noqa: F401 (status codes)

__all__ = [
    "BackwardResult",
    "CODE_PATH",
    "CellGrads",
    "ForwardCache",
    "PackedLSTM",
    "cell_backward",
    "cell_forward",
    "cell_step",
    "cell_step_backward",
    "lstm_backward",
    "lstm_forward",
    "pack",
    "sigmoid",
    "tanh",
    "timestep_gradients",
]
