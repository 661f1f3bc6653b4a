"""Torch modules: an MLP encoder, a mirrored decoder and the VAE that joins them."""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch
from scipy.stats import chi2
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "selu": nn.SELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}

OUTPUT_ACTIVATIONS = {"identity": nn.Identity, "sigmoid": nn.Sigmoid}

# exp(log_var) overflows float32 a little above 88; clamping keeps a diverging encoder
# from turning the KL term into inf before the divergence check can report it clearly.
_LOG_VAR_MIN, _LOG_VAR_MAX = -30.0, 30.0


# The decoder's observation noise p(x|z) = N(decoder(z), diag(sigma^2)):
# - "feature": one learned variance per feature (factor analysis in the linear case),
# - "shared": one learned variance for all features (probabilistic PCA),
# - "fixed": sigma^2 = 1/2 for every feature, so the negative log-likelihood is the
#   squared error plus a constant (the loss of skvae 0.1),
# - "full": trained as "fixed", then a full covariance matrix fitted to the training
#   residuals by the minimum covariance determinant (see skvae._mcd) scores them:
#   p(x|z) = N(decoder(z) + location, covariance).
NOISE_MODELS = ("feature", "shared", "fixed", "full")
_FIXED_NOISE_LOG_VAR = math.log(0.5)
# A Gaussian likelihood whose variance may shrink to 0 is unbounded, so maximum
# likelihood is ill-posed (Mattei & Frellsen, NeurIPS 2018); they bound the variance
# from below. Here the bound is relative to each feature's training variance, so it
# does not depend on the scale of the data: the noise standard deviation stays at
# least a tenth of the feature's standard deviation (at most 99% of a feature's
# variance is explained), which also caps any one feature's weight in the score.
MIN_NOISE_VARIANCE_RATIO = 1e-2
# Weight of each training batch in the running noise variance (BatchNorm's default).
NOISE_VARIANCE_MOMENTUM = 0.1


def trimmed_variance(residual: torch.Tensor, trim_fraction: float) -> torch.Tensor:
    """Per-feature noise variance from the smallest squared residuals of a batch.

    The mean of each feature's ``1 - trim_fraction`` smallest squared residuals,
    times the factor that makes it consistent for Gaussian residuals (the
    correction MCD applies to its covariance; Croux & Haesbroeck, 1999): for a
    Gaussian with variance ``s^2``, the kept squares average
    ``s^2 * P(chi2_3 <= q) / (1 - t)`` with ``q`` the ``1 - t`` quantile of
    ``chi2_1``. This is the maximum-likelihood variance of the trimmed
    likelihood the loss optimises: the anomalies a trimmed loss leaves out of the
    fit no longer inflate the noise, which would make all samples look alike
    (masking, as a non-robust covariance does).

    Examples
    --------
    >>> import torch
    >>> from skvae._module import trimmed_variance
    >>> r = torch.randn(100_000, 2, generator=torch.Generator().manual_seed(0)) * 3
    >>> r[:5_000] += 100.0  # 5% gross errors
    >>> [round(v, 1) for v in trimmed_variance(r, 0.2).tolist()]  # true value 9
    [10.3, 10.5]
    >>> [round(v) for v in r.square().mean(dim=0).tolist()]  # untrimmed
    [508, 509]
    """
    squared = residual.square()
    n_keep = max(1, round((1.0 - trim_fraction) * len(squared)))
    if trim_fraction <= 0.0 or n_keep >= len(squared):
        return squared.mean(dim=0)
    kept = squared.topk(n_keep, dim=0, largest=False, sorted=False).values
    return kept.mean(dim=0) * _consistency_factor(trim_fraction)


@functools.cache
def _consistency_factor(trim_fraction: float) -> float:
    quantile = chi2.ppf(1.0 - trim_fraction, 1)
    return float((1.0 - trim_fraction) / chi2.cdf(quantile, 3))


class FullNoise(NamedTuple):
    """A full-covariance Gaussian observation noise N(location, covariance).

    ``whitening`` is ``W`` with ``W W^T = covariance^-1`` (the inverse transpose of
    the Cholesky factor), so the Mahalanobis distance of a residual row ``r`` is
    ``||(r - location) W||^2``; ``log_det`` is ``log det(covariance)``.
    """

    location: torch.Tensor
    covariance: torch.Tensor
    whitening: torch.Tensor
    log_det: torch.Tensor


