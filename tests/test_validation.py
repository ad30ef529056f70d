"""Bad input at every public entry point: a TypeError or ValueError that names the
argument, what was expected and what was received; or correct handling (a
non-contiguous, read-only or list input is read correctly, never misread).
The raw ``@njit`` drivers are checked in a subprocess: wrong dtypes must raise, not crash.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from naive import ref_stacked_forward
from tolerances import assert_close

import fastlstm
from fastlstm import kernels as K

T, B, I, H, L = 5, 2, 3, 4, 2


def _layer(dtype=np.float64, **kw):
    return fastlstm.LSTM(I, H, num_layers=L, seed=0, dtype=dtype, **kw)


def _x(dtype=np.float64, shape=(T, B, I)):
    return np.random.default_rng(0).normal(size=shape).astype(dtype)


def _with(a, index, value):
    a = a.copy()
    a[index] = value
    return a


def _readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _check(call, exc, *fragments):
    """``call()`` raises ``exc`` and the message holds every fragment (in order)."""
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    pos = 0
    for frag in fragments:
        at = msg.find(frag, pos)
        assert at >= 0, f"{frag!r} not in {msg!r}"
        pos = at + len(frag)


# ------------------------------------------------------------------ the layer
LAYER_X = [
    ("1-d", np.ones(3), ValueError, ["x: expected 2 or 3 dimensions, got 1"]),
    ("4-d", np.ones((1, T, B, I)), ValueError, ["x: expected 2 or 3 dimensions, got 4"]),
    ("features", np.ones((T, B, I + 1)), ValueError, ["x: expected input_size 3", "got 4"]),
    (
        "int",
        np.ones((T, B, I), dtype=np.int64),
        TypeError,
        ["x: expected a real floating array", "got dtype int64"],
    ),
    ("bool", np.ones((T, B, I), dtype=bool), TypeError, ["x:", "got dtype bool"]),
    ("object", np.ones((T, B, I), dtype=object), TypeError, ["x:", "got dtype object"]),
    ("complex", np.ones((T, B, I), dtype=complex), TypeError, ["x:", "got dtype complex128"]),
    (
        "float16",
        np.ones((T, B, I), dtype=np.float16),
        TypeError,
        ["x: expected float32 or float64", "float16"],
    ),
    ("mixed", np.ones((T, B, I), dtype=np.float32), TypeError, ["x: expected dtype float64", "got float32"]),
    ("string", "abc", TypeError, ["x:", "got dtype <U3"]),
    ("None", None, TypeError, ["x:", "got dtype object"]),
    ("empty T", np.ones((0, B, I)), ValueError, ["x: expected a non-empty array, got shape (0, 2, 3)"]),
    ("empty B", np.ones((T, 0, I)), ValueError, ["x: expected a non-empty array, got shape (5, 0, 3)"]),
    ("nan", _with(_x(), (1, 1, 1), np.nan), ValueError, ["x: expected finite values, got NaN or Inf"]),
    ("inf", _with(_x(), (4, 0, 2), -np.inf), ValueError, ["x: expected finite values"]),
]


@pytest.mark.parametrize("x, exc, fragments", [c[1:] for c in LAYER_X], ids=[c[0] for c in LAYER_X])
def test_layer_rejects_bad_x(x, exc, fragments):
    _check(lambda: _layer().forward(x), exc, *fragments)


def _state(shape=(L, B, H), dtype=np.float64):
    return np.zeros(shape, dtype)


LAYER_STATE = [
    (
        "batch",
        (_state((L, B + 1, H)), _state()),
        ValueError,
        ["state h0: expected shape (2, 2, 4), got (2, 3, 4)"],
    ),
    (
        "layers",
        (_state(), _state((1, B, H))),
        ValueError,
        ["state c0: expected shape (2, 2, 4), got (1, 2, 4)"],
    ),
    ("hidden", (_state((L, B, H + 1)), _state()), ValueError, ["state h0: expected shape (2, 2, 4)"]),
    (
        "dtype",
        (_state(dtype=np.float32), _state()),
        TypeError,
        ["state h0: expected dtype float64", "got float32"],
    ),
    ("int", (_state(dtype=np.int64), _state()), TypeError, ["state h0:", "got dtype int64"]),
    (
        "nan",
        (_with(_state(), (0, 0, 0), np.nan), _state()),
        ValueError,
        ["state (h0, c0): expected finite values"],
    ),
    ("not a pair", _state(), TypeError, ["state: expected a tuple (h0, c0), got ndarray"]),
    ("triple", (_state(),) * 3, TypeError, ["state: expected a tuple (h0, c0)"]),
]


@pytest.mark.parametrize(
    "state, exc, fragments", [c[1:] for c in LAYER_STATE], ids=[c[0] for c in LAYER_STATE]
)
def test_layer_rejects_bad_state(state, exc, fragments):
    _check(lambda: _layer().forward(_x(), state), exc, *fragments)


LENGTHS = [
    ("too long", [T + 1, 1], ValueError, ["lengths: expected values in [0, 5]", "got min 1 and max 6"]),
    ("negative", [-1, 2], ValueError, ["lengths: expected values in [0, 5]", "min -1"]),
    ("count", [T], ValueError, ["lengths: expected shape (2,) (one length per batch row), got (1,)"]),
    ("2-d", [[T, T]], ValueError, ["lengths: expected shape (2,)", "got (1, 2)"]),
    ("float", [5.0, 4.0], TypeError, ["lengths: expected an integer array, got dtype float64"]),
    ("bool", [True, True], TypeError, ["lengths: expected an integer array, got dtype bool"]),
]


@pytest.mark.parametrize("lengths, exc, fragments", [c[1:] for c in LENGTHS], ids=[c[0] for c in LENGTHS])
def test_layer_rejects_bad_lengths(lengths, exc, fragments):
    _check(lambda: _layer().forward(_x(), lengths=lengths), exc, *fragments)


def test_layer_rejects_nonfinite_parameters_and_gradients():
    layer = _layer()
    layer.weight_hh_l1.data[2, 1] = np.nan
    _check(
        lambda: layer.forward(_x()),
        ValueError,
        "parameters weight_ih_l1, weight_hh_l1",
        "expected finite values",
    )
    layer = _layer()
    out, _ = layer.forward(_x())
    _check(lambda: layer.backward(np.full(out.shape, np.inf)), ValueError, "d_output: expected finite values")
    _check(lambda: layer.backward(np.ones((T, B, H + 1))), ValueError, "d_output: expected shape (5, 2, 4)")
    _check(
        lambda: layer.backward(None, np.ones((L, B + 1, H))), ValueError, "d_h_n: expected shape (2, 2, 4)"
    )
    layer.backward(np.ones(out.shape))  # the failed calls changed nothing: backward still works
    with pytest.raises(TypeError, match="Parameter 'weight_ih_l0': expected dtype float64, got float32"):
        layer.weight_ih_l0.data = np.zeros((4 * H, I), np.float32)
    with pytest.raises(
        ValueError, match="Parameter 'weight_ih_l0': expected shape \\(16, 3\\), got \\(3, 16\\)"
    ):
        layer.weight_ih_l0.data = np.zeros((I, 4 * H))


@pytest.mark.parametrize(
    "kwargs, exc, fragment",
    [
        ({"input_size": 0}, ValueError, "input_size: expected an int >= 1, got 0"),
        ({"hidden_size": 2.0}, TypeError, "hidden_size: expected an int, got float 2.0"),
        ({"num_layers": True}, TypeError, "num_layers: expected an int, got bool True"),
        ({"dropout": 1.0}, ValueError, "dropout: expected a number < 1.0, got 1.0"),
        ({"dropout": float("nan")}, ValueError, "dropout: expected a finite number, got nan"),
        ({"bidirectional": "yes"}, TypeError, "bidirectional: expected a bool, got str 'yes'"),
        ({"dtype": np.int32}, TypeError, "dtype: expected float32 or float64, got int32"),
        ({"seed": -1}, ValueError, "seed: expected an int >= 0, got -1"),
    ],
)
def test_layer_constructor_arguments(kwargs, exc, fragment):
    args = {"input_size": I, "hidden_size": H, **kwargs}
    _check(lambda: fastlstm.LSTM(**args), exc, fragment)


# -------------------------------------------- handled correctly, not misread
def _ref(layer, x, lengths=None, state=None):
    params = {n: p.data for n, p in layer.named_parameters()}
    h0, c0 = (None, None) if state is None else state
    return ref_stacked_forward(x, params, layer.num_layers, layer.bidirectional, h0, c0, lengths).output


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "make",
    [
        lambda a: np.asfortranarray(a),
        lambda a: np.ascontiguousarray(a[::-1])[::-1],
        lambda a: np.ascontiguousarray(a.transpose(1, 0, 2)).transpose(1, 0, 2),
        lambda a: np.repeat(a, 2, axis=2)[:, :, ::2],
        _readonly,
        lambda a: a.tolist(),
    ],
    ids=["fortran", "negative-stride", "transposed", "strided", "read-only", "list"],
)
def test_layouts_are_read_correctly(dtype, make):
    layer = _layer(dtype, bidirectional=True)
    x = _x(dtype)
    lengths = np.array([3, 5])
    ref = _ref(layer, x, lengths)
    xin = make(x)
    if isinstance(xin, list) and dtype == np.float32:
        # a list becomes float64: the float32 layer asks for an explicit conversion
        _check(lambda: layer.forward(xin), TypeError, "x: expected dtype float32", "got float64")
        return
    out, _ = layer.forward(xin, lengths=lengths)
    assert_close(out, ref, dtype, "output")
    state = (np.asfortranarray(np.ones((2 * L, B, H), dtype)), _readonly(np.zeros((2 * L, B, H), dtype)))
    out, _ = layer.forward(xin, state, lengths=lengths)
    assert_close(out, _ref(layer, x, lengths, state), dtype, "output with state")


def test_unsorted_lengths_need_no_sorting():
    """PyTorch's enforce_sorted does not apply: any order, each row run on its own."""
    layer = _layer()
    x = _x(shape=(T, 3, I))
    out, (h_n, _) = layer.forward(x, lengths=[2, 5, 3])
    for b, n in enumerate([2, 5, 3]):
        single, (h1, _) = layer.forward(x[:n, b : b + 1])
        np.testing.assert_allclose(out[:n, b], single[:, 0], rtol=1e-12)
        np.testing.assert_allclose(h_n[:, b], h1[:, 0], rtol=1e-12)
        assert not out[n:, b].any()


