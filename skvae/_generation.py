"""Drawing new rows from a fitted VAE: the latent prior and the decoder's draws.

A trained VAE's aggregate posterior ``q(z) = (1/N) sum_i q(z | x_i)`` is not the
``N(0, I)`` prior it was trained against: the KL term pulls each ``q(z | x_i)``
towards the prior, but their mixture keeps holes and lopsided directions where
``N(0, I)`` puts mass no training row has, and the decoder turns those points
into unfaithful rows (the "holes" problem; Rosca et al. 2018, Dai & Wipf 2019).
Two-stage VAEs (Dai & Wipf, 2019) and ex-post density estimation (Ghosh et al.,
2020, "From variational to deterministic autoencoders") fit a second density to
the latent codes of the training rows and sample from it instead. Here that
density is a Gaussian mixture fitted by maximum likelihood (EM) to one draw of
``q(z | x_i)`` per training row, so it estimates the aggregate posterior itself;
it has :data:`MAX_PRIOR_COMPONENTS` components, as in Ghosh et al., fewer on
small data (:func:`prior_components`: one fit, no search, so that fitting stays
cheap beside training).

:class:`DataSampler` keeps what generation fits after training, as buffers of
the module (so ``skvae.save``, pickle and skops keep it): the mixture, the
decoder's residual variance per numeric column (the maximum-likelihood variance
of the fixed noise model, whose own 1/2 is a training device, not a fit) and the
training rows' missing-cell rate per column. :func:`draw_encoded` draws rows in
the network's encoded layout, one bounded block at a time.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from torch import nn

from ._tabular import restore_dtypes

#: Most mixture components of the latent prior (Ghosh et al. 2020 use 10).
MAX_PRIOR_COMPONENTS = 10
#: Rows per covariance value each component gets at least.
ROWS_PER_PRIOR_VALUE = 10
#: Training rows (a seeded subsample) the prior and the residual variance are fitted
#: on: enough for a 10-component mixture in a few dimensions, cheap beside training.
MAX_SAMPLER_ROWS = 2000
#: Rows drawn per block: memory stays bounded for any ``n_samples``.
SAMPLE_BLOCK = 65_536
#: Latent priors a user can ask for.
LATENT_PRIORS = ("mixture", "standard")


class DataSampler(nn.Module):
    """What generation fits after training: the latent prior, the numeric
    residual variance and the missing-cell rates.

    Until :meth:`fit` runs (and in files saved before skvae had ``sample``) the
    prior is ``N(0, I)``, the residual variance 1/2 and no cell is missing.

    Parameters
    ----------
    n_components : int
        Latent dimensions.
    n_numeric : int
        Numeric columns.
    n_columns : int
        Columns of the table (numeric and categorical).

    Examples
    --------
    >>> import torch
    >>> from skvae._generation import DataSampler
    >>> sampler = DataSampler(2, 3, 3)
    >>> sampler.draw_latent(4, torch.Generator().manual_seed(0)).shape
    torch.Size([4, 2])
    """

    def __init__(self, n_components: int, n_numeric: int, n_columns: int):
        super().__init__()
        k, d = MAX_PRIOR_COMPONENTS, n_components
        for name, shape in (
            ("prior_weights", (k,)),
            ("prior_means", (k, d)),
            ("prior_scale_tril", (k, d, d)),
            ("residual_var", (n_numeric,)),
            ("numeric_low", (n_numeric,)),
            ("numeric_high", (n_numeric,)),
            ("missing_rate", (n_columns,)),
        ):
            self.register_buffer(name, torch.empty(shape))
        self.reset()

    def reset(self) -> None:
        """Back to ``N(0, I)``, variance 1/2 and no missing cell."""
        if self.prior_weights.is_meta:
            return
        with torch.no_grad():
            self.prior_weights.zero_()[0] = 1.0
            self.prior_means.zero_()
            self.prior_scale_tril.copy_(
                torch.eye(self.prior_means.shape[1]).expand_as(self.prior_scale_tril)
            )
            self.residual_var.fill_(0.5)
            # Finite, as every saved tensor must be: the widest range of the dtype.
            self.numeric_low.fill_(-torch.finfo(self.numeric_low.dtype).max)
            self.numeric_high.fill_(torch.finfo(self.numeric_high.dtype).max)
            self.missing_rate.zero_()

    @classmethod
    def initial_state(cls, shapes: dict) -> dict:
        """The buffers of an unfitted sampler as numpy arrays, by state name, for
        the shapes in ``shapes`` (name -> tensor with a shape, e.g. on "meta")."""
        d = shapes["prior_means"].shape[1]
        n_numeric = shapes["residual_var"].shape[0]
        n_columns = shapes["missing_rate"].shape[0]
        fresh = cls(d, n_numeric, n_columns)
        return {name: value.numpy() for name, value in fresh.state_dict().items()}

    def fit_prior(self, z: np.ndarray, seed: int) -> None:
        """Fit the Gaussian mixture to the latent draws ``z`` (rows: one draw of
        ``q(z | x_i)`` per training row). Where no mixture can be fitted (fewer
        than two rows, codes far outside floating point's comfortable range, or a
        degenerate EM), the prior stays ``N(0, I)``."""
        n, d = z.shape
        if n < 2 or not np.isfinite(z).all() or np.abs(z).max() > 1e100:
            return
        # EM on standardized codes: its covariance regularisation (reg_covar) is
        # then relative to each dimension's spread, so codes that are tiny
        # (collapsed posteriors) or large do not break it.
        center, spread = z.mean(axis=0), z.std(axis=0)
        spread = np.where(spread > 1e-12 * (1.0 + np.abs(center)), spread, 1.0)
        k = prior_components(n, d)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                # EM's iteration cap is a cost bound; a capped fit is a mixture.
                warnings.simplefilter("ignore", ConvergenceWarning)
                mixture = GaussianMixture(
                    k, covariance_type="full", max_iter=100, random_state=seed
                ).fit((z - center) / spread)
            scale_tril = spread[:, None] * np.linalg.cholesky(mixture.covariances_)
        except (ValueError, np.linalg.LinAlgError):
            return
        means = center + mixture.means_ * spread
        if not (np.isfinite(scale_tril).all() and np.isfinite(means).all()):
            return
        dtype = self.prior_means.dtype
        with torch.no_grad():
            self.prior_weights.zero_()[:k] = torch.as_tensor(
                mixture.weights_, dtype=dtype
            )
            self.prior_means.zero_()[:k] = torch.as_tensor(means, dtype=dtype)
            self.prior_scale_tril[:k] = torch.as_tensor(scale_tril, dtype=dtype)

    def draw_latent(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` draws from the latent prior."""
        component = torch.multinomial(
            self.prior_weights, n, replacement=True, generator=generator
        )
        eps = torch.randn(
            (n, self.prior_means.shape[1]),
            generator=generator,
            dtype=self.prior_means.dtype,
            device=self.prior_means.device,
        )
        scale = self.prior_scale_tril[component]
        return self.prior_means[component] + (scale @ eps[:, :, None])[:, :, 0]