class VAEOutput(NamedTuple):
    """What :class:`VAEModule` returns: the decoded input, the posterior and the
    decoder's log noise variance per numeric feature.

    With categorical columns (``cardinalities``) the reconstruction holds the
    numeric means first, then one block of logits per categorical column.
    """

    reconstruction: torch.Tensor
    mean: torch.Tensor
    log_var: torch.Tensor
    noise_log_var: torch.Tensor
    cardinalities: tuple = ()


class SeededDropout(nn.Dropout):
    """Dropout drawing its mask from ``generator`` when one is set.

    ``nn.Dropout`` draws from torch's global generator, which every thread of the
    process shares: two models trained at once in threads (joblib, dask) would then
    get each other's random numbers and lose reproducibility.
    """

    generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or self.generator is None:
            return super().forward(x)
        keep = torch.rand(
            x.shape, generator=self.generator, dtype=x.dtype, device=x.device
        )
        return x * (keep >= self.p) / (1.0 - self.p)


def _mlp(
    widths: list[int], activation: str, batch_norm: bool, dropout: float
) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
        layers.append(nn.Linear(n_in, n_out))
        if batch_norm:
            layers.append(nn.BatchNorm1d(n_out))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(SeededDropout(dropout))
    return nn.Sequential(*layers)


