"""DataParallel in a hand-written loop: 2 ranks equal 1 process, ranks bit-identical.

Run: mpiexec -n 2 python -m mpi4py tests/mpi/hand_loop.py

Batches of 5 of 21 rows (the last batch has 1 row, so one rank's shard is empty
there); each rank starts from *different* weights (seed = rank) and
DataParallel.prepare must copy rank 0's; clipping is active; losses with
reduction "mean" and "sum". Then prepare()'s checks: one seed for all ranks,
and a ValueError on every rank for different data, seeds or models.
"""

from __future__ import annotations

import numpy as np
from _common import assert_close, assert_same_on_every_rank, data, flat, model
from mpi4py import MPI

from fastlstm.nn.losses import MSELoss
from fastlstm.train.distributed import DataParallel
from fastlstm.train.optim import AdamW, clip_grad_norm

EPOCHS, BATCH, SEED = 3, 5, 7


def train(net, x, y, reduction: str, dp: DataParallel | None):
    params = net.parameters()
    loss_fn = MSELoss(reduction=reduction)
    opt = AdamW(params, lr=1e-2, weight_decay=1e-3)
    seed = dp.prepare(params, SEED, x=x, y=y) if dp is not None else SEED
    rng = np.random.default_rng(seed)
    losses, norms = [], []
    for _ in range(EPOCHS):
        order = rng.permutation(len(x))
        for s in range(0, len(x), BATCH):
            idx = order[s : s + BATCH]
            xb, yb, n_local = x[idx], y[idx], len(idx)
            if dp is not None:
                xb, yb, n_local = dp.shard(xb, yb)
            loss = loss_fn.forward(net.forward(xb), yb)
            opt.zero_grad()
            net.backward(loss_fn.backward())
            if dp is not None:
                loss = dp.reduce(params, loss, n_local, reduction)
            norms.append(clip_grad_norm(params, 0.5))
            opt.step()
            losses.append(loss)
    return np.array(losses), np.array(norms)


def equivalence(reduction: str) -> None:
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    x, y = data()
    net = model(seed=rank)  # different on each rank: prepare() must broadcast rank 0's weights
    dp = DataParallel(comm)
    losses, norms = train(net, x, y, reduction, dp)
    assert dp.allreduce_calls == EPOCHS * 5, dp.allreduce_calls  # one Allreduce per step
    assert dp.parameters_in_sync(net.parameters())
    assert_same_on_every_rank(comm, flat(net.parameters()), "parameters")
    assert_same_on_every_rank(comm, losses, "losses")
    if rank == 0:
        ref = model(seed=0)
        ref_losses, ref_norms = train(ref, x, y, reduction, None)
        assert_close(losses, ref_losses, f"{reduction}: per-step losses")
        assert_close(norms, ref_norms, f"{reduction}: gradient norms")
        assert_close(flat(net.parameters()), flat(ref.parameters()), f"{reduction}: parameters")
        assert np.max(norms) > 0.5, "clipping was not exercised"


def expect_value_error(fn, match: str) -> None:
    """``fn`` must raise ValueError containing ``match`` (on every rank: none is left waiting)."""
    try:
        fn()
    except ValueError as exc:
        assert match in str(exc), exc
    else:
        raise AssertionError(f"expected ValueError with {match!r}")


def prepare_checks() -> None:
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    dp = DataParallel(comm)
    params = model(seed=rank).parameters()
    seeds = comm.allgather(dp.prepare(params, None))  # no seed: rank 0's fresh entropy everywhere
    assert len(set(seeds)) == 1 and isinstance(seeds[0], int), seeds
    assert not DataParallel(comm).parameters_in_sync(model(seed=rank).parameters())
    x, y = data(seed=rank)  # different data on each rank
    expect_value_error(lambda: dp.prepare(params, 0, x=x, y=y), "x: expected the same data on every rank")
    expect_value_error(lambda: dp.prepare(params, rank), "seed: expected the same seed on every rank")
    other = model(seed=0, hidden=8 + rank).parameters()
    expect_value_error(lambda: dp.prepare(other, 0), "comm: expected the same model on every rank")


def main() -> None:
    for reduction in ("mean", "sum"):
        equivalence(reduction)
    prepare_checks()
    MPI.COMM_WORLD.Barrier()
    if MPI.COMM_WORLD.Get_rank() == 0:
        print("OK hand_loop", flush=True)


if __name__ == "__main__":
    main()
