import numpy as np
import pytest
import torch

# Two threads on a loaded two-core machine can stall torch; one keeps the suite steady.
torch.set_num_threads(1)


@pytest.fixture
def blobs():
    """Standardized-scale data with structure a small VAE can learn quickly."""
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(200, 2))
    mixing = rng.normal(size=(2, 6))
    return latent @ mixing + 0.1 * rng.normal(size=(200, 6))
