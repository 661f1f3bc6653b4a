"""Scoring, transforming and tuning on a dask.distributed cluster."""

import numpy as np
import pytest

pytest.importorskip("dask_ml")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")
joblib = pytest.importorskip("joblib")

from dask_ml.wrappers import ParallelPostFit  # noqa: E402
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
