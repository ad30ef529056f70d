r"""Compiled kernels for a user's own ``@njit`` code, callable from Python alike.

Everything here works in nopython mode (as numba-stats' and numbagg's functions
do): the allocating :func:`~fastlstm.kernels.cell_forward`,
:func:`~fastlstm.kernels.cell_backward`, :func:`~fastlstm.kernels.lstm_forward`,
:func:`~fastlstm.kernels.lstm_backward`, the activations, and, for loops over
preallocated arrays, the out-parameter pair :func:`cell_step` (which allocates
nothing) / :func:`cell_step_backward` on weights packed once by :func:`pack`::

    from fastlstm import kernels as K

    @numba.njit
    def decode(x0, h, c, packed, n_steps, out):          # feed each output back in
        gates = np.empty((h.shape[0], 4 * h.shape[1]), h.dtype)
        x = x0
        for t in range(n_steps):
            K.cell_step(x, h, c, packed, h, c, gates)     # h, c updated in place
            out[t] = h
            x = h                                     # here input_size == hidden_size
        return out

``None`` stands for zeros where the Python functions take it, in nopython code
too: ``h0``, ``c0`` of :func:`~fastlstm.kernels.lstm_forward`, ``dy``, ``dh_n``,
``dc_n`` of :func:`~fastlstm.kernels.lstm_backward` and ``h_prev``, ``c_prev`` of
:func:`~fastlstm.kernels.cell_forward`. A ``None`` literal and an optional value
(``None`` on some paths, an array on others) both work; which code runs is chosen
when the caller is compiled, so passing arrays costs nothing extra.

Misuse from nopython code fails when the caller is compiled, with a
``TypingError`` that names the argument (an integer array, a 1-d ``x``, mixed
float32/float64, ...); shapes are checked at run time and raise ``ValueError``.
From Python, the same functions validate every argument first.

Records (named tuples, usable inside and outside compiled code):

* :class:`PackedLSTM` ``(w_ih, w_hh, b, wxp, whp, bp, work)``: the weights in
  PyTorch's layout plus the micro-kernel panels and a scratch block (one packed
  record serves one thread at a time);
* :class:`CellGrads` ``(dw_ih, dw_hh, db)``: parameter gradients that
  :func:`cell_step_backward` accumulates into, over the steps of a sequence.

Each ``@overload`` sits next to the Python function whose contract it repeats for
nopython callers, and all of them share the compile-time checks at the top. Each
name runs the same code from Python and from nopython code: the backward functions
are the drivers' sequence BPTT (at ``T = 1`` for the cell), and
:func:`~fastlstm.kernels.lstm_backward` returns ``dgates`` only when asked
(``keep_dgates``, a constant in nopython code).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, types
from numba.core.errors import TypingError
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, overload

from .._config import JIT
from .._validation import as_float_array
from . import api, drivers, projection
from .drivers import BAD_GRAD, BAD_STATE, BAD_WEIGHTS, BAD_X, OK, nonfinite
from .simd import ROW_BLOCKS, VECTOR_BITS

__all__ = ["CellGrads", "PackedLSTM", "cell_step", "cell_step_backward", "pack"]

_VEC_BYTES = VECTOR_BITS // 8  # bytes in one vector
_R0 = ROW_BLOCKS[0]


class PackedLSTM(NamedTuple):
    """One layer's weights, packed once for :func:`cell_step` (see :func:`pack`)."""

    w_ih: np.ndarray  #: [4H, I]
    w_hh: np.ndarray  #: [4H, H]
    b: np.ndarray  #: [4H], b_ih + b_hh
    wxp: np.ndarray  #: [P, I, 4U] input-weight panels
    whp: np.ndarray  #: [P, H, 4U] recurrent-weight panels
    bp: np.ndarray  #: [P, 4U] bias panels
    work: np.ndarray  #: [R0, 4PU] scratch (makes a record single-threaded)


class CellGrads(NamedTuple):
    """Parameter gradients accumulated by :func:`cell_step_backward`."""

    dw_ih: np.ndarray  #: [4H, I]
    dw_hh: np.ndarray  #: [4H, H]
    db: np.ndarray  #: [4H], the gradient of b_ih and of b_hh alike


