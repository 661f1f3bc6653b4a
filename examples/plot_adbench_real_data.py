"""
=====================================================
Anomaly detection on a real data set from ADBench
=====================================================

The ADBench benchmark (Han et al., NeurIPS 2022) collects real tabular anomaly
detection data sets. This example follows its unsupervised protocol on one of them,
*cardio* (1,831 fetal cardiotocograms, 21 features, 9.6% pathologic): a stratified
70/30 split, the detector fitted on the training part with its anomalies left in and
the labels unused, then scored on the test part. It compares a
:class:`~skvae.VAEOutlierDetector` with scikit-learn's
:class:`~sklearn.ensemble.IsolationForest` on the same split.

The data are read from ``../shared/datasets/adbench/6_cardio.npz`` next to the
repository (or the folder named by the ``SKVAE_ADBENCH_DIR`` environment variable).
When the file is not there, as on a fresh clone, the example runs on synthetic data
from :func:`skvae.datasets.make_anomaly_data` instead, and says so.
"""

# %%
# Data
# ----
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import (
    PrecisionRecallDisplay,
    RocCurveDisplay,
    average_precision_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skvae import VAEOutlierDetector
from skvae.datasets import make_anomaly_data
from skvae.plotting import ScoreHistogramDisplay

# The documentation is built on a small shared machine; one thread keeps it steady.
torch.set_num_threads(1)


def adbench_dir():
    if "SKVAE_ADBENCH_DIR" in os.environ:
        return Path(os.environ["SKVAE_ADBENCH_DIR"])
    # ../shared sits beside the repository, whose examples/ folder holds this file.
    try:
        examples = Path(__file__).resolve().parent
    except NameError:  # sphinx-gallery runs examples from their folder, no __file__
        examples = Path.cwd()
    return examples.parent.parent / "shared" / "datasets" / "adbench"


path = adbench_dir() / "6_cardio.npz"
if path.exists():
    with np.load(path) as data:
        X, y = data["X"].astype(np.float64), data["y"].astype(int)
    dataset = "ADBench cardio"
else:
    X, y = make_anomaly_data(
        n_samples=2000, n_features=21, contamination=0.096, random_state=0
    )
    dataset = "synthetic stand-in for cardio"
    print(f"{path} not found: using synthetic data instead.")
print(f"{dataset}: {X.shape[0]} rows, {X.shape[1]} features, {y.mean():.1%} anomalies")

X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# Two detectors, no labels used
# -----------------------------
# ``contamination`` only places the threshold ``offset_``; the scores, and so the
# ROC and precision-recall curves, do not depend on it. The anomaly rate of the
# training part is used here, as one would use a domain estimate.
detectors = {
    "VAEOutlierDetector": make_pipeline(
        MinMaxScaler(),
        VAEOutlierDetector(contamination=float(y_train.mean()), random_state=0),
    ),
    "IsolationForest": IsolationForest(random_state=0),
}
anomaly_scores = {}
for name, detector in detectors.items():
    detector.fit(X_train)
    # score_samples is higher for normal samples; ROC curves want anomalies high.
    anomaly_scores[name] = -detector.score_samples(X_test)
    print(
        f"{name:>20}: test ROC AUC {roc_auc_score(y_test, anomaly_scores[name]):.3f}, "
        f"average precision "
        f"{average_precision_score(y_test, anomaly_scores[name]):.3f}"
    )

# %%
# ROC and precision-recall curves
# -------------------------------
# scikit-learn's own Displays draw both curves from the anomaly scores; the
# dashed precision line is the share of anomalies, what random scores would get.
fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
for i, (name, score) in enumerate(anomaly_scores.items()):
    last = i == len(anomaly_scores) - 1
    RocCurveDisplay.from_predictions(
        y_test, score, name=name, ax=ax_roc, plot_chance_level=last
    )
    PrecisionRecallDisplay.from_predictions(
        y_test, score, name=name, ax=ax_pr, plot_chance_level=last
    )
ax_pr.legend(loc="upper right")
ax_roc.set_title("ROC curve (test part)")
ax_pr.set_title("Precision-recall curve (test part)")
fig.suptitle(dataset)
plt.show()

# %%
# Where the threshold falls
# -------------------------
# The VAE's scores of the test part, split by the true label. Samples left of
# ``offset_`` are predicted anomalies; the overlap of the two histograms is what
# no threshold can separate.
display = ScoreHistogramDisplay.from_estimator(
    detectors["VAEOutlierDetector"], X_test, y_test, bins=40
)
display.figure_.set_size_inches(8, 4.5)
display.ax_.set_title(f"VAEOutlierDetector scores on the test part ({dataset})")
plt.show()
