"""One place for the JIT options every kernel uses, and the environment opt-ins.

Environment variables
---------------------
FASTLSTM_DISABLE_CACHE
    ``1`` turns off Numba's on-disk cache (``cache=True`` otherwise), e.g. on a
    read-only install. The cache is keyed on the contents of the sources a kernel
    may depend on (:mod:`fastlstm._cache`), so an edited kernel module is never
    served from a stale cache.
FASTLSTM_VECTOR_BITS
    ``128``, ``256`` or ``512``: the vector width of the micro-kernels
    (:mod:`fastlstm.kernels.simd`; default: the widest the CPU has). Numba's
    cache does not see this choice, so setting it also turns the cache off.
NUMBA_NUM_THREADS
    Upper bound on the threads the ``parallel=True`` drivers use (they split the
    batch rows); change the number in use at run time with
    :func:`fastlstm.set_num_threads`.

Fast-math policy
----------------
Kernels use only the fast-math flags that keep results reproducible:
``contract`` (fused multiply-add), ``arcp`` and ``nsz``. Never ``nnan``/``ninf``:
those let LLVM assume that no NaN or Inf exists and would hide exactly the
faults the training loop must detect (UMAP learned this in commit a59c9ff).
Not ``reassoc`` either: it lets LLVM reorder sums differently depending on how
a function was inlined, and float32 gradients then differed in the last bits
between a freshly compiled kernel and the same kernel loaded from Numba's
cache. The elementwise loops vectorise without it.
"""

from __future__ import annotations

import os

__all__ = ["CACHE", "FASTMATH", "JIT", "JIT_EXACT", "JIT_PARALLEL"]

_CACHE_OFF = os.environ.get("FASTLSTM_DISABLE_CACHE", "0") in ("1", "true", "True")
CACHE: bool = not _CACHE_OFF and not os.environ.get("FASTLSTM_VECTOR_BITS")
if CACHE:
    # before any kernel is decorated: the cache is keyed on the kernels' sources
    from . import _cache  # noqa: F401

FASTMATH: frozenset[str] = frozenset({"contract", "arcp", "nsz"})

#: options for serial kernels (``numba.njit(**JIT)``)
JIT: dict = {"cache": CACHE, "fastmath": set(FASTMATH), "nogil": True, "error_model": "numpy"}

#: options for the drivers that use ``prange``: never cached on their own. A cached caller
#: compiled in a process that loaded such a function from the cache segfaults when a later
#: process loads the caller (numba/numba#8578, still open; reproduced with Numba 0.68.1 in
#: ten lines, and on fastlstm's drivers). Uncached, they are compiled into their callers,
#: which are cached whole: a warm start is as fast (tests/test_cache.py).
JIT_PARALLEL: dict = {**JIT, "parallel": True, "cache": False}

#: options for the forecast wing's recursions (exponential smoothing, the ES-RNN's smoothing):
#: no fast-math at all, so that they round as the float64 references they are tested against
JIT_EXACT: dict = {"cache": CACHE, "nogil": True, "error_model": "numpy"}
