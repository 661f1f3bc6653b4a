"""Plots of fitted VAEs, in scikit-learn's Display style.

Each Display stores what it draws, has a ``plot(ax=None, ...)`` method and a
``from_estimator(...)`` constructor, and after plotting exposes ``ax_`` and
``figure_`` plus the matplotlib artists it created, so a figure can be restyled
after the fact.

matplotlib is an optional dependency (``pip install 'skvae[plot]'``); it is imported
only when something is drawn.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

__all__ = ["LatentSpaceDisplay", "LossHistoryDisplay", "ScoreHistogramDisplay"]

_TERM_LABELS = {"loss": "total loss", "reconstruction": "reconstruction", "kl": "KL"}
_TERM_COLORS = {"loss": "C0", "reconstruction": "C1", "kl": "C2"}
_SPLIT_STYLES = {"train": "-", "valid": "--"}
_SPLIT_LABELS = {"train": "train", "valid": "validation"}
# Above this many distinct values, a numeric ``y`` is coloured with a colour bar
# rather than one legend entry per value.
_MAX_CATEGORIES = 10


def _pyplot(caller: str):
    """Import ``matplotlib.pyplot``, or say how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed; install it with "
            "pip install 'skvae[plot]' or pip install matplotlib."
        ) from exc
    return plt


def _axes(ax, caller: str):
    plt = _pyplot(caller)
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _final_estimator(estimator):
    """The fitted VAE itself, also when it ends a Pipeline."""
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    check_is_fitted(final)
    return final


def _deprecated_name(name, estimator_name):
    if estimator_name == "deprecated":
        return name
    warnings.warn(
        "estimator_name was renamed name in skvae 0.2, as in scikit-learn's "
        "Displays; estimator_name will be removed in 0.3.",
        FutureWarning,
        stacklevel=3,
    )
    return estimator_name if name is None else name


def _name(estimator, name):
    if name is not None:
        return name
    return type(_final_estimator(estimator)).__name__


def _checked_final(estimator, method: str, display: str, needs: str):
    """The fitted final estimator, once ``estimator`` is known to have ``method``.

    ``needs`` says, for the error, what kind of estimator ``display`` draws.
    """
    _pyplot(f"{display}.from_estimator")
    final = _final_estimator(estimator)
    if not hasattr(estimator, method):
        raise TypeError(f"{display} needs {needs}; got {type(final).__name__}.")
    return final


def _vertical_line(ax, x, label: str, **style):
    """A vertical line at ``x`` labelled ``label.format(x)``; None when ``x`` is."""
    if x is None:
        return None
    return ax.axvline(x, label=label.format(x), **style)


def _finish(display, ax, name, what: str):
    """Title ``ax`` "<name> <what>" and keep it and its figure on ``display``.

    ``name`` overrides the display's own; an empty name leaves the title out.
    """
    name = display.name if name is None else name
    if name:
        ax.set_title(f"{name} {what}")
    display.ax_ = ax
    display.figure_ = ax.figure
    return display


# Docstring sections every Display shares, filled in by _fill_display_docs so that
# the three cannot drift apart (as skvae._base.fill_parameter_docs does for the
# estimators). "{display}" stands for the class's name.
_SHARED_DOCS = {
    "name_parameters": """\
name : str or None, default=None
        Name of the estimator, shown in the title (as in scikit-learn's Displays).
    estimator_name : str, default="deprecated"
        Former name of ``name``; deprecated in 0.2, use ``name``.""",
    "plot_parameters": """\
ax : matplotlib.axes.Axes or None, default=None
            Axes to draw on; None makes a new figure.
        name : str or None, default=None
            Name shown in the title; overrides the ``name`` given at construction.""",
    "from_estimator_parameters": """\
name : str or None, default=None
            Title prefix; the estimator's class name when None.
        ax : matplotlib.axes.Axes or None, default=None
            Axes to draw on; None makes a new figure.""",
    "returns": """\
Returns
        -------
        display : {display}
            This object, with ``ax_``, ``figure_`` and the artists set.""",
}


