"""Random finite arrays, tiny to huge: a finite answer of the right shape or a clear
ValueError, never a crash inside torch, a hang or a NaN result."""

import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skvae import TrainingDivergedError, VAEOutlierDetector, VAETransformer

# The errors a user may get from finite input: training blew up (with the advice to
# scale the input), or the fitted network overflowed on far-out input.
CLEAR_ERRORS = re.compile(
    "became NaN or infinite in epoch .*Scale the input"
    "|produced NaN or infinite values.*Scale X"
    "|does not fit in float32"
)

# A fixed, modest sample keeps the suite fast and repeatable; for a longer hunt run
# SKVAE_FUZZ_EXAMPLES=3000 pytest tests/test_fuzz.py (random, not derandomized).
_N_EXAMPLES = int(os.environ.get("SKVAE_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=_N_EXAMPLES,
    deadline=None,
    derandomize="SKVAE_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def finite_arrays(draw, n_features=None, dtype=np.float64):
    """Arrays of 1..60 rows and 1..25 columns, magnitudes 1e-300 to 1e300."""
    n_samples = draw(st.integers(1, 60))
    if n_features is None:
        n_features = draw(st.integers(1, 25))
    largest = 1e300 if dtype == np.float64 else 1e38
    if draw(st.booleans()):
        # Hypothesis' own floats: zeros, tiny, huge and ordinary values mixed.
        elements = st.floats(-largest, largest, allow_nan=False, width=64)
        X = draw(arrays(np.float64, (n_samples, n_features), elements=elements))
    else:
        # A whole array at one scale: Gaussian rows times 10**exponent.
        seed = draw(st.integers(0, 2**32 - 1))
        top = 300 if dtype == np.float64 else 37
        exponent = draw(st.integers(-300, top))
        X = np.random.RandomState(seed).normal(size=(n_samples, n_features))
        X *= 10.0**exponent
    return X.astype(dtype)


def _call(method, *args):
    """The method's output, or None when it raised one of the clear errors."""
    try:
        return method(*args)
    except ValueError as error:
        assert CLEAR_ERRORS.search(str(error)), repr(error)
        return None


def _check_output(out, shape):
    if out is not None:
        out = np.asarray(out)
        assert out.shape == shape
        assert np.all(np.isfinite(out))


@st.composite
def fit_and_new_data(draw):
    dtypes = st.sampled_from([np.float64, np.float32])
    X = draw(finite_arrays(dtype=draw(dtypes)))
    X_new = draw(finite_arrays(n_features=X.shape[1], dtype=draw(dtypes)))
    return X, X_new, draw(st.integers(1, 3))


@FUZZ
@given(data=fit_and_new_data())
def test_transformer_on_random_arrays(data):
    X, X_new, max_epochs = data
    vae = VAETransformer(max_epochs=max_epochs, random_state=0)
    if _call(vae.fit, X) is None:
        return
    k = vae.n_components_
    for Xi in (X, X_new):
        n = len(Xi)
        _check_output(_call(vae.transform, Xi), (n, k))
        _check_output(_call(vae.score, Xi), ())
        Z = np.repeat(Xi[:, :1], k, axis=1)
        _check_output(_call(vae.inverse_transform, Z), (n, X.shape[1]))


@FUZZ
@given(data=fit_and_new_data())
def test_outlier_detector_on_random_arrays(data):
    X, X_new, max_epochs = data
    detector = VAEOutlierDetector(max_epochs=max_epochs, random_state=0)
    if _call(detector.fit, X) is None:
        return
    assert np.isfinite(detector.offset_)
    for Xi in (X, X_new):
        n = len(Xi)
        _check_output(_call(detector.score_samples, Xi), (n,))
        _check_output(_call(detector.decision_function, Xi), (n,))
        labels = _call(detector.predict, Xi)
        _check_output(labels, (n,))
        assert labels is None or set(np.unique(labels)) <= {-1, 1}
        _check_output(_call(detector.score, Xi), ())


@pytest.mark.parametrize("Estimator", [VAETransformer, VAEOutlierDetector])
def test_diverging_fit_raises_the_dedicated_error(Estimator):
    # The fuzz tests accept a diverged fit; this pins down which error it is.
    X = np.random.RandomState(0).normal(size=(20, 3)) * 1e300
    with pytest.raises(TrainingDivergedError):
        Estimator(max_epochs=2, random_state=0).fit(X)
