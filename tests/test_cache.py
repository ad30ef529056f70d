"""Numba's on-disk cache never serves a kernel compiled from sources that have changed since.

A copy of the package gets two probe modules in ``kernels/``: ``_probe_a.f`` calls
``_probe_b.g``, so ``f``'s machine code inlines ``g``. After an edit of ``_probe_b`` alone,
Numba's own locator (stamped by ``_probe_a.py``'s time and size) serves the old ``f``;
fastlstm's (stamped by the digest of the sources, :mod:`fastlstm._cache`) compiles anew.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastlstm

pytestmark = pytest.mark.skipif(
    not fastlstm._config.CACHE, reason="Numba's cache is off (FASTLSTM_DISABLE_CACHE or FASTLSTM_VECTOR_BITS)"
)

PROBE_A = """
from numba import njit

from .._config import JIT
from ._probe_b import g


@njit(**JIT)
def f():
    return g() + 0
"""

PROBE_B = """
from numba import njit

from .._config import JIT


@njit(**JIT)
def g():
    return {value}
"""

RUN = """
import json
from fastlstm.kernels._probe_a import f
value = f()
print(json.dumps({"value": value, "hits": sum(f.stats.cache_hits.values())}))
"""


@pytest.fixture
def package(tmp_path):
    root = tmp_path / "site"
    shutil.copytree(
        Path(fastlstm.__file__).parent, root / "fastlstm", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "fastlstm" / "kernels" / "_probe_a.py").write_text(PROBE_A)
    return root


def _set_g(root: Path, value: int) -> None:
    path = root / "fastlstm" / "kernels" / "_probe_b.py"
    path.write_text(PROBE_B.format(value=value))
    # the same size and a time stamp Numba cannot tell apart from the last one
    os.utime(path, (1_700_000_000, 1_700_000_000))


def _run(root: Path, *, numba_locator: bool = False) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_CACHE", "FASTLSTM_"))}
    env["PYTHONPATH"] = str(root)
    if numba_locator:
        env["NUMBA_CACHE_LOCATOR_CLASSES"] = "InTreeCacheLocator"
    out = subprocess.run(
        [sys.executable, "-c", RUN], env=env, cwd=root, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_an_edit_of_an_inlined_module_is_never_served_stale(package):
    _set_g(package, 1)
    assert _run(package) == {"value": 1, "hits": 0}  # compiled and cached
    assert _run(package) == {"value": 1, "hits": 1}  # served from the cache
    _set_g(package, 2)  # _probe_a.py is untouched
    assert _run(package) == {"value": 2, "hits": 0}


def test_numba_own_locator_would_serve_it_stale(package):
    # the failure the source stamp prevents, shown on the same probe
    _set_g(package, 1)
    assert _run(package, numba_locator=True)["value"] == 1
    _set_g(package, 2)
    assert _run(package, numba_locator=True) == {"value": 1, "hits": 1}


def test_each_version_of_the_sources_has_its_own_cache_folder(package):
    # a process of the old sources cannot overwrite the files the new index points to:
    # going back to the old sources finds their kernels still cached
    cache = package / "fastlstm" / "kernels" / "__pycache__"
    _set_g(package, 1)
    assert _run(package) == {"value": 1, "hits": 0}
    _set_g(package, 2)
    assert _run(package) == {"value": 2, "hits": 0}
    assert len([p for p in cache.iterdir() if p.name.startswith("src-")]) == 2
    assert not list(cache.glob("*.nb[ic]"))  # nothing in the flat layout
    _set_g(package, 1)
    assert _run(package) == {"value": 1, "hits": 1}
    _set_g(package, 2)
    assert _run(package) == {"value": 2, "hits": 1}


def test_stale_folders_of_other_sources_are_removed(package):
    cache = package / "fastlstm" / "kernels" / "__pycache__"
    _set_g(package, 1)
    _run(package)
    (old,) = [p for p in cache.iterdir() if p.name.startswith("src-")]
    flat = cache / "_probe_a.f-9.py311.nbi"
    flat.write_bytes(b"")
    past = 1_600_000_000
    for path in [*old.iterdir(), old, flat]:
        os.utime(path, (past, past))
    _set_g(package, 2)
    assert _run(package) == {"value": 2, "hits": 0}
    assert not old.exists() and not flat.exists()
    assert len([p for p in cache.iterdir() if p.name.startswith("src-")]) == 1


def _race(folder: Path):
    """Two processes save different overloads of one function into ``folder`` at once: both
    read the (empty) index before either writes, and the first one's data file lands last.
    Returns what a later process loads for each key."""
    from numba.core import caching

    def process():
        f = caching.IndexDataCacheFile(str(folder), "kernels.f-12.py311", "stamp")
        f._load_index = dict  # the index as it was read before the other process wrote
        return f

    first, second = process(), process()
    pending = []
    first._save_data = lambda name, data: pending.append((name, data))
    first.save(("float32",), "code for float32")
    second.save(("float64",), "code for float64")
    for name, data in pending:  # the first process's data file is written last
        caching.IndexDataCacheFile._save_data(first, name, data)
    later = caching.IndexDataCacheFile(str(folder), "kernels.f-12.py311", "stamp")
    return later.load(("float32",)), later.load(("float64",))


def test_overloads_saved_at_once_never_load_each_others_code(tmp_path):
    """numba/numba#10128's race: in fastlstm's folders each overload has its own data file
    (named by its key), so a later process loads each key's own code or misses it; in a
    folder of Numba's own, the same interleaving serves one overload the other's code."""
    from fastlstm import _cache

    ours = tmp_path / ("src-" + "0" * 16)
    ours.mkdir()
    _cache._FOLDERS.add(os.path.abspath(ours))
    f32, f64 = _race(ours)
    assert f32 in ("code for float32", None) and f64 in ("code for float64", None)
    assert f64 == "code for float64"  # the entry written last is kept
    assert sorted(p.name for p in ours.glob("*.nbc")) == sorted(
        _cache.data_name("kernels.f-12.py311", (k,)) for k in ("float32", "float64")
    )

    numbas = tmp_path / "numba"
    numbas.mkdir()
    assert _race(numbas)[1] == "code for float32"  # the race this guards against


PROBE_PARALLEL = """
import numpy as np
from numba import njit, prange

