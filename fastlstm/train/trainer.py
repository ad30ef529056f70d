"""The training loop: mini-batches, clipping, schedules, early stopping, TBPTT.

One step always runs in this order (minGPT's order)::

    pred = model.forward(x_batch)          # training mode
    loss = loss_fn.forward(pred, y_batch)  # non-finite -> on_nonfinite
    optimizer.zero_grad()
    model.backward(loss_fn.backward())     # BPTT
    clip_grad_norm(params, clip_norm)      # non-finite norm -> on_nonfinite
    optimizer.step()                       # non-finite weights -> undone, on_nonfinite
    callbacks: on_batch_end

and after each epoch: validation loss, scheduler step, early-stopping check,
callbacks ``on_epoch_end``. Mini-batches are drawn by a
:class:`numpy.random.Generator` seeded with ``seed``, so the same seed, data
and initial weights give bit-identical trained weights.

Faults: before each step the weights are checked (a callback or user code
may have changed them) and after it the loss, gradient norm and new weights;
a NaN or Inf raises :class:`NonFiniteError` naming the epoch and step, or
(``on_nonfinite="skip"``) skips the step. Either way the model and the
optimiser keep their last finite state: the weights after the last good step
and the optimiser's moments and step count from before the failed one.

Checkpoints: :meth:`Trainer.save_checkpoint` (or :class:`CheckpointCallback`
at the end of every epoch) writes the whole training state (weights,
optimiser, scheduler, epoch, the batch-order and dropout random states,
early-stopping bookkeeping, history) in the :mod:`fastlstm.io` format;
``fit(..., resume_from=path)`` continues from it and ends with the same
weights, bit for bit, as a run that was never interrupted.

Truncated BPTT (``tbptt=k``) cuts each batch of sequences into chunks of ``k``
steps: forward on a chunk starting from the previous chunk's final state
(its values, not its gradients), backward, step, next chunk.

A model is anything with ``forward(x)``, ``backward(d_pred)``,
``parameters()``, ``train()``/``eval()``, ``state_dict()``/``load_state_dict()``
(e.g. :class:`fastlstm.nn.LSTMRegressor`); with ``tbptt`` it must also accept
``forward(x, state=..., return_state=True)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from .._validation import as_float_array, check_bool, check_float, check_int, check_seed
from ..nn.losses import get_loss
from . import io as _io
from .optim import Adam, Optimizer, clip_grad_norm, grad_norm
from .schedules import ReduceLROnPlateau

__all__ = ["Callback", "CheckpointCallback", "History", "LambdaCallback", "NonFiniteError", "Trainer", "fit"]

logger = logging.getLogger(__name__)


class NonFiniteError(FloatingPointError):
    """A loss, gradient norm or weight became NaN or Inf during training.

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


class Callback:
    """Base class of training callbacks; override what you need.

    A callback may set ``trainer.stop_training = True`` to end training after
    the current epoch.
    """

    def on_train_begin(self, trainer: Trainer) -> None:
        """Called once before the first epoch."""

    def on_batch_end(self, trainer: Trainer, logs: dict) -> None:
        """Called after each optimiser step (``logs``: epoch, step, loss, grad_norm, skipped)."""

    def on_epoch_end(self, trainer: Trainer, logs: dict) -> None:
        """Called after each epoch (``logs``: epoch, loss, val_loss, lr, time)."""

    def on_train_end(self, trainer: Trainer) -> None:
        """Called once after training (also after early stopping)."""


class LambdaCallback(Callback):
    """A callback from plain functions ``f(trainer, logs)``.

    Parameters
    ----------
    on_batch_end, on_epoch_end : callable, optional
    """

    def __init__(self, on_batch_end=None, on_epoch_end=None) -> None:
        self._batch, self._epoch = on_batch_end, on_epoch_end

    def on_batch_end(self, trainer, logs):
        if self._batch is not None:
            self._batch(trainer, logs)

    def on_epoch_end(self, trainer, logs):
        if self._epoch is not None:
            self._epoch(trainer, logs)


