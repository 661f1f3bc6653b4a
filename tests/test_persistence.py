"""skvae.save / skvae.load, and pickle or joblib round trips."""

import copy
import hashlib
import io
import json
import pickle
import struct

import joblib
import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

import skvae
from skvae import VAEOutlierDetector, VAETransformer
from skvae._persistence import FITTED_ATTRIBUTES, FORMAT_VERSION, MAGIC

ESTIMATORS = [VAETransformer, VAEOutlierDetector]
FAST = dict(max_epochs=3, random_state=0)


def _outputs(estimator, X):
    names = ["transform", "score_samples", "decision_function", "predict"]
    outputs = {n: getattr(estimator, n)(X) for n in names if hasattr(estimator, n)}
    if hasattr(estimator, "inverse_transform"):
        outputs["inverse_transform"] = estimator.inverse_transform(outputs["transform"])
    outputs["score"] = estimator.score(X)
    return outputs


def _assert_same_outputs(a, b, X):
    expected = _outputs(a, X)
    for name, out in _outputs(b, X).items():
        np.testing.assert_array_equal(out, expected[name], err_msg=name)
        assert np.asarray(out).dtype == np.asarray(expected[name]).dtype, name


def _fitted_attributes(estimator):
    return {
        k: v
        for k, v in vars(estimator).items()
        if k.endswith("_") and not k.startswith("_") and k not in ("net_", "history_")
    }


def _to_bytes(estimator):
    buffer = io.BytesIO()
    skvae.save(estimator, buffer)
    return buffer.getvalue()


def _from_bytes(data):
    return skvae.load(io.BytesIO(data))


def _rewrite(data, edit_header=None, edit_payload=None):
    """The file with its header or tensor bytes edited, checksum made to match: what
    someone crafting a file would write. Layout: skvae/_persistence.py."""
    (length,) = struct.unpack_from("<Q", data, 14)
    header = json.loads(data[54 : 54 + length])
    payload = bytearray(data[54 + length :])
    if edit_header:
        edit_header(header)
    if edit_payload:
        edit_payload(header, payload)
    text = json.dumps(header).encode()
    body = text + bytes(payload)
    prefix = struct.pack("<10sIQ", MAGIC, FORMAT_VERSION, len(text))
    return prefix + hashlib.sha256(body).digest() + body


@pytest.fixture(scope="module")
def fitted():
    X = np.random.RandomState(0).normal(size=(60, 5))
    return {E: E(**FAST).fit(X) for E in ESTIMATORS}, X


# -- round trips -------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_round_trip_is_bit_identical(Estimator, fitted, tmp_path):
    estimators, X = fitted
    original = estimators[Estimator]
    path = tmp_path / "model.skvae"
    skvae.save(original, path)
    loaded = skvae.load(path)
    assert type(loaded) is Estimator
    assert loaded.get_params() == original.get_params()
    assert _fitted_attributes(loaded) == _fitted_attributes(original)
    assert list(loaded.history_) == list(original.history_)
    for a, b in zip(
        loaded.net_.module_.state_dict().items(),
        original.net_.module_.state_dict().items(),
        strict=True,
    ):
        assert a[0] == b[0] and torch.equal(a[1], b[1])
    _assert_same_outputs(original, loaded, X)
    _assert_same_outputs(original, loaded, X.astype(np.float32))
    # Saving the loaded model writes the same bytes: nothing was lost or added.
    assert _to_bytes(loaded) == _to_bytes(original)
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_round_trip_of_a_float32_model_with_batch_norm_and_dropout(Estimator):
    X = np.random.RandomState(1).uniform(size=(40, 3)).astype(np.float32)
    original = Estimator(batch_norm=True, dropout=0.2, hidden_layer_sizes=(6,), **FAST)
    original.fit(X)
    loaded = _from_bytes(_to_bytes(original))
    assert loaded.output_activation_ == "sigmoid"
    state = loaded.net_.module_.state_dict()
    assert state["encoder.1.num_batches_tracked"].dtype == torch.int64
    assert state["encoder.1.running_mean"].dtype == torch.float32
    _assert_same_outputs(original, loaded, X)


