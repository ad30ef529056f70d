"""Checkpoints: bit-exact round trips, checksums, refusing pickles, resuming training, kill-during-save.

The format itself (layout, atomic rename, fsync calls, damaged files) is pinned in
``test_io.py``; this file covers what the reliability issue adds on top of it.
"""

from __future__ import annotations

import io as _pyio
import json
import os
import pathlib
import pickle
import random
import signal
import struct
import time
import zipfile

import numpy as np
import pytest

import fastlstm
from fastlstm import cli, io
from fastlstm.train.trainer import CheckpointCallback


def _same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _assert_same_state(m1, m2):
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert set(s1) == set(s2)
    for k in s1:
        assert _same_bits(s1[k], s2[k]), k


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_round_trip_is_bit_exact(tmp_path, dtype):
    layer = fastlstm.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=dtype, seed=1)
    for p in layer.parameters():  # values whose bits are easy to lose: -0.0, subnormals, extremes
        p.data.flat[0] = -0.0
        p.data.flat[1] = np.finfo(dtype).tiny / 4
        p.data.flat[2] = np.finfo(dtype).max
    io.save_module(tmp_path / "l.npz", layer)
    other = fastlstm.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=dtype, seed=2)
    io.load_module(tmp_path / "l.npz", other)
    _assert_same_state(layer, other)


def test_arbitrary_arrays_round_trip_bit_for_bit(tmp_path):
    nan_payload = np.array([0x7FF8DEADBEEF0001], dtype=np.uint64).view(np.float64)
    arrays = {
        "nan_payload": nan_payload,
        "inf": np.array([np.inf, -np.inf], np.float32),
        "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        "view": np.arange(20.0)[::3],
        "empty": np.zeros((0, 3)),
        "scalar": np.array(2.5),
        "bool": np.array([True, False]),
        "complex": np.array([1 + 2j]),
        "big_endian": np.arange(4, dtype=">f8"),
    }
    io.save_checkpoint(tmp_path / "a.npz", "t", arrays)
    got = io.load_checkpoint(tmp_path / "a.npz").arrays
    for k, v in arrays.items():
        assert got[k].shape == v.shape and got[k].dtype == v.dtype, k
        assert np.ascontiguousarray(got[k]).tobytes() == np.ascontiguousarray(v).tobytes(), k


@pytest.mark.parametrize(
    "opt_cls, kwargs", [(fastlstm.Adam, {"amsgrad": True}), (fastlstm.SGD, {"momentum": 0.9})]
)
def test_model_and_optimizer_round_trip_continue_identically(tmp_path, opt_cls, kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5, 2))
    y = rng.normal(size=(16, 3))

    def make():
        m = fastlstm.LSTMRegressor(2, 3, hidden_size=4, seed=0, dtype=np.float64)
        return m, opt_cls(m.parameters(), lr=0.01, **kwargs)

    def steps(m, opt, n):
        loss = fastlstm.MSELoss()
        for _ in range(n):
            pred = m.forward(x)
            loss.forward(pred, y)
            opt.zero_grad()
            m.backward(loss.backward())
            opt.step()

    m1, o1 = make()
    steps(m1, o1, 3)
    io.save_module(tmp_path / "m.npz", m1)
    io.save_optimizer(tmp_path / "o.npz", o1)
    m2, o2 = make()
    io.load_module(tmp_path / "m.npz", m2)
    io.load_optimizer(tmp_path / "o.npz", o2)
    _assert_same_state(m1, m2)
    steps(m1, o1, 2)
    steps(m2, o2, 2)
    _assert_same_state(m1, m2)


