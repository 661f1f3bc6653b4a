"""The decoder's observation noise p(x | z) for the numeric columns: one class each.

A noise model is a small ``nn.Module`` inside :class:`~skvae._module.VAEModule`
(its ``noise`` attribute). It owns its state (buffers), how training updates it,
and which Gaussian the loss and the scores use; that Gaussian is a
:class:`DiagonalGaussian` or a :class:`FullGaussian`, which both compute the
per-row and per-cell negative log-likelihood (missing cells included), their split
by feature, their ONNX graph, their mean and draws. Nothing outside this module
asks which noise model it has: it calls these methods.

- :class:`FixedNoise` (``"fixed"``): variance 1/2 for every feature, so the
  negative log-likelihood is the squared error plus a constant (skvae 0.1's loss).
- :class:`SharedNoise` (``"shared"``): one learned variance for all features
  (probabilistic PCA in the linear case).
- :class:`FeatureNoise` (``"feature"``): one learned variance per feature (factor
  analysis in the linear case).
- :class:`FullCovarianceNoise` (``"full"``): trained as "fixed", then a full
  covariance matrix is fitted to the training residuals by the minimum covariance
  determinant (see :mod:`skvae._calibration`) and scores with
  ``N(decoder(z) + location, covariance)``.

A new noise model is a subclass of :class:`NoiseModel` added to ``NOISE_MODELS``
(the user guide's "How skvae is built" page says what to write).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import torch
from scipy.stats import chi2
from torch import nn

_LOG_2PI = math.log(2.0 * math.pi)
FIXED_NOISE_LOG_VAR = math.log(0.5)
# A Gaussian likelihood whose variance may shrink to 0 is unbounded, so maximum
# likelihood is ill-posed (Mattei & Frellsen, NeurIPS 2018); they bound the variance
# from below. Here the bound is relative to each feature's training variance, so it
# does not depend on the scale of the data: the noise standard deviation stays at
# least a tenth of the feature's standard deviation (at most 99% of a feature's
# variance is explained), which also caps any one feature's weight in the score.
MIN_NOISE_VARIANCE_RATIO = 1e-2
# Weight of each training batch in the running noise variance (BatchNorm's default).
NOISE_VARIANCE_MOMENTUM = 0.1
# Rows whose missing cells need their own marginal covariance are factorised in
# chunks of about this many covariance entries, so memory stays bounded whatever the
# batch size (4 M float32 entries: 16 MiB).
_MARGINAL_CHUNK_ENTRIES = 2**22


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
    >>> from skvae._noise import trimmed_variance
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


# -- the Gaussians the loss and the scores use ----------------------------------------


class DiagonalGaussian(NamedTuple):
    """``N(mu, diag(exp(log_var)))`` around the decoder's output ``mu``.

    Examples
    --------
    >>> import math, torch
    >>> from skvae._noise import DiagonalGaussian
    >>> noise = DiagonalGaussian(torch.tensor([math.log(9.0), 0.0]))
    >>> x, mu = torch.tensor([[3.0, 1.0]]), torch.zeros(1, 2)
    >>> noise.excess_nll(mu, x, per_feature=True)
    tensor([[0.5000, 0.5000]])
    >>> draws = noise.sample(torch.zeros(20_000, 2), torch.Generator().manual_seed(0))
    >>> [round(v, 1) for v in draws.var(dim=0).tolist()]
    [9.0, 1.0]
    """

    log_var: torch.Tensor

    def excess_nll(
        self, reconstruction: torch.Tensor, x: torch.Tensor, per_feature: bool = False
    ) -> torch.Tensor:
        """``(x - mu)^2 / (2 sigma^2)``: the negative log-likelihood above its
        minimum, per sample (or per feature)."""
        nll = 0.5 * (reconstruction - x).square() * torch.exp(-self.log_var)
        return nll if per_feature else nll.sum(dim=1)

    def offset(self, n_features: int) -> torch.Tensor:
        """The negative log-likelihood's minimum, ``sum_j log(2 pi s_j^2) / 2``."""
        return 0.5 * (self.log_var + _LOG_2PI).expand(n_features).sum()

    def cell_nll(
        self, residual: torch.Tensor, observed: torch.Tensor, excess: bool
    ) -> torch.Tensor:
        """Per-cell NLL of ``residual`` (0 in missing cells), 0 for missing cells."""
        log_var = self.log_var.expand(residual.shape[1])
        nll = 0.5 * residual.square() * torch.exp(-log_var)
        if not excess:
            nll = nll + torch.where(observed, 0.5 * (log_var + _LOG_2PI), 0.0)
        return nll

    def mean(self, decoded: torch.Tensor) -> torch.Tensor:
        """``E[x | z]``: the decoder's output."""
        return decoded

    def sample(self, decoded: torch.Tensor, generator: torch.Generator | None):
        """One draw of ``x`` for each row of ``decoded``."""
        eps = torch.randn(
            decoded.shape,
            generator=generator,
            dtype=decoded.dtype,
            device=decoded.device,
        )
        return decoded + torch.exp(0.5 * self.log_var) * eps

    def is_finite(self) -> bool:
        return bool(torch.isfinite(self.log_var).all())

    def onnx_excess_nll(self, graph, residual, keepdims: int):
        """:meth:`excess_nll` as ONNX nodes of ``graph`` (``residual = mu - x``)."""
        squared = graph.op("Mul", residual, residual)
        half = graph.op("Mul", squared, graph.const(0.5))
        weighted = graph.op("Mul", half, graph.const(torch.exp(-self.log_var)))
        return graph.sum_last(weighted, keepdims)


