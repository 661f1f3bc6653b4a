import numpy as np

from skvae.datasets import make_anomaly_data


def test_shapes_contamination_and_labels():
    X, y = make_anomaly_data(
        n_samples=2000, n_features=5, contamination=0.05, random_state=0
    )
    assert X.shape == (2000, 5) and y.shape == (2000,)
    assert set(np.unique(y)) == {0, 1} and y.sum() == 100


def test_anomalies_are_shifted():
    X, y = make_anomaly_data(n_samples=2000, shift=4.0, random_state=0)
    np.testing.assert_allclose(X[y == 1].mean(), 4.0, atol=0.1)


def test_reproducible_with_a_seed():
    a, _ = make_anomaly_data(n_samples=100, random_state=3)
    b, _ = make_anomaly_data(n_samples=100, random_state=3)
    c, _ = make_anomaly_data(n_samples=100, random_state=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
