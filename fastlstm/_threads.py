"""Thread control: Numba's thread pool and the BLAS pools, set together.

fastlstm runs on two kinds of threads: Numba's (the ``prange`` loops of the kernels'
drivers, which split the batch rows; the kernels call no BLAS) and BLAS's (NumPy's
``@`` in the ``Linear`` head, the losses and user code calls the OpenBLAS bundled with
NumPy; a ``np.dot`` inside ``@njit`` code calls the one bundled with SciPy,
``scipy.libs/libscipy_openblas*``, through ``scipy.linalg.cython_blas``). Each pool
defaults to one thread per core, so without a common limit a 2-core machine can run
2 Numba threads beside a 2-thread BLAS, and oversubscribe.
:func:`set_num_threads` sets all of them to the same number.

The BLAS pools are set through `threadpoolctl <https://github.com/joblib/threadpoolctl>`_
(``pip install threadpoolctl``). Without it only Numba's pool is set, the BLAS pools
keep their sizes (set ``OPENBLAS_NUM_THREADS`` before starting Python instead), and
:func:`thread_info` says so.

Only the BLAS pools are limited, not OpenMP ones: PyTorch's thread pool is set with
``torch.set_num_threads``.

Policy under contention (docs/performance.md, "Threads under contention")
--------------------------------------------------------------------------
* Wait policy: at ``import fastlstm`` the environment gets ``GOMP_SPINCOUNT=3000``
  (:data:`SPINCOUNT`) unless the user set ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT`` or
  ``KMP_BLOCKTIME`` (theirs wins). Idle GNU OpenMP threads then spin briefly and sleep,
  instead of spinning for about a millisecond, so a thread that finished its rows does
  not take CPU from the one still working or from another process. PyTorch shares the
  same GNU OpenMP runtime on Linux, so the setting applies to its pool too; a short
  spin (not a passive wait, which made its smallest operations 10x slower) keeps that
  cost small.
  It must be set before the OpenMP runtime loads: if another library loaded it earlier
  in the process, the runtime's own setting stays. Other OpenMP runtimes (LLVM's or
  Intel's, as on macOS) read ``KMP_BLOCKTIME``, which fastlstm does not set.
* Threading layer: Numba's choice (``tbb``, else ``omp``), or ``NUMBA_THREADING_LAYER``
  if the user set it. ``workqueue`` is not chosen: it is not safe for parallel calls
  from several Python threads at once.
* Size: a kernel call whose work ``B * H * (I + H) * T`` is below
  :data:`PARALLEL_MIN_WORK` runs on one thread whatever :func:`set_num_threads`
  said (waking a second thread costs more than it saves); above it, the number set
  with :func:`set_num_threads` (default: every core). Results are the same for any
  thread count.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

import numba

from ._validation import check_int

__all__ = ["get_num_threads", "set_num_threads", "thread_info", "threads"]

logger = logging.getLogger(__name__)

_NO_THREADPOOLCTL = (
    "threadpoolctl is not installed: BLAS thread pools were left as they are "
    "(pip install threadpoolctl, or set OPENBLAS_NUM_THREADS before starting Python)"
)
_warned = False

#: smallest work ``B * H * (I + H) * T`` of one kernel call that runs on several threads
PARALLEL_MIN_WORK = 4_000_000

_WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
#: the spin count fastlstm sets for GNU OpenMP (libgomp's default is 300000 when the
#: threads fit the cores): an idle thread spins this long, then sleeps
SPINCOUNT = "3000"
#: where the wait policy came from: "fastlstm" (set at import) or "user" (already set)
_wait_source = "user"
#: torch (and its OpenMP runtime) was loaded before fastlstm set the wait policy
_torch_first = False


def _init_policy() -> None:
    """Set the OpenMP wait policy (a short spin) unless the user set one; called at ``import fastlstm``."""
    global _wait_source, _torch_first
    import sys

    _torch_first = "torch" in sys.modules
    if any(v in os.environ for v in _WAIT_VARS):
        _wait_source = "user"
        return
    os.environ["GOMP_SPINCOUNT"] = SPINCOUNT
    _wait_source = "fastlstm"
    if _torch_first:
        logger.info(
            "torch was imported before fastlstm: its OpenMP pool keeps a spinning wait "
            f"(import fastlstm first, or set GOMP_SPINCOUNT={SPINCOUNT} before starting Python)"
        )


def threads_for(work: int) -> int:
    """Threads a kernel call of ``work = B * H * (I + H) * T`` uses: 1 below
    :data:`PARALLEL_MIN_WORK`, else ``numba.get_num_threads()``."""
    if work < PARALLEL_MIN_WORK:
        return 1
    return numba.get_num_threads()


def _load_blas() -> None:
    """Load SciPy's OpenBLAS (the one Numba's ``np.dot`` calls) so threadpoolctl can see it.

    It is otherwise loaded only when the first kernel is compiled or loaded from the
    cache, and a pool that is not loaded yet cannot be limited.
    """
    with contextlib.suppress(ImportError):
        import scipy.linalg.cython_blas  # noqa: F401


def _threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl


def _check_n(n) -> int:
    n = check_int(n, "n", minimum=1)
    limit = numba.config.NUMBA_NUM_THREADS
    if n > limit:
        raise ValueError(
            f"n: expected at most NUMBA_NUM_THREADS = {limit} threads, got {n} (NUMBA_NUM_THREADS "
            "defaults to the number of cores; set it in the environment before importing numba to raise it)"
        )
    return n


def _limit_blas(n: int | None):
    """Limit every loaded BLAS pool to ``n`` threads; returns the limiter (or None)."""
    global _warned
    tpc = _threadpoolctl()
    if tpc is None:
        if not _warned:
            logger.warning(_NO_THREADPOOLCTL)
            _warned = True
        return None
    _load_blas()
    return tpc.threadpool_limits(limits=n, user_api="blas")


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in Numba's pool and in every BLAS pool.

    Parameters
    ----------
    n : int
        Between 1 and ``NUMBA_NUM_THREADS`` (by default the number of cores).

    Notes
    -----
    Numba's setting applies to the calling thread (and the threads it starts
    ``prange`` loops from), as ``numba.set_num_threads`` does; the BLAS setting is
    process-wide. Use :func:`threads` to change them for a ``with`` block only.
    """
    n = _check_n(n)
    numba.set_num_threads(n)
    _limit_blas(n)


