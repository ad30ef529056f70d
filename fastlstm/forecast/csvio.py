"""Series from CSV files, checked before anything is fitted (the ``fastlstm`` command line's input).

:func:`read_csv_column` reads one numeric column; :func:`read_csv_series` reads one series or a
long-format panel with its dates. Every refusal names the file, the line and the column: a
missing value, a non-number, NaN or Inf, a duplicated or unordered date, or a gap in a regular
series. The error messages name the command line's flags (``--column``, ``--id-col``,
``--time-col``) that choose the columns.
"""

from __future__ import annotations

import csv
import math

import numpy as np

from .timeindex import _EXPECTED, _Label, _parse_label, _periods, _shift, _write_label, parse_dates

__all__ = ["periods_between", "read_csv_column", "read_csv_series", "shift_label"]


def _label(label) -> _Label:
    """The parsed date label (:func:`~fastlstm.forecast.timeindex._parse_label`), or ValueError."""
    lab = _parse_label(label)
    if lab is None:
        raise ValueError(f"label: expected {_EXPECTED}, got {label!r}")
    return lab


def shift_label(label: str, k: int, freq: str | None = None) -> str:
    """The date label ``k`` periods after ``label`` (before it for ``k < 0``), in its format.

    Parameters
    ----------
    label : str
        ``YYYY``, ``YYYY-MM`` (or ``YYYY-M``), ``YYYY Mon``, ``YYYY Qn`` / ``YYYY-Qn`` /
        ``YYYYQn``, or an ISO date ``YYYY-MM-DD`` (with an optional time ``HH:MM[:SS]`` after
        a space or a ``T``), as :func:`~fastlstm.forecast.timeindex.parse_dates` reads them.
    k : int
        Periods to move: years, quarters or months for the labels that name them; steps of
        ``freq`` for ISO dates.
    freq : str, optional
        The frequency name of ISO dates, as :func:`~fastlstm.forecast.timeindex.parse_dates`
        returns it: ``"daily"`` (the default, also None), ``"weekly"``, ``"business daily"``,
        ``"hourly"``, or ``"monthly"``, ``"quarterly"``, ``"yearly"`` for dates on the first
        or the last day of a month (they stay firsts or lasts: ``1960-01-31`` is followed by
        ``1960-02-29``). Ignored for the other labels.

    Returns
    -------
    str
        The label, written as ``label`` is (separator, zero padding, month-name case, time part).

    Raises
    ------
    ValueError
        ``label`` is not one of these dates, an unknown ``freq``, or an ISO date neither the
        first nor the last day of a month with a monthly, quarterly or yearly ``freq``.
    """
    lab = _label(label)
    return _write_label(lab, _shift(lab, int(k), freq))


def periods_between(start: str, end: str, freq: str | None = None) -> int:
    """The number of periods from date label ``start`` to ``end`` (negative when ``end`` is earlier).

    Parameters
    ----------
    start, end : str
        Date labels of one format (see :func:`shift_label`).
    freq : str, optional
        The frequency name of ISO dates (see :func:`shift_label`; default: days).

    Returns
    -------
    int
        ``shift_label(start, n, freq) == end`` for the ``n`` returned (as dates).

    Raises
    ------
    ValueError
        A label that is not a date, labels of two formats, or ISO dates not a whole number of
        ``freq``'s steps apart.
    """
    a, b = _label(start), _label(end)
    if a.kind != b.kind:
        raise ValueError(f"label: expected two dates of one format, got {start!r} and {end!r}")
    return _periods(a, b, freq)


