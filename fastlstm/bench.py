r"""Benchmark fastlstm against PyTorch's ``nn.LSTM`` (or a NumPy LSTM): ``python -m fastlstm.bench``.

For every configuration (one layer, ``B`` batch rows, ``T`` steps, ``I`` inputs,
``H`` hidden units, a dtype) the script

1. checks fastlstm once against a float64 oracle (PyTorch in float64, or the NumPy
   reference below without PyTorch): outputs, final states and every gradient;
2. times, after warm-up, the median over ``--repeat`` samples of

   * a training step: ``zero_grad()``, forward over the whole sequence, backward
     with an upstream gradient on every ``h_t``, giving the input gradient and every
     parameter gradient (fastlstm through its :class:`~fastlstm.LSTM` layer, PyTorch
     with ``x.requires_grad = True`` and ``y.backward(dy)``);
   * inference: one forward (fastlstm in ``eval()``, PyTorch under
     ``torch.inference_mode()``); for ``T = 1`` (the ``step`` configuration) the
     state is carried from call to call: streaming latency;

   with PyTorch, ``fastlstm.torch.LSTM`` (the ``torch.nn.Module`` on fastlstm's kernels)
   is timed exactly as ``torch.nn.LSTM`` is, in rows of its own;

3. derives speed-ups (baseline time / fastlstm time), GFLOP/s and their share of the
   NumPy matrix-product rate measured in the same run (the practical ceiling);
4. measures the peak memory of one training step of each library in a child process
   (see :func:`measure_peak_memory`).

FLOP count: a forward pass does ``2 T B 4H (I + H)`` (the two products of (F1) and
(F2), a multiply and an add per term; the pointwise work is not counted), a training
step three times that (forward, and the two products of the backward (B6)-(B8)).

Nothing here is imported by ``import fastlstm``; PyTorch and Matplotlib are optional
(``pip install 'fastlstm[bench]'``; PyTorch: ``pip install torch==2.13.0``).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from . import _threads

__all__ = [
    "CHECK_RTOL",
    "REFERENCE_CONFIGS",
    "Config",
    "environment_info",
    "main",
    "matmul_rate",
    "measure_cold_start",
    "measure_peak_memory",
    "parse_config",
    "plot_speedups",
    "reference_backward",
    "reference_forward",
    "run_benchmarks",
    "time_call",
]

logger = logging.getLogger(__name__)

SCHEMA = "fastlstm-bench/1"

_INSTALL_BENCH = "pip install 'fastlstm[bench]'"
_INSTALL_TORCH = "pip install torch==2.13.0"


class Config(NamedTuple):
    """One benchmark configuration: a one-layer LSTM and its problem size."""

    name: str
    B: int  #: batch rows
    T: int  #: time steps
    I: int  #: input features  # noqa: E741
    H: int  #: hidden units
    dtype: str  #: "float32" or "float64"

    @property
    def flops_forward(self) -> int:
        """``2 T B 4H (I + H)``: the multiply-adds of the input and recurrent products."""
        return 2 * self.T * self.B * 4 * self.H * (self.I + self.H)

    @property
    def flops_training(self) -> int:
        """Forward plus backward: three times the forward count."""
        return 3 * self.flops_forward

    @property
    def streaming(self) -> bool:
        """One step per call with the state carried over (inference is then streaming latency)."""
        return self.T == 1

    def as_dict(self) -> dict:
        return dict(self._asdict())


#: The reference configurations, in the order of the table.
REFERENCE_CONFIGS: dict[str, Config] = {
    c.name: c
    for c in (
        Config("step", 1, 1, 1, 32, "float32"),
        Config("tiny", 32, 50, 1, 32, "float32"),
        Config("small", 64, 100, 8, 64, "float32"),
        Config("medium", 32, 100, 32, 128, "float32"),
        Config("large", 128, 50, 64, 256, "float32"),
        Config("medium64", 32, 100, 32, 128, "float64"),
    )
}

#: Bound on the max-norm relative error (max |a - e| / max |e|, per tensor) of fastlstm
#: against the float64 oracle. float32: the test suite measures at most ~1.2e-6 up to
#: T = 200; 1e-4 leaves room for the larger sums of these sizes while any wrong term
#: shows up at 1e-3 or more. float64: measured ~1e-15; 1e-10 as in the tests.
CHECK_RTOL: dict[str, float] = {"float32": 1e-4, "float64": 1e-10}

_DTYPES = {"float32": "float32", "f32": "float32", "float64": "float64", "f64": "float64"}


def parse_config(text: str) -> Config:
    """Parse ``NAME:B,T,I,H,dtype`` (dtype ``float32``/``f32`` or ``float64``/``f64``)."""
    name, sep, rest = text.partition(":")
    parts = rest.split(",")
    if not sep or not name or len(parts) != 5:
        raise ValueError(f"config: expected NAME:B,T,I,H,dtype (e.g. mine:32,100,8,64,float32), got {text!r}")
    try:
        sizes = [int(p) for p in parts[:4]]
    except ValueError:
        raise ValueError(f"config {name!r}: B, T, I and H must be integers, got {parts[:4]}") from None
    if min(sizes) < 1:
        raise ValueError(f"config {name!r}: B, T, I and H must be >= 1, got {sizes}")
    dtype = _DTYPES.get(parts[4].strip().lower())
    if dtype is None:
        raise ValueError(f"config {name!r}: dtype must be float32 or float64, got {parts[4]!r}")
    return Config(name, *sizes, dtype)


# --------------------------------------------------------------------------------------
# NumPy reference LSTM: the oracle without PyTorch, and the baseline it is timed against
# --------------------------------------------------------------------------------------
def _sigmoid(z):
    return 0.5 + 0.5 * np.tanh(0.5 * z)  # no exp, so no overflow


def reference_forward(x, w_ih, w_hh, b, h0=None, c0=None):
    """Vectorised NumPy LSTM forward (PyTorch's equations and gate order i, f, g, o).

    Computes in the dtype of ``x``. Returns ``y [T, B, H]``, ``h_n``, ``c_n`` and a
    cache for :func:`reference_backward`.
    """
    T, B, In = x.shape
    H = w_hh.shape[1]
    hs = np.empty((T + 1, B, H), dtype=x.dtype)
    cs = np.empty((T + 1, B, H), dtype=x.dtype)
    hs[0] = 0 if h0 is None else h0
    cs[0] = 0 if c0 is None else c0
    gates = (x.reshape(T * B, In) @ w_ih.T + b).reshape(T, B, 4 * H)  # (F1)
    for t in range(T):
        a = gates[t] + hs[t] @ w_hh.T  # (F2)
        gates[t, :, : 2 * H] = _sigmoid(a[:, : 2 * H])  # (F3) i, f
        gates[t, :, 2 * H : 3 * H] = np.tanh(a[:, 2 * H : 3 * H])  # g
        gates[t, :, 3 * H :] = _sigmoid(a[:, 3 * H :])  # o
        i, f, g, o = np.split(gates[t], 4, axis=1)
        cs[t + 1] = f * cs[t] + i * g  # (F4)
        hs[t + 1] = o * np.tanh(cs[t + 1])  # (F5)
    return hs[1:], hs[T], cs[T], (x, hs, cs, gates)


def reference_backward(dy, cache, w_ih, w_hh):
    """BPTT for :func:`reference_forward`: ``dx, dh0, dc0, dw_ih, dw_hh, db``."""
    x, hs, cs, gates = cache
    T, B, In = x.shape
    H = hs.shape[2]
    dh = np.zeros((B, H), dtype=x.dtype)
    dc = np.zeros((B, H), dtype=x.dtype)
    da = np.empty((T, B, 4 * H), dtype=x.dtype)
    for t in range(T - 1, -1, -1):
        i, f, g, o = np.split(gates[t], 4, axis=1)
        tc = np.tanh(cs[t + 1])
        dh = dy[t] + dh  # (B1)
        dc = dc + dh * o * (1 - tc * tc)  # (B2)
        da[t, :, :H] = dc * g * i * (1 - i)  # (B3), (B4)
        da[t, :, H : 2 * H] = dc * cs[t] * f * (1 - f)
        da[t, :, 2 * H : 3 * H] = dc * i * (1 - g * g)
        da[t, :, 3 * H :] = dh * tc * o * (1 - o)
        dc = dc * f  # (B5)
        dh = da[t] @ w_hh  # (B6)
    da2 = da.reshape(T * B, 4 * H)
    dx = (da2 @ w_ih).reshape(T, B, In)  # (B7)
    dw_ih = da2.T @ x.reshape(T * B, In)  # (B8)
    dw_hh = da2.T @ hs[:T].reshape(T * B, H)
    return dx, dh, dc, dw_ih, dw_hh, da2.sum(axis=0)


# --------------------------------------------------------------------------------------
# problems and runners: one object per library with train_step() and infer()
# --------------------------------------------------------------------------------------
def _import_torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"PyTorch is not installed; install it with: {_INSTALL_TORCH}") from exc
    return torch


def _problem(cfg: Config, seed: int = 0):
    """Deterministic inputs, upstream gradient and weights (fastlstm's initialisation)."""
    from .lstm import LSTM

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cfg.T, cfg.B, cfg.I)).astype(cfg.dtype)
    dy = rng.standard_normal((cfg.T, cfg.B, cfg.H)).astype(cfg.dtype)
    weights = LSTM(cfg.I, cfg.H, dtype=cfg.dtype, seed=seed).state_dict()
    return x, dy, weights


