"""Plain NumPy float64 reference LSTM, written straight from docs/derivation.md.

Slow and obvious on purpose: loops over time and over batch rows, one equation per
line, tagged with the equation it implements. Nothing here is shared with
``fastlstm``; the tests compare ``ref_*`` (this file) with ``comp_*`` (the kernels).

Shapes (row-vector convention, gate order i, f, g, o):

====================  ==============
x, x_t                [T, B, I], [B, I]
h, c, h_prev, c_prev  [B, H]
w_ih, w_hh            [4H, I], [4H, H]
b                     [4H]  (= b_ih + b_hh)
gates                 [B, 4H] post-activation, per step
lengths               int [B] or None
====================  ==============
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "RefBackward",
    "RefCache",
    "param_names",
    "ref_cell_backward",
    "ref_cell_forward",
    "ref_lstm_backward",
    "ref_lstm_forward",
    "ref_reverse_within",
    "ref_sigmoid",
    "ref_stacked_backward",
    "ref_stacked_forward",
    "ref_tanh",
    "ref_timestep_gradients",
    "kernel_problem",
    "random_lengths",
]


# --------------------------------------------------------------------------------------
# activations (F3)
# --------------------------------------------------------------------------------------
def ref_sigmoid(z):
    """Stable logistic function: the exponent is never positive (F3)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))  # in (0, 1], underflows to 0 for large |z|
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def ref_tanh(z):
    """tanh(z) = -sign(z) m / (2 + m), m = expm1(-2|z|) in (-1, 0] (F3): no overflow, no cancellation."""
    z = np.asarray(z, dtype=np.float64)
    m = np.expm1(-2.0 * np.abs(z))
    return -np.sign(z) * m / (2.0 + m)


def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------------------------
# one step
# --------------------------------------------------------------------------------------
def ref_cell_forward(x, h_prev, c_prev, w_ih, w_hh, b):
    """One step, (F1)-(F5). Returns h [B,H], c [B,H], gates [B,4H] = [i, f, g, o]."""
    x, h_prev, c_prev, w_ih, w_hh, b = map(_f64, (x, h_prev, c_prev, w_ih, w_hh, b))
    B, H = h_prev.shape
    h = np.zeros((B, H))
    c = np.zeros((B, H))
    gates = np.zeros((B, 4 * H))
    for r in range(B):
        a = w_ih @ x[r] + b  # (F1)
        a = a + w_hh @ h_prev[r]  # (F2)
        i = ref_sigmoid(a[0:H])  # (F3)
        f = ref_sigmoid(a[H : 2 * H])
        g = ref_tanh(a[2 * H : 3 * H])
        o = ref_sigmoid(a[3 * H : 4 * H])
        c[r] = f * c_prev[r] + i * g  # (F4)
        h[r] = o * np.tanh(c[r])  # (F5)
        gates[r] = np.concatenate([i, f, g, o])
    return h, c, gates


def _cell_backward_row(dh, dc_rec, x, h_prev, c_prev, gates, c, w_ih, w_hh):
    """(B2)-(B7) for one row. ``dh`` is the total dE/dh_t (B1)."""
    H = dh.shape[0]
    i, f, g, o = gates[0:H], gates[H : 2 * H], gates[2 * H : 3 * H], gates[3 * H : 4 * H]
    tc = np.tanh(c)
    dc = dc_rec + dh * o * (1.0 - tc * tc)  # (B2)
    do = dh * tc  # (B3)
    di = dc * g
    dg = dc * i
    df = dc * c_prev
    da = np.concatenate(
        [
            di * i * (1.0 - i),  # (B4)
            df * f * (1.0 - f),
            dg * (1.0 - g * g),
            do * o * (1.0 - o),
        ]
    )
    dc_prev = dc * f  # (B5)
    dh_prev = da @ w_hh  # (B6)
    dx = da @ w_ih  # (B7)
    return dx, dh_prev, dc_prev, da, dc


