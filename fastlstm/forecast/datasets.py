"""Small data sets shipped with the package.

The files live in ``fastlstm/data`` and are read with :mod:`importlib.resources`,
so they work from a wheel, a zip import or a source checkout.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

import numpy as np

__all__ = ["load_airpassengers"]


def _read_text(name: str) -> str:
    return (resources.files("fastlstm") / "data" / name).read_text(encoding="utf-8")


def load_airpassengers(return_months: bool = False):
    """Monthly international airline passengers, 1949-01 to 1960-12 (Box & Jenkins).

    Totals in thousands; 144 monthly values with trend and multiplicative
    yearly seasonality, the classic test series for forecasting methods.

    Parameters
    ----------
    return_months : bool
        Also return the month labels.

    Returns
    -------
    values : numpy.ndarray of float64, shape (144,)
        Passengers (thousands).
    months : numpy.ndarray of str, shape (144,)
        ``"YYYY-MM"`` labels; only when ``return_months`` is true.

    Examples
    --------
    >>> from fastlstm.forecast.datasets import load_airpassengers
    >>> y = load_airpassengers()
    >>> y.shape, y[0], y[-1]
    ((144,), 112.0, 432.0)
    """
    reader = csv.reader(io.StringIO(_read_text("airpassengers.csv")))
    header = next(reader)
    if [h.strip() for h in header] != ["month", "passengers"]:  # pragma: no cover - packaging error
        raise ValueError(f"airpassengers.csv: expected columns ['month', 'passengers'], got {header}")
    rows = [r for r in reader if r]
    months = np.array([r[0].strip() for r in rows])
    values = np.array([float(r[1]) for r in rows], dtype=np.float64)
    if return_months:
        return values, months
    return values
