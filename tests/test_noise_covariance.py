"""The full-covariance decoder noise (noise_model="full") and its MCD estimate."""

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.covariance import MinCovDet

import skvae
from skvae import VAEOutlierDetector, VAETransformer
from skvae._columns import ColumnLayout
from skvae._loss import cell_nll, observed_nll
from skvae._mcd import minimum_covariance_determinant
from skvae._module import VAEModule
from skvae._noise import FullGaussian

COVARIANCE = np.array([[1.0, 0.6, 0.0], [0.6, 2.0, -0.3], [0.0, -0.3, 0.5]])


def _contaminated(n=1000, fraction=0.1, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.multivariate_normal([1.0, -1.0, 0.0], COVARIANCE, size=n)
    n_bad = int(fraction * n)
    X[:n_bad] = rng.uniform(5, 10, size=(n_bad, 3))
    return X


def test_mcd_ignores_gross_outliers_and_matches_sklearn():
    X = _contaminated()
    location, covariance = minimum_covariance_determinant(X)
    np.testing.assert_allclose(location, [1.0, -1.0, 0.0], atol=0.1)
    np.testing.assert_allclose(covariance, COVARIANCE, atol=0.15)
    reference = MinCovDet(random_state=0).fit(X)
    np.testing.assert_allclose(covariance, reference.covariance_, rtol=0.15, atol=0.05)
    # The classical covariance is ruined by the 10% outliers.
    assert np.abs(np.cov(X, rowvar=False) - COVARIANCE).max() > 1.0


def test_mcd_is_deterministic_and_scale_equivariant():
    X = _contaminated(n=300)
    location, covariance = minimum_covariance_determinant(X)
    again = minimum_covariance_determinant(X)
    np.testing.assert_array_equal(covariance, again[1])
    scale = np.array([1e-150, 1.0, 1e150])
    scaled_location, scaled_covariance = minimum_covariance_determinant(X * scale)
    np.testing.assert_allclose(scaled_location, location * scale, rtol=1e-8)
    np.testing.assert_allclose(
        scaled_covariance, covariance * np.outer(scale, scale), rtol=1e-8
    )


def test_mcd_stays_invertible_on_discrete_residuals():
    # More than half the rows identical: the exact-fit case of the MCD.
    X = np.zeros((200, 2))
    X[150:] = np.random.RandomState(0).normal(size=(50, 2))
    _, covariance = minimum_covariance_determinant(X)
    assert np.all(np.isfinite(covariance))
    assert np.linalg.eigvalsh(covariance).min() > 0


def test_mcd_needs_more_rows_than_features():
    with pytest.raises(ValueError, match="more rows than features"):
        minimum_covariance_determinant(np.zeros((3, 3)))


def _full_module(dtype=torch.float64):
    module = VAEModule(3, 1, (4,), noise_model="full").to(dtype)
    location = torch.tensor([0.1, -0.2, 0.3], dtype=dtype)
    module.noise.set_covariance(location, torch.tensor(COVARIANCE))
    return module, location


def test_full_noise_nll_is_the_multivariate_gaussian_log_density():
    module, location = _full_module()
    noise = module.noise.score_noise()
    assert isinstance(noise, FullGaussian)
    rng = np.random.RandomState(0)
    x = torch.from_numpy(rng.normal(size=(5, 3)))
    mean = torch.from_numpy(rng.normal(size=(5, 3)))
    expected = [
        -multivariate_normal(m + location.numpy(), COVARIANCE).logpdf(xi)
        for m, xi in zip(mean.numpy(), x.numpy(), strict=True)
    ]
    np.testing.assert_allclose(
        observed_nll(mean, x, noise, ColumnLayout(3)), expected, rtol=1e-10
    )
    per_feature = noise.excess_nll(mean, x, per_feature=True)
    np.testing.assert_allclose(per_feature.sum(dim=1), noise.excess_nll(mean, x))


def test_full_noise_with_missing_cells_uses_the_marginal_distance():
    module, location = _full_module()
    noise = module.noise.score_noise()
    x = torch.tensor([[0.5, float("nan"), -1.0], [float("nan"), float("nan"), 2.0]])
    x = x.to(torch.float64)
    mean = torch.zeros_like(x)
    excess, observed = cell_nll(mean, x, noise, module.layout, excess=True)
    nll, _ = cell_nll(mean, x, noise, module.layout)
    per_cell_constant = 0.5 * (np.log(2 * np.pi) + np.linalg.slogdet(COVARIANCE)[1] / 3)
    for row, excess_row, nll_row, seen in zip(
        x.numpy(), excess, nll, observed.numpy(), strict=True
    ):
        r = row[seen] - location.numpy()[seen]
        distance = r @ np.linalg.solve(COVARIANCE[np.ix_(seen, seen)], r)
        np.testing.assert_allclose(excess_row.sum(), distance / 2)
        np.testing.assert_allclose(
            nll_row.sum(), distance / 2 + seen.sum() * per_cell_constant
        )
        assert np.all(nll_row.numpy()[~seen] == 0)
    # Complete rows in the same call take the shared factorisation.
    complete = torch.tensor([[0.5, 0.2, -1.0]], dtype=torch.float64)
    np.testing.assert_allclose(
        cell_nll(
            torch.zeros(1, 3, dtype=torch.float64), complete, noise, module.layout
        )[0].sum(),
        -multivariate_normal(location.numpy(), COVARIANCE).logpdf(complete[0]),
    )


def _correlated(n=600, seed=0):
    rng = np.random.RandomState(seed)
    z = rng.normal(size=(n, 2))
    X = z @ rng.normal(size=(2, 6)) + 0.3 * rng.normal(size=(n, 6))
    X[:, 5] = X[:, 4] + 0.05 * rng.normal(size=n)  # a correlation to break
    return (X - X.mean(0)) / X.std(0)


def test_auto_takes_the_full_covariance_when_the_data_allow_it():
    X = _correlated()
    assert VAEOutlierDetector(max_epochs=3, random_state=0).fit(X).noise_model_ == (
        "full"
    )
    # Fewer than 5 complete rows per feature: one learned variance.
    few = VAEOutlierDetector(max_epochs=3, random_state=0).fit(X[:25])
    assert few.noise_model_ == "shared"
    # The transformer keeps the fixed noise by default.
    assert VAETransformer(max_epochs=3, random_state=0).fit(X).noise_model_ == "fixed"


def test_full_noise_needs_enough_complete_rows():
    X = _correlated()[:6]
    with pytest.raises(ValueError, match="noise_model='full'.*more than 7 rows"):
        VAEOutlierDetector(noise_model="full", max_epochs=2).fit(X)


def test_full_noise_flags_a_broken_correlation():
    X = _correlated()
    odd = X[:1].copy()
    odd[0, 5] = -odd[0, 4]  # each value ordinary, the pair impossible
    scores = {}
    for noise_model in ("fixed", "full"):
        detector = VAEOutlierDetector(
            noise_model=noise_model, max_epochs=20, random_state=0
        ).fit(X)
        # Rank of the odd row's score among the training rows' (0 = most anomalous).
        scores[noise_model] = float(
            (detector.score_samples(X) < detector.score_samples(odd)[0]).mean()
        )
        if noise_model == "full":
            per_feature = detector.reconstruction_error(odd, per_feature=True)[0]
            assert set(np.argsort(per_feature)[-2:]) == {4, 5}
            np.testing.assert_allclose(
                per_feature.sum(), detector.reconstruction_error(odd)[0]
            )
    assert scores["full"] == 0.0
    assert scores["full"] <= scores["fixed"]


def test_full_noise_survives_save_and_load(tmp_path):
    X = _correlated()
    detector = VAEOutlierDetector(max_epochs=3, random_state=0).fit(X)
    path = tmp_path / "detector.skvae"
    skvae.save(detector, path)
    loaded = skvae.load(path)
    np.testing.assert_array_equal(loaded.score_samples(X), detector.score_samples(X))
    np.testing.assert_array_equal(
        loaded.net_.module_.noise.covariance, detector.net_.module_.noise.covariance
    )


def test_partial_fit_refits_the_covariance_on_each_chunk():
    X = _correlated()
    detector = VAEOutlierDetector(noise_model="full", random_state=0)
    detector.partial_fit(X[:300])
    first = detector.net_.module_.noise.covariance.clone()
    detector.partial_fit(X[300:])
    assert not torch.equal(first, detector.net_.module_.noise.covariance)
    # A chunk with too few complete rows keeps the last estimate.
    kept = detector.net_.module_.noise.covariance.clone()
    chunk = X[:4].copy()
    detector.partial_fit(chunk)
    assert torch.equal(kept, detector.net_.module_.noise.covariance)


def test_full_noise_on_extreme_scales_gives_a_clear_error_or_a_finite_model():
    X = _correlated(n=100)
    for scale in (1e-30, 1e30):
        try:
            detector = VAEOutlierDetector(max_epochs=2, random_state=0).fit(
                (X * scale).astype(np.float32)
            )
        except ValueError as error:  # TrainingDivergedError is a ValueError
            assert "Scale" in str(error)
            continue
        assert np.all(np.isfinite(detector.score_samples(X * scale)))


def test_discrete_columns_get_their_quantization_variance():
    rng = np.random.RandomState(0)
    n = 600
    continuous = rng.normal(size=(n, 4)) @ rng.normal(size=(4, 4))
    # A 0/1 flag that is 1 on 10% of the rows, unrelated to anything else: the
    # majority's residuals barely vary, and without dequantization the robust
    # covariance gives the flag a tiny variance, so every flagged row looks anomalous.
    flag = (rng.uniform(size=n) < 0.1).astype(float)
    X = np.column_stack([continuous, flag])
    X[:15, :4] += 6.0  # the real anomalies
    detector = VAEOutlierDetector(noise_model="full", random_state=0).fit(X)
    covariance = detector.net_.module_.noise.covariance.numpy()
    assert covariance[4, 4] >= 1.0 / 12  # the flag's gap is 1
    top = np.argsort(detector.score_samples(X))[:15]
    assert np.mean(top < 15) >= 0.8
