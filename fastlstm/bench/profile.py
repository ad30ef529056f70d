r"""Where a training step's time goes: ``fastlstm bench --profile``.

Each part of one training step of the layer is timed on its own, on the same
arrays, by compiled loops that call the kernels' own pieces in the drivers' order
and nothing else:

============== ==========================================================
part           what runs
============== ==========================================================
input proj.    the input half of the fused product (F1): the micro-kernel's
               time with ``x`` minus its time without (``I = 0``)
recurrent      (F2) and (B6): the micro-kernel over ``h_{t-1}`` and over ``dA_t``
elementwise    the pointwise passes (F3)-(F6) and (B1)-(B5), (B9)
weight grads   (B8): ``dW_ih``, ``dW_hh`` on the micro-kernel, and ``db``
input grad     (B7): ``dx = dA W_ih`` on the micro-kernel
checks, packing the rest of the drivers: NaN/Inf checks, weight packing, copies
Python         the layer's step minus the drivers' (chained as the layer runs
               them): validation, dispatch, the layer's bookkeeping
============== ==========================================================

The parts run on one thread (``fastlstm.threads(1)``), where they add up; the
table also gives the whole step at the report's thread count.

A second table bounds what a training step and inference could reach with these
kernels: every product at the micro-kernel's own rate on operands that stay in L1
(measured here, one thread), the elementwise passes as timed, nothing else, and
perfect scaling to the report's threads. Against the baseline's times in the same
run, that is the most speed-up a faster arrangement of the same products could give.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import _threads
from .._config import CACHE  # off with FASTLSTM_VECTOR_BITS: these loops inline the width's kernels
from ..kernels import drivers as D
from ..kernels.simd import NV, VECTOR_BITS
from .config import Config
from .runners import time_call

__all__ = ["PARTS", "format_profile", "microkernel_rate", "profile_config"]

#: the parts, in the table's order
PARTS = (
    "input_projection",
    "recurrent",
    "elementwise",
    "weight_grads",
    "input_grad",
    "checks_packing",
    "python",
)

_VEC_BYTES = VECTOR_BITS // 8


@njit(cache=CACHE)
def _forward_products(x, hs, wxp, whp, bp, blk):
    """(F1)+(F2) alone: the drivers' forward loop without the pointwise pass."""
    T, B = hs.shape[0] - 1, hs.shape[1]
    for t in range(T):
        r = 0
        while r < B:
            n = B - r
            m = D._R0 if n >= D._R0 else (D._R1 if n >= D._R1 else (D._R2 if n >= D._R2 else D._R3))
            for p in range(whp.shape[0]):
                if m == D._R0:
                    D._fwd_r0(x, hs, t, r, wxp, whp, bp, p, blk)
                elif m == D._R1:
                    D._fwd_r1(x, hs, t, r, wxp, whp, bp, p, blk)
                elif m == D._R2:
                    D._fwd_r2(x, hs, t, r, wxp, whp, bp, p, blk)
                else:
                    D._fwd_r3(x, hs, t, r, wxp, whp, bp, p, blk)
            r += m


@njit(cache=CACHE)
def _forward_pointwise(hs, cs, gates, lengths, blk):
    """(F3)-(F6) alone, on a block of fixed pre-activations."""
    T, B = hs.shape[0] - 1, hs.shape[1]
    for t in range(T):
        r = 0
        while r < B:
            m = min(D._R0, B - r)
            D._forward_pointwise(blk, m, r, t, lengths, hs[t], cs[t], hs[t + 1], cs[t + 1], gates[t])
            r += m


@njit(cache=CACHE)
def _backward_pointwise(dy, cs, gates, lengths, dh, dc, da, sq_norms):
    T, B = dy.shape[0], dy.shape[1]
    for t in range(T - 1, -1, -1):
        for b in range(B):
            D._backward_pointwise(dy, t, b, dh, dc, gates, cs, da, lengths, sq_norms)


@njit(cache=CACHE)
def _backward_products(da, wbp, out):
    T, B = da.shape[0], da.shape[1]
    for t in range(T - 1, -1, -1):
        for p in range(wbp.shape[0]):
            r = 0
            while r < B:
                n = B - r
                if n >= D._R0:
                    D._bwd_r0(da, t, r, wbp, p, out)
                    r += D._R0
                elif n >= D._R1:
                    D._bwd_r1(da, t, r, wbp, p, out)
                    r += D._R1
                elif n >= D._R2:
                    D._bwd_r2(da, t, r, wbp, p, out)
                    r += D._R2
                else:
                    D._bwd_r3(da, t, r, wbp, p, out)
                    r += D._R3


