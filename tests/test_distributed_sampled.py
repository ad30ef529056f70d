"""MPI data parallelism with training samples drawn per epoch (train.EpochSource, the forecast
panels past network.WINDOW_BUDGET). As tests/test_distributed.py, these need mpi4py and the
mpich wheel (``pip install 'fastlstm[mpi]' mpich``) and fail, not skip, without them."""

from __future__ import annotations

import numpy as np
import pytest
from test_distributed import _model, assert_ok, run_mpi

from fastlstm.train import EpochSource
from fastlstm.train.trainer import Trainer


@pytest.fixture(scope="module")
def one_rank():
    from mpi4py import MPI  # the test extra installs it: this test must run, not skip

    return MPI.COMM_SELF


class _Draws(EpochSource):
    def __init__(self, seed=0):
        r = np.random.default_rng(seed)
        self.x, self.y = r.normal(size=(30, 6, 2)), r.normal(size=(30, 3))

    def epoch(self, rng):
        idx = rng.choice(30, size=11, replace=False)
        return self.x[idx], self.y[idx]

    def fingerprint(self):
        return f"draws{self.x.sum()!r}"


def test_trainer_on_a_source_with_one_rank_equals_trainer_without_comm(one_rank):
    results = []
    for comm in (None, one_rank):
        net = _model(seed=1)
        hist = Trainer(net, epochs=3, batch_size=4, clip_norm=1.0, seed=0, comm=comm).fit(_Draws())
        results.append((np.concatenate([p.data.ravel() for p in net.parameters()]), hist.loss))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12)


def test_forecaster_on_a_sampled_panel_two_ranks_equal_one_process():
    """Both fits of a 4-series panel past a lowered window budget: the ranks sample the same
    windows each epoch; forecasts identical on both ranks and equal to one process."""
    assert_ok(run_mpi("panel_sampled.py"), "OK panel_sampled")
