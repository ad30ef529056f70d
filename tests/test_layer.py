"""fastlstm.LSTM as an API: construction, shapes, errors, tape, dropout, per-timestep output."""

from __future__ import annotations

import numpy as np
import pytest
from naive import param_names, random_lengths, ref_stacked_backward, ref_stacked_forward
from tolerances import assert_close, tol

import fastlstm
from fastlstm.nn.module import Module, Parameter

F64 = np.float64


def small(dtype=np.float32, **kw):
    return fastlstm.LSTM(3, 4, seed=0, dtype=dtype, **kw)


# ---------------------------------------------------------------------- construction
@pytest.mark.parametrize(
    "num_layers, bidirectional, bias", [(1, False, True), (2, True, True), (3, True, False)]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parameters_named_like_torch(num_layers, bidirectional, bias, dtype):
    I, H = 3, 4
    D = 2 if bidirectional else 1
    layer = fastlstm.LSTM(I, H, num_layers=num_layers, bias=bias, bidirectional=bidirectional, dtype=dtype)
    assert isinstance(layer, Module)
    names = [n for n, _ in layer.named_parameters()]
    assert names == param_names(num_layers, bidirectional, bias)
    assert [p for _, p in layer.named_parameters()] == layer.parameters()
    for name, p in layer.named_parameters():
        assert isinstance(p, Parameter)
        assert getattr(layer, name) is p, f"attribute {name} is not the Parameter"
        k = int(name.split("_l")[1].split("_")[0])
        In = I if k == 0 else D * H
        shape = {"weight_ih": (4 * H, In), "weight_hh": (4 * H, H)}.get(name[:9], (4 * H,))
        assert p.shape == shape, name
        assert p.data.dtype == dtype and p.grad.dtype == dtype and p.grad.shape == shape, name
        assert p.data.flags.c_contiguous
        assert not np.any(p.grad)
    assert layer.num_parameters() == sum(p.size for p in layer.parameters())
    assert layer.num_directions == D


def test_repr():
    assert repr(fastlstm.LSTM(3, 4)).startswith("LSTM(3, 4")
    r = repr(
        fastlstm.LSTM(
            3,
            4,
            num_layers=2,
            bias=False,
            batch_first=True,
            dropout=0.25,
            bidirectional=True,
            dtype=np.float64,
        )
    )
    for part in (
        "LSTM(3, 4",
        "num_layers=2",
        "bias=False",
        "batch_first=True",
        "dropout=0.25",
        "bidirectional=True",
        "float64",
    ):
        assert part in r, f"{part!r} not in {r!r}"
    assert "num_layers" not in repr(fastlstm.LSTM(3, 4))  # defaults stay out, like torch


@pytest.mark.parametrize(
    "kwargs, exc, name",
    [
        ({"input_size": 0}, ValueError, "input_size"),
        ({"input_size": 2.5}, TypeError, "input_size"),
        ({"hidden_size": 0}, ValueError, "hidden_size"),
        ({"hidden_size": "4"}, TypeError, "hidden_size"),
        ({"num_layers": 0}, ValueError, "num_layers"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"dropout": -0.1}, ValueError, "dropout"),
        ({"dtype": np.int32}, TypeError, "dtype"),
        ({"dtype": np.float16}, TypeError, "dtype"),
        ({"bias": "yes"}, TypeError, "bias"),
        ({"bidirectional": 1}, TypeError, "bidirectional"),
        ({"batch_first": None}, TypeError, "batch_first"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_constructor_errors_name_the_argument(kwargs, exc, name):
    args = {"input_size": 3, "hidden_size": 4, **kwargs}
    with pytest.raises(exc, match=name):
        fastlstm.LSTM(**args)


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_output_shapes_and_dtypes(num_layers, bidirectional, batch_first, rng):
    T, B, I, H = 5, 2, 3, 4
    D = 2 if bidirectional else 1
    for dtype in (np.float32, np.float64):
        layer = fastlstm.LSTM(
            I,
            H,
            num_layers=num_layers,
            bidirectional=bidirectional,
            batch_first=batch_first,
            dtype=dtype,
            seed=0,
        )
        x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(dtype)
        out, (h_n, c_n) = layer.forward(x)
        assert out.shape == ((B, T, D * H) if batch_first else (T, B, D * H))
        assert h_n.shape == c_n.shape == (num_layers * D, B, H)
        assert out.dtype == h_n.dtype == c_n.dtype == dtype
        d_x, (d_h0, d_c0) = layer.backward(np.ones_like(out))
        assert d_x.shape == x.shape and d_x.dtype == dtype
        assert d_h0.shape == d_c0.shape == (num_layers * D, B, H)


def test_batch_first_equals_time_major(rng):
    a = fastlstm.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=F64, seed=1)
    b = fastlstm.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True, dtype=F64, seed=1)
    x = rng.standard_normal((5, 2, 3))
    lengths = np.array([5, 3])
    R = rng.standard_normal((5, 2, 8))
    out_a, (h_a, c_a) = a.forward(x, lengths=lengths)
    out_b, (h_b, c_b) = b.forward(x.transpose(1, 0, 2).copy(), lengths=lengths)
    np.testing.assert_array_equal(out_a, out_b.transpose(1, 0, 2))
    np.testing.assert_array_equal(h_a, h_b)
    np.testing.assert_array_equal(c_a, c_b)
    dx_a, _ = a.backward(R)
    dx_b, _ = b.backward(R.transpose(1, 0, 2).copy())
    np.testing.assert_array_equal(dx_a, dx_b.transpose(1, 0, 2))
    for (n, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(pa.grad, pb.grad, err_msg=n)


def test_missing_state_is_zero(rng):
    layer = fastlstm.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=F64, seed=2)
    x = rng.standard_normal((4, 3, 3))
    z = np.zeros((4, 3, 4))
    out_a, (h_a, _) = layer.forward(x)
    out_b, (h_b, _) = layer.forward(x, (z, z))
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(h_a, h_b)


def test_padding_outputs_zero(rng):
    layer = fastlstm.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=F64, seed=2)
    x = rng.standard_normal((5, 3, 3))
    lengths = np.array([5, 2, 1])
    out, _ = layer.forward(x, lengths=lengths)
    x2 = x.copy()
    for b, L in enumerate(lengths):
        assert not np.any(out[L:, b]), f"row {b}"
        x2[L:, b] = 1e3  # padding contents must not matter
    out2, (h2, c2) = layer.forward(x2, lengths=lengths)
    np.testing.assert_array_equal(out, out2)


