"""A fitted estimator's state as plain values, and the checks it gets when read.

pickle, ``skops.io`` and :func:`skvae.save` all store the fitted attributes an
estimator declares (``_fitted_attributes``, beside its ``_parameter_constraints``)
and its net's training state (:meth:`skvae._net.VAENet.export_state`), as NumPy
arrays and JSON-like values. Reading them back, :func:`check_fitted` checks the
attributes against their declarations and :func:`check_net_state` the net's state
against the attributes, before any network is built: a state from an untrusted
file is refused with :class:`~skvae.exceptions.InvalidModelFile`.
"""

from __future__ import annotations

import math
import reprlib
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import make_constraint

from ._noise import upgrade_state_names
from ._tabular import check_layout, encoder_from_state
from .exceptions import InvalidModelFile, invalid_model

# Sane upper bounds for what a saved model may declare.
MAX_FEATURES = 2**24
MAX_LAYER_WIDTH = 2**20
MAX_HIDDEN_LAYERS = 64
# scikit-learn sets feature_names_in_ only when fitted on a DataFrame.
OPTIONAL_FITTED = {"feature_names_in_"}
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
_DROP = object()


def plain(value, lenient: bool = False):
    """``value`` as JSON-like values: NumPy scalars and arrays become numbers and
    lists, tuples lists. A value JSON cannot hold raises TypeError or, with
    ``lenient=True``, is left out, as are NaN and infinities (a history row keeps
    what it can).

    Examples
    --------
    >>> import numpy as np
    >>> from skvae._state import plain
    >>> plain((np.int64(3), np.float32(0.5), np.array([True])))
    [3, 0.5, [True]]
    >>> plain({"loss": 1.0, "dur": np.nan, "callback": object()}, lenient=True)
    {'loss': 1.0}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return _DROP if lenient and not math.isfinite(value) else float(value)
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, np.ndarray):
        return plain(value.tolist(), lenient)
    if isinstance(value, (list, tuple)):
        return [v for v in (plain(v, lenient) for v in value) if v is not _DROP]
    if isinstance(value, dict) and (lenient or all(isinstance(k, str) for k in value)):
        items = {k: plain(v, lenient) for k, v in value.items() if isinstance(k, str)}
        return {k: v for k, v in items.items() if v is not _DROP}
    if lenient:
        return _DROP
    raise TypeError(value)


# -- the checks of structured fitted attributes, named in _fitted_attributes --------
# Each takes the saved value and the attributes checked before it.


def column_names(value, fitted: dict) -> np.ndarray:
    """``feature_names_in_``: ``n_features_in_`` strings."""
    names = list(value) if isinstance(value, (list, np.ndarray)) else [None]
    if len(names) != fitted["n_features_in_"] or not all(
        isinstance(name, str) for name in names
    ):
        raise invalid_model("feature_names_in_ must be n_features_in_ strings")
    return np.asarray(names, dtype=object)


def table_encoder(value, fitted: dict):
    """``table_encoder_``: None, or a table encoder's state for these columns."""
    encoder = encoder_from_state(value, fitted["n_features_in_"])
    names = fitted.get("feature_names_in_")
    if encoder is not None and names is not None:
        if encoder.column_names_ != list(names):
            raise invalid_model(
                "the table encoder's column names are not feature_names_in_"
            )
    return encoder


def column_layout(value, fitted: dict):
    """``module_layout_``: the network's columns, as the table encoder makes them."""
    return check_layout(value, fitted["table_encoder_"], fitted["n_features_in_"])


def layer_widths(value, fitted: dict) -> tuple[int, ...]:
    """``hidden_layer_sizes_``: 1 to ``MAX_HIDDEN_LAYERS`` positive widths."""
    widths = tuple(value) if isinstance(value, (list, tuple)) else ()
    if not 0 < len(widths) <= MAX_HIDDEN_LAYERS or not all(
        isinstance(w, Integral)
        and not isinstance(w, bool)
        and 1 <= w <= MAX_LAYER_WIDTH
        for w in widths
    ):
        raise invalid_model(
            f"hidden_layer_sizes_ must be 1 to {MAX_HIDDEN_LAYERS} integers from 1 "
            f"to {MAX_LAYER_WIDTH}"
        )
    return tuple(int(w) for w in widths)


