"""The forecaster's data in and out: arrays, lists, pandas Series, wide and long DataFrames.

In: :func:`ingest` validates what :meth:`Forecaster.fit` (or ``predict(y=...)``) is given, once,
and returns plain float64 series, the form they came in, and the pandas metadata (dates, ids,
columns) needed to give the forecasts back in the same form. Out: :func:`pack` builds that form
from per-series forecasts.

=========  ===============================================  =======================================
form       input                                            output of ``pack``
=========  ===============================================  =======================================
``1d``     a 1-D array                                      an array ``(h,)``
``2d``     a 2-D array ``(T, k)``                           an array ``(h, k)``
``list``   a list of 1-D arrays                             a list of arrays
``series`` a pandas Series with a date index                a Series (or DataFrame) on future dates
``frame``  a wide DataFrame with a date index               a DataFrame on future dates
``panel``  a long DataFrame ``unique_id, ds, y``            a long DataFrame ``unique_id, ds, ...``
=========  ===============================================  =======================================

pandas is imported only when the caller passes (or fitted on) pandas objects.
"""

from __future__ import annotations

import numpy as np

from .timeindex import _pandas, future_index, index_meta
from .windows import as_series

__all__ = ["history_inputs", "ingest", "next_index", "pack", "pack_levels", "split_covariates"]

#: the forms whose output is NumPy (the others are pandas)
ARRAY_FORMS = ("1d", "2d", "list")


def _split_series(y, name: str) -> tuple[list[np.ndarray], str]:
    """A list of 1-D float64 series and the input form ('1d', '2d', 'list')."""
    if isinstance(y, (list, tuple)) and len(y) > 0 and not np.isscalar(y[0]) and np.ndim(y[0]) >= 1:
        out = []
        for i, s in enumerate(y):
            arr = as_series(s, f"{name}[{i}]").astype(np.float64)
            if arr.ndim != 1:
                raise ValueError(f"{name}[{i}]: expected a 1-D series, got shape {arr.shape}")
            out.append(arr)
        return out, "list"
    arr = as_series(y, name).astype(np.float64, copy=False)
    if arr.ndim == 1:
        return [arr], "1d"
    return [np.ascontiguousarray(arr[:, j]) for j in range(arr.shape[1])], "2d"


def ingest(y, name: str) -> tuple[list[np.ndarray], str, dict]:
    """Validate ``y``: its series (1-D, finite, float64), its form, and its pandas metadata.

    Returns
    -------
    series : list of numpy.ndarray
    form : str
        One of the module docstring's forms.
    meta : dict
        ``index`` (one date description, or one per series of a panel), ``ids`` (a panel's
        ids), ``columns`` (a wide DataFrame's), ``name`` (a Series' name); each only when
        present.
    """
    meta: dict = {}
    if type(y).__module__.startswith("pandas"):
        pd = _pandas()
        if isinstance(y, pd.DataFrame) and {"unique_id", "ds", "y"} <= set(y.columns):
            return _ingest_panel(y, name)
        idx = index_meta(y.index, name)
        if idx is not None:
            meta["index"] = idx
        if isinstance(y, pd.DataFrame):
            meta["columns"] = list(y.columns)
        series, form = _split_series(y, name)
        if idx is not None:
            form = "series" if form == "1d" else "frame"
            if form == "series":
                meta["name"] = y.name
        return series, form, meta
    series, form = _split_series(y, name)
    return series, form, meta


