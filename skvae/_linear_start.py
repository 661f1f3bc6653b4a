"""Starting a VAE with a linear path at probabilistic PCA's optimum.

A linear VAE (linear encoder mean, linear decoder, Gaussian noise of variance
sigma^2) has probabilistic PCA as its optimum (Tipping & Bishop 1999; Lucas et al.,
NeurIPS 2019): with the data's covariance eigenpairs (lambda_i, u_i), the decoder is
``W = U_k (Lambda_k - s^2 I)^(1/2)`` and the posterior is
``q(z|x) = N(A (x - m), s^2 Lambda_k^-1)`` with ``A = diag(sqrt(lambda_i - s^2) /
lambda_i) U_k^T``. A direction whose variance ``lambda_i`` is at most ``s^2``
collapses (``W`` column 0, posterior = prior). The loss ``reconstruction + beta *
KL`` with noise variance sigma^2 is, divided by beta, the ELBO with noise
``s^2 = beta * sigma^2``, so that is the value the start uses.

A network trained from random weights reaches this solution slowly or not at all on
a few hundred rows (extra latent directions stay collapsed); started there, with the
networks' output layers at zero, training only has to learn what is nonlinear.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA

from ._module import _LOG_VAR_MAX, _LOG_VAR_MIN, VAEModule
from ._noise import MIN_NOISE_VARIANCE_RATIO

# Rows the principal directions are computed from (a fixed random subsample above
# that): the directions' error shrinks like 1 / sqrt(rows), and the SVD's cost
# stays bounded on a million rows.
MAX_PCA_ROWS = 10_000
# Above this, squared values overflow float64 sums (and float32 networks long before).
_MAX_ABS_VALUE = 1e100


def ppca_solution(
    X: np.ndarray, n_components: int, noise_variance, beta: float, seed: int
):
    """Probabilistic PCA's maximum-likelihood parameters for ``X`` (no NaN).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
        Latent dimension; directions beyond the data's rank are left collapsed.
    noise_variance : float or None
        The noise variance ``s^2``; None takes its maximum-likelihood value, the
        mean variance of the directions left out (bounded below by 1% of the mean
        feature variance, as the learned noise models are).
    beta : float
        The KL weight: the solution is that of noise ``beta * noise_variance``.
    seed : int
        Seeds the randomized SVD of wide data.

    Returns
    -------
    mean : ndarray of shape (n_features,)
    decoder : ndarray of shape (n_features, n_components)
        ``W``; its column ``i`` is 0 where direction ``i`` collapsed.
    encoder : ndarray of shape (n_components, n_features)
        ``A``, the posterior mean's map of ``x - mean``.
    log_var : ndarray of shape (n_components,)
        The posterior's log variance per direction, 0 (the prior) where collapsed.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae._linear_start import ppca_solution
    >>> X = np.random.RandomState(0).normal(size=(500, 3)) * [3.0, 1.0, 0.1]
    >>> mean, W, A, log_var = ppca_solution(X, 2, 0.5, beta=1.0, seed=0)
    >>> W.shape, A.shape
    ((3, 2), (2, 3))
    >>> bool(np.allclose(np.exp(log_var), 0.5 / X.var(axis=0)[:2], rtol=0.2))
    True
    """
    n_samples, n_features = X.shape
    n_directions = min(n_components, n_features, n_samples - 1)
    mean = X.mean(axis=0)
    decoder = np.zeros((n_features, n_components))
    encoder = np.zeros((n_components, n_features))
    log_var = np.zeros(n_components)
    if n_directions < 1:
        return mean, decoder, encoder, log_var
    pca = PCA(n_directions, random_state=seed).fit(X)
    if noise_variance is None:
        floor = MIN_NOISE_VARIANCE_RATIO * float(X.var(axis=0).mean())
        noise_variance = max(float(pca.noise_variance_), floor)
    noise_variance = beta * noise_variance
    variance = pca.explained_variance_
    kept = variance > noise_variance
    scale = np.sqrt(np.where(kept, variance - noise_variance, 0.0))
    decoder[:, :n_directions] = pca.components_.T * scale
    encoder[:n_directions] = (scale / variance)[:, None] * pca.components_
    with np.errstate(divide="ignore"):  # noise_variance 0 (beta=0): no posterior spread
        log_var[:n_directions] = np.where(kept, np.log(noise_variance / variance), 0.0)
    return mean, decoder, encoder, np.clip(log_var, _LOG_VAR_MIN, _LOG_VAR_MAX)


def start_at_ppca(module: VAEModule, X: np.ndarray, beta: float, seed: int) -> bool:
    """Set ``module``'s linear path to probabilistic PCA's solution for ``X``.

    The encoder's mean and log-variance heads and the decoder's output layer get
    zero weights (their biases hold the solution's constants), so ``module`` is then
    the linear VAE at its optimum. Only the numeric columns take part; categorical
    outputs keep their initial weights. Modules whose output is not the identity
    (sigmoid), with per-feature noise (factor analysis, not PPCA) or without a
    numeric column keep the zero linear path.

    Parameters
    ----------
    module : VAEModule
        Built with ``linear_path=True``.
    X : ndarray of shape (n_samples, n_encoded)
        The training rows as the module sees them (numeric columns first; NaN for
        missing cells, which are filled by the column mean here).
    beta : float
        The KL weight of the loss: the start's noise variance is ``beta`` times the
        module's (1/2 for "fixed" and "full"; the maximum-likelihood value for the
        learned models).
    seed : int
        Seeds the row subsample and the randomized SVD.

    Returns
    -------
    started : bool
        Whether the linear path was set.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skvae._module import VAEModule
    >>> from skvae._linear_start import start_at_ppca
    >>> X = np.random.RandomState(0).normal(size=(200, 4))
    >>> module = VAEModule.seeded(torch.Generator().manual_seed(0), n_features=4,
    ...     n_components=4, hidden_layer_sizes=(8,), noise_model="fixed",
    ...     linear_path=True).double()
    >>> start_at_ppca(module, X, beta=0.0, seed=0)
    True
    >>> Xt = torch.from_numpy(X)
    >>> bool(torch.allclose(module.eval()(Xt).reconstruction, Xt))  # full rank
    True
    """
    layout = module.layout
    output_activation = module.decoder[-1]
    noise_variance = module.noise.ppca_variance
    if (
        layout.n_numeric == 0
        or not isinstance(output_activation, torch.nn.Identity)
        or noise_variance is False  # PPCA is not this noise model's linear optimum
    ):
        return False
    numeric = np.asarray(layout.numeric(X), dtype=np.float64)
    if len(numeric) > MAX_PCA_ROWS:
        rows = np.random.RandomState(seed).choice(len(numeric), MAX_PCA_ROWS, False)
        numeric = numeric[np.sort(rows)]
    if np.isnan(numeric).any():
        numeric = np.where(np.isnan(numeric), np.nanmean(numeric, axis=0), numeric)
    with np.errstate(all="ignore"):
        scale = float(np.max(np.abs(numeric))) if numeric.size else 0.0
    if not np.isfinite(scale) or scale > _MAX_ABS_VALUE:
        # Values whose squares overflow: no start; training then fails with the
        # clear "scale the input" error.
        return False
    mean, decoder, encoder, log_var = ppca_solution(
        numeric, module.linear_mean.out_features, noise_variance, beta, seed
    )
    output_layer = module.decoder[-2]

    def tensor(array):
        return torch.as_tensor(
            array, dtype=output_layer.weight.dtype, device=output_layer.weight.device
        )

    with torch.no_grad():
        for head in (module.mean, module.log_var):
            head.weight.zero_()
        module.linear_mean.weight.zero_()
        module.linear_mean.weight[:, layout.numeric_columns] = tensor(encoder)
        module.mean.bias.copy_(tensor(-encoder @ mean))
        module.log_var.bias.copy_(tensor(log_var))
        module.linear_decoder.weight.zero_()
        module.linear_decoder.weight[layout.numeric_columns] = tensor(decoder)
        output_layer.weight[layout.numeric_columns] = 0.0
        output_layer.bias[layout.numeric_columns] = tensor(mean)
    return True