def _rows(path: str) -> list[tuple[int, list[str]]]:
    """The non-blank rows of a UTF-8 CSV file, each with its line number."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            return [(reader.line_num, r) for r in reader if r and any(c.strip() for c in r)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: expected a UTF-8 CSV text file ({type(exc).__name__}: {exc})") from exc


def read_csv_column(path: str, column: str | None = None) -> tuple[np.ndarray, list[str] | None, str]:
    """Read one numeric column of a CSV file with a header row.

    Parameters
    ----------
    path : str
        CSV file.
    column : str, optional
        Column name; default: the last column whose values are all numbers.

    Returns
    -------
    values : numpy.ndarray of float64
    labels : list of str or None
        The first column, when it is not the value column (e.g. dates).
    name : str
        The chosen column's name.

    Raises
    ------
    ValueError
        Not UTF-8 text, no such column, a non-numeric value, NaN or Inf (the
        message gives the line), or no numeric column at all. A column whose
        first value is a number but a later one is not is an error too, not
        silently skipped for an earlier column.
    """
    numbered = _rows(path)
    rows = [r for _, r in numbered]
    if len(rows) < 2:
        raise ValueError(f"{path}: expected a header row and at least one data row, got {len(rows)} row(s)")
    header = [h.strip() for h in rows[0]]
    data = rows[1:]

    def first_bad(j: int):
        """(line, cell) of the first value of column j that is not a number, or None."""
        for line, r in numbered[1:]:
            try:
                float(r[j])
            except (ValueError, IndexError):
                return line, (r[j] if j < len(r) else "")
        return None

    def missing(j: int):
        """Line of the first empty cell of column j, or None."""
        for line, r in numbered[1:]:
            if j >= len(r) or not r[j].strip():
                return line
        return None

    def numeric(j: int) -> bool:
        return first_bad(j) is None

    if column is None:
        candidates = [j for j in range(len(header)) if numeric(j)]
        if not candidates:
            starts = [k for k in range(len(header)) if _numeric_start(data, k)]
            if starts:  # a value column with a bad cell: name it
                k = starts[-1]
                bad = first_bad(k)
                if missing(k) == bad[0]:
                    raise ValueError(f"{path}: line {bad[0]}, column {header[k]!r}: missing value")
                raise ValueError(
                    f"{path}: line {bad[0]}, column {header[k]!r}: expected a number, got {bad[1]!r}"
                )
            raise ValueError(f"{path}: expected a numeric column, got none among {header}")
        j = candidates[-1]
        for k in range(j + 1, len(header)):  # a value column with a typo must not be skipped silently
            if _numeric_start(data, k):
                bad = first_bad(k)
                if missing(k) == bad[0]:
                    raise ValueError(f"{path}: line {bad[0]}, column {header[k]!r}: missing value")
                raise ValueError(
                    f"{path}: line {bad[0]}, column {header[k]!r}: expected a number, got {bad[1]!r} "
                    "(pass --column to choose another column)"
                )
    else:
        if column not in header:
            raise ValueError(f"--column: expected one of {header}, got {column!r}")
        j = header.index(column)
        bad = first_bad(j)
        if bad is not None and missing(j) == bad[0]:
            raise ValueError(f"{path}: line {bad[0]}, column {column!r}: missing value")
        if bad is not None:
            raise ValueError(
                f"--column: column {column!r} of {path} has non-numeric values (line {bad[0]}: {bad[1]!r})"
            )
    values = np.array([float(r[j]) for r in data], dtype=np.float64)
    if not np.isfinite(values).all():
        i = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(
            f"{path}: line {numbered[i + 1][0]}, column {header[j]!r}: expected a finite number, "
            f"got {data[i][j]!r}"
        )
    labels = [r[0].strip() for r in data] if j != 0 else None
    return values, labels, header[j]


def _numeric_start(data: list, k: int) -> bool:
    """Whether column ``k``'s first value is a number."""
    try:
        float(data[0][k])
    except (ValueError, IndexError):
        return False
    return True


