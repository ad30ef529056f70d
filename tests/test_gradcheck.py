"""Analytic gradients against central finite differences, in float64.

One scalar loss E = sum(Y * R) + sum(h_n * Rh) + sum(c_n * Rc) with random R, Rh, Rc
covers the whole Jacobian: its gradient with respect to every entry of x, h0, c0 and of
every weight and bias (every layer, every direction, with variable lengths) is compared
with the fourth-order central difference

    E'(p) ~ (-E(p + 2s) + 8 E(p + s) - 8 E(p - s) + E(p - 2s)) / (12 s)

(truncation O(s^4), so a step of 1e-3 leaves an error near 1e-12; see tests/tolerances.py).
Sizes are small so every entry of every tensor is checked.
"""

from __future__ import annotations

import numpy as np
import pytest
from naive import kernel_problem, random_lengths, ref_stacked_backward, ref_stacked_forward
from tolerances import gradcheck_err, tol

import fastlstm
from fastlstm import kernels as K

F64 = np.float64
TOL = tol(F64)


def numeric_grad(f, arr, step=TOL.fd_step):
    """Fourth-order central difference of the scalar ``f()`` w.r.t. every entry of ``arr`` (in place)."""
    g = np.zeros(arr.shape)
    flat = arr.reshape(-1)  # a view: arrays here are contiguous
    assert np.shares_memory(flat, arr)
    for j in range(flat.size):
        v = flat[j]
        vals = []
        for k in (2, 1, -1, -2):
            flat[j] = v + k * step
            vals.append(f())
        flat[j] = v
        g.reshape(-1)[j] = (-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * step)
    return g


def check(report, name, analytic, numeric):
    """Record and assert the max entry-wise relative error; the message has max and mean."""
    assert analytic.shape == numeric.shape, f"{name}: shape {analytic.shape} vs {numeric.shape}"
    err = gradcheck_err(analytic, numeric)
    report[name] = (float(err.max()), float(err.mean()))
    worst = np.unravel_index(err.argmax(), err.shape)
    assert err.max() <= TOL.fd, (
        f"{name}: max relative error {err.max():.3e} (mean {err.mean():.3e}) > {TOL.fd:.0e} "
        f"at index {worst}: analytic {analytic[worst]:.12e}, finite difference {numeric[worst]:.12e}"
    )


def summary(report):
    mx = max(v[0] for v in report.values())
    mean = float(np.mean([v[1] for v in report.values()]))
    return mx, mean


# ------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("lengths", [False, True], ids=["full", "lengths"])
def test_gradcheck_kernels(lengths, rng):
    """lstm_forward / lstm_backward: x, h0, c0, w_ih, w_hh, b (B1-B9)."""
    p = kernel_problem(rng, 5, 3, 3, 2, F64, lengths=lengths, scale=2.0)
    R, Rh, Rc = p["dy"], p["dh_n"], p["dc_n"]
    if lengths:
        p["lengths"] = np.array([5, 2, 1])

    def loss():
        y, h_n, c_n, _ = K.lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], p["lengths"])
        return np.sum(y * R) + np.sum(h_n * Rh) + np.sum(c_n * Rc)

    _, _, _, cache = K.lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], p["lengths"])
    res = K.lstm_backward(R, Rh, Rc, cache, p["w_ih"], p["w_hh"])
    report = {}
    for name, analytic in (
        ("x", res.dx),
        ("h0", res.dh0),
        ("c0", res.dc0),
        ("w_ih", res.dw_ih),
        ("w_hh", res.dw_hh),
        ("b", res.db),
    ):
        check(report, name, analytic, numeric_grad(loss, p[name]))
    if lengths:  # (B9): padding inputs do not influence the loss at all
        pad = np.arange(5)[:, None] >= p["lengths"][None, :]
        assert not np.any(res.dx[pad])


