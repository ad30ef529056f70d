"""fastlstm.torch.LSTM, the torch.nn.Module on fastlstm's kernels, against torch.nn.LSTM.

Every case runs the same weights (loaded through ``state_dict``) and inputs through both
modules; the loss is E = sum(out * R) + sum(h_n * Rh) + sum(c_n * Rc), and compared are the
outputs, h_n, c_n, dE/dx, dE/dh0, dE/dc0 and every parameter's gradient. The gradients of
fastlstm.torch.LSTM also pass ``torch.autograd.gradcheck`` in float64.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest
from naive import param_names
from tolerances import TORCH_GRADCHECK, assert_close, tol

torch = pytest.importorskip("torch")
from torch.func import functional_call  # noqa: E402
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence  # noqa: E402

import fastlstm.torch as ftorch  # noqa: E402
from fastlstm.kernels import api  # noqa: E402

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


@pytest.fixture(autouse=True, scope="module")
def _torch_one_thread():
    """Tiny ops: torch's intra-op threads only add overhead on a busy 2-core runner. Restored after."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# mode: how the batch is given. "plain" (tensor), "packed" (PackedSequence, unsorted lengths),
# "lengths" (padded tensor + lengths=, torch side packed and padded back), "unbatched" (2-D).
CASES = {
    "L1": dict(num_layers=1, bidirectional=False, batch_first=False, bias=True, hx=False, mode="plain"),
    "L2-bi-hx": dict(num_layers=2, bidirectional=True, batch_first=False, bias=True, hx=True, mode="plain"),
    "L2-batch_first-hx-nobias": dict(
        num_layers=2, bidirectional=False, batch_first=True, bias=False, hx=True, mode="plain"
    ),
    "L2-bi-packed-hx": dict(
        num_layers=2, bidirectional=True, batch_first=False, bias=True, hx=True, mode="packed"
    ),
    "L1-bi-batch_first-lengths": dict(
        num_layers=1, bidirectional=True, batch_first=True, bias=True, hx=True, mode="lengths"
    ),
    "L2-bi-unbatched-hx": dict(
        num_layers=2, bidirectional=True, batch_first=False, bias=True, hx=True, mode="unbatched"
    ),
}
SIZES = dict(T=4, B=3, I=2, H=3)  # small: gradcheck builds the whole Jacobian


def make_pair(case, dtype, seed=0, I=SIZES["I"], H=SIZES["H"]):
    """torch.nn.LSTM with torch's seeded initialisation, and fastlstm.torch.LSTM with its state_dict."""
    kw = {k: case[k] for k in ("num_layers", "bidirectional", "batch_first", "bias")}
    torch.manual_seed(seed)
    ref = torch.nn.LSTM(I, H, dtype=TORCH_DTYPE[dtype], **kw)
    ours = ftorch.LSTM(I, H, dtype=TORCH_DTYPE[dtype], **kw)
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def make_data(case, dtype, seed=0, T=SIZES["T"], B=SIZES["B"], I=SIZES["I"], H=SIZES["H"]):
    r = np.random.default_rng(seed)
    tdt = TORCH_DTYPE[dtype]
    LD = case["num_layers"] * (2 if case["bidirectional"] else 1)
    D = 2 if case["bidirectional"] else 1
    unbatched = case["mode"] == "unbatched"

    def t(*shape):
        return torch.tensor(r.standard_normal(shape), dtype=tdt)

    xshape = (T, I) if unbatched else (B, T, I) if case["batch_first"] else (T, B, I)
    sshape = (LD, H) if unbatched else (LD, B, H)
    data = {"x": t(*xshape), "h0": t(*sshape), "c0": t(*sshape), "Rh": t(*sshape), "Rc": t(*sshape)}
    data["lengths"] = None
    if case["mode"] in ("packed", "lengths"):
        lengths = r.integers(1, T + 1, size=B)
        lengths[r.integers(B)] = T  # one full row: the padded output has T steps
        data["lengths"] = torch.tensor(lengths)
    oshape = (T, D * H) if unbatched else (B, T, D * H) if case["batch_first"] else (T, B, D * H)
    data["R"] = t(*oshape)
    return data


