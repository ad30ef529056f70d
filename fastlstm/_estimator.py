"""scikit-learn's estimator protocol for fastlstm's estimators, without depending on scikit-learn.

:class:`Estimator` gives ``get_params`` and ``set_params`` (the names read from the constructor's
signature, renamed arguments accepted with a warning), a ``repr`` of the arguments that differ
from their defaults, and the hooks scikit-learn's ``clone``, ``check_is_fitted`` and tags read.
A subclass's constructor only stores its arguments; it validates them in ``fit``.
"""

from __future__ import annotations

import inspect

import numpy as np

from ._params import param_names, warn_renamed

__all__ = ["Estimator"]


class Estimator:
    """The base of an estimator whose constructor stores its arguments as attributes.

    Subclasses set ``_renamed`` (old argument name -> new) and define ``fitted``.
    """

    _renamed: dict = {}

    def get_params(self, deep: bool = True) -> dict:
        """Constructor arguments, as given (scikit-learn's convention).

        Parameters
        ----------
        deep : bool
            Ignored (no nested estimators); for scikit-learn compatibility.

        Returns
        -------
        dict
        """
        return {name: getattr(self, name) for name in param_names(type(self))}

    def set_params(self, **params):
        """Set constructor arguments (checked at the next ``fit``, which they take effect in).

        Parameters
        ----------
        **params
            Any of :meth:`get_params`'s keys (the renamed ones under their old names too, with a
            ``DeprecationWarning``).

        Returns
        -------
        self
        """
        cls = type(self).__name__
        names = param_names(type(self))
        for old, new in self._renamed.items():
            if old in params:
                warn_renamed(f"{cls}.set_params", old, new)
                params[new] = params.pop(old)
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise ValueError(f"set_params: expected parameters of {cls} {list(names)}, got {unknown}")
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self)).parameters
        args = []
        for k, v in self.get_params().items():
            d = defaults[k].default
            same = v is d or (type(v) is type(d) and v == d)
            if k == "dtype":
                same = np.dtype(v) == np.dtype(d)
                v = np.dtype(v).name
            if not same:
                args.append(f"{k}={v!r}")
        return f"{type(self).__name__}({', '.join(args)})"

    def __sklearn_tags__(self):
        """scikit-learn's tags (imported only when scikit-learn asks)."""
        from sklearn.utils import RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type="regressor",
            target_tags=TargetTags(required=False),
            regressor_tags=RegressorTags(),
        )

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__}: call fit (or load) before predict/backtest")

    def __sklearn_is_fitted__(self) -> bool:
        """For ``sklearn.utils.validation.check_is_fitted``."""
        return self.fitted
