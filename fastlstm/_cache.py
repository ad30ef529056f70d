"""Numba's on-disk cache, keyed on the sources a compiled kernel can depend on.

Numba decides whether a cached kernel is still valid from the modification time and size
of the one file that defines it. A kernel inlines the ``@njit`` functions it calls from
other modules (``drivers`` calls ``simd``, ``vecmath`` and ``activations``), so after an
edit of one of those, Numba would load the old machine code from the cache.

This module registers cache locators that are used for fastlstm's own files only and
replace that stamp with a SHA-256 digest of every source file the kernel may depend on:

- every ``.py`` file of the defining file's own subpackage (its folder),
- every ``.py`` file of :mod:`fastlstm.kernels`,
- ``fastlstm/_config.py`` (the JIT options) and this file.

Any edit of one of those files, by content and not by time stamp, turns every cached
kernel that depends on it into a miss, and Numba compiles afresh. The digest is computed
once per folder and process. Functions outside fastlstm keep Numba's own locators.

The cache files of one version of the sources live in a folder of their own,
``__pycache__/src-<digest>/`` (under ``NUMBA_CACHE_DIR`` likewise). Numba names its files
by function and line only, so in one shared folder a process still running the sources
from before an edit could overwrite the data file an index written after it points to,
and a later process would load machine code compiled for other sources (seen as a
segmentation fault). Folders of other versions not written to for :data:`STALE_SECONDS`
are removed, once per folder and process, together with files of the older flat layout.

In those folders a compiled overload's data file is named by a digest of its index key
(signature, target, code) instead of Numba's running number, and written before the
index entry that points to it. Numba numbers a function's overloads 1, 2, ... from the
index it has read: two processes compiling different overloads of one function at once
(a float32 and a float64 caller, two Dask or MPI workers on a cold cache) both take
number 1, and the index one of them writes can point to the machine code the other one
wrote (numba/numba#10128 reports such races as segmentation faults). With one file per
key the worst a race does is drop an index entry, which costs one compilation later.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import threading
import time

from numba.core import caching

__all__ = ["STALE_SECONDS", "data_name", "source_stamp"]

#: A cache folder of other sources, or a file of the flat layout, is removed once it has not
#: been written to for this long (a process of those sources could still be compiling into it).
STALE_SECONDS = 3600.0
_PREFIX = "src-"

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_FOLDERS: set[str] = set()  # the cache folders our locators gave out: data files named by key
_FOLDERS_LOCK = threading.Lock()
_KERNELS = os.path.join(_PACKAGE, "kernels")
_SHARED = (os.path.join(_PACKAGE, "_config.py"), os.path.abspath(__file__))


def _python_files(folder: str) -> list[str]:
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".py"))


@functools.cache
def source_stamp(folder: str) -> str:
    """The digest of the sources a kernel defined in ``folder`` may depend on (hex)."""
    paths = sorted(set(_python_files(folder)) | set(_python_files(_KERNELS)) | set(_SHARED))
    digest = hashlib.sha256()
    for path in paths:
        digest.update(os.path.relpath(path, _PACKAGE).encode())
        digest.update(b"\0")
        with open(path, "rb") as f:
            digest.update(f.read())
        digest.update(b"\0")
    return digest.hexdigest()


@functools.cache
def _prune(parent: str, keep: str) -> None:
    """Remove the stale cache folders of other sources and flat-layout files in ``parent``
    (best effort: a folder another process is using, or one we may not delete, stays)."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        try:
            if entry.is_dir() and entry.name.startswith(_PREFIX) and entry.name != keep:
                newest = max([entry.stat().st_mtime] + [f.stat().st_mtime for f in os.scandir(entry.path)])
                if now - newest > STALE_SECONDS:
                    shutil.rmtree(entry.path, ignore_errors=True)
            elif entry.is_file() and entry.name.endswith((".nbi", ".nbc")):
                if now - entry.stat().st_mtime > STALE_SECONDS:
                    os.remove(entry.path)
        except OSError:
            continue


def _in_package(py_file: str) -> bool:
    path = os.path.abspath(py_file)
    return os.path.commonpath([path, _PACKAGE]) == _PACKAGE


def _keyed_on_sources(base: type) -> type:
    """A subclass of Numba's locator ``base`` that serves fastlstm's files only, stamped by content."""

    class Locator(base):
        def get_source_stamp(self):
            return source_stamp(os.path.dirname(os.path.abspath(self._py_file)))

        def get_cache_path(self):
            parent = super().get_cache_path()
            folder = _PREFIX + self.get_source_stamp()[:16]
            _prune(parent, folder)
            path = os.path.join(parent, folder)
            with _FOLDERS_LOCK:
                _FOLDERS.add(os.path.abspath(path))
            return path

        @classmethod
        def from_function(cls, py_func, py_file):
            if not _in_package(py_file):
                return None
            return super().from_function(py_func, py_file)

    Locator.__name__ = Locator.__qualname__ = f"FastlstmSources{base.__name__}"
    return Locator


def data_name(filename_base: str, key) -> str:
    """The data file of the overload ``key`` (Numba's index key) in one of our folders."""
    return f"{filename_base}.{hashlib.sha256(repr(key).encode()).hexdigest()[:16]}.nbc"


def _save_by_key(numba_save):
    """``IndexDataCacheFile.save`` that, in our folders, names the data file by its key and
    writes it before the index entry; Numba's own behaviour elsewhere."""

    @functools.wraps(numba_save)
    def save(self, key, data):
        if os.path.abspath(self._cache_path) not in _FOLDERS:
            return numba_save(self, key, data)
        name = data_name(self._index_name[: -len(".nbi")], key)
        self._save_data(name, data)
        overloads = self._load_index()  # read just before writing: the window for a lost entry
        if overloads.get(key) != name:
            overloads[key] = name
            self._save_index(overloads)
        return None

    save._fastlstm = True
    return save


def _register() -> None:
    files = caching.IndexDataCacheFile
    if not getattr(files.save, "_fastlstm", False):
        files.save = _save_by_key(files.save)
    classes = caching.CacheImpl._locator_classes
    if any(getattr(c, "__module__", None) == __name__ for c in classes):
        return
    bases = [c for c in classes if issubclass(c, caching._SourceFileBackedLocatorMixin)]
    # ahead of Numba's own, in Numba's order (a user-given cache dir, the in-tree
    # __pycache__, then the user-wide one for a read-only install)
    classes[:0] = [_keyed_on_sources(c) for c in bases]


_register()
