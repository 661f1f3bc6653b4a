"""
============================================
Compressing the Wine data to two dimensions
============================================

A :class:`~skvae.VAETransformer` is used like :class:`~sklearn.decomposition.PCA`:
after a scaler in a :class:`~sklearn.pipeline.Pipeline`, ``fit`` learns a latent
space, ``transform`` maps samples to the mean of their posterior, and
``inverse_transform`` decodes latent points back to the 13 measured features.

This example compresses the 178 wines of :func:`~sklearn.datasets.load_wine` to two
latent dimensions, looks at the latent space coloured by cultivar, compares the
held-out reconstruction error with PCA at the same number of components, and shows a
few reconstructed rows next to the originals.
"""

# %%
# Data and models
# ---------------
# A quarter of the wines is held out, stratified by cultivar, to measure how well
# each model reconstructs samples it has not seen. Both pipelines standardize the
# 13 features first: they are measured in very different units.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skvae import VAETransformer
from skvae.plotting import LatentSpaceDisplay

# The documentation is built on a small shared machine; one thread keeps it steady.
torch.set_num_threads(1)

wine = load_wine(as_frame=True)
X, y = wine.data, wine.target
cultivar = np.asarray(wine.target_names)[y]
X_train, X_test, cultivar_train, cultivar_test = train_test_split(
    X, cultivar, test_size=0.25, stratify=y, random_state=0
)

vae = make_pipeline(StandardScaler(), VAETransformer(n_components=2, random_state=0))
pca = make_pipeline(StandardScaler(), PCA(n_components=2))
vae.fit(X_train)
pca.fit(X_train)
print(f"VAE trained for {vae[-1].n_iter_} epochs")

# %%
# The latent space
# ----------------
# :class:`~skvae.plotting.LatentSpaceDisplay` encodes samples and draws two latent
# dimensions. The cultivars were never shown to either model, yet both separate
# them; the VAE's latent means are pulled towards the N(0, I) prior, so its axes
# are on a scale of about one, unlike PCA's.
fig, (ax_vae, ax_pca) = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained")
LatentSpaceDisplay.from_estimator(
    vae, X_train, cultivar_train, legend_title="cultivar", ax=ax_vae
)
LatentSpaceDisplay.from_estimator(
    pca, X_train, cultivar_train, legend_title="cultivar", ax=ax_pca, name="PCA"
)
ax_pca.set_xlabel("principal component 0")
ax_pca.set_ylabel("principal component 1")
fig.suptitle("Wine training samples in two dimensions")
plt.show()

# %%
# Held-out reconstruction error
# -----------------------------
# Both models reconstruct the held-out wines from two numbers each. The error is
# measured in standardized units (mean squared error per feature), where each
# feature counts the same.
scaler = vae[0]
X_test_std = scaler.transform(X_test)


def reconstruction_mse(pipeline):
    model = pipeline[-1]
    X_std = pipeline[0].transform(X_test)
    return np.mean((model.inverse_transform(model.transform(X_std)) - X_std) ** 2)


errors = pd.Series(
    {
        "VAETransformer(n_components=2)": reconstruction_mse(vae),
        "PCA(n_components=2)": reconstruction_mse(pca),
    },
    name="held-out reconstruction MSE",
)
errors.round(3).to_frame()

# %%
# Reconstructed rows next to the originals
# ----------------------------------------
# ``inverse_transform`` of the whole pipeline decodes the latent means and undoes
# the scaling, so reconstructions come back in the original units. Some features
# come back close to the measured values; what two numbers per wine cannot hold is
# pulled towards values typical of similar wines.
rows = X_test.iloc[:3]
reconstructed = pd.DataFrame(
    vae.inverse_transform(vae.transform(rows)), index=rows.index, columns=X.columns
)
columns = ["alcohol", "malic_acid", "flavanoids", "color_intensity", "proline"]
side_by_side = pd.concat(
    {"original": rows[columns], "VAE reconstruction": reconstructed[columns]}
).swaplevel()
side_by_side.reindex(
    pd.MultiIndex.from_product([rows.index, ["original", "VAE reconstruction"]])
).round(2)

# %%
# The same rows over all 13 features, in standardized units: dots are the measured
# values, lines the VAE and PCA reconstructions.
fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True, layout="constrained")
features = np.arange(X.shape[1])
rows_std = scaler.transform(rows)
vae_std = vae[-1].inverse_transform(vae[-1].transform(rows_std))
pca_std = pca[-1].inverse_transform(pca[-1].transform(pca[0].transform(rows)))
for ax, original, from_vae, from_pca, index in zip(
    axes, rows_std, vae_std, pca_std, rows.index, strict=True
):
    ax.plot(features, original, "ko", label="original")
    ax.plot(features, from_vae, "-", color="C0", label="VAE reconstruction")
    ax.plot(features, from_pca, "--", color="C1", label="PCA reconstruction")
    ax.axhline(0, color="0.8", linewidth=0.8, zorder=0)
    ax.set_ylabel("standardized value")
    ax.set_title(f"test wine #{index} ({cultivar[index]})", fontsize="medium")
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=3)
axes[-1].set_xticks(features, X.columns, rotation=45, ha="right")
axes[-1].set_xlabel("feature")
plt.show()
