import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from skvae import VAETransformer

FAST = dict(max_epochs=30, random_state=0)


def _mse(model, X):
    return float(np.mean((model.inverse_transform(model.transform(X)) - X) ** 2))


def test_learns_low_rank_structure(blobs):
    vae = VAETransformer(
        n_components=2, max_epochs=200, early_stopping=False, random_state=0
    ).fit(blobs)
    total_variance = float(np.mean((blobs - blobs.mean(0)) ** 2))
    # Two latent dimensions explain nearly all of rank-2 data; a collapsed posterior
    # (or a single active latent dimension) leaves most of the variance unexplained.
    assert _mse(vae, blobs) < 0.1 * total_variance
    assert vae.history_[-1, "train_kl"] > 1.0


def test_standard_scaler_pipeline_on_wine_compresses_and_reconstructs():
    X, _ = load_wine(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), VAETransformer(**FAST)).fit(X)
    Z = pipe.transform(X)
    assert Z.shape == (178, 2)
    X_back = pipe.inverse_transform(Z)
    assert X_back.shape == X.shape
    X_std = pipe[0].transform(X)
    pca_mse = _mse(PCA(2).fit(X_std), X_std)
    vae_mse = _mse(pipe[-1], X_std)
    # Within 2x of PCA even after 30 epochs (a posterior collapse gives about 2.2x).
    assert vae_mse < 2.0 * pca_mse


def test_minmax_pipeline_picks_a_sigmoid_output(blobs):
    pipe = make_pipeline(MinMaxScaler(), VAETransformer(**FAST)).fit(blobs)
    assert pipe[-1].output_activation_ == "sigmoid"
    X_back = pipe[-1].inverse_transform(pipe.transform(blobs))
    assert X_back.min() >= 0 and X_back.max() <= 1


def test_transform_is_deterministic(blobs):
    vae = VAETransformer(**FAST).fit(blobs)
    np.testing.assert_array_equal(vae.transform(blobs), vae.transform(blobs))


def test_fit_transform_equals_fit_then_transform(blobs):
    first = VAETransformer(**FAST).fit_transform(blobs)
    second = VAETransformer(**FAST).fit(blobs).transform(blobs)
    np.testing.assert_array_equal(first, second)


