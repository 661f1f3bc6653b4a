import math

import torch

from skvae._loss import LossTerms, VAELoss, kl_divergence, reconstruction_error
from skvae._module import VAEOutput


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


def test_reconstruction_error_sums_squares_over_features():
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    recon = torch.tensor([[0.0, 0.0], [0.0, 3.0]])
    assert reconstruction_error(recon, x).tolist() == [5.0, 9.0]
    assert reconstruction_error(recon, x, per_feature=True).tolist() == [
        [1.0, 4.0],
        [0.0, 9.0],
    ]


def test_loss_is_batch_mean_reconstruction_plus_beta_kl():
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    out = VAEOutput(torch.zeros(2, 2), torch.ones(2, 1), torch.zeros(2, 1))
    terms = VAELoss()(out, x)
    assert isinstance(terms, LossTerms)
    assert terms.reconstruction.item() == 2.5  # (5 + 0) / 2
    assert terms.kl.item() == 0.5  # 0.5 * mu^2 per sample
    assert terms.total(beta=2.0).item() == 3.5