class CheckpointCallback(Callback):
    """Write the training state with :meth:`Trainer.save_checkpoint` every ``every`` epochs.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; ``{epoch}`` in it is replaced by the epoch number (from 0)
        to keep one file per epoch, otherwise each write replaces the last
        (atomically: a crash mid-write leaves the previous checkpoint intact).
    every : int
        Epochs between writes.

    Examples
    --------
    >>> trainer = Trainer(model, callbacks=[CheckpointCallback("run.npz")])  # doctest: +SKIP
    >>> trainer.fit(x, y)                          # killed after some epochs  # doctest: +SKIP
    >>> trainer.fit(x, y, resume_from="run.npz")  # same weights as one uninterrupted run  # doctest: +SKIP
    """

    def __init__(self, path, every: int = 1) -> None:
        self.path = os.fspath(path)
        self.every = check_int(every, "every", minimum=1)

    def on_epoch_end(self, trainer, logs):
        if (logs["epoch"] + 1) % self.every == 0:
            trainer.save_checkpoint(self.path.replace("{epoch}", str(logs["epoch"])))


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


def _model_dtype(model) -> np.dtype:
    dt = getattr(model, "dtype", None)
    if dt is None:
        ps = model.parameters()
        dt = ps[0].dtype if ps else np.float64
    return np.dtype(dt)


