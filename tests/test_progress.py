"""Progress of long fits (issue 19): one bar over the whole fit (the series, the network being
trained, epochs, the loss), on stderr when it is a terminal; never in a log or a pipe; quiet by
default in Python."""

from __future__ import annotations

import io

import numpy as np
import pytest

from fastlstm.forecast import Forecaster
from fastlstm.train.callbacks import ProgressBar

KW = {"lookback": 6, "horizon": 3, "epochs": 2, "n_models": 2, "hidden_size": 4, "seed": 0}


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _panel():
    rng = np.random.default_rng(0)
    return [50 + np.cumsum(rng.normal(size=n)) for n in (60, 50, 40)]


def test_the_bar_follows_the_whole_fit_on_a_terminal(monkeypatch):
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    f = Forecaster(verbose=True, **KW).fit(_panel())
    out = term.getvalue()
    assert "fastlstm: 3 series" in out
    # the back-test's networks and the final ones, each with its epochs, and the loss
    assert "back-test network 2/2" in out and "final fit network 2/2" in out and "loss" in out
    assert f"{4 * KW['epochs']}/{4 * KW['epochs']}" in out  # every epoch counted
    g = Forecaster(**KW).fit(_panel())  # the bar changes nothing
    for a, b in zip(f.predict(), g.predict(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not hasattr(f.candidates_["network"], "bar")  # no open file kept (fitted forecasters pickle)


def test_no_bar_when_stderr_is_not_a_terminal(monkeypatch):
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    Forecaster(verbose=True, **KW).fit(_panel())
    assert pipe.getvalue() == ""


def test_quiet_by_default(monkeypatch):
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    Forecaster(**KW).fit(_panel())
    assert term.getvalue() == ""


def test_progress_bar_directly():
    assert not ProgressBar(file=io.StringIO()).shown
    term = Terminal()
    bar = ProgressBar("demo", file=term)
    assert bar.shown
    bar.stage("one", 3)
    bar.close()
    assert "demo" in term.getvalue() and "one" in term.getvalue()


def test_former_name_progress_still_works():
    with pytest.warns(DeprecationWarning, match="'progress' is renamed 'verbose'"):
        f = Forecaster(progress=True)
    assert f.verbose is True
