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

Structure (three tiers, as in STUMPY): the public functions at the bottom check
and allocate; the private ``_lstm_*`` drivers run the time loop; the
``_*_pointwise`` kernels do the arithmetic of one step, fused in one pass.
Following cuDNN/oneDNN, the input projection (F1) and the input and weight
gradients (B7, B8) are single large matrix products outside the time loop, and
each step does one recurrent product (F2 or B6) plus one fused pointwise pass.
All reductions run in a fixed order, so results do not depend on the number of
threads.

Preconditions of the private ``@njit`` functions (the public wrappers enforce
them): all float arrays share one dtype (float32 or float64), are C-contiguous
(transposed weights are passed as ``W.T`` views) and have the shapes above;
``lengths`` is int64 with ``0 <= L[b] <= T``. Other dtypes or layouts raise a
Numba ``TypingError`` or ``NotImplementedError`` (never a crash); wrong shapes or
lengths read out of bounds.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.extending import intrinsic, overload

from ._config import JIT
from ._validation import as_float_array, check_shape

__all__ = [
    "BackwardResult",
    "CODE_PATH",
    "ForwardCache",
    "cell_backward",
    "cell_forward",
    "lstm_backward",
    "lstm_forward",
    "sigmoid",
    "tanh",
    "timestep_gradients",
]


class ForwardCache(NamedTuple):
    """What :func:`lstm_backward` needs from :func:`lstm_forward`."""

    x: np.ndarray  #: [T, B, I] inputs
    hs: np.ndarray  #: [T+1, B, H] hidden states, hs[0] = h0
    cs: np.ndarray  #: [T+1, B, H] cell states, cs[0] = c0
    gates: np.ndarray  #: [T, B, 4H] activations i, f, g, o
    lengths: np.ndarray | None  #: [B] int64 sequence lengths, or None (all T)


class BackwardResult(NamedTuple):
    """Gradients returned by :func:`lstm_backward`."""

    dx: np.ndarray  #: [T, B, I]
    dh0: np.ndarray  #: [B, H]
    dc0: np.ndarray  #: [B, H]
    dw_ih: np.ndarray  #: [4H, I]
    dw_hh: np.ndarray  #: [4H, H]
    db: np.ndarray  #: [4H], the gradient of b_ih and of b_hh alike
    dgates: np.ndarray | None  #: [T, B, 4H] dA_t (B4) if kept, else None
    dh_norm: np.ndarray  #: [T] Frobenius norm of dh_t (B1) over the batch
    dc_norm: np.ndarray  #: [T] Frobenius norm of dc_t (B2) over the batch


#: Which implementation runs for each dtype (recorded by the benchmarks).
CODE_PATH = {
    "float32": {
        "activations": "rational tanh (Eigen 13/6), sigmoid via tanh; vectorised",
        "matmul": "BLAS sgemm via numba np.dot (scipy's OpenBLAS)",
        "pointwise": "fused serial @njit loop per step",
    },
    "float64": {
        "activations": "exp by range reduction + degree-13 polynomial, Cephes tanh; vectorised",
        "matmul": "BLAS dgemm via numba np.dot (scipy's OpenBLAS)",
        "pointwise": "fused serial @njit loop per step",
    },
}


# --------------------------------------------------------------------------
# leaf functions
# --------------------------------------------------------------------------
# float32: a 13/6-degree rational tanh (Eigen's ``generic_fast_tanh_float``),
# pure arithmetic, so LLVM vectorises the loops that call it (Numba has no SVML
# with PyPI's llvmlite, and libm's tanhf/expf calls stop vectorisation).
# Inputs are clamped to +-7.9053111, beyond which tanh rounds to +-1 in float32. The
# tests pin its error against float64 tanh to a few ULP.
_T_A1 = np.float32(4.89352455891786e-03)
_T_A3 = np.float32(6.37261928875436e-04)
_T_A5 = np.float32(1.48572235717979e-05)
_T_A7 = np.float32(5.12229709037114e-08)
_T_A9 = np.float32(-8.60467152213735e-11)
_T_A11 = np.float32(2.00018790482477e-13)
_T_A13 = np.float32(-2.76076847742355e-16)
_T_B0 = np.float32(4.89352518554385e-03)
_T_B2 = np.float32(2.26843463243900e-03)
_T_B4 = np.float32(1.18534705686654e-04)
_T_B6 = np.float32(1.19825839466702e-06)
_T_CLAMP = np.float32(7.90531110763549805)