class Trainer:
    """Fit a model with mini-batch gradient descent.

    Parameters
    ----------
    model : Module
        See the module docstring for the protocol.
    loss : Loss or str
        ``"mse"``, ``"mae"``, ``"huber"`` or a :class:`~fastlstm.losses.Loss`.
    optimizer : Optimizer, optional
        Default: :class:`~fastlstm.optim.Adam` with ``lr=1e-3``.
    scheduler : LRScheduler or ReduceLROnPlateau, optional
        Stepped once per epoch (``ReduceLROnPlateau`` with the validation loss,
        or the training loss without validation data).
    epochs : int
        Maximum number of epochs.
    batch_size : int
        Samples per step (the last batch of an epoch may be smaller).
    shuffle : bool
        Draw batches in a random order each epoch.
    clip_norm : float, optional
        Clip the global gradient norm to this value.
    seed : int, optional
        Seed of the batch order.
    patience : int, optional
        Stop after this many epochs without improvement of the validation loss
        by more than ``min_delta`` (early stopping; needs validation data).
    min_delta : float
        Least improvement that resets the patience counter.
    restore_best : bool
        With validation data, end with the weights of the best epoch.
    tbptt : int, optional
        Truncated BPTT chunk length (``y`` must have a time axis like ``x``).
    on_nonfinite : {"raise", "skip"}
        On a NaN/Inf loss, gradient norm or weight: raise :class:`NonFiniteError`
        naming the epoch and step, or skip that step. Either way the weights
        keep their last finite values.
    callbacks : list of Callback
    progress : bool
        Show a tqdm progress bar over epochs (needs ``pip install fastlstm[progress]``).
    comm : mpi4py.MPI.Intracomm, optional
        Synchronous data-parallel training over MPI (``pip install fastlstm[mpi]``):
        every rank runs the same script on the same data, each step's batch is
        split across the ranks and their gradients are averaged with one
        ``Allreduce`` (see :mod:`fastlstm.distributed`); weights, losses and
        early-stopping decisions are identical on every rank, and only rank 0
        shows progress. ``None`` (default) never imports MPI.

    Attributes
    ----------
    data_parallel : fastlstm.distributed.DataParallel or None
        Built from ``comm``.
    history : History
        The last :meth:`fit`'s record.
    """

    def __init__(
        self,
        model,
        loss="mse",
        optimizer: Optimizer | None = None,
        scheduler=None,
        *,
        epochs: int = 100,
        batch_size: int = 32,
        shuffle: bool = True,
        clip_norm: float | None = None,
        seed: int | None = None,
        patience: int | None = None,
        min_delta: float = 0.0,
        restore_best: bool = True,
        tbptt: int | None = None,
        on_nonfinite: str = "raise",
        callbacks=(),
        progress: bool = False,
        comm=None,
    ) -> None:
        for attr in ("forward", "backward", "parameters"):
            if not callable(getattr(model, attr, None)):
                raise TypeError(
                    f"model: expected an object with a {attr}() method, got {type(model).__name__}"
                )
        self.model = model
        self.loss_fn = get_loss(loss)
        self.optimizer = optimizer if optimizer is not None else Adam(model.parameters(), lr=1e-3)
        if not isinstance(self.optimizer, Optimizer):
            raise TypeError(f"optimizer: expected a fastlstm.optim.Optimizer, got {type(optimizer).__name__}")
        self.scheduler = scheduler
        self.epochs = check_int(epochs, "epochs", minimum=1)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.shuffle = check_bool(shuffle, "shuffle")
        self.clip_norm = (
            None
            if clip_norm is None
            else check_float(clip_norm, "clip_norm", minimum=0.0, min_inclusive=False)
        )
        self.seed = check_seed(seed)
        self.patience = None if patience is None else check_int(patience, "patience", minimum=0)
        self.min_delta = check_float(min_delta, "min_delta", minimum=0.0)
        self.restore_best = check_bool(restore_best, "restore_best")
        self.tbptt = None if tbptt is None else check_int(tbptt, "tbptt", minimum=1)
        if on_nonfinite not in ("raise", "skip"):
            raise ValueError(f"on_nonfinite: expected 'raise' or 'skip', got {on_nonfinite!r}")
        self.on_nonfinite = on_nonfinite
        self.callbacks = list(callbacks)
        for i, cb in enumerate(self.callbacks):
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks[{i}]: expected a Callback, got {type(cb).__name__}")
        self.progress = check_bool(progress, "progress")
        self.comm = comm
        self.data_parallel = None
        if comm is not None:
            from .distributed import DataParallel

            self.data_parallel = DataParallel(comm)
        self.stop_training = False
        self.history = History()
        self.epoch = 0
        self.global_step = 0
        self._loop: dict | None = None  # the fit loop's state, for save_checkpoint
        self._good: list | None = None  # the weights after the last good step

    # helpers ------------------------------------------------------------------
    def _nonfinite(self, what: str, value: float, epoch: int, step: int) -> None:
        if self.on_nonfinite == "raise":
            raise NonFiniteError(what, value, epoch, step)
        logger.warning("skipping step %d of epoch %d: non-finite %s (%s)", step, epoch, what, value)
        self.history.skipped_steps += 1

    def _step(self, xb, yb, state, epoch: int, step: int):
        """One optimiser step; returns (loss or None if skipped, grad norm, new state).

        Overflow is checked explicitly below (loss, gradient norm, weights), so
        NumPy's floating-point warnings are silenced inside the step.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            return self._step_unchecked(xb, yb, state, epoch, step)

    def _weights_finite(self) -> bool:
        return all(np.isfinite(p.data).all() for p in self.params)

    def _restore_good(self) -> None:
        for p, good in zip(self.params, self._good, strict=True):
            p.data[...] = good

    def _step_unchecked(self, xb, yb, state, epoch: int, step: int):
        model, params, dp = self.model, self.params, self.data_parallel
        if not self._weights_finite():  # changed since the last step: a callback, user code
            self._restore_good()
            self._nonfinite("weights", float("nan"), epoch, step)
            return None, float("nan"), None
        n_local = xb.shape[0]
        if dp is not None:
            xb, yb, n_local = dp.shard(xb, yb)  # this rank's rows (a stand-in row if none)
        if state is not None or self.tbptt is not None:
            pred, new_state = model.forward(xb, state=state, return_state=True)
            new_state = (np.array(new_state[0], copy=True), np.array(new_state[1], copy=True))
        else:
            pred, new_state = model.forward(xb), None
        loss = self.loss_fn.forward(pred, yb)
        if dp is None and not math.isfinite(loss):
            self._nonfinite("loss", loss, epoch, step)
            return None, float("nan"), new_state
        self.optimizer.zero_grad()
        if math.isfinite(loss):
            try:
                model.backward(self.loss_fn.backward())
            except FloatingPointError:
                # an overflow inside the model's backward: make the gradient
                # non-finite so the check below (after the all-reduce) sees it
                params[0].grad.fill(np.nan)
        if dp is not None:
            # one Allreduce: whole-batch mean gradients and loss on every rank; a
            # non-finite loss on any rank is non-finite everywhere, so all ranks agree
            loss = dp.reduce(params, loss, n_local, getattr(self.loss_fn, "reduction", "mean"))
            if not math.isfinite(loss):
                self._nonfinite("loss", loss, epoch, step)
                return None, float("nan"), new_state
        gnorm = clip_grad_norm(params, self.clip_norm) if self.clip_norm is not None else grad_norm(params)
        if not math.isfinite(gnorm):
            self._nonfinite("gradient", gnorm, epoch, step)
            return None, gnorm, new_state
        opt_state = self.optimizer.state_dict()
        self.optimizer.step()
        if not self._weights_finite():
            self._restore_good()  # undo the step: weights, moments and step count
            self.optimizer.load_state_dict(opt_state)
            self._nonfinite("weights", float("nan"), epoch, step)
            return None, gnorm, new_state
        for p, good in zip(params, self._good, strict=True):
            np.copyto(good, p.data)
        return loss, gnorm, new_state

    def evaluate(self, x, y, batch_size: int | None = None) -> float:
        """Mean loss of the model on ``(x, y)`` in evaluation mode (no caching).

        Parameters
        ----------
        x, y : numpy.ndarray
            Samples on axis 0.
        batch_size : int, optional
            Evaluate in chunks of this many samples (default: all at once).

        Returns
        -------
        float
        """
        dtype = _model_dtype(self.model)
        x = as_float_array(x, "x", dtype=dtype, cast=True)
        y = as_float_array(y, "y", dtype=dtype, cast=True)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"y: expected {x.shape[0]} samples (as in x), got {y.shape[0]}")
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        try:
            n = x.shape[0]
            bs = batch_size or n
            total = 0.0
            for s in range(0, n, bs):
                pred = self.model.forward(x[s : s + bs])
                total += self.loss_fn.forward(pred, y[s : s + bs]) * min(bs, n - s)
            return total / n
        finally:
            self.model.train(was_training)

    def _check_against_model(self, x: np.ndarray, y: np.ndarray, xname: str, yname: str) -> None:
        """Errors that name the user's arguments, before any step, for a model with
        an ``input_size`` (the LSTM models): x must be ``(N, T, input_size)``, and
        ``y`` must have the shape of the model's output for one sample."""
        model = self.model
        in_size = getattr(model, "input_size", None)
        if not isinstance(in_size, int):
            return
        if x.ndim != 3 or x.shape[2] != in_size:
            raise ValueError(
                f"{xname}: expected shape (N, T, {in_size}) (samples, time steps, the model's "
                f"input_size={in_size} features), got {x.shape}"
            )
        if not (callable(getattr(model, "eval", None)) and callable(getattr(model, "train", None))):
            return
        was_training = getattr(model, "training", True)
        model.eval()  # no tape, no dropout: the probe changes no state
        try:
            out = model.forward(x[:1])
        finally:
            model.train(was_training)
        if isinstance(out, np.ndarray) and y.shape[1:] != out.shape[1:]:
            want = "(N" + "".join(f", {d}" for d in out.shape[1:]) + ")"
            raise ValueError(f"{yname}: expected shape {want} to match the model's output, got {y.shape}")

    # checkpoints --------------------------------------------------------------
    def _settings(self) -> dict:
        """What must be the same for a resumed run to continue the checkpointed one."""
        return {
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "clip_norm": self.clip_norm,
            "tbptt": self.tbptt,
            "loss": self.loss_fn.get_config(),
            "optimizer": type(self.optimizer).__name__,
            "scheduler": None if self.scheduler is None else type(self.scheduler).__name__,
            "min_delta": self.min_delta,
            "restore_best": self.restore_best,
        }

    def save_checkpoint(self, path) -> str:
        """Write the whole training state to one checkpoint file (:mod:`fastlstm.io` format).

        Call it from a callback's ``on_epoch_end`` (see :class:`CheckpointCallback`)
        to checkpoint after every epoch; ``fit(..., resume_from=path)`` then
        continues exactly where it left off. Saved: the model's weights, the
        optimiser's buffers, step count and hyper-parameters, the scheduler's
        state, the next epoch, the global step, the batch-order generator's
        state and that of every ``numpy.random.Generator`` attribute of the
        model's modules (dropout masks), the early-stopping bookkeeping (best
        loss and weights, epochs without improvement), the history, the trainer
        settings and a SHA-256 fingerprint of the training data. The write is
        atomic.

        A checkpoint written after ``fit`` returned holds the returned weights
        (the best epoch's with ``restore_best``), so resuming from it is exact
        only when those are the last epoch's weights.

        With ``comm``, rank 0 writes and every rank returns when it is done.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        str
            The path written.
        """
        if self._loop is None:
            raise RuntimeError("save_checkpoint: call fit first (there is no training state to save)")
        loop = self._loop
        if loop["fingerprint"] is None:
            loop["fingerprint"] = _fingerprint(loop["data"])
        arrays = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        opt = self.optimizer.state_dict()
        arrays.update({f"optimizer.{k}": v for k, v in opt["buffers"].items()})
        if loop["best_state"] is not None:
            arrays.update({f"best.{k}": v for k, v in loop["best_state"].items()})
        h = dataclasses.asdict(self.history)
        config = {
            "settings": self._settings(),
            "data": loop["fingerprint"],
            "next_epoch": loop["next_epoch"],
            "global_step": self.global_step,
            "best": loop["best"],
            "bad_epochs": loop["bad_epochs"],
            "has_best_state": loop["best_state"] is not None,
            "history": h,
            "optimizer": {k: v for k, v in opt.items() if k != "buffers"},
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": _jsonable(loop["rng"].bit_generator.state),
            "module_rngs": {k: _jsonable(g.bit_generator.state) for k, g in _generators(self.model).items()},
        }
        if self.comm is not None:
            from .distributed import on_root

            return on_root(self.comm, _io.save_checkpoint, path, _CKPT_KIND, arrays, config)
        return _io.save_checkpoint(path, _CKPT_KIND, arrays, config)

    def _resume(self, path, rng, data):
        """Restore what :meth:`save_checkpoint` wrote; returns (best, best_state, bad_epochs, start)."""
        ckpt = _io.load_checkpoint(path, kind=_CKPT_KIND)
        where = os.fspath(path)
        cfg, arrays = ckpt.config, ckpt.arrays
        try:
            saved = cfg["settings"]
            mine = self._settings()
            diff = sorted(k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k))
            if diff:
                detail = ", ".join(f"{k}: saved {saved.get(k)!r}, now {mine.get(k)!r}" for k in diff)
                raise ValueError(f"resume_from: {where} was written with other trainer settings ({detail})")
            if cfg["data"] != _fingerprint(data):
                raise ValueError(
                    f"resume_from: {where} was written while training on other data (x, y or the "
                    "validation data differ); resume with the same arrays"
                )
            gens = _generators(self.model)
            if set(gens) != set(cfg["module_rngs"]):
                raise ValueError(f"resume_from: {where} holds the random states of another model")

            def part(prefix):
                return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}

            try:
                self.model.load_state_dict(part("model."))
            except KeyError as exc:
                raise ValueError(f"resume_from: {where}: {exc.args[0]}") from exc
            self.optimizer.load_state_dict({**cfg["optimizer"], "buffers": part("optimizer.")})
            if self.scheduler is not None:
                self.scheduler.load_state_dict(cfg["scheduler"])
            rng.bit_generator.state = cfg["rng"]
            for k, g in gens.items():
                g.bit_generator.state = cfg["module_rngs"][k]
            self.history = History(**cfg["history"])
            self.global_step = int(cfg["global_step"])
            best_state = part("best.") if cfg["has_best_state"] else None
            return float(cfg["best"]), best_state, int(cfg["bad_epochs"]), int(cfg["next_epoch"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"resume_from: {where}: inconsistent trainer checkpoint ({type(exc).__name__}: {exc})"
            ) from exc

    # the loop -----------------------------------------------------------------
    def fit(
        self,
        x,
        y,
        *,
        validation_data: tuple | None = None,
        val_split: float | int | None = None,
        resume_from=None,
    ) -> History:
        """Train on samples ``x`` with targets ``y``.

        Parameters
        ----------
        x : numpy.ndarray, shape (N, ...)
            Model inputs, samples on axis 0 (e.g. ``(N, T, I)``); real values,
            converted to the model's dtype; NaN or Inf raise ``ValueError``.
        y : numpy.ndarray, shape (N, ...)
            Targets, samples on axis 0, shaped like the model's output.
        validation_data : tuple (x_val, y_val), optional
            Held-out samples for early stopping and ``restore_best``.
        val_split : float or int, optional
            Instead of ``validation_data``, hold out the *last* samples (a
            fraction in ``(0, 1)`` or a count): for time-ordered windows, the
            most recent ones.
        resume_from : str or os.PathLike, optional
            A checkpoint written by :meth:`save_checkpoint` during an earlier
            ``fit`` on the same data with the same settings: restore the model,
            optimiser, scheduler, random states and history, then train the
            remaining epochs up to ``epochs``. The result is bit-identical to
            an uninterrupted run.

        Returns
        -------
        History

        Raises
        ------
        TypeError, ValueError
            Bad data (dtype, shape, NaN/Inf, a feature count or target shape
            that does not fit the model), or a ``resume_from`` checkpoint that
            does not match this trainer, model or data.
        NonFiniteError
            A NaN or Inf during training with ``on_nonfinite="raise"``.
        """
        dtype = _model_dtype(self.model)
        bad = [name for name, p in _named_params(self.model) if not np.isfinite(p.data).all()]
        if bad:
            raise ValueError(f"model: expected finite parameters before training, got NaN or Inf in {bad}")
        x = as_float_array(x, "x", dtype=dtype, cast=True, ndim=(2, 3))
        y = as_float_array(y, "y", dtype=dtype, cast=True)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"y: expected {x.shape[0]} samples (as in x), got {y.shape[0]}")
        self._check_against_model(x, y, "x", "y")
        if validation_data is not None and val_split is not None:
            raise ValueError("val_split: expected None when validation_data is given, got both")
        if val_split is not None:
            n_val = self._n_val(val_split, x.shape[0])
            x, y, validation_data = x[:-n_val], y[:-n_val], (x[-n_val:], y[-n_val:])
        x_val = y_val = None
        if validation_data is not None:
            if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
                raise TypeError(
                    f"validation_data: expected a pair (x_val, y_val), got {type(validation_data).__name__}"
                )
            x_val = as_float_array(validation_data[0], "x_val", dtype=dtype, cast=True)
            y_val = as_float_array(validation_data[1], "y_val", dtype=dtype, cast=True)
            if y_val.shape[0] != x_val.shape[0]:
                raise ValueError(
                    f"y_val: expected {x_val.shape[0]} samples (as in x_val), got {y_val.shape[0]}"
                )
            self._check_against_model(x_val, y_val, "x_val", "y_val")
        if self.patience is not None and x_val is None:
            raise ValueError("patience: early stopping needs validation_data or val_split, got neither")
        if self.tbptt is not None and (y.ndim < 3 or y.shape[1] != x.shape[1]):
            raise ValueError(
                f"y: with tbptt, expected a time axis matching x's {x.shape[1]} steps (shape (N, T, O)), "
                f"got shape {y.shape}"
            )

        self.params = self.model.parameters()
        self.history = History()
        self.stop_training = False
        seed = self.seed
        if self.data_parallel is not None:  # same weights, data check and seed on every rank
            arrays = {"x": x, "y": y}
            if x_val is not None:
                arrays.update(x_val=x_val, y_val=y_val)
            seed = self.data_parallel.prepare(self.params, seed, **arrays)
        rng = np.random.default_rng(seed)
        n = x.shape[0]
        best, best_state, bad_epochs, start = math.inf, None, 0, 0
        data = (x, y, x_val, y_val)
        if resume_from is not None:
            best, best_state, bad_epochs, start = self._resume(resume_from, rng, data)
        self._good = [p.data.copy() for p in self.params]
        self._loop = {"rng": rng, "next_epoch": start, "best": best, "best_state": best_state}
        self._loop.update(bad_epochs=bad_epochs, data=data, fingerprint=None)
        if self.patience is not None and bad_epochs > self.patience:
            self.history.stopped_early = True  # the checkpointed run stopped here
            start = self.epochs
        show = self.progress and (self.data_parallel is None or self.data_parallel.is_root)
        bar = _progress_bar(self.epochs) if show else None
        if bar is not None and start:
            bar.update(min(start, self.epochs))
        self.model.train()
        for cb in self.callbacks:
            cb.on_train_begin(self)
        try:
            for epoch in range(start, self.epochs):
                self.epoch = epoch
                t0 = time.perf_counter()
                lr = self.optimizer.lr
                order = rng.permutation(n) if self.shuffle else np.arange(n)
                total, count, step = 0.0, 0, 0
                for s in range(0, n, self.batch_size):
                    idx = order[s : s + self.batch_size]
                    xb, yb = x[idx], y[idx]
                    state = None
                    for sl in self._chunk_slices(x.shape[1] if x.ndim == 3 else 1):
                        xc, yc = (xb, yb) if sl is None else (xb[:, sl], yb[:, sl])
                        loss, gnorm, state = self._step(xc, yc, state, epoch, step)
                        skipped = loss is None
                        if skipped:
                            state = None  # do not carry a state that may hold NaN
                        else:
                            total += loss * xc.shape[0]
                            count += xc.shape[0]
                        self.global_step += 1
                        logs = {
                            "epoch": epoch,
                            "step": step,
                            "loss": loss,
                            "grad_norm": gnorm,
                            "skipped": skipped,
                        }
                        for cb in self.callbacks:
                            cb.on_batch_end(self, logs)
                        step += 1
                train_loss = total / count if count else float("nan")
                val_loss = self.evaluate(x_val, y_val) if x_val is not None else None
                h = self.history
                h.loss.append(train_loss)
                h.lr.append(lr)
                if val_loss is not None:
                    h.val_loss.append(val_loss)
                monitored = val_loss if val_loss is not None else train_loss
                if math.isfinite(monitored) and monitored < best - self.min_delta:
                    best, bad_epochs, h.best_epoch = monitored, 0, epoch
                    if x_val is not None and self.restore_best:
                        best_state = self.model.state_dict()
                else:
                    bad_epochs += 1
                if self.scheduler is not None:
                    if isinstance(self.scheduler, ReduceLROnPlateau):
                        self.scheduler.step(monitored)
                    else:
                        self.scheduler.step()
                h.epoch_time.append(time.perf_counter() - t0)
                self._loop.update(
                    next_epoch=epoch + 1, best=best, best_state=best_state, bad_epochs=bad_epochs
                )
                logs = {
                    "epoch": epoch,
                    "loss": train_loss,
                    "val_loss": val_loss,
                    "lr": lr,
                    "time": h.epoch_time[-1],
                }
                logger.debug("epoch %d: loss %.6g val_loss %s lr %.3g", epoch, train_loss, val_loss, lr)
                for cb in self.callbacks:
                    cb.on_epoch_end(self, logs)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(
                        loss=f"{train_loss:.4g}",
                        **({"val": f"{val_loss:.4g}"} if val_loss is not None else {}),
                    )
                if self.patience is not None and bad_epochs > self.patience:
                    h.stopped_early = True
                    logger.info("early stopping after epoch %d (best epoch %s)", epoch, h.best_epoch)
                    break
                if self.stop_training:
                    break
        finally:
            if bar is not None:
                bar.close()
        if best_state is not None:
            self.model.load_state_dict(best_state)
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def _chunk_slices(self, T: int):
        if self.tbptt is None:
            return [None]
        return [slice(t, t + self.tbptt) for t in range(0, T, self.tbptt)]

    @staticmethod
    def _n_val(val_split, n: int) -> int:
        if isinstance(val_split, float):
            check_float(
                val_split, "val_split", minimum=0.0, maximum=1.0, min_inclusive=False, max_inclusive=False
            )
            n_val = int(round(val_split * n))
        else:
            n_val = check_int(val_split, "val_split", minimum=1)
        if not 1 <= n_val < n:
            raise ValueError(
                f"val_split: expected to hold out between 1 and {n - 1} of {n} samples, got {n_val}"
            )
        return n_val