# --------------------------------------------------------------------------
# compile-time checks: a TypingError naming the argument
# --------------------------------------------------------------------------
def _float_array(name, value, ndim, dtype=None):
    if not isinstance(value, types.Array) or value.dtype not in (types.float32, types.float64):
        raise TypingError(f"{name}: expected a float32 or float64 array, got {value}")
    if value.ndim != ndim:
        raise TypingError(f"{name}: expected a {ndim}-d array, got {value.ndim}-d ({value})")
    if dtype is not None and value.dtype != dtype:
        raise TypingError(f"{name}: expected dtype {dtype} like the other arrays, got {value.dtype}")
    return value.dtype


def _optional_float_array(name, value, ndim, dtype):
    """``value`` may be None, an array, or an optional array (None or an array at run time)."""
    if isinstance(value, (types.NoneType, types.Omitted)):
        return
    if isinstance(value, types.Optional):
        value = value.type
    if not isinstance(value, types.Array) or value.dtype not in (types.float32, types.float64):
        raise TypingError(f"{name}: expected None or a float32 or float64 array, got {value}")
    _float_array(name, value, ndim, dtype)


def _contiguous(name, value):
    if value.layout != "C":
        raise TypingError(f"{name}: expected a C-contiguous array, got layout {value.layout!r} ({value})")


def _record(name, value, cls):
    if not (isinstance(value, types.BaseNamedTuple) and value.instance_class is cls):
        raise TypingError(f"{name}: expected a fastlstm.kernels.{cls.__name__}, got {value}")


# --------------------------------------------------------------------------
# implementations (compiled; called with checked types)
# --------------------------------------------------------------------------
def _or_zeros(value, like, shape):  # pragma: no cover - nopython only (the overload below)
    """``value`` as a C-contiguous array, or zeros of ``shape`` and ``like``'s dtype if None."""
    raise NotImplementedError("_or_zeros is called from nopython code only")


@intrinsic
def _unwrap(typingctx, value):
    """The array inside an optional array (raises in compiled code if it is None)."""
    sig = value.type(value)

    def codegen(context, builder, signature, args):
        array = context.cast(builder, args[0], signature.args[0], signature.return_type)
        return impl_ret_borrowed(context, builder, signature.return_type, array)

    return sig, codegen


@overload(_or_zeros, jit_options=JIT)
def _ol_or_zeros(value, like, shape):
    # chosen at compile time: an array compiles to the bare np.ascontiguousarray (no branch),
    # None to np.zeros; only an optional value tests for None at run time
    if isinstance(value, (types.NoneType, types.Omitted)):
        return lambda value, like, shape: np.zeros(shape, like.dtype)
    if isinstance(value, types.Optional):

        def impl(value, like, shape):
            if value is None:
                return np.zeros(shape, like.dtype)
            return np.ascontiguousarray(_unwrap(value))

        return impl
    return lambda value, like, shape: np.ascontiguousarray(value)


@njit(**JIT)
def _pack(w_ih, w_hh, b):
    if w_hh.shape[0] != 4 * w_hh.shape[1]:
        raise ValueError(
            "w_hh: expected shape (4*H, H) (no proj_size in the cell kernels: lstm_forward and "
            "lstm_backward take w_hr, and fastlstm.LSTM has proj_size)"
        )
    if w_ih.shape[0] != w_hh.shape[0]:
        raise ValueError("w_ih: expected 4*H rows, like w_hh")
    if b.shape[0] != w_hh.shape[0]:
        raise ValueError("b: expected 4*H entries, like w_hh")
    U = _VEC_BYTES // w_hh.itemsize
    w_ih = np.ascontiguousarray(w_ih)
    w_hh = np.ascontiguousarray(w_hh)
    b = np.ascontiguousarray(b)
    wxp = drivers.pack_gates(w_ih, U)
    whp = drivers.pack_gates(w_hh, U)
    bp = drivers.pack_bias(b, U)
    work = np.empty((_R0, whp.shape[0] * 4 * U), dtype=w_hh.dtype)
    return PackedLSTM(w_ih, w_hh, b, wxp, whp, bp, work)


