"""The package's layout (docs/architecture.md): imports run one way, old module paths still work."""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest

import fastlstm

PACKAGE = pathlib.Path(fastlstm.__file__).parent

#: Each subpackage, and the subpackages it may import (besides the top-level private
#: helpers ``_validation``, ``_config``, ``_threads``, ``_optional``). A room never imports a
#: room above it: forecast -> train -> nn -> kernels.
ALLOWED = {
    "kernels": set(),
    "nn": {"kernels"},
    "train": {"nn", "kernels"},
    "forecast": {"train", "nn", "kernels"},
}


def _imported_rooms(path: pathlib.Path) -> set[str]:
    """The first-level names of fastlstm that a module imports (relative or absolute)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.split(".")[:-1]  # for __init__.py too: its package is the one it opens
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
                names = [target + [a.name] for a in node.names] if not node.module else [target]
            elif node.module and node.module.split(".")[0] == "fastlstm":
                names = [node.module.split(".")]
            else:
                continue
        elif isinstance(node, ast.Import):
            names = [a.name.split(".") for a in node.names if a.name.split(".")[0] == "fastlstm"]
        else:
            continue
        rooms.update(n[1] for n in names if len(n) > 1)
    return rooms


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_imports_run_one_way(room):
    """No module of a subpackage imports a subpackage above it (or the CLI and adapters)."""
    private = {p.stem for p in PACKAGE.glob("_*.py")}
    for path in sorted((PACKAGE / room).rglob("*.py")):
        found = _imported_rooms(path) - {room} - private
        assert found <= ALLOWED[room], f"{path.relative_to(PACKAGE)} imports {sorted(found - ALLOWED[room])}"


#: Every module of fastlstm 0.1 (one flat package), the paths users may have imported.
MODULES_0_1 = (
    "baselines", "bench", "cli", "datasets", "decompose", "distributed", "evaluate", "forecast",
    "io", "kernels", "losses", "lstm", "metrics", "module", "nn", "optim", "parallel", "scalers",
    "schedules", "sktime", "stepper", "timeindex", "torch", "training", "windows",
)  # fmt: skip


@pytest.mark.parametrize("old", MODULES_0_1)
def test_old_module_paths_still_import(old):
    """``import fastlstm.training`` (fastlstm 0.1's paths) still works: the moved modules are
    importable by their old names, and the others did not move."""
    module = importlib.import_module(f"fastlstm.{old}")
    assert getattr(fastlstm, old) is module
    if old in fastlstm._OLD_PATHS:
        assert module is importlib.import_module(f"fastlstm.{fastlstm._OLD_PATHS[old]}")


def test_old_paths_keep_their_public_names():
    from fastlstm.lstm import LSTM
    from fastlstm.training import Trainer

    from fastlstm.forecast import Backtest, Forecaster
    from fastlstm.nn import Linear, LSTMRegressor

    assert (LSTM, Forecaster, Backtest, Linear, LSTMRegressor, Trainer) == (
        fastlstm.LSTM,
        fastlstm.Forecaster,
        fastlstm.Backtest,
        fastlstm.Linear,
        fastlstm.LSTMRegressor,
        fastlstm.Trainer,
    )
    with pytest.raises(AttributeError, match="no attribute 'trainingg'"):
        fastlstm.trainingg  # noqa: B018
