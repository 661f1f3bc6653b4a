"""Save and load fitted estimators as safetensors files; loading runs no code.

A ``.skvae`` file is a `safetensors <https://huggingface.co/docs/safetensors>`_
file: the network's weights and buffers, Adam's state and the generators' states
are its tensors (safetensors checks their dtypes, shapes and offsets), and its
``__metadata__`` holds skvae's own part as JSON: the estimator's class, parameters,
fitted attributes, training history, Adam's hyper-parameters, the skvae version
and a SHA-256 of the tensor bytes. The estimator rebuilds its net through its own
builder (``BaseVAE._import_net``), the one ``fit`` and ``partial_fit`` use, so a
loaded model trains on exactly as the saved one would.

Whole pipelines are saved with ``skops.io``; see :data:`SKOPS_TRUSTED`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import reprlib
import struct
import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._imputer import VAEImputer, check_missing_features
from ._module import NOISE_MODELS
from ._outlier import VAEOutlierDetector
from ._state import check_module_params, plain_value, state_size
from ._tabular import TableEncoder, check_layout, encoder_from_state
from ._transformer import VAETransformer

ESTIMATORS = {
    cls.__name__: cls for cls in (VAETransformer, VAEOutlierDetector, VAEImputer)
}
FORMAT = "skvae"
FORMAT_VERSION = 2
# The header (JSON) is read only up to this size, before anything else.
MAX_HEADER_BYTES = 64 * 2**20
# Upper bounds on loaded parameters, beyond their _parameter_constraints.
MAX_N_DRAWS = 100_000
MAX_LAYER_WIDTH = 2**20
MAX_SEED = 2**32
_TENSOR_DTYPES = {"F32": 4, "F64": 8, "I64": 8, "U8": 1}
_OLD_MAGIC = b"\x89SKVAE"
_CONTAINERS = {"default", "pandas", "polars"}

#: The types ``skops.io.load`` must be told to trust to load a pipeline holding
#: skvae estimators: ``skops.io.load(path, trusted=skvae.SKOPS_TRUSTED + [...])``.
#: Their state is plain NumPy arrays and Python values, checked on load like a
#: ``.skvae`` file.
SKOPS_TRUSTED = [f"{cls.__module__}.{name}" for name, cls in ESTIMATORS.items()]


def _bad_file(reason: str) -> ValueError:
    return ValueError(f"Not a valid skvae model file: {reason}.")


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


def _param_to_json(value):
    value = plain_value(value)
    if isinstance(value, float) and not math.isfinite(value):
        return {_FLOAT_TAG: "nan" if math.isnan(value) else str(value)}
    return value


def _param_from_json(name: str, value):
    if not isinstance(value, dict):
        return value
    if set(value) != {_FLOAT_TAG} or value[_FLOAT_TAG] not in _SPECIAL_FLOATS:
        raise _bad_file(
            f"parameter {name} is {reprlib.repr(value)}; the only object a "
            f'parameter may be is {{"{_FLOAT_TAG}": "nan" | "inf" | "-inf"}}'
        )
    return _SPECIAL_FLOATS[value[_FLOAT_TAG]]


def _params_to_json(estimator) -> dict:
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        try:
            if name == "callbacks" and value is not None:
                raise TypeError(value)
            params[name] = _param_to_json(value)
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
    return params


def _plain_fitted(value):
    if isinstance(value, dict):
        return {str(k): _plain_fitted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_fitted(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain_value(value.tolist())
    return plain_value(value)


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
    params = _params_to_json(estimator)
    state = estimator.__getstate__()
    net_state = state.pop("_net_state")
    fitted, output_config = {}, {}
    for key, value in state.items():
        if key == "_sklearn_output_config":
            output_config = {k: v for k, v in value.items() if k == "transform"}
        elif key.endswith("_") and not key.startswith("_"):
            if isinstance(value, TableEncoder):
                raise ValueError(
                    f"Cannot save {name}: a categorical column's categories (or "
                    "dtype) are not strings, numbers or bools, and skvae files hold "
                    "them as JSON. Convert such columns first (e.g. "
                    "X[column].astype(str)), or pickle the estimator."
                )
            fitted[key] = _plain_fitted(value)
    tensors = {f"module.{k}": v for k, v in net_state["module"].items()}
    for index, entry in enumerate(net_state["optimizer_state"]):
        tensors.update({f"optimizer.{index}.{k}": v for k, v in entry.items()})
    for key, value in net_state["generators"].items():
        tensors[f"generator.{key}"] = value
    tensors = {k: np.array(v, order="C") for k, v in tensors.items()}
    plain = save_tensors(tensors)
    (header_length,) = struct.unpack_from("<Q", plain)
    digest = hashlib.sha256(plain[8 + header_length :]).hexdigest()
    skvae_part = {
        "estimator": name,
        "format_version": FORMAT_VERSION,
        "skvae_version": __version__,
        "params": params,
        "fitted": fitted,
        "output_config": output_config,
        "module_dtype": net_state["module_dtype"],
        "n_optimizer_states": len(net_state["optimizer_state"]),
        "optimizer_param_groups": net_state["optimizer_param_groups"],
        "history": net_state["history"],
        "best_epoch": net_state["best_epoch"],
        "tensor_sha256": digest,
    }
    metadata = {
        "format": FORMAT,
        FORMAT: json.dumps(skvae_part, allow_nan=False, sort_keys=True),
    }
    return save_tensors(tensors, metadata=metadata)


def save(estimator, path) -> None:
    """Save a fitted estimator to a safetensors file that :func:`load` reads
    without running code.

    The weights, Adam's state and the generators' states are stored as
    safetensors tensors; parameters, fitted attributes, training history and the
    skvae version as JSON metadata, with a SHA-256 of the tensor bytes. A loaded
    estimator gives the same outputs and, trained further with ``partial_fit``,
    the same weights as the saved one, bit for bit on the same device.

    To save a fitted ``Pipeline`` or ``ColumnTransformer`` holding skvae
    estimators, use ``skops.io.dump`` and load it with
    ``skops.io.load(path, trusted=skvae.SKOPS_TRUSTED + [...])``.

    Parameters
    ----------
    estimator : VAETransformer, VAEOutlierDetector or VAEImputer
        A fitted estimator. Its parameters must be plain values (numbers,
        strings, bools, None, lists; NaN and infinities are stored as tagged
        values): set ``callbacks=None`` (they only act in
        training) and use an int ``random_state`` before saving.
    path : str, os.PathLike or binary file object
        Where to write; a path is written to a temporary file then renamed, so a
        crash never leaves half a file under ``path``. ``.skvae`` is a good suffix.

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


