"""Score methods, per-feature explanations and the "auto" training schedule."""

import numpy as np
import pytest
import torch

from skvae import VAEImputer, VAEOutlierDetector, VAETransformer
from skvae._base import auto_batch_size, epochs_for_steps

FAST = dict(max_epochs=8, random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(300, 2))
    X = latent @ rng.normal(size=(2, 5)) + 0.1 * rng.normal(size=(300, 5))
    return X


@pytest.fixture(scope="module")
def detector(data):
    return VAEOutlierDetector(**FAST).fit(data)


def test_reconstruction_score_is_the_negative_row_error(detector, data):
    detector = detector.set_params(score_method="reconstruction")
    np.testing.assert_allclose(
        detector.score_samples(data), -detector.reconstruction_error(data), rtol=1e-6
    )


def test_elbo_score_adds_the_kl_term(detector, data):
    detector = detector.set_params(score_method="elbo")
    elbo = -detector.score_samples(data)
    error = detector.reconstruction_error(data)
    module = detector.net_.module_
    constant = float(module.noise.score_noise().offset(module.n_numeric))
    assert np.all(elbo - error - constant > 0)  # KL > 0 for a posterior not the prior
    np.testing.assert_allclose(-elbo.mean(), detector.score(data), rtol=1e-6)


def test_reconstruction_probability_is_repeatable_and_leaves_global_rng(detector, data):
    detector = detector.set_params(score_method="reconstruction_probability")
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = detector.score_samples(data)
    assert torch.equal(torch.rand(1), expected_next)
    np.testing.assert_array_equal(first, detector.score_samples(data))
    # Same noise for every row: a row's score does not depend on its batch.
    np.testing.assert_allclose(detector.score_samples(data[7:9]), first[7:9])
    # Monte-Carlo draws scatter around the mean decoding: close, not equal.
    mean_error = detector.reconstruction_error(data)
    assert not np.allclose(-first, mean_error)
    assert np.corrcoef(-first, mean_error)[0, 1] > 0.9


def test_reconstruction_probability_depends_on_random_state_and_n_draws(data):
    a = VAEOutlierDetector(score_method="reconstruction_probability", **FAST).fit(data)
    b = VAEOutlierDetector(score_method="reconstruction_probability", **FAST).fit(data)
    np.testing.assert_array_equal(a.score_samples(data), b.score_samples(data))
    many = a.set_params(n_draws=64).score_samples(data)
    one = a.set_params(n_draws=1).score_samples(data)
    assert not np.allclose(many, one)


def test_per_feature_error_sums_to_the_row_error_and_points_at_the_odd_feature(
    detector, data
):
    per_feature = detector.reconstruction_error(data, per_feature=True)
    assert per_feature.shape == data.shape
    np.testing.assert_allclose(
        per_feature.sum(axis=1), detector.reconstruction_error(data), rtol=1e-6
    )
    odd = data[:5].copy()
    odd[:, 3] += 10.0
    assert np.all(detector.reconstruction_error(odd, per_feature=True).argmax(1) == 3)


def test_transformer_has_the_per_feature_error_too(data):
    vae = VAETransformer(**FAST).fit(data)
    assert vae.reconstruction_error(data, per_feature=True).shape == data.shape


@pytest.mark.parametrize(
    "n_rows, batch_size, expected", [(90, 16, 167), (3500, 64, 19), (600_000, 512, 1)]
)
def test_epochs_for_steps_counts_optimisation_steps(n_rows, batch_size, expected):
    assert epochs_for_steps(1000, n_rows, batch_size) == expected


def test_auto_schedule_is_resolved_into_fitted_attributes(data):
    detector = VAEOutlierDetector(random_state=0).set_params(
        max_epochs="auto", n_iter_no_change="auto", kl_warmup_epochs="auto"
    )
    detector._auto_max_steps = 60
    detector.fit(data)
    steps_per_epoch = int(np.ceil(len(data) / detector.batch_size_))
    assert detector.max_epochs_ == int(np.ceil(60 / steps_per_epoch))
    assert detector.n_iter_ <= detector.max_epochs_
    assert detector.kl_warmup_epochs_ == detector.max_epochs_ // 10
    assert detector.n_iter_no_change_ >= 5
    set_by_hand = VAEOutlierDetector(
        max_epochs=3, n_iter_no_change=2, kl_warmup_epochs=1
    ).fit(data)
    assert (set_by_hand.max_epochs_, set_by_hand.n_iter_no_change_) == (3, 2)
    assert set_by_hand.kl_warmup_epochs_ == 1


