"""The private skorch names skvae relies on, each checked against skorch.

skvae's net and callbacks subclass skorch's and use a few of their private
methods (to skip work that skorch's public ones do on every step). A private name
may move or change in any skorch release: these tests fail when one does, naming
it, and when skvae starts to use another one without listing it here.
"""

import inspect
import re
from pathlib import Path

import pytest
import skorch.callbacks
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.history import History

import skvae

#: (skorch class, private name, its parameters after self; None: a property)
SKORCH_PRIVATE = [
    (NeuralNet, "_default_callbacks", None),
    (NeuralNet, "_set_training", ["training"]),
    (NeuralNet, "_step_optimizer", ["step_fn"]),
    (NeuralNet, "_zero_grad_optimizer", ["set_to_none"]),
    (EarlyStopping, "_calc_new_threshold", ["score"]),
]

#: Private names skvae uses that skorch classes have too, but that skvae takes
#: from elsewhere.
NOT_FROM_SKORCH = {
    "_validate_params": "scikit-learn's BaseEstimator method, on skvae's estimators",
}


@pytest.mark.parametrize(
    "cls, name, parameters",
    SKORCH_PRIVATE,
    ids=[f"{cls.__name__}.{name}" for cls, name, _ in SKORCH_PRIVATE],
)
def test_skorch_still_has_the_private_name(cls, name, parameters):
    member = inspect.getattr_static(cls, name, None)
    assert member is not None, f"skorch's {cls.__name__} has no {name} any more"
    if parameters is None:
        assert isinstance(member, property), f"{cls.__name__}.{name} is no property"
    else:
        signature = inspect.signature(getattr(cls, name))
        assert list(signature.parameters)[1:] == parameters, signature


def _skorch_private_names() -> set[str]:
    classes = [NeuralNet, History] + [
        getattr(skorch.callbacks, name) for name in skorch.callbacks.__all__
    ]
    return {
        name
        for cls in classes
        for name in dir(cls)
        if name.startswith("_") and not name.startswith("__")
    }


def test_every_skorch_private_skvae_uses_is_listed():
    used = set()
    for path in Path(skvae.__file__).parent.glob("*.py"):
        source = path.read_text()
        # Private names read, called or overridden.
        used |= set(re.findall(r"\.(_[a-z]\w*)", source))
        used |= set(re.findall(r"def (_[a-z]\w*)", source))
    listed = {name for _, name, _ in SKORCH_PRIVATE}
    unlisted = (used & _skorch_private_names()) - listed - set(NOT_FROM_SKORCH)
    assert not unlisted, (
        f"skvae uses skorch's private {sorted(unlisted)}: add each to "
        "SKORCH_PRIVATE with its signature"
    )
    # Every listed name is still in use, or the list says more than skvae needs.
    assert listed <= used