def _read_header(file) -> tuple[dict, dict, int]:
    """The safetensors header and skvae's metadata, read with a size limit and
    checked before any tensor byte is read; also the data section's length."""
    prefix = file.read(8)
    if prefix.startswith(_OLD_MAGIC[:6]):
        raise _bad_file(
            "it was written by skvae 0.1's own format; load it with skvae 0.1 and "
            "save it again"
        )
    if len(prefix) < 8:
        raise _bad_file(f"it is truncated to {len(prefix)} bytes")
    (length,) = struct.unpack("<Q", prefix)
    if not 2 <= length <= MAX_HEADER_BYTES:
        # A header length's first byte may be 0x80 too, so a pickle's opcode is
        # only named when the prefix is no header length.
        if prefix[:1] == b"\x80":
            raise _bad_file("it looks like a pickle: skvae.load never unpickles")
        raise _bad_file(
            f"its header length {length} is not between 2 and {MAX_HEADER_BYTES}"
        )
    raw = file.read(length)
    if len(raw) != length or raw[:1] != b"{":
        raise _bad_file("it does not start with a safetensors header")
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise _bad_file(f"its header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _bad_file("its header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise _bad_file(
            "it has no skvae signature (a safetensors file not written by skvae.save)"
        )
    try:
        part = json.loads(metadata.get(FORMAT), parse_constant=_reject_constant)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _bad_file(f"its skvae metadata is not valid JSON ({exc})") from None
    if not isinstance(part, dict):
        raise _bad_file("its skvae metadata is not a JSON object")
    end = 0
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {
            "dtype",
            "shape",
            "data_offsets",
        }:
            raise _bad_file(f"tensor {reprlib.repr(name)} is not described properly")
        shape, offsets = entry["shape"], entry["data_offsets"]
        if entry["dtype"] not in _TENSOR_DTYPES:
            raise _bad_file(f"tensor {name} has dtype {reprlib.repr(entry['dtype'])}")
        if not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
        ):
            raise _bad_file(f"tensor {name} has shape {reprlib.repr(shape)}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or offsets[1] - offsets[0]
            != math.prod(shape) * _TENSOR_DTYPES[entry["dtype"]]
            or offsets[0] < 0
        ):
            raise _bad_file(f"tensor {name} has offsets {reprlib.repr(offsets)}")
        end = max(end, offsets[1])
    return header, part, end


