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

A DataFrame without ``unique_id`` that has a date column (datetime or period dtype, or a column
named ``ds`` of dates or integer steps) and one value column is one dated series (form ``series``,
named after the value column); with several value columns (or several date columns) it is refused
as ambiguous. Dates are never values: a datetime, timedelta or period column of a wide frame, or
such a Series or array, is refused.

pandas is imported only when the caller passes (or fitted on) pandas objects.
"""

from __future__ import annotations

import sys

import numpy as np

from .timeindex import _pandas, future_index, index_meta, shift_meta, start_offset
from .windows import as_series

__all__ = [
    "history_inputs",
    "ingest",
    "next_index",
    "pack",
    "pack_levels",
    "season_drops",
    "season_starts",
    "split_covariates",
    "static_features",
    "with_static",
]

#: the forms whose output is NumPy (the others are pandas)
ARRAY_FORMS = ("1d", "2d", "list")


def _not_dates(dtype, where: str) -> None:
    """Refuse a datetime, timedelta or period dtype where numbers are expected."""
    dated = dtype.kind in "mM" if isinstance(dtype, np.dtype) else _is_date_dtype(dtype, durations=True)
    if dated:
        raise ValueError(f"{where}: expected numbers, got dates (dtype {dtype})")


def _is_date_dtype(dtype, durations: bool = False) -> bool:
    """A pandas (or NumPy) datetime or period dtype, time-zone aware or not (or, with
    ``durations``, a timedelta dtype)."""
    pd = _pandas()
    return bool(
        pd.api.types.is_datetime64_any_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype)
        or (durations and pd.api.types.is_timedelta64_dtype(dtype))
    )


def _split_series(y, name: str) -> tuple[list[np.ndarray], str]:
    """A list of 1-D float64 series and the input form ('1d', '2d', 'list')."""
    if isinstance(y, np.ndarray):
        _not_dates(y.dtype, name)
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
        if isinstance(y, pd.DataFrame):
            dates = [c for c in y.columns if _is_date_dtype(y[c].dtype) or c == "ds"]
            if dates:
                return _ingest_dated_frame(y, dates, name)
            for c in y.columns:
                _not_dates(y[c].dtype, f"{name}, column {c!r}")
            meta["columns"] = list(y.columns)
        else:
            _not_dates(y.dtype, name)
        idx = index_meta(y.index, name)
        if idx is not None:
            meta["index"] = idx
        series, form = _split_series(y, name)
        if idx is not None:
            form = "series" if form == "1d" else "frame"
            if form == "series":
                meta["name"] = y.name
        return series, form, meta
    series, form = _split_series(y, name)
    return series, form, meta


def _values(vals, where: str) -> np.ndarray:
    """A value column as float64, refusing a missing or non-numeric value by its row."""
    pd = _pandas()
    _not_dates(vals.dtype, f"{where}, column {vals.name!r}")
    bad = ~np.isfinite(pd.to_numeric(vals, errors="coerce").to_numpy(dtype=np.float64))
    if bad.any():
        row = vals.index[int(np.flatnonzero(bad)[0])]
        raise ValueError(
            f"{where}, row {row}, column {vals.name!r}: expected a finite number, got {vals[row]!r}"
        )
    return vals.to_numpy(dtype=np.float64)


def _time_meta(ds, where: str) -> dict:
    """The description of a date column (datetimes, periods, or evenly spaced integer steps)."""
    pd = _pandas()
    if pd.api.types.is_datetime64_any_dtype(ds) or isinstance(ds.dtype, pd.PeriodDtype):
        index = pd.DatetimeIndex(ds) if pd.api.types.is_datetime64_any_dtype(ds) else pd.PeriodIndex(ds)
        return index_meta(index, where)
    d = ds.to_numpy()
    if not np.issubdtype(d.dtype, np.number):
        raise ValueError(
            f"{where}, column {ds.name!r}: expected datetimes, periods or integers, got dtype {ds.dtype}"
        )
    steps = np.diff(d)
    if len(steps) and (np.any(steps <= 0) or np.any(steps != steps[0])):
        j = int(np.flatnonzero((steps <= 0) | (steps != steps[0]))[0]) + 1
        raise ValueError(
            f"{where}, row {ds.index[j]}, column {ds.name!r}: expected increasing, evenly spaced values, "
            f"got {d[j - 1]!r} then {d[j]!r}"
        )
    step = int(steps[0]) if len(steps) else 1
    return {"kind": "int", "freq": str(step), "last": str(int(d[-1]))}


def _dates_key(ds):
    """The dtype and bytes of a date column's values (dates and periods as their int64
    codes), or None for a column of Python objects."""
    arr = getattr(ds.array, "asi8", None)
    if arr is None:
        arr = ds.to_numpy()
        if arr.dtype.kind not in "iuf":
            return None
    return str(ds.dtype), np.ascontiguousarray(arr).tobytes()


def _ingest_dated_frame(df, dates: list, name: str) -> tuple[list[np.ndarray], str, dict]:
    """A DataFrame with a date column and no ``unique_id``: one dated series (form ``series``)."""
    values = [c for c in df.columns if c not in dates]
    if index_meta(df.index, name) is not None:
        raise ValueError(
            f"{name}: column {dates[0]!r} holds dates, and the index is already dated: expected "
            "value columns only (drop the date column)"
        )
    layouts = (
        "expected one date column and one value column (one dated series), a long panel with "
        "columns unique_id, ds, y, or a wide DataFrame indexed by the dates (df.set_index(date column))"
    )
    if len(dates) > 1:
        raise ValueError(f"{name}: several date columns {dates}: {layouts}")
    if len(values) != 1:
        raise ValueError(f"{name}: date column {dates[0]!r} with value columns {values}: {layouts}")
    vals = _values(df[values[0]], name)
    return [vals], "series", {"index": _time_meta(df[dates[0]], name), "name": values[0]}


def _ingest_panel(df, name: str) -> tuple[list[np.ndarray], str, dict]:
    """A long DataFrame (unique_id, ds, y): one series per id, in order of first appearance."""
    series, ids, idx_metas = [], [], []
    described: dict = {}  # the same dates, the same description: inferring a frequency is slow
    for uid, g in df.groupby("unique_id", sort=False):
        where = f"{name}: unique_id {uid!r}"
        vals = _values(g["y"], where)
        key = _dates_key(g["ds"])
        if key is None or key not in described:
            meta = _time_meta(g["ds"], where)  # raises for bad dates, which are never stored
            if key is not None:
                described[key] = meta
        idx_metas.append(dict(described[key]) if key is not None else meta)
        series.append(vals)
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
    if any(p.shape[1] != out[0].shape[1] for p in out):
        raise ValueError(f"{name}: expected the same number of covariates for every series")
    return out


def history_inputs(
    steps: int,
    X_future,
    y,
    X,
    *,
    fitted,
    fitted_covariates,
    n_covariates: int,
    log,
    input_size: int,
    start=None,
    fitted_index=None,
    season: int = 1,
    positional=None,
    fitted_ids=None,
    static=None,
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
    log : sequence of bool
        Per series, whether the fit was on the log scale (its history must then be positive).
    input_size : int
        The least points a history needs.
    start : int or sequence of int, optional
        ``predict``'s ``start``: the step of the history's first point, counted from the fitted
        series' first point (one for all series, or one per series).
    fitted_index : dict or list of dict, optional
        The fitted series' dates (:attr:`Forecaster.index_`).
    season : int
        The season length of the fit.
    positional : list of bool, optional
        Per series, whether its forecast depends on the season position (seasonal indices or a
        learned season); default: none does.
    fitted_ids : list, optional
        A panel fit's ids: a panel history must have the same, in the same order.
    static : numpy.ndarray, shape (n_series, S), optional
        The fit's static features: appended to every series' covariate rows (history and
        future) as constant columns.

    Returns
    -------
    series : list of numpy.ndarray
        Each history from its first point at the fitted season position (see :func:`season_starts`).
    cov : list of numpy.ndarray or None
        Per series, the covariates of the history and the ``steps`` future rows.
    index : dict or None
        The new history's dates (None for the fitted history's).
    """
    index = None
    drops = [0] * len(fitted)
    if y is None:
        if X is not None:
            raise ValueError("X: expected None when y is None (the fitted history's covariates are used)")
        if start is not None:
            raise ValueError(f"start: expected None when y is None (the fitted history), got {start!r}")
        series, covs = fitted, fitted_covariates
    else:
        series, _, meta = ingest(y, "y")
        index = meta.get("index")
        if len(series) != len(fitted):
            raise ValueError(f"y: expected {len(fitted)} series (as in fit), got {len(series)}")
        ids = meta.get("ids")
        if (
            ids is not None
            and fitted_ids is not None
            and [str(u) for u in ids] != [str(u) for u in fitted_ids]
        ):
            raise ValueError(
                f"y: expected the unique_id values of fit in their order {list(fitted_ids)[:10]}, "
                f"got {ids[:10]}"
            )
        covs = split_covariates(X, [len(s) for s in series], "X")
        if (covs is None) != (n_covariates == 0):
            raise ValueError(
                f"X: expected {'covariates for the history y' if n_covariates else 'None'} "
                f"(the model was fitted {'with' if n_covariates else 'without'} X)"
            )
        starts = season_starts(series, index, start, fitted, fitted_index, season, positional)
        if index is None and fitted_index is not None:  # the dates follow from where it starts
            index = [
                shift_meta(_meta_at(fitted_index, i), k + len(s) - len(fitted[i]))
                for i, (s, k) in enumerate(zip(series, starts, strict=True))
            ]
            index = index if isinstance(fitted_index, list) else index[0]
        drops = season_drops(starts, season, positional)
        series = [s[d:] for s, d in zip(series, drops, strict=True)]
        covs = None if covs is None else [c[d:] for c, d in zip(covs, drops, strict=True)]
    for i, s in enumerate(series):
        if log[i] and np.any(s <= 0):
            raise ValueError(
                "y: expected positive values (the model was fitted on the log scale), got <= 0"
                + (f" in series {i}" if len(series) > 1 else "")
            )
        if len(s) < input_size:
            aligned = (
                f" after dropping its first {drops[i]} (to start at the season position of fit)"
                if drops[i]
                else ""
            )
            raise ValueError(
                f"y: series {i} expected at least lookback={input_size} points{aligned}, got {len(s)}"
            )
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
    if static is not None:  # constant over the history and the future rows
        rows = [len(s) + steps if c is None else len(c) for s, c in zip(series, cov, strict=True)]
        cov = with_static(None if n_covariates == 0 else cov, static, rows)
    return series, cov, index


