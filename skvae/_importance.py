"""Importance-weighted imputation: the conditional mean of the missing cells.

Under the fitted model, the best guess of a row's missing cells ``x_m`` given its
observed ones ``x_o`` (in squared error, and in accuracy for a categorical cell's
probabilities) is ``E[x_m | x_o] = E_{p(z | x_o)}[E[x_m | z]]``. The encoder's
q(z | x_o) is an approximation of the posterior, so draws ``z_l`` from it are
reweighted by ``w_l ~ p(x_o | z_l) p(z_l) / q(z_l | x_o)``, which makes the weighted
average a consistent estimate of the conditional mean as the number of draws grows
(self-normalised importance sampling; Mattei & Frellsen, ICML 2019, "MIWAE").
Decoding the posterior mean alone is the plug-in ``E[x_m | z = E[z | x_o]]``, which
is biased wherever the decoder is not linear.

For multiple imputation (``sample_posterior=True``) the same weights pick one
draw instead (sampling importance resampling: draw ``l`` with probability
``w_l / sum_k w_k``, kept as a running choice, a weighted reservoir of size one),
and the missing cells are drawn from ``p(x_m | z_l)``.
"""

from __future__ import annotations

import torch

from ._generation import draw_given_decoded
from ._loss import cell_nll
from ._scores import RunningLogSumExp


def importance_weighted_fill(
    module, x: torch.Tensor, draws, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``x`` with each missing cell replaced by its importance-weighted conditional
    mean (with ``generator``: a draw from the conditional); observed cells
    unchanged.

    ``draws`` holds the standard-normal vectors (a tensor or a
    :class:`~skvae._scores.SeededDraws`), the same for every row, so a row's result
    does not depend on its batch. The weights are accumulated draw by draw with a
    running maximum, so memory is one batch of reconstructions whatever the number
    of draws.

    Examples
    --------
    >>> import torch
    >>> from skvae._importance import importance_weighted_fill
    >>> from skvae._module import VAEModule
    >>> module = VAEModule(3, 1, (8,), noise_model="fixed").eval()
    >>> x = torch.tensor([[0.5, float("nan"), -1.0]])
    >>> filled = importance_weighted_fill(module, x, torch.randn(10, 1))
    >>> bool(torch.isfinite(filled).all()), filled[0, 0].item()
    (True, 0.5)
    """
    observed = module.observed(x)
    if bool(observed.all()):
        return x
    start = module.fill_missing(x, 0, observed)
    mean, log_var = module.encode(start, observed)
    std = torch.exp(0.5 * log_var)
    noise = module.noise.score_noise()
    total, chosen = RunningLogSumExp(), None
    for eps in draws:
        z = mean + std * eps
        reconstruction = module.decode(z)
        nll, _ = cell_nll(reconstruction, x, noise, module.layout)
        # log p(x_o | z) + log p(z) - log q(z | x_o), the shared constants dropped.
        log_weight = (
            -nll.sum(dim=1)
            - 0.5 * z.square().sum(dim=1)
            + 0.5 * eps.square().sum()
            + 0.5 * log_var.sum(dim=1)
        )
        if generator is None:
            total.add(log_weight, module.layout.expected_value(reconstruction))
            continue
        total.add(log_weight)
        candidate = draw_given_decoded(module, reconstruction, generator)
        uniform = torch.rand(
            len(x), generator=generator, dtype=log_weight.dtype, device=x.device
        )
        keep = uniform < torch.exp(log_weight - total.log_sum())
        chosen = (
            candidate
            if chosen is None
            else torch.where(keep[:, None], candidate, chosen)
        )
    estimate = total.weighted_mean() if generator is None else chosen
    return module.layout.replace_missing(x, estimate, observed)
