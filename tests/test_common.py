"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skvae import VAEImputer, VAEOutlierDetector, VAETransformer

# Short training keeps the ~100 checks quick; the checks test the API, not the fit.
FAST = dict(max_epochs=5, kl_warmup_epochs=2)


@parametrize_with_checks(
    [VAETransformer(**FAST), VAEOutlierDetector(**FAST), VAEImputer(**FAST)]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