def test_a_written_output_cannot_corrupt_backward():
    layer = _layer()
    out, _ = layer.forward(_x())
    with pytest.raises(ValueError, match="read-only"):
        out[0, 0, 0] = 1.0


# ------------------------------------------------------- kernels' public wrappers
def _kp(dtype=np.float64):
    rng = np.random.default_rng(1)
    return {
        "x": rng.normal(size=(T, B, I)).astype(dtype),
        "w_ih": rng.normal(size=(4 * H, I)).astype(dtype),
        "w_hh": rng.normal(size=(4 * H, H)).astype(dtype),
        "b": rng.normal(size=4 * H).astype(dtype),
    }


def _fwd(**over):
    p = {**_kp(), **over}
    return lambda: K.lstm_forward(
        p["x"], p.get("h0"), p.get("c0"), p["w_ih"], p["w_hh"], p["b"], p.get("lengths")
    )


KERNEL_FWD = [
    (
        "w mixed",
        {"w_ih": _kp(np.float32)["w_ih"]},
        TypeError,
        ["w_ih: expected dtype float64", "got float32"],
    ),
    ("x mixed", {"x": _kp(np.float32)["x"]}, TypeError, ["x: expected dtype float64", "got float32"]),
    (
        "w_hh not 4H",
        {"w_hh": np.ones((4 * H - 1, H))},
        ValueError,
        ["w_hh: expected shape (4*H, H), got (15, 4)"],
    ),
    ("b shape", {"b": np.ones(4 * H - 1)}, ValueError, ["b: expected shape (16,), got (15,)"]),
    ("x features", {"x": np.ones((T, B, I + 1))}, ValueError, ["x: expected shape (5, 2, 3), got (5, 2, 4)"]),
    ("x 2-d", {"x": np.ones((B, I))}, ValueError, ["x: expected 3 dimensions, got 2"]),
    ("x empty", {"x": np.ones((0, B, I))}, ValueError, ["x: expected a non-empty array"]),
    ("h0 batch", {"h0": np.zeros((B + 1, H))}, ValueError, ["h0: expected shape (2, 4), got (3, 4)"]),
    ("c0 dtype", {"c0": np.zeros((B, H), np.float32)}, TypeError, ["c0: expected dtype float64"]),
    ("x nan", {"x": _with(_kp()["x"], (0, 0, 0), np.nan)}, ValueError, ["x: expected finite values"]),
    ("h0 inf", {"h0": np.full((B, H), np.inf)}, ValueError, ["h0 or c0: expected finite values"]),
    (
        "w nan",
        {"w_hh": _with(_kp()["w_hh"], (1, 1), np.nan)},
        ValueError,
        ["w_hh: expected finite values", "(1, 1)"],
    ),
    (
        "int weights",
        {"w_hh": np.ones((4 * H, H), int)},
        TypeError,
        ["w_hh: expected a real floating array", "int64"],
    ),
    ("lengths", {"lengths": [T, T + 1]}, ValueError, ["lengths: expected values in [0, 5]"]),
]


