"""The compiled kernel API: every public kernel called from a user's @njit code (both
dtypes) against the naive reference, misuse caught at compile time with the argument's
name, and the seq2seq example's exact gradients."""

from __future__ import annotations

import importlib.util
import os

import numba
import numpy as np
import pytest
from naive import kernel_problem, ref_lstm_backward, ref_lstm_forward
from numba.core.errors import TypingError
from tolerances import assert_close, gradcheck_err, tol

from fastlstm import LSTM
from fastlstm import kernels as K

T_, B_, I_, H_ = 6, 7, 3, 19  # 7 rows: two row blocks; 19 units: a partial panel
DTYPES = [np.float32, np.float64]


@numba.njit
def user_cell(x, h, c, w_ih, w_hh, b, dh, dc):
    h1, c1, gates = K.cell_forward(x, h, c, w_ih, w_hh, b)
    return (h1, c1, gates) + K.cell_backward(dh, dc, x, h, c, gates, c1, w_ih, w_hh)


@numba.njit
def user_sequence(x, h0, c0, w_ih, w_hh, b, dy, dh_n, dc_n):
    y, h_n, c_n, cache = K.lstm_forward(x, h0, c0, w_ih, w_hh, b)
    return y, h_n, c_n, K.lstm_backward(dy, dh_n, dc_n, cache, w_ih, w_hh, True)


@numba.njit
def user_sequence_no_dgates(x, h0, c0, w_ih, w_hh, b, dy):
    cache = K.lstm_forward(x, h0, c0, w_ih, w_hh, b)[3]
    return K.lstm_backward(dy, None, None, cache, w_ih, w_hh)


@numba.njit
def user_sequence_lengths(x, h0, c0, w_ih, w_hh, b, lengths):
    y, h_n, c_n, cache = K.lstm_forward(x, h0, c0, w_ih, w_hh, b, lengths)
    return y, h_n, c_n


@numba.njit
def user_loop(x, h0, c0, packed, dy, dh_n, dc_n):
    """Forward with cell_step, then BPTT with cell_step_backward, into preallocated outputs."""
    T, B, n_in = x.shape
    H = h0.shape[1]
    hs = np.empty((T + 1, B, H), x.dtype)
    cs = np.empty((T + 1, B, H), x.dtype)
    gates = np.empty((T, B, 4 * H), x.dtype)
    hs[0] = h0
    cs[0] = c0
    for t in range(T):
        K.cell_step(x[t], hs[t], cs[t], packed, hs[t + 1], cs[t + 1], gates[t])
    grads = K.CellGrads(np.zeros_like(packed.w_ih), np.zeros_like(packed.w_hh), np.zeros_like(packed.b))
    dh = dh_n.copy()
    dc = dc_n.copy()
    dx = np.empty_like(x)
    for t in range(T - 1, -1, -1):
        dh += dy[t]
        K.cell_step_backward(dh, dc, x[t], hs[t], cs[t], gates[t], cs[t + 1], packed, dx[t], dh, dc, grads)
    return hs, cs, dx, dh, dc, grads


@numba.njit
def user_step_backward(dh, dc, x, h_prev, c_prev, gates, c, packed):
    grads = K.CellGrads(np.zeros_like(packed.w_ih), np.zeros_like(packed.w_hh), np.zeros_like(packed.b))
    dx = np.empty_like(x)
    dh_prev = np.empty_like(dh)
    dc_prev = np.empty_like(dc)
    K.cell_step_backward(dh, dc, x, h_prev, c_prev, gates, c, packed, dx, dh_prev, dc_prev, grads)
    return dx, dh_prev, dc_prev, grads.dw_ih, grads.dw_hh, grads.db