def call(module, case, x, hx, lengths, is_ours):
    """Run ``module`` as ``case`` says; returns (output as a padded tensor or packed data, h_n, c_n)."""
    bf = case["batch_first"]
    if case["mode"] == "packed" or (case["mode"] == "lengths" and not is_ours):
        packed = pack_padded_sequence(x, lengths, batch_first=bf, enforce_sorted=False)
        out, (h_n, c_n) = module(packed, hx)
        assert isinstance(out, PackedSequence)
        if case["mode"] == "packed":
            for key in ("batch_sizes", "sorted_indices", "unsorted_indices"):
                assert torch.equal(getattr(out, key), getattr(packed, key)), key
            return out.data, h_n, c_n
        out, _ = pad_packed_sequence(out, batch_first=bf, total_length=x.shape[1 if bf else 0])
        return out, h_n, c_n
    if case["mode"] == "lengths":
        out, (h_n, c_n) = module(x, hx, lengths=lengths)
        return out, h_n, c_n
    out, (h_n, c_n) = module(x, hx)
    return out, h_n, c_n


def run(module, case, data, is_ours):
    """Forward and backward; every compared quantity as float64 NumPy."""
    x = data["x"].clone().requires_grad_(True)
    h0 = data["h0"].clone().requires_grad_(True)
    c0 = data["c0"].clone().requires_grad_(True)
    hx = (h0, c0) if case["hx"] else None
    module.zero_grad()
    out, h_n, c_n = call(module, case, x, hx, data["lengths"], is_ours)
    R = data["R"]
    if case["mode"] == "packed":  # R in packed order, the same for both sides
        R = pack_padded_sequence(
            R, data["lengths"], batch_first=case["batch_first"], enforce_sorted=False
        ).data
    ((out * R).sum() + (h_n * data["Rh"]).sum() + (c_n * data["Rc"]).sum()).backward()

    def np64(t):
        return t.detach().numpy().astype(np.float64)

    res = {"output": np64(out), "h_n": np64(h_n), "c_n": np64(c_n), "d_x": np64(x.grad)}
    if case["hx"]:
        res.update(d_h0=np64(h0.grad), d_c0=np64(c0.grad))
    for name, p in module.named_parameters():
        res["grad " + name] = np64(p.grad)
    return res


def compare(ours, ref, dtype, what, bound=None, T=SIZES["T"]):
    assert set(ours) == set(ref), sorted(set(ours) ^ set(ref))
    for key in ref:
        assert_close(ours[key], ref[key], dtype, f"{key} ({what})", T=T, bound=bound)


# ------------------------------------------------------------------ torch stays optional
def test_importing_fastlstm_never_imports_torch():
    code = (
        "import sys, fastlstm, fastlstm.kernels\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))\n"
        "import fastlstm.torch\n"
        "assert 'torch' in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_missing_torch_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    monkeypatch.delitem(sys.modules, "fastlstm.torch")
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0"):
        import fastlstm.torch  # noqa: F401


# ---------------------------------------------------------------- parameters, state_dict
@pytest.mark.parametrize("case", ["L1", "L2-bi-hx", "L2-batch_first-hx-nobias"])
def test_init_state_dict_and_repr_match_torch(case):
    kw = {k: CASES[case][k] for k in ("num_layers", "bidirectional", "batch_first", "bias")}
    torch.manual_seed(7)
    ref = torch.nn.LSTM(5, 6, **kw)
    torch.manual_seed(7)
    ours = ftorch.LSTM(5, 6, **kw)
    assert repr(ours) == repr(ref)
    names = param_names(kw["num_layers"], kw["bidirectional"], kw["bias"])
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()] == names
    sd_ref, sd_ours = ref.state_dict(), ours.state_dict()
    assert list(sd_ours) == list(sd_ref)
    for k in sd_ref:  # same seed, same draws in the same order: bitwise equal
        assert sd_ours[k].dtype == sd_ref[k].dtype == torch.float32, k
        assert torch.equal(sd_ours[k], sd_ref[k]), k
    assert [[p.shape for p in ps] for ps in ours.all_weights] == [
        [p.shape for p in ps] for ps in ref.all_weights
    ]
    # round trip through changed weights, both ways, strict
    with torch.no_grad():
        for p in ours.parameters():
            p.mul_(-2.0)
    ref.load_state_dict(ours.state_dict())
    back = ftorch.LSTM(5, 6, **kw)
    back.load_state_dict(ref.state_dict())
    for k, v in back.state_dict().items():
        assert torch.equal(v, ours.state_dict()[k]), k


