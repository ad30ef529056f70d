"""The kernels' Python API: validate, allocate, call one compiled driver.

Two audiences:

* users: :func:`lstm_forward`, :func:`lstm_backward`, :func:`cell_forward`,
  :func:`cell_backward`, :func:`timestep_gradients` validate every argument and
  raise ``TypeError``/``ValueError`` naming it;
* the two LSTM surfaces (:class:`fastlstm.nn.LSTM` with its stepper, and
  :class:`fastlstm.torch.LSTM`), which have validated their arrays already: the
  stacked-LSTM entry (:func:`stack_forward`, :func:`stack_backward` over layers,
  directions, lengths and state; its step mode :func:`stack_pack`,
  :func:`stack_step`) and the seam functions under it (:func:`check_lengths`,
  :func:`forward_core`, :func:`backward_core`, :func:`batch_norms`,
  :func:`timestep_core`, :func:`nonfinite`) take arrays of the right dtype, shape
  and layout and skip the checks. This is the one internal interface between the
  layers and the kernels.

"No lengths" is ``lengths=None`` everywhere in Python; the compiled drivers
receive it as an empty int64 array.

The module runs past 500 lines on purpose: the public wrappers, the seam and the
stacked LSTM share the checks, the status codes and the names in the kernels'
errors, and the stacked LSTM is documented as the one entry of both LSTM surfaces.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .._config import JIT
from .._threads import threads_for
from .._validation import as_float_array, check_shape
from . import drivers, projection
from .drivers import BAD_GRAD, BAD_STATE, BAD_WEIGHTS, BAD_X, OK, nonfinite
from .simd import ROW_BLOCKS, VECTOR_BITS

__all__ = [
    "BackwardResult",
    "CODE_PATH",
    "ForwardCache",
    "ProjBackwardResult",
    "ProjCache",
    "ProjStackPacks",
    "ProjStepPack",
    "ProjTrainPack",
    "StackTape",
    "StepPack",
    "backward_core",
    "batch_norms",
    "cell_backward",
    "cell_forward",
    "check_lengths",
    "forward_core",
    "lstm_backward",
    "lstm_forward",
    "nonfinite",
    "proj_cached_step",
    "proj_stack_pack",
    "proj_stack_packs",
    "proj_stack_step",
    "proj_step_pack",
    "proj_train_pack",
    "reverse_index",
    "reverse_time",
    "stack_backward",
    "stack_forward",
    "stack_pack",
    "stack_parameters",
    "stack_step",
    "step_buffers",
    "timestep_core",
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


class ProjBackwardResult(NamedTuple):
    """:class:`BackwardResult`'s fields for a layer with a projection, and ``dw_hr`` (B10)."""

    dx: np.ndarray  #: [T, B, I]
    dh0: np.ndarray  #: [B, P]
    dc0: np.ndarray  #: [B, H]
    dw_ih: np.ndarray  #: [4H, I]
    dw_hh: np.ndarray  #: [4H, P]
    db: np.ndarray  #: [4H], the gradient of b_ih and of b_hh alike
    dgates: np.ndarray | None  #: [T, B, 4H] dA_t (B4) if kept, else None
    dh_norm: np.ndarray | None  #: [T], or None (stack_backward leaves the norms to batch_norms)
    dc_norm: np.ndarray | None  #: [T], or None
    dw_hr: np.ndarray  #: [P, H]
    dhs: np.ndarray | None = None  #: [T, B, P] total dh_t (B1), zero on masked rows, if kept


class ProjCache(NamedTuple):
    """What the projected layer's BPTT needs from its forward (``proj_size`` > 0, (F7))."""

    x: np.ndarray  #: [T, B, I] inputs
    hs: np.ndarray  #: [T+1, B, P] projected hidden states, hs[0] = h0
    cs: np.ndarray  #: [T+1, B, H] cell states, cs[0] = c0
    gates: np.ndarray  #: [T, B, 4H] activations i, f, g, o
    hr: np.ndarray  #: [T, B, H] the unprojected o * tanh(c) (F7)
    lengths: np.ndarray | None  #: [B] int64 sequence lengths, or None (all T)


_MICRO = f"{VECTOR_BITS}-bit LLVM-IR micro-kernel over packed weights; gates fused per row block"

#: Which implementation runs for each dtype (recorded by the benchmarks).
CODE_PATH = {
    "float32": {
        "activations": "rational tanh (Eigen 13/6), sigmoid via tanh; vectorised",
        "recurrent": _MICRO,
        "input_projection": "fused into the recurrent micro-kernel",
        "weight_gradients": "micro-kernel after the time loop (dW over dA panels, dx over rows); no BLAS",
        "threads": "numba prange over batch rows, one region per pass",
    },
    "float64": {
        "activations": "exp by range reduction + degree-13 polynomial, Cephes tanh; vectorised",
        "recurrent": _MICRO,
        "input_projection": "fused into the recurrent micro-kernel",
        "weight_gradients": "micro-kernel after the time loop (dW over dA panels, dx over rows); no BLAS",
        "threads": "numba prange over batch rows, one region per pass",
    },
}


