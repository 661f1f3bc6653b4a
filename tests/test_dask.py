"""Training, scoring, transforming and tuning on a dask.distributed cluster."""

import pickle

import numpy as np
import pytest
import torch

pytest.importorskip("dask_ml")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")
joblib = pytest.importorskip("joblib")

from dask_ml.wrappers import Incremental, ParallelPostFit  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402

from skvae import VAEOutlierDetector, VAETransformer  # noqa: E402
from skvae.datasets import make_anomaly_data  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


@pytest.fixture(scope="module")
def data():
    return make_anomaly_data(n_samples=1200, n_features=8, random_state=0)


def test_parallel_post_fit_transform_and_predict_equal_in_memory(client, data):
    X, _ = data
    X_dask = da.from_array(X, chunks=300)
    vae = ParallelPostFit(
        make_pipeline(StandardScaler(), VAETransformer(max_epochs=5, random_state=0))
    ).fit(X)
    Z = vae.transform(X_dask)
    assert isinstance(Z, da.Array)
    np.testing.assert_allclose(Z.compute(), vae.estimator.transform(X), rtol=1e-12)

    detector = ParallelPostFit(
        make_pipeline(MinMaxScaler(), VAEOutlierDetector(max_epochs=5, random_state=0))
    ).fit(X)
    np.testing.assert_array_equal(
        detector.predict(X_dask).compute(), detector.estimator.predict(X)
    )


def test_score_samples_with_map_blocks_equals_in_memory(client, data):
    X, _ = data
    pipe = make_pipeline(
        MinMaxScaler(), VAEOutlierDetector(max_epochs=5, random_state=0)
    ).fit(X)
    X_dask = da.from_array(X, chunks=(250, X.shape[1]))
    scores = da.map_blocks(
        pipe.score_samples, X_dask, drop_axis=1, dtype=X.dtype, meta=np.array([])
    )
    # Blocks of 250 rows go through BLAS in other shapes than 1200 rows at once, so
    # the last bit of a few float64 results may differ.
    np.testing.assert_allclose(scores.compute(), pipe.score_samples(X), rtol=1e-12)


def test_grid_search_on_the_dask_backend_picks_the_local_choice(client, data):
    X, y = data
    grid_params = {
        "vaeoutlierdetector__beta": [0.1, 1.0],
        "vaeoutlierdetector__n_components": [2, 4],
    }

    def search():
        pipe = make_pipeline(
            StandardScaler(), VAEOutlierDetector(max_epochs=8, random_state=0)
        )
        return GridSearchCV(pipe, grid_params, scoring="roc_auc", cv=2)

    local = search().fit(X, 1 - y)
    with joblib.parallel_backend("dask"):
        on_dask = search().fit(X, 1 - y)
    assert on_dask.best_params_ == local.best_params_
    np.testing.assert_allclose(
        on_dask.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )


def _weights(estimator):
    return [p.detach() for p in estimator.net_.module_.parameters()]


def _assert_same_weights(a, b):
    assert all(torch.equal(p, q) for p, q in zip(_weights(a), _weights(b), strict=True))


@pytest.mark.parametrize("Estimator", [VAETransformer, VAEOutlierDetector])
def test_incremental_fit_streams_blocks_through_partial_fit(client, data, Estimator):
    X, _ = data
    X = MinMaxScaler().fit_transform(X)
    X_dask = da.from_array(X, chunks=(300, X.shape[1]))
    params = dict(contamination=0.05) if Estimator is VAEOutlierDetector else {}
    incremental = Incremental(
        Estimator(random_state=0, **params), shuffle_blocks=False
    ).fit(X_dask, epochs=2)

    manual = Estimator(random_state=0, **params)
    for block in X_dask.blocks:
        manual.partial_fit(block.compute(), epochs=2)
    fitted = incremental.estimator_
    _assert_same_weights(fitted, manual)
    assert fitted.n_iter_ == manual.n_iter_ == 2 * X_dask.numblocks[0]
    method = "transform" if Estimator is VAETransformer else "score_samples"
    np.testing.assert_array_equal(
        getattr(fitted, method)(X), getattr(manual, method)(X)
    )


def test_incremental_detector_threshold_comes_from_the_last_block(client, data):
    X, _ = data
    X = MinMaxScaler().fit_transform(X)
    X_dask = da.from_array(X, chunks=(300, X.shape[1]))
    incremental = Incremental(
        VAEOutlierDetector(contamination=0.05, random_state=0), random_state=0
    ).fit(X_dask)
    detector = incremental.estimator_
    # Blocks were visited in a shuffled order; the threshold is the contamination
    # quantile of the last one's scores under the final weights, copied onto the
    # wrapper too.
    last = np.random.RandomState(0).permutation(X_dask.numblocks[0])[-1]
    last_block = X_dask.blocks[last].compute()
    expected = np.percentile(detector.score_samples(last_block), 5.0)
    assert incremental.offset_ == detector.offset_ == pytest.approx(expected)
    # One block is a fair sample of the stream here, so about 5% of all rows are
    # flagged.
    assert 0.02 < np.mean(detector.predict(X) == -1) < 0.1


def test_partial_fit_stream_survives_moving_between_workers(data):
    """Distributed workers in other processes receive the model pickled between
    blocks: the stream of weights, Adam state and random generators must not
    notice."""
    X, _ = data
    in_memory = VAEOutlierDetector(dropout=0.1, random_state=0)
    moved = VAEOutlierDetector(dropout=0.1, random_state=0)
    for block in np.array_split(X, 3):
        in_memory.partial_fit(block)
        moved = pickle.loads(pickle.dumps(moved)).partial_fit(block)
    _assert_same_weights(in_memory, moved)
