"""The skorch net that trains a :class:`~skvae._module.VAEModule`, with slice batching.

skorch's default ``DataLoader`` collates rows one ``__getitem__`` at a time, which is
about 25 times slower than slicing a tensor when scoring a million rows. Here the
dataset is a single tensor and every batch is a slice of it, for training, validation
and inference alike.
"""

from __future__ import annotations

import math
import warnings
from numbers import Real

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    EpochTimer,
    LRScheduler,
    PrintLog,
    ProgressBar,
)
from skorch.history import History

from ._loss import LossTerms, VAELoss
from ._state import plain
from .callbacks import EarlyStoppingFromStart, KLAnnealing
from .exceptions import TrainingDivergedError, invalid_model

# torch >= 2.4 has a fused Adam on the CPU as well as on CUDA.
_FUSED_ADAM_ON_CPU = tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4)


# Optimisers whose step() needs no closure (LBFGS and friends re-evaluate the loss).
_CLOSURE_FREE_OPTIMIZERS = (
    torch.optim.Adam,
    torch.optim.AdamW,
    torch.optim.SGD,
    torch.optim.RMSprop,
    torch.optim.Adagrad,
)


def seeded_generators(seed: int, device) -> tuple[torch.Generator, ...]:
    """Three independent generators drawn from ``seed``: weight initialisation
    (on the CPU, where modules are built), shuffling and training noise (on
    ``device``).

    Explicit generators, never torch's global one, keep the caller's random state
    untouched and make fits reproducible when several run at once in threads.

    Examples
    --------
    >>> from skvae._net import seeded_generators
    >>> init, shuffle, noise = seeded_generators(0, "cpu")
    >>> init.initial_seed() != shuffle.initial_seed() != noise.initial_seed()
    True
    """
    seeds = np.random.SeedSequence(seed).generate_state(3)
    init = torch.Generator().manual_seed(int(seeds[0]))
    shuffle = torch.Generator(device=device).manual_seed(int(seeds[1]))
    noise = torch.Generator(device=device).manual_seed(int(seeds[2]))
    return init, shuffle, noise


def _finite_array(value, shape: tuple) -> bool:
    return (
        isinstance(value, np.ndarray)
        and value.dtype.kind in "fiub"
        and value.shape == shape
        and bool(np.isfinite(value).all())
    )


def as_row_outputs(output) -> tuple:
    """``(reconstruction, mean, log_var)`` of a :class:`VAEOutput` as a plain tuple.

    The noise variance, one value per feature rather than per row, is left out:
    skorch concatenates outputs batch by batch along the rows.
    """
    return tuple(output[:3])


class SilentPrintLog(PrintLog):
    """skorch's :class:`~skorch.callbacks.PrintLog` that formats nothing it would
    not print.

    skorch's own builds the epoch's table even at ``verbose=0`` and then drops it;
    on small data that formatting costs more than the epoch's training steps. A
    sink other than ``print`` still gets every row, as in skorch.
    """

    def on_epoch_end(self, net, **kwargs):
        if self.sink is print and not net.verbose:
            return
        super().on_epoch_end(net, **kwargs)


#: The names of :class:`VAENet`'s default callbacks, in their order.
DEFAULT_CALLBACKS = (
    "epoch_timer",
    "kl_annealing",
    "early_stopping",
    "lr_scheduler",
    "progress_bar",
    "print_log",
)

# What Adam keeps per parameter (max_exp_avg_sq with amsgrad).
_ADAM_STATE = {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}

# Callbacks known to read no per-batch history row (exact types: a subclass may).
_EPOCH_ONLY_CALLBACKS = (EpochTimer, PrintLog, SilentPrintLog, EarlyStopping)


def is_streaming(net) -> bool:
    """Whether ``net`` trains on every row with no early stopping (partial_fit)."""
    return net.train_split is None and not any(
        isinstance(callback, EarlyStopping) for _, callback in net.callbacks_
    )


def reads_batch_rows(callback) -> bool:
    """Whether ``callback`` may read the per-batch rows of the history.

    Only callbacks known to read epoch rows alone let training skip writing batch
    rows; any other callback (user-written ones included) gets them, in skorch's
    format.

    Examples
    --------
    >>> from skorch.callbacks import EarlyStopping, LRScheduler, ProgressBar
    >>> from skvae._net import reads_batch_rows
    >>> reads_batch_rows(EarlyStopping()), reads_batch_rows(ProgressBar())
    (False, True)
    >>> reads_batch_rows(LRScheduler(step_every="batch"))
    True
    """
    if getattr(callback, "reads_batch_rows", None) is False:
        return False
    if type(callback) in _EPOCH_ONLY_CALLBACKS:
        return False
    if type(callback) is LRScheduler:
        return callback.step_every != "epoch"
    return True