# --------------------------------------------------------------------------
# public wrappers: validate, allocate, call the drivers
# --------------------------------------------------------------------------
def _check_weights(w_ih, w_hh, b, dtype=None, projection=False):
    w_hh = as_float_array(w_hh, "w_hh", ndim=2, dtype=dtype)
    dtype = w_hh.dtype
    G, H = w_hh.shape
    if projection:  # [4H, P]; H is checked against w_hr by the caller
        if G % 4 or G == 0:
            raise ValueError(f"w_hh: expected shape (4*H, P) with a projection (w_hr), got {w_hh.shape}")
        H = G // 4
    elif G != 4 * H:
        hint = ""
        if G % 4 == 0 and 0 < H < G // 4:  # [4H, P]: a projected layer's
            hint = (
                "; a projection's [4H, P] (proj_size) needs its w_hr [P, H]: pass w_hr= to "
                "lstm_forward/lstm_backward (the cell kernels have no projection)"
            )
        raise ValueError(f"w_hh: expected shape (4*H, H), got {w_hh.shape}{hint}")
    w_ih = as_float_array(w_ih, "w_ih", ndim=2, dtype=dtype)
    check_shape(w_ih, "w_ih", (4 * H, None))
    b = as_float_array(b, "b", ndim=1, dtype=dtype)
    check_shape(b, "b", (4 * H,))
    return w_ih, w_hh, b


