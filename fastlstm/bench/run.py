"""Run the configurations and assemble the report."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Sequence

from .. import _threads
from .config import _INSTALL_TORCH, SCHEMA, Config
from .environment import _code_path, environment_info
from .memory import measure_cold_start, measure_peak_memory
from .runners import (
    _RUNNERS,
    _FastlstmForwardRunner,
    _FastlstmRunner,
    _FastlstmTorchRunner,
    _import_torch,
    _problem,
    check_config,
    matmul_rate,
    time_call,
)

logger = logging.getLogger(__name__)


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
        "flop_count": "forward 2*T*B*4H*(I+H) (proj_size P: 2*T*B*(4H*(I+P)+P*H)); training 3x forward",
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
            if kind == "inference" and cfg.streaming:  # the stepper above; LSTM.forward here
                runner = _FastlstmForwardRunner(cfg, x, dy, weights)
                runner.prepare_inference()
                block["fastlstm_forward"] = time_call(runner.infer, repeat)
                block["speedup_fastlstm_forward"] = _ratio(
                    block["baseline"]["median"], block["fastlstm_forward"]["median"]
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
