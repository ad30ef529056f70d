"""Projections (LSTMP, ``proj_size``): fastlstm.nn.LSTM against torch.nn.LSTM(proj_size=P) in
float64, finite differences, the parameters, converters and refusals.

(F7), (B10) of docs/derivation.md: ``h_t = (o_t * tanh c_t) W_hr^T``, ``W_hh [4H, P]``,
``h_n [L*D, B, P]``, ``c_n [L*D, B, H]``. The loss is E = sum(out * R) + sum(h_n * Rh) +
sum(c_n * Rc); compared are the outputs, h_n, c_n, dE/dx, dE/dh0, dE/dc0 and the gradient of
every parameter.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_torch_parity import run_fastlstm, run_torch
from tolerances import PROJ_TORCH, TORCH_GRADCHECK, assert_close, gradcheck_err, tol

import fastlstm

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def _torch_one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# (num_layers, bidirectional, batch_first, lengths, bias, T, B, I, H, P)
CONFIGS = [
    (1, False, False, False, True, 5, 3, 4, 5, 2),
    (2, False, False, False, True, 6, 2, 3, 6, 3),
    (1, True, False, False, True, 4, 3, 2, 4, 1),
    (2, True, True, False, False, 5, 4, 3, 5, 4),
    (1, False, True, True, True, 7, 4, 3, 5, 2),
    (2, True, False, True, True, 6, 4, 2, 6, 3),
    (2, True, True, True, True, 8, 5, 4, 7, 5),
    # wider than one vector panel (H, P, 4H past 16 float64 lanes), rows for two threads
    (1, True, False, True, True, 6, 9, 20, 40, 17),
]


def _data(cfg, seed):
    L, bidir, bf, use_len, _, T, B, I, H, P = cfg
    D = 2 if bidir else 1
    r = np.random.default_rng(seed)
    data = {
        "x": r.standard_normal((B, T, I) if bf else (T, B, I)),
        "h0": r.standard_normal((L * D, B, P)),
        "c0": r.standard_normal((L * D, B, H)),
        "R": r.standard_normal((B, T, D * P) if bf else (T, B, D * P)),
        "Rh": r.standard_normal((L * D, B, P)),
        "Rc": r.standard_normal((L * D, B, H)),
        "lengths": None,
    }
    if use_len:
        lengths = r.integers(1, T + 1, size=B)
        lengths[0] = T
        data["lengths"] = lengths.astype(np.int64)
    return data


def _cfg_id(c):
    return "L{}-D{}-bf{}-len{}-bias{}-P{}".format(*c[:5], c[9])


def _torch_module(cfg, seed):
    L, bidir, bf, _, bias, _, _, I, H, P = cfg
    torch.manual_seed(seed)
    return torch.nn.LSTM(
        I, H, num_layers=L, bias=bias, batch_first=bf, bidirectional=bidir, proj_size=P, dtype=torch.float64
    )


@pytest.mark.parametrize("cfg", CONFIGS, ids=_cfg_id)
def test_parity_with_torch_float64(cfg):
    module = _torch_module(cfg, 7)
    layer = fastlstm.LSTM.from_torch(module)
    assert layer.proj_size == cfg[9]
    data = _data(cfg, 11)
    ours = run_fastlstm(layer, data)
    ref = run_torch(module, data, cfg[2])
    assert set(ours) == set(ref)
    assert any(k.startswith("grad weight_hr") for k in ref)
    for key in ref:
        assert ours[key].shape == ref[key].shape, key
        assert_close(ours[key], ref[key], np.float64, f"{key} ({cfg})", bound=PROJ_TORCH)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_threads_and_inference_agree(dtype):
    """The projected kernels split rows between threads: 1 and 3 row chunks give bitwise the
    same results (forward, every gradient, with lengths), and the inference forward (no cache)
    the same outputs and final states as the training one."""
    from fastlstm.kernels import projection

    T, B, I, H, P = 5, 13, 7, 37, 19
    r = np.random.default_rng(3)
    x, h0, c0 = r.standard_normal((T, B, I)), r.standard_normal((B, P)), r.standard_normal((B, H))
    w_ih, w_hh, w_hr = r.standard_normal((4 * H, I)), r.standard_normal((4 * H, P)), r.standard_normal((P, H))
    b_ih, b_hh = r.standard_normal(4 * H), r.standard_normal(4 * H)
    lengths = r.integers(0, T + 1, size=B).astype(np.int64)
    x, h0, c0, w_ih, w_hh, w_hr, b_ih, b_hh = (
        a.astype(dtype) for a in (x, h0, c0, w_ih, w_hh, w_hr, b_ih, b_hh)
    )
    fwd = [projection.proj_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths, n) for n in (1, 3)]
    for a, b in zip(fwd[0][1:], fwd[1][1:], strict=True):
        np.testing.assert_array_equal(a, b)
    _, hs, cs, gates, hr = fwd[0]
    assert np.all(gates[np.arange(T)[:, None] >= lengths[None, :]] == 0)
    dy, dh_n, dc_n = r.standard_normal((T, B, P)), r.standard_normal((B, P)), r.standard_normal((B, H))
    dy, dh_n, dc_n = dy.astype(dtype), dh_n.astype(dtype), dc_n.astype(dtype)
    args = (dy, dh_n, dc_n, x, hs, cs, gates, hr, w_ih, w_hh, w_hr, lengths, True)
    bwd = [projection.proj_backward(*args, n) for n in (1, 3)]
    for a, b in zip(bwd[0][1:], bwd[1][1:], strict=True):
        np.testing.assert_array_equal(a, b)
    _, hs_i, cs_i, _, _ = projection.proj_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths, 3, False)
    np.testing.assert_array_equal(hs_i, hs)
    np.testing.assert_array_equal(cs_i[T % 2], cs[T])


def test_shapes_and_initialisation():
    I, H, P = 3, 8, 3
    layer = fastlstm.LSTM(I, H, num_layers=2, bidirectional=True, dtype=np.float64, seed=0, proj_size=P)
    shapes = {n: p.shape for n, p in layer.named_parameters()}
    ref = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P)
    assert list(shapes) == [n for n, _ in ref.named_parameters()]
    assert shapes == {n: tuple(p.shape) for n, p in ref.named_parameters()}
    assert shapes["weight_hr_l1_reverse"] == (P, H)
    assert shapes["weight_hh_l0"] == (4 * H, P)
    assert shapes["weight_ih_l1"] == (4 * H, 2 * P)
    k = 1 / math.sqrt(H)
    for _, p in layer.named_parameters():
        assert np.all(np.abs(p.data) <= k)
    x = np.random.default_rng(0).standard_normal((5, 2, I))
    out, (h_n, c_n) = layer(x)
    assert out.shape == (5, 2, 2 * P) and h_n.shape == (4, 2, P) and c_n.shape == (4, 2, H)
    # eval mode (the one-step path is for layers without projection) and carried state
    layer.eval()
    out1, (h1, c1) = layer(x[:1], (h_n, c_n))
    assert out1.shape == (1, 2, 2 * P) and h1.shape == (4, 2, P) and c1.shape == (4, 2, H)
    assert "proj_size=3" in repr(layer)


def test_state_dict_and_converters_round_trip():
    layer = fastlstm.LSTM(3, 6, num_layers=2, dtype=np.float64, seed=1, proj_size=2)
    other = fastlstm.LSTM(3, 6, num_layers=2, dtype=np.float64, seed=2, proj_size=2)
    other.load_state_dict(layer.state_dict())
    for name, p in layer.named_parameters():
        np.testing.assert_array_equal(other._params[name].data, p.data)
    module = layer.to_torch()
    assert module.proj_size == 2
    back = fastlstm.LSTM.from_torch(module)
    assert back.proj_size == 2
    for name, p in layer.named_parameters():
        np.testing.assert_array_equal(back._params[name].data, p.data)
    with pytest.raises(ValueError, match=r"proj_size: Keras' LSTM has no projections \(got proj_size=2\)"):
        layer.to_keras()
    plain = fastlstm.LSTM(3, 6, dtype=np.float64)
    with pytest.raises((ValueError, KeyError)):
        plain.load_state_dict(fastlstm.LSTM(3, 6, dtype=np.float64, proj_size=2).state_dict())


def test_chunks_equal_one_run():
    """Two chunks with the state passed along, back-propagated in reverse order: one run's gradients."""
    layer = fastlstm.LSTM(2, 5, num_layers=2, dtype=np.float64, seed=3, proj_size=2)
    r = np.random.default_rng(5)
    x = r.standard_normal((6, 3, 2))
    R = r.standard_normal((6, 3, 2))
    layer.zero_grad()
    layer(x)
    dx_full, _ = layer.backward(R)
    full = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer.zero_grad()
    _, state = layer(x[:4])
    layer(x[4:], state)
    dx2, (dh, dc) = layer.backward(R[4:])
    dx1, _ = layer.backward(R[:4], dh, dc)
    assert_close(np.concatenate([dx1, dx2]), dx_full, np.float64, "d_x")
    for n, p in layer.named_parameters():
        assert_close(p.grad, full[n], np.float64, n)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_finite_differences(bidirectional):
    """Every parameter, x, h0 and c0 against the fourth-order central difference (float64)."""
    t = tol(np.float64)
    s = t.fd_step
    L, T, B, I, H, P = 2, 4, 2, 2, 3, 2
    D = 2 if bidirectional else 1
    layer = fastlstm.LSTM(
        I, H, num_layers=L, bidirectional=bidirectional, dtype=np.float64, seed=4, proj_size=P
    )
    r = np.random.default_rng(9)
    x, R = r.standard_normal((T, B, I)), r.standard_normal((T, B, D * P))
    h0, Rh = r.standard_normal((L * D, B, P)), r.standard_normal((L * D, B, P))
    c0, Rc = r.standard_normal((L * D, B, H)), r.standard_normal((L * D, B, H))
    lengths = np.array([T, T - 2], dtype=np.int64)

    def loss():
        layer.eval()
        out, (h_n, c_n) = layer(x, (h0, c0), lengths=lengths)
        return float((out * R).sum() + (h_n * Rh).sum() + (c_n * Rc).sum())

    layer.train()
    layer.zero_grad()
    layer(x, (h0, c0), lengths=lengths)
    d_x, (d_h0, d_c0) = layer.backward(R, Rh, Rc)
    analytic = {"x": (x, d_x), "h0": (h0, d_h0), "c0": (c0, d_c0)}
    analytic.update({n: (p.data, p.grad.copy()) for n, p in layer.named_parameters()})
    for name, (arr, grad) in analytic.items():
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            v = arr[i]
            f = []
            for step in (2 * s, s, -s, -2 * s):
                arr[i] = v + step
                f.append(loss())
            arr[i] = v
            num[i] = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * s)
        err = gradcheck_err(grad, num).max()
        assert err <= t.fd, f"{name}: finite-difference error {err:.2e}"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(proj_size=4), ValueError, r"proj_size: expected a value below hidden_size \(4\), got 4"),
        (dict(proj_size=9), ValueError, "proj_size: expected a value below hidden_size"),
        (dict(proj_size=-1), ValueError, "proj_size"),
        (dict(proj_size=1.5), TypeError, "proj_size"),
        (dict(proj_size=True), TypeError, "proj_size"),
    ],
)
def test_refusals(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastlstm.LSTM(2, 4, **kwargs)


def test_state_shapes_are_checked():
    layer = fastlstm.LSTM(2, 4, dtype=np.float64, proj_size=2)
    x = np.zeros((3, 1, 2))
    with pytest.raises(ValueError, match="h0"):
        layer(x, (np.zeros((1, 1, 4)), np.zeros((1, 1, 4))))
    with pytest.raises(ValueError, match="c0"):
        layer(x, (np.zeros((1, 1, 2)), np.zeros((1, 1, 2))))


@pytest.mark.parametrize(("dtype", "H", "P"), [(np.float64, 6, 2), (np.float32, 40, 17)])
def test_stepper_matches_forward(dtype, H, P):
    """The stepper of a projected stack (its step mode on weights packed once): step by step,
    bitwise the forward pass's outputs and final state; it keeps the packed weights until
    refresh(); NaN in x or in the weights raises, naming them."""
    layer = fastlstm.LSTM(3, H, num_layers=2, dtype=dtype, seed=6, proj_size=P)
    layer.eval()
    r = np.random.default_rng(2)
    x = r.standard_normal((5, 4, 3)).astype(dtype)
    h0, c0 = r.standard_normal((2, 4, P)).astype(dtype), r.standard_normal((2, 4, H)).astype(dtype)
    out, (h_n, c_n) = layer(x, (h0, c0))
    stepper = layer.stepper(batch_size=4, state=(h0, c0))
    steps = np.stack([stepper.step(x[t]) for t in range(5)])
    assert steps.shape == (5, 4, P)
    np.testing.assert_array_equal(steps, out)
    h, c = stepper.state
    assert h.shape == (2, 4, P) and c.shape == (2, 4, H)
    np.testing.assert_array_equal(h, h_n)
    np.testing.assert_array_equal(c, c_n)
    bad = x[0].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="x"):
        stepper.step(bad)
    np.testing.assert_array_equal(stepper.state[0], h)  # unchanged after the error
    layer.weight_hr_l1.data[...] *= 2  # packed: no effect until refresh()
    stepper.state = (h0, c0)
    np.testing.assert_array_equal(stepper.step(x[0]), steps[0])
    stepper.refresh()
    stepper.state = (h0, c0)
    np.testing.assert_array_equal(stepper.step(x[0]), 2 * steps[0])
    layer.weight_hr_l1.data[0, 0] = np.inf
    with pytest.raises(ValueError, match="weight_hr_l1: expected finite values"):
        stepper.refresh()


