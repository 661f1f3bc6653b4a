import sys

import matplotlib
import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from skorch.callbacks import LRScheduler

from skvae import VAEOutlierDetector, VAETransformer
from skvae.datasets import make_anomaly_data
from skvae.plotting import LatentSpaceDisplay, LossHistoryDisplay, ScoreHistogramDisplay

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def anomaly_data():
    return make_anomaly_data(n_samples=400, n_features=6, random_state=0)


@pytest.fixture(scope="module")
def detector(anomaly_data):
    X, _ = anomaly_data
    # A step schedule halves the rate after epochs 2 and 4, so the test knows
    # exactly which epochs start with a lower learning rate.
    step = LRScheduler(policy=torch.optim.lr_scheduler.StepLR, step_size=2, gamma=0.5)
    return make_pipeline(
        MinMaxScaler(),
        VAEOutlierDetector(
            contamination=0.03,
            max_epochs=6,
            early_stopping=True,  # holds out validation rows, so valid_ curves exist
            callbacks=[("lr_scheduler", step)],
            random_state=0,
        ),
    ).fit(X)


@pytest.fixture(scope="module")
def transformer(blobs_module):
    return VAETransformer(n_components=3, max_epochs=4, random_state=0).fit(
        blobs_module
    )


@pytest.fixture(scope="module")
def blobs_module():
    rng = np.random.RandomState(0)
    return rng.normal(size=(120, 2)) @ rng.normal(size=(2, 5))


# -- LossHistoryDisplay ------------------------------------------------------------


def test_loss_history_draws_every_curve_best_epoch_and_lr_reductions(detector):
    vae = detector[-1]
    display = LossHistoryDisplay.from_estimator(detector)

    assert sorted(display.lines_) == sorted(
        f"{split}_{term}"
        for split in ("train", "valid")
        for term in ("loss", "reconstruction", "kl")
    )
    for key, line in display.lines_.items():
        np.testing.assert_array_equal(line.get_xdata(), vae.history_[:, "epoch"])
        np.testing.assert_allclose(line.get_ydata(), vae.history_[:, key])
    # Train solid, validation dashed, one colour per term.
    assert display.lines_["train_kl"].get_linestyle() == "-"
    assert display.lines_["valid_kl"].get_linestyle() == "--"
    assert (
        display.lines_["train_kl"].get_color() == display.lines_["valid_kl"].get_color()
    )

    best = dict(vae.net_.callbacks_)["early_stopping"].best_epoch_
    assert display.best_epoch == best
    assert list(display.best_epoch_line_.get_xdata()) == [best, best]

    # StepLR(step_size=2) halves the rate for epochs 3 and 5.
    np.testing.assert_array_equal(display.lr_markers_.get_xdata(), [3, 5])
    np.testing.assert_allclose(
        display.lr_markers_.get_ydata(),
        np.asarray(vae.history_[:, "valid_loss"])[[2, 4]],
    )
    # 6 curves + best epoch + LR markers; the legend names terms and splits once.
    assert len(display.ax_.get_lines()) == 8
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == [
        "total loss",
        "reconstruction",
        "KL",
        "train",
        "validation",
        f"best epoch ({best}), weights kept",
        "learning rate reduced",
    ]
    assert display.ax_.get_xlabel() == "epoch"
    assert display.ax_.get_ylabel() == "loss per sample"
    assert display.figure_ is display.ax_.figure
    assert "VAEOutlierDetector" in display.ax_.get_title()


def test_loss_history_without_validation_or_scheduler(blobs_module):
    vae = VAETransformer(
        max_epochs=3, early_stopping=False, reduce_lr_on_plateau=False, random_state=0
    ).fit(blobs_module)
    display = LossHistoryDisplay.from_estimator(vae, terms=["loss", "kl"])

    assert sorted(display.lines_) == ["train_kl", "train_loss"]
    assert display.best_epoch_line_ is None
    assert display.lr_markers_ is None
    assert len(display.ax_.get_lines()) == 2
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == ["total loss", "KL", "train"]


def test_loss_history_from_arrays_marks_reductions_on_train_loss_and_log_scale():
    display = LossHistoryDisplay(
        epochs=[1, 2, 3, 4, 5],
        losses={"train_loss": [5.0, 4.0, 3.0, 2.5, 2.4]},
        learning_rate=[1e-3, 1e-3, 5e-4, np.nan, 2.5e-4],
    ).plot(yscale="log")

    np.testing.assert_array_equal(display.lr_markers_.get_xdata(), [3])
    np.testing.assert_array_equal(display.lr_markers_.get_ydata(), [3.0])
    assert display.ax_.get_yscale() == "log"
    assert display.ax_.yaxis.get_major_formatter()(40.0, 0) == "40"
    assert display.ax_.get_title() == ""