def _check_w_hr(w_hr, w_hh, dtype):
    """``w_hr [P, H]`` of a projected layer, against ``w_hh [4H, P]`` (``0 < P < H``)."""
    w_hr = as_float_array(w_hr, "w_hr", ndim=2, dtype=dtype)
    G, P = w_hh.shape
    check_shape(w_hr, "w_hr", (P, G // 4))
    if not 0 < P < G // 4:
        raise ValueError(f"w_hr: expected proj_size P in [1, H - 1], got P = {P}, H = {G // 4}")
    return w_hr


def check_lengths(lengths, T, B):
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
    h_prev, c_prev : ndarray [B, H] or None
        The previous state; None for zeros.
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
    _, h, c, cache = forward_core(x[None], h_prev, c_prev, w_ih, w_hh, b, np.zeros_like(b), None)
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
    res, _ = backward_core(arrays["dh"][None], zero, arrays["dc"], cache, w_ih, w_hh)
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


def _outputs(hs, lengths):
    """``y [T, B, R]`` from the states ``hs [T+1, B, R]``: a view without ``lengths``, else a
    copy that is zero past each row's length."""
    if lengths is None:
        return hs[1:]
    y = hs[1:].copy()
    y[np.arange(y.shape[0])[:, None] >= lengths[None, :]] = 0
    return y


def forward_core(x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, names=_KERNEL_NAMES, keep=True):
    """Run the forward driver on arguments that already have the right dtype,
    shapes and layout (C-contiguous, writeable); finiteness is checked in the
    driver. Returns ``y, h_n, c_n, cache`` with h_n, c_n views of the cache;
    ``keep=False`` (inference) saves nothing for BPTT and returns ``cache=None``."""
    T, B, I = x.shape
    H = w_hh.shape[1]
    status, hs, cs, gates = drivers.forward_alloc(
        x,
        h0,
        c0,
        w_ih,
        w_hh,
        b_ih,
        b_hh,
        _NO_LENGTHS if lengths is None else lengths,
        threads_for(B * H * (I + H) * T),
        keep,
    )
    _raise_status(status, names)
    y = _outputs(hs, lengths)
    # The states never change after a row's end (F6), so the last ones are final.
    if not keep:
        return y, hs[T], cs[T % 2], None
    return y, hs[T], cs[T], ForwardCache(x, hs, cs, gates, lengths)


def backward_core(dy, dh_n, dc_n, cache, w_ih, w_hh, keep_dgates=False, names=_KERNEL_NAMES, consume=False):
    """Run the BPTT driver (arguments already checked, as for ``forward_core``).

    Returns the :class:`BackwardResult` without norms, and the per-row squared
    norms [T, B, 2] they are made from (see :func:`batch_norms`). ``consume=True``
    (the layer, which drops its tape afterwards) lets dA overwrite ``cache.gates``
    (from :func:`forward_core`): one [T, B, 4H] array less at the peak.
    """
    x, hs, cs, gates, lengths = cache
    T, B, I = x.shape
    H = hs.shape[2]
    status, dx, dh, dc, da, dw_ih, dw_hh, db, sq_norms = drivers.backward_alloc(
        dy,
        dh_n,
        dc_n,
        x,
        hs,
        cs,
        gates,
        w_ih,
        w_hh,
        _NO_LENGTHS if lengths is None else lengths,
        threads_for(B * H * (I + H) * T),
        consume,
    )
    _raise_status(status, names)
    return BackwardResult(dx, dh, dc, dw_ih, dw_hh, db, da if keep_dgates else None, None, None), sq_norms


def batch_norms(sq_norms: np.ndarray):
    """Per-row squared norms [T, B, 2] -> ``(dh_norm, dc_norm)``: the batch norms of dh_t, dc_t, [T] each."""
    both = np.sqrt(sq_norms.sum(axis=1))
    return both[:, 0].copy(), both[:, 1].copy()


def timestep_core(da, x, h_prev):
    """The terms of (B8), one per time step, from arrays already checked: ``da [T, B, 4H]``,
    ``x [T, B, I]``, ``h_prev [T, B, H]`` (``hs[:T]``); see :func:`timestep_gradients`."""
    da_t = da.transpose(0, 2, 1)
    return da_t @ x, da_t @ h_prev, da.sum(axis=1)


_PROJ_NAMES = {"weights": "w_ih, w_hh, b or w_hr", "x": "x", "state": "h0 or c0", "grad": "dy, dh_n or dc_n"}


def proj_forward_core(
    x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths, names=_PROJ_NAMES, keep=True, packed=None
):
    """``forward_core`` for a layer with a projection (F7): ``w_hh [4H, P]``, ``w_hr [P, H]``,
    ``h0 [B, P]``, ``c0 [B, H]``; the time loop of :mod:`.projection`. ``packed``: a
    :class:`ProjTrainPack` made from these weights (None: packed here). Returns
    ``y [T, B, P], h_n [B, P], c_n [B, H], cache`` (a :class:`ProjCache`, None without ``keep``)."""
    T, B, I = x.shape
    H, P = w_hr.shape[1], w_hr.shape[0]
    if packed is None:
        packed = proj_train_pack((w_ih, w_hh, b_ih, b_hh, w_hr), backward=False)
    status, hs, cs, gates, hr = projection.proj_forward_packed(
        x,
        h0,
        c0,
        w_ih,
        w_hh,
        b_ih,
        b_hh,
        w_hr,
        *packed.forward,
        _NO_LENGTHS if lengths is None else lengths,
        threads_for(B * T * (4 * H * (I + P) + H * P)),
        keep,
    )
    _raise_status(status, names)
    y = _outputs(hs, lengths)
    if not keep:  # inference: cs holds c_T at T % 2
        return y, hs[T], cs[T % 2], None
    return y, hs[T], cs[T], ProjCache(x, hs, cs, gates, hr, lengths)


def proj_backward_core(
    dy, dh_n, dc_n, cache, w_ih, w_hh, w_hr, names=_PROJ_NAMES, keep_dgates=False, consume=False, packed=None
):
    """``backward_core`` for a :class:`ProjCache` (B1)-(B10): the :class:`ProjBackwardResult`
    (with ``dw_hr``; ``dgates`` and ``dhs``, each step's terms, with ``keep_dgates``; no norms)
    and the per-row squared norms [T, B, 2]. ``consume=True`` lets dA overwrite the cache's
    gates (the cache is unusable afterwards); ``packed``: the :class:`ProjTrainPack` the
    forward ran on (None: ``w_hh``, ``w_hr`` padded here)."""
    x, hs, cs, gates, hr, lengths = cache
    T, B, I = x.shape
    P, H = w_hr.shape
    if packed is None or packed.backward is None:
        padded = projection.proj_backward_pack(w_hh, w_hr)
    else:
        padded = packed.backward
    status, dx, dh, dc, dw_ih, dw_hh, db, dw_hr, sq_norms, da, dhs = projection.proj_backward_packed(
        dy,
        dh_n,
        dc_n,
        x,
        hs,
        cs,
        gates,
        hr,
        w_ih,
        w_hh,
        w_hr,
        *padded,
        _NO_LENGTHS if lengths is None else lengths,
        keep_dgates,
        threads_for(B * T * (4 * H * (I + P) + H * P)),
        consume,
    )
    _raise_status(status, names)
    if not keep_dgates:
        da = dhs = None
    return ProjBackwardResult(dx, dh, dc, dw_ih, dw_hh, db, da, None, None, dw_hr, dhs), sq_norms


class ProjTrainPack(NamedTuple):
    """One projected layer's weights packed for :func:`proj_forward_core` and
    :func:`proj_backward_core` (copies: they stay what the forward ran on)."""

    forward: tuple  #: ``(wzt, wrt, bias, Pp)`` of :func:`.projection.proj_forward_pack`
    backward: tuple | None  #: ``(wr, Hp, whh, Pp)`` of :func:`.projection.proj_backward_pack`


def proj_train_pack(w, backward=True):
    """The :class:`ProjTrainPack` of one projected layer's ``(w_ih, w_hh, b_ih, b_hh, w_hr)``
    (values unchecked: the kernels check the weights themselves)."""
    fwd = projection.proj_forward_pack(*w)
    return ProjTrainPack(fwd, projection.proj_backward_pack(w[1], w[4]) if backward else None)


class ProjStackPacks(NamedTuple):
    """A projected stack's :class:`ProjTrainPack` per layer and direction, and a flat copy of
    the weights they were made from (:func:`proj_stack_packs` tells when they change)."""

    packs: tuple
    snap: np.ndarray


def proj_stack_packs(weights, cached=None):
    """``cached`` if it was made from weights bitwise equal to ``weights`` (one compiled
    comparison, :func:`_changed`), else a new :class:`ProjStackPacks`: a caller
    that runs the same weights again skips packing them (the torch module)."""
    mats, vecs = _proj_step_arrays(weights)
    if (
        cached is not None
        and cached.snap.dtype == mats[0].dtype
        and cached.snap.size == sum(a.size for a in mats + vecs)
    ):
        if not _changed(cached.snap, mats, vecs):
            return cached
    packs = tuple(proj_train_pack(w) for w in weights)
    return ProjStackPacks(packs, _snapshot(mats, vecs))


# --------------------------------------------------------------------------
# the stacked LSTM: layers x directions x lengths x state (unchecked, as above)
# --------------------------------------------------------------------------
class StackTape(NamedTuple):
    """What :func:`stack_backward` needs from :func:`stack_forward`."""

    caches: list  #: [L*D] ForwardCache, index k = layer * D + d
    masks: list  #: [L] the dropout mask multiplied into each layer's output, or None
    lengths: np.ndarray | None  #: [B] int64, or None (all T)
    rev: tuple | None  #: the reverse direction's gather index (reverse_index), or None


def stack_parameters(input_size, hidden_size, num_layers, directions=1, bias=True, proj_size=0):
    """The parameters of a stack, in PyTorch's names, shapes and order.

    Parameters
    ----------
    input_size, hidden_size, num_layers : int
        ``I``, ``H`` and ``L``.
    directions : int
        1 or 2.
    bias : bool
        Whether the layers have ``bias_ih`` and ``bias_hh``.
    proj_size : int
        ``P``: 0 for none; else every layer direction has ``weight_hr [P, H]`` (last, as
        PyTorch orders it), ``weight_hh`` is ``[4H, P]`` and layer ``k >= 1`` reads ``D*P``.

    Returns
    -------
    list of list of tuple
        Per layer and direction (index ``k = layer * directions + d``), ``(name, shape)``
        of ``weight_ih_l{layer}``, ``weight_hh_l{layer}`` (and the biases, and ``weight_hr_l{layer}``
        with a projection), with a ``_reverse`` suffix for ``d = 1``.
    """
    H = hidden_size
    R = proj_size if proj_size else H  # the width of h
    out = []
    for layer in range(num_layers):
        for d in range(directions):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            in_size = input_size if layer == 0 else R * directions
            shapes = [(f"weight_ih{sfx}", (4 * H, in_size)), (f"weight_hh{sfx}", (4 * H, R))]
            if bias:
                shapes += [(f"bias_ih{sfx}", (4 * H,)), (f"bias_hh{sfx}", (4 * H,))]
            if proj_size:
                shapes.append((f"weight_hr{sfx}", (proj_size, H)))
            out.append(shapes)
    return out


def reverse_index(lengths, T, B):
    """Gather indices reversing each sequence within its own length (padding stays put).

    Parameters
    ----------
    lengths : ndarray [B] of int64 or None
        None: a plain reversal in time.
    T, B : int
        Time steps and batch rows.

    Returns
    -------
    tuple of ndarray or None
        ``(time index [T, B], row index [1, B])`` for :func:`reverse_time`.
    """
    if lengths is None:
        return None
    t = np.arange(T)[:, None]
    idx = np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)
    return idx, np.arange(B)[None, :]


def reverse_time(a, rev):
    """``a`` reversed in time (per sequence with ``rev``), C-contiguous; an involution.

    Parameters
    ----------
    a : ndarray [T, B, ...]
    rev : tuple or None
        From :func:`reverse_index`.

    Returns
    -------
    ndarray
    """
    if rev is None:
        return np.ascontiguousarray(a[::-1])
    return np.ascontiguousarray(a[rev[0], rev[1]])


def stack_forward(
    x, h0, c0, weights, directions=1, lengths=None, dropout=None, keep=True, names=None, packs=None
):
    """A stack of LSTM layers over a batch of sequences: the one forward of both LSTM surfaces.

    Parameters
    ----------
    x : ndarray [T, B, I]
        C-contiguous, of the weights' dtype (as every array here).
    h0, c0 : ndarray [L*D, B, H]
        Initial states, C-contiguous.
    weights : list of tuple
        ``L*D`` tuples ``(w_ih, w_hh, b_ih, b_hh)`` (zero arrays for no bias), index
        ``k = layer * directions + d``; with a projection (``proj_size`` P > 0, (F7))
        ``(w_ih, w_hh, b_ih, b_hh, w_hr)`` with ``w_hh [4H, P]``, ``w_hr [P, H]``: that
        layer runs :mod:`.projection`'s loops (lengths and both directions as without),
        its ``h`` (states, output) ``P`` wide.
    directions : int
        1, or 2 (the second direction runs reversed in time, per sequence with lengths).
    lengths : ndarray [B] of int64, optional
        From :func:`check_lengths`; None: every row has ``T`` steps.
    dropout : callable, optional
        ``dropout(shape) -> mask or None``, called for every layer's output but the last's,
        in order; the output is multiplied by the mask.
    keep : bool
        Keep what :func:`stack_backward` needs (False for inference).
    names : list of dict, optional
        Per ``k``, the names the kernels' NaN/Inf errors use (keys ``weights``, ``x``,
        ``state``, ``grad``).
    packs : sequence of ProjTrainPack, optional
        Per ``k``, a projected layer's weights packed already (:func:`proj_stack_packs`),
        made from ``weights``; None: packed here.

    Returns
    -------
    output : ndarray [T, B, D*H] (``D*P`` with a projection)
        Without lengths, dropout and a second direction, the last layer's state array
        ``tape.caches[-1].hs[1:]`` itself.
    h_n, c_n : ndarray [L*D, B, H] (``h_n`` ``[L*D, B, P]`` with a projection)
    tape : StackTape or None
        None without ``keep``.
    """
    T, B, _ = x.shape
    D = directions
    n_layers = len(weights) // D
    R = weights[0][1].shape[1]  # the width of h: H, or P with a projection
    rev = reverse_index(lengths, T, B) if D == 2 else None
    h_n = np.empty((n_layers * D, B, R), dtype=x.dtype)
    c_n = np.empty((n_layers * D, B, weights[0][1].shape[0] // 4), dtype=x.dtype)
    caches, masks = [], []
    inp = x
    for layer in range(n_layers):
        outs = []
        for d in range(D):
            k = layer * D + d
            w_ih, w_hh, b_ih, b_hh = weights[k][:4]
            src = inp if d == 0 else reverse_time(inp, rev)
            err = _KERNEL_NAMES if names is None else names[k]
            if len(weights[k]) > 4:  # a projection (F7): w_hr last
                y, h_n[k], c_n[k], cache = proj_forward_core(
                    src,
                    h0[k],
                    c0[k],
                    w_ih,
                    w_hh,
                    b_ih,
                    b_hh,
                    weights[k][4],
                    lengths,
                    err,
                    keep,
                    None if packs is None else packs[k],
                )
            else:
                y, h_n[k], c_n[k], cache = forward_core(
                    src, h0[k], c0[k], w_ih, w_hh, b_ih, b_hh, lengths, err, keep
                )
            outs.append(y if d == 0 else reverse_time(y, rev))
            caches.append(cache)
        inp = outs[0] if D == 1 else np.concatenate(outs, axis=2)
        mask = dropout(inp.shape) if dropout is not None and layer < n_layers - 1 else None
        if mask is not None:
            inp = inp * mask
        masks.append(mask)
    return inp, h_n, c_n, (StackTape(caches, masks, lengths, rev) if keep else None)


def stack_backward(
    d_output, d_h_n, d_c_n, tape, weights, keep_dgates=False, names=None, consume=False, packs=None
):
    """BPTT through a :func:`stack_forward`: the one backward of both LSTM surfaces.

    Parameters
    ----------
    d_output : ndarray [T, B, D*H] (``D*P`` with a projection)
        dE/d output, time-major, finite (the callers check), of the tape's dtype.
    d_h_n, d_c_n : ndarray [L*D, B, H] (``d_h_n`` ``[L*D, B, P]`` with a projection)
        dE/dh_n and dE/dc_n, C-contiguous.
    tape : StackTape
        From :func:`stack_forward`.
    weights : list of tuple
        As for :func:`stack_forward`.
    keep_dgates : bool
        Keep each layer's dA (``BackwardResult.dgates``; for a projected layer also each
        step's total dh_t, ``ProjBackwardResult.dhs``).
    names : list of dict, optional
        Per ``k``, the names of the kernels' errors.
    consume : bool
        Let dA overwrite the tape's gates (the tape is unusable afterwards).
    packs : sequence of ProjTrainPack, optional
        The packs :func:`stack_forward` ran on (a projected layer's padded ``w_hh``,
        ``w_hr``); None: padded here from ``weights``.

    Returns
    -------
    d_x : ndarray [T, B, I]
    d_h0, d_c0 : ndarray [L*D, B, H]
    results : list
        Per ``k``, the ``(BackwardResult, sq_norms)`` of :func:`backward_core` (a
        :class:`ProjBackwardResult` for a projected layer); its ``dw_ih, dw_hh, db`` (and
        ``dw_hr`` with a projection) are the parameter gradients.
    """
    caches, masks, _, rev = tape
    LD = len(caches)
    D = LD // len(masks)
    T, B = caches[0].x.shape[:2]
    H = caches[0].hs.shape[2]  # the width of h (P with a projection)
    d_h0 = np.empty((LD, B, H), dtype=caches[0].hs.dtype)
    d_c0 = np.empty((LD, B, caches[0].cs.shape[2]), dtype=caches[0].hs.dtype)
    results = [None] * LD
    d_out = d_output
    for layer in range(LD // D - 1, -1, -1):
        if masks[layer] is not None:
            d_out = d_out * masks[layer]
        d_in = None
        for d in range(D):
            k = layer * D + d
            dy = d_out[:, :, d * H : (d + 1) * H]
            dy = np.ascontiguousarray(dy) if d == 0 else reverse_time(dy, rev)
            if isinstance(caches[k], ProjCache):
                res, sq_norms = proj_backward_core(
                    dy,
                    d_h_n[k],
                    d_c_n[k],
                    caches[k],
                    weights[k][0],
                    weights[k][1],
                    weights[k][4],
                    _KERNEL_NAMES if names is None else names[k],
                    keep_dgates,
                    consume,
                    None if packs is None else packs[k],
                )
            else:
                res, sq_norms = backward_core(
                    dy,
                    d_h_n[k],
                    d_c_n[k],
                    caches[k],
                    weights[k][0],
                    weights[k][1],
                    keep_dgates,
                    _KERNEL_NAMES if names is None else names[k],
                    consume,
                )
            dx = res.dx if d == 0 else reverse_time(res.dx, rev)
            d_in = dx if d_in is None else d_in + dx
            d_h0[k], d_c0[k] = res.dh0, res.dc0
            results[k] = (res, sq_norms)
        d_out = d_in
    return d_out, d_h0, d_c0, results


# ------------------------------------------------------------------ step mode
class StepPack(NamedTuple):
    """A unidirectional stack's weights packed once for :func:`stack_step`."""

    wxps: np.ndarray  #: [L, P, I_max, 4U] input-weight panels
    whps: np.ndarray  #: [L, P, H, 4U] recurrent-weight panels
    bps: np.ndarray  #: [L, P, 4U] bias panels (b_ih + b_hh)
    snap: np.ndarray  #: a flat copy of the weights packed, to tell when they change


def _step_arrays(weights):
    """The weights as two homogeneous tuples (matrices, vectors), as the compiled step reads them."""
    if len(weights) == 1:  # the common case, without the generators' cost
        w_ih, w_hh, b_ih, b_hh = weights[0]
        return (w_ih, w_hh), (b_ih, b_hh)
    return tuple([a for w in weights for a in w[:2]]), tuple([a for w in weights for a in w[2:]])


def stack_pack(weights, name="lstm"):
    """Pack a unidirectional stack's weights for :func:`stack_step`.

    Parameters
    ----------
    weights : list of tuple
        As for :func:`stack_forward`, one per layer.
    name : str
        What a ``ValueError`` for NaN or Inf weights calls them.

    Returns
    -------
    StepPack
    """
    mats, vecs = _step_arrays(weights)
    packed = drivers.pack_layers(mats[0::2], np.stack(mats[1::2]), np.stack(vecs[0::2]), np.stack(vecs[1::2]))
    for what, arr in zip(("input weights", "recurrent weights", "biases"), packed, strict=True):
        if nonfinite(arr):
            raise ValueError(f"{name}: expected finite {what}, got NaN or Inf")
    return StepPack(*packed, _snapshot(mats, vecs))


def step_buffers(pack, B):
    """The scratch arrays of :func:`stack_step` for ``B`` rows.

    Parameters
    ----------
    pack : StepPack
        From :func:`stack_pack`.
    B : int
        Batch rows.

    Returns
    -------
    tuple of ndarray
        ``(gates, blk, steps)``: scratch, and the step's lengths (every row lives one step).
    """
    _, P, _, U4 = pack.whps.shape
    H = pack.whps.shape[2]
    return (
        np.empty((B, 4 * H), pack.whps.dtype),
        np.empty((ROW_BLOCKS[0], P * U4), pack.whps.dtype),
        np.ones(B, dtype=np.int64),
    )


_STALE = -1


@njit(**JIT)
def _n_ne(f, s):
    n = 0
    for i in range(f.size):
        n += f[i] != s[i]
    return n


@njit(**JIT)
def _n_differ(f, s):
    """How many entries of ``f`` and ``s`` (flat, C-contiguous, the same size) differ bitwise
    (a -0.0 for a 0.0 included): an integer sum over the bits as unsigned integers, which LLVM
    vectorises (an ``or`` of float comparisons it did not: 3x slower, measured)."""
    if f.itemsize == 8:
        return _n_ne(f.view(np.uint64), s.view(np.uint64))
    return _n_ne(f.view(np.uint32), s.view(np.uint32))


def _snapshot(mats, vecs):
    """The flat copy of the weights :func:`_changed` compares them with."""
    return np.concatenate([a.reshape(-1) for a in mats + vecs])


@njit(**JIT)
def _changed(snap, mats, vecs):
    """Whether ``mats`` and ``vecs`` (C-contiguous) differ bitwise from their flat copy ``snap``."""
    o = 0
    n = 0
    for a in mats:
        n += _n_differ(a.reshape(a.size), snap[o : o + a.size])
        o += a.size
    for a in vecs:
        n += _n_differ(a, snap[o : o + a.size])
        o += a.size
    return n != 0


@njit(**JIT)
def _checked_step(x, h, c, wxps, whps, bps, gates, blk, steps, snap, mats, vecs):
    """The step of a caller's state on weights that may have changed since they were packed."""
    if _changed(snap, mats, vecs):
        return _STALE, h[0, :, :0].copy()
    if nonfinite(h) or nonfinite(c):
        return BAD_STATE, h[0, :, :0].copy()
    return drivers.step_layers(x, h, c, wxps, whps, bps, gates, blk, steps)


def stack_step(x, h, c, pack, buffers, weights=None):
    """One time step of a unidirectional stack, the state updated in place.

    Parameters
    ----------
    x : ndarray [B, I]
        C-contiguous, of the weights' dtype.
    h, c : ndarray [L, B, H]
        The state, C-contiguous; updated in place (unchanged when an error is raised).
    pack : StepPack
        From :func:`stack_pack`.
    buffers : tuple
        From :func:`step_buffers`.
    weights : list of tuple, optional
        The weights ``pack`` was made from (as for :func:`stack_forward`): if given, a pack
        that no longer matches them is made again first (one compiled comparison per call)
        and the state is checked for NaN and Inf; without, the state is the caller's own,
        known to be finite (the stepper's).

    Returns
    -------
    h_top : ndarray [B, H]
        The top layer's ``h_t`` (a new array).
    pack : StepPack
        ``pack``, or the one made again.

    Raises
    ------
    ValueError
        NaN or Inf in ``x`` or the state.
    """
    if weights is None:  # the stepper: its own state, checked when it was set
        status, h_top = drivers.step_layers(x, h, c, pack.wxps, pack.whps, pack.bps, *buffers)
    else:
        if pack.snap.dtype != x.dtype:  # weights of another dtype now
            pack = stack_pack(weights)
        mats, vecs = _step_arrays(weights)
        status, h_top = _checked_step(
            x, h, c, pack.wxps, pack.whps, pack.bps, *buffers, pack.snap, mats, vecs
        )
        if status == _STALE:
            pack = stack_pack(weights)
            status, h_top = _checked_step(
                x, h, c, pack.wxps, pack.whps, pack.bps, *buffers, pack.snap, mats, vecs
            )
    if status != OK:
        raise ValueError(
            ("x" if status == BAD_X else "state (h, c)") + ": expected finite values, got NaN or Inf"
        )
    return h_top, pack


def proj_stack_pack(weights):
    """The step mode of a unidirectional projected stack (``proj_size``): per layer the panels of
    :func:`.projection.proj_pack`, made once from ``weights`` (as for :func:`stack_forward`, each
    ``(w_ih, w_hh, b_ih, b_hh, w_hr)``). Raises ValueError naming the layer if a weight holds
    NaN or Inf."""
    packs = []
    for k, w in enumerate(weights):
        status, *panels = projection.proj_pack(*w)
        if status != OK:
            raise ValueError(
                f"weight_ih_l{k}, weight_hh_l{k}, the biases or weight_hr_l{k}: "
                "expected finite values, got NaN or Inf"
            )
        packs.append(tuple(panels))
    return packs


def proj_stack_step(x, h, c, packs):
    """One step of every layer of a projected stack, in place: ``x [B, I]``, ``h [L, B, P]``,
    ``c [L, B, H]`` (C-contiguous, of the packs' dtype) on :func:`proj_stack_pack`'s panels.
    Returns the top layer's ``h_t`` (a new array). Raises ValueError if ``x`` holds NaN or Inf
    (the state is then unchanged)."""
    inp = x
    for k, pack in enumerate(packs):
        if projection.proj_step(inp, h[k], c[k], *pack) != OK:  # only layer 0's input can be bad
            raise ValueError("x: expected finite values, got NaN or Inf")
        inp = h[k]
    return h[len(packs) - 1].copy()


class ProjStepPack(NamedTuple):
    """A unidirectional projected stack's weights packed once for :func:`proj_cached_step`."""

    packs: tuple  #: per layer the panels ``(wxt, wht, wrt, bias)`` of :func:`.projection.proj_pack`
    snap: np.ndarray  #: a flat copy of the weights packed, to tell when they change


def _proj_step_arrays(weights):
    """The projected weights as two homogeneous tuples: ``(w_ih, w_hh, w_hr)`` and
    ``(b_ih, b_hh)`` per layer, as :func:`_changed` reads them."""
    if len(weights) == 1:  # the common case, without the generators' cost
        w_ih, w_hh, b_ih, b_hh, w_hr = weights[0]
        return (w_ih, w_hh, w_hr), (b_ih, b_hh)
    return tuple([a for w in weights for a in (w[0], w[1], w[4])]), tuple(
        [a for w in weights for a in w[2:4]]
    )


def proj_step_pack(weights):
    """:func:`proj_stack_pack` with a snapshot of the weights (:class:`ProjStepPack`), for a
    caller whose weights may change between steps (:func:`proj_cached_step`). Raises
    ValueError if a weight holds NaN or Inf."""
    mats, vecs = _proj_step_arrays(weights)
    packs = tuple(proj_stack_pack(weights))
    return ProjStepPack(packs, _snapshot(mats, vecs))


@njit(**JIT)
def _proj_checked_steps(x, h, c, packs, snap, mats, vecs):
    """:func:`proj_cached_step`'s compiled part: ``(status, layer)``, status _STALE (nothing
    done) if the weights differ from ``snap``, BAD_STATE (nothing done) for NaN or Inf in the
    state, BAD_X if ``layer``'s input holds NaN or Inf (the layers below it stepped), else OK."""
    if _changed(snap, mats, vecs):
        return _STALE, 0
    if nonfinite(h) or nonfinite(c):
        return BAD_STATE, 0
    k = 0
    status = projection.proj_step(x, h[0], c[0], packs[0][0], packs[0][1], packs[0][2], packs[0][3])
    for k in range(1, len(packs)):
        if status != OK:
            return status, k - 1
        p = packs[k]
        status = projection.proj_step(h[k - 1], h[k], c[k], p[0], p[1], p[2], p[3])
    return status, k


def proj_cached_step(x, h, c, pack, weights):
    """One step of a unidirectional projected stack on a :class:`ProjStepPack`, made again first
    if ``weights`` (as for :func:`stack_forward`) no longer match it (one compiled comparison
    per call) or are of another dtype (``pack`` None: made now): the torch module's step
    without a graph. ``x [B, I]``, ``h [L, B, P]``, ``c [L, B, H]`` (C-contiguous) updated in
    place (the caller's copies: they may be left half-stepped when an error is raised).
    Bitwise the outputs of :func:`stack_forward` at ``T = 1`` (the same products per row, in
    the same order).

    Returns ``(h_top [B, P], pack)``; raises ValueError for NaN or Inf in a weight, ``x``, a
    layer's input or the state (the general path names the argument)."""
    if pack is None or pack.snap.dtype != x.dtype:
        pack = proj_step_pack(weights)
    mats, vecs = _proj_step_arrays(weights)
    status, k = _proj_checked_steps(x, h, c, pack.packs, pack.snap, mats, vecs)
    if status == _STALE:
        pack = proj_step_pack(weights)
        status, k = _proj_checked_steps(x, h, c, pack.packs, pack.snap, mats, vecs)
    if status == BAD_STATE:
        raise ValueError("state (h, c): expected finite values, got NaN or Inf")
    if status != OK:
        raise ValueError(
            ("x" if k == 0 else f"layer {k}'s input") + ": expected finite values, got NaN or Inf"
        )
    return h[len(pack.packs) - 1].copy(), pack


def lstm_forward(x, h0, c0, w_ih, w_hh, b, lengths=None, w_hr=None):
    """Forward pass over a batch of sequences, (F1)-(F6); with ``w_hr`` a projected LSTM
    (LSTMP, PyTorch's ``proj_size``), (F7).

    Parameters
    ----------
    x : ndarray [T, B, I]
    h0, c0 : ndarray [B, H] or None
        Initial states (zeros when None); with a projection ``h0`` is ``[B, P]``.
    w_ih : ndarray [4H, I]
    w_hh : ndarray [4H, H]
        ``[4H, P]`` with a projection.
    b : ndarray [4H]
        ``b_ih + b_hh``.
    lengths : array of int [B], optional
        Length of each sequence, ``0 <= L[b] <= T``; steps past a sequence's
        end produce zero output and leave its state unchanged.
    w_hr : ndarray [P, H], optional
        The projection ``h_t = (o_t * tanh c_t) W_hr^T`` (``0 < P < H``); None: none.

    Returns
    -------
    y : ndarray [T, B, H]
        Outputs ``h_t`` (``[T, B, P]`` with a projection); zero past each sequence's end.
        Without ``lengths`` this is a read-only view of ``cache.hs[1:]``; copy it to modify it.
    h_n, c_n : ndarray [B, H]
        States at each sequence's last step (``h_n [B, P]`` with a projection).
    cache : ForwardCache
        Saved arrays for :func:`lstm_backward` (a :class:`ProjCache` with a projection).

    Raises
    ------
    TypeError, ValueError
        Wrong dtype (all arrays must share float32 or float64), shape, or
        lengths; NaN or Inf in any input.
    """
    w_ih, w_hh, b = _check_weights(w_ih, w_hh, b, projection=w_hr is not None)
    dtype = w_hh.dtype
    H, R = w_hh.shape[0] // 4, w_hh.shape[1]  # R: the width of h (P with a projection)
    if w_hr is not None:
        w_hr = _check_w_hr(w_hr, w_hh, dtype)
    x = as_float_array(x, "x", ndim=3, dtype=dtype, finite=False)
    T, B, I = x.shape
    check_shape(x, "x", (T, B, w_ih.shape[1]))
    lengths = check_lengths(lengths, T, B)
    h0 = _state(h0, "h0", B, R, dtype)
    c0 = _state(c0, "c0", B, H, dtype)
    if w_hr is None:
        y, h_n, c_n, cache = forward_core(x, h0, c0, w_ih, w_hh, b, np.zeros_like(b), lengths)
    else:
        y, h_n, c_n, cache = proj_forward_core(x, h0, c0, w_ih, w_hh, b, np.zeros_like(b), w_hr, lengths)
    if lengths is None:  # y is the cache's hs[1:]: writing to it would corrupt backward
        y = y.view()
        y.flags.writeable = False
    return y, h_n.copy(), c_n.copy(), cache


def lstm_backward(dy, dh_n, dc_n, cache, w_ih, w_hh, keep_dgates=False, w_hr=None):
    """Backpropagation through time over a batch of sequences, (B1)-(B9); through a
    projected forward (a :class:`ProjCache`, ``w_hr`` given) (B10) too.

    Parameters
    ----------
    dy : ndarray [T, B, H] or None
        Upstream gradient of every output ``y_t`` (zero when None; ``[T, B, P]`` with a
        projection). Entries past a sequence's end are ignored.
    dh_n, dc_n : ndarray [B, H] or None
        Gradients of the final states, e.g. carried in from a later chunk (``dh_n [B, P]``
        with a projection).
    cache : ForwardCache or ProjCache
        From :func:`lstm_forward`.
    w_ih, w_hh : ndarray
        The weights the forward pass used.
    keep_dgates : bool
        Also return the pre-activation gradients ``dA`` [T, B, 4H], from
        which :func:`timestep_gradients` derives each step's contribution (with a
        projection also each step's total ``dh_t``, ``ProjBackwardResult.dhs``).
    w_hr : ndarray [P, H], optional
        The projection the forward pass used; required with a :class:`ProjCache`, refused
        with a :class:`ForwardCache`.

    Returns
    -------
    BackwardResult
        ``dx, dh0, dc0, dw_ih, dw_hh, db, dgates, dh_norm, dc_norm``; a
        :class:`ProjBackwardResult` (those and ``dw_hr [P, H]``, ``dhs``) with a projection.
    """
    projected = isinstance(cache, ProjCache)
    if not (projected or isinstance(cache, ForwardCache)):
        raise TypeError(
            f"cache: expected the ForwardCache or ProjCache from lstm_forward, got {type(cache).__name__}"
        )
    if projected != (w_hr is not None):
        raise ValueError(
            "w_hr: expected the projection w_hr [P, H] with a ProjCache (from lstm_forward(..., w_hr=...)) "
            f"and None with a ForwardCache; got {'None' if w_hr is None else 'an array'} with a "
            f"{type(cache).__name__}"
        )
    x, hs = cache.x, cache.hs
    dtype = hs.dtype
    T, B, I = x.shape
    R = hs.shape[2]  # the width of h (P with a projection)
    H = cache.cs.shape[2]
    w_hh = as_float_array(w_hh, "w_hh", ndim=2, dtype=dtype)
    check_shape(w_hh, "w_hh", (4 * H, R))
    w_ih = as_float_array(w_ih, "w_ih", ndim=2, dtype=dtype)
    check_shape(w_ih, "w_ih", (4 * H, I))
    if dy is None:
        dy = np.zeros((T, B, R), dtype=dtype)
    else:
        dy = as_float_array(dy, "dy", ndim=3, dtype=dtype, finite=False)
        check_shape(dy, "dy", (T, B, R))
    dh = _state(dh_n, "dh_n", B, R, dtype)
    dc = _state(dc_n, "dc_n", B, H, dtype)
    if projected:
        w_hr = _check_w_hr(w_hr, w_hh, dtype)
        res, sq_norms = proj_backward_core(dy, dh, dc, cache, w_ih, w_hh, w_hr, keep_dgates=keep_dgates)
    else:
        res, sq_norms = backward_core(dy, dh, dc, cache, w_ih, w_hh, keep_dgates)
    dh_norm, dc_norm = batch_norms(sq_norms)
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
    return timestep_core(dgates, cache.x, cache.hs[:T])
