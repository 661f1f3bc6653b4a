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
from skorch.callbacks import Callback, EarlyStopping

from ._calibration import full_noise_possible
from ._checks import narrowing_overflow_error
from ._docstrings import FITTED_ATTRIBUTES_DOC, fill_example_setups
from ._generation import LATENT_PRIORS, draw_encoded, fit_sampler, sampled_output
from ._linear_start import start_at_ppca
from ._module import ACTIVATIONS, VAEModule
from ._net import (
    DEFAULT_CALLBACKS,
    VAENet,
    ValidationSplit,
    is_streaming,
    seeded_generators,
)
from ._noise import NOISE_MODELS
from ._scores import SCORES, SeededDraws, reconstruction_nll
from ._state import (
    MAX_FEATURES,
    MAX_LAYER_WIDTH,
    check_fitted,
    check_net_state,
    column_names,
    layer_widths,
)
from ._tabular import (
    check_feature_dtypes,
    check_layout,
    encoder_from_state,
    encoder_state,
    module_layout,
    numeric_frame_dtypes,
    numeric_variance,
    validate_table,
)
from ._warm_start import continue_training, reusable_module
from .exceptions import TrainingDivergedError, invalid_model

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
    "linear_path": ["boolean"],
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
    "latent_prior": [StrOptions(set(LATENT_PRIORS))],
}

# The fitted attributes every estimator has (besides net_ and history_), with
# the values each may take: pickle, skops and skvae.load check a saved model's
# against them (skvae._state.check_fitted), in this order. A list holds
# constraints as in _parameter_constraints; a tuple (check, *names) a function
# checking a structured value against attributes before it.
_POSITIVE_COUNT = Interval(Integral, 1, 2**31, closed="both")
BASE_FITTED_ATTRIBUTES: dict = {
    "n_features_in_": [Interval(Integral, 1, MAX_FEATURES, closed="both")],
    "table_encoder_": (encoder_from_state, "n_features_in_"),
    "feature_names_in_": (column_names, "n_features_in_", "table_encoder_"),
    "feature_dtypes_": (check_feature_dtypes, "n_features_in_"),
    "module_layout_": (check_layout, "table_encoder_", "n_features_in_"),
    "n_components_": [Interval(Integral, 1, MAX_LAYER_WIDTH, closed="both")],
    "hidden_layer_sizes_": (layer_widths,),
    "output_activation_": [StrOptions({"identity", "sigmoid"})],
    "noise_model_": [StrOptions(set(NOISE_MODELS))],
    "batch_size_": [_POSITIVE_COUNT],
    "max_epochs_": [_POSITIVE_COUNT],
    "n_iter_no_change_": [_POSITIVE_COUNT],
    "kl_warmup_epochs_": [Interval(Integral, 0, None, closed="left")],
    "n_iter_": [Interval(Integral, 0, None, closed="left")],
    "seed_": [Interval(Integral, 0, 2**32, closed="left")],
}


def auto_batch_size(n_samples: int) -> int:
    """Power of two near ``sqrt(n_samples)``, between 16 and 512; below 32 rows,
    all of them.

    Small data get small batches (enough optimisation steps per epoch), large data get
    large ones (fewer, cheaper steps per epoch). Below 32 rows a second batch would
    hold fewer than the 16-row floor, so the rows make one batch (on a tiny network
    a step costs about the same for 11 rows as for 27).

    Examples
    --------
    >>> from skvae._base import auto_batch_size
    >>> auto_batch_size(30), auto_batch_size(133), auto_batch_size(5000)
    (30, 16, 64)
    """
    if n_samples < 32:
        return max(1, n_samples)
    return int(np.clip(2 ** round(math.log2(math.sqrt(n_samples))), 16, 512))


def auto_hidden_layer_sizes(n_features: int, n_components: int) -> tuple[int, int]:
    """Two layers about ``2 * n_features`` and ``n_features`` wide, within [8, 256]."""
    first = int(np.clip(2 * n_features, 16, 256))
    second = int(np.clip(n_features, max(8, n_components), 128))
    return first, second