def test_gradcheck_cell(rng):
    """cell_forward / cell_backward for one step, with a carried dc (B2-B8)."""
    p = kernel_problem(rng, 1, 3, 4, 3, F64, scale=2.0)
    x = p["x"][0]
    Rh, Rc = p["dh_n"], p["dc_n"]

    def loss():
        h, c, _ = K.cell_forward(x, p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
        return np.sum(h * Rh) + np.sum(c * Rc)

    h, c, gates = K.cell_forward(x, p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    # dE/dh_t = Rh (B1 with no later step), dc^rec_t = Rc (the direct dE/dc_t)
    dx, dh_prev, dc_prev, dw_ih, dw_hh, db = K.cell_backward(
        Rh, Rc, x, p["h0"], p["c0"], gates, c, p["w_ih"], p["w_hh"]
    )
    report = {}
    check(report, "x", dx, numeric_grad(loss, x))
    check(report, "h_prev", dh_prev, numeric_grad(loss, p["h0"]))
    check(report, "c_prev", dc_prev, numeric_grad(loss, p["c0"]))
    check(report, "w_ih", dw_ih, numeric_grad(loss, p["w_ih"]))
    check(report, "w_hh", dw_hh, numeric_grad(loss, p["w_hh"]))
    check(report, "b", db, numeric_grad(loss, p["b"]))


# --------------------------------------------------------------------------- layer
LAYER_CASES = [
    # num_layers, bidirectional, bias, batch_first, lengths
    pytest.param(2, True, True, False, True, id="L2-bi-lengths"),
    pytest.param(2, False, True, True, True, id="L2-uni-batch_first-lengths"),
    pytest.param(1, True, False, False, False, id="L1-bi-nobias"),
    pytest.param(3, True, True, False, False, id="L3-bi"),
]


@pytest.mark.parametrize("num_layers, bidirectional, bias, batch_first, use_lengths", LAYER_CASES)
def test_gradcheck_layer(num_layers, bidirectional, bias, batch_first, use_lengths, rng):
    """fastlstm.LSTM: every parameter of every layer and direction, x, h0 and c0."""
    T, B, I, H = 4, 3, 3, 2
    D = 2 if bidirectional else 1
    layer = fastlstm.LSTM(
        I,
        H,
        num_layers=num_layers,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        dtype=F64,
        seed=7,
    )
    for p in layer.parameters():  # larger weights than the default init: non-trivial curvature
        p.data[...] = rng.uniform(-1.0, 1.0, p.shape)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    h0 = rng.standard_normal((num_layers * D, B, H))
    c0 = rng.standard_normal((num_layers * D, B, H))
    lengths = random_lengths(rng, T, B) if use_lengths else None
    R = rng.standard_normal((B, T, D * H) if batch_first else (T, B, D * H))
    Rh = rng.standard_normal(h0.shape)
    Rc = rng.standard_normal(c0.shape)

    def loss():
        out, (h_n, c_n) = layer.forward(x, (h0, c0), lengths=lengths)
        return np.sum(out * R) + np.sum(h_n * Rh) + np.sum(c_n * Rc)

    layer.train()
    layer.zero_grad()
    layer.forward(x, (h0, c0), lengths=lengths)
    d_x, (d_h0, d_c0) = layer.backward(R, Rh, Rc)
    analytic = {name: p.grad.copy() for name, p in layer.named_parameters()}
    layer.eval()  # finite differences record nothing
    report = {}
    check(report, "x", d_x, numeric_grad(loss, x))
    check(report, "h0", d_h0, numeric_grad(loss, h0))
    check(report, "c0", d_c0, numeric_grad(loss, c0))
    for name, p in layer.named_parameters():
        check(report, name, analytic[name], numeric_grad(loss, p.data))
    expected = {"x", "h0", "c0", *(n for n, _ in layer.named_parameters())}
    assert set(report) == expected
    mx, mean = summary(report)
    assert mx <= TOL.fd, f"max {mx:.2e} mean {mean:.2e}"


def test_gradcheck_naive_reference(rng):
    """The reference itself (what every other test trusts): 2 layers, bidirectional, lengths."""
    T, B, I, H, L = 4, 3, 2, 2, 2
    params = {}
    for k in range(L):
        for sfx in ("", "_reverse"):
            In = I if k == 0 else 2 * H
            params[f"weight_ih_l{k}{sfx}"] = rng.uniform(-1, 1, (4 * H, In))
            params[f"weight_hh_l{k}{sfx}"] = rng.uniform(-1, 1, (4 * H, H))
            params[f"bias_ih_l{k}{sfx}"] = rng.uniform(-1, 1, 4 * H)
            params[f"bias_hh_l{k}{sfx}"] = rng.uniform(-1, 1, 4 * H)
    x = rng.standard_normal((T, B, I))
    h0, c0 = rng.standard_normal((2, L * 2, B, H))
    lengths = np.array([4, 1, 3])
    R = rng.standard_normal((T, B, 2 * H))
    Rh, Rc = rng.standard_normal((2, L * 2, B, H))

    def loss():
        f = ref_stacked_forward(x, params, L, True, h0, c0, lengths)
        return np.sum(f.output * R) + np.sum(f.h_n * Rh) + np.sum(f.c_n * Rc)

    fwd = ref_stacked_forward(x, params, L, True, h0, c0, lengths)
    bwd = ref_stacked_backward(fwd, params, R, Rh, Rc)
    report = {}
    check(report, "x", bwd.dx, numeric_grad(loss, x))
    check(report, "h0", bwd.dh0, numeric_grad(loss, h0))
    check(report, "c0", bwd.dc0, numeric_grad(loss, c0))
    for name in ("weight_ih_l0_reverse", "weight_hh_l1", "bias_ih_l1_reverse", "bias_hh_l0"):
        check(report, name, bwd.grads[name], numeric_grad(loss, params[name]))


def test_squared_error_gradient(rng):
    """For E = 1/2 ||h_t - y||^2 the upstream gradient is h_t - y (not y - h_t, as the article has)."""
    T, B, I, H = 3, 2, 2, 3
    layer = fastlstm.LSTM(I, H, dtype=F64, seed=3)
    x = rng.standard_normal((T, B, I))
    target = rng.standard_normal((T, B, H))

    def loss():
        out, _ = layer.forward(x)
        return 0.5 * np.sum((out - target) ** 2)

    layer.train()
    out, _ = layer.forward(x)
    d_x, _ = layer.backward(out - target)
    analytic = {name: p.grad.copy() for name, p in layer.named_parameters()}
    layer.eval()
    report = {}
    check(report, "x", d_x, numeric_grad(loss, x))
    for name, p in layer.named_parameters():
        check(report, name, analytic[name], numeric_grad(loss, p.data))