def test_loss_history_rejects_unknown_terms(detector):
    with pytest.raises(ValueError, match="terms must be among"):
        LossHistoryDisplay.from_estimator(detector, terms=["elbo"])


def test_loss_history_draws_on_given_axes(transformer):
    fig, (left, right) = plt.subplots(1, 2)
    display = LossHistoryDisplay.from_estimator(transformer, ax=right, name="mine")
    assert display.ax_ is right
    assert display.figure_ is fig
    assert len(left.get_lines()) == 0
    assert display.ax_.get_title() == "mine training history"


# -- ScoreHistogramDisplay ---------------------------------------------------------


def test_score_histogram_splits_by_label_with_threshold(detector, anomaly_data):
    X, y = anomaly_data
    display = ScoreHistogramDisplay.from_estimator(detector, X, y, bins=15)

    assert sorted(display.bars_) == ["anomaly", "normal"]
    assert len(display.bars_["normal"]) == 15
    assert len(display.bars_["anomaly"]) == 15
    assert len(display.bin_edges_) == 16
    # Bars of both classes share the bins.
    assert [b.get_x() for b in display.bars_["normal"]] == [
        b.get_x() for b in display.bars_["anomaly"]
    ]
    # Densities: each histogram has unit area.
    for bars in display.bars_.values():
        area = sum(b.get_height() * b.get_width() for b in bars)
        assert area == pytest.approx(1.0)
    np.testing.assert_allclose(display.scores, detector.score_samples(X))
    offset = detector[-1].offset_
    assert list(display.threshold_line_.get_xdata()) == [offset, offset]
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend[:2] == [f"normal (n={(y == 0).sum()})", f"anomaly (n={y.sum()})"]
    assert legend[2].startswith("threshold offset_")


def test_score_histogram_counts_without_labels(detector, anomaly_data):
    X, _ = anomaly_data
    display = ScoreHistogramDisplay.from_estimator(detector, X, bins=8, density=False)

    assert list(display.bars_) == ["all"]
    assert len(display.bars_["all"]) == 8
    assert sum(b.get_height() for b in display.bars_["all"]) == len(X)
    assert display.ax_.get_ylabel() == "number of samples"


def test_score_histogram_pos_label_minus_one():
    display = ScoreHistogramDisplay(
        scores=[0.0, -0.1, -4.0, -6.0], y=[1, 1, -1, -1], pos_label=-1
    ).plot(bins=4, density=False)
    assert sum(b.get_height() for b in display.bars_["anomaly"]) == 2
    assert display.bars_["anomaly"][0].get_height() == 1
    assert display.threshold_line_ is None


def test_score_histogram_checks_inputs(transformer, anomaly_data):
    with pytest.raises(ValueError, match="one label per scored sample"):
        ScoreHistogramDisplay(scores=[0.0, 1.0], y=[0]).plot()
    with pytest.raises(TypeError, match="needs an outlier detector"):
        ScoreHistogramDisplay.from_estimator(transformer, np.zeros((3, 5)))


# -- LatentSpaceDisplay ------------------------------------------------------------


def test_latent_space_points_and_legend():
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(), VAETransformer(n_components=2, max_epochs=3, random_state=0)
    ).fit(X)
    display = LatentSpaceDisplay.from_estimator(pipe, X, y, legend_title="cultivar")

    offsets = display.scatter_.get_offsets()
    assert len(offsets) == len(X)
    np.testing.assert_allclose(offsets, pipe.transform(X))
    # One colour per class, in the legend in sorted order.
    colors = display.scatter_.get_facecolors()
    assert len({tuple(c) for c in colors}) == 3
    assert [t.get_text() for t in display.legend_.get_texts()] == ["0", "1", "2"]
    assert display.legend_.get_title().get_text() == "cultivar"
    assert display.colorbar_ is None
    assert display.ax_.get_xlabel() == "latent dimension 0 (posterior mean)"
    assert display.ax_.get_ylabel() == "latent dimension 1 (posterior mean)"


