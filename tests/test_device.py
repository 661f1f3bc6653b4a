"""The device parameter: CPU always, CUDA where a GPU is present."""

import pickle

import numpy as np
import pytest
import torch

from skvae import VAEOutlierDetector, VAETransformer

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
X = np.random.RandomState(0).uniform(size=(200, 6))


def test_auto_device_on_this_machine():
    vae = VAETransformer(device="auto", max_epochs=2, random_state=0).fit(X)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(vae.net_.module_.parameters()).device.type == expected


@needs_cuda
def test_cuda_fit_learns_scores_and_pickles():
    gpu = VAEOutlierDetector(device="cuda", max_epochs=20, random_state=0).fit(X)
    assert next(gpu.net_.module_.parameters()).is_cuda
    losses = gpu.history_[:, "train_reconstruction"]
    assert losses[-1] < losses[0]
    scores = gpu.score_samples(X)
    assert scores.dtype == X.dtype and np.all(np.isfinite(scores))
    assert np.mean(gpu.predict(X) == -1) == pytest.approx(0.1, abs=0.01)
    restored = pickle.loads(pickle.dumps(gpu))
    np.testing.assert_array_equal(restored.score_samples(X), scores)


@needs_cuda
def test_cuda_partial_fit_keeps_training_on_the_gpu():
    vae = VAETransformer(device="cuda", random_state=0)
    for chunk in np.array_split(X, 2):
        vae.partial_fit(chunk)
    assert next(vae.net_.module_.parameters()).is_cuda
    assert vae.transform(X).shape == (200, 2)
