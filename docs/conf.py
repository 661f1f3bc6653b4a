"""Sphinx configuration of the skvae documentation.

Build with ``make docs`` from the repository root: warnings are errors and the
gallery examples in ``../examples`` are executed.
"""

import re
import sys
from pathlib import Path

import matplotlib

# Examples must not open windows, whatever the machine building the docs.
matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # the skvae package of this checkout
sys.path.insert(0, str(DOCS))  # gallery_order

import skvae  # noqa: E402

project = "skvae"
author = "skvae developers"
copyright = "skvae developers, BSD-3-Clause"
version = release = skvae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
root_doc = "index"

# -- API reference -------------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"  # types are in the numpydoc Parameters sections
numpydoc_show_class_members = False  # methods are documented by the class template
numpydoc_class_members_toctree = False
add_module_names = False


def skip_foreign_members(app, what, name, obj, skip, options):
    """Document what skvae defines, not what it inherits from scikit-learn, skorch
    or Python (get_params, set_output, Callback hooks...), whose docstrings point to
    pages that are not part of this site."""
    module = getattr(obj, "__module__", None) or ""
    if what in ("class", "exception") and not module.startswith("skvae"):
        return True
    return skip


_SHAPE = re.compile(r"shape \(([^)]*)\)")


def quote_shape_names(app, what, name, obj, options, lines):
    """Put attribute names in shapes in backquotes: ``(n_features_in_,)`` would
    otherwise be read by docutils as a link to a target named n_features_in."""

    def quote(match):
        inner = re.sub(r"(?<![`\w])(\w+_)(?![`\w])", r"`\1`", match.group(1))
        return f"shape ({inner})"

    lines[:] = [_SHAPE.sub(quote, line) for line in lines]


def setup(app):
    app.connect("autodoc-skip-member", skip_foreign_members)
    # Before numpydoc (priority 500), which turns the sections into reST.
    app.connect("autodoc-process-docstring", quote_shape_names, priority=400)


# -- Gallery -------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Every examples/plot_*.py is executed; others are shown without running.
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "doc_module": ("skvae",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"skvae": None},
    "remove_config_comments": True,
    "download_all_examples": False,
    "write_computation_times": True,
    # A failing example stops the build at once instead of after the others.
    "abort_on_example_error": True,
}

# -- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skvae {version}"
html_static_path = ["_static"]
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "show_prev_next": True,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "getting_started": [], "benchmarks": []}
html_show_sourcelink = False
