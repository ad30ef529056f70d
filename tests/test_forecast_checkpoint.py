"""Direct tests of fastlstm.forecast.checkpoint: the arrays and config of a fitted Forecaster,
their round trip, the refusals of inconsistent files, legacy files, and the history entry."""

from __future__ import annotations

import copy
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastlstm.forecast import Forecaster, candidates, checkpoint
from fastlstm.train import io

STATISTICAL = ("damped", "theta", "arima")


def _panel() -> list[np.ndarray]:
    """A seasonal series long enough for a back-test and a short one (SHORT_MIX: network and
    ARIMA, so a statistical member is in a mix)."""
    r = np.random.default_rng(0)
    t = np.arange(40)
    return [10 + 0.2 * t + np.sin(2 * np.pi * t / 4) + r.normal(0, 0.1, 40), 5 + r.normal(0, 1, 14)]


def _small(**kw) -> Forecaster:
    base = {
        "lookback": 4,
        "horizon": 3,
        "hidden_size": 3,
        "epochs": 1,
        "n_models": 2,
        "dtype": np.float64,
        "seed": 0,
        "season_length": 4,
    }
    base.update(kw)
    return Forecaster(**base)


@pytest.fixture(scope="module")
def fitted() -> Forecaster:
    return _small().fit(_panel())


@pytest.fixture(scope="module")
def plain() -> Forecaster:
    """No back-test, no calibration: the network alone in every mix."""
    return _small(fallback=False, conformal=False, n_models=1).fit(_panel())


@pytest.fixture(scope="module")
def with_covariates() -> Forecaster:
    ys = _panel()
    xs = [np.stack([np.arange(len(y), dtype=np.float64), np.cos(np.arange(len(y)))], axis=1) for y in ys]
    return _small(fallback=False, conformal=False, n_models=1).fit(ys, X=xs)


def _state(f):
    """A deep copy of ``fitted_state(f)``, safe to modify."""
    arrays, config = checkpoint.fitted_state(f)
    return {k: np.array(v, copy=True) for k, v in arrays.items()}, copy.deepcopy(config)


def _same(f, g) -> None:
    """``g`` forecasts as ``f`` does, bit for bit, and holds its fitted attributes."""
    assert_array_equal(np.asarray(g.predict(), dtype=np.float64), np.asarray(f.predict(), dtype=np.float64))
    assert g.mix_ == f.mix_
    assert (g.season_length_, g.horizon_, g.lookback_) == (f.season_length_, f.horizon_, f.lookback_)
    assert (g.n_series_, g.n_covariates_, g.calibration_) == (f.n_series_, f.n_covariates_, f.calibration_)
    for a, b in zip(f.series_, g.series_, strict=True):
        assert_array_equal(a, b)


# ------------------------------------------------------------------ fitted_state
def test_fitted_state_arrays_are_named_as_the_docstring_promises(fitted):
    arrays, config = checkpoint.fitted_state(fitted)
    net = fitted.candidates_["network"]
    expected = set()
    for j, model in enumerate(net.models_):
        for name, value in model.state_dict().items():
            expected.add(f"model{j}.{name}")
            assert_array_equal(arrays[f"model{j}.{name}"], value)
    for i in range(2):
        expected |= {f"series{i}", f"scaler{i}.center", f"scaler{i}.scale"}
        assert_array_equal(arrays[f"series{i}"], fitted.series_[i])
        if fitted.seasonal_[i] is not None:
            expected.add(f"seasonal{i}")
            assert_array_equal(arrays[f"seasonal{i}"], fitted.seasonal_[i])
    expected |= {"mix", "calibration.scores", "calibration.step_scale", "calibration.noise_scale"}
    assert_array_equal(arrays["calibration.scores"], fitted.scores_)
    assert_array_equal(arrays["calibration.step_scale"], fitted.step_scale_)
    assert_array_equal(arrays["calibration.noise_scale"], fitted.noise_scale_)
    # stat{i}.{method}.* for exactly the statistical members in series i's mix
    in_mix = [(i, m) for i, w in enumerate(fitted.mix_) for m in STATISTICAL if w.get(m)]
    assert (1, "arima") in in_mix  # the short series' mix: network and ARIMA
    stat_keys = {k for k in arrays if k.startswith("stat")}
    assert {tuple(k[len("stat") :].split(".")[:2]) for k in stat_keys} == {(str(i), m) for i, m in in_mix}
    for i, m in in_mix:
        params = fitted.candidates_[m].params_[i]
        assert {k for k in stat_keys if k.startswith(f"stat{i}.{m}.")} == {
            f"stat{i}.{m}.{key}" for key in params if key != "method"
        }
    assert set(arrays) == expected | stat_keys
    # mix: one row per series, columns in the order the config names
    assert config["fitted"]["candidates"] == list(candidates.names())
    assert arrays["mix"].shape == (2, len(candidates.names()))
    for row, w in zip(arrays["mix"], fitted.mix_, strict=True):
        assert dict(zip(config["fitted"]["candidates"], row.tolist(), strict=True)) == {
            c: w.get(c, 0.0) for c in candidates.names()
        }


