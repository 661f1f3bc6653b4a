import math

import torch

from skvae._columns import ColumnLayout
from skvae._loss import LossTerms, VAELoss, kl_divergence, observed_nll
from skvae._module import VAEModule, VAEOutput
from skvae._noise import FIXED_NOISE_LOG_VAR, DiagonalGaussian
from skvae._scores import negative_log_reconstruction_probability


def test_kl_is_zero_at_the_prior():
    assert torch.equal(
        kl_divergence(torch.zeros(3, 4), torch.zeros(3, 4)), torch.zeros(3)
    )


def test_kl_matches_the_closed_form():
    mean = torch.tensor([[1.0, -2.0]])
    log_var = torch.tensor([[math.log(4.0), 0.0]])
    # 0.5 * sum(mu^2 + sigma^2 - 1 - log sigma^2)
    expected = 0.5 * ((1 + 4 - 1 - math.log(4.0)) + (4 + 1 - 1 - 0))
    assert math.isclose(kl_divergence(mean, log_var).item(), expected, rel_tol=1e-6)


def test_gaussian_nll_matches_torch_distributions():
    torch.manual_seed(0)
    x, recon = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3).double()
    noise_log_var = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
    expected = -(
        torch.distributions.Normal(recon, torch.exp(0.5 * noise_log_var))
        .log_prob(x)
        .sum(dim=1)
    )
    noise = DiagonalGaussian(noise_log_var)
    torch.testing.assert_close(observed_nll(recon, x, noise, ColumnLayout(3)), expected)


def test_excess_nll_is_the_squared_error_at_the_fixed_variance_one_half():
    x, recon = torch.randn(4, 3), torch.randn(4, 3)
    noise = DiagonalGaussian(torch.full((3,), FIXED_NOISE_LOG_VAR))
    squared = (recon - x).square()
    torch.testing.assert_close(noise.excess_nll(recon, x), squared.sum(dim=1))
    torch.testing.assert_close(noise.excess_nll(recon, x, per_feature=True), squared)


def test_loss_is_batch_mean_nll_and_kl():
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    out = VAEOutput(
        torch.zeros(2, 2),
        torch.ones(2, 1),
        torch.zeros(2, 1),
        DiagonalGaussian(torch.zeros(2)),
        ColumnLayout(2),
    )
    terms = VAELoss()(out, x)
    assert isinstance(terms, LossTerms)
    # unit variance: 0.5 * squared error + log(2 pi) per sample (two features)
    expected = 0.5 * (5 + 0) / 2 + math.log(2 * math.pi)
    assert math.isclose(terms.reconstruction.item(), expected, rel_tol=1e-6)
    assert terms.kl.item() == 0.5  # 0.5 * mu^2 per sample
    assert math.isclose(terms.total(beta=2.0).item(), expected + 1.0, rel_tol=1e-6)


def test_reconstruction_probability_streams_the_log_sum_exp_exactly():
    module = VAEModule(n_features=4, n_components=2, hidden_layer_sizes=(8,)).eval()
    module.set_feature_variance(torch.full((4,), 2.0))
    x, eps = torch.randn(6, 4), torch.randn(7, 2)
    with torch.no_grad():
        streamed = negative_log_reconstruction_probability(module, x, eps)
        mean, log_var = module.encode(x)
        log_p = torch.stack(
            [
                -observed_nll(
                    module.decode(mean + torch.exp(0.5 * log_var) * e),
                    x,
                    module.noise.score_noise(),
                    module.layout,
                )
                for e in eps
            ]
        )
    torch.testing.assert_close(
        streamed, math.log(len(eps)) - torch.logsumexp(log_p, dim=0)
    )


def test_reconstruction_probability_memory_does_not_grow_with_n_draws(monkeypatch):
    from skvae._scores import DRAW_BLOCK, SeededDraws

    module = VAEModule(n_features=4, n_components=2, hidden_layer_sizes=(8,)).eval()
    x = torch.randn(5, 4)
    n_draws = 3 * DRAW_BLOCK + 5
    draws = SeededDraws(0, n_draws, 2, torch.float32)
    with torch.no_grad():
        expected = negative_log_reconstruction_probability(
            module, x, draws.materialize()
        )
        sizes = []
        randn = torch.randn

        def spy(size, *args, **kwargs):
            sizes.append(size[0])
            return randn(size, *args, **kwargs)

        monkeypatch.setattr(torch, "randn", spy)
        # Two passes (two batches of rows) see the same draws.
        for _ in range(2):
            streamed = negative_log_reconstruction_probability(module, x, draws)
            torch.testing.assert_close(streamed, expected)
    assert max(sizes) == DRAW_BLOCK and sum(sizes) == 2 * n_draws
