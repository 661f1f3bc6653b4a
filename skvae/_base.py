"""What both estimators share: parameters, data checks, seeding, fit, inference."""

from __future__ import annotations

import copy
import inspect
import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
)
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping, LRScheduler

from ._checks import narrowing_overflow_error
from ._loss import (
    negative_elbo,
    negative_log_reconstruction_probability,
    reconstruction_nll,
)
from ._module import ACTIVATIONS, NOISE_MODELS, VAEModule
from ._net import TrainingDivergedError, VAENet, ValidationSplit
from ._tabular import module_layout, numeric_variance, validate_table
from ._warm_start import continue_training, reusable_module
from .callbacks import KLAnnealing

_FLOAT_DTYPES = (np.float64, np.float32)
_TORCH_DTYPES = {
    np.dtype(np.float64): torch.float64,
    np.dtype(np.float32): torch.float32,
}

BASE_PARAMETER_CONSTRAINTS: dict = {
    "hidden_layer_sizes": ["array-like", None],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "batch_norm": ["boolean"],
    "dropout": [Interval(Real, 0.0, 1.0, closed="left")],
    "output_activation": [StrOptions({"auto", "identity", "sigmoid"})],
    "noise_model": [StrOptions({"auto", *NOISE_MODELS})],
    "beta": [Interval(Real, 0.0, None, closed="left")],
    "trim_fraction": [Interval(Real, 0.0, 1.0, closed="left")],
    "kl_warmup_epochs": [
        Interval(Integral, 0, None, closed="left"),
        StrOptions({"auto"}),
    ],
    "lr": [Interval(Real, 0.0, None, closed="neither")],
    "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0.0, 1.0, closed="neither")],
    "n_iter_no_change": [
        Interval(Integral, 1, None, closed="left"),
        StrOptions({"auto"}),
    ],
    "tol": [Interval(Real, 0.0, None, closed="left")],
    "reduce_lr_on_plateau": ["boolean"],
    "callbacks": [list, None],
    "warm_start": ["boolean"],
    "device": [str, torch.device],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "categorical_features": ["array-like", StrOptions({"from_dtype"}), None],
}


def auto_batch_size(n_samples: int) -> int:
    """Power of two near ``sqrt(n_samples)``, between 16 and 512.

    Small data get small batches (enough optimisation steps per epoch), large data get
    large ones (fewer, cheaper steps per epoch).
    """
    return int(np.clip(2 ** round(math.log2(math.sqrt(n_samples))), 16, 512))


def auto_hidden_layer_sizes(n_features: int, n_components: int) -> tuple[int, int]:
    """Two layers about ``2 * n_features`` and ``n_features`` wide, within [8, 256]."""
    first = int(np.clip(2 * n_features, 16, 256))
    second = int(np.clip(n_features, max(8, n_components), 128))
    return first, second


# Above this many features "auto" shares one noise variance among them.
MAX_FEATURES_FOR_FEATURE_NOISE = 100


def resolve_noise_model(noise_model: str, n_features: int) -> str:
    """``noise_model="auto"``: a variance per feature up to 100 features, else one.

    Per-feature variances weigh each feature by how well the decoder predicts it,
    which is what makes a robust Gaussian (MCD) strong on tables of a few dozen
    features. With hundreds of features and a latent space of at most 10
    dimensions, the decoder explains only a few features well, and per-feature
    weights would concentrate the score on those few; one shared variance
    (probabilistic PCA's noise model) weighs the many redundant features of
    embeddings alike.

    Examples
    --------
    >>> from skvae._base import resolve_noise_model
    >>> resolve_noise_model("auto", 20), resolve_noise_model("auto", 512)
    ('feature', 'shared')
    """
    if noise_model != "auto":
        return noise_model
    return "feature" if n_features <= MAX_FEATURES_FOR_FEATURE_NOISE else "shared"