def test_forecaster_round_trip_predicts_bit_identically(tmp_path):
    t = np.arange(89.0)
    y = (50 + 10 * np.sin(t / 4) + 0.3 * t)[:76]
    X = np.stack([np.sin(t / 6), np.cos(t / 6)], axis=1)
    f = fastlstm.Forecaster(lookback=8, horizon=4, hidden_size=6, epochs=3, n_models=2, scaler="robust")
    f.fit(y, X=X[:76], val_size=4)
    f.save(tmp_path / "f.npz")
    g = fastlstm.Forecaster.load(tmp_path / "f.npz")
    assert g.get_params() == f.get_params()
    fn, gn = f.candidates_["network"], g.candidates_["network"]
    for a, b in zip(fn.scalers_ + [fn.cov_scaler_], gn.scalers_ + [gn.cov_scaler_], strict=True):
        assert type(a) is type(b) and _same_bits(a.center_, b.center_) and _same_bits(a.scale_, b.scale_)
    assert _same_bits(f.predict(X_future=X[76:80]), g.predict(X_future=X[76:80]))
    assert _same_bits(f.predict(h=9, X_future=X[76:85]), g.predict(h=9, X_future=X[76:85]))
    assert _same_bits(gn.scalers_[0].transform(y), fn.scalers_[0].transform(y))
    for m1, m2 in zip(fn.models_, gn.models_, strict=True):
        _assert_same_state(m1, m2)


def test_every_new_array_has_a_checksum(tmp_path):
    io.save_checkpoint(tmp_path / "a.npz", "t", {"w": np.arange(3.0)})
    with np.load(tmp_path / "a.npz", allow_pickle=False) as npz:
        meta = json.loads(npz["__fastlstm__"].tobytes())
    assert len(meta["arrays"]["w"]["sha256"]) == 64


