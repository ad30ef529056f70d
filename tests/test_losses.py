"""Losses: values and gradients against torch.nn, input checks, NaN behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from fastlstm.nn.losses import HuberLoss, MAELoss, MSELoss, get_loss

torch = pytest.importorskip("torch")

CASES = [
    (MSELoss, {}, lambda red: torch.nn.MSELoss(reduction=red)),
    (MAELoss, {}, lambda red: torch.nn.L1Loss(reduction=red)),
    (HuberLoss, {"delta": 1.0}, lambda red: torch.nn.HuberLoss(reduction=red, delta=1.0)),
    (HuberLoss, {"delta": 0.3}, lambda red: torch.nn.HuberLoss(reduction=red, delta=0.3)),
]


@pytest.mark.parametrize("cls, kwargs, ref", CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_value_and_grad_match_torch(rng, cls, kwargs, ref, reduction, dtype, rtol):
    pred = rng.normal(size=(7, 5)).astype(dtype)
    target = rng.normal(size=(7, 5)).astype(dtype)
    pred[0, 0] = target[0, 0]  # a zero residual: MAE's subgradient must be 0 as in torch
    loss = cls(reduction=reduction, **kwargs)
    value, grad = loss.value_and_grad(pred, target)
    tp = torch.tensor(pred, requires_grad=True)
    tv = ref(reduction)(tp, torch.tensor(target))
    tv.backward()
    assert value == pytest.approx(tv.item(), rel=rtol)
    assert grad.dtype == dtype and grad.shape == pred.shape
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("cls", [MSELoss, MAELoss, HuberLoss])
def test_gradient_matches_central_differences(rng, cls):
    pred = rng.normal(size=(4, 3))
    target = rng.normal(size=(4, 3))
    loss = cls()
    _, grad = loss.value_and_grad(pred, target)
    eps = 1e-6
    num = np.empty_like(pred)
    for idx in np.ndindex(pred.shape):
        p = pred.copy()
        p[idx] += eps
        up = loss(p, target)
        p[idx] -= 2 * eps
        num[idx] = (up - loss(p, target)) / (2 * eps)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)


def test_nan_target_is_a_data_error():
    with pytest.raises(ValueError, match="target: expected finite values"):
        MSELoss()(np.zeros(3), np.array([0.0, np.nan, 1.0]))


def test_nan_prediction_gives_a_nonfinite_value_without_warnings():
    loss = MSELoss()
    value = loss(np.array([0.0, np.nan]), np.zeros(2))
    assert np.isnan(value)
    assert np.isnan(loss.backward()[1])
    assert np.isinf(MSELoss()(np.array([1e200, 0.0]), np.zeros(2)))


def test_checks_and_errors():
    with pytest.raises(ValueError, match="target: expected the shape of pred"):
        MSELoss()(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="reduction"):
        MSELoss(reduction="none")
    with pytest.raises(ValueError, match="delta"):
        HuberLoss(delta=0.0)
    with pytest.raises(RuntimeError, match="call forward first"):
        MAELoss().backward()
    with pytest.raises(TypeError, match="pred"):
        MSELoss()(np.array(["a"]), np.zeros(1))
    with pytest.raises(ValueError, match="loss: expected"):
        get_loss("hinge")


def test_target_cast_to_pred_dtype():
    pred = np.ones(3, dtype=np.float32)
    grad = MSELoss().value_and_grad(pred, [0, 0, 0])[1]
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, 2 / 3)


def test_get_loss_by_name():
    assert isinstance(get_loss("mse"), MSELoss)
    assert isinstance(get_loss("l1"), MAELoss)
    h = HuberLoss(delta=2.0)
    assert get_loss(h) is h
    assert "delta=2.0" in repr(h)
