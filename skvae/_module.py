"""Torch modules: an MLP encoder, a mirrored decoder and the VAE that joins them."""

from __future__ import annotations

import inspect
import math
from typing import NamedTuple

import torch
from torch import nn

from ._columns import ColumnLayout
from ._generation import DataSampler
from ._noise import NOISE_MODELS, DiagonalGaussian

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


class VAEOutput(NamedTuple):
    """What :class:`VAEModule` returns: the decoded input, the posterior, the
    Gaussian noise the loss uses (a :class:`~skvae._noise.DiagonalGaussian`) and
    the column layout (:class:`~skvae._columns.ColumnLayout`).

    With categorical columns the reconstruction holds the numeric means first,
    then one block of logits per categorical column.
    """

    reconstruction: torch.Tensor
    mean: torch.Tensor
    log_var: torch.Tensor
    noise: DiagonalGaussian
    layout: ColumnLayout


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


def _construction_arguments(module_class, local_values: dict) -> dict:
    """The ``__init__`` arguments of ``module_class`` among ``local_values``.

    Read from the signature, so that the recorded arguments cannot drift from the
    ones ``__init__`` takes.
    """
    names = list(inspect.signature(module_class.__init__).parameters)[1:]
    return {name: local_values[name] for name in names}


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
        The decoder's Gaussian noise, a key of :data:`skvae._noise.NOISE_MODELS`:
        the module's ``noise`` is that class, built for the numeric columns.
    trim_fraction : float in [0, 1), default=0.0
        Share of each batch's largest squared residuals, per feature, left out of
        a learned noise variance (see :func:`skvae._noise.trimmed_variance`); set
        it to the share a trimmed loss leaves out.
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
    >>> tuple(out.noise.log_var.shape)
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
        # Taken before any other local exists: exactly the arguments passed.
        arguments = dict(locals())
        super().__init__()
        if noise_model not in NOISE_MODELS:
            raise ValueError(
                f"noise_model must be one of {tuple(NOISE_MODELS)}, got "
                f"{noise_model!r}."
            )
        self.noise_model = noise_model
        self.trim_fraction = trim_fraction
        self.layout = ColumnLayout(n_features, cardinalities, missing_input)
        if self.layout.cardinalities and output_activation != "identity":
            raise ValueError(
                "Categorical columns need output_activation='identity' (their "
                "decoder outputs are logits)."
            )
        widths = [self.layout.n_input, *hidden_layer_sizes]
        # The arguments this module was built with, which the net also receives as
        # its module__ parameters (see VAENet.initialized_instance).
        self.init_params = {
            **_construction_arguments(VAEModule, arguments),
            # As the layout normalises them, so that equal modules compare equal.
            "cardinalities": self.layout.cardinalities,
            "missing_input": self.layout.missing_input,
            "linear_path": bool(linear_path),
        }
        self.linear_path = bool(linear_path)
        n_encoded = self.layout.n_encoded
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
            self.linear_mean = nn.Linear(widths[0], n_components, bias=False)
            self.linear_decoder = nn.Linear(n_components, n_encoded, bias=False)
        self.noise = NOISE_MODELS[noise_model](self.layout.n_numeric, trim_fraction)
        # Registered last: buffers only, so the layers' seeded initialisation and
        # every training number are those of a module without it.
        self.sampler = DataSampler(
            n_components, self.layout.n_numeric, self.layout.n_columns
        )

    @property
    def cardinalities(self) -> tuple[int, ...]:
        return self.layout.cardinalities

    @property
    def missing_input(self) -> bool:
        return self.layout.missing_input

    @property
    def n_numeric(self) -> int:
        return self.layout.n_numeric

    def set_feature_variance(self, variance: torch.Tensor) -> VAEModule:
        """Give the noise model the training data's per-feature variance (the
        scale of a learned variance's lower bound)."""
        self.noise.set_feature_variance(variance)
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
        self.noise.reset()
        self.sampler.reset()
        for module in self.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.reset_parameters()
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

    def observed(self, x: torch.Tensor) -> torch.Tensor:
        """Which cells of each column are observed (see
        :meth:`~skvae._columns.ColumnLayout.observed`)."""
        return self.layout.observed(x)

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
        # The fill is an input, not a prediction to train: no gradient through it.
        start = self.decode(x.new_zeros((1, self.mean.out_features))).detach()
        filled = self.layout.replace_missing(x, start, observed, categorical=False)
        # A model trained with the observed mask saw this constant fill in every
        # missing cell; fed its own refills, its encoder drifts (measured: the
        # error grows with each pass), so it always encodes the constant fill and
        # one pass is the conditional imputation (as in MIWAE). A model trained on
        # complete data has no such convention, and refining helps it.
        constant = filled
        for _ in range(n_iter):
            source = constant if self.missing_input else filled
            guess = self.decode(self.encode(source, observed)[0]).detach()
            filled = self.layout.replace_missing(
                filled, self.layout.expected_value(guess), observed
            )
        return filled

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
            self.layout.numeric_residual(x, reconstruction)
            if self.training and self.noise.learns_variance
            else None
        )
        return VAEOutput(
            reconstruction,
            mean,
            log_var,
            self.noise.loss_noise(residual),
            self.layout,
        )
