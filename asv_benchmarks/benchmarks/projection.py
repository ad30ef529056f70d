"""Warm benchmarks of projected layers (LSTMP, ``proj_size``): the rows ``proj128`` and
``proj256`` of ``python -m fastlstm.bench``, training step and inference, and the speed-up
over ``torch.nn.LSTM(proj_size=...)`` with the same threads.

``setup`` checks the forward output against a float64 NumPy LSTMP (AssertionError on a
mismatch) and warms the JIT. Commits before projections existed (``fastlstm.LSTM`` without
``proj_size``) are skipped (NotImplementedError), as are the torch figures without PyTorch.
"""

import numpy as np

from . import common

#: (B, T, I, H, dtype) and P, as fastlstm.bench.PROJECTION_CONFIGS
PROJ_CONFIGS = {
    "proj128": (common.Config(64, 100, 32, 128, "float32"), 64),
    "proj256": (common.Config(64, 100, 32, 256, "float32"), 128),
}
PARAMS = [list(PROJ_CONFIGS), common.THREADS]
PARAM_NAMES = ["config", "threads"]


def reference_proj_forward(x, layer):
    """Float64 LSTMP forward: ``h_t = (o * tanh c_t) W_hr^T``, gates i, f, g, o."""
    w_ih, w_hh, w_hr = (
        np.asarray(getattr(layer, n).data, np.float64)
        for n in ("weight_ih_l0", "weight_hh_l0", "weight_hr_l0")
    )
    b = np.asarray(layer.bias_ih_l0.data, np.float64) + np.asarray(layer.bias_hh_l0.data, np.float64)
    x = np.asarray(x, np.float64)
    T, B, _ = x.shape
    P, H = w_hr.shape
    h, c = np.zeros((B, P)), np.zeros((B, H))
    ys = np.empty((T, B, P))
    for t in range(T):
        a = x[t] @ w_ih.T + h @ w_hh.T + b
        i, f, o = (0.5 + 0.5 * np.tanh(0.5 * a[:, k * H : (k + 1) * H]) for k in (0, 1, 3))
        c = f * c + i * np.tanh(a[:, 2 * H : 3 * H])
        h = (o * np.tanh(c)) @ w_hr.T
        ys[t] = h
    return ys


class TimeProjection:
    """A projected layer: training step (zero_grad, forward, backward from every h_t) and
    inference (eval mode), and their speed-ups over ``torch.nn.LSTM(proj_size=P)``."""

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 300

    def setup(self, config, threads):
        import fastlstm

        common.set_threads(threads)
        cfg, P = PROJ_CONFIGS[config]
        self.cfg = cfg
        try:
            self.layer = fastlstm.LSTM(cfg.I, cfg.H, dtype=cfg.dtype, seed=0, proj_size=P)
        except TypeError:
            raise NotImplementedError("this commit's fastlstm.LSTM has no proj_size") from None
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((cfg.T, cfg.B, cfg.I)).astype(cfg.dtype)
        self.dy = rng.standard_normal((cfg.T, cfg.B, P)).astype(cfg.dtype)
        y, _ = self.layer.forward(self.x)
        common.check_close(
            y, reference_proj_forward(self.x, self.layer), cfg.dtype, "projected forward output"
        )
        common.training_step(self.layer, self.x, self.dy)
        self.flops = 2 * cfg.T * cfg.B * (4 * cfg.H * (cfg.I + P) + P * cfg.H)

    def _infer(self):
        self.layer.eval()
        self.layer.forward(self.x)
        self.layer.train()

    def time_training_step(self, config, threads):
        common.training_step(self.layer, self.x, self.dy)

    def time_forward(self, config, threads):
        self._infer()

    def track_gflops_training(self, config, threads):
        """``3 * 2 T B (4H (I + P) + P H)`` over the median of 5 training steps."""
        return (
            3
            * self.flops
            / common.median_time(lambda: common.training_step(self.layer, self.x, self.dy))
            / 1e9
        )

    track_gflops_training.unit = "GFLOP/s"

    def _torch(self, threads):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("PyTorch is not installed") from None
        torch.set_num_threads(threads)
        cfg = self.cfg
        module = torch.nn.LSTM(cfg.I, cfg.H, proj_size=self.layer.proj_size, dtype=getattr(torch, cfg.dtype))
        module.load_state_dict({k: torch.from_numpy(v) for k, v in self.layer.state_dict().items()})
        return torch, module

    def track_speedup_training(self, config, threads):
        torch, module = self._torch(threads)
        xt, dyt = torch.from_numpy(self.x.copy()).requires_grad_(True), torch.from_numpy(self.dy)

        def step():
            module.zero_grad()
            xt.grad = None
            module(xt)[0].backward(dyt)

        step()
        t_torch = common.median_time(step)
        return t_torch / common.median_time(lambda: common.training_step(self.layer, self.x, self.dy))

    track_speedup_training.unit = "x"

    def track_speedup_inference(self, config, threads):
        torch, module = self._torch(threads)
        xt = torch.from_numpy(self.x)

        def forward():
            with torch.inference_mode():
                module(xt)

        forward()
        return common.median_time(forward) / common.median_time(self._infer)

    track_speedup_inference.unit = "x"