@njit(**JIT)
def _cell_step(x, h_prev, c_prev, packed, h, c, gates):
    B, n_in = x.shape
    H = packed.w_hh.shape[1]
    if n_in != packed.w_ih.shape[1]:
        raise ValueError("x: expected shape (B, I) with I = w_ih.shape[1]")
    for arr in (h_prev, c_prev, h, c):
        if arr.shape[0] != B or arr.shape[1] != H:
            raise ValueError(
                "h_prev, c_prev, h, c: expected shape (B, H) with B = x.shape[0], H = w_hh.shape[1]"
            )
    if gates.shape[0] != B or gates.shape[1] != 4 * H:
        raise ValueError("gates: expected shape (B, 4*H)")
    hs = h_prev.reshape((1, B, H))
    xs = x.reshape((1, B, n_in))
    lengths = np.ones(B, dtype=np.int64)
    drivers._forward_step_rows(
        0, B, xs, hs, 0, packed.wxp, packed.whp, packed.bp, lengths, packed.work, h, c_prev, c, gates
    )


@njit(**JIT)
def _cell_backward(dh, dc, x, h_prev, c_prev, gates, c, w_ih, w_hh):
    """One step of BPTT (B1)-(B8): the sequence BPTT of the drivers at ``T = 1``, the code
    :func:`~fastlstm.kernels.cell_backward` runs from Python too. Returns
    ``(status, dx, dh_prev, dc_prev, dw_ih, dw_hh, db)``."""
    B, n_in = x.shape
    H = w_hh.shape[1]
    if dh.shape != (B, H) or dc.shape != (B, H) or h_prev.shape != (B, H) or c_prev.shape != (B, H):
        raise ValueError(
            "dh, dc, h_prev, c_prev: expected shape (B, H) with B = x.shape[0], H = w_hh.shape[1]"
        )
    if c.shape != (B, H) or gates.shape != (B, 4 * H) or w_ih.shape != (4 * H, n_in):
        raise ValueError("c, gates, w_ih: expected shapes (B, H), (B, 4*H), (4*H, I)")
    hs = np.zeros((2, B, H), dtype=w_hh.dtype)  # [h_{t-1}, h_t]: backward reads hs[0] only
    cs = np.empty((2, B, H), dtype=w_hh.dtype)
    hs[0] = h_prev
    cs[0] = c_prev
    cs[1] = c
    # dh already holds dy + dh^rec: fed as dy with a zero carried dh
    status, dx, dh0, dc0, _, dw_ih, dw_hh, db, _ = drivers.backward_alloc(
        np.ascontiguousarray(dh).reshape((1, B, H)),
        np.zeros((B, H), dtype=w_hh.dtype),
        np.ascontiguousarray(dc),
        np.ascontiguousarray(x).reshape((1, B, n_in)),
        hs,
        cs,
        np.ascontiguousarray(gates).reshape((1, B, 4 * H)),
        np.ascontiguousarray(w_ih),
        np.ascontiguousarray(w_hh),
        np.empty(0, dtype=np.int64),
        1,
    )
    return status, dx[0], dh0, dc0, dw_ih, dw_hh, db


@njit(**JIT)
def _cell_step_backward(dh, dc, x, h_prev, c_prev, gates, c, packed, dx, dh_prev, dc_prev, grads):
    B, n_in = x.shape
    H = packed.w_hh.shape[1]
    if dx.shape != (B, n_in) or dh_prev.shape != (B, H) or dc_prev.shape != (B, H):
        raise ValueError("dx, dh_prev, dc_prev: expected shapes (B, I), (B, H), (B, H)")
    if (
        grads.dw_ih.shape != packed.w_ih.shape
        or grads.dw_hh.shape != packed.w_hh.shape
        or grads.db.shape[0] != 4 * H
    ):
        raise ValueError("grads: expected dw_ih, dw_hh, db of the weights' shapes")
    status, sdx, sdh, sdc, dw_ih, dw_hh, db = _cell_backward(
        dh, dc, x, h_prev, c_prev, gates, c, packed.w_ih, packed.w_hh
    )
    if status != OK:
        raise ValueError("dh or dc: expected finite values, got NaN or Inf")
    dx[:, :] = sdx  # written after every read: the outputs may be dh, dc themselves
    dh_prev[:, :] = sdh
    dc_prev[:, :] = sdc
    np.add(grads.dw_ih, dw_ih, grads.dw_ih)  # (B8): this step's terms
    np.add(grads.dw_hh, dw_hh, grads.dw_hh)
    np.add(grads.db, db, grads.db)


