"""Bad input gets a clear error, never a crash inside torch or a NaN model."""

import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skvae import TrainingDivergedError, VAEOutlierDetector, VAETransformer

ESTIMATORS = [VAETransformer, VAEOutlierDetector]
X_OK = np.random.RandomState(0).normal(size=(30, 4))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_inf_is_rejected_by_name(Estimator):
    # NaN is a missing cell (tests/test_tabular.py); infinity stays an error.
    word = "infinity"
    X = X_OK.copy()
    X[3, 1] = np.inf
    with pytest.raises(ValueError, match=word):
        Estimator(max_epochs=1).fit(X)
    fitted = Estimator(max_epochs=1, random_state=0).fit(X_OK)
    method = fitted.transform if hasattr(fitted, "transform") else fitted.score_samples
    with pytest.raises(ValueError, match=word):
        method(X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_sparse_input_gets_a_type_error(Estimator):
    with pytest.raises(TypeError, match="[Ss]parse"):
        Estimator(max_epochs=1).fit(sp.csr_matrix(X_OK))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_wrong_feature_count_after_fit(Estimator):
    fitted = Estimator(max_epochs=1, random_state=0).fit(X_OK)
    methods = ["score"] + [
        m for m in ("transform", "score_samples", "predict") if hasattr(fitted, m)
    ]
    for method in methods:
        with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 4"):
            getattr(fitted, method)(X_OK[:, :3])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_diverging_training_raises_and_keeps_no_model(Estimator):
    X = np.full((40, 3), 1e200)
    X[::2] *= -1
    estimator = Estimator(max_epochs=3, random_state=0)
    with pytest.raises(
        TrainingDivergedError, match="epoch 1.*Scale the input.*lower `lr`"
    ):
        estimator.fit(X)
    with pytest.raises(NotFittedError):
        estimator.score(X_OK)


@pytest.mark.filterwarnings("ignore:The train loss grew")
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_too_large_learning_rate_never_leaves_a_nan_model(Estimator):
    estimator = Estimator(lr=1e12, max_epochs=5, kl_warmup_epochs=0, random_state=0)
    try:
        estimator.fit(X_OK * 1e3)
    except TrainingDivergedError as error:
        assert "lower `lr`" in str(error)
    else:
        assert np.isfinite(estimator.score(X_OK * 1e3))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "params",
    [
        {"beta": -1.0},
        {"n_components": 0},
        {"hidden_layer_sizes": ()},
        {"hidden_layer_sizes": (8, 0)},
        {"activation": "swish"},
        {"lr": 0.0},
        {"dropout": 1.0},
        {"batch_size": 0},
    ],
)
def test_invalid_hyper_parameters(Estimator, params):
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        Estimator(**params).fit(X_OK)


@pytest.mark.parametrize("contamination", [0.0, -0.1, 0.51, 1.0])
def test_contamination_outside_its_range(contamination):
    with pytest.raises(
        InvalidParameterError, match=r"contamination.*\(0(\.0)?, 0\.5\]"
    ):
        VAEOutlierDetector(contamination=contamination).fit(X_OK)


@pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="checks the no-GPU message"
)
def test_cuda_without_a_gpu_says_what_to_do():
    with pytest.raises(ValueError, match="no CUDA GPU.*device='cpu'"):
        VAETransformer(device="cuda").fit(X_OK)


def test_unknown_device_string():
    with pytest.raises(ValueError, match="not a torch device"):
        VAETransformer(device="gpu0").fit(X_OK)


def test_extreme_input_at_inference_raises_instead_of_returning_inf():
    fitted = VAEOutlierDetector(max_epochs=2, random_state=0).fit(X_OK)
    with pytest.raises(ValueError, match="NaN or infinite"):
        fitted.score_samples(np.full((2, 4), 1e300))


def _outputs(fitted, X):
    """Every inference method's output on ``X``."""
    names = ["transform", "score_samples", "decision_function", "predict"]
    outputs = {
        name: getattr(fitted, name)(X) for name in names if hasattr(fitted, name)
    }
    if hasattr(fitted, "inverse_transform"):
        outputs["inverse_transform"] = fitted.inverse_transform(outputs["transform"])
    outputs["score"] = np.array([fitted.score(X)])
    return outputs


