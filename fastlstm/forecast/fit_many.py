"""Many independent fits in parallel: one model per series, or a hyper-parameter sweep.

:func:`fit_many` runs the fits with `joblib <https://joblib.readthedocs.io>`_
(``pip install 'fastlstm[dask]'``): in local worker processes by default, and
on any Dask cluster when called inside ``joblib.parallel_config(backend="dask")``
with a ``distributed.Client`` connected (the call itself does not change)::

    from dask.distributed import Client
    import joblib

    client = Client("tcp://scheduler:8786")  # or LocalCluster, dask-jobqueue, ...
    with joblib.parallel_config(backend="dask"):
        fitted = fastlstm.fit_many(Forecaster(lookback=24, horizon=12), series)

Each fit runs inside a ``try``: one failure (bad data, a non-finite loss) is
reported with the series it belongs to and the error's text and traceback,
and the other fits' results are kept.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Mapping
from dataclasses import dataclass

from .._optional import import_optional
from .._validation import check_int

__all__ = ["FitFailure", "FitManyError", "fit_many"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitFailure:
    """Why one fit of :func:`fit_many` failed (it stands in that fit's place in the results).

    Attributes
    ----------
    index : int
        Position of the fit in the input order.
    name : str
        Which series / parameters it was (e.g. ``"series 'b'"``).
    error : str
        The exception's type name (e.g. ``"ValueError"``).
    message : str
        The exception's message.
    traceback : str
        The formatted traceback, from the worker that ran the fit.
    """

    index: int
    name: str
    error: str
    message: str
    traceback: str

    def __str__(self) -> str:
        return f"{self.name}: {self.error}: {self.message}"


class FitManyError(RuntimeError):
    """Some fits of :func:`fit_many` failed; the others' results are kept.

    Parameters
    ----------
    results : list
        The ``results`` attribute.
    failures : list of FitFailure
        The ``failures`` attribute; the message lists them.

    Attributes
    ----------
    results : list
        One entry per fit in input order: the fitted model, or a
        :class:`FitFailure` where the fit failed.
    failures : list of FitFailure
    """

    def __init__(self, results: list, failures: list[FitFailure]) -> None:
        self.results, self.failures = results, failures
        lines = "\n  ".join(str(f) for f in failures)
        super().__init__(
            f"{len(failures)} of {len(results)} fits failed (the other results are in .results):\n  {lines}"
        )


def _as_items(value, name: str) -> tuple[list, list[str] | None]:
    """A list of per-fit entries and their names (mapping keys) from ``y`` or ``X``."""
    if isinstance(value, Mapping):
        return list(value.values()), [repr(k) for k in value]
    if isinstance(value, (list, tuple)):
        return list(value), None
    if getattr(value, "ndim", None) == 1:  # one series (numpy or pandas): a sweep on it
        return [value], None
    if getattr(value, "ndim", None) == 2:
        raise TypeError(
            f"{name}: a 2-D array is ambiguous; pass list(arr.T) (or dict(df.items())) for one model per "
            f"column, or [arr] for one global model of all columns, got shape {value.shape}"
        )
    raise TypeError(
        f"{name}: expected a list or tuple of series, a dict of them, or one 1-D series, "
        f"got {type(value).__name__}"
    )


def _as_param_list(params) -> list[dict]:
    if params is None:
        return [{}]
    if isinstance(params, Mapping):
        return [dict(params)]
    if isinstance(params, (list, tuple)):
        out = []
        for i, p in enumerate(params):
            if not isinstance(p, Mapping):
                raise TypeError(f"params[{i}]: expected a dict of parameters, got {type(p).__name__}")
            out.append(dict(p))
        if not out:
            raise ValueError("params: expected at least one dict of parameters, got an empty list")
        return out
    raise TypeError(f"params: expected a dict or a list of dicts, got {type(params).__name__}")


def _broadcast(n_y: int, n_p: int) -> int:
    if n_y == n_p or n_p == 1 or n_y == 1:
        return max(n_y, n_p)
    raise ValueError(
        f"params: expected 1 dict or one per series ({n_y}), got {n_p} (one series with many params is a "
        "sweep; for every combination build the lists with itertools.product)"
    )


def _build(estimator, params: dict):
    """A fresh estimator: the template's parameters updated with ``params``."""
    return type(estimator)(**{**estimator.get_params(), **params})


def _fit_one(
    index: int, name: str, estimator, y, X, params: dict, fit_params: dict, threads_per_fit, clamp=False
):
    """Run one fit in a worker; return the fitted model or a FitFailure (never raise).

    ``clamp``: the thread count is fit_many's default, lowered to what the worker's
    Numba allows (loky sets ``NUMBA_NUM_THREADS`` in its workers)."""
    try:
        if clamp:
            import numba

            threads_per_fit = min(threads_per_fit, numba.config.NUMBA_NUM_THREADS)
        if threads_per_fit is not None:
            from .._threads import threads

            with threads(threads_per_fit):
                return _fit_body(estimator, y, X, params, fit_params)
        return _fit_body(estimator, y, X, params, fit_params)
    except Exception as exc:
        return FitFailure(index, name, type(exc).__name__, str(exc), traceback.format_exc())


def _default_threads(joblib, n_jobs: int, n_fits: int) -> int:
    """``cores // workers`` (at least 1, at most ``NUMBA_NUM_THREADS``): no oversubscription."""
    import numba

    try:
        workers = joblib.effective_n_jobs(n_jobs)
    except Exception:  # a backend that cannot tell: assume one worker per core
        workers = os.cpu_count() or 1
    workers = max(1, min(int(workers), n_fits))
    cores = os.cpu_count() or 1
    return max(1, min(numba.config.NUMBA_NUM_THREADS, cores // workers))


def _fit_body(estimator, y, X, params, fit_params):
    kw = dict(fit_params)
    if X is not None:
        kw["X"] = X
    if hasattr(estimator, "get_params"):
        model = _build(estimator, params)
        model.fit(y, **kw)
        return model
    return estimator(y, **kw, **params)


def fit_many(
    estimator,
    y,
    X=None,
    *,
    params=None,
    fit_params: dict | None = None,
    n_jobs: int = -1,
    on_error: str = "raise",
    threads_per_fit: int | None = None,
    verbose: int = 0,
) -> list:
    """Fit many independent models in parallel (local processes, or a Dask cluster).

    One fit per series of ``y``, each with its entry of ``params`` (one dict
    for all, or one per series); one series with several ``params`` is a
    hyper-parameter sweep.

    Parameters
    ----------
    estimator : Forecaster or callable
        An unfitted template with ``get_params()`` and ``fit(y, X=None, ...)``
        (e.g. :class:`~fastlstm.forecast.Forecaster`): each fit builds a fresh
        ``type(estimator)(**{**estimator.get_params(), **params_i})``. Or a
        function ``f(y_i, X=X_i, **params_i)`` returning anything picklable
        (``X`` is passed only when given).
    y : list or tuple of array_like, dict of them, or one 1-D series
        The series (anything the estimator's ``fit`` takes, e.g. a list of
        series for one global model). A dict's keys name the series in errors.
    X : list or tuple or dict, optional
        Covariates, one entry per series of ``y`` (same length, same keys).
    params : dict or list of dict, optional
        Estimator parameters: one dict for every fit, or one per series, or
        several for one series (a sweep).
    fit_params : dict, optional
        Extra keyword arguments of every ``fit`` call (e.g. ``val_size``).
    n_jobs : int
        Parallel workers (``-1``: all cores, or every worker of the Dask
        cluster). ``1`` runs in this process.
    on_error : {"raise", "return"}
        When fits fail: wait for all fits, then raise :class:`FitManyError`
        (its ``.results`` keep the successful fits), or return the results
        with a :class:`FitFailure` in each failed fit's place.
    threads_per_fit : int, optional
        Run each fit under :func:`fastlstm.threads` with this many threads.
        By default ``max(1, cores // workers)``, with ``workers`` the number
        of fits that run at once (joblib's effective ``n_jobs``, at most the
        number of fits), so that the workers together never run more Numba
        and BLAS threads than there are cores. The BLAS setting is
        process-wide: with thread-based workers (a Dask ``LocalCluster`` with
        ``processes=False``) wrap the whole call in ``fastlstm.threads(k)``
        instead.
    verbose : int
        joblib's progress messages.

    Returns
    -------
    list
        The fitted models (or the function's results), in input order.

    Raises
    ------
    FitManyError
        ``on_error="raise"`` and at least one fit failed.

    Notes
    -----
    A fit gives the model of the same fit run serially, up to rounding: in
    another process float32 results have been seen to differ in the last bits
    (relative ``4e-9`` in forecasts).

    Without ``joblib.parallel_config``, joblib's default ``loky`` backend
    runs the fits in local worker processes. Inside
    ``joblib.parallel_config(backend="dask")`` (with a ``distributed.Client``)
    they run on the Dask cluster's workers: ``LocalCluster``, or
    ``dask-jobqueue`` (Slurm, PBS) and ``dask-kubernetes`` clusters. A worker
    process that dies (out of memory, killed) fails the whole call, as in
    joblib.

    Examples
    --------
    >>> from fastlstm.forecast import Forecaster
    >>> template = Forecaster(lookback=24, horizon=12, epochs=50, n_models=1)
    >>> fitted = fit_many(template, {"a": y_a, "b": y_b})  # doctest: +SKIP
    >>> sweep = fit_many(template, y_a, params=[{"hidden_size": h} for h in (8, 16, 32)])  # doctest: +SKIP
    """
    joblib = import_optional("joblib", "fit_many", extra="dask")
    if isinstance(estimator, type):
        raise TypeError(
            f"estimator: expected an unfitted instance such as {estimator.__name__}(...), "
            "got the class itself"
        )
    if not (callable(estimator) or hasattr(estimator, "get_params")):
        raise TypeError(
            f"estimator: expected an object with get_params() and fit() or a function, "
            f"got {type(estimator).__name__}"
        )
    if hasattr(estimator, "get_params") and not callable(getattr(estimator, "fit", None)):
        raise TypeError(f"estimator: expected an object with a fit() method, got {type(estimator).__name__}")
    ys, names = _as_items(y, "y")
    if not ys:
        raise ValueError("y: expected at least one series, got none")
    if X is None:
        xs = [None] * len(ys)
    else:
        xs, x_names = _as_items(X, "X")
        if len(xs) != len(ys) or x_names != names:
            raise ValueError(
                f"X: expected one entry per series of y ({len(ys)}"
                + (f", keys {names}" if names else "")
                + f"), got {len(xs)}"
                + (f" with keys {x_names}" if x_names else "")
            )
    plist = _as_param_list(params)
    n = _broadcast(len(ys), len(plist))
    if hasattr(estimator, "get_params"):
        known = set(estimator.get_params())
        for i, p in enumerate(plist):
            unknown = sorted(set(p) - known)
            if unknown:
                where = "params" if params is None or isinstance(params, Mapping) else f"params[{i}]"
                raise ValueError(
                    f"{where}: expected parameters of {type(estimator).__name__} "
                    f"(some of {sorted(known)}), got unknown {unknown}"
                )
    if fit_params is None:
        fit_params = {}
    elif not isinstance(fit_params, Mapping):
        raise TypeError(f"fit_params: expected a dict, got {type(fit_params).__name__}")
    n_jobs = check_int(n_jobs, "n_jobs")
    if n_jobs == 0:
        raise ValueError("n_jobs: expected a positive int or a negative one (-1: all cores), got 0")
    if on_error not in ("raise", "return"):
        raise ValueError(f"on_error: expected 'raise' or 'return', got {on_error!r}")
    clamp = threads_per_fit is None
    if threads_per_fit is not None:
        threads_per_fit = check_int(threads_per_fit, "threads_per_fit", minimum=1)
    else:
        threads_per_fit = _default_threads(joblib, n_jobs, n)

    def pick(seq, i):
        return seq[0] if len(seq) == 1 else seq[i]

    def task_name(i):
        s = f"series {names[i if len(ys) > 1 else 0]}" if names else f"series {i if len(ys) > 1 else 0}"
        if len(plist) > 1:
            s += f" with params {pick(plist, i)}"
        return s

    tasks = [
        joblib.delayed(_fit_one)(
            i,
            task_name(i),
            estimator,
            pick(ys, i),
            pick(xs, i),
            pick(plist, i),
            dict(fit_params),
            threads_per_fit,
            clamp,
        )
        for i in range(n)
    ]
    results = joblib.Parallel(n_jobs=n_jobs, verbose=verbose)(tasks)
    failures = [r for r in results if isinstance(r, FitFailure)]
    for f in failures:
        logger.warning("fit_many: %s failed: %s: %s", f.name, f.error, f.message)
    if failures and on_error == "raise":
        raise FitManyError(results, failures)
    return results
