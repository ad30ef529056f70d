"""Direct tests of fastlstm.forecast.network: the median, inputs and outputs of the network,
its training data, block chaining and the training of the ensemble and of the ES-RNN, by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastlstm.forecast import Forecaster, network
from fastlstm.forecast.scalers import StandardScaler
from fastlstm.train.loop import History


def _params(**kw) -> dict:
    """A Forecaster's parameters (as fit passes them to the network), tiny and in float64."""
    base = {"hidden_size": 2, "epochs": 1, "n_models": 1, "dtype": np.float64, "seed": 0}
    base.update(kw)
    return Forecaster(**base).get_params()


# ------------------------------------------------------------------ median_of
def test_median_of_an_odd_count_is_the_middle_value():
    outs = [np.array([[1.0, 9.0]]), np.array([[5.0, 2.0]]), np.array([[3.0, 4.0]])]
    assert_array_equal(network.median_of(outs), [[3.0, 4.0]])


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values():
    outs = [np.array([1.0, -4.0]), np.array([2.0, 0.0]), np.array([10.0, 8.0]), np.array([20.0, 2.0])]
    # sorted: 1 2 | 10 20 -> (2 + 10) / 2 = 6; -4 0 | 2 8 -> (0 + 2) / 2 = 1
    assert_array_equal(network.median_of(outs), [6.0, 1.0])
    # one network: its output
    assert_array_equal(network.median_of([np.array([[7.0, 8.0]])]), [[7.0, 8.0]])


# ------------------------------------------------------------------ levels, inputs, outputs
PAST = np.array([[1.0, 2.0, 6.0], [4.0, 0.0, -1.0]])


def test_levels_by_hand():
    assert_array_equal(network._levels(PAST, "window"), [[3.0], [1.0]])
    assert_array_equal(network._levels(PAST, "last"), [[6.0], [-1.0]])
    assert_array_equal(network._levels(PAST, None), [[0.0], [0.0]])
    # "last" is a copy, not a view: the past is not changed through it
    lev = network._levels(PAST, "last")
    lev[:] = 99.0
    assert PAST[0, -1] == 6.0


def _scaler(center, scale) -> StandardScaler:
    return StandardScaler().set_state({"center": np.array(center), "scale": np.array(scale)})


@pytest.mark.parametrize("normalize", ["window", "last", None])
@pytest.mark.parametrize("scaled", [False, True])
def test_to_inputs_by_hand_and_from_outputs_gives_the_values_back(normalize, scaled):
    scaler = _scaler(0.5, 2.0) if scaled else None
    lev = {"window": np.array([[3.0], [1.0]]), "last": np.array([[6.0], [-1.0]]), None: 0.0}[normalize]
    expected = (PAST - lev - 0.5) / 2.0 if scaled else PAST - lev
    xin = network.to_inputs(PAST, scaler, None, None, normalize, np.float32)
    assert xin.shape == (2, 3, 1) and xin.dtype == np.float32
    assert_allclose(xin[:, :, 0], expected, rtol=1e-6)
    # the round trip: the past's own inputs, mapped back, are the past (in float64)
    xin64 = network.to_inputs(PAST, scaler, None, None, normalize, np.float64)
    back = network.from_outputs(xin64[:, :, 0], PAST, scaler, normalize)
    assert back.dtype == np.float64
    assert_allclose(back, PAST, rtol=0, atol=1e-12)
    # targets made the way training_data makes them map back to the future values
    fut = np.array([[7.0, 8.0], [-2.0, 5.0]])
    target = (fut - lev - 0.5) / 2.0 if scaled else fut - lev
    assert_allclose(network.from_outputs(target.astype(np.float32), PAST, scaler, normalize), fut, atol=1e-6)