def _assert_finite_outputs(fitted, X):
    for name, out in _outputs(fitted, X).items():
        assert np.all(np.isfinite(out)), name
        if name != "score":
            assert len(out) == len(X), name


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_sparse_input_at_inference_gets_a_type_error(Estimator):
    fitted = Estimator(max_epochs=1, random_state=0).fit(X_OK)
    method = fitted.transform if hasattr(fitted, "transform") else fitted.score_samples
    with pytest.raises(TypeError, match="[Ss]parse"):
        method(sp.csr_matrix(X_OK))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "X",
    [
        np.array([["a", "b"], ["c", "d"], ["e", "f"]]),
        np.array([[1.0, "x"], [2.0, "y"], [3.0, "z"]], dtype=object),
    ],
    ids=["str", "object"],
)
def test_text_input_says_to_encode_it(Estimator, X):
    # DataFrame string and category columns are categorical by default
    # (tests/test_tabular.py); named numeric, they get the hint.
    with pytest.raises(ValueError, match="numbers only.*OneHotEncoder"):
        Estimator(max_epochs=1, categorical_features=None).fit(X)
    fitted = Estimator(max_epochs=1, random_state=0).fit(X_OK[:, :2])
    method = fitted.transform if hasattr(fitted, "transform") else fitted.score_samples
    with pytest.raises(ValueError, match="numbers only.*OneHotEncoder"):
        method(X)


