"""Save and load fitted estimators as safetensors files; loading runs no code.

A ``.skvae`` file is a `safetensors <https://huggingface.co/docs/safetensors>`_
file: the net's tensors (weights, buffers, Adam's moments, generator states) are
its tensors, and its ``__metadata__`` holds the rest as JSON (class, parameters,
fitted attributes, history, Adam's hyper-parameters, skvae version, a SHA-256 of
the tensor bytes). Loading restores the estimator as unpickling does
(``BaseVAE._restore``), with the same checks. Pipelines are saved with
``skops.io``; see :data:`SKOPS_TRUSTED`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import reprlib
import struct
import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted

from ._base import resolve_device
from ._imputer import VAEImputer
from ._outlier import VAEOutlierDetector
from ._state import MAX_HIDDEN_LAYERS, expect_keys, plain
from ._tabular import TableEncoder
from ._transformer import VAETransformer
from .exceptions import invalid_model

ESTIMATORS = {
    cls.__name__: cls for cls in (VAETransformer, VAEOutlierDetector, VAEImputer)
}
FORMAT = "skvae"
FORMAT_VERSION = 2
# The header (JSON) is read only up to this size, before anything else.
MAX_HEADER_BYTES = 64 * 2**20
# What a file's parameters may be, beyond their _parameter_constraints.
MAX_N_DRAWS = 100_000
_LOAD_LIMITS = {
    "callbacks": [None],
    "n_draws": [Interval(Integral, None, MAX_N_DRAWS, closed="right")],
}
_OLD_MAGIC = b"\x89SKVAE"
_CONTAINERS = {"default", "pandas", "polars"}
_METADATA_KEYS = set(
    "estimator format_version skvae_version params fitted output_config tensor_sha256"
    " module_dtype n_optimizer_states optimizer_param_groups history best_epoch".split()
)

#: The types ``skops.io.load`` must be told to trust to load a pipeline holding
#: skvae estimators: ``skops.io.load(path, trusted=skvae.SKOPS_TRUSTED + [...])``.
#: Their state is plain NumPy arrays and Python values, checked on load like a
#: ``.skvae`` file.
SKOPS_TRUSTED = [f"{cls.__module__}.{name}" for name, cls in ESTIMATORS.items()]


# -- save --------------------------------------------------------------------------

_PARAM_ADVICE = {
    "callbacks": "Callbacks only act during training, so set_params(callbacks=None) "
    "before saving keeps every prediction the same",
    "random_state": "Use an int seed (or None) instead of a RandomState instance",
}


# JSON has no NaN or infinity, and a parameter may be one (VAEImputer's
# ``missing_values=np.nan``): such a float is written as a one-key object naming it,
# which no other parameter value can look like (parameters are never objects).
_FLOAT_TAG = "float"
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _param_to_json(name: str, value, estimator):
    try:
        if name == "callbacks" and value is not None:
            raise TypeError(value)
        if isinstance(value, (dict, np.ndarray)):  # plain() would convert them
            raise TypeError(value)
        value = plain(value)
    except TypeError:
        advice = _PARAM_ADVICE.get(
            name, f"Set {name} to such a value with set_params before saving"
        )
        raise ValueError(
            f"Cannot save {type(estimator).__name__}: {name}="
            f"{reprlib.repr(value)} is not a number, string, bool, None or a "
            "list of them, and skvae files hold parameters as JSON, never as "
            f"pickled objects. {advice}."
        ) from None
    if isinstance(value, float) and not math.isfinite(value):
        return {_FLOAT_TAG: "nan" if math.isnan(value) else str(value)}
    return value


def _param_from_json(name: str, value):
    if not isinstance(value, dict):
        return value
    if set(value) != {_FLOAT_TAG} or value[_FLOAT_TAG] not in _SPECIAL_FLOATS:
        raise invalid_model(
            f"parameter {name} is {reprlib.repr(value)}; the only object a "
            f'parameter may be is {{"{_FLOAT_TAG}": "nan" | "inf" | "-inf"}}'
        )
    return _SPECIAL_FLOATS[value[_FLOAT_TAG]]


def _to_bytes(estimator) -> bytes:
    from safetensors.numpy import save as save_tensors

    from . import __version__

    check_is_fitted(estimator)
    name = type(estimator).__name__
    if ESTIMATORS.get(name) is not type(estimator):
        raise TypeError(
            f"skvae.save stores {', '.join(ESTIMATORS)} objects, not {name}; "
            "save pipelines with skops.io (see skvae.SKOPS_TRUSTED)."
        )
    params = {
        key: _param_to_json(key, value, estimator)
        for key, value in estimator.get_params(deep=False).items()
    }
    state = estimator.__getstate__()
    net_state = state.pop("_net_state")
    if isinstance(state["table_encoder_"], TableEncoder):
        raise ValueError(
            f"Cannot save {name}: a categorical column's categories (or dtype) are "
            "not strings, numbers or bools, and skvae files hold them as JSON. "
            "Convert such columns first (e.g. X[column].astype(str)), or pickle "
            "the estimator."
        )
    fitted = {k: plain(state[k]) for k in estimator._fitted_attributes if k in state}
    output_config = state.get("_sklearn_output_config", {})
    tensors = {f"module.{k}": v for k, v in net_state["module"].items()}
    for index, entry in enumerate(net_state["optimizer_state"]):
        tensors.update({f"optimizer.{index}.{k}": v for k, v in entry.items()})
    for key, value in net_state["generators"].items():
        tensors[f"generator.{key}"] = value
    tensors = {k: np.array(v, order="C") for k, v in tensors.items()}
    plain_file = save_tensors(tensors)
    (header_length,) = struct.unpack_from("<Q", plain_file)
    skvae_part = {
        "estimator": name,
        "format_version": FORMAT_VERSION,
        "skvae_version": __version__,
        "params": params,
        "fitted": fitted,
        "output_config": {k: v for k, v in output_config.items() if k == "transform"},
        "module_dtype": net_state["module_dtype"],
        "n_optimizer_states": len(net_state["optimizer_state"]),
        "optimizer_param_groups": net_state["optimizer_param_groups"],
        "history": net_state["history"],
        "best_epoch": net_state["best_epoch"],
        "tensor_sha256": hashlib.sha256(plain_file[8 + header_length :]).hexdigest(),
    }
    metadata = {
        "format": FORMAT,
        FORMAT: json.dumps(skvae_part, allow_nan=False, sort_keys=True),
    }
    return save_tensors(tensors, metadata=metadata)


def save(estimator, path) -> None:
    """Save a fitted estimator to a safetensors file that :func:`load` reads
    without running code.

    A loaded estimator gives the same outputs and, trained further with
    ``partial_fit``, the same weights as the saved one, bit for bit on the same
    device. Save a ``Pipeline`` holding skvae estimators with ``skops.io.dump``.

    Parameters
    ----------
    estimator : VAETransformer, VAEOutlierDetector or VAEImputer
        A fitted estimator whose parameters are plain values (numbers, strings,
        bools, None, lists): ``callbacks=None`` (they only act in training) and
        an int ``random_state``.
    path : str, os.PathLike or binary file object
        Where to write; a path is written to a temporary file, then renamed, so
        a crash never leaves half a file. ``.skvae`` is a good suffix.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If a parameter is not a plain value.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import skvae
    >>> X = np.random.RandomState(0).normal(size=(50, 4))
    >>> vae = skvae.VAETransformer(max_epochs=3, random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "vae.skvae")
    ...     skvae.save(vae, path)
    ...     loaded = skvae.load(path)
    >>> bool(np.array_equal(loaded.transform(X), vae.transform(X)))
    True
    """
    data = _to_bytes(estimator)
    if hasattr(path, "write"):
        path.write(data)
        return
    path = os.fspath(path)
    partial = f"{path}.partial"
    try:
        with open(partial, "wb") as file:
            file.write(data)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


# -- load --------------------------------------------------------------------------


def _reject_constant(name):
    raise ValueError(f"{name} is not a JSON value")


def _json(raw, where: str) -> dict:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_reject_constant)
    except (TypeError, ValueError, RecursionError) as exc:
        raise invalid_model(f"{where} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise invalid_model(f"{where} is not a JSON object")
    return value


def _read_header(file) -> tuple[bytes, dict]:
    """The safetensors header's bytes (length prefix included) and skvae's
    metadata, read with a size limit and checked before any tensor byte is read.
    The tensors' descriptions are left to safetensors."""
    prefix = file.read(8)
    if prefix.startswith(_OLD_MAGIC[:6]):
        raise invalid_model(
            "it was written by skvae 0.1's own format; load it with skvae 0.1 and "
            "save it again"
        )
    if len(prefix) < 8:
        raise invalid_model(f"it is truncated to {len(prefix)} bytes")
    (length,) = struct.unpack("<Q", prefix)
    if not 2 <= length <= MAX_HEADER_BYTES:
        # A header length's first byte may be 0x80 too, so a pickle's opcode is
        # only named when the prefix is no header length.
        if prefix[:1] == b"\x80":
            raise invalid_model("it looks like a pickle: skvae.load never unpickles")
        raise invalid_model(
            f"its header length {length} is not between 2 and {MAX_HEADER_BYTES}"
        )
    raw = file.read(length)
    if len(raw) != length or raw[:1] != b"{":
        raise invalid_model("it does not start with a safetensors header")
    metadata = _json(raw, "its header").get("__metadata__")
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise invalid_model(
            "it has no skvae signature (a safetensors file not written by skvae.save)"
        )
    part = _json(metadata.get(FORMAT), "its skvae metadata")
    expect_keys(part, _METADATA_KEYS, "the skvae metadata")
    if part["format_version"] != FORMAT_VERSION:
        raise invalid_model(
            f"it has format version {reprlib.repr(part['format_version'])}, this "
            f"skvae reads {FORMAT_VERSION}"
        )
    return prefix + raw, part


