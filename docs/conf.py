"""Sphinx configuration: the API reference from the docstrings (numpydoc) and the
Markdown pages of docs/ (MyST). Build with warnings as errors::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import fastlstm  # noqa: E402

project = "fastlstm"
author = "fastlstm developers"
copyright = "fastlstm developers"
release = fastlstm.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "bench/*.json"]

# MyST: headings get anchors so that "page.md#section" links resolve; $...$ maths.
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

# Optional dependencies the reference must not need at build time (CI installs torch and
# sktime anyway; mpi4py's MPI library may be missing where the docs are built).
autodoc_mock_imports = ["mpi4py"]
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autosummary_generate = False

numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

html_theme = "alabaster"
html_title = f"fastlstm {release}"
html_static_path: list[str] = []

# Links to the repository's own files (source, examples) from the Markdown pages are
# not documents; they stay plain links.
suppress_warnings = ["myst.xref_missing"]
