"""Cold start: ``import fastlstm`` plus the first forward and backward, in a new interpreter.

``warm-cache``: the kernels are loaded from Numba's on-disk cache (a directory that
``setup_cache`` filled once), what every run after the first costs.
``no-cache``: ``FASTLSTM_DISABLE_CACHE=1``, so every kernel is compiled: the compile
time a first-ever run pays (tens of seconds on a slow machine; hence the timeouts).
Both include the interpreter's start-up and the imports of NumPy, SciPy and Numba.
"""

import os

from . import common


class TimeColdStart:
    params = [["warm-cache", "no-cache"]]
    param_names = ["numba_cache"]
    timeout = 600
    number = 1
    repeat = (1, 3, 120.0)
    warmup_time = 0
    processes = 1

    def setup_cache(self):
        # asv keeps files written here (its cache directory) for the benchmarks below
        cache_dir = os.path.abspath("numba_cache")
        common.run_cold(common.cold_env(cache_dir))  # compile once, filling the cache
        return cache_dir

    setup_cache.timeout = 600

    def setup(self, cache_dir, numba_cache):
        self.env = common.cold_env(cache_dir if numba_cache == "warm-cache" else None)
        if numba_cache == "warm-cache":
            # a no-op (two seconds) unless fastlstm's source changed since setup_cache, which
            # invalidates Numba's cache (e.g. a --python=same run on a working tree being edited)
            common.run_cold(self.env)

    def time_import_and_first_step(self, cache_dir, numba_cache):
        common.run_cold(self.env)
