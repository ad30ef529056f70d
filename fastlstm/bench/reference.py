"""A vectorised NumPy LSTM: the baseline when PyTorch is missing, and its float64 oracle."""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)


def _sigmoid(z):
    return 0.5 + 0.5 * np.tanh(0.5 * z)  # no exp, so no overflow


def reference_forward(x, w_ih, w_hh, b, h0=None, c0=None):
    """Vectorised NumPy LSTM forward (PyTorch's equations and gate order i, f, g, o).

    Computes in the dtype of ``x``. Returns ``y [T, B, H]``, ``h_n``, ``c_n`` and a
    cache for :func:`reference_backward`.

    Parameters
    ----------
    x : numpy.ndarray, shape (T, B, I)
        The inputs, time first.
    w_ih, w_hh : numpy.ndarray, shape (4H, I) and (4H, H)
        Input and recurrent weights (PyTorch's ``weight_ih_l0``, ``weight_hh_l0``).
    b : numpy.ndarray, shape (4H,)
        The bias (PyTorch's two biases summed).
    h0, c0 : numpy.ndarray, shape (B, H), optional
        Initial states (default: zeros).
    """
    T, B, I = x.shape
    H = w_hh.shape[1]
    hs = np.empty((T + 1, B, H), dtype=x.dtype)
    cs = np.empty((T + 1, B, H), dtype=x.dtype)
    hs[0] = 0 if h0 is None else h0
    cs[0] = 0 if c0 is None else c0
    gates = (x.reshape(T * B, I) @ w_ih.T + b).reshape(T, B, 4 * H)  # (F1)
    for t in range(T):
        a = gates[t] + hs[t] @ w_hh.T  # (F2)
        gates[t, :, : 2 * H] = _sigmoid(a[:, : 2 * H])  # (F3) i, f
        gates[t, :, 2 * H : 3 * H] = np.tanh(a[:, 2 * H : 3 * H])  # g
        gates[t, :, 3 * H :] = _sigmoid(a[:, 3 * H :])  # o
        i, f, g, o = np.split(gates[t], 4, axis=1)
        cs[t + 1] = f * cs[t] + i * g  # (F4)
        hs[t + 1] = o * np.tanh(cs[t + 1])  # (F5)
    return hs[1:], hs[T], cs[T], (x, hs, cs, gates)


def reference_backward(dy, cache, w_ih, w_hh):
    """BPTT for :func:`reference_forward`: ``dx, dh0, dc0, dw_ih, dw_hh, db``.

    Parameters
    ----------
    dy : numpy.ndarray, shape (T, B, H)
        The upstream gradient on every ``h_t``.
    cache : tuple
        The cache :func:`reference_forward` returned.
    w_ih, w_hh : numpy.ndarray
        The weights given to :func:`reference_forward`.
    """
    x, hs, cs, gates = cache
    T, B, I = x.shape
    H = hs.shape[2]
    dh = np.zeros((B, H), dtype=x.dtype)
    dc = np.zeros((B, H), dtype=x.dtype)
    da = np.empty((T, B, 4 * H), dtype=x.dtype)
    for t in range(T - 1, -1, -1):
        i, f, g, o = np.split(gates[t], 4, axis=1)
        tc = np.tanh(cs[t + 1])
        dh = dy[t] + dh  # (B1)
        dc = dc + dh * o * (1 - tc * tc)  # (B2)
        da[t, :, :H] = dc * g * i * (1 - i)  # (B3), (B4)
        da[t, :, H : 2 * H] = dc * cs[t] * f * (1 - f)
        da[t, :, 2 * H : 3 * H] = dc * i * (1 - g * g)
        da[t, :, 3 * H :] = dh * tc * o * (1 - o)
        dc = dc * f  # (B5)
        dh = da[t] @ w_hh  # (B6)
    da2 = da.reshape(T * B, 4 * H)
    dx = (da2 @ w_ih).reshape(T, B, I)  # (B7)
    dw_ih = da2.T @ x.reshape(T * B, I)  # (B8)
    dw_hh = da2.T @ hs[:T].reshape(T * B, H)
    return dx, dh, dc, dw_ih, dw_hh, da2.sum(axis=0)


# --------------------------------------------------------------------------------------
# problems and runners: one object per library with train_step() and infer()
# --------------------------------------------------------------------------------------
