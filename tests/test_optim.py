"""Optimisers, gradient clipping and learning-rate schedules against torch.optim."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastlstm.nn.module import Parameter
from fastlstm.train.io import load_optimizer, save_optimizer
from fastlstm.train.optim import SGD, Adam, AdamW, clip_grad_norm, get_optimizer, grad_norm
from fastlstm.train.schedules import CosineAnnealingLR, ReduceLROnPlateau, StepLR

torch = pytest.importorskip("torch")

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
RTOL = {np.float64: 1e-12, np.float32: 2e-5}

OPTIMIZERS = [
    (SGD, torch.optim.SGD, {"lr": 0.1}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.02}),
    (Adam, torch.optim.Adam, {"lr": 0.01}),
    (Adam, torch.optim.Adam, {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05}),
    (Adam, torch.optim.Adam, {"lr": 0.01, "amsgrad": True}),
    (AdamW, torch.optim.AdamW, {"lr": 0.01}),
    (AdamW, torch.optim.AdamW, {"lr": 0.03, "weight_decay": 0.1, "amsgrad": True}),
]


def _params(rng, dtype):
    return [
        Parameter(rng.normal(size=s).astype(dtype), f"p{i}") for i, s in enumerate([(4, 3), (5,), (2, 2, 2)])
    ]


def _grads(rng, params, steps):
    return [[rng.normal(size=p.shape).astype(p.dtype) for p in params] for _ in range(steps)]


@pytest.mark.parametrize("ours, theirs, kwargs", OPTIMIZERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_optimizer_matches_torch(rng, ours, theirs, kwargs, dtype):
    params = _params(rng, dtype)
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    opt, topt = ours(params, **kwargs), theirs(tparams, **kwargs)
    for grads in _grads(rng, params, 25):
        for p, tp, g in zip(params, tparams, grads, strict=True):
            p.grad[...] = g
            tp.grad = torch.tensor(g)
        opt.step()
        topt.step()
    for p, tp in zip(params, tparams, strict=True):
        assert p.data.dtype == dtype
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize(
    "ours, kwargs",
    [(SGD, {"lr": 0.1, "momentum": 0.9}), (Adam, {"lr": 0.01}), (AdamW, {"lr": 0.01, "amsgrad": True})],
)
def test_state_dict_resumes_bit_identically(rng, tmp_path, ours, kwargs):
    params = _params(rng, np.float64)
    grads = _grads(rng, params, 10)
    clone = [Parameter(p.data.copy(), p.name) for p in params]
    a = ours(params, **kwargs)
    for step, gs in enumerate(grads):
        for p, g in zip(params, gs, strict=True):
            p.grad[...] = g
        a.step()
        if step == 4:  # checkpoint mid-run through the io format, resume in b
            save_optimizer(tmp_path / "opt.npz", a)
            for c, p in zip(clone, params, strict=True):
                c.data[...] = p.data
    b = ours(clone, **kwargs)
    load_optimizer(tmp_path / "opt.npz", b)
    assert b.step_count == 5
    for gs in grads[5:]:
        for c, g in zip(clone, gs, strict=True):
            c.grad[...] = g
        b.step()
    for p, c in zip(params, clone, strict=True):
        np.testing.assert_array_equal(p.data, c.data)


def test_load_state_dict_checks():
    p = [Parameter(np.zeros(3))]
    sd = Adam(p).state_dict()
    with pytest.raises(ValueError, match="state of a SGD"):
        SGD(p).load_state_dict(sd)
    with pytest.raises(TypeError, match="optimizer: expected"):
        save_optimizer("unused.npz", object())
    bad = {**sd, "buffers": {"exp_avg.0": np.zeros(4)}}
    with pytest.raises(ValueError, match="expected shape"):
        Adam(p).load_state_dict(bad)
    with pytest.raises(ValueError, match="unexpected buffer"):
        Adam(p).load_state_dict({**sd, "buffers": {"exp_avg.3": np.zeros(3)}})


def test_argument_errors():
    p = [Parameter(np.zeros(3))]
    with pytest.raises(ValueError, match="lr: expected a number >= 0"):
        Adam(p, lr=-1.0)
    with pytest.raises(ValueError, match="betas\\[1\\]"):
        Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="nesterov"):
        SGD(p, nesterov=True)
    with pytest.raises(TypeError, match="params\\[0\\]: expected a Parameter"):
        SGD([np.zeros(3)])
    with pytest.raises(ValueError, match="at least one Parameter"):
        SGD([])
    assert isinstance(get_optimizer("adamw", p), AdamW)
    with pytest.raises(ValueError, match="optimizer"):
        get_optimizer("lbfgs", p)


@pytest.mark.parametrize("max_norm, norm_type", [(0.5, 2.0), (100.0, 2.0), (0.3, 1.0), (0.2, math.inf)])
def test_clip_grad_norm_matches_torch(rng, max_norm, norm_type):
    params = _params(rng, np.float64)
    for p in params:
        p.grad[...] = rng.normal(size=p.shape)
    tparams = [torch.tensor(p.data) for p in params]
    for tp, p in zip(tparams, params, strict=True):
        tp.grad = torch.tensor(p.grad.copy())
    total = clip_grad_norm(params, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type)
    assert total == pytest.approx(ttotal.item(), rel=1e-12)
    for p, tp in zip(params, tparams, strict=True):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)
    if total > max_norm:
        assert grad_norm(params, norm_type) == pytest.approx(max_norm, rel=1e-5)


def test_clip_grad_norm_nonfinite():
    p = Parameter(np.zeros(2))
    p.grad[...] = [np.nan, 1.0]
    assert math.isnan(clip_grad_norm([p], 1.0))
    with pytest.raises(FloatingPointError, match="total gradient norm is nan"):
        clip_grad_norm([p], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm([p], 0.0)


# ----------------------------------------------------------------- schedules
def _lr_sequences(ours_factory, theirs_factory, epochs, metrics=None):
    p = Parameter(np.zeros(1))
    opt = SGD([p], lr=0.1)
    sched = ours_factory(opt)
    tp = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.1)
    tsched = theirs_factory(topt)
    ours, theirs = [opt.lr], [topt.param_groups[0]["lr"]]
    for e in range(epochs):
        opt.step()
        topt.step()
        if metrics is None:
            sched.step()
            tsched.step()
        else:
            sched.step(metrics[e])
            tsched.step(metrics[e])
        ours.append(opt.lr)
        theirs.append(topt.param_groups[0]["lr"])
    return np.array(ours), np.array(theirs)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda o: StepLR(o, 3, gamma=0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, gamma=0.5)),
        (lambda o: CosineAnnealingLR(o, 10), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10)),
        (
            lambda o: CosineAnnealingLR(o, 7, eta_min=0.01),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 7, eta_min=0.01),
        ),
    ],
)
def test_epoch_schedules_match_torch(ours, theirs):
    a, b = _lr_sequences(ours, theirs, 30)  # 30 > 2 T_max: exercises the cosine restart branch
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"patience": 2, "factor": 0.5, "cooldown": 1, "min_lr": 0.004},
        {"mode": "max", "patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
    ],
)
def test_reduce_on_plateau_matches_torch(rng, kwargs):
    metrics = np.concatenate([np.linspace(1, 0.5, 5), np.full(10, 0.5), rng.uniform(0.4, 0.6, 25)])
    a, b = _lr_sequences(
        lambda o: ReduceLROnPlateau(o, **kwargs),
        lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **kwargs),
        40,
        metrics,
    )
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert a[-1] < a[0] or kwargs.get("mode") == "max"


def test_scheduler_state_round_trip_and_checks():
    opt = SGD([Parameter(np.zeros(1))], lr=1.0)
    s = CosineAnnealingLR(opt, 5)
    s.step()
    s.step()
    state = s.state_dict()
    s2 = CosineAnnealingLR(SGD([Parameter(np.zeros(1))], lr=1.0), 5)
    s2.load_state_dict(state)
    assert s2.last_epoch == 2 and s2.get_last_lr() == s.get_last_lr()
    with pytest.raises(ValueError, match="expected keys"):
        s2.load_state_dict({"last_epoch": 1})
    with pytest.raises(TypeError, match="optimizer"):
        StepLR(object(), 2)
    with pytest.raises(ValueError, match="step_size"):
        StepLR(opt, 0)
    with pytest.raises(ValueError, match="mode"):
        ReduceLROnPlateau(opt, mode="up")
