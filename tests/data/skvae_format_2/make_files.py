"""Write the format-2 files of tests/test_old_files.py and their outputs.

Run it on the tree whose files are to be kept loadable, from the repository root
of that tree, naming this folder:

    PYTHONPATH=. python /path/to/tests/data/skvae_format_2/make_files.py \
        /path/to/tests/data/skvae_format_2

The files in this folder were written by skvae before the redesign of issue #25
(commit 5a93612, the ``/work/baseline`` tree), whose module state names differ
(``feature_var`` for ``noise.feature_var``...). ``outputs.json`` holds, for each
file, the outputs the saved estimator gave there and, for the estimators that
have ``partial_fit``, its outputs after loading the file and one ``partial_fit``
call (which goes on from Adam's state and the generators' states), on the inputs
built by the functions below.
"""

import json
import os
import sys

import numpy as np
import pandas as pd
import torch

import skvae


def numeric_rows() -> np.ndarray:
    """60 rows of 4 correlated features."""
    rng = np.random.RandomState(0)
    z = rng.normal(size=(60, 2))
    return z @ rng.normal(size=(2, 4)) + 0.3 * rng.normal(size=(60, 4))


def table() -> pd.DataFrame:
    """60 rows: two numeric columns, a categorical and a string column, with
    missing cells in three of them."""
    rng = np.random.RandomState(1)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=60),
            "b": rng.normal(size=60) * 3 + 1,
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], 60)),
            "size": rng.choice(["S", "L"], 60).astype(object),
        }
    )
    frame.loc[::7, "a"] = np.nan
    frame.loc[::5, "colour"] = np.nan
    frame.loc[3::9, "size"] = None
    return frame


SMALL = dict(hidden_layer_sizes=(8, 4), max_epochs=3, random_state=0)

#: name: (estimator, its training data, the methods whose outputs are kept)
FIXTURES = {
    "transformer_feature": (
        lambda: skvae.VAETransformer(
            noise_model="feature", kl_warmup_epochs=2, **SMALL
        ),
        numeric_rows,
        ("transform", "reconstruction_error"),
    ),
    "detector_full": (
        lambda: skvae.VAEOutlierDetector(noise_model="full", **SMALL),
        numeric_rows,
        ("score_samples", "predict"),
    ),
    "detector_table": (
        lambda: skvae.VAEOutlierDetector(**SMALL),
        table,
        ("score_samples", "predict"),
    ),
    "imputer_table": (
        lambda: skvae.VAEImputer(n_draws=4, **SMALL),
        table,
        ("transform",),
    ),
}


def outputs(estimator, X, methods) -> dict:
    """Each method's output on ``X`` as JSON values, with its dtype."""
    out = {}
    for method in methods:
        if method == "reconstruction_error":
            value = estimator.reconstruction_error(X, per_feature=True)
        else:
            value = getattr(estimator, method)(X)
        value = np.asarray(value)
        out[method] = {"dtype": str(value.dtype), "values": value.tolist()}
    return out


def main(folder: str) -> None:
    torch.set_num_threads(1)
    expected = {"skvae_version": skvae.__version__}
    for name, (make, data, methods) in FIXTURES.items():
        X = data()
        estimator = make().fit(X)
        path = os.path.join(folder, f"{name}.skvae")
        skvae.save(estimator, path)
        expected[name] = {"saved": outputs(estimator, X, methods)}
        loaded = skvae.load(path)
        if hasattr(loaded, "partial_fit"):
            expected[name]["after_partial_fit"] = outputs(
                loaded.partial_fit(X), X, methods
            )
    with open(os.path.join(folder, "outputs.json"), "w") as file:
        json.dump(expected, file)


if __name__ == "__main__":
    main(sys.argv[1])
