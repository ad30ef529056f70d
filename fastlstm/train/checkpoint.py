"""A training checkpoint: the whole state of a :class:`~fastlstm.train.Trainer` run, and resuming it.

:func:`save_training_state` is the body of :meth:`Trainer.save_checkpoint
<fastlstm.train.Trainer.save_checkpoint>` and :func:`resume` the ``resume_from`` part of
``fit``. The file is a :mod:`fastlstm.train.io` checkpoint of kind ``"trainer"``: arrays
``model.*``, ``optimizer.*`` and ``best.*``; a config with the trainer's settings, a
fingerprint of the data, the :class:`~fastlstm.train.loop.LoopState` (next epoch, best
loss, epochs without improvement), the global step, the history, the optimiser's and the
scheduler's state and every random generator's state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

import numpy as np

from ..nn.module import read_config
from . import io as _io
from .loop import History, LoopState
from .sources import EpochSource

__all__ = ["named_params", "resume", "save_training_state", "settings"]

_CKPT_KIND = "trainer"

#: the trainer settings a resumed run must share with the checkpointed one
_SETTINGS = (
    "batch_size",
    "shuffle",
    "clip_norm",
    "tbptt",
    "loss",
    "optimizer",
    "scheduler",
    "min_delta",
    "restore_best",
)


def settings(trainer) -> dict:
    """What must be the same for a resumed run to continue the checkpointed one."""
    return read_config(
        trainer,
        _SETTINGS,
        loss=trainer.loss_fn.get_config(),
        optimizer=type(trainer.optimizer).__name__,
        scheduler=None if trainer.scheduler is None else type(trainer.scheduler).__name__,
    )


def _fingerprint(data) -> str:
    """SHA-256 over the shapes, dtypes and bytes of the training (and validation) arrays
    (an :class:`~fastlstm.train.sources.EpochSource` by its own fingerprint)."""
    h = hashlib.sha256()
    for arr in data:
        if arr is None:
            h.update(b"none;")
            continue
        if isinstance(arr, EpochSource):
            h.update(f"source:{arr.fingerprint()};".encode())
            continue
        h.update(f"{arr.dtype.str}{arr.shape};".encode())
        h.update(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))
    return h.hexdigest()


def named_params(model) -> list:
    """``(name, Parameter)`` pairs of a model (indices as names if it has no ``named_parameters``)."""
    named = getattr(model, "named_parameters", None)
    if callable(named):
        return list(named())
    return [(str(i), p) for i, p in enumerate(model.parameters())]


def _generators(model) -> dict:
    """Every ``numpy.random.Generator`` attribute of the model and its sub-modules, by path."""
    out, stack = {}, [("", model)]
    while stack:
        prefix, m = stack.pop()
        for name, value in vars(m).items():
            if isinstance(value, np.random.Generator):
                out[prefix + name] = value
        for name, sub in getattr(m, "_modules", {}).items():
            stack.append((f"{prefix}{name}.", sub))
    return out


def _jsonable(value):
    """A bit generator's state with arrays and NumPy integers as plain lists and ints."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    return value


def save_training_state(trainer, loop: LoopState, path) -> str:
    """Write ``trainer``'s and ``loop``'s state to ``path`` (see :meth:`Trainer.save_checkpoint`)."""
    if loop.fingerprint is None:
        loop.fingerprint = _fingerprint(loop.data)
    arrays = {f"model.{k}": v for k, v in trainer.model.state_dict().items()}
    opt = trainer.optimizer.state_dict()
    arrays.update({f"optimizer.{k}": v for k, v in opt["buffers"].items()})
    if loop.best_state is not None:
        arrays.update({f"best.{k}": v for k, v in loop.best_state.items()})
    config = {
        "settings": settings(trainer),
        "data": loop.fingerprint,
        "next_epoch": loop.next_epoch,
        "global_step": trainer.global_step,
        "best": loop.best,
        "bad_epochs": loop.bad_epochs,
        "has_best_state": loop.best_state is not None,
        "history": dataclasses.asdict(trainer.history),
        "optimizer": {k: v for k, v in opt.items() if k != "buffers"},
        "scheduler": None if trainer.scheduler is None else trainer.scheduler.state_dict(),
        "rng": _jsonable(loop.rng.bit_generator.state),
        "module_rngs": {k: _jsonable(g.bit_generator.state) for k, g in _generators(trainer.model).items()},
    }
    if trainer.comm is not None:
        from .distributed import on_root

        return on_root(trainer.comm, _io.save_checkpoint, path, _CKPT_KIND, arrays, config)
    return _io.save_checkpoint(path, _CKPT_KIND, arrays, config)


def resume(trainer, loop: LoopState, path) -> None:
    """Restore what :func:`save_training_state` wrote into ``trainer`` and ``loop``.

    Sets the model's weights, the optimiser, the scheduler, the random states, the
    history and global step, and ``loop``'s best loss, best state, epochs without
    improvement and next epoch.

    Raises
    ------
    ValueError
        The file was written with other settings, on other data, by another model,
        or is inconsistent.
    """
    ckpt = _io.load_checkpoint(path, kind=_CKPT_KIND)
    where = os.fspath(path)
    cfg, arrays = ckpt.config, ckpt.arrays
    try:
        saved = cfg["settings"]
        mine = settings(trainer)
        diff = sorted(k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k))
        if diff:
            detail = ", ".join(f"{k}: saved {saved.get(k)!r}, now {mine.get(k)!r}" for k in diff)
            raise ValueError(f"resume_from: {where} was written with other trainer settings ({detail})")
        if cfg["data"] != _fingerprint(loop.data):
            raise ValueError(
                f"resume_from: {where} was written while training on other data (x, y or the "
                "validation data differ); resume with the same arrays"
            )
        gens = _generators(trainer.model)
        if set(gens) != set(cfg["module_rngs"]):
            raise ValueError(f"resume_from: {where} holds the random states of another model")

        def part(prefix):
            return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}

        try:
            trainer.model.load_state_dict(part("model."))
        except KeyError as exc:
            raise ValueError(f"resume_from: {where}: {exc.args[0]}") from exc
        trainer.optimizer.load_state_dict({**cfg["optimizer"], "buffers": part("optimizer.")})
        if trainer.scheduler is not None:
            trainer.scheduler.load_state_dict(cfg["scheduler"])
        loop.rng.bit_generator.state = cfg["rng"]
        for k, g in gens.items():
            g.bit_generator.state = cfg["module_rngs"][k]
        trainer.history = History(**cfg["history"])
        trainer.global_step = int(cfg["global_step"])
        best_state = part("best.") if cfg["has_best_state"] else None
        loop.best, loop.best_state = float(cfg["best"]), best_state
        loop.bad_epochs, loop.next_epoch = int(cfg["bad_epochs"]), int(cfg["next_epoch"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"resume_from: {where}: inconsistent trainer checkpoint ({type(exc).__name__}: {exc})"
        ) from exc
