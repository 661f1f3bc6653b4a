"""skorch callbacks used to train the VAEs; pass your own through ``callbacks=``."""

from __future__ import annotations

from skorch.callbacks import Callback


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