def test_round_trip_keeps_feature_names_and_pandas_output():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        np.random.RandomState(2).normal(size=(30, 3)), columns=list("abc")
    )
    original = VAETransformer(**FAST).set_output(transform="pandas").fit(frame)
    loaded = _from_bytes(_to_bytes(original))
    assert list(loaded.feature_names_in_) == ["a", "b", "c"]
    assert loaded.feature_names_in_.dtype == object
    pd.testing.assert_frame_equal(loaded.transform(frame), original.transform(frame))
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        loaded.transform(frame.rename(columns={"a": "z"}))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_loaded_model_can_be_refit_and_trained_further(Estimator, fitted):
    estimators, X = fitted
    loaded = _from_bytes(_to_bytes(estimators[Estimator]))
    # Refit from scratch: the same model as a fresh fit with the same parameters.
    _assert_same_outputs(Estimator(**FAST).fit(X), loaded.fit(X), X)
    # Trained further: warm_start goes on from the loaded weights, buffers (the
    # running noise variance) and history, exactly as the original does.
    loaded = _from_bytes(_to_bytes(estimators[Estimator]))
    loaded.set_params(warm_start=True).fit(X)
    assert loaded.n_iter_ == 6
    assert loaded.history_[:, "epoch"] == [1, 2, 3, 4, 5, 6]
    original = copy.deepcopy(estimators[Estimator]).set_params(warm_start=True)
    _assert_same_outputs(original.fit(X), loaded, X)


def test_file_objects_and_paths_give_the_same_bytes(fitted, tmp_path):
    estimator = fitted[0][VAETransformer]
    skvae.save(estimator, str(tmp_path / "a.skvae"))
    assert (tmp_path / "a.skvae").read_bytes() == _to_bytes(estimator)
    # Saving over an existing file replaces it.
    skvae.save(fitted[0][VAEOutlierDetector], tmp_path / "a.skvae")
    assert type(skvae.load(tmp_path / "a.skvae")) is VAEOutlierDetector


def test_loading_leaves_the_global_rng_alone(fitted):
    data = _to_bytes(fitted[0][VAETransformer])
    torch_state = torch.random.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002
    _from_bytes(data)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


# -- no code runs from the file ----------------------------------------------------


def test_load_never_unpickles_nor_calls_torch_load(fitted, monkeypatch):
    data = _to_bytes(fitted[0][VAEOutlierDetector])

    def forbidden(*args, **kwargs):
        raise AssertionError("skvae.load used pickle or torch.load")

    for module, name in [
        (pickle, "load"),
        (pickle, "loads"),
        (pickle, "Unpickler"),
        (torch, "load"),
    ]:
        monkeypatch.setattr(module, name, forbidden)
    loaded = _from_bytes(data)
    assert loaded.predict(fitted[1]).shape == (60,)


class _RunsCode:
    def __reduce__(self):
        return (print, ("code from the file ran",))


def test_a_pickle_is_refused_without_running_it(tmp_path, capsys):
    path = tmp_path / "model.skvae"
    path.write_bytes(pickle.dumps(_RunsCode()))
    with pytest.raises(ValueError, match="skvae signature.*looks like a pickle"):
        skvae.load(path)
    assert "code from the file ran" not in capsys.readouterr().out


# -- damaged files -----------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[:100] + bytes([d[100] ^ 1]) + d[101:],
        lambda d: d[:-5] + bytes([d[-5] ^ 0x80]) + d[-4:],
        lambda d: d + b"\0",
        lambda d: d[:30] + bytes([d[30] ^ 1]) + d[31:],
    ],
    ids=["header-byte", "weight-byte", "appended-byte", "checksum-byte"],
)
def test_altered_files_are_refused(fitted, damage):
    data = _to_bytes(fitted[0][VAETransformer])
    with pytest.raises(ValueError, match="checksum does not match.*altered"):
        _from_bytes(damage(data))


@pytest.mark.parametrize("keep", [0.0, 0.05, 0.2, 0.5, 0.9, 0.999])
def test_truncated_files_are_refused(fitted, keep):
    data = _to_bytes(fitted[0][VAETransformer])
    cut = data[: int(keep * len(data))]
    if len(cut) < len(MAGIC):
        cut = MAGIC[:4] if keep else b""
    match = "truncated" if cut else "Not an skvae model file: it is empty"
    with pytest.raises(ValueError, match=match):
        _from_bytes(cut)


