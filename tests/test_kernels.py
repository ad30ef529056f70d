"""Every kernel of fastlstm.kernels against the naive reference (ref_* vs comp_*).

Equation tags refer to docs/derivation.md.
"""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest
from naive import (
    kernel_problem,
    ref_cell_backward,
    ref_cell_forward,
    ref_lstm_backward,
    ref_lstm_forward,
    ref_sigmoid,
    ref_tanh,
)
from tolerances import assert_close, tol

from fastlstm import kernels as K
from fastlstm.kernels import drivers as D

DTYPES = [np.float64, np.float32]
T_, B_, I_, H_ = 7, 4, 3, 5  # small but every dimension distinct, so a transposed operand fails


def _up(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


# ----------------------------------------------------------------------------- (F3)
def _act_err(comp, exact, dtype):
    t = tol(dtype)
    comp = np.asarray(comp, dtype=np.float64)
    return np.abs(comp - exact) / np.maximum(np.abs(exact), t.act_floor)


@numba.njit
def _apply(fn, z):
    out = np.empty_like(z)
    for k in range(z.size):
        out[k] = fn(z[k])
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_tanh_match_naive(dtype):
    """(F3) over a dense grid and the extremes, called from Python and from inside a jitted loop."""
    z = np.concatenate(
        [
            np.linspace(-20, 20, 40001),
            np.geomspace(1e-30, 1, 301),
            -np.geomspace(1e-30, 1, 301),
            [0.0, 40.0, -40.0, 88.0, -88.0, 700.0, -700.0, 1e4, -1e4],
        ]
    ).astype(dtype)
    # numba boxes scalars as Python floats; check the compiled overload stays in the dtype
    nb = numba.from_dtype(np.dtype(dtype))
    bound = tol(dtype).act
    for fn, ref in ((K.sigmoid, ref_sigmoid), (K.tanh, ref_tanh)):
        exact = ref(z.astype(np.float64))
        inner = _apply(fn, z)
        assert inner.dtype == dtype
        outer = np.array([fn(v) for v in z[::97]])
        assert fn.overloads[(nb,)].signature.return_type == nb, f"{fn.__name__} does not return {nb}"
        for where, comp, ex, zz in (("jitted", inner, exact, z), ("python", outer, exact[::97], z[::97])):
            err = _act_err(comp, ex, dtype)
            assert err.max() <= bound, (
                f"{fn.__name__} ({where}): error {err.max():.2e} > {bound:.0e} at z={zz[err.argmax()]}"
            )
        if fn is K.tanh:  # odd
            np.testing.assert_array_equal(inner, -_apply(fn, -z))
        else:  # sigmoid(z) + sigmoid(-z) = 1, up to twice the bound
            sym = np.abs(inner.astype(np.float64) + _apply(fn, -z) - 1.0)
            assert sym.max() <= 2 * bound * max(1.0, tol(dtype).act_floor), (
                f"sigmoid symmetry {sym.max():.2e}"
            )
        assert np.all(np.abs(inner) <= 1) and np.all(np.isfinite(inner))


@pytest.mark.parametrize("dtype", DTYPES)
def test_stable_activations_extreme(dtype):
    """(F3): |z| = 1e4 gives saturated values (exact in float64), no overflow, no warning."""
    t = tol(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            for z, s, th in ((1e4, 1.0, 1.0), (-1e4, 0.0, -1.0)):
                zz = dtype(z)
                sv, tv = K.sigmoid(zz), K.tanh(zz)
                assert np.isfinite(sv) and np.isfinite(tv)
                assert 0.0 <= sv <= 1.0 and -1.0 <= tv <= 1.0
                assert abs(sv - s) <= t.act * max(abs(s), t.act_floor), f"sigmoid({z}) = {sv!r}"
                assert abs(tv - th) <= t.act * max(abs(th), t.act_floor), f"tanh({z}) = {tv!r}"
            assert abs(K.sigmoid(dtype(0.0)) - 0.5) <= t.act
            assert K.tanh(dtype(0.0)) == 0.0
    if dtype == np.float64:
        assert K.sigmoid(1e4) == 1.0 and K.sigmoid(-1e4) == 0.0 and K.tanh(-1e4) == -1.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_activations_propagate_nan(dtype):
    """NaN must never be hidden (no nnan fast-math): sigmoid(NaN) and tanh(NaN) are NaN."""
    nan = dtype(np.nan)
    assert np.isnan(K.sigmoid(nan)) and np.isnan(K.tanh(nan))
    z = np.array([np.nan, 1.0], dtype=dtype)
    assert np.isnan(_apply(K.sigmoid, z)[0]) and np.isnan(_apply(K.tanh, z)[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_saturated_gates_finite(dtype, rng):
    """Pre-activations of |A| ~ 1e4 through the whole forward and backward: all finite."""
    p = kernel_problem(rng, 4, 3, 2, 3, dtype, lengths=True)
    w_ih = (np.sign(p["w_ih"]) * 3e3).astype(dtype)  # |A| up to ~1e4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, h_n, c_n, cache = K.lstm_forward(p["x"], p["h0"], p["c0"], w_ih, p["w_hh"], p["b"], p["lengths"])
        res = K.lstm_backward(p["dy"], p["dh_n"], p["dc_n"], cache, w_ih, p["w_hh"], keep_dgates=True)
    for name, a in (("y", y), ("gates", cache.gates), *zip(res._fields, res, strict=True)):
        assert np.all(np.isfinite(a)), f"{name} not finite"
    g = cache.gates
    assert np.all((g >= -1) & (g <= 1))


# ------------------------------------------------------------------------ one step
@pytest.mark.parametrize("dtype", DTYPES)
def test_cell_forward_matches_naive(dtype, rng):
    """(F1)-(F5) for one step."""
    p = kernel_problem(rng, 1, B_, I_, H_, dtype, scale=2.0)
    args = (p["x"][0], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    comp = K.cell_forward(*args)
    ref = ref_cell_forward(*args)
    for name, c, r in zip(("h", "c", "gates"), comp, ref, strict=True):
        assert c.dtype == dtype, name
        assert_close(c, r, dtype, f"cell_forward {name}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_cell_backward_matches_naive(dtype, rng):
    """(B2)-(B8) for one step, with a nonzero carried dc (B2, B5)."""
    p = kernel_problem(rng, 1, B_, I_, H_, dtype, scale=2.0)
    x, h_prev, c_prev = p["x"][0], p["h0"], p["c0"]
    h, c, gates = K.cell_forward(x, h_prev, c_prev, p["w_ih"], p["w_hh"], p["b"])
    dh, dc = p["dh_n"], p["dc_n"]
    args = (dh, dc, x, h_prev, c_prev, gates, c, p["w_ih"], p["w_hh"])
    comp = K.cell_backward(*args)
    ref = ref_cell_backward(*args)
    names = ("dx", "dh_prev", "dc_prev", "dw_ih", "dw_hh", "db")
    for name, cv, rv in zip(names, comp, ref, strict=True):
        assert cv.dtype == dtype, name
        assert cv.shape == rv.shape, name
        assert_close(cv, rv, dtype, f"cell_backward {name}")


def test_cell_steps_equal_sequence_kernels(rng):
    """Chaining cell_forward / cell_backward over t equals lstm_forward / lstm_backward (float64)."""
    dtype = np.float64
    p = kernel_problem(rng, T_, B_, I_, H_, dtype)
    y, h_n, c_n, cache = K.lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    res = K.lstm_backward(p["dy"], p["dh_n"], p["dc_n"], cache, p["w_ih"], p["w_hh"])
    hs, cs, gs = [p["h0"]], [p["c0"]], []
    for t in range(T_):
        h, c, g = K.cell_forward(p["x"][t], hs[-1], cs[-1], p["w_ih"], p["w_hh"], p["b"])
        hs.append(h)
        cs.append(c)
        gs.append(g)
    assert_close(np.stack(hs[1:]), y, dtype, "stepped h")
    dh_rec, dc_rec = p["dh_n"], p["dc_n"]
    dw_ih, dw_hh, db = 0, 0, 0
    dxs = []
    for t in range(T_ - 1, -1, -1):
        dx, dh_rec, dc_rec, a, b_, c_ = K.cell_backward(
            p["dy"][t] + dh_rec, dc_rec, p["x"][t], hs[t], cs[t], gs[t], cs[t + 1], p["w_ih"], p["w_hh"]
        )
        dxs.append(dx)
        dw_ih, dw_hh, db = dw_ih + a, dw_hh + b_, db + c_
    assert_close(np.stack(dxs[::-1]), res.dx, dtype, "stepped dx")
    assert_close(dh_rec, res.dh0, dtype, "stepped dh0")
    assert_close(dc_rec, res.dc0, dtype, "stepped dc0")
    for name, a, b_ in (("dw_ih", dw_ih, res.dw_ih), ("dw_hh", dw_hh, res.dw_hh), ("db", db, res.db)):
        assert_close(a, b_, dtype, f"stepped {name}")


# ---------------------------------------------------------------------- sequences
CASES = [
    pytest.param(np.float64, False, id="float64"),
    pytest.param(np.float64, True, id="float64-lengths"),
    pytest.param(np.float32, False, id="float32"),
    pytest.param(np.float32, True, id="float32-lengths"),
]


@pytest.mark.parametrize("dtype, lengths", CASES)
def test_lstm_forward_matches_naive(dtype, lengths, rng):
    """(F1)-(F6): outputs, final states and the whole cache."""
    p = kernel_problem(rng, T_, B_, I_, H_, dtype, lengths=lengths)
    args = (p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    y, h_n, c_n, cache = K.lstm_forward(*args, lengths=p["lengths"])
    ry, rh, rc, rcache = ref_lstm_forward(*args, lengths=p["lengths"])
    assert isinstance(cache, K.ForwardCache)
    assert cache.hs.shape == (T_ + 1, B_, H_) and cache.gates.shape == (T_, B_, 4 * H_)
    for name, c, r in (
        ("y", y, ry),
        ("h_n", h_n, rh),
        ("c_n", c_n, rc),
        ("cache.hs", cache.hs, rcache.hs),
        ("cache.cs", cache.cs, rcache.cs),
    ):
        assert c.dtype == dtype, name
        assert_close(c, r, dtype, f"lstm_forward {name}")
    valid = rcache.mask  # gates on masked steps are not specified by the contract
    assert_close(cache.gates[valid], rcache.gates[valid], dtype, "lstm_forward gates")
    if lengths:
        assert cache.lengths.dtype == np.int64
        np.testing.assert_array_equal(cache.lengths, p["lengths"])
    else:
        assert cache.lengths is None


@pytest.mark.parametrize("dtype, lengths", CASES)
def test_lstm_backward_matches_naive(dtype, lengths, rng):
    """(B1)-(B9): every gradient, dA_t and the per-step norms of dh_t (B1) and dc_t (B2)."""
    p = kernel_problem(rng, T_, B_, I_, H_, dtype, lengths=lengths)
    args = (p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    _, _, _, cache = K.lstm_forward(*args, lengths=p["lengths"])
    _, _, _, rcache = ref_lstm_forward(*args, lengths=p["lengths"])
    res = K.lstm_backward(p["dy"], p["dh_n"], p["dc_n"], cache, p["w_ih"], p["w_hh"], keep_dgates=True)
    ref = ref_lstm_backward(p["dy"], p["dh_n"], p["dc_n"], rcache, p["w_ih"], p["w_hh"])
    assert isinstance(res, K.BackwardResult)
    for name in ("dx", "dh0", "dc0", "dw_ih", "dw_hh", "db", "dgates", "dh_norm", "dc_norm"):
        c, r = getattr(res, name), getattr(ref, name)
        assert c.dtype == dtype, name
        assert_close(c, r, dtype, f"lstm_backward {name}")
    # without keep_dgates no dgates
    assert K.lstm_backward(p["dy"], p["dh_n"], p["dc_n"], cache, p["w_ih"], p["w_hh"]).dgates is None


@pytest.mark.parametrize("which", ["dy", "dh_n", "dc_n"])
def test_lstm_backward_none_means_zero(which, rng):
    p = kernel_problem(rng, T_, B_, I_, H_, np.float64, lengths=True)
    _, _, _, cache = K.lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], p["lengths"])
    given = {k: p[k] for k in ("dy", "dh_n", "dc_n")}
    zeroed = dict(given, **{which: np.zeros_like(p[which])})
    nones = dict(given, **{which: None})
    a = K.lstm_backward(zeroed["dy"], zeroed["dh_n"], zeroed["dc_n"], cache, p["w_ih"], p["w_hh"])
    b = K.lstm_backward(nones["dy"], nones["dh_n"], nones["dc_n"], cache, p["w_ih"], p["w_hh"])
    for name, x, y in zip(a._fields, a, b, strict=True):
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.parametrize("dtype, lengths", CASES)
def test_timestep_gradients_sum_to_total(dtype, lengths, rng):
    """(B8): per-timestep terms match the reference and sum to the totals."""
    p = kernel_problem(rng, T_, B_, I_, H_, dtype, lengths=lengths)
    args = (p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    _, _, _, cache = K.lstm_forward(*args, lengths=p["lengths"])
    _, _, _, rcache = ref_lstm_forward(*args, lengths=p["lengths"])
    res = K.lstm_backward(p["dy"], p["dh_n"], p["dc_n"], cache, p["w_ih"], p["w_hh"], keep_dgates=True)
    ref = ref_lstm_backward(p["dy"], p["dh_n"], p["dc_n"], rcache, p["w_ih"], p["w_hh"])
    dw_ih_t, dw_hh_t, db_t = K.timestep_gradients(res.dgates, cache)
    assert (
        dw_ih_t.shape == (T_, 4 * H_, I_) and dw_hh_t.shape == (T_, 4 * H_, H_) and db_t.shape == (T_, 4 * H_)
    )
    for name, c, r, total in (
        ("dw_ih_t", dw_ih_t, ref.dw_ih_t, res.dw_ih),
        ("dw_hh_t", dw_hh_t, ref.dw_hh_t, res.dw_hh),
        ("db_t", db_t, ref.db_t, res.db),
    ):
        assert c.dtype == dtype, name
        assert_close(c, r, dtype, f"timestep_gradients {name}")
        assert_close(c.sum(axis=0), total, dtype, f"sum over t of {name} vs total")
    if lengths:  # (B9): a masked step contributes nothing, so a step all rows skip is zero
        for t in range(T_):
            if np.all(t >= p["lengths"]):
                assert not np.any(dw_ih_t[t]) and not np.any(db_t[t])


@pytest.mark.parametrize("dtype", DTYPES)
def test_long_sequence_matches_naive(dtype, rng):
    """T = 64 against the reference with the table's "long" row (rounding accumulates over T)."""
    T = 64
    p = kernel_problem(rng, T, 2, 3, 4, dtype, lengths=True)
    args = (p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    y, h_n, c_n, cache = K.lstm_forward(*args, lengths=p["lengths"])
    ry, rh, rc, rcache = ref_lstm_forward(*args, lengths=p["lengths"])
    res = K.lstm_backward(p["dy"], p["dh_n"], p["dc_n"], cache, p["w_ih"], p["w_hh"])
    ref = ref_lstm_backward(p["dy"], p["dh_n"], p["dc_n"], rcache, p["w_ih"], p["w_hh"])
    for name, c, r in (("y", y, ry), ("h_n", h_n, rh), ("c_n", c_n, rc)):
        assert_close(c, r, dtype, f"T=64 {name}", T=T)
    for name in ("dx", "dh0", "dc0", "dw_ih", "dw_hh", "db", "dh_norm", "dc_norm"):
        assert_close(getattr(res, name), getattr(ref, name), dtype, f"T=64 {name}", T=T)


# ------------------------------------------------------------------ lengths (F6, B9)
def test_lengths_freeze_state(rng):
    """(F6): past L_b the state is frozen and y is zero; h_n is the state at L_b - 1.
    (B9): dy past L_b is ignored and dx there is zero."""
    p = kernel_problem(rng, T_, B_, I_, H_, np.float64)
    lengths = np.array([T_, 1, 3, 5])
    args = (p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    y, h_n, c_n, cache = K.lstm_forward(*args, lengths=lengths)
    for b, L in enumerate(lengths):
        assert not np.any(y[L:, b]), f"row {b}: output past its length is not zero"
        for t in range(L, T_ + 1):
            np.testing.assert_array_equal(cache.hs[t, b], cache.hs[L, b])
            np.testing.assert_array_equal(cache.cs[t, b], cache.cs[L, b])
        # each row alone, truncated to its length, gives the same state and outputs
        yb, hb, cb, _ = K.lstm_forward(
            p["x"][:L, b : b + 1], p["h0"][b : b + 1], p["c0"][b : b + 1], p["w_ih"], p["w_hh"], p["b"]
        )
        assert_close(y[:L, b], yb[:, 0], np.float64, f"row {b} outputs")
        assert_close(h_n[b], hb[0], np.float64, f"row {b} h_n")
        assert_close(c_n[b], cb[0], np.float64, f"row {b} c_n")
    res = K.lstm_backward(p["dy"], p["dh_n"], p["dc_n"], cache, p["w_ih"], p["w_hh"])
    dy2 = p["dy"].copy()
    pad = np.arange(T_)[:, None] >= lengths[None, :]
    dy2[pad] = 1e3  # garbage where the output is padding
    res2 = K.lstm_backward(dy2, p["dh_n"], p["dc_n"], cache, p["w_ih"], p["w_hh"])
    for name in ("dx", "dh0", "dc0", "dw_ih", "dw_hh", "db"):
        np.testing.assert_array_equal(
            getattr(res, name), getattr(res2, name), err_msg=f"dy on padding changed {name}"
        )
    assert not np.any(res.dx[pad])


@pytest.mark.parametrize("dtype", DTYPES)
def test_full_lengths_equal_no_lengths(dtype, rng):
    p = kernel_problem(rng, T_, B_, I_, H_, dtype)
    args = (p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    a = K.lstm_forward(*args)
    b = K.lstm_forward(*args, lengths=np.full(B_, T_))
    for name, x, y in zip(("y", "h_n", "c_n"), a[:3], b[:3], strict=True):
        np.testing.assert_array_equal(x, y, err_msg=name)
    ra = K.lstm_backward(p["dy"], p["dh_n"], p["dc_n"], a[3], p["w_ih"], p["w_hh"])
    rb = K.lstm_backward(p["dy"], p["dh_n"], p["dc_n"], b[3], p["w_ih"], p["w_hh"])
    for name, x, y in zip(ra._fields, ra, rb, strict=True):
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=name)


# ------------------------------------------------------------------ private drivers
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_private_drivers_match_naive(rng, n_threads):
    """The unchecked drivers forward_alloc / backward_alloc (float64), with the batch rows
    split over 1, 2 and 3 threads' chunks. 13 rows take every row-block size of the
    micro-kernel (6, 4, 2, 1 on AVX-512) and 37 hidden units a partial panel."""
    dtype = np.float64
    p = kernel_problem(rng, T_, 13, I_, 37, dtype, lengths=True)
    L = p["lengths"]
    status, hs, cs, gates = D.forward_alloc(
        p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], np.zeros_like(p["b"]), L, n_threads
    )
    assert status == K.OK
    _, _, _, rcache = ref_lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], L)
    assert_close(hs, rcache.hs, dtype, "forward_alloc hs")
    assert_close(cs, rcache.cs, dtype, "forward_alloc cs")
    ref = ref_lstm_backward(p["dy"], p["dh_n"], p["dc_n"], rcache, p["w_ih"], p["w_hh"])
    status, dx, dh, dc, da, dw_ih, dw_hh, db, norms = D.backward_alloc(
        p["dy"], p["dh_n"], p["dc_n"], p["x"], hs, cs, gates, p["w_ih"], p["w_hh"], L, n_threads
    )
    assert status == K.OK
    for name, c, r in (
        ("dh0", dh, ref.dh0),
        ("dc0", dc, ref.dc0),
        ("dgates", da, ref.dgates),
        ("dx", dx, ref.dx),
        ("dw_ih", dw_ih, ref.dw_ih),
        ("dw_hh", dw_hh, ref.dw_hh),
        ("db", db, ref.db),
        ("dh_norm", np.sqrt(norms[:, :, 0].sum(axis=1)), ref.dh_norm),
        ("dc_norm", np.sqrt(norms[:, :, 1].sum(axis=1)), ref.dc_norm),
    ):
        assert_close(c, r, dtype, f"backward_alloc {name}")


# ------------------------------------------------------------------ wrapper validation
def _p64(rng):
    return kernel_problem(rng, 3, 2, 3, 2, np.float64)


def test_wrappers_reject_mixed_dtype(rng):
    p = _p64(rng)
    with pytest.raises(TypeError, match="x"):
        K.lstm_forward(p["x"].astype(np.float32), p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    with pytest.raises(TypeError, match="w_ih"):
        K.lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"].astype(np.float32), p["w_hh"], p["b"])
    with pytest.raises(TypeError, match="h0"):
        K.lstm_forward(p["x"], p["h0"].astype(np.float32), p["c0"], p["w_ih"], p["w_hh"], p["b"])
    with pytest.raises(TypeError, match="x"):
        K.cell_forward(p["x"][0].astype(np.int64), p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])


def test_wrappers_reject_bad_shapes(rng):
    p = _p64(rng)
    with pytest.raises(ValueError, match="x"):
        K.lstm_forward(p["x"][0], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])  # 2-D x
    with pytest.raises(ValueError, match="x"):
        K.lstm_forward(p["x"][:, :, :2], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])  # wrong I
    with pytest.raises(ValueError, match="c0"):
        K.lstm_forward(p["x"], p["h0"], p["c0"][:1], p["w_ih"], p["w_hh"], p["b"])
    with pytest.raises(ValueError, match="w_hh"):
        K.lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"][:, :1], p["b"])
    with pytest.raises(ValueError, match=r"\bb\b"):
        K.lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"][:-1])
    _, _, _, cache = K.lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    with pytest.raises(ValueError, match="dy"):
        K.lstm_backward(p["dy"][:-1], None, None, cache, p["w_ih"], p["w_hh"])
    with pytest.raises(ValueError, match="dh_n"):
        K.lstm_backward(None, p["dh_n"][:, :1], None, cache, p["w_ih"], p["w_hh"])
    with pytest.raises(TypeError, match="cache"):
        K.lstm_backward(None, None, None, tuple(cache), p["w_ih"], p["w_hh"])
    with pytest.raises(ValueError, match="dgates"):
        K.timestep_gradients(np.zeros((3, 2, 7)), cache)


def test_wrappers_reject_bad_lengths_and_nan(rng):
    p = _p64(rng)
    args = (p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    for bad in ([-1, 3], [1, 4], [1, 2, 3]):
        with pytest.raises(ValueError, match="lengths"):
            K.lstm_forward(*args, lengths=np.array(bad))
    with pytest.raises(TypeError, match="lengths"):
        K.lstm_forward(*args, lengths=np.array([1.0, 2.0]))
    for name, idx in (
        ("x", (1, 0, 2)),
        ("h0", (0, 1)),
        ("c0", (1, 0)),
        ("w_ih", (3, 1)),
        ("w_hh", (0, 0)),
        ("b", (2,)),
    ):
        for bad in (np.nan, np.inf):
            q = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in p.items()}
            q[name][idx] = bad
            with pytest.raises(ValueError, match=name):
                K.lstm_forward(q["x"], q["h0"], q["c0"], q["w_ih"], q["w_hh"], q["b"])
    _, _, _, cache = K.lstm_forward(*args)
    for name in ("dy", "dh_n", "dc_n"):
        q = {k: p[k].copy() for k in ("dy", "dh_n", "dc_n")}
        q[name].reshape(-1)[-1] = np.nan
        with pytest.raises(ValueError, match=name):
            K.lstm_backward(q["dy"], q["dh_n"], q["dc_n"], cache, p["w_ih"], p["w_hh"])


def test_backward_leaves_the_cache_intact_unless_the_layer_consumes_it(rng):
    """The public lstm_backward can be run twice on one cache; the layer, which drops its
    tape, lets dA overwrite the cached gates (one [T, B, 4H] array less at the peak)."""
    p = kernel_problem(rng, T_, B_, I_, 20, np.float32)
    _, _, _, cache = K.lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"])
    gates = cache.gates.copy()
    dy = rng.standard_normal((T_, B_, 20)).astype(np.float32)
    first = K.lstm_backward(dy, None, None, cache, p["w_ih"], p["w_hh"])
    np.testing.assert_array_equal(cache.gates, gates)
    second = K.lstm_backward(dy, None, None, cache, p["w_ih"], p["w_hh"])
    for a, b in zip(first[:6], second[:6], strict=True):
        np.testing.assert_array_equal(a, b)
    consumed, _ = K.api.backward_core(
        dy,
        np.zeros((B_, 20), np.float32),
        np.zeros((B_, 20), np.float32),
        cache,
        p["w_ih"],
        p["w_hh"],
        consume=True,
    )
    for a, b in zip(first[:6], consumed[:6], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(cache.gates, gates)  # overwritten by dA


# ----------------------------------------------------------------------------- (B8)
@pytest.mark.parametrize(
    "dtype, H",
    [
        (np.float32, 128),  # rows of dA 2,048 B: read in place
        (np.float32, 256),  # 4,096 B: copied block by block into panel-major order
        (np.float64, 37),  # 1,184 B, a partial panel: read in place
        (np.float64, 130),  # 4,160 B, a partial panel: copied
    ],
)
def test_weight_grads_in_place_and_copied_agree_bitwise(rng, dtype, H):
    """(B8) ``dW_ih = sum_n dA_n^T x_n``, ``dW_hh = sum_n dA_n^T h_{n-1}``, ``db = sum_n dA_n``
    against float64 NumPy, for rows of dA below and above ``WEIGHT_GRAD_COPY_BYTES``; the
    copied and the in-place reads of dA give the same bits (the same sums in the same
    order), whatever the thread count. N = 260 rows: two full blocks and a partial one."""
    N, n_in, G = 260, 9, 4 * H
    C = D.NV * (D._VEC_BYTES // np.dtype(dtype).itemsize)
    P = (G + C - 1) // C
    x = rng.standard_normal((N, n_in)).astype(dtype)
    h = rng.standard_normal((N, H)).astype(dtype)
    da = rng.standard_normal(N * G + C).astype(dtype)
    dw_ih, dw_hh, db = D.weight_grads(x, h, da, G, 1)
    d = da[: N * G].reshape(N, G).astype(np.float64)
    assert_close(dw_ih, d.T @ x.astype(np.float64), dtype, "dw_ih")
    assert_close(dw_hh, d.T @ h.astype(np.float64), dtype, "dw_hh")
    assert_close(db, d.sum(axis=0), dtype, "db")
    for n_threads in (2, 3):
        for a, b in zip(D.weight_grads(x, h, da, G, n_threads), (dw_ih, dw_hh, db), strict=True):
            np.testing.assert_array_equal(a, b)
    # both reads of dA, on the same panels
    outs = []
    for copy in (False, True):
        out = np.zeros(n_in * P * C, dtype), np.zeros(H * P * C, dtype), np.zeros(P * C, dtype)
        dpb = np.empty(P * D.WEIGHT_GRAD_BLOCK * C if copy else 0, dtype)
        D._weight_grad_panels(0, P, x.ravel(), h.ravel(), np.ones(N, dtype), da, G, *out, P * C, dpb)
        outs.append(out)
    for a, b in zip(*outs, strict=True):
        np.testing.assert_array_equal(a, b)
    assert (G * np.dtype(dtype).itemsize >= D.WEIGHT_GRAD_COPY_BYTES) == (H in (256, 130))