class VAEModule(nn.Module):
    """A variational autoencoder with a diagonal Gaussian posterior.

    The encoder maps ``x`` through the hidden layers to the mean and log-variance of
    q(z|x); during training ``z`` is drawn with the reparameterisation trick, in
    evaluation mode ``z`` is the posterior mean, so inference is deterministic. The
    decoder mirrors the encoder's widths.

    Parameters
    ----------
    n_features : int
        Width of the input and of the reconstruction.
    n_components : int
        Dimension of the latent space.
    hidden_layer_sizes : sequence of int
        Encoder widths, first to last; the decoder uses them in reverse.
    activation : str, default="relu"
        Hidden activation, a key of ``ACTIVATIONS``.
    batch_norm : bool, default=False
        Batch normalisation after each encoder layer.
    dropout : float, default=0.0
        Dropout probability after each encoder activation.
    output_activation : {"identity", "sigmoid"}, default="identity"
        Applied to the decoder output: identity for standardized data, sigmoid for
        data scaled to [0, 1].
    noise_model : {"feature", "shared", "fixed", "full"}, default="feature"
        The decoder's Gaussian noise: a learned variance per feature, one learned
        variance for all, a fixed variance of 1/2, or (``"full"``) the fixed
        variance in training and a full covariance matrix set after training by
        :meth:`set_noise_covariance` for scoring. Learned variances are the
        maximum-likelihood value of each training batch (see
        :meth:`noise_log_variance`), bounded below by ``MIN_NOISE_VARIANCE_RATIO``
        times the feature's training variance (:meth:`set_feature_variance`).
    trim_fraction : float in [0, 1), default=0.0
        Share of each batch's largest squared residuals, per feature, left out of
        the noise-variance estimate (see :func:`trimmed_variance`); set it to the
        share a trimmed loss leaves out.
    cardinalities : sequence of int, default=()
        Number of categories of each categorical column. The input then holds the
        ``n_features`` numeric columns followed by one one-hot block per
        categorical column (all zeros where the cell is missing), and the decoder
        returns one block of logits per categorical column after the numeric means.
    missing_input : bool, default=False
        Tell the encoder which cells are missing: a 0/1 "observed" indicator per
        column (numeric, then categorical) is concatenated to its input. Missing
        numeric cells are NaN in the input; the encoder sees them filled (see
        :meth:`fill_missing`) whatever this setting.
    linear_path : bool, default=False
        Add a linear map from the input to the posterior mean and one from the
        latent code to the decoder's output (before its activation), beside the
        networks. They start at zero; :func:`skvae._linear_start.start_at_ppca` sets
        them, with the networks' output layers at zero, to probabilistic PCA's
        maximum-likelihood solution, so training starts from the linear VAE's
        optimum and the networks learn what is nonlinear.

    Examples
    --------
    >>> import torch
    >>> from skvae._module import VAEModule
    >>> module = VAEModule(n_features=4, n_components=2, hidden_layer_sizes=(8,)).eval()
    >>> out = module(torch.zeros(3, 4))
    >>> tuple(out.reconstruction.shape), tuple(out.mean.shape)
    ((3, 4), (3, 2))
    >>> tuple(module.noise_log_variance().shape)
    (4,)
    """

    def __init__(
        self,
        n_features: int,
        n_components: int,
        hidden_layer_sizes=(64, 32),
        activation: str = "relu",
        batch_norm: bool = False,
        dropout: float = 0.0,
        output_activation: str = "identity",
        noise_model: str = "feature",
        trim_fraction: float = 0.0,
        cardinalities=(),
        missing_input: bool = False,
        linear_path: bool = False,
    ):
        super().__init__()
        if noise_model not in NOISE_MODELS:
            raise ValueError(
                f"noise_model must be one of {NOISE_MODELS}, got {noise_model!r}."
            )
        self.noise_model = noise_model
        self.trim_fraction = trim_fraction
        self.cardinalities = tuple(int(c) for c in cardinalities)
        self.missing_input = bool(missing_input)
        if self.cardinalities and output_activation != "identity":
            raise ValueError(
                "Categorical columns need output_activation='identity' (their "
                "decoder outputs are logits)."
            )
        n_encoded = n_features + sum(self.cardinalities)
        n_columns = n_features + len(self.cardinalities)
        n_input = n_encoded + (n_columns if self.missing_input else 0)
        widths = [n_input, *hidden_layer_sizes]
        # The arguments this module was built with, which the net also receives as
        # its module__ parameters (see VAENet.initialized_instance).
        self.init_params = dict(
            n_features=n_features,
            n_components=n_components,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            batch_norm=batch_norm,
            dropout=dropout,
            output_activation=output_activation,
            noise_model=noise_model,
            trim_fraction=trim_fraction,
            cardinalities=tuple(int(c) for c in cardinalities),
            missing_input=bool(missing_input),
            linear_path=bool(linear_path),
        )
        self.linear_path = bool(linear_path)
        self.encoder = _mlp(widths, activation, batch_norm, dropout)
        self.mean = nn.Linear(widths[-1], n_components)
        self.log_var = nn.Linear(widths[-1], n_components)
        self.decoder = nn.Sequential(
            _mlp([n_components, *widths[:0:-1]], activation, False, 0.0),
            nn.Linear(widths[1], n_encoded),
            OUTPUT_ACTIVATIONS[output_activation](),
        )
        if self.linear_path:
            # No biases: the mean head's and the decoder's output layer's serve.
            self.linear_mean = nn.Linear(n_input, n_components, bias=False)
            self.linear_decoder = nn.Linear(n_components, n_encoded, bias=False)
        # Variance of each feature in the training data: the scale of the noise
        # bound (set by the estimators before training).
        self.register_buffer("feature_var", torch.ones(n_features))
        # Running estimate of the noise variance, used in evaluation mode, as
        # BatchNorm keeps running statistics; it starts at the feature variance (a
        # decoder that explains nothing).
        self.register_buffer("running_noise_var", torch.ones(n_features))
        if noise_model == "full":
            for name, shape in (
                ("noise_location", (n_features,)),
                ("noise_covariance", (n_features, n_features)),
                ("noise_whitening", (n_features, n_features)),
                ("noise_log_det", ()),
            ):
                self.register_buffer(name, torch.empty(shape))
            self.reset_noise_covariance()

    @property
    def learns_noise_variance(self) -> bool:
        """Whether training estimates the noise variance from each batch's
        residual ("feature", "shared"); "fixed" and "full" train with 1/2."""
        return self.noise_model in ("feature", "shared")

    def noise_log_variance(self, residual: torch.Tensor | None = None) -> torch.Tensor:
        """Log variance of the decoder's Gaussian noise, one value per feature.

        With ``residual`` (``x - reconstruction`` of a training batch) the variance
        is its maximum-likelihood value for that batch, the mean squared residual
        (per feature, or over all features with ``noise_model="shared"``): the
        calibrated decoder of Rybkin et al. (ICML 2021, "sigma-VAE"), which needs no
        gradient steps to find the noise level and so is right from the first
        epoch. With ``trim_fraction`` > 0 it is the trimmed estimate of
        :func:`trimmed_variance`, so the rows a trimmed loss leaves out do not
        inflate it. The estimate also updates the running value that evaluation
        uses.
        """
        if not self.learns_noise_variance:
            return torch.full_like(self.feature_var, _FIXED_NOISE_LOG_VAR)
        if residual is not None:
            residual = residual.detach()
            if residual.isnan().any():
                # A missing cell's expected squared residual under the current
                # model is the current noise variance (the EM step for the
                # variance of a Gaussian with missing values).
                residual = torch.where(
                    residual.isnan(), self.running_noise_var.sqrt(), residual
                )
            batch_var = trimmed_variance(residual, self.trim_fraction)
            if self.noise_model != "feature":
                batch_var = batch_var.mean().expand_as(self.feature_var)
            with torch.no_grad():
                self.running_noise_var.lerp_(batch_var, NOISE_VARIANCE_MOMENTUM)
            variance = batch_var
        else:
            variance = self.running_noise_var
        return variance.clamp_min(MIN_NOISE_VARIANCE_RATIO * self.feature_var).log()

    def observation_noise(self) -> torch.Tensor | FullNoise:
        """The noise that scores use: the log variances of
        :meth:`noise_log_variance`, or with ``noise_model="full"`` the
        :class:`FullNoise` of :meth:`set_noise_covariance`."""
        if self.noise_model != "full":
            return self.noise_log_variance()
        return FullNoise(
            self.noise_location,
            self.noise_covariance,
            self.noise_whitening,
            self.noise_log_det,
        )

    def set_noise_covariance(self, location, covariance) -> VAEModule:
        """Set the full-covariance noise (``noise_model="full"``) that scores use.

        Parameters
        ----------
        location : array-like of shape (n_features,)
            Mean of the residual ``x - decoder(z)``.
        covariance : array-like of shape (n_features, n_features)
            Its covariance, symmetric positive definite.

        Examples
        --------
        >>> import torch
        >>> from skvae._module import VAEModule
        >>> module = VAEModule(2, 1, (4,), noise_model="full")
        >>> noise = module.set_noise_covariance(
        ...     torch.zeros(2), torch.tensor([[4.0, 0.0], [0.0, 1.0]])
        ... ).observation_noise()
        >>> noise.whitening, round(float(noise.log_det), 4)
        (tensor([[0.5000, 0.0000],
                [0.0000, 1.0000]]), 1.3863)
        """
        if self.noise_model != "full":
            raise ValueError(
                "set_noise_covariance needs noise_model='full', not "
                f"{self.noise_model!r}."
            )
        dtype = self.noise_covariance.dtype
        covariance = torch.as_tensor(covariance, dtype=torch.float64)
        # Factorised in float64 for accuracy, stored in the module's dtype.
        cholesky, info = torch.linalg.cholesky_ex(covariance)
        if int(info) != 0 or not bool(torch.isfinite(covariance).all()):
            raise ValueError(
                "The noise covariance must be symmetric positive definite."
            )
        identity = torch.eye(len(covariance), dtype=torch.float64)
        whitening = torch.linalg.solve_triangular(cholesky, identity, upper=False).T
        with torch.no_grad():
            self.noise_location.copy_(torch.as_tensor(location).to(self.noise_location))
            self.noise_covariance.copy_(covariance.to(dtype))
            self.noise_whitening.copy_(whitening.to(dtype))
            self.noise_log_det.copy_(2.0 * cholesky.diagonal().log().sum())
        return self

    def reset_noise_covariance(self) -> VAEModule:
        """Until :meth:`set_noise_covariance`, the fixed noise ``N(0, I / 2)``."""
        if self.noise_model == "full" and not self.noise_location.is_meta:
            n_features = len(self.noise_location)
            with torch.no_grad():
                self.noise_location.zero_()
                self.noise_covariance.copy_(
                    torch.eye(n_features) * math.exp(_FIXED_NOISE_LOG_VAR)
                )
                self.noise_whitening.copy_(
                    torch.eye(n_features) * math.exp(-_FIXED_NOISE_LOG_VAR / 2)
                )
                self.noise_log_det.fill_(n_features * _FIXED_NOISE_LOG_VAR)
        return self

    def set_feature_variance(self, variance: torch.Tensor) -> VAEModule:
        """Store the training data's per-feature variance, the scale of the noise
        bound, and start the running noise variance there.

        Constant features get a tiny positive variance, so the logarithm stays
        finite (any later deviation in them is then very unlikely, as it should be).
        """
        tiny = torch.finfo(self.feature_var.dtype).tiny ** 0.25
        variance = torch.as_tensor(variance).to(self.feature_var).clamp_min(tiny)
        with torch.no_grad():
            self.feature_var.copy_(variance)
            # Shared noise starts, as it goes on, with one value for all features.
            start = variance if self.noise_model != "shared" else variance.mean()
            self.running_noise_var.copy_(start.expand_as(variance))
        return self

    generator: torch.Generator | None = None
    # Pseudo-Gibbs passes that fill missing cells before encoding at inference.
    n_impute_iter: int = 2

    def set_generator(self, generator: torch.Generator | None) -> VAEModule:
        """Draw training noise (latent samples, dropout masks) from ``generator``
        instead of torch's global, thread-shared generator."""
        self.generator = generator
        for module in self.modules():
            if isinstance(module, SeededDropout):
                module.generator = generator
        return self

    def reset_parameters(self, generator: torch.Generator) -> VAEModule:
        """Initialise every layer as torch does by default, drawing from ``generator``.

        Together with building the module on the "meta" device (see
        :meth:`seeded`), this never touches torch's global generator.
        """
        for module in self.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.reset_parameters()
            elif isinstance(module, VAEModule):
                module.set_feature_variance(torch.ones_like(module.feature_var))
                module.reset_noise_covariance()
            elif isinstance(module, nn.Linear):
                nn.init.kaiming_uniform_(
                    module.weight, a=math.sqrt(5), generator=generator
                )
                bound = 1.0 / math.sqrt(module.in_features)
                if module.bias is not None:
                    nn.init.uniform_(module.bias, -bound, bound, generator=generator)
        if self.linear_path:  # the plain networks' VAE until start_at_ppca
            nn.init.zeros_(self.linear_mean.weight)
            nn.init.zeros_(self.linear_decoder.weight)
        return self

    @classmethod
    def seeded(cls, generator: torch.Generator, **kwargs) -> VAEModule:
        """Build the module on the CPU with weights drawn from ``generator`` only.

        Layers are created on the "meta" device (no memory, no random draws) and then
        materialised and initialised, so the global generator is left untouched.

        Examples
        --------
        >>> import torch
        >>> from skvae._module import VAEModule
        >>> make = lambda: VAEModule.seeded(torch.Generator().manual_seed(0),
        ...                                 n_features=3, n_components=1,
        ...                                 hidden_layer_sizes=(4,))
        >>> torch.equal(make().mean.weight, make().mean.weight)
        True
        """
        with torch.device("meta"):
            module = cls(**kwargs)
        return module.to_empty(device="cpu").reset_parameters(generator)

    @property
    def n_numeric(self) -> int:
        return len(self.feature_var)

    def observed(self, x: torch.Tensor) -> torch.Tensor:
        """Which cells of each column are observed, shape (n_samples, n_columns):
        numeric cells that are not NaN, categorical cells whose one-hot block is
        not all zeros."""
        numeric = ~x[:, : self.n_numeric].isnan()
        if not self.cardinalities:
            return numeric
        blocks = x[:, self.n_numeric :].split(self.cardinalities, dim=1)
        return torch.cat(
            [numeric, *(block.sum(dim=1, keepdim=True) > 0 for block in blocks)],
            dim=1,
        )

    def fill_missing(
        self, x: torch.Tensor, n_iter: int = 0, observed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x`` with its missing numeric cells filled, ready for the encoder.

        Missing numeric cells start at the decoder's output for the prior mean
        ``z = 0`` (a model-based column mean; missing categorical cells stay all
        zero, the "no category" input). ``n_iter`` pseudo-Gibbs passes then
        replace each missing cell with the reconstruction of the current fill,
        numeric means and categorical probabilities (Rezende et al., 2014; the
        conditional-mean variant used by MIWAE and HI-VAE). With
        ``missing_input`` every pass encodes the constant fill with the mask, as
        in training, so one pass is the result.
        """
        if observed is None:
            observed = self.observed(x)
        if bool(observed.all()):
            return x
        missing_numeric = ~observed[:, : self.n_numeric]
        # The fill is an input, not a prediction to train: no gradient through it.
        start = self.decode(x.new_zeros((1, self.mean.out_features))).detach()
        filled = x.clone()
        filled[:, : self.n_numeric] = torch.where(
            missing_numeric, start[:, : self.n_numeric], x[:, : self.n_numeric]
        )
        if self.cardinalities:
            missing = self.missing_one_hot(observed)
        # A model trained with the observed mask saw this constant fill in every
        # missing cell; fed its own refills, its encoder drifts (measured: the
        # error grows with each pass), so it always encodes the constant fill and
        # one pass is the conditional imputation (as in MIWAE). A model trained on
        # complete data has no such convention, and refining helps it.
        constant = filled
        for _ in range(n_iter):
            source = constant if self.missing_input else filled
            guess = self.decode(self.encode(source, observed)[0]).detach()
            filled = filled.clone()
            filled[:, : self.n_numeric] = torch.where(
                missing_numeric, guess[:, : self.n_numeric], filled[:, : self.n_numeric]
            )
            if self.cardinalities:
                probs = self.conditional_means(guess)[:, self.n_numeric :]
                filled[:, self.n_numeric :] = torch.where(
                    missing, probs, x[:, self.n_numeric :]
                )
        return filled

    def missing_one_hot(self, observed: torch.Tensor) -> torch.Tensor:
        """Which one-hot entries belong to a missing categorical cell, from the
        per-column ``observed`` mask of :meth:`observed`."""
        return torch.repeat_interleave(
            ~observed[:, self.n_numeric :],
            torch.tensor(self.cardinalities, device=observed.device),
            dim=1,
        )

    def conditional_means(self, reconstruction: torch.Tensor) -> torch.Tensor:
        """``E[x | z]`` in the encoded layout from the decoder's output: the numeric
        means, then each categorical column's category probabilities (the softmax
        of its logits)."""
        if not self.cardinalities:
            return reconstruction
        blocks = reconstruction[:, self.n_numeric :].split(self.cardinalities, dim=1)
        return torch.cat(
            [
                reconstruction[:, : self.n_numeric],
                *(block.softmax(dim=1) for block in blocks),
            ],
            dim=1,
        )

    def encode(
        self, x: torch.Tensor, observed: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the mean and log-variance of q(z|x).

        Missing numeric cells (NaN) are filled first (:meth:`fill_missing`, with
        ``n_impute_iter`` passes in evaluation mode); with ``missing_input`` the
        observed indicator is concatenated to the input.
        """
        if observed is None:
            observed = self.observed(x)
            x = self.fill_missing(
                x, 0 if self.training else self.n_impute_iter, observed
            )
        if self.missing_input:
            x = torch.cat([x, observed.to(x.dtype)], dim=1)
        hidden = self.encoder(x)
        log_var = self.log_var(hidden).clamp(_LOG_VAR_MIN, _LOG_VAR_MAX)
        mean = self.mean(hidden)
        if self.linear_path:
            mean = mean + self.linear_mean(x)
        return mean, log_var

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Map latent points back to the input space."""
        if not self.linear_path:
            return self.decoder(z)
        network, output_layer, activation = self.decoder
        return activation(output_layer(network(z)) + self.linear_decoder(z))

    @staticmethod
    def reparameterize(
        mean: torch.Tensor,
        log_var: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw ``z = mean + std * eps`` with ``eps ~ N(0, I)``."""
        eps = torch.randn(
            mean.shape, generator=generator, dtype=mean.dtype, device=mean.device
        )
        return mean + torch.exp(0.5 * log_var) * eps

    def forward(self, x: torch.Tensor) -> VAEOutput:
        mean, log_var = self.encode(x)
        z = (
            self.reparameterize(mean, log_var, self.generator)
            if self.training
            else mean
        )
        reconstruction = self.decode(z)
        # The fixed and full models would compute the residual (3 of the step's
        # ~200 ops) only to throw it away.
        residual = (
            x[:, : self.n_numeric] - reconstruction[:, : self.n_numeric]
            if self.training and self.learns_noise_variance
            else None
        )
        return VAEOutput(
            reconstruction,
            mean,
            log_var,
            self.noise_log_variance(residual),
            self.cardinalities,
        )