def _expect_keys(section, expected: set, where: str, optional=frozenset()):
    if not isinstance(section, dict):
        raise _bad_file(f"{where} is not a JSON object")
    unknown = sorted(set(section) - expected - set(optional))
    missing = sorted(expected - set(section))
    if unknown or missing:
        raise _bad_file(f"{where} has unknown keys {unknown} or lacks keys {missing}")


_DEVICE = re.compile(r"^(cpu|auto|cuda(:\d{1,3})?)$")


def _make_estimator(part: dict):
    name = part["estimator"]
    if not isinstance(name, str) or name not in ESTIMATORS:
        raise _bad_file(f"unknown estimator {reprlib.repr(name)}")
    Estimator = ESTIMATORS[name]
    _expect_keys(part["params"], set(), "params", Estimator().get_params())
    params = {
        key: _param_from_json(key, value) for key, value in part["params"].items()
    }
    # Files written before linear paths existed (skvae 0.1) have none, whatever
    # today's default.
    params.setdefault("linear_path", False)
    if params.get("callbacks") is not None:
        raise _bad_file("callbacks must be null in a file")
    device = params.get("device", "cpu")
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise _bad_file(
            f"device {reprlib.repr(device)} is not 'cpu', 'auto' or 'cuda[:N]'"
        )
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            warnings.warn(
                f"This {name} was saved with device={device!r}, but torch sees no "
                "CUDA GPU here: it is loaded with device='cpu'.",
                UserWarning,
                stacklevel=4,
            )
            params["device"] = "cpu"
    n_draws = params.get("n_draws", 1)
    if isinstance(n_draws, int) and n_draws > MAX_N_DRAWS:
        raise _bad_file(f"n_draws={n_draws} is above {MAX_N_DRAWS}")
    hidden = params.get("hidden_layer_sizes")
    if isinstance(hidden, list) and any(
        isinstance(h, int) and h > MAX_LAYER_WIDTH for h in hidden
    ):
        raise _bad_file(f"a hidden layer is wider than {MAX_LAYER_WIDTH}")
    estimator = Estimator(**params)
    try:
        estimator._validate_params()
    except (TypeError, ValueError) as exc:
        raise _bad_file(str(exc).rstrip(".")) from None
    return estimator


def _positive_int(value, name, upper=None):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad_file(f"{name} must be an integer >= 1, not {reprlib.repr(value)}")
    if upper is not None and value > upper:
        raise _bad_file(f"{name} must be at most {upper}, not {value}")
    return value


