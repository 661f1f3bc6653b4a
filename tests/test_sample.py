"""``sample`` on the three estimators, the latent prior, and multiple imputation."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

import skvae
from skvae import VAEImputer, VAEOutlierDetector, VAETransformer, _generation

ESTIMATORS = [VAETransformer, VAEOutlierDetector, VAEImputer]
FAST = dict(max_epochs=15, random_state=0)


def correlated(n=300, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    X[:, 1] = 2 * X[:, 0] + 0.1 * rng.normal(size=n)
    return X.astype(dtype)


def mixed_table(n=300, seed=0):
    rng = np.random.RandomState(seed)
    table = pd.DataFrame(
        {
            "height": rng.normal(170, 10, n),
            "count": rng.randint(0, 5, n),
            "color": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
        }
    )
    table.loc[rng.rand(n) < 0.2, "height"] = np.nan
    return table


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_returns_training_shape_and_dtype(Estimator, dtype):
    X = correlated(dtype=dtype)
    rows = Estimator(**FAST).fit(X).sample(7, random_state=0)
    assert rows.shape == (7, 4)
    assert rows.dtype == dtype
    assert np.isfinite(rows).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_sample_is_seeded_and_leaves_global_rngs_alone(Estimator):
    model = Estimator(**FAST).fit(correlated())
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()  # noqa: NPY002
    first = model.sample(50, random_state=3)
    again = model.sample(50, random_state=np.random.RandomState(3))
    other = model.sample(50, random_state=4)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1])
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_sample_reproduces_the_data_distribution():
    X = correlated(n=600)
    rows = (
        VAETransformer(n_components=2, random_state=0)
        .fit(X)
        .sample(4000, random_state=0)
    )
    # The strong correlation and the columns' scales come back (a prior or noise
    # model that was off would inflate or shrink them).
    assert np.corrcoef(rows.T)[0, 1] > 0.95
    np.testing.assert_allclose(rows.std(axis=0), X.std(axis=0), rtol=0.15)
    np.testing.assert_allclose(rows.mean(axis=0), X.mean(axis=0), atol=0.15)


def test_add_noise_false_gives_the_decoder_mean():
    model = VAETransformer(**FAST).fit(correlated())
    mean_rows = model.sample(200, random_state=0, add_noise=False)
    drawn = model.sample(200, random_state=0)
    # The same latent draws come first in the stream, so the two differ by the
    # noise only: the noise's spread is the residual variance.
    residual_std = np.sqrt(model.net_.module_.sampler.residual_var.numpy())
    spread = (drawn - mean_rows).std(axis=0)
    np.testing.assert_allclose(spread, residual_std, rtol=0.3)


def test_mixture_prior_avoids_the_holes_of_the_standard_prior():
    # Two well-separated clusters: N(0, I) in the latent space puts mass between
    # them, where no training row is; the mixture fitted to the codes does not.
    rng = np.random.RandomState(0)
    centers = np.array([[-4.0, -4.0, 0.0], [4.0, 4.0, 0.0]])
    X = centers[rng.randint(0, 2, 800)] + 0.5 * rng.normal(size=(800, 3))

    def share_between(prior):
        model = VAETransformer(n_components=2, latent_prior=prior, random_state=0)
        rows = model.fit(X).sample(4000, random_state=0, add_noise=False)
        return np.mean(np.abs(rows[:, 0]) < 2.0)

    assert share_between("mixture") < share_between("standard")
    assert share_between("mixture") < 0.05


def test_sample_of_a_table_keeps_names_dtypes_and_categories():
    table = mixed_table()
    rows = VAEOutlierDetector(**FAST).fit(table).sample(100, random_state=0)
    assert isinstance(rows, pd.DataFrame)
    assert list(rows.columns) == list(table.columns)
    assert rows["count"].dtype == table["count"].dtype
    assert rows["color"].dtype == table["color"].dtype  # same levels
    assert not rows.isna().any().any()  # no missing cell unless asked for


def test_missing_cells_follow_the_training_rates():
    table = mixed_table(n=400)
    model = VAEImputer(**FAST).fit(table)
    rows = model.sample(5000, random_state=0, missing_cells=True)
    rate = table.isna().mean()
    # Binomial standard error at n=5000 and p=0.2 is 0.006: 0.03 is 5 of them.
    np.testing.assert_allclose(rows.isna().mean(), rate, atol=0.03)


def test_missing_cells_on_numeric_data():
    X = pd.DataFrame(correlated(), columns=list("abcd"))
    X.loc[::4, "a"] = np.nan
    rows = VAEImputer(**FAST).fit(X).sample(2000, random_state=0, missing_cells=True)
    # Binomial standard error at n=2000 and p=0.25 is 0.01: 0.04 is 4 of them.
    assert abs(rows["a"].isna().mean() - 0.25) < 0.04
    assert not rows[["b", "c", "d"]].isna().any().any()


def test_set_output_gives_frames_for_array_fits():
    model = VAETransformer(**FAST).fit(correlated())
    model.set_output(transform="pandas")
    rows = model.sample(3, random_state=0)
    assert isinstance(rows, pd.DataFrame)
    assert list(rows.columns) == ["x0", "x1", "x2", "x3"]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_numeric_frames_keep_names_and_dtypes(Estimator, tmp_path):
    X = pd.DataFrame(correlated(), columns=list("abcd"))
    X["b"] = (X["b"] * 10).round().astype("int32")
    X["d"] = X["d"].astype("float32")
    model = Estimator(**FAST).fit(X)
    rows = model.sample(30, random_state=0)
    assert list(rows.columns) == list("abcd")
    assert list(rows.dtypes) == list(X.dtypes)
    skvae.save(model, tmp_path / "model.skvae")
    pd.testing.assert_frame_equal(
        skvae.load(tmp_path / "model.skvae").sample(30, random_state=0), rows
    )


def test_sample_is_drawn_in_bounded_blocks(monkeypatch):
    model = VAETransformer(**FAST).fit(correlated())
    monkeypatch.setattr(_generation, "SAMPLE_BLOCK", 16)
    sizes = []
    decode = model.net_.module_.decode
    monkeypatch.setattr(
        model.net_.module_, "decode", lambda z: sizes.append(len(z)) or decode(z)
    )
    rows = model.sample(50, random_state=0)
    assert rows.shape == (50, 4) and sizes == [16, 16, 16, 2]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_bad_n_samples_is_refused(bad):
    model = VAETransformer(**FAST).fit(correlated())
    with pytest.raises(ValueError, match="n_samples must be an integer"):
        model.sample(bad)


def test_sample_survives_save_load_and_pickle(tmp_path):
    model = VAEOutlierDetector(**FAST).fit(mixed_table())
    expected = model.sample(20, random_state=0)
    skvae.save(model, tmp_path / "model.skvae")
    loaded = skvae.load(tmp_path / "model.skvae")
    pd.testing.assert_frame_equal(loaded.sample(20, random_state=0), expected)
    pickled = pickle.loads(pickle.dumps(model))
    pd.testing.assert_frame_equal(pickled.sample(20, random_state=0), expected)


def test_full_noise_samples_keep_the_residual_correlation():
    rng = np.random.RandomState(0)
    base = rng.normal(size=(800, 1))
    X = np.hstack([base, base]) + 0.3 * rng.multivariate_normal(
        [0, 0], [[1, 0.9], [0.9, 1]], 800
    )
    model = VAEOutlierDetector(noise_model="full", n_components=1, random_state=0)
    rows = model.fit(X).sample(4000, random_state=0)
    np.testing.assert_allclose(
        np.corrcoef(rows.T)[0, 1], np.corrcoef(X.T)[0, 1], atol=0.05
    )


def test_imputer_sample_posterior_draws_multiple_imputations():
    X = correlated(n=400)
    holed = X.copy()
    missing = np.random.RandomState(1).rand(400) < 0.3
    holed[missing, 1] = np.nan
    imputer = VAEImputer(max_epochs=30, random_state=0).fit(holed)
    mean_fill = imputer.transform(holed)
    imputer.set_params(sample_posterior=True)
    first = imputer.transform(holed)
    np.testing.assert_array_equal(first, imputer.transform(holed))  # seeded
    second = imputer.set_params(random_state=1).transform(holed)
    np.testing.assert_array_equal(first[~missing], holed[~missing])
    assert not np.allclose(first[missing, 1], second[missing, 1])
    # Draws scatter around the conditional mean: their average over imputations
    # is closer to it than a single draw is.
    draws = [imputer.set_params(random_state=k).transform(holed) for k in range(8)]
    average = np.mean(draws, axis=0)
    one_error = np.abs(first[missing, 1] - mean_fill[missing, 1]).mean()
    assert np.abs(average[missing, 1] - mean_fill[missing, 1]).mean() < one_error / 2


def test_sample_posterior_needs_draws():
    holed = correlated()
    holed[::5, 0] = np.nan
    imputer = VAEImputer(n_draws=0, sample_posterior=True, **FAST).fit(holed)
    with pytest.raises(ValueError, match="needs n_draws >= 1"):
        imputer.transform(holed)
