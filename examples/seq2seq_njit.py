"""A sequence-to-sequence model written in your own ``@njit`` code on fastlstm's kernels.

An encoder LSTM reads ``T_IN`` steps of a noisy sine wave; a decoder LSTM cell,
started from the encoder's final state, predicts the next ``T_OUT`` steps, feeding
each prediction back in as its next input (no teacher forcing). Forward and
backward run entirely in nopython mode through the compiled kernels:
``K.pack`` once per weight update, ``K.cell_step`` forward and
``K.cell_step_backward`` for exact BPTT, including the gradient that flows back
through every fed-back prediction. Nothing is allocated inside the time loops.

Run: python examples/seq2seq_njit.py
"""

from __future__ import annotations

import time

import numba
import numpy as np

from fastlstm import kernels as K

T_IN, T_OUT, HIDDEN, BATCH, STEPS, LR, SEED = 24, 12, 32, 32, 300, 1e-2, 0


def init_params(hidden: int, seed: int) -> dict[str, np.ndarray]:
    """Encoder and decoder LSTMs (1 input each) and a linear head h -> y, PyTorch's init."""
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(hidden)

    def u(*shape):
        return rng.uniform(-k, k, size=shape)

    return {
        "enc_w_ih": u(4 * hidden, 1), "enc_w_hh": u(4 * hidden, hidden), "enc_b": u(4 * hidden),
        "dec_w_ih": u(4 * hidden, 1), "dec_w_hh": u(4 * hidden, hidden), "dec_b": u(4 * hidden),
        "w_out": u(1, hidden), "b_out": u(1),
    }  # fmt: skip


@numba.njit  # no cache=True: a cached caller does not notice an upgrade of fastlstm (see README)
def loss_and_grads(x, target, enc, dec, w_out, b_out):
    """MSE of the decoder's free-running predictions, and its gradient.

    x [T_in, B, 1], target [T_out, B, 1]; enc, dec: ``K.PackedLSTM``.
    Returns (loss, predictions [T_out, B, 1], enc grads, dec grads, dw_out, db_out).
    """
    T_in, B, _ = x.shape
    T_out = target.shape[0]
    H = enc.w_hh.shape[1]
    # ---- forward: the encoder over x, keeping every state for BPTT
    hs = np.zeros((T_in + 1, B, H))
    cs = np.zeros((T_in + 1, B, H))
    g_enc = np.empty((T_in, B, 4 * H))
    for t in range(T_in):
        K.cell_step(x[t], hs[t], cs[t], enc, hs[t + 1], cs[t + 1], g_enc[t])
    # ---- the decoder: input at step t is the prediction of step t-1 (the last x first)
    dh_s = np.empty((T_out + 1, B, H))
    dc_s = np.empty((T_out + 1, B, H))
    dh_s[0] = hs[T_in]
    dc_s[0] = cs[T_in]
    g_dec = np.empty((T_out, B, 4 * H))
    inputs = np.empty((T_out, B, 1))
    preds = np.empty((T_out, B, 1))
    prev = x[T_in - 1]
    for t in range(T_out):
        inputs[t] = prev
        K.cell_step(inputs[t], dh_s[t], dc_s[t], dec, dh_s[t + 1], dc_s[t + 1], g_dec[t])
        preds[t] = dh_s[t + 1] @ w_out.T + b_out
        prev = preds[t]
    err = preds - target
    loss = np.mean(err**2)
    # ---- backward through the decoder, the fed-back predictions, then the encoder
    g_dec_p = K.CellGrads(np.zeros_like(dec.w_ih), np.zeros_like(dec.w_hh), np.zeros_like(dec.b))
    g_enc_p = K.CellGrads(np.zeros_like(enc.w_ih), np.zeros_like(enc.w_hh), np.zeros_like(enc.b))
    dw_out = np.zeros_like(w_out)
    db_out = np.zeros_like(b_out)
    dh = np.zeros((B, H))
    dc = np.zeros((B, H))
    d_in = np.zeros((B, 1))  # dE/d(input of step t+1) = dE/d(prediction of step t)
    dx = np.empty((B, 1))
    for t in range(T_out - 1, -1, -1):
        dpred = 2.0 * err[t] / err.size + d_in  # the loss term and the fed-back path
        dw_out += dpred.T @ dh_s[t + 1]
        db_out += dpred.sum(axis=0)
        dh += dpred @ w_out
        K.cell_step_backward(
            dh, dc, inputs[t], dh_s[t], dc_s[t], g_dec[t], dc_s[t + 1], dec, dx, dh, dc, g_dec_p
        )
        d_in[:] = dx
    # d_in is now the gradient of x[T_in - 1] through the decoder's first input: x is data, so drop it
    for t in range(T_in - 1, -1, -1):
        K.cell_step_backward(dh, dc, x[t], hs[t], cs[t], g_enc[t], cs[t + 1], enc, dx, dh, dc, g_enc_p)
    return loss, preds, g_enc_p, g_dec_p, dw_out, db_out


def make_batch(rng, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Sine waves of random phase and frequency with a little noise: [T, B, 1] inputs and targets."""
    t = np.arange(T_IN + T_OUT)[:, None]
    phase = rng.uniform(0, 2 * np.pi, batch)
    freq = rng.uniform(0.15, 0.35, batch)
    wave = np.sin(freq * t + phase) + 0.05 * rng.standard_normal((T_IN + T_OUT, batch))
    return wave[:T_IN, :, None].copy(), wave[T_IN:, :, None].copy()


def train(steps: int = STEPS, seed: int = SEED, hidden: int = HIDDEN, batch: int = BATCH) -> list[float]:
    """Adam on the seq2seq model; returns the loss of every step."""
    rng = np.random.default_rng(seed)
    params = init_params(hidden, seed)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    losses = []
    for step in range(1, steps + 1):
        x, y = make_batch(rng, batch)
        enc = K.pack(params["enc_w_ih"], params["enc_w_hh"], params["enc_b"])
        dec = K.pack(params["dec_w_ih"], params["dec_w_hh"], params["dec_b"])
        loss, _, ge, gd, dw_out, db_out = loss_and_grads(x, y, enc, dec, params["w_out"], params["b_out"])
        grads = {
            "enc_w_ih": ge.dw_ih, "enc_w_hh": ge.dw_hh, "enc_b": ge.db,
            "dec_w_ih": gd.dw_ih, "dec_w_hh": gd.dw_hh, "dec_b": gd.db,
            "w_out": dw_out, "b_out": db_out,
        }  # fmt: skip
        for k in params:  # Adam
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
            params[k] -= LR * (m[k] / (1 - 0.9**step)) / (np.sqrt(v[k] / (1 - 0.999**step)) + 1e-8)
        losses.append(float(loss))
    return losses


if __name__ == "__main__":
    start = time.perf_counter()
    losses = train()
    print(f"{STEPS} Adam steps in {time.perf_counter() - start:.1f} s (first call compiles the kernels)")
    print(
        f"MSE of {T_OUT}-step free-running forecasts: {np.mean(losses[:10]):.4f} (first 10 steps) -> "
        f"{np.mean(losses[-10:]):.4f} (last 10)"
    )