def _fill_display_docs(display_class) -> None:
    """Fill the shared sections into the docstrings of a Display and its methods."""
    for function in (
        display_class,
        display_class.plot,
        display_class.from_estimator.__func__,
    ):
        doc = function.__doc__
        if doc is None:  # python -OO strips docstrings
            continue
        for key, section in _SHARED_DOCS.items():
            doc = doc.replace("{" + key + "}", section)
        function.__doc__ = doc.replace("{display}", display_class.__name__)


class LossHistoryDisplay:
    """Loss per epoch of a fitted VAE: total, reconstruction and KL, train and
    validation, with the early-stopping epoch and learning-rate reductions marked.

    The losses are those written to ``history_``: batch means of the reconstruction
    error and of the KL divergence, and their total ``reconstruction + beta * KL``
    (with the final ``beta`` also during KL annealing, so epochs compare).

    Use :meth:`from_estimator` to build it from a fitted estimator; the constructor
    takes the curves themselves.

    Parameters
    ----------
    epochs : array-like of shape (n_epochs,)
        Epoch numbers, starting at 1.
    losses : dict of str to array-like of shape (n_epochs,)
        Curves keyed like the history: ``"train_loss"``, ``"train_reconstruction"``,
        ``"train_kl"`` and the ``"valid_"`` counterparts, any subset of them.
    best_epoch : int or None, default=None
        Epoch whose weights early stopping kept; drawn as a vertical line.
    learning_rate : array-like of shape (n_epochs,) or None, default=None
        Learning rate of each epoch (NaN where unknown). Epochs that start with a
        lower rate than the epoch before are marked on the monitored curve.
    {name_parameters}

    Attributes
    ----------
    lines_ : dict of str to matplotlib.lines.Line2D
        One line per plotted curve, keyed like ``losses``. The legend has one entry
        per term (colour) and per split (line style), not one per curve.
    best_epoch_line_ : matplotlib.lines.Line2D or None
        The vertical line at ``best_epoch``.
    lr_markers_ : matplotlib.lines.Line2D or None
        Markers at the epochs where the learning rate went down; None when it never
        did.
    ax_ : matplotlib.axes.Axes
        Axes with the curves.
    figure_ : matplotlib.figure.Figure
        Figure containing the axes.

    See Also
    --------
    ScoreHistogramDisplay : Distribution of the anomaly scores.
    LatentSpaceDisplay : Scatter plot of the latent codes.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> from skvae.plotting import LossHistoryDisplay
    >>> X = np.random.RandomState(0).normal(size=(200, 4))
    >>> vae = VAETransformer(max_epochs=5, random_state=0).fit(X)
    >>> display = LossHistoryDisplay.from_estimator(vae)
    >>> sorted(display.lines_)  # doctest: +NORMALIZE_WHITESPACE
    ['train_kl', 'train_loss', 'train_reconstruction',
     'valid_kl', 'valid_loss', 'valid_reconstruction']
    >>> display.ax_.get_xlabel()
    'epoch'
    """

    def __init__(
        self,
        *,
        epochs,
        losses: dict,
        best_epoch: int | None = None,
        learning_rate=None,
        name: str | None = None,
        estimator_name: str = "deprecated",
    ):
        self.epochs = epochs
        self.losses = losses
        self.best_epoch = best_epoch
        self.learning_rate = learning_rate
        self.name = _deprecated_name(name, estimator_name)

    def lr_reduction_epochs(self) -> np.ndarray:
        """Epochs that started with a lower learning rate than the epoch before.

        Returns
        -------
        epochs : ndarray of int
            Empty when the learning rate never went down or is unknown.

        Examples
        --------
        >>> from skvae.plotting import LossHistoryDisplay
        >>> display = LossHistoryDisplay(
        ...     epochs=[1, 2, 3, 4], losses={}, learning_rate=[1.0, 1.0, 0.5, 0.25])
        >>> display.lr_reduction_epochs().tolist()
        [3, 4]
        """
        if self.learning_rate is None:
            return np.array([], dtype=int)
        lr = np.asarray(self.learning_rate, dtype=float)
        epochs = np.asarray(self.epochs)
        # NaN compares False, so epochs with an unknown rate are never marked.
        lowered = lr[1:] < lr[:-1]
        return epochs[1:][lowered].astype(int)

    def plot(
        self,
        ax=None,
        *,
        name: str | None = None,
        terms=("loss", "reconstruction", "kl"),
        yscale: str = "linear",
    ) -> LossHistoryDisplay:
        """Draw the curves.

        Parameters
        ----------
        {plot_parameters}
        terms : sequence of {"loss", "reconstruction", "kl"}, \
default=("loss", "reconstruction", "kl")
            Which loss terms to draw; each gets one colour, train solid and
            validation dashed.
        yscale : {"linear", "log"}, default="linear"
            Scale of the loss axis; "log" helps when the first epochs dominate.

        {returns}

        Examples
        --------
        >>> from skvae.plotting import LossHistoryDisplay
        >>> display = LossHistoryDisplay(
        ...     epochs=[1, 2, 3], losses={"train_loss": [3.0, 2.0, 1.5]},
        ...     best_epoch=3).plot()
        >>> len(display.ax_.get_lines())
        2
        """
        plt = _pyplot("LossHistoryDisplay.plot")
        ax = _axes(ax, "LossHistoryDisplay.plot")
        unknown = set(terms) - set(_TERM_LABELS)
        if unknown:
            raise ValueError(
                f"terms must be among {sorted(_TERM_LABELS)}; got {sorted(unknown)}."
            )
        epochs = np.asarray(self.epochs)
        self.lines_ = {}
        for term in terms:
            for split in ("train", "valid"):
                key = f"{split}_{term}"
                if key not in self.losses:
                    continue
                (self.lines_[key],) = ax.plot(
                    epochs,
                    np.asarray(self.losses[key], dtype=float),
                    color=_TERM_COLORS[term],
                    linestyle=_SPLIT_STYLES[split],
                    label=f"{_TERM_LABELS[term]} ({_SPLIT_LABELS[split]})",
                )

        self.best_epoch_line_ = _vertical_line(
            ax,
            self.best_epoch,
            "best epoch ({}), weights kept",
            color="0.4",
            linestyle=":",
        )

        self.lr_markers_ = None
        reduced = self.lr_reduction_epochs()
        # Mark on the curve early stopping and the scheduler watch: validation
        # total loss when there is one.
        monitored = next(
            (k for k in ("valid_loss", "train_loss") if k in self.lines_), None
        )
        if len(reduced) and monitored is not None:
            values = np.asarray(self.losses[monitored], dtype=float)
            at = np.searchsorted(epochs, reduced)
            (self.lr_markers_,) = ax.plot(
                reduced,
                values[at],
                linestyle="none",
                marker="v",
                markersize=9,
                color="black",
                label="learning rate reduced",
            )

        ax.set_xlabel("epoch")
        ax.set_ylabel("loss per sample")
        ax.set_yscale(yscale)
        if yscale == "log":
            # Plain numbers ("40") read better than powers of ten ("4 x 10^1") over
            # the one or two decades loss curves span.
            plain = plt.FuncFormatter(lambda value, _: f"{value:g}")
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain)
        # Colour says which term, line style which split: one legend entry each
        # rather than one per curve.
        Line2D = plt.Line2D
        drawn_terms = [
            t for t in terms if any(k.endswith(f"_{t}") for k in self.lines_)
        ]
        drawn_splits = [
            s for s in _SPLIT_STYLES if any(k.startswith(s) for k in self.lines_)
        ]
        handles = [
            Line2D([], [], color=_TERM_COLORS[t], label=_TERM_LABELS[t])
            for t in drawn_terms
        ] + [
            Line2D(
                [], [], color="0.3", linestyle=_SPLIT_STYLES[s], label=_SPLIT_LABELS[s]
            )
            for s in drawn_splits
        ]
        handles += [
            a for a in (self.best_epoch_line_, self.lr_markers_) if a is not None
        ]
        ax.legend(handles=handles)
        return _finish(self, ax, name, "training history")

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        terms=("loss", "reconstruction", "kl"),
        yscale: str = "linear",
        name: str | None = None,
        ax=None,
    ) -> LossHistoryDisplay:
        """Plot the training history of a fitted VAE estimator.

        Parameters
        ----------
        estimator : VAETransformer, VAEOutlierDetector or Pipeline ending in one
            Fitted estimator with a ``history_``.
        terms : sequence of {"loss", "reconstruction", "kl"}, \
default=("loss", "reconstruction", "kl")
            Which loss terms to draw.
        yscale : {"linear", "log"}, default="linear"
            Scale of the loss axis.
        {from_estimator_parameters}

        Returns
        -------
        display : LossHistoryDisplay
            The training history, plotted.

        Examples
        --------
        >>> from skvae import VAEOutlierDetector
        >>> from skvae.datasets import make_anomaly_data
        >>> from skvae.plotting import LossHistoryDisplay
        >>> X, _ = make_anomaly_data(n_samples=200, random_state=0)
        >>> detector = VAEOutlierDetector(max_epochs=5, early_stopping=True,
        ...                               random_state=0).fit(X)
        >>> display = LossHistoryDisplay.from_estimator(detector, terms=["loss"])
        >>> sorted(display.lines_)
        ['train_loss', 'valid_loss']
        """
        _pyplot(f"{cls.__name__}.from_estimator")
        vae = _final_estimator(estimator)
        history = vae.history_
        keys = [
            f"{split}_{term}"
            for split in ("train", "valid")
            for term in ("loss", "reconstruction", "kl")
        ]
        losses = {
            key: np.asarray(history[:, key], dtype=float)
            for key in keys
            if all(key in row for row in history)
        }
        # The learning-rate scheduler writes no entry in the epoch early stopping
        # ends, so missing values become NaN instead of dropping the column.
        learning_rate = np.array(
            [row.get("event_lr", np.nan) for row in history], dtype=float
        )
        if np.isnan(learning_rate).all():
            learning_rate = None
        display = cls(
            epochs=np.asarray(history[:, "epoch"], dtype=int),
            losses=losses,
            best_epoch=vae.best_epoch_,
            learning_rate=learning_rate,
            name=_name(estimator, name),
        )
        return display.plot(ax=ax, terms=terms, yscale=yscale)


