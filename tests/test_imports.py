"""What ``import fastlstm`` loads: the library, not its doors (the command line, the evaluation
on textbook series, MPI, the benchmarks, the adapters); the module paths of fastlstm 0.1 still
import, on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import sys
import fastlstm
loaded = sorted(m for m in sys.modules if m.startswith("fastlstm"))
print(" ".join(loaded))
THIRD = ("mpi4py", "pandas", "torch", "sktime", "statsforecast", "dask")
print(" ".join(m for m in THIRD if m in sys.modules))
"""

NOT_AT_IMPORT = (
    "fastlstm.cli",
    "fastlstm.forecast.evaluate",
    "fastlstm.train.distributed",
    "fastlstm.bench",
    "fastlstm.sktime",
    "fastlstm.torch",
)


def test_import_fastlstm_loads_no_door():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    fastlstm_modules, third_party = (line.split() for line in out.splitlines())
    for name in NOT_AT_IMPORT:
        assert not any(m == name or m.startswith(name + ".") for m in fastlstm_modules), name
    assert third_party == []


@pytest.mark.parametrize(
    "old, new",
    [("training", "train.trainer"), ("evaluate", "forecast.evaluate"), ("distributed", "train.distributed")],
)
def test_old_module_paths_import_the_moved_modules(old, new):
    code = (
        "import importlib, sys, fastlstm\n"
        f"a = importlib.import_module('fastlstm.{old}')\n"
        f"assert a is importlib.import_module('fastlstm.{new}') is getattr(fastlstm, '{old}')\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ok"