def _set_fitted(estimator, fitted: dict) -> None:
    name = type(estimator).__name__
    required = {
        "n_features_in_",
        "n_components_",
        "hidden_layer_sizes_",
        "output_activation_",
        "noise_model_",
        "batch_size_",
        "n_iter_",
        "seed_",
        "max_epochs_",
        "n_iter_no_change_",
        "kl_warmup_epochs_",
    }
    required |= {"module_layout_", "table_encoder_"}
    if name == "VAEOutlierDetector":
        required.add("offset_")
    if name == "VAEImputer":
        required.add("missing_features_")
    _expect_keys(fitted, required, "fitted", {"feature_names_in_"})
    n_features = _positive_int(fitted["n_features_in_"], "n_features_in_", 2**24)
    _positive_int(fitted["n_components_"], "n_components_", MAX_LAYER_WIDTH)
    _positive_int(fitted["batch_size_"], "batch_size_", 2**31)
    _positive_int(fitted["max_epochs_"], "max_epochs_", 2**31)
    _positive_int(fitted["n_iter_no_change_"], "n_iter_no_change_", 2**31)
    for key in ("n_iter_", "kl_warmup_epochs_", "seed_"):
        value = fitted[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _bad_file(f"{key} must be an integer >= 0")
    if fitted["seed_"] >= MAX_SEED:
        raise _bad_file(f"seed_ must be below 2**32, not {fitted['seed_']}")
    hidden = fitted["hidden_layer_sizes_"]
    if not isinstance(hidden, list) or not hidden:
        raise _bad_file("hidden_layer_sizes_ must be a non-empty list of integers")
    for h in hidden:
        _positive_int(h, "hidden_layer_sizes_", MAX_LAYER_WIDTH)
    if fitted["output_activation_"] not in ("identity", "sigmoid"):
        raise _bad_file("output_activation_ must be 'identity' or 'sigmoid'")
    if fitted["noise_model_"] not in NOISE_MODELS:
        raise _bad_file(f"noise_model_ must be one of {sorted(NOISE_MODELS)}")
    if "offset_" in fitted:
        offset = fitted["offset_"]
        if isinstance(offset, bool) or not isinstance(offset, (int, float)):
            raise _bad_file("offset_ must be a number")
        if not math.isfinite(offset):
            raise _bad_file("offset_ must be finite")
    names = fitted.get("feature_names_in_")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(v, str) for v in names):
            raise _bad_file("feature_names_in_ must be a list of strings")
        if len(names) != n_features:
            raise _bad_file("feature_names_in_ does not have n_features_in_ names")
    encoder = encoder_from_state(fitted["table_encoder_"], n_features)
    layout = check_layout(fitted["module_layout_"], encoder, n_features)
    if encoder is not None and names is not None and encoder.column_names_ != names:
        raise _bad_file("the table encoder's column names are not feature_names_in_")
    fitted = dict(fitted, table_encoder_=encoder, module_layout_=layout)
    if "missing_features_" in fitted:
        try:
            fitted["missing_features_"] = check_missing_features(
                fitted["missing_features_"], n_features
            )
        except ValueError as exc:
            raise _bad_file(str(exc).rstrip(".")) from None
    for key, value in fitted.items():
        if key == "feature_names_in_":
            value = np.asarray(value, dtype=object)
        elif key == "hidden_layer_sizes_":
            value = tuple(value)
        elif key == "offset_":
            value = float(value)
        setattr(estimator, key, value)


