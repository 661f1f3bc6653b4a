"""The VAE's likelihood of a row and the training loss built on it.

The decoder defines a Gaussian p(x|z) for the numeric columns, by the noise model
(:mod:`skvae._noise`), and a categorical distribution (softmax of the decoder's
logits) for each categorical column (:class:`~skvae._columns.CategoricalHead`); the
encoder a diagonal Gaussian q(z|x), and the prior is N(0, I). Every quantity here
is in nats per sample: the loss and all the anomaly scores (:mod:`skvae._scores`)
are terms of one likelihood.

Missing cells (NaN numeric values, all-zero one-hot blocks) are left out of the
likelihood; the sum over a row's observed cells is then scaled by
``n_columns / n_observed`` (:func:`row_nll`), so that a row with many missing cells
is scored on the same scale as a complete one instead of looking normal because
little of it is seen.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ._columns import ColumnLayout


def cell_nll(
    reconstruction: torch.Tensor,
    x: torch.Tensor,
    noise,
    layout: ColumnLayout,
    excess: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Negative log-likelihood of every cell, and which cells are observed.

    Numeric columns: the noise model's Gaussian ``noise`` (a
    :class:`~skvae._noise.DiagonalGaussian` or :class:`~skvae._noise.FullGaussian`),
    e.g. ``(x_j - mu_j)^2 / (2 s_j^2) + log(2 pi s_j^2) / 2`` for a diagonal one
    (without the second term when ``excess``). Categorical columns: the
    cross-entropy of the :class:`~skvae._columns.CategoricalHead`, already zero at
    its minimum. Missing cells get 0.

    Returns
    -------
    nll, observed : tensors of shape (n_samples, n_columns)

    Examples
    --------
    >>> import torch
    >>> from skvae._columns import ColumnLayout
    >>> from skvae._loss import cell_nll
    >>> from skvae._noise import DiagonalGaussian
    >>> x = torch.tensor([[float("nan"), 0.0, 1.0]])  # numeric NaN, then a category
    >>> logits = torch.tensor([[5.0, 0.0, 0.0]])
    >>> nll, observed = cell_nll(logits, x, DiagonalGaussian(torch.zeros(1)),
    ...                          ColumnLayout(1, (2,)))
    >>> nll, observed
    (tensor([[0.0000, 0.6931]]), tensor([[False,  True]]))
    """
    observed = layout.observed(x)
    numeric_observed = layout.numeric_observed(observed)
    residual = torch.where(
        numeric_observed, layout.numeric_residual(x, reconstruction), 0.0
    )
    nll = noise.cell_nll(residual, numeric_observed, excess)
    if not layout.cardinalities:
        return nll, observed
    categorical = layout.head.cell_nll(
        layout.categorical(reconstruction), layout.categorical(x)
    )
    return torch.cat([nll, categorical], dim=1), observed


def row_nll(nll: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Sum of each row's observed-cell NLL, scaled to the full row.

    ``n_columns / n_observed`` times the sum: the observed cells' mean NLL times
    the number of columns, the estimate of the full row's NLL that assumes missing
    cells are as well explained as observed ones. Without scaling, a row with most
    cells missing would get a small NLL (few terms) and look normal. A row with no
    observed cell gets 0.

    Examples
    --------
    >>> import torch
    >>> from skvae._loss import row_nll
    >>> nll = torch.tensor([[2.0, 4.0], [2.0, 0.0]])
    >>> row_nll(nll, torch.tensor([[True, True], [True, False]]))
    tensor([6., 4.])
    """
    n_observed = observed.sum(dim=1).clamp_min(1).to(nll.dtype)
    return nll.sum(dim=1) * (observed.shape[1] / n_observed)


def observed_nll(
    reconstruction: torch.Tensor, x: torch.Tensor, noise, layout: ColumnLayout
) -> torch.Tensor:
    """Negative log-likelihood of each sample over its observed cells (see
    :func:`cell_nll`), scaled to the full row (:func:`row_nll`); for complete
    numeric data it is the Gaussian's negative log-likelihood.

    Examples
    --------
    >>> import math
    >>> import torch
    >>> from skvae._columns import ColumnLayout
    >>> from skvae._loss import observed_nll
    >>> from skvae._noise import DiagonalGaussian
    >>> value = observed_nll(torch.zeros(1, 1), torch.zeros(1, 1),
    ...                      DiagonalGaussian(torch.zeros(1)), ColumnLayout(1))
    >>> math.isclose(value.item(), 0.5 * math.log(2 * math.pi), rel_tol=1e-6)
    True
    """
    if not layout.cardinalities and not bool(x.isnan().any()):
        return noise.excess_nll(reconstruction, x) + noise.offset(x.shape[1])
    return row_nll(*cell_nll(reconstruction, x, noise, layout))


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
    """Criterion returning the reconstruction and KL terms of the negative ELBO.

    The reconstruction term is the negative log-likelihood of the input's observed
    cells under the decoder's output (Gaussian with the noise variances for numeric
    columns, softmax for categorical ones), scaled to the full row
    (:func:`observed_nll`). The weighting by ``beta`` is
    left to the caller (the net), because KL annealing changes it from epoch to
    epoch.

    Parameters
    ----------
    reduction : {"mean", "none"}, default="mean"
        "mean" returns batch means; "none" returns one value per sample, which the
        net needs to trim the worst-fitted samples of a batch.

    Examples
    --------
    >>> import math, torch
    >>> from skvae._columns import ColumnLayout
    >>> from skvae._loss import VAELoss
    >>> from skvae._module import VAEOutput
    >>> from skvae._noise import DiagonalGaussian
    >>> x = torch.ones(2, 3)
    >>> out = VAEOutput(torch.zeros(2, 3), torch.zeros(2, 1), torch.zeros(2, 1),
    ...                 DiagonalGaussian(torch.zeros(3)),  # unit noise variance
    ...                 ColumnLayout(3))
    >>> terms = VAELoss()(out, x)
    >>> round(float(terms.reconstruction) - 1.5 * math.log(2 * math.pi), 4)
    1.5
    >>> float(terms.kl)
    0.0
    """

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, output, x: torch.Tensor) -> LossTerms:
        terms = LossTerms(
            observed_nll(output.reconstruction, x, output.noise, output.layout),
            kl_divergence(output.mean, output.log_var),
        )
        if self.reduction == "none":
            return terms
        return LossTerms(*(term.mean() for term in terms))
