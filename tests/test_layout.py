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


def _imported_names(path: pathlib.Path, package_dir: pathlib.Path = PACKAGE) -> list[list[str]]:
    """Every dotted name of fastlstm a module imports (``from X import a`` gives ``X.a``,
    whether ``a`` is a submodule or an attribute); ``package_dir`` is fastlstm's folder."""
    module = ".".join(path.relative_to(package_dir.parent).with_suffix("").parts)
    package = module.split(".")[:-1]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            elif node.module:
                target = node.module.split(".")
            else:
                continue
            names += [target + [a.name] for a in node.names]
        elif isinstance(node, ast.Import):
            names += [a.name.split(".") for a in node.names]
    return [n for n in names if n[0] == "fastlstm"]


def _past_the_seam(path: pathlib.Path, package_dir: pathlib.Path = PACKAGE) -> list[str]:
    """The names under ``fastlstm.kernels`` a module imports other than ``kernels.api``."""
    return [
        ".".join(n) for n in _imported_names(path, package_dir) if n[1:2] == ["kernels"] and n[2:3] != ["api"]
    ]


@pytest.mark.parametrize("where", ["nn", "torch.py"])
def test_nn_and_torch_call_kernels_api_only(where):
    """``nn`` and ``torch.py`` reach the kernels through ``kernels.api`` alone (the seam of
    docs/architecture.md): not ``kernels.drivers``, ``kernels.compiled``, ..., nor the package
    ``fastlstm.kernels`` itself, whose attributes lead past the seam."""
    paths = sorted((PACKAGE / "nn").rglob("*.py")) if where == "nn" else [PACKAGE / where]
    for path in paths:
        assert not _past_the_seam(path), f"{path.relative_to(PACKAGE)} imports {_past_the_seam(path)}"


def test_the_seam_rule_sees_each_import_form(tmp_path):
    folder = tmp_path / "fastlstm" / "nn"
    folder.mkdir(parents=True)
    lines = {
        "from ..kernels import drivers": "fastlstm.kernels.drivers",
        "from ..kernels.compiled import pack": "fastlstm.kernels.compiled.pack",
        "from .. import kernels as K": "fastlstm.kernels",
        "import fastlstm.kernels.drivers": "fastlstm.kernels.drivers",
        "from fastlstm.kernels import simd": "fastlstm.kernels.simd",
        "from ..kernels import api\nfrom ..kernels.api import stack_forward": None,
    }
    for i, (line, name) in enumerate(lines.items()):
        path = folder / f"m{i}.py"
        path.write_text(line + "\n")
        assert _past_the_seam(path, tmp_path / "fastlstm") == ([name] if name else []), line


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