def _from_file(file, size: int | None):
    from safetensors.numpy import load as load_tensors

    header, part, data_length = _read_header(file)
    _expect_keys(
        part,
        {
            "estimator",
            "format_version",
            "skvae_version",
            "params",
            "fitted",
            "output_config",
            "module_dtype",
            "n_optimizer_states",
            "optimizer_param_groups",
            "history",
            "best_epoch",
            "tensor_sha256",
        },
        "the skvae metadata",
    )
    if part["format_version"] != FORMAT_VERSION:
        raise _bad_file(
            f"it has format version {reprlib.repr(part['format_version'])}, this "
            f"skvae reads {FORMAT_VERSION}"
        )
    estimator = _make_estimator(part)
    _set_fitted(estimator, part["fitted"])
    module_params = estimator._module_params()
    check_module_params(module_params)
    declared = sum(
        math.prod(entry["shape"])
        for name, entry in header.items()
        if name.startswith("module.")
    )
    if declared != state_size(module_params):
        raise _bad_file(
            f"its parameters describe a network of {state_size(module_params)} "
            f"values, its tensors hold {declared}"
        )
    if size is not None and size != file.tell() + data_length:
        raise _bad_file(
            f"it is {size} bytes, its header declares {file.tell() + data_length}"
        )
    data = file.read(data_length + 1)
    if len(data) != data_length:
        raise _bad_file(
            f"its tensor data is {len(data)} bytes, the header declares {data_length}"
        )
    if hashlib.sha256(data).hexdigest() != part["tensor_sha256"]:
        raise _bad_file(
            "the SHA-256 of its tensors does not match, so it was truncated or "
            "corrupted (the checksum detects accidents, not tampering)"
        )
    try:
        tensors = load_tensors(_reassemble(file, data_length))
    except Exception as exc:  # safetensors raises its own error types
        raise _bad_file(f"safetensors cannot read it ({exc})") from None
    n_states = part["n_optimizer_states"]
    if not isinstance(n_states, int) or not 0 <= n_states <= 4 * MAX_LAYER_WIDTH:
        raise _bad_file("n_optimizer_states is not a count")
    net_state = {
        "module": {k[7:]: v for k, v in tensors.items() if k.startswith("module.")},
        "module_dtype": part["module_dtype"],
        "optimizer_state": [{} for _ in range(n_states)],
        "optimizer_param_groups": part["optimizer_param_groups"],
        "generators": {
            k[10:]: v for k, v in tensors.items() if k.startswith("generator.")
        },
        "history": part["history"],
        "best_epoch": part["best_epoch"],
    }
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            if not index.isdigit() or int(index) >= n_states:
                raise _bad_file(f"unexpected tensor {reprlib.repr(key)}")
            net_state["optimizer_state"][int(index)][name] = value
        elif not key.startswith(("module.", "generator.")):
            raise _bad_file(f"unexpected tensor {reprlib.repr(key)}")
    try:
        estimator.net_ = estimator._import_net(net_state)
    except (TypeError, KeyError, RuntimeError) as exc:
        raise _bad_file(f"its network state cannot be restored ({exc})") from None
    estimator.history_ = estimator.net_.history
    output_config = part["output_config"]
    _expect_keys(output_config, set(), "output_config", {"transform"})
    if output_config:
        container = output_config["transform"]
        if not hasattr(estimator, "set_output") or container not in _CONTAINERS:
            raise _bad_file(f"unexpected output_config {reprlib.repr(output_config)}")
        estimator.set_output(transform=container)
    return estimator


def _reassemble(file, data_length: int) -> bytes:
    file.seek(0)
    (length,) = struct.unpack("<Q", file.read(8))
    file.seek(0)
    return file.read(8 + length + data_length)


def load(path):
    """Load an estimator written by :func:`save`, running no code from the file.

    The file is checked before anything is built, cheapest first: the header's
    length (at most 64 MiB) and skvae signature, before the rest is read; every
    parameter (as ``fit`` checks them, plus upper bounds such as ``n_draws``),
    every fitted attribute, and the declared network's size, computed
    arithmetically and compared with the stored tensors; then the SHA-256 of the
    tensors, which detects a truncated or corrupted file (not a deliberately
    altered one: check files from untrusted sources with a signature or hash you
    trust). A model saved with ``device="cuda"`` loads with ``device="cpu"``
    (and a warning) where torch sees no GPU.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        A file written by :func:`save`.

    Returns
    -------
    estimator : VAETransformer, VAEOutlierDetector or VAEImputer
        Fitted, giving the same outputs as the saved one, bit for bit on the same
        device; ``partial_fit`` continues its training (Adam state, learning rate,
        KL annealing, random generators) as the saved one would.

    Raises
    ------
    ValueError
        If the file is not an skvae file, is truncated or corrupted, has another
        format version, or describes an invalid model.

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
    ValueError: Not a valid skvae model file: its tensor data is ... bytes, ...
    """
    if hasattr(path, "read"):
        return _from_file(path, None)
    path = os.fspath(path)
    with open(path, "rb") as file:
        return _from_file(file, os.path.getsize(path))


__all__ = ["SKOPS_TRUSTED", "load", "save"]