@pytest.mark.parametrize("over, exc, fragments", [c[1:] for c in KERNEL_FWD], ids=[c[0] for c in KERNEL_FWD])
def test_lstm_forward_wrapper_rejects(over, exc, fragments):
    _check(_fwd(**over), exc, *fragments)


def test_kernel_wrappers_copy_what_the_drivers_cannot_read():
    p = _kp()
    ref = K.lstm_forward(p["x"], None, None, p["w_ih"], p["w_hh"], p["b"])[0]
    out = K.lstm_forward(
        np.asfortranarray(p["x"]), None, None, _readonly(p["w_ih"]), np.asfortranarray(p["w_hh"]), p["b"][::1]
    )[0]
    np.testing.assert_array_equal(out, ref)


def test_backward_and_cell_wrappers_reject():
    p = _kp()
    y, h_n, c_n, cache = K.lstm_forward(p["x"], None, None, p["w_ih"], p["w_hh"], p["b"])
    _check(
        lambda: K.lstm_backward(np.ones((T, B, H + 1)), None, None, cache, p["w_ih"], p["w_hh"]),
        ValueError,
        "dy: expected shape (5, 2, 4)",
    )
    _check(
        lambda: K.lstm_backward(np.full((T, B, H), np.nan), None, None, cache, p["w_ih"], p["w_hh"]),
        ValueError,
        "dy, dh_n or dc_n: expected finite",
    )
    _check(
        lambda: K.lstm_backward(None, None, None, tuple(cache), p["w_ih"], p["w_hh"]),
        TypeError,
        "cache: expected the ForwardCache",
        "got tuple",
    )
    _check(
        lambda: K.lstm_backward(None, None, None, cache, p["w_ih"][:, :2], p["w_hh"]),
        ValueError,
        "w_ih: expected shape (16, 3)",
    )
    _check(
        lambda: K.lstm_backward(None, np.ones((B, H), np.float32), None, cache, p["w_ih"], p["w_hh"]),
        TypeError,
        "dh_n: expected dtype float64",
    )
    _check(
        lambda: K.cell_forward(p["x"], None, None, p["w_ih"], p["w_hh"], p["b"]),
        ValueError,
        "x: expected 2 dimensions, got 3",
    )
    _check(
        lambda: K.cell_forward(p["x"][0], np.full((B, H), np.nan), None, p["w_ih"], p["w_hh"], p["b"]),
        ValueError,
        "expected finite values",
    )
    g = np.ones((B, 4 * H))
    s = np.ones((B, H))
    _check(
        lambda: K.cell_backward(s, s, p["x"][0], s, s, g[:, :-1], s, p["w_ih"], p["w_hh"]),
        ValueError,
        "gates: expected shape (2, 16)",
    )
    _check(
        lambda: K.timestep_gradients(np.ones((T, B, 4 * H + 1)), cache),
        ValueError,
        "dgates: expected shape (5, 2, 16)",
    )


