"""Exceptions raised by skvae (re-exported from ``skvae``)."""

from __future__ import annotations

__all__ = ["InvalidModelFile", "TrainingDivergedError"]


class TrainingDivergedError(ValueError, ArithmeticError):
    """Raised when the training loss becomes NaN or infinite.

    It is a ``ValueError`` (bad input is the usual cause) and an ``ArithmeticError``
    (what happened is a floating-point blow-up), so either ``except`` catches it.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import TrainingDivergedError, VAETransformer
    >>> X = np.random.RandomState(0).normal(size=(40, 3)) * 1e200  # not scaled
    >>> try:
    ...     VAETransformer(max_epochs=2, random_state=0).fit(X)
    ... except TrainingDivergedError as exc:
    ...     print(str(exc).split(",")[0])
    The train loss became NaN or infinite in epoch 1
    """


class InvalidModelFile(ValueError):
    """Raised when a saved model (``skvae.load``, pickle, skops) fails its checks.

    Examples
    --------
    >>> from skvae.exceptions import InvalidModelFile, invalid_model
    >>> raise invalid_model("seed_ is negative")
    Traceback (most recent call last):
    ...
    skvae.exceptions.InvalidModelFile: Not a valid skvae model file: seed_ is negative.
    """


def invalid_model(reason: str) -> InvalidModelFile:
    """The error for a saved model (a file, a pickle or a skops state) that fails
    a check; the one place its message is written."""
    return InvalidModelFile(f"Not a valid skvae model file: {reason}.")
