"""The inside of :meth:`Trainer.fit <fastlstm.train.Trainer.fit>`: one checked step, one epoch.

:func:`checked_step` runs the step in the fixed order of :mod:`fastlstm.train.trainer`
and checks the weights before it and the loss, gradient norm and weights after it;
:func:`run_epoch` draws the batches, cuts them into TBPTT chunks, steps, and does the
epoch's bookkeeping (history, best weights, scheduler, callbacks, early stopping). What
one epoch hands the next is a :class:`LoopState`, which is also what a checkpoint saves.

Both take the :class:`~fastlstm.train.Trainer` for its settings, model, optimiser and
callbacks, and data the trainer validated.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .optim import clip_grad_norm, grad_norm
from .schedules import ReduceLROnPlateau
from .sources import EpochSource

__all__ = ["History", "LoopState", "NonFiniteError", "checked_step", "run_epoch"]

#: the trainer's logger: the loop's messages come from the same logger as the rest of fit
logger = logging.getLogger("fastlstm.train.trainer")


class NonFiniteError(FloatingPointError):
    """A loss, gradient norm or weight became NaN or Inf during training.

    Parameters
    ----------
    what : str
        The ``what`` attribute.
    value : float
        The non-finite value (kept as ``value``).
    epoch, step : int
        The ``epoch`` and ``step`` attributes.

    Attributes
    ----------
    epoch : int
        Epoch (from 0) where it happened.
    step : int
        Optimiser step within the epoch (from 0).
    what : str
        ``"loss"``, ``"gradient"`` or ``"weights"`` (after the optimiser step,
        or found at the start of a step: changed by a callback or user code).
    """

    def __init__(self, what: str, value: float, epoch: int, step: int) -> None:
        self.what, self.value, self.epoch, self.step = what, value, epoch, step
        super().__init__(
            f"non-finite {what} ({value}) at epoch {epoch}, step {step}; the weights were left at their "
            f"last finite values. Lower the learning rate, set clip_norm, check the data for outliers, "
            f"or pass on_nonfinite='skip' to skip such steps."
        )


@dataclass
class History:
    """Per-epoch record of a :meth:`Trainer.fit` run.

    Attributes
    ----------
    loss : list of float
        Mean training loss per epoch (over the steps that were not skipped).
    val_loss : list of float
        Validation loss per epoch (empty without validation data).
    lr : list of float
        Learning rate used during each epoch.
    epoch_time : list of float
        Seconds per epoch.
    best_epoch : int or None
        Epoch with the best monitored loss (validation loss if any).
    stopped_early : bool
        Early stopping ended training.
    skipped_steps : int
        Steps skipped for non-finite values (``on_nonfinite="skip"``).
    """

    loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    skipped_steps: int = 0

    @property
    def epochs(self) -> int:
        return len(self.loss)


@dataclass
class LoopState:
    """What one epoch of ``fit`` hands the next, and what a checkpoint saves besides the trainer's.

    Attributes
    ----------
    rng : numpy.random.Generator
        The batch order's generator.
    data : tuple
        ``(x, y, x_val, y_val)``, validated (``x_val``, ``y_val`` may be None; ``x`` may be
        an :class:`~fastlstm.train.sources.EpochSource`, ``y`` then None).
    good : list of numpy.ndarray
        The weights after the last good step (restored when a step goes non-finite).
    next_epoch : int
        The epoch to run next.
    best : float
        Best monitored loss so far.
    best_state : dict or None
        The model's state at ``best`` (with validation data and ``restore_best``).
    bad_epochs : int
        Epochs since ``best`` improved.
    fingerprint : str or None
        SHA-256 of ``data``, computed by the first checkpoint.
    """

    rng: np.random.Generator
    data: tuple
    good: list
    next_epoch: int = 0
    best: float = math.inf
    best_state: dict | None = None
    bad_epochs: int = 0
    fingerprint: str | None = None


def _nonfinite(trainer, what: str, value: float, epoch: int, step: int) -> None:
    if trainer.on_nonfinite == "raise":
        raise NonFiniteError(what, value, epoch, step)
    logger.warning("skipping step %d of epoch %d: non-finite %s (%s)", step, epoch, what, value)
    trainer.history.skipped_steps += 1


def _weights_finite(params) -> bool:
    return all(np.isfinite(p.data).all() for p in params)


def _restore(params, good) -> None:
    for p, g in zip(params, good, strict=True):
        p.data[...] = g


def checked_step(trainer, loop: LoopState, xb, yb, state, epoch: int, step: int):
    """One optimiser step with its checks; returns (loss or None if skipped, grad norm, new state).

    Overflow is checked explicitly (loss, gradient norm, weights), so NumPy's
    floating-point warnings are silenced inside the step.
    """
    model, params, dp = trainer.model, trainer.params, trainer.data_parallel
    with np.errstate(over="ignore", invalid="ignore"):
        if not _weights_finite(params):  # changed since the last step: a callback, user code
            _restore(params, loop.good)
            _nonfinite(trainer, "weights", float("nan"), epoch, step)
            return None, float("nan"), None
        n_local = xb.shape[0]
        if dp is not None:
            xb, yb, n_local = dp.shard(xb, yb)  # this rank's rows (a stand-in row if none)
        if state is not None or trainer.tbptt is not None:
            pred, new_state = model.forward(xb, state=state, return_state=True)
            new_state = (np.array(new_state[0], copy=True), np.array(new_state[1], copy=True))
        else:
            pred, new_state = model.forward(xb), None
        loss_fn = trainer.loss_fn
        loss = loss_fn.forward(pred, yb)
        if dp is None and not math.isfinite(loss):
            _nonfinite(trainer, "loss", loss, epoch, step)
            return None, float("nan"), new_state
        trainer.optimizer.zero_grad()
        if math.isfinite(loss):
            try:
                model.backward(loss_fn.backward())
            except FloatingPointError:
                # an overflow inside the model's backward: make the gradient
                # non-finite so the check below (after the all-reduce) sees it
                params[0].grad.fill(np.nan)
        if dp is not None:
            # one Allreduce: whole-batch mean gradients and loss on every rank; a
            # non-finite loss on any rank is non-finite everywhere, so all ranks agree
            loss = dp.reduce(params, loss, n_local, getattr(loss_fn, "reduction", "mean"))
            if not math.isfinite(loss):
                _nonfinite(trainer, "loss", loss, epoch, step)
                return None, float("nan"), new_state
        clip = trainer.clip_norm
        gnorm = clip_grad_norm(params, clip) if clip is not None else grad_norm(params)
        if not math.isfinite(gnorm):
            _nonfinite(trainer, "gradient", gnorm, epoch, step)
            return None, gnorm, new_state
        opt_state = trainer.optimizer.state_dict()
        trainer.optimizer.step()
        if not _weights_finite(params):
            _restore(params, loop.good)  # undo the step: weights, moments and step count
            trainer.optimizer.load_state_dict(opt_state)
            _nonfinite(trainer, "weights", float("nan"), epoch, step)
            return None, gnorm, new_state
        for p, g in zip(params, loop.good, strict=True):
            np.copyto(g, p.data)
        return loss, gnorm, new_state


def _chunk_slices(tbptt: int | None, T: int):
    if tbptt is None:
        return [None]
    return [slice(t, t + tbptt) for t in range(0, T, tbptt)]


def _train_epoch(trainer, loop: LoopState, epoch: int) -> float:
    """The epoch's steps; returns the mean training loss (NaN if every step was skipped)."""
    x, y = loop.data[:2]
    if isinstance(x, EpochSource):  # this epoch's samples, drawn before the batch order
        x, y = x.epoch(loop.rng)
    n = x.shape[0]
    order = loop.rng.permutation(n) if trainer.shuffle else np.arange(n)
    total, count, step = 0.0, 0, 0
    for s in range(0, n, trainer.batch_size):
        idx = order[s : s + trainer.batch_size]
        xb, yb = x[idx], y[idx]
        state = None
        for sl in _chunk_slices(trainer.tbptt, x.shape[1] if x.ndim == 3 else 1):
            xc, yc = (xb, yb) if sl is None else (xb[:, sl], yb[:, sl])
            loss, gnorm, state = checked_step(trainer, loop, xc, yc, state, epoch, step)
            skipped = loss is None
            if skipped:
                state = None  # do not carry a state that may hold NaN
            else:
                total += loss * xc.shape[0]
                count += xc.shape[0]
            trainer.global_step += 1
            logs = {"epoch": epoch, "step": step, "loss": loss, "grad_norm": gnorm, "skipped": skipped}
            for cb in trainer.callbacks:
                cb.on_batch_end(trainer, logs)
            step += 1
    return total / count if count else float("nan")