def epochs_for_steps(n_steps: int, n_rows: int, batch_size: int) -> int:
    """Epochs needed for about ``n_steps`` optimisation steps, at least one.

    Training length is counted in steps because that is what the optimiser sees: 100
    epochs are 700 steps on 200 rows but 20,000 on 100,000 rows.

    Examples
    --------
    >>> from skvae._base import epochs_for_steps
    >>> epochs_for_steps(2000, n_rows=200, batch_size=16), epochs_for_steps(
    ...     2000, n_rows=600_000, batch_size=512)
    (154, 2)
    """
    steps_per_epoch = max(1, math.ceil(n_rows / batch_size))
    return max(1, math.ceil(n_steps / steps_per_epoch))


def resolve_device(device) -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``... into a usable device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:N' "
            "or 'auto'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch sees no CUDA GPU; use "
            "device='cpu', or device='auto' to take a GPU only when there is one."
        )
    return resolved


def draw_seed(random_state) -> int:
    """The torch seed for one fit.

    None takes a fresh seed from the operating system rather than from NumPy's
    global generator, so the caller's global random state is neither used nor
    changed; an int or a ``RandomState`` goes through ``check_random_state``.

    Examples
    --------
    >>> from skvae._base import draw_seed
    >>> draw_seed(0) == draw_seed(0)
    True
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def make_generators(seed: int, device: torch.device):
    """Three independent generators: weight initialisation (CPU, where modules are
    built), shuffling and training noise (on the training device).

    Explicit generators, never torch's global one, keep the caller's random state
    untouched and make fits reproducible when several run at once in threads.
    """
    seeds = np.random.SeedSequence(seed).generate_state(3)
    init = torch.Generator().manual_seed(int(seeds[0]))
    shuffle = torch.Generator(device=device).manual_seed(int(seeds[1]))
    noise = torch.Generator(device=device).manual_seed(int(seeds[2]))
    return init, shuffle, noise


def to_tensor(X: np.ndarray) -> torch.Tensor:
    """Share memory with ``X`` when torch may (writeable, contiguous), else copy."""
    if not X.flags.writeable or not X.flags.c_contiguous:
        X = np.array(X, order="C")
    return torch.from_numpy(X)


def _check_hidden_layer_sizes(estimator, value):
    sizes = tuple(value)
    if not sizes or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in sizes
    ):
        raise InvalidParameterError(
            f"The 'hidden_layer_sizes' parameter of {type(estimator).__name__} must "
            f"be None or a non-empty sequence of ints >= 1. Got {value!r} instead."
        )
    return tuple(int(s) for s in sizes)


class BaseVAE(BaseEstimator):
    """Fit and inference machinery shared by the VAE estimators.

    Subclasses define ``__init__`` (the public parameters), what the latent size
    defaults to, through ``_resolve_n_components``, and the optimisation steps that
    ``max_epochs="auto"`` and ``n_iter_no_change="auto"`` stand for.
    """

    _parameter_constraints: dict = dict(BASE_PARAMETER_CONSTRAINTS)
    _auto_max_steps: int = 4000
    _auto_patience_steps: int = 500
    # Fewer epochs than this of patience would stop on the noise of a single epoch.
    _min_patience_epochs: int = 5

    # -- fitting -----------------------------------------------------------------

    def _resolve_n_components(self, n_features: int) -> int:
        return self.n_components

    def _resolve_schedule(self, n_train: int, batch_size: int) -> None:
        """Turn the "auto" training lengths into epochs for this data size."""
        if self.max_epochs == "auto":
            self.max_epochs_ = epochs_for_steps(
                self._auto_max_steps, n_train, batch_size
            )
        else:
            self.max_epochs_ = self.max_epochs
        if self.n_iter_no_change == "auto":
            self.n_iter_no_change_ = max(
                self._min_patience_epochs,
                epochs_for_steps(self._auto_patience_steps, n_train, batch_size),
            )
        else:
            self.n_iter_no_change_ = self.n_iter_no_change
        if self.kl_warmup_epochs == "auto":
            self.kl_warmup_epochs_ = self.max_epochs_ // 10
        else:
            self.kl_warmup_epochs_ = self.kl_warmup_epochs

    def _make_callbacks(self, monitor: str, early_stopping: bool) -> list:
        """Default training callbacks, with the user's added or swapped in by name."""
        named = {}
        if self.kl_warmup_epochs_ > 0:
            named["kl_annealing"] = KLAnnealing(n_epochs=self.kl_warmup_epochs_)
        if early_stopping:
            named["early_stopping"] = EarlyStopping(
                monitor=monitor,
                patience=self.n_iter_no_change_,
                threshold=self.tol,
                load_best=True,
            )
        if self.reduce_lr_on_plateau:
            named["lr_scheduler"] = LRScheduler(
                policy=torch.optim.lr_scheduler.ReduceLROnPlateau,
                monitor=monitor,
                patience=max(1, self.n_iter_no_change_ // 2),
                factor=0.5,
            )
        unnamed = []
        for callback in self.callbacks or []:
            name, callback = (
                callback if isinstance(callback, tuple) else (None, callback)
            )
            # Callbacks keep state during training; copies keep the user's untouched.
            callback = (
                clone(callback)
                if hasattr(callback, "get_params")
                else copy.deepcopy(callback)
            )
            if name is None:
                unnamed.append(callback)
            else:
                named[name] = callback
        return list(named.items()) + unnamed

    def _fit(self, X):
        # A failed (re)fit must leave no usable model behind, not a stale or NaN one.
        previous_net = self.__dict__.pop("net_", None)
        X = self._validate_table(X, reset=True)
        self._train_new_net(X, epochs=None, previous_net=previous_net)
        return X

    def _partial_fit(self, X, epochs: int):
        """Train ``epochs`` passes over ``X`` without resetting weights or optimiser.

        The first call builds the network from this chunk (its size, range and dtype
        settle the "auto" choices) and trains on all of it: a chunk is too small a
        view of the data for early stopping, so none is done.
        """
        if not isinstance(epochs, Integral) or isinstance(epochs, bool) or epochs < 1:
            raise ValueError(f"epochs must be an int >= 1, got {epochs!r}.")
        first_call = not hasattr(self, "net_")
        X = self._validate_table(X, reset=first_call)
        if first_call:
            self._train_new_net(X, epochs=epochs)
            return X
        net = self.net_
        # The shuffling and noise generators carry on from the last call, so a
        # stream is reproducible for the same sequence of chunks.
        try:
            net.partial_fit(self._as_module_tensor(X).to(net.device), epochs=epochs)
        except TrainingDivergedError:
            # The weights are NaN now: keep no model rather than a broken one.
            del self.net_
            raise
        self.n_iter_ = len(net.history)
        return X

    def _train_new_net(self, X: np.ndarray, epochs: int | None, previous_net=None):
        """Build a module and net for ``X`` and train it; ``epochs=None`` is ``fit``
        (up to ``max_epochs``, early stopping allowed), an int is a first
        ``partial_fit`` call. With ``warm_start``, ``previous_net``'s weights are
        trained further when the architecture still fits."""
        n_samples, n_features = X.shape
        self.module_layout_ = module_layout(self.table_encoder_, X)
        n_components = self._resolve_n_components(self.n_features_in_)
        if self.hidden_layer_sizes is None:
            hidden = auto_hidden_layer_sizes(n_features, n_components)
        else:
            hidden = _check_hidden_layer_sizes(self, self.hidden_layer_sizes)
        output_activation = self.output_activation
        if output_activation == "auto":
            numeric = X[:, : self.module_layout_["n_features"]]
            in_unit_interval = (
                self.table_encoder_ is None
                and np.nanmin(numeric) >= 0.0
                and np.nanmax(numeric) <= 1.0
            )
            output_activation = "sigmoid" if in_unit_interval else "identity"
        batch_size = (
            auto_batch_size(n_samples) if self.batch_size == "auto" else self.batch_size
        )
        device = resolve_device(self.device)
        seed = draw_seed(self.random_state)
        early_stopping = epochs is None and self.early_stopping
        n_valid = (
            ValidationSplit.n_valid(n_samples, self.validation_fraction)
            if early_stopping
            else 0
        )
        validate = n_valid > 0
        self._resolve_schedule(n_samples - n_valid, batch_size)
        monitor = "valid_loss" if validate else "train_loss"
        n_train = n_samples - n_valid
        if self.batch_norm and min(n_train, batch_size) < 2:
            raise ValueError(
                "batch_norm=True needs at least 2 rows in every training batch; got "
                f"{n_train} training row(s) and batch_size={batch_size}. Use "
                "batch_norm=False, a batch_size >= 2 or more samples."
            )
        X_tensor = to_tensor(X).to(device)
        init_generator, shuffle_generator, noise_generator = make_generators(
            seed, device
        )
        module_params = dict(
            n_features=n_features,
            n_components=n_components,
            hidden_layer_sizes=hidden,
            activation=self.activation,
            batch_norm=self.batch_norm,
            dropout=self.dropout,
            output_activation=output_activation,
            noise_model=resolve_noise_model(self.noise_model, n_features),
            trim_fraction=self.trim_fraction,
        )
        module_params.update(self.module_layout_)
        dtype = _TORCH_DTYPES[X.dtype]
        module = (
            reusable_module(previous_net, module_params, dtype, device)
            if self.warm_start
            else None
        )
        warm = module is not None
        if not warm:
            module = VAEModule.seeded(init_generator, **module_params).to(
                device=device, dtype=dtype
            )
            with np.errstate(over="ignore"):  # huge inputs: diverge clearly later
                module.set_feature_variance(
                    torch.from_numpy(
                        numeric_variance(X, self.module_layout_["n_features"])
                    )
                )
        module.set_generator(noise_generator)
        net = VAENet(
            module,
            beta=self.beta,
            trim_fraction=self.trim_fraction,
            lr=self.lr,
            max_epochs=self.max_epochs_,
            batch_size=batch_size,
            iterator_train__generator=shuffle_generator,
            train_split=ValidationSplit(self.validation_fraction, seed)
            if validate
            else None,
            callbacks=self._make_callbacks(monitor, early_stopping),
            device=device,
            verbose=self.verbose,
        )
        if warm:
            continue_training(net, previous_net, X_tensor)
        elif epochs is None:
            net.fit(X_tensor)
        else:
            net.initialize().partial_fit(X_tensor, epochs=epochs)
        self.n_components_ = n_components
        self.hidden_layer_sizes_ = hidden
        self.output_activation_ = output_activation
        self.noise_model_ = module.noise_model
        self.batch_size_ = batch_size
        self.seed_ = seed
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        self.net_ = net

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "net_")

    # -- inference ---------------------------------------------------------------

    def _inference_input(self, X):
        """Validate ``X`` and return it as a tensor in the module's dtype, with the
        dtype the output should have (that of ``X``)."""
        check_is_fitted(self)
        X = self._validate_table(X, reset=False)
        return self._as_module_tensor(X), X.dtype

    def _validate_table(self, X, reset: bool) -> np.ndarray:
        """Validated input as the network's float matrix (see
        :func:`skvae._tabular.validate_table`)."""
        return validate_table(self, X, reset=reset, dtype=_FLOAT_DTYPES, order="C")

    def _as_module_tensor(self, X: np.ndarray) -> torch.Tensor:
        module_dtype = next(self.net_.module_.parameters()).dtype
        return to_tensor(X).to(module_dtype)

    def _map(self, X_tensor, fn, width: int | None, out_dtype) -> np.ndarray:
        shape = (len(X_tensor),) if width is None else (len(X_tensor), width)
        out = torch.empty(shape, dtype=X_tensor.dtype)
        self.net_.map_batches(X_tensor, fn, out)
        if not torch.isfinite(out).all():
            raise ValueError(
                f"{type(self).__name__} produced NaN or infinite values: the input "
                "holds values far outside the range it was fitted on (or too large for "
                "floating point). Scale X the same way as the training data."
            )
        with np.errstate(over="ignore"):
            result = out.numpy().astype(out_dtype, copy=False)
        if result.dtype != out.numpy().dtype and not np.isfinite(result).all():
            raise narrowing_overflow_error(self, out_dtype)
        return result

    def reconstruction_error(self, X, per_feature: bool = False) -> np.ndarray:
        """How badly each sample is reconstructed, in nats of the model's likelihood.

        The Gaussian negative log-likelihood of ``X`` under the decoded posterior
        mean, above its minimum: ``(x_j - mu_j)^2 / (2 sigma_j^2)`` for feature
        ``j``, with ``sigma_j^2`` the decoder's learned noise variance. It is the
        squared error weighted by how precisely the model predicts each feature,
        and the part of the anomaly score that comes from reconstruction (the
        negative ELBO is its row sum plus the KL term plus a constant). With
        ``noise_model="fixed"`` it is the squared error. The decoding of the mean
        of q(z|x) is deterministic, so repeated calls agree. With
        ``per_feature=True`` it is split by feature (the row sums give the
        per-sample value), which shows which features make a sample anomalous.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data scaled like the training data.
        per_feature : bool, default=False
            Return one column per feature instead of the row sums.

        Returns
        -------
        error : ndarray of shape (n_samples,) or (n_samples, n_features), dtype of X

        Examples
        --------
        >>> import numpy as np
        >>> from skvae import VAEOutlierDetector
        >>> X = np.random.RandomState(0).normal(size=(200, 4))
        >>> detector = VAEOutlierDetector(max_epochs=5, random_state=0).fit(X)
        >>> odd = np.array([[0.0, 0.0, 8.0, 0.0]])  # anomalous in feature 2
        >>> int(detector.reconstruction_error(odd, per_feature=True).argmax())
        2
        """
        return self._reconstruction(*self._inference_input(X), per_feature)

    def _reconstruction(
        self, X_tensor, out_dtype, per_feature: bool = False
    ) -> np.ndarray:
        error = self._map(
            X_tensor,
            lambda m, x: reconstruction_nll(m, x, per_feature=per_feature),
            self.n_features_in_ if per_feature else None,
            out_dtype,
        )
        if per_feature and self.table_encoder_ is not None:
            error = self.table_encoder_.to_original_order(error)
        return error

    def _negative_elbo(self, X_tensor, out_dtype) -> np.ndarray:
        return self._map(X_tensor, negative_elbo, None, out_dtype)

    def _reconstruction_nll(self, X_tensor, out_dtype, n_draws: int) -> np.ndarray:
        """Monte-Carlo negative log reconstruction probability (An & Cho, 2015).

        The ``n_draws`` noise vectors come from a generator seeded with ``seed_``
        and are the same for every row, so a sample's score does not depend on the
        batch it is scored in, and repeated calls agree without touching the
        caller's random state. Memory does not grow with ``n_draws``.
        """
        module_dtype = next(self.net_.module_.parameters()).dtype
        generator = torch.Generator().manual_seed(self.seed_)
        eps = torch.randn(
            (n_draws, self.n_components_), generator=generator, dtype=module_dtype
        )

        def per_sample(module, x):
            return negative_log_reconstruction_probability(module, x, eps.to(x.device))

        return self._map(X_tensor, per_sample, None, out_dtype)

    def score(self, X, y=None) -> float:
        """Mean evidence lower bound of ``X`` (higher is better).

        The per-sample value is the evidence lower bound, ``log p(x|z)`` at the
        posterior mean minus the KL divergence of q(z|x) from the prior (the VAE
        loss at ``beta=1``), a lower bound on ``log p(x)``. Models with different
        ``beta``, ``n_components`` or ``noise_model`` are compared on one scale, so
        ``GridSearchCV`` can tune with it without labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score, scaled like the training data.
        y : None
            Ignored.

        Returns
        -------
        score : float

        Examples
        --------
        >>> import numpy as np
        >>> from skvae import VAETransformer
        >>> X = np.random.RandomState(0).normal(size=(100, 4))
        >>> vae = VAETransformer(max_epochs=5, random_state=0).fit(X)
        >>> bool(vae.score(X) < -4 * 0.5 * np.log(2 * np.pi))  # N(0, I): about -5.7
        True
        """
        X_tensor, _ = self._inference_input(X)
        values = self._negative_elbo(X_tensor, np.float64)
        with np.errstate(over="ignore"):
            mean = np.mean(values)
        if not np.isfinite(mean):
            # Finite values whose sum overflows: their mean is still finite.
            mean = np.sum(values / len(values))
        return -float(mean)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def common_parameters_doc(estimator_class) -> str:
    """The shared parameter docs, with the defaults read from ``__init__``.

    Reading them from the signature keeps the documented defaults true when either
    estimator's defaults change.
    """
    defaults = {
        name: f'"{parameter.default}"'
        if isinstance(parameter.default, str)
        else parameter.default
        for name, parameter in inspect.signature(
            estimator_class.__init__
        ).parameters.items()
    }
    return COMMON_PARAMETERS_DOC.format(
        **defaults,
        max_steps=estimator_class._auto_max_steps,
        patience_steps=estimator_class._auto_patience_steps,
    )