@njit(**JIT)
def _tanh_f32(z):
    x = min(max(z, -_T_CLAMP), _T_CLAMP)
    x2 = x * x
    p = x2 * _T_A13 + _T_A11
    p = p * x2 + _T_A9
    p = p * x2 + _T_A7
    p = p * x2 + _T_A5
    p = p * x2 + _T_A3
    p = p * x2 + _T_A1
    p = p * x
    q = x2 * _T_B6 + _T_B4
    q = q * x2 + _T_B2
    q = q * x2 + _T_B0
    r = p / q
    # min/max drop NaN; put it back so a NaN never passes unnoticed.
    return r if z == z else z


# float64: libm's exp and tanh are scalar calls too. A branch-free exp for
# non-positive arguments (Cody-Waite range reduction, degree-13 Taylor
# polynomial on |r| <= ln2/2, and 2^n built from its bits in two factors so
# that subnormal results stay exact to rounding) lets LLVM vectorise the
# float64 loops as well. tanh is Cephes' rational form below |x| = 0.625 and
# (1 - e)/(1 + e), e = exp(-2|x|), above; sigmoid is 1/(1 + e) or e/(1 + e),
# e = exp(-|z|). Measured against float64 libm: tanh <= 2 ULP, sigmoid
# <= 1.8 ULP (results above 1e-300); the tests pin both.
# The rounding trick (y + 1.5*2^52) - 1.5*2^52 must not be reassociated away,
# so these functions use only the ``contract`` fast-math flag.
_JIT_EXACT = {**JIT, "fastmath": {"contract"}}
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_ROUND = 6755399441055744.0  # 1.5 * 2**52: x + _ROUND - _ROUND rounds x to an integer
_E = tuple(1.0 / math.factorial(k) for k in range(14))
_E0, _E1, _E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13 = _E
_TP0, _TP1, _TP2 = -9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3
_TQ0, _TQ1, _TQ2 = 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3


@intrinsic
def _f64_as_i64(typingctx, x):
    """Reinterpret a float64's bits as an int64 (a free bitcast that vectorises)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _i64_as_f64(typingctx, k):
    """Reinterpret an int64's bits as a float64."""
    if k != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.DoubleType())

    return types.float64(types.int64), codegen


@njit(**_JIT_EXACT)
def _exp_nonpos_f64(y):
    """exp(y) for y <= 0 (0 below -745.2, where exp underflows), branch-free."""
    y = max(y, -745.2)
    n = (y * _LOG2E + _ROUND) - _ROUND
    r = (y - n * _LN2_HI) - n * _LN2_LO
    p = _E13
    p = p * r + _E12
    p = p * r + _E11
    p = p * r + _E10
    p = p * r + _E9
    p = p * r + _E8
    p = p * r + _E7
    p = p * r + _E6
    p = p * r + _E5
    p = p * r + _E4
    p = p * r + _E3
    p = p * r + _E2
    p = p * r + _E1
    p = p * r + _E0
    n1 = (n * 0.5 + _ROUND) - _ROUND
    n2 = n - n1  # 2^n = 2^n1 * 2^n2, both normal for n >= -1076
    s1 = _i64_as_f64((_f64_as_i64(n1 + _ROUND) + 1023) << 52)
    s2 = _i64_as_f64((_f64_as_i64(n2 + _ROUND) + 1023) << 52)
    return p * s1 * s2


@njit(**_JIT_EXACT)
def _tanh_f64(x):
    a = abs(x)
    z = x * x
    small = x + x * z * ((_TP0 * z + _TP1) * z + _TP2) / (((z + _TQ0) * z + _TQ1) * z + _TQ2)
    e = _exp_nonpos_f64(-2.0 * min(a, 40.0))  # tanh(40) is 1 in float64
    big = (1.0 - e) / (1.0 + e)
    big = big if x >= 0 else -big
    r = small if a < 0.625 else big
    return r if x == x else x  # min/max drop NaN; put it back


@njit(**_JIT_EXACT)
def _sigmoid_f64(x):
    e = _exp_nonpos_f64(-abs(x))  # never overflows
    s = 1.0 / (1.0 + e)
    r = s if x >= 0 else e * s
    return r if x == x else x


def _tanh_dispatch(z):  # pragma: no cover - typing stub, replaced by the overload
    raise NotImplementedError


