"""
===========================================================
Explaining anomalies with per-feature reconstruction errors
===========================================================

A :class:`~skvae.VAEOutlierDetector` flags a sample when the model reconstructs it
badly. The reconstruction error is a sum over features, so it can be split:
``reconstruction_error(X, per_feature=True)`` returns the squared error of every
feature of every sample, and the features with the largest errors are the ones the
model found inconsistent with the rest of the row.

Here twenty sensors are monitored. Besides the anomalies of the data set, which
are off in every sensor, a few normal readings get a fault in a single sensor,
either a stuck reading (a value seen in training, but not together with the other
sensors' values) or a spike. The per-feature errors point at the faulty sensor.
"""

# %%
# Data with known faults
# ----------------------
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.colors import PowerNorm
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skvae import VAEOutlierDetector
from skvae.datasets import make_anomaly_data

# The documentation is built on a small shared machine; one thread keeps it steady.
torch.set_num_threads(1)

X, y = make_anomaly_data(n_samples=2000, n_features=20, random_state=0)
sensors = [f"sensor_{i:02d}" for i in range(X.shape[1])]
X = pd.DataFrame(X, columns=sensors)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

# Faults in copies of six normal test readings, one sensor each, never the same one.
rng = np.random.RandomState(1)
faulty = X_test[y_test == 0].sample(6, random_state=1).copy()
faulty.index = [f"fault {i}" for i in range(len(faulty))]
fault_sensor = rng.choice(sensors, size=len(faulty), replace=False)
for i, (row, sensor) in enumerate(zip(faulty.index, fault_sensor, strict=True)):
    if i % 2 == 0:  # stuck at the lowest value seen in training
        faulty.loc[row, sensor] = X_train[sensor].min()
    else:  # a spike of three standard deviations of that sensor
        faulty.loc[row, sensor] += 3 * X_train[sensor].std()
kind = np.where(np.arange(len(faulty)) % 2 == 0, "stuck", "spike")
# What each reading is, for the figure labels below.
description = pd.concat(
    [
        pd.Series(np.where(y_test == 1, "anomaly", "normal"), index=X_test.index),
        pd.Series(np.char.add(np.char.add(kind, " "), fault_sensor), faulty.index),
    ]
)
description[faulty.index].to_frame("fault")

# %%
# Detector
# --------
# The detector is trained on the training part, anomalies included and labels
# unused, after scaling every sensor to [0, 1].
detector = make_pipeline(
    MinMaxScaler(), VAEOutlierDetector(contamination=0.03, random_state=0)
).fit(X_train)

readings = pd.concat([X_test, faulty])
is_anomaly = np.r_[y_test, np.ones(len(faulty), dtype=int)]
predicted = detector.predict(readings) == -1
print(
    f"flagged {predicted[: len(X_test)].sum()} of {len(X_test)} test readings "
    f"({y_test.sum()} true anomalies) and {predicted[len(X_test) :].sum()} of "
    f"{len(faulty)} faulty readings"
)

# %%
# Per-feature errors
# ------------------
# ``reconstruction_error`` takes data scaled like the detector's training
# data, so the pipeline's scaler is applied first. Each row sums to that reading's
# reconstruction error.
scaler, vae = detector[0], detector[-1]
errors = pd.DataFrame(
    vae.reconstruction_error(scaler.transform(readings), per_feature=True),
    index=readings.index,
    columns=sensors,
)

# %%
# One faulty reading: the error of the faulty sensor stands far above the others.
row = faulty.index[0]
fig, ax = plt.subplots(figsize=(9, 3.8), layout="constrained")
colors = ["C3" if s == fault_sensor[0] else "C0" for s in sensors]
ax.bar(sensors, errors.loc[row], color=colors)
ax.set_xticks(range(len(sensors)), sensors, rotation=60, ha="right")
ax.set_xlabel("sensor")
ax.set_ylabel("squared reconstruction error\n(MinMax-scaled units)")
ax.set_title(f"{row}: {kind[0]} {fault_sensor[0]} (red)")
plt.show()

# %%
# Faults, anomalies and normal readings side by side
# --------------------------------------------------
# Rows are the six faulty readings, the six test anomalies with the largest total
# error and, for reference, four normal test readings; columns are the sensors.
# A fault shows as one bright cell, the faulty sensor, more clearly for a large
# spike than for a stuck value close to the usual ones. The anomalies of the data
# set, shifted in every sensor, spread their error over many sensors, and normal
# readings have small errors everywhere.
total = errors.sum(axis=1)
test_total = total.loc[X_test.index]
rows = [
    *faulty.index,
    *test_total[y_test == 1].sort_values(ascending=False).index[:6],
    *test_total[y_test == 0].sample(4, random_state=0).index,
]
top = errors.loc[rows]
labels = [f"{name}: {description[name]}" for name in top.index]
fig, ax = plt.subplots(figsize=(9, 6), layout="constrained")
# A square-root colour scale keeps moderate errors visible next to the largest.
image = ax.imshow(
    top.to_numpy(), cmap="viridis", aspect="auto", norm=PowerNorm(gamma=0.5)
)
ax.set_xticks(range(len(sensors)), sensors, rotation=60, ha="right")
ax.set_yticks(range(len(top)), labels)
ax.set_xlabel("sensor")
ax.set_ylabel("test reading")
ax.set_title("Per-feature squared reconstruction errors")
fig.colorbar(image, ax=ax, label="squared error (MinMax-scaled units)")
plt.show()

# %%
# Does the largest per-feature error name the faulty sensor, and how much of the
# reading's error does that sensor carry?
pd.DataFrame(
    {
        "faulty sensor": fault_sensor,
        "largest error in": errors.loc[faulty.index].idxmax(axis=1),
        "share of the row's error": (
            errors.loc[faulty.index].max(axis=1) / total.loc[faulty.index]
        ).round(2),
        "flagged": predicted[len(X_test) :],
    },
    index=faulty.index,
)