def _make_estimator(part: dict):
    name = part["estimator"]
    if not isinstance(name, str) or name not in ESTIMATORS:
        raise invalid_model(f"unknown estimator {reprlib.repr(name)}")
    if not isinstance(part["params"], dict):
        raise invalid_model("params is not a JSON object")
    params = {k: _param_from_json(k, v) for k, v in part["params"].items()}
    # Files written before linear paths existed (skvae 0.1) have none, whatever
    # today's default.
    params.setdefault("linear_path", False)
    try:
        estimator = ESTIMATORS[name](**params)
        estimator._validate_params()
        validate_parameter_constraints(_LOAD_LIMITS, params, name)
        if estimator.device.startswith("cuda") and not torch.cuda.is_available():
            warnings.warn(
                f"This {name} was saved with device={estimator.device!r}, but torch "
                "sees no CUDA GPU here: it is loaded with device='cpu'.",
                UserWarning,
                stacklevel=4,
            )
            estimator.device = "cpu"
        resolve_device(estimator.device)
    except (TypeError, ValueError) as exc:
        raise invalid_model(str(exc).rstrip(".")) from None
    return estimator


def _net_state(part: dict, tensors: dict) -> dict:
    """The net's training state (as ``VAENet.export_state`` gives it) from the
    file's tensors, named ``module.*``, ``optimizer.<index>.*`` and
    ``generator.*``, and its metadata."""
    n_states = part["n_optimizer_states"]
    if not isinstance(n_states, int) or not 0 <= n_states <= 16 * MAX_HIDDEN_LAYERS:
        raise invalid_model("n_optimizer_states is not a count")
    plain_part = ("module_dtype", "optimizer_param_groups", "history", "best_epoch")
    state = {key: part[key] for key in plain_part}
    state.update(module={}, generators={})
    state["optimizer_state"] = [{} for _ in range(n_states)]
    for key, value in tensors.items():
        kind, _, name = key.partition(".")
        index, _, entry = name.partition(".")
        if kind == "module":
            state["module"][name] = value
        elif kind == "generator":
            state["generators"][name] = value
        elif kind == "optimizer" and index.isdigit() and int(index) < n_states:
            state["optimizer_state"][int(index)][entry] = value
        else:
            raise invalid_model(f"unexpected tensor {reprlib.repr(key)}")
    return state


