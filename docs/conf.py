"""Sphinx configuration of the npae documentation site.

Built with ``sphinx-build -W -b html docs docs/_build/html``: warnings are
errors; the notebooks in ``../notebooks`` (reached through the
``docs/notebooks`` symlink, never copied) are executed in quick mode, their
outputs cached in ``docs/_build/.jupyter_cache`` by notebook content (delete
``docs/_build`` for a build from scratch); the API reference is generated
from the numpydoc docstrings.
"""

import os
import pathlib
import re
import shutil
import sys
import warnings

import mathjax
from sphinx.util import logging

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The notebooks read NPAE_QUICK: fewer epochs and samples, same figures.
os.environ.setdefault("NPAE_QUICK", "1")

import npae  # noqa: E402

logger = logging.getLogger("npae-docs")

project = "npae"
author = "the npae authors"
copyright = "npae authors"
version = release = npae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "sphinxarg.ext",
    "sphinx_copybutton",
]

exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
templates_path = ["_templates"]
html_theme = "pydata_sphinx_theme"
html_title = f"npae {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "guarantees": [], "cli": []}

# MathJax 3 is served from the site itself (the django-static-mathjax wheel
# ships the official MathJax 3.2 files), so the pages render math offline.
MATHJAX_ES5 = pathlib.Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
MATHJAX_PARTS = ["tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y"]
mathjax_path = "mathjax/tex-mml-chtml.js"

# Every cross-reference must resolve: a typo in a :func: or :class: role fails the build.
nitpicky = True

# -- autodoc / autosummary / numpydoc ---------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# A documented parameter the signature does not have (PR02) fails the build.
# numpydoc's GL08 (no docstring) ignores inherited docstrings, so that check
# is ``_require_docstring`` below.
numpydoc_validation_checks = {"PR02"}
# scikit-learn's classes, documented on its own site (no intersphinx: the build is offline).
nitpick_ignore_regex = [("py:class", r"sklearn\..*")]

# -- myst-nb: execute the notebooks at build time ---------------------------------------------
nb_execution_mode = "cache"
nb_execution_cache_path = str(ROOT / "docs" / "_build" / ".jupyter_cache")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]

# -- the "Shape" section of npae's docstrings -----------------------------------------------
# numpydoc knows a fixed set of sections and drops the rest; npae's layers and
# models carry a "Shape" section. Before numpydoc parses the docstring it is
# lifted out and placed, under a rubric, just after the extended summary.
warnings.filterwarnings("ignore", message="Unknown section Shape", category=UserWarning)
_SECTION = re.compile(r"^([A-Z][A-Za-z ]+)$")


def _underline(line):
    return bool(line.strip()) and set(line.strip()) == {"-"}


def _move_shape_section(app, what, name, obj, options, lines):
    """Turn a numpydoc-style ``Shape`` section into a rubric numpydoc keeps."""
    heads = [i for i in range(len(lines) - 1)
             if _SECTION.match(lines[i].strip()) and _underline(lines[i + 1])]
    shape = [i for i in heads if lines[i].strip() == "Shape"]
    if not shape:
        return
    start = shape[0]
    later = [i for i in heads if i > start]
    end = later[0] if later else len(lines)
    body = lines[start + 2:end]
    while body and not body[-1].strip():
        body.pop()
    del lines[start:end]
    first = min(heads)
    block = [".. rubric:: Shape", ""] + body + [""]
    lines[first:first] = block


def _require_docstring(app, what, name, obj, options, lines):
    """A public function, class or method without a docstring is a warning (an error with -W)."""
    if what in ("function", "class", "method", "exception", "module") and not any(
            line.strip() for line in lines):
        logger.warning(f"{name} has no docstring", type="npae", subtype="docstring")


# scikit-learn generates set_*_request methods on every estimator class; they
# are its metadata-routing machinery, not npae's API.
_SKLEARN_GENERATED = re.compile(r"^set_\w+_request$")


def _skip_member(app, what, name, obj, skip, options):
    if _SKLEARN_GENERATED.match(name):
        return True
    return None


def _public_bases(app, name, obj, options, bases):
    """Show only public bases: private helpers (``_Pool2D``) are not documented."""
    bases[:] = [base for base in bases if not base.__name__.startswith("_")]


def _copy_mathjax(app, exception):
    """Copy the parts of MathJax the pages load into ``_static/mathjax``."""
    if exception is not None or app.builder.format != "html":
        return
    target = pathlib.Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        source = MATHJAX_ES5 / part
        if source.is_dir():
            shutil.copytree(source, target / part, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)


def setup(app):
    app.connect("build-finished", _copy_mathjax)
    app.connect("autodoc-process-docstring", _move_shape_section, priority=100)
    app.connect("autodoc-process-docstring", _require_docstring, priority=100)
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-bases", _public_bases)
