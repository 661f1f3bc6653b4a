"""Exceptions raised by skvae (re-exported from ``skvae``)."""

from __future__ import annotations

__all__ = ["TrainingDivergedError"]


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