@pytest.mark.parametrize("cfg", CONFIGS[1::2], ids=_cfg_id)
def test_torch_module_parity(cfg):
    """fastlstm.torch.LSTM(proj_size=P) with torch.nn.LSTM's weights: the same outputs and gradients
    (packed input when the config has lengths, through torch's autograd)."""
    from fastlstm.torch import LSTM as TorchLSTM

    L, bidir, bf, _, bias, _, _, I, H, P = cfg
    ref = _torch_module(cfg, 7)
    ours = TorchLSTM(
        I, H, num_layers=L, bias=bias, batch_first=bf, bidirectional=bidir, proj_size=P, dtype=torch.float64
    )
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    ours.load_state_dict(ref.state_dict())
    data = _data(cfg, 13)
    got, want = run_torch(ours, data, bf), run_torch(ref, data, bf)
    for key in want:
        assert_close(got[key], want[key], np.float64, f"{key} ({cfg})", bound=PROJ_TORCH)
    with torch.no_grad():  # no graph: the kernels alone
        x = torch.tensor(data["x"])
        out, (h_n, c_n) = ours(x)
        out_ref, (h_ref, c_ref) = ref(x)
    for a, b, what in ((out, out_ref, "output"), (h_n, h_ref, "h_n"), (c_n, c_ref, "c_n")):
        assert_close(a.numpy(), b.numpy(), np.float64, what, bound=PROJ_TORCH)
    assert f"proj_size={P}" in repr(ours)


