"""The one checkpoint format: a ``.npz`` archive of arrays plus JSON metadata.

Format (version 1)
------------------
A zip archive written by :func:`numpy.savez` (uncompressed) holding

* one ``.npy`` member per array, named by its key (e.g. ``lstm.weight_ih_l0``);
* a member ``__fastlstm__`` : a ``uint8`` array, the UTF-8 bytes of a JSON
  object::

      {"format": "fastlstm-checkpoint", "version": 1, "kind": "<what it is>",
       "config": {...},                      # JSON-able settings of the object
       "arrays": {"<key>": {"shape": [...], "dtype": "<f4",
                            "sha256": "<hex digest of the C-order bytes>"}, ...}}

``kind`` names what was saved (``"forecaster"``, ``"lstm"``,
``"lstmregressor"``, ``"optimizer"``, ``"trainer"``, ...); ``arrays`` lists
every array member with its shape, dtype and SHA-256 checksum, so a truncated,
corrupted, swapped or edited member is detected even where the zip CRC is
intact. (``sha256`` was added within version 1: files written before it have
no checksum and are verified by shape, dtype and the zip CRC only.)

Writing is atomic (:func:`fastlstm._atomic.atomic_write`): the archive goes to a
temporary file in the target's directory, is flushed and ``fsync``-ed, then
:func:`os.replace` moves it over the target and the directory is ``fsync``-ed, so
a crash leaves either the old file or the new one, never half of one. A new file
gets the permissions ``open()`` would give it (``0o666 & ~umask``); an existing
one keeps its own. Reading uses ``allow_pickle=False``, so
loading a checkpoint never executes code; any unreadable, truncated, corrupt
(zip CRC) or mismatched file raises ``ValueError`` naming the path.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from .._atomic import atomic_write
from ..nn.module import Module

__all__ = [
    "FORMAT",
    "VERSION",
    "Checkpoint",
    "load_checkpoint",
    "load_module",
    "load_optimizer",
    "save_checkpoint",
    "save_module",
    "save_optimizer",
]

FORMAT = "fastlstm-checkpoint"
VERSION = 1
_META_KEY = "__fastlstm__"

#: what reading a damaged archive can raise besides ValueError (all become ValueError)
_READ_ERRORS = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    KeyError,
    IndexError,
    OverflowError,
    MemoryError,
    NotImplementedError,
    RuntimeError,  # zipfile: "File ... is encrypted, password required"
    struct.error,
    zlib.error,
)


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns.

    Attributes
    ----------
    kind : str
        What was saved.
    config : dict
        The JSON metadata's ``config`` entry.
    arrays : dict of str to numpy.ndarray
        Every stored array, fully read into memory.
    version : int
        Format version of the file.
    """

    kind: str
    config: dict
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    version: int = VERSION


