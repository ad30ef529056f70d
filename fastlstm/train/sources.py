"""Training data drawn afresh for each epoch, for data too large to hold as one array.

:meth:`Trainer.fit <fastlstm.train.Trainer.fit>` takes arrays ``(x, y)``, or one
:class:`EpochSource` as ``x`` (and no ``y``): at the start of every epoch the trainer calls
``source.epoch(rng)`` with its batch-order generator, trains on the samples it returns
(shuffled as arrays are), and drops them. Drawing from the trainer's generator is what keeps
a seeded fit reproducible, a resumed fit (``resume_from``) equal to an uninterrupted one
(the generator's state is in the checkpoint) and every MPI rank on the same samples.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EpochSource"]


class EpochSource:
    """Base class of a source of training samples drawn per epoch.

    A subclass implements :meth:`epoch` and :meth:`fingerprint`.
    """

    def epoch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        """One epoch's samples ``(x, y)``, samples on axis 0, drawn with ``rng`` only.

        Parameters
        ----------
        rng : numpy.random.Generator
            The trainer's batch-order generator; the same state must give the same arrays,
            bit for bit.

        Returns
        -------
        x, y : numpy.ndarray
            Inputs and targets as :meth:`Trainer.fit <fastlstm.train.Trainer.fit>` takes
            them (checked there, every epoch).
        """
        raise NotImplementedError

    def fingerprint(self) -> str:  # pragma: no cover
        """A string that identifies the data the source draws from (a checkpoint written on
        one source resumes only on a source with the same fingerprint; MPI ranks must agree
        on it)."""
        raise NotImplementedError
