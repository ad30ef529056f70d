"""Numerical faults injected during training, and extreme but finite data.

Every fault either stops training with a :class:`NonFiniteError` that names the
epoch and step (the model and optimiser keep their last finite state), or, with
``on_nonfinite="skip"``, skips the step and carries on. Extreme data either trains
or fails with a ``ValueError`` that says what to do.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastlstm
from fastlstm import Callback, LambdaCallback, NonFiniteError, Trainer
from fastlstm.cli import main
from fastlstm.nn.module import Module

QUICK = ["--epochs", "3", "--n-models", "1", "--hidden-size", "8"]


def _data(n=32, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None] + np.arange(6)[None, :]
    x = np.sin(t / 3.0)[:, :, None] + 0.05 * rng.normal(size=(n, 6, 1))
    y = np.sin((t[:, -1:] + 1) / 3.0)
    return x.astype(dtype), y.astype(dtype)


def _model(dtype=np.float64, seed=0):
    return fastlstm.LSTMRegressor(1, 1, hidden_size=6, seed=seed, dtype=dtype)


def _finite(model) -> bool:
    return all(np.isfinite(v).all() for v in model.state_dict().values())


class _Snapshots(Callback):
    """Model and optimiser state after every step that was not skipped."""

    def __init__(self):
        self.model, self.opt = [], []

    def on_batch_end(self, trainer, logs):
        if not logs["skipped"]:
            self.model.append(trainer.model.state_dict())
            self.opt.append(trainer.optimizer.state_dict())


def _assert_model_is(model, state):
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, state[k], err_msg=k)


def _assert_opt_is(opt, state):
    now = opt.state_dict()
    assert now["step"] == state["step"] and now["hyperparams"] == state["hyperparams"]
    assert set(now["buffers"]) == set(state["buffers"])
    for k, v in now["buffers"].items():
        np.testing.assert_array_equal(v, state["buffers"][k], err_msg=k)


# ----------------------------------------------------------------- parameters
def _poison_param(at_epoch, at_step, value=np.nan):
    """A callback that writes ``value`` into a weight after one step (user code gone wrong)."""

    def f(trainer, logs):
        if (logs["epoch"], logs["step"]) == (at_epoch, at_step):
            trainer.model.lstm.weight_hh_l0.data[0, 0] = value

    return LambdaCallback(on_batch_end=f)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_parameter_set_to_nan_mid_training_stops_at_the_next_step(value):
    x, y = _data()
    m = _model()
    snaps = _Snapshots()
    tr = Trainer(m, epochs=3, batch_size=8, seed=0, callbacks=[snaps, _poison_param(1, 1, value)])
    with pytest.raises(NonFiniteError, match="non-finite weights .* at epoch 1, step 2") as info:
        tr.fit(x, y)
    assert (info.value.what, info.value.epoch, info.value.step) == ("weights", 1, 2)
    # the poisoned value is gone: the weights are those after the last good step (epoch 1, step 1)
    assert _finite(m)
    _assert_model_is(m, snaps.model[-1])
    _assert_opt_is(tr.optimizer, snaps.opt[-1])


def test_a_parameter_set_to_nan_is_skipped_when_asked():
    x, y = _data()
    m = _model()
    hist = Trainer(
        m, epochs=3, batch_size=8, seed=0, on_nonfinite="skip", callbacks=[_poison_param(1, 1)]
    ).fit(x, y)
    assert hist.skipped_steps == 1 and hist.epochs == 3 and _finite(m)
    assert all(np.isfinite(hist.loss))


def test_nonfinite_weights_before_training_are_an_error():
    x, y = _data()
    m = _model()
    m.head.bias.data[0] = np.nan
    with pytest.raises(
        ValueError,
        match=r"model: expected finite parameters before training, got NaN or Inf in \['head.bias'\]",
    ):
        Trainer(m, epochs=1).fit(x, y)


# ------------------------------------------------------- the optimiser's step
def _blow_up_lr(at_epoch, at_step):
    def f(trainer, logs):
        if (logs["epoch"], logs["step"]) == (at_epoch, at_step):
            trainer.optimizer.lr = 1e308

    return LambdaCallback(on_batch_end=f)


def test_a_step_that_overflows_the_weights_is_undone_with_the_optimizer_state():
    """The next step's update overflows: weights, Adam's moments and its step count are
    put back to what they were before that step."""
    x, y = _data()
    m = _model()
    snaps = _Snapshots()
    tr = Trainer(m, epochs=3, batch_size=8, seed=0, callbacks=[snaps, _blow_up_lr(0, 2)])
    with pytest.raises(NonFiniteError, match="non-finite weights .* at epoch 0, step 3"):
        tr.fit(x, y)
    assert len(snaps.model) == 3 and _finite(m)
    _assert_model_is(m, snaps.model[-1])
    _assert_opt_is(tr.optimizer, {**snaps.opt[-1], "hyperparams": tr.optimizer.state_dict()["hyperparams"]})
    assert tr.optimizer.step_count == 3


def test_skipped_overflowing_steps_do_not_count_as_optimizer_steps():
    x, y = _data()
    m = _model()

    def f(trainer, logs):  # an lr that overflows every update from epoch 1 on
        if logs["epoch"] == 1 and logs["step"] == 0:
            trainer.optimizer.lr = 1e308

    tr = Trainer(
        m, epochs=2, batch_size=8, seed=0, on_nonfinite="skip", callbacks=[LambdaCallback(on_batch_end=f)]
    )
    hist = tr.fit(x, y)
    assert hist.skipped_steps == 3  # steps 1..3 of epoch 1
    assert tr.optimizer.step_count == 5 and _finite(m)
    assert all(
        np.isfinite(tr.optimizer.state_dict()["buffers"][k]).all()
        for k in tr.optimizer.state_dict()["buffers"]
    )


# ---------------------------------------------------------------- bad data
def test_a_data_point_whose_loss_overflows_stops_at_its_step():
    """float32: a target of 1e20 is finite, its squared residual is not."""
    x, y = _data(dtype=np.float32)
    y[13] = 1e20  # batch_size 8 without shuffling: sample 13 is in step 1
    m = _model(np.float32)
    before = []
    cb = LambdaCallback(on_batch_end=lambda tr, logs: before.append(tr.model.state_dict()))
    with pytest.raises(NonFiniteError, match="non-finite loss .* at epoch 0, step 1"):
        Trainer(m, epochs=2, batch_size=8, shuffle=False, callbacks=[cb]).fit(x, y)
    _assert_model_is(m, before[-1])


def test_a_data_point_whose_loss_overflows_is_skipped_every_epoch():
    x, y = _data(dtype=np.float32)
    y[13] = 1e20
    m = _model(np.float32)
    hist = Trainer(m, epochs=3, batch_size=8, seed=1, on_nonfinite="skip").fit(x, y)
    assert hist.skipped_steps == 3 and _finite(m)


def test_nan_or_inf_in_the_data_is_refused_before_training():
    x, y = _data()
    x[3, 2, 0] = np.nan
    with pytest.raises(
        ValueError, match=r"x: expected finite values, got 1 NaN/Inf value\(s\), first at index \(3, 2, 0\)"
    ):
        Trainer(_model(), epochs=1).fit(x, y)
    x, y = _data()
    y[5, 0] = -np.inf
    with pytest.raises(ValueError, match=r"y: expected finite values"):
        Trainer(_model(), epochs=1).fit(x, y)


# ------------------------------------------------------------ the gradient
class _OverflowAt(Module):
    """Wraps a model; its backward raises FloatingPointError (an internal overflow) at one call."""

    def __init__(self, inner, at):
        super().__init__()
        self.inner = self._register_module("inner", inner)
        self.dtype, self.at, self.calls = inner.dtype, at, 0

    def forward(self, x):
        return self.inner.forward(x)

    def backward(self, d):
        self.calls += 1
        d_x = self.inner.backward(d)
        if self.calls == self.at:
            raise FloatingPointError("overflow")
        return d_x


def test_an_overflow_inside_backward_is_a_nonfinite_gradient():
    x, y = _data()
    m = _OverflowAt(_model(), at=6)  # 4 steps per epoch: epoch 1, step 1
    snaps = _Snapshots()
    with pytest.raises(NonFiniteError, match="non-finite gradient .* at epoch 1, step 1"):
        Trainer(m, epochs=3, batch_size=8, seed=0, callbacks=[snaps]).fit(x, y)
    _assert_model_is(m, snaps.model[-1])
    m = _OverflowAt(_model(), at=6)
    assert Trainer(m, epochs=3, batch_size=8, seed=0, on_nonfinite="skip").fit(x, y).skipped_steps == 1


def test_lstm_regressor_backward_reports_an_overflowing_gradient():
    x, _ = _data(dtype=np.float32)
    m = _model(np.float32)
    m.forward(x)
    m.head.weight.data[:] = 1e10
    with pytest.raises(FloatingPointError, match="head's input"):
        m.backward(np.full((len(x), 1), 1e30, np.float32))
    assert all(not p.grad.any() for p in m.lstm.parameters())  # nothing reached the LSTM


# -------------------------------------------------------------- extreme data
def _fc(**kw):
    args = {"lookback": 6, "horizon": 3, "hidden_size": 8, "epochs": 30, "n_models": 1, "batch_size": 8}
    return fastlstm.Forecaster(**{**args, **kw})


_T = np.arange(60.0)
_BASE = 10 + np.sin(_T / 3)


def test_values_around_1e6_train_like_values_around_1():
    """With the default log transform and window normalisation the network sees the
    same numbers whatever the level: the forecasts scale with the data."""
    small = _fc().fit(_BASE).predict()
    big = _fc().fit(1e6 * _BASE).predict()
    np.testing.assert_allclose(big, 1e6 * small, rtol=1e-5)
    truth = 10 + np.sin(np.arange(60, 63) / 3)
    assert np.max(np.abs(small - truth) / truth) < 0.1


def test_values_around_1e6_without_log_transform_train():
    y = 1e6 + 1e5 * np.sin(_T / 3)
    f = _fc(transform=None).fit(y)
    truth = 1e6 + 1e5 * np.sin(np.arange(60, 63) / 3)
    assert np.max(np.abs(f.predict() - truth) / truth) < 0.1


def test_huge_values_fail_with_a_clear_message_or_train_on_the_log_scale():
    y = 1e300 * (1 + 0.1 * np.sin(_T / 3))
    with pytest.raises(ValueError, match="y: series 0 cannot be scaled .*overflow float64.*divide the data"):
        _fc(transform=None).fit(y)
    p = _fc().fit(y).predict()  # log transform: fine
    assert np.all(np.isfinite(p)) and np.all((p > 5e299) & (p < 2e300))
    tiny = _fc().fit(1e-300 * (1 + 0.1 * np.sin(_T / 3))).predict()
    assert np.all((tiny > 5e-301) & (tiny < 2e-300))


def test_unscaled_large_values_warn():
    with pytest.warns(UserWarning, match="scaler=None the network sees values up to 1.1e\\+06"):
        _fc(transform=None, normalize=None, scaler=None, epochs=1).fit(1e6 + 1e5 * np.sin(_T / 3))


@pytest.mark.parametrize("level", [5.0, 0.0, -5.0])
@pytest.mark.parametrize("scaler", ["standard", "minmax", "robust"])
def test_a_constant_series_forecasts_its_constant(level, scaler):
    p = _fc(scaler=scaler, epochs=40).fit(np.full(60, level)).predict()
    np.testing.assert_allclose(p, level, atol=0.05)


@pytest.mark.parametrize("n, ok", [(8, False), (9, True), (10, True)])
def test_series_just_long_enough(n, ok):
    """lookback + horizon = 9 points give one training window."""
    if ok:
        assert np.all(np.isfinite(_fc(epochs=5).fit(_BASE[:n]).predict()))
    else:
        with pytest.raises(ValueError, match="expected at least lookback \\+ horizon = 9 points, got 8"):
            _fc().fit(_BASE[:n])


def test_a_validation_split_that_leaves_no_training_window():
    with pytest.raises(ValueError, match="lookback \\+ horizon \\+ val_size = 10 points, got 9"):
        _fc().fit(_BASE[:9], val_size=1)
    assert np.all(np.isfinite(_fc(epochs=2).fit(_BASE[:10], val_size=1).predict()))


def test_a_diverging_forecaster_names_epoch_and_step():
    with pytest.raises(NonFiniteError, match="at epoch \\d+, step \\d+"):
        _fc(lr=1e12, clip_norm=None, epochs=5).fit(_BASE)


# ----------------------------------------------------------------------- CLI
def _csv(tmp_path, values, name="s.csv"):
    p = tmp_path / name
    p.write_text("t,value\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    return str(p)


def test_cli_constant_series_reports_mase_as_nan(tmp_path, capsys):
    path = _csv(tmp_path, [5.0] * 40)
    assert main(["forecast", path, *QUICK, "--input-size", "4", "--horizon", "2", "--test-size", "4"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("fastlstm LSTM"))
    assert row.split()[-1] == "nan"


def test_cli_large_values_and_a_short_series(tmp_path, capsys):
    big = _csv(tmp_path, 1e6 + 1e5 * np.sin(np.arange(40) / 3), "big.csv")
    assert main(["forecast", big, *QUICK, "--input-size", "4", "--horizon", "2", "--test-size", "4"]) == 0
    short = _csv(tmp_path, np.arange(1.0, 11.0), "short.csv")  # 10 points: 6 to train = 4 + 2
    assert main(["forecast", short, *QUICK, "--input-size", "4", "--horizon", "2", "--test-size", "4"]) == 0
    assert main(["forecast", short, *QUICK, "--input-size", "4", "--horizon", "2", "--test-size", "5"]) == 1
    assert "expected at least lookback + horizon = 6 points, got 5" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        ("t,value\n1,1\n2,nan\n3,3\n", "line 3, column 'value': expected a finite number, got 'nan'"),
        ("t,value\n1,1\n2,inf\n3,3\n", "line 3, column 'value': expected a finite number, got 'inf'"),
        ("t,value\n1,1\n2,abc\n3,3\n", "line 3, column 'value': expected a number, got 'abc'"),
        ("t,value\n", "expected a header row and at least one data row"),
        (b"\xff\xfe\x00bad", "expected a UTF-8 CSV text file"),
    ],
    ids=["nan", "inf", "text", "empty", "binary"],
)
def test_cli_bad_csv_files_exit_1_with_the_line(tmp_path, capsys, content, message):
    p = tmp_path / "bad.csv"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["forecast", str(p), *QUICK]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_checks_the_save_directory_and_column_before_training(tmp_path, capsys):
    assert main(["forecast", *QUICK, "--save", str(tmp_path / "missing" / "m.npz")]) == 1
    err = capsys.readouterr()
    assert "--save: the directory of" in err.err and "training time" not in err.out
    assert main(["forecast", *QUICK, "--column", "value"]) == 1
    assert "--column: expected a CSV file" in capsys.readouterr().err