# ---------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("case", list(CASES))
def test_gradcheck_float64(case):
    c = CASES[case]
    module, _ = make_pair(c, np.float64, seed=1)
    data = make_data(c, np.float64, seed=1)
    names = [n for n, _ in module.named_parameters()]

    def fn(x, h0, c0, *params):
        hx = (h0, c0) if c["hx"] else None
        out, h_n, c_n = call(
            lambda *a, **kw: functional_call(module, dict(zip(names, params, strict=True)), a, kw),
            c,
            x,
            hx,
            data["lengths"],
            True,
        )
        return out, h_n, c_n

    inputs = [data["x"], data["h0"], data["c0"], *(p.detach().clone() for p in module.parameters())]
    inputs = [t.requires_grad_(True) for t in inputs]
    assert torch.autograd.gradcheck(fn, inputs, **TORCH_GRADCHECK)


def test_gradcheck_catches_a_wrong_gradient(monkeypatch):
    """The tolerance is tight enough to see a weight gradient that is 0.1% off."""
    real = api.backward_core

    def off_by_a_thousandth(*args, **kwargs):
        g, sq_norms = real(*args, **kwargs)
        return g._replace(dw_hh=g.dw_hh * 1.001), sq_norms

    monkeypatch.setattr(api, "backward_core", off_by_a_thousandth)
    module = ftorch.LSTM(2, 3, dtype=torch.float64)
    x = torch.randn(4, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    w = module.weight_hh_l0.detach().clone().requires_grad_(True)

    def fn(w):
        return functional_call(module, {"weight_hh_l0": w}, (x,))[0]

    assert not torch.autograd.gradcheck(fn, (w,), raise_exception=False, **TORCH_GRADCHECK)
    monkeypatch.setattr(api, "backward_core", real)
    assert torch.autograd.gradcheck(fn, (w,), **TORCH_GRADCHECK)


# ----------------------------------------------------------------- parity with nn.LSTM
@pytest.mark.parametrize("case", list(CASES))
def test_parity_float64(case):
    c = CASES[case]
    ours, ref = make_pair(c, np.float64, seed=2)
    data = make_data(c, np.float64, seed=2)
    compare(run(ours, c, data, True), run(ref, c, data, False), np.float64, case)


@pytest.mark.parametrize("case", list(CASES))
def test_parity_float32(case):
    """Against torch in float64 on the same float32 values (our rounding: the table's bound) and
    against torch in float32 (both sides round: twice the bound), as tests/test_torch_parity.py."""
    c = CASES[case]
    ours, ref = make_pair(c, np.float32, seed=3)
    data = make_data(c, np.float32, seed=3)
    got = run(ours, c, data, True)
    data64 = {k: None if v is None else (v.double() if v.is_floating_point() else v) for k, v in data.items()}
    compare(got, run(copy.deepcopy(ref).double(), c, data64, False), np.float32, case)
    compare(got, run(ref, c, data, False), np.float32, case, bound=2 * tol(np.float32, SIZES["T"]).ref)


def test_parity_long_sequence_float32():
    """T = 100 (the table's "long" row), 2 layers, bidirectional, packed."""
    c = dict(CASES["L2-bi-packed-hx"])
    sizes = dict(T=100, B=4, I=5, H=8)
    ours, ref = make_pair(c, np.float32, seed=4, I=sizes["I"], H=sizes["H"])
    data = make_data(c, np.float32, seed=4, **sizes)
    data64 = {k: None if v is None else (v.double() if v.is_floating_point() else v) for k, v in data.items()}
    compare(run(ours, c, data, True), run(ref.double(), c, data64, False), np.float32, "T=100", T=100)


def test_packed_sorted_sequence_float64():
    """A PackedSequence built with enforce_sorted=True (no sorted_indices) gives nn.LSTM's result."""
    ours, ref = make_pair(CASES["L2-bi-hx"], np.float64, seed=6)
    x = torch.randn(5, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    packed = pack_padded_sequence(x, torch.tensor([5, 3, 2]), enforce_sorted=True)
    assert packed.sorted_indices is None
    (out, (h, c)), (ref_out, (ref_h, ref_c)) = ours(packed), ref(packed)
    assert out.sorted_indices is None and torch.equal(out.batch_sizes, packed.batch_sizes)
    for got, want, what in ((out.data, ref_out.data, "output"), (h, ref_h, "h_n"), (c, ref_c, "c_n")):
        assert_close(got.detach().numpy(), want.detach().numpy(), np.float64, what)


def test_zero_length_rows_keep_their_initial_state():
    """lengths= accepts 0 (packing does not): the row's output is zero and its h_n, c_n are h0, c0."""
    torch.manual_seed(0)
    m = ftorch.LSTM(2, 3, num_layers=2, bidirectional=True, batch_first=True, dtype=torch.float64)
    x = torch.randn(3, 4, 2, dtype=torch.float64)
    h0, c0 = torch.randn(4, 3, 3, dtype=torch.float64), torch.randn(4, 3, 3, dtype=torch.float64)
    out, (h, c) = m(x, (h0, c0), lengths=[4, 0, 2])
    assert not out[1].any() and not out[2, 2:].any() and out[2, :2].all()
    assert torch.equal(h[:, 1], h0[:, 1]) and torch.equal(c[:, 1], c0[:, 1])
    assert not torch.equal(h[:, 0], h0[:, 0])


def test_dropout_between_layers():
    """Training mode applies torch's dropout between layers, eval mode none: p = 1 zeroes the
    second layer's input, so both modules agree exactly; p = 0.5 follows torch's seed."""
    c = dict(CASES["L2-bi-hx"], hx=False)
    for p in (1.0, 0.5):
        kw = dict(num_layers=2, bidirectional=True, dropout=p, dtype=torch.float64)
        torch.manual_seed(5)
        ref = torch.nn.LSTM(2, 3, **kw)
        ours = ftorch.LSTM(2, 3, **kw)
        ours.load_state_dict(ref.state_dict())
        data = make_data(c, np.float64, seed=5)
        ours.eval(), ref.eval()
        compare(run(ours, c, data, True), run(ref, c, data, False), np.float64, f"eval, dropout={p}")
        ours.train(), ref.train()
        if p == 1.0:
            compare(run(ours, c, data, True), run(ref, c, data, False), np.float64, "train, dropout=1")
        else:
            torch.manual_seed(0)
            a = ours(data["x"])[0]
            torch.manual_seed(0)
            b = ours(data["x"])[0]
            ours.eval()
            assert torch.equal(a, b)
            assert not torch.allclose(a, ours(data["x"])[0])


# ------------------------------------------------------- a user's loop, the import changed
def _train(lstm_class, steps=8):
    """A plain PyTorch training loop; only the LSTM class differs between the two runs."""
    torch.manual_seed(0)
    lstm = lstm_class(3, 8, num_layers=2, batch_first=True, dtype=torch.float64)
    head = torch.nn.Linear(8, 1, dtype=torch.float64)
    opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=3e-2)
    x = torch.randn(16, 12, 3, dtype=torch.float64)
    y = x[:, -3:, 0].sum(1, keepdim=True)  # the sum of the last three values of feature 0
    losses = []
    for _ in range(steps):
        out, _ = lstm(x)
        loss = torch.nn.functional.mse_loss(head(out[:, -1]), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lstm.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return losses, lstm.state_dict()


def test_training_loop_only_the_import_changes():
    ref_losses, ref_state = _train(torch.nn.LSTM)
    losses, state = _train(ftorch.LSTM)
    assert losses[-1] < 0.85 * losses[0]  # it trains
    assert_close(losses, ref_losses, np.float64, "losses over the steps")
    for k in ref_state:
        assert_close(state[k], ref_state[k], np.float64, f"{k} after {len(losses)} Adam steps")


# ------------------------------------------------------------------------- no copies
def test_kernels_read_and_write_the_tensors_memory(monkeypatch):
    """A contiguous time-major input and the weights reach the kernels' stack entry as views;
    without lengths the output is the kernel's own state array."""
    seen = {}
    real = api.stack_forward

    def spy(x, h0, c0, weights, *args):
        out = real(x, h0, c0, weights, *args)
        seen.update(x=x, w_ih=weights[0][0], w_hh=weights[0][1], hs=out[3].caches[-1].hs)
        return out

    monkeypatch.setattr(api, "stack_forward", spy)
    torch.manual_seed(0)
    m = ftorch.LSTM(3, 4)
    x = torch.randn(5, 2, 3)
    out, _ = m(x.requires_grad_(True))
    assert np.shares_memory(seen["x"], x.detach().numpy())
    assert np.shares_memory(seen["w_ih"], m.weight_ih_l0.detach().numpy())
    assert np.shares_memory(seen["w_hh"], m.weight_hh_l0.detach().numpy())
    assert np.shares_memory(out.detach().numpy(), seen["hs"])


def test_in_place_changes_before_backward_are_caught():
    """The output shares the kernel's cache, and the input and weights are read by backward:
    changing any of them in place makes backward raise torch's error instead of lying."""
    torch.manual_seed(0)
    m = ftorch.LSTM(3, 4)
    x = torch.randn(5, 2, 3, requires_grad=True)
    for change in ("output", "input", "weight"):
        xi = x.detach().clone().requires_grad_(True)
        inp = xi * 1.0  # a non-leaf, so that it may be changed in place
        out, _ = m(inp)
        with torch.no_grad():
            {"output": out, "input": inp, "weight": m.weight_hh_l0}[change].add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.sum().backward()


def test_backward_twice_needs_retain_graph():
    torch.manual_seed(0)
    m = ftorch.LSTM(3, 4, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    out, _ = m(x)
    out.sum().backward(retain_graph=True)
    g1 = x.grad.clone()
    out.sum().backward()  # the cache survives a retained graph
    assert torch.equal(x.grad, 2 * g1)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.sum().backward()


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(proj_size=4), ValueError, r"proj_size: expected a value below hidden_size \(4\), got 4"),
        (dict(proj_size=-1), ValueError, "proj_size: expected an int >= 0, got -1"),
        (dict(device="meta"), ValueError, "device: expected the CPU"),
        (dict(dtype=torch.float16), TypeError, "dtype: expected torch.float32 or torch.float64"),
        (dict(dropout=1.5), ValueError, r"dropout: expected a probability in \[0, 1\], got 1.5"),
        (dict(dropout="0.1"), TypeError, "dropout: expected a number, got str"),
        (dict(bias=1), TypeError, "bias: expected a bool, got int"),
        (dict(hidden_size=0), ValueError, "hidden_size: expected an int >= 1, got 0"),
        (dict(num_layers=2.0), TypeError, "num_layers: expected an int, got float"),
    ],
)
def test_constructor_errors(kwargs, exc, match):
    args = dict(input_size=3, hidden_size=4) | kwargs
    with pytest.raises(exc, match=match):
        ftorch.LSTM(**args)


