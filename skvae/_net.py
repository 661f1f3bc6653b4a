"""The skorch net that trains a :class:`~skvae._module.VAEModule`, with slice batching.

skorch's default ``DataLoader`` collates rows one ``__getitem__`` at a time, which is
about 25 times slower than slicing a tensor when scoring a million rows. Here the
dataset is a single tensor and every batch is a slice of it, for training, validation
and inference alike.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, EpochTimer, LRScheduler, PrintLog

from ._loss import LossTerms, VAELoss
from .exceptions import TrainingDivergedError

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
    **kwargs
        Passed to :class:`skorch.NeuralNet`.

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

    @property
    def _default_callbacks(self):
        # The epoch losses (and their ``*_best`` flags) are recorded by
        # run_single_epoch from the loss terms, so skorch's PassthroughScoring,
        # which averages per-batch rows, is not needed by default.
        return [("epoch_timer", EpochTimer()), ("print_log", SilentPrintLog())]

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
