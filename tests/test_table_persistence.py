"""skvae.save / skvae.load, pickle and skops for models fitted on tables with
categorical columns and missing cells, and for VAEImputer."""

import io
import json
import pickle
import struct

import numpy as np
import pytest
from _skvae_files import edit_metadata

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
    return edit_metadata(data, lambda part: edit(part["fitted"]))


def test_transformer_table_round_trip_is_bit_identical(table):
    vae = VAETransformer(max_epochs=3, random_state=0).fit(table)
    assert vae.module_layout_.cardinalities == (3, 2)
    assert vae.module_layout_.missing_input
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
    assert detector.module_layout_.missing_input
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


# -- VAEImputer ----------------------------------------------------------------


def _metadata(data):
    (n,) = struct.unpack_from("<Q", data)
    return json.loads(json.loads(data[8 : 8 + n])["__metadata__"]["skvae"])


@pytest.fixture(scope="module")
def numeric_holes():
    rng = np.random.RandomState(1)
    z = rng.normal(size=(80, 1))
    X = np.hstack([z, 2 * z, -z]) + 0.1 * rng.normal(size=(80, 3))
    X[rng.rand(*X.shape) < 0.2] = np.nan
    return X


def _assert_same_output(a, b):
    if hasattr(a, "columns"):
        pd.testing.assert_frame_equal(a, b)
    else:
        assert a.dtype == b.dtype and a.shape == b.shape
        # Object arrays (categorical columns) compare element by element; the
        # imputed output holds no NaN, so == is exact equality.
        assert (a == b).all()


@pytest.mark.parametrize("via", ["save", "pickle"])
@pytest.mark.parametrize("data", ["numeric", "table"])
def test_imputer_round_trip_is_bit_identical(table, numeric_holes, data, via):
    X = numeric_holes if data == "numeric" else table
    imputer = skvae.VAEImputer(max_epochs=3, add_indicator=True, random_state=0)
    imputer.fit(X)
    expected = imputer.transform(X)
    assert not pd.isna(expected).any()
    if via == "save":
        raw, loaded = _round_trip(imputer)
        # NaN is no JSON value: the placeholder is stored as a tagged float.
        assert _metadata(raw)["params"]["missing_values"] == {"float": "nan"}
    else:
        loaded = pickle.loads(pickle.dumps(imputer))
    assert isinstance(loaded, skvae.VAEImputer)
    assert np.isnan(loaded.missing_values)
    np.testing.assert_array_equal(loaded.missing_features_, imputer.missing_features_)
    _assert_same_output(loaded.transform(X), expected)
    if data == "table":
        imputer.set_output(transform="pandas")
        _, loaded = _round_trip(imputer)
        frame = loaded.transform(X)
        assert list(frame.columns) == list(imputer.get_feature_names_out())
        assert frame["colour"].dtype == table["colour"].dtype
        _assert_same_output(frame, imputer.transform(X))


def test_imputer_with_a_placeholder_round_trip(numeric_holes):
    X = np.where(np.isnan(numeric_holes), -1.0, numeric_holes)
    imputer = skvae.VAEImputer(missing_values=-1.0, max_epochs=3, random_state=0)
    raw, loaded = _round_trip(imputer.fit(X))
    assert _metadata(raw)["params"]["missing_values"] == -1.0
    assert loaded.missing_values == -1.0
    np.testing.assert_array_equal(loaded.transform(X), imputer.transform(X))
    assert not (loaded.transform(X) == -1.0).any()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda p: p["params"].update(missing_values={"float": "NaN!"}), "only obj"),
        (
            lambda p: p["params"].update(missing_values={"float": "nan", "x": 1}),
            "only obj",
        ),
        (lambda p: p["params"].update(n_iter={"float": "inf"}), "n_iter"),
        (lambda p: p["params"].update(missing_values=[1.0]), "missing_values"),
        (lambda p: p["fitted"].update(missing_features_=[7]), "missing_features_"),
        (lambda p: p["fitted"].update(missing_features_=[1, 0]), "missing_features_"),
        (lambda p: p["fitted"].update(missing_features_=[0.5]), "missing_features_"),
        (lambda p: p["fitted"].update(missing_features_="0"), "missing_features_"),
        (lambda p: p["fitted"].pop("missing_features_"), "missing_features_"),
    ],
)
def test_malformed_imputer_file_raises_value_error(numeric_holes, edit, message):
    imputer = skvae.VAEImputer(max_epochs=1, random_state=0).fit(numeric_holes)
    data, _ = _round_trip(imputer)
    with pytest.raises(ValueError, match=f"Not a valid skvae model file.*{message}"):
        skvae.load(io.BytesIO(edit_metadata(data, edit)))


def test_malformed_pickled_imputer_state_raises_value_error(numeric_holes):
    imputer = skvae.VAEImputer(max_epochs=1, random_state=0).fit(numeric_holes)
    state = imputer.__getstate__()
    state["missing_features_"] = np.array([0, 3])  # 3 columns: 3 is out of range
    with pytest.raises(ValueError, match="missing_features_ must be increasing"):
        skvae.VAEImputer().__setstate__(state)


@pytest.mark.parametrize("data", ["numeric", "table"])
def test_imputer_pipeline_saved_with_skops(table, numeric_holes, data, tmp_path):
    sio = pytest.importorskip("skops.io")
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    imputer = skvae.VAEImputer(max_epochs=3, random_state=0)
    trusted = skvae.SKOPS_TRUSTED + ["sklearn.pipeline.Pipeline"]
    if data == "numeric":
        X = numeric_holes
        pipe = make_pipeline(imputer, LinearRegression())
        pipe.fit(X, np.nan_to_num(X[:, 0]))
        trusted.append("sklearn.linear_model._base.LinearRegression")
        output = pipe.predict
    else:
        X = table
        pipe = make_pipeline(imputer).fit(X)
        output = pipe.transform
    path = tmp_path / "pipe.skops"
    sio.dump(pipe, path)
    assert "skvae._imputer.VAEImputer" in skvae.SKOPS_TRUSTED
    assert set(sio.get_untrusted_types(file=path)) <= set(trusted)
    loaded = sio.load(path, trusted=trusted)
    assert np.isnan(loaded[0].missing_values)
    _assert_same_output(getattr(loaded, output.__name__)(X), output(X))
