"""The projected LSTM (LSTMP, PyTorch's ``proj_size``): one layer direction's time loop,
forward (F1)-(F7) and BPTT (B1)-(B10), on the register-blocked product of :mod:`.simd`.

Each step is three products and two pointwise passes, for a block of batch rows at a time:
``A_t = b + [x_t, h_{t-1}] [W_ih, W_hh]^T`` (F1)-(F2) (one product) into a row buffer, the pointwise
(F3)-(F6) (the activations of :mod:`.activations`, the same :func:`sigmoid` and :func:`tanh`
as the drivers), then ``h_t = h~_t W_hr^T`` (F7); backward ``dh~_t = dh_t W_hr`` (B10), the
pointwise (B2)-(B5), ``dh^rec_{t-1} = dA_t W_hh`` (B6) per step, and after the time loop
(B7), (B8) and ``dW_hr = sum dh_t^T h~_t`` (B10) with the drivers' :func:`input_grad` and
:func:`weight_grads`. The weights are transposed and zero-padded to whole vector panels
(:func:`proj_forward_pack`, :func:`proj_backward_pack`) once per call, or once for many by a
caller that keeps the panels (:func:`proj_forward_packed`, :func:`proj_backward_packed`; the
torch module, while its weights do not change). Rows never interact, so each thread owns
fixed rows for all ``T`` steps (one parallel region per call) and every row's arithmetic is
the same whatever the thread count: results are bitwise identical for any number of threads.

Reached only through :mod:`fastlstm.kernels.api` (``stack_forward``/``stack_backward`` call
it for a layer with a projection weight ``W_hr``) and :mod:`fastlstm.kernels.compiled`.
Lengths (F6)/(B9) are handled here; the reverse direction is the stack's (the sequences
reversed per row before and after, as without projection).

Shapes: ``x [T, B, I]``, ``w_ih [4H, I]``, ``w_hh [4H, P]``, ``b_ih, b_hh [4H]``,
``w_hr [P, H]``; states ``h [B, P]`` (projected), ``c [B, H]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._config import JIT, JIT_PARALLEL
from .drivers import (
    BAD_GRAD,
    BAD_STATE,
    BAD_WEIGHTS,
    BAD_X,
    OK,
    input_grad,
    n_chunks_for,
    nonfinite,
    weight_grads,
)
from .simd import NV, ROW_BLOCKS, VECTOR_BITS, make_gemm_kernel
from .vecmath import backward_row, forward_row

__all__ = [
    "proj_backward",
    "proj_backward_pack",
    "proj_backward_packed",
    "proj_forward",
    "proj_forward_pack",
    "proj_forward_packed",
    "proj_pack",
    "proj_step",
]

_R0, _R1, _R2, _R3 = ROW_BLOCKS
_VEC_BYTES = VECTOR_BITS // 8
_g0, _g1, _g2, _g3 = (make_gemm_kernel(r) for r in ROW_BLOCKS)


@njit(**JIT)
def _panel_width(dtype_item):
    return NV * (_VEC_BYTES // dtype_item)


@njit(**JIT)
def _gemm(a, a0, ar, K, w, wk, n_panels, out, o0, orow, m):
    """``out[o0 + r*orow + c] += sum_k a[a0 + r*ar + k] * w[k*wk + c]`` for rows ``r < m`` and
    columns ``c < n_panels * C`` (a, w, out flat; w's rows ``wk >= n_panels * C`` apart).
    Panel by panel (a ``[K, C]`` slice of ``w`` serves every row block), rows in register
    blocks; each row's sum runs over k in order, whatever the block."""
    C = _panel_width(w.itemsize)
    for p in range(n_panels):
        w0 = p * C
        r = 0
        while r < m:
            n = m - r
            ra = a0 + r * ar
            ro = o0 + r * orow + w0
            if n >= _R0:
                _g0(a, ra, ar, 1, w, w0, wk, K, out, ro, orow)
                r += _R0
            elif n >= _R1:
                _g1(a, ra, ar, 1, w, w0, wk, K, out, ro, orow)
                r += _R1
            elif n >= _R2:
                _g2(a, ra, ar, 1, w, w0, wk, K, out, ro, orow)
                r += _R2
            else:
                _g3(a, ra, ar, 1, w, w0, wk, K, out, ro, orow)
                r += _R3


@njit(**JIT)
def _padded_t(w, C):
    """``w [R, K] -> [K, Kp]`` flat: the transpose, its rows zero-padded to whole panels."""
    R, K = w.shape
    Rp = (R + C - 1) // C * C
    out = np.zeros(K * Rp, dtype=w.dtype)
    wt = w.T
    for k in range(K):
        for r in range(R):
            out[k * Rp + r] = wt[k, r]
    return out, Rp


@njit(**JIT)
def _padded(w, C):
    """``w [R, K] -> [R, Kp]`` flat, the rows zero-padded to whole panels."""
    R, K = w.shape
    Kp = (K + C - 1) // C * C
    out = np.zeros(R * Kp, dtype=w.dtype)
    for r in range(R):
        src = w[r]
        dst = out[r * Kp : r * Kp + K]
        for k in range(K):  # row views: LLVM vectorises the copy (3x the indexed loop, measured)
            dst[k] = src[k]
    return out, Kp


@njit(**JIT)
def _forward_rows(lo, hi, x, hs, cs, gates, hr, wzt, wrt, bias, Pp, lengths):
    """(F1)-(F7) for the batch rows ``[lo, hi)`` and every step. With a full cache
    (``cs [T+1, B, H]``, ``gates [T, B, 4H]``, ``hr [T, B, H]``) every step is kept for BPTT;
    for inference ``cs`` is ``[2, B, H]`` (alternating), ``gates`` and ``hr`` ``[1, B, .]``."""
    T, B, I = x.shape
    P = hs.shape[2]
    H = cs.shape[2]
    Gp = bias.size  # 4 Hs: each gate's pre-activations Hs >= H apart (Hs whole vectors)
    m = hi - lo
    if m <= 0:
        return
    keep = gates.shape[0] == T
    C = _panel_width(x.itemsize)
    dt = x.dtype
    blk = np.empty((m, Gp), dtype=dt)
    abuf = blk.reshape(m * Gp)
    pbuf = np.empty(m * Pp, dtype=dt)
    z = np.empty((m, I + P), dtype=dt)
    zf = z.reshape(z.size)
    hrf = hr.reshape(hr.size)
    has_len = lengths.size > 0
    for t in range(T):
        ti = t if keep else 0
        c_prev = cs[t] if keep else cs[t % 2]
        c_new = cs[t + 1] if keep else cs[(t + 1) % 2]
        g_t = gates[ti]
        h_t = hr[ti]
        for r in range(m):  # z_t = [x_t, h_{t-1}]: one product for (F1), (F2)
            blk[r] = bias
            b = lo + r
            for i in range(I):
                z[r, i] = x[t, b, i]
            for p in range(P):
                z[r, I + p] = hs[t, b, p]
        _gemm(zf, 0, I + P, I + P, wzt, Gp, Gp // C, abuf, 0, Gp, m)
        for r in range(m):
            b = lo + r
            if has_len and t >= lengths[b]:  # (F6): the state is copied; gates, h~ are 0
                for j in range(H):
                    c_new[b, j] = c_prev[b, j]
                    h_t[b, j] = 0
                for j in range(4 * H):
                    g_t[b, j] = 0
            else:  # (F3)-(F5): h~ = o * tanh(c), the unprojected state of (F7)
                forward_row(blk, r, c_prev, c_prev, h_t, c_new, g_t, b)
        pbuf[:] = 0
        _gemm(hrf, (ti * B + lo) * H, H, H, wrt, Pp, Pp // C, pbuf, 0, Pp, m)  # (F7)
        for r in range(m):
            b = lo + r
            if has_len and t >= lengths[b]:
                for p in range(P):
                    hs[t + 1, b, p] = hs[t, b, p]
            else:
                for p in range(P):
                    hs[t + 1, b, p] = pbuf[r * Pp + p]


@njit(**JIT_PARALLEL)
def _forward_parallel(n_chunks, x, hs, cs, gates, hr, wzt, wrt, bias, Pp, lengths):
    B = x.shape[1]
    for c in prange(n_chunks):
        lo, hi = c * B // n_chunks, (c + 1) * B // n_chunks
        _forward_rows(lo, hi, x, hs, cs, gates, hr, wzt, wrt, bias, Pp, lengths)


@njit(**JIT)
def _gate_major_t(w, Hs):
    """``w [4H, K] -> [K, 4Hs]`` flat: the transpose with gate ``g``'s unit ``j`` in column
    ``g*Hs + j`` (zero past ``H``), the layout :func:`forward_row` reads."""
    G, K = w.shape
    H = G // 4
    out = np.zeros(K * 4 * Hs, dtype=w.dtype)
    wt = w.T  # rows of out written in order (the strided side is the read: no write-allocate misses)
    for k in range(K):
        for g in range(4):
            o0 = k * 4 * Hs + g * Hs
            for j in range(H):
                out[o0 + j] = wt[k, g * H + j]
    return out


@njit(**JIT)
def proj_forward_pack(w_ih, w_hh, b_ih, b_hh, w_hr):
    """The panels :func:`proj_forward_packed` reads: ``(wzt [(I+P)*4Hs], wrt [H*Pp], bias [4Hs],
    Pp)``, ``[W_ih, W_hh]`` transposed gate-major, ``W_hr`` transposed, each zero-padded to whole
    vector panels (copies: values unchecked)."""
    G, P = w_hh.shape
    H = G // 4
    C = _panel_width(w_hh.itemsize)
    VL = C // NV
    Hs = (H + VL - 1) // VL * VL
    wzt = np.concatenate((_gate_major_t(w_ih, Hs), _gate_major_t(w_hh, Hs)))  # [I+P, 4Hs]
    wrt, Pp = _padded_t(w_hr, C)  # [H, Pp]
    b = b_ih + b_hh
    bias = np.zeros(4 * Hs, dtype=w_hh.dtype)
    for g in range(4):
        bias[g * Hs : g * Hs + H] = b[g * H : (g + 1) * H]
    return wzt, wrt, bias, Pp


@njit(**JIT)
def proj_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths, n_threads=1, keep=True):
    """(F1)-(F7) over the whole sequence; ``lengths`` of size 0: every row has T steps; at
    most ``n_threads`` threads (rows split between them).

    Returns ``status, hs [T+1, B, P], cs [T+1, B, H], gates [T, B, 4H], hr [T, B, H]``
    (``hr`` the unprojected ``o * tanh(c)``; zero, like ``gates``, on masked steps). Without
    ``keep`` (inference) ``cs`` is ``[2, B, H]`` with ``c_T`` at ``cs[T % 2]``, and ``gates``,
    ``hr`` one step's scratch. The weights are packed here (:func:`proj_forward_pack`); a caller
    that keeps the panels calls :func:`proj_forward_packed`.
    """
    wzt, wrt, bias, Pp = proj_forward_pack(w_ih, w_hh, b_ih, b_hh, w_hr)
    return proj_forward_packed(
        x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, wzt, wrt, bias, Pp, lengths, n_threads, keep
    )


@njit(**JIT)
def proj_forward_packed(
    x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, wzt, wrt, bias, Pp, lengths, n_threads, keep
):
    """:func:`proj_forward` on the panels of :func:`proj_forward_pack` made from these weights
    (which are still checked for NaN and Inf here). The gates' buffer runs one panel past the
    array, zero: :func:`proj_backward_packed` may write dA over it."""
    T, B, I = x.shape
    G, P = w_hh.shape
    H = G // 4
    dt = x.dtype
    Tk = T if keep else 1
    C = _panel_width(x.itemsize)
    # every entry is written below (masked rows' gates and h~ as zeros), or the status is bad
    hs = np.zeros((T + 1, B, P), dtype=dt)
    cs = np.zeros((T + 1 if keep else 2, B, H), dtype=dt)
    n_gates = Tk * B * G
    gates_buf = np.empty(n_gates + C, dtype=dt)
    gates_buf[n_gates:] = 0
    gates = gates_buf[:n_gates].reshape((Tk, B, G))
    hr = np.empty((Tk, B, H), dtype=dt)
    if nonfinite(w_ih) or nonfinite(w_hh) or nonfinite(b_ih) or nonfinite(b_hh) or nonfinite(w_hr):
        return BAD_WEIGHTS, hs, cs, gates, hr
    if nonfinite(x):
        return BAD_X, hs, cs, gates, hr
    if nonfinite(h0) or nonfinite(c0):
        return BAD_STATE, hs, cs, gates, hr
    hs[0] = h0
    cs[0] = c0
    n_chunks = n_chunks_for(B, n_threads)
    if n_chunks == 1:
        _forward_rows(0, B, x, hs, cs, gates, hr, wzt, wrt, bias, Pp, lengths)
    else:
        _forward_parallel(n_chunks, x, hs, cs, gates, hr, wzt, wrt, bias, Pp, lengths)
    return OK, hs, cs, gates, hr


@njit(**JIT)
def _backward_rows(lo, hi, dy, dh, dc, cs, gates, da, dhf, dhr, zeros, wr, Hp, whh, Pp, lengths, sq):
    """(B1)-(B6), (B9) for the batch rows ``[lo, hi)``, every step from the last: dA into
    ``da [T, B, 4H]``, the total dh_t into ``dhf`` ([T*B, P] flat; zero when masked), dh~_t
    into ``dhr [T, B, H]`` (scratch: the upstream gradient of :func:`backward_row`, with
    ``zeros [B, H]`` as its recurrent one)."""
    T, B, P = dy.shape
    H = cs.shape[2]
    G = 4 * H
    m = hi - lo
    if m <= 0:
        return
    C = _panel_width(dy.itemsize)
    dt = dy.dtype
    hbuf = np.empty(m * Hp, dtype=dt)
    pbuf = np.empty(m * Pp, dtype=dt)
    daf = da.reshape(da.size)
    has_len = lengths.size > 0
    for t in range(T - 1, -1, -1):
        for r in range(m):
            b = lo + r
            o0 = (t * B + b) * P
            if has_len and t >= lengths[b]:  # (B9): dh, dc pass, dA = 0
                s0 = dh[b, 0] * dh[b, 0]
                for p in range(1, P):
                    s0 += dh[b, p] * dh[b, p]
                sq[t, b, 0] = s0
                continue
            s0 = dh[b, 0] * 0
            for p in range(P):  # (B1)
                v = dy[t, b, p] + dh[b, p]
                dhf[o0 + p] = v
                s0 += v * v
            sq[t, b, 0] = s0
        hbuf[:] = 0
        _gemm(dhf, (t * B + lo) * P, P, P, wr, Hp, Hp // C, hbuf, 0, Hp, m)  # (B10): dh~ = dh W_hr
        for r in range(m):
            b = lo + r
            if has_len and t >= lengths[b]:
                s1 = dc[b, 0] * dc[b, 0]
                for j in range(1, H):
                    s1 += dc[b, j] * dc[b, j]
                sq[t, b, 1] = s1
                for j in range(G):
                    da[t, b, j] = 0
                continue
            for j in range(H):
                dhr[t, b, j] = hbuf[r * Hp + j]
            _, s1 = backward_row(dhr, zeros, dc, gates, cs, da, t, b)  # (B2)-(B5)
            sq[t, b, 1] = s1
        pbuf[:] = 0
        _gemm(daf, (t * B + lo) * G, G, G, whh, Pp, Pp // C, pbuf, 0, Pp, m)  # (B6)
        for r in range(m):
            b = lo + r
            if not (has_len and t >= lengths[b]):
                for p in range(P):
                    dh[b, p] = pbuf[r * Pp + p]


@njit(**JIT_PARALLEL)
def _backward_parallel(n_chunks, dy, dh, dc, cs, gates, da, dhf, dhr, zeros, wr, Hp, whh, Pp, lengths, sq):
    B = dy.shape[1]
    for c in prange(n_chunks):
        lo, hi = c * B // n_chunks, (c + 1) * B // n_chunks
        _backward_rows(lo, hi, dy, dh, dc, cs, gates, da, dhf, dhr, zeros, wr, Hp, whh, Pp, lengths, sq)


@njit(**JIT)
def proj_backward_pack(w_hh, w_hr):
    """The panels :func:`proj_backward_packed` reads: ``(wr [P*Hp], Hp, whh [4H*Pp], Pp)``,
    ``W_hr`` and ``W_hh`` with their rows zero-padded to whole vector panels (copies)."""
    C = _panel_width(w_hh.itemsize)
    wr, Hp = _padded(w_hr, C)  # [P, Hp]
    whh, Pp = _padded(w_hh, C)  # [G, Pp]
    return wr, Hp, whh, Pp


@njit(**JIT)
def proj_backward(dy, dh_n, dc_n, x, hs, cs, gates, hr, w_ih, w_hh, w_hr, lengths, keep, n_threads=1):
    """(B1)-(B10) back through :func:`proj_forward`'s sequence, with at most ``n_threads``
    threads (rows split between them in the time loop, the products after it by panels).

    Returns ``status, dx [T, B, I], dh0 [B, P], dc0 [B, H], dw_ih, dw_hh, db [4H], dw_hr [P, H],
    sq_norms [T, B, 2]`` (per row the squared norms of the total dh_t (B1), dc_t (B2)), and with
    ``keep`` each step's ``dA [T, B, 4H]`` and total ``dh_t [T, B, P]`` (zero on masked rows: the
    terms of (B8) and (B10) per step), else two empty arrays. The weights are padded here
    (:func:`proj_backward_pack`); see :func:`proj_backward_packed`.
    """
    wr, Hp, whh, Pp = proj_backward_pack(w_hh, w_hr)
    return proj_backward_packed(
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
        wr,
        Hp,
        whh,
        Pp,
        lengths,
        keep,
        n_threads,
        False,
    )


@njit(**JIT)
def proj_backward_packed(
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
    wr,
    Hp,
    whh,
    Pp,
    lengths,
    keep,
    n_threads,
    reuse_gates,
):
    """:func:`proj_backward` on the panels of :func:`proj_backward_pack`. ``reuse_gates`` writes
    dA over the cache's gates (each row's gates are read before its dA is written, as in
    :func:`.drivers.backward_alloc`): one ``[T, B, 4H]`` array less at the peak, for a caller
    that discards the cache afterwards and whose gates came from :func:`proj_forward_packed`
    (their buffer runs one zero panel past the array, as the weight-gradient product reads)."""
    T, B, I = x.shape
    G, P = w_hh.shape
    H = G // 4
    N = T * B
    dt = x.dtype
    C = _panel_width(x.itemsize)
    sq = np.zeros((T, B, 2), dtype=dt)
    dh = dh_n.copy()
    dc = dc_n.copy()
    if nonfinite(dy) or nonfinite(dh_n) or nonfinite(dc_n):
        Tk = T if keep else 0
        return (
            BAD_GRAD,
            np.zeros((T, B, I), dtype=dt),
            dh,
            dc,
            np.zeros((G, I), dtype=dt),
            np.zeros((G, P), dtype=dt),
            np.zeros(G, dtype=dt),
            np.zeros((P, H), dtype=dt),
            sq,
            np.zeros((Tk, B, G), dtype=dt),
            np.zeros((Tk, B, P), dtype=dt),
        )
    # dA and dh_t flat, zero on masked rows, padded: the weight-gradient product reads one
    # panel past the last row
    if reuse_gates:
        daf = gates.reshape(gates.size)  # the buffer's zero panel past it: proj_forward_packed's
    else:
        daf = np.empty(N * G + C, dtype=dt)
        daf[N * G :] = 0
    dhf = np.zeros(N * P + C, dtype=dt)
    da = daf[: N * G].reshape((T, B, G))
    dhr = np.empty((T, B, H), dtype=dt)
    zeros = np.zeros((B, H), dtype=dt)
    n_chunks = n_chunks_for(B, n_threads)
    if n_chunks == 1:
        _backward_rows(0, B, dy, dh, dc, cs, gates, da, dhf, dhr, zeros, wr, Hp, whh, Pp, lengths, sq)
    else:
        _backward_parallel(n_chunks, dy, dh, dc, cs, gates, da, dhf, dhr, zeros, wr, Hp, whh, Pp, lengths, sq)
    dx = input_grad(daf, w_ih, N, n_threads).reshape((T, B, I))  # (B7)
    dw_ih, dw_hh, db = weight_grads(  # (B8)
        x.reshape((N, I)), hs[:T].reshape((N, P)), daf, G, n_threads
    )
    # (B10): dW_hr = sum_n dh_n^T h~_n, the product of (B8) with dh_t in dA's place (its
    # second input a column of zeros, unused)
    dw_hr, _, _ = weight_grads(hr.reshape((N, H)), np.zeros((N, 1), dtype=dt), dhf, P, n_threads)
    if keep:
        da_all = daf[: N * G].copy().reshape((T, B, G))
        dh_all = dhf[: N * P].copy().reshape((T, B, P))
    else:
        da_all = np.zeros((0, B, G), dtype=dt)
        dh_all = np.zeros((0, B, P), dtype=dt)
    return OK, dx, dh, dc, dw_ih, dw_hh, db, dw_hr, sq, da_all, dh_all


# --------------------------------------------------------------------------
# step mode: the weights packed once, one step per call (the stepper)
# --------------------------------------------------------------------------
@njit(**JIT)
def proj_pack(w_ih, w_hh, b_ih, b_hh, w_hr):
    """The panels :func:`proj_step` reads, from one projected layer's weights:
    ``(status, wxt [I*4Hs], wht [P*4Hs], wrt [H*Pp], bias [4Hs])``, the two halves of
    :func:`proj_forward_pack`'s ``wzt`` (views of it) and its other panels; status BAD_WEIGHTS
    if a weight holds NaN or Inf."""
    status = OK
    if nonfinite(w_ih) or nonfinite(w_hh) or nonfinite(b_ih) or nonfinite(b_hh) or nonfinite(w_hr):
        status = BAD_WEIGHTS
    wzt, wrt, bias, _ = proj_forward_pack(w_ih, w_hh, b_ih, b_hh, w_hr)
    n_x = w_ih.shape[1] * bias.size  # [W_ih]^T's rows come first: I rows of 4Hs
    return status, wzt[:n_x], wzt[n_x:], wrt, bias


@njit(**JIT)
def proj_step(x, h, c, wxt, wht, wrt, bias):
    """One step (F1)-(F7) of a projected layer in place, on :func:`proj_pack`'s panels: ``x [B, I]``
    in, ``h [B, P]`` and ``c [B, H]`` the state, updated to ``h_t``, ``c_t`` (C-contiguous; ``x``
    may be the previous layer's ``h``). Returns BAD_X (nothing changed) if ``x`` holds NaN or
    Inf, else OK. The same arithmetic per row as :func:`proj_forward` at ``T = 1``."""
    B, I = x.shape
    P = h.shape[1]
    H = c.shape[1]
    if nonfinite(x):
        return BAD_X
    C = _panel_width(x.itemsize)
    Gp = bias.size
    Pp = wrt.size // H
    dt = x.dtype
    blk = np.empty((B, Gp), dtype=dt)
    abuf = blk.reshape(B * Gp)
    for r in range(B):
        blk[r] = bias
    _gemm(x.reshape(x.size), 0, I, I, wxt, Gp, Gp // C, abuf, 0, Gp, B)  # (F1), (F2)
    _gemm(h.reshape(h.size), 0, P, P, wht, Gp, Gp // C, abuf, 0, Gp, B)
    hr = np.empty((B, H), dtype=dt)
    g = np.empty((B, 4 * H), dtype=dt)
    for r in range(B):
        forward_row(blk, r, c, c, hr, c, g, r)  # (F3)-(F5), c updated in place
    pbuf = np.zeros(B * Pp, dtype=dt)
    _gemm(hr.reshape(B * H), 0, H, H, wrt, Pp, Pp // C, pbuf, 0, Pp, B)  # (F7)
    for r in range(B):
        for p in range(P):
            h[r, p] = pbuf[r * Pp + p]
    return OK
