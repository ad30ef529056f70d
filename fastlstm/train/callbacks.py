"""Training callbacks: hooks that :class:`~fastlstm.train.Trainer` calls at fixed points of ``fit``.

``on_train_begin`` once, ``on_batch_end`` after each optimiser step, ``on_epoch_end``
after each epoch's bookkeeping, ``on_train_end`` once (also after early stopping).
"""

from __future__ import annotations

import os

from .._validation import check_int

__all__ = ["Callback", "CheckpointCallback", "LambdaCallback", "ProgressBar"]


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


class ProgressBar(Callback):
    """One tqdm bar over several training runs (the networks of a forecaster's fit): epochs
    done out of those announced so far, the current stage and the last epoch's loss.

    Shown only when ``file`` is a terminal (never in a log or a pipe), on rank 0 of an MPI run.

    Parameters
    ----------
    desc : str
        The bar's label (e.g. ``"fastlstm: 153 series"``).
    file : file-like, optional
        Where the bar is drawn (default ``sys.stderr``).
    force : bool
        Draw it even when ``file`` is not a terminal.
    show : bool
        False: a bar that draws nothing (so that callers need no branch); also a context manager
        that closes the bar.

    Raises
    ------
    ImportError
        tqdm is not installed (``pip install 'fastlstm[progress]'``) and the bar would be shown.
    """

    def __init__(self, desc: str = "fit", file=None, force: bool = False, show: bool = True) -> None:
        import sys

        from .._optional import import_optional

        self.file = sys.stderr if file is None else file
        isatty = getattr(self.file, "isatty", None)
        self.shown = show and bool(force or (isatty is not None and isatty()))
        self._bar = None
        if self.shown:
            tqdm = import_optional("tqdm", "a progress bar", extra="progress").tqdm
            self._bar = tqdm(total=0, desc=desc, unit="epoch", file=self.file, leave=True)

    def stage(self, text: str, epochs: int) -> None:
        """Announce a training run of ``epochs`` epochs, labelled ``text``.

        Parameters
        ----------
        text : str
            What runs now (e.g. ``"back-test network 2/5"``).
        epochs : int
            Its epochs (added to the bar's total).
        """
        if self._bar is not None:
            self._bar.total += int(epochs)
            self._bar.set_postfix_str(text, refresh=True)
            self._stage = text

    def on_train_begin(self, trainer):
        if self._bar is not None and trainer.data_parallel is not None and not trainer.data_parallel.is_root:
            self._bar.disable = True

    def on_epoch_end(self, trainer, logs):
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(f"{getattr(self, '_stage', '')} loss {logs['loss']:.4g}", refresh=False)

    def close(self) -> None:
        """Finish the bar (a no-op when it is not shown)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
