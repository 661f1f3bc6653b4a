"""
=====================
Imputing a real table
=====================

:class:`~skvae.VAEImputer` fills the missing cells of a table, numeric and
categorical, from a VAE trained on the observed cells only. This example hides 20%
of the observed cells of two real tables at random, imputes them, and compares the
guesses with the hidden values: the root mean squared error of the numeric cells in
standardized units (each column divided by its standard deviation, so 1.0 is about
what the column mean achieves) and the accuracy of the categorical cells.

* *Horse colic* (UCI): 300 horses, 8 numeric and 13 coded categorical columns,
  with about 30% of the cells already missing before any is hidden.
* *Pima* (ADBench ``29_Pima``): 768 rows, 8 numeric columns.

The baselines are scikit-learn's :class:`~sklearn.impute.IterativeImputer`,
:class:`~sklearn.impute.KNNImputer` and the column mean
(:class:`~sklearn.impute.SimpleImputer`), all with their defaults. They need
numbers, so they get the numeric columns standardized and each categorical
column one-hot encoded (its block NaN where the cell is missing), and a
categorical cell takes the category of the largest imputed one-hot entry; the
:class:`~skvae.VAEImputer` gets the raw DataFrame. This is the protocol of
``benchmarks/imputation.py``, which runs it on eight tables and three seeds; one
seed here.

The data are read from ``../shared/datasets/`` next to the repository (or the
folders named by the ``SKVAE_TABLES_DIR`` and ``SKVAE_ADBENCH_DIR`` environment
variables). When a file is not there, as on a fresh clone, a synthetic table of
the same kind stands in, and the example says so.
"""

# %%
# Two tables
# ----------
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from threadpoolctl import threadpool_limits

from skvae import VAEImputer

# The documentation is built on a small shared machine; one thread keeps it steady
# (for torch, and for the BLAS behind numpy and scikit-learn).
torch.set_num_threads(1)
threadpool_limits(1)

# Horse colic's columns (horse-colic.names), the hospital number and the outcome
# columns left out; the coded ones are categorical.
HORSE_COLUMNS = {
    0: "surgery",
    1: "age",
    3: "rectal temperature",
    4: "pulse",
    5: "respiratory rate",
    6: "extremity temperature",
    7: "peripheral pulse",
    8: "mucous membranes",
    9: "capillary refill",
    10: "pain",
    11: "peristalsis",
    12: "abdominal distension",
    13: "nasogastric tube",
    14: "nasogastric reflux",
    15: "reflux pH",
    16: "rectal feces",
    17: "abdomen",
    18: "packed cell volume",
    19: "total protein",
    20: "abdominocentesis appearance",
    21: "abdominocentesis protein",
}
HORSE_CODED = [0, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 20]


def shared_dir(variable, name):
    if variable in os.environ:
        return Path(os.environ[variable])
    # ../shared sits beside the repository, whose examples/ folder holds this file.
    try:
        examples = Path(__file__).resolve().parent
    except NameError:  # sphinx-gallery runs examples from their folder, no __file__
        examples = Path.cwd()
    return examples.parent.parent / "shared" / "datasets" / name


def synthetic(n, categorical, seed):
    """Columns driven by two hidden factors, some of them categories."""
    rng = np.random.RandomState(seed)
    z = rng.normal(size=(n, 2))
    numeric = z @ rng.normal(size=(2, 6)) + 0.3 * rng.normal(size=(n, 6))
    frame = pd.DataFrame(numeric, columns=[f"x{j}" for j in range(6)])
    if categorical:
        frame["kind"] = np.where(z[:, 0] > 0, "a", "b").astype(object)
        frame["level"] = np.where(
            z[:, 1] > 0.5, "high", np.where(z[:, 1] < -0.5, "low", "mid")
        ).astype(object)
        frame = frame.astype({"kind": object, "level": object})
        for column in frame.columns:
            frame.loc[rng.rand(n) < 0.2, column] = None
    return frame


tables = {}
path = shared_dir("SKVAE_TABLES_DIR", "tables") / "horse-colic.csv"
if path.exists():
    raw = pd.read_csv(path, header=None, na_values="?", skipinitialspace=True)
    horse = raw[list(HORSE_COLUMNS)].astype(object)
    for column in HORSE_COLUMNS:
        if column in HORSE_CODED:
            codes = raw[column].map(lambda v: None if pd.isna(v) else f"{v:g}")
            horse[column] = codes.astype(object)
        else:
            horse[column] = raw[column].astype(float)
    tables["horse colic"] = horse.rename(columns=HORSE_COLUMNS)
else:
    tables["synthetic (horse colic)"] = synthetic(300, categorical=True, seed=0)
    print(f"{path} not found: a synthetic mixed table stands in.")
path = shared_dir("SKVAE_ADBENCH_DIR", "adbench") / "29_Pima.npz"
if path.exists():
    with np.load(path) as data:
        pima = data["X"].astype(np.float64)
    tables["Pima"] = pd.DataFrame(pima, columns=[f"f{j}" for j in range(8)])
