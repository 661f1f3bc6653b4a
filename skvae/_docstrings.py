"""Docstring text the estimators share: fitted attributes and example setups.

Written once and filled in at import as ``{placeholders}`` (as
:func:`skvae._base.fill_parameter_docs` fills the shared parameter docs), so that
the copies cannot drift apart. Most method examples first fit the same small
model; that setup is one of them.
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


# The fitted attributes VAETransformer and VAEOutlierDetector share, inserted into
# their docstrings as "{fitted_attributes}" by skvae._base.fill_parameter_docs.
FITTED_ATTRIBUTES_DOC = """\
    net_ : skvae._net.VAENet
        The fitted skorch net; ``net_.module_`` is the torch module.
    history_ : skorch.History
        Per-epoch losses: ``train_loss``, ``train_reconstruction``, ``train_kl``,
        their ``valid_`` counterparts, ``kl_weight`` and ``dur``; e.g.
        ``history_[:, "valid_loss"]``.
    n_iter_ : int
        Epochs run.
    max_epochs_, n_iter_no_change_, kl_warmup_epochs_ : int
        The epoch counts used, with "auto" resolved for the data size.
    seed_ : int
        Seed drawn from ``random_state`` at fit time; seeds training and any
        Monte-Carlo draws of the scores (the reconstruction probability's).
    n_components_ : int
        Latent dimension used.
    hidden_layer_sizes_ : tuple of int
        Encoder widths used.
    output_activation_ : str
        Decoder output activation used.
    noise_model_ : str
        Decoder noise model used, with "auto" resolved.
    batch_size_ : int
        Training batch size used.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names."""


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
