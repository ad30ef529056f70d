"""The published documents agree with their sources.

* The benchmark tables in README.md and docs/benchmarks.md are exactly what
  ``python -m fastlstm.bench.tables`` renders from the committed JSON they name, and both
  files name the same JSON (one run, one machine).
* The public docstrings state the user contract only: no measured figures, tuning
  history or maintainers' notes (those belong in docs/*.md).
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from fastlstm.bench import tables

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/benchmarks.md")


@pytest.mark.parametrize("name", DOCS)
def test_bench_tables_match_the_committed_json(name):
    text = (ROOT / name).read_text()
    blocks = tables.find_blocks(text)
    assert {kind for kind, _, _ in blocks} >= {"main"}, f"{name}: no bench-table:main block"
    for kind, path, body in blocks:
        report = json.loads((ROOT / path).read_text())
        assert body == tables.render(kind, report, path), (
            f"{name}: the {kind} table differs from {path}; run "
            f"python -m fastlstm.bench.tables --write {' '.join(DOCS)}"
        )


def test_readme_and_benchmarks_use_one_run():
    sources = {path for name in DOCS for _, path, _ in tables.find_blocks((ROOT / name).read_text())}
    assert len(sources) == 1, sources
    (source,) = sources
    assert source.startswith("docs/bench/") and (ROOT / source).is_file()


def test_update_text_is_idempotent():
    text = (ROOT / "README.md").read_text()
    assert tables.update_text(text, root=str(ROOT)) == text


# --------------------------------------------------------------------------------------
# no maintainers' notes in public docstrings
# --------------------------------------------------------------------------------------

_PUBLIC = (
    "fastlstm",
    "fastlstm.nn",
    "fastlstm.train",
    "fastlstm.forecast",
    "fastlstm.kernels",
    "fastlstm.baselines",
    "fastlstm.metrics",
    "fastlstm._threads",
)

#: Markers of notes that belong in docs/*.md, not in a docstring: measurements, tuning
#: history, dates of runs, development-set scores, arguments about the code's own length.
_NOTE_MARKERS = re.compile(
    r"\bmeasured\b|\bms on\b|\bus on\b|\btuned\b|\btuning\b|relMASE\s*[0-9]|\bdev(?:elopment)?[- ]set\b"
    r"|\bwas:\s|\b20[0-9]{2}-[01][0-9]-[0-3][0-9]\b|\bhouse's\b|\b[0-9]+ lines\b",
    re.IGNORECASE,
)


def _public_objects():
    seen = set()
    for modname in _PUBLIC:
        mod = importlib.import_module(modname)
        yield modname, mod
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if id(obj) in seen or not (inspect.isclass(obj) or callable(obj) or inspect.ismodule(obj)):
                continue
            seen.add(id(obj))
            yield f"{modname}.{name}", obj
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if not attr.startswith("_") and (callable(member) or isinstance(member, property)):
                        yield f"{modname}.{name}.{attr}", member


def test_public_docstrings_hold_no_maintainer_notes():
    hits = []
    for qualname, obj in _public_objects():
        doc = inspect.getdoc(obj) or ""
        for m in _NOTE_MARKERS.finditer(doc):
            line = doc[doc.rfind("\n", 0, m.start()) + 1 : doc.find("\n", m.end())]
            hits.append(f"{qualname}: {line.strip()}")
    assert not hits, "maintainers' notes in public docstrings (move them to docs/*.md):\n" + "\n".join(hits)