class _FastlstmRunner:
    name = "fastlstm"

    def __init__(self, cfg: Config, x, dy, weights):
        from .lstm import LSTM

        self.layer = LSTM(cfg.I, cfg.H, dtype=cfg.dtype)
        self.layer.load_state_dict(weights)
        self.x, self.dy = x, dy
        self.streaming = cfg.streaming
        self.state = None

    def train_step(self):
        layer = self.layer
        layer.zero_grad()
        y, _ = layer.forward(self.x)
        return layer.backward(self.dy)

    def prepare_inference(self):
        self.layer.eval()

    def prepare_training(self):
        self.layer.train()

    def infer(self):
        if self.streaming:
            y, self.state = self.layer.forward(self.x, self.state)
            return y
        return self.layer.forward(self.x)[0]


class _TorchRunner:
    name = "torch"

    def __init__(self, cfg: Config, x, dy, weights):
        torch = _import_torch()
        self.torch = torch
        dtype = getattr(torch, cfg.dtype)
        self.module = torch.nn.LSTM(cfg.I, cfg.H, dtype=dtype)
        self.module.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        self.x = torch.from_numpy(x.copy())
        self.x_grad = torch.from_numpy(x.copy()).requires_grad_(True)
        self.dy = torch.from_numpy(dy)
        self.streaming = cfg.streaming
        self.state = None

    def train_step(self):
        self.module.zero_grad()
        self.x_grad.grad = None  # fastlstm returns a fresh dx; do not time an accumulation
        y, _ = self.module(self.x_grad)
        y.backward(self.dy)

    def prepare_inference(self):
        self.module.eval()

    def prepare_training(self):
        self.module.train()

    def infer(self):
        with self.torch.inference_mode():
            if self.streaming:
                y, self.state = self.module(self.x, self.state)
                return y
            return self.module(self.x)[0]