def test_torch_module_refusals():
    from fastlstm.torch import LSTM as TorchLSTM

    with pytest.raises(ValueError, match=r"proj_size: expected a value below hidden_size \(4\), got 4"):
        TorchLSTM(2, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size"):
        TorchLSTM(2, 4, proj_size=-1)
    module = TorchLSTM(2, 4, proj_size=2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"hx\[0\] \(h0\)"):
        module(torch.zeros(3, 1, 2, dtype=torch.float64), (torch.zeros(1, 1, 4, dtype=torch.float64),) * 2)


def test_single_layer_kernels_name_proj_size():
    """The cell kernels (and kernels.compiled's pack) have no projection, and the sequence kernels
    need w_hr for one: a [4H, P] recurrent weight alone is refused with a message naming
    proj_size and what supports it."""
    from fastlstm import kernels

    H, P = 4, 2
    w_ih, w_hh, b = np.ones((4 * H, 3)), np.ones((4 * H, P)), np.ones(4 * H)
    with pytest.raises(ValueError, match=r"w_hh: expected shape \(4\*H, H\), got \(16, 2\); .*proj_size"):
        kernels.lstm_forward(np.ones((2, 1, 3)), None, None, w_ih, w_hh, b)
    with pytest.raises(ValueError, match="proj_size"):
        kernels.compiled.pack(w_ih, w_hh, b)


def test_bench_config_with_projection():
    from fastlstm import bench

    cfg = bench.parse_config("p:32,100,8,64,f64,16")
    assert cfg == bench.Config("p", 32, 100, 8, 64, "float64", 16)
    assert cfg.flops_forward == 2 * 100 * 32 * 4 * 64 * (8 + 16) + 2 * 100 * 32 * 16 * 64
    assert bench.parse_config("q:1,2,3,4,f32").P == 0
    errors = (("p:1,2,3,4,f32,4", r"P \(proj_size\) must be in \[1, H - 1\]"), ("p:1,2,3,4,f32,x", "integer"))
    for text, match in errors:
        with pytest.raises(ValueError, match=match):
            bench.parse_config(text)


def test_bench_row_with_projection(tmp_path, capsys, restore_numba_threads):
    """A bench row with proj_size: timed against torch.nn.LSTM(proj_size), checked against it in float64."""
    import json

    from fastlstm import bench

    path = tmp_path / "p.json"
    args = ["--config", "p:2,3,2,4,float64,2", "--only", "p", "--repeat", "2", "--threads", "1"]
    assert bench.main([*args, "--no-memory", "--json", str(path)]) == 0
    with open(path) as fh:
        entry = json.load(fh)["results"][0]
    assert entry["config"]["P"] == 2
    assert entry["check"]["passed"] and "d_weight_hr" in entry["check"]["errors"]
    assert entry["check"]["max_rel_err"] <= PROJ_TORCH
    assert {"fastlstm", "baseline", "fastlstm_torch"} <= set(entry["training"])
    assert "2,3,2,4,P2" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench.main([*args, "--no-torch"])
    assert "P (proj_size) needs the torch baseline" in capsys.readouterr().err


@pytest.mark.parametrize("bidirectional", [False, True])
def test_torch_module_gradcheck(bidirectional):
    """torch.autograd.gradcheck of fastlstm.torch.LSTM(proj_size) in float64: x, h0, c0 and every
    parameter (weight_hr included), with lengths; the table's TORCH_GRADCHECK tolerances."""
    from torch.func import functional_call

    from fastlstm.torch import LSTM as TorchLSTM

    torch.manual_seed(3)
    L, T, B, I, H, P = 2, 4, 3, 2, 3, 2
    D = 2 if bidirectional else 1
    module = TorchLSTM(I, H, num_layers=L, bidirectional=bidirectional, proj_size=P, dtype=torch.float64)
    names = [n for n, _ in module.named_parameters()]
    assert sum(n.startswith("weight_hr") for n in names) == L * D
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(T, B, I, dtype=torch.float64, generator=gen)
    h0 = torch.randn(L * D, B, P, dtype=torch.float64, generator=gen)
    c0 = torch.randn(L * D, B, H, dtype=torch.float64, generator=gen)
    lengths = torch.tensor([4, 2, 3])

    def fn(x, h0, c0, *params):
        weights = dict(zip(names, params, strict=True))
        out, (h_n, c_n) = functional_call(module, weights, (x, (h0, c0), lengths))
        return out, h_n, c_n

    inputs = [t.requires_grad_(True) for t in (x, h0, c0, *(p.detach().clone() for p in module.parameters()))]
    assert torch.autograd.gradcheck(fn, inputs, **TORCH_GRADCHECK)


def test_torch_module_gradcheck_catches_a_wrong_dw_hr(monkeypatch):
    """The tolerance sees a projection gradient 0.1% off (B10)."""
    from torch.func import functional_call

    from fastlstm.kernels import api
    from fastlstm.torch import LSTM as TorchLSTM

    real = api.proj_backward_core

    def off_by_a_thousandth(*args, **kwargs):
        g, sq_norms = real(*args, **kwargs)
        return g._replace(dw_hr=g.dw_hr * 1.001), sq_norms

    module = TorchLSTM(2, 3, proj_size=2, dtype=torch.float64)
    x = torch.randn(4, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    w = module.weight_hr_l0.detach().clone().requires_grad_(True)

    def fn(w):
        return functional_call(module, {"weight_hr_l0": w}, (x,))[0]

    monkeypatch.setattr(api, "proj_backward_core", off_by_a_thousandth)
    assert not torch.autograd.gradcheck(fn, (w,), raise_exception=False, **TORCH_GRADCHECK)
    monkeypatch.setattr(api, "proj_backward_core", real)
    assert torch.autograd.gradcheck(fn, (w,), **TORCH_GRADCHECK)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_per_timestep_sums_to_the_gradients(bidirectional):
    """backward(per_timestep=True): every parameter's per-step terms (weight_hr's included) sum over
    T to its gradient, a step past every row's end adds nothing, and the norms have one entry a step."""
    T, L, H, P = 6, 2, 5, 2
    layer = fastlstm.LSTM(
        3, H, num_layers=L, bidirectional=bidirectional, dtype=np.float64, seed=8, proj_size=P
    )
    D = layer.num_directions
    r = np.random.default_rng(4)
    x = r.standard_normal((T, 3, 3))
    lengths = np.array([4, 2, 3])  # no row reaches steps 4 and 5
    layer.zero_grad()
    out, _ = layer(x, lengths=lengths)
    layer.backward(r.standard_normal(out.shape), per_timestep=True)
    assert set(layer.timestep_grads) == {n for n, _ in layer.named_parameters()}
    for name, p in layer.named_parameters():
        steps = layer.timestep_grads[name]
        assert steps.shape == (T, *p.shape)
        assert_close(steps.sum(axis=0), p.grad, np.float64, name)
        assert np.all(steps[4:] == 0), name
    for key in [f"l{k}" + s for k in range(L) for s in ("", "_reverse")[:D]]:
        assert layer.grad_norms[key]["h"].shape == (T,)


def test_per_timestep_reverse_direction_in_original_time_order():
    """The reverse direction's per-step terms are in original time order: they equal a one-direction
    layer's (with the reverse weights) run on the sequences reversed within their length, mapped back
    (every row of length 4 of T = 6, so the per-step sums over rows map as a whole)."""
    T, I, H, P, n = 6, 2, 4, 3, 4
    bi = fastlstm.LSTM(I, H, bidirectional=True, dtype=np.float64, seed=1, proj_size=P)
    uni = fastlstm.LSTM(I, H, dtype=np.float64, seed=2, proj_size=P)
    uni.load_state_dict({k.replace("_reverse", ""): v for k, v in bi.state_dict().items() if "reverse" in k})
    r = np.random.default_rng(6)
    x = r.standard_normal((T, 3, I))
    lengths = np.full(3, n)
    d_rev = r.standard_normal((T, 3, P))
    d_rev[n:] = 0
    bi.zero_grad()
    bi(x, lengths=lengths)
    bi.backward(np.concatenate([np.zeros_like(d_rev), d_rev], axis=2), per_timestep=True)
    order = list(range(n - 1, -1, -1)) + list(range(n, T))  # R: reversal within the length
    uni.zero_grad()
    uni(np.ascontiguousarray(x[order]), lengths=lengths)
    uni.backward(np.ascontiguousarray(d_rev[order]), per_timestep=True)
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "weight_hr_l0"):
        assert_close(bi.timestep_grads[name + "_reverse"], uni.timestep_grads[name][order], np.float64, name)


def _single_layer(seed, T=6, B=5, I=3, H=7, P=4, lengths=True):
    r = np.random.default_rng(seed)
    w = {
        "w_ih": r.standard_normal((4 * H, I)) * 0.5,
        "w_hh": r.standard_normal((4 * H, P)) * 0.5,
        "b": r.standard_normal(4 * H) * 0.5,
        "w_hr": r.standard_normal((P, H)) * 0.5,
    }
    data = {
        "x": r.standard_normal((T, B, I)),
        "h0": r.standard_normal((B, P)),
        "c0": r.standard_normal((B, H)),
        "dy": r.standard_normal((T, B, P)),
        "dh_n": r.standard_normal((B, P)),
        "dc_n": r.standard_normal((B, H)),
        "lengths": np.array([T, 1, 0, T - 2, 3][:B], dtype=np.int64) if lengths else None,
    }
    return w, data


@pytest.mark.parametrize("lengths", [False, True])
def test_single_layer_kernels_with_w_hr_match_torch(lengths):
    """kernels.lstm_forward/lstm_backward with w_hr: torch.nn.LSTM(proj_size) in float64 (outputs,
    final states, dx, dh0, dc0 and every weight gradient, dW_hr included)."""
    from fastlstm import kernels

    w, d = _single_layer(5, lengths=lengths)
    y, h_n, c_n, cache = kernels.lstm_forward(
        d["x"], d["h0"], d["c0"], w["w_ih"], w["w_hh"], w["b"], d["lengths"], w_hr=w["w_hr"]
    )
    assert isinstance(cache, kernels.api.ProjCache)
    res = kernels.lstm_backward(d["dy"], d["dh_n"], d["dc_n"], cache, w["w_ih"], w["w_hh"], w_hr=w["w_hr"])
    T, B, I = d["x"].shape
    P, H = w["w_hr"].shape
    ref = torch.nn.LSTM(I, H, proj_size=P, dtype=torch.float64)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(torch.tensor(w["w_ih"]))
        ref.weight_hh_l0.copy_(torch.tensor(w["w_hh"]))
        ref.bias_ih_l0.copy_(torch.tensor(w["b"]))
        ref.bias_hh_l0.zero_()
        ref.weight_hr_l0.copy_(torch.tensor(w["w_hr"]))
    x, h0, c0 = (torch.tensor(d[k], requires_grad=True) for k in ("x", "h0", "c0"))
    if lengths:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.tensor(np.maximum(d["lengths"], 1)), enforce_sorted=False
        )
    out, (h_t, c_t) = ref(packed if lengths else x, (h0[None], c0[None]))
    if lengths:
        out = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)[0]
    mask = np.arange(T)[:, None] < (d["lengths"] if lengths else np.full(B, T))[None, :]
    dy = d["dy"] * mask[:, :, None]
    e = (
        (out * torch.tensor(dy)).sum()
        + (h_t[0] * torch.tensor(d["dh_n"])).sum()
        + (c_t[0] * torch.tensor(d["dc_n"])).sum()
    )
    e.backward()
    live = slice(None) if not lengths else np.flatnonzero(d["lengths"] > 0)  # torch cannot run length 0
    pairs = [
        (y[:, live], out.detach().numpy()[:, live], "y"),
        (h_n[live], h_t[0].detach().numpy()[live], "h_n"),
        (c_n[live], c_t[0].detach().numpy()[live], "c_n"),
        (res.dx[:, live], x.grad.numpy()[:, live], "dx"),
        (res.dh0[live], h0.grad.numpy()[live], "dh0"),
        (res.dc0[live], c0.grad.numpy()[live], "dc0"),
    ]
    if not lengths:  # with a length-0 row torch's weight gradients miss nothing, but its rows differ
        pairs += [
            (res.dw_ih, ref.weight_ih_l0.grad.numpy(), "dw_ih"),
            (res.dw_hh, ref.weight_hh_l0.grad.numpy(), "dw_hh"),
            (res.db, ref.bias_ih_l0.grad.numpy(), "db"),
            (res.dw_hr, ref.weight_hr_l0.grad.numpy(), "dw_hr"),
        ]
    for got, want, what in pairs:
        assert_close(got, want, np.float64, what, bound=PROJ_TORCH)
    if lengths:  # a length-0 row keeps its state and passes its gradients through
        np.testing.assert_array_equal(h_n[2], d["h0"][2])
        np.testing.assert_array_equal(res.dh0[2], d["dh_n"][2])
        np.testing.assert_array_equal(res.dc0[2], d["dc_n"][2])
    assert res.dh_norm.shape == res.dc_norm.shape == (T,)


