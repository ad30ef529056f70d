"""Sliding ``(lookback, horizon)`` windows over series, as views.

A series ``y`` of ``T`` steps (shape ``(T,)`` or ``(T, C)``) gives windows
starting at ``s = 0, stride, 2 stride, ...``; window ``i`` has

=====================  ==============================  ==============================================
array                  shape                           rows of the series
=====================  ==============================  ==============================================
``past``               ``(N, lookback, C)``            ``s .. s+lookback-1`` (model input)
``future``             ``(N, horizon, C)``             ``s+lookback .. s+lookback+horizon-1`` (targets)
``past_covariates``    ``(N, lookback, P)``            ``s .. s+lookback-1``
``future_covariates``  ``(N, lookback+horizon, F)``    ``s .. s+lookback+horizon-1`` (known in advance)
=====================  ==============================  ==============================================

with ``N`` windows. The arrays are read-only strided views made by
:func:`numpy.lib.stride_tricks.sliding_window_view`, so no data is copied until
:meth:`Windows.inputs` assembles the model's input.

:func:`make_windows` validates its arguments; :func:`cut_windows` is the package's path for
arrays that are validated already (the forecaster's, checked once where they came in).

pandas ``Series`` and ``DataFrame`` are accepted wherever an array is (they are
read with ``.to_numpy()``; pandas itself is never imported here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._validation import as_float_array, check_int

__all__ = ["Windows", "as_series", "cut_windows", "make_windows", "sliding_windows"]


def as_series(value, name: str, *, finite: bool = True) -> np.ndarray:
    """A 1-D or 2-D float array (time on axis 0) from an array, list, or pandas object.

    Parameters
    ----------
    value : array_like, pandas.Series or pandas.DataFrame
    name : str
        Argument name for error messages.
    finite : bool
        Reject NaN and Inf.

    Returns
    -------
    numpy.ndarray
        float64 unless the input is already float32/float64; no copy when the
        input is already a C-contiguous float array.
    """
    if hasattr(value, "to_numpy") and type(value).__module__.startswith("pandas"):
        value = value.to_numpy(dtype=np.float64)
    return as_float_array(value, name, ndim=(1, 2), cast=True, finite=finite)


def sliding_windows(a, window: int, stride: int = 1) -> np.ndarray:
    """Windows of ``window`` consecutive rows of ``a``, as a read-only view.

    Parameters
    ----------
    a : numpy.ndarray, shape (T, ...)
    window : int
        Rows per window (``1 <= window <= T``).
    stride : int
        Step between window starts.

    Returns
    -------
    numpy.ndarray, shape (N, window, ...)
        ``N = (T - window) // stride + 1``; shares memory with ``a``.
    """
    a = np.asarray(a)
    window = check_int(window, "window", minimum=1)
    stride = check_int(stride, "stride", minimum=1)
    if a.ndim < 1 or a.shape[0] < window:
        raise ValueError(
            f"window: expected at most {a.shape[0] if a.ndim else 0} (the series length), got {window}"
        )
    return _windows(a, window, stride)


@dataclass
class Windows:
    """Windows cut from one series (see the module docstring for shapes).

    Attributes
    ----------
    past : numpy.ndarray, shape (N, lookback, C)
    future : numpy.ndarray, shape (N, horizon, C), or None
        ``None`` when built with ``targets=False``.
    past_covariates : numpy.ndarray, shape (N, lookback, P), or None
    future_covariates : numpy.ndarray, shape (N, lookback+horizon, F), or None
    origins : numpy.ndarray of int, shape (N,)
        Index in the series of each window's first forecast step (``s + lookback``).
    """

    past: np.ndarray
    future: np.ndarray | None
    past_covariates: np.ndarray | None
    future_covariates: np.ndarray | None
    origins: np.ndarray

    def __len__(self) -> int:
        return self.past.shape[0]

    @property
    def lookback(self) -> int:
        return self.past.shape[1]

    @property
    def n_features(self) -> int:
        """Input features per step of :meth:`inputs`."""
        n = self.past.shape[2]
        if self.past_covariates is not None:
            n += self.past_covariates.shape[2]
        if self.future_covariates is not None:
            n += self.future_covariates.shape[2]
        return n

    def inputs(self, dtype=np.float32) -> np.ndarray:
        """Assemble the model input, batch first (this is the one copy).

        Features per step are ``[y (C), past covariates (P), future covariates (F)]``.
        With future covariates the sequence is ``lookback + horizon`` steps long: the
        last ``horizon`` steps carry the known future covariates and zeros for ``y``
        and the past covariates.

        Parameters
        ----------
        dtype : numpy dtype
            float32 or float64.

        Returns
        -------
        numpy.ndarray, shape (N, lookback, C+P) or (N, lookback+horizon, C+P+F)
        """
        n, lookback, C = self.past.shape
        T = lookback if self.future_covariates is None else self.future_covariates.shape[1]
        out = np.zeros((n, T, self.n_features), dtype=dtype)
        out[:, :lookback, :C] = self.past
        j = C
        if self.past_covariates is not None:
            P = self.past_covariates.shape[2]
            out[:, :lookback, j : j + P] = self.past_covariates
            j += P
        if self.future_covariates is not None:
            out[:, :, j:] = self.future_covariates
        return out


def _as_2d(arr: np.ndarray) -> np.ndarray:
    return arr.reshape(arr.shape[0], 1) if arr.ndim == 1 else arr


def make_windows(
    y,
    lookback: int,
    horizon: int,
    *,
    past_covariates=None,
    future_covariates=None,
    stride: int = 1,
    targets: bool = True,
) -> Windows:
    """Cut ``(lookback, horizon)`` windows from a series and its covariates.

    Parameters
    ----------
    y : array_like or pandas object, shape (T,) or (T, C)
        The target series, time on axis 0.
    lookback : int
        Input steps.
    horizon : int
        Forecast steps.
    past_covariates : array_like, shape (T,) or (T, P), optional
        Observed alongside ``y``; only their past is used.
    future_covariates : array_like, shape (T', F), optional
        Known in advance (calendar, prices). With ``targets=True``, ``T' = T``;
        with ``targets=False`` they must extend ``horizon`` steps past ``y``
        (``T' = T + horizon``).
    stride : int
        Step between window starts.
    targets : bool
        Cut ``future`` targets too (training, backtests). With ``False``, every
        window that has ``lookback`` past steps is returned, the last one ending at
        the end of ``y`` (forecasting).

    Returns
    -------
    Windows

    Examples
    --------
    >>> import numpy as np
    >>> w = make_windows(np.arange(10.0), lookback=4, horizon=2)
    >>> w.past.shape, w.future.shape, w.future[0, :, 0]
    ((5, 4, 1), (5, 2, 1), array([4., 5.]))
    """
    yarr = _as_2d(as_series(y, "y"))
    lookback = check_int(lookback, "lookback", minimum=1)
    horizon = check_int(horizon, "horizon", minimum=1)
    stride = check_int(stride, "stride", minimum=1)
    T = yarr.shape[0]
    span = lookback + horizon if targets else lookback
    if T < span:
        raise ValueError(
            f"y: expected at least lookback{' + horizon' if targets else ''} = {span} points, got {T}"
        )
    parr = farr = None
    if past_covariates is not None:
        parr = _as_2d(as_series(past_covariates, "past_covariates"))
        if parr.shape[0] != T:
            raise ValueError(f"past_covariates: expected {T} rows (the length of y), got {parr.shape[0]}")
    if future_covariates is not None:
        farr = _as_2d(as_series(future_covariates, "future_covariates"))
        need = T if targets else T + horizon
        if farr.shape[0] != need:
            raise ValueError(
                f"future_covariates: expected {need} rows (len(y){'' if targets else ' + horizon'}), "
                f"got {farr.shape[0]}"
            )
    return cut_windows(
        yarr, lookback, horizon, past_covariates=parr, future_covariates=farr, stride=stride, targets=targets
    )


def _windows(a: np.ndarray, window: int, stride: int) -> np.ndarray:
    """:func:`sliding_windows` without its checks."""
    # sliding_window_view gives (T - window + 1, ..., window): the window axis moves to 1
    return np.moveaxis(sliding_window_view(a, window, axis=0), -1, 1)[::stride]


def cut_windows(
    y: np.ndarray,
    lookback: int,
    horizon: int,
    *,
    past_covariates: np.ndarray | None = None,
    future_covariates: np.ndarray | None = None,
    stride: int = 1,
    targets: bool = True,
) -> Windows:
    """:func:`make_windows` for arguments that are valid already (package-internal, no checks).

    ``y`` and the covariates are float arrays with time on axis 0 (1-D or 2-D), long enough
    for one window, with the row counts :func:`make_windows` requires; the sizes are ints >= 1.
    """
    yarr = _as_2d(y)
    span = lookback + horizon if targets else lookback
    w = _windows(yarr, span, stride)
    past, future = w[:, :lookback], (w[:, lookback:] if targets else None)
    n = past.shape[0]
    origins = np.arange(n) * stride + lookback
    pc = None if past_covariates is None else _windows(_as_2d(past_covariates), span, stride)[:, :lookback]
    fc = None
    if future_covariates is not None:
        fc = _windows(_as_2d(future_covariates), lookback + horizon, stride)[:n]
    return Windows(past=past, future=future, past_covariates=pc, future_covariates=fc, origins=origins)
