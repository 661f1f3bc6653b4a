"""skvae.save / skvae.load on safetensors, pickle round trips, skops pipelines."""

import io
import json
import pickle
import struct

import numpy as np
import pytest

import skvae
from skvae import VAEOutlierDetector, VAETransformer

ESTIMATORS = [VAETransformer, VAEOutlierDetector]


def _bytes(estimator):
    buffer = io.BytesIO()
    skvae.save(estimator, buffer)
    return buffer.getvalue()


def _load(data):
    return skvae.load(io.BytesIO(data))


def _edit_metadata(data, edit):
    (n,) = struct.unpack_from("<Q", data)
    header = json.loads(data[8 : 8 + n])
    part = json.loads(header["__metadata__"]["skvae"])
    edit(part)
    header["__metadata__"]["skvae"] = json.dumps(part)
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data[8 + n :]


def _out(estimator, X):
    return (
        estimator.transform(X)
        if hasattr(estimator, "transform")
        else estimator.score_samples(X)
    )


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_save_load_then_partial_fit_is_bit_identical(Estimator, blobs):
    original = Estimator(max_epochs=4, random_state=0).fit(blobs)
    loaded = _load(_bytes(original))
    np.testing.assert_array_equal(_out(loaded, blobs), _out(original, blobs))
    for _ in range(3):
        original.partial_fit(blobs)
        loaded.partial_fit(blobs)
    np.testing.assert_array_equal(_out(loaded, blobs), _out(original, blobs))
    assert loaded.history_[:, "kl_weight"] == original.history_[:, "kl_weight"]
    a, b = original.net_.optimizer_, loaded.net_.optimizer_
    assert a.param_groups[0]["lr"] == b.param_groups[0]["lr"]
    assert float(a.state_dict()["state"][0]["step"]) == float(
        b.state_dict()["state"][0]["step"]
    )


def test_partial_fit_after_fit_uses_every_row_and_no_early_stopping(blobs):
    vae = VAETransformer(max_epochs=3, random_state=0, early_stopping=True)
    vae.fit(blobs)
    assert vae.net_.train_split is not None
    vae.partial_fit(blobs)
    assert vae.net_.train_split is None
    assert "early_stopping" not in dict(vae.net_.callbacks_)
    assert "valid_loss" not in vae.history_[-1]


def test_pickle_round_trip_keeps_outputs(blobs):
    vae = VAEOutlierDetector(max_epochs=3, random_state=0).fit(blobs)
    again = pickle.loads(pickle.dumps(vae))
    np.testing.assert_array_equal(again.score_samples(blobs), vae.score_samples(blobs))
    assert hasattr(vae, "net_") and hasattr(vae, "history_")  # save left it intact


def test_pipeline_saved_with_skops(blobs, tmp_path):
    sio = pytest.importorskip("skops.io")
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    pipe = make_pipeline(
        ColumnTransformer(
            [("a", MinMaxScaler(), [0, 1, 2]), ("b", "passthrough", [3, 4, 5])]
        ),
        StandardScaler(),
        VAEOutlierDetector(max_epochs=3, random_state=0),
    ).fit(blobs)
    path = tmp_path / "pipe.skops"
    sio.dump(pipe, path)
    loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    np.testing.assert_array_equal(
        loaded.score_samples(blobs), pipe.score_samples(blobs)
    )


@pytest.mark.parametrize(
    "edit",
    [
        lambda p: p["fitted"].update(seed_=2**70),
        lambda p: p["params"].update(callbacks=["x"]),
        lambda p: p["params"].update(device="meta"),
        lambda p: p["params"].update(device="mps"),
        lambda p: p["params"].update(n_draws=10**8),
        lambda p: p["fitted"].update(hidden_layer_sizes_=[10**12]),
        lambda p: p["fitted"].update(hidden_layer_sizes_=[1] * 100_000),
        lambda p: p["fitted"].update(hidden_layer_sizes_=[1.5]),
        lambda p: p["fitted"].update(feature_names_in_=[["a"]] * 6),
    ],
)
def test_malformed_files_raise_value_error(edit, blobs):
    data = _bytes(VAEOutlierDetector(max_epochs=2, random_state=0).fit(blobs))
    with pytest.raises(ValueError, match="Not a valid skvae model"):
        _load(_edit_metadata(data, edit))


def test_signature_checked_before_reading(blobs):
    with pytest.raises(ValueError, match="header length"):
        _load(struct.pack("<Q", 2**40) + b"\0" * 100)
    with pytest.raises(ValueError, match="pickle"):
        _load(pickle.dumps([1, 2]))
    data = _bytes(VAETransformer(max_epochs=2, random_state=0).fit(blobs))
    with pytest.raises(ValueError, match="SHA-256|tensor data"):
        _load(data[:-1] + bytes([data[-1] ^ 1]))