def resolve_noise_model(noise_model: str, X_numeric: np.ndarray) -> str:
    """``noise_model="auto"``: the full covariance when the data allow it, else shared.

    "full" (the decoder's residuals scored by their robust covariance, see
    :mod:`skvae._calibration`) up to 100 numeric features with at least 5 complete
    training rows per feature. Otherwise "shared": the maximum-likelihood noise
    variance rather than the arbitrary fixed 1/2 (probabilistic PCA's noise model),
    one for all features because with hundreds of them (image and text embeddings)
    and a latent space of at most 10 dimensions, per-feature variances would
    concentrate the score on the few features the decoder explains well. The
    model is then checked against the numeric columns ``X_numeric``.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae._base import resolve_noise_model
    >>> resolve_noise_model("auto", np.zeros((500, 20)))
    'full'
    >>> resolve_noise_model("auto", np.zeros((500, 512)))
    'shared'
    """
    if noise_model == "auto":
        noise_model = "full" if full_noise_possible(X_numeric) else "shared"
    NOISE_MODELS[noise_model].check_data(X_numeric)
    return noise_model


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
    if resolved.type not in ("cpu", "cuda"):
        # Other backends (mps, xla, meta...) lack the seeded generators and fused
        # kernels skvae relies on; torch's own error would come later and say less.
        raise ValueError(
            f"device={device!r} is not supported: skvae trains on 'cpu', 'cuda', "
            "'cuda:N' or 'auto' (a CUDA GPU when there is one, else the CPU)."
        )
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


def to_tensor(X: np.ndarray) -> torch.Tensor:
    """Share memory with ``X`` when torch may (writeable, contiguous), else copy."""
    if not X.flags.writeable or not X.flags.c_contiguous:
        X = np.array(X, order="C")
    return torch.from_numpy(X)