def ref_cell_backward(dh, dc, x, h_prev, c_prev, gates, c, w_ih, w_hh):
    """One step backward.

    ``dh`` is the total dE/dh_t (B1), ``dc`` the gradient dc^rec_t carried from t+1,
    ``c`` is c_t. Returns dx, dh_prev (B6), dc_prev (B5), dw_ih, dw_hh, db (B8, this step).
    """
    dh, dc, x, h_prev, c_prev, gates, c, w_ih, w_hh = map(
        _f64, (dh, dc, x, h_prev, c_prev, gates, c, w_ih, w_hh)
    )
    B, H = dh.shape
    dx = np.zeros_like(x)
    dh_prev = np.zeros((B, H))
    dc_prev = np.zeros((B, H))
    dw_ih = np.zeros_like(w_ih)
    dw_hh = np.zeros_like(w_hh)
    db = np.zeros(4 * H)
    for r in range(B):
        dx[r], dh_prev[r], dc_prev[r], da, _ = _cell_backward_row(
            dh[r], dc[r], x[r], h_prev[r], c_prev[r], gates[r], c[r], w_ih, w_hh
        )
        dw_ih += np.outer(da, x[r])  # (B8)
        dw_hh += np.outer(da, h_prev[r])
        db += da
    return dx, dh_prev, dc_prev, dw_ih, dw_hh, db


# --------------------------------------------------------------------------------------
# one direction over a sequence
# --------------------------------------------------------------------------------------
class RefCache(NamedTuple):
    x: np.ndarray  # [T, B, I]
    hs: np.ndarray  # [T+1, B, H], hs[0] = h0
    cs: np.ndarray  # [T+1, B, H]
    gates: np.ndarray  # [T, B, 4H], zero on masked steps
    lengths: np.ndarray | None  # int64 [B]
    mask: np.ndarray  # bool [T, B], True where t < L_b


class RefBackward(NamedTuple):
    dx: np.ndarray  # [T, B, I]
    dh0: np.ndarray  # [B, H]
    dc0: np.ndarray
    dw_ih: np.ndarray  # totals (B8)
    dw_hh: np.ndarray
    db: np.ndarray
    dgates: np.ndarray  # dA_t, [T, B, 4H] (B4), zero on masked steps (B9)
    dh: np.ndarray  # dh_t per row, [T, B, H] (B1)
    dc: np.ndarray  # dc_t per row, [T, B, H] (B2)
    dh_norm: np.ndarray  # [T]
    dc_norm: np.ndarray  # [T]
    dw_ih_t: np.ndarray  # [T, 4H, I] per-timestep terms of (B8)
    dw_hh_t: np.ndarray  # [T, 4H, H]
    db_t: np.ndarray  # [T, 4H]


def _mask(T, B, lengths):
    if lengths is None:
        return np.ones((T, B), dtype=bool)
    lengths = np.asarray(lengths)
    return np.arange(T)[:, None] < lengths[None, :]


def ref_lstm_forward(x, h0, c0, w_ih, w_hh, b=None, lengths=None):
    """(F1)-(F6) over a sequence. Returns y [T,B,H], h_n, c_n, RefCache."""
    x, h0, c0, w_ih, w_hh = map(_f64, (x, h0, c0, w_ih, w_hh))
    T, B, _ = x.shape
    H = h0.shape[1]
    b = np.zeros(4 * H) if b is None else _f64(b)
    lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)
    mask = _mask(T, B, lengths)
    y = np.zeros((T, B, H))
    hs = np.zeros((T + 1, B, H))
    cs = np.zeros((T + 1, B, H))
    gates = np.zeros((T, B, 4 * H))
    hs[0], cs[0] = h0, c0
    for t in range(T):
        h, c, gt = ref_cell_forward(x[t], hs[t], cs[t], w_ih, w_hh, b)
        for r in range(B):
            if mask[t, r]:
                hs[t + 1, r] = h[r]
                cs[t + 1, r] = c[r]
                gates[t, r] = gt[r]
                y[t, r] = h[r]  # (F5)
            else:  # (F6): frozen, output zero
                hs[t + 1, r] = hs[t, r]
                cs[t + 1, r] = cs[t, r]
    return y, hs[T].copy(), cs[T].copy(), RefCache(x, hs, cs, gates, lengths, mask)