# --------------------------------------------------------------------------
# the public functions: Python (validating) and nopython (overloads)
# --------------------------------------------------------------------------
def pack(w_ih, w_hh, b) -> PackedLSTM:
    """Pack one layer's weights for :func:`cell_step` (once, outside the loop).

    Parameters
    ----------
    w_ih : ndarray [4H, I]
    w_hh : ndarray [4H, H]
    b : ndarray [4H]
        ``b_ih + b_hh``.

    Returns
    -------
    PackedLSTM
        Holds the arrays themselves too (``cell_step_backward`` reads them); a
        scratch block makes one record usable by one thread at a time.
    """
    w_ih, w_hh, b = api._check_weights(w_ih, w_hh, b)
    return _pack(w_ih, w_hh, b)


@overload(pack, jit_options=JIT)
def _ol_pack(w_ih, w_hh, b):
    dt = _float_array("w_ih", w_ih, 2)
    _float_array("w_hh", w_hh, 2, dt)
    _float_array("b", b, 1, dt)
    return lambda w_ih, w_hh, b: _pack(w_ih, w_hh, b)


def _check_step_arrays(names_values, dtype):
    out = []
    for name, value, ndim in names_values:
        if not isinstance(value, np.ndarray) or value.dtype != dtype or value.ndim != ndim:
            value = as_float_array(value, name, ndim=ndim, dtype=dtype, finite=False)
        if not value.flags.c_contiguous or not value.flags.writeable:
            raise ValueError(f"{name}: expected a C-contiguous, writeable array (it is written in place)")
        out.append(value)
    return out


def cell_step(x, h_prev, c_prev, packed, h, c, gates) -> None:
    """One LSTM step (F1)-(F5) into preallocated outputs (allocates nothing).

    Parameters
    ----------
    x : ndarray [B, I]
    h_prev, c_prev : ndarray [B, H]
        The states at t-1.
    packed : PackedLSTM
        From :func:`pack`.
    h, c : ndarray [B, H]
        Out: the states at t. They may be ``h_prev`` and ``c_prev`` themselves
        (updated in place).
    gates : ndarray [B, 4H]
        Out: the activations i, f, g, o (what :func:`cell_step_backward` needs).
    """
    if not isinstance(packed, PackedLSTM):
        raise TypeError(
            f"packed: expected a fastlstm.kernels.PackedLSTM from pack(), got {type(packed).__name__}"
        )
    x, h_prev, c_prev, h, c, gates = _check_step_arrays(
        [
            ("x", x, 2),
            ("h_prev", h_prev, 2),
            ("c_prev", c_prev, 2),
            ("h", h, 2),
            ("c", c, 2),
            ("gates", gates, 2),
        ],
        packed.w_hh.dtype,
    )
    if nonfinite(x) or nonfinite(h_prev) or nonfinite(c_prev):
        raise ValueError("x, h_prev or c_prev: expected finite values, got NaN or Inf")
    _cell_step(x, h_prev, c_prev, packed, h, c, gates)


@overload(cell_step, jit_options=JIT)
def _ol_cell_step(x, h_prev, c_prev, packed, h, c, gates):
    _record("packed", packed, PackedLSTM)
    dt = packed.types[0].dtype
    for name, value, ndim in (
        ("x", x, 2),
        ("h_prev", h_prev, 2),
        ("c_prev", c_prev, 2),
        ("h", h, 2),
        ("c", c, 2),
        ("gates", gates, 2),
    ):
        _float_array(name, value, ndim, dt)
        _contiguous(name, value)
    return lambda x, h_prev, c_prev, packed, h, c, gates: _cell_step(x, h_prev, c_prev, packed, h, c, gates)


