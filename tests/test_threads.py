"""The thread policy: OpenMP wait policy at import, the size threshold, concurrent calls."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numba
import numpy as np
import pytest

import fastlstm
from fastlstm import _threads
from fastlstm.kernels import lstm_backward, lstm_forward


def test_thread_info_reports_the_policy():
    info = _threads.thread_info()
    assert info["parallel_min_work"] == _threads.PARALLEL_MIN_WORK > 0
    wait = info["wait_policy"]
    assert wait["set_by"] in ("fastlstm", "user")
    if wait["set_by"] == "fastlstm":
        assert wait["GOMP_SPINCOUNT"] == _threads.SPINCOUNT == os.environ["GOMP_SPINCOUNT"]


def _policy_in_child(env_extra: dict) -> str:
    env = {k: v for k, v in os.environ.items() if k not in _threads._WAIT_VARS}
    env.update(env_extra)
    code = "import fastlstm, json; print(json.dumps(fastlstm._threads.thread_info()['wait_policy']))"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout


def test_a_users_wait_setting_wins():
    import json

    assert json.loads(_policy_in_child({}))["GOMP_SPINCOUNT"] == _threads.SPINCOUNT
    mine = json.loads(_policy_in_child({"OMP_WAIT_POLICY": "ACTIVE"}))
    assert mine["OMP_WAIT_POLICY"] == "ACTIVE" and mine["set_by"] == "user"
    spin = json.loads(_policy_in_child({"GOMP_SPINCOUNT": "1000"}))
    assert spin["OMP_WAIT_POLICY"] is None and spin["GOMP_SPINCOUNT"] == "1000" and spin["set_by"] == "user"


def test_threads_for_small_work_is_one():
    with fastlstm.threads(numba.config.NUMBA_NUM_THREADS):
        assert _threads.threads_for(_threads.PARALLEL_MIN_WORK - 1) == 1
        assert _threads.threads_for(_threads.PARALLEL_MIN_WORK) == numba.config.NUMBA_NUM_THREADS
    with fastlstm.threads(1):
        assert _threads.threads_for(10 * _threads.PARALLEL_MIN_WORK) == 1  # the user's choice bounds it


def _problem(T, B, I, H, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    w_ih = (0.1 * rng.standard_normal((4 * H, I))).astype(np.float32)
    w_hh = (0.1 * rng.standard_normal((4 * H, H))).astype(np.float32)
    b = np.zeros(4 * H, np.float32)
    dy = rng.standard_normal((T, B, H)).astype(np.float32)
    return x, w_ih, w_hh, b, dy


def _run(args):
    x, w_ih, w_hh, b, dy = args
    y, _, _, cache = lstm_forward(x, None, None, w_ih, w_hh, b)
    return y.copy(), lstm_backward(dy, None, None, cache, w_ih, w_hh).dw_hh


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
def test_parallel_kernels_called_from_two_python_threads_at_once():
    args = _problem(20, 64, 16, 64)  # above the threshold: the parallel drivers run
    T, B, I = args[0].shape
    H = args[2].shape[1]
    assert B * H * (I + H) * T >= _threads.PARALLEL_MIN_WORK
    expected = _run(args)
    results, errors = [], []

    def work():
        try:
            with fastlstm.threads(2):
                for _ in range(5):
                    results.append(_run(args))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    assert len(results) == 10
    for y, dw in results:  # bitwise: results never depend on threads
        np.testing.assert_array_equal(y, expected[0])
        np.testing.assert_array_equal(dw, expected[1])


def test_small_and_large_calls_agree_bitwise_across_thread_counts():
    args = _problem(20, 64, 16, 64)
    with fastlstm.threads(1):
        one = _run(args)
    with fastlstm.threads(numba.config.NUMBA_NUM_THREADS):
        many = _run(args)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], many[1])
