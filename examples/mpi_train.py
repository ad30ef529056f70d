"""Data-parallel training over MPI: the same script on every rank.

Run on 2 local ranks (``pip install 'fastlstm[mpi]'``; one thread per rank)::

    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 mpiexec -n 2 python -m mpi4py examples/mpi_train.py

or on a Slurm allocation: ``srun python -m mpi4py examples/mpi_train.py`` (see
docs/scaling.md). ``python -m mpi4py`` makes an error on any rank abort every
rank instead of leaving the others waiting.

Every rank loads the same data and builds the same Forecaster with
``comm=MPI.COMM_WORLD``: each batch is split across the ranks, one Allreduce per
step sums the gradients, and all ranks end with the same weights, those of
single-process training on the whole batch. Only rank 0 prints and writes.
"""

from __future__ import annotations

import os
import tempfile
import time

from fastlstm.baselines import seasonal_naive
from fastlstm.metrics import mape
from mpi4py import MPI

from fastlstm.forecast import Forecaster
from fastlstm.forecast.datasets import load_airpassengers

H = 12


def main() -> None:
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    y = load_airpassengers()
    train, test = y[:-H], y[-H:]

    f = Forecaster(lookback=24, horizon=H, epochs=100, batch_size=32, n_models=1, seed=0, comm=comm)
    t0 = time.perf_counter()
    f.fit(train)
    elapsed = time.perf_counter() - t0
    forecast = f.predict()  # the same on every rank

    # every rank calls save; rank 0 writes and the others wait until the file exists
    path = f.save(os.path.join(tempfile.gettempdir(), "fastlstm_mpi_train.npz"))
    if rank == 0:
        print(f"{size} rank(s): trained in {elapsed:.1f} s, checkpoint {path}")
        print(
            f"hold-out MAPE: LSTM {mape(test, forecast):.2f} %, "
            f"seasonal naive {mape(test, seasonal_naive(train, H, 12)):.2f} %"
        )


if __name__ == "__main__":
    main()
