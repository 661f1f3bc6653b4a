"""
=============================================
Anomalies in a table with categories and gaps
=============================================

Real tables mix numbers with categories and have empty cells. A
:class:`~skvae.VAEOutlierDetector` takes such a table as a pandas DataFrame as it
is: its ``object`` columns are categorical (``categorical_features="from_dtype"``),
each gets a softmax head and a cross-entropy term, numeric columns are standardized
inside, and a missing cell is left out of the likelihood, so no one-hot encoder,
imputer or scaler is put in front.

The data are the UCI Adult census rows (6 numeric and 8 categorical columns; the
workclass, occupation and native-country cells are sometimes missing, ``?`` in the
file). The anomalies follow the construction of ``benchmarks/imputation.py``: a
fixed subsample of 3,000 rows, then every ``<=50K`` row and ``>50K`` rows drawn at
random as 5% of the result (the ODDS way of turning a minority class into rare
anomalies). The detector is fitted on all rows without labels and scored on them;
the labels only measure the ROC AUC. The anomaly it ranks first is then explained
column by column with ``reconstruction_error(X, per_feature=True)``, which returns
one value per **original** column.

The data are read from ``../shared/datasets/tables/adult-train.csv`` next to the
repository (or the folder named by the ``SKVAE_TABLES_DIR`` environment variable).
When the file is not there, as on a fresh clone, the example runs on a synthetic
table of the same kind instead, and says so.
"""

# %%
# A raw table, gaps left in
# -------------------------
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from skvae import VAEOutlierDetector

# The documentation is built on a small shared machine; one thread keeps it steady
# (for torch, and for the BLAS behind numpy and scikit-learn).
torch.set_num_threads(1)
threadpool_limits(1)

COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
]


def tables_dir():
    if "SKVAE_TABLES_DIR" in os.environ:
        return Path(os.environ["SKVAE_TABLES_DIR"])
    # ../shared sits beside the repository, whose examples/ folder holds this file.
    try:
        examples = Path(__file__).resolve().parent
    except NameError:  # sphinx-gallery runs examples from their folder, no __file__
        examples = Path.cwd()
    return examples.parent.parent / "shared" / "datasets" / "tables"


def synthetic_table(n=3000, seed=0):
    """Numbers and categories driven by one hidden factor; the label marks rows
    whose sector contradicts their numbers (away from the boundary, where it is
    plain); 5% of cells missing."""
    rng = np.random.RandomState(seed)
    z = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "age": 40 + 10 * z + rng.normal(size=n),
            "sector": np.where(z > 0, "private", "public").astype(object),
            "hours": 40 - 5 * z + rng.normal(size=n),
            "grade": np.where(z > 0.8, "A", np.where(z < -0.8, "C", "B")).astype(
                object
            ),
        }
    )
    label = (rng.rand(n) < 0.1) & (np.abs(z) > 1)
    frame.loc[label, "sector"] = np.where(
        frame.loc[label, "sector"] == "private", "public", "private"
    )
    for column in frame.columns:
        frame.loc[rng.rand(n) < 0.05, column] = None
    return frame, label


path = tables_dir() / "adult-train.csv"
if path.exists():
    raw = pd.read_csv(
        path,
        header=None,
        names=[*COLUMNS, "income"],
        na_values="?",
        skipinitialspace=True,
    )
    is_anomaly = raw.pop("income").astype(str).str.startswith(">50K").to_numpy()
    for column in raw.columns:
        if raw[column].dtype.kind not in "if":
            raw[column] = raw[column].astype(object)
    # benchmarks/imputation.py: a fixed 3,000-row subsample, then the ODDS
    # construction with >50K as 5% of the rows.
    keep = np.random.RandomState(0).choice(len(raw), 3000, replace=False)
    raw, is_anomaly = raw.iloc[keep].reset_index(drop=True), is_anomaly[keep]
    rng = np.random.RandomState(0)
    normal = np.flatnonzero(~is_anomaly)
    n_anomalies = int(round(0.05 / 0.95 * len(normal)))
    anomalies = rng.choice(np.flatnonzero(is_anomaly), n_anomalies, replace=False)
    rows = np.r_[normal, anomalies]
    X, y = raw.iloc[rows].reset_index(drop=True), is_anomaly[rows].astype(int)
    dataset = "UCI Adult, >50K as 5% anomalies"
