import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import MinMaxScaler

from skvae import VAEOutlierDetector, VAETransformer
from skvae._columns import ColumnLayout
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
    assert estimator.history_[:, "kl_weight"] == pytest.approx(
        [0.0, 0.1 * estimator.beta, 0.2 * estimator.beta, 0.3 * estimator.beta]
    )


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


# -- DataFrame chunks with categorical columns and missing cells ----------------


def _mixed_stream(n=900, seed=0):
    """A table whose colour and grade follow the sign of the latent driving the
    numbers, with missing cells in numeric and categorical columns."""
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(seed)
    z = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "size": 10.0 * z + rng.normal(size=n),
            "colour": np.where(z > 0, "red", "blue").astype(object),
            "price": 1000.0 - 300.0 * z + 30.0 * rng.normal(size=n),
            "grade": pd.Categorical(
                np.where(z > 0.8, "A", np.where(z < -0.8, "C", "B"))
            ),
        }
    )
    for column in frame.columns:
        frame.loc[rng.rand(n) < 0.1, column] = None
    return frame


def _encoder_state(estimator):
    encoder = estimator.table_encoder_
    return (
        [c.tolist() for c in encoder.categories_],
        encoder.mean_.tolist(),
        encoder.scale_.tolist(),
        estimator.module_layout_,
    )


@pytest.mark.parametrize("Estimator", [VAETransformer, VAEOutlierDetector])
def test_partial_fit_on_dataframe_chunks_with_categories_and_gaps(Estimator):
    frame = _mixed_stream()
    chunks = [frame.iloc[i : i + 300] for i in range(0, 900, 300)]

    def stream(passes, epochs):
        # One latent dimension: colour cannot be encoded apart from the numbers.
        estimator = Estimator(n_components=1, random_state=0)
        estimator.partial_fit(chunks[0], epochs=epochs)
        first = _encoder_state(estimator)
        for _ in range(passes):
            for chunk in chunks:
                estimator.partial_fit(chunk, epochs=epochs)
        # The first chunk fixed the columns: categories, standardization, layout.
        assert _encoder_state(estimator) == first
        return estimator

    def output(estimator, X):
        if Estimator is VAEOutlierDetector:
            return estimator.score_samples(X)
        return estimator.transform(X)

    # The same sequence of chunks gives the same model, bit for bit.
    np.testing.assert_array_equal(
        output(stream(1, 1), frame), output(stream(1, 1), frame)
    )
    estimator = stream(4, 5)
    assert estimator.table_encoder_.categories_[0].tolist() == ["blue", "red"]
    assert estimator.module_layout_ == ColumnLayout(2, (2, 3), True)
    assert estimator.n_iter_ == 65 == len(estimator.history_)
    assert list(estimator.feature_names_in_) == list(frame.columns)
    assert np.isfinite(output(estimator, frame)).all()
    if Estimator is VAEOutlierDetector:
        expected = np.percentile(
            estimator.score_samples(chunks[-1]), 100 * estimator.contamination
        )
        assert estimator.offset_ == pytest.approx(expected)
        # Rows whose colour contradicts their numbers stand out.
        odd = frame[frame["size"].abs() > 8].dropna().iloc[:40].copy()
        odd["colour"] = np.where(odd["colour"] == "red", "blue", "red")
        normal = frame.dropna().iloc[:200]
        scores = np.r_[estimator.score_samples(normal), estimator.score_samples(odd)]
        y = np.r_[np.zeros(len(normal)), np.ones(len(odd))]
        assert roc_auc_score(y, -scores) > 0.9
    else:
        decoded = estimator.inverse_transform(estimator.transform(frame))
        known = frame["colour"].notna().to_numpy()
        truth = frame["colour"].to_numpy()[known]
        assert np.mean(decoded[known, 1] == truth) > 0.9


@pytest.mark.parametrize("Estimator", [VAETransformer, VAEOutlierDetector])
def test_category_new_in_a_later_chunk_is_trained_as_a_missing_cell(Estimator):
    frame = _mixed_stream(600)
    first, later = frame.iloc[:300], frame.iloc[300:].copy()
    rows = later.index[later["colour"].notna()][:30]
    unknown, missing = later.copy(), later.copy()
    unknown.loc[rows, "colour"] = "green"  # not in the first chunk
    missing.loc[rows, "colour"] = None
    # As OneHotEncoder(handle_unknown="ignore"): no error, no new category, and
    # training on it is training on a missing cell, bit for bit.
    a = Estimator(random_state=0).partial_fit(first).partial_fit(unknown)
    b = Estimator(random_state=0).partial_fit(first).partial_fit(missing)
    assert a.table_encoder_.categories_[0].tolist() == ["blue", "red"]
    for x, y in zip(_weights(a), _weights(b), strict=True):
        assert torch.equal(x, y)
    error = a.reconstruction_error(unknown.loc[rows], per_feature=True)
    assert (error[:, 1] == 0).all()
    # Observed numeric cells keep their term (under the detector's full noise
    # covariance a term can be negative, see docs/likelihood.rst).
    observed = unknown.loc[rows, "price"].notna().to_numpy()
    assert observed.sum() > 20 and (error[observed, 2] != 0).all()


def test_categories_of_a_category_dtype_are_known_before_they_occur():
    pd = pytest.importorskip("pandas")
    frame = _mixed_stream(600)
    first = frame.iloc[:300]
    first = first[first["grade"] != "A"]  # "A" is in the dtype, in no row
    detector = VAEOutlierDetector(random_state=0).partial_fit(first)
    assert detector.table_encoder_.categories_[1].tolist() == ["A", "B", "C"]
    later = frame.iloc[300:]
    assert isinstance(later["grade"].dtype, pd.CategoricalDtype)
    detector.partial_fit(later)
    rows = later[later["grade"] == "A"]
    # An "A" cell is observed (it has a cross-entropy), not a missing one.
    assert (detector.reconstruction_error(rows, per_feature=True)[:, 3] > 0).all()


def test_cells_missing_only_after_the_first_chunk():
    frame = _mixed_stream(600)
    complete = frame.iloc[:300].dropna()
    detector = VAEOutlierDetector(random_state=0).partial_fit(complete)
    # The first chunk decides the network: no missing cell there, no mask input.
    assert not detector.module_layout_.missing_input
    detector.partial_fit(frame.iloc[300:])  # a tenth of each column is missing
    assert not detector.module_layout_.missing_input
    assert np.isfinite(detector.history_[-1, "train_loss"])
    holey = frame.iloc[300:]
    error = detector.reconstruction_error(holey, per_feature=True)
    # Missing cells still add nothing to the scores, observed ones do.
    np.testing.assert_array_equal(error[holey.isna().to_numpy()], 0.0)
    assert np.isfinite(detector.score_samples(holey)).all()


def test_later_chunk_with_other_columns_is_an_error():
    frame = _mixed_stream(200)
    vae = VAETransformer(random_state=0).partial_fit(frame)
    with pytest.raises(ValueError, match="feature names"):
        vae.partial_fit(frame[["colour", "size", "price", "grade"]])
    with pytest.raises(ValueError, match="feature names"):
        vae.partial_fit(frame.rename(columns={"size": "length"}))
