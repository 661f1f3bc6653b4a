"""The VAE loss: reconstruction error plus ``beta`` times the KL divergence."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


def reconstruction_error(
    reconstruction: torch.Tensor, x: torch.Tensor, per_feature: bool = False
) -> torch.Tensor:
    """Squared error of each sample, summed over features unless ``per_feature``."""
    squared = (reconstruction - x).square()
    return squared if per_feature else squared.sum(dim=1)


def kl_divergence(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) || N(0, I)) of each sample, in nats."""
    return 0.5 * (mean.square() + log_var.exp() - 1.0 - log_var).sum(dim=1)


class LossTerms(NamedTuple):
    """The two loss terms: batch means, or one value per sample."""

    reconstruction: torch.Tensor
    kl: torch.Tensor

    def total(self, beta: float) -> torch.Tensor:
        return self.reconstruction + beta * self.kl


class VAELoss(nn.Module):
    """Criterion returning the reconstruction error and KL divergence terms.

    The weighting by ``beta`` is left to the caller (the net), because KL annealing
    changes it from epoch to epoch.

    Parameters
    ----------
    reduction : {"mean", "none"}, default="mean"
        "mean" returns batch means; "none" returns one value per sample, which the
        net needs to trim the worst-fitted samples of a batch.

    Examples
    --------
    >>> import torch
    >>> from skvae._loss import VAELoss
    >>> from skvae._module import VAEOutput
    >>> x = torch.ones(2, 3)
    >>> out = VAEOutput(torch.zeros(2, 3), torch.zeros(2, 1), torch.zeros(2, 1))
    >>> terms = VAELoss()(out, x)
    >>> float(terms.reconstruction), float(terms.kl)
    (3.0, 0.0)
    """

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, output, x: torch.Tensor) -> LossTerms:
        terms = LossTerms(
            reconstruction_error(output.reconstruction, x),
            kl_divergence(output.mean, output.log_var),
        )
        if self.reduction == "none":
            return terms
        return LossTerms(*(term.mean() for term in terms))