@numba.njit
def user_activations(z):
    out = np.empty((2, z.size), z.dtype)
    for i in range(z.size):
        out[0, i] = K.sigmoid(z[i])
        out[1, i] = K.tanh(z[i])
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_cell_kernels_from_njit_match_naive(rng, dtype):
    p = kernel_problem(rng, 1, B_, I_, H_, dtype)
    _, _, _, rc = ref_lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    dh, dc = p["dh_n"], p["dc_n"]
    h, c, gates, dx, dh_prev, dc_prev, dw_ih, dw_hh, db = user_cell(
        p["x"][0], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], dh, dc
    )
    assert h.dtype == dtype
    assert_close(h, rc.hs[1], dtype, "h")
    assert_close(c, rc.cs[1], dtype, "c")
    assert_close(gates, rc.gates[0], dtype, "gates")
    ref = ref_lstm_backward(None, dh, dc, rc, p["w_ih"], p["w_hh"])
    for name, got, want in (
        ("dx", dx[None], ref.dx),
        ("dh_prev", dh_prev, ref.dh0),
        ("dc_prev", dc_prev, ref.dc0),
        ("dw_ih", dw_ih, ref.dw_ih),
        ("dw_hh", dw_hh, ref.dw_hh),
        ("db", db, ref.db),
    ):
        assert_close(got, want, dtype, name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_backward_from_python_and_from_njit(rng, dtype):
    """cell_backward and cell_step_backward run the sequence BPTT of the drivers, from Python
    and from nopython code alike: the same bits; lstm_backward's dgates is None unless asked."""
    p = kernel_problem(rng, 4, B_, I_, H_, dtype)
    args = (p["x"][0], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], p["dh_n"], p["dc_n"])
    h, c, gates, *from_njit = user_cell(*args)
    from_python = K.cell_backward(
        p["dh_n"], p["dc_n"], p["x"][0], p["h0"], p["c0"], gates, c, p["w_ih"], p["w_hh"]
    )
    packed = K.pack(p["w_ih"], p["w_hh"], p["b"])
    step_args = (p["dh_n"], p["dc_n"], p["x"][0], p["h0"], p["c0"], gates, c, packed)
    from_step = user_step_backward(*step_args)
    grads = K.CellGrads(np.zeros_like(p["w_ih"]), np.zeros_like(p["w_hh"]), np.zeros_like(p["b"]))
    outs = np.empty_like(p["x"][0]), np.empty_like(p["h0"]), np.empty_like(p["c0"])
    K.cell_step_backward(*step_args, *outs, grads)
    for i, name in enumerate(("dx", "dh_prev", "dc_prev", "dw_ih", "dw_hh", "db")):
        for other in (from_python, from_step, outs + tuple(grads)):
            np.testing.assert_array_equal(other[i], from_njit[i], err_msg=name)
    # the same sequence BPTT: a one-step lstm_backward with dy = dh gives these bits too
    cache = K.lstm_forward(p["x"][:1], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])[3]
    g = K.lstm_backward(p["dh_n"][None], None, p["dc_n"], cache, p["w_ih"], p["w_hh"])
    assert g.dgates is None
    for name, got in zip(("dx", "dh0", "dc0", "dw_ih", "dw_hh", "db"), from_njit, strict=True):
        want = g.dx[0] if name == "dx" else getattr(g, name)
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert (
        user_sequence_no_dgates(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], p["dy"]).dgates
        is None
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_sequence_kernels_from_njit_match_naive(rng, dtype):
    p = kernel_problem(rng, T_, B_, I_, H_, dtype, lengths=True)
    y, h_n, c_n, g = user_sequence(
        p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], p["dy"], p["dh_n"], p["dc_n"]
    )
    ry, rh, rcn, rc = ref_lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    assert_close(y, ry, dtype, "y")
    assert_close(h_n, rh, dtype, "h_n")
    assert_close(c_n, rcn, dtype, "c_n")
    ref = ref_lstm_backward(p["dy"], p["dh_n"], p["dc_n"], rc, p["w_ih"], p["w_hh"])
    for name in ("dx", "dh0", "dc0", "dw_ih", "dw_hh", "db", "dgates", "dh_norm", "dc_norm"):
        assert_close(getattr(g, name), getattr(ref, name), dtype, name)
    # with lengths: the same as the Python API, which the other tests check in depth
    got = user_sequence_lengths(
        p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], p["lengths"].astype(np.int32)
    )
    want = K.lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], lengths=p["lengths"])
    for name, a, b in zip(("y", "h_n", "c_n"), got, want[:3], strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cell_step_loop_matches_naive_and_the_sequence_kernel(rng, dtype):
    p = kernel_problem(rng, T_, B_, I_, H_, dtype)
    packed = K.pack(p["w_ih"], p["w_hh"], p["b"])
    hs, cs, dx, dh0, dc0, grads = user_loop(p["x"], p["h0"], p["c0"], packed, p["dy"], p["dh_n"], p["dc_n"])
    _, _, _, rc = ref_lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    ref = ref_lstm_backward(p["dy"], p["dh_n"], p["dc_n"], rc, p["w_ih"], p["w_hh"])
    assert_close(hs, rc.hs, dtype, "hs")
    assert_close(cs, rc.cs, dtype, "cs")
    for name, got, want in (
        ("dx", dx, ref.dx),
        ("dh0", dh0, ref.dh0),
        ("dc0", dc0, ref.dc0),
        ("dw_ih", grads.dw_ih, ref.dw_ih),
        ("dw_hh", grads.dw_hh, ref.dw_hh),
        ("db", grads.db, ref.db),
    ):
        assert_close(got, want, dtype, name)
    # the step kernel is the sequence kernel's step: bitwise the same states
    _, _, _, cache = K.lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    np.testing.assert_array_equal(hs, cache.hs)


@pytest.mark.parametrize("dtype", DTYPES)
def test_activations_from_njit(dtype):
    z = np.linspace(-30, 30, 1001).astype(dtype)
    out = user_activations(z)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out[0], np.array([K.sigmoid(v) for v in z]))
    t = tol(dtype)
    exact = np.tanh(z.astype(np.float64))
    assert np.max(np.abs(out[1] - exact) / np.maximum(np.abs(exact), t.act_floor)) <= t.act


