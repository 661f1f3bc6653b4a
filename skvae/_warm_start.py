"""``warm_start=True``: train a fitted network further instead of starting afresh."""

from __future__ import annotations

import copy

import torch
from skorch.history import History

from ._module import VAEModule


def same_architecture(module: torch.nn.Module, module_params: dict) -> bool:
    """Whether ``VAEModule(**module_params)`` would have ``module``'s layers.

    The network is built on the "meta" device (no memory, no random numbers drawn)
    and compared by its layer description, which names every layer with its widths
    and options (activation, dropout rate, batch normalisation), not its dtype.

    Examples
    --------
    >>> from skvae._module import VAEModule
    >>> from skvae._warm_start import same_architecture
    >>> params = dict(n_features=4, n_components=2, hidden_layer_sizes=(8,))
    >>> same_architecture(VAEModule(**params), params)
    True
    >>> same_architecture(VAEModule(**params), {**params, "activation": "tanh"})
    False
    """
    with torch.device("meta"):
        expected = VAEModule(**module_params)
    return repr(expected) == repr(module)


def reusable_module(previous_net, module_params: dict, dtype, device):
    """A copy of ``previous_net``'s module to train further, or None.

    None when there is no previous net or its architecture differs from the one
    ``module_params`` describe (other width of the data, other layers): then the
    caller starts afresh. The copy leaves the previous module untouched.
    """
    if previous_net is None or not same_architecture(
        previous_net.module_, module_params
    ):
        return None
    return copy.deepcopy(previous_net.module_).to(device=device, dtype=dtype)


def continue_training(net, previous_net, X) -> None:
    """Train ``net`` (built around a reused module) for ``max_epochs`` more epochs.

    The history goes on from the previous one, so the epoch count, ``n_iter_`` and
    KL annealing continue where they stopped; the optimizer (Adam moments) and the
    learning-rate schedule start afresh.
    """
    net.initialize()
    net.history = History(copy.deepcopy(list(previous_net.history)))
    net.partial_fit(X)