# --------------------------------------------------------------------------- errors
def test_forward_errors_name_the_argument(rng):
    layer = small()
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=r"\bx\b"):
        layer.forward(x[0, 0])  # 1-D
    with pytest.raises(ValueError, match=r"\bx\b"):
        layer.forward(x[None])  # 4-D
    with pytest.raises(ValueError, match=r"\bx\b.*input_size|input_size.*\bx\b"):
        layer.forward(x[:, :, :2])  # wrong input size
    with pytest.raises(TypeError, match=r"\bx\b"):
        layer.forward(x.astype(np.float64))  # mixed dtype: float64 input, float32 model
    with pytest.raises(TypeError, match=r"\bx\b"):
        layer.forward(x.astype(np.int64))
    bad = x.copy()
    bad[2, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"\bx\b"):
        layer.forward(bad)
    bad[2, 1, 0] = np.inf
    with pytest.raises(ValueError, match=r"\bx\b"):
        layer.forward(bad)
    h = np.zeros((1, 2, 4), np.float32)
    with pytest.raises(TypeError, match="state"):
        layer.forward(x, h)  # not a (h0, c0) pair
    with pytest.raises(ValueError, match="h0"):
        layer.forward(x, (np.zeros((1, 3, 4), np.float32), h))  # wrong batch
    with pytest.raises(ValueError, match="c0"):
        layer.forward(x, (h, np.zeros((1, 2, 5), np.float32)))  # wrong hidden size
    with pytest.raises(TypeError, match="h0"):
        layer.forward(x, (h.astype(np.float64), h))
    for lengths in (np.array([-1, 5]), np.array([6, 5]), np.array([5, 5, 5])):
        with pytest.raises(ValueError, match="lengths"):
            layer.forward(x, lengths=lengths)
    with pytest.raises(TypeError, match="lengths"):
        layer.forward(x, lengths=np.array([5.0, 4.0]))


def test_backward_errors_name_the_argument(rng):
    layer = small()
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.zeros((5, 2, 4), np.float32))  # nothing recorded
    out, _ = layer.forward(x)
    with pytest.raises(ValueError, match="d_output"):
        layer.backward(np.zeros((5, 2, 5), np.float32))
    with pytest.raises(TypeError, match="d_output"):
        layer.backward(np.zeros((5, 2, 4), np.float64))
    with pytest.raises(ValueError, match="d_h_n"):
        layer.backward(np.zeros_like(out), d_h_n=np.zeros((2, 2, 4), np.float32))
    with pytest.raises(ValueError, match="d_c_n"):
        layer.backward(np.zeros_like(out), d_c_n=np.zeros((1, 3, 4), np.float32))
    nan = np.zeros_like(out)
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="d_output"):
        layer.backward(nan)
    # a rejected call leaves the tape alone: the recorded pass is still usable
    d_x, _ = layer.backward(np.ones_like(out))
    assert d_x.shape == x.shape