def test_fitted_state_config(fitted):
    _, config = checkpoint.fitted_state(fitted)
    assert set(config) == {"params", "fitted"}
    params = fitted.get_params()
    del params["comm"]
    params["dtype"] = "float64"
    assert config["params"] == params
    got = config["fitted"]
    assert (got["season"], got["horizon"], got["input_size"]) == (4, 3, 4)
    assert (got["n_series"], got["n_covariates"], got["form"]) == (2, 0, fitted.form_)
    assert got["calibration"] == fitted.calibration_
    # the network's own record
    assert got["epochs"] == 1 and got["scalers"] == [{"name": "standard"}] * 2
    assert got["model"]["hidden_size"] == 3


def test_fitted_state_without_calibration_or_statistical_members(plain):
    arrays, _ = checkpoint.fitted_state(plain)
    assert not [k for k in arrays if k.startswith(("stat", "calibration.", "model1."))]
    assert_array_equal(arrays["mix"], [[1.0] + [0.0] * (len(candidates.names()) - 1)] * 2)


def test_fitted_state_with_covariates(with_covariates):
    arrays, config = checkpoint.fitted_state(with_covariates)
    assert config["fitted"]["n_covariates"] == 2
    for i in range(2):
        assert_array_equal(arrays[f"covariates{i}"], with_covariates.covariates_[i])
    net = with_covariates.candidates_["network"]
    assert_array_equal(arrays["cov_scaler.center"], net.cov_scaler_.center_)
    assert_array_equal(arrays["cov_scaler.scale"], net.cov_scaler_.scale_)


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("which", ["fitted", "plain", "with_covariates"])
def test_restore_round_trip(which, request):
    f = request.getfixturevalue(which)
    arrays, config = _state(f)
    g = checkpoint.restore(Forecaster, arrays, config)
    assert g.fitted and g.dtype is np.float64 and g.histories_ == []
    assert g.get_params() == f.get_params()
    if f.n_covariates_:
        xf = [np.ones((3, 2)), np.zeros((3, 2))]
        assert_array_equal(
            np.asarray(g.predict(X_future=xf), dtype=np.float64),
            np.asarray(f.predict(X_future=xf), dtype=np.float64),
        )
        return
    _same(f, g)
    for m in STATISTICAL:
        assert set(g.candidates_[m].params_) == set(f.candidates_[m].params_)


def test_save_and_load_round_trip(fitted, tmp_path):
    path = fitted.save(tmp_path / "f.npz")
    g = Forecaster.load(path)
    _same(fitted, g)
    assert_array_equal(g.predict_interval(), fitted.predict_interval())
    # and the loaded forecaster saves the same arrays again
    a1, c1 = checkpoint.fitted_state(fitted)
    a2, c2 = checkpoint.fitted_state(g)
    assert set(a1) == set(a2)
    for k in a1:
        assert_array_equal(a1[k], a2[k])
    c1["fitted"].pop("fit_time"), c2["fitted"].pop("fit_time")
    assert c1 == c2


