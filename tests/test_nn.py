"""Linear, LSTMRegressor (central differences, torch) and the training loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastlstm.nn import Linear, LSTMRegressor, derive_seeds
from fastlstm.nn.losses import MSELoss
from fastlstm.nn.module import Module
from fastlstm.train.optim import SGD, Adam
from fastlstm.train.schedules import ReduceLROnPlateau, StepLR
from fastlstm.train.trainer import Callback, LambdaCallback, NonFiniteError, Trainer, fit


def _fd_check(module, x, R, eps=1e-6, n_entries=4, rng=None):
    """Central differences of E = sum(y * R) against the analytic gradients; returns max rel error."""
    module.train()
    y = module.forward(x)
    module.zero_grad()
    d_x = module.backward(R)
    errs = []

    def loss(xx):
        return float(np.sum(module.forward(xx) * R))

    rng = rng or np.random.default_rng(0)
    for _, p in module.named_parameters():
        for flat in rng.choice(p.size, size=min(n_entries, p.size), replace=False):
            idx = np.unravel_index(flat, p.shape)
            old = p.data[idx]
            p.data[idx] = old + eps
            up = loss(x)
            p.data[idx] = old - eps
            down = loss(x)
            p.data[idx] = old
            num = (up - down) / (2 * eps)
            errs.append(abs(num - p.grad[idx]) / max(abs(num), abs(p.grad[idx]), 1e-6))
    for flat in rng.choice(x.size, size=n_entries, replace=False):
        idx = np.unravel_index(flat, x.shape)
        xx = x.copy()
        xx[idx] += eps
        up = loss(xx)
        xx[idx] -= 2 * eps
        num = (up - loss(xx)) / (2 * eps)
        errs.append(abs(num - d_x[idx]) / max(abs(num), abs(d_x[idx]), 1e-6))
    assert y.shape == R.shape
    return max(errs)


# ---------------------------------------------------------------------- Linear
def test_linear_init_is_torch_default_and_seeded():
    lin = Linear(50, 7, seed=3)
    bound = 1 / math.sqrt(50)
    assert lin.weight.shape == (7, 50) and lin.bias.shape == (7,)
    assert np.abs(lin.weight.data).max() <= bound and np.abs(lin.bias.data).max() <= bound
    assert np.abs(lin.weight.data).max() > 0.8 * bound
    np.testing.assert_array_equal(Linear(50, 7, seed=3).weight.data, lin.weight.data)
    assert not np.array_equal(Linear(50, 7, seed=4).weight.data, lin.weight.data)
    assert lin.weight.dtype == np.float32
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]


def test_linear_matches_torch(rng):
    torch = pytest.importorskip("torch")
    lin = Linear(4, 3, dtype=np.float64, seed=0)
    tl = torch.nn.Linear(4, 3, dtype=torch.float64)
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(lin.weight.data))
        tl.bias.copy_(torch.tensor(lin.bias.data))
    x = rng.normal(size=(2, 5, 4))
    R = rng.normal(size=(2, 5, 3))
    tx = torch.tensor(x, requires_grad=True)
    (tl(tx) * torch.tensor(R)).sum().backward()
    y = lin(x)
    d_x = lin.backward(R)
    np.testing.assert_allclose(y, tl(tx).detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(d_x, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(lin.weight.grad, tl.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(lin.bias.grad, tl.bias.grad.numpy(), rtol=1e-12)


def test_linear_central_differences(rng):
    lin = Linear(3, 2, dtype=np.float64, seed=1)
    assert _fd_check(lin, rng.normal(size=(6, 3)), rng.normal(size=(6, 2))) < 1e-7


def test_linear_errors():
    lin = Linear(3, 2)
    with pytest.raises(ValueError, match="x: expected shape \\(..., 3\\)"):
        lin(np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="x: expected dtype float32"):
        lin(np.zeros((2, 3), np.float64))
    with pytest.raises(RuntimeError, match="no forward pass"):
        Linear(3, 2).backward(np.zeros((1, 2), np.float32))
    lin(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="d_y: expected shape \\(2, 2\\)"):
        lin.backward(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="in_features"):
        Linear(0, 2)


# ---------------------------------------------------------------- LSTMRegressor
@pytest.mark.parametrize(
    "kwargs",
    [
        {"head": "last"},
        {"head": "all"},
        {"head": "last", "num_layers": 2},
        {"head": "last", "bidirectional": True},
        {"head": "all", "bidirectional": True, "batch_first": False},
    ],
)
def test_regressor_central_differences(rng, kwargs):
    m = LSTMRegressor(3, 2, hidden_size=5, dtype=np.float64, seed=0, **kwargs)
    x = rng.normal(size=(4, 6, 3))
    if kwargs["head"] == "last":
        R = rng.normal(size=(4, 2))
    else:
        R = rng.normal(size=(4, 6, 2))  # (B, T, O) or (T, B, O), like x
    assert _fd_check(m, x, R, rng=rng) < 1e-5


def test_regressor_matches_torch(rng):
    torch = pytest.importorskip("torch")
    m = LSTMRegressor(2, 3, hidden_size=4, dtype=np.float64, seed=5)
    tl = torch.nn.LSTM(2, 4, batch_first=True, dtype=torch.float64)
    th = torch.nn.Linear(4, 3, dtype=torch.float64)
    sd = m.state_dict()
    with torch.no_grad():
        for name, p in tl.named_parameters():
            p.copy_(torch.tensor(sd["lstm." + name]))
        th.weight.copy_(torch.tensor(sd["head.weight"]))
        th.bias.copy_(torch.tensor(sd["head.bias"]))
    x = rng.normal(size=(3, 7, 2))
    _, (h, _) = tl(torch.tensor(x))
    np.testing.assert_allclose(m(x), th(h[-1]).detach().numpy(), rtol=1e-10)


def test_regressor_names_seed_config_and_state():
    m = LSTMRegressor(1, 4, hidden_size=8, num_layers=2, seed=11)
    names = [n for n, _ in m.named_parameters()]
    assert names[0] == "lstm.weight_ih_l0" and names[-2:] == ["head.weight", "head.bias"]
    m2 = LSTMRegressor.from_config(m.get_config(), seed=11)
    for (_, a), (_, b) in zip(m.named_parameters(), m2.named_parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    x = np.random.default_rng(0).normal(size=(2, 5, 1)).astype(np.float32)
    y, (h_n, c_n) = m(x, return_state=True)
    assert y.shape == (2, 4) and h_n.shape == (2, 2, 8)
    assert "LSTMRegressor(" in repr(m)
    assert derive_seeds(1, 3) == derive_seeds(1, 3) and len(set(derive_seeds(1, 3))) == 3
    with pytest.raises(ValueError, match="head"):
        LSTMRegressor(1, 1, head="first")
    with pytest.raises(RuntimeError, match="call forward"):
        LSTMRegressor(1, 1).backward(np.zeros((1, 1), np.float32))


# -------------------------------------------------------------------- Trainer
def _sine_windows(n=160, L=12, H=3, dtype=np.float32):
    t = np.arange(n + L + H)
    s = np.sin(0.3 * t) + 0.1 * np.cos(1.7 * t)
    idx = np.arange(n)[:, None]
    x = s[idx + np.arange(L)][:, :, None].astype(dtype)
    y = s[idx + L + np.arange(H)].astype(dtype)
    return x, y


def _model(seed=0, **kw):
    return LSTMRegressor(1, 3, hidden_size=8, seed=seed, **kw)


def test_training_reduces_the_loss():
    x, y = _sine_windows()
    m = _model()
    before = MSELoss()(m.eval()(x), y)
    m.train()
    hist = fit(m, x, y, optimizer=Adam(m.parameters(), lr=0.01), epochs=15, batch_size=32, seed=0)
    after = MSELoss()(m.eval()(x), y)
    assert after < 0.2 * before
    assert hist.loss[-1] < hist.loss[0] and hist.epochs == 15 and len(hist.lr) == 15


def test_same_seed_gives_bit_identical_weights():
    x, y = _sine_windows(80)
    states = []
    for _ in range(2):
        m = _model(seed=3)
        Trainer(
            m, "huber", Adam(m.parameters(), lr=0.01), epochs=3, batch_size=16, seed=7, clip_norm=0.5
        ).fit(x, y)
        states.append(m.state_dict())
    for k in states[0]:
        np.testing.assert_array_equal(states[0][k], states[1][k])
    m = _model(seed=3)
    Trainer(m, "huber", Adam(m.parameters(), lr=0.01), epochs=3, batch_size=16, seed=8, clip_norm=0.5).fit(
        x, y
    )
    assert not np.array_equal(m.state_dict()["head.weight"], states[0]["head.weight"])


class _PoisonAt(Module):
    """Wraps a model; its prediction becomes NaN (or its gradient Inf) at one global call."""

    def __init__(self, inner, at, where="loss"):
        super().__init__()
        self.inner = self._register_module("inner", inner)
        self.dtype, self.at, self.where, self.calls = inner.dtype, at, where, 0

    def forward(self, x):
        y = self.inner.forward(x)
        if self.training:
            self.calls += 1
            if self.calls == self.at and self.where == "loss":
                y = y.copy()
                y[0, 0] = np.nan
        return y

    def backward(self, d):
        d_x = self.inner.backward(d)
        if self.calls == self.at and self.where == "grad":
            self.inner.head.weight.grad[0, 0] = np.inf
        return d_x


@pytest.mark.parametrize("where, what", [("loss", "loss"), ("grad", "gradient")])
def test_nonfinite_raises_with_epoch_and_step_and_keeps_last_weights(where, what):
    x, y = _sine_windows(64)
    model = _PoisonAt(_model(), at=6, where=where)  # 4 steps per epoch: epoch 1, step 1
    snapshots = []
    cb = LambdaCallback(on_batch_end=lambda tr, logs: snapshots.append(model.state_dict()))
    trainer = Trainer(
        model, "mse", Adam(model.parameters(), lr=0.01), epochs=3, batch_size=16, seed=0, callbacks=[cb]
    )
    with pytest.raises(NonFiniteError, match=f"non-finite {what} .* at epoch 1, step 1") as info:
        trainer.fit(x, y)
    assert isinstance(info.value, FloatingPointError)
    assert (info.value.epoch, info.value.step) == (1, 1)
    assert len(snapshots) == 5
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, snapshots[-1][k])
        assert np.isfinite(v).all()


def test_nonfinite_weights_after_step_are_undone():
    x, y = _sine_windows(32)
    m = _model()
    before = m.state_dict()
    with pytest.raises(NonFiniteError, match="non-finite weights .* at epoch 0, step 0"):
        Trainer(m, "mse", SGD(m.parameters(), lr=1e30), epochs=1, batch_size=32, seed=0).fit(x, y * 1e15)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_nonfinite_skip_counts_steps_and_finishes():
    x, y = _sine_windows(64)
    model = _PoisonAt(_model(), at=2)
    hist = Trainer(model, "mse", epochs=2, batch_size=16, seed=0, on_nonfinite="skip").fit(x, y)
    assert hist.skipped_steps == 1 and hist.epochs == 2
    assert all(np.isfinite(v).all() for v in model.state_dict().values())


def test_early_stopping_restores_the_best_weights():
    x, y = _sine_windows(120)
    m = _model()
    seen = {}

    class Keep(Callback):
        def on_epoch_end(self, trainer, logs):
            seen[logs["epoch"]] = (logs["val_loss"], trainer.model.state_dict())

    # a large constant learning rate makes the validation loss bounce, so patience triggers
    hist = Trainer(
        m,
        "mse",
        SGD(m.parameters(), lr=0.5, momentum=0.9),
        epochs=40,
        batch_size=8,
        seed=0,
        patience=2,
        callbacks=[Keep()],
    ).fit(x, y, val_split=0.25)
    assert hist.stopped_early and hist.epochs < 40
    best = int(np.argmin(hist.val_loss))
    assert hist.best_epoch == best
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, seen[best][1][k])


def test_scheduler_is_stepped_per_epoch():
    x, y = _sine_windows(32)
    m = _model()
    opt = Adam(m.parameters(), lr=0.1)
    hist = Trainer(m, "mse", opt, StepLR(opt, 2, gamma=0.5), epochs=5, batch_size=32, seed=0).fit(x, y)
    assert hist.lr == [0.1, 0.1, 0.05, 0.05, 0.025]
    opt = Adam(m.parameters(), lr=0.1)
    plateau = ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=10.0)  # never "better"
    Trainer(m, "mse", opt, plateau, epochs=3, batch_size=32, seed=0).fit(x, y, validation_data=(x, y))
    assert opt.lr == pytest.approx(0.0125)


def test_tbptt_one_chunk_equals_full_bptt_and_chunks_train():
    rng = np.random.default_rng(0)
    s = np.sin(0.2 * np.arange(4 * 61)).reshape(4, 61)
    x = s[:, :-1, None].astype(np.float32)
    y = s[:, 1:, None].astype(np.float32)
    states = []
    for tbptt in (None, 60):
        m = LSTMRegressor(1, 1, hidden_size=6, head="all", seed=1)
        Trainer(m, "mse", Adam(m.parameters(), lr=0.01), epochs=2, batch_size=2, seed=0, tbptt=tbptt).fit(
            x, y
        )
        states.append(m.state_dict())
    for k in states[0]:
        np.testing.assert_array_equal(states[0][k], states[1][k])
    m = LSTMRegressor(1, 1, hidden_size=6, head="all", seed=1)
    steps = []
    hist = Trainer(
        m,
        "mse",
        Adam(m.parameters(), lr=0.02),
        epochs=8,
        batch_size=4,
        seed=0,
        tbptt=15,
        callbacks=[LambdaCallback(on_batch_end=lambda t, logs: steps.append(logs["step"]))],
    ).fit(x, y)
    assert steps[:4] == [0, 1, 2, 3] and len(steps) == 8 * 4  # 4 chunks of 15 steps per batch
    assert hist.loss[-1] < 0.5 * hist.loss[0]
    assert rng is not None


def test_progress_bar_runs(capsys):
    pytest.importorskip("tqdm")
    x, y = _sine_windows(16)
    hist = Trainer(_model(), "mse", epochs=2, batch_size=16, seed=0, progress=True).fit(x, y)
    assert hist.epochs == 2


def test_progress_without_tqdm_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)
    x, y = _sine_windows(16)
    hint = r"pip install 'fastlstm\[progress\]' \(from a clone: pip install '\.\[progress\]'\)"
    with pytest.raises(ImportError, match=hint):
        Trainer(_model(), "mse", epochs=1, seed=0, progress=True).fit(x, y)


def test_trainer_argument_errors():
    x, y = _sine_windows(16)
    m = _model()
    with pytest.raises(ValueError, match="on_nonfinite"):
        Trainer(m, on_nonfinite="ignore")
    with pytest.raises(TypeError, match="model: expected an object with a forward"):
        Trainer(object())
    with pytest.raises(ValueError, match="y: expected 16 samples"):
        Trainer(m, epochs=1).fit(x, y[:5])
    with pytest.raises(ValueError, match="patience: early stopping needs validation"):
        Trainer(m, epochs=1, patience=2).fit(x, y)
    with pytest.raises(ValueError, match="val_split"):
        Trainer(m, epochs=1).fit(x, y, val_split=16)
    with pytest.raises(ValueError, match="with tbptt"):
        Trainer(m, epochs=1, tbptt=4).fit(x, y)
    with pytest.raises(TypeError, match="callbacks\\[0\\]"):
        Trainer(m, callbacks=[print])
