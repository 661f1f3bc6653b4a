"""``warm_start=True``: train a fitted network further instead of starting afresh."""

from __future__ import annotations

import copy

import torch
from skorch.history import History

from ._module import VAEModule


def same_architecture(module: torch.nn.Module, module_params: dict) -> bool:
    """Whether ``VAEModule(**module_params)`` would be built like ``module``.

    Compares the construction arguments each module records (``init_params``),
    defaults filled in by building the expected one on the "meta" device (no
    memory, no random numbers drawn). Layer descriptions alone would miss the
    options that add no layer, such as ``noise_model`` and ``trim_fraction``.

    Examples
    --------
    >>> from skvae._module import VAEModule
    >>> from skvae._warm_start import same_architecture
    >>> params = dict(n_features=4, n_components=2, hidden_layer_sizes=(8,))
    >>> same_architecture(VAEModule(**params), params)
    True
    >>> same_architecture(VAEModule(**params), {**params, "activation": "tanh"})
    False
    >>> same_architecture(VAEModule(**params), {**params, "noise_model": "shared"})
    False
    """
    with torch.device("meta"):
        expected = VAEModule(**module_params)
    return getattr(module, "init_params", None) == expected.init_params


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