def _training_copy(callback):
    """A copy of ``callback`` to train with, or the callback itself.

    Callbacks keep state during training; copies keep the user's untouched. One that
    holds an operating-system resource (TensorBoard's SummaryWriter, a logger's
    run) cannot be copied and is used as given, as skorch itself does.
    """
    try:
        return (
            clone(callback)
            if hasattr(callback, "get_params")
            else copy.deepcopy(callback)
        )
    except (TypeError, RuntimeError):
        return callback


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
    _fitted_attributes: dict = dict(BASE_FITTED_ATTRIBUTES)
    _auto_max_steps: int = 4000
    # A cap, in epochs, on the "auto" budget (None: none). On small data a step
    # budget is many passes over every row; a cap in passes bounds how often each
    # row, anomalies included, is fitted.
    _auto_max_epochs: int | None = None
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
            if self._auto_max_epochs is not None:
                self.max_epochs_ = min(self.max_epochs_, self._auto_max_epochs)
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

    def _user_callbacks(self, early_stopping: bool) -> dict:
        """The ``callbacks`` parameter as :class:`VAENet` arguments: copies of the
        user's callbacks, each (name, callback) tuple named like a default callback
        taking its place (skorch's ``callbacks__<name>``)."""
        named, unnamed = {}, []
        for callback in self.callbacks or []:
            name, callback = (
                callback if isinstance(callback, tuple) else (None, callback)
            )
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"callbacks must hold skorch Callback instances or (name, "
                    f"Callback) tuples, got {callback!r}. Wrap a function in a "
                    "subclass of skorch.callbacks.Callback that calls it from the "
                    "hook it needs (e.g. on_epoch_end)."
                )
            callback = _training_copy(callback)
            if isinstance(callback, EarlyStopping) and not early_stopping:
                continue  # partial_fit streams: no early stopping
            if name is None:
                unnamed.append(callback)
            else:
                named[name] = callback
        added = [(n, c) for n, c in named.items() if n not in DEFAULT_CALLBACKS]
        return {
            "callbacks": added + unnamed,
            **{
                f"callbacks__{n}": c for n, c in named.items() if n in DEFAULT_CALLBACKS
            },
        }

    def _fit(self, X):
        # A failed (re)fit must leave no usable model behind, not a stale or NaN
        # one, and no fitted attribute (n_features_in_, history_...) of the last.
        previous_net = self.__dict__.pop("net_", None)
        for name in [k for k in vars(self) if k.endswith("_") and k[0] != "_"]:
            delattr(self, name)
        validated = self._validate_table(X, reset=True)
        # For sample, which gives rows back with the dtypes they came with.
        self.feature_dtypes_ = numeric_frame_dtypes(X)
        self._train_new_net(validated, epochs=None, previous_net=previous_net)
        return validated

    def _partial_fit(self, X, epochs: int):
        """Train ``epochs`` passes over ``X`` without resetting weights or optimiser.

        The first call builds the network from this chunk (its size, range and dtype
        settle the "auto" choices) and trains on all of it: a chunk is too small a
        view of the data for early stopping, so none is done. After ``fit``, the
        net is rebuilt for streaming (no validation split, no early stopping),
        keeping the weights, Adam state, learning rate, history and generators.
        """
        if not isinstance(epochs, Integral) or isinstance(epochs, bool) or epochs < 1:
            raise ValueError(f"epochs must be an int >= 1, got {epochs!r}.")
        first_call = not hasattr(self, "net_")
        validated = self._validate_table(X, reset=first_call)
        if first_call:
            self.feature_dtypes_ = numeric_frame_dtypes(X)
            self._train_new_net(validated, epochs=epochs)
            return validated
        X = validated
        if self.batch_norm and len(X) < 2:
            raise ValueError(
                "batch_norm=True needs at least 2 rows in every training batch, but "
                f"this partial_fit chunk has {len(X)} row(s). Pass larger chunks, or "
                "refit with batch_norm=False."
            )
        if not is_streaming(self.net_):
            self.net_ = self._import_net(self.net_.export_state())
            self.history_ = self.net_.history
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
        self._calibrate_noise(X)
        return X

    def _train_new_net(self, X: np.ndarray, epochs: int | None, previous_net=None):
        """Build a module and net for ``X`` and train it; ``epochs=None`` is ``fit``
        (up to ``max_epochs``, early stopping allowed), an int is a first
        ``partial_fit`` call. With ``warm_start``, ``previous_net``'s weights are
        trained further when the architecture still fits."""
        early_stopping = epochs is None and self.early_stopping
        self._resolve_network(X)
        device = resolve_device(self.device)
        n_valid = self._resolve_training(len(X), early_stopping)
        self.noise_model_ = resolve_noise_model(
            self.noise_model, self.module_layout_.numeric(X)
        )
        dtype = _TORCH_DTYPES[X.dtype]
        module = (
            reusable_module(previous_net, self._module_params(), dtype, device)
            if self.warm_start
            else None
        )
        warm = module is not None
        if not warm:
            module = self._starting_module(X, device)
        net = self._build_net(
            module, early_stopping=early_stopping, validate=n_valid > 0, device=device
        )
        X_tensor = to_tensor(X).to(device)
        if warm:
            continue_training(net, previous_net, X_tensor)
        elif epochs is None:
            net.fit(X_tensor)
        else:
            net.initialize().partial_fit(X_tensor, epochs=epochs)
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        self.net_ = net
        self._calibrate_noise(X)

    def _resolve_network(self, X: np.ndarray) -> None:
        """Set the fitted attributes that shape the network for ``X``: its columns
        (``module_layout_``), latent size, hidden layers and output activation."""
        self.module_layout_ = module_layout(self.table_encoder_, X)
        self.n_components_ = self._resolve_n_components(self.n_features_in_)
        if self.hidden_layer_sizes is None:
            self.hidden_layer_sizes_ = auto_hidden_layer_sizes(
                X.shape[1], self.n_components_
            )
        else:
            self.hidden_layer_sizes_ = _check_hidden_layer_sizes(
                self, self.hidden_layer_sizes
            )
        self.output_activation_ = self.output_activation
        if self.output_activation == "auto":
            numeric = self.module_layout_.numeric(X)
            in_unit_interval = (
                self.table_encoder_ is None
                and np.nanmin(numeric) >= 0.0
                and np.nanmax(numeric) <= 1.0
            )
            self.output_activation_ = "sigmoid" if in_unit_interval else "identity"

    def _resolve_training(self, n_samples: int, early_stopping: bool) -> int:
        """Set the fitted attributes that shape training on ``n_samples`` rows
        (batch size, seed, epochs, patience, KL warm-up); return how many of the
        rows are held out for validation."""
        batch_size = self.batch_size
        self.batch_size_ = (
            auto_batch_size(n_samples) if batch_size == "auto" else batch_size
        )
        self.seed_ = draw_seed(self.random_state)
        n_valid = (
            ValidationSplit.n_valid(n_samples, self.validation_fraction)
            if early_stopping
            else 0
        )
        n_train = n_samples - n_valid
        self._resolve_schedule(n_train, self.batch_size_)
        if self.batch_norm and min(n_train, self.batch_size_) < 2:
            raise ValueError(
                "batch_norm=True needs at least 2 rows in every training batch; got "
                f"{n_train} training row(s) and batch_size={self.batch_size_}. Use "
                "batch_norm=False, a batch_size >= 2 or more samples."
            )
        return n_valid

    def _starting_module(self, X: np.ndarray, device) -> VAEModule:
        """A new network for ``X`` with weights drawn from ``seed_``, the numeric
        columns' variances (the learned noise variances' floor) and, with
        ``linear_path``, probabilistic PCA's solution."""
        init_generator, _, _ = seeded_generators(self.seed_, device)
        module = self._build_module(init_generator, _TORCH_DTYPES[X.dtype]).to(device)
        with np.errstate(over="ignore"):  # huge inputs: diverge clearly later
            module.set_feature_variance(
                torch.from_numpy(numeric_variance(X, self.module_layout_))
            )
        if self.linear_path:
            start_at_ppca(module, X, self.beta, self.seed_)
        return module

    def _calibrate_noise(self, X: np.ndarray) -> None:
        """Fit what the noise model fits after training (the full covariance) to
        the decoder's residuals on ``X``."""
        layout = self.module_layout_

        def residuals(rows):
            def numeric_residual(module, x):
                return layout.numeric_residual(x, module.decode(module.encode(x)[0]))

            return self._map(X[rows], numeric_residual, layout.n_numeric, np.float64)

        self.net_.module_.noise.calibrate(
            residuals, layout.numeric(X), self.seed_, type(self).__name__
        )
        # A seed of its own, so that fitting the sampler changes no other draw.
        fit_sampler(self.net_.module_, X, self.latent_prior, self.seed_ + 1)

    @property
    def best_epoch_(self) -> int | None:
        """The epoch whose weights early stopping restored (0: the starting weights,
        which no epoch beat), or None."""
        check_is_fitted(self)
        return self.net_.best_epoch()

    # -- the one builder: fit, partial_fit, warm start and load use it -------------

    def _module_params(self) -> dict:
        """The arguments of the fitted network's ``VAEModule``."""
        layout = self.module_layout_
        return dict(
            n_features=layout.n_numeric,
            cardinalities=layout.cardinalities,
            missing_input=layout.missing_input,
            n_components=self.n_components_,
            hidden_layer_sizes=tuple(self.hidden_layer_sizes_),
            activation=self.activation,
            batch_norm=self.batch_norm,
            dropout=self.dropout,
            output_activation=self.output_activation_,
            noise_model=self.noise_model_,
            trim_fraction=self.trim_fraction,
            linear_path=self.linear_path,
        )

    def _build_module(self, generator, dtype, meta: bool = False):
        """A new network for the fitted attributes, initialised from ``generator``
        (on the "meta" device, allocating nothing, with ``meta=True``)."""
        if meta:
            with torch.device("meta"):
                return VAEModule(**self._module_params()).to(dtype=dtype)
        return VAEModule.seeded(generator, **self._module_params()).to(dtype=dtype)

    def _build_net(
        self, module, *, early_stopping: bool, validate: bool, device
    ) -> VAENet:
        """The skorch net training ``module``: the only place a net is built."""
        return VAENet.seeded(
            module,
            self.seed_,
            device,
            beta=self.beta,
            trim_fraction=self.trim_fraction,
            lr=self.lr,
            max_epochs=self.max_epochs_,
            batch_size=self.batch_size_,
            train_split=ValidationSplit(self.validation_fraction, self.seed_)
            if validate
            else None,
            kl_warmup_epochs=self.kl_warmup_epochs_,
            early_stopping=early_stopping,
            patience=self.n_iter_no_change_,
            tol=self.tol,
            reduce_lr_on_plateau=self.reduce_lr_on_plateau,
            verbose=self.verbose,
            **self._user_callbacks(early_stopping),
            **{f"module__{key}": value for key, value in module.init_params.items()},
        )

    def _import_net(self, state: dict) -> VAENet:
        """A streaming net (no validation split, no early stopping) going on from
        ``state`` (:meth:`VAENet.export_state`), checked first against the fitted
        attributes (:func:`skvae._state.check_net_state`)."""
        module_tensors, dtype = check_net_state(self, state)
        device = resolve_device(self.device)
        module = self._build_module(None, dtype, meta=True).to_empty(device=device)
        net = self._build_net(
            module, early_stopping=False, validate=False, device=device
        )
        net.initialize()
        net.restore_state(state, module_tensors)
        return net

    def __getstate__(self):
        # object.__getstate__ returns the instance's own __dict__: copy it.
        state = dict(super().__getstate__())
        state.pop("history_", None)
        net = state.pop("net_", None)
        fitted = {k: state.pop(k) for k in self._fitted_attributes if k in state}
        if net is None:
            return state  # not fitted: what a failed fit set is no model
        if fitted["table_encoder_"] is not None:
            try:
                fitted["table_encoder_"] = encoder_state(fitted["table_encoder_"])
            except TypeError:  # categories JSON cannot hold: pickle keeps them
                pass
        fitted["module_layout_"] = fitted["module_layout_"].state()
        return {**state, **fitted, "_net_state": net.export_state()}

    def __setstate__(self, state):
        state = dict(state)
        net_state = state.pop("_net_state", None)
        fitted = {
            k: state.pop(k) for k in list(state) if k.endswith("_") and k[0] != "_"
        }
        super().__setstate__(state)
        if fitted or net_state is not None:
            self._restore(fitted, net_state)

    def _restore(self, fitted: dict, net_state) -> None:
        """Set the fitted attributes and the net from saved values (pickle, skops,
        :func:`skvae.load`), checked first: the parameters against
        ``_parameter_constraints``, the fitted attributes against
        ``_fitted_attributes`` and the net's state against them."""
        if net_state is None:
            raise invalid_model("it has fitted attributes but no network state")
        try:
            self._validate_params()
        except (TypeError, ValueError) as exc:
            raise invalid_model(str(exc).rstrip(".")) from None
        for name, value in check_fitted(self._fitted_attributes, fitted).items():
            setattr(self, name, value)
        try:
            self.net_ = self._import_net(net_state)
        except (TypeError, KeyError, RuntimeError) as exc:
            raise invalid_model(
                f"its network state cannot be restored ({exc})"
            ) from None
        self.history_ = self.net_.history

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "net_")

    # -- inference ---------------------------------------------------------------

    def _inference_input(self, X):
        """Validate ``X`` and return it with the dtype the output should have (that
        of ``X``).

        ``X`` keeps its layout and float dtype (a read-only memmap stays one):
        :meth:`_map` converts it batch by batch, never whole.
        """
        check_is_fitted(self)
        X = self._validate_table(X, reset=False, order=None)
        return X, X.dtype

    def _validate_table(self, X, reset: bool, order: str | None = "C") -> np.ndarray:
        """Validated input as the network's float matrix (see
        :func:`skvae._tabular.validate_table`). Numeric arrays keep their layout
        with ``order=None`` (inference converts them batch by batch); tables are
        encoded into a new C-ordered array."""
        return validate_table(self, X, reset=reset, dtype=_FLOAT_DTYPES, order=order)

    def _as_module_tensor(self, X: np.ndarray) -> torch.Tensor:
        return to_tensor(X).to(self._module_dtype())

    def _module_dtype(self) -> torch.dtype:
        return next(self.net_.module_.parameters()).dtype

    def _map(self, X, fn, width: int | None, out_dtype) -> np.ndarray:
        shape = (len(X),) if width is None else (len(X), width)
        out = torch.empty(shape, dtype=self._module_dtype())
        self.net_.map_batches(X, fn, out)
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

    def _reconstruction(self, X, out_dtype, per_feature: bool = False) -> np.ndarray:
        error = self._map(
            X,
            lambda m, x: reconstruction_nll(m, x, per_feature=per_feature),
            self.n_features_in_ if per_feature else None,
            out_dtype,
        )
        if per_feature and self.table_encoder_ is not None:
            error = self.table_encoder_.to_original_order(error)
        return error

    def _draws(self, n_draws: int) -> SeededDraws:
        """The ``n_draws`` latent noise vectors of the Monte-Carlo scores and
        imputations, from a generator seeded with ``seed_``.

        They are the same for every row, so a sample's result does not depend on
        the batch it is computed in, and repeated calls agree without touching the
        caller's random state. They are generated in blocks as they are used, so
        memory does not grow with ``n_draws``.
        """
        return SeededDraws(
            self.seed_,
            n_draws,
            self.n_components_,
            self._module_dtype(),
            device=self.net_.device,
        )

    def _negative_score(
        self, X, out_dtype, method: str = "elbo", n_draws: int = 0
    ) -> np.ndarray:
        """The per-sample score ``method`` of :data:`skvae._scores.SCORES`."""
        score, draws = SCORES[method], self._draws(n_draws)
        return self._map(X, lambda m, x: score(m, x, draws), None, out_dtype)

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
        {fitted_transformer}
        >>> bool(vae.score(X) < -4 * 0.5 * np.log(2 * np.pi))  # N(0, I): about -5.7
        True
        """
        X, _ = self._inference_input(X)
        values = self._negative_score(X, np.float64)
        with np.errstate(over="ignore"):
            mean = np.mean(values)
        if not np.isfinite(mean):
            # Finite values whose sum overflows: their mean is still finite.
            mean = np.sum(values / len(values))
        return -float(mean)

    def sample(
        self,
        n_samples: int = 1,
        random_state=None,
        *,
        add_noise: bool = True,
        missing_cells: bool = False,
    ):
        """Generate new rows from the fitted model.

        Draws ``z`` from the latent prior (``latent_prior``), decodes it and draws
        ``x`` from ``p(x | z)``: the fitted noise model around the decoder's output
        for numeric columns, one category from each categorical column's softmax.
        See "Generating data" in the user guide.

        Parameters
        ----------
        n_samples : int >= 1, default=1
            Number of rows. Drawn in blocks of 65,536, so memory beyond the
            result stays bounded.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws, with a generator of its own: torch's and numpy's
            global random states are neither used nor changed. None takes a fresh
            seed from the operating system.
        add_noise : bool, default=True
            False returns ``E[x | z]`` for numeric columns and each categorical
            column's most probable category instead of draws.
        missing_cells : bool, default=False
            Blank each column's cells independently at the rate they were missing
            in the training data (missing completely at random). Integer columns
            with a blank cell come back as floats, as pandas reads them.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, n_features_in_)
            In the training data's space and type: a DataFrame with its column
            names, dtypes and categories when fitted on one (or when
            ``set_output(transform="pandas")`` or ``"polars"`` asks for it), else
            an array of the training dtype (an object array with categorical
            columns).

        Examples
        --------
        >>> import numpy as np
        >>> from skvae import VAETransformer
        >>> X = np.random.RandomState(0).normal(size=(200, 3))
        >>> vae = VAETransformer(n_components=2, max_epochs=5, random_state=0).fit(X)
        >>> vae.sample(4, random_state=0).shape
        (4, 3)
        >>> bool((vae.sample(4, random_state=0) == vae.sample(4, random_state=0)).all())
        True
        """
        check_is_fitted(self)
        if (
            not isinstance(n_samples, Integral)
            or isinstance(n_samples, bool)
            or n_samples < 1
        ):
            raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}.")
        module = self.net_.module_
        device = next(module.parameters()).device
        generator = torch.Generator(device=device).manual_seed(draw_seed(random_state))
        encoded = draw_encoded(
            module, int(n_samples), generator, bool(add_noise), bool(missing_cells)
        )
        return sampled_output(self, encoded)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


fill_example_setups(BaseVAE)


def signature_defaults(estimator_class) -> dict[str, str]:
    """Each ``__init__`` default as the docstrings write it: ``"auto"``, ``0.1``."""
    return {
        name: f'"{parameter.default}"'
        if isinstance(parameter.default, str)
        else repr(parameter.default)
        for name, parameter in inspect.signature(
            estimator_class.__init__
        ).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }


def fill_parameter_docs(estimator_class) -> None:
    """Fill the class docstring's ``{common}`` and every ``{default}``.

    Every default a docstring states is read from the signature, so the documented
    defaults stay true when either estimator's defaults change.
    """
    defaults = signature_defaults(estimator_class)
    max_epochs = estimator_class._auto_max_epochs
    auto = dict(
        max_steps=f"{estimator_class._auto_max_steps:,}",
        max_epochs_cap="" if max_epochs is None else f", and at most {max_epochs}",
        patience_steps=estimator_class._auto_patience_steps,
    )
    common = COMMON_PARAMETERS_DOC.format(**defaults, **auto)
    estimator_class.__doc__ = estimator_class.__doc__.format(
        common=common, fitted_attributes=FITTED_ATTRIBUTES_DOC, **defaults
    )


# Shared by both estimators' docstrings (inserted with str.format), so the two
# parameter lists cannot drift apart.
COMMON_PARAMETERS_DOC = """\
    categorical_features : "from_dtype", array-like of int, bool or str, or None, \
