"""Data-parallel training over MPI: sharding, the one-Allreduce step, and 2-rank runs.

The 2-rank checks are scripts in tests/mpi/ run with ``mpiexec -n 2 python -m
mpi4py``: an exception on any rank aborts every rank (no hang), each rank uses
one thread (``NUMBA_NUM_THREADS=1``, one BLAS thread) so two ranks fit on two
cores, and a timeout bounds the run. mpiexec comes from the ``mpich`` wheel
(``pip install 'fastlstm[mpi]'``). These tests fail, not skip, when MPI is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastlstm.nn import LSTMRegressor
from fastlstm.train.distributed import DataParallel, on_root, shard_bounds

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MPI_TIMEOUT = 120  # seconds per mpiexec run (each takes a few seconds)


def mpiexec() -> str:
    """mpiexec next to this Python (the mpich wheel puts it there), else on PATH."""
    local = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = local if os.access(local, os.X_OK) else shutil.which("mpiexec")
    if found is None:
        pytest.fail("mpiexec not found next to sys.executable or on PATH: pip install 'fastlstm[mpi]' mpich")
    return found


def run_mpi(script: str, *args: str, n: int = 2) -> subprocess.CompletedProcess:
    """Run tests/mpi/<script> on ``n`` ranks; kill the whole job if it outlives MPI_TIMEOUT."""
    env = dict(os.environ)
    env.update(NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    cmd = [mpiexec(), "-n", str(n), sys.executable, "-m", "mpi4py", os.path.join(HERE, "mpi", script), *args]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=MPI_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # mpiexec and every rank it started
        out, err = proc.communicate()
        pytest.fail(
            f"{script} did not finish in {MPI_TIMEOUT} s\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"
        )
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def assert_ok(res: subprocess.CompletedProcess, marker: str) -> None:
    assert res.returncode == 0 and marker in res.stdout, (
        f"exit code {res.returncode}\nstdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-5000:]}"
    )


# 2 ranks ---------------------------------------------------------------------------------------


def test_hand_loop_two_ranks_equal_one_process():
    """DataParallel in a hand-written loop: mean and sum losses, empty shard, broadcast, checks."""
    assert_ok(run_mpi("hand_loop.py"), "OK hand_loop")


def test_trainer_and_forecaster_two_ranks_equal_one_process(tmp_path):
    """Trainer/Forecaster(comm=...): TBPTT, early stopping, NaN on one rank, float32, save on rank 0."""
    assert_ok(run_mpi("trainer.py", str(tmp_path)), "OK trainer")
    assert sorted(os.listdir(tmp_path)) == ["forecaster.npz"]


def test_forecaster_on_a_panel_two_ranks_equal_one_process():
    """One global float64 model on a 4-series panel with the back-test, the statistical picks and
    intervals: forecasts, intervals and mixes identical on both ranks and equal to one process."""
    assert_ok(run_mpi("panel.py"), "OK panel")


def test_failing_rank_aborts_the_job_instead_of_hanging():
    res = run_mpi("failing_rank.py")
    assert res.returncode != 0
    assert "rank 1 failed on purpose" in res.stderr
    assert "UNREACHABLE" not in res.stdout


# no communicator: no MPI -------------------------------------------------------------------------


def test_training_without_comm_never_imports_mpi():
    code = """
import sys
import numpy as np
import fastlstm, fastlstm.train.distributed, fastlstm.forecast.fit_many
from fastlstm.forecast import Forecaster
from fastlstm.nn import LSTMRegressor
from fastlstm.train.trainer import Trainer
x, y = np.zeros((6, 4, 1)), np.zeros((6, 2))
Trainer(LSTMRegressor(1, 2, hidden_size=4, seed=0), epochs=1, batch_size=4, seed=0).fit(x, y)
Forecaster(lookback=4, horizon=2, hidden_size=4, epochs=1, n_models=1).fit(np.arange(1.0, 20.0))
assert "mpi4py" not in sys.modules, "mpi4py was imported"
print("OK")
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-3000:]


# shards ----------------------------------------------------------------------------------------


