"""Categorical columns and missing cells inside both estimators."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from skvae import VAEOutlierDetector, VAETransformer
from skvae._columns import ColumnLayout
from skvae._loss import cell_nll, row_nll
from skvae._noise import DiagonalGaussian
from skvae._tabular import MAX_CATEGORIES, TableEncoder, resolve_categorical

pd = pytest.importorskip("pandas")

ESTIMATORS = [VAETransformer, VAEOutlierDetector]


def mixed_table(n=400, seed=0):
    """Numeric columns driven by one latent, and categories that follow its sign."""
    rng = np.random.RandomState(seed)
    z = rng.normal(size=n)
    return pd.DataFrame(
        {
            "size": 10.0 * z + rng.normal(size=n),
            "colour": np.where(z > 0, "red", "blue"),
            "price": 1000.0 - 300.0 * z + 30.0 * rng.normal(size=n),
            "grade": pd.Categorical(
                np.where(z > 0.8, "A", np.where(z < -0.8, "C", "B"))
            ),
        }
    )


@pytest.fixture(scope="module")
def table():
    return mixed_table()


@pytest.fixture(scope="module")
def detector(table):
    # One latent dimension: colour cannot be encoded apart from the numbers.
    return VAEOutlierDetector(contamination=0.05, n_components=1, random_state=0).fit(
        table
    )


def test_categorical_features_forms_agree(table):
    expected = [False, True, False, True]
    for spec in ("from_dtype", [1, 3], ["colour", "grade"], np.array(expected)):
        assert resolve_categorical(table, spec).tolist() == expected
    assert resolve_categorical(table.to_numpy(), "from_dtype").tolist() == [False] * 4
    with pytest.raises(ValueError, match="not a column"):
        resolve_categorical(table, ["nope"])


def test_cross_entropy_and_row_scaling_values():
    x = torch.tensor([[0.5, 0.0, 1.0, 0.0], [float("nan"), 0.0, 0.0, 0.0]])
    logits = torch.tensor([[0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    nll, observed = cell_nll(
        logits, x, DiagonalGaussian(torch.zeros(1)), ColumnLayout(1, (3,))
    )
    half_log_2pi = 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(nll[0], [half_log_2pi, np.log(3)], rtol=1e-6)
    assert observed.tolist() == [[True, True], [False, False]]
    assert row_nll(nll, observed).tolist() == [pytest.approx(nll[0].sum()), 0.0]


def test_detector_on_a_raw_mixed_table_finds_inconsistent_rows(table, detector):
    assert detector.table_encoder_.cardinalities == (2, 3)
    odd = table[table["size"].abs() > 8].iloc[:40].copy()
    # Swap the colour: each row is then inconsistent with its own numbers.
    odd["colour"] = np.where(odd["colour"] == "red", "blue", "red")
    test = pd.concat([table.iloc[200:300], odd], ignore_index=True)
    y = np.r_[np.zeros(100), np.ones(40)]
    assert roc_auc_score(y, -detector.score_samples(test)) > 0.9
    # The explanation names the original column: colour is column 1. The
    # encoder's compromise between the swapped colour and the numbers also shows
    # in the numeric residuals, weighed by their (small) residual covariance, so
    # colour is among the two columns named, not always the first.
    error = detector.reconstruction_error(odd, per_feature=True)
    assert error.shape == (40, 4)
    assert 1 in np.argsort(error.mean(axis=0))[-2:]
    normal = detector.reconstruction_error(table.iloc[200:300], per_feature=True)
    assert error[:, 1].mean() > 4 * normal[:, 1].mean()


def test_unknown_category_is_a_missing_cell(table, detector):
    rows = table.iloc[:5].copy()
    unknown, missing = rows.copy(), rows.copy()
    unknown["colour"] = "green"
    missing["colour"] = None
    np.testing.assert_allclose(
        detector.score_samples(unknown), detector.score_samples(missing)
    )
    assert (detector.reconstruction_error(unknown, per_feature=True)[:, 1] == 0).all()


def test_inverse_transform_gives_categories_and_dtypes(table):
    vae = VAETransformer(random_state=0, max_epochs=60).fit(table)
    decoded = vae.inverse_transform(vae.transform(table))
    assert decoded.dtype == object and decoded.shape == (400, 4)
    assert np.mean(decoded[:, 1] == table["colour"].to_numpy()) > 0.9
    vae.set_output(transform="pandas")
    frame = vae.inverse_transform(vae.transform(table).to_numpy())
    assert list(frame.columns) == list(table.columns)
    assert frame["grade"].dtype == table["grade"].dtype  # same categories
    assert frame["size"].dtype == np.float64
    assert np.mean(frame["grade"] == table["grade"]) > 0.7
    # Numeric columns come back in their own units (standardized inside).
    assert np.corrcoef(frame["price"], table["price"])[0, 1] > 0.9


def test_missing_cells_everywhere(table):
    rng = np.random.RandomState(1)
    holey = table.copy()
    for column in holey.columns:
        holey.loc[rng.rand(len(holey)) < 0.15, column] = None
    assert holey["size"].isna().any() and holey["grade"].isna().any()
    detector = VAEOutlierDetector(contamination=0.05, random_state=0).fit(holey)
    assert detector.module_layout_.missing_input
    scores = detector.score_samples(holey)
    assert np.isfinite(scores).all()
    assert set(np.unique(detector.predict(holey))) == {-1, 1}
    vae = VAETransformer(random_state=0, max_epochs=5).fit(holey)
    assert np.isfinite(vae.transform(holey)).all()
    assert detector.__sklearn_tags__().input_tags.allow_nan


def test_numeric_nan_is_a_missing_cell(blobs):
    X = blobs.copy()
    X[::7, 2] = np.nan
    detector = VAEOutlierDetector(random_state=0).fit(X)
    assert detector.table_encoder_ is None
    assert detector.module_layout_ == ColumnLayout(6, (), True)
    error = detector.reconstruction_error(X[:14], per_feature=True)
    assert error[0, 2] == 0.0 and error[1, 2] > 0.0  # missing cells add nothing
    # A model fitted on complete data scores NaN at predict time too.
    complete = VAEOutlierDetector(random_state=0).fit(blobs)
    assert not complete.module_layout_.missing_input
    assert np.isfinite(complete.score_samples(X)).all()


def test_mostly_missing_row_does_not_look_normal(blobs):
    detector = VAEOutlierDetector(contamination=0.05, random_state=0).fit(blobs)
    normal = detector.score_samples(blobs)
    odd = blobs[:20].copy()
    odd[:, 0] += 8 * blobs[:, 0].std()  # anomalous in column 0
    odd[:, 1:5] = np.nan  # and four of six cells missing
    odd_scores = detector.score_samples(odd)
    assert np.mean(odd_scores < detector.offset_) > 0.9
    # A normal row with the same cells missing stays on the normal scale.
    holey = blobs.copy()
    holey[:, 1:5] = np.nan
    assert np.median(detector.score_samples(holey)) > np.percentile(normal, 10)
    assert np.median(detector.score_samples(holey)) > np.max(odd_scores)


def test_bad_tables_get_clear_errors(table):
    with pytest.raises(ValueError, match="'size' has no observed value"):
        VAEOutlierDetector(max_epochs=1).fit(table.assign(size=np.nan))
    with pytest.raises(ValueError, match="'colour' has no observed value"):
        VAEOutlierDetector(max_epochs=1).fit(table.assign(colour=None))
    with pytest.raises(ValueError, match="Column 1 .*all NaN"):
        VAEOutlierDetector(max_epochs=1).fit(
            np.c_[np.ones(5), np.full(5, np.nan), np.arange(5.0)]
        )
    many = table.iloc[:200].assign(colour=[f"c{i}" for i in range(200)])
    many = pd.concat([many] * 6, ignore_index=True)
    many["colour"] = [f"c{i}" for i in range(len(many))]
    with pytest.raises(ValueError, match=f"{len(many)} categories.*{MAX_CATEGORIES}"):
        VAEOutlierDetector(max_epochs=1).fit(many)
    mixed = table.astype({"colour": object})
    mixed.loc[0, "colour"] = 3
    with pytest.raises(TypeError, match="'colour' mixes strings with int.*astype"):
        VAEOutlierDetector(max_epochs=1).fit(mixed)


def test_one_level_categorical_costs_nothing(table):
    one = table.assign(colour="red")
    detector = VAEOutlierDetector(max_epochs=3, random_state=0).fit(one)
    assert detector.table_encoder_.cardinalities == (1, 3)
    assert (detector.reconstruction_error(one, per_feature=True)[:, 1] == 0).all()


def test_table_encoder_round_trip():
    frame = pd.DataFrame({"n": [1.0, 2.0, np.nan], "c": ["b", None, "a"]})
    encoder = TableEncoder(np.array([False, True]), standardize=True).fit(frame)
    encoded = encoder.transform(frame)
    np.testing.assert_allclose(encoded[:2, 0], [-1.0, 1.0])
    assert encoder.observed(encoded).tolist() == [
        [True, True],
        [True, False],
        [False, True],
    ]
    back = encoder.inverse_transform(np.nan_to_num(encoded), as_frame=True)
    assert back["n"].tolist()[:2] == [1.0, 2.0] and back["c"][0] == "b"


def test_pickle_and_save_keep_categories(table, detector, tmp_path):
    import pickle

    import skvae

    restored = pickle.loads(pickle.dumps(detector))
    assert restored.table_encoder_.categories_[1].tolist() == ["A", "B", "C"]
    np.testing.assert_array_equal(
        restored.score_samples(table.iloc[:20]), detector.score_samples(table.iloc[:20])
    )
    # skvae.save stores the encoder too (tests/test_table_persistence.py).
    skvae.save(detector, tmp_path / "model.skvae")
    loaded = skvae.load(tmp_path / "model.skvae")
    assert loaded.table_encoder_.categories_[1].tolist() == ["A", "B", "C"]
    np.testing.assert_array_equal(
        loaded.score_samples(table.iloc[:20]), detector.score_samples(table.iloc[:20])
    )
