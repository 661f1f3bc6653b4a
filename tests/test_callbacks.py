import numpy as np
import pytest
from skorch.callbacks import Callback, EarlyStopping

from skvae import VAETransformer
from skvae.callbacks import EarlyStoppingFromStart, KLAnnealing


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
    # beta=1: then the monitored loss is the ELBO that score() reports. From random
    # weights (no linear path), so that epochs beat the start.
    vae = VAETransformer(
        max_epochs=500,
        n_iter_no_change=3,
        lr=0.05,
        beta=1.0,
        linear_path=False,
        random_state=0,
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
    assert vae.net_.validation_loss(valid) == pytest.approx(min(valid_losses))


def _linear(n=300, seed=0):
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, 2)) @ rng.normal(size=(2, 6)) + 0.3 * rng.normal(
        size=(n, 6)
    )


def test_early_stopping_keeps_the_start_when_no_epoch_beats_it():
    X = _linear()
    # Started at the linear optimum (PPCA) on linear data, then pushed around by a
    # far too large learning rate: no epoch is better on the held-out rows.
    vae = VAETransformer(lr=0.3, n_iter_no_change=3, random_state=0).fit(X)
    assert isinstance(_callback(vae, "early_stopping"), EarlyStoppingFromStart)
    assert vae.best_epoch_ == 0 and vae.n_iter_ == 3
    start = VAETransformer(lr=1e-30, max_epochs=1, random_state=0).fit(X)
    np.testing.assert_allclose(vae.transform(X), start.transform(X), atol=1e-12)
    _, valid = vae.net_.get_split_datasets(vae.net_.get_dataset(X))
    assert min(vae.history_[:, "valid_loss"]) > vae.net_.validation_loss(valid)


def test_early_stopping_from_start_is_skorchs_when_an_epoch_wins(blobs):
    # From random weights the first epoch beats the start: skorch's behaviour.
    vae = VAETransformer(
        linear_path=False, max_epochs=30, n_iter_no_change=3, random_state=0
    ).fit(blobs)
    assert vae.best_epoch_ >= 1


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


# -- the skorch contract: every callback skorch exports works through callbacks= --


def _recon_mse(net, X, y=None):
    """A custom EpochScoring scorer: mean squared reconstruction error."""
    reconstruction = net.predict(X)
    target = X.X.numpy() if hasattr(X, "X") else np.asarray(X)
    return float(((reconstruction - target) ** 2).mean())


def _skorch_callbacks(tmp_path):
    """One working instance of every callback in ``skorch.callbacks.__all__``, or
    the reason it is left out."""
    import torch
    from skorch import callbacks as cbs

    checkpoint = cbs.Checkpoint(dirname=str(tmp_path / "cp"), f_pickle=None)
    return {
        "BatchScoring": cbs.BatchScoring(
            lambda net, X, y: float(net.get_loss(net.infer(X), None, X)),
            name="batch_loss",
            on_train=True,
        ),
        "Callback": cbs.Callback(),
        "Checkpoint": checkpoint,
        "Checkpoint(monitor=None)": cbs.Checkpoint(
            dirname=str(tmp_path / "cp_all"), f_pickle=None, monitor=None
        ),
        "EarlyStopping": cbs.EarlyStopping(patience=2),
        "EpochScoring": cbs.EpochScoring("neg_mean_squared_error"),
        "EpochScoring(custom)": cbs.EpochScoring(
            _recon_mse, name="recon_mse", on_train=True
        ),
        "EpochTimer": cbs.EpochTimer(),
        "Freezer": cbs.Freezer("encoder.*"),
        "GradientNormClipping": cbs.GradientNormClipping(1.0),
        "Initializer": cbs.Initializer("mean.bias", torch.nn.init.zeros_),
        # skvae's module takes the numeric input width as n_features.
        "InputShapeSetter": cbs.InputShapeSetter(param_name="n_features"),
        "LRScheduler(StepLR, batch)": cbs.LRScheduler(
            torch.optim.lr_scheduler.StepLR, step_size=3, step_every="batch"
        ),
        "LRScheduler(OneCycleLR, batch)": cbs.LRScheduler(
            torch.optim.lr_scheduler.OneCycleLR,
            max_lr=0.01,
            total_steps=1000,
            step_every="batch",
        ),
        "LoadInitState": cbs.LoadInitState(
            cbs.Checkpoint(dirname=str(tmp_path / "init"), f_pickle=None)
        ),
        "MlflowLogger": "needs an MLflow tracking server (external service)",
        "NeptuneLogger": "needs a Neptune run (external service)",
        "ParamMapper": cbs.ParamMapper(
            "decoder.*",
            at=2,
            fn=lambda params: (p.requires_grad_(False) for p in params),
        ),
        "PassthroughScoring": cbs.PassthroughScoring(name="train_loss", on_train=True),
        "PrintLog": cbs.PrintLog(),
        "ProgressBar": cbs.ProgressBar(),
        "SacredLogger": "needs a Sacred experiment run (external service)",
        "TensorBoard": _tensorboard(tmp_path),
        "TrainEndCheckpoint": cbs.TrainEndCheckpoint(
            dirname=str(tmp_path / "end"), f_pickle=None
        ),
        "Unfreezer": cbs.Unfreezer("encoder.*", at=2),
        "WandbLogger": "needs a Weights & Biases run (external service)",
        # A scheduler policy, not a callback: it is used through LRScheduler.
        "WarmRestartLR": cbs.LRScheduler(cbs.WarmRestartLR, step_every="batch"),
    }


