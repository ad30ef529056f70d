"""Dates: season length and horizon from a frequency, date labels, pandas in and out.

Two routes to the same facts (season length ``m``, the next dates):

* pandas objects (``DatetimeIndex``, ``PeriodIndex``) through their frequency
  (:func:`index_meta`, :func:`future_index`); pandas is imported only when the
  caller already passes pandas objects;
* date labels of a CSV file, parsed without pandas (:func:`parse_dates`):
  ``YYYY``, ``YYYY-MM``, ``YYYY Mon``, ``YYYY-Qn`` / ``YYYY Qn`` and ISO dates
  ``YYYY-MM-DD`` (daily, weekly), each turned into an integer period number so
  that duplicates, disorder and gaps are found exactly and reported with the
  row they occur on.

=========  ======  ===================  =====================
frequency  season  default horizon      (M4's horizons)
=========  ======  ===================  =====================
yearly     1       6                    6
quarterly  4       8                    8
monthly    12      18                   18
weekly     52      13                   13
daily      7       14                   14
hourly     24      48                   48
=========  ======  ===================  =====================
"""

from __future__ import annotations

import datetime as _dt
import re

from .._optional import import_optional

__all__ = [
    "FREQUENCIES",
    "default_horizon",
    "future_index",
    "index_meta",
    "parse_dates",
    "season_of_freq",
]

#: frequency name -> (season length, default horizon)
FREQUENCIES = {
    "yearly": (1, 6),
    "quarterly": (4, 8),
    "monthly": (12, 18),
    "weekly": (52, 13),
    "daily": (7, 14),
    "business daily": (5, 10),
    "hourly": (24, 48),
}


def _pandas():
    """pandas, for dates given (or fitted) as pandas objects."""
    return import_optional("pandas", "dated pandas data", extra="pandas")


_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}


def default_horizon(m: int) -> int:
    """M4's horizon for a season length (6 yearly, 8 quarterly, 18 monthly, ...), else ``max(2 m, 6)``."""
    for season, horizon in FREQUENCIES.values():
        if season == m:
            return horizon
    return max(2 * m, 6)


def season_of_freq(freq: str) -> tuple[int, str]:
    """Season length and frequency name of a pandas frequency string.

    Parameters
    ----------
    freq : str
        ``"MS"``, ``"ME"``, ``"M"``, ``"QS-JAN"``, ``"Q-DEC"``, ``"YS-JAN"``,
        ``"A-DEC"``, ``"W-SUN"``, ``"D"``, ``"B"``, ``"h"``, ... (an optional
        multiple such as ``"2M"`` is not a calendar frequency: season 1).

    Returns
    -------
    (int, str)
        ``(12, "monthly")`` etc.; ``(1, "other")`` for anything else.
    """
    base = str(freq).split("-")[0].upper()
    if re.match(r"^\d", base):
        return 1, "other"
    if base in ("M", "MS", "ME", "BM", "BMS", "BME", "CBMS", "CBME"):
        return 12, "monthly"
    if base.startswith(("Q", "BQ")):
        return 4, "quarterly"
    if base.startswith(("A", "Y", "BA", "BY")):
        return 1, "yearly"
    if base == "W":
        return 52, "weekly"
    if base == "D":
        return 7, "daily"
    if base in ("B", "C"):
        return 5, "business daily"
    if base == "H":
        return 24, "hourly"
    return 1, "other"


# ----------------------------------------------------------------- pandas
def index_meta(index, name: str = "y") -> dict | None:
    """A JSON-able description of a dated pandas index, or None for other indexes.

    Raises ValueError for a dated index that is unordered, has duplicates or
    has no regular frequency (a gap), naming the first offending position.

    Parameters
    ----------
    index : pandas.Index
    name : str
        Argument name for error messages.

    Returns
    -------
    dict or None
        ``{"kind": "datetime" | "period", "freq": str, "last": str}``.
    """
    pd = _pandas()
    if not isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex)):
        return None
    kind = "datetime" if isinstance(index, pd.DatetimeIndex) else "period"
    _check_order(list(index), name)
    freq = index.freqstr if index.freq is not None else None
    if freq is None and len(index) >= 3:
        freq = pd.infer_freq(index)
    if freq is None:
        raise ValueError(
            f"{name}: expected a regular date index (a frequency pandas can infer), got a gap at "
            f"{_first_gap(index)}"
        )
    return {"kind": kind, "freq": freq, "last": str(index[-1])}


def _check_order(values: list, name: str) -> None:
    for i in range(1, len(values)):
        if values[i] == values[i - 1]:
            raise ValueError(f"{name}: row {i}: duplicated date {values[i]}")
        if values[i] < values[i - 1]:
            raise ValueError(
                f"{name}: row {i}: date {values[i]} comes before the previous row's {values[i - 1]}"
            )


