"""The machine, the libraries and the code path a report records."""

from __future__ import annotations

import logging
import os
import platform

import numpy as np

from .. import _threads

logger = logging.getLogger(__name__)


def _cpu_info() -> dict:
    model, flags = None, None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip()
                elif key == "flags" and flags is None:
                    flags = set(value.split())
                if model is not None and flags is not None:
                    break
    except OSError:
        pass
    info = {"model": model or platform.processor() or platform.machine()}
    try:
        import llvmlite.binding as ll

        features = ll.get_host_cpu_features()
        info["llvm_cpu"] = ll.get_host_cpu_name()
    except Exception:  # pragma: no cover - llvmlite always comes with numba
        features = {}
    for flag in ("avx2", "fma", "avx512f"):
        info[flag] = bool(flag in flags) if flags is not None else bool(features.get(flag, False))
    return info


def _code_path(dtype: str) -> dict:
    from .. import kernels

    table = getattr(kernels, "CODE_PATH", None)  # {"float32": {"activations": ..., "recurrent": ...}, ...}
    if not isinstance(table, dict) or not isinstance(table.get(dtype), dict):
        return {"activations": "unknown", "recurrent": "unknown", "weight_gradients": "unknown"}
    return dict(table[dtype])


def environment_info(torch_module=None) -> dict:
    """Versions, CPU, threads and BLAS pools of this process (call after setting the threads).

    Parameters
    ----------
    torch_module : module, optional
        The imported ``torch``, whose version and thread settings are added (``"torch"``).
    """
    import numba
    import scipy

    from .. import __version__

    env = {
        "fastlstm": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "cpu": _cpu_info(),
        "threads": _threads.thread_info(),
        "code_path": {dt: _code_path(dt) for dt in ("float32", "float64")},
        "env_vars": {
            k: os.environ[k]
            for k in (
                "NUMBA_NUM_THREADS",
                "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS",
                "FASTLSTM_DISABLE_CACHE",
                "NUMBA_CACHE_DIR",
                "NUMBA_THREADING_LAYER",
                "OMP_WAIT_POLICY",
                "GOMP_SPINCOUNT",
                "KMP_BLOCKTIME",
            )
            if k in os.environ
        },
    }
    if torch_module is not None:
        env["torch"] = {
            "version": torch_module.__version__,
            "threads": torch_module.get_num_threads(),
            "interop_threads": torch_module.get_num_interop_threads(),
            "mkldnn": bool(torch_module.backends.mkldnn.is_available()),
            "mkl": bool(torch_module.backends.mkl.is_available()),
        }
    return env


# --------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------
