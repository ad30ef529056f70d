"""The ``fastlstm`` command line.

Subcommands
-----------
``fastlstm forecast [CSV]``
    Hold out the last ``--test-size`` points of a series (the embedded airline
    passengers series when no CSV is given), train a :class:`~fastlstm.forecast.Forecaster`
    on the rest, and print its accuracy on the hold-out next to the naive,
    seasonal naive and drift baselines, with the training time. Optionally plot
    and save the model.
``fastlstm predict --model MODEL [CSV]``
    Forecast with a saved model from the end of a series (default: the series
    it was trained on); prints ``step,forecast`` lines.
``fastlstm bench ...``
    Benchmarks (arguments forwarded to :func:`fastlstm.bench.main`).

This is the only module that prints.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import os
import sys
import time

import numpy as np

__all__ = ["main", "read_csv_column"]


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
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            numbered = [(reader.line_num, r) for r in reader if r and any(c.strip() for c in r)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: expected a UTF-8 CSV text file ({type(exc).__name__}: {exc})") from exc
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

    def numeric(j: int) -> bool:
        return first_bad(j) is None

    if column is None:
        candidates = [j for j in range(len(header)) if numeric(j)]
        if not candidates:
            raise ValueError(f"{path}: expected a numeric column, got none among {header}")
        j = candidates[-1]
        for k in range(j + 1, len(header)):  # a value column with a typo must not be skipped silently
            if _numeric_start(data, k):
                bad = first_bad(k)
                raise ValueError(
                    f"{path}: line {bad[0]}, column {header[k]!r}: expected a number, got {bad[1]!r} "
                    "(pass --column to choose another column)"
                )
    else:
        if column not in header:
            raise ValueError(f"--column: expected one of {header}, got {column!r}")
        j = header.index(column)
        bad = first_bad(j)
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


def _load_series(args) -> tuple[np.ndarray, list[str] | None, str]:
    if args.csv is None:
        if args.column is not None:
            raise ValueError(f"--column: expected a CSV file to pick {args.column!r} from, got none")
        from .datasets import load_airpassengers

        values, months = load_airpassengers(return_months=True)
        return values, list(months), "airpassengers"
    values, labels, name = read_csv_column(args.csv, args.column)
    return values, labels, name


def _table(rows: list[tuple[str, dict]], keys: list[str]) -> str:
    width = max(len(name) for name, _ in rows)
    head = f"{'method':<{width}}  " + "  ".join(f"{k:>8}" for k in keys)
    lines = [head, "-" * len(head)]
    for name, vals in rows:
        lines.append(f"{name:<{width}}  " + "  ".join(f"{vals[k]:>8.3f}" for k in keys))
    return "\n".join(lines)


def _accuracy(actual, pred, train, m: int) -> dict:
    from . import metrics

    try:
        mase = metrics.mase(actual, pred, train, m=m) if len(train) > m else math.nan
    except ValueError:  # a constant training series: the in-sample naive error is 0
        mase = math.nan
    return {
        "MAE": metrics.mae(actual, pred),
        "RMSE": metrics.rmse(actual, pred),
        "MAPE%": metrics.mape(actual, pred) if np.all(actual != 0) else float("nan"),
        "sMAPE%": metrics.smape(actual, pred),
        "MASE": mase,
    }


def _plot(path: str, values, labels, n_train: int, forecast, title: str) -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("--plot needs matplotlib: pip install fastlstm[plot]") from exc
    fig = Figure(figsize=(9, 4.5))
    ax = fig.add_subplot()
    t = np.arange(len(values))
    ax.plot(t[:n_train], values[:n_train], color="0.3", label="history")
    ax.plot(t[n_train:], values[n_train:], color="tab:blue", label="hold-out")
    ax.plot(t[n_train : n_train + len(forecast)], forecast, color="tab:red", ls="--", label="LSTM forecast")
    if labels is not None:
        ticks = t[:: max(1, len(t) // 12)]
        ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right", fontsize=8)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _cmd_forecast(args) -> int:
    from . import baselines
    from .forecast import Forecaster

    for flag, target in (("--save", args.save), ("--plot", args.plot)):
        if target is not None and not os.path.isdir(os.path.dirname(os.path.abspath(target))):
            raise ValueError(f"{flag}: the directory of {target!r} does not exist")
    values, labels, name = _load_series(args)
    n = len(values)
    if not 1 <= args.test_size < n:
        raise ValueError(
            f"--test-size: expected between 1 and {n - 1} (the series has {n} points), got {args.test_size}"
        )
    train, test = values[: -args.test_size], values[-args.test_size :]
    f = Forecaster(
        args.input_size,
        args.horizon,
        hidden_size=args.hidden_size,
        epochs=args.epochs,
        n_models=args.n_models,
        seed=args.seed,
        progress=args.progress,
    )
    t0 = time.perf_counter()
    f.fit(train)
    fit_time = time.perf_counter() - t0
    pred = f.predict(h=args.test_size)
    m = args.season
    rows = [
        ("fastlstm LSTM", _accuracy(test, pred, train, m)),
        ("naive", _accuracy(test, baselines.naive(train, args.test_size), train, m)),
        ("drift", _accuracy(test, baselines.drift(train, args.test_size), train, m)),
    ]
    if len(train) >= m:
        rows.insert(
            2,
            (
                f"seasonal naive (m={m})",
                _accuracy(test, baselines.seasonal_naive(train, args.test_size, m), train, m),
            ),
        )
    print(f"series: {name}, {n} points; trained on the first {len(train)}, tested on the last {len(test)}")
    print(
        f"model: {f.n_models} LSTM(s), hidden {f.hidden_size}, input_size {f.input_size}, "
        f"horizon {f.horizon}, {f.epochs} epochs, seed {f.seed}"
    )
    print()
    print(_table(rows, ["MAE", "RMSE", "MAPE%", "sMAPE%", "MASE"]))
    print()
    print(f"training time: {fit_time:.2f} s (MASE scaled by the in-sample seasonal naive error, m={m})")
    if args.plot:
        _plot(args.plot, values, labels, len(train), pred, f"{name}: {len(test)}-step forecast")
        print(f"plot written to {args.plot}")
    if args.save:
        f.save(args.save)
        print(f"model saved to {args.save}")
    return 0


def _cmd_predict(args) -> int:
    from .forecast import Forecaster

    f = Forecaster.load(args.model)
    if f.n_covariates_:
        raise ValueError(f"--model: {args.model} uses covariates, which the command line cannot supply")
    y = None
    if args.csv is not None:
        if f.n_series_ != 1:
            raise ValueError(f"--model: {args.model} was fitted on {f.n_series_} series; the CSV gives one")
        y, _, _ = read_csv_column(args.csv, args.column)
    pred = f.predict(h=args.horizon, y=y)
    print("step,forecast")
    for i, v in enumerate(np.atleast_1d(pred), start=1):
        print(f"{i},{v:.6g}")
    return 0


def _forecaster_defaults() -> dict:
    """The Forecaster's own defaults, so the command line never drifts from the library."""
    import inspect

    from .forecast import Forecaster

    return {k: v.default for k, v in inspect.signature(Forecaster).parameters.items()}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fastlstm", description="LSTM forecasting on the CPU with Numba kernels."
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log training progress")
    sub = p.add_subparsers(dest="command", required=True)

    fc = sub.add_parser(
        "forecast",
        help="train on a series, compare with baselines on a hold-out",
        description="Hold out the last --test-size points, train, and compare with baselines.",
    )
    fc.add_argument("csv", nargs="?", help="CSV file with a header (default: embedded airline passengers)")
    fc.add_argument("--column", help="value column (default: the last numeric column)")
    fc.add_argument("--horizon", type=int, default=24, help="steps per forecast block (default 24)")
    fc.add_argument("--input-size", type=int, default=24, help="lookback steps (default 24)")
    fc.add_argument("--test-size", type=int, default=24, help="hold-out points (default 24)")
    fc.add_argument(
        "--season", type=int, default=12, help="season length for seasonal naive and MASE (default 12)"
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
        help=f"training epochs per network (default {defaults['epochs']})",
    )
    fc.add_argument(
        "--n-models",
        type=int,
        default=defaults["n_models"],
        help=f"ensemble size (default {defaults['n_models']})",
    )
    fc.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    fc.add_argument("--plot", metavar="PNG", help="plot history, hold-out and forecast (needs matplotlib)")
    fc.add_argument("--save", metavar="NPZ", help="save the trained forecaster")
    fc.add_argument("--progress", action="store_true", help="show a progress bar (needs tqdm)")
    fc.set_defaults(func=_cmd_forecast)

    pr = sub.add_parser("predict", help="forecast with a saved model")
    pr.add_argument("--model", required=True, help="checkpoint written by forecast --save")
    pr.add_argument(
        "csv", nargs="?", help="CSV with the history (default: the series the model was trained on)"
    )
    pr.add_argument("--column", help="value column (default: the last numeric column)")
    pr.add_argument(
        "--horizon", type=int, default=None, help="steps to forecast (default: the model's horizon)"
    )
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