def test_to_inputs_with_covariates_lays_them_out_after_the_value_column():
    # 2 windows, 3 past steps, 2 future steps, 2 covariates
    fut_cov = np.arange(2 * 5 * 2, dtype=np.float64).reshape(2, 5, 2)
    cov_scaler = _scaler([1.0, 2.0], [2.0, 4.0])
    scaler = _scaler(0.0, 0.5)
    xin = network.to_inputs(PAST, scaler, fut_cov, cov_scaler, "window", np.float64)
    assert xin.shape == (2, 5, 3) and xin.dtype == np.float64
    # column 0: the past values (level removed, scaled) for the lookback steps, then zeros
    assert_array_equal(xin[:, :3, 0], (PAST - [[3.0], [1.0]]) / 0.5)
    assert_array_equal(xin[:, 3:, 0], 0.0)
    # columns 1..F: every covariate row, past and future, standardised by the covariate scaler
    assert_array_equal(xin[:, :, 1], (fut_cov[:, :, 0] - 1.0) / 2.0)
    assert_array_equal(xin[:, :, 2], (fut_cov[:, :, 1] - 2.0) / 4.0)
    # and back: the value column maps back to the past
    assert_allclose(network.from_outputs(xin[:, :3, 0], PAST, scaler, "window"), PAST, atol=1e-12)


# ------------------------------------------------------------------ training_data
def _windows_by_hand(z, lookback, out_steps):
    n = len(z) - lookback - out_steps + 1
    past = np.array([z[s : s + lookback] for s in range(n)])
    fut = np.array([z[s + lookback : s + lookback + out_steps] for s in range(n)])
    return past, fut


def test_training_data_puts_the_windows_reaching_into_the_last_val_steps_in_validation():
    z = np.arange(12, dtype=np.float64) ** 1.5
    p = _params(scaler=None, normalize=None)
    x_tr, y_tr, validation, scalers, cov_scaler = network.training_data([z], None, 3, 3, 2, p, [z])
    # 8 windows; window s has targets s+3, s+4: training while s + 4 < 12 - 3, so s = 0..4
    past, fut = _windows_by_hand(z, 3, 2)
    assert x_tr.shape == (5, 3, 1) and y_tr.shape == (5, 2)
    assert_array_equal(x_tr[:, :, 0], past[:5])
    assert_array_equal(y_tr, fut[:5])
    x_va, y_va = validation
    assert_array_equal(x_va[:, :, 0], past[5:])
    assert_array_equal(y_va, fut[5:])
    assert scalers == [None] and cov_scaler is None
    # without val: every window trains, no validation data
    x_all, y_all, validation, _, _ = network.training_data([z], None, 0, 3, 2, p, [z])
    assert validation is None
    assert_array_equal(y_all, fut)


def test_training_data_fits_each_series_scaler_on_its_training_windows_only():
    r = np.random.default_rng(1)
    zs = [np.cumsum(r.normal(size=15)), 100.0 + 5.0 * np.cumsum(r.normal(size=11))]
    p = _params(scaler="standard", normalize="window")
    x_tr, y_tr, (x_va, y_va), scalers, _ = network.training_data(zs, None, 2, 4, 3, p, zs)
    assert len(scalers) == 2 and all(isinstance(s, StandardScaler) for s in scalers)
    xs, ys = [], []
    for z, scaler in zip(zs, scalers, strict=True):
        past, fut = _windows_by_hand(z, 4, 3)
        n_tr = len(z) - 2 - 4 - 3 + 1  # last target before len - 2
        lev = past.mean(axis=1, keepdims=True)
        train_values = np.concatenate([(past - lev)[:n_tr].ravel(), (fut - lev)[:n_tr].ravel()])
        mean, std = train_values.mean(), train_values.std()
        assert_allclose(scaler.center_, mean, rtol=1e-12)
        assert_allclose(scaler.scale_, std, rtol=1e-12)
        # a scaler fitted on every window (validation included) would differ
        all_values = np.concatenate([(past - lev).ravel(), (fut - lev).ravel()])
        assert abs(all_values.std() - std) > 1e-6
        xs.append((past - lev)[:n_tr] / std - mean / std)
        ys.append(((fut - lev)[:n_tr] - mean) / std)
    # the series' training windows one after the other
    assert_allclose(x_tr[:, :, 0], np.concatenate(xs), atol=1e-12)
    assert_allclose(y_tr, np.concatenate(ys), atol=1e-12)
    assert len(x_va) == 2 * 2 and y_va.shape == (4, 3)