# ------------------------------------------------------------------ refusals
def _refusals(arrays, config):
    """(name, arrays, config, message) of each inconsistent variant of a two-series state."""
    n = len(candidates.names())
    wide = {**arrays, "mix": np.hstack([arrays["mix"], np.zeros((2, 1))])}
    unknown = copy.deepcopy(config)
    unknown["fitted"]["candidates"] = [*unknown["fitted"]["candidates"], "prophet", "ets"]
    one_row = {**arrays, "mix": arrays["mix"][:1]}
    extra = {**arrays, "zzz.extra": np.zeros(2), "bogus": np.ones(1)}
    return [
        ("wide mix", wide, config, f"mix: {n + 1} candidate weights, {n} candidates named"),
        ("unknown", arrays, unknown, "mix: candidates ['ets', 'prophet'] unknown to this version"),
        ("rows", one_row, config, "1 forecast mixes for 2 series"),
        ("extra", extra, config, "unexpected arrays ['bogus', 'zzz.extra']"),
        # names that merely start like expected ones: a third series, a scaler or a
        # statistical member of a series that does not exist
        ("series2", {**arrays, "series2": np.ones(5)}, config, "unexpected arrays ['series2']"),
        ("stat9", {**arrays, "stat9.arima.p": np.ones(1)}, config, "unexpected arrays ['stat9.arima.p']"),
        (
            "1-d mix",
            {**arrays, "mix": np.ones(n - 1)},
            config,
            f"mix: shape ({n - 1},) is not rows of {n} candidate weights",
        ),
    ]


def test_restore_refuses_inconsistent_states_with_a_key_error_naming_them(fitted):
    arrays, config = _state(fitted)
    for _, a, c, message in _refusals(arrays, config):
        with pytest.raises(KeyError, match=re.escape(message)):
            checkpoint.restore(Forecaster, a, c)
    # a missing array: its name
    missing = {k: v for k, v in arrays.items() if k != "series1"}
    with pytest.raises(KeyError, match="series1"):
        checkpoint.restore(Forecaster, missing, config)


def test_load_turns_the_refusals_into_a_value_error_naming_the_file(fitted, tmp_path):
    arrays, config = _state(fitted)
    for k, (_, a, c, message) in enumerate(_refusals(arrays, config)):
        path = tmp_path / f"bad{k}.npz"
        io.save_checkpoint(path, checkpoint.KIND, a, c)
        expected = f"{path}: inconsistent forecaster checkpoint (KeyError: {message})"
        with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
            Forecaster.load(path)
        with pytest.raises(ValueError, match=re.escape(expected)):
            checkpoint.load_with_history(Forecaster, path)


def test_load_refuses_another_kind_of_checkpoint(fitted, tmp_path):
    arrays, config = _state(fitted)
    path = io.save_checkpoint(tmp_path / "t.npz", "trainer", arrays, config)
    with pytest.raises(
        ValueError, match=re.escape(f"{path}: expected a checkpoint of kind 'forecaster', got 'trainer'")
    ):
        Forecaster.load(path)


# ------------------------------------------------------------------ legacy files
def test_a_legacy_three_column_mix_without_candidate_names_loads(plain, tmp_path):
    arrays, config = _state(plain)
    del config["fitted"]["candidates"]
    # before the statistical members: network, seasonal naive, drift
    arrays["mix"] = np.array([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75]])
    path = io.save_checkpoint(tmp_path / "old3.npz", checkpoint.KIND, arrays, config)
    g = Forecaster.load(path)
    assert g.mix_ == [{"network": 0.5, "seasonal naive": 0.5}, {"seasonal naive": 0.25, "drift": 0.75}]
    # it forecasts with that mix: series 1 by hand from the loaded candidates
    s = plain.series_[1]
    o = np.array([len(s)])
    sn = g.candidates_["seasonal naive"].forecast(g._data, 1, s, o, 3)
    dr = g.candidates_["drift"].forecast(g._data, 1, s, o, 3)
    np.testing.assert_allclose(g.predict()[1], (0.25 * sn + 0.75 * dr)[0], rtol=1e-12)


def test_a_legacy_six_column_mix_without_candidate_names_loads(fitted, tmp_path, monkeypatch):
    arrays, config = _state(fitted)
    del config["fitted"]["candidates"]
    arrays["mix"] = np.array([[w.get(c, 0.0) for c in checkpoint.LEGACY_ORDER] for w in fitted.mix_])
    path = io.save_checkpoint(tmp_path / "old6.npz", checkpoint.KIND, arrays, config)
    _same(fitted, Forecaster.load(path))
    # a candidate registered since does not shift the legacy columns, wherever it sums
    monkeypatch.setitem(candidates.MEMBERS, "later", candidates.Candidate)
    g = Forecaster.load(path)
    assert g.mix_ == fitted.mix_ and "later" in g.candidates_


