"""Optimisers with PyTorch's update rules, and global-norm gradient clipping.

Each optimiser holds a list of :class:`~fastlstm.nn.module.Parameter` and updates
``p.data`` in place from ``p.grad``. The arithmetic follows ``torch.optim``
(single-tensor CPU path) step for step, so a model trained here and one trained
with ``torch.optim`` from the same gradients agree to rounding:

=========  ===================================================================
optimiser  update (``g`` = gradient, ``t`` = step number from 1)
=========  ===================================================================
SGD        ``g += wd p``; ``b = mu b + (1 - dampening) g`` (``b = g`` at t=1);
           ``g = g + mu b`` (Nesterov) or ``g = b``; ``p -= lr g``
Adam       ``g += wd p``; ``m += (1 - b1)(g - m)``; ``v = b2 v + (1 - b2) g^2``;
           ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``
AdamW      ``p *= 1 - lr wd``, then Adam without the ``g += wd p`` term
=========  ===================================================================

The learning rate lives in ``optimizer.lr``; the schedulers in
:mod:`fastlstm.train.schedules` change it between steps.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_float
from ..nn.module import Module, Parameter, read_config

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "clip_grad_norm", "grad_norm"]


def _as_params(params, name: str = "params") -> list[Parameter]:
    if isinstance(params, Module):
        return params.parameters()
    if isinstance(params, Parameter):
        return [params]
    try:
        out = list(params)
    except TypeError as exc:
        raise TypeError(
            f"{name}: expected a Module or an iterable of Parameter, got {type(params).__name__}"
        ) from exc
    for i, p in enumerate(out):
        if not isinstance(p, Parameter):
            raise TypeError(f"{name}[{i}]: expected a Parameter, got {type(p).__name__}")
    return out


def grad_norm(params, norm_type: float = 2.0) -> float:
    """Global norm of all gradients, as if they were one concatenated vector.

    Parameters
    ----------
    params : Module or iterable of Parameter
    norm_type : float
        ``2.0`` (Euclidean), ``1.0`` or ``inf``.

    Returns
    -------
    float
        ``inf`` or ``nan`` if a gradient is not finite.
    """
    ps = _as_params(params)
    if norm_type == math.inf:
        return float(max((np.max(np.abs(p.grad)) for p in ps if p.size), default=0.0))
    if norm_type == 1.0:
        return float(sum(float(np.sum(np.abs(p.grad), dtype=np.float64)) for p in ps))
    if norm_type == 2.0:
        sum_sq = 0.0
        for p in ps:
            g = p.grad.ravel().astype(np.float64, copy=False)
            sum_sq += float(np.dot(g, g))
        return math.sqrt(sum_sq)
    raise ValueError(f"norm_type: expected 1.0, 2.0 or inf, got {norm_type!r}")


def clip_grad_norm(
    params, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> float:
    """Scale all gradients together so that their global norm is at most ``max_norm``.

    Same rule as ``torch.nn.utils.clip_grad_norm_``: with ``total`` the global
    norm, gradients are multiplied by ``max_norm / (total + 1e-6)`` when that
    factor is below 1, and left alone otherwise.

    Parameters
    ----------
    params : Module or iterable of Parameter
    max_norm : float
        Largest allowed global norm (> 0).
    norm_type : float
        ``2.0``, ``1.0`` or ``inf``.
    error_if_nonfinite : bool
        Raise ``FloatingPointError`` when the norm is NaN or Inf (the gradients
        are then left unchanged).

    Returns
    -------
    float
        The global norm before clipping.
    """
    ps = _as_params(params)
    max_norm = check_float(max_norm, "max_norm", minimum=0.0, min_inclusive=False)
    total = grad_norm(ps, norm_type)
    if not math.isfinite(total):
        if error_if_nonfinite:
            raise FloatingPointError(f"clip_grad_norm: the total gradient norm is {total}")
        return total
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in ps:
            p.grad *= p.grad.dtype.type(coef)
    return total


class Optimizer:
    """Base class: the parameter list, ``lr``, step counter and state I/O.

    Parameters
    ----------
    params : Module or iterable of Parameter
        What to optimise; a Module contributes ``module.parameters()``.
    lr : float
        Learning rate (>= 0).
    """

    #: names of the per-parameter buffers, in ``state_dict`` order
    _buffers: tuple[str, ...] = ()
    #: names of the hyper-parameters (attributes), in ``state_dict`` order
    _hyperparams: tuple[str, ...] = ("lr", "initial_lr")

    def __init__(self, params, lr: float) -> None:
        self.params: list[Parameter] = _as_params(params)
        if not self.params:
            raise ValueError("params: expected at least one Parameter, got an empty list")
        self.lr = check_float(lr, "lr", minimum=0.0)
        #: learning rate at construction, the schedulers' ``base_lr``
        self.initial_lr = self.lr
        self.step_count = 0
        self.state: dict[str, list[np.ndarray | None]] = {b: [None] * len(self.params) for b in self._buffers}

    def zero_grad(self) -> None:
        """Set every gradient to 0."""
        for p in self.params:
            p.grad.fill(0)

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def hyperparams(self) -> dict:
        """JSON-able hyper-parameters (``lr`` and the optimiser's own)."""
        return read_config(self, self._hyperparams)

    def state_dict(self) -> dict:
        """Copies of the step counter, hyper-parameters and buffers.

        Returns
        -------
        dict
            ``{"type": str, "step": int, "hyperparams": dict, "buffers":
            {"<buffer>.<index>": ndarray}}``; hyper-parameters are JSON-able,
            buffers are arrays, so :func:`fastlstm.train.io.save_checkpoint` can store it.
        """
        buffers = {
            f"{b}.{i}": arr.copy()
            for b in self._buffers
            for i, arr in enumerate(self.state[b])
            if arr is not None
        }
        return {
            "type": type(self).__name__,
            "step": self.step_count,
            "hyperparams": self.hyperparams(),
            "buffers": buffers,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned, checking type, count and shapes.

        Parameters
        ----------
        state : dict
            ``type``, ``step``, ``hyperparams`` and ``buffers``, as :meth:`state_dict` returns.

        Raises
        ------
        ValueError
            The state belongs to another optimiser type, or a buffer's index or
            shape does not match the parameters.
        """
        if not isinstance(state, dict) or not {"type", "step", "hyperparams", "buffers"} <= set(state):
            raise ValueError(
                "state: expected a dict with keys type, step, hyperparams, buffers, "
                f"got {type(state).__name__} {sorted(state) if isinstance(state, dict) else ''}"
            )
        if state["type"] != type(self).__name__:
            raise ValueError(
                f"state: expected the state of a {type(self).__name__}, got one of a {state['type']}"
            )
        new: dict[str, list[np.ndarray | None]] = {b: [None] * len(self.params) for b in self._buffers}
        for key, arr in state["buffers"].items():
            bname, _, idx = key.rpartition(".")
            if bname not in new or not idx.isdigit() or int(idx) >= len(self.params):
                raise ValueError(
                    f"state: unexpected buffer {key!r} for {type(self).__name__} "
                    f"with {len(self.params)} parameters"
                )
            p = self.params[int(idx)]
            arr = np.asarray(arr)
            if arr.shape != p.shape:
                raise ValueError(f"state: buffer {key!r} expected shape {p.shape}, got {arr.shape}")
            new[bname][int(idx)] = arr.astype(p.dtype, copy=True)
        hp = dict(state["hyperparams"])
        for name, value in hp.items():
            setattr(self, name, tuple(value) if isinstance(value, list) else value)
        self.step_count = int(state["step"])
        self.state = new

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams().items() if k != "initial_lr")
        return f"{type(self).__name__}({len(self.params)} parameters, {args})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    Parameters
    ----------
    params : Module or iterable of Parameter
    lr : float
        Learning rate.
    momentum : float
        Momentum factor ``mu`` (0 disables the buffer).
    dampening : float
        Dampening of the momentum update.
    weight_decay : float
        L2 penalty added to the gradient.
    nesterov : bool
        Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    """

    _buffers = ("momentum_buffer",)
    _hyperparams = (*Optimizer._hyperparams, "momentum", "dampening", "weight_decay", "nesterov")

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = check_float(momentum, "momentum", minimum=0.0)
        self.dampening = check_float(dampening, "dampening")
        self.weight_decay = check_float(weight_decay, "weight_decay", minimum=0.0)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                f"nesterov: expected momentum > 0 and dampening == 0, got momentum={self.momentum}, "
                f"dampening={self.dampening}"
            )

    def step(self) -> None:
        """Update every parameter once from its gradient."""
        self.step_count += 1
        bufs = self.state["momentum_buffer"]
        for i, p in enumerate(self.params):
            t = p.dtype.type
            d_p = p.grad
            if self.weight_decay != 0:
                d_p = d_p + t(self.weight_decay) * p.data
            if self.momentum != 0:
                buf = bufs[i]
                if buf is None:
                    buf = bufs[i] = d_p.copy()
                else:
                    buf *= t(self.momentum)
                    buf += t(1 - self.dampening) * d_p
                d_p = d_p + t(self.momentum) * buf if self.nesterov else buf
            p.data -= t(self.lr) * d_p


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with PyTorch's bias correction and L2 weight decay.

    Parameters
    ----------
    params : Module or iterable of Parameter
    lr : float
        Learning rate.
    betas : tuple of float
        Decay rates ``(b1, b2)`` of the first and second moment estimates.
    eps : float
        Added to the denominator.
    weight_decay : float, optional
        L2 penalty added to the gradient (use :class:`AdamW` for decoupled decay);
        default: the class's ``default_weight_decay``, 0 (PyTorch's).
    amsgrad : bool
        Use the running maximum of the second moment (Reddi et al., 2018).
    """

    _buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _hyperparams = (*Optimizer._hyperparams, "betas", "eps", "weight_decay", "amsgrad")
    #: decay the weights before the update (AdamW) instead of adding ``wd p`` to the gradient
    decoupled_weight_decay = False
    #: ``weight_decay`` when none is given
    default_weight_decay = 0.0

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float | None = None,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if weight_decay is None:
            weight_decay = self.default_weight_decay
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise TypeError(f"betas: expected a pair of floats, got {betas!r}")
        b1 = check_float(betas[0], "betas[0]", minimum=0.0, maximum=1.0, max_inclusive=False)
        b2 = check_float(betas[1], "betas[1]", minimum=0.0, maximum=1.0, max_inclusive=False)
        self.betas = (b1, b2)
        self.eps = check_float(eps, "eps", minimum=0.0)
        self.weight_decay = check_float(weight_decay, "weight_decay", minimum=0.0)
        self.amsgrad = bool(amsgrad)

    def step(self) -> None:
        """Update every parameter once from its gradient."""
        self.step_count += 1
        b1, b2 = self.betas
        step = self.step_count
        bc1 = 1 - b1**step
        bc2_sqrt = (1 - b2**step) ** 0.5
        step_size = self.lr / bc1
        m_all, v_all, vmax_all = self.state["exp_avg"], self.state["exp_avg_sq"], self.state["max_exp_avg_sq"]
        for i, p in enumerate(self.params):
            t = p.dtype.type
            g = p.grad
            if self.weight_decay != 0:
                if self.decoupled_weight_decay:
                    p.data *= t(1 - self.lr * self.weight_decay)
                else:
                    g = g + t(self.weight_decay) * p.data
            if m_all[i] is None:
                m_all[i] = np.zeros_like(p.data)
                v_all[i] = np.zeros_like(p.data)
                if self.amsgrad:
                    vmax_all[i] = np.zeros_like(p.data)
            m, v = m_all[i], v_all[i]
            m += t(1 - b1) * (g - m)
            v *= t(b2)
            v += t(1 - b2) * (g * g)
            if self.amsgrad:
                np.maximum(vmax_all[i], v, out=vmax_all[i])
                denom = np.sqrt(vmax_all[i]) / t(bc2_sqrt) + t(self.eps)
            else:
                denom = np.sqrt(v) / t(bc2_sqrt) + t(self.eps)
            p.data -= t(step_size) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Before the Adam update, ``p *= 1 - lr * weight_decay``. The arguments are
    :class:`Adam`'s; ``weight_decay`` defaults to PyTorch's 0.01.

    Parameters
    ----------
    params, lr, betas, eps
        As in :class:`Adam`.
    weight_decay : float, optional
        Decoupled weight decay; default: the class's ``default_weight_decay``, 0.01 (PyTorch's).
    amsgrad : bool
        As in :class:`Adam`.
    """

    decoupled_weight_decay = True
    default_weight_decay = 1e-2


_OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}


def get_optimizer(name: str, params, **kwargs) -> Optimizer:
    """Build an optimiser by name (``"sgd"``, ``"adam"``, ``"adamw"``)."""
    if not isinstance(name, str) or name.lower() not in _OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {sorted(_OPTIMIZERS)}, got {name!r}")
    return _OPTIMIZERS[name.lower()](params, **kwargs)
