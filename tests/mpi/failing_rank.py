"""Rank 1 fails while rank 0 waits in DataParallel.reduce's Allreduce.

Run: mpiexec -n 2 python -m mpi4py tests/mpi/failing_rank.py

``python -m mpi4py`` turns rank 1's uncaught exception into MPI_Abort, so the
job ends with a non-zero exit code instead of hanging.
"""

from __future__ import annotations

from _common import model
from mpi4py import MPI

from fastlstm.train.distributed import DataParallel

comm = MPI.COMM_WORLD
dp = DataParallel(comm)
params = model().parameters()
if comm.Get_rank() == 1:
    raise RuntimeError("rank 1 failed on purpose")
dp.reduce(params, 0.0, 1)  # would wait forever without the abort
print("UNREACHABLE", flush=True)
