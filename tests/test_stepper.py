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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("layers", "batch", "batch_first"), [(1, 1, False), (3, 5, False), (2, 4, True)])
def test_one_step_forward_is_the_stepper_bitwise(rng, dtype, layers, batch, batch_first, monkeypatch):
    """LSTM.forward of one step in eval mode takes the stepper's compiled path (not the
    sequence path): the same bits, step after step with the state carried, and the caller's
    state arrays are left alone."""
    from fastlstm.kernels import api

    lstm = LSTM(3, 21, num_layers=layers, dtype=dtype, seed=1, batch_first=batch_first)
    lstm.eval()
    x = rng.standard_normal((6, batch, 3)).astype(dtype)
    s = lstm.stepper(batch_size=batch)
    state = None
    sequence_path = api.stack_forward
    for t in range(6):
        x_t = np.ascontiguousarray(x[t][:, None] if batch_first else x[t][None])
        before = None if state is None else (state[0].copy(), state[1].copy())
        monkeypatch.setattr(api, "stack_forward", None)  # the step path must not need it
        out, new_state = lstm.forward(x_t, state)
        monkeypatch.setattr(api, "stack_forward", sequence_path)
        if before is not None:
            np.testing.assert_array_equal(state[0], before[0])
            np.testing.assert_array_equal(state[1], before[1])
        want = s.step(x[t])
        np.testing.assert_array_equal(out[:, 0] if batch_first else out[0], want)
        np.testing.assert_array_equal(new_state[0], s.h)
        np.testing.assert_array_equal(new_state[1], s.c)
        assert out.shape == ((batch, 1, 21) if batch_first else (1, batch, 21))
        state = new_state
    # the general path (training mode records a tape) gives the same bits
    lstm.train()
    out, (h, c) = lstm.forward(np.ascontiguousarray(x[:1].transpose(1, 0, 2) if batch_first else x[:1]))
    lstm.eval()
    out1, (h1, c1) = lstm.forward(np.ascontiguousarray(x[:1].transpose(1, 0, 2) if batch_first else x[:1]))
    np.testing.assert_array_equal(out, out1)
    np.testing.assert_array_equal(h, h1)
    np.testing.assert_array_equal(c, c1)


def test_one_step_forward_sees_changed_weights_and_reports_errors(rng):
    """The packed weights of forward's step path are made again when the weights change (in
    place or replaced); NaN in x, the state or a weight raises as on the general path."""
    lstm = LSTM(2, 8, num_layers=2, seed=0)
    lstm.eval()
    x = rng.standard_normal((1, 3, 2)).astype(np.float32)
    first, _ = lstm.forward(x)
    lstm.weight_ih_l1.data[0, :] += 0.5  # in place
    changed, _ = lstm.forward(x)
    assert not np.array_equal(first, changed)
    np.testing.assert_array_equal(changed[0], lstm.stepper(batch_size=3).step(x[0]))
    lstm.bias_ih_l0.data = lstm.bias_ih_l0.data * 2  # replaced
    np.testing.assert_array_equal(lstm.forward(x)[0][0], lstm.stepper(batch_size=3).step(x[0]))
    bad = x.copy()
    bad[0, 1, 1] = np.nan
    with pytest.raises(ValueError, match=r"\bx\b"):
        lstm.forward(bad)
    h = np.zeros((2, 3, 8), np.float32)
    h[1, 0, 0] = np.inf
    with pytest.raises(ValueError, match="state"):
        lstm.forward(x, (h, np.zeros_like(h)))
    lstm.weight_hh_l1.data[0, 0] = np.nan
    with pytest.raises(ValueError, match="weight_hh_l1"):
        lstm.forward(x)
