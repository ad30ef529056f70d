"""Dates: season length and horizon from a frequency, date labels, pandas in and out.

Two routes to the same facts (season length ``m``, the next dates):

* pandas objects (``DatetimeIndex``, ``PeriodIndex``) through their frequency
  (:func:`index_meta`, :func:`future_index`); pandas is imported only when the
  caller passes pandas objects (or ISO dates, below);
* date labels of a CSV file (:func:`parse_dates`): ``YYYY``, ``YYYY-MM``,
  ``YYYY Mon``, ``YYYY-Qn`` / ``YYYY Qn``, read without pandas, and ISO dates
  ``YYYY-MM-DD`` (with an optional time of day), whose frequency pandas infers
  (``infer_freq``: month, quarter or year starts or ends, weeks, days, business
  days, hours); duplicates, disorder and gaps are reported with the line they
  occur on. Without pandas, ISO dates a day or a week apart are still read.

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

import calendar
import datetime as _dt
import re
import warnings
from typing import NamedTuple

import numpy as np

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
    """Where a dated index leaves the frequency that most of its steps follow."""
    if len(index) < 3:
        return f"only {len(index)} dates"
    found = _steps_off(index)
    if found is None or found[1] is None:
        return "no frequency found"
    offset, i = found
    return f"row {i}: {index[i - 1]} is followed by {index[i]}, expected {index[i - 1] + offset}"


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
_MONTH_NAMES = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()

#: what a date label may look like, for the error messages
_EXPECTED = "a date (YYYY, YYYY-MM, YYYY Mon, YYYY Qn or YYYY-MM-DD[ HH:MM[:SS]])"

_LABELS = [
    ("yearly", re.compile(r"^(\d{4})$")),
    ("quarterly", re.compile(r"^(\d{4})(\s*-?\s*)([Qq])([1-4])$")),
    ("monthly", re.compile(r"^(\d{4})-(\d{1,2})$")),
    ("month name", re.compile(r"^(\d{4})(\s+)([A-Za-z]{3})$")),
    ("date", re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:([T ])(\d{2}):(\d{2})(?::(\d{2}))?)?$")),
]

#: months per step of the frequencies whose ISO dates are month, quarter or year starts or ends
_MONTH_STEPS = {"monthly": 1, "quarterly": 3, "yearly": 12}
#: the step of the other frequencies of ISO dates (None: days)
_TIME_STEPS = {
    None: _dt.timedelta(days=1),
    "daily": _dt.timedelta(days=1),
    "weekly": _dt.timedelta(days=7),
    "hourly": _dt.timedelta(hours=1),
}
_UNITS = {
    None: "days",
    "daily": "days",
    "weekly": "weeks",
    "hourly": "hours",
    "business daily": "business days",
    "monthly": "months",
    "quarterly": "quarters",
    "yearly": "years",
}


class _Label(NamedTuple):
    """One date label: its kind, its value and how it is written."""

    kind: str  # "yearly", "quarterly", "monthly" or "date"
    value: int | _dt.datetime  # years, quarters or months since year 0; or the date and time
    form: tuple  # separator, padding, case, time part: what _write_label needs


def _parse_label(label) -> _Label | None:
    """The :class:`_Label` of one date label, or None when it is not a date."""
    s = str(label).strip()
    for kind, pat in _LABELS:
        mt = pat.match(s)
        if not mt:
            continue
        g = mt.groups()
        year = int(g[0])
        if kind == "yearly":
            return _Label(kind, year, ())
        if kind == "quarterly":
            return _Label(kind, year * 4 + int(g[3]) - 1, (g[1], g[2]))
        if kind == "monthly":
            month = int(g[1])
            return _Label(kind, year * 12 + month - 1, ("digits", len(g[1]))) if 1 <= month <= 12 else None
        if kind == "month name":
            names = [m.lower() for m in _MONTH_NAMES]
            if g[2].lower() not in names:
                return None
            case = "upper" if g[2].isupper() else "lower" if g[2].islower() else "title"
            return _Label("monthly", year * 12 + names.index(g[2].lower()), ("name", g[1], case))
        try:
            t = _dt.datetime(year, int(g[1]), int(g[2]), int(g[4] or 0), int(g[5] or 0), int(g[6] or 0))
        except ValueError:
            return None
        return _Label("date", t, (g[3], g[6] is not None))
    return None


def _write_label(lab: _Label, value) -> str:
    """``value`` (of ``lab``'s kind) written as ``lab`` is written."""
    if lab.kind == "yearly":
        return f"{value:04d}"
    if lab.kind == "quarterly":
        return f"{value // 4:04d}{lab.form[0]}{lab.form[1]}{value % 4 + 1}"
    if lab.kind == "monthly":
        if lab.form[0] == "digits":
            return f"{value // 12:04d}-{value % 12 + 1:0{lab.form[1]}d}"
        name = _MONTH_NAMES[value % 12]
        name = name.upper() if lab.form[2] == "upper" else name.lower() if lab.form[2] == "lower" else name
        return f"{value // 12:04d}{lab.form[1]}{name}"
    sep, seconds = lab.form
    if sep is None and value.time() != _dt.time():  # a time of day after a label without one
        sep, seconds = " ", True
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    return text + (f"{sep}{value:%H:%M}" + (f":{value:%S}" if seconds else "") if sep else "")


def _shift(lab: _Label, k: int, freq: str | None):
    """The value ``k`` periods after ``lab``'s; ISO dates step by ``freq``, a frequency name."""
    if lab.kind != "date":
        return lab.value + k
    t = lab.value
    try:
        if freq in _MONTH_STEPS:
            end = calendar.monthrange(t.year, t.month)[1]
            if t.day not in (1, end):
                raise ValueError(
                    f"label: expected the first or last day of a month for {freq} dates, got "
                    f"{_write_label(lab, t)!r}"
                )
            year, month = divmod(t.year * 12 + t.month - 1 + k * _MONTH_STEPS[freq], 12)
            if not _dt.MINYEAR <= year <= _dt.MAXYEAR:
                raise OverflowError(year)
            day = 1 if t.day == 1 else calendar.monthrange(year, month + 1)[1]
            return t.replace(year=year, month=month + 1, day=day)
        if freq == "business daily":
            day = np.busday_offset(np.datetime64(t.date()), k, roll="forward").astype(object)
            return _dt.datetime.combine(day, t.time())
        if freq not in _TIME_STEPS:
            raise ValueError(f"freq: expected one of {sorted(FREQUENCIES)} or None, got {freq!r}")
        return t + k * _TIME_STEPS[freq]
    except (OverflowError, TypeError) as exc:  # past year 9999 (numpy: a TypeError)
        raise ValueError(f"label: {_write_label(lab, t)!r} moved by {k}: out of the calendar") from exc


def _periods(a: _Label, b: _Label, freq: str | None) -> int:
    """The periods from ``a`` to ``b``, labels of one kind; ValueError when ``b`` is off ``a``'s steps."""
    if a.kind != "date":
        return b.value - a.value
    s, t = a.value, b.value
    if freq in _MONTH_STEPS:
        n = (t.year * 12 + t.month - s.year * 12 - s.month) // _MONTH_STEPS[freq]
    elif freq == "business daily":
        n = int(np.busday_count(np.datetime64(s.date()), np.datetime64(t.date())))
    else:
        n = round((t - s) / _TIME_STEPS.get(freq, _TIME_STEPS[None]))
    if _shift(a, n, freq) != t:
        raise ValueError(
            f"label: expected dates a whole number of {_UNITS.get(freq, freq)} apart, got "
            f"{_write_label(a, s)!r} and {_write_label(b, t)!r}"
        )
    return n


def _most_common(values: np.ndarray):
    steps, counts = np.unique(values, return_counts=True)
    return steps[counts.argmax()]


def _steps_off(index) -> tuple | None:
    """``(offset, i)``: the frequency most steps of a dated pandas index follow and the first
    position ``i`` whose date is not ``index[i - 1]`` one step on (None when all are); None when
    no frequency is found.

    The frequencies tried: those pandas infers from its first, middle and last three dates, and
    its most common step (of up to a week, or of months between month starts or ends).
    """
    pd = _pandas()
    n, best = len(index), None
    candidates = []
    for s in sorted({0, (n - 3) // 2, max(n - 3, 0)}):
        try:
            candidates.append(_infer_freq(index[s : s + 3]))
        except (TypeError, ValueError):
            continue
    if isinstance(index, pd.DatetimeIndex) and n >= 2:
        # the most common step: of up to a week (a fixed length), or of months between month ends
        common = pd.Timedelta(_most_common(np.diff(index.values)))
        candidates.append(common if pd.Timedelta(0) < common <= pd.Timedelta(days=7) else None)
        months = int(_most_common(np.diff(np.asarray(index.year * 12 + index.month))))
        for on, offset in (
            (index.is_month_start, pd.offsets.MonthBegin),
            (index.is_month_end, pd.offsets.MonthEnd),
        ):
            if months > 0 and on.all():
                candidates.append(offset(months))
    for freq in candidates:
        if freq is None:
            continue
        offset = pd.tseries.frequencies.to_offset(freq)
        with warnings.catch_warnings():  # offsets pandas does not vectorize warn
            warnings.simplefilter("ignore")
            ok = np.asarray(index[:-1] + offset == index[1:], dtype=bool)
        if best is None or ok.sum() > best[2].sum():
            best = (offset, freq, ok)
    if best is None:
        return None
    bad = np.flatnonzero(~best[2])
    return best[0], int(bad[0]) + 1 if len(bad) else None


def _date_frequency(times: list, labels: list[str], where: str, rows: list[int]) -> tuple[str, int | None]:
    """``(freq, i)``: the pandas frequency of ordered ISO dates and the position of the first one
    off it (None when all are on it).

    pandas infers it (``infer_freq``); without pandas, or with two dates, steps of one day or one
    week (dates without a time of day) are found by hand.
    """
    diffs = [b - a for a, b in zip(times[:-1], times[1:], strict=True)]
    step = max(set(diffs), key=diffs.count)
    by_hand = step.days in (1, 7) and step == _dt.timedelta(days=step.days)
    by_hand = by_hand and all(t.time() == _dt.time() for t in times)
    try:
        pd = import_optional(
            "pandas",
            f"{where}: reading dates such as {labels[0]!r} at steps other than a day or a week",
            extra="pandas",
        )
    except ImportError:
        if not by_hand:
            raise
        pd = None
    if pd is None or (len(times) < 3 and by_hand):
        gap = next((i for i in range(1, len(times)) if diffs[i - 1] != step), None)
        return ("D" if step.days == 1 else "W"), gap
    if len(times) < 3:
        raise ValueError(
            f"{where}: expected at least 3 dates to infer their frequency, "
            f"got {labels[0]!r} and {labels[1]!r}"
        )
    index = pd.to_datetime(times)
    freq = _infer_freq(index)
    if freq is not None:
        return freq, None
    found = _steps_off(index)
    if found is None:
        raise ValueError(
            f"{where}, lines {rows[0]}-{rows[-1]}: expected dates at one frequency (month, quarter or "
            f"year starts or ends, weeks, days, business days or hours), got "
            + ", ".join(map(repr, labels[:3]))
            + (", ..." if len(labels) > 3 else "")
        )
    return found[0].freqstr, found[1]


def parse_dates(labels: list[str], where: str = "dates", rows: list[int] | None = None) -> tuple[int, str]:
    """Season length and frequency name of a column of date labels, checked for regularity.

    Years, quarters and months (``YYYY``, ``YYYY-MM``, ``YYYY Mon``, ``YYYY Qn``) are read
    without pandas. ISO dates (``YYYY-MM-DD``, with an optional time ``HH:MM[:SS]``) get their
    frequency from pandas (``infer_freq``): month, quarter or year starts or ends, weeks, days,
    business days or hours. Without pandas, ISO dates one day or one week apart are still read;
    others raise an ImportError that says how to install it.

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
        ``(12, "monthly")``, ``(4, "quarterly")``, ``(1, "yearly")``, ``(52, "weekly")``,
        ``(7, "daily")``, ``(5, "business daily")`` or ``(24, "hourly")``.

    Raises
    ------
    ValueError
        A label that is not a date, mixed formats, a duplicated or unordered date, or a gap,
        naming the line and the dates; ISO dates of another frequency (every two months,
        minutes, ...).
    ImportError
        ISO dates at steps other than a day or a week, without pandas.
    """
    rows = list(range(1, len(labels) + 1)) if rows is None else rows
    if len(labels) < 2:
        raise ValueError(f"{where}: expected at least 2 dates, got {len(labels)}")
    parsed = []
    for lab, row in zip(labels, rows, strict=True):
        p = _parse_label(lab)
        if p is None:
            raise ValueError(f"{where}, line {row}: expected {_EXPECTED}, got {lab!r}")
        if parsed and p.kind != parsed[0].kind:
            raise ValueError(f"{where}, line {row}: date {lab!r} has another format than line {rows[0]}")
        parsed.append(p)
    values = [p.value for p in parsed]
    for i in range(1, len(values)):
        if values[i] == values[i - 1]:
            raise ValueError(f"{where}, line {rows[i]}: duplicated date {labels[i]!r}")
        if values[i] < values[i - 1]:
            raise ValueError(
                f"{where}, line {rows[i]}: date {labels[i]!r} comes before "
                f"the previous line's {labels[i - 1]!r}"
            )
    if parsed[0].kind == "date":
        freq, gap = _date_frequency(values, labels, where, rows)
    else:
        freq = {"yearly": "Y", "quarterly": "Q", "monthly": "M"}[parsed[0].kind]
        gap = next((i for i in range(1, len(values)) if values[i] != values[i - 1] + 1), None)
    if gap is not None:
        raise ValueError(
            f"{where}, line {rows[gap]}: gap in a regular series, {labels[gap - 1]!r} is followed by "
            f"{labels[gap]!r}"
        )
    season, name = season_of_freq(freq)
    if name not in FREQUENCIES or (name in _MONTH_STEPS and freq.upper().startswith(("B", "C"))):
        raise ValueError(
            f"{where}: expected yearly, quarterly, monthly, weekly, daily, business daily or hourly "
            f"dates, got dates of pandas frequency {freq!r} ({labels[0]!r}, {labels[1]!r}, ...)"
        )
    return season, name