_CKPT_KIND = "trainer"


def _fingerprint(data) -> str:
    """SHA-256 over the shapes, dtypes and bytes of the training (and validation) arrays."""
    h = hashlib.sha256()
    for arr in data:
        if arr is None:
            h.update(b"none;")
            continue
        h.update(f"{arr.dtype.str}{arr.shape};".encode())
        h.update(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))
    return h.hexdigest()


def _named_params(model) -> list:
    named = getattr(model, "named_parameters", None)
    if callable(named):
        return list(named())
    return [(str(i), p) for i, p in enumerate(model.parameters())]


def _generators(model) -> dict:
    """Every ``numpy.random.Generator`` attribute of the model and its sub-modules, by path."""
    out, stack = {}, [("", model)]
    while stack:
        prefix, m = stack.pop()
        for name, value in vars(m).items():
            if isinstance(value, np.random.Generator):
                out[prefix + name] = value
        for name, sub in getattr(m, "_modules", {}).items():
            stack.append((f"{prefix}{name}.", sub))
    return out


def _jsonable(value):
    """A bit generator's state with arrays and NumPy integers as plain lists and ints."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    return value


def _progress_bar(total: int):
    try:
        from tqdm import tqdm
    except ImportError as exc:
        raise ImportError("progress=True needs tqdm: pip install fastlstm[progress]") from exc
    return tqdm(total=total, unit="epoch", leave=False)


def fit(model, x, y, *, validation_data=None, val_split=None, resume_from=None, **kwargs) -> History:
    """Shortcut for ``Trainer(model, **kwargs).fit(x, y, ...)``.

    Parameters
    ----------
    model : Module
    x, y : numpy.ndarray
        Samples on axis 0.
    validation_data, val_split, resume_from
        See :meth:`Trainer.fit`.
    **kwargs
        :class:`Trainer` arguments.

    Returns
    -------
    History
    """
    return Trainer(model, **kwargs).fit(
        x, y, validation_data=validation_data, val_split=val_split, resume_from=resume_from
    )