# ------------------------------------------------------- corrupted and mismatched
def _rewrite_member(path, name, array):
    """Replace one .npy member by another array, keeping a valid zip (CRCs recomputed)."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    buf = _pyio.BytesIO()
    np.save(buf, array)
    members[name] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def test_a_swapped_member_with_a_valid_zip_crc_is_caught_by_the_checksum(tmp_path):
    path = tmp_path / "m.npz"
    layer = fastlstm.LSTM(2, 3, seed=0)
    io.save_module(path, layer)
    forged = layer.weight_hh_l0.data.copy()
    forged[0, 0] += 1.0  # same shape and dtype, one value changed
    _rewrite_member(path, "weight_hh_l0.npy", forged)
    with pytest.raises(ValueError, match="'weight_hh_l0' does not match its checksum"):
        io.load_module(path, fastlstm.LSTM(2, 3))


def test_files_without_checksums_still_load(tmp_path):
    """Version-1 files written before the checksum field are verified by shape, dtype and zip CRC."""
    meta = {
        "format": io.FORMAT,
        "version": 1,
        "kind": "t",
        "config": {},
        "arrays": {"w": {"shape": [2], "dtype": "<f8"}},
    }
    np.savez(
        tmp_path / "old.npz", __fastlstm__=np.frombuffer(json.dumps(meta).encode(), np.uint8), w=np.ones(2)
    )
    np.testing.assert_array_equal(io.load_checkpoint(tmp_path / "old.npz").arrays["w"], 1.0)


def test_truncation_anywhere_is_an_error(tmp_path):
    path = tmp_path / "m.npz"
    io.save_module(path, fastlstm.LSTMRegressor(2, 3, hidden_size=4, seed=0))
    raw = path.read_bytes()
    cut = tmp_path / "cut.npz"
    for n in list(range(0, len(raw), max(1, len(raw) // 97))) + [len(raw) - 1]:
        cut.write_bytes(raw[:n])
        with pytest.raises(ValueError, match="cut.npz"):
            io.load_checkpoint(cut)


@pytest.mark.parametrize(
    "meta",
    [
        {"format": io.FORMAT, "version": 1, "kind": 5, "arrays": {}},
        {"format": io.FORMAT, "version": 1, "kind": "t", "arrays": []},
        {"format": io.FORMAT, "version": 1, "kind": "t", "arrays": {}, "config": [1]},
        {"format": io.FORMAT, "version": 1, "kind": "t", "arrays": {"w": 3}},
        {"format": io.FORMAT, "version": 1, "kind": "t", "arrays": {"w": {"shape": 2, "dtype": "<f8"}}},
        [1, 2],
    ],
    ids=["kind", "arrays", "config", "spec", "shape", "list"],
)
def test_malformed_metadata_is_a_value_error(tmp_path, meta):
    np.savez(
        tmp_path / "m.npz", __fastlstm__=np.frombuffer(json.dumps(meta).encode(), np.uint8), w=np.ones(2)
    )
    with pytest.raises(ValueError, match="m.npz"):
        io.load_checkpoint(tmp_path / "m.npz")


def test_a_non_npy_member_is_a_value_error(tmp_path):
    path = tmp_path / "m.npz"
    io.save_checkpoint(path, "t", {"w": np.ones(2)})
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("notes.txt", b"hello")
    with pytest.raises(ValueError, match="'notes.txt' is not a .npy array"):
        io.load_checkpoint(path)


def test_mismatched_checkpoints_are_refused(tmp_path):
    io.save_module(tmp_path / "lstm.npz", fastlstm.LSTM(3, 4, seed=0))
    with pytest.raises(ValueError, match="expected shape"):
        io.load_module(tmp_path / "lstm.npz", fastlstm.LSTM(3, 5))
    with pytest.raises(ValueError, match="missing keys"):
        io.load_module(tmp_path / "lstm.npz", fastlstm.LSTM(3, 4, num_layers=2))
    with pytest.raises(ValueError, match="kind 'forecaster', got 'lstm'"):
        fastlstm.Forecaster.load(tmp_path / "lstm.npz")
    m = fastlstm.LSTMRegressor(2, 1, hidden_size=3)
    io.save_optimizer(tmp_path / "adam.npz", fastlstm.Adam(m.parameters()))
    with pytest.raises(ValueError, match="state of a SGD, got one of a Adam"):
        io.load_optimizer(tmp_path / "adam.npz", fastlstm.SGD(m.parameters()))
    with pytest.raises(ValueError, match="kind 'trainer', got 'optimizer'"):
        fastlstm.Trainer(m, epochs=1).fit(
            np.ones((4, 3, 2)), np.ones((4, 1)), resume_from=tmp_path / "adam.npz"
        )


def test_forecaster_checkpoint_with_an_extra_model_is_refused(tmp_path):
    f = fastlstm.Forecaster(lookback=4, horizon=2, hidden_size=3, epochs=1, n_models=1).fit(
        np.arange(1.0, 20.0)
    )
    f.save(tmp_path / "f.npz")
    ck = io.load_checkpoint(tmp_path / "f.npz")
    arrays = dict(ck.arrays)
    arrays.update(
        {k.replace("model0.", "model1."): v for k, v in ck.arrays.items() if k.startswith("model0.")}
    )
    io.save_checkpoint(tmp_path / "g.npz", "forecaster", arrays, ck.config)
    with pytest.raises(ValueError, match="unexpected arrays"):
        fastlstm.Forecaster.load(tmp_path / "g.npz")


def test_save_into_a_missing_directory_fails_before_writing(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        io.save_checkpoint(tmp_path / "nope" / "x.npz", "t", {"w": np.ones(1)})
    with pytest.raises(IsADirectoryError):
        io.save_checkpoint(tmp_path, "t", {"w": np.ones(1)})
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------- never executes code
class _Touch:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_loading_never_unpickles(tmp_path):
    marker = tmp_path / "code-ran"
    evil = np.empty(1, dtype=object)
    evil[0] = _Touch(str(marker))
    meta = {"format": io.FORMAT, "version": 1, "kind": "forecaster", "config": {}, "arrays": {}}
    np.savez(tmp_path / "npz.npz", __fastlstm__=np.frombuffer(json.dumps(meta).encode(), np.uint8), w=evil)
    (tmp_path / "raw.npz").write_bytes(pickle.dumps(_Touch(str(marker))))
    for name in ("npz.npz", "raw.npz"):
        with pytest.raises(ValueError, match="not a valid fastlstm checkpoint"):
            io.load_checkpoint(tmp_path / name)
        with pytest.raises(ValueError):
            fastlstm.Forecaster.load(tmp_path / name)
        assert cli.main(["predict", "--model", str(tmp_path / name)]) == 1
    assert not marker.exists()
    # the pickle really would have run: loading it unsafely creates the marker
    pickle.loads((tmp_path / "raw.npz").read_bytes())
    assert marker.exists()


# --------------------------------------------------------------- resumed training
def _problem(dropout=0.3):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6, 2)), rng.normal(size=(40, 3))
    val = (rng.normal(size=(8, 6, 2)), rng.normal(size=(8, 3)))

    def make(seed):
        m = fastlstm.LSTMRegressor(
            2, 3, hidden_size=5, num_layers=2, dropout=dropout, seed=seed, dtype=np.float64
        )
        opt = fastlstm.AdamW(m.parameters(), lr=0.01)
        return m, opt, fastlstm.CosineAnnealingLR(opt, T_max=5)

    return x, y, val, make


def _trainer(m, opt, sched, seed, **kw):
    kw = {"epochs": 5, "batch_size": 8, "clip_norm": 1.0, "patience": 10, **kw}
    return fastlstm.Trainer(m, "huber", opt, sched, seed=seed, **kw)


def test_resumed_training_equals_uninterrupted_training_bit_for_bit(tmp_path):
    """Dropout masks, shuffling, a schedule, clipping, AdamW moments and best-weight
    restore all continue exactly from each epoch's checkpoint."""
    x, y, val, make = _problem()
    m, opt, sched = make(seed=0)
    tr = _trainer(m, opt, sched, seed=3, callbacks=[CheckpointCallback(tmp_path / "e{epoch}.npz")])
    full = tr.fit(x, y, validation_data=val)
    assert sorted(os.listdir(tmp_path)) == [f"e{e}.npz" for e in range(5)]
    for e in (0, 2, 4):
        m2, opt2, sched2 = make(seed=99)  # other initial weights and batch seed: all restored
        tr2 = _trainer(m2, opt2, sched2, seed=12345)
        resumed = tr2.fit(x, y, validation_data=val, resume_from=tmp_path / f"e{e}.npz")
        _assert_same_state(m, m2)
        assert resumed.loss == full.loss and resumed.val_loss == full.val_loss
        assert resumed.lr == full.lr and resumed.best_epoch == full.best_epoch
        assert tr2.global_step == tr.global_step and opt2.step_count == opt.step_count
        assert opt2.lr == opt.lr


