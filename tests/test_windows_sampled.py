"""Panels past the window budget: training windows sampled per epoch (network.WindowSampler), and
the Trainer's EpochSource protocol that draws them (reproducible, resumable, checked)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import fastlstm
from fastlstm.forecast import Forecaster, network
from fastlstm.forecast.prepare import _MAX_BATCH, _TARGET_STEPS
from fastlstm.train import EpochSource
from fastlstm.train.trainer import CheckpointCallback

L, K, VAL = 5, 4, 3  # lookback, out_steps, val_size


def _params(**kw) -> dict:
    base = {"hidden_size": 2, "epochs": 1, "n_models": 1, "dtype": np.float32, "seed": 0}
    base.update(kw)
    return Forecaster(**base).get_params()


def _panel(n_series: int, seed: int = 0, lengths=(30, 41, 25)):
    r = np.random.default_rng(seed)
    ns = [lengths[i % len(lengths)] for i in range(n_series)]
    zs = [r.normal(size=n).cumsum() for n in ns]
    covs = [r.normal(size=(n, 2)) for n in ns]
    return zs, covs


def _n_train(zs) -> int:
    return sum(len(z) - VAL - L - K + 1 for z in zs)


def test_the_budget_is_what_the_default_sizes_train_on_in_one_epoch():
    assert network.WINDOW_BUDGET == _TARGET_STEPS * _MAX_BATCH == 230_400
    # the 1,000-series bench panel (at most 200 points, lookback 24, horizon 18) is below it
    assert 1000 * (200 - 24 - 18 + 1) < network.WINDOW_BUDGET


@pytest.mark.parametrize("covariates", [False, True])
@pytest.mark.parametrize("normalize", ["window", "last", None])
@pytest.mark.parametrize("scaler", ["standard", "robust", None])
def test_sampled_windows_are_bitwise_the_rows_built_below_the_budget(covariates, normalize, scaler):
    zs, covs = _panel(3)
    covs = covs if covariates else None
    p = _params(normalize=normalize, scaler=scaler)
    n = _n_train(zs)
    # at the budget: every window built, as arrays
    x_all, y_all, val_all, sc_all, cs_all = network.training_data(zs, covs, VAL, L, K, p, zs, budget=n)
    assert isinstance(x_all, np.ndarray) and isinstance(y_all, np.ndarray) and len(x_all) == n
    # one past it: a sampler, no array of every window
    sampler, none, val_s, sc_s, cs_s = network.training_data(zs, covs, VAL, L, K, p, zs, budget=n - 1)
    assert isinstance(sampler, network.WindowSampler) and none is None
    assert sampler.n_windows == n and len(sampler) <= n
    # the same scalers (fitted on each series' own training windows)
    for a, b in zip(sc_all, sc_s, strict=True):
        assert (a is None and b is None) or (a.center_ == b.center_ and a.scale_ == b.scale_)
    if covariates:
        assert_array_equal(cs_all.center_, cs_s.center_)
    # every training window, built by the sampler, is the materialised row, bit for bit
    series = np.repeat(np.arange(3), sampler.n_train)
    pos = np.concatenate([np.arange(c) for c in sampler.n_train])
    xs, ys = sampler.windows(series, pos)
    assert xs.dtype == x_all.dtype and ys.dtype == y_all.dtype
    assert_array_equal(xs, x_all)
    assert_array_equal(ys, y_all)
    # validation windows below their own bound (budget // 4) are all of them, in the same order
    assert_array_equal(val_s[0], val_all[0])
    assert_array_equal(val_s[1], val_all[1])


def test_an_epoch_covers_every_series_and_no_window_twice_and_is_reproducible():
    zs, _ = _panel(12)
    p = _params()
    budget = 60
    sampler = network.training_data(zs, None, VAL, L, K, p, zs, budget=budget)[0]
    s1, pos1 = sampler.positions(np.random.default_rng(5))
    assert len(s1) == budget == len(sampler)
    assert set(s1.tolist()) == set(range(12))  # every series, every epoch
    assert np.all((pos1 >= 0) & (pos1 < sampler.n_train[s1]))
    assert len(set(zip(s1.tolist(), pos1.tolist(), strict=True))) == budget  # no window twice
    # a series' share follows its number of training windows (largest remainders)
    counts = np.bincount(s1, minlength=12)
    share = sampler.n_train * budget / sampler.n_train.sum()
    assert np.all(np.abs(counts - share) < 1)
    # the same generator state, the same windows; the next epoch, others
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    xa, ya = sampler.epoch(rng_a)
    xb, yb = sampler.epoch(rng_b)
    assert_array_equal(xa, xb)
    assert_array_equal(ya, yb)
    x2, _ = sampler.epoch(rng_a)
    assert x2.shape == xa.shape and not np.array_equal(x2, xa)
    # over epochs every training window of a series is reachable: the strata cover its windows
    seen = set()
    rng = np.random.default_rng(0)
    for _ in range(200):
        s, pos = sampler.positions(rng)
        seen.update(zip(s.tolist(), pos.tolist(), strict=True))
    assert len(seen) == sampler.n_windows


def test_the_arrays_built_do_not_grow_with_the_number_of_series_past_the_budget():
    p = _params()
    budget = 120
    sizes = []
    for n_series in (10, 20, 40, 80):  # 242 to 1,940 training windows, all past the budget
        zs, covs = _panel(n_series, seed=n_series)
        assert _n_train(zs) > budget
        sampler, _, (x_va, y_va), _, _ = network.training_data(zs, covs, VAL, L, K, p, zs, budget=budget)
        x, y = sampler.epoch(np.random.default_rng(0))
        sizes.append((x.nbytes, y.nbytes))
        assert len(x) == budget == len(y)
        # validation windows: all of them up to budget // 4, else about that many, one per
        # series at least
        assert len(x_va) == len(y_va) == min(n_series * VAL, max(budget // 4, n_series))
    assert len(set(sizes)) == 1


def test_training_data_past_the_budget_still_names_a_series_without_training_windows():
    zs, _ = _panel(6)
    zs[4] = zs[4][: L + K + VAL - 1]
    with pytest.raises(ValueError, match="val_size: leaves series 4 no training windows"):
        network.training_data(zs, None, VAL, L, K, _params(), zs, budget=10)


def test_train_networks_on_a_sampler_is_reproducible_and_takes_its_sizes_from_the_budget():
    zs, covs = _panel(9)
    p = _params(n_models=2, dtype=np.float64)
    sampler, y, val, _, _ = network.training_data(zs, covs, VAL, L, K, p, zs, budget=64)
    a_models, a_hist, epochs, batch = network.train_networks(sampler, y, val, [1, 2, 3, 4], p)
    b_models, _, _, _ = network.train_networks(sampler, y, val, [1, 2, 3, 4], p)
    assert (epochs, batch) == (1, 16)  # epochs as given, 16 of the 64 windows a batch
    for ma, mb in zip(a_models, b_models, strict=True):
        sa, sb = ma.state_dict(), mb.state_dict()
        for k in sa:
            assert_array_equal(sa[k], sb[k])
    assert a_models[0].get_config()["input_size"] == 3  # the value and two covariates
    assert all(len(h.loss) == 1 and np.isfinite(h.loss[0]) for h in a_hist)
    c_models = network.train_networks(sampler, y, val, [1, 9, 3, 4], p)[0]
    assert any(not np.array_equal(a_models[0].state_dict()[k], c_models[0].state_dict()[k]) for k in sa)


def test_a_forecaster_past_the_budget_fits_and_predicts_reproducibly(monkeypatch):
    r = np.random.default_rng(3)
    t = np.arange(60)
    y = [10 + np.sin(2 * np.pi * (t + i) / 12) + 0.1 * r.normal(size=60) for i in range(8)]
    monkeypatch.setattr(network, "WINDOW_BUDGET", 40)
    built = []
    real = network.WindowSampler.epoch

    def spy(self, rng):
        x, yy = real(self, rng)
        built.append(len(x))
        return x, yy

    monkeypatch.setattr(network.WindowSampler, "epoch", spy)
    kw = {"horizon": 6, "hidden_size": 4, "epochs": 2, "n_models": 1, "seed": 1}
    f1 = Forecaster(**kw).fit(y)
    assert built and set(built) == {40}  # every epoch of every fit: 40 windows, not all of them
    p1 = f1.predict()
    p2 = Forecaster(**kw).fit(y).predict()
    for a, b in zip(p1, p2, strict=True):
        assert_array_equal(a, b)
        assert np.all(np.isfinite(a))


# ------------------------------------------------------------------ the Trainer's EpochSource
class _Shifts(EpochSource):
    """Sequences of a fixed array shifted by a random offset each epoch."""

    def __init__(self, n=24, bad=False):
        self.base = np.random.default_rng(0).normal(size=(n + 10, 2))
        self.n, self.bad = n, bad
        self.calls = 0

    def epoch(self, rng):
        self.calls += 1
        off = rng.integers(0, 10, size=self.n)
        x = np.stack([self.base[o : o + 6] for o in off])
        y = x[:, -1, :1] * 0.5 + x[:, 0, 1:] * 0.25
        return (x[:, :, :1] if self.bad else x), y

    def fingerprint(self):
        return "shifts" + str(self.base.sum())


def _model(seed):
    m = fastlstm.LSTMRegressor(2, 1, hidden_size=3, seed=seed, dtype=np.float64)
    opt = fastlstm.AdamW(m.parameters(), lr=0.01)
    return m, opt, fastlstm.CosineAnnealingLR(opt, T_max=4)


def test_a_trainer_on_a_source_draws_every_epoch_and_resumes_bit_for_bit(tmp_path):
    src = _Shifts()
    m, opt, sched = _model(0)
    ck = CheckpointCallback(tmp_path / "e{epoch}.npz")
    tr = fastlstm.Trainer(m, "mse", opt, sched, epochs=4, batch_size=8, seed=3, callbacks=[ck])
    full = tr.fit(src)
    assert src.calls == 1 + 4  # the shape check's draw, then one per epoch
    assert len(full.loss) == 4 and len(set(full.loss)) == 4
    assert sorted(os.listdir(tmp_path)) == [f"e{e}.npz" for e in range(4)]
    m2, opt2, sched2 = _model(99)
    fastlstm.Trainer(m2, "mse", opt2, sched2, epochs=4, batch_size=8, seed=77).fit(
        _Shifts(), resume_from=tmp_path / "e1.npz"
    )
    for k, v in m.state_dict().items():
        assert_array_equal(v, m2.state_dict()[k])
    # another source's data: refused
    other = _Shifts(n=25)
    m3, opt3, sched3 = _model(0)
    with pytest.raises(ValueError, match="other data"):
        fastlstm.Trainer(m3, "mse", opt3, sched3, epochs=4, batch_size=8, seed=3).fit(
            other, resume_from=tmp_path / "e1.npz"
        )


def test_a_trainer_on_a_source_refuses_what_does_not_apply_and_bad_draws():
    m, opt, sched = _model(0)
    tr = fastlstm.Trainer(m, "mse", opt, sched, epochs=2, batch_size=8, seed=3)
    with pytest.raises(ValueError, match="y: expected None with an EpochSource"):
        tr.fit(_Shifts(), np.zeros((24, 1)))
    with pytest.raises(ValueError, match="val_split: expected None with an EpochSource"):
        tr.fit(_Shifts(), val_split=0.25)
    with pytest.raises(TypeError, match="y: expected the targets"):
        tr.fit(np.zeros((4, 6, 2)))
    with pytest.raises(ValueError, match=r"x: expected shape \(N, T, 2\)"):
        tr.fit(_Shifts(bad=True))
