"""Save and load fitted estimators in a file whose reading never runs code.

Layout of a ``.skvae`` file, all integers little-endian::

    offset 0    10 bytes   magic b"\\x89SKVAE\\r\\n\\x1a\\n"
    offset 10   uint32     format version (1)
    offset 14   uint64     n, the length of the JSON header
    offset 22   32 bytes   SHA-256 of everything from offset 54 to the end
    offset 54   n bytes    UTF-8 JSON header (below)
    54 + n      ...        tensor data: raw little-endian bytes, one tensor after
                           another, where the header's "tensors" entries say

The header holds the estimator's class name, its parameters, its fitted attributes,
the network's architecture, the training history and, for each tensor of the
network's ``state_dict``, its name, dtype, shape, offset and size. Magic bytes and
version never move, so every future version can say which version a file is. Only
JSON and raw numbers are read: nothing is unpickled, no ``torch.load``, no import
named by the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import reprlib
import struct
import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

from ._base import make_generators, resolve_device
from ._module import ACTIVATIONS, NOISE_MODELS, OUTPUT_ACTIVATIONS, VAEModule
from ._net import VAENet
from ._outlier import VAEOutlierDetector
from ._transformer import VAETransformer
from ._warm_start import same_architecture

MAGIC = b"\x89SKVAE\r\n\x1a\n"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<10sIQ32s")

ESTIMATORS = {cls.__name__: cls for cls in (VAETransformer, VAEOutlierDetector)}

# Tensor dtypes a file may hold, by name; NumPy reads their bytes.
_TENSOR_DTYPES = {
    "float16": torch.float16,
    "float32": torch.float32,
    "float64": torch.float64,
    "int32": torch.int32,
    "int64": torch.int64,
    "uint8": torch.uint8,
    "bool": torch.bool,
}
_MODULE_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_CONTAINERS = {"default", "pandas", "polars"}


def _bad_file(reason: str) -> ValueError:
    return ValueError(f"Not a valid skvae model file: {reason}.")


# -- fitted attributes -----------------------------------------------------------
# Each public fitted attribute (name ending in "_") is written by ``encode`` as a JSON
# value and read back by ``decode``, which checks it. An estimator with a fitted
# attribute missing here cannot be saved until it is added, so a new attribute is
# never silently lost; ``net_`` and ``history_`` are stored in their own sections.


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad_file(f"{name} must be an integer >= 1, not {value!r}")
    return value


def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad_file(f"{name} must be an integer >= 0, not {value!r}")
    return value


def _finite_float(value, name):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
    ):
        raise _bad_file(f"{name} must be a finite number, not {value!r}")
    return float(value)


def _sizes(value, name):
    if not isinstance(value, list) or not value:
        raise _bad_file(f"{name} must be a non-empty list of integers")
    return tuple(_positive_int(v, name) for v in value)


def _names(value, name):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad_file(f"{name} must be a list of strings")
    return np.asarray(value, dtype=object)


def _output_activation(value, name):
    if value not in OUTPUT_ACTIVATIONS:
        raise _bad_file(f"{name} must be one of {sorted(OUTPUT_ACTIVATIONS)}")
    return value


def _noise_model(value, name):
    if value not in NOISE_MODELS:
        raise _bad_file(f"{name} must be one of {sorted(NOISE_MODELS)}")
    return value


class FittedAttribute(NamedTuple):
    """How one fitted attribute is written to and read from the JSON header."""

    encode: Callable
    decode: Callable
    required: bool = True
    only_for: tuple[str, ...] | None = None


def _plain_layout(layout):
    if layout["cardinalities"] or layout["missing_input"]:
        raise ValueError(
            "skvae.save does not store models fitted on tables with categorical "
            "columns or missing cells yet; pickle the estimator (or use skops) "
            "instead."
        )
    return {"n_features": int(layout["n_features"])}


def _layout(value, name):
    if not isinstance(value, dict) or set(value) != {"n_features"}:
        raise _bad_file(f"{name} must be an object with n_features")
    return dict(
        n_features=_positive_int(value["n_features"], name),
        cardinalities=(),
        missing_input=False,
    )


def _no_table(value):
    if value is not None:
        _plain_layout({"cardinalities": (1,), "missing_input": False})


def _table(value, name):
    if value is not None:
        raise _bad_file(f"{name} must be null")


FITTED_ATTRIBUTES: dict[str, FittedAttribute] = {
    "module_layout_": FittedAttribute(_plain_layout, _layout),
    "table_encoder_": FittedAttribute(_no_table, _table),
    "n_features_in_": FittedAttribute(int, _positive_int),
    "feature_names_in_": FittedAttribute(
        lambda v: [str(s) for s in v], _names, required=False
    ),
    "n_components_": FittedAttribute(int, _positive_int),
    "hidden_layer_sizes_": FittedAttribute(lambda v: [int(s) for s in v], _sizes),
    "output_activation_": FittedAttribute(str, _output_activation),
    "noise_model_": FittedAttribute(str, _noise_model),
    "batch_size_": FittedAttribute(int, _positive_int),
    "n_iter_": FittedAttribute(int, _count),
    "seed_": FittedAttribute(int, _count),
    "max_epochs_": FittedAttribute(int, _positive_int),
    "n_iter_no_change_": FittedAttribute(int, _positive_int),
    "kl_warmup_epochs_": FittedAttribute(int, _count),
    "offset_": FittedAttribute(float, _finite_float, only_for=("VAEOutlierDetector",)),
}
_STORED_APART = {"net_", "history_"}


# -- parameters --------------------------------------------------------------------


def _plain(value):
    """``value`` as a JSON value, or raise TypeError when it is not a plain one."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real) and math.isfinite(value):
        return float(value)
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, tuple):
        return {"tuple": [_plain(v) for v in value]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    raise TypeError(value)


def _from_plain(value):
    if isinstance(value, dict):
        if set(value) != {"tuple"} or not isinstance(value["tuple"], list):
            raise _bad_file(f"unexpected parameter value {value!r}")
        return tuple(_from_plain(v) for v in value["tuple"])
    if isinstance(value, list):
        return [_from_plain(v) for v in value]
    return value


_PARAM_ADVICE = {
    "callbacks": "Callbacks only act during training, so set_params(callbacks=None) "
    "before saving keeps every prediction the same",
    "random_state": "Use an int seed (or None) instead of a RandomState instance",
}


def _params_to_json(estimator) -> dict:
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        try:
            params[name] = _plain(value)
        except TypeError:
            advice = _PARAM_ADVICE.get(
                name, f"Set {name} to such a value with set_params before saving"
            )
            raise ValueError(
                f"Cannot save {type(estimator).__name__}: {name}="
                f"{reprlib.repr(value)} is not a number, string, bool, None or a "
                "list of them, and skvae files hold parameters as JSON, never as "
                f"pickled objects. {advice}. (pickle and "
                "joblib keep any object, for files you trust.)"
            ) from None
    return params


# -- history -----------------------------------------------------------------------

_DROP = object()


def _json_safe(value):
    """``value`` as JSON if it is plain data (finite numbers), else ``_DROP``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (Integral, np.bool_)):
        return int(value) if not isinstance(value, np.bool_) else bool(value)
    if isinstance(value, Real):
        return float(value) if math.isfinite(value) else _DROP
    if isinstance(value, (list, tuple)):
        items = [_json_safe(v) for v in value]
        return _DROP if any(v is _DROP for v in items) else items
    if isinstance(value, dict):
        items = {k: _json_safe(v) for k, v in value.items() if isinstance(k, str)}
        return {k: v for k, v in items.items() if v is not _DROP}
    return _DROP


# -- save --------------------------------------------------------------------------


def _module_params(estimator) -> dict:
    return dict(
        n_features=estimator.n_features_in_,
        n_components=estimator.n_components_,
        hidden_layer_sizes=tuple(estimator.hidden_layer_sizes_),
        activation=estimator.activation,
        batch_norm=estimator.batch_norm,
        dropout=estimator.dropout,
        output_activation=estimator.output_activation_,
        noise_model=estimator.noise_model_,
        trim_fraction=estimator.trim_fraction,
    )


def _to_bytes(estimator) -> bytes:
    check_is_fitted(estimator)
    name = type(estimator).__name__
    if ESTIMATORS.get(name) is not type(estimator):
        raise TypeError(
            f"skvae.save stores {' and '.join(ESTIMATORS)} objects, not {name}."
        )
    _plain_layout(estimator.module_layout_)
    module = estimator.net_.module_
    module_params = _module_params(estimator)
    if not same_architecture(module, module_params):
        raise ValueError(
            f"Cannot save {name}: its network no longer matches its parameters "
            "activation, batch_norm and dropout; they were changed after fit. Set "
            "them back to their values at fit time, or refit, before saving."
        )
    fitted = {}
    for attribute in sorted(vars(estimator)):
        if not attribute.endswith("_") or attribute.startswith("_"):
            continue
        if attribute in _STORED_APART:
            continue
        if attribute not in FITTED_ATTRIBUTES:
            raise ValueError(
                f"Cannot save {name}: skvae.save does not know how to store its "
                f"fitted attribute {attribute!r}. Add it to FITTED_ATTRIBUTES in "
                "skvae/_persistence.py."
            )
        fitted[attribute] = FITTED_ATTRIBUTES[attribute].encode(
            getattr(estimator, attribute)
        )

    tensors, chunks, offset = [], [], 0
    for key, tensor in module.state_dict().items():
        dtype = str(tensor.dtype).removeprefix("torch.")
        if dtype not in _TENSOR_DTYPES:
            raise ValueError(f"Cannot save a {dtype} tensor ({key}).")
        array = tensor.detach().cpu().contiguous().numpy()
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        tensors.append(
            dict(
                name=key,
                dtype=dtype,
                shape=list(array.shape),
                offset=offset,
                nbytes=len(data),
            )
        )
        chunks.append(data)
        offset += len(data)

    module_dtype = str(next(module.parameters()).dtype).removeprefix("torch.")
    output_config = getattr(estimator, "_sklearn_output_config", {})
    from . import __version__

    header = {
        "estimator": name,
        "skvae_version": __version__,
        "torch_version": torch.__version__,
        "params": _params_to_json(estimator),
        "fitted": fitted,
        "output_config": {k: v for k, v in output_config.items() if k == "transform"},
        "module": {
            **{key: _plain(value) for key, value in module_params.items()},
            "hidden_layer_sizes": list(module_params["hidden_layer_sizes"]),
            "dtype": module_dtype,
        },
        "history": [_json_safe(dict(row)) for row in estimator.history_],
        "tensors": tensors,
    }
    body = json.dumps(
        header, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")
    header_length = len(body)
    body += b"".join(chunks)
    digest = hashlib.sha256(body).digest()
    return _PREFIX.pack(MAGIC, FORMAT_VERSION, header_length, digest) + body


def save(estimator, path) -> None:
    """Save a fitted estimator to one file that :func:`load` reads without running code.

    The file holds the parameters, fitted attributes and training history as JSON
    and the network's weights as raw numbers, with a format version and a SHA-256
    checksum. Unlike pickle or joblib, :func:`load` runs no code from the file, so
    loading a file of unknown origin cannot take over your program (its model is
    still only as good as its source).

    Parameters
    ----------
    estimator : VAETransformer or VAEOutlierDetector
        A fitted estimator. Its parameters must be plain values (numbers,
        strings, bools, None, lists): set ``callbacks=None`` (they only act in
        training) and use an int ``random_state`` before saving.
    path : str, os.PathLike or binary file object
        Where to write; a path is written to a temporary file then renamed, so a
        crash never leaves half a file under ``path``. ``.skvae`` is a good suffix.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If a parameter is not a plain value, or a parameter that shapes the
        network (``activation``, ``batch_norm``, ``dropout``) changed after fit.

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
    # Python's json reads NaN and Infinity, which are not JSON and never written.
    raise ValueError(f"{name} is not a JSON value")


def _read_header(data: bytes) -> tuple[dict, memoryview]:
    if not data:
        raise ValueError("Not an skvae model file: it is empty.")
    if not data.startswith(MAGIC):
        hint = (
            " It looks like a pickle: skvae.load never unpickles; use pickle or "
            "joblib for files you trust."
            if data[:1] == b"\x80"
            else ""
        )
        if MAGIC.startswith(data):
            raise _bad_file(f"it is truncated to {len(data)} bytes")
        raise ValueError(
            "Not an skvae model file: it does not start with the skvae signature; "
            f"only files written by skvae.save can be loaded.{hint}"
        )
    if len(data) < _PREFIX.size:
        raise _bad_file(f"it is truncated to {len(data)} bytes")
    _, version, header_length, digest = _PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        from . import __version__

        advice = (
            "Upgrade skvae to load it."
            if version > FORMAT_VERSION
            else "Load it with the skvae version that wrote it and save it again."
        )
        raise ValueError(
            f"This skvae model file has format version {version}, but skvae "
            f"{__version__} reads format version {FORMAT_VERSION}. {advice}"
        )
    body = memoryview(data)[_PREFIX.size :]
    if header_length > len(body):
        raise _bad_file(
            f"it is truncated (the header alone should be {header_length} bytes, "
            f"{len(body)} follow the prefix)"
        )
    if hashlib.sha256(body).digest() != digest:
        raise _bad_file(
            "its SHA-256 checksum does not match its content, so it was truncated, "
            "altered or corrupted after skvae.save wrote it"
        )
    try:
        header = json.loads(
            bytes(body[:header_length]).decode("utf-8"),
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError) as exc:
        raise _bad_file(f"its header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _bad_file("its header is not a JSON object")
    return header, body[header_length:]


def _expect_keys(section: dict, expected: set, where: str, optional=frozenset()):
    if not isinstance(section, dict):
        raise _bad_file(f"{where} is not a JSON object")
    unknown = sorted(set(section) - expected - set(optional))
    missing = sorted(expected - set(section))
    if unknown or missing:
        raise _bad_file(f"{where} has unknown keys {unknown} or lacks keys {missing}")


def _make_estimator(header: dict):
    name = header["estimator"]
    if name not in ESTIMATORS:
        raise _bad_file(f"unknown estimator {reprlib.repr(name)}")
    Estimator = ESTIMATORS[name]
    _expect_keys(header["params"], set(), "params", Estimator().get_params())
    params = {key: _from_plain(value) for key, value in header["params"].items()}
    device = params.get("device", "cpu")
    if isinstance(device, str) and device.startswith("cuda"):
        if not torch.cuda.is_available():
            warnings.warn(
                f"This {name} was saved with device={device!r}, but torch sees no "
                "CUDA GPU here: it is loaded with device='cpu'.",
                UserWarning,
                stacklevel=3,
            )
            params["device"] = "cpu"
    estimator = Estimator(**params)
    # Values that the file may have altered get the same checks as fit gives them.
    estimator._validate_params()
    return estimator


def _set_fitted(estimator, fitted: dict) -> None:
    name = type(estimator).__name__
    expected = {
        key
        for key, attribute in FITTED_ATTRIBUTES.items()
        if attribute.required
        and (attribute.only_for is None or name in attribute.only_for)
    }
    optional = {
        key
        for key, attribute in FITTED_ATTRIBUTES.items()
        if not attribute.required
        and (attribute.only_for is None or name in attribute.only_for)
    }
    _expect_keys(fitted, expected, "fitted", optional)
    for key, value in fitted.items():
        setattr(estimator, key, FITTED_ATTRIBUTES[key].decode(value, key))
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and len(names) != estimator.n_features_in_:
        raise _bad_file("feature_names_in_ does not have n_features_in_ names")


def _module_params_from(header: dict, estimator) -> tuple[dict, torch.dtype]:
    section = header["module"]
    keys = {
        "n_features",
        "n_components",
        "hidden_layer_sizes",
        "activation",
        "batch_norm",
        "dropout",
        "output_activation",
        "noise_model",
        "trim_fraction",
        "dtype",
    }
    _expect_keys(section, keys, "module")
    params = {key: section[key] for key in keys - {"dtype"}}
    params["hidden_layer_sizes"] = _sizes(
        params["hidden_layer_sizes"], "module hidden_layer_sizes"
    )
    if params["activation"] not in ACTIVATIONS:
        raise _bad_file(f"unknown activation {reprlib.repr(params['activation'])}")
    if not isinstance(params["batch_norm"], bool):
        raise _bad_file("module batch_norm must be true or false")
    dropout = params["dropout"]
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
        raise _bad_file("module dropout must be a number")
    if not 0.0 <= dropout < 1.0:
        raise _bad_file("module dropout must be in [0, 1)")
    if section["dtype"] not in _MODULE_DTYPES:
        raise _bad_file(f"module dtype must be one of {sorted(_MODULE_DTYPES)}")
    if params != _module_params(estimator):
        raise _bad_file(
            "the network's description does not match the fitted attributes and "
            "parameters"
        )
    return params, _MODULE_DTYPES[section["dtype"]]


def _read_state_dict(tensors, payload: memoryview, expected: dict) -> dict:
    if not isinstance(tensors, list):
        raise _bad_file("tensors is not a list")
    state = {}
    for entry in tensors:
        _expect_keys(entry, {"name", "dtype", "shape", "offset", "nbytes"}, "tensor")
        key = entry["name"]
        if key not in expected or key in state:
            raise _bad_file(f"unexpected or repeated tensor {reprlib.repr(key)}")
        want = expected[key]
        shape, dtype = entry["shape"], entry["dtype"]
        if shape != list(want.shape) or _TENSOR_DTYPES.get(dtype) != want.dtype:
            raise _bad_file(
                f"tensor {key} is {dtype} {shape}, the network needs "
                f"{str(want.dtype).removeprefix('torch.')} {list(want.shape)}"
            )
        np_dtype = np.dtype(dtype).newbyteorder("<")
        count = math.prod(shape)
        offset, nbytes = entry["offset"], entry["nbytes"]
        if (
            not isinstance(offset, int)
            or isinstance(offset, bool)
            or nbytes != count * np_dtype.itemsize
            or not 0 <= offset <= len(payload) - nbytes
        ):
            raise _bad_file(f"tensor {key} lies outside the file's data")
        array = np.frombuffer(payload, dtype=np_dtype, count=count, offset=offset)
        state[key] = torch.from_numpy(array.astype(np_dtype.newbyteorder("="))).view(
            want.shape
        )
    missing = sorted(set(expected) - set(state))
    if missing:
        raise _bad_file(f"tensors {missing} are missing")
    return state


def _from_bytes(data: bytes):
    header, payload = _read_header(data)
    _expect_keys(
        header,
        {
            "estimator",
            "skvae_version",
            "torch_version",
            "params",
            "fitted",
            "output_config",
            "module",
            "history",
            "tensors",
        },
        "the header",
    )
    estimator = _make_estimator(header)
    _set_fitted(estimator, header["fitted"])
    module_params, dtype = _module_params_from(header, estimator)

    # The network is first built on the "meta" device, which allocates nothing, so a
    # file claiming huge layers is rejected before any memory is taken for them.
    try:
        with torch.device("meta"):
            module = VAEModule(**module_params).to(dtype=dtype)
    except (RuntimeError, ValueError, OverflowError) as exc:
        raise _bad_file(f"its network cannot be built ({exc})") from None
    state = _read_state_dict(header["tensors"], payload, module.state_dict())
    if not all(
        torch.isfinite(t).all() for t in state.values() if t.is_floating_point()
    ):
        raise _bad_file("the network's weights hold NaN or infinite values")
    module = module.to_empty(device="cpu")
    module.load_state_dict(state)

    history = header["history"]
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise _bad_file("history is not a list of JSON objects")
    device = resolve_device(estimator.device)
    # Training after loading (warm_start, partial_fit) draws from generators seeded
    # from the saved seed, never from torch's global one.
    _, shuffle_generator, noise_generator = make_generators(estimator.seed_, device)
    net = VAENet(
        module.to(device).set_generator(noise_generator),
        iterator_train__generator=shuffle_generator,
        beta=estimator.beta,
        trim_fraction=estimator.trim_fraction,
        lr=estimator.lr,
        max_epochs=estimator.max_epochs_,
        batch_size=estimator.batch_size_,
        device=device,
        verbose=estimator.verbose,
    )
    net.initialize()
    net.history = History(history)
    estimator.net_ = net
    estimator.history_ = net.history

    output_config = header["output_config"]
    _expect_keys(output_config, set(), "output_config", {"transform"})
    if output_config:
        container = output_config["transform"]
        if not hasattr(estimator, "set_output") or container not in _CONTAINERS:
            raise _bad_file(f"unexpected output_config {output_config!r}")
        estimator.set_output(transform=container)
    return estimator


def load(path):
    """Load an estimator written by :func:`save`, running no code from the file.

    The file is checked before anything is built: its signature, format version
    and SHA-256 checksum, then every parameter (as ``fit`` checks them), every
    fitted attribute and every tensor's name, dtype and shape against the network
    it describes. Weights are read to the CPU first; a model saved with
    ``device="cuda"`` loads with ``device="cpu"`` (and a warning) where torch sees
    no GPU.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        A file written by :func:`save`.

    Returns
    -------
    estimator : VAETransformer or VAEOutlierDetector
        Fitted, giving the same outputs as the saved one, bit for bit on the same
        device; it can be refit, or trained further with ``warm_start=True``.

    Raises
    ------
    ValueError
        If the file is not an skvae file, is truncated, altered or corrupted, has
        another format version, or describes an invalid model.

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
    >>> skvae.load(io.BytesIO(buffer.getvalue()[:-1]))
    Traceback (most recent call last):
    ...
    ValueError: Not a valid skvae model file: its SHA-256 checksum does not match \
its content, so it was truncated, altered or corrupted after skvae.save wrote it.
    """
    if hasattr(path, "read"):
        data = path.read()
    else:
        with open(os.fspath(path), "rb") as file:
            data = file.read()
    return _from_bytes(bytes(data))