def test_training_data_scales_covariates_on_the_training_rows_only():
    z = np.linspace(1.0, 3.0, 10)
    cov = np.stack([np.arange(10.0) ** 2, np.cos(np.arange(10.0))], axis=1)
    p = _params(scaler=None, normalize=None)
    x_tr, _, validation, _, cov_scaler = network.training_data([z], [cov], 3, 3, 2, p, [z])
    assert_allclose(cov_scaler.center_, cov[:7].mean(axis=0), rtol=1e-12)
    assert_allclose(cov_scaler.scale_, cov[:7].std(axis=0), rtol=1e-12)
    # 6 windows of 3 + 2 rows; training while s + 4 < 7: s = 0, 1, 2
    assert x_tr.shape == (3, 5, 3) and validation[0].shape == (3, 5, 3)
    for s in range(3):
        assert_allclose(x_tr[s, :, 1:], (cov[s : s + 5] - cov_scaler.center_) / cov_scaler.scale_)
        assert_array_equal(x_tr[s, :3, 0], z[s : s + 3])


def test_training_data_names_the_series_that_overflows_the_dtype():
    ok = np.linspace(1.0, 2.0, 12)
    big = np.full(12, 1e39)  # finite in float64, not in float32
    p = _params(scaler=None, normalize=None, dtype=np.float32)
    with pytest.raises(
        ValueError,
        match=r"^y: series 1 has values too large for float32 once windowed and "
        r"scaled \(largest \|y\| = 1e\+39\); divide the series by a constant first$",
    ):
        network.training_data([ok, big], None, 0, 3, 1, p, [ok, big])


def test_training_data_names_the_series_that_cannot_be_scaled():
    ok = np.linspace(1.0, 2.0, 12)
    huge = np.array([1e308, -1e308] * 6)  # the standard deviation overflows float64
    p = _params(scaler="standard", normalize=None)
    with pytest.raises(
        ValueError,
        match=r"^y: series 1 cannot be scaled \(x: the StandardScaler's statistics "
        r"overflow float64",
    ):
        network.training_data([ok, huge], None, 0, 3, 1, p, [ok, huge])


def test_training_data_warns_of_large_unscaled_values_and_not_of_small_ones():
    big = np.linspace(1000.0, 5000.0, 12)
    p = _params(scaler=None, normalize=None)
    with pytest.warns(
        UserWarning, match=r"with scaler=None the network sees values up to 5e\+03 \(series 0\)"
    ):
        network.training_data([big], None, 0, 3, 1, p, [big])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        network.training_data([big / 1000.0], None, 0, 3, 1, p, [big / 1000.0])
        network.training_data([big], None, 0, 3, 1, _params(scaler="standard"), [big])


def test_training_data_refuses_a_val_that_leaves_no_training_window():
    z = np.arange(10.0)
    p = _params(scaler=None, normalize=None)
    # 6 windows (3 + 2 steps); s + 4 < 10 - 6 = 4 holds for none
    message = r"^val_size: leaves series 0 no training windows \(got val_size=6\)$"
    with pytest.raises(ValueError, match=message):
        network.training_data([z], None, 6, 3, 2, p, [z])
    # the same message with a scaler (it once failed first as "series 0 cannot be scaled")
    with pytest.raises(ValueError, match=r"^val_size: leaves series 1 no training windows"):
        network.training_data([z, z[:9]], None, 5, 3, 2, _params(scaler="standard"), [z, z[:9]])
    # val 5: exactly one training window
    x_tr, _, (x_va, _), _, _ = network.training_data([z], None, 5, 3, 2, p, [z])
    assert len(x_tr) == 1 and len(x_va) == 5


# ------------------------------------------------------------------ chain_blocks
def _mean_block(out_steps, calls=None):
    def block(past, fut_cov):
        if calls is not None:
            calls.append((past.copy(), None if fut_cov is None else fut_cov.copy()))
        return np.repeat(past.mean(axis=1, keepdims=True), out_steps, axis=1)

    return block


