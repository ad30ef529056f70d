"""Streaming inference: one time step per call, with the state carried in place.

:meth:`fastlstm.LSTM.stepper` builds a :class:`Stepper`. It validates once, packs
the weights once, preallocates the state and the scratch buffers, and each
:meth:`Stepper.step` is one call of one compiled function for all layers (the step
mode of the kernels' stacked LSTM, :func:`fastlstm.kernels.api.stack_step`): the latency of an
online forecaster or a controller, where ``LSTM.forward`` would pay its
validation, allocation and per-layer dispatch at every step.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_int, check_shape
from ..kernels import api

__all__ = ["Stepper"]


class Stepper:
    """One step of an :class:`~fastlstm.LSTM` at a time (inference, eval semantics).

    Parameters
    ----------
    lstm : fastlstm.LSTM
        A unidirectional LSTM (a bidirectional one needs the whole sequence).
        Its weights are packed when the stepper is made: after changing them, call
        :meth:`refresh` (or make a new stepper). Dropout is not applied. With
        ``proj_size`` P the state's ``h`` is ``[num_layers, B, P]`` and each step runs the
        projected kernels' step mode (weights packed the same way, once).
    batch_size : int
        Rows ``B`` of every step's input.
    state : tuple (h0, c0) of ndarray ``[num_layers, B, H]``, optional
        Initial state (zeros when omitted).

    Examples
    --------
    >>> lstm = fastlstm.LSTM(1, 32, seed=0)
    >>> s = lstm.stepper()
    >>> h = s.step(np.ones((1, 1), np.float32))   # [B, H], the top layer's h_t
    """

    def __init__(self, lstm, batch_size: int = 1, state=None) -> None:
        if lstm.bidirectional:
            raise ValueError(
                "lstm: expected a unidirectional LSTM (a bidirectional one needs the whole sequence)"
            )
        self.lstm = lstm
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.dtype = lstm.dtype
        n_layers, B, H = lstm.num_layers, self.batch_size, lstm.hidden_size
        self._x_shape = (B, lstm.input_size)
        self.h = np.zeros((n_layers, B, lstm.proj_size or H), dtype=self.dtype)
        self.c = np.zeros((n_layers, B, H), dtype=self.dtype)
        if state is not None:
            self.state = state
        self.refresh()
        self._buffers = None if self._pack is None else api.step_buffers(self._pack, B)

    def refresh(self) -> None:
        """Pack the layer's current weights (after training it further)."""
        if self.lstm.proj_size:  # the projected kernels' own step mode and panels
            self._pack = None
            self._proj_packs = api.proj_stack_pack(self.lstm._stack_weights())
        else:
            self._pack = api.stack_pack(self.lstm._stack_weights())

    @property
    def state(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of ``(h, c)``, each ``[num_layers, B, H]``."""
        return self.h.copy(), self.c.copy()

    @state.setter
    def state(self, value) -> None:
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise TypeError(f"state: expected a tuple (h, c), got {type(value).__name__}")
        for name, arr, dst in zip(("h", "c"), value, (self.h, self.c), strict=True):
            arr = as_float_array(arr, f"state {name}", ndim=3, dtype=self.dtype)
            check_shape(arr, f"state {name}", dst.shape)
            dst[...] = arr

    def reset(self) -> None:
        """Zero the state (a new sequence)."""
        self.h[...] = 0
        self.c[...] = 0

    def step(self, x) -> np.ndarray:
        """Advance every layer by one step.

        Parameters
        ----------
        x : ndarray ``[B, I]`` (or ``[I]`` when ``batch_size`` is 1)
            This step's input, of the model's dtype.

        Returns
        -------
        ndarray ``[B, H]`` (``[H]`` for a 1-d ``x``; ``P`` wide with ``proj_size``)
            The top layer's ``h_t`` (a new array).

        Raises
        ------
        ValueError
            ``x`` of the wrong shape, or holding NaN or Inf (the state is then unchanged).
        """
        if type(x) is not np.ndarray or x.dtype != self.dtype or not x.flags.c_contiguous:
            x = as_float_array(x, "x", ndim=(1, 2), dtype=self.dtype, finite=False)
        flat = x.ndim == 1
        if flat:
            x = x.reshape(1, -1)
        if x.shape != self._x_shape:
            raise ValueError(f"x: expected shape {self._x_shape} (batch_size, input_size), got {x.shape}")
        if self._pack is None:  # projections (proj_size)
            h = api.proj_stack_step(x, self.h, self.c, self._proj_packs)
        else:
            h, _ = api.stack_step(x, self.h, self.c, self._pack, self._buffers)
        return h[0] if flat else h

    def __repr__(self) -> str:
        return f"Stepper({self.lstm!r}, batch_size={self.batch_size})"