@given(n=st.integers(0, 200), size=st.integers(1, 17))
def test_shards_cover_the_batch_once_in_order_and_balanced(n, size):
    bounds = [shard_bounds(n, r, size) for r in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(
        a[1] == b[0] for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    )  # contiguous, in rank order
    sizes = [stop - start for start, stop in bounds]
    assert min(sizes) >= 0 and max(sizes) - min(sizes) <= 1
    assert sum(1 for s in sizes if s == 0) == max(size - n, 0)  # empty only when n < size


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        ((5, 2, 2), ValueError, "rank: expected an int <= 1, got 2"),
        ((5, -1, 2), ValueError, "rank: expected an int >= 0"),
        ((5, 0, 0), ValueError, "size: expected an int >= 1, got 0"),
        ((-1, 0, 1), ValueError, "n: expected an int >= 0"),
        ((5.0, 0, 1), TypeError, "n: expected an int, got float"),
    ],
)
def test_shard_bounds_errors(args, exc, match):
    with pytest.raises(exc, match=match):
        shard_bounds(*args)


# one rank in this process (MPI.COMM_SELF) ----------------------------------------------------------


@pytest.fixture(scope="module")
def comm_self():
    from mpi4py import MPI  # the test extra installs it: these tests must run, not skip

    return MPI.COMM_SELF


def _model(dtype=np.float64, seed=0):
    return LSTMRegressor(2, 3, hidden_size=5, dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reduce_on_one_rank_keeps_mean_gradients_and_loss(comm_self, rng, dtype):
    dp = DataParallel(comm_self)
    params = _model(dtype).parameters()
    grads = [rng.normal(size=p.shape).astype(dtype) for p in params]
    for p, g in zip(params, grads, strict=True):
        p.grad[...] = g
    assert dp.reduce(params, 0.75, 7) == pytest.approx(0.75, rel=1e-15)
    for p, g in zip(params, grads, strict=True):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, g, rtol=1e-15 if dtype == np.float64 else 0)
    assert dp.reduce(params, 0.75, 7, reduction="sum") == 0.75
    assert (dp.allreduce_calls, dp.size, dp.rank, dp.is_root) == (2, 1, 0, True)
    assert dp.allreduce_seconds >= 0.0
    with pytest.raises(ValueError, match="reduction: expected 'mean' or 'sum', got 'max'"):
        dp.reduce(params, 0.75, 7, reduction="max")


def test_shard_on_one_rank_is_the_whole_batch(comm_self):
    dp = DataParallel(comm_self)
    x, y = np.arange(12.0).reshape(4, 3), np.arange(4.0)
    xs, ys, n = dp.shard(x, y)
    assert n == 4 and np.shares_memory(xs, x) and xs.shape == x.shape and ys.shape == y.shape


def test_prepare_on_one_rank(comm_self):
    dp = DataParallel(comm_self)
    params = _model().parameters()
    before = [p.data.copy() for p in params]
    assert dp.prepare(params, 5, x=np.zeros(3)) == 5
    assert isinstance(dp.prepare(params, None), int)
    assert all(np.array_equal(p.data, b) for p, b in zip(params, before, strict=True))
    assert dp.parameters_in_sync(params)
    assert repr(dp) == "DataParallel(rank=0, size=1)"


def test_on_root(comm_self):
    assert on_root(comm_self, lambda a, b: a + b, 1, b=2) == 3
    assert on_root(None, lambda: "no comm") == "no comm"


def test_data_parallel_rejects_what_is_not_a_communicator(comm_self):
    with pytest.raises(TypeError, match="comm: expected an mpi4py intracommunicator .* got str"):
        DataParallel("MPI.COMM_WORLD")
    from mpi4py import MPI

    with pytest.raises(ValueError, match="comm: expected a valid communicator, got MPI.COMM_NULL"):
        DataParallel(MPI.COMM_NULL)


def test_missing_mpi4py_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"pip install 'fastlstm\[mpi\]'"):
        DataParallel(object())


def test_trainer_with_one_rank_equals_trainer_without_comm(comm_self, rng):
    from fastlstm.train.trainer import Trainer

    x, y = rng.normal(size=(11, 6, 2)), rng.normal(size=(11, 3))
    results = []
    for comm in (None, comm_self):
        net = _model(seed=1)
        hist = Trainer(net, epochs=2, batch_size=4, clip_norm=1.0, seed=0, comm=comm).fit(x, y)
        results.append((np.concatenate([p.data.ravel() for p in net.parameters()]), hist.loss))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12)


def test_trainer_rejects_a_bad_comm():
    from fastlstm.train.trainer import Trainer

    with pytest.raises(TypeError, match="comm: expected an mpi4py intracommunicator"):
        Trainer(_model(), comm=42)
