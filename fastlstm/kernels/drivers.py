r"""The drivers: weight packing, the fused per-step kernels and the time loops.

Forward, for one thread's batch rows ``[lo, hi)`` and every step ``t``, panel by
panel (a panel is ``U`` hidden units, ``U`` = the vector lanes, with their four
gates side by side, so a panel row is ``NV = 4`` vectors):

1. the micro-kernel computes ``A_t`` for a block of ``R`` rows and the panel,
   (F1) and (F2) in one register-blocked pass over ``[x_t, h_{t-1}]``;
2. the pointwise pass (F3)-(F6) turns that block, still in L1, into the gates,
   ``c_t`` and ``h_t`` of the panel's units.

BPTT, per step, for the same rows: the pointwise pass (B1)-(B5), (B9) row by row,
then the micro-kernel for (B6), ``dh^rec_{t-1} = dA_t W_hh``, in row blocks. The
input and weight gradients (B7), (B8) are large products after the time loop, on
the same micro-kernel (threads split the rows of dx and the column panels of dA).
Nothing calls BLAS: OpenBLAS's threads spin for a while after each call and took a
core from Numba's (a training step ran twice as long with both pools at 2 threads).

Rows of a batch never interact, so each thread owns fixed rows for all ``T``
steps: one parallel region per call, no synchronisation between steps. Every
row's arithmetic is the same whichever thread or row block computes it, and every
gradient entry is summed in one fixed order, so all results are bitwise identical
for any number of threads, in float32 too.

The module stays whole (about 600 lines) on purpose: the packing, the pointwise
passes, the time loops and the after-loop products share one panel layout and its
padding (``U``, ``C``, the last panel read past ``4H``), each relying on the others'
choice, and Numba's on-disk cache does not see edits of an imported module, so a
split would let a cached caller run against a stale callee.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._config import JIT, JIT_PARALLEL
from .simd import (
    NV,
    ROW_BLOCKS,
    VECTOR_BITS,
    make_backward_kernel,
    make_forward_chunk_kernel,
    make_forward_kernel,
    make_gemm_kernel,
)
from .vecmath import backward_row, forward_row, nonfinite_sum

__all__ = [
    "BAD_GRAD",
    "BAD_STATE",
    "BAD_WEIGHTS",
    "BAD_X",
    "OK",
    "backward_alloc",
    "forward_alloc",
    "nonfinite",
    "pack_bias",
    "pack_columns",
    "pack_gates",
    "pack_layers",
    "step_layers",
]

_R0, _R1, _R2, _R3 = ROW_BLOCKS
_VEC_BYTES = VECTOR_BITS // 8
_fwd_r0, _fwd_r1, _fwd_r2, _fwd_r3 = (make_forward_kernel(r) for r in ROW_BLOCKS)
_fwdc_r0, _fwdc_r1, _fwdc_r2, _fwdc_r3 = (make_forward_chunk_kernel(r) for r in ROW_BLOCKS)
_bwd_r0, _bwd_r1, _bwd_r2, _bwd_r3 = (make_backward_kernel(r) for r in ROW_BLOCKS)
_gemm_r0, _gemm_r1, _gemm_r2, _gemm_r3 = (make_gemm_kernel(r) for r in ROW_BLOCKS)
# one and two vectors wide, for the input gradient of narrow inputs (I <= VL: the
# benchmark's 1 and 8; I <= 2 VL: its 32), so that few of the lanes compute padding
_gemm1_r0, _gemm1_r1, _gemm1_r2, _gemm1_r3 = (make_gemm_kernel(r, 1) for r in ROW_BLOCKS)
_gemm2_r0, _gemm2_r1, _gemm2_r2, _gemm2_r3 = (make_gemm_kernel(r, 2) for r in ROW_BLOCKS)

#: steps x rows of dA per block of the weight-gradient product (a [NB, NV*VL] slice
#: of dA, 32 KiB in float32 on AVX-512, serves every row block of x and h from L1)
WEIGHT_GRAD_BLOCK = 128

#: rows of dA at least this long (bytes) are copied block by block into panel-major
#: order before the weight-gradient product. Measured in a training step (one thread, CPU
#: time, against reading dA in place): the product 1.14x at rows of 4 KiB (medium64),
#: 1.16x at 4 KiB (large), 1.36x at 4 KiB with 256-bit vectors, but 0.91x at 2 KiB
#: (medium), where the rows just written by BPTT are still in cache
WEIGHT_GRAD_COPY_BYTES = 4096

#: bytes of a weight panel's slice (k chunk) in the panel-outer forward: it stays in
#: L1 while every row block of the thread's rows uses it
FORWARD_CHUNK_BYTES = 16384

#: fewest batch rows worth a thread of their own
MIN_ROWS_PER_THREAD = 4

#: status codes of the drivers, turned into ValueErrors by the wrappers
OK, BAD_X, BAD_STATE, BAD_WEIGHTS, BAD_GRAD = 0, 1, 2, 3, 4


# --------------------------------------------------------------------------
# packing (once per call; the weights' layout for the micro-kernels)
# --------------------------------------------------------------------------
@njit(**JIT)
def pack_gates(w, U):
    """``w [4H, K] -> [P, K, 4U]``: panel ``p`` holds the i, f, g, o rows of units
    ``p*U .. p*U+U-1`` transposed, ``wp[p, k, g*U + j] = w[g*H + p*U + j, k]``
    (zero past ``H``), so the micro-kernel reads each ``k`` as ``NV`` contiguous vectors."""
    G, K = w.shape
    H = G // 4
    P = (H + U - 1) // U
    wp = np.zeros((P, K, 4 * U), dtype=w.dtype)
    for p in range(P):
        nu = min(U, H - p * U)
        for g in range(4):
            for j in range(nu):
                row = g * H + p * U + j
                for k in range(K):
                    wp[p, k, g * U + j] = w[row, k]
    return wp


@njit(**JIT)
def pack_bias(b, U):
    """``b [4H] -> [P, 4U]`` in the panel order of :func:`pack_gates`."""
    H = b.shape[0] // 4
    P = (H + U - 1) // U
    bp = np.zeros((P, 4 * U), dtype=b.dtype)
    for p in range(P):
        nu = min(U, H - p * U)
        for g in range(4):
            for j in range(nu):
                bp[p, g * U + j] = b[g * H + p * U + j]
    return bp


@njit(**JIT)
def pack_columns(w, C):
    """``w [4H, H] -> [P, 4H, C]``, ``wp[p, k, j] = w[k, p*C + j]`` (zero past ``H``):
    column panels of ``W_hh`` for (B6), ``dh = dA W_hh``."""
    G, H = w.shape
    P = (H + C - 1) // C
    wp = np.zeros((P, G, C), dtype=w.dtype)
    for p in range(P):
        nc = min(C, H - p * C)
        for k in range(G):
            for j in range(nc):
                wp[p, k, j] = w[k, p * C + j]
    return wp


# --------------------------------------------------------------------------
# fused pointwise kernels
# --------------------------------------------------------------------------
# Each live row goes through the explicit-vector intrinsics of vecmath (masked
# loads and stores for the last H % VL units).
@njit(**JIT)
def _forward_pointwise(blk, m, row0, t, lengths, h_prev, c_prev, h_new, c_new, gates):
    """(F3)-(F6) for rows ``row0 .. row0+m-1`` at step ``t``.

    blk [>=m, 4*Hs]: ``A_t`` gate-major (``[A_i | A_f | A_g | A_o]``, each ``Hs >= H``
    long, from the micro-kernel).  h_prev, c_prev [B, H]: the states at t-1;
    h_new, c_new [B, H]: out, the states at t (may be h_prev, c_prev); gates [B, 4H]:
    out, i, f, g, o.
    """
    H = h_prev.shape[1]
    for r in range(m):
        b = row0 + r
        if t < lengths[b]:
            forward_row(blk, r, h_prev, c_prev, h_new, c_new, gates, b)  # (F3)-(F5)
        else:  # (F6) row b has ended: freeze its state
            for j in range(H):
                h_new[b, j] = h_prev[b, j]
                c_new[b, j] = c_prev[b, j]
            for j in range(4 * H):
                gates[b, j] = 0


@njit(**JIT)
def _backward_pointwise(dy, t, b, dh, dc, gates, cs, da, lengths, sq_norms):
    """(B1)-(B5), (B9) for row ``b`` at step ``t``.

    dh [B, >=H]: dh^rec_t (read).  dc [B, H]: in dc^rec_t, out dc^rec_{t-1} (B5).
    da [T, B, 4H]: out dA_t (B4), zero on a masked row (B9).  sq_norms [T, B, 2]: out the
    squared norms of dh_t and dc_t for the row.
    """
    if t < lengths[b]:
        sq_h, sq_c = backward_row(dy, dh, dc, gates, cs, da, t, b)  # (B1)-(B5)
    else:  # (B9) dh^rec, dc^rec pass through; dy ignored
        H = dc.shape[1]
        sq_h = dc.dtype.type(0.0)
        sq_c = dc.dtype.type(0.0)
        for j in range(4 * H):
            da[t, b, j] = 0
        for j in range(H):
            sq_h += dh[b, j] * dh[b, j]
            sq_c += dc[b, j] * dc[b, j]
    sq_norms[t, b, 0] = sq_h
    sq_norms[t, b, 1] = sq_c


# --------------------------------------------------------------------------
# time loops over one thread's rows
# --------------------------------------------------------------------------
@njit(**JIT)
def _forward_step_rows(lo, hi, x, hs, t, wxp, whp, bp, lengths, blk, h_new, c_prev, c_new, gates):
    """One step (F1)-(F6) for rows ``[lo, hi)``: ``x[t]`` and ``hs[t]`` in, ``h_new``,
    ``c_new``, ``gates`` [B, .] out; blk [R0, 4*P*U] is this thread's scratch."""
    P = whp.shape[0]
    h_prev = hs[t]
    r = lo
    while r < hi:
        n = hi - r
        m = _R0 if n >= _R0 else (_R1 if n >= _R1 else (_R2 if n >= _R2 else _R3))
        for p in range(P):  # (F1)+(F2), panel by panel
            if m == _R0:
                _fwd_r0(x, hs, t, r, wxp, whp, bp, p, blk)
            elif m == _R1:
                _fwd_r1(x, hs, t, r, wxp, whp, bp, p, blk)
            elif m == _R2:
                _fwd_r2(x, hs, t, r, wxp, whp, bp, p, blk)
            else:
                _fwd_r3(x, hs, t, r, wxp, whp, bp, p, blk)
        _forward_pointwise(blk, m, r, t, lengths, h_prev, c_prev, h_new, c_new, gates)  # (F3)-(F6)
        r += m