def test_chain_blocks_reads_its_own_forecasts_past_the_block_length():
    z = np.arange(10.0)
    calls = []
    out = network.chain_blocks(z, np.array([4, 7]), 5, 3, 2, _mean_block(2, calls))
    # origin 4: past 1 2 3 -> 2 2; past 3 2 2 -> 7/3 7/3; past 2 7/3 7/3 -> 20/9 (5 of 6 kept)
    # origin 7: past 4 5 6 -> 5 5; then 6 5 5 -> 16/3; then 5 16/3 16/3 -> 47/9
    assert out.shape == (2, 5)
    assert_allclose(out[0], [2, 2, 7 / 3, 7 / 3, 20 / 9], rtol=1e-14)
    assert_allclose(out[1], [5, 5, 16 / 3, 16 / 3, 47 / 9], rtol=1e-14)
    assert len(calls) == 3
    assert_array_equal(calls[0][0], [[1, 2, 3], [4, 5, 6]])
    assert_allclose(calls[1][0], [[3, 2, 2], [6, 5, 5]])
    assert all(fc is None for _, fc in calls)


def test_chain_blocks_within_one_block_and_one_step_at_a_time():
    z = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])

    def last(past, fut_cov):
        return past[:, -1:]

    # a one-step block repeats the last value; a block of 4 cut to a horizon of 2
    assert_array_equal(network.chain_blocks(z, np.array([2, 8]), 4, 2, 1, last), [[1, 1, 1, 1], [6, 6, 6, 6]])
    out = network.chain_blocks(z, np.array([5]), 2, 5, 4, lambda p, c: p[:, :4] * 10.0)
    assert_array_equal(out, [[30.0, 10.0]])  # z[0:5] = 3 1 4 1 5 -> first 4 * 10, then the first 2


def test_chain_blocks_hands_each_block_its_covariate_rows_and_repeats_the_last_row():
    z = np.zeros(8)
    cov = np.stack([100.0 + np.arange(9), -np.arange(9.0)], axis=1)  # rows 0..8
    calls = []

    def block(past, fut_cov):
        calls.append(fut_cov.copy())
        return fut_cov[:, 3:, 0]  # the future rows' first covariate

    # input 3, blocks of 2, horizon 5 (3 blocks); the last origin 7 needs rows up to 7 + 6 = 13
    out = network.chain_blocks(z, np.array([3, 7]), 5, 3, 2, block, cov)
    assert [c.shape for c in calls] == [(2, 5, 2)] * 3
    for k, fc in enumerate(calls):
        done = 2 * k
        for n, o in enumerate([3, 7]):
            rows = np.minimum(np.arange(o + done - 3, o + done + 2), 8)  # row 8 repeated
            assert_array_equal(fc[n], cov[rows])
    assert_array_equal(out, [[103, 104, 105, 106, 107], [107, 108, 108, 108, 108]])
    # the caller's covariates are not extended in place
    assert cov.shape == (9, 2)


def test_chain_blocks_matches_a_plain_reimplementation():
    r = np.random.default_rng(4)
    z = r.normal(size=30)
    origins = np.array([6, 11, 20, 30])

    def block(past, fut_cov):
        return past[:, ::-1][:, :3] * 0.5 + past.mean(axis=1, keepdims=True)

    got = network.chain_blocks(z, origins, 7, 6, 3, block)
    for n, o in enumerate(origins):
        hist = list(z[:o])
        while len(hist) < o + 7:
            past = np.array(hist[-6:])[None, :]
            hist.extend(block(past, None)[0])
        assert_allclose(got[n], hist[o : o + 7], rtol=1e-14)


# ------------------------------------------------------------------ train_networks
def _small_problem():
    r = np.random.default_rng(2)
    x = r.normal(size=(20, 4, 1))
    y = x[:, -2:, 0] * 0.5
    return x, y


def _weights(models):
    return [{k: v.copy() for k, v in m.state_dict().items()} for m in models]


def test_train_networks_sizes_and_models():
    x, y = _small_problem()
    p = _params(n_models=2, hidden_size=3, epochs=2, batch_size=8)
    models, histories, epochs, batch = network.train_networks(x, y, None, [1, 2, 3, 4], p)
    assert (epochs, batch) == (2, 8)
    assert len(models) == 2 and len(histories) == 2
    assert all(isinstance(h, History) and len(h.loss) == 2 and h.val_loss == [] for h in histories)
    for m in models:
        assert m.training is False
        assert m.forward(x).shape == (20, 2)
        cfg = m.get_config()
        assert (cfg["input_size"], cfg["output_size"], cfg["hidden_size"]) == (1, 2, 3)
        assert cfg["dtype"] == "float64"
    # sizes left to the rule: 16 windows a batch, the epochs as given
    _, _, epochs, batch = network.train_networks(x, y, None, [1, 2], _params(epochs=1))
    assert (epochs, batch) == (1, 16)