# Shared by both estimators' docstrings (inserted with str.format), so the two
# parameter lists cannot drift apart.
COMMON_PARAMETERS_DOC = """\
    categorical_features : "from_dtype", array-like of int, bool or str, or None, \
default="from_dtype"
        Which columns are categorical, as in
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`: "from_dtype"
        takes the ``category``, ``object``, ``string`` and ``bool`` columns of a
        DataFrame (none of an array); or column indices, a boolean mask, or column
        names; None for none. Categorical columns are one-hot encoded inside and
        modelled by a softmax head (cross-entropy in the likelihood); with them, the
        numeric columns are standardized inside. A category not seen in ``fit`` is
        treated as a missing cell (as ``OneHotEncoder(handle_unknown="ignore")``
        encodes it: no category). At most 1000 categories per column. Missing
        cells (NaN, ``None``, ``pd.NA``) are accepted everywhere: the likelihood
        covers the observed cells, scaled to the full row, and when the training
        data had missing cells the encoder also gets the observed mask.
    hidden_layer_sizes : sequence of int or None, default=None
        Encoder widths, first to last; the decoder mirrors them. None picks two
        layers about ``2 * n_features`` and ``n_features`` wide (16 to 256).
    activation : {{"relu", "leaky_relu", "elu", "gelu", "selu", "tanh", "sigmoid"}}, \
default="relu"
        Hidden-layer activation.
    batch_norm : bool, default=False
        Batch normalisation after each encoder layer.
    dropout : float in [0, 1), default=0.0
        Dropout probability after each encoder activation.
    output_activation : {{"auto", "identity", "sigmoid"}}, default="auto"
        Decoder output: "identity" suits standardized data, "sigmoid" data in
        [0, 1]; "auto" picks sigmoid when the training data lie in [0, 1].
    noise_model : {{"auto", "feature", "shared", "fixed"}}, default="{noise_model}"
        The decoder's likelihood p(x|z), a Gaussian around the decoded point:
        "feature" learns one noise variance per feature (a linear decoder then
        gives factor analysis), "shared" one variance for all features
        (probabilistic PCA in the linear case), "fixed" uses variance 1/2 for every
        feature, so the loss is the plain squared error (skvae 0.1); "auto" is
        "feature" up to 100 features and "shared" above. Learned variances are the
        maximum-likelihood value of each training batch (the calibrated decoder
        of the sigma-VAE), estimated from the rows ``trim_fraction`` keeps; they
        keep latent dimensions in use that a too-large fixed noise would switch
        off, and weigh each feature by how well it can be predicted. They are
        bounded below by 1% of each feature's training variance, because a
        Gaussian likelihood whose variance may reach 0 has no maximum.
    beta : float >= 0, default={beta}
        Weight of the KL divergence between the posterior q(z|x) and the N(0, I)
        prior in the loss ``reconstruction + beta * KL``. Larger values give a
        smoother, more regular latent space at some cost in reconstruction.
    trim_fraction : float in [0, 1), default={trim_fraction}
        Trimmed loss: the share of each training batch with the highest loss that
        is left out of the update. Networks fit typical samples before rare ones, so
        trimming keeps anomalies in the training data from being learned (their
        reconstruction error stays high); 0 trains on every sample.
    kl_warmup_epochs : int >= 0 or "auto", default={kl_warmup_epochs}
        KL annealing: the KL weight ramps linearly from 0 to ``beta`` over this
        many epochs (0 starts at ``beta``); "auto" is a tenth of ``max_epochs_``.
        See :class:`skvae.callbacks.KLAnnealing`.
    lr : float > 0, default={lr}
        Adam learning rate.
    batch_size : int or "auto", default="auto"
        Rows per training step; "auto" is a power of two near ``sqrt(n_samples)``,
        between 16 and 512.
    max_epochs : int >= 1 or "auto", default={max_epochs}
        Upper bound on the passes over the training data. "auto" counts
        optimisation steps instead, which is what decides how far training gets:
        the epochs that make about {max_steps:,} steps of ``batch_size_`` rows
        (many epochs on a few hundred rows, one or two on a million).
    early_stopping : bool, default={early_stopping}
        Hold out ``validation_fraction`` of the rows and stop when their loss has not
        improved by ``tol`` (relative) for ``n_iter_no_change`` epochs, restoring the
        best weights. Data too small to split are not held out; the training loss is
        watched instead.
    validation_fraction : float in (0, 1), default=0.1
        Share of the rows held out for early stopping.
    n_iter_no_change : int >= 1 or "auto", default={n_iter_no_change}
        Patience of early stopping, in epochs; the learning rate is halved after half
        as many epochs without improvement. "auto" is the epochs of about
        {patience_steps} optimisation steps, and at least 5.
    tol : float >= 0, default=1e-4
        Relative improvement of the monitored loss that counts as progress.
    reduce_lr_on_plateau : bool, default=True
        Halve the learning rate when the monitored loss stalls (ReduceLROnPlateau).
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks. A tuple whose name is "kl_annealing",
        "early_stopping" or "lr_scheduler" replaces that default callback.
    warm_start : bool, default=False
        When True and already fitted, ``fit`` trains the current weights for
        ``max_epochs`` more epochs instead of starting afresh; ``history_`` and
        ``n_iter_`` go on counting, the Adam state and learning-rate schedule
        restart. If the number of features or the network's layers changed,
        ``fit`` starts afresh.
    device : {{"cpu", "cuda", "auto"}} or torch.device, default="cpu"
        Where training and inference run; "auto" takes a GPU when torch sees one.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the validation split and the
        reparameterisation noise. The caller's global torch and numpy random
        states are left as they were: None takes a fresh seed from the operating
        system each fit (so ``np.random.seed`` does not make it repeatable; pass
        an int for that).
    verbose : int, default=0
        Print a table row per epoch when > 0."""