def test_same_random_state_same_output_different_differs(blobs):
    # No early stopping: it may keep the starting weights, probabilistic PCA's, which
    # do not depend on the seed.
    def fit(seed):
        vae = VAETransformer(max_epochs=5, early_stopping=False, random_state=seed)
        return vae.fit(blobs).transform(blobs)

    a, b, c = fit(1), fit(1), fit(2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fits_running_at_once_in_threads_stay_reproducible(blobs):
    from concurrent.futures import ThreadPoolExecutor

    def fit(seed):
        vae = VAETransformer(max_epochs=5, dropout=0.2, random_state=seed)
        return vae.fit(blobs).transform(blobs)

    serial = [fit(seed) for seed in (0, 1, 0, 1)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(fit, (0, 1, 0, 1)))
    for expected, got in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(expected, got)


def test_fit_leaves_global_rng_state_alone(blobs):
    torch_state = torch.random.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002
    VAETransformer(max_epochs=3, random_state=0).fit(blobs)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


def test_clone_and_pickle_round_trip_give_identical_outputs(blobs):
    vae = VAETransformer(**FAST).fit(blobs)
    restored = pickle.loads(pickle.dumps(vae))
    np.testing.assert_array_equal(vae.transform(blobs), restored.transform(blobs))
    assert vae.score(blobs) == restored.score(blobs)
    refit = clone(vae).fit(blobs)
    np.testing.assert_array_equal(vae.transform(blobs), refit.transform(blobs))


def test_history_exposes_per_epoch_loss_terms(blobs):
    vae = VAETransformer(
        max_epochs=12, kl_warmup_epochs=10, early_stopping=True, random_state=0
    ).fit(blobs)
    assert len(vae.history_) == vae.n_iter_
    for key in [
        "train_loss",
        "train_reconstruction",
        "train_kl",
        "valid_loss",
        "valid_reconstruction",
        "valid_kl",
        "kl_weight",
    ]:
        values = vae.history_[:, key]
        assert len(values) == vae.n_iter_ and np.all(np.isfinite(values))
    # KL annealing: the weight ramps from 0 to beta over kl_warmup_epochs.
    assert vae.history_[0, "kl_weight"] == 0.0
    assert vae.history_[-1, "kl_weight"] == vae.beta


def test_float32_in_float32_out(blobs):
    X32 = blobs.astype(np.float32)
    vae = VAETransformer(**FAST).fit(X32)
    assert next(vae.net_.module_.parameters()).dtype == torch.float32
    assert vae.transform(X32).dtype == np.float32
    assert vae.inverse_transform(vae.transform(X32)).dtype == np.float32
    assert vae.transform(blobs).dtype == np.float64


def test_fewer_samples_than_batch_size():
    X = np.random.RandomState(0).normal(size=(5, 3))
    vae = VAETransformer(batch_size=64, max_epochs=3, random_state=0).fit(X)
    assert vae.transform(X).shape == (5, 2)


def test_single_feature():
    X = np.random.RandomState(0).normal(size=(40, 1))
    vae = VAETransformer(n_components=1, max_epochs=3, random_state=0).fit(X)
    assert vae.transform(X).shape == (40, 1)
    assert vae.inverse_transform(vae.transform(X)).shape == (40, 1)


def test_feature_names_out_and_pandas_output(blobs):
    pd = pytest.importorskip("pandas")
    vae = VAETransformer(n_components=3, **FAST).set_output(transform="pandas")
    frame = vae.fit_transform(pd.DataFrame(blobs, columns=[f"f{i}" for i in range(6)]))
    assert list(frame.columns) == [
        "vaetransformer0",
        "vaetransformer1",
        "vaetransformer2",
    ]
    assert list(vae.get_feature_names_out()) == list(frame.columns)
    assert list(vae.feature_names_in_) == [f"f{i}" for i in range(6)]


def test_inverse_transform_checks_latent_width(blobs):
    vae = VAETransformer(**FAST).fit(blobs)
    with pytest.raises(ValueError, match="expects 2 \\(n_components\\)"):
        vae.inverse_transform(np.zeros((3, 5)))


def test_score_prefers_a_trained_model(blobs):
    # score is the ELBO, the loss of beta=1 (the transformer's default is 0.1).
    trained = VAETransformer(max_epochs=40, beta=1.0, random_state=0).fit(blobs)
    barely = VAETransformer(
        max_epochs=1, beta=1.0, kl_warmup_epochs=0, lr=1e-5, random_state=0
    )
    barely.fit(blobs)
    assert trained.score(blobs) > barely.score(blobs)


def test_grid_search_without_labels_uses_score(blobs):
    grid = GridSearchCV(
        VAETransformer(max_epochs=200, random_state=0),
        {"n_components": [1, 2]},
        cv=2,
    ).fit(blobs)
    assert set(grid.best_params_) == {"n_components"}
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    # Rank-2 data: two latent dimensions give a better evidence bound than one.
    assert grid.best_params_["n_components"] == 2


def test_grid_search_with_labels_through_a_classifier():
    X, y = load_wine(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(),
        VAETransformer(max_epochs=15, random_state=0),
        LogisticRegression(max_iter=500),
    )
    grid = GridSearchCV(
        pipe,
        {"vaetransformer__beta": [0.1, 1.0], "vaetransformer__n_components": [2, 4]},
        cv=3,
    ).fit(X, y)
    assert grid.best_score_ > 0.8
    assert grid.best_params_["vaetransformer__n_components"] in (2, 4)


def test_html_repr_shows_the_changed_parameters():
    html = VAETransformer(n_components=3, beta=0.5)._repr_html_()
    assert "VAETransformer" in html and "n_components" in html and "0.5" in html
