"""
=========================================================================
Training with KL annealing, early stopping and learning-rate reduction
=========================================================================

Training a VAE is driven by three skorch callbacks that both estimators set up
from their parameters:

- ``kl_annealing`` (``kl_warmup_epochs``): the weight of the KL term ramps from 0
  to ``beta``, so the decoder learns to use the latent code before the prior pulls
  the posteriors together;
- ``lr_scheduler`` (``reduce_lr_on_plateau``): the learning rate is halved when the
  monitored loss stalls for ``n_iter_no_change // 2`` epochs;
- ``early_stopping`` (``early_stopping``, ``n_iter_no_change``, ``tol``): training
  stops when the loss of the held-out ``validation_fraction`` of the rows has not
  improved for ``n_iter_no_change`` epochs, and the best weights are restored.

This example trains a :class:`~skvae.VAETransformer` with batch normalisation and
dropout in the encoder on the 8x8 digit images and reads what happened from
``history_`` with :class:`~skvae.plotting.LossHistoryDisplay`.
"""

# %%
# Training
# --------
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skvae import VAETransformer
from skvae.plotting import LatentSpaceDisplay, LossHistoryDisplay

# The documentation is built on a small shared machine; one thread keeps it steady.
torch.set_num_threads(1)

X, digit = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)

vae = VAETransformer(
    n_components=2,
    hidden_layer_sizes=(128, 64),
    batch_norm=True,
    dropout=0.1,
    beta=1.0,
    kl_warmup_epochs=15,
    lr=5e-3,
    batch_size=64,
    max_epochs=200,
    n_iter_no_change=8,
    random_state=0,
).fit(X)

early_stopping = dict(vae.net_.callbacks_)["early_stopping"]
print(
    f"stopped after {vae.n_iter_} of at most {vae.max_epochs} epochs; "
    f"weights of epoch {early_stopping.best_epoch_} restored"
)

# %%
# Loss curves
# -----------
# Solid lines are the training rows, dashed lines the held-out validation rows;
# the total is ``reconstruction + beta * KL``. The training loss is higher than the
# validation loss because dropout is active only while training. During the
# warm-up, the KL term falls as its weight grows; afterwards the reconstruction
# improves slowly while the KL stays nearly flat. Triangles mark the epochs that
# started with a halved learning rate, the dotted line the epoch whose weights
# were kept.
display = LossHistoryDisplay.from_estimator(vae, yscale="log")
display.figure_.set_size_inches(10, 5)
display.ax_.legend(
    handles=display.ax_.get_legend().legend_handles,
    loc="center left",
    bbox_to_anchor=(1.0, 0.5),
)
display.figure_.set_layout_engine("constrained")
plt.show()

# %%
# KL weight and learning rate per epoch
# -------------------------------------
# Both schedules are in ``history_`` too: ``kl_weight`` (written by the net) and
# ``event_lr`` (written by the learning-rate scheduler; it is missing in the last
# epoch, where early stopping ends training before the scheduler runs).
epochs = np.asarray(vae.history_[:, "epoch"])
kl_weight = np.asarray(vae.history_[:, "kl_weight"])
learning_rate = [row.get("event_lr", np.nan) for row in vae.history_]

fig, (ax_kl, ax_lr) = plt.subplots(
    2, 1, figsize=(9, 5), sharex=True, layout="constrained"
)
ax_kl.plot(epochs, kl_weight, color="C2")
ax_kl.set_ylabel("KL weight")
ax_kl.set_title("KL annealing: the weight ramps from 0 to beta = 1 over 15 epochs")
ax_lr.step(epochs, learning_rate, where="mid", color="C4")
ax_lr.set_yscale("log")
ax_lr.set_ylabel("learning rate")
ax_lr.set_xlabel("epoch")
ax_lr.set_title("ReduceLROnPlateau: halved whenever the validation loss stalls")
for ax in (ax_kl, ax_lr):
    ax.axvline(early_stopping.best_epoch_, color="0.4", linestyle=":")
plt.show()

# %%
# The latent space
# ----------------
# The restored model maps the 1797 digits to two dimensions; the digit labels,
# never used in training, show which images the model found alike.
display = LatentSpaceDisplay.from_estimator(
    vae, X, digit, legend_title="digit", s=8, alpha=0.7
)
display.figure_.set_size_inches(7, 6)
display.legend_.set_loc("center left")
display.legend_.set_bbox_to_anchor((1.0, 0.5))
display.figure_.set_layout_engine("constrained")
plt.show()