@pytest.mark.parametrize(
    "version, advice", [(2, "Upgrade skvae"), (0, "Load it with the skvae version")]
)
def test_other_format_versions_are_refused(fitted, version, advice):
    data = bytearray(_to_bytes(fitted[0][VAETransformer]))
    data[10:14] = struct.pack("<I", version)
    with pytest.raises(
        ValueError, match=f"format version {version}, but .* reads format version 1"
    ) as error:
        _from_bytes(bytes(data))
    assert advice in str(error.value)


def test_other_files_are_refused(tmp_path):
    for content in [b"", b"hello world", np.arange(10).tobytes()]:
        with pytest.raises(ValueError, match="Not an skvae model file"):
            _from_bytes(content)
    with pytest.raises(FileNotFoundError):
        skvae.load(tmp_path / "missing.skvae")


def _set(*path_and_value):
    *path, value = path_and_value

    def edit(header):
        node = header
        for key in path[:-1]:
            node = node[key]
        if value is KeyError:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            _set("fitted", "calibration_", 3),
            r"fitted has unknown keys \[.calibration_.\]",
        ),
        (_set("fitted", "n_iter_", KeyError), r"lacks keys \['n_iter_'\]"),
        (_set("fitted", "n_components_", -1), "n_components_ must be an integer >= 1"),
        (_set("fitted", "offset_", "x"), "offset_ must be a finite number"),
        (_set("params", "no_such_param", 1), r"unknown keys \['no_such_param'\]"),
        (_set("estimator", "os.system"), "unknown estimator 'os.system'"),
        (_set("module", "activation", "swish"), "unknown activation 'swish'"),
        (_set("module", "n_features", 6), "does not match the fitted attributes"),
        (_set("module", "hidden_layer_sizes", [10**12]), "does not match"),
        (_set("history", {}), "history is not a list"),
        (_set("output_config", {"transform": "spark"}), "unexpected output_config"),
        (_set("tensors", 0, "shape", [3, 3]), "tensor feature_var is float64"),
        (_set("tensors", 0, "offset", 10**9), "lies outside the file's data"),
        (_set("tensors", 0, "nbytes", 8), "lies outside the file's data"),
        (_set("tensors", 0, "name", "evil"), "unexpected or repeated tensor 'evil'"),
        (lambda h: h["tensors"].pop(), r"tensors \['decoder.1.bias'\] are missing"),
        (_set("skvae_version", KeyError), r"lacks keys \['skvae_version'\]"),
    ],
)
def test_crafted_files_with_a_matching_checksum_are_refused(fitted, edit, match):
    data = _rewrite(_to_bytes(fitted[0][VAEOutlierDetector]), edit)
    with pytest.raises(ValueError, match=match):
        _from_bytes(data)


def test_crafted_huge_network_is_refused_without_allocating_it(fitted):
    def edit(header):
        for key in ("hidden_layer_sizes_",):
            header["fitted"][key] = [2**40]
        header["module"]["hidden_layer_sizes"] = [2**40]

    data = _rewrite(_to_bytes(fitted[0][VAETransformer]), edit)
    with pytest.raises(ValueError, match="tensor encoder.0.weight is float64"):
        _from_bytes(data)


def test_crafted_invalid_parameter_gets_the_fit_time_error(fitted):
    data = _rewrite(_to_bytes(fitted[0][VAETransformer]), _set("params", "beta", -1))
    with pytest.raises(InvalidParameterError, match="'beta' parameter"):
        _from_bytes(data)


def test_crafted_non_json_numbers_and_nan_weights_are_refused(fitted):
    data = _to_bytes(fitted[0][VAEOutlierDetector])
    nan_offset = _rewrite(data, _set("fitted", "offset_", float("nan")))
    with pytest.raises(ValueError, match="NaN is not a JSON value"):
        _from_bytes(nan_offset)

    def nan_weight(header, payload):
        payload[0:8] = struct.pack("<d", float("nan"))

    with pytest.raises(ValueError, match="weights hold NaN"):
        _from_bytes(_rewrite(data, edit_payload=nan_weight))