def ref_timestep_gradients(dgates, x, h_prev):
    """Per-timestep terms of (B8): dA_t^T x_t, dA_t^T h_{t-1}, sum_b dA_t."""
    dgates, x, h_prev = map(_f64, (dgates, x, h_prev))
    T, B, G = dgates.shape
    dw_ih_t = np.zeros((T, G, x.shape[2]))
    dw_hh_t = np.zeros((T, G, h_prev.shape[2]))
    db_t = np.zeros((T, G))
    for t in range(T):
        for r in range(B):
            dw_ih_t[t] += np.outer(dgates[t, r], x[t, r])
            dw_hh_t[t] += np.outer(dgates[t, r], h_prev[t, r])
            db_t[t] += dgates[t, r]
    return dw_ih_t, dw_hh_t, db_t


def ref_lstm_backward(dy, dh_n, dc_n, cache, w_ih, w_hh):
    """(B1)-(B9) over a sequence. ``dy``, ``dh_n``, ``dc_n`` may be None (zero)."""
    w_ih, w_hh = _f64(w_ih), _f64(w_hh)
    x, hs, cs, gates, _, mask = cache
    T, B, _ = x.shape
    H = hs.shape[2]
    dy = np.zeros((T, B, H)) if dy is None else _f64(dy)
    dh_rec = np.zeros((B, H)) if dh_n is None else _f64(dh_n).copy()  # dh^rec_{T-1}
    dc_rec = np.zeros((B, H)) if dc_n is None else _f64(dc_n).copy()  # dc^rec_{T-1}
    dx = np.zeros_like(x)
    dgates = np.zeros((T, B, 4 * H))
    dh_all = np.zeros((T, B, H))
    dc_all = np.zeros((T, B, H))
    for t in range(T - 1, -1, -1):
        for r in range(B):
            if not mask[t, r]:  # (B9): pass through, dy ignored
                dh_all[t, r] = dh_rec[r]
                dc_all[t, r] = dc_rec[r]
                continue
            dh = dy[t, r] + dh_rec[r]  # (B1)
            dx[t, r], dh_rec[r], dc_rec[r], dgates[t, r], dc = _cell_backward_row(
                dh, dc_rec[r], x[t, r], hs[t, r], cs[t, r], gates[t, r], cs[t + 1, r], w_ih, w_hh
            )
            dh_all[t, r] = dh
            dc_all[t, r] = dc
    dw_ih_t, dw_hh_t, db_t = ref_timestep_gradients(dgates, x, hs[:T])
    dh_norm = np.sqrt((dh_all**2).sum(axis=(1, 2)))
    dc_norm = np.sqrt((dc_all**2).sum(axis=(1, 2)))
    return RefBackward(
        dx,
        dh_rec,
        dc_rec,
        dw_ih_t.sum(0),
        dw_hh_t.sum(0),
        db_t.sum(0),
        dgates,
        dh_all,
        dc_all,
        dh_norm,
        dc_norm,
        dw_ih_t,
        dw_hh_t,
        db_t,
    )


# --------------------------------------------------------------------------------------
# the stacked, bidirectional layer (docs/derivation.md section 4)
# --------------------------------------------------------------------------------------
def ref_reverse_within(a, lengths):
    """R(a): reverse each row's first L_b steps along axis 0, leave padding in place."""
    a = np.asarray(a)
    T, B = a.shape[:2]
    if lengths is None:
        return a[::-1].copy()
    out = a.copy()
    for r in range(B):
        L = int(lengths[r])
        out[:L, r] = a[:L, r][::-1]
    return out