def test_text_in_inverse_transform_says_to_encode_it():
    fitted = VAETransformer(max_epochs=1, random_state=0).fit(X_OK)
    with pytest.raises(ValueError, match="numbers only"):
        fitted.inverse_transform([["a", "b"]])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_numeric_strings_and_object_arrays_of_numbers_are_numbers(Estimator):
    fitted = Estimator(max_epochs=1, random_state=0).fit(X_OK)
    as_text = X_OK.astype(str)
    for X in (as_text, X_OK.astype(object)):
        for name, out in _outputs(fitted, X).items():
            np.testing.assert_array_equal(out, _outputs(fitted, X_OK)[name])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_pandas_categorical_columns(Estimator):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X_OK[:, :2], columns=["a", "b"])
    frame["c"] = pd.Categorical(np.where(X_OK[:, 2] > 0, "up", "down"))
    fitted = Estimator(max_epochs=1, random_state=0).fit(frame)
    assert fitted.table_encoder_.categories_[0].tolist() == ["down", "up"]
    with pytest.raises(ValueError, match="numbers only.*categorical_features"):
        Estimator(max_epochs=1, categorical_features=None).fit(frame)
    # With categorical_features=None, categories that are numbers are numbers.
    frame["c"] = pd.Categorical(np.where(X_OK[:, 2] > 0, 1.0, 0.0))
    fitted = Estimator(max_epochs=1, random_state=0, categorical_features=None)
    fitted.fit(frame)
    assert fitted.table_encoder_ is None
    assert list(fitted.feature_names_in_) == ["a", "b", "c"]
    _assert_finite_outputs(fitted, frame)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_empty_input(Estimator):
    with pytest.raises(ValueError, match="0 sample"):
        Estimator(max_epochs=1).fit(np.empty((0, 4)))
    with pytest.raises(ValueError, match="0 feature"):
        Estimator(max_epochs=1).fit(np.empty((5, 0)))
    fitted = Estimator(max_epochs=1, random_state=0).fit(X_OK)
    for name in ("score_samples", "transform", "predict", "score"):
        if hasattr(fitted, name):
            with pytest.raises(ValueError, match="0 sample"):
                getattr(fitted, name)(np.empty((0, 4)))
    if hasattr(fitted, "inverse_transform"):
        with pytest.raises(ValueError, match="0 sample"):
            fitted.inverse_transform(np.empty((0, 2)))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_single_row(Estimator):
    fitted = Estimator(max_epochs=2, random_state=0).fit(X_OK[:1])
    _assert_finite_outputs(fitted, X_OK[:1])
    _assert_finite_outputs(fitted, X_OK)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "params",
    [{}, {"batch_size": 1}, {"validation_fraction": 0.9, "early_stopping": True}],
)
def test_batch_norm_with_one_row_per_batch_says_so(Estimator, params):
    X = (
        X_OK[:1]
        if not params
        else X_OK[:2]
        if "validation_fraction" in params
        else X_OK
    )
    with pytest.raises(ValueError, match="batch_norm=True needs at least 2 rows"):
        Estimator(batch_norm=True, max_epochs=1, **params).fit(X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_constant_columns_and_duplicated_rows(Estimator):
    X = X_OK.copy()
    X[:, 1] = 3.0
    X[:, 3] = 0.0
    fitted = Estimator(max_epochs=3, random_state=0).fit(X)
    _assert_finite_outputs(fitted, X)
    identical_rows = np.tile(X_OK[:1], (20, 1))
    fitted = Estimator(max_epochs=3, random_state=0).fit(identical_rows)
    _assert_finite_outputs(fitted, identical_rows)
    outputs = _outputs(fitted, identical_rows)
    for name in ("transform", "score_samples"):
        if name in outputs:
            assert np.all(outputs[name] == outputs[name][0])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_more_features_than_samples(Estimator):
    X = np.random.RandomState(1).normal(size=(5, 40))
    fitted = Estimator(max_epochs=3, random_state=0).fit(X)
    assert fitted.n_features_in_ == 40
    _assert_finite_outputs(fitted, X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_feature_names_must_match_at_inference(Estimator):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X_OK, columns=["a", "b", "c", "d"])
    fitted = Estimator(max_epochs=1, random_state=0).fit(frame)
    method = fitted.transform if hasattr(fitted, "transform") else fitted.predict
    with pytest.raises(ValueError, match="Feature names unseen at fit time:\n- z"):
        method(frame.rename(columns={"a": "z"}))
    with pytest.raises(ValueError, match="same order"):
        method(frame[["b", "a", "c", "d"]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        without_names = method(X_OK)
    np.testing.assert_array_equal(method(frame), without_names)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_list_of_lists_gives_what_the_array_gives(Estimator):
    fitted = Estimator(max_epochs=2, random_state=0).fit(X_OK.tolist())
    reference = Estimator(max_epochs=2, random_state=0).fit(X_OK)
    for name, out in _outputs(fitted, X_OK.tolist()).items():
        np.testing.assert_array_equal(out, _outputs(reference, X_OK)[name])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_last_step_that_breaks_the_weights_keeps_no_model(Estimator):
    # One batch per epoch: the loss is computed before the only step, so it is
    # finite, but a step this large makes the float32 weights infinite.
    X = X_OK[:8].astype(np.float32)
    estimator = Estimator(lr=1e39, max_epochs=1, early_stopping=False, random_state=0)
    with pytest.raises(
        TrainingDivergedError, match="weights became NaN or infinite in epoch 1"
    ):
        estimator.fit(X)
    with pytest.raises(NotFittedError):
        estimator.score(X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_score_of_huge_but_finite_errors_is_finite(Estimator):
    # Each sample's error (about 4e306) is finite, their sum is not: found by
    # tests/test_fuzz.py, where np.mean returned -inf.
    fitted = Estimator(max_epochs=1, random_state=0).fit(X_OK)
    X = np.full((60, 4), 1e153)
    X[::2] *= -1
    score = fitted.score(X)
    assert np.isfinite(score) and -1e307 < score < -1e306


def test_float32_output_that_overflows_says_so():
    # Fitted in float64 on large values, so offset_ is far below float32's range:
    # the decision values of float32 input do not fit in float32 (found by the fuzz).
    X = np.random.RandomState(0).normal(size=(30, 4)) * 1e22
    fitted = VAEOutlierDetector(max_epochs=1, random_state=0).fit(X)
    assert fitted.offset_ < -1e39
    X32 = X_OK.astype(np.float32)
    assert np.all(np.isfinite(fitted.score_samples(X32)))
    with pytest.raises(ValueError, match="does not fit in float32: pass X as float64"):
        fitted.decision_function(X32)
    assert np.all(fitted.predict(X_OK) == 1)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "params, valid",
    [
        ({"beta": -1.0}, r"a float in the range \[0(\.0)?, inf\)"),
        (
            {"n_components": 0},
            r"an int in the range \[1, inf\)( or a str among {'auto'})?",
        ),
        ({"hidden_layer_sizes": ()}, "None or a non-empty sequence of ints >= 1"),
        ({"activation": "swish"}, "a str among {.*'relu'.*}"),
        ({"warm_start": "yes"}, "an instance of 'bool'.*"),
    ],
)
def test_invalid_hyper_parameters_state_the_valid_range(Estimator, params, valid):
    name, value = next(iter(params.items()))
    with pytest.raises(
        InvalidParameterError,
        match=f"The '{name}' parameter of {Estimator.__name__} must be {valid}\\. "
        f"Got {re.escape(repr(value))} instead",
    ):
        Estimator(**params).fit(X_OK)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("dtype", ["category", "string", "str", "StringDType"])
def test_string_dtypes_say_to_encode_them(Estimator, dtype):
    pd = pytest.importorskip("pandas")
    words = np.where(X_OK[:, 2] > 0, "up", "down")
    if dtype == "StringDType":
        X = np.column_stack([X_OK[:, :2].astype(str), words]).astype(
            np.dtypes.StringDType()
        )
    else:
        X = pd.DataFrame(X_OK[:, :2], columns=["a", "b"])
        X["c"] = pd.Series(words, dtype=dtype)
    # DataFrame string and category columns are categorical by default
    # (tests/test_tabular.py); named numeric, they get the hint.
    with pytest.raises(ValueError, match="numbers only.*OneHotEncoder"):
        Estimator(max_epochs=1, categorical_features=None).fit(X)


def test_cast_errors_of_string_dtypes_get_the_hint(monkeypatch):
    # The message some pandas/NumPy versions give for string columns.
    import skvae._checks

    def cannot_cast(*args, **kwargs):
        raise TypeError("Cannot cast str dtype to float64")

    monkeypatch.setattr(skvae._checks, "validate_data", cannot_cast)
    with pytest.raises(ValueError, match="numbers only.*OneHotEncoder"):
        VAETransformer(max_epochs=1).fit(X_OK)


@pytest.mark.parametrize("device", ["mps", "meta", "xla", "cpu:0:1"])
def test_unsupported_devices_get_a_value_error(device):
    with pytest.raises(ValueError, match=re.escape(f"device={device!r}")):
        VAETransformer(max_epochs=1, device=device).fit(X_OK)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_failed_refit_leaves_no_fitted_attribute_of_the_last_fit(Estimator):
    estimator = Estimator(max_epochs=1, random_state=0).fit(X_OK)
    assert hasattr(estimator, "n_features_in_") and hasattr(estimator, "history_")
    bad = np.c_[X_OK, X_OK]
    bad[0, 0] = np.inf  # NaN is a missing cell; infinity an error
    with pytest.raises(ValueError, match="infinity"):
        estimator.fit(bad)
    fitted = [k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")]
    assert fitted == []
    with pytest.raises(NotFittedError):
        estimator.score(X_OK)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_loss_that_grows_by_orders_of_magnitude_warns(Estimator, blobs):
    with pytest.warns(RuntimeWarning, match="train loss grew.*Lower `lr`"):
        Estimator(max_epochs=10, lr=1e6, random_state=0).fit(blobs)


def test_a_normal_fit_does_not_warn_about_the_loss(blobs, recwarn):
    VAETransformer(max_epochs=10, random_state=0).fit(blobs)
    assert not [w for w in recwarn if "loss grew" in str(w.message)]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_partial_fit_with_batch_norm_and_a_one_row_chunk_says_so(Estimator):
    estimator = Estimator(batch_norm=True, max_epochs=1, random_state=0)
    estimator.partial_fit(X_OK)
    with pytest.raises(ValueError, match="batch_norm=True.*partial_fit chunk has 1"):
        estimator.partial_fit(X_OK[:1])
    assert np.isfinite(estimator.score(X_OK))  # the model is kept
