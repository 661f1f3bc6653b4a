"""A fitted estimator's state as plain values, and the checks it gets when read.

pickle, ``skops.io`` and :func:`skvae.save` all store the fitted attributes an
estimator declares (``_fitted_attributes``, beside its ``_parameter_constraints``)
and its net's training state (:meth:`skvae._net.VAENet.export_state`), as NumPy
arrays and JSON-like values. Reading them back, :func:`check_fitted` checks the
attributes against their declarations and :func:`check_net_state` the network's
tensors against the attributes, before any network is built (the net checks the
rest of its state as it restores it): a state from an untrusted file is refused
with :class:`~skvae.exceptions.InvalidModelFile`.
"""

from __future__ import annotations

import math
import reprlib
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import make_constraint

from ._noise import upgrade_state_names
from .exceptions import invalid_model

# Sane upper bounds for what a saved model may declare.
MAX_FEATURES = 2**24
MAX_LAYER_WIDTH = 2**20
MAX_HIDDEN_LAYERS = 64
# scikit-learn sets feature_names_in_ only when fitted on a DataFrame; models
# saved before sample() existed have no feature_dtypes_.
OPTIONAL_FITTED = {"feature_names_in_", "feature_dtypes_"}
_MODULE_DTYPES = {"float32": torch.float32, "float64": torch.float64}
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


def expect_keys(section, expected, where: str, optional=frozenset()) -> None:
    """Refuse ``section`` unless it is a dict with the ``expected`` keys and
    perhaps ``optional`` ones."""
    if not isinstance(section, dict):
        raise invalid_model(f"{where} is not a mapping")
    unknown = sorted(set(section) - set(expected) - set(optional))
    missing = sorted(set(expected) - set(section))
    if unknown or missing:
        raise invalid_model(
            f"{where} has unknown keys {unknown} or lacks keys {missing}"
        )


def column_names(value, n_features_in: int, encoder) -> np.ndarray:
    """``feature_names_in_``: ``n_features_in`` strings, the table encoder's."""
    names = list(value) if isinstance(value, (list, np.ndarray)) else [None]
    if len(names) != n_features_in or not all(isinstance(n, str) for n in names):
        raise invalid_model("feature_names_in_ must be n_features_in_ strings")
    # A numeric table is encoded after validation, as an array: no names there.
    encoded_names = None if encoder is None else encoder.column_names_
    if encoded_names is not None and encoded_names != names:
        raise invalid_model(
            "the table encoder's column names are not feature_names_in_"
        )
    return np.asarray(names, dtype=object)


def layer_widths(value) -> tuple[int, ...]:
    """``hidden_layer_sizes_``: 1 to ``MAX_HIDDEN_LAYERS`` positive widths."""
    widths = tuple(value) if isinstance(value, (list, tuple)) else ()
    if not 0 < len(widths) <= MAX_HIDDEN_LAYERS or not all(
        isinstance(w, Integral) and not isinstance(w, bool) and 0 < w <= MAX_LAYER_WIDTH
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

    A declaration is a list of constraints, as in ``_parameter_constraints``, or
    a tuple ``(check, *names)``: ``check(value, *values of the named attributes,
    checked before)`` returns the attribute or raises ``InvalidModelFile``. An
    attribute missing, unknown or not allowed raises ``InvalidModelFile``.
    """
    expect_keys(fitted, set(declared) - OPTIONAL_FITTED, "fitted", OPTIONAL_FITTED)
    checked = {}
    for name, declaration in declared.items():
        if name not in fitted:
            continue
        value = fitted[name]
        if isinstance(declaration, tuple):
            check, *arguments = declaration
            checked[name] = check(value, *(checked[a] for a in arguments))
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
    allocates nothing) and its tensors' names and shapes compared with the
    stored arrays before any real network is built; the rest of the state is
    checked by ``VAENet.restore_state``, which uses it.
    """
    expect_keys(state, _STATE_KEYS, "its network state")
    if state["module_dtype"] not in _MODULE_DTYPES:
        raise invalid_model(f"module dtype must be one of {sorted(_MODULE_DTYPES)}")
    dtype = _MODULE_DTYPES[state["module_dtype"]]
    try:
        meta = estimator._build_module(None, dtype, meta=True)
    except (RuntimeError, ValueError, TypeError, OverflowError) as exc:
        raise invalid_model(f"its network cannot be built ({exc})") from None
    expected = meta.state_dict()
    if not isinstance(state["module"], dict):
        raise invalid_model("the module's tensors are not a mapping")
    arrays = {str(k): _array(v, f"tensor {k!r}") for k, v in state["module"].items()}
    arrays = upgrade_state_names(arrays, expected)
    if {k: a.shape for k, a in arrays.items()} != {
        k: tuple(t.shape) for k, t in expected.items()
    }:
        size = sum(t.numel() for t in expected.values())
        raise invalid_model(
            f"its {sum(a.size for a in arrays.values())} module values do not match "
            f"the {size} of the network its fitted attributes declare"
        )
    tensors = {
        k: torch.from_numpy(np.array(arrays[k])).to(t.dtype)
        for k, t in expected.items()
    }
    if not all(torch.isfinite(t).all() for t in tensors.values()):
        raise invalid_model("the network's weights hold NaN or infinite values")
    return tensors, dtype
