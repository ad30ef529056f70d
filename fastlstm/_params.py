"""Estimator parameters as scikit-learn has them: declared constraints, one message format, the
names read from the constructor's signature, and renamed arguments that keep working for a release.

An estimator declares ``_parameter_constraints``: for each constructor argument, a list of the
kinds of value it accepts (:class:`Interval`, :class:`Options`, ``None``, ``"boolean"``,
``"dtype"`` or ``"any"``). :func:`validate_params` checks every argument against its list at
``fit`` and raises :class:`InvalidParameterError` with the one message format
``"{name}: expected {the accepted kinds, joined by ' or '}, got {value!r}"``.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import warnings

import numpy as np

__all__ = [
    "InvalidParameterError",
    "Interval",
    "Options",
    "param_names",
    "renamed",
    "validate_params",
    "warn_renamed",
]


class InvalidParameterError(ValueError, TypeError):
    """A constructor argument outside its declared constraints (a ``ValueError`` and a
    ``TypeError``, as scikit-learn's, so that either ``except`` catches it)."""


class Interval:
    """Numbers of a type in a range.

    Parameters
    ----------
    kind : {int, float}
        ``int``: integers (not bool); ``float``: any real number (ints included, not bool),
        finite.
    low, high : float or None
        The bounds (None: unbounded).
    closed : {"both", "left", "right", "neither"}
        Which bounds belong to the interval.
    """

    def __init__(self, kind, low=None, high=None, closed: str = "both") -> None:
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def accepts(self, value) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        base = numbers.Integral if self.kind is int else numbers.Real
        if not isinstance(value, base) or (self.kind is float and not np.isfinite(value)):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self) -> str:
        what = "an int" if self.kind is int else "a number"
        left = ">=" if self.closed in ("both", "left") else ">"
        right = "<=" if self.closed in ("both", "right") else "<"
        if self.low is not None and self.high is not None:
            return f"{what} {left} {self.low} and {right} {self.high}"
        if self.low is not None:
            return f"{what} {left} {self.low}"
        if self.high is not None:
            return f"{what} {right} {self.high}"
        return what


class Options:
    """One of given values (compared by type and value: ``True`` is not ``1``).

    Parameters
    ----------
    *values
        The accepted values.
    """

    def __init__(self, *values) -> None:
        self.values = values

    def accepts(self, value) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values)

    def __str__(self) -> str:
        shown = [repr(v) for v in self.values]
        return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _accepts(constraint, value) -> bool:
    if constraint is None:
        return value is None
    if constraint == "boolean":
        return isinstance(value, (bool, np.bool_))
    if constraint == "dtype":
        try:
            return np.dtype(value) in (np.float32, np.float64)
        except TypeError:
            return False
    if constraint == "any":
        return True
    return constraint.accepts(value)


def _describe(constraint) -> str:
    if constraint is None:
        return "None"
    if constraint == "boolean":
        return "a bool"
    if constraint == "dtype":
        return "float32 or float64"
    return str(constraint)


def validate_params(params: dict, constraints: dict) -> None:
    """Check each of ``params`` against its list in ``constraints``.

    Parameters
    ----------
    params : dict
        Argument names to values.
    constraints : dict
        Argument names to lists of accepted kinds (see the module docstring).

    Raises
    ------
    InvalidParameterError
        The first argument no kind accepts, in the format of the module docstring.
    """
    for name, value in params.items():
        kinds = constraints[name]
        if not any(_accepts(k, value) for k in kinds):
            wanted = " or ".join(_describe(k) for k in kinds)
            raise InvalidParameterError(f"{name}: expected {wanted}, got {value!r}")


def param_names(cls) -> tuple[str, ...]:
    """The constructor's argument names, in its order (``self`` and ``*args``/``**kwargs`` left
    out): what ``get_params`` returns, checkpoints store and adapters pass on."""
    sig = inspect.signature(cls.__init__)
    kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return tuple(n for n, p in sig.parameters.items() if n != "self" and p.kind not in kinds)


def warn_renamed(where: str, old: str, new: str, stacklevel: int = 3) -> None:
    """The one ``DeprecationWarning`` of a renamed argument.

    Parameters
    ----------
    where : str
        The function or class that took it (``"Forecaster.__init__"``).
    old, new : str
        The argument's former and current names.
    stacklevel : int
        As :func:`warnings.warn`'s, counted from the caller of this function.
    """
    warnings.warn(
        f"{where}: the argument {old!r} is renamed {new!r}; {old!r} will be removed in the next release",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def renamed(**old_to_new: str):
    """A decorator: keyword arguments under their old names still work, with a
    ``DeprecationWarning`` naming the new one (they go in the release after the next).

    Parameters
    ----------
    **old_to_new : str
        Old argument name -> new argument name.
    """

    def wrap(func):
        @functools.wraps(func)
        def call(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{old}: renamed {new!r}; got both")
                    warn_renamed(func.__qualname__, old, new)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        call.renamed = dict(old_to_new)
        return call

    return wrap
