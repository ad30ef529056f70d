"""Measure data-parallel scaling: time per step at 1, 2, ... ranks and the Allreduce share.

Run the driver (it launches ``mpiexec -n P python -m mpi4py`` for each P, one
thread per rank, and prints a Markdown table of medians)::

    python examples/mpi_scaling.py --ranks 1 2

or one measurement by hand: ``mpiexec -n 2 python -m mpi4py examples/mpi_scaling.py --worker``.

Workload: an LSTMRegressor (float32, 8 inputs, hidden 64, 12 outputs) on
sequences of 48 steps, a fixed global batch of 64 windows split across the
ranks (strong scaling of one step), Adam, clipping, via ``Trainer(comm=...)``.
Per step it records the wall time between consecutive steps and the time spent
in the step's one ``Allreduce`` (which includes waiting for the slowest rank);
separately, it times the same ``Allreduce`` alone after a barrier (the pure
communication cost). Reported figures are medians over all timed steps.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np


def worker(args) -> None:
    from mpi4py import MPI

    from fastlstm.nn import LSTMRegressor
    from fastlstm.train.trainer import Callback, Trainer

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    rng = np.random.default_rng(0)
    n = args.batch * args.steps
    x = rng.normal(size=(n, args.seq, 8)).astype(np.float32)
    y = rng.normal(size=(n, 12)).astype(np.float32)

    class Clock(Callback):
        """Per step: wall time, time inside the Allreduce, and this rank's CPU time outside it."""

        def __init__(self, dp):
            self.dp, self.last, self.cpu_in_reduce = dp, None, 0.0
            self.steps, self.allreduce, self.cpu = [], [], []
            if dp is not None:  # also count the CPU time spent inside DataParallel.reduce
                reduce = dp.reduce

                def timed_reduce(*args, **kwargs):
                    t0 = time.process_time()
                    try:
                        return reduce(*args, **kwargs)
                    finally:
                        self.cpu_in_reduce += time.process_time() - t0

                dp.reduce = timed_reduce

        def on_batch_end(self, trainer, logs):
            ar = self.dp.allreduce_seconds if self.dp else 0.0
            now = (time.perf_counter(), ar, time.process_time() - self.cpu_in_reduce)
            if self.last is not None:
                wall, ar, cpu = (a - b for a, b in zip(now, self.last, strict=True))
                self.steps.append(wall)
                self.allreduce.append(ar)
                self.cpu.append(cpu)
            self.last = now

    def measure(c, batch=args.batch):
        net = LSTMRegressor(8, 12, hidden_size=args.hidden, seed=0)
        tr = Trainer(net, epochs=args.epochs, batch_size=batch, clip_norm=1.0, seed=0, comm=c)
        clock = Clock(tr.data_parallel)
        tr.callbacks.append(clock)
        tr.fit(x, y)
        skip = n // batch  # the first epoch warms up (JIT cache loads, first allocations)
        timed = (np.array(v[skip:]) for v in (clock.steps, clock.allreduce, clock.cpu))
        return (*timed, net.num_parameters())

    steps, allreduce, cpu, n_params = measure(comm)
    # the same Allreduce alone: flat float64 buffer of all gradients + loss + count
    buf = np.zeros(n_params + 2)
    alone = []
    for _ in range(args.alone):
        comm.Barrier()
        t0 = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        alone.append(time.perf_counter() - t0)
    # on one rank, for comparison: no comm at all, and no comm with a 2-rank shard's rows
    no_comm = measure(None)[0] if size == 1 else None
    half = measure(None, args.batch // 2)[0] if size == 1 else None
    stats = comm.gather((float(np.median(steps)), float(np.median(cpu))), root=0)
    if rank == 0:
        result = {
            "ranks": size,
            "parameters": int(n_params),
            "buffer_bytes": int(buf.nbytes),
            "global_batch": args.batch,
            "rows_per_rank": args.batch // size,
            "timed_steps": len(steps),
            "step_ms": 1e3 * max(s for s, _ in stats),  # the slowest rank sets the pace
            "cpu_outside_allreduce_ms": 1e3 * max(c for _, c in stats),
            "allreduce_in_step_ms": 1e3 * float(np.median(allreduce)),
            "allreduce_alone_ms": 1e3 * float(np.median(alone)),
            "no_comm_step_ms": None if no_comm is None else 1e3 * float(np.median(no_comm)),
            "no_comm_half_batch_step_ms": None if half is None else 1e3 * float(np.median(half)),
            "load_average": os.getloadavg()[0],
        }
        print("RESULT " + json.dumps(result), flush=True)


def driver(args) -> None:
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.access(mpiexec, os.X_OK):
        mpiexec = shutil.which("mpiexec") or sys.exit("mpiexec not found: pip install 'fastlstm[mpi]'")
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    rows = []
    for repeat in range(args.repeats):
        for p in args.ranks:
            cmd = [mpiexec, "-n", str(p), sys.executable, "-m", "mpi4py", __file__, "--worker"]
            cmd += ["--hidden", str(args.hidden), "--batch", str(args.batch), "--seq", str(args.seq)]
            cmd += ["--steps", str(args.steps), "--epochs", str(args.epochs), "--alone", str(args.alone)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=True).stdout
            r = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
            r["repeat"] = repeat
            rows.append(r)
            print(json.dumps(r), file=sys.stderr)
    print(
        "| ranks | rows/rank | step, wall (ms) | speed-up | CPU per rank outside Allreduce (ms) "
        "| Allreduce in step (ms, % of step) | Allreduce alone (ms, % of step) | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|")
    base = np.median([r["step_ms"] for r in rows if r["ranks"] == args.ranks[0]])
    for p in args.ranks:
        mine = [r for r in rows if r["ranks"] == p]
        step = float(np.median([r["step_ms"] for r in mine]))
        ar = float(np.median([r["allreduce_in_step_ms"] for r in mine]))
        alone = float(np.median([r["allreduce_alone_ms"] for r in mine]))
        cpu = float(np.median([r["cpu_outside_allreduce_ms"] for r in mine]))
        load = float(np.median([r["load_average"] for r in mine]))
        print(
            f"| {p} | {mine[0]['rows_per_rank']} | {step:.2f} | {base / step:.2f} | {cpu:.2f} "
            f"| {ar:.3f} ({100 * ar / step:.1f} %) | {alone:.3f} ({100 * alone / step:.2f} %) | {load:.1f} |"
        )
    nc = [r["no_comm_step_ms"] for r in rows if r["no_comm_step_ms"] is not None]
    half = [r["no_comm_half_batch_step_ms"] for r in rows if r["no_comm_half_batch_step_ms"] is not None]
    if nc:
        print(
            f"\n1 process without comm: {float(np.median(nc)):.2f} ms per step of {args.batch} rows, "
            f"{float(np.median(half)):.2f} ms per step of {args.batch // 2} rows"
        )
    print(
        f"({rows[0]['parameters']} parameters, Allreduce buffer {rows[0]['buffer_bytes']} bytes; "
        f"medians of {args.repeats} run(s) x {rows[0]['timed_steps']} timed steps)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", action="store_true", help="measure (run under mpiexec)")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3, help="runs per rank count")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64, help="global batch (split across ranks)")
    ap.add_argument("--seq", type=int, default=48)
    ap.add_argument("--steps", type=int, default=20, help="steps per epoch")
    ap.add_argument("--epochs", type=int, default=3, help="the first is warm-up")
    ap.add_argument("--alone", type=int, default=200, help="Allreduce-alone repetitions")
    args = ap.parse_args()
    if args.worker:
        worker(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
