"""skvae.save / skvae.load on safetensors, pickle round trips, skops pipelines."""

import io
import json
import pickle
import struct

import numpy as np
import pytest
from _skvae_files import edit_metadata

import skvae
from skvae import VAEOutlierDetector, VAETransformer

ESTIMATORS = [VAETransformer, VAEOutlierDetector]


def _bytes(estimator):
    buffer = io.BytesIO()
    skvae.save(estimator, buffer)
    return buffer.getvalue()


def _load(data):
    return skvae.load(io.BytesIO(data))


def _out(estimator, X):
    return (
        estimator.transform(X)
        if hasattr(estimator, "transform")
        else estimator.score_samples(X)
    )


def _training_state(estimator):
    """Everything that decides how ``partial_fit`` goes on, as plain values."""
    net = estimator.net_
    optimizer = net.optimizer_.state_dict()
    scheduler = dict(net.callbacks_)["lr_scheduler"].lr_scheduler_.state_dict()
    return {
        "module": {k: v.numpy() for k, v in net.module_.state_dict().items()},
        "adam": [
            {k: v.numpy() for k, v in entry.items()}
            for entry in optimizer["state"].values()
        ],
        "param_groups": optimizer["param_groups"],
        "scheduler": scheduler,
        "generators": [
            net.iterator_train__generator.get_state().numpy(),
            net.module_.generator.get_state().numpy(),
        ],
        "history": [
            {k: v for k, v in row.items() if k != "dur"} for row in estimator.history_
        ],
    }


def _assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("pickled_first", [False, True])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_save_load_then_partial_fit_is_bit_identical(Estimator, pickled_first, blobs):
    # Learned noise variances and a trimmed likelihood, so the module's buffers
    # (feature_var, running_noise_var) and trim_fraction matter.
    # A KL warm-up (the transformer's default has none) shows that the annealing's
    # epoch count survives too.
    warm_up = dict(kl_warmup_epochs=10) if Estimator is VAETransformer else {}
    original = Estimator(
        max_epochs=4,
        noise_model="feature",
        trim_fraction=0.1,
        random_state=0,
        **warm_up,
    ).fit(blobs)
    if pickled_first:
        # Pickling must neither change nor share the original's training state.
        unpickled = pickle.loads(pickle.dumps(original))
    loaded = _load(_bytes(original))
    copies = [loaded, unpickled] if pickled_first else [loaded]
    for copy in copies:
        np.testing.assert_array_equal(_out(copy, blobs), _out(original, blobs))
    for _ in range(3):
        for estimator in [original, *copies]:
            estimator.partial_fit(blobs)
    expected = _training_state(original)
    n_steps = sum(row["train_batch_count"] for row in expected["history"])
    assert expected["adam"][0]["step"] == n_steps  # Adam did not restart
    ramp = [0.4, 0.5, 0.6] if Estimator is VAETransformer else [1.0] * 3
    assert [row["kl_weight"] for row in expected["history"]][-3:] == pytest.approx(
        [weight * original.beta for weight in ramp]
    )
    assert all("event_lr" in row for row in expected["history"])
    for copy in copies:
        np.testing.assert_array_equal(_out(copy, blobs), _out(original, blobs))
        _assert_same(_training_state(copy), expected)
        assert copy.noise_model_ == original.noise_model_
        assert copy.net_.module_.noise_model == original.net_.module_.noise_model
        assert copy.net_.module_.trim_fraction == original.trim_fraction


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
    # Trusted by name, never everything the file asks for.
    trusted = skvae.SKOPS_TRUSTED + [
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.MinMaxScaler",
        "sklearn.preprocessing._data.StandardScaler",
    ]
    assert set(sio.get_untrusted_types(file=path)) <= set(trusted)
    loaded = sio.load(path, trusted=trusted)
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
        _load(edit_metadata(data, edit))


def test_signature_checked_before_reading(blobs):
    with pytest.raises(ValueError, match="header length"):
        _load(struct.pack("<Q", 2**40) + b"\0" * 100)
    with pytest.raises(ValueError, match="pickle"):
        _load(pickle.dumps([1, 2]))
    data = _bytes(VAETransformer(max_epochs=2, random_state=0).fit(blobs))
    with pytest.raises(ValueError, match="SHA-256|tensor data"):
        _load(data[:-1] + bytes([data[-1] ^ 1]))


@pytest.mark.parametrize(
    "edit",
    [
        lambda h, name: h[name].update(shape=[float(s) for s in h[name]["shape"]]),
        lambda h, name: h[name].update(dtype="F16"),
        lambda h, name: h[name].update(data_offsets=[0, 10**15]),
        lambda h, name: h.update({"module.extra": dict(h[name])}),
    ],
    ids=["float shape", "dtype", "offsets", "extra tensor"],
)
def test_malformed_tensor_headers_raise_value_error(edit, blobs):
    data = _bytes(VAETransformer(max_epochs=2, random_state=0).fit(blobs))
    (n,) = struct.unpack_from("<Q", data)
    header = json.loads(data[8 : 8 + n])
    edit(header, next(k for k in header if k.startswith("module.")))
    raw = json.dumps(header).encode()
    with pytest.raises(ValueError, match="Not a valid skvae model"):
        _load(struct.pack("<Q", len(raw)) + raw + data[8 + n :])


def test_a_header_length_starting_with_a_pickle_opcode_still_loads(blobs):
    # 0x80 opens every pickle, and is the first byte of a header 128 bytes long
    # modulo 256: such a file must load, not be taken for a pickle.
    vae = VAETransformer(max_epochs=2, random_state=0).fit(blobs)
    data = _bytes(vae)
    (n,) = struct.unpack_from("<Q", data)
    padding = (0x80 - n) % 256 or 256
    raw = data[8 : 8 + n] + b" " * padding  # JSON allows trailing spaces
    padded = struct.pack("<Q", len(raw)) + raw + data[8 + n :]
    assert padded[:1] == b"\x80"
    np.testing.assert_array_equal(_load(padded).transform(blobs), vae.transform(blobs))


def test_files_from_before_linear_paths_load_without_one(blobs):
    # skvae 0.1 wrote no linear_path parameter and had no linear path; the
    # transformer's default is now True.
    old = VAETransformer(linear_path=False, max_epochs=2, random_state=0).fit(blobs)

    def drop_linear_path(part):
        del part["params"]["linear_path"]

    loaded = _load(edit_metadata(_bytes(old), drop_linear_path))
    assert loaded.linear_path is False
    np.testing.assert_array_equal(_out(loaded, blobs), _out(old, blobs))
