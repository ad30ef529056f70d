"""Trainer(comm=...) and Forecaster(comm=...) on 2 ranks: equal to 1 process, ranks bit-identical.

Run: mpiexec -n 2 python -m mpi4py tests/mpi/trainer.py DIR   (DIR: a writable directory)

Scenarios: batches of 5 of 21 rows (one rank's shard of the last batch is empty),
shuffling, clipping, a schedule, validation data with early stopping and
restore_best; truncated BPTT with carried state; a NaN loss on rank 1 only
(every rank skips that step, or every rank raises); a float32 model; a
Forecaster ensemble whose save() writes on rank 0 only; progress on rank 0 only.
"""

from __future__ import annotations

import io
import math
import os
import sys

import numpy as np
from _common import assert_close, assert_same_on_every_rank, data, flat, model
from mpi4py import MPI

import fastlstm.train.io
import fastlstm.train.trainer
from fastlstm.forecast import Forecaster
from fastlstm.forecast.datasets import load_airpassengers
from fastlstm.nn import LSTMRegressor
from fastlstm.nn.losses import MSELoss
from fastlstm.train.optim import Adam
from fastlstm.train.schedules import CosineAnnealingLR
from fastlstm.train.trainer import NonFiniteError, Trainer

comm = MPI.COMM_WORLD
rank = comm.Get_rank()


def fit_pair(build, x, y, fit_kwargs=None, **trainer_kwargs):
    """Train with comm on every rank and without comm on rank 0; return both models and histories."""
    fit_kwargs = fit_kwargs or {}

    def run(c):
        net = build()
        opt = Adam(net.parameters(), lr=1e-2)
        tr = Trainer(net, "mse", opt, CosineAnnealingLR(opt, T_max=4), comm=c, **trainer_kwargs)
        return net, tr.fit(x, y, **fit_kwargs), tr

    dist = run(comm)
    ref = run(None) if rank == 0 else None
    return dist, ref


def check(dist, ref, what, rtol=1e-10):
    (net, hist, tr), params = dist, flat(dist[0].parameters())
    assert tr.data_parallel.parameters_in_sync(net.parameters()), what
    assert_same_on_every_rank(comm, params, f"{what}: parameters")
    assert_same_on_every_rank(comm, np.array(hist.loss), f"{what}: losses")
    if rank == 0:
        assert_close(np.array(hist.loss), np.array(ref[1].loss), f"{what}: epoch losses", rtol)
        assert_close(params, flat(ref[0].parameters()), f"{what}: parameters", rtol)
        assert hist.best_epoch == ref[1].best_epoch and hist.epochs == ref[1].epochs, what


def plain() -> None:
    x, y = data()
    xv, yv = data(n=6, seed=1)
    kw = dict(epochs=4, batch_size=5, clip_norm=0.5, seed=3, patience=1)

    def build():
        net = model(seed=0)
        forward, net.rows = net.forward, []

        def counting_forward(xb, *args, **kwargs):
            if net.training:
                net.rows.append(len(xb))
            return forward(xb, *args, **kwargs)

        net.forward = counting_forward
        return net

    dist, ref = fit_pair(build, x, y, {"validation_data": (xv, yv)}, **kw)
    check(dist, ref, "plain")
    # each rank ran forward on its shard only: 21 rows per epoch in all, plus one
    # stand-in row on the rank whose shard of the last batch (1 row) is empty
    assert sum(comm.allgather(sum(dist[0].rows))) == 22 * dist[1].epochs, (rank, dist[0].rows)
    assert max(comm.allgather(max(dist[0].rows))) == 3  # 5-row batches split 2 + 3
    assert dist[2].data_parallel.allreduce_calls == 5 * dist[1].epochs  # one Allreduce per step


def tbptt() -> None:
    x, y = data(seq_targets=True)
    dist, ref = fit_pair(lambda: model(seed=1, head="all"), x, y, epochs=2, batch_size=5, tbptt=5, seed=4)
    check(dist, ref, "tbptt")
    assert dist[2].data_parallel.allreduce_calls == 2 * 5 * 3  # epochs * batches * chunks