@overload(_tanh_dispatch, jit_options=JIT)
def _ol_tanh(z):
    if z == types.float32:
        return lambda z: _tanh_f32(z)
    return lambda z: _tanh_f64(z)


@njit(**JIT)
def tanh(z):
    """Hyperbolic tangent (F3, F5), finite and warning-free for any input.

    float64: a vectorisable form within 2 ULP of libm's ``tanh``. float32: a
    vectorisable rational approximation accurate to a few ULP, saturating at
    +-1 beyond |z| = 7.9053.
    """
    return _tanh_dispatch(z)


def _sigmoid_dispatch(z):  # pragma: no cover - typing stub, replaced by the overload
    raise NotImplementedError


@overload(_sigmoid_dispatch, jit_options=JIT)
def _ol_sigmoid(z):
    if z == types.float32:
        half = np.float32(0.5)
        # sigmoid(z) = (1 + tanh(z/2)) / 2: no exp, so no overflow; vectorises.
        return lambda z: half + half * _tanh_f32(half * z)

    return lambda z: _sigmoid_f64(z)


@njit(**JIT)
def sigmoid(z):
    """Logistic function (F3), finite and warning-free for any input.

    float64: ``1 / (1 + e)`` or ``e / (1 + e)`` with ``e = exp(-|z|)``, so that
    ``exp`` never overflows (vectorisable exp; within 2 ULP).
    float32: ``(1 + tanh(z / 2)) / 2`` with the vectorisable float32 tanh.
    """
    return _sigmoid_dispatch(z)


# --------------------------------------------------------------------------
# fused pointwise kernels: one time step
# --------------------------------------------------------------------------
# The pointwise kernels are written as short loops over one row, each with one
# output stream and few inputs: LLVM then vectorises every loop (a single loop
# writing all four gates needs more run-time alias checks than it allows, and
# stays scalar, about 3x slower). No loop reads and writes overlapping arrays
# at once: ``ax`` is ``gates`` in the driver, so A^x_t is first added into
# ``rec``; a loop reading ``ax`` and writing ``gates`` fails the vectoriser's
# run-time overlap check and falls back to scalar code (measured 2x slower).
@njit(**JIT)
def _forward_pointwise(ax, rec, c_prev, h_prev, h, c, gates, lengths, t):
    """(F2)-(F6) for one step: gates from ``ax + rec``, then c_t and h_t.

    ax : [B, 4H]  A^x_t, bias included (may be the same array as ``gates``)
    rec : [B, 4H]  in: h_{t-1} W_hh^T; out: A_t (scratch)
    c_prev, h_prev : [B, H]  states at t-1
    h, c : [B, H]  out: states at t
    gates : [B, 4H]  out: i, f, g, o
    """
    B, H = h.shape
    for b in range(B):
        g = gates[b]
        if t >= lengths[b]:  # (F6) row b has ended: freeze its state
            h[b] = h_prev[b]
            c[b] = c_prev[b]
            g[:] = 0
            continue
        a = ax[b]
        r = rec[b]
        for j in range(4 * H):
            r[j] += a[j]  # (F2)
        for j in range(H):  # (F3)
            g[j] = sigmoid(r[j])
        for j in range(H, 2 * H):
            g[j] = sigmoid(r[j])
        for j in range(2 * H, 3 * H):
            g[j] = tanh(r[j])
        for j in range(3 * H, 4 * H):
            g[j] = sigmoid(r[j])
        cp = c_prev[b]
        cb = c[b]
        hb = h[b]
        for j in range(H):
            cb[j] = g[H + j] * cp[j] + g[j] * g[2 * H + j]  # (F4)
        for j in range(H):
            hb[j] = g[3 * H + j] * tanh(cb[j])  # (F5)


