"""Importance-weighted imputation (MIWAE's conditional-mean estimator)."""

import numpy as np
import torch

from skvae import VAEImputer
from skvae._importance import importance_weighted_fill
from skvae._loss import cell_nll
from skvae._module import VAEModule


def _module(cardinalities=()):
    generator = torch.Generator().manual_seed(0)
    return VAEModule.seeded(
        generator,
        n_features=3,
        n_components=2,
        hidden_layer_sizes=(8,),
        noise_model="fixed",
        cardinalities=cardinalities,
    ).eval()


def test_streamed_weights_equal_the_explicit_self_normalised_average():
    module = _module(cardinalities=(3,))
    x = torch.tensor(
        [[0.5, float("nan"), -1.0, 0.0, 0.0, 0.0], [float("nan"), 1.0, 2.0, 0, 1, 0]]
    )
    draws = torch.randn(7, 2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        filled = importance_weighted_fill(module, x, draws)
        observed = module.observed(x)
        mean, log_var = module.encode(module.fill_missing(x, 0, observed), observed)
        log_w, guesses = [], []
        for eps in draws:
            z = mean + torch.exp(0.5 * log_var) * eps
            rec = module.decode(z)
            nll, _ = cell_nll(rec, x, module.noise.score_noise(), module.layout)
            # The full log densities, constants included: they cancel.
            log_q = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
            log_p = torch.distributions.Normal(0.0, 1.0)
            log_w.append(
                -nll.sum(1) + log_p.log_prob(z).sum(1) - log_q.log_prob(z).sum(1)
            )
            guesses.append(torch.cat([rec[:, :3], rec[:, 3:].softmax(dim=1)], dim=1))
        weights = torch.softmax(torch.stack(log_w), dim=0)
        expected = (weights[:, :, None] * torch.stack(guesses)).sum(0)
    torch.testing.assert_close(filled[0, 1], expected[0, 1])
    torch.testing.assert_close(filled[1, 0], expected[1, 0])
    # A missing category gets its probabilities; observed cells stay as they are.
    torch.testing.assert_close(filled[0, 3:], expected[0, 3:])
    torch.testing.assert_close(filled[1, 1:], x[1, 1:])
    assert filled[0, 0] == 0.5 and filled[0, 2] == -1.0


def test_complete_rows_are_returned_as_they_are():
    module = _module()
    x = torch.randn(4, 3)
    assert importance_weighted_fill(module, x, torch.randn(5, 2)) is x


def _nonlinear_with_gaps(seed=0):
    rng = np.random.RandomState(seed)
    z = rng.normal(size=(500, 2))
    X = np.tanh(z @ rng.normal(size=(2, 6))) + 0.05 * rng.normal(size=(500, 6))
    gaps = X.copy()
    mask = rng.uniform(size=X.shape) < 0.2
    gaps[mask] = np.nan
    return X, gaps, mask


def test_imputer_draws_are_deterministic_and_follow_random_state():
    _, gaps, mask = _nonlinear_with_gaps()
    imputer = VAEImputer(max_epochs=20, random_state=0).fit(gaps)
    first = imputer.transform(gaps)
    np.testing.assert_array_equal(first, imputer.transform(gaps))
    # A row's fill does not depend on the rows it is imputed with.
    np.testing.assert_array_equal(imputer.transform(gaps[5:9]), first[5:9])
    single_pass = imputer.set_params(n_draws=0).transform(gaps)
    assert not np.allclose(first[mask], single_pass[mask])


def test_importance_weighting_is_no_worse_than_decoding_the_posterior_mean():
    X, gaps, mask = _nonlinear_with_gaps()
    imputer = VAEImputer(random_state=0).fit(gaps)
    scale = X.std(axis=0)[np.nonzero(mask)[1]]

    def rmse(filled):
        return np.sqrt(np.mean(((filled - X)[mask] / scale) ** 2))

    weighted = rmse(imputer.transform(gaps))
    plug_in = rmse(imputer.set_params(n_draws=0).transform(gaps))
    assert weighted <= plug_in
