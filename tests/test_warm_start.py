"""``warm_start=True`` trains the fitted weights further instead of starting afresh."""

import numpy as np
import pytest
import torch

from skvae import VAEOutlierDetector, VAETransformer

ESTIMATORS = [VAETransformer, VAEOutlierDetector]


def _weights(estimator):
    return [p.detach().clone() for p in estimator.net_.module_.parameters()]


def _same(a, b):
    # Within 1e-20: a weight that is exactly 0 (an output layer started at zero,
    # fed by a unit that was inactive so far) moves by lr even at lr=1e-30.
    return all(
        torch.allclose(x, y, rtol=0.0, atol=1e-20) for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_warm_start_starts_from_the_current_weights(Estimator, blobs):
    estimator = Estimator(max_epochs=3, warm_start=True, random_state=0).fit(blobs)
    before = _weights(estimator)
    # Adam moves each weight by about lr per step: 1e-30 leaves them unchanged (see
    # _same), while any re-initialisation would not.
    estimator.set_params(lr=1e-30, random_state=1).fit(blobs)
    assert _same(before, _weights(estimator))
    estimator.set_params(warm_start=False).fit(blobs)
    assert not _same(before, _weights(estimator))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_warm_start_continues_the_history_and_kl_annealing(Estimator, blobs):
    estimator = Estimator(
        max_epochs=3, kl_warmup_epochs=4, early_stopping=False, random_state=0
    )
    estimator.set_params(warm_start=True).fit(blobs)
    first_losses = estimator.history_[:, "train_loss"]
    estimator.fit(blobs)
    assert estimator.n_iter_ == len(estimator.history_) == 6
    assert estimator.history_[:, "epoch"] == [1, 2, 3, 4, 5, 6]
    assert estimator.history_[:3, "train_loss"] == first_losses
    # The KL weight ramps over epochs 1..5 across both calls, then stays at beta.
    ramp = [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert estimator.history_[:, "kl_weight"] == pytest.approx(
        [weight * estimator.beta for weight in ramp]
    )
    # Training went on from a trained model rather than from scratch.
    assert estimator.history_[3, "train_loss"] < first_losses[0]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_warm_start_leaves_the_previous_network_untouched(Estimator, blobs):
    # No early stopping, which may keep the weights the second fit starts from.
    estimator = Estimator(
        max_epochs=2, warm_start=True, early_stopping=False, random_state=0
    ).fit(blobs)
    previous_net = estimator.net_
    before = _weights(estimator)
    estimator.fit(blobs)
    assert estimator.net_ is not previous_net
    assert _same(before, [p.detach() for p in previous_net.module_.parameters()])
    assert not _same(before, _weights(estimator))


@pytest.mark.parametrize(
    "change",
    [
        lambda X, e: (X[:, :4], e),
        lambda X, e: (X, e.set_params(n_components=3)),
        lambda X, e: (X, e.set_params(hidden_layer_sizes=(7,))),
        lambda X, e: (X, e.set_params(activation="tanh")),
        # Options that add no layer: the module still has to be rebuilt.
        lambda X, e: (X, e.set_params(noise_model="feature")),
        lambda X, e: (X, e.set_params(trim_fraction=0.3)),
    ],
    ids=[
        "n_features",
        "n_components",
        "hidden_layer_sizes",
        "activation",
        "noise_model",
        "trim_fraction",
    ],
)
def test_warm_start_starts_afresh_when_the_network_changes(change, blobs):
    estimator = VAETransformer(max_epochs=2, warm_start=True, random_state=0)
    estimator.fit(blobs)
    X, estimator = change(blobs, estimator)
    estimator.fit(X)
    assert estimator.n_iter_ == 2
    fresh = VAETransformer(**estimator.get_params()).set_params(warm_start=False)
    np.testing.assert_array_equal(estimator.transform(X), fresh.fit(X).transform(X))


def test_warm_start_follows_a_change_of_dtype(blobs):
    estimator = VAETransformer(max_epochs=2, warm_start=True, random_state=0)
    estimator.fit(blobs).fit(blobs.astype(np.float32))
    assert estimator.n_iter_ == 4
    assert next(estimator.net_.module_.parameters()).dtype == torch.float32
    assert estimator.transform(blobs.astype(np.float32)).dtype == np.float32


def test_warm_start_is_deterministic(blobs):
    def run():
        estimator = VAETransformer(max_epochs=2, warm_start=True, random_state=0)
        return estimator.fit(blobs).fit(blobs).transform(blobs)

    np.testing.assert_array_equal(run(), run())