@njit(**JIT)
def _backward_pointwise(dy, dh_rec, dc_rec, gates, c_prev, c, da, lengths, t, sq):
    """(B1)-(B5), (B9) for one step.

    dy : [B, H]  upstream dE/dy_t
    dh_rec : [B, H]  in: dh^rec_t; out: dh_t (B1), the total gradient of h_t
    dc_rec : [B, H]  in: dc^rec_t; out: dc^rec_{t-1} (B5)
    gates : [B, 4H]  i, f, g, o at t;  c_prev, c : [B, H]  c_{t-1}, c_t
    da : [B, 4H]  out: dA_t (B4), zero on masked rows (B9)
    sq : [B, 2]  out: per row, the squared norms of dh_t and dc_t
    """
    B, H = c.shape
    one = type(c[0, 0])(1.0)
    zero = type(c[0, 0])(0.0)
    for b in range(B):
        dh = dh_rec[b]
        dc = dc_rec[b]
        d = da[b]
        g = gates[b]
        if t >= lengths[b]:  # (B9) dh^rec, dc^rec pass through; dy ignored
            d[:] = 0
        else:
            y = dy[b]
            cb = c[b]
            cp = c_prev[b]
            for j in range(H):
                dh[j] += y[j]  # (B1)
            for j in range(H):
                tc = tanh(cb[j])
                o = g[3 * H + j]
                d[3 * H + j] = dh[j] * tc * o * (one - o)  # (B3), (B4) output gate
                dc[j] += dh[j] * o * (one - tc * tc)  # (B2)
            for j in range(H):
                i = g[j]
                d[j] = dc[j] * g[2 * H + j] * i * (one - i)  # (B3), (B4) input gate
            for j in range(H):
                f = g[H + j]
                d[H + j] = dc[j] * cp[j] * f * (one - f)  # forget gate
            for j in range(H):
                gg = g[2 * H + j]
                d[2 * H + j] = dc[j] * g[j] * (one - gg * gg)  # cell candidate
        sq_h = zero
        sq_c = zero
        for j in range(H):
            sq_h += dh[j] * dh[j]
            sq_c += dc[j] * dc[j]
        sq[b, 0] = sq_h
        sq[b, 1] = sq_c
        if t < lengths[b]:
            for j in range(H):
                dc[j] *= g[H + j]  # (B5)


@njit(**JIT)
def _pass_through_masked(dh_new, dh_old, lengths, t):
    """(B9): rows that ended before ``t`` carry dh^rec unchanged past the step."""
    B, H = dh_new.shape
    for b in range(B):
        if t >= lengths[b]:
            for j in range(H):
                dh_new[b, j] = dh_old[b, j]


@njit(**JIT)
def _bias_grad(da2d, db):
    """(B8) ``db += sum over rows of dA``, rows in order (deterministic)."""
    n, m = da2d.shape
    for r in range(n):
        for k in range(m):
            db[k] += da2d[r, k]


# --------------------------------------------------------------------------
# drivers
# --------------------------------------------------------------------------
@njit(**JIT)
def _nonfinite(a):
    """True if ``a`` (C-contiguous) holds a NaN or an Inf: ``v * 0`` is NaN exactly then."""
    acc = a.dtype.type(0.0)
    for v in a.reshape(a.size):
        acc += v * 0
    return acc != acc


#: status codes of the drivers, turned into ValueErrors by the wrappers
OK, BAD_X, BAD_STATE, BAD_WEIGHTS, BAD_GRAD = 0, 1, 2, 3, 4


@njit(**JIT)
def _lstm_forward(x, w_ih, w_hh, b, lengths, hs, cs, gates, rec):
    """Time loop of the forward pass; writes hs[1:], cs[1:], gates; returns a status.

    x [T,B,I], w_ih [4H,I], w_hh [4H,H], b [4H], hs/cs [T+1,B,H] with hs[0],
    cs[0] set, gates [T,B,4H] (first holds A^x), rec [B,4H] scratch. Inputs
    are checked for NaN/Inf first (cheap, vectorised): with finite inputs
    every output is finite, since the gates are bounded.
    """
    if _nonfinite(w_ih) or _nonfinite(w_hh) or _nonfinite(b):
        return BAD_WEIGHTS
    if _nonfinite(x):
        return BAD_X
    if _nonfinite(hs[0]) or _nonfinite(cs[0]):
        return BAD_STATE
    T, B, In = x.shape
    G = gates.shape[2]
    ax = gates.reshape((T * B, G))
    np.dot(x.reshape((T * B, In)), w_ih.T, ax)  # (F1) one product for all steps
    for r in range(T * B):
        for k in range(G):
            ax[r, k] += b[k]
    w_hh_t = w_hh.T
    for t in range(T):
        np.dot(hs[t], w_hh_t, rec)  # (F2) recurrent product
        # A^x_t is read from gates[t] and overwritten there by the activations:
        # each (b, j) reads its four pre-activations before writing its gates.
        _forward_pointwise(gates[t], rec, cs[t], hs[t], hs[t + 1], cs[t + 1], gates[t], lengths, t)
    return OK