def test_constructor_dropout_warning_as_torch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        ftorch.LSTM(3, 4, dropout=0.5)


def _forward_error_cases():
    x = torch.zeros(5, 2, 3)
    h = torch.zeros(1, 2, 4)
    return [
        ("numpy input", (x.numpy(),), {}, TypeError, "input: expected a torch.Tensor, got ndarray"),
        ("dtype", (x.double(),), {}, TypeError, "input: expected dtype torch.float32 .* got torch.float64"),
        ("meta", (x.to("meta"),), {}, ValueError, "input: expected a CPU tensor .* got one on meta"),
        ("4-D", (x[None],), {}, ValueError, "input: expected a 3-D .* got 4-D"),
        (
            "features",
            (torch.zeros(5, 2, 2),),
            {},
            ValueError,
            "expected 3 features .* got shape \\(5, 2, 2\\)",
        ),
        ("empty", (torch.zeros(0, 2, 3),), {}, ValueError, "at least one time step"),
        ("hx type", (x, h), {}, TypeError, "hx: expected a tuple \\(h0, c0\\)"),
        ("hx shape", (x, (h, torch.zeros(1, 3, 4))), {}, ValueError, "hx\\[1\\] \\(c0\\): expected shape"),
        ("hx dtype", (x, (h, h.double())), {}, TypeError, "hx\\[1\\] \\(c0\\): expected dtype torch.float32"),
        ("unbatched hx", (x[:, 0], (h, h)), {}, ValueError, "unbatched input: \\(L\\*D, H\\)"),
        ("lengths range", (x,), dict(lengths=[5, 6]), ValueError, "lengths: expected values in \\[0, 5\\]"),
        ("lengths shape", (x,), dict(lengths=[5]), ValueError, "lengths: expected shape \\(2,\\)"),
        ("lengths dtype", (x,), dict(lengths=[1.0, 2.0]), TypeError, "lengths: expected an integer array"),
        (
            "packed and lengths",
            (pack_padded_sequence(x, torch.tensor([5, 3])),),
            dict(lengths=[5, 3]),
            ValueError,
            "either a PackedSequence or lengths",
        ),
        ("nan", (x.clone().fill_(float("nan")),), {}, ValueError, "layer 0, forward: x: expected finite"),
    ]


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [c[1:] for c in _forward_error_cases()],
    ids=[c[0] for c in _forward_error_cases()],
)
def test_forward_errors(args, kwargs, exc, match):
    m = ftorch.LSTM(3, 4)
    with pytest.raises(exc, match=match):
        m(*args, **kwargs)