def test_train_networks_is_deterministic_in_its_seeds():
    x, y = _small_problem()
    p = _params(n_models=2, epochs=2, batch_size=8)
    a = _weights(network.train_networks(x, y, None, [5, 6, 7, 8], p)[0])
    b = _weights(network.train_networks(x, y, None, [5, 6, 7, 8], p)[0])
    for wa, wb in zip(a, b, strict=True):
        for k in wa:
            assert_array_equal(wa[k], wb[k])
    # network j is seeded by seeds[2 j] and seeds[2 j + 1]: the second network of (5 6 7 8) is
    # the only one of (7 8)
    (alone,) = _weights(
        network.train_networks(x, y, None, [7, 8], _params(n_models=1, epochs=2, batch_size=8))[0]
    )
    for k in alone:
        assert_array_equal(alone[k], a[1][k])
    # other seeds, other weights; so do the two members of one ensemble
    c = _weights(network.train_networks(x, y, None, [9, 6, 7, 8], p)[0])
    assert any(not np.array_equal(a[0][k], c[0][k]) for k in a[0])
    assert any(not np.array_equal(a[0][k], a[1][k]) for k in a[0])
    # the batch-order seed alone changes the trained weights too
    d = _weights(network.train_networks(x, y, None, [5, 99, 7, 8], p)[0])
    assert any(not np.array_equal(a[0][k], d[0][k]) for k in a[0])


def test_train_networks_validates_on_the_validation_windows():
    x, y = _small_problem()
    p = _params(epochs=2, batch_size=8, patience=5)
    _, (h,), _, _ = network.train_networks(x[:15], y[:15], (x[15:], y[15:]), [1, 2], p)
    assert len(h.val_loss) == 2 and all(np.isfinite(h.val_loss))


# ------------------------------------------------------------------ train_esrnn
def test_train_esrnn_builds_the_esrnn_from_the_forecasters_params(monkeypatch):
    made = {}

    class FakeESRNN:
        def __init__(self, **kwargs):
            made["kwargs"] = kwargs

        def fit(self, logs):
            made["logs"] = logs
            return self

    monkeypatch.setattr(network, "ESRNN", FakeESRNN)
    p = _params(
        hidden_size=3,
        num_layers=2,
        n_models=4,
        epochs=7,
        batch_size=9,
        lr=0.05,
        clip_norm=2.5,
        loss="huber",
        deseasonalize=False,
        dtype=np.float32,
    )
    logs = [np.arange(5.0)]
    esrnn = network.train_esrnn(logs, 4, 6, 8, 123, p)
    assert isinstance(esrnn, FakeESRNN) and made["logs"] is logs
    assert made["kwargs"] == {
        "season_length": 4,
        "horizon": 6,
        "lookback": 8,
        "hidden_size": 3,
        "num_layers": 2,
        "n_models": 4,
        "epochs": 7,
        "batch_size": 9,
        "lr": 0.05,
        "clip_norm": 2.5,
        "loss": "huber",
        "deseasonalize": False,
        "dtype": np.float32,
        "seed": 123,
    }


def test_train_esrnn_returns_a_fitted_esrnn():
    t = np.arange(24.0)
    logs = [np.log(10.0 + t + 2.0 * np.sin(2 * np.pi * t / 4))]
    p = _params(hidden_size=2, n_models=2, epochs=1, deseasonalize=True, batch_size=16)
    esrnn = network.train_esrnn(logs, 4, 3, 4, 0, p)
    assert (esrnn.season_length, esrnn.horizon, esrnn.lookback) == (4, 3, 4)
    assert (esrnn.hidden_size, esrnn.n_models, esrnn.deseasonalize) == (2, 2, True)
    assert len(esrnn.networks_) == 2 and esrnn.epochs_ == 1
    assert esrnn.seasonal_.tolist() == [True]  # deseasonalize=True learns the season