def _meta_at(metas, i: int):
    """Series ``i``'s dates of ``metas`` (one description for all, one per series, or None)."""
    return metas[i] if isinstance(metas, list) else metas


def season_drops(starts, season: int, positional) -> list[int]:
    """Per series, the points to drop from the start of a history that starts at step ``starts[i]``
    (see :func:`season_starts`) so that it starts at the fitted season position: ``(-k) % season``
    where its forecast depends on the position (``positional``), else 0."""
    return [
        (-k) % season if season > 1 and positional is not None and positional[i] and k is not None else 0
        for i, k in enumerate(starts)
    ]


def season_starts(series, index, start, fitted, fitted_index, season: int, positional) -> list:
    """Per series of a new history, the step of its first point counted from the fitted series'
    first point (the rule of ``Forecaster.predict``'s ``y``), or None where it is not needed.

    * Both dated (the history's dates ``index``, the fit's ``fitted_index``): from the dates,
      which must have the fitted frequency; ``start``, if given, must agree with them.
    * Otherwise, where the fit was dated (the forecasts' dates follow from it) or the series'
      forecast depends on the season position (``positional``, with ``season > 1``): ``start``
      if given, else 0 when the history begins with the fitted series' values (the fitted
      series itself, a part of it from its start, or it extended by new points); anything else
      is refused, since where it starts is unknown.
    * Otherwise ``start`` (None when not given).

    Raises
    ------
    ValueError, TypeError
        Naming ``y`` or ``start``.
    """
    n = len(series)
    if start is None or np.ndim(start) == 0:
        starts = [start] * n
    else:
        starts = list(start)
        if len(starts) != n:
            raise ValueError(f"start: expected one int or {n} (one per series), got {len(starts)}")
    for k in starts:
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer))):
            raise TypeError(f"start: expected an int (or one per series), got {type(k).__name__} {k!r}")
    out = []
    for i, s in enumerate(series):
        where = "y" + (f", series {i}" if n > 1 else "")
        mine, theirs = _meta_at(index, i), _meta_at(fitted_index, i)
        k = None if starts[i] is None else int(starts[i])
        if mine is not None and theirs is not None:
            dated = start_offset(theirs, len(fitted[i]), mine, len(s), where)
            if k is not None and (k - dated) % max(season, 1):
                raise ValueError(
                    f"start: {k} disagrees with the dates of {where}, whose first point is "
                    f"{dated} steps after the first fitted point"
                )
            k = dated
        positional_i = season > 1 and positional is not None and positional[i]
        if k is None and (theirs is not None or positional_i):
            m = min(len(s), len(fitted[i]))
            if not np.array_equal(s[:m], fitted[i][:m]):
                needs = [
                    w for w, c in (("its season position", positional_i), ("the forecast dates", theirs)) if c
                ]
                raise ValueError(
                    f"{where}: where this history starts is unknown (needed for {' and '.join(needs)}): "
                    f"it is {'not dated (the fit was)' if theirs is not None else 'not dated'} and does "
                    "not begin with the fitted series' values; pass "
                    f"{'it with its dates, or ' if theirs is not None else ''}start=, the step of its "
                    "first point counted from the first fitted point (e.g. start=1 when it begins "
                    "one step after the fitted series began)"
                )
            k = 0
        out.append(k)
    return out