class ScoreHistogramDisplay:
    """Histogram of an outlier detector's scores, with its threshold ``offset_``.

    Scores are those of ``score_samples``: higher means more normal, and samples
    left of the threshold are predicted outliers. With true labels, normal samples
    and anomalies get one histogram each, over the same bins.

    Use :meth:`from_estimator` to build it from a fitted detector; the constructor
    takes the scores themselves.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Output of ``score_samples``.
    offset : float or None, default=None
        Threshold: ``offset_`` of the detector; drawn as a vertical line.
    y : array-like of shape (n_samples,) or None, default=None
        True labels; None draws a single histogram.
    pos_label : int, float, bool or str, default=1
        The label of anomalies in ``y`` (1 in the ADBench convention; use -1 for
        scikit-learn's predict convention).
    {name_parameters}

    Attributes
    ----------
    bars_ : dict of str to matplotlib.container.BarContainer
        One histogram per group: ``"normal"`` and ``"anomaly"`` when ``y`` is given,
        ``"all"`` otherwise.
    bin_edges_ : ndarray of shape (n_bins + 1,)
        Bin edges shared by the histograms.
    threshold_line_ : matplotlib.lines.Line2D or None
        The vertical line at ``offset``.
    ax_ : matplotlib.axes.Axes
        Axes with the histograms.
    figure_ : matplotlib.figure.Figure
        Figure containing the axes.

    See Also
    --------
    LossHistoryDisplay : Training curves.
    sklearn.metrics.RocCurveDisplay : ROC curve of the same scores.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skvae import VAEOutlierDetector
    >>> from skvae.datasets import make_anomaly_data
    >>> from skvae.plotting import ScoreHistogramDisplay
    >>> X, y = make_anomaly_data(n_samples=500, random_state=0)
    >>> pipe = make_pipeline(
    ...     MinMaxScaler(),
    ...     VAEOutlierDetector(contamination=0.03, max_epochs=10, random_state=0),
    ... ).fit(X)
    >>> display = ScoreHistogramDisplay.from_estimator(pipe, X, y, bins=20)
    >>> sorted(display.bars_), len(display.bars_["anomaly"])
    (['anomaly', 'normal'], 20)
    >>> bool(display.threshold_line_.get_xdata()[0] == pipe[-1].offset_)
    True
    """

    def __init__(
        self,
        *,
        scores,
        offset: float | None = None,
        y=None,
        pos_label=1,
        name: str | None = None,
        estimator_name: str = "deprecated",
    ):
        self.scores = scores
        self.offset = offset
        self.y = y
        self.pos_label = pos_label
        self.name = _deprecated_name(name, estimator_name)

    def plot(
        self, ax=None, *, name: str | None = None, bins=50, density: bool = True
    ) -> ScoreHistogramDisplay:
        """Draw the histograms and the threshold.

        Parameters
        ----------
        {plot_parameters}
        bins : int or sequence of float, default=50
            Number of bins, or their edges, as in :func:`numpy.histogram_bin_edges`.
        density : bool, default=True
            Normalise each histogram to unit area, so that a small class of
            anomalies stays visible next to many normal samples.

        {returns}

        Examples
        --------
        >>> from skvae.plotting import ScoreHistogramDisplay
        >>> display = ScoreHistogramDisplay(
        ...     scores=[-0.1, -0.2, -0.15, -3.0], offset=-1.0, y=[0, 0, 0, 1]
        ... ).plot(bins=5)
        >>> len(display.bars_["normal"]), len(display.bars_["anomaly"])
        (5, 5)
        """
        ax = _axes(ax, "ScoreHistogramDisplay.plot")
        scores = np.asarray(self.scores, dtype=float)
        self.bin_edges_ = np.histogram_bin_edges(scores, bins=bins)
        if self.y is None:
            groups = {"all": (scores, "C0", "all samples")}
        else:
            y = np.asarray(self.y)
            if y.shape != scores.shape:
                raise ValueError(
                    f"y has shape {y.shape} but there are {scores.shape[0]} scores; "
                    "pass one label per scored sample."
                )
            is_anomaly = y == self.pos_label
            groups = {
                "normal": (scores[~is_anomaly], "C0", "normal"),
                "anomaly": (scores[is_anomaly], "C3", "anomaly"),
            }
        self.bars_ = {}
        for key, (values, color, label) in groups.items():
            *_, self.bars_[key] = ax.hist(
                values,
                bins=self.bin_edges_,
                density=density and len(values) > 0,
                color=color,
                alpha=0.6,
                label=f"{label} (n={len(values)})",
            )
        self.threshold_line_ = _vertical_line(
            ax, self.offset, "threshold offset_ = {:.3g}", color="black", linestyle="--"
        )
        ax.set_xlabel("score_samples (higher is more normal)")
        ax.set_ylabel("density" if density else "number of samples")
        ax.legend()
        return _finish(self, ax, name, "scores")

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        pos_label=1,
        bins=50,
        density: bool = True,
        name: str | None = None,
        ax=None,
    ) -> ScoreHistogramDisplay:
        """Score ``X`` with a fitted outlier detector and plot the histogram.

        Parameters
        ----------
        estimator : VAEOutlierDetector or Pipeline ending in one
            Fitted detector with ``score_samples`` and ``offset_`` (any
            scikit-learn outlier detector with those works too).
        X : array-like of shape (n_samples, n_features)
            Samples to score.
        y : array-like of shape (n_samples,) or None, default=None
            True labels, to split the histogram into normal samples and anomalies.
        pos_label : int, float, bool or str, default=1
            The label of anomalies in ``y``.
        bins : int or sequence of float, default=50
            Number of bins, or their edges.
        density : bool, default=True
            Normalise each histogram to unit area.
        {from_estimator_parameters}

        Returns
        -------
        display : ScoreHistogramDisplay
            The histogram of the scores of ``X``, with the threshold.

        Examples
        --------
        >>> import numpy as np
        >>> from skvae import VAEOutlierDetector
        >>> from skvae.plotting import ScoreHistogramDisplay
        >>> rng = np.random.RandomState(0)
        >>> X_train, X_new = rng.normal(size=(200, 4)), rng.normal(size=(50, 4))
        >>> detector = VAEOutlierDetector(max_epochs=5, random_state=0).fit(X_train)
        >>> display = ScoreHistogramDisplay.from_estimator(detector, X_new, bins=10)
        >>> len(display.bars_["all"]), display.ax_.get_ylabel()
        (10, 'density')
        """
        detector = _checked_final(
            estimator,
            "score_samples",
            cls.__name__,
            "an outlier detector with score_samples, such as VAEOutlierDetector",
        )
        display = cls(
            scores=estimator.score_samples(X),
            offset=getattr(detector, "offset_", None),
            y=y,
            pos_label=pos_label,
            name=_name(estimator, name),
        )
        return display.plot(ax=ax, bins=bins, density=density)