def test_resume_after_a_crash_mid_training(tmp_path):
    """A run killed by an exception after epoch 1's checkpoint resumes to the same weights."""
    x, y, val, make = _problem()
    m, opt, sched = make(seed=0)
    _trainer(m, opt, sched, seed=3).fit(x, y, validation_data=val)

    class Crash(fastlstm.Callback):
        def on_epoch_end(self, trainer, logs):
            if logs["epoch"] == 1:
                raise KeyboardInterrupt

    m2, opt2, sched2 = make(seed=0)
    ck = CheckpointCallback(tmp_path / "run.npz")
    with pytest.raises(KeyboardInterrupt):
        _trainer(m2, opt2, sched2, seed=3, callbacks=[ck, Crash()]).fit(x, y, validation_data=val)
    m3, opt3, sched3 = make(seed=0)
    _trainer(m3, opt3, sched3, seed=3).fit(x, y, validation_data=val, resume_from=tmp_path / "run.npz")
    _assert_same_state(m, m3)


def test_resume_with_tbptt_and_plateau_schedule(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 8, 2)), rng.normal(size=(12, 8, 1))

    def make():
        m = fastlstm.LSTMRegressor(2, 1, hidden_size=4, head="all", seed=0, dtype=np.float64)
        opt = fastlstm.SGD(m.parameters(), lr=0.05, momentum=0.9)
        return m, opt, fastlstm.ReduceLROnPlateau(opt, patience=0, factor=0.5)

    m, opt, s = make()
    cb = CheckpointCallback(tmp_path / "c.npz", every=2)
    fastlstm.Trainer(m, "mse", opt, s, epochs=4, batch_size=5, seed=0, tbptt=3, callbacks=[cb]).fit(x, y)
    m2, opt2, s2 = make()
    fastlstm.Trainer(m2, "mse", opt2, s2, epochs=4, batch_size=5, seed=0, tbptt=3).fit(
        x, y, resume_from=tmp_path / "c.npz"
    )
    _assert_same_state(m, m2)
    assert s2.state_dict() == s.state_dict()


