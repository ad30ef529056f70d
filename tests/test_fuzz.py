"""Fuzzing the public API: every input either works and matches the reference, or raises
the documented TypeError/ValueError; never another exception, never silent garbage.
And every single-byte corruption of a checkpoint is either caught or harmless.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import ref_lstm_forward, ref_stacked_forward
from tolerances import assert_close

import fastlstm
from fastlstm import io
from fastlstm import kernels as K

DOCUMENTED = (TypeError, ValueError)

# What is done to a valid input. "ok_*" keep it valid (the result must match the
# reference); every other mutation makes it invalid (a documented error must follow).
X_MUTATIONS = [
    "ok",
    "ok_fortran",
    "ok_reversed_view",
    "ok_strided_view",
    "ok_readonly",
    "ok_list",
    "int",
    "bool",
    "complex",
    "object",
    "float16",
    "other_float",
    "nan",
    "inf",
    "ndim_low",
    "ndim_high",
    "features",
    "empty",
]


def _mutate(x: np.ndarray, how: str, rng: np.random.Generator, dtype):
    """Return the mutated input and whether it is still valid."""
    if how == "ok":
        return x, True
    if how == "ok_fortran":
        return np.asfortranarray(x), True
    if how == "ok_reversed_view":
        return np.ascontiguousarray(x[::-1])[::-1], True
    if how == "ok_strided_view":
        return np.repeat(x, 2, axis=-1)[..., ::2], True
    if how == "ok_readonly":
        y = x.copy()
        y.flags.writeable = False
        return y, True
    if how == "ok_list":
        return x.tolist(), np.dtype(dtype) == np.float64  # a list becomes float64
    if how in ("int", "bool", "complex", "object", "float16"):
        return x.astype(
            {"int": np.int64, "bool": bool, "complex": complex, "object": object, "float16": np.float16}[how]
        ), False
    if how == "other_float":
        return x.astype(np.float32 if np.dtype(dtype) == np.float64 else np.float64), False
    if how in ("nan", "inf"):
        y = x.copy()
        y[tuple(rng.integers(s) for s in y.shape)] = np.nan if how == "nan" else -np.inf
        return y, False
    if how == "ndim_low":
        return (x.reshape(-1) if x.ndim > 1 else x[0]), False
    if how == "ndim_high":
        return x[None, None], False
    if how == "features":
        return np.concatenate([x, x[..., :1]], axis=-1), False
    if how == "empty":
        return x[:0], False
    raise AssertionError(how)


@st.composite
def layer_problems(draw):
    return {
        "dtype": draw(st.sampled_from([np.float32, np.float64])),
        "T": draw(st.integers(1, 6)),
        "B": draw(st.integers(1, 3)),
        "I": draw(st.integers(1, 3)),
        "H": draw(st.integers(1, 4)),
        "L": draw(st.integers(1, 2)),
        "bidirectional": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "lengths": draw(st.sampled_from(["none", "valid", "too_long", "negative", "float", "count"])),
        "state": draw(st.sampled_from(["none", "valid", "shape", "dtype", "nan"])),
        "x": draw(st.sampled_from(X_MUTATIONS)),
        "seed": draw(st.integers(0, 2**16)),
    }


@settings(max_examples=60)
@given(layer_problems())
def test_layer_forward_fuzz(p):
    rng = np.random.default_rng(p["seed"])
    dt, T, B, I, H, L = p["dtype"], p["T"], p["B"], p["I"], p["H"], p["L"]
    layer = fastlstm.LSTM(
        I,
        H,
        num_layers=L,
        bidirectional=p["bidirectional"],
        batch_first=p["batch_first"],
        dtype=dt,
        seed=p["seed"],
    )
    D = 2 if p["bidirectional"] else 1
    x = rng.normal(size=(T, B, I)).astype(dt)
    valid = True
    lengths = None
    if p["lengths"] == "valid":
        lengths = rng.integers(0, T + 1, size=B)
    elif p["lengths"] != "none":
        valid = False
        lengths = {
            "too_long": np.full(B, T + 1),
            "negative": np.full(B, -1),
            "float": np.full(B, float(T)),
            "count": np.full(B + 1, T),
        }[p["lengths"]]
    state = None
    if p["state"] != "none":
        h0 = rng.normal(size=(L * D, B, H)).astype(dt)
        c0 = rng.normal(size=(L * D, B, H)).astype(dt)
        if p["state"] == "shape":
            h0 = h0[:, :, :-1] if H > 1 else h0[:-1] if L * D > 1 else np.concatenate([h0, h0])
        elif p["state"] == "dtype":
            c0 = c0.astype(np.float32 if dt == np.float64 else np.float64)
        elif p["state"] == "nan":
            c0[0, 0, 0] = np.nan
        valid &= p["state"] == "valid"
        state = (h0, c0)
    xin = x.transpose(1, 0, 2) if p["batch_first"] else x
    xin, ok = _mutate(xin, p["x"], rng, dt)
    valid &= ok
    try:
        out, (h_n, c_n) = layer.forward(xin, state, lengths=lengths)
    except DOCUMENTED as exc:
        assert not valid, f"valid input refused: {exc}"
        assert ":" in str(exc)  # "argument: expected ..., got ..."
        return
    assert valid, f"invalid input accepted: {p}"
    params = {n: q.data for n, q in layer.named_parameters()}
    h0, c0 = (None, None) if state is None else state
    ref = ref_stacked_forward(x, params, L, p["bidirectional"], h0, c0, lengths)
    assert_close(out.transpose(1, 0, 2) if p["batch_first"] else out, ref.output, dt, "output", T=T)
    assert_close(h_n, ref.h_n, dt, "h_n", T=T)
    assert_close(c_n, ref.c_n, dt, "c_n", T=T)


@settings(max_examples=40)
@given(
    dtype=st.sampled_from([np.float32, np.float64]),
    T=st.integers(1, 5),
    B=st.integers(1, 3),
    I=st.integers(1, 3),
    H=st.integers(1, 4),
    target=st.sampled_from(["x", "w_ih", "w_hh", "b", "h0"]),
    how=st.sampled_from(X_MUTATIONS),
    seed=st.integers(0, 2**16),
)
def test_kernel_wrapper_fuzz(dtype, T, B, I, H, target, how, seed):
    rng = np.random.default_rng(seed)
    args = {
        "x": rng.normal(size=(T, B, I)).astype(dtype),
        "h0": rng.normal(size=(B, H)).astype(dtype),
        "w_ih": (0.5 * rng.normal(size=(4 * H, I))).astype(dtype),
        "w_hh": (0.5 * rng.normal(size=(4 * H, H))).astype(dtype),
        "b": rng.normal(size=4 * H).astype(dtype),
    }
    clean = dict(args)
    args[target], valid = _mutate(args[target], how, rng, dtype)  # a list is float64: valid if all are
    try:
        y, h_n, c_n, _ = K.lstm_forward(args["x"], args["h0"], None, args["w_ih"], args["w_hh"], args["b"])
    except DOCUMENTED as exc:
        assert not valid, f"valid input refused: {exc}"
        return
    assert valid, f"invalid {target} accepted: {how}"
    ref_y, ref_h, ref_c, _ = ref_lstm_forward(
        clean["x"], clean["h0"], np.zeros((B, H)), clean["w_ih"], clean["w_hh"], clean["b"]
    )
    assert_close(y, ref_y, dtype, "y", T=T)
    assert_close(c_n, ref_c, dtype, "c_n", T=T)


@settings(max_examples=40)
@given(
    shape=st.lists(st.integers(0, 4), min_size=0, max_size=3),
    dtype=st.sampled_from([np.float32, np.float64, np.int64, np.complex128, object]),
    poison=st.sampled_from([None, np.nan, np.inf]),
    mismatch=st.booleans(),
    loss=st.sampled_from(["mse", "mae", "huber"]),
)
def test_loss_fuzz(shape, dtype, poison, mismatch, loss):
    rng = np.random.default_rng(len(shape))
    pred = rng.normal(size=shape).astype(dtype)
    target = rng.normal(size=shape)
    if poison is not None and target.size:
        target.flat[0] = poison
    if mismatch:
        target = np.concatenate([target.reshape(-1), [1.0]])
    fn = fastlstm.nn.losses.get_loss(loss)
    valid = (
        np.dtype(dtype) in (np.float32, np.float64)
        and pred.size > 0
        and not mismatch
        and (poison is None or target.size == 0)
    )
    try:
        value = fn.forward(pred, target)
        grad = fn.backward()
    except DOCUMENTED:
        assert not valid
        return
    assert valid
    r = pred.astype(np.float64) - target.astype(pred.dtype).astype(np.float64)
    ref = {"mse": r**2, "mae": np.abs(r), "huber": np.where(np.abs(r) <= 1, 0.5 * r**2, np.abs(r) - 0.5)}[
        loss
    ].mean()
    assert value == pytest.approx(ref, rel=1e-5)
    assert grad.shape == pred.shape and grad.dtype == pred.dtype


@settings(max_examples=40)
@given(
    n=st.integers(0, 12),
    cols=st.sampled_from([None, 1, 2]),
    lookback=st.integers(-1, 6),
    horizon=st.integers(0, 4),
    stride=st.integers(0, 3),
)
def test_windows_fuzz(n, cols, lookback, horizon, stride):
    y = np.arange(float(n)) if cols is None else np.arange(float(n * cols)).reshape(n, cols)
    try:
        w = fastlstm.make_windows(y, lookback, horizon, stride=stride)
    except DOCUMENTED:
        assert n == 0 or lookback < 1 or horizon < 1 or stride < 1 or n < lookback + horizon
        return
    C = 1 if cols is None else cols
    N = (n - lookback - horizon) // stride + 1
    assert w.past.shape == (N, lookback, C) and w.future.shape == (N, horizon, C)
    y2 = y.reshape(n, C)
    for i in range(N):
        s = i * stride
        np.testing.assert_array_equal(w.past[i], y2[s : s + lookback])
        np.testing.assert_array_equal(w.future[i], y2[s + lookback : s + lookback + horizon])


@settings(max_examples=30)
@given(
    data=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=0, max_size=8),
    kind=st.sampled_from(["standard", "minmax", "robust"]),
)
def test_scaler_fuzz(data, kind):
    x = np.array(data, dtype=np.float64)
    sc = fastlstm.forecast.scalers.get_scaler(kind)
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):  # no hidden overflow
            z = sc.fit_transform(x)
    except DOCUMENTED:
        return
    except FloatingPointError:  # transform overflowed: only for spreads near the float64 limit
        assert np.max(np.abs(x)) > 1e300
        return
    assert np.isfinite(x).all() and x.size > 0
    assert np.isfinite(sc.center_).all() and np.all(sc.scale_ > 0)
    np.testing.assert_allclose(sc.inverse_transform(z), x, rtol=1e-9, atol=1e-300 + 1e-9 * np.max(np.abs(x)))


# ------------------------------------------------------------- checkpoint bytes
def _small_checkpoint(tmp_path):
    path = tmp_path / "c.npz"
    layer = fastlstm.LSTM(2, 2, seed=0)
    io.save_module(path, layer, config={"note": "x"})
    return path, path.read_bytes(), layer.state_dict()


def _check_loads_identically_or_fails(path, state):
    try:
        ck = io.load_checkpoint(path)
    except ValueError:
        return "error"
    # a harmless corruption (e.g. a zip comment or timestamp byte): exactly the same content
    assert ck.kind == "lstm" and ck.config == {"note": "x"}
    assert set(ck.arrays) == set(state)
    for k, v in state.items():
        assert ck.arrays[k].dtype == v.dtype and ck.arrays[k].tobytes() == v.tobytes(), k
    return "same"


def test_every_single_byte_corruption_is_caught_or_harmless(tmp_path):
    """Flip every byte of a small checkpoint in turn, all bits and the lowest bit."""
    path, raw, state = _small_checkpoint(tmp_path)
    bad = tmp_path / "bad.npz"
    outcomes = {"error": 0, "same": 0}
    for i in range(len(raw)):
        for value in (raw[i] ^ 0xFF, raw[i] ^ 0x01):
            b = bytearray(raw)
            b[i] = value
            bad.write_bytes(bytes(b))
            outcomes[_check_loads_identically_or_fails(bad, state)] += 1
    assert outcomes["error"] > 0.8 * sum(outcomes.values())


@settings(max_examples=60)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=8)), min_size=1, max_size=4
    ),
    cut=st.one_of(st.none(), st.integers(0, 10**6)),
    append=st.binary(max_size=16),
)
def test_random_checkpoint_damage_is_caught_or_harmless(tmp_path_factory, edits, cut, append):
    path, raw, state = _small_checkpoint(tmp_path_factory.mktemp("c"))
    b = bytearray(raw)
    for pos, blob in edits:
        pos %= len(b)
        b[pos : pos + len(blob)] = blob[: len(b) - pos]
    if cut is not None:
        b = b[: cut % (len(b) + 1)]
    b += append
    path.write_bytes(bytes(b))
    _check_loads_identically_or_fails(path, state)


@settings(max_examples=25)
@given(st.one_of(st.binary(max_size=300), st.binary(max_size=200).map(lambda b: b"PK\x03\x04" + b)))
def test_arbitrary_bytes_are_refused(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("b") / "x.npz"
    path.write_bytes(blob)
    with pytest.raises(ValueError):
        io.load_checkpoint(path)