def test_parameters_moved_off_the_cpu_or_to_half_are_refused():
    m = ftorch.LSTM(3, 4).half()
    with pytest.raises(TypeError, match="parameter weight_ih_l0: expected torch.float32 or torch.float64"):
        m(torch.zeros(5, 2, 3, dtype=torch.float16))
    m = ftorch.LSTM(3, 4).to("meta")
    with pytest.raises(ValueError, match="parameter weight_ih_l0: expected a CPU tensor"):
        m(torch.zeros(5, 2, 3, device="meta"))


def test_non_finite_gradient_is_reported():
    m = ftorch.LSTM(3, 4, num_layers=2)
    out, _ = m(torch.zeros(5, 2, 3))
    with pytest.raises(ValueError, match="layer 1, backward: dy, dh_n or dc_n: expected finite"):
        out.backward(torch.full_like(out, float("inf")))


# ------------------------------------------------- one stack entry under both surfaces
@pytest.mark.parametrize("case", ["L1", "L2-bi-hx", "L2-batch_first-hx-nobias", "L1-bi-batch_first-lengths"])
def test_same_bits_as_the_numpy_layer(case):
    """fastlstm.torch.LSTM and fastlstm.nn.LSTM run the same stack entry (kernels.api): the
    same weights and inputs give the same bits, forward and backward."""
    import fastlstm

    c = CASES[case]
    ours, _ = make_pair(c, np.float64, seed=3)
    layer = fastlstm.LSTM(
        SIZES["I"],
        SIZES["H"],
        **{k: c[k] for k in ("num_layers", "bidirectional", "batch_first", "bias")},
        dtype=np.float64,
    )
    layer.load_state_dict({k: v.detach().numpy().copy() for k, v in ours.state_dict().items()})
    data = make_data(c, np.float64, seed=3)
    lengths = None if data["lengths"] is None else data["lengths"].numpy()
    x = data["x"].clone().requires_grad_(True)
    h0 = data["h0"].clone().requires_grad_(True)
    c0 = data["c0"].clone().requires_grad_(True)
    out, (h_n, c_n) = ours(x, (h0, c0) if c["hx"] else None, lengths=lengths)
    ((out * data["R"]).sum() + (h_n * data["Rh"]).sum() + (c_n * data["Rc"]).sum()).backward()
    state = (data["h0"].numpy(), data["c0"].numpy()) if c["hx"] else None
    out2, (h2, c2) = layer.forward(data["x"].numpy(), state, lengths=lengths)
    d_x, (d_h0, d_c0) = layer.backward(data["R"].numpy(), data["Rh"].numpy(), data["Rc"].numpy())
    for name, a, b in (("output", out, out2), ("h_n", h_n, h2), ("c_n", c_n, c2), ("d_x", x.grad, d_x)):
        np.testing.assert_array_equal(a.detach().numpy(), b, err_msg=name)
    if c["hx"]:
        np.testing.assert_array_equal(h0.grad.numpy(), d_h0)
        np.testing.assert_array_equal(c0.grad.numpy(), d_c0)
    for name, p in ours.named_parameters():
        np.testing.assert_array_equal(p.grad.numpy(), getattr(layer, name).grad, err_msg=name)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_one_step_without_a_graph_is_the_stepper(dtype, monkeypatch):
    """Inference of one step (no graph) takes the step mode: the bits of fastlstm's stepper and
    of the general path; weights changed in place are seen; NaN input still raises."""
    import fastlstm

    torch.manual_seed(0)
    m = ftorch.LSTM(3, 5, num_layers=2, dtype=dtype)
    layer = fastlstm.LSTM(3, 5, num_layers=2, dtype=np.dtype(str(dtype).split(".")[1]))
    layer.load_state_dict({k: v.detach().numpy().copy() for k, v in m.state_dict().items()})
    stepper = layer.stepper(batch_size=4)
    x = torch.randn(6, 4, 3, dtype=dtype)
    state = None
    sequence_path = api.stack_forward
    for t in range(6):
        monkeypatch.setattr(api, "stack_forward", None)  # the step mode must not need it
        with torch.no_grad():
            out, state = m(x[t : t + 1], state)
        monkeypatch.setattr(api, "stack_forward", sequence_path)
        np.testing.assert_array_equal(out[0].numpy(), stepper.step(x[t].numpy()))
        np.testing.assert_array_equal(state[0].numpy(), stepper.h)
    with torch.no_grad():
        m.weight_ih_l0.add_(0.25)
        fast = m(x[:1], state)
    general = m(x[:1], state)  # with a graph: the general path
    for a, b in zip((fast[0], *fast[1]), (general[0], *general[1]), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy())
    with torch.no_grad(), pytest.raises(ValueError, match="layer 0, forward: x: expected finite"):
        m(torch.full_like(x[:1], float("nan")))


