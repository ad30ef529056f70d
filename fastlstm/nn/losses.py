"""Regression losses with their gradients.

Each loss is a small object: :meth:`~MSELoss.forward` returns the value and
remembers what :meth:`~MSELoss.backward` needs to return ``dL/d(pred)``;
:meth:`~MSELoss.value_and_grad` does both at once. Values match
``torch.nn.MSELoss``, ``torch.nn.L1Loss`` and ``torch.nn.HuberLoss`` with the
same ``reduction``.

Targets must be finite (a NaN in the data is a data error and raises
``ValueError``). Predictions are not checked: a NaN or Inf prediction gives a
non-finite loss value, which the training loop detects and reports with the
epoch and step where it happened.

=========  =====================================  ==============================
loss       value per element (``r = pred - y``)   gradient per element
=========  =====================================  ==============================
MSE        ``r**2``                               ``2 r``
MAE        ``|r|``                                ``sign(r)`` (0 at ``r = 0``)
Huber      ``r**2 / 2`` if ``|r| <= delta``,       ``r`` or ``delta * sign(r)``
           else ``delta (|r| - delta / 2)``
=========  =====================================  ==============================
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_finite, check_float
from .module import read_config

__all__ = ["HuberLoss", "Loss", "MAELoss", "MSELoss", "get_loss"]

_REDUCTIONS = ("mean", "sum")


class Loss:
    """Base class: checks inputs, applies the reduction, keeps the residual.

    Parameters
    ----------
    reduction : {"mean", "sum"}
        Average or sum the per-element values.
    """

    name = "loss"
    _config_names: tuple[str, ...] = ("name", "reduction")

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self._residual: np.ndarray | None = None

    # subclasses -------------------------------------------------------------
    def _value(self, r: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _grad(self, r: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # public -----------------------------------------------------------------
    def forward(self, pred, target) -> float:
        """Loss value of ``pred`` against ``target``.

        Parameters
        ----------
        pred : numpy.ndarray
            Predictions (float32 or float64).
        target : array_like
            Targets, same shape as ``pred``; converted to ``pred``'s dtype.

        Returns
        -------
        float
            Non-finite if ``pred`` holds NaN or Inf.
        """
        p = as_float_array(pred, "pred", finite=False, allow_empty=False)
        y = as_float_array(target, "target", dtype=p.dtype, cast=True, finite=False)
        if y.shape != p.shape:
            raise ValueError(f"target: expected the shape of pred {p.shape}, got {y.shape}")
        check_finite(y, "target")
        with np.errstate(over="ignore", invalid="ignore"):
            r = p - y
            self._residual = r
            v = self._value(r)
            total = float(np.sum(v, dtype=np.float64))
        return total / r.size if self.reduction == "mean" else total

    __call__ = forward

    def backward(self) -> np.ndarray:
        """Gradient of the last :meth:`forward` value with respect to ``pred``.

        Returns
        -------
        numpy.ndarray
            Same shape and dtype as ``pred``.
        """
        if self._residual is None:
            raise RuntimeError(f"{type(self).__name__}.backward: call forward first")
        r = self._residual
        with np.errstate(over="ignore", invalid="ignore"):
            g = self._grad(r)
            if self.reduction == "mean":
                g = g / r.dtype.type(r.size)
        return g.astype(r.dtype, copy=False)

    def value_and_grad(self, pred, target) -> tuple[float, np.ndarray]:
        """``(forward(pred, target), backward())``.

        Parameters
        ----------
        pred, target
            As in :meth:`forward`.

        Returns
        -------
        (float, numpy.ndarray)
        """
        value = self.forward(pred, target)
        return value, self.backward()

    def get_config(self) -> dict:
        """The loss's name and constructor arguments (JSON-able), for :func:`get_loss` and checkpoints."""
        return read_config(self, self._config_names)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class MSELoss(Loss):
    """Mean squared error, ``mean((pred - target)**2)``.

    Parameters
    ----------
    reduction : {"mean", "sum"}
        As in :class:`Loss`.
    """

    name = "mse"

    def _value(self, r):
        return r * r

    def _grad(self, r):
        return r * r.dtype.type(2)


class MAELoss(Loss):
    """Mean absolute error, ``mean(|pred - target|)`` (``torch.nn.L1Loss``).

    Parameters
    ----------
    reduction : {"mean", "sum"}
        As in :class:`Loss`.
    """

    name = "mae"

    def _value(self, r):
        return np.abs(r)

    def _grad(self, r):
        return np.sign(r)


class HuberLoss(Loss):
    """Huber loss, quadratic within ``delta`` of the target and linear beyond.

    Parameters
    ----------
    delta : float
        Threshold (> 0) between the quadratic and linear parts.
    reduction : {"mean", "sum"}
        Average or sum the per-element values.
    """

    name = "huber"
    _config_names = (*Loss._config_names, "delta")

    def __init__(self, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.delta = check_float(delta, "delta", minimum=0.0, min_inclusive=False)

    def _value(self, r):
        a = np.abs(r)
        d = r.dtype.type(self.delta)
        return np.where(a <= d, r.dtype.type(0.5) * r * r, d * (a - r.dtype.type(0.5) * d))

    def _grad(self, r):
        d = r.dtype.type(self.delta)
        return np.clip(r, -d, d)


_LOSSES = {"mse": MSELoss, "mae": MAELoss, "l1": MAELoss, "huber": HuberLoss}


def get_loss(loss) -> Loss:
    """Return ``loss`` if it is a :class:`Loss`, else build one by name.

    Parameters
    ----------
    loss : Loss or {"mse", "mae", "l1", "huber"}

    Returns
    -------
    Loss
    """
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss.lower() in _LOSSES:
        return _LOSSES[loss.lower()]()
    raise ValueError(f"loss: expected a Loss or one of {sorted(_LOSSES)}, got {loss!r}")