def _ingest_panel(df, name: str) -> tuple[list[np.ndarray], str, dict]:
    """A long DataFrame (unique_id, ds, y): one series per id, in order of first appearance."""
    pd = _pandas()
    series, ids, idx_metas = [], [], []
    for uid, g in df.groupby("unique_id", sort=False):
        ds = g["ds"]
        vals = g["y"]
        where = f"{name}: unique_id {uid!r}"
        bad = ~np.isfinite(pd.to_numeric(vals, errors="coerce").to_numpy(dtype=np.float64))
        if bad.any():
            row = g.index[int(np.flatnonzero(bad)[0])]
            raise ValueError(f"{where}, row {row}, column 'y': expected a finite number, got {vals[row]!r}")
        if pd.api.types.is_datetime64_any_dtype(ds) or isinstance(ds.dtype, pd.PeriodDtype):
            index = pd.DatetimeIndex(ds) if pd.api.types.is_datetime64_any_dtype(ds) else pd.PeriodIndex(ds)
            idx_metas.append(index_meta(index, where))
        else:
            d = ds.to_numpy()
            if not np.issubdtype(d.dtype, np.number):
                raise ValueError(
                    f"{where}, column 'ds': expected datetimes, periods or integers, got dtype {ds.dtype}"
                )
            steps = np.diff(d)
            if len(steps) and (np.any(steps <= 0) or np.any(steps != steps[0])):
                j = int(np.flatnonzero((steps <= 0) | (steps != steps[0]))[0]) + 1
                raise ValueError(
                    f"{where}, row {g.index[j]}, column 'ds': expected increasing, evenly spaced values, "
                    f"got {d[j - 1]!r} then {d[j]!r}"
                )
            step = int(steps[0]) if len(steps) else 1
            idx_metas.append({"kind": "int", "freq": str(step), "last": str(int(d[-1]))})
        series.append(vals.to_numpy(dtype=np.float64))
        ids.append(uid)
    freqs = {m["freq"] for m in idx_metas}
    if len(freqs) > 1:
        raise ValueError(f"{name}: expected one frequency for every unique_id, got {sorted(freqs)}")
    return series, "panel", {"ids": ids, "index": idx_metas}


def split_covariates(X, lengths: list[int], name: str) -> list[np.ndarray] | None:
    """Validate covariates: one ``(n_i, F)`` float64 array per series of ``lengths``, or None."""
    if X is None:
        return None
    if isinstance(X, (list, tuple)):
        if len(X) != len(lengths):
            raise ValueError(
                f"{name}: expected one covariate array per series ({len(lengths)}), got {len(X)}"
            )
        parts = [as_series(x, f"{name}[{i}]").astype(np.float64) for i, x in enumerate(X)]
    else:
        if len(lengths) != 1:
            raise ValueError(f"{name}: with {len(lengths)} series, expected a list of covariate arrays")
        parts = [as_series(X, name).astype(np.float64)]
    out = []
    for i, (p, n) in enumerate(zip(parts, lengths, strict=True)):
        p = p.reshape(p.shape[0], -1)
        if p.shape[0] != n:
            raise ValueError(f"{name}: series {i} expected {n} rows, got {p.shape[0]}")
        out.append(p)
    return out


def history_inputs(
    steps: int, X_future, y, X, *, fitted, fitted_covariates, n_covariates: int, log: bool, input_size: int
):
    """The histories to forecast ``steps`` from, validated against the fit (``predict``'s entry).

    Parameters
    ----------
    steps : int
    X_future, y, X
        As given to ``Forecaster.predict``: ``y`` (and its covariates ``X``) a new history in the
        form of the fit, or None for the fitted one.
    fitted, fitted_covariates : list of numpy.ndarray
        The fitted histories and their covariates (None without).
    n_covariates : int
    log : bool
        Whether the fit was on the log scale (the history must then be positive).
    input_size : int
        The least points a history needs.

    Returns
    -------
    series : list of numpy.ndarray
    cov : list of numpy.ndarray or None
        Per series, the covariates of the history and the ``steps`` future rows.
    index : dict or None
        The new history's dates (None for the fitted history's).
    """
    index = None
    if y is None:
        if X is not None:
            raise ValueError("X: expected None when y is None (the fitted history's covariates are used)")
        series, covs = fitted, fitted_covariates
    else:
        series, _, meta = ingest(y, "y")
        index = meta.get("index")
        if len(series) != len(fitted):
            raise ValueError(f"y: expected {len(fitted)} series (as in fit), got {len(series)}")
        covs = split_covariates(X, [len(s) for s in series], "X")
        if (covs is None) != (n_covariates == 0):
            raise ValueError(
                f"X: expected {'covariates for the history y' if n_covariates else 'None'} "
                f"(the model was fitted {'with' if n_covariates else 'without'} X)"
            )
    for i, s in enumerate(series):
        if log and np.any(s <= 0):
            raise ValueError(
                "y: expected positive values (the model was fitted on the log scale), got <= 0"
                + (f" in series {i}" if len(series) > 1 else "")
            )
        if len(s) < input_size:
            raise ValueError(f"y: series {i} expected at least input_size={input_size} points, got {len(s)}")
    futs = None
    if n_covariates:
        if X_future is None:
            raise ValueError(
                f"X_future: expected {steps} future rows of the {n_covariates} covariates, got None"
            )
        futs = split_covariates(X_future, [steps] * len(series), "X_future")
        if futs[0].shape[1] != n_covariates:
            raise ValueError(f"X_future: expected {n_covariates} covariates, got {futs[0].shape[1]}")
    elif X_future is not None:
        raise ValueError("X_future: expected None (the model was fitted without X)")
    cov = [None if futs is None else np.concatenate([covs[i], futs[i]]) for i in range(len(series))]
    return series, cov, index


