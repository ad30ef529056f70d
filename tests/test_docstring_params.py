"""Every documented parameter list matches its signature (as scikit-learn's and STUMPY's CI check).

The rule, over every module of ``fastlstm`` (the private ``_*`` ones too, for the public names
they define; ``__main__`` modules excepted, and modules whose optional dependency is not
installed), for every public function, public class and public method defined in fastlstm
(``__module__`` starts with ``fastlstm``; names starting with ``_`` are skipped; a Numba
dispatcher is checked through its ``py_func``):

* a numpydoc ``Parameters`` section (with ``Other Parameters``, if any) names exactly the
  signature's parameters, in order (``self``/``cls`` excluded, ``*args``/``**kwargs`` named
  with or without their stars). A class's parameters are those of its ``__init__``, documented
  in the class docstring (or, failing that, in ``__init__``'s own docstring). A dataclass's
  fields may be documented in an ``Attributes`` section instead (they are both). A method
  without a docstring that overrides one of a base class is checked against the base's
  docstring (``inspect.getdoc``);
* a function, method or class with parameters that is part of the public API (named in the
  ``__all__`` of ``fastlstm`` or of one of its subpackages, and the public methods of those
  classes) must have such a section. Elsewhere a docstring without one is accepted (a one-line
  helper's prose may name its arguments).

The parser below is a small one of our own: the test needs nothing beyond the ``test`` extra.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re

import pytest

import fastlstm

#: the numpydoc sections a Parameters section ends at
_SECTIONS = {
    "Parameters",
    "Other Parameters",
    "Returns",
    "Yields",
    "Receives",
    "Raises",
    "Warns",
    "Warnings",
    "See Also",
    "Notes",
    "References",
    "Examples",
    "Attributes",
    "Methods",
}
_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")


def documented_parameters(
    doc: str | None, sections: tuple[str, ...] = ("Parameters", "Other Parameters")
) -> list[str] | None:
    """The names in a numpydoc docstring's ``Parameters`` (and ``Other Parameters``) sections.

    Parameters
    ----------
    doc : str or None
        The docstring.
    sections : tuple of str
        The sections to read; the first one must be present.

    Returns
    -------
    list of str or None
        In order, stars stripped (``*args`` gives ``args``); None without the first section.
    """
    if not doc:
        return None
    lines = inspect.cleandoc(doc).splitlines()
    names: list[str] | None = None
    section, base = None, 0
    for i, line in enumerate(lines):
        header = line.strip()
        if header in _SECTIONS and i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]):
            section, base = header, len(line) - len(line.lstrip())
            if section == sections[0] and names is None:
                names = []
            continue
        if section not in sections or names is None or _UNDERLINE.match(line) or not header:
            continue
        if len(line) - len(line.lstrip()) == base:  # an entry; deeper lines describe it
            entry = header.split(":", 1)[0]
            names.extend(n.strip().replace("\\", "").lstrip("*") for n in entry.split(","))
    return names


def signature_parameters(func) -> list[str]:
    """The parameter names of ``func``, without ``self``/``cls``."""
    params = list(inspect.signature(func).parameters)
    return params[1:] if params and params[0] in ("self", "cls") else params


def _public_modules():
    """Every importable module of fastlstm but the ``__main__`` ones, and those skipped."""
    modules, skipped = [], []
    for info in pkgutil.walk_packages(fastlstm.__path__, "fastlstm."):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue
        try:
            modules.append(importlib.import_module(info.name))
        except ImportError as exc:  # an optional extra that is not installed (import_optional chains)
            missing = exc.name or getattr(exc.__cause__, "name", None)
            if not missing or missing.startswith("fastlstm"):
                raise
            skipped.append(f"{info.name} ({missing})")
    return [fastlstm, *modules], skipped


def _api_names(modules) -> set[str]:
    """``module.name`` of every object in a package's ``__all__``, under its defining module."""
    api = set()
    for mod in modules:
        if not hasattr(mod, "__path__"):
            continue
        for name in getattr(mod, "__all__", ()):
            obj = _unwrap(getattr(mod, name, None))
            if getattr(obj, "__module__", None) and hasattr(obj, "__qualname__"):
                api.add(f"{obj.__module__}.{obj.__qualname__}")
    return api


