"""The fitted models that method examples start from, shared by their docstrings.

Most method examples first fit the same small model; writing that setup once, as
a ``{placeholder}`` filled in at import (as :func:`skvae._base.fill_parameter_docs`
fills the shared parameter docs), keeps the examples short and alike.
"""

from __future__ import annotations

# Indented for a method docstring's Examples section; the first line takes the
# placeholder's own indentation.
EXAMPLE_SETUPS = {
    "fitted_transformer": """\
>>> import numpy as np
        >>> from skvae import VAETransformer
        >>> X = np.random.RandomState(0).normal(size=(100, 4))
        >>> vae = VAETransformer(max_epochs=5, random_state=0).fit(X)""",
    "fitted_detector": """\
>>> import numpy as np
        >>> from skvae import VAEOutlierDetector
        >>> X = np.random.RandomState(0).normal(size=(100, 4))
        >>> detector = VAEOutlierDetector(contamination=0.05, max_epochs=5,
        ...                               random_state=0).fit(X)""",
}


def fill_example_setups(owner) -> None:
    """Fill each ``{setup}`` placeholder in the docstrings of ``owner``'s methods.

    Only the functions ``owner`` itself defines are filled, so that methods it
    inherits, already filled where they are defined, are left alone.
    """
    for function in vars(owner).values():
        doc = getattr(function, "__doc__", None)
        if not callable(function) or not doc:
            continue
        for name, setup in EXAMPLE_SETUPS.items():
            doc = doc.replace("{" + name + "}", setup)
        function.__doc__ = doc