def test_latent_space_chosen_components_and_continuous_colour(
    transformer, blobs_module
):
    target = blobs_module[:, 0]
    display = LatentSpaceDisplay.from_estimator(
        transformer, blobs_module, target, components=(2, 0)
    )
    np.testing.assert_allclose(
        display.scatter_.get_offsets(), transformer.transform(blobs_module)[:, [2, 0]]
    )
    assert display.legend_ is None
    assert display.colorbar_ is not None
    np.testing.assert_allclose(display.scatter_.get_array(), target)
    assert display.ax_.get_xlabel().startswith("latent dimension 2")


def test_latent_space_without_y(transformer, blobs_module):
    display = LatentSpaceDisplay.from_estimator(transformer, blobs_module)
    assert len(display.scatter_.get_offsets()) == len(blobs_module)
    assert display.legend_ is None and display.colorbar_ is None


def test_latent_space_checks_inputs(transformer, detector, blobs_module):
    with pytest.raises(ValueError, match="out of range"):
        LatentSpaceDisplay.from_estimator(transformer, blobs_module, components=(0, 3))
    with pytest.raises(ValueError, match="two different"):
        LatentSpaceDisplay.from_estimator(transformer, blobs_module, components=(1, 1))
    with pytest.raises(TypeError, match="such as VAETransformer"):
        LatentSpaceDisplay.from_estimator(detector, blobs_module)
    with pytest.raises(ValueError, match="one label per sample"):
        LatentSpaceDisplay(Z=np.zeros((3, 2)), y=[0, 1]).plot()


# -- matplotlib missing ------------------------------------------------------------


@pytest.mark.parametrize(
    "draw",
    [
        lambda: LossHistoryDisplay.from_estimator(VAETransformer()),
        lambda: ScoreHistogramDisplay.from_estimator(
            VAEOutlierDetector(), np.zeros((2, 2))
        ),
        lambda: LatentSpaceDisplay.from_estimator(VAETransformer(), np.zeros((2, 2))),
        lambda: LossHistoryDisplay(epochs=[1], losses={}).plot(),
        lambda: ScoreHistogramDisplay(scores=[0.0]).plot(),
        lambda: LatentSpaceDisplay(Z=np.zeros((1, 2))).plot(),
    ],
)
def test_clear_import_error_without_matplotlib(monkeypatch, draw):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'skvae\[plot\]'"):
        draw()


def test_displays_take_name_like_scikit_learns(detector, transformer, anomaly_data):
    X, y = anomaly_data
    for display in (
        LossHistoryDisplay(epochs=[1, 2], losses={"train_loss": [2.0, 1.0]}, name="a"),
        ScoreHistogramDisplay(scores=np.arange(5.0), name="a"),
        LatentSpaceDisplay(Z=np.zeros((3, 2)), name="a"),
    ):
        assert display.name == "a"
        assert display.plot().ax_.get_title().startswith("a ")
        assert display.plot(name="b").ax_.get_title().startswith("b ")
        assert display.name == "a"  # plot's name is for that plot only
    assert LossHistoryDisplay.from_estimator(detector, name="mine").name == "mine"
    assert ScoreHistogramDisplay.from_estimator(detector, X).name == (
        "VAEOutlierDetector"
    )
    with pytest.warns(FutureWarning, match="renamed name"):
        old = LatentSpaceDisplay(Z=np.zeros((3, 2)), estimator_name="old")
    assert old.name == "old"


@pytest.mark.parametrize("copy", ["skvae.save", "pickle"])
def test_loss_history_keeps_the_best_epoch_after_save_and_load(copy, anomaly_data):
    import io
    import pickle

    import skvae

    X, _ = anomaly_data
    vae = VAEOutlierDetector(
        max_epochs=30, early_stopping=True, n_iter_no_change=2, random_state=0
    ).fit(X)
    best = dict(vae.net_.callbacks_)["early_stopping"].best_epoch_
    assert 0 < best < len(vae.history_)  # early stopping restored an earlier epoch
    if copy == "pickle":
        again = pickle.loads(pickle.dumps(vae))
    else:
        buffer = io.BytesIO()
        skvae.save(vae, buffer)
        again = skvae.load(io.BytesIO(buffer.getvalue()))
    assert again.best_epoch_ == vae.best_epoch_ == best
    display = LossHistoryDisplay.from_estimator(again)
    assert display.best_epoch == best
    assert list(display.best_epoch_line_.get_xdata()) == [best, best]