def check_fitted(declared: dict, fitted: dict) -> dict:
    """``fitted`` (name: saved value) checked against ``declared``, an estimator's
    ``_fitted_attributes``, in its order, and converted back (tuples, arrays, the
    table encoder and the column layout).

    A declaration is a list of constraints, as in ``_parameter_constraints``, or a
    function that checks and converts a structured value. An attribute missing,
    unknown or not allowed by its declaration raises ``InvalidModelFile``.
    """
    unknown = sorted(set(fitted) - set(declared))
    missing = sorted(set(declared) - set(fitted) - OPTIONAL_FITTED)
    if unknown or missing:
        raise invalid_model(
            f"it has unknown fitted attributes {unknown} or lacks {missing}"
        )
    checked = {}
    for name, declaration in declared.items():
        if name not in fitted:
            continue
        value = fitted[name]
        if callable(declaration):
            try:
                checked[name] = declaration(value, checked)
            except InvalidModelFile:
                raise
            except ValueError as exc:  # the encoder's and imputer's own checks
                reason = str(exc).removeprefix("Not a valid skvae model: ")
                raise invalid_model(reason.rstrip(".")) from None
            continue
        constraints = [make_constraint(c) for c in declaration]
        if not any(c.is_satisfied_by(value) for c in constraints):
            allowed = " or ".join(str(c) for c in constraints)
            raise invalid_model(f"{name} must be {allowed}, not {reprlib.repr(value)}")
        checked[name] = value
    return checked


def _array(value, where: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
        raise invalid_model(f"{where} is not a numeric array")
    return value


def check_net_state(estimator, state) -> tuple[dict, torch.dtype]:
    """Check ``state`` (from ``VAENet.export_state``) against ``estimator``'s
    fitted attributes; return the module's tensors and dtype.

    The network the attributes declare is built on the "meta" device (which
    allocates nothing) and its size and tensors compared with the stored arrays
    before any real network is built.
    """
    if not isinstance(state, dict) or set(state) != _STATE_KEYS:
        raise invalid_model("its network state lacks or has unexpected entries")
    if state["module_dtype"] not in _MODULE_DTYPES:
        raise invalid_model(f"module dtype must be one of {sorted(_MODULE_DTYPES)}")
    dtype = _MODULE_DTYPES[state["module_dtype"]]
    try:
        meta = estimator._build_module(None, dtype, meta=True)
    except (RuntimeError, ValueError, TypeError, OverflowError) as exc:
        raise invalid_model(f"its network cannot be built ({exc})") from None
    expected = meta.state_dict()
    arrays = state["module"]
    if not isinstance(arrays, dict):
        raise invalid_model("the module's tensors are not a mapping")
    arrays = {str(k): _array(v, f"tensor {k!r}") for k, v in arrays.items()}
    arrays = upgrade_state_names(arrays, expected)
    size = sum(tensor.numel() for tensor in expected.values())
    stored = sum(int(array.size) for array in arrays.values())
    if stored != size:
        raise invalid_model(
            f"the declared network holds {size} values, the file {stored}"
        )
    if set(arrays) != set(expected):
        raise invalid_model("its tensors do not match the network's layers")
    tensors = {}
    for name, want in expected.items():
        array = arrays[name]
        if tuple(array.shape) != tuple(want.shape):
            raise invalid_model(f"tensor {name} has shape {array.shape}")
        tensor = torch.from_numpy(np.array(array)).to(want.dtype)
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise invalid_model("the network's weights hold NaN or infinite values")
        tensors[name] = tensor
    _check_optimizer_state(state, [p for _, p in meta.named_parameters()])
    generators = state["generators"]
    if not isinstance(generators, dict) or set(generators) != {"shuffle", "noise"}:
        raise invalid_model("the generator states are missing")
    for name, value in generators.items():
        value = np.asarray(value)
        if value.dtype != np.uint8 or value.ndim != 1 or value.size > 2**16:
            raise invalid_model(f"the {name} generator state is not a byte array")
    history = state["history"]
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise invalid_model("history is not a list of records")
    epoch = state["best_epoch"]
    if epoch is not None and (
        isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0
    ):
        raise invalid_model("best_epoch is not an epoch number")
    return tensors, dtype


def _check_optimizer_state(state: dict, params: list) -> None:
    """Adam's state: one entry of finite moments per parameter, one group."""
    optimizer_state = state["optimizer_state"]
    if not isinstance(optimizer_state, list) or len(optimizer_state) != len(params):
        raise invalid_model("the optimizer state does not match the parameters")
    for entry, param in zip(optimizer_state, params, strict=True):
        if not isinstance(entry, dict) or not set(entry) <= _OPTIMIZER_KEYS:
            raise invalid_model("the optimizer state has unexpected entries")
        for key, value in entry.items():
            value = _array(value, f"optimizer {key}")
            shape = () if key == "step" else tuple(param.shape)
            if value.shape != shape or not np.isfinite(value).all():
                raise invalid_model(f"optimizer {key} has a wrong shape or NaN")
    groups = state["optimizer_param_groups"]
    if (
        not isinstance(groups, list)
        or len(groups) != 1
        or not isinstance(groups[0], dict)
        or groups[0].get("params") != list(range(len(params)))
    ):
        raise invalid_model("the optimizer's parameter groups do not match the network")
    lr = groups[0].get("lr")
    if isinstance(lr, bool) or not isinstance(lr, Real) or not 0 < lr < math.inf:
        raise invalid_model("the optimizer's learning rate is not a positive number")
