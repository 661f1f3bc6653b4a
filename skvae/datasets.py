"""Synthetic data used by the demo, the examples and the tests."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.utils import check_random_state


def make_anomaly_data(
    n_samples: int = 5000,
    n_features: int = 20,
    *,
    contamination: float = 0.03,
    n_centers: int = 3,
    shift: float = 4.0,
    random_state=None,
):
    """Gaussian blobs of normal samples plus a shifted Gaussian of anomalies.

    Normal samples come from :func:`~sklearn.datasets.make_blobs` with ``n_centers``
    centres (unit standard deviation, centres drawn in [-10, 10]); anomalies from a
    standard normal shifted by ``shift`` in every feature. Rows are shuffled.

    Parameters
    ----------
    n_samples : int, default=5000
        Total number of rows.
    n_features : int, default=20
        Number of columns.
    contamination : float, default=0.03
        Share of anomalies (rounded to a whole number of rows).
    n_centers : int, default=3
        Number of blobs of normal samples.
    shift : float, default=4.0
        Mean of the anomalies in every feature.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible data.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        1 for anomalies, 0 for normal samples (the ADBench convention).

    Examples
    --------
    >>> from skvae.datasets import make_anomaly_data
    >>> X, y = make_anomaly_data(n_samples=1000, random_state=0)
    >>> X.shape, int(y.sum())
    ((1000, 20), 30)
    """
    rng = check_random_state(random_state)
    n_anomalies = int(round(contamination * n_samples))
    normal, _ = make_blobs(
        n_samples=n_samples - n_anomalies,
        n_features=n_features,
        centers=n_centers,
        random_state=rng,
    )
    anomalies = rng.normal(loc=shift, scale=1.0, size=(n_anomalies, n_features))
    X = np.vstack([normal, anomalies])
    y = np.r_[np.zeros(len(normal), dtype=int), np.ones(n_anomalies, dtype=int)]
    order = rng.permutation(n_samples)
    return X[order], y[order]