def test_resume_refuses_other_data_settings_or_models(tmp_path):
    x, y, val, make = _problem(dropout=0.0)
    m, opt, sched = make(seed=0)
    tr = _trainer(m, opt, sched, seed=3, epochs=2)
    tr.fit(x, y, validation_data=val)
    tr.save_checkpoint(tmp_path / "c.npz")
    m2, opt2, sched2 = make(seed=0)
    with pytest.raises(ValueError, match="other data"):
        _trainer(m2, opt2, sched2, seed=3).fit(x + 1, y, validation_data=val, resume_from=tmp_path / "c.npz")
    with pytest.raises(ValueError, match="batch_size: saved 8, now 4"):
        _trainer(m2, opt2, sched2, seed=3, batch_size=4).fit(
            x, y, validation_data=val, resume_from=tmp_path / "c.npz"
        )
    with pytest.raises(ValueError, match="scheduler: saved 'CosineAnnealingLR', now None"):
        _trainer(m2, opt2, None, seed=3).fit(x, y, validation_data=val, resume_from=tmp_path / "c.npz")
    m3 = fastlstm.LSTMRegressor(2, 3, hidden_size=6, num_layers=2, seed=0, dtype=np.float64)
    opt3 = fastlstm.AdamW(m3.parameters(), lr=0.01)
    with pytest.raises(ValueError, match="expected shape"):
        _trainer(m3, opt3, fastlstm.CosineAnnealingLR(opt3, T_max=5), seed=3).fit(
            x, y, validation_data=val, resume_from=tmp_path / "c.npz"
        )
    with pytest.raises(RuntimeError, match="call fit first"):
        fastlstm.Trainer(m2).save_checkpoint(tmp_path / "d.npz")


def test_resume_from_a_run_that_stopped_early_trains_no_further(tmp_path):
    x, y, val, make = _problem(dropout=0.0)
    m, opt, _ = make(seed=0)
    opt.lr = 0.5  # bouncing validation loss: patience 0 stops early
    tr = _trainer(
        m, opt, None, seed=3, patience=0, epochs=8, callbacks=[CheckpointCallback(tmp_path / "c.npz")]
    )
    h = tr.fit(x, y, validation_data=val)
    assert h.stopped_early and h.epochs < 8
    m2, opt2, _ = make(seed=0)
    h2 = _trainer(m2, opt2, None, seed=3, patience=0, epochs=8).fit(
        x, y, validation_data=val, resume_from=tmp_path / "c.npz"
    )
    assert h2.stopped_early and h2.loss == h.loss
    _assert_same_state(m, m2)


# ------------------------------------------------------------- kill during save
def _writer_loop(path: str, fd: int, n: int) -> None:
    """Child: overwrite ``path`` with checkpoint i = 1, 2, ... forever, reporting each."""
    i = 0
    while True:
        i += 1
        big = np.full(n, float(i))
        io.save_checkpoint(path, "stress", {"big": big, "tail": big[-7:]}, {"i": i})
        os.write(fd, struct.pack("<I", i))