@pytest.fixture
def first_member():
    """A candidate registered first among MEMBERS, so that names() no longer starts with the
    legacy order (MEMBERS reordered in place: every module holds the same dict)."""
    saved = dict(candidates.MEMBERS)
    candidates.MEMBERS.clear()
    candidates.MEMBERS.update({"first": candidates.Candidate, **saved})
    try:
        yield
    finally:
        candidates.MEMBERS.clear()
        candidates.MEMBERS.update(saved)


@pytest.mark.parametrize("width", [3, 6])
def test_legacy_mix_columns_are_the_legacy_order_not_the_current_names(plain, tmp_path, first_member, width):
    arrays, config = _state(plain)
    del config["fitted"]["candidates"]
    row = np.arange(1.0, width + 1.0) / 10.0
    arrays["mix"] = np.stack([row, row[::-1]])
    path = io.save_checkpoint(tmp_path / "old.npz", checkpoint.KIND, arrays, config)
    assert candidates.names()[:2] == ("network", "first")
    g = Forecaster.load(path)
    legacy = checkpoint.LEGACY_ORDER[:width]
    assert g.mix_ == [
        dict(zip(legacy, row.tolist(), strict=True)),
        dict(zip(legacy, row[::-1].tolist(), strict=True)),
    ]


def test_a_legacy_mix_wider_than_the_legacy_order_is_refused(fitted):
    arrays, config = _state(fitted)
    del config["fitted"]["candidates"]
    arrays["mix"] = np.zeros((2, 7))
    with pytest.raises(KeyError, match=re.escape("mix: 7 candidate weights, 6 candidates named")):
        checkpoint.restore(Forecaster, arrays, config)


def test_old_argument_names_load_without_a_warning(fitted, tmp_path):
    arrays, config = _state(fitted)
    params = config["params"]
    params["season"], params["input_size"] = params.pop("season_length"), params.pop("lookback")
    path = io.save_checkpoint(tmp_path / "oldnames.npz", checkpoint.KIND, arrays, config)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = Forecaster.load(path)
    assert (g.season_length, g.lookback) == (4, 4)
    assert "season" not in g.get_params() and "input_size" not in g.get_params()
    _same(fitted, g)


# ------------------------------------------------------------------ history
def test_save_with_history_and_load_with_history_round_trip(fitted, tmp_path):
    history = {"name": "y", "ids": ["a", "b"], "freq": "MS", "first": ["2001-01-01"] * 2, "lengths": [40, 14]}
    path = checkpoint.save_with_history(fitted, tmp_path / "h.npz", history)
    assert path == str(tmp_path / "h.npz")
    g, got = checkpoint.load_with_history(Forecaster, path)
    assert got == history
    _same(fitted, g)
    assert io.load_checkpoint(path).config["history"] == history
    # Forecaster.load ignores the entry; a file without one gives None
    _same(fitted, Forecaster.load(path))
    plain_path = fitted.save(tmp_path / "no_history.npz")
    assert checkpoint.load_with_history(Forecaster, plain_path)[1] is None


def test_a_history_entry_that_is_not_a_dict_reads_as_none(fitted, tmp_path):
    arrays, config = _state(fitted)
    config["history"] = ["not", "a", "dict"]
    path = io.save_checkpoint(tmp_path / "h.npz", checkpoint.KIND, arrays, config)
    assert checkpoint.load_with_history(Forecaster, path)[1] is None


def test_save_with_history_argument_errors(fitted, tmp_path):
    with pytest.raises(TypeError, match=r"^history: expected a dict, got list$"):
        checkpoint.save_with_history(fitted, tmp_path / "x.npz", ["name"])
    with pytest.raises(RuntimeError, match=r"^Forecaster: call fit \(or load\) before save$"):
        checkpoint.save_with_history(Forecaster(), tmp_path / "y.npz", {})
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "y.npz").exists()
