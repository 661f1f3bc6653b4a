"""
=======================================================
Anomaly detection on synthetic data, with a grid search
=======================================================

The seed experiment of skvae, reproduced without looking at the test labels:

- 5,000 x 20 synthetic data: normal samples from three Gaussian blobs
  (:func:`~sklearn.datasets.make_blobs`), about 3% anomalies from a standard normal
  shifted by +4 in every feature (:func:`skvae.datasets.make_anomaly_data`);
- a ``MinMaxScaler`` + :class:`~skvae.VAEOutlierDetector` pipeline, a stratified
  80/20 split, and a grid search over ``beta`` in {0.1, 1, 5} and ``n_components``
  in {2, 5, 10};
- the decision threshold comes from ``contamination`` (the expected share of
  anomalies) on the *training* data; precision, recall and F1 are then measured on
  the test part at that threshold.

The grid search needs no labels either: it ranks the candidates by
:meth:`~skvae.VAEOutlierDetector.score`, the mean evidence lower bound (ELBO) of
held-out folds, so the whole model selection is unsupervised. The test labels are
used only to report the final numbers.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skvae import VAEOutlierDetector
from skvae.datasets import make_anomaly_data

torch.set_num_threads(1)


PARAM_GRID = {
    "vaeoutlierdetector__beta": [0.1, 1.0, 5.0],
    "vaeoutlierdetector__n_components": [2, 5, 10],
}


def run(
    n_samples=5000, n_features=20, cv=3, param_grid=None, random_state=0, plot=True
):
    """Fit the grid search and report test metrics; return them as a dict."""
    X, y = make_anomaly_data(
        n_samples=n_samples, n_features=n_features, random_state=random_state
    )
    X_train, X_test, _, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=random_state
    )
    pipe = make_pipeline(
        MinMaxScaler(),
        VAEOutlierDetector(contamination=0.03, random_state=random_state),
    )
    grid = GridSearchCV(pipe, PARAM_GRID if param_grid is None else param_grid, cv=cv)
    start = time.perf_counter()
    grid.fit(X_train)  # no labels: candidates are ranked by the held-out ELBO
    fit_time = time.perf_counter() - start

    # Higher = more anomalous; the threshold is offset_, set from contamination.
    anomaly_score = -grid.score_samples(X_test)
    threshold = -grid.best_estimator_[-1].offset_
    predicted = (grid.predict(X_test) == -1).astype(int)
    result = {
        "best_params": grid.best_params_,
        "roc_auc": roc_auc_score(y_test, anomaly_score),
        "average_precision": average_precision_score(y_test, anomaly_score),
        "precision": precision_score(y_test, predicted),
        "recall": recall_score(y_test, predicted),
        "f1": f1_score(y_test, predicted),
        "fit_time_s": fit_time,
    }
    if plot:
        _plot(anomaly_score, y_test, threshold, result)
    return result


def _plot(anomaly_score, y_test, threshold, result):
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.histogram_bin_edges(anomaly_score, bins=60)
    ax.hist(anomaly_score[y_test == 0], bins=bins, alpha=0.6, label="normal")
    ax.hist(anomaly_score[y_test == 1], bins=bins, alpha=0.6, label="anomaly")
    ax.axvline(threshold, color="k", linestyle="--", label="threshold (contamination)")
    ax.set_yscale("log")
    ax.set_xlabel("anomaly score (negative ELBO)")
    ax.set_ylabel("test samples")
    ax.set_title(
        f"ROC AUC {result['roc_auc']:.3f}, AP {result['average_precision']:.3f}, "
        f"F1 {result['f1']:.2f} at the threshold"
    )
    ax.legend()
    fig.tight_layout()


# %%
# Fit, select and evaluate
# ------------------------
if __name__ == "__main__":
    result = run()
    print(f"best parameters: {result['best_params']}")
    print(
        f"test ROC AUC {result['roc_auc']:.3f}, "
        f"average precision {result['average_precision']:.3f}"
    )
    print(
        f"at the contamination threshold: precision {result['precision']:.3f}, "
        f"recall {result['recall']:.3f}, F1 {result['f1']:.3f}"
    )
    print(f"grid search fit time {result['fit_time_s']:.1f} s")
    plt.show()