def get_num_threads() -> int:
    """The number of threads Numba's parallel kernels use (what :func:`set_num_threads` set)."""
    return numba.get_num_threads()


@contextlib.contextmanager
def threads(n: int) -> Iterator[int]:
    """Context manager: :func:`set_num_threads` for the ``with`` block, then restore.

    Parameters
    ----------
    n : int
        Threads for the block, between 1 and ``NUMBA_NUM_THREADS`` (yielded by ``with``).

    Examples
    --------
    >>> import fastlstm
    >>> with fastlstm._threads.threads(1):
    ...     fastlstm._threads.get_num_threads()
    1
    """
    n = _check_n(n)
    old = numba.get_num_threads()
    numba.set_num_threads(n)
    limiter = _limit_blas(n)
    try:
        yield n
    finally:
        numba.set_num_threads(old)
        if limiter is not None:
            limiter.restore_original_limits()


def _threading_layer() -> str:
    try:
        return numba.threading_layer()
    except ValueError:  # not initialised: no parallel kernel ran and no set_num_threads yet
        return f"not initialised (configured: {numba.config.THREADING_LAYER})"


def thread_info() -> dict:
    """Describe the thread pools fastlstm uses.

    Returns
    -------
    dict
        ``numba_threading_layer`` (``"omp"``, ``"tbb"``, ``"workqueue"``),
        ``wait_policy`` (the OpenMP wait variables and ``set_by``: ``"fastlstm"`` or
        ``"user"``; ``torch_imported_first``: PyTorch's OpenMP pool was loaded before and
        keeps its own wait), ``parallel_min_work`` (below it a kernel call runs on one thread),
        ``numba_threads`` (in use), ``numba_max_threads`` (``NUMBA_NUM_THREADS``),
        ``cpu_count``, ``threadpoolctl`` (its version or None), and ``blas``: one
        dict per loaded BLAS library with ``library`` (e.g. ``"libscipy_openblas"``),
        ``version``, ``threads``, ``architecture`` (the kernel set OpenBLAS chose, e.g.
        ``"Haswell"``), ``threading_layer``, ``filename`` (the file's basename) and
        ``directory`` (``numpy.libs`` or ``scipy.libs``: which package's copy it is).
    """
    _load_blas()
    tpc = _threadpoolctl()
    blas = []
    if tpc is not None:
        for pool in tpc.threadpool_info():
            if pool.get("user_api") != "blas":
                continue
            filepath = pool.get("filepath") or ""
            blas.append(
                {
                    "library": pool.get("prefix"),
                    "api": pool.get("internal_api"),
                    "version": pool.get("version"),
                    "threads": pool.get("num_threads"),
                    "architecture": pool.get("architecture"),
                    "threading_layer": pool.get("threading_layer"),
                    "filename": os.path.basename(filepath),
                    # numpy.libs or scipy.libs: which package bundled this copy
                    "directory": os.path.basename(os.path.dirname(filepath)),
                }
            )
    return {
        "numba_threading_layer": _threading_layer(),
        "wait_policy": {
            **{v: os.environ.get(v) for v in _WAIT_VARS},
            "set_by": _wait_source,
            "torch_imported_first": _torch_first,
        },
        "parallel_min_work": PARALLEL_MIN_WORK,
        "numba_threads": numba.get_num_threads(),
        "numba_max_threads": numba.config.NUMBA_NUM_THREADS,
        "cpu_count": os.cpu_count(),
        "threadpoolctl": getattr(tpc, "__version__", None) if tpc is not None else None,
        "blas": blas if tpc is not None else "unknown (threadpoolctl is not installed)",
    }


_init_policy()