@pytest.mark.parametrize("where", ["d_output", "d_h_n", "d_c_n"])
def test_rejected_backward_has_no_side_effects(where, rng):
    """A backward that raises (NaN upstream gradient, here reaching only the lowest layer for
    d_h_n / d_c_n) must not consume the tape nor add anything to .grad."""
    layer = fastlstm.LSTM(3, 4, num_layers=2, dtype=F64, seed=0)
    x = rng.standard_normal((5, 2, 3))
    out, _ = layer.forward(x)
    grads = {"d_output": np.ones_like(out), "d_h_n": np.zeros((2, 2, 4)), "d_c_n": np.zeros((2, 2, 4))}
    bad = {k: v.copy() for k, v in grads.items()}
    bad[where][(0, 0, 0)] = np.nan  # layer 0's final state for d_h_n / d_c_n
    with pytest.raises(ValueError, match=where):
        layer.backward(bad["d_output"], bad["d_h_n"], bad["d_c_n"])
    for name, p in layer.named_parameters():
        assert not np.any(p.grad), f"{name}.grad changed by a rejected backward"
    d_x, _ = layer.backward(grads["d_output"], grads["d_h_n"], grads["d_c_n"])  # the pass is still there
    assert np.all(np.isfinite(d_x))


def test_nan_weights_rejected(rng):
    layer = small()
    layer.weight_hh_l0.data[0, 0] = np.nan
    with pytest.raises(ValueError, match="weight_hh_l0"):
        layer.forward(rng.standard_normal((5, 2, 3)).astype(np.float32))


# ----------------------------------------------------------------------------- tape
def test_eval_stores_no_tape(rng):
    layer = fastlstm.LSTM(3, 4, num_layers=2, dtype=F64, seed=0)
    x1 = rng.standard_normal((5, 2, 3))
    x2 = rng.standard_normal((5, 2, 3))
    R = rng.standard_normal((5, 2, 4))
    layer.eval()
    assert layer.training is False
    layer.forward(x1)
    with pytest.raises(RuntimeError):
        layer.backward(R)
    # a training pass, then an eval pass: backward still belongs to the training pass
    layer.train()
    layer.forward(x1)
    layer.eval()
    layer.forward(x2)
    layer.forward(x2, (np.zeros((2, 2, 4)), np.zeros((2, 2, 4))))
    layer.train()
    d_x, _ = layer.backward(R)
    g = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer.zero_grad()
    layer.forward(x1)
    d_x1, _ = layer.backward(R)
    np.testing.assert_array_equal(d_x, d_x1)
    for n, p in layer.named_parameters():
        np.testing.assert_array_equal(g[n], p.grad, err_msg=n)


def test_state_none_clears_tape(rng):
    layer = fastlstm.LSTM(3, 4, dtype=F64, seed=0)
    x1, x2 = rng.standard_normal((2, 5, 2, 3))
    R = rng.standard_normal((5, 2, 4))
    layer.forward(x1)
    layer.forward(x2)  # a new sequence: x1's record is dropped
    d_x, _ = layer.backward(R)
    with pytest.raises(RuntimeError):
        layer.backward(R)
    ref = fastlstm.LSTM(3, 4, dtype=F64, seed=0)
    ref.forward(x2)
    d_ref, _ = ref.backward(R)
    np.testing.assert_array_equal(d_x, d_ref)


def test_backward_none_output_gradient(rng):
    """backward(None, d_h_n, d_c_n): the loss uses only the final state."""
    layer = fastlstm.LSTM(3, 4, num_layers=2, dtype=F64, seed=0)
    x = rng.standard_normal((5, 2, 3))
    Rh = rng.standard_normal((2, 2, 4))
    out, _ = layer.forward(x)
    a, _ = layer.backward(None, Rh)
    layer.forward(x)
    b, _ = layer.backward(np.zeros_like(out), Rh, np.zeros_like(Rh))
    np.testing.assert_array_equal(a, b)