class LatentSpaceDisplay:
    """Scatter plot of two latent dimensions (posterior means), coloured by ``y``.

    A ``y`` with few distinct values (at most 10, or non-numeric) gets one colour and
    legend entry per value; a numeric ``y`` with more values gets a colour bar.

    Use :meth:`from_estimator` to build it from a fitted transformer; the constructor
    takes the latent coordinates themselves.

    Parameters
    ----------
    Z : array-like of shape (n_samples, 2)
        The two latent coordinates to plot.
    y : array-like of shape (n_samples,) or None, default=None
        Values to colour the points by.
    components : tuple of two int, default=(0, 1)
        Indices of the plotted latent dimensions, for the axis labels.
    {name_parameters}

    Attributes
    ----------
    scatter_ : matplotlib.collections.PathCollection
        The points.
    legend_ : matplotlib.legend.Legend or None
        Legend of the categories of ``y``.
    colorbar_ : matplotlib.colorbar.Colorbar or None
        Colour bar of a continuous ``y``.
    ax_ : matplotlib.axes.Axes
        Axes with the scatter plot.
    figure_ : matplotlib.figure.Figure
        Figure containing the axes.

    See Also
    --------
    LossHistoryDisplay : Training curves.
    skvae.VAETransformer.transform : The latent means plotted here.

    Examples
    --------
    >>> from sklearn import datasets
    >>> from skvae import VAETransformer
    >>> from skvae.plotting import LatentSpaceDisplay
    >>> X, y = datasets.load_wine(return_X_y=True)
    >>> X = (X - X.mean(axis=0)) / X.std(axis=0)  # standardized
    >>> vae = VAETransformer(max_epochs=10, random_state=0).fit(X)
    >>> display = LatentSpaceDisplay.from_estimator(vae, X, y)
    >>> len(display.scatter_.get_offsets()), len(display.legend_.get_texts())
    (178, 3)
    """

    def __init__(
        self,
        *,
        Z,
        y=None,
        components: tuple[int, int] = (0, 1),
        name: str | None = None,
        estimator_name: str = "deprecated",
    ):
        self.Z = Z
        self.y = y
        self.components = components
        self.name = _deprecated_name(name, estimator_name)

    def plot(
        self,
        ax=None,
        *,
        name: str | None = None,
        legend_title: str | None = None,
        **scatter_kwargs,
    ) -> LatentSpaceDisplay:
        """Draw the scatter plot.

        Parameters
        ----------
        {plot_parameters}
        legend_title : str or None, default=None
            Title of the legend or label of the colour bar.
        **scatter_kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.scatter`, e.g. ``s`` or ``alpha``.

        {returns}

        Examples
        --------
        >>> from skvae.plotting import LatentSpaceDisplay
        >>> display = LatentSpaceDisplay(
        ...     Z=[[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], y=["a", "b", "a"]
        ... ).plot(legend_title="group")
        >>> [t.get_text() for t in display.legend_.get_texts()]
        ['a', 'b']
        """
        plt = _pyplot("LatentSpaceDisplay.plot")
        ax = _axes(ax, "LatentSpaceDisplay.plot")
        Z = np.asarray(self.Z, dtype=float)
        if Z.ndim != 2 or Z.shape[1] != 2:
            raise ValueError(
                f"Z must have shape (n_samples, 2), got {Z.shape}; select two latent "
                "dimensions with `components`."
            )
        kwargs = {"s": 15, "alpha": 0.8, **scatter_kwargs}
        self.legend_ = None
        self.colorbar_ = None
        if self.y is None:
            self.scatter_ = ax.scatter(Z[:, 0], Z[:, 1], **kwargs)
        else:
            y = np.asarray(self.y)
            if len(y) != len(Z):
                raise ValueError(
                    f"y has {len(y)} values but there are {len(Z)} points; pass one "
                    "label per sample."
                )
            categories = np.unique(y)
            if y.dtype.kind not in "biuf" or len(categories) <= _MAX_CATEGORIES:
                codes = np.searchsorted(categories, y)
                cmap = plt.get_cmap("tab10" if len(categories) <= 10 else "tab20")
                colors = [cmap(i % cmap.N) for i in range(len(categories))]
                self.scatter_ = ax.scatter(
                    Z[:, 0], Z[:, 1], c=np.asarray(colors)[codes], **kwargs
                )
                handles = [
                    plt.Line2D(
                        [], [], marker="o", linestyle="none", color=color, label=str(c)
                    )
                    for c, color in zip(categories, colors, strict=True)
                ]
                self.legend_ = ax.legend(handles=handles, title=legend_title)
            else:
                self.scatter_ = ax.scatter(
                    Z[:, 0], Z[:, 1], c=y.astype(float), cmap="viridis", **kwargs
                )
                self.colorbar_ = ax.figure.colorbar(
                    self.scatter_, ax=ax, label=legend_title
                )
        first, second = self.components
        ax.set_xlabel(f"latent dimension {first} (posterior mean)")
        ax.set_ylabel(f"latent dimension {second} (posterior mean)")
        return _finish(self, ax, name, "latent space")

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        components: tuple[int, int] = (0, 1),
        legend_title: str | None = None,
        name: str | None = None,
        ax=None,
        **scatter_kwargs,
    ) -> LatentSpaceDisplay:
        """Encode ``X`` with a fitted transformer and plot two of its latent dimensions.

        Parameters
        ----------
        estimator : VAETransformer or Pipeline ending in one
            Fitted estimator whose ``transform`` returns the latent means.
        X : array-like of shape (n_samples, n_features)
            Samples to encode.
        y : array-like of shape (n_samples,) or None, default=None
            Values to colour the points by, e.g. class labels.
        components : tuple of two int, default=(0, 1)
            Latent dimensions to plot (0-based), x then y.
        legend_title : str or None, default=None
            Title of the legend or label of the colour bar.
        {from_estimator_parameters}
        **scatter_kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.scatter`.

        Returns
        -------
        display : LatentSpaceDisplay
            The latent codes of ``X``, plotted.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skvae import VAETransformer
        >>> from skvae.plotting import LatentSpaceDisplay
        >>> X, y = load_iris(return_X_y=True)
        >>> vae = VAETransformer(n_components=3, max_epochs=5, random_state=0).fit(X)
        >>> display = LatentSpaceDisplay.from_estimator(vae, X, y, components=(1, 2))
        >>> display.ax_.get_xlabel()
        'latent dimension 1 (posterior mean)'
        """
        final = _checked_final(
            estimator,
            "transform",
            cls.__name__,
            "an estimator whose transform returns latent codes, such as VAETransformer",
        )
        components = tuple(components)
        n_components = getattr(final, "n_components_", None)
        if len(components) != 2 or len(set(components)) != 2:
            raise ValueError(
                f"components must be two different latent dimensions, got "
                f"{components!r}."
            )
        if n_components is not None and not all(
            0 <= c < n_components for c in components
        ):
            raise ValueError(
                f"components={components!r} is out of range for a latent space of "
                f"{n_components} dimension(s); use indices in [0, {n_components})."
            )
        Z = np.asarray(estimator.transform(X))[:, list(components)]
        display = cls(Z=Z, y=y, components=components, name=_name(estimator, name))
        return display.plot(ax=ax, legend_title=legend_title, **scatter_kwargs)


for _display in (LossHistoryDisplay, ScoreHistogramDisplay, LatentSpaceDisplay):
    _fill_display_docs(_display)
