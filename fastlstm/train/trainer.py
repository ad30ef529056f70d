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
early-stopping bookkeeping, history) in the :mod:`fastlstm.train.io` format;
``fit(..., resume_from=path)`` continues from it and ends with the same
weights, bit for bit, as a run that was never interrupted.

Truncated BPTT (``tbptt=k``) cuts each batch of sequences into chunks of ``k``
steps: forward on a chunk starting from the previous chunk's final state
(its values, not its gradients), backward, step, next chunk.

A model is anything with ``forward(x)``, ``backward(d_pred)``,
``parameters()``, ``train()``/``eval()``, ``state_dict()``/``load_state_dict()``
(e.g. :class:`fastlstm.nn.LSTMRegressor`); with ``tbptt`` it must also accept
``forward(x, state=..., return_state=True)``.

This module is the public entry: :class:`Trainer` validates the data once, in
:meth:`Trainer.fit`, and hands it on. The step and the epoch are in
:mod:`~fastlstm.train.loop`, saving and resuming in :mod:`~fastlstm.train.checkpoint`,
the callbacks in :mod:`~fastlstm.train.callbacks` (all re-exported here).
"""

from __future__ import annotations

import numpy as np

from .._optional import import_optional
from .._validation import as_float_array, check_bool, check_float, check_int, check_seed
from ..nn.losses import get_loss
from .callbacks import Callback, CheckpointCallback, LambdaCallback
from .checkpoint import named_params, resume, save_training_state
from .loop import History, LoopState, NonFiniteError, run_epoch
from .optim import Adam, Optimizer
from .sources import EpochSource

__all__ = ["Callback", "CheckpointCallback", "History", "LambdaCallback", "NonFiniteError", "Trainer", "fit"]


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
        ``"mse"``, ``"mae"``, ``"huber"`` or a :class:`~fastlstm.nn.losses.Loss`.
    optimizer : Optimizer, optional
        Default: :class:`~fastlstm.train.optim.Adam` with ``lr=1e-3``.
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
        Show a tqdm progress bar over epochs (needs ``pip install 'fastlstm[progress]'``).
    comm : mpi4py.MPI.Intracomm, optional
        Synchronous data-parallel training over MPI (``pip install 'fastlstm[mpi]'``):
        every rank runs the same script on the same data, each step's batch is
        split across the ranks and their gradients are averaged with one
        ``Allreduce`` (see :mod:`fastlstm.train.distributed`); weights, losses and
        early-stopping decisions are identical on every rank, and only rank 0
        shows progress. ``None`` (default) never imports MPI.

    Attributes
    ----------
    data_parallel : fastlstm.train.distributed.DataParallel or None
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
        self._loop: LoopState | None = None  # the fit loop's state, for save_checkpoint

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
        return self._mean_loss(x, y, batch_size)

    def _mean_loss(self, x, y, batch_size: int | None = None) -> float:
        """:meth:`evaluate` on arrays validated already (the loop's validation data)."""
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

    def save_checkpoint(self, path) -> str:
        """Write the whole training state to one checkpoint file (:mod:`fastlstm.train.io` format).

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
        return save_training_state(self, self._loop, path)

    # the loop -----------------------------------------------------------------
    def fit(
        self,
        x,
        y=None,
        *,
        validation_data: tuple | None = None,
        val_split: float | int | None = None,
        resume_from=None,
    ) -> History:
        """Train on samples ``x`` with targets ``y``, or on the samples a source draws per epoch.

        Parameters
        ----------
        x : numpy.ndarray, shape (N, ...), or EpochSource
            Model inputs, samples on axis 0 (e.g. ``(N, T, I)``); real values,
            converted to the model's dtype; NaN or Inf raise ``ValueError``. Or a
            :class:`~fastlstm.train.sources.EpochSource`: each epoch trains on the
            ``(x, y)`` that ``x.epoch(rng)`` draws with the batch-order generator
            (checked as arrays are, every epoch); ``y`` and ``val_split`` must then
            be None.
        y : numpy.ndarray, shape (N, ...)
            Targets, samples on axis 0, shaped like the model's output (required
            with an array ``x``).
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
        bad = [name for name, p in named_params(self.model) if not np.isfinite(p.data).all()]
        if bad:
            raise ValueError(f"model: expected finite parameters before training, got NaN or Inf in {bad}")
        if isinstance(x, EpochSource):
            if y is not None:
                raise ValueError(
                    f"y: expected None with an EpochSource x (it draws the targets), got {type(y).__name__}"
                )
            if val_split is not None:
                raise ValueError(
                    f"val_split: expected None with an EpochSource x (use validation_data), got {val_split!r}"
                )
            source = _CheckedSource(self, dtype, x)
            # the first draw, from a generator of its own, checks the source's shapes before any step
            xs, ys = x.epoch(np.random.default_rng(0))
            _, _, x_val, y_val = _validate_data(self, dtype, xs, ys, validation_data, None)
            return self._fit_validated(source, None, x_val, y_val, resume_from=resume_from)
        if y is None:
            raise TypeError("y: expected the targets (an array) with an array x, got None")
        x, y, x_val, y_val = _validate_data(self, dtype, x, y, validation_data, val_split)
        return self._fit_validated(x, y, x_val, y_val, resume_from=resume_from)

    def _fit_validated(self, x, y, x_val=None, y_val=None, *, resume_from=None) -> History:
        """:meth:`fit` for callers inside fastlstm that validated ``x`` and ``y`` (and the
        validation arrays) themselves: arrays of the model's dtype, ``x`` shaped for the
        model, ``y`` with the model's output shape and as many samples, finite values, and
        with ``tbptt`` a time axis on ``y``; finite parameters. Nothing is checked again.
        ``x`` may be an :class:`EpochSource` (``y`` None) whose epochs meet the same terms."""
        self.params = self.model.parameters()
        self.history = History()
        self.stop_training = False
        seed = self.seed
        if self.data_parallel is not None:  # same weights, data check and seed on every rank
            arrays = {"x": x, "y": y}
            if isinstance(x, EpochSource):  # the source's identity stands for its data
                arrays = {"x": np.frombuffer(x.fingerprint().encode(), dtype=np.uint8)}
            if x_val is not None:
                arrays.update(x_val=x_val, y_val=y_val)
            seed = self.data_parallel.prepare(self.params, seed, **arrays)
        loop = LoopState(np.random.default_rng(seed), (x, y, x_val, y_val), good=[])
        if resume_from is not None:
            resume(self, loop, resume_from)
        loop.good = [p.data.copy() for p in self.params]
        self._loop = loop
        start = loop.next_epoch
        if self.patience is not None and loop.bad_epochs > self.patience:
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
                if run_epoch(self, loop, epoch, bar):
                    break
        finally:
            if bar is not None:
                bar.close()
        if loop.best_state is not None:
            self.model.load_state_dict(loop.best_state)
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history