def next_index(metas, i: int, steps: int):
    """The pandas index of series ``i``'s next ``steps`` steps after the history ``metas``
    describes (one dict, or one per series), or None without dates."""
    if metas is None:
        return None
    meta = _meta_at(metas, i)
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
    # one long frame, its columns built once (a frame per series costs ~2 ms each)
    ids = layout["ids"]
    vals = np.concatenate([series[i].reshape(steps, -1) for i in range(len(ids))])
    out = {
        "unique_id": [uid for uid in ids for _ in range(steps)],
        "ds": _panel_dates(index, len(ids), steps),
    }
    for j, c in enumerate(columns or ["forecast"]):
        out[c] = vals[:, j]
    return pd.DataFrame(out)


def _panel_dates(metas, n_series: int, steps: int):
    """The ``ds`` column of a long forecast frame: each series' next ``steps`` dates, one after
    the other (computed once per distinct history end), or None values without dates."""
    pd = _pandas()
    known: dict = {}
    parts = []
    for i in range(n_series):
        meta = _meta_at(metas, i)
        key = None if meta is None else tuple(sorted(meta.items()))
        if key not in known:
            idx = next_index(metas, i, steps)
            known[key] = pd.Index([None] * steps, dtype=object) if idx is None else idx
        parts.append(known[key])
    return parts[0].append(parts[1:])