class NaNOnRank1(MSELoss):
    """MSE, but NaN on rank 1 at its 3rd call: only that rank sees a bad loss."""

    calls = 0

    def forward(self, pred, target):
        value = super().forward(pred, target)
        NaNOnRank1.calls += 1
        return math.nan if rank == 1 and NaNOnRank1.calls == 3 else value


def nan_on_one_rank() -> None:
    x, y = data()
    NaNOnRank1.calls = 0
    net = model(seed=2)
    tr = Trainer(net, NaNOnRank1(), epochs=1, batch_size=5, seed=5, on_nonfinite="skip", comm=comm)
    hist = tr.fit(x, y)
    assert hist.skipped_steps == 1, hist.skipped_steps  # on every rank
    assert_same_on_every_rank(comm, flat(net.parameters()), "nan skip: parameters")
    NaNOnRank1.calls = 0
    tr = Trainer(model(seed=2), NaNOnRank1(), epochs=1, batch_size=5, seed=5, comm=comm)
    try:
        tr.fit(x, y)
    except NonFiniteError as exc:  # raised on every rank, none left waiting in the Allreduce
        assert (exc.epoch, exc.step, exc.what) == (0, 2, "loss"), exc
    else:
        raise AssertionError("expected NonFiniteError on every rank")


def float32() -> None:
    x, y = (a.astype(np.float32) for a in data())

    def build():
        return LSTMRegressor(2, 3, hidden_size=8, dtype=np.float32, seed=0)

    dist, ref = fit_pair(build, x, y, epochs=2, batch_size=5, seed=6)
    check(dist, ref, "float32", rtol=1e-4)


def forecaster(directory: str) -> None:
    y = load_airpassengers()[:72]
    writes = []
    original = fastlstm.train.io.save_checkpoint
    fastlstm.train.io.save_checkpoint = lambda *a, **k: writes.append(1) or original(*a, **k)
    bars = []
    original_bar = fastlstm.forecast.forecaster.ProgressBar

    def recorded(desc, show=True):  # a bar shown is drawn into a string, as on a terminal
        if not show:
            return original_bar(desc, show=False)
        bars.append(original_bar(desc, file=io.StringIO(), force=True))
        return bars[-1]

    fastlstm.forecast.forecaster.ProgressBar = recorded
    try:
        kw = dict(lookback=12, horizon=6, hidden_size=8, epochs=3, n_models=2, dtype=np.float64, seed=0)
        f = Forecaster(**kw, verbose=True, comm=comm).fit(y)
        path = f.save(os.path.join(directory, "forecaster.npz"))
    finally:
        fastlstm.train.io.save_checkpoint = original
        fastlstm.forecast.forecaster.ProgressBar = original_bar
    assert len(writes) == (1 if rank == 0 else 0), (rank, writes)  # only rank 0 writes
    # only rank 0 shows progress: 2 networks, trained for the back-test and then on all the data
    assert len(bars) == (1 if rank == 0 else 0), (rank, bars)
    if rank == 0:
        text = bars[0].file.getvalue()
        assert "back-test network 2/2" in text and "final fit network 2/2" in text, text
    assert os.path.exists(path)  # rank 0 has finished writing when save returns on any rank
    assert f.get_params()["comm"] is comm  # every constructor argument (scikit-learn's convention)
    assert Forecaster.load(path).comm is None  # ... but a checkpoint holds no communicator
    pred = f.predict()
    assert_same_on_every_rank(comm, pred, "forecaster: predictions")
    assert np.array_equal(Forecaster.load(path).predict(), pred)
    if rank == 0:
        assert_close(pred, Forecaster(**kw).fit(y).predict(), "forecaster: predictions")


def main() -> None:
    directory = sys.argv[1]
    plain()
    tbptt()
    nan_on_one_rank()
    float32()
    forecaster(directory)
    comm.Barrier()
    if rank == 0:
        print("OK trainer", flush=True)


if __name__ == "__main__":
    main()
