"""The pipeline's decisions from the data, before any network (steps 0 to 2 and the sizes).

* the season length ``m``, the horizon and the network's input size (lookback);
* the log transform, and each series' seasonal indices (the deseasonalising step);
* the training sizes: epochs and batch size from the number of training windows.

Every function takes plain float64 series that :meth:`Forecaster.fit` has already validated.
A series "on the network's scale" (``z``) is transformed and has its seasonal indices removed.
"""

from __future__ import annotations

import numpy as np

from .decompose import classical_decompose, seasonality_test
from .timeindex import default_horizon, season_of_freq

__all__ = [
    "check_lengths",
    "choose_sizes",
    "forward_transform",
    "inverse_transform",
    "seasonal_at",
    "seasonal_indices",
    "to_z",
    "training_sizes",
    "use_log",
]

#: optimiser steps per network that ``epochs=None`` aims at
_TARGET_STEPS = 900
#: the largest batch ``batch_size=None`` takes (a large panel's)
_MAX_BATCH = 256
#: training windows the default input size keeps per series (in the back-test, or in the fit
#: when a series is too short for one)
_MIN_WINDOWS = 8


def _season(season, index) -> int:
    """``season`` as given, or (``"auto"``) from the first series' date index, else 1."""
    if season != "auto":
        return int(season)
    if index is not None:
        first = index[0] if isinstance(index, list) else index
        if first["kind"] != "int":
            return season_of_freq(first["freq"])[0]
    return 1


def choose_sizes(
    season, horizon: int | None, input_size: int | None, mimo: bool, index, lengths: list[int], val: int
) -> tuple[int, int, int]:
    """``(season_, horizon_, input_size_)`` from the arguments, the dates and the series' lengths.

    The default lookback is ``max(horizon, 2 m)`` (``max(horizon, 4)`` without a season),
    shortened so that the series of median length keeps 8 training windows (the shorter of the
    two middle ones for an even count): short series of a panel do not shorten every series'
    lookback (the network pads
    theirs, see :class:`~fastlstm.forecast.candidates.LSTMEnsemble`). For one series, its own
    length.
    """
    m = _season(season, index)
    horizon = default_horizon(m) if horizon is None else int(horizon)
    if input_size is not None:
        return m, horizon, int(input_size)
    out_steps = horizon if mimo else 1
    shortest = int(np.percentile(lengths, 50, method="lower")) - val
    lookback = max(horizon, 2 * m) if m > 1 else max(horizon, 4)
    # keep >= 8 training windows in the back-test (or in the fit when too short for one)
    room = shortest - horizon - out_steps + 1 - _MIN_WINDOWS
    if room < lookback:
        room = shortest - out_steps + 1 - _MIN_WINDOWS
    return m, horizon, int(max(2, min(lookback, room)))


def check_lengths(lengths: list[int], lookback: int, out_steps: int, val: int, pad: bool = False) -> None:
    """Refuse a series too short for one training window (``ValueError`` naming it). With
    ``pad`` (a panel, whose short series the network pads to the lookback), a series needs one
    point before its first target only, and one series at least must fill a window unpadded."""
    target = "horizon" if out_steps > 1 else "1"
    tail = " + val_size" if val else ""
    need = lookback + out_steps + val
    if pad and any(n >= need for n in lengths):
        need, what = 1 + out_steps + val, f"1 + {target}{tail}"
    else:
        what = f"lookback + {target}{tail}"
    for i, n in enumerate(lengths):
        if n < need:
            raise ValueError(f"y: series {i} expected at least {what} = {need} points, got {n}")


def use_log(transform, series: list[np.ndarray]) -> np.ndarray:
    """Per series, whether to fit it on the log scale: ``"log"`` (every value of every series
    must be positive), or ``"auto"``: each series whose values are all positive (one series
    with a value <= 0 does not switch it off for the others)."""
    if transform == "log":
        for i, s in enumerate(series):
            if np.any(s <= 0):
                raise ValueError(f"y: transform='log' expected positive values, series {i} has values <= 0")
        return np.ones(len(series), dtype=bool)
    return np.array([transform == "auto" and bool(np.all(s > 0)) for s in series], dtype=bool)


def forward_transform(s: np.ndarray, log: bool) -> np.ndarray:
    """The transform of a series (its log, or itself)."""
    if log:
        if np.any(s <= 0):
            raise ValueError("y: expected positive values (the model was fitted on the log scale), got <= 0")
        return np.log(s)
    return s


def inverse_transform(z: np.ndarray, log: bool) -> np.ndarray:
    return np.exp(z) if log else z


def seasonal_at(indices: np.ndarray | None, t) -> np.ndarray:
    """Seasonal index at steps ``t`` (0 = the series' first point; zeros when not seasonal)."""
    if indices is None:
        return np.zeros(np.shape(t))
    return indices[np.asarray(t) % len(indices)]


def to_z(s: np.ndarray, log: bool, indices: np.ndarray | None) -> np.ndarray:
    """A series on the network's scale: transformed, seasonal indices removed."""
    return forward_transform(s, log) - seasonal_at(indices, np.arange(len(s)))


def seasonal_indices(
    series: list[np.ndarray], val: int, m: int, deseasonalize, log
) -> list[np.ndarray | None]:
    """Per series, the classical decomposition's seasonal indices (on the transformed scale) of
    its training part (all but the last ``val`` points), or None.

    With ``deseasonalize="auto"``, only where the seasonality test at lag ``m`` finds a season;
    never for ``m == 1``, ``deseasonalize=False``, or fewer than two seasons.
    """
    out = []
    for s, log_i in zip(series, log, strict=True):
        ind = None
        if m > 1 and deseasonalize is not False:
            z = forward_transform(s[: len(s) - val], log_i) if log_i else s[: len(s) - val]
            if len(z) >= 2 * m and (deseasonalize is True or seasonality_test(z, m)):
                ind = classical_decompose(z, m, "additive").indices
        out.append(ind)
    return out


def training_sizes(n_windows: int, batch_size: int | None, epochs: int | None) -> tuple[int, int]:
    """``(epochs, batch_size)``: as given, or 16 windows per batch (``n_windows // 60`` for large
    panels, at most 256) and about 900 optimiser steps per network (1 to 150 epochs: a large
    panel's one pass over its windows may be more)."""
    batch = batch_size or int(min(_MAX_BATCH, max(16, n_windows // 60)))
    epochs = epochs or int(min(150, max(1, round(_TARGET_STEPS / -(-n_windows // batch)))))
    return epochs, batch