else:
    X, y = synthetic_table()
    y = y.astype(int)
    dataset = "synthetic stand-in for Adult"
    print(f"{path} not found: using a synthetic table instead.")

print(f"{dataset}: {len(X)} rows, {y.mean():.1%} anomalies")
print(f"missing cells per column:\n{X.isna().sum()[X.isna().any()].to_string()}")
X.head()

# %%
# The detector on the raw DataFrame
# ---------------------------------
# No preprocessing: the categorical columns are found from their dtype. For
# reference, the usual pipeline (impute, one-hot encode, scale) in front of an
# IsolationForest scores the same rows.
detector = VAEOutlierDetector(contamination=0.05, random_state=0).fit(X)
print("categorical columns:", list(X.columns[detector.table_encoder_.is_categorical]))
anomaly_score = -detector.score_samples(X)

one_hot = make_column_transformer(
    (
        make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        ),
        make_column_selector(dtype_include=object),
    ),
    (
        make_pipeline(SimpleImputer(), StandardScaler()),
        make_column_selector(dtype_exclude=object),
    ),
)
forest = make_pipeline(one_hot, IsolationForest(random_state=0)).fit(X)
auc = roc_auc_score(y, anomaly_score)
print(f"VAEOutlierDetector on the raw table: ROC AUC {auc:.3f}")
print(
    "impute + one-hot + IsolationForest:  ROC AUC "
    f"{roc_auc_score(y, -forest.score_samples(X)):.3f}"
)

# %%
# Why is the top anomaly anomalous?
# ---------------------------------
# ``reconstruction_error(X, per_feature=True)`` splits the row's reconstruction
# term over its original columns: the cross-entropy of a categorical cell, 0 for a
# missing cell, and for a numeric cell its share of the residuals' Mahalanobis
# distance under the detector's full noise covariance (``noise_model="auto"``),
# ``r_j (S^-1 r)_j / 2``. The numeric shares add up to the distance; a column whose
# deviation is expected given its correlated neighbours' can get a negative share.
# Beside the top anomaly's values, the median over all rows shows what is usual
# for each column.
top = int(np.argmax(anomaly_score))
per_column = pd.DataFrame(
    detector.reconstruction_error(X, per_feature=True), columns=X.columns
)
explanation = pd.DataFrame(
    {
        "value": X.iloc[top].astype(object),
        "error": per_column.iloc[top],
        "median error": per_column.median(),
    }
).sort_values("error", ascending=False)
print(f"row {top} (label {'anomaly' if y[top] else 'normal'}):")
print(explanation.to_string(float_format="{:.2f}".format))

fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
order = explanation.index[::-1]
positions = np.arange(len(order))
ax.barh(
    positions + 0.2, explanation.loc[order, "error"], height=0.4, label=f"row {top}"
)
ax.barh(
    positions - 0.2,
    explanation.loc[order, "median error"],
    height=0.4,
    color="lightgray",
    label="median over all rows",
)
labels = [
    f"{c} = {'missing' if pd.isna(v) else v}"
    for c, v in zip(order, explanation.loc[order, "value"], strict=True)
]
ax.set_yticks(positions, labels)
# One column can dwarf the rest (a value far outside its range): a scale linear
# up to 1 and logarithmic above (on both sides of 0) keeps every bar readable.
ax.set_xscale("symlog", linthresh=1.0)
ax.set_xlabel("the column's term of the reconstruction negative log-likelihood")
ax.set_title(f"Top anomaly of {dataset}")
ax.legend(loc="lower right")
plt.show()
