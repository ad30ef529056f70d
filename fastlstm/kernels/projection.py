"""The projected LSTM (LSTMP, PyTorch's ``proj_size``): one layer direction's time loop,
forward (F1)-(F7) and BPTT (B1)-(B10), as plain compiled loops.

The simplest correct implementation: one serial loop over steps and rows, scalar products
(no packing, no register blocking, no threads), the activations of :mod:`.activations` (the
same :func:`sigmoid` and :func:`tanh` as the fast drivers). Reached only through
:mod:`fastlstm.kernels.api` (``stack_forward``/``stack_backward`` call it for a layer with a
projection weight ``W_hr``). Lengths (F6)/(B9) are handled here; the reverse direction is the
stack's (the sequences reversed per row before and after, as without projection).

Shapes: ``x [T, B, I]``, ``w_ih [4H, I]``, ``w_hh [4H, P]``, ``b_ih, b_hh [4H]``,
``w_hr [P, H]``; states ``h [B, P]`` (projected), ``c [B, H]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._config import JIT
from .activations import sigmoid, tanh
from .drivers import BAD_GRAD, BAD_STATE, BAD_WEIGHTS, BAD_X, OK, nonfinite

__all__ = ["proj_backward", "proj_forward"]


@njit(**JIT)
def proj_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths):
    """(F1)-(F7) over the whole sequence; ``lengths`` of size 0: every row has T steps.

    Returns ``status, hs [T+1, B, P], cs [T+1, B, H], gates [T, B, 4H], hr [T, B, H]``
    (``hr`` the unprojected ``o * tanh(c)``; zero, like ``gates``, on masked steps).
    """
    T, B, I = x.shape
    G, P = w_hh.shape
    H = G // 4
    dt = x.dtype
    hs = np.zeros((T + 1, B, P), dtype=dt)
    cs = np.zeros((T + 1, B, H), dtype=dt)
    gates = np.zeros((T, B, G), dtype=dt)
    hr = np.zeros((T, B, H), dtype=dt)
    if nonfinite(w_ih) or nonfinite(w_hh) or nonfinite(b_ih) or nonfinite(b_hh) or nonfinite(w_hr):
        return BAD_WEIGHTS, hs, cs, gates, hr
    if nonfinite(x):
        return BAD_X, hs, cs, gates, hr
    if nonfinite(h0) or nonfinite(c0):
        return BAD_STATE, hs, cs, gates, hr
    hs[0] = h0
    cs[0] = c0
    has_len = lengths.size > 0
    a = np.empty(G, dtype=dt)
    for t in range(T):
        for b in range(B):
            if has_len and t >= lengths[b]:  # (F6): the state is copied
                hs[t + 1, b] = hs[t, b]
                cs[t + 1, b] = cs[t, b]
                continue
            for j in range(G):  # (F1), (F2)
                s = b_ih[j] + b_hh[j]
                for i in range(I):
                    s += w_ih[j, i] * x[t, b, i]
                for p in range(P):
                    s += w_hh[j, p] * hs[t, b, p]
                a[j] = s
            for j in range(H):  # (F3)-(F5), the unprojected h~ of (F7)
                ig = sigmoid(a[j])
                fg = sigmoid(a[H + j])
                gg = tanh(a[2 * H + j])
                og = sigmoid(a[3 * H + j])
                c = fg * cs[t, b, j] + ig * gg
                cs[t + 1, b, j] = c
                gates[t, b, j] = ig
                gates[t, b, H + j] = fg
                gates[t, b, 2 * H + j] = gg
                gates[t, b, 3 * H + j] = og
                hr[t, b, j] = og * tanh(c)
            for p in range(P):  # (F7): h_t = h~_t W_hr^T
                s = hr[t, b, 0] * w_hr[p, 0]
                for j in range(1, H):
                    s += hr[t, b, j] * w_hr[p, j]
                hs[t + 1, b, p] = s
    return OK, hs, cs, gates, hr


@njit(**JIT)
def proj_backward(dy, dh_n, dc_n, x, hs, cs, gates, hr, w_ih, w_hh, w_hr, lengths, keep):
    """(B1)-(B10) back through :func:`proj_forward`'s sequence.

    Returns ``status, dx [T, B, I], dh0 [B, P], dc0 [B, H], dw_ih, dw_hh, db [4H], dw_hr [P, H],
    sq_norms [T, B, 2]`` (per row the squared norms of the total dh_t (B1), dc_t (B2)), and with
    ``keep`` each step's ``dA [T, B, 4H]`` and total ``dh_t [T, B, P]`` (zero on masked rows: the
    terms of (B8) and (B10) per step), else two empty arrays.
    """
    T, B, I = x.shape
    G, P = w_hh.shape
    H = G // 4
    dt = x.dtype
    dx = np.zeros((T, B, I), dtype=dt)
    dw_ih = np.zeros((G, I), dtype=dt)
    dw_hh = np.zeros((G, P), dtype=dt)
    db = np.zeros(G, dtype=dt)
    dw_hr = np.zeros((P, H), dtype=dt)
    sq = np.zeros((T, B, 2), dtype=dt)
    Tk = T if keep else 0
    da_all = np.zeros((Tk, B, G), dtype=dt)
    dh_all = np.zeros((Tk, B, P), dtype=dt)
    dh = dh_n.copy()
    dc = dc_n.copy()
    if nonfinite(dy) or nonfinite(dh_n) or nonfinite(dc_n):
        return BAD_GRAD, dx, dh, dc, dw_ih, dw_hh, db, dw_hr, sq, da_all, dh_all
    has_len = lengths.size > 0
    dht = np.empty(P, dtype=dt)
    dhr = np.empty(H, dtype=dt)
    da = np.empty(G, dtype=dt)
    for t in range(T - 1, -1, -1):
        for b in range(B):
            if has_len and t >= lengths[b]:  # (B9): dh, dc pass, dA = 0
                s0 = dh[b, 0] * dh[b, 0]
                for p in range(1, P):
                    s0 += dh[b, p] * dh[b, p]
                s1 = dc[b, 0] * dc[b, 0]
                for j in range(1, H):
                    s1 += dc[b, j] * dc[b, j]
                sq[t, b, 0] = s0
                sq[t, b, 1] = s1
                continue
            s0 = dh[b, 0] * 0
            for p in range(P):  # (B1)
                v = dy[t, b, p] + dh[b, p]
                dht[p] = v
                s0 += v * v
                for j in range(H):  # (B10): dW_hr += dh_t^T h~_t
                    dw_hr[p, j] += v * hr[t, b, j]
            for j in range(H):  # (B10): dh~_t = dh_t W_hr
                s = dht[0] * w_hr[0, j]
                for p in range(1, P):
                    s += dht[p] * w_hr[p, j]
                dhr[j] = s
            s1 = s0 * 0
            for j in range(H):  # (B2)-(B5)
                ig = gates[t, b, j]
                fg = gates[t, b, H + j]
                gg = gates[t, b, 2 * H + j]
                og = gates[t, b, 3 * H + j]
                tc = tanh(cs[t + 1, b, j])
                dcj = dc[b, j] + dhr[j] * og * (1 - tc * tc)
                s1 += dcj * dcj
                da[j] = dcj * gg * ig * (1 - ig)
                da[H + j] = dcj * cs[t, b, j] * fg * (1 - fg)
                da[2 * H + j] = dcj * ig * (1 - gg * gg)
                da[3 * H + j] = dhr[j] * tc * og * (1 - og)
                dc[b, j] = dcj * fg
            sq[t, b, 0] = s0
            sq[t, b, 1] = s1
            if keep:
                for j in range(G):
                    da_all[t, b, j] = da[j]
                for p in range(P):
                    dh_all[t, b, p] = dht[p]
            for p in range(P):  # (B6): dh^rec_{t-1} = dA_t W_hh, W_hh [4H, P]
                s = da[0] * w_hh[0, p]
                for j in range(1, G):
                    s += da[j] * w_hh[j, p]
                dh[b, p] = s
            for i in range(I):  # (B7)
                s = da[0] * w_ih[0, i]
                for j in range(1, G):
                    s += da[j] * w_ih[j, i]
                dx[t, b, i] = s
            for j in range(G):  # (B8)
                v = da[j]
                db[j] += v
                for i in range(I):
                    dw_ih[j, i] += v * x[t, b, i]
                for p in range(P):
                    dw_hh[j, p] += v * hs[t, b, p]
    return OK, dx, dh, dc, dw_ih, dw_hh, db, dw_hr, sq, da_all, dh_all
