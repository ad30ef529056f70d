"""fastlstm.LSTM against torch.nn.LSTM, the outside oracle, and the weight converters.

Variable lengths go through ``pack_padded_sequence(enforce_sorted=False)`` /
``pad_packed_sequence`` on the torch side. The loss is
E = sum(out * R) + sum(h_n * Rh) + sum(c_n * Rc); compared are the outputs, h_n, c_n,
dE/dx, dE/dh0, dE/dc0 and the gradient of every parameter.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from naive import param_names
from tolerances import assert_close, rel_err, tol

import fastlstm

torch = pytest.importorskip("torch")
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


@pytest.fixture(autouse=True, scope="module")
def _torch_one_thread():
    """The oracle runs tiny ops: with intra-op threads on a busy 2-core runner torch's packed
    LSTM is ~40x slower (2.4 s instead of 0.06 s per forward at T = 100). Restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def random_config(seed):
    """A seeded random configuration covering layers 1-3, both directions, batch_first, lengths."""
    r = np.random.default_rng(1000 + seed)
    cfg = {
        "num_layers": int(r.integers(1, 4)),
        "bidirectional": bool(r.integers(2)),
        "batch_first": bool(r.integers(2)),
        "bias": bool(r.random() < 0.8),
        "T": int(r.integers(1, 9)),
        "B": int(r.integers(1, 6)),
        "I": int(r.integers(1, 6)),
        "H": int(r.integers(1, 7)),
        "lengths": bool(r.random() < 0.6),
    }
    if seed % 4 == 0:  # make sure the hardest combination appears often
        cfg.update(num_layers=2 + seed % 8 // 4, bidirectional=True, lengths=True, T=max(cfg["T"], 3), B=4)
    return cfg


def make_data(cfg, dtype, seed):
    r = np.random.default_rng(seed)
    T, B, I, H = cfg["T"], cfg["B"], cfg["I"], cfg["H"]
    D = 2 if cfg["bidirectional"] else 1
    LD = cfg["num_layers"] * D
    bf = cfg["batch_first"]
    data = {
        "x": r.standard_normal((B, T, I) if bf else (T, B, I)).astype(dtype),
        "h0": r.standard_normal((LD, B, H)).astype(dtype),
        "c0": r.standard_normal((LD, B, H)).astype(dtype),
        "R": r.standard_normal((B, T, D * H) if bf else (T, B, D * H)).astype(dtype),
        "Rh": r.standard_normal((LD, B, H)).astype(dtype),
        "Rc": r.standard_normal((LD, B, H)).astype(dtype),
        "lengths": None,
    }
    if cfg["lengths"]:
        lengths = r.integers(1, T + 1, size=B)
        lengths[r.integers(B)] = T  # one full row, so that the padded output really has T steps
        data["lengths"] = lengths.astype(np.int64)
    return data


def run_torch(module, data, batch_first):
    """Forward and backward through torch; returns every compared quantity as float64 NumPy."""
    tdt = next(module.parameters()).dtype
    x = torch.tensor(data["x"], dtype=tdt, requires_grad=True)
    h0 = torch.tensor(data["h0"], dtype=tdt, requires_grad=True)
    c0 = torch.tensor(data["c0"], dtype=tdt, requires_grad=True)
    module.zero_grad()
    T = data["x"].shape[1 if batch_first else 0]
    if data["lengths"] is None:
        out, (h_n, c_n) = module(x, (h0, c0))
    else:
        packed = pack_padded_sequence(
            x, torch.tensor(data["lengths"]), batch_first=batch_first, enforce_sorted=False
        )
        out, (h_n, c_n) = module(packed, (h0, c0))
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    loss = (
        (out * torch.tensor(data["R"], dtype=tdt)).sum()
        + (h_n * torch.tensor(data["Rh"], dtype=tdt)).sum()
        + (c_n * torch.tensor(data["Rc"], dtype=tdt)).sum()
    )
    loss.backward()

    def np64(t):
        return t.detach().numpy().astype(np.float64)

    res = {
        "output": np64(out),
        "h_n": np64(h_n),
        "c_n": np64(c_n),
        "d_x": np64(x.grad),
        "d_h0": np64(h0.grad),
        "d_c0": np64(c0.grad),
    }
    for name, p in module.named_parameters():
        res["grad " + name] = np64(p.grad)
    return res


def run_fastlstm(layer, data):
    layer.train()
    layer.zero_grad()
    out, (h_n, c_n) = layer.forward(data["x"], (data["h0"], data["c0"]), lengths=data["lengths"])
    d_x, (d_h0, d_c0) = layer.backward(data["R"], data["Rh"], data["Rc"])
    res = {"output": out, "h_n": h_n, "c_n": c_n, "d_x": d_x, "d_h0": d_h0, "d_c0": d_c0}
    for name, p in layer.named_parameters():
        res["grad " + name] = p.grad
    return res


def torch_module(cfg, dtype, seed):
    torch.manual_seed(seed)
    return torch.nn.LSTM(
        cfg["I"],
        cfg["H"],
        num_layers=cfg["num_layers"],
        bias=cfg["bias"],
        batch_first=cfg["batch_first"],
        bidirectional=cfg["bidirectional"],
        dtype=TORCH_DTYPE[dtype],
    )


def compare(ours, ref, dtype, cfg, bound=None):
    assert set(ours) == set(ref), f"compared quantities differ: {sorted(set(ours) ^ set(ref))}"
    errs = {}
    for key in ref:
        assert ours[key].dtype == dtype, f"{key}: dtype {ours[key].dtype}"
        errs[key] = assert_close(ours[key], ref[key], dtype, f"{key} ({cfg})", T=cfg["T"], bound=bound)
    return errs


@pytest.mark.parametrize("seed", range(20))
def test_parity_float64(seed):
    cfg = random_config(seed)
    module = torch_module(cfg, np.float64, seed)
    layer = fastlstm.LSTM.from_torch(module)
    data = make_data(cfg, np.float64, seed)
    compare(run_fastlstm(layer, data), run_torch(module, data, cfg["batch_first"]), np.float64, cfg)


@pytest.mark.parametrize("seed", range(100, 110))
def test_parity_float32(seed):
    """float32 against torch in float64 on the same float32 values (our rounding alone, the table's
    bound), and against torch in float32 (both sides' rounding: twice the bound)."""
    cfg = random_config(seed)
    module = torch_module(cfg, np.float32, seed)
    layer = fastlstm.LSTM.from_torch(module)
    assert layer.dtype == np.float32
    data = make_data(cfg, np.float32, seed)
    ours = run_fastlstm(layer, data)
    compare(ours, run_torch(copy.deepcopy(module).double(), data, cfg["batch_first"]), np.float32, cfg)
    bound32 = 2 * tol(np.float32, cfg["T"]).ref
    compare(ours, run_torch(module, data, cfg["batch_first"]), np.float32, cfg, bound=bound32)


def test_parity_long_sequence():
    """T = 100 with lengths, 2 layers, bidirectional: the table's "long" rows."""
    cfg = {
        "num_layers": 2,
        "bidirectional": True,
        "batch_first": False,
        "bias": True,
        "T": 100,
        "B": 3,
        "I": 4,
        "H": 5,
        "lengths": True,
    }
    for dtype in (np.float64, np.float32):
        module = torch_module(cfg, dtype, 5)
        layer = fastlstm.LSTM.from_torch(module)
        data = make_data(cfg, dtype, 5)
        ours = run_fastlstm(layer, data)
        compare(ours, run_torch(copy.deepcopy(module).double(), data, False), dtype, cfg)


# ---------------------------------------------------------------------- converters
CONVERTER_CASES = [
    pytest.param(1, False, True, False, np.float32, id="L1"),
    pytest.param(2, True, True, True, np.float64, id="L2-bi-batch_first"),
    pytest.param(3, True, False, False, np.float32, id="L3-bi-nobias"),
]


@pytest.mark.parametrize("num_layers, bidirectional, bias, batch_first, dtype", CONVERTER_CASES)
def test_torch_round_trip_exact(num_layers, bidirectional, bias, batch_first, dtype):
    torch.manual_seed(0)
    module = torch.nn.LSTM(
        3,
        4,
        num_layers=num_layers,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        dtype=TORCH_DTYPE[dtype],
    )
    layer = fastlstm.LSTM.from_torch(module)
    assert (layer.input_size, layer.hidden_size, layer.num_layers) == (3, 4, num_layers)
    assert (layer.bias, layer.batch_first, layer.bidirectional) == (bias, batch_first, bidirectional)
    assert layer.dtype == dtype
    names = [n for n, _ in layer.named_parameters()]
    assert names == [n for n, _ in module.named_parameters()] == param_names(num_layers, bidirectional, bias)
    for name, p in module.named_parameters():
        np.testing.assert_array_equal(getattr(layer, name).data, p.detach().numpy(), err_msg=name)
    back = layer.to_torch()
    assert isinstance(back, torch.nn.LSTM)
    assert (back.num_layers, back.bidirectional, back.batch_first, back.bias) == (
        num_layers,
        bidirectional,
        batch_first,
        bias,
    )
    sd_a, sd_b = module.state_dict(), back.state_dict()
    assert list(sd_a) == list(sd_b)
    for k in sd_a:
        assert sd_a[k].dtype == sd_b[k].dtype, k
        assert torch.equal(sd_a[k], sd_b[k]), k
    # to_torch copies: changing the layer afterwards leaves the torch module alone
    getattr(layer, names[0]).data[...] += 1
    assert torch.equal(back.state_dict()[names[0]], sd_a[names[0]])


@pytest.mark.parametrize("num_layers, bidirectional, dtype", [(1, False, np.float32), (2, True, np.float64)])
def test_keras_round_trip_exact(num_layers, bidirectional, dtype):
    I, H = 3, 4
    D = 2 if bidirectional else 1
    layer = fastlstm.LSTM(I, H, num_layers=num_layers, bidirectional=bidirectional, dtype=dtype, seed=1)
    weights = layer.to_keras()
    assert len(weights) == num_layers * D
    for n, (kernel, rec, bias) in enumerate(weights):
        k, d = divmod(n, D)
        sfx = f"_l{k}" + ("_reverse" if d else "")
        In = I if k == 0 else D * H
        assert kernel.shape == (In, 4 * H) and rec.shape == (H, 4 * H) and bias.shape == (4 * H,)
        np.testing.assert_array_equal(kernel, getattr(layer, "weight_ih" + sfx).data.T)
        np.testing.assert_array_equal(rec, getattr(layer, "weight_hh" + sfx).data.T)
        np.testing.assert_array_equal(
            bias, getattr(layer, "bias_ih" + sfx).data + getattr(layer, "bias_hh" + sfx).data
        )
    back = fastlstm.LSTM.from_keras(
        weights, input_size=I, hidden_size=H, num_layers=num_layers, bidirectional=bidirectional, dtype=dtype
    )
    for n, (kernel, rec, bias) in enumerate(back.to_keras()):  # keras -> fastlstm -> keras is exact
        np.testing.assert_array_equal(kernel, weights[n][0])
        np.testing.assert_array_equal(rec, weights[n][1])
        np.testing.assert_array_equal(bias, weights[n][2])
    for name, p in back.named_parameters():  # Keras' single bias goes to bias_ih
        if name.startswith("bias_hh"):
            assert not np.any(p.data), name
    # same function: bias_ih + bias_hh is the same sum, so the outputs are bitwise equal
    x = np.random.default_rng(0).standard_normal((5, 2, I)).astype(dtype)
    layer.eval()
    back.eval()
    out_a, (h_a, c_a) = layer.forward(x)
    out_b, (h_b, c_b) = back.forward(x)
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(h_a, h_b)
    np.testing.assert_array_equal(c_a, c_b)


def test_keras_layout_matches_torch():
    """Keras' gate order i, f, c, o is torch's i, f, g, o: a keras-built layer equals the torch one."""
    torch.manual_seed(3)
    module = torch.nn.LSTM(2, 3, dtype=torch.float64)
    sd = {k: v.numpy() for k, v in module.state_dict().items()}
    weights = [[sd["weight_ih_l0"].T, sd["weight_hh_l0"].T, sd["bias_ih_l0"] + sd["bias_hh_l0"]]]
    layer = fastlstm.LSTM.from_keras(weights, input_size=2, hidden_size=3, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((4, 2, 2))
    layer.eval()
    out, _ = layer.forward(x)
    ref, _ = module(torch.tensor(x))
    assert rel_err(out, ref.detach().numpy()) <= tol(np.float64).ref


# -------------------------------------------------------------------------- init
@pytest.mark.parametrize("H", [1, 4, 64])
def test_default_init_like_torch(H):
    """Every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), like torch.nn.LSTM.reset_parameters."""
    k = 1 / np.sqrt(H)
    layer = fastlstm.LSTM(8, H, num_layers=2, bidirectional=True, seed=0)
    torch.manual_seed(0)
    module = torch.nn.LSTM(8, H, num_layers=2, bidirectional=True)
    values = np.concatenate([p.data.ravel().astype(np.float64) for p in layer.parameters()])
    tvalues = np.concatenate([p.detach().numpy().ravel().astype(np.float64) for p in module.parameters()])
    assert values.size == tvalues.size
    for v in (values, tvalues):
        assert v.min() >= -k and v.max() <= k
    # moments of U(-k, k): mean 0, std k/sqrt(3); with n >= 2000 samples, 5 standard errors
    n = values.size
    assert abs(values.mean()) <= 5 * k / np.sqrt(3 * n)
    assert abs(values.std() / (k / np.sqrt(3)) - 1) <= 5 * np.sqrt(0.8 / n) + 0.01
    assert values.max() > 0.95 * k and values.min() < -0.95 * k
