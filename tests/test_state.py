"""The checks a saved state gets (skvae._state and VAENet.restore_state), through
unpickling, which skops and skvae.load share."""

import copy

import numpy as np
import pytest

from skvae import InvalidModelFile, VAEImputer, VAEOutlierDetector, VAETransformer
from skvae._state import check_fitted, plain

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def rows():
    return np.random.RandomState(0).normal(size=(60, 4))


@pytest.fixture(scope="module")
def state(rows):
    return VAEOutlierDetector(max_epochs=2, random_state=0).fit(rows).__getstate__()


def _restore(state, edit):
    state = copy.deepcopy(state)
    edit(state)
    VAEOutlierDetector().__setstate__(state)


def _set(path, value):
    def edit(state):
        *parents, last = path
        for key in parents:
            state = state[key]
        state[last] = value

    return edit


@pytest.mark.parametrize(
    "edit, message",
    [
        (_set(["seed_"], -1), "seed_ must be an int in the range"),
        (_set(["offset_"], np.inf), "offset_ must be a float"),
        (_set(["noise_model_"], "laplace"), "noise_model_ must be a str among"),
        (_set(["hidden_layer_sizes_"], (8, 0)), "hidden_layer_sizes_ must be"),
        (lambda s: s.pop("offset_"), "lacks keys \\['offset_'\\]"),
        (_set(["n_iter_"], 2.5), "n_iter_ must be an int"),
        (lambda s: s.pop("_net_state"), "no network state"),
        (_set(["_net_state", "module_dtype"], "float16"), "module dtype"),
        (_set(["_net_state", "best_epoch"], -1), "best_epoch"),
        (_set(["_net_state", "history"], [1, 2]), "history"),
        (_set(["_net_state", "generators", "noise"], np.zeros(3)), "noise generator"),
        (_set(["_net_state", "optimizer_state"], []), "optimizer state"),
        (_set(["_net_state", "optimizer_param_groups", 0, "lr"], -1.0), "learning"),
        (_set(["_net_state", "optimizer_param_groups", 0, "params"], [0]), "groups"),
    ],
)
def test_malformed_state_is_refused(state, edit, message):
    with pytest.raises(
        InvalidModelFile, match=f"Not a valid skvae model file: .*{message}"
    ):
        _restore(state, edit)


def test_module_tensors_are_checked_against_the_declared_network(state):
    module = state["_net_state"]["module"]
    name = next(k for k, v in module.items() if v.ndim == 2)

    def wrong_shape(state):
        state["_net_state"]["module"][name] = np.zeros((1, 1))

    def nan_weight(state):
        state["_net_state"]["module"][name] = np.full_like(module[name], np.nan)

    def wrong_moment(state):
        entry = state["_net_state"]["optimizer_state"][0]
        entry["exp_avg"] = entry["exp_avg"][..., :1]

    with pytest.raises(InvalidModelFile, match="the network its fitted attributes"):
        _restore(state, wrong_shape)
    with pytest.raises(InvalidModelFile, match="NaN or infinite"):
        _restore(state, nan_weight)
    with pytest.raises(InvalidModelFile, match="optimizer exp_avg has a wrong shape"):
        _restore(state, wrong_moment)


def test_every_estimator_declares_its_fitted_attributes(rows):
    X = rows.copy()
    X[::7, 0] = np.nan
    for Estimator in (VAETransformer, VAEOutlierDetector, VAEImputer):
        fitted = Estimator(max_epochs=1, random_state=0).fit(X)
        attributes = {k for k in vars(fitted) if k.endswith("_") and k[0] != "_"}
        # feature_names_in_ only after a fit on a DataFrame.
        declared = set(Estimator._fitted_attributes) - {"feature_names_in_"}
        assert attributes - {"net_", "history_"} == declared
    frame = pd.DataFrame(X, columns=list("abcd"))
    again = copy.deepcopy(VAETransformer(max_epochs=1, random_state=0).fit(frame))
    assert again.feature_names_in_.tolist() == list("abcd")


def test_check_fitted_converts_saved_values_back():
    declared = {
        "n_features_in_": VAETransformer._fitted_attributes["n_features_in_"],
        "hidden_layer_sizes_": VAETransformer._fitted_attributes["hidden_layer_sizes_"],
    }
    checked = check_fitted(
        declared, {"n_features_in_": 3, "hidden_layer_sizes_": [4, 2]}
    )
    assert checked == {"n_features_in_": 3, "hidden_layer_sizes_": (4, 2)}


def test_plain_strict_and_lenient():
    assert plain({"a": (np.float32(0.5), np.int8(2))}) == {"a": [0.5, 2]}
    with pytest.raises(TypeError):
        plain({"a": object()})
    assert plain([1.0, np.inf, object()], lenient=True) == [1.0]
