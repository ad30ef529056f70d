"""Per-column scalers for series: fit on the training part only, then transform.

Each scaler learns ``center`` and ``scale`` (one per column) and maps
``z = (x - center) / scale``; :meth:`~Scaler.inverse_transform` maps back.
Columns with zero spread get ``scale = 1``.

============  ==================================  =============================
scaler        center                              scale
============  ==================================  =============================
standard      mean                                standard deviation (ddof=0)
minmax        ``min - lo (max - min) / (hi - lo)`` ``(max - min) / (hi - lo)``
robust        median                              interquartile range
============  ==================================  =============================
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_float
from ..nn.module import read_config

__all__ = ["MinMaxScaler", "RobustScaler", "Scaler", "StandardScaler", "get_scaler"]


class Scaler:
    """Base class: ``z = (x - center) / scale`` along axis 0."""

    name = "scaler"
    _config_names: tuple[str, ...] = ("name",)

    def __init__(self) -> None:
        self.center_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def _fit(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def fitted(self) -> bool:
        return self.center_ is not None

    def fit(self, x) -> Scaler:
        """Learn center and scale from ``x`` (the training part only).

        Parameters
        ----------
        x : array_like, shape (n,) or (n, k)
            Time on axis 0; each column gets its own statistics.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Empty, NaN or Inf data, or data so large that its statistics
            overflow float64 (e.g. a standard deviation of values near 1e300).
        """
        arr = as_float_array(x, "x", ndim=(1, 2), cast=True).astype(np.float64, copy=False)
        with np.errstate(over="ignore", invalid="ignore"):
            center, scale = self._fit(arr)
        if not (np.all(np.isfinite(center)) and np.all(np.isfinite(scale))):
            raise ValueError(
                f"x: the {type(self).__name__}'s statistics overflow float64 (largest |x| = "
                f"{np.max(np.abs(arr)):.3g}); divide the data by a constant first"
            )
        scale = np.where(np.abs(scale) > 1e-12 * np.maximum(1.0, np.abs(center)), scale, 1.0)
        self.center_, self.scale_ = np.asarray(center, np.float64), np.asarray(scale, np.float64)
        return self

    def _check(self, x, name: str) -> np.ndarray:
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__}: call fit before transform")
        arr = as_float_array(x, name, ndim=(1, 2), cast=True, allow_empty=True)
        if arr.shape[1:] != self.center_.shape:
            raise ValueError(
                f"{name}: expected {self.center_.shape or 'no'} columns after axis 0 as in fit, "
                f"got shape {arr.shape}"
            )
        return arr

    def transform(self, x) -> np.ndarray:
        """``(x - center) / scale``, in ``x``'s float dtype (float64 for integers).

        Parameters
        ----------
        x : array_like, same trailing shape as in :meth:`fit`
        """
        arr = self._check(x, "x")
        return ((arr - self.center_) / self.scale_).astype(arr.dtype, copy=False)

    def inverse_transform(self, z) -> np.ndarray:
        """``z * scale + center``.

        Parameters
        ----------
        z : array_like, same trailing shape as in :meth:`fit`
        """
        arr = self._check(z, "z")
        return (arr * self.scale_ + self.center_).astype(arr.dtype, copy=False)

    def fit_transform(self, x) -> np.ndarray:
        """:meth:`fit` then :meth:`transform` on the same data."""
        return self.fit(x).transform(x)

    def get_config(self) -> dict:
        """The scaler's name and constructor arguments (JSON-able), for :func:`scaler_from_config`."""
        return read_config(self, self._config_names)

    def get_state(self) -> dict[str, np.ndarray]:
        """The learned arrays (for checkpoints)."""
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__}: not fitted")
        return {"center": self.center_.copy(), "scale": self.scale_.copy()}

    def set_state(self, state: dict) -> Scaler:
        """Restore :meth:`get_state` output (finite ``center``, finite positive ``scale``)."""
        if not isinstance(state, dict) or not {"center", "scale"} <= set(state):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"state: expected a dict with keys 'center' and 'scale', got {got}")
        center = as_float_array(state["center"], "center", allow_empty=True)
        scale = as_float_array(state["scale"], "scale", allow_empty=True)
        if center.shape != scale.shape:
            raise ValueError(f"scale: expected the shape of center {center.shape}, got {scale.shape}")
        if np.any(scale <= 0):
            raise ValueError(f"scale: expected positive values, got minimum {np.min(scale)}")
        self.center_, self.scale_ = center.astype(np.float64), scale.astype(np.float64)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class StandardScaler(Scaler):
    """Zero mean, unit variance."""

    name = "standard"

    def _fit(self, x):
        return x.mean(axis=0), x.std(axis=0)