def _unwrap(obj):
    """A Numba dispatcher's Python function, else ``obj``."""
    return getattr(obj, "py_func", obj)


def _ours(obj) -> bool:
    return (getattr(obj, "__module__", None) or "").startswith("fastlstm")


def _own_init(cls):
    """The first ``__init__`` of the class's fastlstm ancestry, or None (object's, a builtin's)."""
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            init = vars(klass)["__init__"]
            return init if _ours(klass) and inspect.isfunction(init) else None
    return None


def _check(
    qualname: str, doc, func, required: bool, failures: dict[str, str], documented: list[str] | None = None
) -> None:
    """Compare ``doc``'s Parameters (or ``documented``) with ``func``'s signature; record a mismatch."""
    try:
        signature = signature_parameters(func)
    except (TypeError, ValueError):  # no signature to compare with
        return
    if documented is None:
        documented = documented_parameters(doc)
    if documented is None:
        if required and signature:
            failures[qualname] = f"no Parameters section, signature {signature}"
    elif documented != signature:
        failures[qualname] = f"documented {documented} vs signature {signature}"


def _check_class(cls, qualname: str, api: set[str], failures: dict[str, str]) -> None:
    required = qualname in api
    init = _own_init(cls)
    if init is not None:
        doc, fields = cls.__doc__, None
        if documented_parameters(doc) is None:
            if dataclasses.is_dataclass(cls):
                fields = documented_parameters(doc, ("Attributes",))
            elif documented_parameters(init.__doc__) is not None:
                doc = init.__doc__
        _check(qualname, doc, init, required, failures, fields)
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if inspect.isfunction(_unwrap(member)):
            # inspect.getdoc: an override without a docstring has its base method's
            method = getattr(cls, name)
            _check(f"{qualname}.{name}", inspect.getdoc(method), _unwrap(method), required, failures)


def collect_failures() -> tuple[dict[str, str], list[str]]:
    """``{qualified name: what differs}`` over the package, and the modules skipped."""
    modules, skipped = _public_modules()
    api = _api_names(modules)
    failures: dict[str, str] = {}
    seen: set[str] = set()
    for mod in modules:
        for name, obj in vars(mod).items():
            obj = _unwrap(obj)
            if name.startswith("_") or not _ours(obj) or obj.__module__ != mod.__name__:
                continue  # private, third-party, or re-exported (checked where it is defined)
            qualname = f"{obj.__module__}.{getattr(obj, '__qualname__', name)}"
            if qualname in seen:
                continue
            seen.add(qualname)
            if inspect.isclass(obj):
                _check_class(obj, qualname, api, failures)
            elif inspect.isfunction(obj):
                _check(qualname, obj.__doc__, obj, qualname in api, failures)
    return failures, skipped


def test_parser_reads_numpydoc_entries():
    doc = """Summary.

    Parameters
    ----------
    a, b : int
        Two of them.
    c
        No type.
    d: float
    *args : tuple
    \\**kwargs
        Passed on.

    Returns
    -------
    e : int
    """
    assert documented_parameters(doc) == ["a", "b", "c", "d", "args", "kwargs"]
    assert documented_parameters("Summary only.") is None
    assert documented_parameters(None) is None


def test_docstring_parameters_match_signatures():
    failures, _ = collect_failures()
    if failures:
        pytest.fail(
            f"{len(failures)} docstring(s) whose Parameters do not match the signature:\n"
            + "\n".join(f"  {k}: {v}" for k, v in sorted(failures.items())),
            pytrace=False,
        )
