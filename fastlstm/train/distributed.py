"""Synchronous data-parallel training over MPI (``pip install 'fastlstm[mpi]'``).

The same script runs on every rank (``mpiexec -n P python -m mpi4py train.py``
or ``srun python -m mpi4py train.py``). Every rank holds the whole data set and
the same model; the seeded batch order is the same on every rank, and each
batch of ``B`` rows is cut into ``P`` contiguous shards, one per rank. One step:

1. forward, loss and backward on this rank's ``n_r`` rows: local *mean*
   gradients ``g_r`` and mean loss ``l_r``;
2. pack ``[n_r g_1, ..., n_r g_k, n_r l_r, n_r]`` into one preallocated flat
   float64 buffer and sum it over the ranks with **one** in-place
   ``Allreduce``;
3. divide by ``N = sum_r n_r = B``: since ``g_r = (1/n_r) sum_{i in r} d_i``,
   ``(1/N) sum_r n_r g_r = (1/N) sum_i d_i`` is the gradient of the mean loss
   over the whole batch, exactly as one process computes it, up to the order
   of the floating-point additions (float64 relative error ~1e-15 per step);
4. every rank clips and steps its optimiser with the same gradients, so the
   parameters stay bit-identical across ranks.

For a loss with ``reduction="sum"`` the weights are 1 and nothing is divided.

A rank whose shard is empty (a batch with fewer rows than ranks, e.g. the last
batch of an epoch) still takes part in the ``Allreduce``, with zeros: it runs
its forward and backward on one stand-in row (so the model code needs no
special case) and packs zeros instead of that row's gradients.

A non-finite loss on any rank makes the summed loss slot non-finite on every
rank, so all ranks skip the step together (or all raise) and none is left
waiting in a collective.

Notes
-----
``mpi4py`` is imported only when a :class:`DataParallel` is built: training
without a communicator never imports MPI.
"""

from __future__ import annotations

import logging
import numbers
import time
import zlib

import numpy as np

from .._optional import import_optional
from .._validation import check_int

__all__ = ["DataParallel", "on_root", "shard_bounds"]

logger = logging.getLogger(__name__)


