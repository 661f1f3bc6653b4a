"""Files saved by earlier skvae versions load and give the outputs they gave there.

The ``.skvae`` files of ``tests/data/skvae_format_2/`` (format version 2) were
written by skvae as it was before the redesign of issue #25 (commit 5a93612),
whose module state names differ from today's (``feature_var``,
``running_noise_var``, ``noise_location``... are now ``noise.*``), by
``tests/data/skvae_format_2/make_files.py`` run on that tree:

    cd <the 5a93612 tree> && PYTHONPATH=. python \\
        <this tree>/tests/data/skvae_format_2/make_files.py \\
        <this tree>/tests/data/skvae_format_2

which also wrote ``outputs.json``: each estimator's outputs there (on the inputs
that ``make_files.py`` builds, rebuilt here by the same functions) and, where it
has ``partial_fit``, its outputs after loading its file and training one more
epoch. They must be the same to the bit.
"""

import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pytest
from _skvae_files import edit_metadata

import skvae

pytest.importorskip("pandas")

FOLDER = Path(__file__).parent / "data" / "skvae_format_2"
_spec = importlib.util.spec_from_file_location(
    "skvae_format_2_files", FOLDER / "make_files.py"
)
make_files = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_files)
EXPECTED = json.loads((FOLDER / "outputs.json").read_text())


def _assert_same(actual: dict, expected: dict):
    assert actual.keys() == expected.keys()
    for method, want in expected.items():
        got = actual[method]
        assert got["dtype"] == want["dtype"], method
        if want["dtype"] == "object":
            # Imputed tables: strings and floats, no missing cell left, so ==
            # is exact equality.
            assert got["values"] == want["values"], method
        else:
            np.testing.assert_array_equal(
                np.asarray(got["values"], want["dtype"]),
                np.asarray(want["values"], want["dtype"]),
                err_msg=method,
            )


@pytest.mark.parametrize("name", sorted(make_files.FIXTURES))
def test_old_file_gives_the_outputs_it_gave(name):
    _, data, methods = make_files.FIXTURES[name]
    X = data()
    loaded = skvae.load(FOLDER / f"{name}.skvae")
    expected = EXPECTED[name]
    _assert_same(make_files.outputs(loaded, X, methods), expected["saved"])
    if "after_partial_fit" in expected:
        loaded.partial_fit(X)
        _assert_same(
            make_files.outputs(loaded, X, methods), expected["after_partial_fit"]
        )


def test_old_file_saved_again_loads_the_same():
    X = make_files.numeric_rows()
    loaded = skvae.load(FOLDER / "detector_full.skvae")
    buffer = io.BytesIO()
    skvae.save(loaded, buffer)
    again = skvae.load(io.BytesIO(buffer.getvalue()))
    np.testing.assert_array_equal(again.score_samples(X), loaded.score_samples(X))


@pytest.mark.parametrize("version", [1, 3, "2"])
def test_other_format_versions_are_refused_naming_the_version(version):
    data = (FOLDER / "detector_full.skvae").read_bytes()

    def set_version(part):
        part["format_version"] = version

    with pytest.raises(
        skvae.InvalidModelFile, match=f"format version {version!r}, this skvae reads 2"
    ):
        skvae.load(io.BytesIO(edit_metadata(data, set_version)))
