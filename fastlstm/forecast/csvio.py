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
    path: str, column: str | None = None, time_col: str | None = None, id_col: str | None = None
) -> dict:
    """Read one series or a long-format panel from a CSV file, checking dates and values.

    Parameters
    ----------
    path : str
        CSV file with a header row.
    column : str, optional
        Value column (default: the last numeric column that is neither the
        id nor the time column).
    time_col : str, optional
        Date column (default with ``id_col``: the first other column; without:
        the first column whose first value is a date). Its dates are read by
        :func:`~fastlstm.forecast.timeindex.parse_dates`.
    id_col : str, optional
        Series id column of a long-format panel (one row per id and date).

    Returns
    -------
    dict
        ``ids`` (list of str), ``values`` (list of float64 arrays), ``labels``
        (list of lists of str or None), ``name`` (value column), ``season``
        and ``freq`` (from the dates; None without dates).

    Raises
    ------
    ValueError
        Naming the file, line and column: a missing value, a non-number, NaN
        or Inf, a duplicated or unordered date, a gap in a regular series,
        or an unknown column. Repeated dates without ``id_col`` in a file that
        looks like a long-format panel say so and name the id column to pass.
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
    taken = {c for c in (id_col, time_col) if c is not None}

    def cell(r, j):
        return r[j].strip() if j < len(r) else ""

    if column is None:
        if id_col is None and time_col is None:
            _, _, column = read_csv_column(path, None)
        else:
            for j in reversed(range(len(header))):
                if header[j] in taken:
                    continue
                try:
                    float(cell(rows[0][1], j))
                except ValueError:
                    continue
                column = header[j]
                break
            if column is None:
                raise ValueError(f"{path}: expected a numeric column besides {sorted(taken)}, got none")
    jv = header.index(column)
    if time_col is None:
        others = [j for j in range(len(header)) if j != jv and header[j] not in taken]
        if others and id_col is not None:
            time_col = header[others[0]]
        else:
            dated = [j for j in others if _parse_label(cell(rows[0][1], j)) is not None]
            time_col = header[dated[0]] if dated else None
    jt = None if time_col is None else header.index(time_col)
    ji = None if id_col is None else header.index(id_col)
    if ji is None and jt is not None:
        _refuse_a_long_panel(path, header, rows, jv, jt)
    groups: dict[str, list] = {}
    for line, r in rows:
        raw = cell(r, jv)
        if raw == "":
            raise ValueError(f"{path}: line {line}, column {column!r}: missing value")
        try:
            v = float(raw)
        except ValueError:
            raise ValueError(
                f"{path}: line {line}, column {column!r}: expected a number, got {raw!r}"
            ) from None
        if not math.isfinite(v):
            raise ValueError(f"{path}: line {line}, column {column!r}: expected a finite number, got {raw!r}")
        uid = cell(r, ji) if ji is not None else ""
        if ji is not None and uid == "":
            raise ValueError(f"{path}: line {line}, column {id_col!r}: missing value")
        lab = cell(r, jt) if jt is not None else None
        if jt is not None and lab == "":
            raise ValueError(f"{path}: line {line}, column {time_col!r}: missing value")
        groups.setdefault(uid, []).append((line, lab, v))
    out = {"ids": [], "values": [], "labels": [], "name": column, "season": None, "freq": None}
    seasons = set()
    for uid, items in groups.items():
        lines = [x[0] for x in items]
        labels = [x[1] for x in items] if jt is not None else None
        if labels is not None and len(labels) >= 2:
            where = f"{path}, column {time_col!r}" + (f", {id_col} {uid!r}" if ji is not None else "")
            seasons.add(parse_dates(labels, where, lines))
        out["ids"].append(uid)
        out["values"].append(np.array([x[2] for x in items], dtype=np.float64))
        out["labels"].append(labels)
    if len(seasons) > 1:
        raise ValueError(
            f"{path}: expected one frequency for every series, got {sorted(s[1] for s in seasons)}"
        )
    if seasons:
        out["season"], out["freq"] = next(iter(seasons))
    return out


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