def test_parameters_changed_between_calls_are_seen():
    """The kept parameter views and step pack follow .double(), a non-contiguous parameter
    changed in place, and a frozen parameter (no gradient returned to it)."""
    torch.manual_seed(0)
    m = ftorch.LSTM(3, 4, num_layers=2)
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        m(x[:1]), m(x)
    m.double()
    ref = torch.nn.LSTM(3, 4, num_layers=2, dtype=torch.float64)
    ref.load_state_dict(m.state_dict())
    with torch.no_grad():
        for xs in (x[:1], x):
            assert_close(
                m(xs.double())[0].numpy(), ref(xs.double())[0].numpy(), np.float64, "after .double()"
            )
        m.weight_hh_l0.data = m.weight_hh_l0.data.t().contiguous().t()  # non-contiguous: copied per call
        m.weight_hh_l0.add_(0.5)
        ref.weight_hh_l0.add_(0.5)
        assert_close(m(x.double())[0].numpy(), ref(x.double())[0].numpy(), np.float64, "in place")
    m.weight_hh_l1.requires_grad_(False)
    out, _ = m(x.double().requires_grad_(True))
    out.sum().backward()
    assert m.weight_hh_l1.grad is None and m.weight_ih_l1.grad is not None


def _general_path(m, x, state):
    """The kernels' stacked forward on the module's current weights, packed afresh (no cache)."""
    _, weights, dtype = m._kernel_weights()
    LD, B = m.num_layers * m.num_directions, x.shape[1]
    if state is None:
        z = np.zeros
        state = (
            z((LD, B, m.proj_size or m.hidden_size), x.numpy().dtype),
            z((LD, B, m.hidden_size), x.numpy().dtype),
        )
    else:
        state = tuple(s.numpy() for s in state)
    out, h_n, c_n, _ = api.stack_forward(x.numpy(), state[0], state[1], weights, m.num_directions)
    return out, h_n, c_n


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("B", [1, 5])
def test_projected_one_step_without_a_graph_is_the_general_path(dtype, L, B, monkeypatch):
    """proj_size: one step without a graph takes the cached step mode (the general path is not
    called) and gives the general path's bits, step after step with the state carried; the
    pack is made once while the weights do not change."""
    torch.manual_seed(1)
    m = ftorch.LSTM(3, 7, num_layers=L, proj_size=4, dtype=dtype)
    x = torch.randn(4, B, 3, dtype=dtype)
    state, packs = None, set()
    for t in range(4):
        want = _general_path(m, x[t : t + 1], state)
        monkeypatch.setattr(api, "stack_forward", None)  # the step mode must not need it
        with torch.no_grad():
            out, state = m(x[t : t + 1], state)
        monkeypatch.undo()
        packs.add(id(m._proj_pack))
        for a, b in zip((out, *state), want, strict=True):
            np.testing.assert_array_equal(a.numpy(), b)
    assert len(packs) == 1 and m._proj_pack is not None