@njit(**JIT)
def _lstm_backward(dy, x, hs, cs, gates, w_ih, w_hh, lengths, dh, dc, da, dx, dw_ih, dw_hh, db, norms):
    """Time loop of BPTT, then the weight and input gradients as large products.

    dh, dc [B,H]: in dh_n, dc_n; out dh0, dc0.  da [T,B,4H] out dA.
    dx [T,B,I], dw_ih [4H,I], dw_hh [4H,H], db [4H]: out (overwritten).
    norms [T,B,2]: out per-row squared norms of dh_t, dc_t.
    """
    if _nonfinite(dy) or _nonfinite(dh) or _nonfinite(dc):
        return BAD_GRAD
    T, B, In = x.shape
    H = dh.shape[1]
    cur = dh.copy()
    nxt = np.empty_like(dh)
    for t in range(T - 1, -1, -1):
        _backward_pointwise(dy[t], cur, dc, gates[t], cs[t], cs[t + 1], da[t], lengths, t, norms[t])
        np.dot(da[t], w_hh, nxt)  # (B6)
        _pass_through_masked(nxt, cur, lengths, t)  # (B9)
        cur, nxt = nxt, cur
    dh[:, :] = cur
    da2 = da.reshape((T * B, 4 * H))
    np.dot(da2, w_ih, dx.reshape((T * B, In)))  # (B7)
    np.dot(da2.T, x.reshape((T * B, In)), dw_ih)  # (B8)
    np.dot(da2.T, hs[:T].reshape((T * B, H)), dw_hh)
    db[:] = 0
    _bias_grad(da2, db)
    return OK


@njit(**JIT)
def _lstm_forward_alloc(x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths):
    """Allocate the outputs and run :func:`_lstm_forward` (one dispatch from Python).

    ``lengths`` of size 0 means every row has length T. Returns
    ``(status, hs, cs, gates)``.
    """
    T, B, _ = x.shape
    H = w_hh.shape[1]
    hs = np.empty((T + 1, B, H), dtype=x.dtype)
    cs = np.empty((T + 1, B, H), dtype=x.dtype)
    hs[0] = h0
    cs[0] = c0
    gates = np.empty((T, B, 4 * H), dtype=x.dtype)
    rec = np.empty((B, 4 * H), dtype=x.dtype)
    if lengths.size == 0:
        lengths = np.full(B, T, dtype=np.int64)
    status = _lstm_forward(x, w_ih, w_hh, b_ih + b_hh, lengths, hs, cs, gates, rec)
    return status, hs, cs, gates


@njit(**JIT)
def _lstm_backward_alloc(dy, dh_n, dc_n, x, hs, cs, gates, w_ih, w_hh, lengths):
    """Allocate the gradients and run :func:`_lstm_backward` (one dispatch from Python).

    Returns ``(status, dx, dh0, dc0, da, dw_ih, dw_hh, db, sq)`` with ``sq``
    the per-row squared norms [T, B, 2].
    """
    T, B, In = x.shape
    H = hs.shape[2]
    dh = dh_n.copy()
    dc = dc_n.copy()
    da = np.empty((T, B, 4 * H), dtype=x.dtype)
    dx = np.empty((T, B, In), dtype=x.dtype)
    dw_ih = np.empty((4 * H, In), dtype=x.dtype)
    dw_hh = np.empty((4 * H, H), dtype=x.dtype)
    db = np.empty(4 * H, dtype=x.dtype)
    sq = np.empty((T, B, 2), dtype=x.dtype)
    if lengths.size == 0:
        lengths = np.full(B, T, dtype=np.int64)
    status = _lstm_backward(dy, x, hs, cs, gates, w_ih, w_hh, lengths, dh, dc, da, dx, dw_ih, dw_hh, db, sq)
    return status, dx, dh, dc, da, dw_ih, dw_hh, db, sq


# --------------------------------------------------------------------------
# public wrappers: validate, allocate, call the drivers
# --------------------------------------------------------------------------
def _check_weights(w_ih, w_hh, b, dtype=None):
    w_hh = as_float_array(w_hh, "w_hh", ndim=2, dtype=dtype)
    dtype = w_hh.dtype
    G, H = w_hh.shape
    if G != 4 * H:
        raise ValueError(f"w_hh: expected shape (4*H, H), got {w_hh.shape}")
    w_ih = as_float_array(w_ih, "w_ih", ndim=2, dtype=dtype)
    check_shape(w_ih, "w_ih", (4 * H, None))
    b = as_float_array(b, "b", ndim=1, dtype=dtype)
    check_shape(b, "b", (4 * H,))
    return w_ih, w_hh, b