# -------------------------------------------------------------------------- dropout
def test_dropout_train_vs_eval(rng):
    x = rng.standard_normal((6, 3, 3))
    layer = fastlstm.LSTM(3, 8, num_layers=3, dropout=0.5, dtype=F64, seed=4)
    plain = fastlstm.LSTM(3, 8, num_layers=3, dtype=F64, seed=99)
    plain.load_state_dict(layer.state_dict())
    plain.eval()
    ref, (ref_h, _) = plain.forward(x)
    layer.eval()  # no dropout in eval mode: deterministic and equal to the plain model
    out_e1, (h_e1, _) = layer.forward(x)
    out_e2, _ = layer.forward(x)
    np.testing.assert_array_equal(out_e1, ref)
    np.testing.assert_array_equal(out_e2, ref)
    np.testing.assert_array_equal(h_e1, ref_h)
    layer.train()  # dropout between layers: different from eval, different per pass
    out_t1, (h_t1, _) = layer.forward(x)
    out_t2, _ = layer.forward(x)
    assert not np.allclose(out_t1, ref)
    assert not np.allclose(out_t1, out_t2)
    np.testing.assert_array_equal(h_t1[0], ref_h[0])  # layer 0 sees no dropout
    # the same seed draws the same masks
    twin = fastlstm.LSTM(3, 8, num_layers=3, dropout=0.5, dtype=F64, seed=4)
    np.testing.assert_array_equal(twin.forward(x)[0], out_t1)


def test_dropout_single_layer_is_identity(rng):
    """Dropout acts between layers only; with one layer training output equals eval output."""
    x = rng.standard_normal((4, 2, 3))
    layer = fastlstm.LSTM(3, 4, num_layers=1, dropout=0.5, dtype=F64, seed=0)
    out_t, _ = layer.forward(x)
    layer.eval()
    out_e, _ = layer.forward(x)
    np.testing.assert_array_equal(out_t, out_e)


def test_dropout_backward_uses_the_forward_mask(rng):
    """Directional finite difference through a dropout layer: a fresh layer with the same seed
    draws the same mask, so E(x + s v) is evaluated with the mask backward used."""
    T, B, I, H, L = 4, 2, 3, 4, 3
    kw = dict(num_layers=L, dropout=0.4, bidirectional=True, dtype=F64, seed=21)
    x = rng.standard_normal((T, B, I))
    R = rng.standard_normal((T, B, 2 * H))
    v = rng.standard_normal(x.shape)
    layer = fastlstm.LSTM(I, H, **kw)
    layer.forward(x)
    d_x, _ = layer.backward(R)
    name = "weight_hh_l1_reverse"
    vw = rng.standard_normal(getattr(layer, name).shape)
    analytic = {"x": np.sum(d_x * v), name: np.sum(getattr(layer, name).grad * vw)}

    def E(sx=0.0, sw=0.0):
        fresh = fastlstm.LSTM(I, H, **kw)
        getattr(fresh, name).data[...] += sw * vw
        out, _ = fresh.forward(x + sx * v)
        return np.sum(out * R)

    s = tol(F64).fd_step
    numeric = {
        "x": (-E(2 * s) + 8 * E(s) - 8 * E(-s) + E(-2 * s)) / (12 * s),
        name: (-E(sw=2 * s) + 8 * E(sw=s) - 8 * E(sw=-s) + E(sw=-2 * s)) / (12 * s),
    }
    for k in analytic:
        err = abs(analytic[k] - numeric[k]) / max(abs(numeric[k]), 1e-5)
        assert err <= tol(F64).fd, f"{k}: analytic {analytic[k]:.12e} numeric {numeric[k]:.12e} rel {err:.2e}"


