"""Fitting the full-covariance decoder noise (``noise_model="full"``) after training.

:class:`~skvae._noise.FullCovarianceNoise` calls :func:`fit_noise_covariance`.

The network is trained with the fixed noise variance 1/2; the covariance of its
residuals on the training rows is then estimated robustly (see :mod:`skvae._mcd`)
and stored in the module, where the scores use it. Only complete rows (no missing
numeric cell) are used: a residual with a gap has no value to put in the matrix.
"""

from __future__ import annotations

import numpy as np
import torch

from ._mcd import minimum_covariance_determinant

# Rows the covariance is estimated from (a fixed random subsample above that). The
# MCD's error shrinks like 1 / sqrt(rows); at 2,000 rows and up to 100 features it is
# a few percent, and the search costs tens of milliseconds.
MAX_CALIBRATION_ROWS = 2000
# "auto" fits the full covariance up to this many numeric features ...
MAX_FEATURES_FOR_FULL_NOISE = 100
# ... given this many complete training rows per feature: the MCD's rule of thumb
# n > 5 p (Rousseeuw & Van Driessen 1999); with fewer rows a d x d matrix is too
# uncertain to weigh residuals with.
MIN_ROWS_PER_FEATURE = 5


def min_rows_for_covariance(n_numeric: int) -> int:
    """Fewest complete rows a ``n_numeric x n_numeric`` noise covariance is estimated
    from: more than the features, or the MCD has no subset to fit."""
    return n_numeric + 2


def complete_rows(X_numeric: np.ndarray) -> np.ndarray:
    """Indices of the rows of the numeric columns ``X_numeric`` with no missing cell."""
    return np.flatnonzero(~np.isnan(X_numeric).any(axis=1))


def full_noise_possible(X_numeric: np.ndarray) -> bool:
    """Whether ``noise_model="auto"`` takes the full covariance for the numeric
    columns ``X_numeric``.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae._calibration import full_noise_possible
    >>> full_noise_possible(np.zeros((100, 10))), full_noise_possible(
    ...     np.zeros((40, 10)))
    (True, False)
    """
    n_numeric = X_numeric.shape[1]
    return (
        1 <= n_numeric <= MAX_FEATURES_FOR_FULL_NOISE
        and len(complete_rows(X_numeric)) >= MIN_ROWS_PER_FEATURE * n_numeric
    )


def quantization_variance(X: np.ndarray) -> np.ndarray:
    """Per column, the variance ``delta^2 / 12`` of uniform noise across the
    smallest gap ``delta`` between the column's distinct values (0 for a constant
    column).

    Discrete columns (counts, ratings 1-10, 0/1 flags) have no density: a Gaussian
    fitted to them may put almost all its mass on one value, and the minimum
    covariance determinant then finds a subset where a column does not vary at all
    (an exact fit), so any other value scores as a gross outlier. Treating each
    value as the centre of a cell of width ``delta`` (dequantization; Theis et al.,
    ICLR 2016, "A note on the evaluation of generative models") adds this variance
    to the noise, which for a continuous column is negligible.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae._calibration import quantization_variance
    >>> X = np.column_stack([[0.0, 1.0, 1.0, 3.0], [0.1, 0.25, 0.7, 0.9], [2.0] * 4])
    >>> quantization_variance(X).round(4)
    array([0.0833, 0.0019, 0.    ])
    """
    variance = np.zeros(X.shape[1])
    for j in range(X.shape[1]):
        gaps = np.diff(np.unique(X[:, j]))
        if len(gaps):
            variance[j] = gaps.min() ** 2 / 12.0
    return variance


def fit_noise_covariance(
    noise, residuals, X_numeric: np.ndarray, seed: int, owner: str
) -> bool:
    """Set ``noise`` (a :class:`~skvae._noise.FullCovarianceNoise`) to the robust
    covariance of the decoder's residuals on the training rows ``X_numeric``.

    The robust covariance of the residuals (:func:`minimum_covariance_determinant`)
    plus, on its diagonal, each column's :func:`quantization_variance`.
    ``residuals(rows)`` returns the residuals of the rows ``rows`` as a float64
    array. Returns False, leaving the noise as it was, when there are too few
    complete rows for the estimate (no more than features), as can happen for one
    ``partial_fit`` chunk; ``owner`` names the estimator in the error raised when
    the covariance cannot be held in the module's dtype.
    """
    n_numeric = X_numeric.shape[1]
    rows = complete_rows(X_numeric)
    if len(rows) < min_rows_for_covariance(n_numeric):
        return False
    if len(rows) > MAX_CALIBRATION_ROWS:
        rng = np.random.RandomState(seed % 2**32)
        rows = np.sort(rng.choice(rows, MAX_CALIBRATION_ROWS, replace=False))
    residual = residuals(rows)
    with np.errstate(over="ignore", under="ignore"):
        location, covariance = minimum_covariance_determinant(
            residual, support_fraction=1.0 - noise.trim_fraction
        )
        covariance = covariance + np.diag(quantization_variance(X_numeric[rows]))
    try:
        noise.set_covariance(torch.from_numpy(location), torch.from_numpy(covariance))
        usable = noise.score_noise().is_finite()
    except ValueError:
        usable = False
    if not usable:
        # Residuals near the limits of floating point (data scaled by 1e30, say)
        # give a covariance the module's dtype cannot hold or invert.
        raise ValueError(
            f"{owner} produced NaN or infinite values when fitting "
            "the noise covariance: the data's scale is too far from 1 for "
            f"{noise.covariance.dtype}. Scale X (StandardScaler, MinMaxScaler) "
            "or use noise_model='fixed'."
        )
    return True
