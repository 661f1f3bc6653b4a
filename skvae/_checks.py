"""Input checks: scikit-learn's, with a hint where its message leaves users stuck."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from sklearn.utils.validation import check_array, validate_data


@contextmanager
def _explain_non_numeric():
    try:
        yield
    except (TypeError, ValueError) as exc:
        # NumPy's message for text it cannot parse, and for string dtypes (pandas
        # and NumPy StringDType, categories of strings) it cannot cast.
        message = str(exc)
        if "could not convert" not in message and not (
            "cast" in message.lower() and "str" in message.lower()
        ):
            raise
        raise ValueError(
            f"X must hold numbers only ({exc}). Name categorical columns in "
            "categorical_features (or pass a DataFrame with 'category' or object "
            "columns), or encode them first, for example with OneHotEncoder in a "
            "ColumnTransformer."
        ) from exc


def validate_numeric_data(estimator, X, **kwargs):
    """``sklearn.utils.validation.validate_data``, with a hint for text columns.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> from skvae._checks import validate_numeric_data
    >>> X = [["a", 1.0]]
    >>> validate_numeric_data(BaseEstimator(), X, dtype=float)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: X must hold numbers only (could not convert string to float: 'a'). ...
    """
    with _explain_non_numeric():
        return validate_data(estimator, X, **kwargs)


def check_numeric_array(X, **kwargs):
    """``sklearn.utils.check_array``, with a hint for text columns.

    Examples
    --------
    >>> from skvae._checks import check_numeric_array
    >>> check_numeric_array([[1, 2]], dtype=float)
    array([[1., 2.]])
    """
    with _explain_non_numeric():
        return check_array(X, **kwargs)


def narrowing_overflow_error(estimator, dtype) -> ValueError:
    """The error for outputs too large for the float dtype of ``X`` (float32).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from skvae._checks import narrowing_overflow_error
    >>> print(narrowing_overflow_error(BaseEstimator(), np.float32))
    BaseEstimator's output for this X does not fit in float32: pass X as float64 \
(X.astype(np.float64)), or scale it the same way as the training data.
    """
    return ValueError(
        f"{type(estimator).__name__}'s output for this X does not fit in "
        f"{np.dtype(dtype).name}: pass X as float64 (X.astype(np.float64)), or "
        "scale it the same way as the training data."
    )
