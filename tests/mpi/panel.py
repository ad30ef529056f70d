"""Forecaster(comm=...) on a panel, 2 ranks: the ranks agree bit for bit and equal one process.

Run: mpiexec -n 2 python -m mpi4py tests/mpi/panel.py

One global float64 model on a 4-series monthly panel (a long DataFrame), with the whole
default pipeline: the back-test, the statistical candidates and the per-series pick
(``fallback=True``), conformal intervals. Every rank holds the whole panel; only the
networks' batches are split. On every rank the point forecasts, the intervals and the
per-series mixes must be byte-identical; on rank 0 they must equal a fit without a
communicator to the relative 1e-10 of data-parallel float64 training (tests/mpi/_common.py:
the same sums in another order), with the same mix for every series (a different pick would
change the forecasts by far more).
"""

from __future__ import annotations

import numpy as np
from _common import assert_close, assert_same_on_every_rank
from mpi4py import MPI

from fastlstm.bench.forecast import make_panel
from fastlstm.forecast import Forecaster

comm = MPI.COMM_WORLD
rank = comm.Get_rank()

PARAMS = dict(
    lookback=12, horizon=6, hidden_size=8, epochs=3, n_models=2, batch_size=8, fallback=True, seed=0
)


def outputs(f: Forecaster):
    point = f.predict()["forecast"].to_numpy(np.float64)
    bounds = f.predict_interval(coverage=(0.8, 0.95))
    interval = bounds[["lower_80", "upper_80", "lower_95", "upper_95"]].to_numpy(np.float64)
    mixes = [sorted(m.items()) for m in f.mix_]
    return point, interval, mixes


def main() -> None:
    panel = make_panel(4, 84, seed=0)
    dist = Forecaster(**PARAMS, dtype=np.float64, comm=comm).fit(panel)
    assert dist.n_series_ == 4
    point, interval, mixes = outputs(dist)
    assert np.isfinite(point).all() and np.isfinite(interval).all()
    assert_same_on_every_rank(comm, point, "panel: forecasts")
    assert_same_on_every_rank(comm, interval, "panel: intervals")
    assert all(m == mixes for m in comm.allgather(mixes)), "panel: mixes differ between ranks"
    if rank == 0:
        ref_point, ref_interval, ref_mixes = outputs(Forecaster(**PARAMS, dtype=np.float64).fit(panel))
        assert mixes == ref_mixes, (mixes, ref_mixes)
        assert_close(point, ref_point, "panel: forecasts vs one process")
        assert_close(interval, ref_interval, "panel: intervals vs one process")
    comm.Barrier()
    if rank == 0:
        print("OK panel", flush=True)


if __name__ == "__main__":
    main()