def pack_levels(series: list[np.ndarray], steps: int, layout: dict, columns: list, index=None):
    """Per-series arrays ``(steps, ...)`` of several values per step (bounds, quantiles): NumPy
    forms keep their shape, pandas forms get one column per value (``columns``, in C order)."""
    if layout["form"] in ARRAY_FORMS:
        return pack(series, steps, layout)
    return pack([b.reshape(steps, -1) for b in series], steps, layout, columns=columns, index=index)


def static_features(static, n_series: int, ids=None) -> tuple[np.ndarray, list[str]]:
    """Per-series static features as a float matrix ``(n_series, S)`` and its column names.

    Parameters
    ----------
    static : array_like or pandas.DataFrame or pandas.Series
        One row per series: an array ``(n_series,)`` or ``(n_series, S)`` of numbers, or a
        DataFrame (a Series is one column) whose numeric columns are used as they are and whose
        other columns (text, categories, bools) are one-hot encoded, one column per value
        (sorted). For a panel fitted on a long frame, the DataFrame's index is its
        ``unique_id`` values (any order); otherwise its rows are in the order of the series.
    n_series : int
        The number of series fitted.
    ids : list, optional
        A long panel's ``unique_id`` values, in the fit's order.

    Returns
    -------
    values : numpy.ndarray, shape (n_series, S)
    columns : list of str

    Raises
    ------
    ValueError
        Not one row per series, an id missing, or a value that is not finite.
    """
    pd = sys.modules.get("pandas")  # a pandas object means pandas is there; arrays need none
    if pd is not None and isinstance(static, pd.Series):
        static = static.to_frame()
    if pd is not None and isinstance(static, pd.DataFrame):
        frame = static
        if ids is not None:
            missing = [u for u in ids if u not in frame.index]
            if missing:
                raise ValueError(f"static: expected a row for every unique_id, missing {missing[:5]}")
            frame = frame.loc[list(ids)]
        if len(frame) != n_series:
            raise ValueError(f"static: expected one row per series ({n_series}), got {len(frame)}")
        parts, columns = [], []
        for col in frame.columns:
            values = frame[col]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                parts.append(values.to_numpy(dtype=np.float64)[:, None])
                columns.append(str(col))
            else:
                levels = sorted(values.astype(str).unique())
                parts.append(np.stack([(values.astype(str) == v).to_numpy(np.float64) for v in levels], 1))
                columns.extend(f"{col}={v}" for v in levels)
        out = np.concatenate(parts, axis=1) if parts else np.empty((n_series, 0))
    else:
        out = np.asarray(static)
        if out.dtype.kind not in "biuf":
            raise TypeError(
                f"static: expected numbers (or a DataFrame for categories), got dtype {out.dtype}"
            )
        out = out.astype(np.float64).reshape(len(out), -1) if out.ndim else out.reshape(1, 1)
        if out.ndim != 2 or len(out) != n_series:
            raise ValueError(
                f"static: expected one row per series ({n_series}), got shape {np.shape(static)}"
            )
        columns = [f"static{k}" for k in range(out.shape[1])]
    if not np.isfinite(out).all():
        raise ValueError("static: expected finite values, got NaN or Inf")
    return out, columns


def with_static(covs, static: np.ndarray | None, lengths: list[int]):
    """Each series' covariate rows with its static features appended as constant columns (the
    covariates as they are without static features; constant columns alone without covariates)."""
    if static is None or static.shape[1] == 0:
        return covs
    out = []
    for i, n in enumerate(lengths):
        const = np.repeat(static[i][None, :], n, axis=0)
        out.append(const if covs is None else np.concatenate([covs[i], const], axis=1))
    return out
