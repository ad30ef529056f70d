"""Learning-rate schedules with ``torch.optim.lr_scheduler`` semantics.

A scheduler is built on an optimiser and changes ``optimizer.lr``; call
:meth:`~LRScheduler.step` once per epoch after the optimiser's steps
(:class:`ReduceLROnPlateau` takes the monitored value: ``step(val_loss)``).
The update formulas, including PyTorch's recursive (chainable) form of cosine
annealing, are the same as in PyTorch, so the learning-rate sequences agree to
rounding.

==================  =========================================================
scheduler           learning rate after ``e`` calls of ``step()``
==================  =========================================================
StepLR              ``base_lr * gamma ** (e // step_size)``
CosineAnnealingLR   ``eta_min + (base_lr - eta_min) (1 + cos(pi e / T_max)) / 2``
ReduceLROnPlateau   ``lr * factor`` after more than ``patience`` epochs without
                    improvement, never below ``min_lr``
==================  =========================================================
"""

from __future__ import annotations

import math

from .._validation import check_float, check_int
from .optim import Optimizer

__all__ = ["CosineAnnealingLR", "LRScheduler", "ReduceLROnPlateau", "StepLR"]


def _check_optimizer(optimizer) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a fastlstm.optim.Optimizer, got {type(optimizer).__name__}")
    return optimizer


class _SchedulerState:
    """``state_dict``/``load_state_dict`` shared by every scheduler."""

    def state_dict(self) -> dict:
        """JSON-able state: every attribute except the optimiser."""
        return {k: v for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output (keys are checked)."""
        expected = set(self.state_dict())
        if not isinstance(state, dict) or set(state) != expected:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"state: expected keys {sorted(expected)}, got {got}")
        self.__dict__.update(state)


class LRScheduler(_SchedulerState):
    """Base class for epoch-indexed schedules.

    Parameters
    ----------
    optimizer : Optimizer
        Its ``lr`` at construction is ``base_lr``.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = _check_optimizer(optimizer)
        self.base_lr = float(optimizer.lr)
        self.last_epoch = 0
        self.last_lr = float(optimizer.lr)

    def _next_lr(self, lr: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set ``optimizer.lr``."""
        self.last_epoch += 1
        self.optimizer.lr = float(self._next_lr(self.optimizer.lr))
        self.last_lr = self.optimizer.lr

    def get_last_lr(self) -> float:
        """The learning rate set by the last :meth:`step` (or the initial one)."""
        return self.last_lr

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.state_dict().items())
        return f"{type(self).__name__}({args})"


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Period (epochs) of the decay.
    gamma : float
        Multiplicative factor.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = check_int(step_size, "step_size", minimum=1)
        self.gamma = check_float(gamma, "gamma", minimum=0.0)

    def _next_lr(self, lr: float) -> float:
        if self.last_epoch % self.step_size != 0:
            return lr
        return lr * self.gamma


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from ``base_lr`` to ``eta_min`` over ``T_max`` epochs.

    Past ``T_max`` the rate rises again (the cosine is periodic with period
    ``2 T_max``), as in PyTorch.

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Epochs of one half period.
    eta_min : float
        Minimum learning rate.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
        super().__init__(optimizer)
        self.T_max = check_int(T_max, "T_max", minimum=1)
        self.eta_min = check_float(eta_min, "eta_min", minimum=0.0)

    def _next_lr(self, lr: float) -> float:
        e, T = self.last_epoch, self.T_max
        if (e - 1 - T) % (2 * T) == 0:
            return lr + (self.base_lr - self.eta_min) * (1 - math.cos(math.pi / T)) / 2
        return (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (
            lr - self.eta_min
        ) + self.eta_min


class ReduceLROnPlateau(_SchedulerState):
    """Reduce the learning rate when a monitored value stops improving.

    Parameters
    ----------
    optimizer : Optimizer
    mode : {"min", "max"}
        Whether lower or higher values are better.
    factor : float
        Multiplier (< 1) applied on a plateau.
    patience : int
        Epochs without improvement tolerated before reducing.
    threshold : float
        Least change that counts as an improvement.
    threshold_mode : {"rel", "abs"}
        ``rel``: better than ``best * (1 -/+ threshold)``; ``abs``: than
        ``best -/+ threshold``.
    cooldown : int
        Epochs to wait after a reduction before counting again.
    min_lr : float
        Lower bound on the learning rate.
    eps : float
        Reductions smaller than this are skipped.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        self.optimizer = _check_optimizer(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"mode: expected 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode: expected 'rel' or 'abs', got {threshold_mode!r}")
        self.mode = mode
        self.factor = check_float(factor, "factor", minimum=0.0, maximum=1.0, max_inclusive=False)
        self.patience = check_int(patience, "patience", minimum=0)
        self.threshold = check_float(threshold, "threshold", minimum=0.0)
        self.threshold_mode = threshold_mode
        self.cooldown = check_int(cooldown, "cooldown", minimum=0)
        self.min_lr = check_float(min_lr, "min_lr", minimum=0.0)
        self.eps = check_float(eps, "eps", minimum=0.0)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self.last_lr = float(optimizer.lr)

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < (
                best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold
            )
        return a > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metric: float) -> None:
        """Record one epoch's monitored value and reduce ``optimizer.lr`` on a plateau.

        Parameters
        ----------
        metric : float
            The monitored value (e.g. validation loss).
        """
        current = float(metric)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old = float(self.optimizer.lr)
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.optimizer.lr = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self.last_lr = float(self.optimizer.lr)

    def get_last_lr(self) -> float:
        """The learning rate after the last :meth:`step`."""
        return self.last_lr