def test_a_parameter_missing_from_the_file_takes_its_default(fitted):
    # A file from a version that had fewer parameters.
    original = fitted[0][VAETransformer]
    loaded = _from_bytes(_rewrite(_to_bytes(original), _set("params", "tol", KeyError)))
    assert loaded.tol == VAETransformer().tol
    _assert_same_outputs(original, loaded, fitted[1])


# -- what cannot be saved ------------------------------------------------------------


@pytest.mark.parametrize(
    "params, advice",
    [
        ({"callbacks": [Callback()]}, r"set_params\(callbacks=None\)"),
        ({"random_state": np.random.RandomState(0)}, "Use an int seed"),
    ],
)
def test_parameters_that_are_not_plain_values_are_refused(params, advice, fitted):
    estimator = VAETransformer(**{**FAST, **params}).fit(fitted[1])
    name = next(iter(params))
    with pytest.raises(
        ValueError, match=f"Cannot save VAETransformer: {name}=.*{advice}"
    ):
        _to_bytes(estimator)
    # What the message advises works, and predictions stay the same.
    estimator.set_params(**{name: 0 if name == "random_state" else None})
    _assert_same_outputs(estimator, _from_bytes(_to_bytes(estimator)), fitted[1])


def test_tuples_and_numpy_scalars_in_parameters(fitted):
    estimator = VAETransformer(
        hidden_layer_sizes=(np.int64(7), 5), beta=np.float32(0.5), **FAST
    ).fit(fitted[1])
    loaded = _from_bytes(_to_bytes(estimator))
    assert loaded.hidden_layer_sizes == (7, 5)
    assert loaded.beta == 0.5
    _assert_same_outputs(estimator, loaded, fitted[1])


def test_unknown_fitted_attribute_is_not_silently_dropped(fitted):
    estimator = _from_bytes(_to_bytes(fitted[0][VAETransformer]))
    estimator.calibration_ = 3
    with pytest.raises(ValueError, match="'calibration_'. Add it to FITTED_ATTRIBUTES"):
        _to_bytes(estimator)
    assert "calibration_" not in FITTED_ATTRIBUTES


def test_network_parameters_changed_after_fit_are_refused(fitted):
    estimator = _from_bytes(_to_bytes(fitted[0][VAETransformer]))
    estimator.set_params(activation="tanh")
    with pytest.raises(ValueError, match="changed after fit"):
        _to_bytes(estimator)


def test_unfitted_estimators_cannot_be_saved():
    with pytest.raises(NotFittedError):
        _to_bytes(VAETransformer())
    with pytest.raises(TypeError, match="not PCA"):
        from sklearn.decomposition import PCA

        _to_bytes(PCA().fit(np.eye(3)))


# -- devices -----------------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_model_saved_for_a_gpu_loads_on_a_cpu_only_machine(device, fitted):
    # Simulated: no GPU here. The weights in a file are device-free bytes (save
    # copies them to the CPU); what a GPU-trained model adds is its device
    # parameter, which is what this sets.
    original = fitted[0][VAEOutlierDetector]
    on_gpu = _from_bytes(_to_bytes(original)).set_params(device=device)
    data = _to_bytes(on_gpu)
    with pytest.warns(UserWarning, match=f"device='{device}'.*no CUDA GPU"):
        loaded = _from_bytes(data)
    assert loaded.device == "cpu"
    assert loaded.net_.device == torch.device("cpu")
    _assert_same_outputs(original, loaded, fitted[1])
    loaded.fit(fitted[1])  # refits on the CPU


# -- pickle and joblib ---------------------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "dumps, loads",
    [
        (pickle.dumps, pickle.loads),
        (
            lambda e: (joblib.dump(e, buffer := io.BytesIO()), buffer.getvalue())[1],
            lambda b: joblib.load(io.BytesIO(b)),
        ),
    ],
    ids=["pickle", "joblib"],
)
def test_pickle_and_joblib_round_trips(Estimator, dumps, loads, fitted):
    original = fitted[0][Estimator]
    restored = loads(dumps(original))
    _assert_same_outputs(original, restored, fitted[1])
    assert restored.get_params() == original.get_params()
    # A model read by skvae.load pickles like any other.
    _assert_same_outputs(
        original, loads(dumps(_from_bytes(_to_bytes(original)))), fitted[1]
    )
    restored.fit(fitted[1])