def cell_step_backward(dh, dc, x, h_prev, c_prev, gates, c, packed, dx, dh_prev, dc_prev, grads) -> None:
    """One step of BPTT (B2)-(B8) into preallocated outputs; accumulates ``grads``.

    The same computation as :func:`~fastlstm.kernels.cell_backward` (the same bits, from
    Python and from nopython code); it allocates the step's temporaries.

    Parameters
    ----------
    dh : ndarray [B, H]
        Total dE/dh_t: the upstream gradient plus dh^rec_t from step t+1 (B1).
    dc : ndarray [B, H]
        dc^rec_t, carried from step t+1.
    x, h_prev, c_prev, gates, c : ndarray
        The step's inputs and what :func:`cell_step` wrote (``gates``, ``c``).
    packed : PackedLSTM
    dx : ndarray [B, I]
        Out: dE/dx_t (B7).
    dh_prev, dc_prev : ndarray [B, H]
        Out: dh^rec_{t-1} (B6) and dc^rec_{t-1} (B5); they may be ``dh``, ``dc``.
    grads : CellGrads
        ``dw_ih``, ``dw_hh``, ``db`` += this step's terms (B8); zero them before
        the first step of a sequence.
    """
    if not isinstance(packed, PackedLSTM):
        raise TypeError(
            f"packed: expected a fastlstm.kernels.PackedLSTM from pack(), got {type(packed).__name__}"
        )
    if not isinstance(grads, CellGrads):
        raise TypeError(f"grads: expected a fastlstm.kernels.CellGrads, got {type(grads).__name__}")
    dt = packed.w_hh.dtype
    arrays = _check_step_arrays(
        [
            ("dh", dh, 2),
            ("dc", dc, 2),
            ("x", x, 2),
            ("h_prev", h_prev, 2),
            ("c_prev", c_prev, 2),
            ("gates", gates, 2),
            ("c", c, 2),
            ("dx", dx, 2),
            ("dh_prev", dh_prev, 2),
            ("dc_prev", dc_prev, 2),
        ],
        dt,
    )
    g = _check_step_arrays(
        [("grads.dw_ih", grads.dw_ih, 2), ("grads.dw_hh", grads.dw_hh, 2), ("grads.db", grads.db, 1)], dt
    )
    if nonfinite(arrays[0]) or nonfinite(arrays[1]):
        raise ValueError("dh or dc: expected finite values, got NaN or Inf")
    _cell_step_backward(*arrays[:7], packed, *arrays[7:], CellGrads(*g))


@overload(cell_step_backward, jit_options=JIT)
def _ol_cell_step_backward(dh, dc, x, h_prev, c_prev, gates, c, packed, dx, dh_prev, dc_prev, grads):
    _record("packed", packed, PackedLSTM)
    _record("grads", grads, CellGrads)
    dt = packed.types[0].dtype
    for name, value in (
        ("dh", dh),
        ("dc", dc),
        ("x", x),
        ("h_prev", h_prev),
        ("c_prev", c_prev),
        ("gates", gates),
        ("c", c),
        ("dx", dx),
        ("dh_prev", dh_prev),
        ("dc_prev", dc_prev),
    ):
        _float_array(name, value, 2, dt)
    names = ("grads.dw_ih", "grads.dw_hh", "grads.db")
    for name, value, ndim in zip(names, grads.types, (2, 2, 1), strict=True):
        _float_array(name, value, ndim, dt)

    def impl(dh, dc, x, h_prev, c_prev, gates, c, packed, dx, dh_prev, dc_prev, grads):
        _cell_step_backward(dh, dc, x, h_prev, c_prev, gates, c, packed, dx, dh_prev, dc_prev, grads)

    return impl


# --------------------------------------------------------------------------
# the allocating functions of fastlstm.kernels, in nopython mode
# --------------------------------------------------------------------------
@njit(**JIT)
def _raise_status(status):
    if status == BAD_WEIGHTS:
        raise ValueError("w_ih, w_hh or b: expected finite values, got NaN or Inf")
    if status == BAD_X:
        raise ValueError("x: expected finite values, got NaN or Inf")
    if status == BAD_STATE:
        raise ValueError("h0 or c0: expected finite values, got NaN or Inf")
    if status == BAD_GRAD:
        raise ValueError("dy, dh_n or dc_n: expected finite values, got NaN or Inf")