@pytest.mark.parametrize("lengths", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_api_with_w_hr_equals_python(lengths, dtype):
    """lstm_forward/lstm_backward with w_hr called from a user's @njit function return exactly what
    the Python functions return (the same projection kernels): outputs, states, every gradient,
    the norms and, with keep_dgates, dA and the total dh_t."""
    import numba

    from fastlstm import kernels

    w, d = _single_layer(9, lengths=lengths)
    w = {k: v.astype(dtype) for k, v in w.items()}
    d = {k: (v if k == "lengths" or v is None else v.astype(dtype)) for k, v in d.items()}

    @numba.njit
    def run(x, h0, c0, w_ih, w_hh, b, w_hr, lengths, dy, dh_n, dc_n):
        y, h_n, c_n, cache = kernels.lstm_forward(x, h0, c0, w_ih, w_hh, b, lengths, w_hr)
        res = kernels.lstm_backward(dy, dh_n, dc_n, cache, w_ih, w_hh, True, w_hr)
        return y, h_n, c_n, res

    args = (
        d["x"],
        d["h0"],
        d["c0"],
        w["w_ih"],
        w["w_hh"],
        w["b"],
        w["w_hr"],
        d["lengths"],
        d["dy"],
        d["dh_n"],
        d["dc_n"],
    )
    y, h_n, c_n, res = run(*args)
    y0, h0, c0, cache = kernels.lstm_forward(*args[:6], d["lengths"], w_hr=w["w_hr"])
    ref = kernels.lstm_backward(
        d["dy"], d["dh_n"], d["dc_n"], cache, w["w_ih"], w["w_hh"], True, w_hr=w["w_hr"]
    )
    for a, b in ((y, y0), (h_n, h0), (c_n, c0)):
        np.testing.assert_array_equal(a, b)
    assert type(res) is kernels.api.ProjBackwardResult
    for name in ref._fields:
        np.testing.assert_array_equal(getattr(res, name), getattr(ref, name), err_msg=name)


def test_single_layer_w_hr_refusals():
    """A projection's arguments are checked naming w_hr (shape, a missing or extra w_hr for the
    cache), from Python and, at compile time, from @njit code."""
    import numba
    from numba.core.errors import TypingError

    from fastlstm import kernels

    w, d = _single_layer(1, lengths=False)
    fwd = (d["x"], None, None, w["w_ih"], w["w_hh"], w["b"])
    with pytest.raises(ValueError, match=r"w_hr: expected shape \(4, 7\), got \(7, 4\)"):
        kernels.lstm_forward(*fwd, w_hr=w["w_hr"].T.copy())
    with pytest.raises(ValueError, match=r"w_hh: expected shape \(4\*H, H\), got \(28, 4\); .*w_hr"):
        kernels.lstm_forward(*fwd)
    _, _, _, cache = kernels.lstm_forward(*fwd, w_hr=w["w_hr"])
    with pytest.raises(ValueError, match="w_hr: expected the projection w_hr"):
        kernels.lstm_backward(None, None, None, cache, w["w_ih"], w["w_hh"])

    @numba.njit
    def no_w_hr(x, w_ih, w_hh, b, w_hr):
        _, _, _, cache = kernels.lstm_forward(x, None, None, w_ih, w_hh, b, None, w_hr)
        return kernels.lstm_backward(None, None, None, cache, w_ih, w_hh, False)

    with pytest.raises(TypingError, match="w_hr: expected the projection"):
        no_w_hr(d["x"], w["w_ih"], w["w_hh"], w["b"], w["w_hr"])

    @numba.njit
    def int_w_hr(x, w_ih, w_hh, b, w_hr):
        return kernels.lstm_forward(x, None, None, w_ih, w_hh, b, None, w_hr)

    with pytest.raises(TypingError, match="w_hr: expected a float32 or float64 array"):
        int_w_hr(d["x"], w["w_ih"], w["w_hh"], w["b"], np.ones((4, 7), dtype=np.int64))


def test_bench_default_rows_include_projections():
    """The bench runs the projected rows by default beside the reference table when the torch
    baseline runs (the NumPy reference has no projection), and by name with --only."""
    from fastlstm.bench import PROJECTION_CONFIGS, REFERENCE_CONFIGS, cli

    parser = cli._parser("bench")
    names = [c.name for c in cli._select(parser.parse_args([]), parser, True)]
    assert names == [*REFERENCE_CONFIGS, *PROJECTION_CONFIGS]
    assert [c.name for c in cli._select(parser.parse_args([]), parser, False)] == list(REFERENCE_CONFIGS)
    only = cli._select(parser.parse_args(["--only", "proj256"]), parser, True)
    assert [(c.H, c.P) for c in only] == [(256, 128)]
    assert all(0 < c.P < c.H for c in PROJECTION_CONFIGS.values())
