"""``fastlstm bench --contention``: training-step times with another job on the cores.

Three situations, each timed at the default thread count and at one thread, the
two interleaved in the same process so that their ratio sees the same machine:

* ``quiet``: nothing else started by the command;
* ``busy``: one busy-looping process beside this one (started by the command, killed
  when the situation ends, and bounded in time by itself in any case);
* ``pair``: two fastlstm processes measuring at once (the figures of the first).

A default that spins or splits work badly shows up as a ratio default/1-thread
above 1 in ``busy`` or ``pair`` (docs/performance.md, "Threads under contention").
"""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence

from .config import REFERENCE_CONFIGS, Config

logger = logging.getLogger(__name__)

SITUATIONS = ("quiet", "busy", "pair")

#: the busy process exits by itself after this many seconds even if nobody kills it
BUSY_LIMIT_S = 600


def start_busy(limit_s: float = BUSY_LIMIT_S) -> subprocess.Popen:
    """Start one CPU-bound process that ends by itself after ``limit_s`` seconds."""
    code = f"import time\nend = time.monotonic() + {float(limit_s)!r}\nwhile time.monotonic() < end: pass\n"
    return subprocess.Popen([sys.executable, "-c", code])


def stop(proc: subprocess.Popen) -> None:
    """Kill ``proc`` (started by this module) and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def measure(configs: Sequence[Config], repeat: int, rounds: int = 3) -> dict:
    """Median training-step seconds per config at the default threads and at 1 thread."""
    from .. import _threads
    from .runners import _FastlstmRunner, _problem, time_call

    default = _threads.get_num_threads()
    out = {}
    for cfg in configs:
        runner = _FastlstmRunner(cfg, *_problem(cfg))
        runner.prepare_training()
        samples: dict[int, list[float]] = {default: [], 1: []} if default != 1 else {1: []}
        for _ in range(rounds):
            for n in samples:
                with _threads.threads(n):
                    samples[n].append(time_call(runner.train_step, repeat=repeat, warmup=1)["median"])
        out[cfg.name] = {
            "default": statistics.median(samples[default]),
            "one": statistics.median(samples[1]),
            "default_threads": default,
        }
    return out


def _child_cmd(configs: Sequence[Config], repeat: int, rounds: int) -> list[str]:
    spec = json.dumps([c.as_dict() for c in configs])
    return [sys.executable, "-m", "fastlstm.bench.contention", spec, str(repeat), str(rounds)]


def run_contention(
    configs: Sequence[Config],
    repeat: int = 5,
    rounds: int = 3,
    situations: Sequence[str] = SITUATIONS,
    progress: Callable[[str], None] | None = None,
    busy_limit_s: float = BUSY_LIMIT_S,
) -> dict:
    """Time every config in each situation; returns ``{"cpu", "situations": {name: {config: times}}}``.

    The busy process is always killed before this returns (``busy_pid`` records it).
    """
    from .environment import _cpu_info

    say = progress or (lambda msg: None)
    unknown = [s for s in situations if s not in SITUATIONS]
    if unknown:
        raise ValueError(f"situations: expected some of {list(SITUATIONS)}, got {unknown}")
    report: dict = {"cpu": _cpu_info()["model"], "repeat": repeat, "rounds": rounds, "situations": {}}
    for name in situations:
        say(f"contention: {name}")
        if name == "quiet":
            report["situations"][name] = measure(configs, repeat, rounds)
        elif name == "busy":
            busy = start_busy(busy_limit_s)
            report["busy_pid"] = busy.pid
            try:
                report["situations"][name] = measure(configs, repeat, rounds)
            finally:
                stop(busy)
        else:
            cmd = _child_cmd(configs, repeat, rounds)
            procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(2)]
            try:
                outs = [p.communicate(timeout=max(60.0, busy_limit_s))[0] for p in procs]
            finally:
                for p in procs:
                    stop(p)
            if any(p.returncode != 0 for p in procs):
                raise RuntimeError(
                    f"contention: a measuring child failed (exit codes {[p.returncode for p in procs]})"
                )
            report["situations"][name] = json.loads(outs[0])
    return report


def format_contention(report: dict) -> str:
    """The table: one row per situation and config, medians and the ratio default/1-thread."""
    lines = [
        f"CPU: {report['cpu']}; training step, median of {report['rounds']} rounds "
        f"x {report['repeat']} samples",
        f"{'situation':10s} {'config':10s} {'threads':>7s} {'default ms':>11s} "
        f"{'1 thread ms':>12s} {'default/1':>9s}",
    ]
    for sit, table in report["situations"].items():
        for cfg, t in table.items():
            lines.append(
                f"{sit:10s} {cfg:10s} {t['default_threads']:7d} {t['default'] * 1e3:11.3f} "
                f"{t['one'] * 1e3:12.3f} {t['default'] / t['one']:9.2f}"
            )
    return "\n".join(lines)


def _child_main(argv: Sequence[str]) -> int:
    spec, repeat, rounds = argv
    configs = [Config(**d) for d in json.loads(spec)]
    print(json.dumps(measure(configs, int(repeat), int(rounds))))
    return 0


DEFAULT_CONFIGS = tuple(REFERENCE_CONFIGS)

if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