def prior_components(n_rows: int, n_components: int) -> int:
    """Mixture components for ``n_rows`` latent draws of ``n_components``
    dimensions: :data:`MAX_PRIOR_COMPONENTS`, fewer where a component would get
    fewer than :data:`ROWS_PER_PRIOR_VALUE` rows per value of its covariance.

    Examples
    --------
    >>> from skvae._generation import prior_components
    >>> prior_components(2000, 2), prior_components(300, 2), prior_components(50, 8)
    (10, 6, 1)
    """
    n_values = n_components * (n_components + 3) // 2  # mean and covariance
    fitting = n_rows // (ROWS_PER_PRIOR_VALUE * n_values)
    return int(min(MAX_PRIOR_COMPONENTS, max(1, fitting)))


def fit_sampler(module, X: np.ndarray, latent_prior: str, seed: int) -> None:
    """Fit ``module.sampler`` on the training matrix ``X`` (the network's input,
    NaN where missing): missing rates on every row; the residual variance and,
    for ``latent_prior="mixture"``, the prior on a seeded subsample of at most
    :data:`MAX_SAMPLER_ROWS` rows. Draws from its own generators only."""
    sampler, layout = module.sampler, module.layout
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.permutation(len(X))[:MAX_SAMPLER_ROWS])
    parameter = next(module.parameters())
    x = torch.as_tensor(np.asarray(X[rows]), dtype=parameter.dtype).to(parameter.device)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            sampler.reset()
            n_observed = np.zeros(layout.n_columns)
            low = np.full(layout.n_numeric, np.inf)
            high = np.full(layout.n_numeric, -np.inf)
            for start in range(0, len(X), SAMPLE_BLOCK):
                block = np.asarray(X[start : start + SAMPLE_BLOCK])
                n_observed += layout.observed(block).sum(axis=0)
                # fmin and fmax pass over NaN (missing cells).
                numeric = layout.numeric(block)
                low = np.fmin(low, np.fmin.reduce(numeric, axis=0, initial=np.inf))
                high = np.fmax(high, np.fmax.reduce(numeric, axis=0, initial=-np.inf))
            rate = 1.0 - n_observed / max(len(X), 1)
            sampler.missing_rate.copy_(torch.as_tensor(rate))
            # The observed range of each numeric column: draws stay in the data's
            # support (ages are not negative), as a column's values are bounded.
            sampler.numeric_low.copy_(torch.as_tensor(low))
            sampler.numeric_high.copy_(torch.as_tensor(high))
            mean, log_var = module.encode(x)
            residual = layout.numeric_residual(x, module.decode(mean))
            if layout.n_numeric:
                variance = torch.nanmean(residual.square(), dim=0)
                floor = torch.finfo(variance.dtype).tiny
                sampler.residual_var.copy_(
                    torch.nan_to_num(variance, nan=0.5).clamp_min(floor)
                )
            if latent_prior == "mixture":
                generator = torch.Generator(device=x.device).manual_seed(seed)
                z = module.reparameterize(mean, log_var, generator)
                sampler.fit_prior(z.double().cpu().numpy(), seed)
    finally:
        module.train(was_training)