def param_names(num_layers, bidirectional, bias=True):
    """PyTorch's parameter names, in PyTorch's order."""
    names = []
    for k in range(num_layers):
        for suffix in ("", "_reverse") if bidirectional else ("",):
            names += [f"weight_ih_l{k}{suffix}", f"weight_hh_l{k}{suffix}"]
            if bias:
                names += [f"bias_ih_l{k}{suffix}", f"bias_hh_l{k}{suffix}"]
    return names


class RefStacked(NamedTuple):
    output: np.ndarray  # [T, B, D*H]
    h_n: np.ndarray  # [L*D, B, H]
    c_n: np.ndarray
    caches: list  # per (layer, direction): (RefCache, layer input [T,B,In])
    num_layers: int
    num_directions: int
    lengths: np.ndarray | None
    dropout_masks: list | None  # per layer k >= 1: scaled mask M/(1-p), or None


def ref_stacked_forward(
    x, params, num_layers, bidirectional, h0=None, c0=None, lengths=None, dropout_masks=None
):
    """Multi-layer (bidirectional) forward, time-major.

    ``params`` maps torch names to arrays; missing biases mean bias=False.
    ``dropout_masks[k-1]`` (optional) is the already-scaled mask applied to layer k's input.
    """
    x = _f64(x)
    T, B, _ = x.shape
    D = 2 if bidirectional else 1
    H = np.asarray(params["weight_hh_l0"]).shape[1]
    h0 = np.zeros((num_layers * D, B, H)) if h0 is None else _f64(h0)
    c0 = np.zeros((num_layers * D, B, H)) if c0 is None else _f64(c0)
    lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)
    h_n = np.zeros((num_layers * D, B, H))
    c_n = np.zeros((num_layers * D, B, H))
    caches = []
    inp = x
    for k in range(num_layers):
        if k > 0 and dropout_masks is not None and dropout_masks[k - 1] is not None:
            inp = inp * dropout_masks[k - 1]
        outs = []
        for d in range(D):
            sfx = "_reverse" if d == 1 else ""
            w_ih = _f64(params[f"weight_ih_l{k}{sfx}"])
            w_hh = _f64(params[f"weight_hh_l{k}{sfx}"])
            b = None
            if f"bias_ih_l{k}{sfx}" in params:
                b = _f64(params[f"bias_ih_l{k}{sfx}"]) + _f64(params[f"bias_hh_l{k}{sfx}"])
            src = inp if d == 0 else ref_reverse_within(inp, lengths)
            y, hn, cn, cache = ref_lstm_forward(src, h0[k * D + d], c0[k * D + d], w_ih, w_hh, b, lengths)
            if d == 1:
                y = ref_reverse_within(y, lengths)
            outs.append(y)
            h_n[k * D + d] = hn
            c_n[k * D + d] = cn
            caches.append((cache, inp))
        inp = np.concatenate(outs, axis=2)
    return RefStacked(inp, h_n, c_n, caches, num_layers, D, lengths, dropout_masks)


class RefStackedBackward(NamedTuple):
    dx: np.ndarray
    dh0: np.ndarray
    dc0: np.ndarray
    grads: dict  # name -> total gradient
    timestep_grads: dict  # name -> [T, *shape], original time order
    grad_norms: dict  # "l{k}" / "l{k}_reverse" -> {"h": [T], "c": [T]}, original time order


