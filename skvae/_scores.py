"""Per-sample scores of a fitted module, one small function each, by name.

Each takes the module (in evaluation mode), a batch ``x`` in the network's layout
and the latent draws of the Monte-Carlo scores (:class:`SeededDraws`), and returns
one value per row, in nats, higher for rows the model finds less likely.
``SCORES`` maps a ``score_method`` name to its function; the noise model and the
categorical head (``module.noise.score_noise()``, ``module.layout``) supply every
likelihood term, so no score asks which noise model it has.
"""

from __future__ import annotations

import math

import torch

from ._loss import cell_nll, kl_divergence, observed_nll, row_nll


def negative_elbo(module, x: torch.Tensor, draws=None) -> torch.Tensor:
    """The negative evidence lower bound of each sample, a bound on ``-log p(x)``.

    Negative log-likelihood of ``x`` under the decoded posterior mean plus
    KL(q(z|x) || p(z)). Using the posterior mean rather than samples makes it
    deterministic (a one-point estimate of the expected log-likelihood).
    """
    mean, log_var = module.encode(x)
    return observed_nll(
        module.decode(mean), x, module.noise.score_noise(), module.layout
    ) + kl_divergence(mean, log_var)


def reconstruction_nll(
    module, x: torch.Tensor, draws=None, per_feature: bool = False
) -> torch.Tensor:
    """Excess negative log-likelihood of the decoded posterior mean (the noise's
    ``excess_nll``, and :func:`~skvae._loss.cell_nll` with ``excess=True``): per
    column (0 for missing cells), or per sample, scaled to the full row as in
    :func:`~skvae._loss.row_nll`."""
    reconstruction = module.decode(module.encode(x)[0])
    noise = module.noise.score_noise()
    if not module.layout.cardinalities and not bool(x.isnan().any()):
        return noise.excess_nll(reconstruction, x, per_feature=per_feature)
    nll, observed = cell_nll(reconstruction, x, noise, module.layout, excess=True)
    return nll if per_feature else row_nll(nll, observed)


def negative_log_reconstruction_probability(
    module, x: torch.Tensor, draws
) -> torch.Tensor:
    """``-log((1/L) sum_l p(x | z_l))``, ``z_l = mean + std * eps_l`` (An & Cho 2015).

    ``draws`` holds the ``L`` standard-normal draws, one row each, shared by every
    sample: a tensor, or a :class:`SeededDraws` that generates them in blocks. The
    log-sum-exp is accumulated draw by draw (a running maximum and a rescaled sum),
    so memory is one batch of reconstructions whatever ``L``.
    """
    mean, log_var = module.encode(x)
    std = torch.exp(0.5 * log_var)
    noise = module.noise.score_noise()
    total = RunningLogSumExp()
    for e in draws:
        total.add(-observed_nll(module.decode(mean + std * e), x, noise, module.layout))
    return math.log(len(draws)) - total.log_sum()


#: The per-sample scores by ``score_method`` name (``VAEOutlierDetector``).
SCORES = {
    "elbo": negative_elbo,
    "reconstruction": reconstruction_nll,
    "reconstruction_probability": negative_log_reconstruction_probability,
}


class RunningLogSumExp:
    """``log sum_l exp(a_l)`` of per-row terms added one at a time, and optionally
    the average of per-row vectors ``v_l`` weighted by ``exp(a_l)``.

    A running maximum rescales the sums, so no term overflows and memory is one
    row of state whatever the number of terms.

    Examples
    --------
    >>> import torch
    >>> from skvae._scores import RunningLogSumExp
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
    >>> from skvae._scores import SeededDraws
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
