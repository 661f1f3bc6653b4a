"""skorch callbacks used to train the VAEs; pass your own through ``callbacks=``."""

from __future__ import annotations

from copy import deepcopy

from skorch.callbacks import Callback, EarlyStopping


class KLAnnealing(Callback):
    """Ramp the weight of the KL term linearly from ``start`` to the net's ``beta``.

    Starting with a small KL weight lets the decoder learn to use the latent code
    before the prior pulls the posterior towards N(0, I) (Bowman et al., 2016), which
    avoids the "posterior collapse" where the latent code is ignored.

    Parameters
    ----------
    n_epochs : int, default=10
        Epochs the ramp lasts; from epoch ``n_epochs + 1`` on, the weight is ``beta``.
    start : float, default=0.0
        KL weight in the first epoch, as a fraction of ``beta``.

    Examples
    --------
    >>> from skvae import VAETransformer
    >>> from skvae.callbacks import KLAnnealing
    >>> vae = VAETransformer(beta=1.0, kl_warmup_epochs=0, max_epochs=4,
    ...     random_state=0, callbacks=[("kl_annealing", KLAnnealing(n_epochs=3))])
    >>> import numpy as np
    >>> vae = vae.fit(np.random.RandomState(0).normal(size=(50, 3)))
    >>> [round(w, 3) for w in vae.history_[:, "kl_weight"]]
    [0.0, 0.333, 0.667, 1.0]
    """

    # Reads epoch rows only, so training may skip writing per-batch rows.
    reads_batch_rows = False

    def __init__(self, n_epochs: int = 10, start: float = 0.0):
        self.n_epochs = n_epochs
        self.start = start

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history) - 1
        progress = min(1.0, epoch / self.n_epochs) if self.n_epochs > 0 else 1.0
        net.kl_weight_ = net.beta * (self.start + (1.0 - self.start) * progress)


class EarlyStoppingFromStart(EarlyStopping):
    """skorch's :class:`~skorch.callbacks.EarlyStopping` for which the weights
    training starts from are a candidate too.

    Before the first epoch, the validation loss of the starting weights is measured;
    an epoch then has to beat it (by ``threshold``) to count as progress, and if none
    does within ``patience`` epochs the starting weights are restored
    (``best_epoch_ == 0``). A model started at a good solution, such as
    :class:`~skvae.VAETransformer`'s probabilistic PCA (``linear_path=True``), thus
    never ends worse than it started on the held-out rows. Otherwise it is skorch's
    callback, with the same parameters; it only differs when it monitors
    ``"valid_loss"`` with a validation split.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> vae = VAETransformer(max_epochs=3, random_state=0).fit(
    ...     np.random.RandomState(0).normal(size=(100, 4)))
    >>> type(dict(vae.net_.callbacks_)["early_stopping"]).__name__
    'EarlyStoppingFromStart'
    """

    # Reads epoch rows only, as skorch's EarlyStopping does.
    reads_batch_rows = False

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        if self.monitor != "valid_loss" or X is None or net.train_split is None:
            return
        _, valid = net.get_split_datasets(X, y)
        if valid is None or len(valid) == 0:
            return
        self.dynamic_threshold_ = self._calc_new_threshold(net.validation_loss(valid))
        if self.load_best:
            self.best_model_weights_ = deepcopy(net.module_.state_dict())
