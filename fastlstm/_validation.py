"""Argument checks shared by every public entry point.

Every error names the argument, what was expected and what was received.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_float_array",
    "check_bool",
    "check_dtype",
    "check_finite",
    "check_int",
    "check_float",
    "check_seed",
    "check_shape",
]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype, name: str = "dtype") -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise TypeError."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name}: expected float32 or float64, got {dtype!r}") from exc
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected float32 or float64, got {dt}")
    return dt


def as_float_array(
    value,
    name: str,
    *,
    dtype: np.dtype | None = None,
    ndim: int | tuple[int, ...] | None = None,
    finite: bool = True,
    allow_empty: bool = False,
    cast: bool = False,
) -> np.ndarray:
    """Validate ``value`` as a real floating array and return a C-contiguous, writeable view or copy.

    Parameters
    ----------
    value : array_like
        The argument.
    name : str
        Its name, used in error messages.
    dtype : numpy dtype, optional
        Required dtype. With ``cast=False`` a different float dtype is an error
        (no silent mixing of float32 and float64); integer input is an error.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    finite : bool
        Reject NaN and Inf.
    allow_empty : bool
        Accept arrays with a zero-length axis.
    cast : bool
        Convert real (integer or float) input to ``dtype`` instead of raising.
    """
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except Exception as exc:  # pragma: no cover - exotic array-likes
            raise TypeError(f"{name}: expected a real floating array, got {type(value).__name__}") from exc
    kind = arr.dtype.kind
    if kind not in "fiub" or (kind in "iub" and not cast):
        raise TypeError(
            f"{name}: expected a real floating array"
            + (f" of dtype {np.dtype(dtype)}" if dtype is not None else "")
            + f", got dtype {arr.dtype}"
        )
    if kind == "f" and arr.dtype not in FLOAT_DTYPES and not cast:
        raise TypeError(f"{name}: expected float32 or float64, got dtype {arr.dtype}")
    if dtype is not None and arr.dtype != np.dtype(dtype):
        if not cast:
            raise TypeError(
                f"{name}: expected dtype {np.dtype(dtype)} (the model's dtype), got {arr.dtype}; "
                f"convert with .astype(np.{np.dtype(dtype).name})"
            )
        arr = arr.astype(dtype)
    elif dtype is None and arr.dtype not in FLOAT_DTYPES:
        arr = arr.astype(np.float64)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name}: expected {want} dimensions, got {arr.ndim} (shape {arr.shape})")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {arr.shape}")
    if finite:
        check_finite(arr, name)
    # (np.ascontiguousarray would turn a 0-d array into a 1-d one)
    arr = np.ascontiguousarray(arr) if arr.ndim else np.array(arr)
    if not arr.flags.writeable:
        # A read-only array is a different type to Numba: copying it here keeps
        # the kernels to one compiled specialisation per dtype.
        arr = arr.copy()
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ValueError if ``arr`` holds a NaN or an Inf, saying where the first one is."""
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))
        first = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"{name}: expected finite values, got {len(bad)} NaN/Inf value(s), first at index {first}"
        )


def check_shape(arr: np.ndarray, name: str, expected: tuple) -> None:
    """Raise ValueError unless ``arr.shape`` equals ``expected`` (``None`` matches any size)."""
    ok = arr.ndim == len(expected) and all(
        e is None or e == s for e, s in zip(expected, arr.shape, strict=True)
    )
    if not ok:
        dims = ["*" if e is None else str(e) for e in expected]
        want = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
        raise ValueError(f"{name}: expected shape {want}, got {arr.shape}")


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Validate an integer argument (bools rejected) within optional bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: expected an int <= {maximum}, got {value}")
    return value


def check_bool(value, name: str) -> bool:
    """Validate a flag: ``bool`` or ``numpy.bool_`` (not a truthy string or number)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def check_seed(value, name: str = "seed"):
    """Validate a seed: None, an int >= 0 or a :class:`numpy.random.SeedSequence`."""
    if value is None or isinstance(value, np.random.SeedSequence):
        return value
    return check_int(value, name, minimum=0)


def check_float(
    value,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Validate a finite real scalar argument within optional bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    if minimum is not None and (value < minimum or (not min_inclusive and value == minimum)):
        op = ">=" if min_inclusive else ">"
        raise ValueError(f"{name}: expected a number {op} {minimum}, got {value}")
    if maximum is not None and (value > maximum or (not max_inclusive and value == maximum)):
        op = "<=" if max_inclusive else "<"
        raise ValueError(f"{name}: expected a number {op} {maximum}, got {value}")
    return value
