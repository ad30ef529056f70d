"""Atomic file writes that give the file the permissions ``open()`` would.

Every file fastlstm saves (checkpoints of layers, trainers and forecasters) goes through
:func:`atomic_write`: the data go to a temporary file in the target's directory, which is
flushed and ``fsync``-ed, then :func:`os.replace` moves it over the target and the directory
is ``fsync``-ed, so a crash leaves either the old file or the new one, never half of one.

``tempfile.mkstemp`` would create the temporary file with mode 0600 whatever the umask, and
the rename would keep it. Here the temporary file is created with ``os.open(..., 0o666)``,
as ``open()`` creates files, so the kernel applies the umask (``0o666 & ~umask``: 0644 under
the usual 022, 0600 under 077) and any default ACL of the directory; a target that already
exists keeps its permission bits, as ``open(path, "w")`` on it would.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from typing import IO

__all__ = ["atomic_write"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse fsync on directories
        pass
    finally:
        os.close(fd)


def _create_temp(directory: str, base: str) -> tuple[int, str]:
    """A new file next to the target, created with mode 0o666 (the umask applies)."""
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, _FLAGS, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 48 random bits taken
            continue
    raise FileExistsError(f"path: could not create a temporary file next to {base!r} in {directory!r}")


@contextlib.contextmanager
def atomic_write(path, *, text: bool = False, encoding: str = "utf-8") -> Iterator[IO]:
    """Open a temporary file for writing that replaces ``path`` when the block ends without error.

    Parameters
    ----------
    path : str or os.PathLike
        The target file, used exactly as given.
    text : bool
        Open in text mode (with ``encoding``) instead of binary.
    encoding : str
        The text encoding.

    Yields
    ------
    file object
        Write the whole content to it. If the block raises, the temporary file is removed
        and the target is untouched.

    Raises
    ------
    FileNotFoundError
        The directory of ``path`` does not exist (checked before anything is written).
    IsADirectoryError
        ``path`` is a directory.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"path: the directory of {path!r} does not exist ({directory!r})")
    if os.path.isdir(path):
        raise IsADirectoryError(f"path: expected a file name, got the directory {path!r}")
    fd, tmp = _create_temp(directory, os.path.basename(path))
    try:
        with os.fdopen(fd, "w" if text else "wb", **({"encoding": encoding} if text else {})) as fh:
            with contextlib.suppress(OSError):  # an existing target keeps its permissions
                if hasattr(os, "fchmod"):
                    os.fchmod(fh.fileno(), stat.S_IMODE(os.stat(path).st_mode))
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)