def read_csv_series(
    path: str,
    column: str | None = None,
    time_col: str | None = None,
    id_col: str | None = None,
    covariates: list[str] | None = None,
    static_cols: list[str] | None = None,
    future: bool = False,
) -> dict:
    """Read one series or a long-format panel from a CSV file, checking dates and values.

    Parameters
    ----------
    path : str
        CSV file with a header row.
    column : str, optional
        Value column (default: the last numeric column that is neither the
        id nor the time column, nor a covariate or static column).
    time_col : str, optional
        Date column (default with ``id_col``: the first other column; without:
        the first column whose first value is a date). Its dates are read by
        :func:`~fastlstm.forecast.timeindex.parse_dates`.
    id_col : str, optional
        Series id column of a long-format panel (one row per id and date).
    covariates : list of str, optional
        Known-future numeric columns (``--covariates``): every row's cells must be finite
        numbers, the future rows' too.
    static_cols : list of str, optional
        Per-series columns of a long panel (``--static-cols``, needs ``id_col``): constant
        within each id; each column is all numbers or all text.
    future : bool
        Accept future rows: the rows at the end of a series whose value is empty (needs
        ``covariates``, which give their known-future values). Otherwise an empty value is a
        missing value wherever it is.

    Returns
    -------
    dict
        ``ids`` (list of str), ``values`` (list of float64 arrays, the history without the
        future rows), ``labels`` (list of lists of str or None, the history's), ``name`` (value
        column), ``season`` and ``freq`` (from the dates, the future rows' included; None
        without dates); with ``covariates``: ``covariates`` (per series a float64 array
        ``(n_i + h_i, F)``: the history's rows, then the future rows') and ``covariate_names``;
        ``future`` (per series the number of future rows ``h_i``) and ``future_labels`` (their
        dates, or None); with ``static_cols``: ``static`` (per series a list of its cells, as
        text) and ``static_names``, ``static_numeric`` (per column, whether it is all numbers).

    Raises
    ------
    ValueError
        Naming the file, line and column: a missing value (an empty value between a series'
        values, or at its end without ``future``), a non-number, NaN or Inf (a covariate's
        too), a duplicated or unordered date, a gap in a regular series, a static column not
        constant within an id or mixing numbers and text, or an unknown column. Repeated dates
        without ``id_col`` in a file that looks like a long-format panel say so and name the
        id column to pass.
    ImportError
        ISO dates (``YYYY-MM-DD``) at steps other than a day or a week without
        pandas, which infers their frequency
        (:func:`~fastlstm.forecast.timeindex.parse_dates`).
    """
    numbered = _rows(path)
    if len(numbered) < 2:
        raise ValueError(
            f"{path}: expected a header row and at least one data row, got {len(numbered)} row(s)"
        )
    header = [h.strip() for h in numbered[0][1]]
    rows = numbered[1:]
    for flag, col in (("--id-col", id_col), ("--time-col", time_col), ("--column", column)):
        if col is not None and col not in header:
            raise ValueError(f"{flag}: expected one of {header}, got {col!r}")
    covariates, static_cols = list(covariates or []), list(static_cols or [])
    for flag, cols in (("--covariates", covariates), ("--static-cols", static_cols)):
        for col in cols:
            if col not in header:
                raise ValueError(f"{flag}: expected columns among {header}, got {col!r}")
    if static_cols and id_col is None:
        raise ValueError(
            f"--static-cols: expected --id-col too (static columns are per series of a long panel), "
            f"got {','.join(static_cols)} without it"
        )
    if future and not covariates:
        raise ValueError("future rows: expected covariates (--covariates) to give their values, got none")
    taken = {c for c in (id_col, time_col) if c is not None}
    for flag, cols in (("--covariates", covariates), ("--static-cols", static_cols)):
        for col in cols:
            if col in taken or col == column:
                raise ValueError(
                    f"{flag}: expected columns other than the value, id and date columns, got {col!r}"
                )
    both = sorted(set(covariates) & set(static_cols))
    if both:
        raise ValueError(
            f"--static-cols: expected columns that are not --covariates, got {both[0]!r} in both"
        )
    extra = set(covariates) | set(static_cols)

    def cell(r, j):
        return r[j].strip() if j < len(r) else ""

    if column is None:
        if id_col is None and time_col is None and not extra:
            _, _, column = read_csv_column(path, None)
        else:
            for j in reversed(range(len(header))):
                if header[j] in taken or header[j] in extra:
                    continue
                try:
                    float(cell(rows[0][1], j))
                except ValueError:
                    continue
                column = header[j]
                break
            if column is None:
                raise ValueError(
                    f"{path}: expected a numeric column besides {sorted(taken | extra)}, got none"
                )
    jv = header.index(column)
    if time_col is None:
        others = [j for j in range(len(header)) if j != jv and header[j] not in taken | extra]
        if others and id_col is not None:
            time_col = header[others[0]]
        else:
            dated = [j for j in others if _parse_label(cell(rows[0][1], j)) is not None]
            time_col = header[dated[0]] if dated else None
    jt = None if time_col is None else header.index(time_col)
    ji = None if id_col is None else header.index(id_col)
    jc = [header.index(c) for c in covariates]
    js = [header.index(c) for c in static_cols]
    if ji is None and jt is not None:
        _refuse_a_long_panel(path, header, rows, jv, jt)
    last_valued: dict[str, int] = {}  # per id, the line of its last value: later empty ones are future
    for line, r in rows:
        if cell(r, jv) != "":
            last_valued[cell(r, ji) if ji is not None else ""] = line
    groups: dict[str, list] = {}
    statics: dict[str, list] = {}
    for line, r in rows:
        uid = cell(r, ji) if ji is not None else ""
        raw = cell(r, jv)
        if raw == "":
            if line < last_valued.get(uid, 0):
                raise ValueError(
                    f"{path}: line {line}, column {column!r}: missing value"
                    + (
                        " (only the rows at the end of a series may leave it empty: its future)"
                        if future
                        else ""
                    )
                )
            if not future:
                hint = "; rows at the end of a series with an empty value are its future: " + (
                    "forecast them without --evaluate/--test-size"
                    if covariates
                    else "they need --covariates giving their known-future values"
                )
                raise ValueError(f"{path}: line {line}, column {column!r}: missing value{hint}")
            v = None
        else:
            try:
                v = float(raw)
            except ValueError:
                raise ValueError(
                    f"{path}: line {line}, column {column!r}: expected a number, got {raw!r}"
                ) from None
            if not math.isfinite(v):
                raise ValueError(
                    f"{path}: line {line}, column {column!r}: expected a finite number, got {raw!r}"
                )
        if ji is not None and uid == "":
            raise ValueError(f"{path}: line {line}, column {id_col!r}: missing value")
        lab = cell(r, jt) if jt is not None else None
        if jt is not None and lab == "":
            raise ValueError(f"{path}: line {line}, column {time_col!r}: missing value")
        covs = [_number(path, line, header[j], cell(r, j)) for j in jc]
        for j in js:
            if cell(r, j) == "":
                raise ValueError(f"{path}: line {line}, column {header[j]!r}: missing value")
        here = [cell(r, j) for j in js]
        if uid in statics:
            first_line, first = statics[uid]
            for k, j in enumerate(js):
                if here[k] != first[k]:
                    raise ValueError(
                        f"{path}: line {line}, column {header[j]!r}, {id_col} {uid!r}: expected the "
                        f"value of the series' first row (line {first_line}), {first[k]!r}, "
                        f"on every row, got {here[k]!r}"
                    )
        else:
            statics[uid] = (line, here)
        groups.setdefault(uid, []).append((line, lab, v, covs))
    out = {"ids": [], "values": [], "labels": [], "name": column, "season": None, "freq": None}
    out.update(future=[], future_labels=[])
    if covariates:
        out.update(covariates=[], covariate_names=covariates)
    seasons = set()
    for uid, items in groups.items():
        lines = [x[0] for x in items]
        labels = [x[1] for x in items] if jt is not None else None
        n = sum(x[2] is not None for x in items)
        if n == 0:
            series = f", {id_col} {uid!r}" if ji is not None else ""
            raise ValueError(
                f"{path}, column {column!r}{series}: expected values before the future rows, got none "
                f"(lines {lines[0]} .. {lines[-1]} are empty)"
            )
        if labels is not None and len(labels) >= 2:
            where = f"{path}, column {time_col!r}" + (f", {id_col} {uid!r}" if ji is not None else "")
            seasons.add(parse_dates(labels, where, lines))
        out["ids"].append(uid)
        out["values"].append(np.array([x[2] for x in items[:n]], dtype=np.float64))
        out["labels"].append(None if labels is None else labels[:n])
        out["future"].append(len(items) - n)
        out["future_labels"].append(None if labels is None else labels[n:])
        if covariates:
            out["covariates"].append(
                np.array([x[3] for x in items], dtype=np.float64).reshape(len(items), -1)
            )
    if len(seasons) > 1:
        raise ValueError(
            f"{path}: expected one frequency for every series, got {sorted(s[1] for s in seasons)}"
        )
    if seasons:
        out["season"], out["freq"] = next(iter(seasons))
    if static_cols:
        out["static"] = [statics[uid][1] for uid in out["ids"]]
        out["static_names"] = static_cols
        out["static_numeric"] = [
            _static_kind(path, static_cols[k], id_col, out["ids"], [s[k] for s in out["static"]])
            for k in range(len(static_cols))
        ]
    return out


