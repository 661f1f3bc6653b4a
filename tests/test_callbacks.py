import numpy as np
import pytest
from skorch.callbacks import Callback, EarlyStopping

from skvae import VAETransformer
from skvae.callbacks import KLAnnealing


class CountEpochs(Callback):
    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


def _callback(estimator, name):
    return dict(estimator.net_.callbacks_)[name]


def test_kl_annealing_ramps_linearly_to_beta(blobs):
    vae = VAETransformer(beta=2.0, kl_warmup_epochs=4, max_epochs=6, random_state=0)
    vae.fit(blobs)
    assert vae.history_[:, "kl_weight"] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.0])


def test_kl_annealing_start_value():
    callback = KLAnnealing(n_epochs=2, start=0.5)

    class Net:
        beta = 4.0
        history = [{}]

    net = Net()
    callback.on_epoch_begin(net)
    assert net.kl_weight_ == 2.0


def test_no_warmup_trains_at_beta_from_the_start(blobs):
    vae = VAETransformer(beta=0.3, kl_warmup_epochs=0, max_epochs=3, random_state=0)
    assert vae.fit(blobs).history_[:, "kl_weight"] == [0.3, 0.3, 0.3]


def test_early_stopping_stops_and_restores_the_best_epoch(blobs):
    vae = VAETransformer(
        max_epochs=500, n_iter_no_change=3, lr=0.05, random_state=0
    ).fit(blobs)
    stopper = _callback(vae, "early_stopping")
    assert vae.n_iter_ < 500
    assert vae.n_iter_ == stopper.best_epoch_ + 3
    valid_losses = vae.history_[:, "valid_loss"]
    assert valid_losses[stopper.best_epoch_ - 1] == min(valid_losses)
    # The restored weights are the best epoch's: scoring the validation rows again
    # reproduces that epoch's loss, not the last one's.
    _, valid = vae.net_.get_split_datasets(vae.net_.get_dataset(blobs))
    assert -vae.score(valid.X.numpy()) == pytest.approx(min(valid_losses), rel=1e-6)


def test_learning_rate_is_reduced_on_plateau(blobs):
    vae = VAETransformer(
        max_epochs=60, n_iter_no_change=4, early_stopping=False, lr=0.05, random_state=0
    ).fit(blobs)
    lrs = vae.history_[:, "event_lr"]
    assert lrs[0] == 0.05
    assert min(lrs) < 0.05


def test_without_early_stopping_every_epoch_runs_on_all_rows(blobs):
    vae = VAETransformer(max_epochs=7, early_stopping=False, random_state=0).fit(blobs)
    assert vae.n_iter_ == 7
    assert "valid_loss" not in vae.history_[-1]
    assert _callback(vae, "lr_scheduler").monitor == "train_loss"


def test_user_callbacks_are_added_and_replace_defaults_by_name(blobs):
    counter = CountEpochs()
    patient = EarlyStopping(monitor="train_loss", patience=1000)
    vae = VAETransformer(
        max_epochs=4,
        random_state=0,
        callbacks=[counter, ("early_stopping", patient)],
    ).fit(blobs)
    callbacks = dict(vae.net_.callbacks_)
    assert callbacks["CountEpochs"].epochs_ == 4
    assert callbacks["early_stopping"].patience == 1000
    # The user's objects are copied, never trained in place.
    assert not hasattr(counter, "epochs_")
    assert not hasattr(patient, "best_epoch_")


def test_defaults_can_be_switched_off(blobs):
    vae = VAETransformer(
        max_epochs=2,
        kl_warmup_epochs=0,
        early_stopping=False,
        reduce_lr_on_plateau=False,
        random_state=0,
    ).fit(blobs)
    names = set(dict(vae.net_.callbacks_))
    assert not names & {"kl_annealing", "early_stopping", "lr_scheduler"}
    assert np.all(np.isfinite(vae.history_[:, "train_loss"]))


class CountBatches(Callback):
    def initialize(self):
        self.train_batches_ = 0
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        self.train_batches_ += int(training)


def test_batch_events_reach_callbacks_that_listen(blobs):
    vae = VAETransformer(
        max_epochs=3, batch_size=50, random_state=0, callbacks=[CountBatches()]
    ).fit(blobs)
    counter = dict(vae.net_.callbacks_)["CountBatches"]
    # 200 rows, 20 held out for validation: 180 training rows in 4 batches a pass.
    assert counter.train_batches_ == 3 * 4
