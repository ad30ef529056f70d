"""Configurations, deterministic data, a NumPy reference and helpers shared by the benchmarks.

Self-contained on purpose (nothing from ``fastlstm.bench``): asv runs today's
benchmark code against older commits of the package too.

Environment variables
---------------------
FASTLSTM_BENCH_THREADS
    Comma-separated thread counts to parametrise over (fastlstm's Numba and BLAS pools and
    PyTorch alike); default ``1,2`` (those up to ``NUMBA_NUM_THREADS``).
FASTLSTM_BENCH_CONFIGS
    Comma-separated subset of :data:`CONFIGS` to parametrise over (default: all).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import NamedTuple

import numba
import numpy as np


class Config(NamedTuple):
    B: int
    T: int
    I: int  # noqa: E741
    H: int
    dtype: str

    @property
    def flops_forward(self) -> int:
        """``2 T B 4H (I + H)``: multiply-adds of the input and recurrent products."""
        return 2 * self.T * self.B * 4 * self.H * (self.I + self.H)

    @property
    def flops_training(self) -> int:
        return 3 * self.flops_forward


#: The reference configurations of ``python -m fastlstm.bench`` (one layer).
ALL_CONFIGS: dict[str, Config] = {
    "step": Config(1, 1, 1, 32, "float32"),  # one step per call: streaming latency
    "tiny": Config(32, 50, 1, 32, "float32"),
    "small": Config(64, 100, 8, 64, "float32"),
    "medium": Config(32, 100, 32, 128, "float32"),
    "large": Config(128, 50, 64, 256, "float32"),
    "medium64": Config(32, 100, 32, 128, "float64"),
}

_selected = os.environ.get("FASTLSTM_BENCH_CONFIGS")
CONFIGS: dict[str, Config] = (
    {n: ALL_CONFIGS[n.strip()] for n in _selected.split(",") if n.strip()} if _selected else dict(ALL_CONFIGS)
)

#: max |fastlstm - reference| / max |reference| allowed in the setup checks (see fastlstm.bench).
RTOL = {"float32": 1e-4, "float64": 1e-10}

#: the thread counts every benchmark is run with (an asv parameter)
THREADS: list[int] = [
    n
    for n in (int(v) for v in os.environ.get("FASTLSTM_BENCH_THREADS", "1,2").split(",") if v.strip())
    if 1 <= n <= numba.config.NUMBA_NUM_THREADS
] or [1]


def set_threads(n: int) -> None:
    """The same number of threads for Numba and every BLAS pool (no oversubscription)."""
    try:
        from fastlstm import _threads
    except ImportError:  # older commits: Numba only
        numba.set_num_threads(n)
        return
    _threads.set_num_threads(n)


def make_data(cfg: Config, seed: int = 0):
    """Deterministic ``x [T, B, I]``, ``dy [T, B, H]`` and a seeded ``fastlstm.LSTM``."""
    import fastlstm

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cfg.T, cfg.B, cfg.I)).astype(cfg.dtype)
    dy = rng.standard_normal((cfg.T, cfg.B, cfg.H)).astype(cfg.dtype)
    layer = fastlstm.LSTM(cfg.I, cfg.H, dtype=cfg.dtype, seed=seed)
    return x, dy, layer


def weights(layer):
    """``w_ih [4H, I]``, ``w_hh [4H, H]``, ``b = b_ih + b_hh [4H]`` of a one-layer LSTM."""
    return (
        layer.weight_ih_l0.data,
        layer.weight_hh_l0.data,
        layer.bias_ih_l0.data + layer.bias_hh_l0.data,
    )


def training_step(layer, x, dy):
    """What users call: zero_grad, forward over the sequence, backward from every h_t."""
    layer.zero_grad()
    layer.forward(x)
    return layer.backward(dy)


def median_time(fn, repeat: int = 5) -> float:
    """Median wall time of ``fn()`` over ``repeat`` calls (for the ``track_*`` figures)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# ----------------------------------------------------------------------------------------