RAW_KERNEL_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from fastlstm import kernels as K
    from fastlstm.kernels import drivers as D

    T, B, I, H = 3, 2, 2, 3
    def args(dt=np.float64, xdt=None, ldt=np.int64):
        x = np.ones((T, B, I), xdt or dt)
        w_ih, w_hh, b = np.ones((4 * H, I), dt), np.ones((4 * H, H), dt), np.ones(4 * H, dt)
        h = np.zeros((B, H), dt)
        return [x, h, h.copy(), w_ih, w_hh, b, b.copy(), np.full(B, T, ldt), 1]
    cases = {
        "mixed float32/float64": args(xdt=np.float32),
        "int64 arrays": args(dt=np.int64),
        "complex arrays": args(dt=np.complex128),
        "float16 arrays": args(dt=np.float16),
        "float lengths": args(ldt=np.float64),
        "2-d x": [args()[0][0]] + args()[1:],
        "list x": [args()[0].tolist()] + args()[1:],
    }
    for name, a in cases.items():
        try:
            D.forward_alloc(*a)
            print(name, "-> ran")
        except Exception as exc:
            print(name, "->", type(exc).__name__)
    w_ih, w_hh, b = np.ones((4 * H, I)), np.ones((4 * H, H)), np.ones(4 * H)
    y, hn, cn, cache = K.lstm_forward(np.ones((T, B, I)), None, None, w_ih, w_hh, b)
    for name, dt in (("backward int64 weights", np.int64), ("backward float32 weights", np.float32)):
        try:
            D.backward_alloc(np.ones((T, B, H)), np.zeros((B, H)), np.zeros((B, H)), *cache[:4],
                             np.ones((4 * H, I), dt), np.ones((4 * H, H), dt), np.full(B, T), 1)
            print(name, "-> ran")
        except Exception as exc:
            print(name, "->", type(exc).__name__)
    print("survived")
    """
)


def test_raw_njit_kernels_with_wrong_dtypes_raise_instead_of_crashing():
    """The private drivers skip validation (documented preconditions); a wrong dtype
    must still end in a Python exception, never a segfault. (A non-contiguous array
    raises NotImplementedError too, but only after a costly compilation: not run here.)"""
    assert "Preconditions of the private ``@njit`` functions" in K.__doc__
    r = subprocess.run([sys.executable, "-c", RAW_KERNEL_SCRIPT], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"exit status {r.returncode} (negative: killed by a signal)\n{r.stderr[-3000:]}"
    lines = dict(line.split(" -> ") for line in r.stdout.splitlines() if " -> " in line)
    assert "survived" in r.stdout
    assert len(lines) == 9
    for name, outcome in lines.items():
        assert outcome in ("TypingError", "NotImplementedError"), (name, outcome)


# ------------------------------------------------------------------------ nn
def test_linear_and_regressor_arguments():
    lin = fastlstm.Linear(3, 2, dtype=np.float64)
    _check(lambda: lin.forward(np.ones((4, 2))), ValueError, "x: expected shape (..., 3), got (4, 2)")
    _check(lambda: lin.forward(np.full((4, 3), np.nan)), ValueError, "x: expected finite values")
    _check(lambda: lin.forward(np.ones((4, 3), np.float32)), TypeError, "x: expected dtype float64")
    lin.forward(np.ones((4, 3)))
    _check(lambda: lin.backward(np.full((4, 2), np.inf)), ValueError, "d_y: expected finite values")
    lin.weight.data[0, 0] = np.inf
    _check(lambda: lin.forward(np.ones((4, 3))), ValueError, "weight: expected finite values")
    _check(lambda: fastlstm.Linear(3, 2, seed="a"), TypeError, "seed: expected an int, got str 'a'")
    _check(lambda: fastlstm.Linear(3, 2, bias="no"), TypeError, "bias: expected a bool, got str 'no'")
    _check(lambda: fastlstm.LSTMRegressor(2, 3, bidirectional=1), TypeError, "bidirectional: expected a bool")
    _check(
        lambda: fastlstm.LSTMRegressor(2, 3, batch_first="True"), TypeError, "batch_first: expected a bool"
    )
    _check(lambda: fastlstm.LSTMRegressor(2, 3, seed=1.5), TypeError, "seed: expected an int, got float 1.5")
    _check(
        lambda: fastlstm.LSTMRegressor(2, 3, head="first"),
        ValueError,
        "head: expected 'last' or 'all', got 'first'",
    )
    m = fastlstm.LSTMRegressor(2, 3, hidden_size=4, dtype=np.float64)
    m.forward(np.ones((5, 6, 2)))
    _check(lambda: m.backward(np.ones((5, 2))), ValueError, "d_y: expected shape (5, 3), got (5, 2)")


# -------------------------------------------------------------------- Trainer
def _tr(**kw):
    return fastlstm.Trainer(
        fastlstm.LSTMRegressor(2, 3, hidden_size=4, seed=0, dtype=np.float64), epochs=1, **kw
    )


XT = np.random.default_rng(0).normal(size=(10, 6, 2))
YT = np.random.default_rng(1).normal(size=(10, 3))

TRAINER_FIT = [
    ("x 2-d", (XT[:, :, 0], YT), {}, ValueError, ["x: expected shape (N, T, 2)", "got (10, 6)"]),
    (
        "x features",
        (np.ones((10, 6, 3)), YT),
        {},
        ValueError,
        ["x: expected shape (N, T, 2)", "got (10, 6, 3)"],
    ),
    ("y samples", (XT, YT[:5]), {}, ValueError, ["y: expected 10 samples (as in x), got 5"]),
    (
        "y outputs",
        (XT, np.ones((10, 2))),
        {},
        ValueError,
        ["y: expected shape (N, 3) to match the model's output, got (10, 2)"],
    ),
    ("y 1-d", (XT, np.ones(10)), {}, ValueError, ["y: expected shape (N, 3)", "got (10,)"]),
    ("x object", (XT.astype(object), YT), {}, TypeError, ["x: expected a real floating array", "object"]),
    ("x complex", (XT.astype(complex), YT), {}, TypeError, ["x:", "complex128"]),
    ("x empty", (XT[:0], YT[:0]), {}, ValueError, ["x: expected a non-empty array"]),
    ("x nan", (_with(XT, (2, 3, 1), np.nan), YT), {}, ValueError, ["x: expected finite values", "(2, 3, 1)"]),
    ("y inf", (XT, _with(YT, (3, 1), np.inf)), {}, ValueError, ["y: expected finite values", "(3, 1)"]),
    (
        "val pair",
        (XT, YT),
        {"validation_data": XT},
        TypeError,
        ["validation_data: expected a pair (x_val, y_val)"],
    ),
    (
        "val samples",
        (XT, YT),
        {"validation_data": (XT, YT[:3])},
        ValueError,
        ["y_val: expected 10 samples (as in x_val), got 3"],
    ),
    (
        "val features",
        (XT, YT),
        {"validation_data": (XT[:, :, :1], YT)},
        ValueError,
        ["x_val: expected shape (N, T, 2)"],
    ),
    (
        "val outputs",
        (XT, YT),
        {"validation_data": (XT, YT[:, :2])},
        ValueError,
        ["y_val: expected shape (N, 3)"],
    ),
    (
        "val nan",
        (XT, YT),
        {"validation_data": (XT * np.nan, YT)},
        ValueError,
        ["x_val: expected finite values"],
    ),
    (
        "both",
        (XT, YT),
        {"validation_data": (XT, YT), "val_split": 0.2},
        ValueError,
        ["val_split: expected None when validation_data"],
    ),
    ("split", (XT, YT), {"val_split": 1.5}, ValueError, ["val_split: expected a number < 1.0, got 1.5"]),
    (
        "split n",
        (XT, YT),
        {"val_split": 10},
        ValueError,
        ["val_split: expected to hold out between 1 and 9 of 10"],
    ),
]


@pytest.mark.parametrize(
    "args, kwargs, exc, fragments", [c[1:] for c in TRAINER_FIT], ids=[c[0] for c in TRAINER_FIT]
)
def test_trainer_fit_rejects(args, kwargs, exc, fragments):
    _check(lambda: _tr().fit(*args, **kwargs), exc, *fragments)


@pytest.mark.parametrize(
    "kwargs, exc, fragment",
    [
        ({"seed": "a"}, TypeError, "seed: expected an int, got str 'a'"),
        ({"seed": -1}, ValueError, "seed: expected an int >= 0, got -1"),
        ({"seed": 1.5}, TypeError, "seed: expected an int, got float 1.5"),
        ({"batch_size": 0}, ValueError, "batch_size: expected an int >= 1, got 0"),
        ({"shuffle": "no"}, TypeError, "shuffle: expected a bool, got str 'no'"),
        ({"restore_best": 1}, TypeError, "restore_best: expected a bool, got int 1"),
        ({"clip_norm": float("inf")}, ValueError, "clip_norm: expected a finite number, got inf"),
        ({"on_nonfinite": "ignore"}, ValueError, "on_nonfinite: expected 'raise' or 'skip', got 'ignore'"),
        ({"optimizer": "adam"}, TypeError, "optimizer: expected a fastlstm.optim.Optimizer, got str"),
        ({"callbacks": [print]}, TypeError, "callbacks[0]: expected a Callback"),
        ({"loss": "rmse"}, ValueError, "loss: expected a Loss or one of"),
        ({"tbptt": 0}, ValueError, "tbptt: expected an int >= 1, got 0"),
    ],
)
def test_trainer_constructor_arguments(kwargs, exc, fragment):
    _check(lambda: _tr(**kwargs), exc, fragment)


def test_trainer_takes_integer_and_other_float_data_as_the_models_dtype():
    """Real data of another dtype is converted (documented), with identical results."""
    a = _tr(seed=0)
    a.fit(XT.astype(np.float32).astype(np.float64), YT)
    b = _tr(seed=0)
    b.fit(XT.astype(np.float32), YT)
    for (n, p), (_, q) in zip(a.model.named_parameters(), b.model.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)


# ----------------------------------------------------------------- Forecaster
def _f(**kw):
    return fastlstm.Forecaster(
        **{"lookback": 6, "horizon": 3, "hidden_size": 4, "epochs": 1, "n_models": 1, **kw}
    )


SERIES = 10 + np.sin(np.arange(40) / 3)

FORECASTER = [
    ("y nan", lambda: _f().fit(_with(SERIES, 5, np.nan)), ValueError, ["y: expected finite values", "(5,)"]),
    (
        "y object",
        lambda: _f().fit(SERIES.astype(object)),
        TypeError,
        ["y: expected a real floating array", "object"],
    ),
    ("y complex", lambda: _f().fit(SERIES.astype(complex)), TypeError, ["y:", "complex128"]),
    ("y text", lambda: _f().fit(["a"] * 20), TypeError, ["y:", "<U1"]),
    ("y 3-d", lambda: _f().fit(np.ones((20, 2, 2))), ValueError, ["y: expected 1 or 2 dimensions, got 3"]),
    ("y empty", lambda: _f().fit([]), ValueError, ["y: expected a non-empty array"]),
    (
        "y short",
        lambda: _f().fit(SERIES[:8]),
        ValueError,
        ["y: series 0 expected at least lookback + horizon = 9 points, got 8"],
    ),
    (
        "list short",
        lambda: _f().fit([SERIES, SERIES[:3]]),
        ValueError,
        ["y: series 1 expected at least 1 + horizon = 4 points, got 3"],
    ),
    ("list nan", lambda: _f().fit([SERIES, SERIES * np.nan]), ValueError, ["y[1]: expected finite values"]),
    (
        "log",
        lambda: _f(transform="log").fit(SERIES - 10),
        ValueError,
        ["y: transform='log' expected positive values"],
    ),
    (
        "X rows",
        lambda: _f().fit(SERIES, X=np.ones((10, 1))),
        ValueError,
        ["X: series 0 expected 40 rows, got 10"],
    ),
    (
        "X nan",
        lambda: _f().fit(SERIES, X=np.full((40, 1), np.nan)),
        ValueError,
        ["X: expected finite values"],
    ),
    (
        "val_size",
        lambda: _f().fit(SERIES, val_size=-1),
        ValueError,
        ["val_size: expected an int >= 0, got -1"],
    ),
    (
        "strategy",
        lambda: _f(strategy="direct").fit(SERIES),
        ValueError,
        ["strategy: expected 'mimo' or 'recursive', got 'direct'"],
    ),
    ("scaler", lambda: _f(scaler="z").fit(SERIES), ValueError, ["scaler: expected 'standard'", "got 'z'"]),
    ("horizon", lambda: _f(horizon=0).fit(SERIES), ValueError, ["horizon: expected an int >= 1 or None"]),
    ("lr", lambda: _f(lr=float("nan")).fit(SERIES), ValueError, ["lr: expected a number > 0.0, got nan"]),
    ("verbose", lambda: _f(verbose="y").fit(SERIES), TypeError, ["verbose: expected a bool, got 'y'"]),
    ("dtype", lambda: _f(dtype="float16").fit(SERIES), TypeError, ["dtype: expected float32 or float64"]),
]


@pytest.mark.parametrize("call, exc, fragments", [c[1:] for c in FORECASTER], ids=[c[0] for c in FORECASTER])
def test_forecaster_rejects(call, exc, fragments):
    _check(call, exc, *fragments)


def test_forecaster_predict_and_backtest_arguments():
    f = _f().fit(SERIES)
    _check(lambda: f.predict(h=0), ValueError, "h: expected an int >= 1, got 0")
    _check(lambda: f.predict(h=2.0), TypeError, "h: expected an int, got float 2.0")
    _check(
        lambda: f.predict(y=SERIES[:3]),
        ValueError,
        "y: series 0 expected at least lookback=6 points, got 3",
    )
    _check(lambda: f.predict(y=_with(SERIES, 0, np.inf)), ValueError, "y: expected finite values")
    _check(
        lambda: f.predict(y=-SERIES),
        ValueError,
        "y: expected positive values (the model was fitted on the log scale)",
    )
    _check(
        lambda: f.predict(X_future=np.ones((3, 1))),
        ValueError,
        "X_future: expected None (the model was fitted without X)",
    )
    _check(lambda: f.predict(y=[SERIES, SERIES]), ValueError, "y: expected 1 series (as in fit), got 2")
    _check(
        lambda: f.backtest(SERIES, n_windows=40),
        ValueError,
        "n_windows: 40 windows with step 1 need 48 points, got 40",
    )
    _check(lambda: f.backtest(np.ones((40, 2))), ValueError, "y: expected a 1-D series, got shape (40, 2)")
    with pytest.raises(RuntimeError, match="call fit \\(or load\\) before predict"):
        _f().predict()
    # non-contiguous, read-only, integer and float32 histories are read, not misread
    ref = f.predict(y=SERIES)
    wide = np.stack([SERIES, SERIES + 1], axis=1)
    np.testing.assert_array_equal(f.predict(y=wide[:, 0]), ref)
    np.testing.assert_array_equal(f.predict(y=_readonly(SERIES)), ref)
    np.testing.assert_array_equal(f.predict(y=SERIES.tolist()), ref)


# ------------------------------------------------------------ scalers, windows
def test_scalers_and_windows():
    _check(lambda: fastlstm.StandardScaler().fit([1.0, np.nan]), ValueError, "x: expected finite values")
    _check(lambda: fastlstm.StandardScaler().fit([]), ValueError, "x: expected a non-empty array")
    _check(
        lambda: fastlstm.MinMaxScaler().fit(np.ones((2, 2, 2))),
        ValueError,
        "x: expected 1 or 2 dimensions, got 3",
    )
    _check(lambda: fastlstm.StandardScaler().fit([1e308, -1e308]), ValueError, "statistics overflow float64")
    _check(lambda: fastlstm.StandardScaler().transform([1.0]), RuntimeError, "call fit before transform")
    sc = fastlstm.StandardScaler().fit([1.0, 2.0])
    _check(lambda: sc.transform(np.ones((2, 2))), ValueError, "x: expected no columns after axis 0 as in fit")
    _check(
        lambda: sc.set_state({"center": np.array(0.0)}),
        ValueError,
        "state: expected a dict with keys 'center' and 'scale'",
    )
    _check(
        lambda: sc.set_state({"center": np.array(0.0), "scale": np.array(0.0)}),
        ValueError,
        "scale: expected positive values",
    )
    _check(
        lambda: sc.set_state({"center": np.array(0.0), "scale": np.array(np.nan)}),
        ValueError,
        "scale: expected finite values",
    )
    assert sc.set_state(sc.get_state()).center_.shape == ()
    _check(
        lambda: fastlstm.make_windows(np.arange(5.0), 4, 2),
        ValueError,
        "y: expected at least lookback + horizon = 6 points, got 5",
    )
    _check(lambda: fastlstm.make_windows([1.0, np.nan, 3.0], 1, 1), ValueError, "y: expected finite values")
    _check(
        lambda: fastlstm.make_windows(np.arange(9.0), 0, 2),
        ValueError,
        "lookback: expected an int >= 1, got 0",
    )
    _check(
        lambda: fastlstm.make_windows(np.arange(9.0), 2, 2, future_covariates=np.ones(3)),
        ValueError,
        "future_covariates: expected 9 rows",
    )


def test_shape_messages_format_one_dimension_as_a_tuple():
    _check(
        lambda: K.lstm_forward(np.ones((2, 1, 1)), None, None, np.ones((4, 1)), np.ones((4, 1)), np.ones(3)),
        ValueError,
        "b: expected shape (4,), got (3,)",
    )


def test_trainer_evaluate_arguments():
    tr = _tr()
    _check(lambda: tr.evaluate(XT, YT[:4]), ValueError, "y: expected 10 samples (as in x), got 4")
    _check(lambda: tr.evaluate(XT * np.nan, YT), ValueError, "x: expected finite values")
    assert np.isfinite(tr.evaluate(XT, YT, batch_size=3))


# ------------------------------------------------------------- install hints
@pytest.mark.parametrize("extra", ["plot", "progress", "mpi", "dask", "sktime", "eval", "bench", "pandas"])
def test_install_hints_name_the_extra_and_the_clone_form_quoted(extra):
    """fastlstm is not on PyPI: 'fastlstm[x]' alone fails from a clone, so each hint names
    both forms, with the brackets quoted (zsh expands them otherwise)."""
    from fastlstm._optional import install_hint

    hint = install_hint(extra)
    assert f"pip install 'fastlstm[{extra}]'" in hint
    assert f"(from a clone: pip install '.[{extra}]')" in hint
    assert f"fastlstm[{extra}]" not in hint.replace(f"'fastlstm[{extra}]'", "")  # never unquoted


def test_install_hint_for_torch_and_bad_extras():
    from fastlstm._optional import install_hint

    assert install_hint("torch").startswith("pip install torch==2.13.0")  # the CPU build, not the extra
    assert "pip install mpich" in install_hint("mpi")
    _check(lambda: install_hint("plot; rm -rf ~"), ValueError, "extra: expected the name of an extra")
    _check(
        lambda: install_hint(None), ValueError, "extra: expected the name of an extra of fastlstm, got None"
    )


def test_import_optional_message(monkeypatch):
    import sys

    from fastlstm._optional import import_optional

    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(ImportError) as info:
        import_optional("tqdm", "progress=True", extra="progress")
    msg = str(info.value)
    assert msg.startswith(
        "progress=True needs tqdm, an optional dependency: "
        "pip install 'fastlstm[progress]' (from a clone: pip install '.[progress]'); importing tqdm failed"
    ), msg
    assert isinstance(info.value.__cause__, ImportError)


#: Messages with "pip install" that do not come from install_hint yet, by file (threadpoolctl
#: is a run-time dependency, not an extra). Empty this as the callers move to install_hint.
_PIP_OUTSIDE_INSTALL_HINT = {
    "_threads.py": 1,
}


def test_pip_install_messages_come_from_install_hint():
    """No message of the library spells out an install command (docstrings may): an extra's
    command comes from fastlstm._optional.install_hint, so all of them read alike."""
    import ast
    import pathlib

    root = pathlib.Path(fastlstm.__file__).parent
    found = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel == "_optional.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    docs.add(id(body[0].value))
        n = sum(
            1
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and "pip install" in node.value
            and id(node) not in docs
        )
        if n:
            found[rel] = n
    assert found == _PIP_OUTSIDE_INSTALL_HINT
