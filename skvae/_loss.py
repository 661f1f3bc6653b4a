"""The VAE's likelihood: the training loss and the per-sample scores built on it.

The decoder defines a Gaussian p(x|z) = N(decoder(z), diag(sigma^2)) for numeric
columns, whose variances are learned (see :class:`~skvae._module.VAEModule`'s
``noise_model``), and a categorical distribution (softmax of the decoder's logits)
for each categorical column; the encoder a diagonal Gaussian q(z|x), and the prior is
N(0, I). Every quantity here is in nats per sample: the loss and all the anomaly
scores are terms of one likelihood.

Missing cells (NaN numeric values, all-zero one-hot blocks) are left out of the
likelihood; the sum over a row's observed cells is then scaled by
``n_columns / n_observed`` (:func:`row_nll`), so that a row with many missing cells
is scored on the same scale as a complete one instead of looking normal because
little of it is seen.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from ._module import FullNoise

_LOG_2PI = math.log(2.0 * math.pi)
# Rows whose missing cells need their own marginal covariance are factorised in
# chunks of about this many covariance entries, so memory stays bounded whatever the
# batch size (4 M float32 entries: 16 MiB).
_MARGINAL_CHUNK_ENTRIES = 2**22


def squared_error(
    reconstruction: torch.Tensor, x: torch.Tensor, per_feature: bool = False
) -> torch.Tensor:
    """Squared error of each sample, summed over features unless ``per_feature``."""
    squared = (reconstruction - x).square()
    return squared if per_feature else squared.sum(dim=1)


def excess_nll(
    reconstruction: torch.Tensor,
    x: torch.Tensor,
    noise_log_var: torch.Tensor | FullNoise,
    per_feature: bool = False,
) -> torch.Tensor:
    """Gaussian negative log-likelihood above its minimum, ``(x - mu)^2 / (2 sigma^2)``.

    The part of ``-log N(x; mu, sigma^2)`` that depends on ``x``: zero for a perfect
    reconstruction, and each feature's squared error in units of its noise variance
    (the Mahalanobis distance of the residual). With the fixed variance 1/2 it is
    the squared error. With a :class:`~skvae._module.FullNoise` it is half the
    Mahalanobis distance ``r^T S^-1 r / 2`` of ``r = x - mu - location``, split by
    feature as ``r_j (S^-1 r)_j / 2`` (the terms sum to the total; a feature whose
    deviation is explained by its correlated neighbours can get a negative one).

    Examples
    --------
    >>> import math, torch
    >>> from skvae._loss import excess_nll
    >>> x, mu = torch.tensor([[3.0, 1.0]]), torch.zeros(1, 2)
    >>> excess_nll(mu, x, torch.tensor([math.log(9.0), 0.0]), per_feature=True)
    tensor([[0.5000, 0.5000]])
    """
    if isinstance(noise_log_var, FullNoise):
        residual = x - reconstruction - noise_log_var.location
        white = residual @ noise_log_var.whitening
        if not per_feature:
            return 0.5 * white.square().sum(dim=1)
        return 0.5 * residual * (white @ noise_log_var.whitening.T)
    nll = 0.5 * (reconstruction - x).square() * torch.exp(-noise_log_var)
    return nll if per_feature else nll.sum(dim=1)


def gaussian_nll(
    reconstruction: torch.Tensor, x: torch.Tensor, noise_log_var: torch.Tensor
) -> torch.Tensor:
    """``-log N(x; reconstruction, diag(exp(noise_log_var)))`` of each sample.

    Examples
    --------
    >>> import math, torch
    >>> from skvae._loss import gaussian_nll
    >>> value = gaussian_nll(torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1))
    >>> math.isclose(value.item(), 0.5 * math.log(2 * math.pi), rel_tol=1e-6)
    True
    """
    return excess_nll(reconstruction, x, noise_log_var) + nll_offset(
        noise_log_var, x.shape[1]
    )


def nll_offset(
    noise_log_var: torch.Tensor | FullNoise, n_features: int
) -> torch.Tensor:
    """The Gaussian negative log-likelihood's minimum, ``sum_j log(2 pi s_j^2) / 2``.

    The same for every sample; ``noise_log_var`` may hold one value for all features.
    For a :class:`~skvae._module.FullNoise` it is ``(d log(2 pi) + log det S) / 2``.
    """
    if isinstance(noise_log_var, FullNoise):
        return 0.5 * (n_features * _LOG_2PI + noise_log_var.log_det)
    return 0.5 * (noise_log_var + _LOG_2PI).expand(n_features).sum()


def _full_noise_cell_nll(
    residual: torch.Tensor, observed: torch.Tensor, noise: FullNoise, excess: bool
) -> torch.Tensor:
    """Per-cell NLL of numeric residuals under a full-covariance noise.

    A row's observed cells ``o`` are Gaussian with the marginal covariance
    ``S_oo``; their Mahalanobis distance ``r_o^T S_oo^-1 r_o`` is split into one
    term per observed cell as in :func:`excess_nll`. Each observed cell adds the
    per-cell constant of a complete row, ``(log 2 pi + log det S / d) / 2``, and
    missing cells get 0. Scaled to the full row by :func:`row_nll`, a normal row's
    expected score then does not depend on which cells are missing: the marginal
    distance is chi-squared with ``|o|`` degrees of freedom, so its mean times
    ``d / |o|`` is ``d``, that of a complete row. Complete rows share one
    factorisation; each row with missing cells needs its own, done in bounded
    chunks.
    """
    residual = torch.where(observed, residual - noise.location, 0.0)
    n_features = residual.shape[1]
    nll = 0.5 * residual * (residual @ noise.whitening @ noise.whitening.T)
    incomplete = (~observed.all(dim=1)).nonzero().flatten()
    chunk = max(1, _MARGINAL_CHUNK_ENTRIES // max(1, n_features * n_features))
    for rows in incomplete.split(chunk):
        mask = observed[rows].to(residual.dtype)
        # S_oo on the observed block, the identity on the missing one: the same
        # quadratic form as S_oo, with a fixed shape.
        covariance = noise.covariance * (mask[:, :, None] * mask[:, None, :])
        covariance = covariance + torch.diag_embed(1.0 - mask)
        r = residual[rows]
        solved = torch.cholesky_solve(r[:, :, None], torch.linalg.cholesky(covariance))
        nll[rows] = 0.5 * r * solved[:, :, 0]
    if not excess:
        constant = _LOG_2PI / 2 + noise.log_det / (2 * n_features)
        nll = nll + torch.where(observed, constant, 0.0)
    return nll


def cell_nll(
    reconstruction: torch.Tensor,
    x: torch.Tensor,
    noise_log_var: torch.Tensor,
    cardinalities=(),
    excess: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Negative log-likelihood of every cell, and which cells are observed.

    Numeric column ``j`` (the first ``x.shape[1] - sum(cardinalities)`` columns):
    ``(x_j - mu_j)^2 / (2 s_j^2) + log(2 pi s_j^2) / 2`` (without the second term
    when ``excess``). Categorical column ``k`` with one-hot block ``e_k`` and logits
    ``l_k``: the cross-entropy ``-sum_c e_kc log softmax(l_k)_c``, which is already
    zero at its minimum. Missing cells get 0.

    Returns
    -------
    nll, observed : tensors of shape (n_samples, n_columns)

    Examples
    --------
    >>> import torch
    >>> from skvae._loss import cell_nll
    >>> x = torch.tensor([[float("nan"), 0.0, 1.0]])  # numeric NaN, then a category
    >>> logits = torch.tensor([[5.0, 0.0, 0.0]])
    >>> nll, observed = cell_nll(logits, x, torch.zeros(1), cardinalities=(2,))
    >>> nll, observed
    (tensor([[0.0000, 0.6931]]), tensor([[False,  True]]))
    """
    n_numeric = x.shape[1] - sum(cardinalities)
    numeric = x[:, :n_numeric]
    observed = ~numeric.isnan()
    residual = torch.where(observed, numeric - reconstruction[:, :n_numeric], 0.0)
    if isinstance(noise_log_var, FullNoise):
        nll = _full_noise_cell_nll(residual, observed, noise_log_var, excess)
    else:
        noise_log_var = noise_log_var.expand(n_numeric)
        nll = 0.5 * residual.square() * torch.exp(-noise_log_var)
        if not excess:
            nll = nll + torch.where(observed, 0.5 * (noise_log_var + _LOG_2PI), 0.0)
    if not cardinalities:
        return nll, observed
    nlls, masks = [nll], [observed]
    for logits, one_hot in zip(
        reconstruction[:, n_numeric:].split(cardinalities, dim=1),
        x[:, n_numeric:].split(cardinalities, dim=1),
        strict=True,
    ):
        nlls.append(-(one_hot * logits.log_softmax(dim=1)).sum(dim=1, keepdim=True))
        masks.append(one_hot.sum(dim=1, keepdim=True) > 0)
    return torch.cat(nlls, dim=1), torch.cat(masks, dim=1)


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
    reconstruction: torch.Tensor,
    x: torch.Tensor,
    noise_log_var: torch.Tensor,
    cardinalities=(),
) -> torch.Tensor:
    """Negative log-likelihood of each sample over its observed cells (see
    :func:`cell_nll`), scaled to the full row (:func:`row_nll`); for complete
    numeric data it is :func:`gaussian_nll`."""
    if not cardinalities and not bool(x.isnan().any()):
        return gaussian_nll(reconstruction, x, noise_log_var)
    return row_nll(*cell_nll(reconstruction, x, noise_log_var, cardinalities))