def draw_encoded(
    module,
    n_samples: int,
    generator: torch.Generator,
    add_noise: bool = True,
    missing_cells: bool = False,
) -> np.ndarray:
    """``n_samples`` rows drawn from the fitted model, in the network's encoded
    layout (numeric columns, then one-hot blocks; NaN where a drawn cell is
    missing), as a float64 array.

    ``z`` comes from the latent prior, then ``x`` from ``p(x | z)``: the noise
    model's draw around the decoder's output and one category per column from its
    softmax; with ``add_noise=False`` the noise model's mean and each column's most
    probable category instead. Numeric draws are clipped to the column's training
    range. ``missing_cells`` blanks each column's cells
    independently at its training missing rate.
    """
    sampler, layout = module.sampler, module.layout
    out = np.empty((n_samples, layout.n_encoded))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for start in range(0, n_samples, SAMPLE_BLOCK):
                n = min(SAMPLE_BLOCK, n_samples - start)
                decoded = module.decode(sampler.draw_latent(n, generator))
                block = draw_given_decoded(module, decoded, generator, add_noise)
                block = block.double()
                numeric = layout.numeric(block)
                low, high = sampler.numeric_low, sampler.numeric_high
                numeric.copy_(numeric.clamp(low.to(numeric), high.to(numeric)))
                if missing_cells:
                    block = _blank_cells(block, layout, sampler.missing_rate, generator)
                out[start : start + n] = block.cpu().numpy()
    finally:
        module.train(was_training)
    return out


def draw_given_decoded(
    module, decoded: torch.Tensor, generator: torch.Generator, add_noise: bool = True
) -> torch.Tensor:
    """One draw of ``x ~ p(x | z)`` per row of the decoder's output ``decoded``,
    in the encoded layout: the noise model's draw for numeric columns, a category
    from each softmax (one-hot). ``add_noise=False``: the mean and the modes."""
    layout = module.layout
    gaussian = module.noise.sample_noise(module.sampler.residual_var)
    numeric, logits = layout.numeric(decoded), layout.categorical(decoded)
    if add_noise:
        numeric = gaussian.sample(numeric, generator)
        one_hot = layout.head.sample(logits, generator)
    else:
        numeric = gaussian.mean(numeric)
        one_hot = layout.head.mode(logits)
    return torch.cat([numeric, one_hot], dim=1)


def _blank_cells(block, layout, missing_rate, generator) -> torch.Tensor:
    """``block`` with each column's cells set to NaN with its missing rate."""
    draws = torch.rand(
        (len(block), layout.n_columns), generator=generator, device=block.device
    )
    missing = draws < missing_rate.to(draws)
    cells = layout.cell_mask(missing)
    return block.masked_fill(cells, float("nan"))


def sampled_output(estimator, encoded: np.ndarray):
    """Rows drawn in the encoded layout as ``estimator`` was fitted: through its
    table encoder (original units, categories, dtypes), in the training dtype, and
    as a DataFrame when fitted on one or when ``set_output`` asks for one."""
    from sklearn.utils._set_output import ADAPTERS_MANAGER, _get_output_config

    container = _get_output_config("transform", estimator)["dense"]
    if container == "default" and hasattr(estimator, "feature_names_in_"):
        container = "pandas"
    encoder = estimator.table_encoder_
    if container == "default":
        rows = encoded if encoder is None else encoder.inverse_transform(encoded)
        if rows.dtype == object:
            return rows
        return rows.astype(str(estimator._module_dtype()).split(".")[-1])
    if encoder is not None:
        frame = encoder.inverse_transform(encoded, as_frame=True)
        if encoder.column_names_ is None and hasattr(estimator, "feature_names_in_"):
            # A numeric-only table was validated as an array before encoding.
            frame.columns = list(estimator.feature_names_in_)
        rows, names = frame, list(frame.columns)
    else:
        rows = encoded.astype(str(estimator._module_dtype()).split(".")[-1])
        names = getattr(estimator, "feature_names_in_", None)
        if names is None:
            names = [f"x{j}" for j in range(rows.shape[1])]
    out = (
        frame
        if container == "pandas" and encoder is not None
        else ADAPTERS_MANAGER.adapters[container].create_container(
            rows, None, columns=list(names)
        )
    )
    if container == "pandas":  # feature_dtypes_: None unless fitted on numbers
        out = restore_dtypes(out, getattr(estimator, "feature_dtypes_", None))
    return out
