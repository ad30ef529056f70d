"""Shared pieces of the scripts that tests/test_distributed.py runs under ``mpiexec -n 2``.

Every script asserts on every rank: a failed assertion raises, and ``python -m mpi4py``
turns an uncaught exception on any rank into ``MPI_Abort`` of all ranks (a non-zero exit
code instead of a hang). Rank 0 prints ``OK <script>`` as its last line.
"""

from __future__ import annotations

import numpy as np

from fastlstm.nn import LSTMRegressor

#: float64 data-parallel training equals single-process training to this relative error
RTOL = 1e-10


def data(n: int = 21, T: int = 12, I: int = 2, O: int = 3, seed: int = 0, seq_targets: bool = False):
    """Seeded float64 inputs ``(n, T, I)`` and targets ``(n, O)`` (or ``(n, T, O)``)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, T, I))
    y = rng.normal(size=(n, T, O) if seq_targets else (n, O))
    return x, y


def model(seed: int = 0, head: str = "last", I: int = 2, O: int = 3, hidden: int = 8) -> LSTMRegressor:
    return LSTMRegressor(I, O, hidden_size=hidden, num_layers=2, head=head, dtype=np.float64, seed=seed)


def flat(params) -> np.ndarray:
    return np.concatenate([np.ravel(p.data if hasattr(p, "data") else p) for p in params])


def assert_close(got: np.ndarray, want: np.ndarray, what: str, rtol: float = RTOL) -> None:
    """Relative error in the max norm: ``max|got - want| <= rtol * max|want|``."""
    err = float(np.max(np.abs(got - want)))
    scale = float(np.max(np.abs(want)))
    assert err <= rtol * scale, f"{what}: max abs error {err:.3g} > {rtol:g} * {scale:.3g}"


def assert_same_on_every_rank(comm, arr: np.ndarray, what: str) -> None:
    """Bit-identical on every rank (compared as raw bytes on rank 0's copy)."""
    arrays = comm.allgather(np.ascontiguousarray(arr))
    for r, a in enumerate(arrays):
        assert a.tobytes() == arrays[0].tobytes(), f"{what}: rank {r} differs from rank 0 (not bit-identical)"
