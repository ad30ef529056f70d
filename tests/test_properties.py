"""Properties of the layer: chunking, batch-row independence, thread-count independence,
arbitrary shapes (hypothesis) against the naive reference, gradient accumulation, seeding."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from naive import random_lengths, ref_stacked_backward, ref_stacked_forward
from tolerances import assert_close

import fastlstm

DTYPES = [np.float64, np.float32]


def grads_of(layer):
    return {name: p.grad.copy() for name, p in layer.named_parameters()}


def full_run(layer, x, state, lengths, R, Rh, Rc):
    layer.train()
    layer.zero_grad()
    out, (h_n, c_n) = layer.forward(x, state, lengths=lengths)
    d_x, (d_h0, d_c0) = layer.backward(R, Rh, Rc)
    return out, h_n, c_n, d_x, d_h0, d_c0, grads_of(layer)


# --------------------------------------------------------------------------- chunks
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("use_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("first_state", ["given", "none"])
def test_chunked_equals_full(dtype, use_lengths, first_state, rng):
    """forward(c1), forward(c2, state), forward(c3, state); backward(d3), backward(d2, dh, dc),
    backward(d1, dh, dc) equals one full run, forward and backward (truncated-BPTT plumbing)."""
    T, B, I, H, L = 10, 3, 3, 4, 2
    bounds = [0, 4, 7, 10]
    layer = fastlstm.LSTM(I, H, num_layers=L, dtype=dtype, seed=11)
    x = rng.standard_normal((T, B, I)).astype(dtype)
    if first_state == "given":
        h0 = rng.standard_normal((L, B, H)).astype(dtype)
        c0 = rng.standard_normal((L, B, H)).astype(dtype)
        state = (h0, c0)
    else:
        state = None
    # some rows end before the last chunk: there they get length 0 (frozen for the chunk)
    lengths = np.array([2, T, 5])[:B] if use_lengths else None
    R = rng.standard_normal((T, B, H)).astype(dtype)
    Rh = rng.standard_normal((L, B, H)).astype(dtype)
    Rc = rng.standard_normal((L, B, H)).astype(dtype)
    out, h_n, c_n, d_x, d_h0, d_c0, grads = full_run(layer, x, state, lengths, R, Rh, Rc)

    layer.zero_grad()
    outs, s = [], state
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        chunk_len = None if lengths is None else np.clip(lengths - a, 0, b - a)
        o, s = layer.forward(x[a:b], s, lengths=chunk_len)
        outs.append(o)
    assert_close(np.concatenate(outs), out, dtype, "chunked output")
    assert_close(s[0], h_n, dtype, "chunked h_n")
    assert_close(s[1], c_n, dtype, "chunked c_n")
    dxs, dh, dc = [], Rh, Rc
    for a, b in reversed(list(zip(bounds[:-1], bounds[1:], strict=True))):
        dxc, (dh, dc) = layer.backward(R[a:b], dh, dc)
        dxs.append(dxc)
    assert_close(np.concatenate(dxs[::-1]), d_x, dtype, "chunked d_x")
    assert_close(dh, d_h0, dtype, "chunked d_h0")
    assert_close(dc, d_c0, dtype, "chunked d_c0")
    for name, g in grads_of(layer).items():
        assert_close(g, grads[name], dtype, f"chunked grad {name}")
    with pytest.raises(RuntimeError):  # the tape is used up
        layer.backward(R[:4])


# ---------------------------------------------------------------------- batch rows
def _layer_problem(rng, T, B, I, H, L, bidirectional, dtype=np.float64, seed=5):
    D = 2 if bidirectional else 1
    layer = fastlstm.LSTM(I, H, num_layers=L, bidirectional=bidirectional, dtype=dtype, seed=seed)
    data = {
        "x": rng.standard_normal((T, B, I)).astype(dtype),
        "h0": rng.standard_normal((L * D, B, H)).astype(dtype),
        "c0": rng.standard_normal((L * D, B, H)).astype(dtype),
        "R": rng.standard_normal((T, B, D * H)).astype(dtype),
        "Rh": rng.standard_normal((L * D, B, H)).astype(dtype),
        "Rc": rng.standard_normal((L * D, B, H)).astype(dtype),
        "lengths": random_lengths(rng, T, B),
    }
    return layer, data


def _run(layer, d):
    return full_run(layer, d["x"], (d["h0"], d["c0"]), d["lengths"], d["R"], d["Rh"], d["Rc"])


def test_batch_rows_independent(rng):
    """Row b of every output and input gradient depends only on row b of the inputs."""
    T, B, I, H, L = 6, 5, 3, 4, 2
    layer, d = _layer_problem(rng, T, B, I, H, L, True)
    base = _run(layer, d)
    j = 2  # perturb everything about row j, including its length
    d2 = {k: v.copy() for k, v in d.items()}
    d2["x"][:, j] += 1.0
    d2["h0"][:, j] -= 0.5
    d2["c0"][:, j] *= 2.0
    d2["R"][:, j] = rng.standard_normal(d2["R"][:, j].shape)
    d2["Rh"][:, j] += 1.0
    d2["Rc"][:, j] -= 1.0
    d2["lengths"][j] = 1 if d["lengths"][j] > 1 else T
    if np.all(d2["lengths"] < T):
        d2["lengths"][(j + 1) % B] = T
        d["lengths"][(j + 1) % B] = T
        base = _run(layer, d)
    other = _run(layer, d2)
    keep = [b for b in range(B) if b != j]
    names = ["output", "h_n", "c_n", "d_x", "d_h0", "d_c0"]
    axes = [1, 1, 1, 1, 1, 1]
    for name, ax, a, b in zip(names, axes, base[:6], other[:6], strict=True):
        np.testing.assert_array_equal(
            np.take(a, keep, ax), np.take(b, keep, ax), err_msg=f"{name} of other rows"
        )
        assert not np.array_equal(np.take(a, [j], ax), np.take(b, [j], ax)), (
            f"{name} of row {j} did not change"
        )


def test_batch_row_alone_equals_row_in_batch(rng):
    T, B, I, H, L = 6, 4, 3, 4, 2
    layer, d = _layer_problem(rng, T, B, I, H, L, True)
    full = _run(layer, d)
    for b in range(B):
        db = {k: (v[b : b + 1] if k == "lengths" else v[:, b : b + 1]) for k, v in d.items()}
        one = _run(layer, db)
        for name, a, r in zip(
            ["output", "h_n", "c_n", "d_x", "d_h0", "d_c0"], one[:6], full[:6], strict=True
        ):
            assert_close(a, r[:, b : b + 1], np.float64, f"row {b} alone: {name}")


# ------------------------------------------------------------------------ threads
@pytest.mark.parametrize("dtype", DTYPES)
def test_serial_equals_parallel(dtype, rng, restore_numba_threads):
    """One thread and two threads (Numba's and both BLAS pools') give the same outputs and
    gradients: bitwise in float64, and bitwise for a repeated run at either thread count.

    The sizes put every product above OpenBLAS's threshold for threading
    (M*N*K > 262144), so the second thread really works. The kernels' own reductions
    (bias gradients, norms) run in a fixed order; OpenBLAS's dgemm also sums in an order
    independent of the thread count, but its sgemm (0.3.30, Haswell kernels) does not, so
    float32 results at 1 and 2 threads agree to rounding only (documented in the README).
    """
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba was started with one thread (NUMBA_NUM_THREADS=1)")
    layer, d = _layer_problem(rng, 12, 64, 8, 64, 2, True, dtype=dtype)
    runs = {}
    for n in (1, 2, 1, 2):
        with fastlstm.threads(n):
            result = _run(layer, d)
        if n in runs:  # same thread count: bitwise repeatable
            _assert_runs(runs[n], result, np.testing.assert_array_equal)
        runs[n] = result
    if dtype == np.float64:
        _assert_runs(runs[1], runs[2], np.testing.assert_array_equal)
    else:
        _assert_runs(runs[1], runs[2], lambda a, b, err_msg: assert_close(a, b, dtype, err_msg))


def _assert_runs(first, second, check):
    names = ["output", "h_n", "c_n", "d_x", "d_h0", "d_c0"]
    for name, a, b in zip(names, first[:6], second[:6], strict=True):
        check(a, b, err_msg=name)
    for name in first[6]:
        check(first[6][name], second[6][name], err_msg=name)


# --------------------------------------------------------------------- hypothesis
@st.composite
def configs(draw):
    return {
        "T": draw(st.integers(1, 5)),
        "B": draw(st.integers(1, 4)),
        "I": draw(st.integers(1, 4)),
        "H": draw(st.integers(1, 4)),
        "L": draw(st.integers(1, 2)),
        "bidirectional": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "lengths": draw(st.booleans()),
        "state": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


@given(cfg=configs())
def test_any_shape_matches_naive(cfg):
    """Arbitrary small shapes (B, T, H, I down to 1) against the naive stacked reference."""
    r = np.random.default_rng(cfg["seed"])
    T, B, I, H, L = cfg["T"], cfg["B"], cfg["I"], cfg["H"], cfg["L"]
    D = 2 if cfg["bidirectional"] else 1
    layer = fastlstm.LSTM(
        I,
        H,
        num_layers=L,
        bias=cfg["bias"],
        batch_first=cfg["batch_first"],
        bidirectional=cfg["bidirectional"],
        dtype=np.float64,
        seed=cfg["seed"] % 1000,
    )
    params = {name: p.data for name, p in layer.named_parameters()}
    x = r.standard_normal((T, B, I))
    h0 = r.standard_normal((L * D, B, H)) if cfg["state"] else None
    c0 = r.standard_normal((L * D, B, H)) if cfg["state"] else None
    lengths = random_lengths(r, T, B, full_row=False) if cfg["lengths"] else None
    R = r.standard_normal((T, B, D * H))
    Rh = r.standard_normal((L * D, B, H))
    Rc = r.standard_normal((L * D, B, H))

    def bf(a):  # time-major -> the layer's layout
        return np.ascontiguousarray(a.transpose(1, 0, 2)) if cfg["batch_first"] else a

    state = (h0, c0) if cfg["state"] else None
    out, h_n, c_n, d_x, d_h0, d_c0, grads = full_run(layer, bf(x), state, lengths, bf(R), Rh, Rc)
    fwd = ref_stacked_forward(x, params, L, cfg["bidirectional"], h0, c0, lengths)
    bwd = ref_stacked_backward(fwd, params, R, Rh, Rc)
    f64 = np.float64
    assert out.shape == bf(fwd.output).shape and h_n.shape == (L * D, B, H) and d_x.shape == bf(x).shape
    assert_close(out, bf(fwd.output), f64, f"output {cfg}")
    assert_close(h_n, fwd.h_n, f64, f"h_n {cfg}")
    assert_close(c_n, fwd.c_n, f64, f"c_n {cfg}")
    assert_close(d_x, bf(bwd.dx), f64, f"d_x {cfg}")
    assert_close(d_h0, bwd.dh0, f64, f"d_h0 {cfg}")
    assert_close(d_c0, bwd.dc0, f64, f"d_c0 {cfg}")
    assert set(grads) == set(bwd.grads)
    for name, g in grads.items():
        assert_close(g, bwd.grads[name], f64, f"grad {name} {cfg}")


# ------------------------------------------------------------------- accumulation
@pytest.mark.parametrize("dtype", DTYPES)
def test_gradients_accumulate(dtype, rng):
    """Gradients add up across backward calls (like torch) until zero_grad."""
    layer, d1 = _layer_problem(rng, 5, 3, 2, 3, 2, True, dtype=dtype)
    _, d2 = _layer_problem(rng, 5, 3, 2, 3, 2, True, dtype=dtype)
    g1 = _run(layer, d1)[6]
    g2 = _run(layer, d2)[6]
    layer.zero_grad()
    for d in (d1, d2):  # no zero_grad in between
        layer.forward(d["x"], (d["h0"], d["c0"]), lengths=d["lengths"])
        layer.backward(d["R"], d["Rh"], d["Rc"])
    for name, p in layer.named_parameters():
        assert_close(p.grad, g1[name] + g2[name], dtype, f"accumulated {name}")
    layer.zero_grad()
    for name, p in layer.named_parameters():
        assert not np.any(p.grad), name


# ------------------------------------------------------------------------ seeding
def test_same_seed_same_weights():
    a = fastlstm.LSTM(3, 5, num_layers=2, bidirectional=True, seed=123)
    b = fastlstm.LSTM(3, 5, num_layers=2, bidirectional=True, seed=123)
    c = fastlstm.LSTM(3, 5, num_layers=2, bidirectional=True, seed=124)
    for (na, pa), (nb, pb), (_, pc) in zip(
        a.named_parameters(), b.named_parameters(), c.named_parameters(), strict=True
    ):
        assert na == nb
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=na)
        assert not np.array_equal(pa.data, pc.data), na
