"""ONNX export (skvae.onnx): onnxruntime's outputs against the estimators' own."""

from functools import cache
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from skl2onnx import to_onnx  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402
from torch import nn  # noqa: E402

import skvae.onnx  # noqa: E402
from skvae import VAEOutlierDetector, VAETransformer  # noqa: E402
from skvae._module import ACTIVATIONS  # noqa: E402
from skvae.datasets import make_anomaly_data  # noqa: E402

DONORS = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
DONORS = DONORS / "adbench" / "11_donors.npz"
DTYPES = [np.float32, np.float64]
SCORE_METHODS = ["elbo", "reconstruction", "reconstruction_probability"]
ALL_OUTPUTS = {VAEOutlierDetector: {"score_samples": True}}
RTOL = 1e-5


def session(onx):
    return ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )


def run(model, X, options=None):
    """Convert ``model`` for ``X``'s dtype and run it on ``X`` in onnxruntime."""
    outputs = session(to_onnx(model, X[:1], options=options)).run(None, {"X": X})
    return [output[:, 0] if output.shape[1:] == (1,) else output for output in outputs]


@cache
def data(dtype=np.float64):
    X, _ = make_anomaly_data(n_samples=600, n_features=8, random_state=0)
    return X.astype(dtype)


@cache
def fitted_detector(score_method, dtype, scaler):
    """A pipeline of ``scaler`` (or None) and a detector, fitted on ``dtype`` data."""
    detector = VAEOutlierDetector(
        score_method=score_method, n_draws=8, max_epochs=10, random_state=0
    )
    steps = [detector] if scaler is None else [scaler(), detector]
    return make_pipeline(*steps).fit(data(dtype))


def assert_close(actual, expected):
    """Within ``RTOL`` relative, and ``RTOL`` of the largest value absolute: ELBO
    scores cross 0, where float32 rounding of terms of size 1 leaves no relative
    precision (a score of -0.04 computed in float32 is off by about 5e-7)."""
    np.testing.assert_allclose(
        actual, expected, rtol=RTOL, atol=RTOL * np.abs(expected).max()
    )


def assert_labels_equal(labels, expected, decision):
    # A row whose decision is within rounding of 0 may fall on either side.
    clear = np.abs(decision) > RTOL * np.abs(decision).max()
    np.testing.assert_array_equal(labels[clear], expected[clear])


detector_cases = pytest.mark.parametrize(
    "score_method, dtype, scaler",
    [(method, dtype, None) for method in SCORE_METHODS for dtype in DTYPES]
    + [("elbo", np.float32, StandardScaler), ("elbo", np.float32, MinMaxScaler)],
)


@detector_cases
def test_detector_score_samples_match(score_method, dtype, scaler):
    pipe = fitted_detector(score_method, dtype, scaler)
    X = data(dtype)
    _, _, score_samples = run(pipe, X, ALL_OUTPUTS)
    assert score_samples.dtype == dtype
    assert_close(score_samples, pipe.score_samples(X))


@detector_cases
def test_detector_decision_function_matches(score_method, dtype, scaler):
    pipe = fitted_detector(score_method, dtype, scaler)
    X = data(dtype)
    _, scores = run(pipe, X)
    expected = pipe.decision_function(X)
    assert scores.dtype == dtype
    # decision_function is score_samples minus a constant: compare on the scale of
    # the scores, whose relative error is what rounding bounds.
    atol = RTOL * np.abs(pipe.score_samples(X)).max()
    np.testing.assert_allclose(scores, expected, rtol=RTOL, atol=atol)


@detector_cases
def test_detector_predict_labels_match(score_method, dtype, scaler):
    pipe = fitted_detector(score_method, dtype, scaler)
    X = data(dtype)
    labels, scores = run(pipe, X)
    assert labels.dtype == np.int64
    assert set(np.unique(labels)) == {-1, 1}
    assert_labels_equal(labels, pipe.predict(X), scores)


@pytest.mark.parametrize("fit_dtype, input_dtype", [(np.float32, np.float64)])
def test_input_in_another_dtype_than_the_network(fit_dtype, input_dtype):
    pipe = fitted_detector("elbo", fit_dtype, None)
    X = data(input_dtype)
    _, _, score_samples = run(pipe, X, ALL_OUTPUTS)
    assert score_samples.dtype == input_dtype
    # skvae computes in the network's float32 and returns float64: so does the graph.
    assert_close(score_samples, pipe.score_samples(X))