default={categorical_features}
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
    hidden_layer_sizes : sequence of int or None, default={hidden_layer_sizes}
        Encoder widths, first to last; the decoder mirrors them. None picks two
        layers about ``2 * n_features`` and ``n_features`` wide (16 to 256).
    activation : {{"relu", "leaky_relu", "elu", "gelu", "selu", "tanh", "sigmoid"}}, \
default={activation}
        Hidden-layer activation.
    batch_norm : bool, default={batch_norm}
        Batch normalisation after each encoder layer.
    dropout : float in [0, 1), default={dropout}
        Dropout probability after each encoder activation.
    output_activation : {{"auto", "identity", "sigmoid"}}, default={output_activation}
        Decoder output: "identity" suits standardized data, "sigmoid" data in
        [0, 1]; "auto" picks sigmoid when the training data lie in [0, 1].
    noise_model : {{"auto", "full", "feature", "shared", "fixed"}}, \
default={noise_model}
        The decoder's likelihood p(x|z), a Gaussian around the decoded point.
        "fixed" uses variance 1/2 for every feature, so the loss is the plain
        squared error (skvae 0.1). "full" trains as "fixed", then fits a full
        covariance matrix (and a mean) to the residuals ``x - decoder(z)`` of the
        training rows by the minimum covariance determinant, the robust Gaussian
        of the most central ``1 - trim_fraction`` share of the rows, adds each
        column's quantization variance (``delta**2 / 12`` for the smallest gap
        ``delta`` between its values, so a discrete column cannot get a variance of
        0), and scores with it: the residuals'
        Mahalanobis distance, so the score sees correlations the decoder left
        unexplained, and with a decoder that explains nothing it is the MCD
        detector. "auto" is "full" up to 100 numeric features with at least 5
        complete training rows per feature, else "shared". "feature" learns one
        noise variance per feature during training (a linear decoder then gives
        factor analysis), "shared" one variance for all features (probabilistic
        PCA in the linear case); learned variances are the maximum-likelihood
        value of each training batch (the calibrated decoder of the sigma-VAE),
        estimated from the rows ``trim_fraction`` keeps, and bounded below by 1%
        of each feature's training variance, because a Gaussian likelihood whose
        variance may reach 0 has no maximum. See the user guide's likelihood page.
    beta : float >= 0, default={beta}
        Weight of the KL divergence between the posterior q(z|x) and the N(0, I)
        prior in the loss ``reconstruction + beta * KL``. Larger values give a
        smoother, more regular latent space at some cost in reconstruction.
    linear_path : bool, default={linear_path}
        Add a linear path beside the networks, from the input to the posterior mean
        and from the latent code to the reconstruction, and start training at
        probabilistic PCA's maximum-likelihood solution (Tipping & Bishop 1999),
        the optimum of a linear VAE, with the networks' output layers at zero: the
        networks then learn what is nonlinear. Extra latent dimensions start in
        use, where from random weights they often stay collapsed. With a sigmoid
        output or ``noise_model="feature"``
        (factor analysis rather than PPCA) the path starts at zero.
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
    batch_size : int or "auto", default={batch_size}
        Rows per training step; "auto" is a power of two near ``sqrt(n_samples)``,
        between 16 and 512, and all rows in one batch below 32 of them.
    max_epochs : int >= 1 or "auto", default={max_epochs}
        Upper bound on the passes over the training data. "auto" counts
        optimisation steps instead, which is what decides how far training gets:
        the epochs that make about {max_steps} steps of ``batch_size_`` rows
        (many epochs on a few hundred rows, one or two on a million){max_epochs_cap}.
    early_stopping : bool, default={early_stopping}
        Hold out ``validation_fraction`` of the rows and stop when their loss has not
        improved by ``tol`` (relative) for ``n_iter_no_change`` epochs, restoring the
        best weights. Data too small to split are not held out; the training loss is
        watched instead.
    validation_fraction : float in (0, 1), default={validation_fraction}
        Share of the rows held out for early stopping.
    n_iter_no_change : int >= 1 or "auto", default={n_iter_no_change}
        Patience of early stopping, in epochs; the learning rate is halved after half
        as many epochs without improvement. "auto" is the epochs of about
        {patience_steps} optimisation steps, and at least 5.
    tol : float >= 0, default={tol}
        Relative improvement of the monitored loss that counts as progress.
    reduce_lr_on_plateau : bool, default={reduce_lr_on_plateau}
        Halve the learning rate when the monitored loss stalls (ReduceLROnPlateau).
    callbacks : list of skorch callbacks or (name, callback) tuples, default={callbacks}
        Extra skorch callbacks. A tuple whose name is "kl_annealing",
        "early_stopping" or "lr_scheduler" replaces that default callback.
    warm_start : bool, default={warm_start}
        When True and already fitted, ``fit`` trains the current weights for
        ``max_epochs`` more epochs instead of starting afresh; ``history_`` and
        ``n_iter_`` go on counting, the Adam state and learning-rate schedule
        restart. If the number of features or the network's layers changed,
        ``fit`` starts afresh.
    latent_prior : {{"mixture", "standard"}}, default={latent_prior}
        The latent distribution :meth:`sample` draws from. "mixture" is a Gaussian
        mixture (up to 10 components, fewer on small data) fitted after training to the
        training rows' latent codes, an estimate of the aggregate posterior, which
        a trained VAE's ``N(0, I)`` prior is not (see "Generating data" in the
        user guide); "standard" is ``N(0, I)``. Scores and transforms do not
        depend on it.
    device : {{"cpu", "cuda", "auto"}} or torch.device, default={device}
        Where training and inference run; "auto" takes a GPU when torch sees one.
    random_state : int, RandomState instance or None, default={random_state}
        Seeds weight initialisation, shuffling, the validation split and the
        reparameterisation noise. The caller's global torch and numpy random
        states are left as they were: None takes a fresh seed from the operating
        system each fit (so ``np.random.seed`` does not make it repeatable; pass
        an int for that).
    verbose : int, default={verbose}
        1 prints a table row per epoch; 2 also shows skorch's ``ProgressBar``
        over the batches of each epoch; 0 prints nothing."""