@overload(api.cell_forward, jit_options=JIT)
def _ol_cell_forward(x, h_prev, c_prev, w_ih, w_hh, b):
    dt = _float_array("w_hh", w_hh, 2)
    for name, value, ndim in (("x", x, 2), ("w_ih", w_ih, 2), ("b", b, 1)):
        _float_array(name, value, ndim, dt)
    _optional_float_array("h_prev", h_prev, 2, dt)  # None: zeros, as from Python
    _optional_float_array("c_prev", c_prev, 2, dt)

    def impl(x, h_prev, c_prev, w_ih, w_hh, b):
        packed = _pack(w_ih, w_hh, b)
        B = x.shape[0]
        H = w_hh.shape[1]
        h = np.empty((B, H), dtype=w_hh.dtype)
        c = np.empty((B, H), dtype=w_hh.dtype)
        gates = np.empty((B, 4 * H), dtype=w_hh.dtype)
        _cell_step(
            np.ascontiguousarray(x),
            _or_zeros(h_prev, w_hh, (B, H)),
            _or_zeros(c_prev, w_hh, (B, H)),
            packed,
            h,
            c,
            gates,
        )
        return h, c, gates

    return impl


@overload(api.cell_backward, jit_options=JIT)
def _ol_cell_backward(dh, dc, x, h_prev, c_prev, gates, c, w_ih, w_hh):
    dt = _float_array("w_hh", w_hh, 2)
    for name, value in (
        ("dh", dh),
        ("dc", dc),
        ("x", x),
        ("h_prev", h_prev),
        ("c_prev", c_prev),
        ("gates", gates),
        ("c", c),
        ("w_ih", w_ih),
    ):
        _float_array(name, value, 2, dt)

    def impl(dh, dc, x, h_prev, c_prev, gates, c, w_ih, w_hh):
        status, dx, dh_prev, dc_prev, dw_ih, dw_hh, db = _cell_backward(
            dh, dc, x, h_prev, c_prev, gates, c, w_ih, w_hh
        )
        if status != OK:
            raise ValueError("dh or dc: expected finite values, got NaN or Inf")
        return dx, dh_prev, dc_prev, dw_ih, dw_hh, db

    return impl


def _absent(value):
    return value is None or isinstance(value, (types.NoneType, types.Omitted))


@njit(**JIT)
def _raise_proj_status(status):
    if status == BAD_WEIGHTS:
        raise ValueError("w_ih, w_hh, b or w_hr: expected finite values, got NaN or Inf")
    _raise_status(status)


@njit(**JIT)
def _lengths64(lengths, T, B):
    lengths64 = lengths.astype(np.int64)
    if lengths64.shape[0] != B or (B > 0 and (lengths64.min() < 0 or lengths64.max() > T)):
        raise ValueError("lengths: expected B values in [0, T]")
    return lengths64


@njit(**JIT)
def _outputs(hs, lengths64):
    """``y [T, B, R]`` from the states ``hs [T+1, B, R]``: zero past each row's length (none
    when ``lengths64`` is empty)."""
    y = hs[1:].copy()
    for t in range(y.shape[0]):
        for r in range(y.shape[1]):
            if lengths64.size and t >= lengths64[r]:
                y[t, r, :] = 0
    return y