@numba.njit
def user_sequence_none(x, w_ih, w_hh, b):
    """Zero initial states and no upstream gradient, as None literals."""
    y, h_n, c_n, cache = K.lstm_forward(x, None, None, w_ih, w_hh, b)
    return y, h_n, c_n, K.lstm_backward(None, None, None, cache, w_ih, w_hh)


@numba.njit
def user_sequence_maybe(x, h0, c0, w_ih, w_hh, b, dy, dh_n, dc_n, given):
    """The same arguments as optional values: None when not ``given``, the arrays otherwise."""
    h = h0 if given else None
    c = c0 if given else None
    g_y = dy if given else None
    g_h = dh_n if given else None
    g_c = dc_n if given else None
    y, h_n, c_n, cache = K.lstm_forward(x, h, c, w_ih, w_hh, b)
    return y, h_n, c_n, K.lstm_backward(g_y, g_h, g_c, cache, w_ih, w_hh)


@numba.njit
def user_cell_none(x, w_ih, w_hh, b):
    return K.cell_forward(x, None, None, w_ih, w_hh, b)


def _same_result(got, want):
    y, h_n, c_n, g = got
    wy, wh, wc, wg = want
    for name, a, b in (("y", y, wy), ("h_n", h_n, wh), ("c_n", c_n, wc)):
        np.testing.assert_array_equal(a, b, err_msg=name)
    for name in ("dx", "dh0", "dc0", "dw_ih", "dw_hh", "db", "dh_norm", "dc_norm"):
        np.testing.assert_array_equal(getattr(g, name), getattr(wg, name), err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_none_means_zeros_from_python_and_from_njit(rng, dtype):
    """h0, c0 (lstm_forward), dy, dh_n, dc_n (lstm_backward) and h_prev, c_prev (cell_forward)
    may be None, as documented: from Python, as a None literal in @njit code, and as an
    optional value there; the results are those of explicit zeros, bit for bit."""
    p = kernel_problem(rng, T_, B_, I_, H_, dtype)
    x, w_ih, w_hh, b = p["x"], p["w_ih"], p["w_hh"], p["b"]
    z2 = np.zeros((B_, H_), dtype)
    z3 = np.zeros((T_, B_, H_), dtype)
    zeros = user_sequence(x, z2, z2, w_ih, w_hh, b, z3, z2, z2)  # the arrays' path, compiled
    assert zeros[0].dtype == dtype and zeros[3].dx.dtype == dtype
    # from Python
    y, h_n, c_n, cache = K.lstm_forward(x, None, None, w_ih, w_hh, b)
    _same_result((y, h_n, c_n, K.lstm_backward(None, None, None, cache, w_ih, w_hh)), zeros)
    # from @njit: None literals, then optional values that are None or arrays at run time
    _same_result(user_sequence_none(x, w_ih, w_hh, b), zeros)
    args = (x, p["h0"], p["c0"], w_ih, w_hh, b, p["dy"], p["dh_n"], p["dc_n"])
    _same_result(user_sequence_maybe(*args, False), zeros)
    _same_result(user_sequence_maybe(*args, True), user_sequence(*args))
    # some None, some arrays
    y, h_n, c_n, cache = K.lstm_forward(x, p["h0"], None, w_ih, w_hh, b)
    want = K.lstm_backward(p["dy"], None, p["dc_n"], cache, w_ih, w_hh)
    _same_result((y, h_n, c_n, want), user_sequence(x, p["h0"], z2, w_ih, w_hh, b, p["dy"], z2, p["dc_n"]))
    # one cell
    x0 = np.ascontiguousarray(x[0])
    for got, want in zip(
        user_cell_none(x0, w_ih, w_hh, b), K.cell_forward(x0, z2, z2, w_ih, w_hh, b), strict=True
    ):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(
        K.cell_forward(x0, None, None, w_ih, w_hh, b), user_cell_none(x0, w_ih, w_hh, b), strict=True
    ):
        np.testing.assert_array_equal(got, want)


def _typing_error(fn, *args) -> str:
    with pytest.raises(TypingError) as info:
        fn(*args)
    return str(info.value)


def test_misuse_fails_at_compile_time_naming_the_argument(rng):
    p = kernel_problem(rng, 1, 2, 3, 4, np.float64)
    x, h, c, w_ih, w_hh, b = p["x"][0], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"]

    @numba.njit
    def call_cell(x, h, c, w_ih, w_hh, b):
        return K.cell_forward(x, h, c, w_ih, w_hh, b)

    assert "x: expected dtype float64" in _typing_error(call_cell, x.astype(np.float32), h, c, w_ih, w_hh, b)
    assert "x: expected a 2-d array" in _typing_error(call_cell, x[0], h, c, w_ih, w_hh, b)
    assert "h_prev: expected None or a float32 or float64 array" in _typing_error(
        call_cell, x, h.astype(np.int64), c, w_ih, w_hh, b
    )

    @numba.njit
    def call_step(x, h, c, packed):
        K.cell_step(x, h, c, packed, h, c, np.empty((h.shape[0], 4 * h.shape[1])))

    assert "packed: expected a fastlstm.kernels.PackedLSTM" in _typing_error(call_step, x, h, c, (w_ih, w_hh))
    packed = K.pack(w_ih, w_hh, b)
    assert "c_prev: expected a C-contiguous array" in _typing_error(
        call_step, x, h, np.asfortranarray(c), packed
    )

    @numba.njit
    def call_seq(x, h, c, w_ih, w_hh, b, lengths):
        return K.lstm_forward(x, h, c, w_ih, w_hh, b, lengths)

    assert "lengths: expected None or a 1-d integer array" in _typing_error(
        call_seq, p["x"], h, c, w_ih, w_hh, b, np.ones(2)
    )
    # None is accepted for h0 and c0, so their message says so
    assert "h0: expected None or a float32 or float64 array, got int64" in _typing_error(
        call_seq, p["x"], 3, c, w_ih, w_hh, b, None
    )
    assert "c0: expected dtype float64" in _typing_error(
        call_seq, p["x"], None, c.astype(np.float32), w_ih, w_hh, b, None
    )

    @numba.njit
    def call_back(dy, cache, w_ih, w_hh):
        return K.lstm_backward(dy, None, None, cache, w_ih, w_hh)

    cache = K.lstm_forward(p["x"], h, c, w_ih, w_hh, b)[3]
    assert "dy: expected a 3-d array, got 2-d" in _typing_error(call_back, h, cache, w_ih, w_hh)


def test_shapes_and_values_are_checked_at_run_time(rng):
    p = kernel_problem(rng, 1, 2, 3, 4, np.float64)
    packed = K.pack(p["w_ih"], p["w_hh"], p["b"])
    h, c = p["h0"].copy(), p["c0"].copy()
    gates = np.empty((2, 16))

    @numba.njit
    def step(x, h, c, packed, gates):
        K.cell_step(x, h, c, packed, h, c, gates)

    with pytest.raises(ValueError, match="x: expected shape"):
        step(np.ones((2, 5)), h, c, packed, gates)
    with pytest.raises(ValueError, match="gates: expected shape"):
        step(p["x"][0], h, c, packed, np.empty((2, 15)))
    # from Python: validated first, the names in the message
    with pytest.raises(TypeError, match="packed: expected a fastlstm.kernels.PackedLSTM"):
        K.cell_step(p["x"][0], h, c, (1, 2), h, c, gates)
    with pytest.raises(ValueError, match="x, h_prev or c_prev: expected finite values"):
        K.cell_step(np.full((2, 3), np.nan), h, c, packed, h, c, gates)
    with pytest.raises(ValueError, match="gates: expected a C-contiguous, writeable array"):
        K.cell_step(p["x"][0], h, c, packed, h, c, np.empty((16, 2)).T)
    with pytest.raises(ValueError, match="w_hh: expected shape"):
        K.pack(p["w_ih"], p["w_hh"][:, :3], p["b"])
    K.cell_step(p["x"][0], h, c, packed, h, c, gates)  # in place, from Python
    want_h, want_c, _ = K.cell_forward(p["x"][0], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    np.testing.assert_array_equal(h, want_h)
    np.testing.assert_array_equal(c, want_c)


# ------------------------------------------------------------------ the seq2seq example
def _example():
    path = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "seq2seq_njit.py")
    spec = importlib.util.spec_from_file_location("seq2seq_njit", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_seq2seq_example_gradients_are_exact_and_training_learns():
    ex = _example()
    rng = np.random.default_rng(1)
    H = 5
    params = ex.init_params(H, seed=3)
    x, y = ex.make_batch(rng, 3)
    x, y = x[:6], y[:4]

    def loss_of(pr):
        enc = K.pack(pr["enc_w_ih"], pr["enc_w_hh"], pr["enc_b"])
        dec = K.pack(pr["dec_w_ih"], pr["dec_w_hh"], pr["dec_b"])
        return ex.loss_and_grads(x, y, enc, dec, pr["w_out"], pr["b_out"])

    _, preds, ge, gd, dw_out, db_out = loss_of(params)
    analytic = {
        "enc_w_ih": ge.dw_ih,
        "enc_w_hh": ge.dw_hh,
        "enc_b": ge.db,
        "dec_w_ih": gd.dw_ih,
        "dec_w_hh": gd.dw_hh,
        "dec_b": gd.db,
        "w_out": dw_out,
        "b_out": db_out,
    }
    t = tol(np.float64)
    s = t.fd_step
    worst = 0.0
    for name, value in params.items():
        numeric = np.empty_like(value)
        for idx in np.ndindex(value.shape):
            old = value[idx]
            vals = []
            for k in (-2, -1, 1, 2):
                value[idx] = old + k * s
                vals.append(loss_of(params)[0])
            value[idx] = old
            numeric[idx] = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * s)
        worst = max(worst, float(gradcheck_err(analytic[name], numeric).max()))
    assert worst <= t.fd, worst
    # the encoder is the layer: its final state feeds the decoder's first step
    lstm = LSTM(1, H, dtype=np.float64)
    lstm.weight_ih_l0.data = params["enc_w_ih"]
    lstm.weight_hh_l0.data = params["enc_w_hh"]
    lstm.bias_ih_l0.data = params["enc_b"]
    lstm.bias_hh_l0.data = np.zeros(4 * H)
    lstm.eval()
    _, (h_n, c_n) = lstm.forward(x)
    h1, _, _ = K.cell_forward(x[-1], h_n[0], c_n[0], params["dec_w_ih"], params["dec_w_hh"], params["dec_b"])
    np.testing.assert_allclose(preds[0], h1 @ params["w_out"].T + params["b_out"], rtol=1e-12)
    losses = ex.train(steps=60, seed=0, hidden=16, batch=16)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