@njit(cache=CACHE)
def _microkernel_loop(a, w, out, K, reps):
    for _ in range(reps):
        D._gemm_r0(a, 0, 1, D._R0, w, 0, w.size // K, K, out, 0, out.size // D._R0)


def microkernel_rate(dtype, repeat: int = 5) -> float:
    """GFLOP/s of the largest register block of the micro-kernel on one thread, its
    operands (256 steps of k, 30-60 KiB) in L1: the rate no product of the kernels can
    exceed. Best of ``repeat`` runs of about 5 ms."""
    dt = np.dtype(dtype)
    C = NV * (_VEC_BYTES // dt.itemsize)
    K = 256
    a = np.full(K * D._R0, 0.5, dt)
    w = np.full(K * C, 0.25, dt)
    out = np.zeros(D._R0 * C, dt)
    _microkernel_loop(a, w, out, K, 1)
    flops = 2 * D._R0 * C * K
    reps = max(1, int(5e8 // (flops * (4 if dt.itemsize == 8 else 1))))
    best = time_call(lambda: _microkernel_loop(a, w, out, K, reps), repeat)["min"]
    return flops * reps / best / 1e9


def profile_config(cfg: Config, repeat: int = 10, threads: int = 2, seed: int = 0) -> dict:
    """Seconds per training step spent in each of :data:`PARTS` (one thread), plus the
    whole step at one and at ``threads`` threads (medians of ``repeat`` samples)."""
    from ..nn.lstm import LSTM

    dt = np.dtype(cfg.dtype)
    rng = np.random.default_rng(seed)
    B, T, n_in, H = cfg.B, cfg.T, cfg.I, cfg.H
    x = rng.standard_normal((T, B, n_in)).astype(dt)
    dy = rng.standard_normal((T, B, H)).astype(dt)
    lstm = LSTM(n_in, H, dtype=dt, seed=seed)
    w_ih, w_hh, b_ih, b_hh = lstm._weights(0, 0)

    def step():
        lstm.zero_grad()
        lstm.forward(x)
        lstm.backward(dy)

    def med(fn):
        return time_call(fn, repeat)["median"]

    out = {"threads": threads}
    with _threads.threads(threads):
        out["step_threads"] = med(step)
    with _threads.threads(1):
        out["step_1"] = med(step)
        no_len = np.empty(0, np.int64)
        h0 = np.zeros((B, H), dt)

        def drivers():  # chained as the layer runs them: dA over the gates, arrays alive till then
            _, hs, cs, gates = D.forward_alloc(x, h0, h0, w_ih, w_hh, b_ih, b_hh, no_len, 1, True)
            D.backward_alloc(dy, h0, h0, x, hs, cs, gates, w_ih, w_hh, no_len, 1, True)

        both = med(drivers)
        _, hs, cs, gates = D.forward_alloc(x, h0, h0, w_ih, w_hh, b_ih, b_hh, no_len, 1, True)
        U = _VEC_BYTES // dt.itemsize
        wxp, whp, bp = D.pack_gates(w_ih, U), D.pack_gates(w_hh, U), D.pack_bias(b_ih + b_hh, U)
        blk = np.zeros((D._R0, 4 * whp.shape[0] * U), dt)
        hs2, cs2, g2 = hs.copy(), cs.copy(), gates.copy()
        lengths = np.full(B, T, np.int64)
        fused = med(lambda: _forward_products(x, hs2, wxp, whp, bp, blk))
        no_input = np.empty((T, B, 0), dt)
        rec_f = med(lambda: _forward_products(no_input, hs2, wxp, whp, bp, blk))
        pw_f = med(lambda: _forward_pointwise(hs2, cs2, g2, lengths, blk))
        C = NV * U
        wbp = D.pack_columns(w_hh, C)
        Hp = wbp.shape[0] * C
        dh, dc = np.zeros((B, Hp), dt), np.zeros((B, H), dt)
        da_buf = np.zeros(T * B * 4 * H + C, dt)
        da = da_buf[: T * B * 4 * H].reshape(T, B, 4 * H)
        sq_norms = np.empty((T, B, 2), dt)
        pw_b = med(lambda: _backward_pointwise(dy, cs, gates, lengths, dh, dc, da, sq_norms))
        _, _, _, _, da_true, *_ = D.backward_alloc(dy, h0, h0, x, hs, cs, gates, w_ih, w_hh, no_len, 1)
        da[...] = da_true
        rec_b = med(lambda: _backward_products(da, wbp, np.empty((B, Hp), dt)))
        wgrad = med(
            lambda: D.weight_grads(x.reshape(T * B, n_in), hs[:T].reshape(T * B, H), da_buf, 4 * H, 1)
        )
        igrad = med(lambda: D.input_grad(da_buf, w_ih, T * B, 1))
    parts = {
        "input_projection": max(fused - rec_f, 0.0),
        "recurrent": rec_f + rec_b,
        "elementwise": pw_f + pw_b,
        "weight_grads": wgrad,
        "input_grad": igrad,
    }
    parts["checks_packing"] = max(both - sum(parts.values()), 0.0)
    parts["python"] = max(out["step_1"] - both, 0.0)
    out["parts"] = parts
    out["drivers_1"] = both
    with _threads.threads(1):
        rate = microkernel_rate(dt, repeat=max(3, min(repeat, 7)))
    out["microkernel_gflops"] = rate
    out["bound_1"] = cfg.flops_training / (rate * 1e9) + parts["elementwise"]
    out["bound_threads"] = out["bound_1"] / threads
    # inference: the forward's products and its pointwise pass (F3)-(F6) alone
    out["bound_inference_threads"] = (cfg.flops_forward / (rate * 1e9) + pw_f) / threads
    return out


_LABELS = {
    "input_projection": "input proj.",
    "recurrent": "recurrent",
    "elementwise": "elementwise",
    "weight_grads": "weight grads",
    "input_grad": "input grad",
    "checks_packing": "checks+pack",
    "python": "Python",
}


def format_profile(profiles: dict[str, dict], baseline: dict[str, tuple] | None = None) -> str:
    """The profile table: ms and share of the one-thread step per part; then the bounds
    of the training step and of inference (see the module's docstring), against
    ``baseline`` (config name -> the baseline's training step and inference in seconds,
    same run) when given."""
    head = f"{'config':10s} {'step 1 thr':>10s} " + " ".join(f"{_LABELS[p]:>17s}" for p in PARTS)
    head += f" {'step N thr':>10s}"
    lines = [
        "training step, parts timed separately on 1 thread (ms, share of the 1-thread step)",
        head,
        "-" * len(head),
    ]
    for name, prof in profiles.items():
        step = prof["step_1"]
        cells = " ".join(f"{prof['parts'][p] * 1e3:9.3f} ({prof['parts'][p] / step:4.0%})" for p in PARTS)
        lines.append(
            f"{name:10s} {step * 1e3:10.3f} {cells} {prof['step_threads'] * 1e3:7.3f} ({prof['threads']})"
        )
    head = (
        f"{'config':10s} {'kernel GF/s':>11s} {'train bound':>11s} {'step now':>9s} {'baseline':>9s} "
        f"{'speed-up':>8s} {'at most':>8s} {'infer bound':>11s} {'baseline':>9s} {'at most':>8s}"
    )
    lines += [
        "",
        "bound at N threads (ms): every product at the micro-kernel's in-L1 rate (1 thread), the "
        "elementwise passes as timed, perfect thread scaling; 'at most': the baseline's time / the bound",
        head,
        "-" * len(head),
    ]
    for name, prof in profiles.items():
        base = (baseline or {}).get(name, (None, None))
        train, infer, now = prof["bound_threads"], prof["bound_inference_threads"], prof["step_threads"]
        cells = [f"{name:10s} {prof['microkernel_gflops']:11.1f} {train * 1e3:11.3f} {now * 1e3:9.3f}"]
        if base[0]:
            cells.append(f"{base[0] * 1e3:9.3f} {base[0] / now:7.2f}x {base[0] / train:7.2f}x")
        else:
            cells.append(f"{'-':>9s} {'-':>8s} {'-':>8s}")
        cells.append(f"{infer * 1e3:11.3f}")
        if base[1]:
            cells.append(f"{base[1] * 1e3:9.3f} {base[1] / infer:7.2f}x")
        else:
            cells.append(f"{'-':>9s} {'-':>8s}")
        lines.append(" ".join(cells))
    return "\n".join(lines)
