"""A fitted estimator's state as plain values, and the checks it gets when read.

pickle, ``skops.io`` and :func:`skvae.save` all store what
``BaseVAE._export_net`` returns (NumPy arrays and JSON-like values) and rebuild the
net with ``BaseVAE._import_net``, which first passes the state through
:func:`check_net_state`: a state from an untrusted file is checked arithmetically
before any network is built.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
from skorch.callbacks import EarlyStopping

from ._module import VAEModule
from ._noise import upgrade_state_names

# Sane upper bounds for what a loaded file may declare.
MAX_HIDDEN_LAYERS = 64
MAX_STATE_ELEMENTS = 2**31
_MODULE_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_OPTIMIZER_KEYS = {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
_STATE_KEYS = {
    "module",
    "module_dtype",
    "optimizer_state",
    "optimizer_param_groups",
    "generators",
    "history",
    "best_epoch",
}


def bad_state(reason: str) -> ValueError:
    return ValueError(f"Not a valid skvae model: {reason}.")


def best_epoch(net) -> int | None:
    """The epoch whose weights early stopping restored (0: the start), or None."""
    if getattr(net, "best_epoch_", None) is not None:
        return net.best_epoch_
    for _, callback in getattr(net, "callbacks_", []):
        if isinstance(callback, EarlyStopping) and callback.load_best:
            epoch = getattr(callback, "best_epoch_", 0)
            if epoch:
                return int(epoch)
            # 0 with weights kept: no epoch beat the start (EarlyStoppingFromStart)
            kept = getattr(callback, "best_model_weights_", None) is not None
            return 0 if kept else None
    return None


def plain_value(value):
    """``value`` as a JSON-like value (tuples become lists), or raise TypeError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    raise TypeError(value)


_DROP = object()


def json_safe(value):
    """``value`` as JSON if it is plain data (finite numbers), else ``_DROP``;
    dicts and lists lose their non-plain items."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value) if math.isfinite(value) else _DROP
    if isinstance(value, (list, tuple)):
        items = [json_safe(v) for v in value]
        return [v for v in items if v is not _DROP]
    if isinstance(value, dict):
        items = {k: json_safe(v) for k, v in value.items() if isinstance(k, str)}
        return {k: v for k, v in items.items() if v is not _DROP}
    return _DROP


def state_size(module_params: dict) -> int:
    """Number of values in the ``state_dict`` of ``VAEModule(**module_params)``,
    counted on the module built on the "meta" device (which allocates nothing).

    Examples
    --------
    >>> from skvae._module import VAEModule
    >>> from skvae._state import state_size
    >>> params = dict(n_features=5, n_components=2, hidden_layer_sizes=(8, 4),
    ...               batch_norm=True, noise_model="full")
    >>> state_size(params) == sum(
    ...     t.numel() for t in VAEModule(**params).state_dict().values())
    True
    """
    with torch.device("meta"):
        module = VAEModule(**module_params)
    return sum(tensor.numel() for tensor in module.state_dict().values())


def check_module_params(module_params: dict) -> None:
    """Bounds on a declared architecture and its size (``MAX_STATE_ELEMENTS``)."""
    hidden = module_params["hidden_layer_sizes"]
    if len(hidden) > MAX_HIDDEN_LAYERS:
        raise bad_state(
            f"it declares {len(hidden)} hidden layers, more than {MAX_HIDDEN_LAYERS}"
        )
    if state_size(module_params) > MAX_STATE_ELEMENTS:
        raise bad_state("its declared network is larger than 2**31 values")


def _array(value, where: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
        raise bad_state(f"{where} is not a numeric array")
    return value


def check_net_state(estimator, state) -> tuple[dict, torch.dtype]:
    """Check ``state`` (from ``_export_net``) against ``estimator``'s fitted
    attributes; return the module's tensors and dtype.

    The declared architecture's size is checked arithmetically against the stored
    arrays before any network is built (on the "meta" device, allocating nothing,
    to compare names and shapes).
    """
    if not isinstance(state, dict) or set(state) != _STATE_KEYS:
        raise bad_state("its network state lacks or has unexpected entries")
    if state["module_dtype"] not in _MODULE_DTYPES:
        raise bad_state(f"module dtype must be one of {sorted(_MODULE_DTYPES)}")
    dtype = _MODULE_DTYPES[state["module_dtype"]]
    module_params = estimator._module_params()
    check_module_params(module_params)
    arrays = state["module"]
    if not isinstance(arrays, dict):
        raise bad_state("the module's tensors are not a mapping")
    arrays = {str(k): _array(v, f"tensor {k!r}") for k, v in arrays.items()}
    try:
        meta = estimator._build_module(None, dtype, meta=True)
    except (RuntimeError, ValueError, TypeError, OverflowError) as exc:
        raise bad_state(f"its network cannot be built ({exc})") from None
    expected = meta.state_dict()
    arrays = upgrade_state_names(arrays, expected)
    stored = sum(int(a.size) for a in arrays.values())
    if stored != state_size(module_params):
        raise bad_state(
            f"the declared network holds {state_size(module_params)} values, the "
            f"file {stored}"
        )
    if set(arrays) != set(expected):
        raise bad_state("its tensors do not match the network's layers")
    tensors = {}
    for name, want in expected.items():
        array = arrays[name]
        if tuple(array.shape) != tuple(want.shape):
            raise bad_state(f"tensor {name} has shape {array.shape}")
        tensor = torch.from_numpy(np.array(array)).to(want.dtype)
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise bad_state("the network's weights hold NaN or infinite values")
        tensors[name] = tensor
    params = [p for n, p in meta.named_parameters()]
    optimizer_state = state["optimizer_state"]
    if not isinstance(optimizer_state, list) or len(optimizer_state) != len(params):
        raise bad_state("the optimizer state does not match the parameters")
    for entry, param in zip(optimizer_state, params, strict=True):
        if not isinstance(entry, dict) or not set(entry) <= _OPTIMIZER_KEYS:
            raise bad_state("the optimizer state has unexpected entries")
        for key, value in entry.items():
            value = _array(value, f"optimizer {key}")
            shape = () if key == "step" else tuple(param.shape)
            if value.shape != shape or not np.isfinite(value).all():
                raise bad_state(f"optimizer {key} has a wrong shape or NaN")
    groups = state["optimizer_param_groups"]
    if (
        not isinstance(groups, list)
        or len(groups) != 1
        or not isinstance(groups[0], dict)
        or groups[0].get("params") != list(range(len(params)))
    ):
        raise bad_state("the optimizer's parameter groups do not match the network")
    lr = groups[0].get("lr")
    if isinstance(lr, bool) or not isinstance(lr, Real) or not 0 < lr < math.inf:
        raise bad_state("the optimizer's learning rate is not a positive number")
    generators = state["generators"]
    if not isinstance(generators, dict) or set(generators) != {"shuffle", "noise"}:
        raise bad_state("the generator states are missing")
    for name, value in generators.items():
        value = np.asarray(value)
        if value.dtype != np.uint8 or value.ndim != 1 or value.size > 2**16:
            raise bad_state(f"the {name} generator state is not a byte array")
    history = state["history"]
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise bad_state("history is not a list of records")
    epoch = state["best_epoch"]
    if epoch is not None and (
        isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0
    ):
        raise bad_state("best_epoch is not an epoch number")
    return tensors, dtype