def _check_lengths(lengths, T, B):
    """None -> all T; else an int64 array of shape [B] with 0 <= L <= T.

    ``L = 0`` freezes a row for the whole call (F6): in truncated BPTT, a
    sequence that ended in an earlier chunk.
    """
    if lengths is None:
        return None
    arr = np.asarray(lengths)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"lengths: expected an integer array, got dtype {arr.dtype}")
    if arr.shape != (B,):
        raise ValueError(f"lengths: expected shape ({B},) (one length per batch row), got {arr.shape}")
    if B and (arr.min() < 0 or arr.max() > T):
        raise ValueError(
            f"lengths: expected values in [0, {T}] (T = number of time steps), "
            f"got min {arr.min()} and max {arr.max()}"
        )
    return np.ascontiguousarray(arr, dtype=np.int64)


def _state(value, name, B, H, dtype):
    if value is None:
        return np.zeros((B, H), dtype=dtype)
    arr = as_float_array(value, name, ndim=2, dtype=dtype, finite=False)
    check_shape(arr, name, (B, H))
    return arr


def cell_forward(x, h_prev, c_prev, w_ih, w_hh, b):
    """One LSTM step, (F1)-(F5).

    Parameters
    ----------
    x : ndarray [B, I]
    h_prev, c_prev : ndarray [B, H]
    w_ih : ndarray [4H, I]
    w_hh : ndarray [4H, H]
    b : ndarray [4H]
        ``b_ih + b_hh``.

    Returns
    -------
    h, c : ndarray [B, H]
        The new states.
    gates : ndarray [B, 4H]
        Activations i, f, g, o (what :func:`cell_backward` needs).
    """
    w_ih, w_hh, b = _check_weights(w_ih, w_hh, b)
    dtype = w_hh.dtype
    H = w_hh.shape[1]
    x = as_float_array(x, "x", ndim=2, dtype=dtype)
    check_shape(x, "x", (None, w_ih.shape[1]))
    B = x.shape[0]
    h_prev = _state(h_prev, "h_prev", B, H, dtype)
    c_prev = _state(c_prev, "c_prev", B, H, dtype)
    _, h, c, cache = _forward_core(x[None], h_prev, c_prev, w_ih, w_hh, b, np.zeros_like(b), None)
    return h, c, cache.gates[0]


def cell_backward(dh, dc, x, h_prev, c_prev, gates, c, w_ih, w_hh):
    """One step of BPTT, (B1)-(B8) at a single time step.

    Parameters
    ----------
    dh : ndarray [B, H]
        Total dE/dh_t: the upstream gradient plus dh^rec_t from step t+1 (B1).
    dc : ndarray [B, H]
        dc^rec_t, the cell-state gradient carried from step t+1 (``dc_{t+1} * f_{t+1}``).
    x, h_prev, c_prev : ndarray
        The step's inputs ``x_t [B, I]``, ``h_{t-1}``, ``c_{t-1} [B, H]``.
    gates : ndarray [B, 4H]
        From :func:`cell_forward`.
    c : ndarray [B, H]
        ``c_t`` from :func:`cell_forward`.
    w_ih, w_hh : ndarray
        The weights.

    Returns
    -------
    dx : ndarray [B, I]
        dE/dx_t (B7).
    dh_prev, dc_prev : ndarray [B, H]
        dh^rec_{t-1} (B6) and dc^rec_{t-1} (B5).
    dw_ih, dw_hh, db : ndarray
        This step's weight and bias gradients (B8); ``db`` is the gradient of
        ``b_ih`` and of ``b_hh``.
    """
    w_hh = as_float_array(w_hh, "w_hh", ndim=2)
    dtype = w_hh.dtype
    G, H = w_hh.shape
    w_ih = as_float_array(w_ih, "w_ih", ndim=2, dtype=dtype)
    x = as_float_array(x, "x", ndim=2, dtype=dtype)
    B = x.shape[0]
    check_shape(x, "x", (B, w_ih.shape[1]))
    arrays = {}
    for name, val, shape in (
        ("dh", dh, (B, H)),
        ("dc", dc, (B, H)),
        ("h_prev", h_prev, (B, H)),
        ("c_prev", c_prev, (B, H)),
        ("gates", gates, (B, 4 * H)),
        ("c", c, (B, H)),
    ):
        arrays[name] = as_float_array(val, name, ndim=2, dtype=dtype)
        check_shape(arrays[name], name, shape)
    hs = np.stack([arrays["h_prev"], np.zeros_like(arrays["h_prev"])])
    cs = np.stack([arrays["c_prev"], arrays["c"]])
    cache = ForwardCache(x[None], hs, cs, arrays["gates"][None].copy(), None)
    # dh already holds dy + dh^rec: feed it as dy with a zero carried dh.
    zero = np.zeros_like(arrays["dc"])
    res, _ = _backward_core(arrays["dh"][None], zero, arrays["dc"], cache, w_ih, w_hh)
    return res.dx[0], res.dh0, res.dc0, res.dw_ih, res.dw_hh, res.db


