"""Forecaster(comm=...) on a panel past the window budget, 2 ranks: every epoch's windows are
sampled (network.WindowSampler) with the batch order's generator, so the ranks draw the same
windows, agree bit for bit and equal one process.

Run: mpiexec -n 2 python -m mpi4py tests/mpi/panel_sampled.py

As tests/mpi/panel.py, with ``network.WINDOW_BUDGET`` lowered to 40 windows (the panel has
more than 200 in each fit), so both fits (the back-test's and the final one) train on samples.
"""

from __future__ import annotations

import numpy as np
from _common import assert_close, assert_same_on_every_rank
from mpi4py import MPI

from fastlstm.bench.forecast import make_panel
from fastlstm.forecast import Forecaster, network

comm = MPI.COMM_WORLD
rank = comm.Get_rank()

PARAMS = dict(lookback=12, horizon=6, hidden_size=8, epochs=3, n_models=2, batch_size=8, seed=0)


def main() -> None:
    network.WINDOW_BUDGET = 40
    drawn = []
    real = network.WindowSampler.epoch

    def counted(self, rng):
        x, y = real(self, rng)
        drawn.append(len(x))
        return x, y

    network.WindowSampler.epoch = counted
    panel = make_panel(4, 84, seed=0)
    dist = Forecaster(**PARAMS, dtype=np.float64, comm=comm).fit(panel)
    assert drawn and set(drawn) == {40}, drawn
    point = dist.predict()["forecast"].to_numpy(np.float64)
    assert np.isfinite(point).all()
    assert_same_on_every_rank(comm, point, "sampled panel: forecasts")
    if rank == 0:
        ref = Forecaster(**PARAMS, dtype=np.float64).fit(panel).predict()["forecast"].to_numpy(np.float64)
        assert_close(point, ref, "sampled panel: forecasts vs one process")
    comm.Barrier()
    if rank == 0:
        print("OK panel_sampled", flush=True)


if __name__ == "__main__":
    main()