class MinMaxScaler(Scaler):
    """Map ``[min, max]`` of the training data to ``feature_range``.

    Parameters
    ----------
    feature_range : tuple of float
        ``(lo, hi)`` with ``lo < hi``.
    """

    name = "minmax"
    _config_names = ("name", "feature_range")

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__()
        if not (isinstance(feature_range, (tuple, list)) and len(feature_range) == 2):
            raise TypeError(f"feature_range: expected a pair (lo, hi), got {feature_range!r}")
        lo = check_float(feature_range[0], "feature_range[0]")
        hi = check_float(feature_range[1], "feature_range[1]")
        if not lo < hi:
            raise ValueError(f"feature_range: expected lo < hi, got {feature_range!r}")
        self.feature_range = (lo, hi)

    def _fit(self, x):
        lo, hi = self.feature_range
        mn, mx = x.min(axis=0), x.max(axis=0)
        scale = (mx - mn) / (hi - lo)
        scale = np.where(scale > 0, scale, 1.0)
        return mn - lo * scale, scale


class RobustScaler(Scaler):
    """Median and interquartile range: insensitive to outliers.

    Parameters
    ----------
    quantile_range : tuple of float
        Percentiles ``(q_lo, q_hi)`` in ``[0, 100]``.
    """

    name = "robust"
    _config_names = ("name", "quantile_range")

    def __init__(self, quantile_range: tuple[float, float] = (25.0, 75.0)) -> None:
        super().__init__()
        if not (isinstance(quantile_range, (tuple, list)) and len(quantile_range) == 2):
            raise TypeError(f"quantile_range: expected a pair (q_lo, q_hi), got {quantile_range!r}")
        qlo = check_float(quantile_range[0], "quantile_range[0]", minimum=0.0, maximum=100.0)
        qhi = check_float(quantile_range[1], "quantile_range[1]", minimum=0.0, maximum=100.0)
        if not qlo < qhi:
            raise ValueError(f"quantile_range: expected q_lo < q_hi, got {quantile_range!r}")
        self.quantile_range = (qlo, qhi)

    def _fit(self, x):
        lo, med, hi = np.percentile(x, [self.quantile_range[0], 50.0, self.quantile_range[1]], axis=0)
        return med, hi - lo


_SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}


def get_scaler(scaler) -> Scaler | None:
    """Return a fresh scaler for a name, ``None`` for ``None``, or the given Scaler.

    Parameters
    ----------
    scaler : Scaler, {"standard", "minmax", "robust"} or None
    """
    if scaler is None or isinstance(scaler, Scaler):
        return scaler
    if isinstance(scaler, str) and scaler in _SCALERS:
        return _SCALERS[scaler]()
    raise ValueError(f"scaler: expected one of {sorted(_SCALERS)} or None, got {scaler!r}")


def scaler_from_config(config: dict) -> Scaler:
    """Build an unfitted scaler from :meth:`Scaler.get_config` output."""
    cfg = dict(config)
    name = cfg.pop("name", None)
    if name not in _SCALERS:
        raise ValueError(f"config: expected a scaler name in {sorted(_SCALERS)}, got {name!r}")
    return _SCALERS[name](**cfg)