def _raise_status(status, names):
    if status == BAD_WEIGHTS:
        raise ValueError(f"{names['weights']}: expected finite values, got NaN or Inf")
    if status == BAD_X:
        raise ValueError(f"{names['x']}: expected finite values, got NaN or Inf")
    if status == BAD_STATE:
        raise ValueError(f"{names['state']}: expected finite values, got NaN or Inf")
    if status == BAD_GRAD:
        raise ValueError(f"{names['grad']}: expected finite values, got NaN or Inf")


_KERNEL_NAMES = {"weights": "w_ih, w_hh or b", "x": "x", "state": "h0 or c0", "grad": "dy, dh_n or dc_n"}


_NO_LENGTHS = np.empty(0, dtype=np.int64)


def _forward_core(x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, names=_KERNEL_NAMES):
    """Run the forward driver on arguments that already have the right dtype,
    shapes and layout (C-contiguous, writeable); finiteness is checked in the
    driver. Returns ``y, h_n, c_n, cache`` with h_n, c_n views of the cache."""
    T = x.shape[0]
    status, hs, cs, gates = _lstm_forward_alloc(
        x, h0, c0, w_ih, w_hh, b_ih, b_hh, _NO_LENGTHS if lengths is None else lengths
    )
    _raise_status(status, names)
    if lengths is None:
        y = hs[1:]
    else:
        y = hs[1:].copy()
        y[np.arange(T)[:, None] >= lengths[None, :]] = 0
    # The states never change after a row's end (F6), so the last ones are final.
    return y, hs[T], cs[T], ForwardCache(x, hs, cs, gates, lengths)


def _backward_core(dy, dh_n, dc_n, cache, w_ih, w_hh, keep_dgates=False, names=_KERNEL_NAMES):
    """Run the BPTT driver (arguments already checked, as for ``_forward_core``).

    Returns the :class:`BackwardResult` without norms, and the per-row squared
    norms [T, B, 2] they are made from (see :func:`_batch_norms`).
    """
    x, hs, cs, gates, lengths = cache
    status, dx, dh, dc, da, dw_ih, dw_hh, db, sq = _lstm_backward_alloc(
        dy, dh_n, dc_n, x, hs, cs, gates, w_ih, w_hh, _NO_LENGTHS if lengths is None else lengths
    )
    _raise_status(status, names)
    return BackwardResult(dx, dh, dc, dw_ih, dw_hh, db, da if keep_dgates else None, None, None), sq


def _batch_norms(sq: np.ndarray):
    """Per-row squared norms [T, B, 2] -> the batch norms of dh_t and dc_t, [T] each."""
    norms = np.sqrt(sq.sum(axis=1))
    return norms[:, 0].copy(), norms[:, 1].copy()