@pytest.mark.parametrize(
    "name", ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0", "weight_hr_l1"]
)
def test_projected_step_and_graph_see_weights_changed_in_place(name):
    """An in-place change of any parameter between calls (through .data: no version counter
    sees it) is seen by the cached step (no graph) and by the graph path's cached packs:
    both give the general path's bits on the new weights, and the gradients are the ones of
    packs made afresh."""
    torch.manual_seed(2)
    m = ftorch.LSTM(3, 6, num_layers=2, proj_size=2, dtype=torch.float64)
    x = torch.randn(1, 3, 3, dtype=torch.float64)
    st = (torch.randn(2, 3, 2, dtype=torch.float64), torch.randn(2, 3, 6, dtype=torch.float64))
    with torch.no_grad():
        before = m(x, st)[0].numpy().copy()
    m(x, st)[0].sum().backward()  # the graph path's packs, made now
    getattr(m, name).data[0] += 0.5
    with torch.no_grad():
        out, (h, c) = m(x, st)
    want = _general_path(m, x, st)
    assert not np.array_equal(out.numpy(), before)
    for a, b in zip((out, h, c), want, strict=True):
        np.testing.assert_array_equal(a.numpy(), b)
    m.zero_grad()
    xg = x.clone().requires_grad_(True)
    out, (h, c) = m(xg, st)
    np.testing.assert_array_equal(out.detach().numpy(), want[0])
    (out.square().sum() + c.sum()).backward()
    grads = [p.grad.numpy().copy() for p in m.parameters()] + [xg.grad.numpy().copy()]
    fresh = ftorch.LSTM(3, 6, num_layers=2, proj_size=2, dtype=torch.float64)
    fresh.load_state_dict(m.state_dict())
    xf = x.clone().requires_grad_(True)
    out, (h, c) = fresh(xf, st)
    (out.square().sum() + c.sum()).backward()
    for a, b in zip(grads, [p.grad.numpy() for p in fresh.parameters()] + [xf.grad.numpy()], strict=True):
        np.testing.assert_array_equal(a, b)


