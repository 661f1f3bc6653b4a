import math

import numpy as np
import pytest
import torch

from skvae import TrainingDivergedError
from skvae._module import VAEModule
from skvae._net import SliceLoader, TensorRows, VAENet, ValidationSplit


def _net(**kwargs):
    params = dict(
        module=VAEModule,
        module__n_features=3,
        module__n_components=1,
        module__hidden_layer_sizes=(4,),
        max_epochs=3,
    )
    params.update(kwargs)
    return VAENet(**params)


def test_slice_loader_covers_every_row_once_in_order():
    X = torch.arange(9.0).reshape(9, 1)
    batches = [xb for xb, yb in SliceLoader(TensorRows(X), batch_size=4)]
    assert [len(b) for b in batches] == [4, 5]  # a one-row tail joins the batch before
    assert torch.equal(torch.cat(batches), X)


def test_slice_loader_shuffles_rows_when_asked():
    X = torch.arange(100.0).reshape(100, 1)
    torch.manual_seed(0)
    rows = torch.cat([xb for xb, _ in SliceLoader(TensorRows(X), 32, shuffle=True)])
    assert not torch.equal(rows, X)
    assert torch.equal(rows.sort(dim=0).values, X)


def test_slice_loader_len_matches_iteration():
    loader = SliceLoader(TensorRows(torch.zeros(65, 2)), batch_size=32)
    assert len(loader) == len(list(loader)) == 2


def test_slice_loader_never_calls_getitem(monkeypatch):
    def fail(*args):
        raise AssertionError("per-row __getitem__ was used")

    monkeypatch.setattr(TensorRows, "__getitem__", fail)
    net = _net(train_split=ValidationSplit(0.2, seed=0))
    net.fit(torch.randn(50, 3))
    out = net.map_batches(
        torch.randn(20, 3), lambda m, x: m.encode(x)[0], torch.empty(20, 1)
    )
    assert out.shape == (20, 1)


def test_validation_split_is_seeded_and_disjoint():
    X = torch.arange(20.0).reshape(20, 1)
    train, valid = ValidationSplit(0.25, seed=1)(TensorRows(X))
    again, _ = ValidationSplit(0.25, seed=1)(TensorRows(X))
    assert len(valid) == 5 and len(train) == 15
    assert torch.equal(train.X, again.X)
    assert set(train.X.flatten().tolist()).isdisjoint(valid.X.flatten().tolist())


@pytest.mark.parametrize("n_samples, expected", [(1, 0), (5, 0), (10, 1), (100, 10)])
def test_validation_split_skips_when_a_part_would_be_empty(n_samples, expected):
    assert ValidationSplit.n_valid(n_samples, 0.1) == expected


def test_history_records_epoch_loss_terms():
    net = _net(train_split=ValidationSplit(0.2, seed=0), beta=0.5).fit(
        torch.randn(40, 3)
    )
    row = net.history[-1]
    for prefix in ("train", "valid"):
        loss = row[f"{prefix}_loss"]
        assert loss == pytest.approx(
            row[f"{prefix}_reconstruction"] + 0.5 * row[f"{prefix}_kl"]
        )
    assert row["kl_weight"] == 0.5
    assert "batches" not in row or row["batches"] == []


def test_divergence_raises_a_clear_error_naming_the_epoch():
    net = _net(module__n_features=2)
    with pytest.raises(
        TrainingDivergedError, match=r"epoch 1.*Scale the input.*lower `lr`"
    ):
        net.fit(torch.full((30, 2), 1e200, dtype=torch.float64).to(torch.float32))


def test_map_batches_matches_one_full_forward_pass():
    net = _net(inference_batch_size=7).fit(torch.randn(30, 3))
    X = torch.randn(50, 3)
    out = net.map_batches(X, lambda m, x: m.encode(x)[0], torch.empty(50, 1))
    net.module_.eval()
    with torch.no_grad():
        torch.testing.assert_close(out, net.module_.encode(X)[0])


def test_fused_adam_is_used_when_available():
    net = _net().initialize()
    defaults = net.optimizer_.defaults
    assert defaults.get("fused") in (True, None)
    assert np.isclose(defaults["lr"], net.lr)


def test_trimmed_loss_averages_the_best_fitted_rows_only():
    from skvae._columns import ColumnLayout
    from skvae._module import VAEOutput
    from skvae._noise import DiagonalGaussian

    net = _net(trim_fraction=0.25).initialize()
    X = torch.zeros(4, 3)
    reconstruction = torch.tensor([[1.0, 0, 0], [2.0, 0, 0], [3.0, 0, 0], [9.0, 0, 0]])
    zeros = torch.zeros(4, 1)
    # Noise variance 1/2: the negative log-likelihood is the squared error plus
    # the constant 3 * 0.5 * log(pi).
    noise = DiagonalGaussian(torch.full((3,), math.log(0.5)))
    output = VAEOutput(reconstruction, zeros, zeros, noise, ColumnLayout(3))
    offset = 1.5 * math.log(math.pi)
    terms = net.get_loss_terms(output, X)
    # Squared errors 1, 4, 9, 81: the worst quarter (81) is left out.
    assert terms.reconstruction.item() == pytest.approx((1 + 4 + 9) / 3 + offset)
    untrimmed = _net().initialize()
    terms = untrimmed.get_loss_terms(output, X)
    assert terms.reconstruction.item() == pytest.approx((1 + 4 + 9 + 81) / 4 + offset)


def test_default_callbacks_are_named_as_declared_and_replaced_in_place():
    from skorch.callbacks import EarlyStopping

    from skvae._net import DEFAULT_CALLBACKS

    every = dict(early_stopping=True, kl_warmup_epochs=2, reduce_lr_on_plateau=True)
    net = _net(verbose=2, **every)
    assert [name for name, _ in net.get_default_callbacks()] == list(DEFAULT_CALLBACKS)
    # skorch's callbacks__<name> takes a default's place; None switches it off.
    patient = EarlyStopping(patience=3)
    net = _net(callbacks__early_stopping=patient, callbacks__kl_annealing=None, **every)
    net.initialize()
    names = [name for name, _ in net.callbacks_]
    assert names == ["epoch_timer", "early_stopping", "lr_scheduler", "print_log"]
    assert dict(net.callbacks_)["early_stopping"] is patient


def _seeded_net(seed):
    module = VAEModule(n_features=3, n_components=1, hidden_layer_sizes=(4,))
    params = {f"module__{k}": v for k, v in module.init_params.items()}
    return VAENet.seeded(module, seed, "cpu", max_epochs=3, **params)


def test_exported_state_restores_into_a_fresh_net():
    trained = _seeded_net(0).fit(torch.randn(40, 3))
    state = trained.export_state()
    fresh = _seeded_net(1).initialize()
    tensors = {k: torch.from_numpy(v) for k, v in state["module"].items()}
    fresh.restore_state(state, tensors)
    np.testing.assert_equal(fresh.export_state(), state)