@overload(api.lstm_forward, jit_options=JIT)
def _ol_lstm_forward(x, h0, c0, w_ih, w_hh, b, lengths=None, w_hr=None):
    dt = _float_array("w_hh", w_hh, 2)
    for name, value, ndim in (("x", x, 3), ("w_ih", w_ih, 2), ("b", b, 1)):
        _float_array(name, value, ndim, dt)
    _optional_float_array("h0", h0, 2, dt)  # None: zeros
    _optional_float_array("c0", c0, 2, dt)
    has_lengths = not _absent(lengths)
    if has_lengths and not (
        isinstance(lengths, types.Array) and isinstance(lengths.dtype, types.Integer) and lengths.ndim == 1
    ):
        raise TypingError(f"lengths: expected None or a 1-d integer array, got {lengths}")
    if not _absent(w_hr):  # a projected layer (F7): the projection kernels, as from Python
        _float_array("w_hr", w_hr, 2, dt)

        def impl_proj(x, h0, c0, w_ih, w_hh, b, lengths=None, w_hr=None):
            T, B, _ = x.shape
            G, P = w_hh.shape
            H = G // 4
            if G % 4 or w_hr.shape != (P, H) or not 0 < P < H:
                raise ValueError("w_hr: expected shape (P, H), 0 < P < H, with w_hh (4*H, P)")
            if w_ih.shape[0] != G or b.shape[0] != G:
                raise ValueError("w_ih, b: expected 4*H rows, like w_hh")
            h0c = _or_zeros(h0, w_hh, (B, P))
            c0c = _or_zeros(c0, w_hh, (B, H))
            if h0c.shape != (B, P) or c0c.shape != (B, H):
                raise ValueError("h0, c0: expected shapes (B, P), (B, H) with a projection")
            if has_lengths:
                lengths64 = _lengths64(lengths, T, B)
            else:
                lengths64 = np.empty(0, dtype=np.int64)
            xc = np.ascontiguousarray(x)
            status, hs, cs, gates, hr = projection.proj_forward(
                xc,
                h0c,
                c0c,
                np.ascontiguousarray(w_ih),
                np.ascontiguousarray(w_hh),
                np.ascontiguousarray(b),
                np.zeros_like(b),
                np.ascontiguousarray(w_hr),
                lengths64,
                1,
                True,
            )
            _raise_proj_status(status)
            y = _outputs(hs, lengths64)
            if has_lengths:
                return y, hs[T].copy(), cs[T].copy(), api.ProjCache(xc, hs, cs, gates, hr, lengths64)
            return y, hs[T].copy(), cs[T].copy(), api.ProjCache(xc, hs, cs, gates, hr, None)

        return impl_proj

    def impl(x, h0, c0, w_ih, w_hh, b, lengths=None, w_hr=None):
        T, B, _ = x.shape
        H = w_hh.shape[1]
        h0c = _or_zeros(h0, w_hh, (B, H))
        c0c = _or_zeros(c0, w_hh, (B, H))
        if h0c.shape != (B, H) or c0c.shape != (B, H):
            raise ValueError("h0, c0: expected shape (B, H)")
        if has_lengths:
            lengths64 = _lengths64(lengths, T, B)
        else:
            lengths64 = np.empty(0, dtype=np.int64)
        xc = np.ascontiguousarray(x)
        status, hs, cs, gates = drivers.forward_alloc(
            xc,
            h0c,
            c0c,
            np.ascontiguousarray(w_ih),
            np.ascontiguousarray(w_hh),
            np.ascontiguousarray(b),
            np.zeros_like(b),
            lengths64,
            1,
            True,
        )
        _raise_status(status)
        y = _outputs(hs, lengths64)
        if has_lengths:
            return y, hs[T].copy(), cs[T].copy(), api.ForwardCache(xc, hs, cs, gates, lengths64)
        return y, hs[T].copy(), cs[T].copy(), api.ForwardCache(xc, hs, cs, gates, None)

    return impl