def _tensorboard(tmp_path):
    """TensorBoard writing into ``tmp_path``, or why it cannot run here."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return "needs the tensorboard package (the dev extra installs it)"
    from skorch.callbacks import TensorBoard

    return TensorBoard(SummaryWriter(str(tmp_path / "tensorboard")))


def _callback_cases():
    from skorch import callbacks as cbs

    names = sorted(set(cbs.__all__) - {"Checkpoint", "EpochScoring", "LRScheduler"})
    names += [
        "Checkpoint",
        "Checkpoint(monitor=None)",
        "EpochScoring",
        "EpochScoring(custom)",
        "LRScheduler(StepLR, batch)",
        "LRScheduler(OneCycleLR, batch)",
    ]
    return names


def test_callback_cases_cover_skorch():
    from skorch import callbacks as cbs

    prefixes = {case.split("(")[0] for case in _callback_cases()}
    assert prefixes == set(cbs.__all__)


@pytest.mark.parametrize("Estimator", ["VAETransformer", "VAEOutlierDetector"])
@pytest.mark.parametrize("case", _callback_cases())
def test_every_skorch_callback_works(case, Estimator, tmp_path, blobs):
    import skvae

    callback = _skorch_callbacks(tmp_path)[case]
    if isinstance(callback, str):
        pytest.skip(callback)
    from skvae._net import reads_batch_rows

    # early_stopping=True holds out validation rows (Checkpoint's default monitor
    # is valid_loss_best).
    estimator = getattr(skvae, Estimator)(
        max_epochs=3, random_state=0, early_stopping=True, callbacks=[callback]
    )
    estimator.fit(blobs)
    history = estimator.history_
    assert len(history) == estimator.n_iter_ >= 1
    # skorch's history format: per-batch rows and *_best flags.
    n_batches = history[-1, "train_batch_count"] + history[-1, "valid_batch_count"]
    if reads_batch_rows(callback):
        assert len(history[-1, "batches"]) == n_batches > 1
        assert history[-1, "batches", 0, "train_loss"] > 0
    else:
        assert history[-1, "batches"] == []
    assert isinstance(history[-1, "valid_loss_best"], bool)
    assert isinstance(history[-1, "train_loss_best"], bool)
    if case.startswith("EpochScoring("):
        assert np.isfinite(history[:, "recon_mse"]).all()
    elif case == "EpochScoring":
        assert np.all(np.asarray(history[:, "neg_mean_squared_error"]) < 0)
    elif case == "BatchScoring":
        assert np.isfinite(history[:, "batch_loss"]).all()
    elif case.startswith("LRScheduler("):
        assert history[-1, "batches", 0, "event_lr"] > 0
    elif case.startswith("Checkpoint") or case == "TrainEndCheckpoint":
        assert any(tmp_path.rglob("*params.pt"))
    # Fitted estimators still score.
    assert np.isfinite(estimator.score(blobs))
    if case not in ("Checkpoint", "EpochScoring"):  # these watch validation scores
        estimator.partial_fit(blobs)


def test_batch_rows_skipped_only_without_readers(blobs):
    vae = VAETransformer(max_epochs=2, random_state=0).fit(blobs)
    assert vae.history_[-1, "batches"] == []
    assert vae.history_[-1, "train_batch_count"] > 0
    assert "valid_loss_best" in vae.history_[-1]


def test_verbose_2_shows_a_progress_bar(blobs, capsys):
    from skorch.callbacks import ProgressBar

    vae = VAETransformer(max_epochs=2, random_state=0, verbose=2).fit(blobs)
    assert any(isinstance(cb, ProgressBar) for _, cb in vae.net_.callbacks_)
    vae = VAETransformer(max_epochs=2, random_state=0, verbose=1).fit(blobs)
    assert not any(isinstance(cb, ProgressBar) for _, cb in vae.net_.callbacks_)
    assert "train_loss" in capsys.readouterr().out


def test_plain_function_as_callback_is_a_clear_type_error(blobs):
    vae = VAETransformer(max_epochs=2, callbacks=[lambda net: None])
    with pytest.raises(TypeError, match="skorch Callback"):
        vae.fit(blobs)


def test_input_shape_setter_is_a_no_op_on_arrays_and_refused_on_tables(blobs):
    """The module's construction arguments are skorch module__ parameters, so
    InputShapeSetter(param_name="n_features") finds the width already set on
    numeric data; on a table, n_features counts the numeric columns only (the
    one-hot blocks are ``cardinalities``), so it would rebuild a wrong network:
    that is refused with a clear error instead of a shape error inside torch."""
    pd = pytest.importorskip("pandas")
    from sklearn.exceptions import NotFittedError
    from skorch.callbacks import InputShapeSetter

    import skvae

    holey = blobs.copy()
    holey[::5, 0] = np.nan
    plain = skvae.VAETransformer(max_epochs=3, random_state=0).fit(holey)
    setter = skvae.VAETransformer(
        max_epochs=3,
        random_state=0,
        callbacks=[InputShapeSetter(param_name="n_features")],
    ).fit(holey)
    assert setter.net_.module__n_features == 6
    np.testing.assert_array_equal(setter.transform(holey), plain.transform(holey))

    table = pd.DataFrame(holey[:, :3], columns=["a", "b", "c"])
    table["colour"] = np.where(blobs[:, 3] > 0, "red", "blue")
    detector = skvae.VAEOutlierDetector(
        max_epochs=3, callbacks=[InputShapeSetter(param_name="n_features")]
    )
    with pytest.raises(ValueError, match="InputShapeSetter is not needed"):
        detector.fit(table)
    with pytest.raises(NotFittedError):
        detector.score_samples(table)
    # Without it the table fits, with n_features the numeric width.
    detector.set_params(callbacks=None).fit(table)
    assert detector.net_.module__n_features == 3
    assert detector.net_.module__cardinalities == (2,)