class _CheckedSource(EpochSource):
    """A user's source whose every epoch is checked as ``fit`` checks arrays."""

    def __init__(self, trainer, dtype, source: EpochSource) -> None:
        self.trainer, self.dtype, self.source = trainer, dtype, source

    def epoch(self, rng):
        xs, ys = self.source.epoch(rng)
        xs = as_float_array(xs, "x", dtype=self.dtype, cast=True, ndim=(2, 3))
        ys = as_float_array(ys, "y", dtype=self.dtype, cast=True)
        if ys.shape[0] != xs.shape[0]:
            raise ValueError(f"y: expected {xs.shape[0]} samples (as in x), got {ys.shape[0]}")
        _check_against_model(self.trainer.model, xs, ys, "x", "y")
        return xs, ys

    def fingerprint(self) -> str:
        return self.source.fingerprint()


def _validate_data(trainer, dtype, x, y, validation_data, val_split):
    """``fit``'s data checks; returns ``(x, y, x_val, y_val)`` as the model's dtype (the
    validation pair None without validation data)."""
    x = as_float_array(x, "x", dtype=dtype, cast=True, ndim=(2, 3))
    y = as_float_array(y, "y", dtype=dtype, cast=True)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"y: expected {x.shape[0]} samples (as in x), got {y.shape[0]}")
    _check_against_model(trainer.model, x, y, "x", "y")
    if validation_data is not None and val_split is not None:
        raise ValueError("val_split: expected None when validation_data is given, got both")
    if val_split is not None:
        n_val = _n_val(val_split, x.shape[0])
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
            raise ValueError(f"y_val: expected {x_val.shape[0]} samples (as in x_val), got {y_val.shape[0]}")
        _check_against_model(trainer.model, x_val, y_val, "x_val", "y_val")
    if trainer.patience is not None and x_val is None:
        raise ValueError("patience: early stopping needs validation_data or val_split, got neither")
    if trainer.tbptt is not None and (y.ndim < 3 or y.shape[1] != x.shape[1]):
        raise ValueError(
            f"y: with tbptt, expected a time axis matching x's {x.shape[1]} steps (shape (N, T, O)), "
            f"got shape {y.shape}"
        )
    return x, y, x_val, y_val


def _check_against_model(model, x: np.ndarray, y: np.ndarray, xname: str, yname: str) -> None:
    """Errors that name the user's arguments, before any step, for a model with
    an ``input_size`` (the LSTM models): x must be ``(N, T, input_size)``, and
    ``y`` must have the shape of the model's output for one sample."""
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


def _n_val(val_split, n: int) -> int:
    if isinstance(val_split, float):
        check_float(
            val_split, "val_split", minimum=0.0, maximum=1.0, min_inclusive=False, max_inclusive=False
        )
        n_val = int(round(val_split * n))
    else:
        n_val = check_int(val_split, "val_split", minimum=1)
    if not 1 <= n_val < n:
        raise ValueError(f"val_split: expected to hold out between 1 and {n - 1} of {n} samples, got {n_val}")
    return n_val


def _progress_bar(total: int):
    tqdm = import_optional("tqdm", "progress=True", extra="progress").tqdm
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