class _NumpyRunner:
    name = "numpy"

    def __init__(self, cfg: Config, x, dy, weights):
        self.x, self.dy = x, dy
        self.w_ih = weights["weight_ih_l0"]
        self.w_hh = weights["weight_hh_l0"]
        self.b = weights["bias_ih_l0"] + weights["bias_hh_l0"]
        self.streaming = cfg.streaming
        self.state = (None, None)

    def train_step(self):
        _, _, _, cache = reference_forward(self.x, self.w_ih, self.w_hh, self.b)
        return reference_backward(self.dy, cache, self.w_ih, self.w_hh)

    def prepare_inference(self):
        pass

    def prepare_training(self):
        pass

    def infer(self):
        y, h, c, _ = reference_forward(self.x, self.w_ih, self.w_hh, self.b, *self.state)
        if self.streaming:
            self.state = (h, c)
        return y


class _FastlstmTorchRunner(_TorchRunner):
    """``fastlstm.torch.LSTM``: torch's module and autograd around fastlstm's kernels, timed
    exactly as ``torch.nn.LSTM`` is (same weights, inputs, training step and inference)."""

    name = "fastlstm.torch"

    def __init__(self, cfg: Config, x, dy, weights):
        super().__init__(cfg, x, dy, weights)
        from .torch import LSTM

        module = LSTM(cfg.I, cfg.H, dtype=self.module.weight_ih_l0.dtype)
        module.load_state_dict(self.module.state_dict())
        self.module = module


_RUNNERS = {"fastlstm": _FastlstmRunner, "torch": _TorchRunner, "numpy": _NumpyRunner}