def run_epoch(trainer, loop: LoopState, epoch: int, bar=None) -> bool:
    """Train one epoch and do its bookkeeping; returns True when training should stop."""
    trainer.epoch = epoch
    t0 = time.perf_counter()
    lr = trainer.optimizer.lr
    train_loss = _train_epoch(trainer, loop, epoch)
    x_val, y_val = loop.data[2:]
    val_loss = trainer._mean_loss(x_val, y_val) if x_val is not None else None
    h = trainer.history
    h.loss.append(train_loss)
    h.lr.append(lr)
    if val_loss is not None:
        h.val_loss.append(val_loss)
    monitored = val_loss if val_loss is not None else train_loss
    if math.isfinite(monitored) and monitored < loop.best - trainer.min_delta:
        loop.best, loop.bad_epochs, h.best_epoch = monitored, 0, epoch
        if x_val is not None and trainer.restore_best:
            loop.best_state = trainer.model.state_dict()
    else:
        loop.bad_epochs += 1
    if trainer.scheduler is not None:
        if isinstance(trainer.scheduler, ReduceLROnPlateau):
            trainer.scheduler.step(monitored)
        else:
            trainer.scheduler.step()
    h.epoch_time.append(time.perf_counter() - t0)
    loop.next_epoch = epoch + 1
    logs = {"epoch": epoch, "loss": train_loss, "val_loss": val_loss, "lr": lr, "time": h.epoch_time[-1]}
    logger.debug("epoch %d: loss %.6g val_loss %s lr %.3g", epoch, train_loss, val_loss, lr)
    for cb in trainer.callbacks:
        cb.on_epoch_end(trainer, logs)
    if bar is not None:
        bar.update(1)
        bar.set_postfix(
            loss=f"{train_loss:.4g}",
            **({"val": f"{val_loss:.4g}"} if val_loss is not None else {}),
        )
    if trainer.patience is not None and loop.bad_epochs > trainer.patience:
        h.stopped_early = True
        logger.info("early stopping after epoch %d (best epoch %s)", epoch, h.best_epoch)
        return True
    return trainer.stop_training