class TensorRows(torch.utils.data.Dataset):
    """A dataset that is one 2-D tensor; row ``i`` is sample ``i``.

    Examples
    --------
    >>> import torch
    >>> from skvae._net import TensorRows
    >>> len(TensorRows(torch.zeros(5, 2)))
    5
    """

    def __init__(self, X: torch.Tensor):
        self.X = X

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index):
        # An autoencoder's target is its input: skorch's scoring callbacks then
        # compare predictions (reconstructions) with X.
        row = self.X[index]
        return row, row


class SliceLoader:
    """Iterate over ``(X[start:stop], X[start:stop])`` batches of a :class:`TensorRows`
    (input and target: an autoencoder reconstructs its input).

    With ``shuffle=True`` the rows are permuted once per pass with ``torch.randperm``,
    drawn from ``generator`` (the estimators pass a seeded one). A final
    batch of a single row is merged into the one before it, because batch
    normalisation cannot train on one row and a one-row step is mostly noise.

    Examples
    --------
    >>> import torch
    >>> from skvae._net import SliceLoader, TensorRows
    >>> [len(xb) for xb, _ in SliceLoader(TensorRows(torch.zeros(9, 2)), batch_size=4)]
    [4, 5]
    """

    def __init__(
        self,
        dataset: TensorRows,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def _bounds(self) -> list[int]:
        n = len(self.dataset)
        bounds = list(range(0, n, self.batch_size)) + [n]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
            del bounds[-2]
        return bounds

    def __len__(self) -> int:
        return len(self._bounds()) - 1

    def __iter__(self):
        X = self.dataset.X
        if self.shuffle:
            device = X.device if self.generator is None else self.generator.device
            X = X[torch.randperm(len(X), generator=self.generator, device=device)]
        bounds = self._bounds()
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            batch = X[start:stop]
            yield batch, batch


def _mean_terms(terms: list, sizes: list[int]) -> tuple[float, float]:
    """Row-weighted means of per-batch (reconstruction, KL) means."""
    weights = torch.tensor(sizes, dtype=torch.float64) / sum(sizes)
    per_batch = torch.stack(terms).detach().to("cpu", torch.float64).view(-1, 2)
    reconstruction, kl = (weights @ per_batch).tolist()
    return reconstruction, kl


class ValidationSplit:
    """Hold out a random ``fraction`` of the rows for validation.

    Returns no validation set when the fraction would leave either part empty, so
    tiny inputs still train (on every row).

    Examples
    --------
    >>> import torch
    >>> from skvae._net import TensorRows, ValidationSplit
    >>> train, valid = ValidationSplit(0.2, seed=0)(TensorRows(torch.zeros(10, 2)))
    >>> len(train), len(valid)
    (8, 2)
    """

    def __init__(self, fraction: float, seed: int):
        self.fraction = fraction
        self.seed = seed

    @staticmethod
    def n_valid(n_samples: int, fraction: float) -> int:
        """Number of validation rows, or 0 when no split is possible."""
        n_valid = math.floor(fraction * n_samples)
        return n_valid if 0 < n_valid < n_samples else 0

    def __call__(self, dataset: TensorRows, y=None, **fit_params):
        n_valid = self.n_valid(len(dataset), self.fraction)
        if n_valid == 0:
            return dataset, None
        order = np.random.RandomState(self.seed).permutation(len(dataset))
        index = torch.from_numpy(order)
        X = dataset.X
        return TensorRows(X[index[n_valid:]]), TensorRows(X[index[:n_valid]])


class VAENet(NeuralNet):
    """skorch ``NeuralNet`` that trains a VAE on ``reconstruction + beta * KL``.

    The optimised loss uses ``kl_weight_``, which a KL-annealing callback may ramp up
    to ``beta``; the losses written to the history use ``beta`` itself, so train and
    validation curves stay comparable across the ramp and early stopping does not
    prefer the epochs where the KL term was switched off. The history holds, per
    epoch, ``train_loss``, ``train_reconstruction``, ``train_kl`` (and the ``valid_``
    counterparts when a validation split is used) and ``kl_weight``.

    With ``trim_fraction > 0`` every batch drops its worst-fitted samples (highest
    per-sample loss) before averaging: a trimmed loss. Deep generative models fit
    typical samples before rare ones, so on training data that hold anomalies the
    trimmed loss keeps the rare samples from being learned (Kim et al., 2024, ODIM
    and ALTBI), and their reconstruction error stays high.

    Parameters
    ----------
    module : torch.nn.Module or class
        The VAE, returning a :class:`~skvae._module.VAEOutput`.
    beta : float, default=1.0
        Weight of the KL term in the loss.
    trim_fraction : float in [0, 1), default=0.0
        Share of each batch, the samples with the highest loss, left out of the
        loss (training and validation alike).
    inference_batch_size : int, default=8192
        Rows per forward pass at validation and prediction time; no gradients are
        kept there, so batches can be larger than in training.
    kl_warmup_epochs : int, default=0
        Epochs of KL annealing (:class:`~skvae.callbacks.KLAnnealing`); 0: none.
    early_stopping : bool, default=False
        Stop when the monitored loss (``valid_loss`` with a validation split,
        else ``train_loss``) has not improved by ``tol`` for ``patience`` epochs,
        and restore the best weights
        (:class:`~skvae.callbacks.EarlyStoppingFromStart`).
    patience : int, default=5
        Epochs without improvement before early stopping; the learning rate is
        halved after half as many with ``reduce_lr_on_plateau``.
    tol : float, default=1e-4
        Relative improvement of the monitored loss that counts as progress.
    reduce_lr_on_plateau : bool, default=False
        Halve the learning rate when the monitored loss stalls.
    **kwargs
        Passed to :class:`skorch.NeuralNet`. The default callbacks are named as
        in :data:`DEFAULT_CALLBACKS`; one switched off is None, so a callback
        passed as ``callbacks__<name>=...`` takes its place, skorch's way.

    Examples
    --------
    >>> import torch
    >>> from skvae._module import VAEModule
    >>> from skvae._net import VAENet
    >>> net = VAENet(VAEModule, module__n_features=3, module__n_components=1,
    ...              module__hidden_layer_sizes=(4,), max_epochs=2, train_split=None)
    >>> _ = net.fit(torch.randn(20, 3))
    >>> len(net.history)
    2
    """

    def __init__(
        self,
        module,
        *,
        beta: float = 1.0,
        trim_fraction: float = 0.0,
        inference_batch_size: int = 8192,
        kl_warmup_epochs: int = 0,
        early_stopping: bool = False,
        patience: int = 5,
        tol: float = 1e-4,
        reduce_lr_on_plateau: bool = False,
        criterion=VAELoss,
        optimizer=torch.optim.Adam,
        lr: float = 1e-3,
        iterator_train=SliceLoader,
        iterator_valid=SliceLoader,
        dataset=TensorRows,
        train_split=None,
        iterator_train__shuffle: bool = True,
        verbose: int = 0,
        **kwargs,
    ):
        if optimizer is torch.optim.Adam and _FUSED_ADAM_ON_CPU:
            # One fused kernel per step instead of a dozen small ops per parameter:
            # on small networks that is most of the optimiser's cost.
            kwargs.setdefault("optimizer__fused", True)
        if criterion is VAELoss:
            # Per-sample terms, so that get_loss_terms can trim before averaging.
            kwargs.setdefault("criterion__reduction", "none")
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            iterator_train=iterator_train,
            iterator_valid=iterator_valid,
            dataset=dataset,
            train_split=train_split,
            iterator_train__shuffle=iterator_train__shuffle,
            verbose=verbose,
            **kwargs,
        )
        self.beta = beta
        self.trim_fraction = trim_fraction
        self.inference_batch_size = inference_batch_size
        self.kl_warmup_epochs = kl_warmup_epochs
        self.early_stopping = early_stopping
        self.patience = patience
        self.tol = tol
        self.reduce_lr_on_plateau = reduce_lr_on_plateau

    @classmethod
    def seeded(cls, module, seed: int, device, **kwargs) -> VAENet:
        """A net training ``module`` on ``device``, shuffling and drawing the
        training noise from generators seeded with ``seed`` (see
        :func:`seeded_generators`); :meth:`restore_state` sets their state when
        training goes on from a saved point."""
        _, shuffle, noise = seeded_generators(seed, device)
        module.set_generator(noise)
        return cls(module, iterator_train__generator=shuffle, device=device, **kwargs)

    @property
    def _default_callbacks(self):
        # The epoch losses (and their ``*_best`` flags) are recorded by
        # run_single_epoch from the loss terms, so skorch's PassthroughScoring,
        # which averages per-batch rows, is not needed by default.
        monitor = "train_loss" if self.train_split is None else "valid_loss"
        callbacks = {
            "epoch_timer": EpochTimer(),
            "kl_annealing": KLAnnealing(n_epochs=self.kl_warmup_epochs)
            if self.kl_warmup_epochs > 0
            else None,
            "early_stopping": EarlyStoppingFromStart(
                monitor=monitor,
                patience=self.patience,
                threshold=self.tol,
                load_best=True,
            )
            if self.early_stopping
            else None,
            "lr_scheduler": LRScheduler(
                policy=torch.optim.lr_scheduler.ReduceLROnPlateau,
                monitor=monitor,
                patience=max(1, self.patience // 2),
                factor=0.5,
            )
            if self.reduce_lr_on_plateau
            else None,
            "progress_bar": ProgressBar() if self.verbose >= 2 else None,
            "print_log": SilentPrintLog(),
        }
        return list(callbacks.items())

    def initialized_instance(self, instance_or_cls, kwargs):
        # The module is built seeded, outside skorch, and its construction
        # arguments are passed as module__ parameters too, so callbacks that read
        # them see the right values. skorch would rebuild an instance whenever
        # module__ parameters exist, with fresh, unseeded weights: keep it while
        # they are unchanged.
        built = getattr(instance_or_cls, "init_params", None)
        if kwargs and kwargs == built:
            return instance_or_cls
        if built is not None:
            # A rebuild would drop the trained weights and no longer match the
            # estimator's fitted attributes (module_layout_, what skvae.save
            # writes): refuse it, saying why.
            changed = {k: v for k, v in kwargs.items() if built.get(k) != v}
            raise ValueError(
                "The network's construction arguments cannot change during "
                f"training (module__ parameters {changed}, built with "
                f"{ {k: built.get(k) for k in changed} }): skvae sizes the network "
                "from the data and the estimator's parameters; change those with "
                "set_params and fit again. skorch's InputShapeSetter is not needed: "
                "on a table with categorical columns, module__n_features counts the "
                "numeric columns only, not the one-hot encoded input, so remove "
                "InputShapeSetter from callbacks."
            )
        return super().initialized_instance(instance_or_cls, kwargs)

    def get_dataset(self, X, y=None):
        if isinstance(X, TensorRows):
            return X
        return TensorRows(torch.as_tensor(X))

    def get_iterator(self, dataset, training=False):
        if not training and "batch_size" not in self.get_params_for("iterator_valid"):
            return self.iterator_valid(dataset, batch_size=self.inference_batch_size)
        return super().get_iterator(dataset, training=training)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.kl_weight_ = self.beta
        listens = any(
            type(cb).on_grad_computed is not Callback.on_grad_computed
            for _, cb in self.callbacks_
        )
        self._needs_closure_ = listens or not isinstance(
            self.optimizer_, _CLOSURE_FREE_OPTIMIZERS
        )
        self._batch_rows_ = any(
            reads_batch_rows(callback) for _, callback in self.callbacks_
        )
        # The loss before the first step of this call: what a diverging run is
        # measured against (its first epoch's mean may already be huge).
        self._initial_loss_ = None
        # Lowest loss so far per prefix, for the "*_best" flags: read from the
        # history once here, then kept up to date (rereading it every epoch is
        # quadratic in the epochs, which small data run by the thousand).
        self._lowest_loss_ = {
            prefix: min(
                (
                    row[prefix + "_loss"]
                    for row in self.history
                    if prefix + "_loss" in row
                ),
                default=math.inf,
            )
            for prefix in ("train", "valid")
        }

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if self._batch_rows_:
            super().on_batch_begin(net, batch=batch, training=training, **kwargs)

    def get_loss_terms(self, y_pred, X, weight: float | None = None) -> LossTerms:
        """Batch means of the reconstruction and KL terms, after trimming.

        The ``trim_fraction`` share of samples with the highest
        ``reconstruction + weight * KL`` (``weight`` defaults to ``beta``) is left out
        of the means.
        """
        terms = self.criterion_(y_pred, X)
        if terms.reconstruction.dim() == 0:
            return terms
        n_drop = math.floor(self.trim_fraction * len(X))
        if n_drop > 0:
            weight = self.beta if weight is None else weight
            per_sample = terms.total(weight).detach()
            keep = per_sample.topk(len(X) - n_drop, largest=False).indices
            terms = LossTerms(*(term[keep] for term in terms))
        return LossTerms(*(term.mean() for term in terms))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        weight = self.kl_weight_ if training else self.beta
        return self.get_loss_terms(y_pred, X, weight).total(weight)

    def _step_result(self, y_pred, Xi, weight):
        terms = self.get_loss_terms(y_pred, Xi, weight)
        # skorch's callbacks (EpochScoring's cache, BatchScoring) rebuild outputs
        # from y_pred with ``type(y)(...)`` and concatenate them by rows: a plain
        # tuple of per-row tensors, the reconstruction first, is what they handle.
        return {
            "loss": terms.total(weight),
            "terms": terms,
            "y_pred": as_row_outputs(y_pred),
        }

    def train_step_single(self, batch, **fit_params):
        Xi = batch[0].to(self.device)
        y_pred = self.infer(Xi, **fit_params)
        step = self._step_result(y_pred, Xi, self.kl_weight_)
        step["loss"].backward()
        return step

    def train_step(self, batch, **fit_params):
        """One optimisation step.

        skorch's own version wraps the step in a closure and tells callbacks about
        every gradient (``on_grad_computed``); that costs a walk over the parameters
        per step, so it is only taken when a callback listens or the optimiser needs
        a closure (e.g. LBFGS).
        """
        if self._needs_closure_:
            return super().train_step(batch, **fit_params)
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        self._step_optimizer(None)
        return step

    def validation_step(self, batch, **fit_params):
        Xi = batch[0].to(self.device)
        with torch.no_grad():
            y_pred = self.infer(Xi, **fit_params)
            return self._step_result(y_pred, Xi, self.beta)

    def validation_loss(self, dataset) -> float:
        """The loss that an epoch records as ``valid_loss``, for ``dataset`` and the
        current weights, without touching the history."""
        self._set_training(False)
        terms, sizes = [], []
        for batch in self.get_iterator(dataset, training=False):
            terms.extend(self.validation_step(batch)["terms"])
            sizes.append(len(batch[0]))
        reconstruction, kl = _mean_terms(terms, sizes)
        return reconstruction + self.beta * kl

    def evaluation_step(self, batch, training=False):
        """The outputs of :meth:`forward` and :meth:`predict`: a tuple
        ``(reconstruction, mean, log_var)`` of per-row tensors, so ``predict``
        returns the reconstruction of ``X``."""
        return as_row_outputs(super().evaluation_step(batch, training=training))

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's pass over the batches, plus the epoch's mean loss terms.

        Overridden for speed only, keeping skorch's events and history format:
        reading a float per batch costs an op (on a GPU a synchronisation) per
        step, so the loss terms stay tensors until the end of the pass, per-batch
        history rows are written only when a callback present reads them (see
        :func:`reads_batch_rows`), and train/eval mode is set once per pass.
        """
        if iterator is None:
            return
        self._set_training(training)
        terms, sizes = [], []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            size = len(batch[0])
            if training and self._initial_loss_ is None:
                self._initial_loss_ = step["terms"].total(self.beta).item()
            if self._batch_rows_:
                batch_loss = step["terms"].total(self.beta)
                self.history.record_batch(prefix + "_loss", batch_loss.item())
                self.history.record_batch(prefix + "_batch_size", size)
            terms.extend(step["terms"])
            sizes.append(size)
            self.notify("on_batch_end", batch=batch, training=training, **step)
        self.history.record(prefix + "_batch_count", len(sizes))
        reconstruction, kl = _mean_terms(terms, sizes)
        loss = reconstruction + self.beta * kl
        if not math.isfinite(loss):
            self._raise_diverged(f"{prefix} loss")
        # As skorch's PassthroughScoring records them, "*_best" included.
        lowest = self._lowest_loss_[prefix]
        self.history.record(prefix + "_loss", loss)
        self.history.record(prefix + "_loss_best", loss < lowest)
        self._lowest_loss_[prefix] = min(lowest, loss)
        self.history.record(prefix + "_reconstruction", reconstruction)
        self.history.record(prefix + "_kl", kl)
        if training:
            self.history.record("kl_weight", self.kl_weight_)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        # The loss is computed before each step, so weights that a step overflows
        # show in the next step's loss or in the epoch's validation loss, except
        # after the very last step: checked here, once per fit, rather than every
        # epoch (a tenth of an epoch's time on the conformance checks' tiny data).
        if not self._weights_finite():
            self._raise_diverged("network's weights")
        initial = getattr(self, "_initial_loss_", None)
        final = self.history[-1].get("train_loss") if self.history else None
        if initial is None or final is None:
            return
        if final - initial > 1e3 * max(1.0, abs(initial)):
            warnings.warn(
                f"The train loss grew from {initial:.3g} (before the first step) "
                f"to {final:.3g} during training: the optimisation is unstable. "
                "Lower `lr` or scale the input (StandardScaler, MinMaxScaler).",
                RuntimeWarning,
                stacklevel=2,
            )

    def _weights_finite(self) -> bool:
        # Two fused calls instead of two ops per parameter tensor: 0 * w is 0 for
        # finite weights and NaN for NaN or infinite ones, and a norm keeps the NaN.
        params = [p.detach() for p in self.module_.parameters()]
        zeros = torch._foreach_norm(torch._foreach_mul(params, 0.0))
        return bool(torch.stack(zeros).eq(0).all())

    def _raise_diverged(self, what):
        epoch = len(self.history)
        raise TrainingDivergedError(
            f"The {what} became NaN or infinite in epoch {epoch}, so training "
            "was stopped and no model was kept. Scale the input (for example with "
            "StandardScaler or MinMaxScaler) or lower `lr`."
        )

    # -- the training state: what pickle, skops and skvae.save store --------------

    def best_epoch(self) -> int | None:
        """The epoch whose weights early stopping restored (0: the starting
        weights, which no epoch beat), or None; kept by :meth:`restore_state`."""
        if getattr(self, "best_epoch_", None) is not None:
            return self.best_epoch_
        for _, callback in getattr(self, "callbacks_", []):
            if isinstance(callback, EarlyStopping) and callback.load_best:
                epoch = getattr(callback, "best_epoch_", 0)
                if epoch:
                    return int(epoch)
                # 0 with weights kept: no epoch beat the start (EarlyStoppingFromStart)
                kept = getattr(callback, "best_model_weights_", None) is not None
                return 0 if kept else None
        return None

    def export_state(self) -> dict:
        """The whole training state as NumPy arrays and plain Python values: the
        module's weights and buffers, Adam's state and hyper-parameters, the
        shuffling and noise generators' states, the history and
        :meth:`best_epoch`."""
        optimizer = self.optimizer_.state_dict()
        n_params = len(list(self.module_.parameters()))
        return {
            "module": {
                name: tensor.detach().cpu().numpy().copy()
                for name, tensor in self.module_.state_dict().items()
            },
            "module_dtype": str(next(self.module_.parameters()).dtype).split(".")[-1],
            "optimizer_state": [
                {
                    key: value.detach().cpu().numpy().copy()
                    for key, value in optimizer["state"].get(index, {}).items()
                }
                for index in range(n_params)
            ],
            "optimizer_param_groups": [
                {key: plain(value) for key, value in group.items()}
                for group in optimizer["param_groups"]
            ],
            "generators": {
                "shuffle": self.iterator_train__generator.get_state().numpy().copy(),
                "noise": self.module_.generator.get_state().numpy().copy(),
            },
            "history": [plain(dict(row), lenient=True) for row in self.history],
            "best_epoch": self.best_epoch(),
        }

    def restore_state(self, state: dict, module_tensors: dict) -> None:
        """Go on from ``state``, as :meth:`export_state` wrote it, in this
        initialized net: weights (``module_tensors``, from ``state`` as
        :func:`skvae._state.check_net_state` checked them), Adam's state and
        learning rate, generator states, history and best epoch. A state that
        does not fit this net raises ``InvalidModelFile``."""
        params = list(self.module_.parameters())
        moments, groups = state["optimizer_state"], state["optimizer_param_groups"]
        if not (isinstance(moments, list) and len(moments) == len(params)):
            raise invalid_model("the optimizer state does not match the parameters")
        adam = {}
        for index, (entry, param) in enumerate(zip(moments, params, strict=True)):
            if not isinstance(entry, dict) or not set(entry) <= _ADAM_STATE:
                raise invalid_model("the optimizer state has unexpected entries")
            for key, value in entry.items():
                shape = () if key == "step" else tuple(param.shape)
                if not _finite_array(value, shape):
                    raise invalid_model(f"optimizer {key} has a wrong shape or NaN")
            if entry:
                adam[index] = {
                    key: torch.from_numpy(np.array(value)).to(self.device)
                    for key, value in entry.items()
                }
        if not (
            isinstance(groups, list)
            and len(groups) == 1
            and isinstance(groups[0], dict)
            and groups[0].get("params") == list(range(len(params)))
        ):
            raise invalid_model("the optimizer's parameter groups do not match")
        group = dict(groups[0])
        lr = group.get("lr")
        if isinstance(lr, bool) or not isinstance(lr, Real) or not 0 < lr < math.inf:
            raise invalid_model("the optimizer's learning rate is not positive")
        if isinstance(group.get("betas"), list):  # plain values: lists, no tuples
            group["betas"] = tuple(group["betas"])
        generators = state["generators"]
        if not isinstance(generators, dict) or set(generators) != {"shuffle", "noise"}:
            raise invalid_model("the generator states are missing")
        history, epoch = state["history"], state["best_epoch"]
        if not isinstance(history, list) or not all(
            isinstance(r, dict) for r in history
        ):
            raise invalid_model("history is not a list of records")
        if not (epoch is None or type(epoch) is int and epoch >= 0):
            raise invalid_model("best_epoch is not an epoch number")
        self.module_.load_state_dict(module_tensors)
        self.optimizer_.load_state_dict({"state": adam, "param_groups": [group]})
        for name, generator in (
            ("shuffle", self.iterator_train__generator),
            ("noise", self.module_.generator),
        ):
            saved = np.asarray(generators[name])
            if saved.dtype != np.uint8 or saved.ndim != 1 or saved.size > 2**16:
                raise invalid_model(f"the {name} generator state is not a byte array")
            # A generator of another device type has another state size; it then
            # restarts from the seed.
            if saved.size == generator.get_state().numel():
                generator.set_state(torch.from_numpy(np.array(saved)))
        self.history = History(history)
        self.best_epoch_ = epoch

    def map_batches(self, X, fn, out: torch.Tensor) -> torch.Tensor:
        """Write ``fn(module, X_batch)`` into ``out`` batch by batch, without gradients.

        ``X`` is a tensor or a NumPy array of any layout and float dtype (a
        read-only memmap, a Fortran-ordered or float64 array for a float32
        model): each batch is converted to ``out``'s dtype on its own, so only one
        batch of input and of intermediate results is alive at a time and memory
        stays bounded by ``out`` plus one batch whatever the number of rows.
        """
        self.check_is_fitted()
        self._set_training(False)
        batch_size = self.inference_batch_size
        with torch.inference_mode():
            for start in range(0, len(X), batch_size):
                Xi = rows_as_tensor(X[start : start + batch_size], out.dtype)
                Xi = Xi.to(self.device)
                out[start : start + len(Xi)] = fn(self.module_, Xi).to(out.device)
        return out


def rows_as_tensor(rows, dtype: torch.dtype) -> torch.Tensor:
    """A batch of rows as a C-contiguous, writable tensor of ``dtype``.

    NumPy rows are shared when they already are such an array and copied (the
    batch only) otherwise: torch cannot use read-only memory.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skvae._net import rows_as_tensor
    >>> X = np.asfortranarray(np.arange(6.0).reshape(3, 2))
    >>> X.flags.writeable = False
    >>> rows_as_tensor(X[:2], torch.float32)
    tensor([[0., 1.],
            [2., 3.]])
    """
    if isinstance(rows, torch.Tensor):
        return rows.to(dtype)
    np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
    # float64 values beyond float32's range become inf, as torch's cast makes them;
    # the caller reports the non-finite outputs that follow.
    with np.errstate(over="ignore"):
        if rows.flags.writeable:
            rows = np.ascontiguousarray(rows, dtype=np_dtype)
        else:
            rows = np.array(rows, dtype=np_dtype, order="C")
    return torch.from_numpy(rows)