# -------------------------------------------------------------------- per timestep
@pytest.mark.parametrize(
    "num_layers, bidirectional, use_lengths, batch_first",
    [(1, False, False, False), (2, True, False, True), (2, False, True, False), (2, True, True, False)],
    ids=["L1", "L2-bi-batch_first", "L2-uni-lengths", "L2-bi-lengths"],
)
def test_per_timestep_matches_naive(num_layers, bidirectional, use_lengths, batch_first, rng):
    """timestep_grads[name] [T, *shape] (B8 terms) and grad_norms["l{k}[_reverse]"]["h"/"c"] [T]
    (norms of B1, B2), in original time order for both directions (docs/derivation.md, section 4)."""
    T, B, I, H = 6, 3, 2, 3
    D = 2 if bidirectional else 1
    layer = fastlstm.LSTM(
        I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, dtype=F64, seed=8
    )
    params = {n: p.data for n, p in layer.named_parameters()}
    x = rng.standard_normal((T, B, I))
    lengths = random_lengths(rng, T, B) if use_lengths else None
    R = rng.standard_normal((T, B, D * H))
    Rh = rng.standard_normal((num_layers * D, B, H))
    Rc = rng.standard_normal((num_layers * D, B, H))

    def bf(a):
        return np.ascontiguousarray(a.transpose(1, 0, 2)) if batch_first else a

    layer.forward(bf(x), lengths=lengths)
    layer.backward(bf(R), Rh, Rc, per_timestep=True)
    fwd = ref_stacked_forward(x, params, num_layers, bidirectional, lengths=lengths)
    bwd = ref_stacked_backward(fwd, params, R, Rh, Rc)
    tg, norms = layer.timestep_grads, layer.grad_norms
    assert isinstance(tg, dict) and isinstance(norms, dict)
    assert list(tg) == [n for n, _ in layer.named_parameters()]
    for name, p in layer.named_parameters():
        assert tg[name].shape == (T, *p.shape), name
        assert_close(tg[name], bwd.timestep_grads[name], F64, f"timestep_grads[{name}]")
        assert_close(tg[name].sum(axis=0), p.grad, F64, f"sum over t of timestep_grads[{name}]")
    assert set(norms) == set(bwd.grad_norms)
    for key, ref in bwd.grad_norms.items():
        for hc in ("h", "c"):
            assert norms[key][hc].shape == (T,)
            assert_close(norms[key][hc], ref[hc], F64, f"grad_norms[{key}][{hc}]")


def test_per_timestep_is_per_call(rng):
    """With accumulation, timestep_grads sums to that call's gradient, not to p.grad."""
    layer = fastlstm.LSTM(2, 3, num_layers=2, dtype=F64, seed=8)
    x1, x2 = rng.standard_normal((2, 5, 2, 2))
    R = rng.standard_normal((5, 2, 3))
    layer.forward(x1)
    layer.backward(R)
    before = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer.forward(x2)
    layer.backward(R, per_timestep=True)
    for name, p in layer.named_parameters():
        assert_close(layer.timestep_grads[name].sum(axis=0), p.grad - before[name], F64, name)


# ---------------------------------------------------------------------------- state
def test_state_dict_round_trip(rng):
    a = fastlstm.LSTM(3, 4, num_layers=2, bidirectional=True, seed=0)
    b = fastlstm.LSTM(3, 4, num_layers=2, bidirectional=True, seed=1)
    sd = a.state_dict()
    assert list(sd) == [n for n, _ in a.named_parameters()]
    sd_copy = {k: v.copy() for k, v in sd.items()}
    a.weight_ih_l0.data[...] = 0  # state_dict returns copies
    for k in sd:
        np.testing.assert_array_equal(sd[k], sd_copy[k])
    b.load_state_dict(sd)
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, sd[k], err_msg=k)
    bad = dict(sd)
    bad["weight_hh_l1"] = np.zeros((16, 5))
    with pytest.raises(ValueError, match="weight_hh_l1"):
        b.load_state_dict(bad)
    missing = dict(sd)
    del missing["bias_hh_l0_reverse"]
    with pytest.raises(KeyError, match="bias_hh_l0_reverse"):
        b.load_state_dict(missing)


def test_zero_grad(rng):
    layer = fastlstm.LSTM(3, 4, num_layers=2, dtype=F64, seed=0)
    out, _ = layer.forward(rng.standard_normal((5, 2, 3)))
    layer.backward(np.ones_like(out))
    assert all(np.any(p.grad) for p in layer.parameters())
    layer.zero_grad()
    assert not any(np.any(p.grad) for p in layer.parameters())


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("shape", [(1, 24), (4, 1), (1, 1), (3, 5)])
def test_eval_forward_of_any_batch_and_length_equals_the_training_path(batch_first, shape):
    """forward's one-step path (eval, T = 1) must not take a batch of one long sequence for many
    steps, in either layout (it once read the axes of [B, T, I] as those of [T, B, I])."""
    B, T = shape
    x = np.random.default_rng(0).normal(size=(B, T, 3) if batch_first else (T, B, 3))
    ev = fastlstm.LSTM(3, 5, num_layers=2, batch_first=batch_first, dtype=np.float64, seed=1).eval()
    tr = fastlstm.LSTM(3, 5, num_layers=2, batch_first=batch_first, dtype=np.float64, seed=1).train()
    (o1, (h1, c1)), (o2, (h2, c2)) = ev.forward(x), tr.forward(x)
    assert o1.shape == o2.shape == ((B, T, 5) if batch_first else (T, B, 5))
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(h1, h2)
    np.testing.assert_array_equal(c1, c2)
