"""scikit-learn's estimator checks, with no expected failures."""

import inspect
import math
import re

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skvae import VAEImputer, VAEOutlierDetector, VAETransformer

# Short training keeps the ~100 checks quick; the checks test the API, not the fit.
FAST = dict(max_epochs=5, kl_warmup_epochs=2)


@parametrize_with_checks(
    [VAETransformer(**FAST), VAEOutlierDetector(**FAST), VAEImputer(**FAST)]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("Estimator", [VAETransformer, VAEOutlierDetector, VAEImputer])
def test_every_documented_default_is_the_signature_default(Estimator):
    docscrape = pytest.importorskip("numpydoc.docscrape")

    documented = {
        p.name: p.type for p in docscrape.ClassDoc(Estimator, config={})["Parameters"]
    }
    signature = inspect.signature(Estimator.__init__).parameters
    expected = {name: p.default for name, p in signature.items() if name != "self"}
    assert set(documented) == set(expected)
    for name, default in expected.items():
        match = re.search(r"default=(.+)$", documented[name])
        assert match, f"{name} documents no default"
        assert match.group(1) == documented_default(default), name


def documented_default(default) -> str:
    """How a default is written in the docstring: strings quoted, NaN as
    scikit-learn's imputers write it, anything else as its repr."""
    if isinstance(default, str):
        return f'"{default}"'
    if isinstance(default, float) and math.isnan(default):
        return "np.nan"
    return repr(default)


def test_shared_parameter_docs_type_no_default_by_hand():
    from skvae._base import COMMON_PARAMETERS_DOC

    typed = re.findall(r"default=([^{\s]\S*)", COMMON_PARAMETERS_DOC)
    assert typed == []