else:
    tables["synthetic (Pima)"] = synthetic(768, categorical=False, seed=1)
    print(f"{path} not found: a synthetic numeric table stands in.")

for name, table in tables.items():
    n_categorical = sum(map(pd.api.types.is_object_dtype, table.dtypes))
    print(
        f"{name}: {table.shape[0]} rows, {table.shape[1] - n_categorical} numeric "
        f"and {n_categorical} categorical columns, {table.isna().mean().mean():.0%} "
        "of the cells missing"
    )

# %%
# Hide 20% of the observed cells, impute them
# -------------------------------------------


def hide_cells(frame, share, seed):
    """Hide ``share`` of the observed cells completely at random."""
    rng = np.random.RandomState(seed)
    hidden = frame.notna().to_numpy() & (rng.rand(*frame.shape) < share)
    holey = frame.copy()
    for j, column in enumerate(frame.columns):
        holey.loc[hidden[:, j], column] = (
            None if frame[column].dtype == object else np.nan
        )
    return holey, hidden


def impute_one_hot(imputer, holey, numeric, categorical):
    """A scikit-learn imputer on standardized numbers and one-hot categories."""
    mean, std = holey[numeric].mean(), holey[numeric].std().replace(0, 1)
    parts, blocks = [((holey[numeric] - mean) / std).to_numpy()], []
    for column in categorical:
        dummies = pd.get_dummies(holey[column], dtype=float)
        dummies[holey[column].isna()] = np.nan
        blocks.append(dummies.columns.to_numpy(dtype=object))
        parts.append(dummies.to_numpy())
    with warnings.catch_warnings():
        # IterativeImputer may use all its default 10 rounds without reaching its
        # tolerance; it is kept at its defaults, as in the benchmark.
        warnings.simplefilter("ignore", ConvergenceWarning)
        filled = imputer.fit_transform(np.hstack(parts))
    out = holey.copy()
    out[numeric] = filled[:, : len(numeric)] * std.to_numpy() + mean.to_numpy()
    start = len(numeric)
    for column, categories in zip(categorical, blocks, strict=True):
        block = filled[:, start : start + len(categories)]
        out[column] = categories[block.argmax(axis=1)]
        start += len(categories)
    return out


def scores(truth, filled, hidden, numeric):
    """RMSE of the hidden numeric cells in standardized units, accuracy of the
    hidden categorical ones."""
    squared, correct = [], []
    for j, column in enumerate(truth.columns):
        rows = hidden[:, j]
        if column in numeric:
            std = truth[column].std() or 1.0
            guess = filled[column].to_numpy(float)[rows]
            squared.extend(((guess - truth[column].to_numpy(float)[rows]) / std) ** 2)
        else:
            correct.extend(filled[column].to_numpy()[rows] == truth[column][rows])
    rmse = np.sqrt(np.mean(squared)) if squared else np.nan
    return rmse, (np.mean(correct) if correct else np.nan)


imputers = {
    "VAEImputer": None,
    "IterativeImputer": IterativeImputer(random_state=0),
    "KNNImputer": KNNImputer(),
    "SimpleImputer (mean)": SimpleImputer(),
}
results = []
for name, truth in tables.items():
    numeric = [c for c in truth.columns if truth[c].dtype != object]
    categorical = [c for c in truth.columns if truth[c].dtype == object]
    holey, hidden = hide_cells(truth, 0.2, seed=0)
    for method, imputer in imputers.items():
        if imputer is None:  # the raw DataFrame, categories and gaps as they are
            vae = VAEImputer(random_state=0).set_output(transform="pandas")
            filled = vae.fit_transform(holey)
        else:
            filled = impute_one_hot(imputer, holey, numeric, categorical)
        rmse, accuracy = scores(truth, filled, hidden, numeric)
        results.append((name, method, rmse, accuracy))
results = pd.DataFrame(
    results, columns=["table", "method", "numeric RMSE", "categorical accuracy"]
)
print(results.to_string(index=False, float_format="{:.3f}".format))

# %%
# Comparison
# ----------
# Lower RMSE and higher accuracy are better. Pima has no categorical column. On
# the eight tables of ``benchmarks/imputation.py`` (three seeds) see
# ``benchmarks/results/imputation.md`` for the averages.
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
for ax, metric in zip(axes, ["numeric RMSE", "categorical accuracy"], strict=True):
    pivot = results.pivot(index="table", columns="method", values=metric)
    pivot = pivot[list(imputers)].dropna(how="all")
    pivot.plot.bar(ax=ax, rot=0, legend=False)
    ax.set_ylabel(metric)
    ax.set_xlabel("")
axes[0].set_title("Hidden numeric cells (standardized units)")
axes[1].set_title("Hidden categorical cells")
handles, labels = axes[0].get_legend_handles_labels()
fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
plt.show()