class FullGaussian(NamedTuple):
    """``N(mu + location, covariance)`` around the decoder's output ``mu``.

    ``whitening`` is ``W`` with ``W W^T = covariance^-1`` (the inverse transpose of
    the Cholesky factor), so the Mahalanobis distance of a residual row ``r`` is
    ``||(r - location) W||^2``; ``log_det`` is ``log det(covariance)``.

    Examples
    --------
    >>> import torch
    >>> from skvae._noise import FullGaussian
    >>> noise = FullGaussian.from_covariance(
    ...     torch.zeros(2), torch.tensor([[4.0, 0.0], [0.0, 1.0]]), torch.float32)
    >>> noise.whitening, round(float(noise.log_det), 4)
    (tensor([[0.5000, 0.0000],
            [0.0000, 1.0000]]), 1.3863)
    """

    location: torch.Tensor
    covariance: torch.Tensor
    whitening: torch.Tensor
    log_det: torch.Tensor

    @classmethod
    def from_covariance(cls, location, covariance, dtype) -> FullGaussian:
        """Factorised in float64 for accuracy, returned in ``dtype``; raises
        ValueError unless ``covariance`` is symmetric positive definite."""
        covariance = torch.as_tensor(covariance, dtype=torch.float64)
        cholesky, info = torch.linalg.cholesky_ex(covariance)
        if int(info) != 0 or not bool(torch.isfinite(covariance).all()):
            raise ValueError(
                "The noise covariance must be symmetric positive definite."
            )
        identity = torch.eye(len(covariance), dtype=torch.float64)
        whitening = torch.linalg.solve_triangular(cholesky, identity, upper=False).T
        return cls(
            torch.as_tensor(location).to(dtype),
            covariance.to(dtype),
            whitening.to(dtype),
            2.0 * cholesky.diagonal().log().sum(),
        )

    def excess_nll(
        self, reconstruction: torch.Tensor, x: torch.Tensor, per_feature: bool = False
    ) -> torch.Tensor:
        """Half the Mahalanobis distance ``r^T S^-1 r / 2`` of
        ``r = x - mu - location``, split by feature as ``r_j (S^-1 r)_j / 2`` (the
        terms sum to the total; a feature whose deviation is explained by its
        correlated neighbours can get a negative one)."""
        residual = x - reconstruction - self.location
        white = residual @ self.whitening
        if not per_feature:
            return 0.5 * white.square().sum(dim=1)
        return 0.5 * residual * (white @ self.whitening.T)

    def offset(self, n_features: int) -> torch.Tensor:
        """``(d log(2 pi) + log det S) / 2``."""
        return 0.5 * (n_features * _LOG_2PI + self.log_det)

    def cell_nll(
        self, residual: torch.Tensor, observed: torch.Tensor, excess: bool
    ) -> torch.Tensor:
        """Per-cell NLL of numeric residuals under the full covariance.

        A row's observed cells ``o`` are Gaussian with the marginal covariance
        ``S_oo``; their Mahalanobis distance ``r_o^T S_oo^-1 r_o`` is split into one
        term per observed cell as in :meth:`excess_nll`. Each observed cell adds the
        per-cell constant of a complete row, ``(log 2 pi + log det S / d) / 2``, and
        missing cells get 0. Scaled to the full row (``_loss.row_nll``), a normal
        row's expected score then does not depend on which cells are missing: the
        marginal distance is chi-squared with ``|o|`` degrees of freedom, so its mean
        times ``d / |o|`` is ``d``, that of a complete row. Complete rows share one
        factorisation; each row with missing cells needs its own, done in bounded
        chunks.
        """
        residual = torch.where(observed, residual - self.location, 0.0)
        n_features = residual.shape[1]
        nll = 0.5 * residual * (residual @ self.whitening @ self.whitening.T)
        incomplete = (~observed.all(dim=1)).nonzero().flatten()
        chunk = max(1, _MARGINAL_CHUNK_ENTRIES // max(1, n_features * n_features))
        for rows in incomplete.split(chunk):
            mask = observed[rows].to(residual.dtype)
            # S_oo on the observed block, the identity on the missing one: the same
            # quadratic form as S_oo, with a fixed shape.
            covariance = self.covariance * (mask[:, :, None] * mask[:, None, :])
            covariance = covariance + torch.diag_embed(1.0 - mask)
            r = residual[rows]
            cholesky = torch.linalg.cholesky(covariance)
            solved = torch.cholesky_solve(r[:, :, None], cholesky)
            nll[rows] = 0.5 * r * solved[:, :, 0]
        if not excess:
            constant = _LOG_2PI / 2 + self.log_det / (2 * n_features)
            nll = nll + torch.where(observed, constant, 0.0)
        return nll

    def mean(self, decoded: torch.Tensor) -> torch.Tensor:
        """``E[x | z] = mu + location``."""
        return decoded + self.location

    def sample(self, decoded: torch.Tensor, generator: torch.Generator | None):
        """One draw of ``x`` for each row of ``decoded``: ``mu + location + L eps``
        with ``L L^T = covariance``."""
        eps = torch.randn(
            decoded.shape,
            generator=generator,
            dtype=decoded.dtype,
            device=decoded.device,
        )
        cholesky = torch.linalg.cholesky(self.covariance.to(torch.float64))
        return self.mean(decoded) + eps @ cholesky.T.to(decoded.dtype)

    def is_finite(self) -> bool:
        return all(bool(torch.isfinite(tensor).all()) for tensor in self)

    def onnx_excess_nll(self, graph, residual, keepdims: int):
        """:meth:`excess_nll` as ONNX nodes of ``graph`` (``residual = mu - x``)."""
        # (mu - x + location) W: the sign of the residual does not matter.
        shifted = graph.op("Add", residual, graph.const(self.location))
        white = graph.op("MatMul", shifted, graph.const(self.whitening))
        squared = graph.op("Mul", white, white)
        return graph.sum_last(graph.op("Mul", squared, graph.const(0.5)), keepdims)


# -- the noise models ---------------------------------------------------------------


class NoiseModel(nn.Module):
    """What every noise model provides; see the module docstring.

    Parameters
    ----------
    n_features : int
        Number of numeric columns.
    trim_fraction : float in [0, 1), default=0.0
        Share of each batch's largest squared residuals, per feature, left out of
        a learned variance (see :func:`trimmed_variance`).
    """

    #: Whether training estimates the variance from each batch's residual.
    learns_variance = False
    #: The variance of the linear start (``_linear_start``): a number, None for
    #: its maximum-likelihood value, or False where probabilistic PCA is not the
    #: linear model's optimum.
    ppca_variance: float | None | bool = None

    def __init__(self, n_features: int, trim_fraction: float = 0.0):
        super().__init__()
        self.n_features = int(n_features)
        self.trim_fraction = trim_fraction

    @classmethod
    def check_data(cls, X_numeric: np.ndarray) -> None:
        """Raise ValueError, saying what to do, if this model cannot be fitted to
        the numeric columns ``X_numeric`` (every model can, here)."""

    def loss_noise(self, residual: torch.Tensor | None = None) -> DiagonalGaussian:
        """The Gaussian the training loss uses; ``residual`` is a training batch's
        ``x - decoder(z)`` (NaN where missing) for the models that learn from it."""
        raise NotImplementedError

    def score_noise(self) -> DiagonalGaussian | FullGaussian:
        """The Gaussian the scores of a fitted model use."""
        return self.loss_noise()

    def sample_noise(
        self, residual_var: torch.Tensor
    ) -> DiagonalGaussian | FullGaussian:
        """The Gaussian new rows are drawn from, given the decoder's per-feature
        residual variance on the training rows: the fitted noise itself here."""
        return self.score_noise()

    def set_feature_variance(self, variance: torch.Tensor) -> None:
        """Store the training data's per-feature variance, where the model uses it."""

    def reset(self) -> None:
        """Back to the state of a new, untrained model."""

    def calibrate(
        self, residuals, X_numeric: np.ndarray, seed: int, owner: str
    ) -> bool:
        """Fit what is fitted after training; returns whether anything was.

        ``residuals(rows)`` returns the decoder's residuals on ``X_numeric[rows]``
        (float64); ``owner`` names the estimator in errors. Nothing here.
        """
        return False


class FixedNoise(NoiseModel):
    """Variance 1/2 for every feature: the loss is the squared error.

    Examples
    --------
    >>> from skvae._noise import FixedNoise
    >>> FixedNoise(2).loss_noise().log_var.exp()
    tensor([0.5000, 0.5000])
    """

    ppca_variance = math.exp(FIXED_NOISE_LOG_VAR)

    def __init__(self, n_features: int, trim_fraction: float = 0.0):
        super().__init__(n_features, trim_fraction)
        # Not saved: a constant, refilled whenever the module is (re)materialised.
        self.register_buffer(
            "fixed_log_var",
            torch.full((n_features,), FIXED_NOISE_LOG_VAR),
            persistent=False,
        )

    def reset(self) -> None:
        if not self.fixed_log_var.is_meta:
            with torch.no_grad():
                self.fixed_log_var.fill_(FIXED_NOISE_LOG_VAR)

    def _load_from_state_dict(self, *args, **kwargs):
        # A module built on the "meta" device and materialised with to_empty() is
        # then loaded, not reset: the constant is filled here.
        super()._load_from_state_dict(*args, **kwargs)
        FixedNoise.reset(self)

    def loss_noise(self, residual=None) -> DiagonalGaussian:
        return DiagonalGaussian(
            torch.full_like(self.fixed_log_var, FIXED_NOISE_LOG_VAR)
        )

    def sample_noise(self, residual_var: torch.Tensor) -> DiagonalGaussian:
        # The variance 1/2 makes the loss a squared error; it is not fitted. Draws
        # use the maximum-likelihood variance given the decoder: the mean squared
        # residual of each feature.
        return DiagonalGaussian(residual_var.log())


class _LearnedNoise(NoiseModel):
    """A variance estimated from each training batch, kept as a running value.

    With ``residual`` the variance is its maximum-likelihood value for that batch,
    the mean squared residual (per feature, or over all features for
    :class:`SharedNoise`): the calibrated decoder of Rybkin et al. (ICML 2021,
    "sigma-VAE"), which needs no gradient steps to find the noise level and so is
    right from the first epoch. With ``trim_fraction`` > 0 it is the trimmed
    estimate of :func:`trimmed_variance`, so the rows a trimmed loss leaves out do
    not inflate it. The estimate also updates the running value that evaluation
    uses, as BatchNorm keeps running statistics; it starts at the feature variance
    (a decoder that explains nothing). Variances are bounded below by
    ``MIN_NOISE_VARIANCE_RATIO`` times the feature's training variance.
    """

    learns_variance = True

    def __init__(self, n_features: int, trim_fraction: float = 0.0):
        super().__init__(n_features, trim_fraction)
        # Variance of each feature in the training data: the scale of the bound.
        self.register_buffer("feature_var", torch.ones(n_features))
        self.register_buffer("running_var", torch.ones(n_features))

    def _pool(self, variance: torch.Tensor) -> torch.Tensor:
        """One value per feature, or one for all (shared)."""
        raise NotImplementedError

    def loss_noise(self, residual=None) -> DiagonalGaussian:
        if residual is not None:
            residual = residual.detach()
            if residual.isnan().any():
                # A missing cell's expected squared residual under the current
                # model is the current noise variance (the EM step for the
                # variance of a Gaussian with missing values).
                residual = torch.where(
                    residual.isnan(), self.running_var.sqrt(), residual
                )
            batch_var = self._pool(trimmed_variance(residual, self.trim_fraction))
            with torch.no_grad():
                self.running_var.lerp_(batch_var, NOISE_VARIANCE_MOMENTUM)
            variance = batch_var
        else:
            variance = self.running_var
        return DiagonalGaussian(
            variance.clamp_min(MIN_NOISE_VARIANCE_RATIO * self.feature_var).log()
        )

    def set_feature_variance(self, variance: torch.Tensor) -> None:
        """Constant features get a tiny positive variance, so the logarithm stays
        finite (any later deviation in them is then very unlikely, as it should be)."""
        tiny = torch.finfo(self.feature_var.dtype).tiny ** 0.25
        variance = torch.as_tensor(variance).to(self.feature_var).clamp_min(tiny)
        with torch.no_grad():
            self.feature_var.copy_(variance)
            self.running_var.copy_(self._pool(variance))

    def reset(self) -> None:
        self.set_feature_variance(torch.ones_like(self.feature_var))


class FeatureNoise(_LearnedNoise):
    """One learned variance per feature (factor analysis for a linear decoder)."""

    # Per-feature noise is factor analysis, whose optimum PPCA is not: started
    # there, the variances settle on whichever feature the PPCA direction fits
    # best (measured: a Heywood case on a one-factor, three-feature test).
    ppca_variance = False

    def _pool(self, variance):
        return variance


class SharedNoise(_LearnedNoise):
    """One learned variance for all features (probabilistic PCA when linear)."""

    def _pool(self, variance):
        return variance.mean().expand_as(self.feature_var)


class FullCovarianceNoise(FixedNoise):
    """Trained as :class:`FixedNoise`; scores with the full covariance that
    :meth:`calibrate` fits to the training residuals (until then ``N(0, I / 2)``).

    Examples
    --------
    >>> import torch
    >>> from skvae._noise import FullCovarianceNoise
    >>> noise = FullCovarianceNoise(2)
    >>> noise.set_covariance(torch.zeros(2), torch.tensor([[4.0, 0.0], [0.0, 1.0]]))
    >>> round(float(noise.score_noise().log_det), 4)
    1.3863
    """

    def __init__(self, n_features: int, trim_fraction: float = 0.0):
        super().__init__(n_features, trim_fraction)
        for name, shape in (
            ("location", (n_features,)),
            ("covariance", (n_features, n_features)),
            ("whitening", (n_features, n_features)),
            ("log_det", ()),
        ):
            self.register_buffer(name, torch.empty(shape))
        self.reset()

    @classmethod
    def check_data(cls, X_numeric: np.ndarray) -> None:
        from ._calibration import complete_rows, min_rows_for_covariance

        n_numeric = X_numeric.shape[1]
        if n_numeric == 0:
            raise ValueError(
                "noise_model='full' models the noise of numeric columns, and X has "
                "none; use noise_model='auto' or 'fixed'."
            )
        n_complete = len(complete_rows(X_numeric))
        n_needed = min_rows_for_covariance(n_numeric)
        if n_complete < n_needed:
            raise ValueError(
                f"noise_model='full' estimates a {n_numeric} x {n_numeric} noise "
                f"covariance and needs more than {n_needed - 1} rows without a "
                f"missing numeric value; got {n_complete}. Use noise_model='auto' "
                "(which falls back to 'shared') or provide more rows."
            )

    def score_noise(self) -> FullGaussian:
        return FullGaussian(
            self.location, self.covariance, self.whitening, self.log_det
        )

    def sample_noise(self, residual_var: torch.Tensor) -> FullGaussian:
        # The covariance is fitted to the residuals already (see calibrate).
        return self.score_noise()

    def set_covariance(self, location, covariance) -> None:
        """Score with ``N(mu + location, covariance)``; ValueError unless
        ``covariance`` is symmetric positive definite."""
        noise = FullGaussian.from_covariance(
            location, covariance, self.covariance.dtype
        )
        with torch.no_grad():
            for buffer, value in zip(self.score_noise(), noise, strict=True):
                buffer.copy_(value.to(buffer))

    def reset(self) -> None:
        super().reset()
        if self.location.is_meta:
            return
        n = self.n_features
        with torch.no_grad():
            self.location.zero_()
            self.covariance.copy_(torch.eye(n) * math.exp(FIXED_NOISE_LOG_VAR))
            self.whitening.copy_(torch.eye(n) * math.exp(-FIXED_NOISE_LOG_VAR / 2))
            self.log_det.fill_(n * FIXED_NOISE_LOG_VAR)

    def calibrate(self, residuals, X_numeric, seed: int, owner: str) -> bool:
        from ._calibration import fit_noise_covariance

        return fit_noise_covariance(self, residuals, X_numeric, seed, owner)


#: The noise models by the name ``noise_model`` takes.
NOISE_MODELS: dict[str, type[NoiseModel]] = {
    "feature": FeatureNoise,
    "shared": SharedNoise,
    "fixed": FixedNoise,
    "full": FullCovarianceNoise,
}

#: Tensor names of the state of skvae 0.1's modules (``.skvae`` format 2, pickles
#: and skops files of that version), with the names they have now.
LEGACY_STATE_NAMES = {
    "feature_var": "noise.feature_var",
    "running_noise_var": "noise.running_var",
    "noise_location": "noise.location",
    "noise_covariance": "noise.covariance",
    "noise_whitening": "noise.whitening",
    "noise_log_det": "noise.log_det",
}


def upgrade_state_names(arrays: dict, expected) -> dict:
    """``arrays`` (a module state by tensor name) with the legacy names of
    ``LEGACY_STATE_NAMES`` renamed; legacy tensors that the noise model now
    built does not hold (the fixed noise kept a running variance it never used)
    are dropped. Names already current are left as they are.

    Examples
    --------
    >>> from skvae._noise import upgrade_state_names
    >>> sorted(upgrade_state_names({"feature_var": 1, "running_noise_var": 2,
    ...                             "mean.bias": 3}, {"mean.bias"}))
    ['mean.bias']
    """
    upgraded = {}
    for name, value in arrays.items():
        new = LEGACY_STATE_NAMES.get(name)
        if new is None:
            upgraded[name] = value
        elif new in expected:
            upgraded[new] = value
    sampler = {
        name.removeprefix("sampler."): tensor
        for name, tensor in getattr(expected, "items", dict)()
        if name.startswith("sampler.")
    }
    if sampler and not any(name.startswith("sampler.") for name in upgraded):
        # Saved before skvae could sample: an unfitted sampler (prior N(0, I)).
        from ._generation import DataSampler

        for name, value in DataSampler.initial_state(sampler).items():
            upgraded[f"sampler.{name}"] = value
    return upgraded
