"""Streaming inference: LSTM.stepper() equals forward, bitwise, and guards its inputs."""

from __future__ import annotations

import numpy as np
import pytest

from fastlstm import LSTM


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("layers", "batch"), [(1, 1), (3, 5)])
def test_stepper_equals_forward(rng, dtype, layers, batch):
    lstm = LSTM(3, 21, num_layers=layers, dtype=dtype, seed=1)
    lstm.eval()
    x = rng.standard_normal((12, batch, 3)).astype(dtype)
    h0 = rng.standard_normal((layers, batch, 21)).astype(dtype)
    c0 = rng.standard_normal((layers, batch, 21)).astype(dtype)
    out, (h_n, c_n) = lstm.forward(x, (h0, c0))
    s = lstm.stepper(batch_size=batch, state=(h0, c0))
    steps = np.stack([s.step(x[t]) for t in range(12)])
    np.testing.assert_array_equal(steps, out)
    h, c = s.state
    np.testing.assert_array_equal(h, h_n)
    np.testing.assert_array_equal(c, c_n)
    if batch == 1:  # a 1-d input gives a 1-d output
        s.reset()
        assert s.step(x[0, 0]).shape == (21,)


def test_stepper_guards_its_inputs(rng):
    lstm = LSTM(2, 8, seed=0)
    s = lstm.stepper(batch_size=2)
    x = rng.standard_normal((2, 2)).astype(np.float32)
    s.step(x)
    before = s.state
    with pytest.raises(ValueError, match="x: expected finite values"):
        s.step(np.array([[np.nan, 0.0], [0.0, 0.0]], np.float32))
    np.testing.assert_array_equal(s.state[0], before[0])  # unchanged
    with pytest.raises(ValueError, match=r"x: expected shape \(2, 2\)"):
        s.step(np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match="x"):
        s.step(np.ones((2, 2), np.float64))
    with pytest.raises(ValueError, match="state h"):
        s.state = (np.zeros((1, 3, 8), np.float32), np.zeros((1, 3, 8), np.float32))
    with pytest.raises(ValueError, match="lstm: expected a unidirectional LSTM"):
        LSTM(2, 8, bidirectional=True).stepper()
    with pytest.raises(ValueError, match="batch_size"):
        lstm.stepper(batch_size=0)


def test_stepper_refresh_picks_up_new_weights(rng):
    lstm = LSTM(2, 8, seed=0)
    lstm.eval()
    s = lstm.stepper()
    x = rng.standard_normal((1, 2)).astype(np.float32)
    lstm.weight_ih_l0.data = lstm.weight_ih_l0.data * 2
    stale = s.step(x)
    s.reset()
    s.refresh()
    fresh = s.step(x)
    want, _ = lstm.forward(x[None])
    np.testing.assert_array_equal(fresh, want[0])
    assert not np.array_equal(stale, fresh)
    lstm.weight_ih_l0.data[0, 0] = np.inf
    with pytest.raises(ValueError, match="lstm: expected finite input weights"):
        s.refresh()