def lstm_forward(x, h0, c0, w_ih, w_hh, b, lengths=None):
    """Forward pass over a batch of sequences, (F1)-(F6).

    Parameters
    ----------
    x : ndarray [T, B, I]
    h0, c0 : ndarray [B, H] or None
        Initial states (zeros when None).
    w_ih : ndarray [4H, I]
    w_hh : ndarray [4H, H]
    b : ndarray [4H]
        ``b_ih + b_hh``.
    lengths : array of int [B], optional
        Length of each sequence, ``0 <= L[b] <= T``; steps past a sequence's
        end produce zero output and leave its state unchanged.

    Returns
    -------
    y : ndarray [T, B, H]
        Outputs ``h_t``; zero past each sequence's end. Without ``lengths`` this
        is a read-only view of ``cache.hs[1:]``; copy it to modify it.
    h_n, c_n : ndarray [B, H]
        States at each sequence's last step.
    cache : ForwardCache
        Saved arrays for :func:`lstm_backward`.

    Raises
    ------
    TypeError, ValueError
        Wrong dtype (all arrays must share float32 or float64), shape, or
        lengths; NaN or Inf in any input.
    """
    w_ih, w_hh, b = _check_weights(w_ih, w_hh, b)
    dtype = w_hh.dtype
    H = w_hh.shape[1]
    x = as_float_array(x, "x", ndim=3, dtype=dtype, finite=False)
    T, B, In = x.shape
    check_shape(x, "x", (T, B, w_ih.shape[1]))
    lengths = _check_lengths(lengths, T, B)
    h0 = _state(h0, "h0", B, H, dtype)
    c0 = _state(c0, "c0", B, H, dtype)
    y, h_n, c_n, cache = _forward_core(x, h0, c0, w_ih, w_hh, b, np.zeros_like(b), lengths)
    if lengths is None:  # y is the cache's hs[1:]: writing to it would corrupt backward
        y = y.view()
        y.flags.writeable = False
    return y, h_n.copy(), c_n.copy(), cache


def lstm_backward(dy, dh_n, dc_n, cache, w_ih, w_hh, keep_dgates=False):
    """Backpropagation through time over a batch of sequences, (B1)-(B9).

    Parameters
    ----------
    dy : ndarray [T, B, H] or None
        Upstream gradient of every output ``y_t`` (zero when None). Entries
        past a sequence's end are ignored.
    dh_n, dc_n : ndarray [B, H] or None
        Gradients of the final states, e.g. carried in from a later chunk.
    cache : ForwardCache
        From :func:`lstm_forward`.
    w_ih, w_hh : ndarray
        The weights the forward pass used.
    keep_dgates : bool
        Also return the pre-activation gradients ``dA`` [T, B, 4H], from
        which :func:`timestep_gradients` derives each step's contribution.

    Returns
    -------
    BackwardResult
        ``dx, dh0, dc0, dw_ih, dw_hh, db, dgates, dh_norm, dc_norm``.
    """
    if not isinstance(cache, ForwardCache):
        raise TypeError(f"cache: expected the ForwardCache from lstm_forward, got {type(cache).__name__}")
    x, hs = cache.x, cache.hs
    dtype = hs.dtype
    T, B, In = x.shape
    H = hs.shape[2]
    w_hh = as_float_array(w_hh, "w_hh", ndim=2, dtype=dtype)
    check_shape(w_hh, "w_hh", (4 * H, H))
    w_ih = as_float_array(w_ih, "w_ih", ndim=2, dtype=dtype)
    check_shape(w_ih, "w_ih", (4 * H, In))
    if dy is None:
        dy = np.zeros((T, B, H), dtype=dtype)
    else:
        dy = as_float_array(dy, "dy", ndim=3, dtype=dtype, finite=False)
        check_shape(dy, "dy", (T, B, H))
    dh = _state(dh_n, "dh_n", B, H, dtype)
    dc = _state(dc_n, "dc_n", B, H, dtype)
    res, sq = _backward_core(dy, dh, dc, cache, w_ih, w_hh, keep_dgates)
    dh_norm, dc_norm = _batch_norms(sq)
    return res._replace(dh_norm=dh_norm, dc_norm=dc_norm)


def timestep_gradients(dgates, cache):
    """Each time step's contribution to the weight gradients (the terms of B8).

    Parameters
    ----------
    dgates : ndarray [T, B, 4H]
        ``BackwardResult.dgates`` (call :func:`lstm_backward` with ``keep_dgates=True``).
    cache : ForwardCache
        The forward cache of the same pass.

    Returns
    -------
    dw_ih_t : ndarray [T, 4H, I]
    dw_hh_t : ndarray [T, 4H, H]
    db_t : ndarray [T, 4H]
        Summed over ``t`` they equal ``dw_ih``, ``dw_hh`` and ``db`` (up to rounding).
    """
    if not isinstance(cache, ForwardCache):
        raise TypeError(f"cache: expected the ForwardCache from lstm_forward, got {type(cache).__name__}")
    T, B, _ = cache.x.shape
    H = cache.hs.shape[2]
    dgates = as_float_array(dgates, "dgates", ndim=3, dtype=cache.hs.dtype)
    check_shape(dgates, "dgates", (T, B, 4 * H))
    da_t = dgates.transpose(0, 2, 1)
    return da_t @ cache.x, da_t @ cache.hs[:T], dgates.sum(axis=1)
