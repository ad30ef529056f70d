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
import warnings

from .._optional import import_optional

__all__ = [
    "FREQUENCIES",
    "default_horizon",
    "future_index",
    "index_meta",
    "parse_dates",
    "season_of_freq",
    "shift_meta",
    "start_offset",
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
        freq = _infer_freq(index)
    if freq is None:
        raise ValueError(
            f"{name}: expected a regular date index (a frequency pandas can infer), got a gap at "
            f"{_first_gap(index)}"
        )
    return {"kind": kind, "freq": freq, "last": str(index[-1])}


def _infer_freq(index) -> str | None:
    """``pandas.infer_freq`` as a string (or None), without the warning of pandas >= 3.1, whose
    ``infer_freq`` is moving from strings to offsets."""
    pd = _pandas()
    try:
        with pd.option_context("future.infer_freq_returns_offset", True):
            freq = pd.infer_freq(index)
    except (KeyError, AttributeError):  # pandas < 3.1 (OptionError): a string, no warning
        freq = pd.infer_freq(index)
    return getattr(freq, "freqstr", freq)


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
            freq = _infer_freq(part)
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


#: frequency aliases pandas renamed (2.2) and then removed (3.0): a description written under one
#: pandas version is read under another
_RENAMED = [
    ("M", "ME"),
    ("BM", "BME"),
    ("Q", "QE"),
    ("BQ", "BQE"),
    ("A", "Y", "YE"),
    ("BA", "BY", "BYE"),
    ("AS", "YS"),
    ("BAS", "BYS"),
    ("H", "h"),
    ("BH", "bh"),
    ("T", "min"),
    ("S", "s"),
    ("L", "ms"),
    ("U", "us"),
    ("N", "ns"),
]


def _frequency(freq: str, period: bool = False):
    """The pandas offset (``period``: the period frequency) of a frequency string, also when it
    was written under a pandas version with other aliases (``"M"``/``"ME"``, ``"A-DEC"``/``"YE-DEC"``)."""
    pd = _pandas()

    def parse(f):
        return pd.Period("2000-01-01", freq=f).freq if period else pd.tseries.frequencies.to_offset(f)

    base, sep, anchor = str(freq).partition("-")
    head = base.lstrip("0123456789")
    aliases = [a for group in _RENAMED if head in group for a in group if a != head]
    for f in [freq] + [base[: len(base) - len(head)] + a + sep + anchor for a in aliases]:
        try:
            with warnings.catch_warnings():  # a deprecated alias: try the others first
                warnings.simplefilter("error")
                return parse(f)
        except (ValueError, Warning):
            continue
    try:
        return parse(freq)  # with its warning, if it has one
    except ValueError as exc:
        raise ValueError(f"frequency {freq!r}: not a frequency of this pandas version ({exc})") from exc


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
        freq = _frequency(meta["freq"], period=True)
        return pd.period_range(pd.Period(meta["last"], freq=freq) + 1, periods=h, freq=freq)
    offset = _frequency(meta["freq"])
    last = pd.Timestamp(meta["last"])
    return pd.date_range(last + offset, periods=h, freq=offset)


def _describe(meta: dict) -> str:
    kind = {"datetime": "dates", "period": "periods", "int": "integer steps"}[meta["kind"]]
    return f"{kind} of frequency {meta['freq']!r}"


def start_offset(fitted: dict, n_fitted: int, history: dict, n_history: int, name: str = "y") -> int:
    """Steps from the first date of a fitted series to the first date of a new history.

    Both are described by :func:`index_meta` (or a panel's integer ``ds``: ``kind`` ``"int"``,
    ``freq`` the step) and their lengths; the history must have the fitted frequency (the same
    dates, whatever their pandas alias: ``QS-JAN`` and ``QS-OCT`` are the same quarter starts).

    Parameters
    ----------
    fitted : dict
        The fitted series' dates.
    n_fitted : int
        Its length.
    history : dict
        The new history's dates.
    n_history : int
        Its length.
    name : str
        What to name in error messages.

    Returns
    -------
    int
        Negative when the history starts before the fitted series.

    Raises
    ------
    ValueError
        The history's dates are of another kind or frequency, or off the fitted dates' grid.
    """
    mismatch = ValueError(f"{name}: expected {_describe(fitted)} (as in fit), got {_describe(history)}")
    if fitted["kind"] != history["kind"]:
        raise mismatch
    if fitted["kind"] == "int":
        step, gap = int(fitted["freq"]), int(history["last"]) - int(fitted["last"])
        if int(history["freq"]) != step or gap % step:
            raise mismatch
        return gap // step + n_fitted - n_history
    pd = _pandas()
    if fitted["kind"] == "period":
        a = pd.Period(fitted["last"], freq=_frequency(fitted["freq"], period=True))
        b = pd.Period(history["last"], freq=_frequency(history["freq"], period=True))
        if a.freq != b.freq:
            raise mismatch
        return (b - a).n + n_fitted - n_history
    off = _frequency(fitted["freq"])
    a, b = pd.Timestamp(fitted["last"]), pd.Timestamp(history["last"])
    if (a.tz is None) != (b.tz is None):
        raise ValueError(
            f"{name}: expected {'time-zone aware' if a.tz is not None else 'naive'} dates (as in fit), "
            f"got {'time-zone aware' if b.tz is not None else 'naive'} ones"
        )
    own = pd.date_range(end=b, periods=n_history, freq=_frequency(history["freq"]))
    if not off.is_on_offset(b) or not own.equals(pd.date_range(end=b, periods=n_history, freq=off)):
        raise mismatch
    between = pd.date_range(min(a, b), max(a, b), freq=off)  # both ends on the fitted dates
    gap = (len(between) - 1) * (1 if b >= a else -1)
    return gap + n_fitted - n_history


def shift_meta(meta: dict, steps: int) -> dict:
    """The description :func:`index_meta` of the same frequency with its last date ``steps``
    steps later (earlier when negative)."""
    if meta["kind"] == "int":
        return {**meta, "last": str(int(meta["last"]) + steps * int(meta["freq"]))}
    pd = _pandas()
    if meta["kind"] == "period":
        last = pd.Period(meta["last"], freq=_frequency(meta["freq"], period=True)) + steps
    else:
        last = pd.Timestamp(meta["last"]) + steps * _frequency(meta["freq"])
    return {**meta, "last": str(last)}


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