def _number(path: str, line: int, name: str, raw: str) -> float:
    """A covariate cell as a finite float, or the ValueError naming the file, line and column."""
    if raw == "":
        raise ValueError(f"{path}: line {line}, column {name!r}: missing value")
    try:
        v = float(raw)
    except ValueError:
        raise ValueError(f"{path}: line {line}, column {name!r}: expected a number, got {raw!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{path}: line {line}, column {name!r}: expected a finite number, got {raw!r}")
    return v


def _static_kind(path: str, name: str, id_col: str, ids: list[str], cells: list[str]) -> bool:
    """Whether static column ``name`` is all numbers (True) or all text (False); a mix is refused."""
    numeric = [_is_number(c) and math.isfinite(float(c)) for c in cells]
    if all(numeric) or not any(numeric):
        return all(numeric)
    num = ids[numeric.index(True)]
    text = ids[numeric.index(False)]
    raise ValueError(
        f"{path}, column {name!r}: expected numbers for every series or text for every series "
        f"(one-hot encoded), got {cells[numeric.index(True)]!r} for {id_col} {num!r} and "
        f"{cells[numeric.index(False)]!r} for {id_col} {text!r}"
    )


def _refuse_a_long_panel(path: str, header: list[str], rows: list, jv: int, jt: int) -> None:
    """Raise when dates repeat and some column's values tell the series apart (a long-format
    panel read without ``--id-col``): pass that column."""

    def cell(r, j):
        return r[j].strip() if j < len(r) else ""

    dates = [cell(r, jt) for _, r in rows]
    seen: dict[str, int] = {}
    repeat = None
    for (line, _), d in zip(rows, dates, strict=True):
        if d in seen:
            repeat = (line, d, seen[d])
            break
        seen[d] = line
    if repeat is None:
        return
    candidates = []
    for j in range(len(header)):
        if j in (jv, jt):
            continue
        ids = [cell(r, j) for _, r in rows]
        if "" in ids or not 1 < len(set(ids)) < len(ids):
            continue
        if len(set(zip(ids, dates, strict=True))) != len(ids):  # a date twice within one id
            continue
        numeric = all(_is_number(u) for u in ids)
        candidates.append((numeric, j))
    if not candidates:
        return
    j = min(candidates)[1]
    line, d, first = repeat
    raise ValueError(
        f"{path}: line {line}, column {header[jt]!r}: date {d!r} repeats line {first}'s, and column "
        f"{header[j]!r} tells the series apart: looks like a panel in long format: "
        f"pass --id-col {header[j]}"
    )


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True
