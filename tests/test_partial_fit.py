import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import MinMaxScaler

from skvae import VAEOutlierDetector, VAETransformer
from skvae.datasets import make_anomaly_data


def _weights(estimator):
    return [p.detach().clone() for p in estimator.net_.module_.parameters()]


def _adam_steps(estimator):
    state = estimator.net_.optimizer_.state
    return {int(s["step"]) for s in state.values()}


@pytest.mark.parametrize("Estimator", [VAETransformer, VAEOutlierDetector])
def test_partial_fit_continues_weights_optimizer_and_history(Estimator):
    X = np.random.RandomState(0).uniform(size=(200, 5))
    estimator = Estimator(batch_size=50, kl_warmup_epochs=10, random_state=0)
    estimator.partial_fit(X[:100])
    after_first = _weights(estimator)
    assert _adam_steps(estimator) == {2}
    estimator.partial_fit(X[100:], epochs=3)
    assert estimator.n_iter_ == 4 == len(estimator.history_)
    # Adam kept its state: 2 steps from the first chunk plus 3 x 2 from the second.
    assert _adam_steps(estimator) == {8}
    assert any(
        not torch.equal(a, b)
        for a, b in zip(after_first, _weights(estimator), strict=True)
    )
    # KL annealing counts epochs over all calls.
    assert estimator.history_[:, "kl_weight"] == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_partial_fit_is_reproducible_for_the_same_chunk_sequence():
    X = np.random.RandomState(1).normal(size=(300, 4))

    def stream():
        vae = VAETransformer(random_state=5)
        for chunk in np.array_split(X, 3):
            vae.partial_fit(chunk)
        return vae.transform(X)

    np.testing.assert_array_equal(stream(), stream())


def test_partial_fit_after_fit_starts_from_the_fitted_weights():
    X = np.random.RandomState(2).normal(size=(150, 4))
    vae = VAETransformer(max_epochs=5, random_state=0).fit(X)
    fitted = _weights(vae)
    epochs_before = vae.n_iter_
    vae.partial_fit(X, epochs=1)
    assert vae.n_iter_ == epochs_before + 1
    # One more epoch moves the weights a little; a re-initialisation would move
    # them by about their own size.
    change = max(
        (a - b).abs().max().item() for a, b in zip(fitted, _weights(vae), strict=True)
    )
    assert 0 < change < 0.1


def test_partial_fit_checks_feature_count_and_epochs():
    X = np.random.RandomState(0).normal(size=(50, 4))
    vae = VAETransformer(random_state=0).partial_fit(X)
    with pytest.raises(ValueError, match="X has 3 features"):
        vae.partial_fit(X[:, :3])
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        vae.partial_fit(X, epochs=0)


def test_detector_offset_tracks_the_latest_chunk():
    X = np.random.RandomState(0).uniform(size=(400, 5))
    detector = VAEOutlierDetector(contamination=0.1, random_state=0)
    for chunk in np.array_split(X, 4):
        detector.partial_fit(chunk)
        expected = np.percentile(detector.score_samples(chunk), 10)
        assert detector.offset_ == pytest.approx(expected)


def test_streaming_chunks_from_a_memmap_matches_a_full_fit(tmp_path):
    X, y = make_anomaly_data(n_samples=12_000, n_features=10, random_state=0)
    X = MinMaxScaler().fit_transform(X).astype(np.float32)
    path = tmp_path / "train.npy"
    np.save(path, X[:9_000])
    stream = np.load(path, mmap_mode="r")
    # Two latent dimensions suit these blobs (the seed experiment's choice).
    params = dict(contamination=0.03, n_components=2, random_state=0)
    streamed = VAEOutlierDetector(**params)
    for _ in range(3):
        for start in range(0, len(stream), 3_000):
            streamed.partial_fit(stream[start : start + 3_000])
    full = VAEOutlierDetector(**params).fit(X[:9_000])
    X_test, y_test = X[9_000:], y[9_000:]
    auc_streamed = roc_auc_score(y_test, -streamed.score_samples(X_test))
    auc_full = roc_auc_score(y_test, -full.score_samples(X_test))
    assert auc_streamed > 0.95
    assert auc_streamed >= auc_full - 0.02


def test_a_diverging_chunk_leaves_no_model_behind():
    from sklearn.exceptions import NotFittedError

    from skvae import TrainingDivergedError

    X = np.random.RandomState(0).normal(size=(100, 3))
    vae = VAETransformer(random_state=0).partial_fit(X)
    with pytest.raises(TrainingDivergedError, match="Scale the input"):
        vae.partial_fit(np.full((100, 3), 1e200))
    with pytest.raises(NotFittedError):
        vae.transform(X)