# --------------------------------------------------------------------------------------
# correctness
# --------------------------------------------------------------------------------------
def _rel_err(actual, expected) -> float:
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        return float("inf")
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    diff = float(np.max(np.abs(a - e))) if e.size else 0.0
    return diff / scale if scale > 0 else diff


def _oracle(baseline: str, x, dy, weights):
    """Outputs and gradients in float64 from the baseline library (torch) or NumPy."""
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    w64 = {k: v.astype(np.float64) for k, v in weights.items()}
    if baseline == "torch":
        torch = _import_torch()
        T, B, In = x.shape
        m = torch.nn.LSTM(In, dy.shape[2], dtype=torch.float64)
        m.load_state_dict({k: torch.from_numpy(v) for k, v in w64.items()})
        xt = torch.from_numpy(x64).requires_grad_(True)
        y, (h_n, c_n) = m(xt)
        y.backward(torch.from_numpy(dy64))
        g = {k: p.grad.numpy() for k, p in m.named_parameters()}
        return {
            "output": y.detach().numpy(),
            "h_n": h_n.detach().numpy()[0],
            "c_n": c_n.detach().numpy()[0],
            "d_x": xt.grad.numpy(),
            "d_weight_ih": g["weight_ih_l0"],
            "d_weight_hh": g["weight_hh_l0"],
            "d_bias": g["bias_ih_l0"],
        }
    b = w64["bias_ih_l0"] + w64["bias_hh_l0"]
    y, h_n, c_n, cache = reference_forward(x64, w64["weight_ih_l0"], w64["weight_hh_l0"], b)
    dx, _, _, dw_ih, dw_hh, db = reference_backward(dy64, cache, w64["weight_ih_l0"], w64["weight_hh_l0"])
    return {
        "output": y,
        "h_n": h_n,
        "c_n": c_n,
        "d_x": dx,
        "d_weight_ih": dw_ih,
        "d_weight_hh": dw_hh,
        "d_bias": db,
    }


def check_config(cfg: Config, baseline: str, x, dy, weights) -> dict:
    """Compare fastlstm's outputs and gradients with the float64 oracle, once."""
    from .lstm import LSTM

    layer = LSTM(cfg.I, cfg.H, dtype=cfg.dtype)
    layer.load_state_dict(weights)
    y, (h_n, c_n) = layer.forward(x)
    dx, _ = layer.backward(dy)
    got = {
        "output": y,
        "h_n": h_n[0],
        "c_n": c_n[0],
        "d_x": dx,
        "d_weight_ih": layer.weight_ih_l0.grad,
        "d_weight_hh": layer.weight_hh_l0.grad,
        "d_bias": layer.bias_ih_l0.grad,
    }
    ref = _oracle(baseline, x, dy, weights)
    errors = {k: _rel_err(got[k], ref[k]) for k in got}
    if not np.array_equal(layer.bias_ih_l0.grad, layer.bias_hh_l0.grad):
        errors["d_bias_hh"] = _rel_err(layer.bias_hh_l0.grad, ref["d_bias"])
    worst = max(errors.values())
    rtol = CHECK_RTOL[cfg.dtype]
    return {
        "reference": ("torch" if baseline == "torch" else "numpy reference") + " in float64",
        "measure": "max |fastlstm - reference| / max |reference|, per tensor",
        "errors": errors,
        "max_rel_err": worst,
        "rtol": rtol,
        "passed": bool(worst <= rtol),
    }