def ref_stacked_backward(fwd: RefStacked, params, d_output, d_h_n=None, d_c_n=None):
    """BPTT through the stacked layer built by :func:`ref_stacked_forward`."""
    L, D, lengths = fwd.num_layers, fwd.num_directions, fwd.lengths
    T, B, _ = fwd.output.shape
    H = fwd.h_n.shape[2]
    d_h_n = np.zeros((L * D, B, H)) if d_h_n is None else _f64(d_h_n)
    d_c_n = np.zeros((L * D, B, H)) if d_c_n is None else _f64(d_c_n)
    dh0 = np.zeros((L * D, B, H))
    dc0 = np.zeros((L * D, B, H))
    grads, tgrads, norms = {}, {}, {}
    d_out = _f64(d_output)
    for k in range(L - 1, -1, -1):
        d_in = None
        for d in range(D):
            sfx = "_reverse" if d == 1 else ""
            cache, _ = fwd.caches[k * D + d]
            w_ih = _f64(params[f"weight_ih_l{k}{sfx}"])
            w_hh = _f64(params[f"weight_hh_l{k}{sfx}"])
            dy = d_out[:, :, d * H : (d + 1) * H]
            if d == 1:
                dy = ref_reverse_within(dy, lengths)
            res = ref_lstm_backward(dy, d_h_n[k * D + d], d_c_n[k * D + d], cache, w_ih, w_hh)
            dx, dgates, dh_rows, dc_rows = res.dx, res.dgates, res.dh, res.dc
            x_seq, h_prev = cache.x, cache.hs[:T]
            if d == 1:  # back to original time order, per row, before any sum over rows
                dx = ref_reverse_within(dx, lengths)
                dgates = ref_reverse_within(dgates, lengths)
                dh_rows = ref_reverse_within(dh_rows, lengths)
                dc_rows = ref_reverse_within(dc_rows, lengths)
                x_seq = ref_reverse_within(x_seq, lengths)
                h_prev = ref_reverse_within(h_prev, lengths)
            dw_ih_t, dw_hh_t, db_t = ref_timestep_gradients(dgates, x_seq, h_prev)
            grads[f"weight_ih_l{k}{sfx}"] = res.dw_ih
            grads[f"weight_hh_l{k}{sfx}"] = res.dw_hh
            tgrads[f"weight_ih_l{k}{sfx}"] = dw_ih_t
            tgrads[f"weight_hh_l{k}{sfx}"] = dw_hh_t
            if f"bias_ih_l{k}{sfx}" in params:
                for bn in ("bias_ih", "bias_hh"):
                    grads[f"{bn}_l{k}{sfx}"] = res.db
                    tgrads[f"{bn}_l{k}{sfx}"] = db_t
            norms[f"l{k}{sfx}"] = {
                "h": np.sqrt((dh_rows**2).sum(axis=(1, 2))),
                "c": np.sqrt((dc_rows**2).sum(axis=(1, 2))),
            }
            dh0[k * D + d] = res.dh0
            dc0[k * D + d] = res.dc0
            d_in = dx if d_in is None else d_in + dx
        if k > 0 and fwd.dropout_masks is not None and fwd.dropout_masks[k - 1] is not None:
            d_in = d_in * fwd.dropout_masks[k - 1]
        d_out = d_in
    return RefStackedBackward(d_out, dh0, dc0, grads, tgrads, norms)


# --------------------------------------------------------------------------------------
# seeded test inputs (not part of the reference maths)
# --------------------------------------------------------------------------------------
def random_lengths(rng, T, B, full_row=True):
    """Lengths in [1, T] with at least one row of full length (so T is meaningful)."""
    lengths = rng.integers(1, T + 1, size=B).astype(np.int64)
    if full_row:
        lengths[rng.integers(B)] = T
    return lengths


def kernel_problem(rng, T, B, I, H, dtype, lengths=False, scale=1.0):
    """Seeded inputs for one direction: x, h0, c0, weights, bias, lengths, upstream grads."""
    k = scale / np.sqrt(H)

    def u(*shape):
        return rng.uniform(-k, k, size=shape).astype(dtype)

    def n(*shape):
        return rng.standard_normal(shape).astype(dtype)

    return {
        "x": n(T, B, I),
        "h0": (0.5 * n(B, H)).astype(dtype),
        "c0": n(B, H),
        "w_ih": u(4 * H, I),
        "w_hh": u(4 * H, H),
        "b": u(4 * H),
        "lengths": random_lengths(rng, T, B) if lengths else None,
        "dy": n(T, B, H),
        "dh_n": n(B, H),
        "dc_n": n(B, H),
    }
