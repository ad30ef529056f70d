"""Determinism: the same seed gives the same bits across runs, processes, thread counts
(float64 and float32) and concurrent threads.

float32 became bitwise identical across thread counts when the weight gradients (B8)
moved from OpenBLAS's sgemm (whose summation order depended on how it split the work
between threads, observed with OpenBLAS 0.3.30) to fastlstm's own fixed-order kernel;
the input gradient (B7) is still a BLAS product, whose threads split its rows and keep
each entry's order. See docs/reliability.md and docs/performance.md.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import subprocess
import sys
import textwrap
import threading
import time

import numba
import numpy as np
import pytest

import fastlstm

needs_two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 threads")


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _weights(model):
    return [v for _, v in sorted(model.state_dict().items())]


def _train(dtype, seed=0, n=48, T=8, I=2, H=8, epochs=2, dropout=0.2):
    rng = np.random.default_rng(100 + seed)
    x = rng.normal(size=(n, T, I)).astype(dtype)
    y = np.tanh(x.sum(axis=(1, 2)))[:, None].astype(dtype) + 0.1 * rng.normal(size=(n, 1)).astype(dtype)
    m = fastlstm.LSTMRegressor(I, 1, hidden_size=H, num_layers=2, dropout=dropout, seed=seed, dtype=dtype)
    opt = fastlstm.AdamW(m.parameters(), lr=0.01)
    fastlstm.Trainer(
        m, "mse", opt, fastlstm.StepLR(opt, 1, 0.5), epochs=epochs, batch_size=16, seed=seed
    ).fit(x, y)
    return m


_SERIES = 100 + 10 * np.sin(np.arange(72) / 4) + 0.2 * np.arange(72)


def _forecast(dtype, seed=0):
    f = fastlstm.Forecaster(
        lookback=12, horizon=6, hidden_size=8, epochs=4, n_models=2, dtype=dtype, seed=seed
    )
    return f.fit(_SERIES).predict(h=9)


# ------------------------------------------------------------------ in process
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_seed_same_bits_in_one_process(dtype):
    a, b = _train(dtype), _train(dtype)
    assert _digest(_weights(a)) == _digest(_weights(b))
    assert _digest([_forecast(dtype)]) == _digest([_forecast(dtype)])
    assert _digest(_weights(_train(dtype, seed=1))) != _digest(_weights(a))


# -------------------------------------------------------------- across processes
_CHILD = textwrap.dedent(
    """
    import hashlib, json, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    import fastlstm
    import test_determinism as td
    out = {{}}
    with fastlstm.threads(1):
        for dt in (np.float32, np.float64):
            m = td._train(dt)
            fc = td._digest([td._forecast(dt)])
            out[dt.__name__] = {{"weights": td._digest(td._weights(m)), "forecast": fc}}
            np.save({npy!r}.format(dt.__name__), np.concatenate([w.ravel() for w in td._weights(m)]))
    print(json.dumps(out))
    """
)


def test_same_seed_same_bits_across_processes(tmp_path):
    """Two fresh interpreters agree bit for bit with each other and with this process,
    in float64 and float32, whether this process compiled the kernels or loaded them from
    Numba's cache (the kernels use no ``reassoc`` fast-math flag, which once made the
    freshly compiled float32 backward round differently from the cached one)."""
    # this process first: it compiles the kernels (or loads them) and so fills Numba's
    # cache, from which both children then load the same code
    with fastlstm.threads(1):
        m64, m32 = _train(np.float64), _train(np.float32)
        mine64 = {"weights": _digest(_weights(m64)), "forecast": _digest([_forecast(np.float64)])}
        _forecast(np.float32)
    tests = str(pathlib.Path(__file__).parent)
    script = _CHILD.format(tests=tests, npy=str(tmp_path / "w_{}.npy"))
    runs = []
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    assert runs[0] == runs[1]
    assert runs[0]["float64"] == mine64
    child32 = np.load(tmp_path / "w_float32.npy")
    mine32 = np.concatenate([w.ravel() for w in _weights(m32)])
    np.testing.assert_array_equal(child32, mine32)


# -------------------------------------------------------------- across threads
def _blas_sized(dtype):
    """Large enough that OpenBLAS splits the products between threads."""
    return _train(dtype, n=64, T=6, I=8, H=64, epochs=1, dropout=0.0)


@needs_two_threads
def test_float64_is_bitwise_identical_across_thread_counts(restore_numba_threads):
    with fastlstm.threads(1):
        one = _digest(_weights(_blas_sized(np.float64)))
        f_one = _forecast(np.float64)
    with fastlstm.threads(2):
        two = _digest(_weights(_blas_sized(np.float64)))
        f_two = _forecast(np.float64)
    assert one == two
    np.testing.assert_array_equal(f_one, f_two)


@needs_two_threads
def test_float32_is_bitwise_identical_across_thread_counts(restore_numba_threads):
    with fastlstm.threads(1):
        one = _digest(_weights(_blas_sized(np.float32)))
        f_one = _forecast(np.float32)
    with fastlstm.threads(2):
        two = _digest(_weights(_blas_sized(np.float32)))
        f_two = _forecast(np.float32)
    assert one == two
    np.testing.assert_array_equal(f_one, f_two)


# ------------------------------------------------------------- concurrency
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_threads_training_at_once_match_one_after_the_other(dtype, restore_numba_threads):
    """The kernels release the GIL (nogil=True) and share no state: two models trained
    concurrently in two Python threads end with exactly the weights of sequential runs.
    (float32 with the thread count fixed at 1 first, so sgemm's order cannot change.)"""
    with fastlstm.threads(1):
        sequential = [_digest(_weights(_train(dtype, seed=s, n=96, epochs=3))) for s in (0, 1)]
        results, spans, errors = {}, {}, []

        def work(seed):
            try:
                barrier.wait(timeout=60)
                t0 = time.perf_counter()
                results[seed] = _digest(_weights(_train(dtype, seed=seed, n=96, epochs=3)))
                spans[seed] = (t0, time.perf_counter())
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=work, args=(s,)) for s in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    assert [results[0], results[1]] == sequential
    (a0, a1), (b0, b1) = spans[0], spans[1]
    assert a0 < b1 and b0 < a1  # the two trainings did overlap in time