# NumPy reference in float64 (the setup checks)
# ----------------------------------------------------------------------------------------
def _sigmoid(z):
    return 0.5 + 0.5 * np.tanh(0.5 * z)


def reference_forward(x, w_ih, w_hh, b):
    """Float64 LSTM forward (gate order i, f, g, o): ``y, cache``."""
    x, w_ih, w_hh, b = (np.asarray(a, dtype=np.float64) for a in (x, w_ih, w_hh, b))
    T, B, _ = x.shape
    H = w_hh.shape[1]
    hs = np.zeros((T + 1, B, H))
    cs = np.zeros((T + 1, B, H))
    gates = np.empty((T, B, 4 * H))
    ax = x @ w_ih.T + b
    for t in range(T):
        a = ax[t] + hs[t] @ w_hh.T
        i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H]), _sigmoid(a[:, 3 * H :])
        g = np.tanh(a[:, 2 * H : 3 * H])
        gates[t] = np.concatenate([i, f, g, o], axis=1)
        cs[t + 1] = f * cs[t] + i * g
        hs[t + 1] = o * np.tanh(cs[t + 1])
    return hs[1:], (x, hs, cs, gates)


def reference_dx(dy, cache, w_ih, w_hh):
    """Float64 BPTT: the input gradient ``dx [T, B, I]``."""
    x, hs, cs, gates = cache
    w_ih, w_hh = np.asarray(w_ih, dtype=np.float64), np.asarray(w_hh, dtype=np.float64)
    T, B, _ = x.shape
    H = hs.shape[2]
    dh = np.zeros((B, H))
    dc = np.zeros((B, H))
    dx = np.empty_like(x)
    for t in range(T - 1, -1, -1):
        i, f, g, o = np.split(gates[t], 4, axis=1)
        tc = np.tanh(cs[t + 1])
        dh = dy[t] + dh
        dc = dc + dh * o * (1 - tc * tc)
        da = np.concatenate(
            [dc * g * i * (1 - i), dc * cs[t] * f * (1 - f), dc * i * (1 - g * g), dh * tc * o * (1 - o)],
            axis=1,
        )
        dc = dc * f
        dh = da @ w_hh
        dx[t] = da @ w_ih
    return dx


def check_close(actual, expected, dtype: str, what: str) -> None:
    """Raise AssertionError if the max-norm relative error exceeds :data:`RTOL`."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    err = float(np.max(np.abs(a - e)) / max(float(np.max(np.abs(e))), 1e-300))
    if not np.all(np.isfinite(a)) or err > RTOL[dtype]:
        raise AssertionError(f"{what}: relative error {err:.2e} > {RTOL[dtype]:.0e} ({dtype})")


# ----------------------------------------------------------------------------------------
# cold start
# ----------------------------------------------------------------------------------------
COLD_CHILD = """
import numpy as np
import fastlstm
B, T, I, H = 32, 50, 1, 32
layer = fastlstm.LSTM(I, H, seed=0)
x = np.random.default_rng(0).standard_normal((T, B, I)).astype(np.float32)
y, _ = layer.forward(x)
layer.backward(np.ones_like(y))
"""


def cold_env(numba_cache_dir: str | None) -> dict:
    """Environment of a cold-start child: its own Numba cache dir, or no cache at all (None)."""
    env = {k: v for k, v in os.environ.items() if k not in ("FASTLSTM_DISABLE_CACHE", "NUMBA_CACHE_DIR")}
    n = str(max(THREADS))
    env.update(NUMBA_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n)
    if numba_cache_dir is None:
        env["FASTLSTM_DISABLE_CACHE"] = "1"
    else:
        env["NUMBA_CACHE_DIR"] = numba_cache_dir
    return env


def run_cold(env: dict) -> None:
    """``import fastlstm`` and the first forward/backward on the tiny problem, in a new interpreter."""
    subprocess.run([sys.executable, "-c", COLD_CHILD], env=env, check=True, capture_output=True)