@pytest.mark.parametrize("n_rows, capped", [(150, True), (3500, False)])
def test_detector_auto_budget_is_capped_at_20_passes(n_rows, capped):
    # 500 steps are 50 passes over 150 rows (batch 16) but 9 over 3,500 (batch 64):
    # only the small data's budget is cut to 20 passes.
    X = np.random.RandomState(0).normal(size=(n_rows, 4))
    detector = VAEOutlierDetector(random_state=0)
    detector._resolve_schedule(n_rows, auto_batch_size(n_rows))
    uncapped = epochs_for_steps(500, n_rows, auto_batch_size(n_rows))
    assert detector.max_epochs_ == (20 if capped else uncapped)
    assert (uncapped > 20) == capped
    if capped:
        assert detector.fit(X).n_iter_ == 20


@pytest.mark.parametrize("n_rows, capped", [(150, True), (3500, False)])
@pytest.mark.parametrize(
    "Estimator, max_steps", [(VAETransformer, 4000), (VAEImputer, 2000)]
)
def test_reconstruction_auto_budget_is_capped_at_100_passes(
    Estimator, max_steps, n_rows, capped
):
    # 4,000 steps are 400 passes over 150 rows (batch 16) but 72 over 3,500;
    # 2,000 steps are 200 and 36.
    estimator = Estimator()
    estimator._resolve_schedule(n_rows, auto_batch_size(n_rows))
    uncapped = epochs_for_steps(max_steps, n_rows, auto_batch_size(n_rows))
    assert estimator.max_epochs_ == (100 if capped else uncapped)
    assert (uncapped > 100) == capped


def test_tiny_data_train_in_one_batch():
    # Below 32 rows a second batch would be smaller than the 16-row floor.
    X = np.random.RandomState(0).normal(size=(30, 3))
    transformer = VAETransformer(max_epochs=2, random_state=0).fit(X)
    assert transformer.batch_size_ == 30
    assert transformer.history_[:, "train_batch_count"] == [1, 1]
    assert auto_batch_size(32) == 16


def test_trimmed_loss_leaves_the_worst_fitted_rows_out(data):
    X = data.copy()
    X[:15] += 6.0  # 5% far-away rows
    # The fixed noise keeps the contrast in plain squared errors, so it shows the
    # trimming alone, not the noise variances learnt from the rows kept.
    common = dict(max_epochs=30, random_state=0, noise_model="fixed")
    trimmed = VAEOutlierDetector(trim_fraction=0.1, **common)
    plain = VAEOutlierDetector(trim_fraction=0.0, **common)
    trimmed.fit(X)
    plain.fit(X)

    def contrast(model):
        error = model.reconstruction_error(X)
        return error[:15].mean() / error[15:].mean()

    # Trimming keeps the far-away rows out of the fit, so they stand out more.
    assert contrast(trimmed) > contrast(plain)


def _peak_numpy_bytes(fn):
    """Peak memory NumPy allocates while ``fn`` runs (tracemalloc sees NumPy's
    allocations, not torch's, which is what a whole-array conversion would use)."""
    import tracemalloc

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("layout", ["memmap", "fortran", "float64_to_float32"])
def test_scoring_converts_per_chunk_never_the_whole_array(
    layout, tmp_path, monkeypatch
):
    rng = np.random.RandomState(0)
    n_rows, n_features = 200_000, 20  # 32 MB as float64
    train = rng.normal(size=(300, n_features))
    model_dtype = np.float32 if layout == "float64_to_float32" else np.float64
    detector = VAEOutlierDetector(max_epochs=2, random_state=0).fit(
        train.astype(model_dtype)
    )
    X = rng.normal(size=(n_rows, n_features))
    if layout == "memmap":
        np.save(tmp_path / "X.npy", X)
        X = np.load(tmp_path / "X.npy", mmap_mode="r")
        assert not X.flags.writeable
    elif layout == "fortran":
        X = np.asfortranarray(X)
    expected = detector.score_samples(np.ascontiguousarray(X, dtype=np.float64))
    # torch's copies are invisible to tracemalloc: the net must get X itself, and
    # convert at most one inference batch of rows at a time.
    import skvae._net

    converted = []

    def spy(rows, dtype):
        converted.append((np.shares_memory(rows, X), len(rows)))
        return rows_as_tensor(rows, dtype)

    rows_as_tensor = skvae._net.rows_as_tensor
    monkeypatch.setattr(skvae._net, "rows_as_tensor", spy)
    scores = []
    peak = _peak_numpy_bytes(lambda: scores.append(detector.score_samples(X)))
    np.testing.assert_allclose(scores[0], expected, rtol=1e-6)
    assert scores[0].dtype == np.float64
    # The scores (1.6 MB) and a few batches of 8192 rows (1.3 MB each) at most; a
    # whole copy of X would be 16 or 32 MB.
    assert peak < 8 * 2**20, peak / 2**20
    assert all(shared for shared, _ in converted)
    assert max(n for _, n in converted) == detector.net_.inference_batch_size