@njit(**JIT)
def _forward_step_rows_chunked(lo, hi, x, hs, t, wxp, whp, bp, lengths, blk, h_new, c_prev, c_new, gates):
    """:func:`_forward_step_rows` in the panel-outer order, for more rows than one block:
    for each panel and each chunk of its ``k`` (FORWARD_CHUNK_BYTES of weights, kept
    in L1), every row block of ``[lo, hi)``; then the pointwise pass over all the rows.
    blk [>= hi - lo, 4*P*U] holds the partial sums of all the rows. Bitwise the same
    results as the row-block-outer order (the same FMAs in the same order per entry).
    Sweeps over groups of 24 rows, so that their partial sums stay in L1, measured
    0.96x at large (1.00x at 256 bits): not kept."""
    P = whp.shape[0]
    K = x.shape[2] + whp.shape[1]
    KC = max(1, FORWARD_CHUNK_BYTES // (whp.shape[2] * whp.itemsize))
    for p in range(P):
        for k0 in range(0, K, KC):
            k1 = min(k0 + KC, K)
            r = lo
            while r < hi:
                n = hi - r
                if n >= _R0:
                    _fwdc_r0(x, hs, t, r, wxp, whp, bp, p, blk, r - lo, k0, k1)
                    r += _R0
                elif n >= _R1:
                    _fwdc_r1(x, hs, t, r, wxp, whp, bp, p, blk, r - lo, k0, k1)
                    r += _R1
                elif n >= _R2:
                    _fwdc_r2(x, hs, t, r, wxp, whp, bp, p, blk, r - lo, k0, k1)
                    r += _R2
                else:
                    _fwdc_r3(x, hs, t, r, wxp, whp, bp, p, blk, r - lo, k0, k1)
                    r += _R3
    _forward_pointwise(blk, hi - lo, lo, t, lengths, hs[t], c_prev, h_new, c_new, gates)  # (F3)-(F6)


@njit(**JIT)
def _forward_rows(lo, hi, x, hs, cs, gates, wxp, whp, bp, lengths, blk):
    """(F1)-(F6) for rows ``[lo, hi)``, all steps.

    With a full cache (``cs`` [T+1, B, H], ``gates`` [T, B, 4H]) every step is kept for
    BPTT; for inference ``cs`` is [2, B, H] (alternating) and ``gates`` [1, B, 4H].
    blk [>= hi - lo, 4*P*U]: more rows than one block run panel-outer
    (:func:`_forward_step_rows_chunked`).
    """
    T = x.shape[0]
    keep = gates.shape[0] == T
    chunked = hi - lo > _R0
    for t in range(T):
        g = gates[t] if keep else gates[0]
        c_prev = cs[t] if keep else cs[t % 2]
        c_new = cs[t + 1] if keep else cs[(t + 1) % 2]
        if chunked:
            _forward_step_rows_chunked(
                lo, hi, x, hs, t, wxp, whp, bp, lengths, blk, hs[t + 1], c_prev, c_new, g
            )
        else:
            _forward_step_rows(lo, hi, x, hs, t, wxp, whp, bp, lengths, blk, hs[t + 1], c_prev, c_new, g)


@njit(**JIT)
def _backward_rows(lo, hi, dy, cs, gates, wbp, lengths, dh, dh_next, dc, da, sq_norms):
    """(B1)-(B6), (B9) for rows ``[lo, hi)``, all steps backwards.

    dh, dh_next [B, P*C]: dh^rec in and the scratch it alternates with; on return
    dh holds dh0 when T is even, dh_next when T is odd (the caller picks).
    """
    T = dy.shape[0]
    H = dc.shape[1]
    P = wbp.shape[0]
    cur, nxt = dh, dh_next
    for t in range(T - 1, -1, -1):
        for b in range(lo, hi):
            _backward_pointwise(dy, t, b, cur, dc, gates, cs, da, lengths, sq_norms)
        for p in range(P):  # (B6)
            r = lo
            while r < hi:
                n = hi - r
                if n >= _R0:
                    _bwd_r0(da, t, r, wbp, p, nxt)
                    r += _R0
                elif n >= _R1:
                    _bwd_r1(da, t, r, wbp, p, nxt)
                    r += _R1
                elif n >= _R2:
                    _bwd_r2(da, t, r, wbp, p, nxt)
                    r += _R2
                else:
                    _bwd_r3(da, t, r, wbp, p, nxt)
                    r += _R3
        for b in range(lo, hi):
            if t >= lengths[b]:  # (B9)
                for j in range(H):
                    nxt[b, j] = cur[b, j]
        cur, nxt = nxt, cur


@njit(**JIT)
def _weight_grad_rows(z, n_in, a0, ak, w, w0, wk, nb, out, p, C, Gp):
    """``out[i, p*C : p*C + C] += sum_k z[a0 + i + k*ak] * w[w0 + k*wk : ... + C]`` for
    ``i < n_in``, ``k < nb``, row block by row block (the scalars of one row block
    are contiguous in ``z``, the rows of the panel ``w`` are ``wk`` apart)."""
    r = 0
    while r < n_in:
        n = n_in - r
        o0 = r * Gp + p * C
        if n >= _R0:
            _gemm_r0(z, a0 + r, 1, ak, w, w0, wk, nb, out, o0, Gp)
            r += _R0
        elif n >= _R1:
            _gemm_r1(z, a0 + r, 1, ak, w, w0, wk, nb, out, o0, Gp)
            r += _R1
        elif n >= _R2:
            _gemm_r2(z, a0 + r, 1, ak, w, w0, wk, nb, out, o0, Gp)
            r += _R2
        else:
            _gemm_r3(z, a0 + r, 1, ak, w, w0, wk, nb, out, o0, Gp)
            r += _R3


@njit(**JIT)
def _weight_grad_panels(p_lo, p_hi, x, hs, ones, da, G, out_x, out_h, out_b, Gp, dpb):
    """(B8) for the column panels ``[p_lo, p_hi)`` of dA: ``out_x[i, c] += sum_n x[n, i] da[n, c]``,
    the same for ``hs`` into ``out_h`` and for the ones into ``out_b`` (db).

    x [N * I], hs [N * H] flat, rows of the inputs x_t and of the states h_{t-1} of every
    step and row (n = t*B + b); da [N * G + pad] flat dA; out_* [K * Gp] flat, the
    transposed weight gradients with rows padded to Gp. Blocks of WEIGHT_GRAD_BLOCK
    rows of dA; per block, a panel's slice of dA serves every row block of x, of hs
    and the ones while it is in L1. The sum over n runs in a fixed order (blocks,
    then n), whatever the thread or the copy below: bitwise the same results.

    ``dpb`` (size 0, or ``(p_hi - p_lo) * WEIGHT_GRAD_BLOCK * C``): when given, each
    block's slice of dA is first copied, row by row, into panel-major order
    ``[p - p_lo, n, C]``, so that the product reads each panel's slice contiguously.
    Read in place, the slice's rows are ``G`` elements apart: long rows (a multiple of
    the L1 cache's way size at the benchmark's 4H) map onto a few L1 sets and evict each
    other between row blocks. The copy pays from rows of :data:`WEIGHT_GRAD_COPY_BYTES`.
    """
    n_in = out_x.size // Gp
    H = out_h.size // Gp
    N = ones.size
    C = NV * (_VEC_BYTES // da.itemsize)
    copy = dpb.size > 0
    for n0 in range(0, N, WEIGHT_GRAD_BLOCK):
        nb = min(WEIGHT_GRAD_BLOCK, N - n0)
        if copy:  # row by row (sequential reads), into panel-major order
            for k in range(nb):
                s = (n0 + k) * G
                for p in range(p_lo, p_hi):
                    d = ((p - p_lo) * nb + k) * C
                    dpb[d : d + C] = da[s + p * C : s + p * C + C]
        for p in range(p_lo, p_hi):
            if copy:
                w, w0, wk = dpb, (p - p_lo) * nb * C, C
            else:
                w, w0, wk = da, n0 * G + p * C, G
            _weight_grad_rows(x, n_in, n0 * n_in, n_in, w, w0, wk, nb, out_x, p, C, Gp)
            _weight_grad_rows(hs, H, n0 * H, H, w, w0, wk, nb, out_h, p, C, Gp)
            _weight_grad_rows(ones, 1, n0, 1, w, w0, wk, nb, out_b, p, C, Gp)


@njit(**JIT_PARALLEL)
def _weight_grad_parallel(n_chunks, x, hs, ones, da, G, out_x, out_h, out_b, Gp, P, dpbs):
    for c in prange(n_chunks):
        p_lo, p_hi = c * P // n_chunks, (c + 1) * P // n_chunks
        _weight_grad_panels(p_lo, p_hi, x, hs, ones, da, G, out_x, out_h, out_b, Gp, dpbs[c])


@njit(**JIT)
def _input_grad_rows(lo, hi, da, G, wp, out, Ip, nv):
    """(B7) ``out[n, :] = sum_k dA[n, k] W_ih[k, :]`` for rows ``[lo, hi)`` of ``N = T*B``;
    wp: column panels of W_ih, ``[P, G, nv*VL]`` flat; out [N, Ip] flat (zeroed)."""
    C = nv * (_VEC_BYTES // da.itemsize)
    P = Ip // C
    for p in range(P):
        w0 = p * G * C
        r = lo
        while r < hi:
            n = hi - r
            m = _R0 if n >= _R0 else (_R1 if n >= _R1 else (_R2 if n >= _R2 else _R3))
            a0 = r * G
            o0 = r * Ip + p * C
            if nv == 1:
                if m == _R0:
                    _gemm1_r0(da, a0, G, 1, wp, w0, C, G, out, o0, Ip)
                elif m == _R1:
                    _gemm1_r1(da, a0, G, 1, wp, w0, C, G, out, o0, Ip)
                elif m == _R2:
                    _gemm1_r2(da, a0, G, 1, wp, w0, C, G, out, o0, Ip)
                else:
                    _gemm1_r3(da, a0, G, 1, wp, w0, C, G, out, o0, Ip)
            elif nv == 2:
                if m == _R0:
                    _gemm2_r0(da, a0, G, 1, wp, w0, C, G, out, o0, Ip)
                elif m == _R1:
                    _gemm2_r1(da, a0, G, 1, wp, w0, C, G, out, o0, Ip)
                elif m == _R2:
                    _gemm2_r2(da, a0, G, 1, wp, w0, C, G, out, o0, Ip)
                else:
                    _gemm2_r3(da, a0, G, 1, wp, w0, C, G, out, o0, Ip)
            elif m == _R0:
                _gemm_r0(da, a0, G, 1, wp, w0, C, G, out, o0, Ip)
            elif m == _R1:
                _gemm_r1(da, a0, G, 1, wp, w0, C, G, out, o0, Ip)
            elif m == _R2:
                _gemm_r2(da, a0, G, 1, wp, w0, C, G, out, o0, Ip)
            else:
                _gemm_r3(da, a0, G, 1, wp, w0, C, G, out, o0, Ip)
            r += m


@njit(**JIT_PARALLEL)
def _input_grad_parallel(n_chunks, N, da, G, wp, out, Ip, nv):
    for c in prange(n_chunks):
        _input_grad_rows(c * N // n_chunks, (c + 1) * N // n_chunks, da, G, wp, out, Ip, nv)


@njit(**JIT)
def input_grad(da_flat, w_ih, N, n_threads):
    """(B7) ``dx = dA W_ih`` [N, I] with the micro-kernel (one or two vectors wide when I
    fits in them), rows split over threads: no BLAS call, so no second thread pool spins
    against Numba's (measured: the training step took twice as long with OpenBLAS's
    two threads idling between its calls)."""
    G, n_in = w_ih.shape
    VL = _VEC_BYTES // w_ih.itemsize
    nv = 1 if n_in <= VL else (2 if n_in <= 2 * VL else NV)
    C = nv * VL
    wp = pack_columns(w_ih, C)
    Ip = wp.shape[0] * C
    out = np.zeros(N * Ip, dtype=w_ih.dtype)
    wf = wp.reshape(wp.size)
    n_chunks = max(1, min(n_threads, N // (4 * _R0)))
    if n_chunks == 1:
        _input_grad_rows(0, N, da_flat, G, wf, out, Ip, nv)
    else:
        _input_grad_parallel(n_chunks, N, da_flat, G, wf, out, Ip, nv)
    return np.ascontiguousarray(out.reshape((N, Ip))[:, :n_in])


@njit(**JIT)
def weight_grads(x, hs_prev, da_flat, G, n_threads):
    """(B8) ``dW_ih = sum_n dA_n^T x_n``, ``dW_hh = sum_n dA_n^T h_{n-1}`` and
    ``db = sum_n dA_n`` (the same product with an input of ones, while the panel of dA
    is in L1) with the micro-kernel, split over threads by column panels of dA (each
    output entry is summed in one fixed order: bitwise the same for any thread count).

    x [N, I], hs_prev [N, H] (C-contiguous); da_flat: dA [N, G] flat, followed by
    at least NV*VL - 1 readable elements (the last panel reads past G).
    """
    N, n_in = x.shape
    H = hs_prev.shape[1]
    C = NV * (_VEC_BYTES // x.itemsize)
    P = (G + C - 1) // C
    Gp = P * C
    out_x = np.zeros(n_in * Gp, dtype=x.dtype)
    out_h = np.zeros(H * Gp, dtype=x.dtype)
    out_b = np.zeros(Gp, dtype=x.dtype)
    ones = np.ones(N, dtype=x.dtype)
    n_chunks = max(1, min(n_threads, P))
    xf = x.reshape(x.size)
    hf = hs_prev.reshape(hs_prev.size)
    # each thread's panel-major copy of a block of dA, where the rows are long enough to
    # conflict in L1 (none otherwise: the copy costs more than it saves)
    copy = G * x.itemsize >= WEIGHT_GRAD_COPY_BYTES
    per_chunk = ((P + n_chunks - 1) // n_chunks) * min(N, WEIGHT_GRAD_BLOCK) * C if copy else 0
    dpbs = np.empty((n_chunks, per_chunk), dtype=x.dtype)
    if n_chunks == 1:
        _weight_grad_panels(0, P, xf, hf, ones, da_flat, G, out_x, out_h, out_b, Gp, dpbs[0])
    else:
        _weight_grad_parallel(n_chunks, xf, hf, ones, da_flat, G, out_x, out_h, out_b, Gp, P, dpbs)
    dw_ih = np.ascontiguousarray(out_x.reshape((n_in, Gp))[:, :G].T)
    dw_hh = np.ascontiguousarray(out_h.reshape((H, Gp))[:, :G].T)
    return dw_ih, dw_hh, out_b[:G].copy()


@njit(**JIT_PARALLEL)
def _forward_parallel(n_chunks, x, hs, cs, gates, wxp, whp, bp, lengths, blks):
    B = x.shape[1]
    for c in prange(n_chunks):
        _forward_rows(
            c * B // n_chunks, (c + 1) * B // n_chunks, x, hs, cs, gates, wxp, whp, bp, lengths, blks[c]
        )


@njit(**JIT_PARALLEL)
def _backward_parallel(n_chunks, dy, cs, gates, wbp, lengths, dh, dh_next, dc, da, sq_norms):
    B = dy.shape[1]
    for c in prange(n_chunks):
        lo, hi = c * B // n_chunks, (c + 1) * B // n_chunks
        _backward_rows(lo, hi, dy, cs, gates, wbp, lengths, dh, dh_next, dc, da, sq_norms)


@njit(**JIT)
def n_chunks_for(B, n_threads):
    """Threads worth using for ``B`` rows (each gets at least MIN_ROWS_PER_THREAD)."""
    return max(1, min(n_threads, B // MIN_ROWS_PER_THREAD))


# --------------------------------------------------------------------------
# allocating drivers: one dispatch from Python per pass
# --------------------------------------------------------------------------
@njit(**JIT)
def nonfinite(a):
    """True if ``a`` (C-contiguous) holds a NaN or an Inf: ``v * 0`` is NaN exactly then.

    Vectorised (lane-wise partial sums): a serial ``acc += v * 0`` runs at one element
    per add latency, measured 0.5 ms for one step's ``dy`` of the small benchmark."""
    acc = nonfinite_sum(a.reshape(a.size))
    return acc != acc


@njit(**JIT)
def forward_alloc(x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, n_threads, keep=True):
    """(F1)-(F6) over the whole sequence; ``lengths`` of size 0 means all rows have length T;
    at most ``n_threads`` threads (Numba's, ``numba.get_num_threads()``).

    Returns ``(status, hs, cs, gates)``: hs [T+1, B, H] (hs[0] = h0); with ``keep``,
    cs [T+1, B, H] and gates [T, B, 4H] for BPTT; without (inference), cs [2, B, H]
    holding c_T at ``cs[T % 2]`` and gates [1, B, 4H] scratch.
    Inputs are checked for NaN/Inf first (cheap): with finite inputs every output is
    finite, since the gates are bounded.
    """
    T, B, _ = x.shape
    H = w_hh.shape[1]
    hs = np.empty((T + 1, B, H), dtype=x.dtype)
    cs = np.empty((T + 1 if keep else 2, B, H), dtype=x.dtype)
    # the gates' buffer runs NV*VL elements past the array: backward may reuse it for dA,
    # whose weight-gradient product reads that far past the last row (see backward_alloc)
    C = NV * (_VEC_BYTES // x.itemsize)
    n_gates = (T if keep else 1) * B * 4 * H
    gates_buf = np.zeros(n_gates + C, dtype=x.dtype)
    gates = gates_buf[:n_gates].reshape((T if keep else 1, B, 4 * H))
    if nonfinite(w_ih) or nonfinite(w_hh) or nonfinite(b_ih) or nonfinite(b_hh):
        return BAD_WEIGHTS, hs, cs, gates
    if nonfinite(x):
        return BAD_X, hs, cs, gates
    if nonfinite(h0) or nonfinite(c0):
        return BAD_STATE, hs, cs, gates
    hs[0] = h0
    cs[0] = c0
    if lengths.size == 0:
        lengths = np.full(B, T, dtype=np.int64)
    U = _VEC_BYTES // x.itemsize
    wxp = pack_gates(w_ih, U)
    whp = pack_gates(w_hh, U)
    bp = pack_bias(b_ih + b_hh, U)
    n_chunks = n_chunks_for(B, n_threads)
    rows = max(_R0, (B + n_chunks - 1) // n_chunks)  # the most rows of one thread
    blks = np.empty((n_chunks, rows, 4 * whp.shape[0] * U), dtype=x.dtype)
    if n_chunks == 1:
        _forward_rows(0, B, x, hs, cs, gates, wxp, whp, bp, lengths, blks[0])
    else:
        _forward_parallel(n_chunks, x, hs, cs, gates, wxp, whp, bp, lengths, blks)
    return OK, hs, cs, gates


@njit(**JIT)
def backward_alloc(dy, dh_n, dc_n, x, hs, cs, gates, w_ih, w_hh, lengths, n_threads, reuse_gates=False):
    """(B1)-(B9); returns ``(status, dx, dh0, dc0, da, dw_ih, dw_hh, db, sq_norms)`` with
    ``sq_norms`` the per-row squared norms of dh_t and dc_t, [T, B, 2].

    ``reuse_gates`` writes dA over the cache's gates (each row's gates are read before
    its dA is written): one [T, B, 4H] array less at the peak, for a caller that
    discards the cache afterwards and whose ``gates`` came from :func:`forward_alloc`
    (its buffer runs past the array, as the weight-gradient product needs).
    """
    T, B, I = x.shape
    H = hs.shape[2]
    G = 4 * H
    dtype = x.dtype
    C = NV * (_VEC_BYTES // x.itemsize)
    if reuse_gates:
        da = gates
        da_flat = gates.reshape(gates.size)
    else:
        da_flat = np.zeros(T * B * G + C, dtype=dtype)  # + C: the last panel of (B8) reads past G
        da = da_flat[: T * B * G].reshape((T, B, G))
    sq_norms = np.empty((T, B, 2), dtype=dtype)
    dc = dc_n.copy()
    if nonfinite(dy) or nonfinite(dh_n) or nonfinite(dc_n):
        dx = np.zeros((T, B, I), dtype=dtype)
        zeros = np.zeros((G, I), dtype), np.zeros((G, H), dtype), np.zeros(G, dtype)
        return BAD_GRAD, dx, dh_n.copy(), dc, da, zeros[0], zeros[1], zeros[2], sq_norms
    if lengths.size == 0:
        lengths = np.full(B, T, dtype=np.int64)
    wbp = pack_columns(w_hh, C)
    Hp = wbp.shape[0] * C
    dh = np.zeros((B, Hp), dtype=dtype)
    dh[:, :H] = dh_n
    dh_next = np.empty((B, Hp), dtype=dtype)
    n_chunks = n_chunks_for(B, n_threads)
    if n_chunks == 1:
        _backward_rows(0, B, dy, cs, gates, wbp, lengths, dh, dh_next, dc, da, sq_norms)
    else:
        _backward_parallel(n_chunks, dy, cs, gates, wbp, lengths, dh, dh_next, dc, da, sq_norms)
    dh0 = np.ascontiguousarray((dh if T % 2 == 0 else dh_next)[:, :H])
    dx = input_grad(da_flat, w_ih, T * B, n_threads).reshape((T, B, I))  # (B7)
    dw_ih, dw_hh, db = weight_grads(
        x.reshape((T * B, I)), hs[:T].reshape((T * B, H)), da_flat, G, n_threads
    )  # (B8)
    return OK, dx, dh0, dc, da, dw_ih, dw_hh, db, sq_norms


# --------------------------------------------------------------------------
# streaming: one step of a stack of layers, state carried in place
# --------------------------------------------------------------------------
@njit(**JIT)
def pack_layers(w_ihs, w_hhs, b_ihs, b_hhs):
    """The packed weights of ``n_layers`` stacked layers for :func:`step_layers`.

    w_ihs: a tuple of the layers' ``[4H, I_l]`` input weights (``I_l`` may differ);
    w_hhs [n_layers, 4H, H], b_ihs, b_hhs [n_layers, 4H]. Returns ``wxps [n_layers, P, I_max, 4U]``
    (zero rows past each layer's ``I_l``), ``whps [n_layers, P, H, 4U]``, ``bps [n_layers, P, 4U]``:
    three arrays rather than tuples, so a step's dispatch stays cheap.
    """
    n_layers, G, H = w_hhs.shape
    U = _VEC_BYTES // w_hhs.itemsize
    P = (H + U - 1) // U
    i_max = 0
    for w in w_ihs:
        i_max = max(i_max, w.shape[1])
    wxps = np.zeros((n_layers, P, i_max, 4 * U), dtype=w_hhs.dtype)
    whps = np.empty((n_layers, P, H, 4 * U), dtype=w_hhs.dtype)
    bps = np.empty((n_layers, P, 4 * U), dtype=w_hhs.dtype)
    layer = 0
    for w in w_ihs:
        wxps[layer, :, : w.shape[1], :] = pack_gates(w, U)
        layer += 1
    for layer in range(n_layers):
        whps[layer] = pack_gates(w_hhs[layer], U)
        bps[layer] = pack_bias(b_ihs[layer] + b_hhs[layer], U)
    return wxps, whps, bps


@njit(**JIT)
def step_layers(x, h, c, wxps, whps, bps, gates, blk, lengths):
    """One time step of ``n_layers`` stacked layers; returns ``(status, h_top)``.

    x [B, I]; h, c [n_layers, B, H]: the states, updated in place (each row's ``h_{t-1}``
    is read by every panel before its ``h_t`` is written, so one buffer serves);
    wxps, whps, bps from :func:`pack_layers`; gates [B, 4H] and blk [R0, 4*P*U]
    scratch; lengths [B] all ones. NaN/Inf in ``x`` gives BAD_X and leaves the
    state as it was.
    """
    if nonfinite(x):
        return BAD_X, h[0, :, :0].copy()
    B = x.shape[0]
    n_layers = h.shape[0]
    inp = x.reshape((1, B, x.shape[1]))
    for layer in range(n_layers):
        hs = h[layer : layer + 1]
        _forward_step_rows(
            0,
            B,
            inp,
            hs,
            0,
            wxps[layer],
            whps[layer],
            bps[layer],
            lengths,
            blk,
            h[layer],
            c[layer],
            c[layer],
            gates,
        )
        inp = hs
    return OK, h[n_layers - 1].copy()
