"""Order of the gallery: the seed workflows first, then any other example by name."""

from pathlib import Path

FIRST = [
    "plot_wine_compression.py",
    "plot_anomaly_detection.py",
    "plot_training_callbacks.py",
    "plot_explain_anomaly.py",
    "plot_adbench_real_data.py",
]


class ExampleOrder:
    """sphinx-gallery ``within_subsection_order`` key: listed files in ``FIRST``'s
    order, then the others alphabetically, so new examples need no edit here."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        rank = FIRST.index(name) if name in FIRST else len(FIRST)
        return rank, name

    def __repr__(self):
        return f"<{type(self).__name__}>"