def kl_divergence(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) || N(0, I)) of each sample, in nats."""
    return 0.5 * (mean.square() + log_var.exp() - 1.0 - log_var).sum(dim=1)


# -- per-sample scores of a fitted module (module in evaluation mode) -----------------


def negative_elbo(module, x: torch.Tensor) -> torch.Tensor:
    """The negative evidence lower bound of each sample, a bound on ``-log p(x)``.

    Gaussian negative log-likelihood of ``x`` under the decoded posterior mean plus
    KL(q(z|x) || p(z)). Using the posterior mean rather than samples makes it
    deterministic (a one-point estimate of the expected log-likelihood).
    """
    mean, log_var = module.encode(x)
    return observed_nll(
        module.decode(mean), x, module.observation_noise(), module.cardinalities
    ) + kl_divergence(mean, log_var)


def reconstruction_nll(module, x: torch.Tensor, per_feature: bool = False):
    """Excess negative log-likelihood of the decoded posterior mean (see
    :func:`excess_nll` and :func:`cell_nll`): per column (0 for missing cells), or
    per sample, scaled to the full row as in :func:`row_nll`."""
    reconstruction = module.decode(module.encode(x)[0])
    if not module.cardinalities and not bool(x.isnan().any()):
        return excess_nll(
            reconstruction, x, module.observation_noise(), per_feature=per_feature
        )
    nll, observed = cell_nll(
        reconstruction,
        x,
        module.observation_noise(),
        module.cardinalities,
        excess=True,
    )
    return nll if per_feature else row_nll(nll, observed)


def negative_log_reconstruction_probability(
    module, x: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """``-log((1/L) sum_l p(x | z_l))``, ``z_l = mean + std * eps_l`` (An & Cho 2015).

    ``eps`` holds the ``L`` standard-normal draws, one row each, shared by every
    sample: a tensor, or a :class:`SeededDraws` that generates them in blocks. The
    log-sum-exp is accumulated draw by draw (a running maximum and a rescaled sum),
    so memory is one batch of reconstructions whatever ``L``.
    """
    mean, log_var = module.encode(x)
    std = torch.exp(0.5 * log_var)
    noise_log_var = module.observation_noise()
    total = RunningLogSumExp()
    for e in eps:
        total.add(
            -observed_nll(
                module.decode(mean + std * e), x, noise_log_var, module.cardinalities
            )
        )
    return math.log(len(eps)) - total.log_sum()


class RunningLogSumExp:
    """``log sum_l exp(a_l)`` of per-row terms added one at a time, and optionally
    the average of per-row vectors ``v_l`` weighted by ``exp(a_l)``.

    A running maximum rescales the sums, so no term overflows and memory is one
    row of state whatever the number of terms.

    Examples
    --------
    >>> import torch
    >>> from skvae._loss import RunningLogSumExp
    >>> total = RunningLogSumExp()
    >>> for a, v in ((0.0, 1.0), (1000.0, 3.0), (1000.0, 5.0)):
    ...     total.add(torch.tensor([a], dtype=torch.float64), torch.tensor([[v]]))
    >>> round(float(total.log_sum()) - 1000.0, 4), float(total.weighted_mean())
    (0.6931, 4.0)
    """

    def __init__(self):
        self.max = self.sum = self.weighted = None

    def add(self, log_weight: torch.Tensor, value: torch.Tensor | None = None):
        if self.max is None:
            self.max, self.sum, self.weighted = (
                log_weight,
                torch.ones_like(log_weight),
                value,
            )
            return
        new_max = torch.maximum(self.max, log_weight)
        old_scale = torch.exp(self.max - new_max)
        new_scale = torch.exp(log_weight - new_max)
        self.sum = self.sum * old_scale + new_scale
        if value is not None:
            self.weighted = (
                self.weighted * old_scale[:, None] + value * new_scale[:, None]
            )
        self.max = new_max

    def log_sum(self) -> torch.Tensor:
        return self.max + self.sum.log()

    def weighted_mean(self) -> torch.Tensor:
        return self.weighted / self.sum[:, None]


# Draws generated at a time: bounds the memory of the draws whatever ``n_draws``.
DRAW_BLOCK = 1024


class SeededDraws:
    """``n_draws`` standard-normal vectors of width ``n_components`` from ``seed``.

    Iterating yields them one by one, generated anew on each pass in blocks of
    ``DRAW_BLOCK`` rows from a generator seeded with ``seed``: every pass (every
    batch of rows scored) sees the same draws, and memory does not grow with
    ``n_draws``.

    Examples
    --------
    >>> import torch
    >>> from skvae._loss import SeededDraws
    >>> draws = SeededDraws(0, n_draws=3, n_components=2, dtype=torch.float64)
    >>> len(draws), torch.equal(torch.stack(list(draws)), draws.materialize())
    (3, True)
    """

    def __init__(self, seed: int, n_draws: int, n_components: int, dtype, device="cpu"):
        self.seed = seed
        self.n_draws = n_draws
        self.n_components = n_components
        self.dtype = dtype
        self.device = device

    def __len__(self) -> int:
        return self.n_draws

    def blocks(self):
        generator = torch.Generator().manual_seed(self.seed)
        for start in range(0, self.n_draws, DRAW_BLOCK):
            size = min(DRAW_BLOCK, self.n_draws - start)
            yield torch.randn(
                (size, self.n_components), generator=generator, dtype=self.dtype
            ).to(self.device)

    def __iter__(self):
        for block in self.blocks():
            yield from block

    def materialize(self) -> torch.Tensor:
        """All draws as one ``(n_draws, n_components)`` tensor (for export)."""
        return torch.cat(list(self.blocks()))


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
    >>> from skvae._loss import VAELoss
    >>> from skvae._module import VAEOutput
    >>> x = torch.ones(2, 3)
    >>> out = VAEOutput(torch.zeros(2, 3), torch.zeros(2, 1), torch.zeros(2, 1),
    ...                 torch.zeros(3))  # unit noise variance
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
            observed_nll(
                output.reconstruction, x, output.noise_log_var, output.cardinalities
            ),
            kl_divergence(output.mean, output.log_var),
        )
        if self.reduction == "none":
            return terms
        return LossTerms(*(term.mean() for term in terms))
