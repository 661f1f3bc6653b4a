"""skvae.save / skvae.load, pickle and skops for models fitted on tables with
categorical columns and missing cells."""

import io
import json
import pickle
import struct

import numpy as np
import pytest

import skvae
from skvae import VAEOutlierDetector, VAETransformer

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def table():
    rng = np.random.RandomState(0)
    n = 60
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n) * 3 + 1,
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
            "size": rng.choice(["S", "L"], n).astype(object),
            "count": rng.randint(0, 5, n),
        }
    )
    frame.loc[::7, "a"] = np.nan
    frame.loc[::5, "colour"] = np.nan
    frame.loc[3::9, "size"] = None
    return frame


def _round_trip(estimator):
    buffer = io.BytesIO()
    skvae.save(estimator, buffer)
    return buffer.getvalue(), skvae.load(io.BytesIO(buffer.getvalue()))


def _edit_fitted(data, edit):
    (n,) = struct.unpack_from("<Q", data)
    header = json.loads(data[8 : 8 + n])
    part = json.loads(header["__metadata__"]["skvae"])
    edit(part["fitted"])
    header["__metadata__"]["skvae"] = json.dumps(part)
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data[8 + n :]


def test_transformer_table_round_trip_is_bit_identical(table):
    vae = VAETransformer(max_epochs=3, random_state=0).fit(table)
    assert vae.module_layout_["cardinalities"] == (3, 2)
    assert vae.module_layout_["missing_input"]
    _, loaded = _round_trip(vae)
    assert [c.tolist() for c in loaded.table_encoder_.categories_] == [
        c.tolist() for c in vae.table_encoder_.categories_
    ]
    assert loaded.module_layout_ == vae.module_layout_
    Z = vae.transform(table)
    np.testing.assert_array_equal(loaded.transform(table), Z)
    np.testing.assert_array_equal(
        loaded.reconstruction_error(table, per_feature=True),
        vae.reconstruction_error(table, per_feature=True),
    )
    expected = vae.inverse_transform(Z)
    assert expected.dtype == object
    assert (loaded.inverse_transform(Z) == expected).all()
    # As a DataFrame: the original names, dtypes and categories come back.
    vae.set_output(transform="pandas")
    _, loaded = _round_trip(vae)
    pd.testing.assert_frame_equal(loaded.inverse_transform(Z), vae.inverse_transform(Z))


@pytest.mark.parametrize("via", ["save", "pickle"])
def test_detector_table_round_trip_is_bit_identical(table, via):
    detector = VAEOutlierDetector(
        max_epochs=3, random_state=0, score_method="reconstruction_probability"
    ).fit(table)
    if via == "save":
        _, loaded = _round_trip(detector)
    else:
        loaded = pickle.loads(pickle.dumps(detector))
    np.testing.assert_array_equal(
        loaded.score_samples(table), detector.score_samples(table)
    )
    np.testing.assert_array_equal(loaded.predict(table), detector.predict(table))
    # Training goes on identically too.
    chunk = table.iloc[:20]
    np.testing.assert_array_equal(
        loaded.partial_fit(chunk).score_samples(table),
        detector.partial_fit(chunk).score_samples(table),
    )


def test_numeric_model_with_missing_cells_round_trip(table):
    X = table[["a", "b"]].to_numpy()
    detector = VAEOutlierDetector(max_epochs=3, random_state=0).fit(X)
    assert detector.table_encoder_ is None
    assert detector.module_layout_["missing_input"]
    _, loaded = _round_trip(detector)
    np.testing.assert_array_equal(loaded.score_samples(X), detector.score_samples(X))


@pytest.mark.parametrize(
    "edit",
    [
        lambda f: f["table_encoder_"].update(categories=[["red"], ["S", "L"]]),
        lambda f: f["table_encoder_"].update(categories=[[1.5, {"x": 1}], ["S"]]),
        lambda f: f["table_encoder_"].update(categories=[["a", "a", "b"], ["S", "L"]]),
        lambda f: f["table_encoder_"].update(scale=[1.0, 0.0, 1.0]),
        lambda f: f["table_encoder_"].update(mean=[1.0, "x", 1.0]),
        lambda f: f["table_encoder_"].update(is_categorical=[True] * 5),
        lambda f: f["table_encoder_"].update(dtypes=["no such dtype"] * 5),
        lambda f: f["table_encoder_"].update(column_names=["a"] * 5),
        lambda f: f["table_encoder_"].pop("missing_in_fit"),
        lambda f: f.update(table_encoder_=None),
        lambda f: f.update(table_encoder_=[1, 2]),
        lambda f: f["module_layout_"].update(cardinalities=[3, 3]),
        lambda f: f["module_layout_"].update(missing_input="yes"),
        lambda f: f["module_layout_"].update(n_features=-1),
        lambda f: f.pop("module_layout_"),
    ],
)
def test_malformed_table_state_raises_value_error(table, edit):
    vae = VAETransformer(max_epochs=1, random_state=0).fit(table)
    data, _ = _round_trip(vae)
    with pytest.raises(ValueError, match="Not a valid skvae model"):
        skvae.load(io.BytesIO(_edit_fitted(data, edit)))


def test_malformed_pickled_table_state_raises_value_error(table):
    vae = VAETransformer(max_epochs=1, random_state=0).fit(table)
    state = vae.__getstate__()
    assert isinstance(state["table_encoder_"], dict)  # plain values only
    state["table_encoder_"]["scale"] = [np.inf] * 3
    with pytest.raises(ValueError, match="table encoder scale"):
        VAETransformer().__setstate__(state)


def test_categories_json_cannot_hold_give_a_clear_save_error(table):
    frame = table.copy()
    frame["day"] = pd.Categorical(
        pd.to_datetime("2024-01-01") + pd.to_timedelta(np.arange(len(frame)) % 3, "D")
    )
    vae = VAETransformer(max_epochs=1, random_state=0).fit(frame)
    with pytest.raises(ValueError, match="categories .*astype\\(str\\)"):
        skvae.save(vae, io.BytesIO())
    # pickle still keeps them.
    again = pickle.loads(pickle.dumps(vae))
    np.testing.assert_array_equal(again.transform(frame), vae.transform(frame))


def test_table_pipeline_saved_with_skops(table, tmp_path):
    sio = pytest.importorskip("skops.io")
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(VAEOutlierDetector(max_epochs=3, random_state=0)).fit(table)
    path = tmp_path / "pipe.skops"
    sio.dump(pipe, path)
    trusted = skvae.SKOPS_TRUSTED + ["sklearn.pipeline.Pipeline"]
    assert set(sio.get_untrusted_types(file=path)) <= set(trusted)
    loaded = sio.load(path, trusted=trusted)
    np.testing.assert_array_equal(
        loaded.score_samples(table), pipe.score_samples(table)
    )
