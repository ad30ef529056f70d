"""Training callbacks: hooks that :class:`~fastlstm.train.Trainer` calls at fixed points of ``fit``.

``on_train_begin`` once, ``on_batch_end`` after each optimiser step, ``on_epoch_end``
after each epoch's bookkeeping, ``on_train_end`` once (also after early stopping).
"""

from __future__ import annotations

import os

from .._validation import check_int

__all__ = ["Callback", "CheckpointCallback", "LambdaCallback"]


class Callback:
    """Base class of training callbacks; override what you need.

    A callback may set ``trainer.stop_training = True`` to end training after
    the current epoch.
    """

    def on_train_begin(self, trainer) -> None:
        """Called once before the first epoch.

        Parameters
        ----------
        trainer : Trainer
            The trainer running ``fit``.
        """

    def on_batch_end(self, trainer, logs: dict) -> None:
        """Called after each optimiser step.

        Parameters
        ----------
        trainer : Trainer
            The trainer running ``fit``.
        logs : dict
            ``epoch``, ``step``, ``loss``, ``grad_norm``, ``skipped``.
        """

    def on_epoch_end(self, trainer, logs: dict) -> None:
        """Called after each epoch.

        Parameters
        ----------
        trainer : Trainer
            The trainer running ``fit``.
        logs : dict
            ``epoch``, ``loss``, ``val_loss``, ``lr``, ``time``.
        """

    def on_train_end(self, trainer) -> None:
        """Called once after training (also after early stopping).

        Parameters
        ----------
        trainer : Trainer
            The trainer that ran ``fit``.
        """


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