from .._config import JIT, JIT_PARALLEL


@njit(**JIT_PARALLEL)
def inner(a):
    for i in prange(a.size):
        a[i] += 1.0


@njit(**JIT)
def outer(a, flag=True):
    inner(a)
    return a.sum()
"""

RUN_PARALLEL = """
import sys
import numpy as np
from fastlstm.kernels._probe_p import outer
a = np.zeros(1000)
print(outer(a, True) if sys.argv[1] == "flag" else outer(a))
"""


@pytest.mark.parametrize("parallel_cached", [False, True])
def test_a_cached_caller_of_a_parallel_kernel_loads_in_a_later_process(package, parallel_cached):
    """numba/numba#8578: a cached caller compiled in a process that loaded its ``prange``
    callee from the cache segfaults when a later process loads it. Here the first process
    caches the caller for one signature (``flag`` passed) and the callee; the second
    compiles the caller for another (``flag`` omitted) beside the cached callee; the third
    loads that. JIT_PARALLEL does not cache, and all three run; with the callee cached, as
    before, the third process crashed."""
    probe = PROBE_PARALLEL
    if parallel_cached:  # the old options, to show what the test would catch
        probe = probe.replace("@njit(**JIT_PARALLEL)", '@njit(**{**JIT_PARALLEL, "cache": True})')
    (package / "fastlstm" / "kernels" / "_probe_p.py").write_text(probe)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_CACHE", "FASTLSTM_"))}
    env["PYTHONPATH"] = str(package)
    codes = []
    for arg in ("flag", "omit", "omit"):
        out = subprocess.run(
            [sys.executable, "-c", RUN_PARALLEL, arg],
            env=env,
            cwd=package,
            capture_output=True,
            text=True,
            timeout=300,
        )
        codes.append(out.returncode)
        if out.returncode == 0:
            assert float(out.stdout.split()[-1]) == 1000.0
    assert codes == ([0, 0, -11] if parallel_cached else [0, 0, 0])