@overload(api.lstm_backward, jit_options=JIT, prefer_literal=True)
def _ol_lstm_backward(dy, dh_n, dc_n, cache, w_ih, w_hh, keep_dgates=False, w_hr=None):
    projected = isinstance(cache, types.BaseNamedTuple) and cache.instance_class is api.ProjCache
    if not projected:
        _record("cache", cache, api.ForwardCache)
    if projected == _absent(w_hr):
        raise TypingError(
            "w_hr: expected the projection w_hr [P, H] with a ProjCache and None with a ForwardCache, "
            f"got {w_hr} with {cache}"
        )
    # dgates is None unless asked for, as from Python: the flag picks the result's type, so
    # nopython callers pass it as a constant
    if keep_dgates is False or isinstance(keep_dgates, (types.Omitted, types.NoneType)):
        keep = False
    elif isinstance(keep_dgates, types.BooleanLiteral):
        keep = keep_dgates.literal_value
    else:
        raise TypingError(
            f"keep_dgates: expected a constant True or False in nopython code, got {keep_dgates}"
        )
    dt = _float_array("w_hh", w_hh, 2)
    _float_array("w_ih", w_ih, 2, dt)
    for name, value, ndim in (("dy", dy, 3), ("dh_n", dh_n, 2), ("dc_n", dc_n, 2)):
        _optional_float_array(name, value, ndim, dt)  # None: zeros

    has_lengths = not isinstance(cache.types[-1], types.NoneType)
    if projected:
        _float_array("w_hr", w_hr, 2, dt)

        def impl_proj(dy, dh_n, dc_n, cache, w_ih, w_hh, keep_dgates=False, w_hr=None):
            x, hs, cs, gates, hr = cache.x, cache.hs, cache.cs, cache.gates, cache.hr
            T, B, I = x.shape
            P = hs.shape[2]
            H = cs.shape[2]
            if w_hh.shape != (4 * H, P) or w_ih.shape != (4 * H, I) or w_hr.shape != (P, H):
                raise ValueError(
                    "w_ih, w_hh, w_hr: expected shapes (4*H, I), (4*H, P), (P, H) of the forward pass"
                )
            dyc = _or_zeros(dy, w_hh, (T, B, P))
            dhc = _or_zeros(dh_n, w_hh, (B, P))
            dcc = _or_zeros(dc_n, w_hh, (B, H))
            if dyc.shape != (T, B, P) or dhc.shape != (B, P) or dcc.shape != (B, H):
                raise ValueError(
                    "dy, dh_n, dc_n: expected shapes (T, B, P), (B, P), (B, H) of the forward pass"
                )
            if has_lengths:
                lengths64 = cache.lengths.astype(np.int64)
            else:
                lengths64 = np.empty(0, dtype=np.int64)
            status, dx, dh0, dc0, dw_ih, dw_hh, db, dw_hr, sq_norms, da, dhs = projection.proj_backward(
                dyc,
                dhc,
                dcc,
                x,
                hs,
                cs,
                gates,
                hr,
                np.ascontiguousarray(w_ih),
                np.ascontiguousarray(w_hh),
                np.ascontiguousarray(w_hr),
                lengths64,
                keep,
                1,
            )
            _raise_status(status)
            both = np.sqrt(sq_norms.sum(axis=1))
            if keep:
                return api.ProjBackwardResult(
                    dx, dh0, dc0, dw_ih, dw_hh, db, da, both[:, 0].copy(), both[:, 1].copy(), dw_hr, dhs
                )
            return api.ProjBackwardResult(
                dx, dh0, dc0, dw_ih, dw_hh, db, None, both[:, 0].copy(), both[:, 1].copy(), dw_hr, None
            )

        return impl_proj

    def impl(dy, dh_n, dc_n, cache, w_ih, w_hh, keep_dgates=False, w_hr=None):
        x, hs, cs, gates = cache.x, cache.hs, cache.cs, cache.gates
        T, B, _ = x.shape
        H = hs.shape[2]
        dyc = _or_zeros(dy, w_hh, (T, B, H))
        dhc = _or_zeros(dh_n, w_hh, (B, H))
        dcc = _or_zeros(dc_n, w_hh, (B, H))
        if dyc.shape != (T, B, H) or dhc.shape != (B, H) or dcc.shape != (B, H):
            raise ValueError("dy, dh_n, dc_n: expected shapes (T, B, H), (B, H), (B, H) of the forward pass")
        if has_lengths:
            lengths64 = cache.lengths.astype(np.int64)
        else:
            lengths64 = np.empty(0, dtype=np.int64)
        status, dx, dh0, dc0, da, dw_ih, dw_hh, db, sq_norms = drivers.backward_alloc(
            dyc,
            dhc,
            dcc,
            x,
            hs,
            cs,
            gates,
            np.ascontiguousarray(w_ih),
            np.ascontiguousarray(w_hh),
            lengths64,
            1,
        )
        _raise_status(status)
        both = np.sqrt(sq_norms.sum(axis=1))  # as api.batch_norms, which nopython code cannot call
        if keep:
            return api.BackwardResult(
                dx, dh0, dc0, dw_ih, dw_hh, db, da, both[:, 0].copy(), both[:, 1].copy()
            )
        return api.BackwardResult(dx, dh0, dc0, dw_ih, dw_hh, db, None, both[:, 0].copy(), both[:, 1].copy())

    return impl
