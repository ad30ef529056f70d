"""What is timed (fastlstm, torch.nn.LSTM, fastlstm.torch, NumPy), the correctness check, the timer."""

from __future__ import annotations

import gc
import logging
import statistics
import time
from collections.abc import Callable

import numpy as np

from .._optional import import_optional
from .config import CHECK_RTOL, Config
from .reference import reference_backward, reference_forward

logger = logging.getLogger(__name__)


def _import_torch():
    """PyTorch for the baseline, or an ImportError saying how to install it."""
    return import_optional("torch", "the PyTorch baseline", extra="torch")


def _problem(cfg: Config, seed: int = 0):
    """Deterministic inputs, upstream gradient and weights (fastlstm's initialisation)."""
    from ..nn.lstm import LSTM

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cfg.T, cfg.B, cfg.I)).astype(cfg.dtype)
    dy = rng.standard_normal((cfg.T, cfg.B, cfg.P or cfg.H)).astype(cfg.dtype)
    weights = LSTM(cfg.I, cfg.H, dtype=cfg.dtype, seed=seed, proj_size=cfg.P).state_dict()
    return x, dy, weights


class _FastlstmRunner:
    name = "fastlstm"

    def __init__(self, cfg: Config, x, dy, weights):
        from ..nn.lstm import LSTM

        self.layer = LSTM(cfg.I, cfg.H, dtype=cfg.dtype, proj_size=cfg.P)
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
        if self.streaming:  # fastlstm's streaming API: one compiled call per step
            self.stepper = self.layer.stepper(batch_size=self.x.shape[1])
            self.x_t = np.ascontiguousarray(self.x[0])

    def prepare_training(self):
        self.layer.train()

    def infer(self):
        if self.streaming:
            return self.stepper.step(self.x_t)
        return self.layer.forward(self.x)[0]


class _FastlstmForwardRunner(_FastlstmRunner):
    """Streaming inference through ``LSTM.forward(x_t, state)`` (what users call), beside the
    stepper that ``_FastlstmRunner`` times: one step per call, the state carried."""

    name = "fastlstm.forward"

    def infer(self):
        y, self.state = self.layer.forward(self.x, self.state)
        return y

    def prepare_inference(self):
        self.layer.eval()
        self.state = None


class _TorchRunner:
    name = "torch"

    def __init__(self, cfg: Config, x, dy, weights):
        torch = _import_torch()
        self.torch = torch
        dtype = getattr(torch, cfg.dtype)
        self.module = torch.nn.LSTM(cfg.I, cfg.H, proj_size=cfg.P, dtype=dtype)
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
        if cfg.P:
            raise ValueError(f"config {cfg.name!r}: the NumPy baseline has no projection (P); install torch")
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
        from ..torch import LSTM

        module = LSTM(cfg.I, cfg.H, proj_size=cfg.P, dtype=self.module.weight_ih_l0.dtype)
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
    proj = "weight_hr_l0" in weights
    if proj and baseline != "torch":
        raise ValueError("the NumPy reference has no projection (proj_size): install torch")
    if baseline == "torch":
        torch = _import_torch()
        T, B, I = x.shape
        H = weights["weight_hh_l0"].shape[0] // 4
        m = torch.nn.LSTM(I, H, proj_size=dy.shape[2] if proj else 0, dtype=torch.float64)
        m.load_state_dict({k: torch.from_numpy(v) for k, v in w64.items()})
        xt = torch.from_numpy(x64).requires_grad_(True)
        y, (h_n, c_n) = m(xt)
        y.backward(torch.from_numpy(dy64))
        g = {k: p.grad.numpy() for k, p in m.named_parameters()}
        out = {
            "output": y.detach().numpy(),
            "h_n": h_n.detach().numpy()[0],
            "c_n": c_n.detach().numpy()[0],
            "d_x": xt.grad.numpy(),
            "d_weight_ih": g["weight_ih_l0"],
            "d_weight_hh": g["weight_hh_l0"],
            "d_bias": g["bias_ih_l0"],
        }
        if proj:
            out["d_weight_hr"] = g["weight_hr_l0"]
        return out
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
    """Compare fastlstm's outputs and gradients with the float64 oracle, once.

    Parameters
    ----------
    cfg : Config
        The problem's sizes and dtype.
    baseline : str
        ``"torch"`` (the oracle is PyTorch in float64), else the NumPy reference in float64.
    x, dy : numpy.ndarray, shape (T, B, I) and (T, B, H)
        The inputs and the upstream gradient on every ``h_t``.
    weights : dict of str to numpy.ndarray
        The layer's ``state_dict`` (PyTorch's names), loaded into both.
    """
    from ..nn.lstm import LSTM

    layer = LSTM(cfg.I, cfg.H, dtype=cfg.dtype, proj_size=cfg.P)
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
    if cfg.P:
        got["d_weight_hr"] = layer.weight_hr_l0.grad
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

    Parameters
    ----------
    fn : callable
        Called with no arguments.
    repeat : int
        Samples to take.
    warmup : int
        Calls before sampling (JIT compilation, caches).
    min_sample : float
        Seconds a sample should last at least.

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
    """GFLOP/s of ``np.dot`` on two ``n x n`` matrices (``2 n^3`` FLOP), best of ``repeat``.

    A ceiling, so the fastest sample: on a shared machine a median taken while another job
    held a core put a row's share of it above 100%.

    Uses the threads set at the time of the call (NumPy's OpenBLAS). Also reports
    SciPy's BLAS ``gemm`` (the OpenBLAS copy Numba's ``np.dot`` calls), which may differ.

    Parameters
    ----------
    dtype : str
        ``"float32"`` or ``"float64"``.
    repeat : int
        Samples (at least 3 are taken).
    n : int
        The matrices' size.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    t = time_call(lambda: np.dot(a, b, out=out), repeat=max(repeat, 3), warmup=1)
    flops = 2 * n**3
    res = {"n": n, "seconds": t["min"], "gflops": flops / t["min"] / 1e9}
    try:
        from scipy.linalg import blas
    except ImportError:  # pragma: no cover - scipy is a dependency
        return res
    gemm = blas.sgemm if dtype == "float32" else blas.dgemm
    af, bf = np.asfortranarray(a), np.asfortranarray(b)
    ts = time_call(lambda: gemm(1.0, af, bf), repeat=max(repeat, 3), warmup=1)
    res["scipy_gemm_gflops"] = flops / ts["min"] / 1e9
    return res


# --------------------------------------------------------------------------------------
# peak memory: a child process per library and configuration
# --------------------------------------------------------------------------------------
