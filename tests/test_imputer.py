"""VAEImputer: values, categories, determinism, pipelines."""

import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from skvae import VAEImputer


def correlated(n=600, seed=0):
    rng = np.random.RandomState(seed)
    z = rng.normal(size=(n, 1))
    return np.hstack([z, 2 * z, -z, np.tanh(z)]) + 0.05 * rng.normal(size=(n, 4))


def hide(X, share, seed=0):
    mask = np.random.RandomState(seed).rand(*X.shape) < share
    holey = X.copy()
    holey[mask] = np.nan
    return holey, mask


def test_numeric_imputation_beats_the_mean():
    X = correlated()
    holey, mask = hide(X, 0.2)
    filled = VAEImputer(random_state=0).fit_transform(holey)
    mean = SimpleImputer().fit_transform(holey)
    assert np.array_equal(filled[~mask], X[~mask])  # observed cells untouched
    vae_rmse = np.sqrt(np.mean((filled[mask] - X[mask]) ** 2))
    mean_rmse = np.sqrt(np.mean((mean[mask] - X[mask]) ** 2))
    assert vae_rmse < 0.5 * mean_rmse


def test_deterministic_and_dtype_preserving():
    holey, _ = hide(correlated(200).astype(np.float32), 0.2)
    a = VAEImputer(max_epochs=5, random_state=0).fit_transform(holey)
    b = VAEImputer(max_epochs=5, random_state=0).fit_transform(holey)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_categorical_cells_are_imputed_from_the_numbers():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    z = rng.normal(size=600)
    frame = pd.DataFrame(
        {"x": z + 0.1 * rng.normal(size=600), "colour": np.where(z > 0, "red", "blue")}
    )
    holey = frame.copy()
    hidden = rng.rand(600) < 0.2
    holey.loc[hidden, "colour"] = None
    imputer = VAEImputer(random_state=0).fit(holey)
    filled = imputer.transform(holey)
    assert filled.dtype == object
    truth = frame["colour"].to_numpy()
    assert np.mean(filled[hidden, 1] == truth[hidden]) > 0.9
    assert np.array_equal(filled[~hidden, 1], truth[~hidden])
    as_frame = imputer.set_output(transform="pandas").transform(holey)
    assert list(as_frame.columns) == ["x", "colour"]
    assert as_frame["colour"].isna().sum() == 0
    assert as_frame["x"].tolist() == holey["x"].tolist()


def test_indicator_names_and_placeholder():
    X = correlated(100)
    X[X[:, 0] > 1, 1] = -1.0  # -1 is the placeholder
    imputer = VAEImputer(missing_values=-1.0, add_indicator=True, max_epochs=3)
    out = imputer.fit_transform(X)
    assert imputer.missing_features_.tolist() == [1]
    assert imputer.get_feature_names_out().tolist() == [
        "x0",
        "x1",
        "x2",
        "x3",
        "missingindicator_x1",
    ]
    assert out.shape == (100, 5)
    np.testing.assert_array_equal(out[:, 4], X[:, 1] == -1.0)
    assert not (out[:, 1] == -1.0).any()


def test_drop_in_for_a_pipeline():
    X = correlated(300)
    y = X[:, 0] + X[:, 3]
    holey, _ = hide(X, 0.1)
    pipe = make_pipeline(VAEImputer(max_epochs=20, random_state=0), LinearRegression())
    assert pipe.fit(holey, y).score(holey, y) > 0.8