def next_index(metas, i: int, steps: int):
    """The pandas index of series ``i``'s next ``steps`` steps after the history ``metas``
    describes (one dict, or one per series), or None without dates."""
    if metas is None:
        return None
    meta = metas[i] if isinstance(metas, list) else metas
    if meta["kind"] == "int":
        pd = _pandas()
        step = int(meta["freq"])
        return pd.Index(int(meta["last"]) + step * np.arange(1, steps + 1), name="ds")
    return future_index(meta, steps)


def pack(series: list[np.ndarray], steps: int, layout: dict, columns: list | None = None, index=None):
    """Forecasts (each ``(steps,)``, or ``(steps, c)`` with ``columns``) in the form of the fit.

    Parameters
    ----------
    series : list of numpy.ndarray
    steps : int
        Forecast steps ``h``.
    layout : dict
        The fit's ``form``, ``index``, ``ids``, ``columns`` and ``name`` (a Series' name).
    columns : list, optional
        Names of the ``c`` values per step (interval bounds, quantiles); default: one forecast.
    index : optional
        The dates of the history forecast from (default: the fitted history's, ``layout["index"]``).
    """
    form = layout["form"]
    if form in ARRAY_FORMS:
        if form == "1d":
            return series[0]
        if form == "2d":
            return np.stack(series, axis=1)
        return series
    pd = _pandas()
    index = layout["index"] if index is None else index
    if form == "series":
        idx = next_index(index, 0, steps)
        if columns is None:
            return pd.Series(series[0], index=idx, name=layout["name"])
        return pd.DataFrame(series[0], index=idx, columns=columns)
    if form == "frame":
        idx = next_index(index, 0, steps)
        if columns is None:
            return pd.DataFrame(np.stack(series, axis=1), index=idx, columns=layout["columns"])
        cols = pd.MultiIndex.from_product([layout["columns"], columns])
        return pd.DataFrame(np.concatenate(series, axis=1), index=idx, columns=cols)
    frames = []
    for i, uid in enumerate(layout["ids"]):
        f = pd.DataFrame({"unique_id": [uid] * steps, "ds": next_index(index, i, steps)})
        vals = series[i] if columns is not None else series[i][:, None]
        for j, c in enumerate(columns or ["forecast"]):
            f[c] = vals[:, j]
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def pack_levels(series: list[np.ndarray], steps: int, layout: dict, columns: list, index=None):
    """Per-series arrays ``(steps, ...)`` of several values per step (bounds, quantiles): NumPy
    forms keep their shape, pandas forms get one column per value (``columns``, in C order)."""
    if layout["form"] in ARRAY_FORMS:
        return pack(series, steps, layout)
    return pack([b.reshape(steps, -1) for b in series], steps, layout, columns=columns, index=index)