def _read_reports(fd: int) -> list[int]:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    return [v for (v,) in struct.iter_unpack("<I", data[: len(data) // 4 * 4])]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_sigkill_during_save_leaves_the_previous_checkpoint_intact(tmp_path):
    """A writer process is SIGKILLed at random moments while it overwrites a 4 MB
    checkpoint; every time, the file on disk loads and is one complete version."""
    path = str(tmp_path / "ckpt.npz")
    n = 500_000  # 4 MB of float64
    rnd = random.Random(1234)
    last_seen, rounds = 0, 0
    while rounds < 10 or (_interrupted(tmp_path) < 4 and rounds < 40):
        rounds += 1
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: never returns into pytest
            try:
                os.close(r)
                _writer_loop(path, w, n)
            finally:
                os._exit(0)
        os.close(w)
        first = os.read(r, 4)  # at least one complete write of this child
        assert len(first) == 4
        time.sleep(rnd.uniform(0.0, 0.08))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        done = struct.unpack("<I", first)[0:1] + tuple(_read_reports(r))
        os.close(r)
        ck = io.load_checkpoint(path, kind="stress")
        i = ck.config["i"]
        # the last reported version, or the next one if the kill came between rename and report
        assert i in (done[-1], done[-1] + 1), (i, done[-1])
        assert (
            ck.arrays["big"].shape == (n,)
            and np.all(ck.arrays["big"] == i)
            and np.all(ck.arrays["tail"] == i)
        )
        last_seen = max(last_seen, i)
    assert last_seen >= 1
    # kills did land mid-write (each left its temporary file); nothing else is left
    assert _interrupted(tmp_path) >= 1
    assert sorted(os.listdir(tmp_path))[-1] == "ckpt.npz"


def _interrupted(directory) -> int:
    """Temporary files left by writes that were killed before their rename."""
    names = [f for f in os.listdir(directory) if f != "ckpt.npz"]
    assert all(f.startswith(".ckpt.npz.") and f.endswith(".tmp") for f in names), names
    return len(names)


# ------------------------------------------------------- permissions of saved files
@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    """Run the test under a umask (restored after); the saved files must follow it."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path) -> int:
    return os.stat(path).st_mode & 0o777


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_saved_files_follow_the_umask(tmp_path, umask):
    """Layer, model and trainer checkpoints and Forecaster.save get 0o666 & ~umask, as open()
    would give them (0o644 under 022, 0o600 under 077), not mkstemp's 0o600."""
    want = 0o666 & ~umask
    assert want == {0o022: 0o644, 0o077: 0o600}[umask]
    layer = fastlstm.LSTM(2, 3, seed=0)
    io.save_module(tmp_path / "layer.npz", layer)
    x, y, val, make = _problem()
    m, opt, sched = make(seed=0)
    io.save_module(tmp_path / "model.npz", m)
    tr = _trainer(m, opt, sched, seed=3, epochs=1, callbacks=[CheckpointCallback(tmp_path / "cb{epoch}.npz")])
    tr.fit(x, y, validation_data=val)
    tr.save_checkpoint(tmp_path / "trainer.npz")
    t = np.arange(40.0)
    f = fastlstm.Forecaster(lookback=6, horizon=2, hidden_size=3, epochs=1, n_models=1)
    f.fit(10 + np.sin(t / 3) + 0.1 * t)
    f.save(tmp_path / "forecaster.npz")
    names = ["layer.npz", "model.npz", "cb0.npz", "trainer.npz", "forecaster.npz"]
    assert sorted(os.listdir(tmp_path)) == sorted(names)
    for name in names:
        assert _mode(tmp_path / name) == want, (name, oct(_mode(tmp_path / name)), oct(want))
    io.load_module(tmp_path / "layer.npz", fastlstm.LSTM(2, 3, seed=1))  # still readable
    fastlstm.Forecaster.load(tmp_path / "forecaster.npz")
