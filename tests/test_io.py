"""The checkpoint format: round trips, atomic writes, and every way a file can be bad."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from fastlstm.nn import LSTMRegressor
from fastlstm.nn.lstm import LSTM
from fastlstm.train import io


def test_round_trip_arrays_and_config(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b.c/d": np.array([1.5]), "i": np.arange(3)}
    path = io.save_checkpoint(
        tmp_path / "x.npz", "thing", arrays, {"n": 3, "name": "é", "nested": {"v": [1, 2]}}
    )
    ck = io.load_checkpoint(path, kind="thing")
    assert ck.kind == "thing" and ck.version == io.VERSION
    assert ck.config == {"n": 3, "name": "é", "nested": {"v": [1, 2]}}
    assert set(ck.arrays) == set(arrays)
    for k, v in arrays.items():
        np.testing.assert_array_equal(ck.arrays[k], v)
        assert ck.arrays[k].dtype == v.dtype


def test_the_documented_layout(tmp_path):
    path = tmp_path / "x.npz"
    io.save_checkpoint(path, "thing", {"w": np.ones(2)}, {"k": 1})
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["__fastlstm__.npy", "w.npy"]
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(npz["__fastlstm__"].tobytes().decode("utf-8"))
    assert meta["format"] == "fastlstm-checkpoint" and meta["version"] == 1 and meta["kind"] == "thing"
    assert meta["config"] == {"k": 1} and meta["arrays"]["w"]["shape"] == [2]


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    io.save_checkpoint(path, "thing", {"w": np.ones(3)})
    old = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        io.save_checkpoint(path, "thing", {"w": np.zeros(3)})
    assert path.read_bytes() == old  # the old checkpoint survives a failed write
    assert os.listdir(tmp_path) == ["model.npz"]
    monkeypatch.undo()
    io.save_checkpoint(path, "thing", {"w": np.zeros(3)})
    np.testing.assert_array_equal(io.load_checkpoint(path).arrays["w"], 0)
    assert os.listdir(tmp_path) == ["model.npz"]


def test_fsync_calls(tmp_path, monkeypatch):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    io.save_checkpoint(tmp_path / "x.npz", "thing", {"w": np.ones(1)})
    assert len(calls) == 2  # the file, then its directory


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage", "npy"])
def test_damaged_files_raise_value_error(tmp_path, damage):
    path = tmp_path / "x.npz"
    io.save_checkpoint(path, "thing", {"w": np.arange(1000.0)}, {"k": 1})
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":  # corrupt array bytes: caught by the zip CRC
        b = bytearray(raw)
        b[2000] ^= 0xFF
        path.write_bytes(bytes(b))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(b"not a checkpoint at all" * 10)
    else:
        with open(path, "wb") as fh:
            np.save(fh, np.ones(3))
    with pytest.raises(ValueError, match=str(path)):
        io.load_checkpoint(path)


def test_mismatches_raise_value_error(tmp_path):
    path = tmp_path / "x.npz"
    io.save_checkpoint(path, "thing", {"w": np.ones(2)})
    with pytest.raises(ValueError, match="expected a checkpoint of kind 'forecaster', got 'thing'"):
        io.load_checkpoint(path, kind="forecaster")
    # a plain npz without metadata, one with another format or version, one with a missing array
    np.savez(tmp_path / "plain.npz", w=np.ones(2))
    with pytest.raises(ValueError, match="no '__fastlstm__' metadata"):
        io.load_checkpoint(tmp_path / "plain.npz")
    for meta, msg in [
        ({"format": "other"}, "expected format"),
        ({"format": io.FORMAT, "version": 99, "kind": "t", "arrays": {}}, "version 1, got 99"),
        (
            {"format": io.FORMAT, "version": 1, "kind": "t", "arrays": {"v": {"shape": [2], "dtype": "<f8"}}},
            "missing \\['v'\\]",
        ),
        (
            {"format": io.FORMAT, "version": 1, "kind": "t", "arrays": {"w": {"shape": [3], "dtype": "<f8"}}},
            "array 'w' expected shape \\(3,\\)",
        ),
    ]:
        raw = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(tmp_path / "m.npz", __fastlstm__=raw, w=np.ones(2))
        with pytest.raises(ValueError, match=msg):
            io.load_checkpoint(tmp_path / "m.npz")
    with pytest.raises(FileNotFoundError):
        io.load_checkpoint(tmp_path / "missing.npz")


def test_pickled_content_is_refused(tmp_path):
    np.savez(
        tmp_path / "p.npz",
        __fastlstm__=np.frombuffer(b"{}", np.uint8),
        obj=np.array([{"a": 1}], dtype=object),
    )
    with pytest.raises(ValueError, match="allow_pickle"):
        io.load_checkpoint(tmp_path / "p.npz")
    with pytest.raises(TypeError, match="numeric array"):
        io.save_checkpoint(tmp_path / "q.npz", "t", {"obj": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(TypeError, match="config: expected JSON-able"):
        io.save_checkpoint(tmp_path / "q.npz", "t", {}, {"f": object()})
    with pytest.raises(ValueError, match="keys"):
        io.save_checkpoint(tmp_path / "q.npz", "t", {"__x": np.ones(1)})


def test_save_and_load_a_layer_and_a_model(tmp_path):
    layer = LSTM(3, 4, num_layers=2, seed=1)
    io.save_module(tmp_path / "l.npz", layer, config={"input_size": 3})
    other = LSTM(3, 4, num_layers=2, seed=2)
    ck = io.load_module(tmp_path / "l.npz", other)
    assert ck.kind == "lstm" and ck.config == {"input_size": 3}
    for (_, a), (_, b) in zip(layer.named_parameters(), other.named_parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)

    m = LSTMRegressor(2, 3, hidden_size=5, seed=0)
    io.save_module(tmp_path / "m.npz", m)
    m2 = LSTMRegressor.from_config(io.load_checkpoint(tmp_path / "m.npz").config, seed=9)
    io.load_module(tmp_path / "m.npz", m2)
    x = np.random.default_rng(0).normal(size=(4, 6, 2)).astype(np.float32)
    np.testing.assert_array_equal(m.eval()(x), m2.eval()(x))
    with pytest.raises(ValueError, match="kind 'lstm', got 'lstmregressor'"):
        io.load_module(tmp_path / "m.npz", LSTM(2, 5))
    with pytest.raises(ValueError, match="expected shape"):
        io.load_module(tmp_path / "m.npz", LSTMRegressor(2, 3, hidden_size=6))
    with pytest.raises(ValueError, match="missing keys"):
        io.load_module(tmp_path / "m.npz", LSTMRegressor(2, 3, hidden_size=5, num_layers=2))


# ------------------------------------------------------- permissions of saved files
@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_files_get_the_mode_open_would_give(tmp_path, umask):
    from fastlstm._atomic import atomic_write

    old = os.umask(umask)
    try:
        io.save_checkpoint(tmp_path / "c.npz", "thing", {"w": np.ones(2)})
        with atomic_write(tmp_path / "t.txt", text=True) as fh:
            fh.write("é\n")
        with open(tmp_path / "plain", "wb"):
            pass
    finally:
        os.umask(old)
    want = os.stat(tmp_path / "plain").st_mode & 0o777
    assert want == 0o666 & ~umask
    for name in ("c.npz", "t.txt"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == want, name
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "é\n"
    assert sorted(os.listdir(tmp_path)) == ["c.npz", "plain", "t.txt"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_overwriting_keeps_the_targets_permissions(tmp_path):
    """As open(path, "w") on an existing file: a checkpoint made private stays private."""
    path = tmp_path / "c.npz"
    io.save_checkpoint(path, "thing", {"w": np.ones(2)})
    os.chmod(path, 0o640)
    old = os.umask(0o000)
    try:
        io.save_checkpoint(path, "thing", {"w": np.zeros(2)})
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o640
    np.testing.assert_array_equal(io.load_checkpoint(path).arrays["w"], 0)


def test_atomic_write_is_the_only_writer():
    """Every atomic write of the library goes through fastlstm._atomic (no mkstemp: its 0600)."""
    import pathlib

    import fastlstm

    root = pathlib.Path(fastlstm.__file__).parent
    for name in ("train/io.py", "train/checkpoint.py", "forecast/checkpoint.py", "forecast/forecaster.py"):
        text = (root / name).read_text(encoding="utf-8")
        assert "mkstemp" not in text and "NamedTemporaryFile" not in text, name
