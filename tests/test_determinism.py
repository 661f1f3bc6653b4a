"""Same seed, same model, in one process or another; no effect on the caller's RNGs;
inference safe to share between threads."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from skvae import VAEOutlierDetector, VAETransformer

ESTIMATORS = [VAETransformer, VAEOutlierDetector]
REPO_ROOT = Path(__file__).resolve().parents[1]

# Run in this process and, as a script, in a fresh one: fit with a seed and print a
# hash of every weight and every output. Both use one torch thread, as the suite does
# (a different thread count may change how large reductions are split).
FIT_AND_HASH = """
import hashlib
import numpy as np
import torch
torch.set_num_threads(1)
from skvae import VAEOutlierDetector, VAETransformer

X = np.random.RandomState(0).normal(size=(120, 6))
for Estimator in (VAETransformer, VAEOutlierDetector):
    estimator = Estimator(max_epochs=4, random_state=7).fit(X)
    digest = hashlib.sha256()
    for key, tensor in estimator.net_.module_.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.numpy().tobytes())
    for name in ("transform", "score_samples"):
        if hasattr(estimator, name):
            digest.update(getattr(estimator, name)(X).tobytes())
    digest.update(np.float64(estimator.score(X)).tobytes())
    print(Estimator.__name__, digest.hexdigest())
"""


def _weights(estimator):
    return [t.clone() for t in estimator.net_.module_.state_dict().values()]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_same_seed_gives_bit_identical_weights_and_outputs(Estimator, blobs):
    a = Estimator(max_epochs=4, random_state=3).fit(blobs)
    b = Estimator(max_epochs=4, random_state=3).fit(blobs)
    c = Estimator(max_epochs=4, random_state=4).fit(blobs)
    assert all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(b), strict=True))
    assert not all(
        torch.equal(x, y) for x, y in zip(_weights(a), _weights(c), strict=True)
    )
    method = "transform" if hasattr(a, "transform") else "score_samples"
    np.testing.assert_array_equal(getattr(a, method)(blobs), getattr(b, method)(blobs))
    assert a.history_[:, "train_loss"] == b.history_[:, "train_loss"]


def test_same_seed_gives_the_same_model_in_another_process():
    printed = []
    exec(
        compile(FIT_AND_HASH, "<fit-and-hash>", "exec"),
        {"print": lambda *args: printed.append(" ".join(args))},
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    other = subprocess.run(
        [sys.executable, "-c", FIT_AND_HASH],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert len(printed) == 2
    assert other.stdout.splitlines() == printed


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("warm_start", [False, True])
def test_fit_leaves_the_global_rngs_alone(Estimator, warm_start, blobs):
    estimator = Estimator(max_epochs=3, warm_start=warm_start, random_state=0)
    estimator.fit(blobs)  # a second fit takes the warm-start path when asked
    torch_state = torch.random.get_rng_state()
    numpy_state = np.random.get_state()  # noqa: NPY002
    estimator.fit(blobs)
    Estimator(max_epochs=2, batch_norm=True, dropout=0.1).fit(blobs)  # unseeded
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    # The whole state, position included: a draw that does not reach the end of
    # the key block changes only the position.
    _, key, position, *gauss = np.random.get_state()  # noqa: NPY002
    np.testing.assert_array_equal(key, numpy_state[1])
    assert (position, *gauss) == tuple(numpy_state[2:])


def test_unseeded_fits_differ_even_after_np_random_seed(blobs):
    # random_state=None draws its seed from the operating system, not from NumPy's
    # global generator (which it leaves alone), so two such fits differ.
    models = []
    for _ in range(2):
        np.random.seed(0)  # noqa: NPY002
        # (No early stopping: it may keep the seed-free PPCA start.)
        vae = VAETransformer(max_epochs=2, early_stopping=False)
        models.append(vae.fit(blobs).transform(blobs))
    assert not np.array_equal(*models)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_concurrent_inference_from_four_threads_matches_serial(Estimator):
    X = np.random.RandomState(0).normal(size=(3000, 8))
    estimator = Estimator(max_epochs=2, random_state=0).fit(X[:300])
    # Small inference batches: each call loops over many, so the threads interleave.
    estimator.net_.inference_batch_size = 64
    methods = [
        getattr(estimator, name)
        for name in ("transform", "inverse_transform", "score_samples", "predict")
        if hasattr(estimator, name)
    ]
    inputs = {
        m: estimator.transform(X) if m.__name__ == "inverse_transform" else X
        for m in methods
    }
    expected = {m: m(inputs[m]) for m in methods}
    calls = [m for m in methods for _ in range(6)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda m: (m, m(inputs[m])), calls))
    for method, result in results:
        np.testing.assert_array_equal(result, expected[method])