def _from_file(file):
    from safetensors.numpy import load as load_tensors

    header, part = _read_header(file)
    estimator = _make_estimator(part)
    data = file.read()
    if hashlib.sha256(data).hexdigest() != part["tensor_sha256"]:
        raise invalid_model(
            "the SHA-256 of its tensors does not match, so it was truncated or "
            "corrupted (the checksum detects accidents, not tampering)"
        )
    try:
        tensors = load_tensors(header + data)
    except Exception as exc:  # safetensors raises its own error types
        raise invalid_model(f"safetensors cannot read it ({exc})") from None
    estimator._restore(part["fitted"], _net_state(part, tensors))
    output_config = part["output_config"]
    expect_keys(output_config, set(), "output_config", {"transform"})
    if output_config:
        container = output_config["transform"]
        if not hasattr(estimator, "set_output") or container not in _CONTAINERS:
            raise invalid_model(
                f"unexpected output_config {reprlib.repr(output_config)}"
            )
        estimator.set_output(transform=container)
    return estimator


def load(path):
    """Load an estimator written by :func:`save`, running no code from the file.

    The file is checked before anything is built, cheapest first: the header's
    length (at most 64 MiB) and skvae signature; the parameters (as ``fit``
    checks them, plus upper bounds such as ``n_draws``); the SHA-256 of the
    tensors, which detects truncated or corrupted files (not deliberately altered
    ones: check files from untrusted sources with a signature you trust); the
    fitted attributes, against those the estimator declares; the tensors, against
    the network those declare (built on the "meta" device, allocating nothing).
    A model saved with ``device="cuda"`` loads on the CPU, with a warning, where
    torch sees no GPU.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        A file written by :func:`save`.

    Returns
    -------
    estimator : VAETransformer, VAEOutlierDetector or VAEImputer
        Fitted, giving the saved one's outputs; ``partial_fit`` goes on (Adam's
        state, learning rate, KL annealing, generators) as the saved one would.

    Raises
    ------
    skvae.InvalidModelFile
        A ``ValueError``: not an skvae file, truncated or corrupted, another
        format version, or an invalid model.

    See Also
    --------
    save : Write the file.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> import skvae
    >>> X = np.random.RandomState(0).normal(size=(50, 4))
    >>> detector = skvae.VAEOutlierDetector(max_epochs=3, random_state=0).fit(X)
    >>> buffer = io.BytesIO()
    >>> skvae.save(detector, buffer)
    >>> loaded = skvae.load(io.BytesIO(buffer.getvalue()))
    >>> bool(np.array_equal(loaded.predict(X), detector.predict(X)))
    True
    >>> skvae.load(io.BytesIO(buffer.getvalue()[:-1]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skvae.exceptions.InvalidModelFile: Not a valid skvae model file: the SHA-256 ...
    """
    if hasattr(path, "read"):
        return _from_file(path)
    with open(os.fspath(path), "rb") as file:
        return _from_file(file)


__all__ = ["SKOPS_TRUSTED", "load", "save"]
