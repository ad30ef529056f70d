"""Warm benchmarks of the LSTM layer on the reference configurations of ``fastlstm.bench``.

Every ``setup`` builds deterministic data, checks one result against a float64 NumPy
reference (AssertionError on a mismatch, so a fast but wrong kernel fails the run)
and warms the JIT, so the ``time_``/``peakmem_`` bodies are one line.

``peakmem_*`` figures are asv's: the peak RSS of the whole benchmark process (Python,
NumPy, Numba and the setup data included), useful to see changes, not as absolute
figures; ``python -m fastlstm.bench`` reports the step's own peak (docs/benchmarks.md).
"""

import numpy as np

from . import common

PARAMS = [list(common.CONFIGS), common.THREADS]
PARAM_NAMES = ["config", "threads"]


class TimeForward:
    """Inference: one forward in eval mode (``step``: one time step with a carried state)."""

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 180

    def setup(self, config, threads):
        common.set_threads(threads)
        cfg = common.CONFIGS[config]
        self.x, _, self.layer = common.make_data(cfg)
        self.layer.eval()
        w_ih, w_hh, b = common.weights(self.layer)
        y, _ = self.layer.forward(self.x)
        common.check_close(y, common.reference_forward(self.x, w_ih, w_hh, b)[0], cfg.dtype, "forward output")
        # streaming (T = 1): feed a state back in, as a streaming caller does
        self.state = self.layer.forward(self.x)[1] if cfg.T == 1 else None

    def time_forward(self, config, threads):
        self.layer.forward(self.x, self.state)

    def peakmem_forward(self, config, threads):
        self.layer.forward(self.x, self.state)

    def track_gflops(self, config, threads):
        """Inference FLOP rate, ``2 T B 4H (I + H)`` over the median of 5 forwards."""
        cfg = common.CONFIGS[config]
        return cfg.flops_forward / common.median_time(lambda: self.layer.forward(self.x, self.state)) / 1e9

    track_gflops.unit = "GFLOP/s"


class TimeBackward:
    """BPTT alone: ``kernels.lstm_backward`` on a saved forward cache (repeatable, unlike
    ``LSTM.backward``, which consumes its tape)."""

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 180

    def setup(self, config, threads):
        from fastlstm import kernels

        common.set_threads(threads)
        cfg = common.CONFIGS[config]
        x, self.dy, layer = common.make_data(cfg)
        self.w_ih, self.w_hh, b = common.weights(layer)
        self.backward = kernels.lstm_backward
        _, _, _, self.cache = kernels.lstm_forward(x, None, None, self.w_ih, self.w_hh, b)
        res = self.backward(self.dy, None, None, self.cache, self.w_ih, self.w_hh)
        _, ref_cache = common.reference_forward(x, self.w_ih, self.w_hh, b)
        ref = common.reference_dx(self.dy.astype(np.float64), ref_cache, self.w_ih, self.w_hh)
        common.check_close(res.dx, ref, cfg.dtype, "input gradient")

    def time_backward(self, config, threads):
        self.backward(self.dy, None, None, self.cache, self.w_ih, self.w_hh)

    def peakmem_backward(self, config, threads):
        self.backward(self.dy, None, None, self.cache, self.w_ih, self.w_hh)


class TimeTrainingStep:
    """zero_grad, forward over the whole sequence, backward from every h_t (the layer API)."""

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 300

    def setup(self, config, threads):
        common.set_threads(threads)
        self.cfg = cfg = common.CONFIGS[config]
        self.x, self.dy, self.layer = common.make_data(cfg)
        w_ih, w_hh, b = common.weights(self.layer)
        dx, _ = common.training_step(self.layer, self.x, self.dy)
        y, ref_cache = common.reference_forward(self.x, w_ih, w_hh, b)
        ref = common.reference_dx(self.dy.astype(np.float64), ref_cache, w_ih, w_hh)
        common.check_close(dx, ref, cfg.dtype, "input gradient of the training step")

    def time_training_step(self, config, threads):
        common.training_step(self.layer, self.x, self.dy)

    def peakmem_training_step(self, config, threads):
        common.training_step(self.layer, self.x, self.dy)

    def track_gflops(self, config, threads):
        """Training-step FLOP rate, ``3 * 2 T B 4H (I + H)`` over the median of 5 steps."""
        t = common.median_time(lambda: common.training_step(self.layer, self.x, self.dy))
        return self.cfg.flops_training / t / 1e9

    track_gflops.unit = "GFLOP/s"


class TrackSpeedupVsTorch:
    """torch.nn.LSTM time / fastlstm time (training step and inference), same threads.

    Skipped (NotImplementedError in setup) where PyTorch is not installed.
    """

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 300

    def setup(self, config, threads):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("PyTorch is not installed") from None
        common.set_threads(threads)
        torch.set_num_threads(threads)
        self.torch = torch
        cfg = common.CONFIGS[config]
        self.x, self.dy, self.layer = common.make_data(cfg)
        self.module = torch.nn.LSTM(cfg.I, cfg.H, dtype=getattr(torch, cfg.dtype))
        self.module.load_state_dict({k: torch.from_numpy(v) for k, v in self.layer.state_dict().items()})
        self.xt = torch.from_numpy(self.x.copy()).requires_grad_(True)
        self.dyt = torch.from_numpy(self.dy)
        dx, _ = common.training_step(self.layer, self.x, self.dy)
        self._torch_step()
        common.check_close(dx, self.xt.grad.numpy(), cfg.dtype, "input gradient vs torch")

    def _torch_step(self):
        self.module.zero_grad()
        self.xt.grad = None
        y, _ = self.module(self.xt)
        y.backward(self.dyt)

    def _torch_forward(self):
        with self.torch.inference_mode():
            self.module(self.x_inf)

    def track_speedup_training(self, config, threads):
        t_fast = common.median_time(lambda: common.training_step(self.layer, self.x, self.dy))
        t_torch = common.median_time(self._torch_step)
        return t_torch / t_fast

    track_speedup_training.unit = "x"

    def track_speedup_inference(self, config, threads):
        self.layer.eval()
        self.x_inf = self.torch.from_numpy(self.x)
        self.layer.forward(self.x)
        self._torch_forward()
        t_fast = common.median_time(lambda: self.layer.forward(self.x))
        t_torch = common.median_time(self._torch_forward)
        return t_torch / t_fast

    track_speedup_inference.unit = "x"
