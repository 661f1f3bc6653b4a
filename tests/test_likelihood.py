"""The decoder's noise models: calibrated, trimmed, bounded variances."""

import math

import numpy as np
import pytest
import torch

from skvae import VAEOutlierDetector, VAETransformer
from skvae._module import VAEModule
from skvae._noise import MIN_NOISE_VARIANCE_RATIO, trimmed_variance


def _noisy_line(n=600, seed=0):
    """Feature 0 follows the latent closely, feature 1 loosely."""
    rng = np.random.RandomState(seed)
    z = rng.normal(size=n)
    return np.column_stack([z + 0.05 * rng.normal(size=n), z + rng.normal(size=n)])


def test_learned_noise_follows_how_well_each_feature_is_predicted():
    X = _noisy_line()
    # beta=1, the ELBO: two features and one factor leave factor analysis
    # unidentified, and a weak KL (the transformer's 0.1) lets the fit settle on
    # an exact copy of either feature.
    vae = VAETransformer(
        n_components=1, noise_model="feature", beta=1.0, max_epochs=60, random_state=0
    ).fit(X)
    module = vae.net_.module_
    noise = module.noise.score_noise().log_var.exp().numpy()
    # Feature 0 is nearly a copy of the code, feature 1 has unit noise on top: the
    # model explains most of feature 0's variance and less of feature 1's.
    assert noise[0] < 0.7 * noise[1]
    assert noise[0] < 0.5 * module.noise.feature_var[0].item()
    assert vae.noise_model_ == "feature"


def test_shared_noise_has_one_variance():
    vae = VAETransformer(
        n_components=1, noise_model="shared", max_epochs=5, random_state=0
    ).fit(_noisy_line())
    noise = vae.net_.module_.noise.score_noise().log_var
    assert noise.shape == (2,) and noise[0] == noise[1]


def test_fixed_noise_is_one_half_and_scores_are_squared_errors():
    X = _noisy_line()
    detector = VAEOutlierDetector(noise_model="fixed", max_epochs=5, random_state=0)
    detector.fit(X)
    torch.testing.assert_close(
        detector.net_.module_.noise.score_noise().log_var,
        torch.full((2,), math.log(0.5), dtype=torch.float64),
    )
    module = detector.net_.module_
    with torch.no_grad():
        x = torch.from_numpy(X)
        squared = (module.decode(module.encode(x)[0]) - x).square().sum(1).numpy()
    np.testing.assert_allclose(detector.reconstruction_error(X), squared, rtol=1e-10)


def test_auto_noise_is_full_for_tables_and_shared_for_wide_data():
    rng = np.random.RandomState(0)
    narrow = VAEOutlierDetector(noise_model="auto", max_epochs=1, random_state=0)
    wide = VAEOutlierDetector(noise_model="auto", max_epochs=1, random_state=0)
    assert narrow.fit(rng.normal(size=(50, 5))).noise_model_ == "full"
    assert wide.fit(rng.normal(size=(1000, 101))).noise_model_ == "shared"


def test_noise_variance_is_bounded_below_relative_to_the_feature():
    module = VAEModule(n_features=2, n_components=1, hidden_layer_sizes=(4,))
    module.set_feature_variance(torch.tensor([4.0, 100.0]))
    module.train()
    # A perfect reconstruction would set the variance to 0: the floor holds.
    log_var = module.noise.loss_noise(torch.zeros(8, 2)).log_var
    torch.testing.assert_close(
        log_var.exp(), MIN_NOISE_VARIANCE_RATIO * torch.tensor([4.0, 100.0])
    )


@pytest.mark.parametrize("trim_fraction", [0.1, 0.2, 0.5])
def test_trimmed_variance_is_consistent_for_gaussian_residuals(trim_fraction):
    generator = torch.Generator().manual_seed(0)
    residual = 2.0 * torch.randn(200_000, 3, generator=generator, dtype=torch.float64)
    estimate = trimmed_variance(residual, trim_fraction)
    torch.testing.assert_close(
        estimate, torch.full((3,), 4.0, dtype=torch.float64), rtol=0.02, atol=0
    )


def test_trimmed_noise_keeps_contamination_from_masking_anomalies():
    """Gross errors in 10% of the rows inflate an untrimmed noise variance, and the
    anomalies then score like normal rows; the trimmed estimate is not inflated."""
    rng = np.random.RandomState(0)
    X = _noisy_line(n=1000)
    X[:100, 0] += rng.choice([-8.0, 8.0], size=100)
    common = dict(noise_model="feature", n_components=1, max_epochs=20, random_state=0)
    trimmed = VAEOutlierDetector(trim_fraction=0.2, **common).fit(X)
    plain = VAEOutlierDetector(trim_fraction=0.0, **common).fit(X)
    noise = {
        name: model.net_.module_.noise.score_noise().log_var.exp()[0].item()
        for name, model in [("trimmed", trimmed), ("plain", plain)]
    }
    assert noise["trimmed"] < 0.25 * noise["plain"]


def test_per_feature_error_names_the_feature_in_noise_units():
    X = _noisy_line()
    detector = VAEOutlierDetector(
        noise_model="feature", n_components=1, max_epochs=30, random_state=0
    ).fit(X)
    # The same deviation of 2 in either feature: it is far more surprising in the
    # precisely predicted feature 0.
    odd = np.array([[2.0, 0.0], [0.0, 2.0]])
    per_feature = detector.reconstruction_error(odd, per_feature=True)
    assert per_feature[0, 0] > per_feature[1, 1]
    np.testing.assert_allclose(
        per_feature.sum(axis=1), detector.reconstruction_error(odd), rtol=1e-10
    )
