"""Peak memory of one training step and cold start, each in a child process."""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import tempfile
import time

from .. import _threads
from .config import REFERENCE_CONFIGS, Config
from .runners import _RUNNERS, _import_torch, _problem

logger = logging.getLogger(__name__)

_PEAK_METHOD = (
    "RSS high-water mark of a child process during one training step, minus its RSS just "
    "before the step (after a warm-up step; Linux: VmHWM reset through /proc/self/clear_refs; "
    "glibc told to mmap every allocation >= 64 KiB so freed memory leaves the RSS)"
)
_PEAK_METHOD_FALLBACK = (
    "ru_maxrss of a child process after one training step minus ru_maxrss before it "
    "(warm-up on a 1-step, 1-row problem only; /proc/self/clear_refs unavailable)"
)


def _proc_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return _proc_status_kib("VmHWM") is not None


def _maxrss_kib() -> int:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r // 1024 if sys.platform == "darwin" else r  # bytes on macOS, KiB on Linux


def _memory_child(spec_path: str) -> None:
    """Child-process body of :func:`measure_peak_memory` (reads a JSON spec, writes a JSON result)."""
    with open(spec_path) as fh:
        spec = json.load(fh)
    cfg = Config(**spec["config"])
    _threads.set_num_threads(spec["threads"])
    if spec["library"] == "torch":
        _import_torch().set_num_threads(spec["threads"])
    x, dy, weights = _problem(cfg)
    runner = _RUNNERS[spec["library"]](cfg, x, dy, weights)
    result = {}
    if _reset_hwm():
        runner.train_step()  # warm-up: JIT / cache load, first-call initialisation
        gc.collect()
        _reset_hwm()
        base = _proc_status_kib("VmRSS")
        runner.train_step()
        peak = _proc_status_kib("VmHWM")
        result["method"] = "rss-hwm"
    else:
        small = cfg._replace(B=1, T=1)
        xs, dys, _ = _problem(small)
        _RUNNERS[spec["library"]](small, xs, dys, weights).train_step()
        gc.collect()
        base = _maxrss_kib()
        runner.train_step()
        peak = _maxrss_kib()
        result["method"] = "ru_maxrss"
    result["peak_bytes"] = max(peak - base, 0) * 1024
    result["baseline_rss_bytes"] = base * 1024
    if spec["library"] != "torch":
        # Cross-check: NumPy and Numba (NRT) allocations are traced by tracemalloc, torch's are not.
        import tracemalloc

        tracemalloc.start()
        runner.train_step()
        result["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    with open(spec["out"], "w") as fh:
        json.dump(result, fh)


def measure_peak_memory(library: str, cfg: Config, threads: int, timeout: float = 600) -> dict:
    """Peak memory of one training step of ``library`` on ``cfg``, in a fresh child process.

    The same method applies to every library: the child builds the problem, runs one
    warm-up step, resets the kernel's RSS high-water mark (``VmHWM``), reads its RSS,
    runs one step and reports ``VmHWM - RSS``: the memory the step needed on top of
    what already existed (model, inputs and upstream gradient). glibc is told to serve
    every allocation of 64 KiB or more with ``mmap`` (``MALLOC_MMAP_THRESHOLD_``) so
    that memory freed after the warm-up step leaves the RSS and is counted again.
    For fastlstm and NumPy, ``tracemalloc_peak_bytes`` gives Python's own count of the
    step's array allocations as a cross-check (PyTorch's allocator is not traced).

    Parameters
    ----------
    library : str
        Which training step: ``"fastlstm"``, ``"torch"`` or ``"numpy"``.
    cfg : Config
        The problem's sizes and dtype.
    threads : int
        Numba and BLAS threads in the child.
    timeout : float
        Seconds the child may run.

    Returns
    -------
    dict
        ``peak_bytes``, ``baseline_rss_bytes``, ``method`` (and ``tracemalloc_peak_bytes``),
        or ``{"error": message}`` if the child failed.
    """
    with tempfile.TemporaryDirectory(prefix="fastlstm-bench-") as tmp:
        spec_path = os.path.join(tmp, "spec.json")
        out = os.path.join(tmp, "out.json")
        with open(spec_path, "w") as fh:
            json.dump({"library": library, "config": cfg.as_dict(), "threads": threads, "out": out}, fh)
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
        code = "import sys; from fastlstm.bench.memory import _memory_child; _memory_child(sys.argv[1])"
        try:
            proc = subprocess.run(
                [sys.executable, "-c", code, spec_path],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout} s"}
        if proc.returncode != 0 or not os.path.exists(out):
            tail = (proc.stderr or "").strip().splitlines()[-3:]
            return {"error": f"child exited with {proc.returncode}: " + " | ".join(tail)}
        with open(out) as fh:
            res = json.load(fh)
    res["description"] = _PEAK_METHOD if res["method"] == "rss-hwm" else _PEAK_METHOD_FALLBACK
    return res


# --------------------------------------------------------------------------------------
# cold start: import + first forward/backward in a fresh interpreter
# --------------------------------------------------------------------------------------
_COLD_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import fastlstm
t1 = time.perf_counter()
B, T, I, H = (int(v) for v in sys.argv[1:5])
layer = fastlstm.LSTM(I, H, dtype=sys.argv[5], seed=0)
rng = np.random.default_rng(0)
x = rng.standard_normal((T, B, I)).astype(sys.argv[5])
y, _ = layer.forward(x)
layer.backward(np.ones_like(y))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1, "total_s": t2 - t0}))
"""


def _cold_run(cfg: Config, cache_dir: str, threads: int, timeout: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "FASTLSTM_DISABLE_CACHE"}
    env.update(NUMBA_CACHE_DIR=cache_dir, NUMBA_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    args = [sys.executable, "-c", _COLD_CHILD, *map(str, (cfg.B, cfg.T, cfg.I, cfg.H)), cfg.dtype]
    t0 = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        return {"error": f"child exited with {proc.returncode}: " + " | ".join(tail)}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = wall
    return res


def measure_cold_start(cfg: Config | None = None, threads: int = 1, timeout: float = 600) -> dict:
    """Time ``import fastlstm`` plus the first forward and backward in a fresh interpreter.

    Run twice against one new, empty Numba cache directory (``NUMBA_CACHE_DIR``):
    ``first_ever`` compiles every kernel and writes the cache, ``warm_cache`` loads
    them from it. Each gives ``import_s``, ``first_call_s``, ``total_s`` (measured
    inside the child) and ``process_wall_s`` (the whole process, interpreter start
    included).

    Parameters
    ----------
    cfg : Config, optional
        The problem of the first call (default: the ``tiny`` reference configuration).
    threads : int
        Numba and BLAS threads in the child.
    timeout : float
        Seconds each child may run.
    """
    cfg = REFERENCE_CONFIGS["tiny"] if cfg is None else cfg
    with tempfile.TemporaryDirectory(prefix="fastlstm-numba-cache-") as cache_dir:
        first = _cold_run(cfg, cache_dir, threads, timeout)
        warm = _cold_run(cfg, cache_dir, threads, timeout)
    return {"config": cfg.as_dict(), "threads": threads, "first_ever": first, "warm_cache": warm}


# --------------------------------------------------------------------------------------
# environment
# --------------------------------------------------------------------------------------