def test_projected_step_follows_a_dtype_change_and_checks_its_input():
    """The cached projected step after .double() runs on float64 packs (the general path's bits);
    NaN in the input, the state or a weight raises the general path's ValueError naming it."""
    torch.manual_seed(3)
    m = ftorch.LSTM(3, 6, proj_size=2)
    x = torch.randn(1, 2, 3)
    with torch.no_grad():
        m(x)
        assert m._proj_pack.snap.dtype == np.float32
        m.double()
        out, (h, c) = m(x.double())
    assert m._proj_pack.snap.dtype == np.float64
    for a, b in zip((out, h, c), _general_path(m, x.double(), None), strict=True):
        assert a.dtype == torch.float64
        np.testing.assert_array_equal(a.numpy(), b)
    bad = x.double().clone()
    bad[0, 1, 2] = float("nan")
    with torch.no_grad():
        with pytest.raises(ValueError, match="layer 0, forward: x: expected finite"):
            m(bad)
        h0, c0 = torch.zeros(1, 2, 2, dtype=torch.float64), torch.zeros(1, 2, 6, dtype=torch.float64)
        c0[0, 0, 0] = float("inf")
        with pytest.raises(ValueError, match="layer 0, forward: h0 or c0: expected finite"):
            m(x.double(), (h0, c0))
        m.weight_hr_l0[0, 0] = float("nan")
        with pytest.raises(ValueError, match="layer 0, forward: w_ih, w_hh or b"):
            m(x.double())
        m.weight_hr_l0[0, 0] = 0.0
        np.testing.assert_array_equal(m(x.double())[0].numpy(), _general_path(m, x.double(), None)[0])


def test_projected_retained_graph_backward_twice():
    """dA written over the gates when the tape is consumed: a retained graph computes the tape
    again for its second backward, which gives the first one's gradients (bitwise)."""
    torch.manual_seed(4)
    m = ftorch.LSTM(3, 6, num_layers=2, proj_size=2, dtype=torch.float64)
    out, _ = m(torch.randn(5, 3, 3, dtype=torch.float64))
    out.square().sum().backward(retain_graph=True)
    first = [p.grad.clone() for p in m.parameters()]
    out.square().sum().backward()
    for p, g in zip(m.parameters(), first, strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), 2 * g.numpy())