def shard_bounds(n: int, rank: int, size: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of a batch of ``n`` rows that rank ``rank`` of ``size`` gets.

    Contiguous, in order, covering ``range(n)`` exactly once; shard sizes differ by
    at most one (as :func:`numpy.array_split`). Ranks ``>= n`` get empty shards.

    Parameters
    ----------
    n : int
        Rows in the batch (>= 0).
    rank : int
        This rank, ``0 <= rank < size``.
    size : int
        Number of ranks (>= 1).

    Returns
    -------
    tuple of int
        ``(start, stop)``.
    """
    n = check_int(n, "n", minimum=0)
    size = check_int(size, "size", minimum=1)
    rank = check_int(rank, "rank", minimum=0, maximum=size - 1)
    return n * rank // size, n * (rank + 1) // size


def _checksum(a: np.ndarray) -> tuple:
    """Shape, dtype and CRC-32 of an array's bytes: cheap to compare across ranks."""
    a = np.ascontiguousarray(a)
    return a.shape, a.dtype.str, zlib.crc32(memoryview(a).cast("B"))


class DataParallel:
    """One MPI communicator's view of synchronous data-parallel training.

    :class:`~fastlstm.train.trainer.Trainer` builds one from its ``comm`` argument;
    use it directly in a loop of your own (``tests/mpi/hand_loop.py`` is one)::

        dp = DataParallel(MPI.COMM_WORLD)
        seed = dp.prepare(params, seed, x=x, y=y)  # same data, weights, seed on every rank
        for each batch (xb, yb) drawn with that seed:
            xs, ys, n_local = dp.shard(xb, yb)  # this rank's rows
            loss = loss_fn.forward(model.forward(xs), ys)
            optimizer.zero_grad()
            model.backward(loss_fn.backward())
            loss = dp.reduce(params, loss, n_local)  # one Allreduce: the whole batch's mean
            clip_grad_norm(params, 1.0)
            optimizer.step()

    Parameters
    ----------
    comm : mpi4py.MPI.Intracomm
        The ranks that train together, e.g. ``MPI.COMM_WORLD``.

    Attributes
    ----------
    comm : mpi4py.MPI.Intracomm
    rank, size : int
        This rank and the number of ranks.
    allreduce_calls : int
        Allreduces made by :meth:`reduce` so far.
    allreduce_seconds : float
        Wall time spent in them (including waiting for slower ranks).
    """

    def __init__(self, comm) -> None:
        MPI = import_optional("mpi4py.MPI", "comm: data-parallel training", extra="mpi")
        if isinstance(comm, MPI.Comm) and comm == MPI.COMM_NULL:
            raise ValueError("comm: expected a valid communicator, got MPI.COMM_NULL")
        if not isinstance(comm, MPI.Intracomm):
            raise TypeError(
                "comm: expected an mpi4py intracommunicator such as MPI.COMM_WORLD, "
                f"got {type(comm).__name__}"
            )
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self._in_place, self._sum = MPI.IN_PLACE, MPI.SUM
        self._buffer: np.ndarray | None = None
        self._layout: tuple[tuple[tuple[int, ...], str], ...] | None = None
        self.allreduce_calls = 0
        self.allreduce_seconds = 0.0

    @property
    def is_root(self) -> bool:
        """Rank 0: the one that writes files and shows progress."""
        return self.rank == 0

    def __repr__(self) -> str:
        return f"DataParallel(rank={self.rank}, size={self.size})"

    # buffer -------------------------------------------------------------------
    def _buffer_for(self, params) -> np.ndarray:
        """The flat float64 buffer ``[grads..., loss, count]``, allocated once per layout."""
        layout = tuple((p.shape, p.dtype.str) for p in params)
        if layout != self._layout:
            self._buffer = np.zeros(sum(p.size for p in params) + 2, dtype=np.float64)
            self._layout = layout
        return self._buffer

    # start of a fit -------------------------------------------------------------
    def prepare(self, params, seed: int | None = None, **arrays) -> int:
        """Give every rank the same start: checked data, rank 0's weights, one seed.

        Call once before training (two collectives: an ``allgather`` of small
        checksums and a ``Bcast`` of the parameters).

        Parameters
        ----------
        params : list of Parameter
            The model's parameters; rank 0's values are copied to every rank.
        seed : int or None
            Seed of the batch order (the same on every rank); ``None`` takes
            fresh entropy from rank 0.
        **arrays : numpy.ndarray
            Data that must be identical on every rank (e.g. ``x=x, y=y``).

        Returns
        -------
        int
            The seed every rank uses.

        Raises
        ------
        ValueError
            On every rank, if ranks hold different data, seeds or parameter
            shapes (instead of a hang or a silent divergence).
        """
        params = list(params)
        proposal = int(np.random.SeedSequence().generate_state(1)[0]) if seed is None else None
        mine = {
            "params": tuple((p.shape, p.dtype.str) for p in params),
            "arrays": {name: _checksum(a) for name, a in arrays.items()},
            "seed": seed if seed is None or isinstance(seed, numbers.Integral) else repr(seed),
        }
        everyone = self.comm.allgather((mine, proposal))
        for r, (theirs, _) in enumerate(everyone):
            if theirs["params"] != mine["params"]:
                raise ValueError(
                    f"comm: expected the same model on every rank, rank {r} has parameter shapes "
                    f"{[s for s, _ in theirs['params']]}, rank {self.rank} has "
                    f"{[s for s, _ in mine['params']]}"
                )
            for name, check in mine["arrays"].items():
                if theirs["arrays"].get(name) != check:
                    raise ValueError(
                        f"{name}: expected the same data on every rank (each rank trains on its shard of "
                        f"every batch), rank {r} differs from rank {self.rank} "
                        f"(shape, dtype, crc32: {theirs['arrays'].get(name)} vs {check})"
                    )
            if theirs["seed"] != mine["seed"]:
                raise ValueError(
                    f"seed: expected the same seed on every rank, rank {r} has {theirs['seed']}, "
                    f"rank {self.rank} has {mine['seed']}"
                )
        logger.debug(
            "rank %d of %d: data and model checked, broadcasting rank 0's weights", self.rank, self.size
        )
        if params:
            buf = self._buffer_for(params)
            if self.is_root:
                self._pack_values(params, buf)
            self.comm.Bcast(buf, root=0)
            if not self.is_root:
                self._unpack_values(params, buf)
        return seed if seed is not None else everyone[0][1]

    @staticmethod
    def _pack_values(params, buf: np.ndarray) -> None:
        off = 0
        for p in params:
            buf[off : off + p.size] = p.data.ravel()
            off += p.size

    @staticmethod
    def _unpack_values(params, buf: np.ndarray) -> None:
        off = 0
        for p in params:
            p.data[...] = buf[off : off + p.size].reshape(p.shape)  # float64 -> float32 is exact here
            off += p.size

    # one step -----------------------------------------------------------------
    def shard_bounds(self, n: int) -> tuple[int, int]:
        """This rank's rows ``[start, stop)`` of a batch of ``n`` (see :func:`shard_bounds`)."""
        return shard_bounds(n, self.rank, self.size)

    def shard(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """This rank's rows of a batch.

        Parameters
        ----------
        x, y : numpy.ndarray
            The whole batch (the same on every rank), samples on axis 0.

        Returns
        -------
        x_local, y_local : numpy.ndarray
            Views of this rank's rows. For an empty shard: the batch's first row,
            a stand-in whose gradients :meth:`reduce` replaces by zeros.
        n_local : int
            Rows this rank contributes (0 for an empty shard).
        """
        start, stop = self.shard_bounds(x.shape[0])
        if stop == start:
            return x[:1], y[:1], 0
        return x[start:stop], y[start:stop], stop - start

    def reduce(self, params, loss: float, n_local: int, reduction: str = "mean") -> float:
        """Turn local gradients into whole-batch gradients on every rank; one ``Allreduce``.

        Parameters
        ----------
        params : list of Parameter
            Their ``.grad`` holds this rank's gradients (of the loss over its
            ``n_local`` rows); overwritten with the whole batch's.
        loss : float
            This rank's loss over its rows (may be non-finite).
        n_local : int
            Rows behind ``loss`` and the gradients; 0 contributes nothing.
        reduction : {"mean", "sum"}
            The loss's reduction: ``"mean"`` weights rank ``r`` by ``n_r`` and
            divides by the batch size, ``"sum"`` adds.

        Returns
        -------
        float
            The whole batch's loss (non-finite on every rank if any rank's was).
        """
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction: expected 'mean' or 'sum', got {reduction!r}")
        buf = self._buffer_for(params)
        w = float(n_local) if reduction == "mean" else 1.0
        if n_local == 0:
            buf.fill(0.0)
        else:
            off = 0
            for p in params:
                seg = buf[off : off + p.size]
                seg[...] = p.grad.ravel()  # to float64 first, then weight: no float32 rounding
                if w != 1.0:
                    seg *= w
                off += p.size
            buf[-2] = loss * w
            buf[-1] = n_local
        t0 = time.perf_counter()
        self.comm.Allreduce(self._in_place, buf, op=self._sum)
        self.allreduce_seconds += time.perf_counter() - t0
        self.allreduce_calls += 1
        if reduction == "mean":
            buf /= buf[-1]
        off = 0
        for p in params:
            p.grad[...] = buf[off : off + p.size].reshape(p.shape)
            off += p.size
        return float(buf[-2])

    # checks -------------------------------------------------------------------
    def parameters_in_sync(self, params) -> bool:
        """Whether every rank holds bit-identical parameter values (one ``allgather``).

        Parameters
        ----------
        params : list of Parameter

        Returns
        -------
        bool
            The same answer on every rank.
        """
        digest = zlib.crc32(b"".join(np.ascontiguousarray(p.data).tobytes() for p in params))
        digests = self.comm.allgather(digest)
        return len(set(digests)) == 1


def on_root(comm, fn, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` on rank 0 only; every rank returns its result.

    For writing files in data-parallel code: the other ranks wait (in a
    ``bcast`` of the result) until rank 0 is done, so afterwards every rank can
    read what it wrote. If ``fn`` raises on rank 0, run the script with
    ``python -m mpi4py`` so that the error aborts all ranks instead of leaving
    them waiting.

    Parameters
    ----------
    comm : mpi4py.MPI.Intracomm or None
        ``None``: just call ``fn``.
    fn : callable
        Its result must be picklable (e.g. the path written).
    *args, **kwargs
        Passed to ``fn``.

    Returns
    -------
    object
        ``fn``'s result, on every rank.
    """
    if comm is None:
        return fn(*args, **kwargs)
    result = fn(*args, **kwargs) if comm.Get_rank() == 0 else None
    return comm.bcast(result, root=0)