def _first_gap(index) -> str:
    """Where a dated index leaves the frequency of its first (or last) three dates."""
    pd = _pandas()
    if len(index) < 3:
        return f"only {len(index)} dates"
    for part in (index[:3], index[-3:]):
        try:
            freq = pd.infer_freq(part)
        except (TypeError, ValueError):
            freq = None
        if freq is None:
            continue
        if isinstance(index, pd.PeriodIndex):
            expected = pd.period_range(index[0], periods=len(index), freq=index.freq)
        else:
            expected = pd.date_range(index[0], periods=len(index), freq=freq)
        for i in range(1, len(index)):
            if index[i] != expected[i]:
                return f"row {i}: {index[i - 1]} is followed by {index[i]}, expected {expected[i]}"
    return "no frequency found"


def future_index(meta: dict, h: int):
    """The ``h`` dates after ``meta["last"]`` (a ``DatetimeIndex`` or ``PeriodIndex``).

    Parameters
    ----------
    meta : dict
        From :func:`index_meta`.
    h : int

    Returns
    -------
    pandas.Index
    """
    pd = _pandas()
    if meta["kind"] == "period":
        last = pd.Period(meta["last"], freq=meta["freq"])
        return pd.period_range(last + 1, periods=h, freq=meta["freq"])
    offset = pd.tseries.frequencies.to_offset(meta["freq"])
    last = pd.Timestamp(meta["last"])
    return pd.date_range(last + offset, periods=h, freq=offset)


# ------------------------------------------------------------ CSV labels
_PATTERNS = [
    ("yearly", re.compile(r"^(\d{4})$")),
    ("quarterly", re.compile(r"^(\d{4})\s*-?\s*Q([1-4])$", re.I)),
    ("monthly", re.compile(r"^(\d{4})-(\d{1,2})$")),
    ("monthly", re.compile(r"^(\d{4})\s+([A-Za-z]{3})$")),
    ("date", re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00)?)?$")),
]


def _period_number(label: str):
    """(kind, integer period) of one label, or None."""
    s = label.strip()
    for kind, pat in _PATTERNS:
        mt = pat.match(s)
        if not mt:
            continue
        g = mt.groups()
        if kind == "yearly":
            return kind, int(g[0])
        if kind == "quarterly":
            return kind, int(g[0]) * 4 + int(g[1]) - 1
        if kind == "monthly":
            month = int(g[1]) if g[1].isdigit() else _MONTHS.get(g[1].lower())
            if month is None or not 1 <= month <= 12:
                return None
            return kind, int(g[0]) * 12 + month - 1
        try:
            d = _dt.date(int(g[0]), int(g[1]), int(g[2]))
        except ValueError:
            return None
        return "date", d.toordinal()
    return None


def parse_dates(labels: list[str], where: str = "dates", rows: list[int] | None = None) -> tuple[int, str]:
    """Season length and frequency name of a column of date labels, checked for regularity.

    Parameters
    ----------
    labels : list of str
        One label per row, oldest first.
    where : str
        What to name in error messages (``"sales.csv, column 'month'"``).
    rows : list of int, optional
        The file's line number of each label (default: 1, 2, ...).

    Returns
    -------
    (int, str)
        ``(12, "monthly")``, ``(4, "quarterly")``, ``(1, "yearly")``, ``(7, "daily")``,
        ``(52, "weekly")``.

    Raises
    ------
    ValueError
        A label that is not a date, mixed formats, a duplicated or unordered date,
        or a gap, naming the line.
    """
    rows = list(range(1, len(labels) + 1)) if rows is None else rows
    if len(labels) < 2:
        raise ValueError(f"{where}: expected at least 2 dates, got {len(labels)}")
    kinds, nums = [], []
    for lab, row in zip(labels, rows, strict=True):
        p = _period_number(lab)
        if p is None:
            raise ValueError(
                f"{where}, line {row}: expected a date (YYYY, YYYY-MM, YYYY Mon, YYYY Qn or YYYY-MM-DD), "
                f"got {lab!r}"
            )
        if kinds and p[0] != kinds[0]:
            raise ValueError(f"{where}, line {row}: date {lab!r} has another format than line {rows[0]}")
        kinds.append(p[0])
        nums.append(p[1])
    # periods (years, quarters, months) step by one; dates by their most common step (1 or 7 days)
    diffs = [b - a for a, b in zip(nums[:-1], nums[1:], strict=True)]
    step = 1 if kinds[0] != "date" else max(set(diffs), key=diffs.count)
    for i in range(1, len(nums)):
        d = nums[i] - nums[i - 1]
        if d == 0:
            raise ValueError(f"{where}, line {rows[i]}: duplicated date {labels[i]!r}")
        if d < 0:
            raise ValueError(
                f"{where}, line {rows[i]}: date {labels[i]!r} comes before "
                f"the previous line's {labels[i - 1]!r}"
            )
        if d != step:
            raise ValueError(
                f"{where}, line {rows[i]}: gap in a regular series, {labels[i - 1]!r} is followed by "
                f"{labels[i]!r}"
            )
    kind = kinds[0]
    if kind == "date":
        if step == 1:
            return 7, "daily"
        if step == 7:
            return 52, "weekly"
        raise ValueError(f"{where}: expected daily or weekly dates, got a step of {step} days")
    return {"yearly": (1, "yearly"), "quarterly": (4, "quarterly"), "monthly": (12, "monthly")}[kind]