def _sha256(arr: np.ndarray) -> str:
    """Hex SHA-256 of an array's bytes in C order (the checksum stored in the metadata)."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    return hashlib.sha256(flat.view(np.uint8)).hexdigest()


def save_checkpoint(path, kind: str, arrays: dict | None = None, config: dict | None = None) -> str:
    """Write a checkpoint atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; used exactly as given (no ``.npz`` is appended).
    kind : str
        What is saved, checked again on load.
    arrays : dict of str to array_like, optional
        Numeric arrays (no object dtype); keys must not start with ``__``.
    config : dict, optional
        JSON-able settings.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    TypeError
        ``config`` is not JSON-able or an array has object dtype.
    ValueError
        A key is reserved or empty.
    FileNotFoundError
        The directory of ``path`` does not exist (checked before anything is written).
    """
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"kind: expected a non-empty str, got {kind!r}")
    arrays = {} if arrays is None else dict(arrays)
    clean: dict[str, np.ndarray] = {}
    spec: dict[str, dict] = {}
    for key, value in arrays.items():
        if not isinstance(key, str) or not key or key.startswith("__"):
            raise ValueError(f"arrays: expected non-empty str keys not starting with '__', got {key!r}")
        arr = np.asarray(value)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"arrays[{key!r}]: expected a numeric array, got dtype {arr.dtype}")
        clean[key] = arr
        spec[key] = {"shape": list(arr.shape), "dtype": arr.dtype.str, "sha256": _sha256(arr)}
    meta = {"format": FORMAT, "version": VERSION, "kind": kind, "config": config or {}, "arrays": spec}
    try:
        text = json.dumps(meta, allow_nan=True, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"config: expected JSON-able values, got an error: {exc}") from exc
    clean[_META_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    path = os.fspath(path)
    with atomic_write(path) as fh:
        np.savez(fh, **clean)
    return path


def load_checkpoint(path, kind: str | None = None) -> Checkpoint:
    """Read and verify a checkpoint written by :func:`save_checkpoint`.

    Parameters
    ----------
    path : str or os.PathLike
    kind : str, optional
        Required kind; a different one raises ``ValueError``.

    Returns
    -------
    Checkpoint

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Not a fastlstm checkpoint, an unsupported version, a different kind,
        or a truncated/corrupt/inconsistent file (an array whose shape, dtype or
        SHA-256 checksum differs from the metadata).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"path: no checkpoint at {path!r}")
    try:
        with open(path, "rb") as fh:
            npz = np.load(fh, allow_pickle=False)
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an .npz archive")
            with npz:
                if _META_KEY not in npz.files:
                    raise ValueError(f"no {_META_KEY!r} metadata entry")
                data = {name: npz[name] for name in npz.files}
        for name, value in data.items():
            if not isinstance(value, np.ndarray):  # a zip member that is not an .npy array
                raise ValueError(f"member {name!r} is not a .npy array")
    except ValueError as exc:
        raise ValueError(f"{path}: not a valid fastlstm checkpoint ({exc})") from exc
    except _READ_ERRORS as exc:
        raise ValueError(f"{path}: truncated or corrupt checkpoint ({type(exc).__name__}: {exc})") from exc
    raw = data.pop(_META_KEY)
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: corrupt checkpoint metadata ({type(exc).__name__}: {exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"{path}: expected format {FORMAT!r}, got {got!r}")
    version = meta.get("version")
    if version != VERSION:
        raise ValueError(f"{path}: expected checkpoint version {VERSION}, got {version!r}")
    if kind is not None and meta.get("kind") != kind:
        raise ValueError(f"{path}: expected a checkpoint of kind {kind!r}, got {meta.get('kind')!r}")
    spec = meta.get("arrays", {})
    config = meta.get("config", {})
    if not isinstance(meta.get("kind"), str) or not isinstance(spec, dict) or not isinstance(config, dict):
        raise ValueError(f"{path}: corrupt checkpoint metadata (kind, arrays or config has the wrong type)")
    if set(spec) != set(data):
        raise ValueError(
            f"{path}: array entries do not match the metadata: missing {sorted(set(spec) - set(data))}, "
            f"unexpected {sorted(set(data) - set(spec))}"
        )
    for key, s in spec.items():
        arr = data[key]
        if not (isinstance(s, dict) and isinstance(s.get("shape"), list) and isinstance(s.get("dtype"), str)):
            raise ValueError(f"{path}: corrupt checkpoint metadata for array {key!r}: {s!r:.100}")
        if list(arr.shape) != list(s["shape"]) or arr.dtype.str != s["dtype"]:
            raise ValueError(
                f"{path}: array {key!r} expected shape {tuple(s['shape'])} dtype {s['dtype']}, "
                f"got shape {arr.shape} dtype {arr.dtype.str}"
            )
        if "sha256" in s and _sha256(arr) != s["sha256"]:
            raise ValueError(f"{path}: array {key!r} does not match its checksum (corrupt or edited file)")
    return Checkpoint(kind=meta["kind"], config=config, arrays=data, version=version)


def save_module(path, module: Module, kind: str | None = None, config: dict | None = None) -> str:
    """Save a module's parameters (its ``state_dict``) as a checkpoint.

    Parameters
    ----------
    path : str or os.PathLike
    module : Module
        E.g. an :class:`~fastlstm.nn.lstm.LSTM` or :class:`~fastlstm.nn.LSTMRegressor`.
    kind : str, optional
        Defaults to the class name in lower case.
    config : dict, optional
        Defaults to ``module.get_config()`` when the module has one.

    Returns
    -------
    str
    """
    if not isinstance(module, Module):
        raise TypeError(f"module: expected a fastlstm Module, got {type(module).__name__}")
    if config is None and hasattr(module, "get_config"):
        config = module.get_config()
    return save_checkpoint(path, kind or type(module).__name__.lower(), module.state_dict(), config)


def load_module(path, module: Module, kind: str | None = None) -> Checkpoint:
    """Load parameters saved by :func:`save_module` into ``module``.

    Parameters
    ----------
    path : str or os.PathLike
    module : Module
        Must have the same parameter names and shapes.
    kind : str, optional
        Defaults to the class name in lower case.

    Returns
    -------
    Checkpoint
        The checkpoint read (its ``config`` may be useful).

    Raises
    ------
    ValueError
        The file is not a checkpoint of that kind, or names or shapes differ.
    """
    if not isinstance(module, Module):
        raise TypeError(f"module: expected a fastlstm Module, got {type(module).__name__}")
    ckpt = load_checkpoint(path, kind or type(module).__name__.lower())
    try:
        module.load_state_dict(ckpt.arrays)
    except KeyError as exc:
        raise ValueError(f"{os.fspath(path)}: {exc.args[0]}") from exc
    return ckpt


def save_optimizer(path, optimizer) -> str:
    """Save an optimiser's state (step count, hyper-parameters, moment buffers).

    Parameters
    ----------
    path : str or os.PathLike
    optimizer : fastlstm.train.optim.Optimizer

    Returns
    -------
    str
    """
    from .optim import Optimizer

    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a fastlstm.optim.Optimizer, got {type(optimizer).__name__}")
    state = optimizer.state_dict()
    config = {k: v for k, v in state.items() if k != "buffers"}
    return save_checkpoint(path, "optimizer", state["buffers"], config)


def load_optimizer(path, optimizer) -> None:
    """Restore an optimiser's state saved by :func:`save_optimizer`.

    The optimiser must be built on the same parameters (count and shapes).

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    optimizer : Optimizer
        Restored in place.

    Raises
    ------
    ValueError
        Not an optimiser checkpoint, another optimiser type, or mismatched buffers.
    """
    ckpt = load_checkpoint(path, kind="optimizer")
    try:
        optimizer.load_state_dict({**ckpt.config, "buffers": ckpt.arrays})
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{os.fspath(path)}: inconsistent optimizer checkpoint ({exc})") from exc