def test_output_names_and_types_follow_isolation_forest():
    pipe = fitted_detector("elbo", np.float32, StandardScaler)
    X = data(np.float32)
    outputs = session(to_onnx(pipe, X[:1])).get_outputs()
    assert [(o.name, o.type, o.shape[1]) for o in outputs] == [
        ("label", "tensor(int64)", 1),
        ("scores", "tensor(float)", 1),
    ]
    outputs = session(to_onnx(pipe, X[:1], options=ALL_OUTPUTS)).get_outputs()
    assert [o.name for o in outputs] == ["label", "scores", "score_samples"]


def test_graph_takes_the_threshold_at_conversion_time():
    pipe = fitted_detector("elbo", np.float64, None)
    X = data()
    detector = pipe[-1]
    offset = detector.offset_
    try:
        detector.offset_ = offset + 1.0
        _, scores = run(pipe, X)
        np.testing.assert_allclose(scores, pipe.decision_function(X), rtol=1e-12)
    finally:
        detector.offset_ = offset


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scaler", [None, StandardScaler, MinMaxScaler])
def test_transformer_transform_matches(dtype, scaler):
    X = data(dtype)
    vae = VAETransformer(n_components=3, max_epochs=10, random_state=0)
    pipe = make_pipeline(*([vae] if scaler is None else [scaler(), vae])).fit(X)
    (Z,) = run(pipe, X)
    assert Z.dtype == dtype and Z.shape == (len(X), 3)
    expected = pipe.transform(X)
    assert_close(Z, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_transformer_inverse_transform_matches(dtype):
    X = data(dtype)
    vae = VAETransformer(n_components=3, max_epochs=10, random_state=0).fit(X)
    Z = vae.transform(X)
    onx = skvae.onnx.inverse_transform_to_onnx(vae, dtype=dtype)
    (X_back,) = session(onx).run(None, {"X": Z})
    expected = vae.inverse_transform(Z)
    assert X_back.dtype == dtype and X_back.shape == X.shape
    assert_close(X_back, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_layer_kind_converts(activation, dtype):
    X = data(dtype)
    detector = VAEOutlierDetector(
        activation=activation,
        batch_norm=True,
        dropout=0.1,
        hidden_layer_sizes=(12, 6),
        max_epochs=3,
        random_state=0,
    ).fit(X)
    _, _, score_samples = run(detector, X, ALL_OUTPUTS)
    assert_close(score_samples, detector.score_samples(X))


def test_unknown_layer_is_refused_with_the_supported_list():
    detector = VAEOutlierDetector(max_epochs=1, random_state=0).fit(data())
    detector.net_.module_.encoder.append(nn.Softplus())
    with pytest.raises(NotImplementedError, match="cannot convert the layer Softplus"):
        to_onnx(detector, data()[:1])


@pytest.mark.skipif(not DONORS.exists(), reason="ADBench data not found")
@pytest.mark.parametrize("score_method", SCORE_METHODS)
def test_pipeline_matches_on_donors(score_method):
    """Real data: a 6,000-row sample of ADBench's 11_donors, float32."""
    with np.load(DONORS) as archive:
        X = archive["X"][::100].astype(np.float32)
    pipe = make_pipeline(
        StandardScaler(),
        VAEOutlierDetector(
            score_method=score_method, n_draws=8, contamination=0.06, random_state=0
        ),
    ).fit(X)
    labels, scores, score_samples = run(pipe, X, ALL_OUTPUTS)
    expected = pipe.score_samples(X)
    assert_close(score_samples, expected)
    np.testing.assert_allclose(
        scores,
        pipe.decision_function(X),
        rtol=RTOL,
        atol=RTOL * np.abs(expected).max(),
    )
    assert_labels_equal(labels, pipe.predict(X), scores)


def test_table_models_are_refused_rather_than_exported_wrongly():
    pd = pytest.importorskip("pandas")
    from skvae import VAEOutlierDetector

    rng = np.random.RandomState(0)
    table = pd.DataFrame(
        {
            "size": rng.normal(size=120),
            "colour": pd.Categorical(rng.choice(["red", "blue"], size=120)),
        }
    )
    from skl2onnx.common.data_types import DoubleTensorType

    with_gaps = rng.normal(size=(120, 3))
    with_gaps[::7, 1] = np.nan
    for X in (table, with_gaps):
        detector = VAEOutlierDetector(max_epochs=2, random_state=0).fit(X)
        with pytest.raises(NotImplementedError, match="categorical columns or miss"):
            to_onnx(detector, initial_types=[("X", DoubleTensorType([None, 3]))])