# --------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------
def time_call(fn: Callable[[], object], repeat: int, warmup: int = 2, min_sample: float = 2e-3) -> dict:
    """Median time of one call of ``fn`` over ``repeat`` samples, after ``warmup`` calls.

    Fast calls are looped ``number`` times per sample (doubling until a sample takes
    ``min_sample`` seconds) so the timer's resolution does not matter. The garbage
    collector is off while sampling, as in ``timeit``.

    Returns
    -------
    dict
        ``median``, ``q1``, ``q3``, ``min`` (seconds per call), ``number``, ``repeat``.
    """
    for _ in range(warmup):
        fn()
    perf = time.perf_counter
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        number = 1
        while True:
            t0 = perf()
            for _ in range(number):
                fn()
            first = perf() - t0
            if first >= min_sample or number >= 1 << 16:
                break
            number *= 2
        samples = [first / number]
        for _ in range(repeat - 1):
            t0 = perf()
            for _ in range(number):
                fn()
            samples.append((perf() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    q = np.percentile(samples, [25, 75]) if len(samples) > 1 else (samples[0], samples[0])
    return {
        "median": statistics.median(samples),
        "q1": float(q[0]),
        "q3": float(q[1]),
        "min": min(samples),
        "number": number,
        "repeat": len(samples),
    }


def matmul_rate(dtype: str, repeat: int = 5, n: int = 1024) -> dict:
    """GFLOP/s of ``np.dot`` on two ``n x n`` matrices (``2 n^3`` FLOP), median of ``repeat``.

    Uses the threads set at the time of the call (NumPy's OpenBLAS). Also reports
    SciPy's BLAS ``gemm`` (the OpenBLAS copy Numba's ``np.dot`` calls), which may differ.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    t = time_call(lambda: np.dot(a, b, out=out), repeat=max(repeat, 3), warmup=1)
    flops = 2 * n**3
    res = {"n": n, "seconds": t["median"], "gflops": flops / t["median"] / 1e9}
    try:
        from scipy.linalg import blas
    except ImportError:  # pragma: no cover - scipy is a dependency
        return res
    gemm = blas.sgemm if dtype == "float32" else blas.dgemm
    af, bf = np.asfortranarray(a), np.asfortranarray(b)
    ts = time_call(lambda: gemm(1.0, af, bf), repeat=max(repeat, 3), warmup=1)
    res["scipy_gemm_gflops"] = flops / ts["median"] / 1e9
    return res


# --------------------------------------------------------------------------------------
# peak memory: a child process per library and configuration
# --------------------------------------------------------------------------------------
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
        code = "import sys; from fastlstm.bench import _memory_child; _memory_child(sys.argv[1])"
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
    """
    cfg = REFERENCE_CONFIGS["tiny"] if cfg is None else cfg
    with tempfile.TemporaryDirectory(prefix="fastlstm-numba-cache-") as cache_dir:
        first = _cold_run(cfg, cache_dir, threads, timeout)
        warm = _cold_run(cfg, cache_dir, threads, timeout)
    return {"config": cfg.as_dict(), "threads": threads, "first_ever": first, "warm_cache": warm}


# --------------------------------------------------------------------------------------
# environment
# --------------------------------------------------------------------------------------
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
    from . import kernels

    table = getattr(kernels, "CODE_PATH", None)  # {"float32": {"activations": ..., "recurrent": ...}, ...}
    if not isinstance(table, dict) or not isinstance(table.get(dtype), dict):
        return {"activations": "unknown", "recurrent": "unknown", "weight_gradients": "unknown"}
    return dict(table[dtype])


def environment_info(torch_module=None) -> dict:
    """Versions, CPU, threads and BLAS pools of this process (call after setting the threads)."""
    import numba
    import scipy

    from . import __version__

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
def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def run_benchmarks(
    configs: Sequence[Config],
    repeat: int = 20,
    threads: int = 2,
    use_torch: bool = True,
    memory: bool = True,
    cold: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Measure every configuration; returns the report (the ``--json`` document).

    Parameters
    ----------
    configs : sequence of Config
    repeat : int
        Samples per median.
    threads : int
        Threads for fastlstm (Numba and BLAS) and PyTorch alike.
    use_torch : bool
        Compare with PyTorch if it is installed; otherwise (or if False) with the
        NumPy reference LSTM.
    memory : bool
        Measure peak memory (two child processes per configuration).
    cold : bool
        Add the cold-start measurement (:func:`measure_cold_start`).
    progress : callable, optional
        Called with a short message before each stage.
    """
    say = progress or (lambda msg: None)
    torch = None
    reason = "--no-torch"
    if use_torch:
        try:
            torch = _import_torch()
        except ImportError:
            reason = f"PyTorch is not installed ({_INSTALL_TORCH})"
    baseline = "torch" if torch is not None else "numpy"
    report: dict = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "baseline": baseline,
        "baseline_description": (
            f"torch.nn.LSTM (PyTorch {torch.__version__})"
            if torch is not None
            else f"vectorised NumPy LSTM (fastlstm.bench.reference_*), because {reason}"
        ),
        "threads": threads,
        "repeat": repeat,
        "flop_count": "forward 2*T*B*4H*(I+H); training step 3x forward",
        "speedup": "baseline median time / fastlstm median time",
        "matmul": {},
        "results": [],
        "cold_start": None,
    }
    # The threads apply to this run only: fastlstm's (Numba, BLAS) and PyTorch's are restored after.
    torch_threads = torch.get_num_threads() if torch is not None else None
    with _threads.threads(threads):
        if torch is not None:
            torch.set_num_threads(threads)
        try:
            _measure(report, configs, baseline, memory, cold, say)
            # after the runs: the threading layer is initialised and every BLAS pool loaded
            report["environment"] = environment_info(torch)
        finally:
            if torch is not None:
                torch.set_num_threads(torch_threads)
    return report


def _measure(report: dict, configs: Sequence[Config], baseline: str, memory: bool, cold: bool, say) -> None:
    """The body of :func:`run_benchmarks`: fills ``report`` in place."""
    repeat, threads = report["repeat"], report["threads"]
    for dtype in sorted({c.dtype for c in configs}):
        say(f"matmul ceiling {dtype}")
        report["matmul"][dtype] = matmul_rate(dtype, repeat=min(repeat, 10))
    for cfg in configs:
        say(f"{cfg.name}: check")
        x, dy, weights = _problem(cfg)
        entry: dict = {
            "config": cfg.as_dict(),
            "streaming": cfg.streaming,
            "flops": {"forward": cfg.flops_forward, "training": cfg.flops_training},
            "code_path": _code_path(cfg.dtype),
            "check": check_config(cfg, baseline, x, dy, weights),
        }
        runners = {
            "fastlstm": _FastlstmRunner(cfg, x, dy, weights),
            "baseline": _RUNNERS[baseline](cfg, x, dy, weights),
        }
        if baseline == "torch":  # the torch.nn.Module on fastlstm's kernels: when does it pay?
            runners["fastlstm_torch"] = _FastlstmTorchRunner(cfg, x, dy, weights)
        ceiling = report["matmul"][cfg.dtype]["gflops"]
        for kind, flops in (("training", cfg.flops_training), ("inference", cfg.flops_forward)):
            say(f"{cfg.name}: {kind}")
            block: dict = {}
            for who, runner in runners.items():
                if kind == "training":
                    runner.prepare_training()
                    fn = runner.train_step
                else:
                    runner.prepare_inference()
                    fn = runner.infer
                t = time_call(fn, repeat)
                gflops = flops / t["median"] / 1e9
                block[who] = {**t, "gflops": gflops, "matmul_share": gflops / ceiling}
            block["speedup"] = _ratio(block["baseline"]["median"], block["fastlstm"]["median"])
            if "fastlstm_torch" in block:
                block["speedup_fastlstm_torch"] = _ratio(
                    block["baseline"]["median"], block["fastlstm_torch"]["median"]
                )
            entry[kind] = block
        if memory:
            say(f"{cfg.name}: peak memory")
            entry["memory"] = {
                "fastlstm": measure_peak_memory("fastlstm", cfg, threads),
                "baseline": measure_peak_memory(baseline, cfg, threads),
            }
        else:
            entry["memory"] = None
        report["results"].append(entry)
    if cold:
        say("cold start (compiles every kernel: tens of seconds)")
        report["cold_start"] = measure_cold_start(threads=threads)


# --------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------
def _ms(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t * 1e3:.3f}" if t < 1e-2 else f"{t * 1e3:.1f}"


def _mib(mem: dict | None) -> str:
    if not mem or "peak_bytes" not in mem:
        return "-" if not mem else "err"
    return f"{mem['peak_bytes'] / 2**20:.1f}"


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _times(block: dict) -> str:
    fast, base = block["fastlstm"]["median"], block["baseline"]["median"]
    return f"{_ms(fast):>9} {_ms(base):>10} {_x(block['speedup']):>8}"


def _torch_module_rows(report: dict) -> list[str]:
    """Rows for ``fastlstm.torch.LSTM`` (timed only when the baseline is torch)."""
    rows = [e for e in report["results"] if "fastlstm_torch" in e["training"]]
    if not rows:
        return []
    lines = [
        "",
        "fastlstm.torch.LSTM (a torch.nn.Module on fastlstm's kernels) vs torch.nn.LSTM; "
        "speed-up = torch time / fastlstm.torch time",
    ]
    head = (
        f"{'config':<10} {'train ms':>9} {'torch ms':>10} {'speed-up':>8} "
        f"{'infer ms':>9} {'torch ms':>10} {'speed-up':>8}"
    )
    lines += [head, "-" * len(head)]
    for e in rows:
        cells = [
            f"{_ms(b['fastlstm_torch']['median']):>9} {_ms(b['baseline']['median']):>10} "
            f"{_x(b['speedup_fastlstm_torch']):>8}"
            for b in (e["training"], e["inference"])
        ]
        lines.append(f"{e['config']['name'] + ('*' if e['streaming'] else ''):<10} {cells[0]} {cells[1]}")
    return lines


def format_report(report: dict) -> str:
    """The readable table of a report."""
    base = report["baseline"]
    env = report.get("environment", {})
    cpu = env.get("cpu", {})
    flags = ", ".join(f for f in ("avx2", "fma", "avx512f") if cpu.get(f))
    lines = [
        f"fastlstm {env.get('fastlstm', '?')} vs {report['baseline_description']}",
        f"threads {report['threads']}, median of {report['repeat']} samples; speed-up = {base} time / "
        f"fastlstm time; GFLOP/s of fastlstm ({report['flop_count']})",
        f"CPU {cpu.get('model', '?')} ({flags or '-'}); matmul ceiling (NumPy 1024x1024): "
        + ", ".join(f"{dt} {m['gflops']:.1f} GFLOP/s" for dt, m in report["matmul"].items()),
        "",
    ]
    head = (
        f"{'config':<10} {'B,T,I,H':<15} {'dtype':<7} {'check':<14} "
        f"{'train ms':>9} {base + ' ms':>10} {'speed-up':>8} "
        f"{'infer ms':>9} {base + ' ms':>10} {'speed-up':>8} "
        f"{'GFLOP/s':>8} {'%matmul':>7} {'MiB':>7} {base + ' MiB':>10}"
    )
    lines += [head, "-" * len(head)]
    for e in report["results"]:
        c = e["config"]
        tr, inf = e["training"], e["inference"]
        chk = e["check"]
        mem = e.get("memory") or {}
        lines.append(
            f"{c['name'] + ('*' if e['streaming'] else ''):<10} "
            f"{'{B},{T},{I},{H}'.format(**c):<15} {c['dtype']:<7} "
            f"{('ok ' if chk['passed'] else 'FAIL ') + format(chk['max_rel_err'], '.1e'):<14} "
            f"{_times(tr)} {_times(inf)} "
            f"{tr['fastlstm']['gflops']:>8.2f} {100 * tr['fastlstm']['matmul_share']:>6.1f}% "
            f"{_mib(mem.get('fastlstm')):>7} {_mib(mem.get('baseline')):>10}"
        )
    lines += _torch_module_rows(report)
    lines += [
        "",
        "* streaming: one time step per call, state carried (inference = per-step latency)",
        "check: max relative error vs "
        + (report["results"][0]["check"]["reference"] if report["results"] else "the float64 oracle"),
        "MiB: peak memory of one training step above the memory held before it (child process RSS)",
    ]
    cold = report.get("cold_start")
    if cold:
        for key, label in (("first_ever", "empty numba cache"), ("warm_cache", "warm numba cache")):
            r = cold[key]
            if "error" in r:
                lines.append(f"cold start, {label}: {r['error']}")
            else:
                lines.append(
                    f"cold start, {label}: import {r['import_s']:.2f} s + first forward/backward "
                    f"{r['first_call_s']:.2f} s (process {r['process_wall_s']:.2f} s)"
                )
    return "\n".join(lines)


def write_json(report: dict, path: str) -> None:
    """Write ``report`` to ``path`` atomically (a temporary file in the same folder, then rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastlstm-bench-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(report, fh, indent=2, sort_keys=False, allow_nan=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def plot_speedups(report: dict, path: str) -> None:
    """Bar chart of the training and inference speed-ups per configuration (PNG, Agg).

    Log scale, bars drawn from the 1.0x line: up where fastlstm is faster, down where
    it is slower. Uses Matplotlib's object-oriented API (no pyplot, no global backend).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"--plot needs matplotlib: {_INSTALL_BENCH}") from exc
    results = report["results"]
    labels = [e["config"]["name"] + ("*" if e["streaming"] else "") for e in results]
    series = {
        "training step": [e["training"]["speedup"] or 1.0 for e in results],
        "inference" + (" (*: one streaming step)" if any(e["streaming"] for e in results) else ""): [
            e["inference"]["speedup"] or 1.0 for e in results
        ],
    }
    values = [v for vals in series.values() for v in vals]
    pos = np.arange(len(results))
    fig = Figure(figsize=(max(6.0, 1.1 * len(results) + 2), 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_yscale("log")
    w = 0.38
    for k, (label, vals) in enumerate(series.items()):
        heights = [v - 1.0 for v in vals]
        bars = ax.bar(pos + (k - 0.5) * w, heights, w, bottom=1.0, label=label)
        ax.bar_label(bars, labels=[f"{v:.2f}x" for v in vals], fontsize=8, padding=2)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xticks(pos, labels)
    ax.set_ylabel(f"speed-up ({report['baseline']} time / fastlstm time)")
    ax.set_title(f"fastlstm vs {report['baseline_description']}, {report['threads']} threads", fontsize=9)
    ax.legend(loc="best", fontsize=8)
    ax.set_ylim(min(0.5, min(values) / 1.6), max(2.0, max(values) * 1.6))
    fig.savefig(path, dpi=120)


# --------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------
def _parser(prog: str) -> argparse.ArgumentParser:
    import numba

    default_threads = min(2, numba.config.NUMBA_NUM_THREADS)
    p = argparse.ArgumentParser(
        prog=prog,
        description="Time fastlstm's LSTM layer against torch.nn.LSTM (or a NumPy LSTM without PyTorch): "
        "training step, inference, GFLOP/s, peak memory.",
        epilog="Reference configurations (B,T,I,H dtype): "
        + "; ".join(f"{c.name} {c.B},{c.T},{c.I},{c.H} {c.dtype}" for c in REFERENCE_CONFIGS.values()),
    )
    p.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="NAME:B,T,I,H,dtype",
        help="add a configuration (repeatable), e.g. mine:32,100,8,64,float32",
    )
    p.add_argument("--only", metavar="NAMES", help="comma-separated configuration names to run")
    p.add_argument("--repeat", type=int, default=20, help="samples per median (default 20)")
    p.add_argument(
        "--threads",
        type=int,
        default=default_threads,
        help=f"threads for fastlstm and PyTorch (default {default_threads})",
    )
    p.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="write a bar chart of the speed-ups")
    p.add_argument("--no-torch", action="store_true", help="compare with the NumPy reference LSTM")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    p.add_argument(
        "--cold",
        action="store_true",
        help="also time import + first forward/backward in a fresh process (empty and warm numba cache)",
    )
    return p


def _select(args, parser) -> list[Config]:
    configs = dict(REFERENCE_CONFIGS)
    for text in args.config:
        try:
            cfg = parse_config(text)
        except ValueError as exc:
            parser.error(str(exc))
        if cfg.name in configs:
            parser.error(f"--config: the name {cfg.name!r} is taken; choose another")
        configs[cfg.name] = cfg
    if args.only is None:
        return list(configs.values())
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in configs]
    if unknown:
        parser.error(f"--only: unknown configuration(s) {unknown}; known: {sorted(configs)}")
    return [configs[n] for n in names]


def main(argv: Sequence[str] | None = None, prog: str = "python -m fastlstm.bench") -> int:
    """Command-line entry point (``python -m fastlstm.bench`` and ``fastlstm bench``).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (``sys.argv[1:]`` when None).
    prog : str
        The program name shown in ``--help`` and usage errors.

    Returns 0, or 1 if a correctness check failed (the figures are still reported).
    """
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat: expected >= 1, got {args.repeat}")
    import numba

    if not 1 <= args.threads <= numba.config.NUMBA_NUM_THREADS:
        parser.error(
            f"--threads: expected 1 to NUMBA_NUM_THREADS = {numba.config.NUMBA_NUM_THREADS}, "
            f"got {args.threads}"
        )
    configs = _select(args, parser)
    if args.plot:  # fail before measuring, not after
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            parser.error(f"--plot needs matplotlib: {_INSTALL_BENCH}")

    def progress(msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    report = run_benchmarks(
        configs,
        repeat=args.repeat,
        threads=args.threads,
        use_torch=not args.no_torch,
        memory=not args.no_memory,
        cold=args.cold,
        progress=progress,
    )
    report["argv"] = list(sys.argv[1:] if argv is None else argv)
    print(format_report(report))
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        plot_speedups(report, args.plot)
        print(f"wrote {args.plot}")
    failed = [e["config"]["name"] for e in report["results"] if not e["check"]["passed"]]
    if failed:
        print(f"correctness check FAILED for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
