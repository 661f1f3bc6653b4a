import pytest
import torch
from torch import nn

from skvae._module import SeededDropout, VAEModule


def _linear_widths(module):
    return [
        (m.in_features, m.out_features)
        for m in module.modules()
        if isinstance(m, nn.Linear)
    ]


def test_decoder_mirrors_encoder_widths():
    module = VAEModule(n_features=7, n_components=3, hidden_layer_sizes=(16, 8))
    assert _linear_widths(module.encoder) == [(7, 16), (16, 8)]
    assert (module.mean.in_features, module.mean.out_features) == (8, 3)
    assert (module.log_var.in_features, module.log_var.out_features) == (8, 3)
    assert _linear_widths(module.decoder) == [(3, 8), (8, 16), (16, 7)]


def test_eval_mode_decodes_the_posterior_mean_deterministically():
    module = VAEModule(n_features=5, n_components=2, hidden_layer_sizes=(8,)).eval()
    x = torch.randn(10, 5)
    first, second = module(x), module(x)
    torch.testing.assert_close(first.reconstruction, second.reconstruction)
    torch.testing.assert_close(first.reconstruction, module.decode(module.encode(x)[0]))


def test_training_mode_samples_latent_codes():
    module = VAEModule(n_features=5, n_components=2, hidden_layer_sizes=(8,)).train()
    x = torch.randn(10, 5)
    assert not torch.equal(module(x).reconstruction, module(x).reconstruction)


def test_reparameterize_uses_the_given_generator():
    mean, log_var = torch.zeros(4, 2), torch.zeros(4, 2)
    draws = [
        VAEModule.reparameterize(mean, log_var, torch.Generator().manual_seed(3))
        for _ in range(2)
    ]
    torch.testing.assert_close(draws[0], draws[1])


def test_sigmoid_output_stays_in_unit_interval():
    module = VAEModule(
        n_features=4,
        n_components=2,
        hidden_layer_sizes=(8,),
        output_activation="sigmoid",
    ).eval()
    out = module(100 * torch.randn(50, 4)).reconstruction
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize(
    "batch_norm, dropout", [(True, 0.0), (False, 0.5), (True, 0.2)]
)
def test_optional_batch_norm_and_dropout_layers(batch_norm, dropout):
    module = VAEModule(
        n_features=4,
        n_components=2,
        hidden_layer_sizes=(8, 6),
        batch_norm=batch_norm,
        dropout=dropout,
    )
    layers = list(module.encoder)
    n_norms = sum(isinstance(m, nn.BatchNorm1d) for m in layers)
    n_dropouts = sum(isinstance(m, nn.Dropout) for m in layers)
    assert n_norms == (2 if batch_norm else 0)
    assert n_dropouts == (2 if dropout > 0 else 0)


def test_log_variance_is_clamped_so_exp_cannot_overflow():
    module = VAEModule(n_features=2, n_components=1, hidden_layer_sizes=(4,))
    with torch.no_grad():
        module.log_var.bias.fill_(1e6)
    _, log_var = module.encode(torch.zeros(3, 2))
    assert torch.isfinite(log_var.exp()).all()


def test_seeded_generators_make_initialisation_and_noise_reproducible():
    def run():
        module = VAEModule(
            n_features=4, n_components=2, hidden_layer_sizes=(8,), dropout=0.3
        ).reset_parameters(torch.Generator().manual_seed(0))
        module.set_generator(torch.Generator().manual_seed(1)).train()
        return module(torch.ones(5, 4)).reconstruction

    torch.testing.assert_close(run(), run())


def test_seeded_dropout_uses_its_generator_and_scales_kept_units():
    dropout = SeededDropout(0.5)
    dropout.generator = torch.Generator().manual_seed(0)
    out = dropout.train()(torch.ones(1000))
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert 400 < int((out == 0).sum()) < 600
    assert torch.equal(dropout.eval()(torch.ones(3)), torch.ones(3))
