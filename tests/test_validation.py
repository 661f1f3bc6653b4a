"""Bad input gets a clear error, never a crash inside torch or a NaN model."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skvae import TrainingDivergedError, VAEOutlierDetector, VAETransformer

ESTIMATORS = [VAETransformer, VAEOutlierDetector]
X_OK = np.random.RandomState(0).normal(size=(30, 4))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_nan_and_inf_are_rejected_by_name(Estimator, bad, word):
    X = X_OK.copy()
    X[3, 1] = bad
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
