"""Initialisations: fan rules (paper k vs released 1 - k), Xavier normal, PyTorch default,
BatchNorm gamma, and their threading through build_model."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from empirical.config.hparams import ModelHparams
from empirical.init import (
    BN_INITS,
    FAN_RULES,
    INITS,
    fan_factor,
    fan_out,
    init_batchnorm_,
    init_weight_,
    kaiming_std,
)
from empirical.layers import LayerConfig, prunable_layers
from empirical.models import build_model

BIG = (400, 500)  # fan_in 500, fan_out 400: 200,000 draws, sample variance within ~0.5%


def test_public_names() -> None:
    assert FAN_RULES == ("paper", "released")
    assert BN_INITS == ("ones", "uniform")
    assert {"xavier_normal", "torch_default", "kn", "sc"} <= set(INITS)


@pytest.mark.parametrize(("keep", "rule", "factor"), [
    (None, "paper", 1.0), (None, "released", 1.0), (0.2, "paper", 0.2), (0.2, "released", 0.8),
    (0.5, "released", 0.5), (1.0, "paper", 1.0)])
def test_fan_factor_exact(keep: float | None, rule: str, factor: float) -> None:
    assert fan_factor(keep, rule) == pytest.approx(factor, abs=1e-15)


def test_released_rule_at_keep_one_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="1 - k, which is 0 at k = 1"):
        fan_factor(1.0, "released")
    with pytest.raises(ValueError, match="1 - k"):
        init_weight_(torch.empty(3, 4), "kn", 1.0, "released")
    with pytest.raises(ValueError, match="1 - k"):
        build_model(ModelHparams("fc", widths=(5,)), 3, (4,),
                    LayerConfig(mode="biprop", keep=1.0, fan_rule="released"))


@pytest.mark.parametrize("bad", [{"keep": 0.0}, {"keep": 1.5}, {"keep": float("nan")},
                                 {"fan_rule": "code"}])
def test_fan_factor_rejects_bad_input(bad: dict) -> None:
    args = {"keep": 0.5, "fan_rule": "paper", **bad}
    with pytest.raises(ValueError):
        fan_factor(**args)


@pytest.mark.parametrize("rule", FAN_RULES)
@pytest.mark.parametrize("keep", [0.2, 0.7])
def test_kaiming_normal_variance_follows_the_rule(rule: str, keep: float) -> None:
    torch.manual_seed(0)
    w = init_weight_(torch.empty(BIG), "kn", keep, rule)
    c = keep if rule == "paper" else 1 - keep
    assert float(w.mean()) == pytest.approx(0.0, abs=4 * math.sqrt(2 / (c * 500) / w.numel()))
    assert float(w.var()) == pytest.approx(2 / (c * 500), rel=0.02)


@given(keep=st.floats(0.01, 0.99), init=st.sampled_from(["kn", "sc"]))
def test_released_over_paper_variance_is_k_over_one_minus_k(keep: float, init: str) -> None:
    """Same seed, same draws: the released weights are the paper's times sqrt(k / (1 - k))."""
    torch.manual_seed(1)
    paper = init_weight_(torch.empty(30, 40), init, keep, "paper")
    torch.manual_seed(1)
    released = init_weight_(torch.empty(30, 40), init, keep, "released")
    ratio = float(released.var() / paper.var())
    assert ratio == pytest.approx(keep / (1 - keep), rel=1e-5)
    assert torch.allclose(released, paper * math.sqrt(keep / (1 - keep)), rtol=1e-5)


def test_signed_constant_magnitude_under_released_rule() -> None:
    torch.manual_seed(2)
    w = init_weight_(torch.empty(20, 30), "sc", 0.25, "released")
    assert w.abs().unique().tolist() == pytest.approx([math.sqrt(2 / (0.75 * 30))])
    assert kaiming_std((20, 30), 0.25, "released") == pytest.approx(math.sqrt(2 / (0.75 * 30)))


@pytest.mark.parametrize("init", ["ukn", "usc", "kaiming_uniform", "xavier_normal",
                                  "torch_default"])
def test_unscaled_inits_ignore_keep_and_rule(init: str) -> None:
    torch.manual_seed(3)
    plain = init_weight_(torch.empty(8, 9), init)
    torch.manual_seed(3)
    pruned = init_weight_(torch.empty(8, 9), init, 0.3, "released")
    assert torch.equal(plain, pruned)


@pytest.mark.parametrize("shape", [BIG, (64, 32, 3, 3)])
def test_xavier_normal_statistics(shape: tuple[int, ...]) -> None:
    """Gaussian Glorot: N(0, 2 / (fan_in + fan_out)); conv fans include the kernel size."""
    torch.manual_seed(4)
    w = init_weight_(torch.empty(shape), "xavier_normal")
    fan_in_ = math.prod(shape[1:])
    var = 2 / (fan_in_ + fan_out(shape))
    assert fan_out(shape) == shape[0] * math.prod(shape[2:])
    assert float(w.mean()) == pytest.approx(0.0, abs=4 * math.sqrt(var / w.numel()))
    assert float(w.var()) == pytest.approx(var, rel=0.02)
    # Gaussian, not uniform: the fourth standardised moment is 3 (uniform: 1.8).
    kurtosis = float((w / w.std()).pow(4).mean())
    assert kurtosis == pytest.approx(3.0, abs=0.15)


def test_torch_default_statistics() -> None:
    torch.manual_seed(5)
    w = init_weight_(torch.empty(BIG), "torch_default")
    bound = 1 / math.sqrt(500)
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.99 * bound
    assert float(w.var()) == pytest.approx(bound**2 / 3, rel=0.02)


def test_xavier_layers_keep_pytorch_default_biases() -> None:
    torch.manual_seed(6)
    model = build_model(ModelHparams("lenet-300-100"),
                        10, (1, 28, 28), LayerConfig(init="xavier_normal"))
    first = prunable_layers(model)[0][1]
    assert float(first.weight.detach().var()) == pytest.approx(2 / (784 + 300), rel=0.02)
    bound = 1 / math.sqrt(784)
    bias = first.bias.detach()
    assert float(bias.abs().max()) <= bound
    assert float(bias.var()) == pytest.approx(bound**2 / 3, rel=0.2)


def _first_weight(cfg: LayerConfig) -> torch.Tensor:
    torch.manual_seed(7)
    model = build_model(ModelHparams("fc", widths=(400,)), 10, (500,), cfg)
    return prunable_layers(model)[0][1].weight.detach()


def test_fan_rule_threads_through_build_model() -> None:
    paper = _first_weight(LayerConfig(mode="biprop", keep=0.2))
    released = _first_weight(LayerConfig(mode="biprop", keep=0.2, fan_rule="released"))
    assert float(paper.var()) == pytest.approx(2 / (0.2 * 500), rel=0.02)
    assert float(released.var() / paper.var()) == pytest.approx(0.2 / 0.8, rel=1e-5)


@pytest.mark.parametrize("mode", ["dense", "masked"])
def test_fan_rule_never_scales_trained_weights(mode: str) -> None:
    """Dense and LTH layers prune nothing at init: unscaled 2 / fan_in under both rules."""
    paper = _first_weight(LayerConfig(mode=mode))
    released = _first_weight(LayerConfig(mode=mode, fan_rule="released"))
    assert torch.equal(paper, released)
    assert float(paper.var()) == pytest.approx(2 / 500, rel=0.02)


def test_layer_config_rejects_unknown_fan_rule() -> None:
    with pytest.raises(ValueError, match="fan rule"):
        LayerConfig(fan_rule="code")


def _affine_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine]


def _resnet(bn_init: str) -> nn.Module:
    torch.manual_seed(8)
    return build_model(ModelHparams("resnet20", bn_init=bn_init), 10, (3, 32, 32), LayerConfig())


def test_uniform_bn_init_draws_gamma_in_unit_interval() -> None:
    """open_lth: gamma ~ U(0, 1), beta = 0, drawn after the weights (which stay identical)."""
    uniform, ones = _resnet("uniform"), _resnet("ones")
    gammas = torch.cat([m.weight.detach() for m in _affine_norms(uniform)])
    assert gammas.numel() > 500
    assert float(gammas.min()) >= 0.0 and float(gammas.max()) < 1.0
    assert float(gammas.mean()) == pytest.approx(0.5, abs=0.05)
    assert float(gammas.var()) == pytest.approx(1 / 12, rel=0.2)
    assert all(torch.equal(m.bias, torch.zeros_like(m.bias)) for m in _affine_norms(uniform))
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in _affine_norms(ones))
    weights = [(n, layer.weight) for n, layer in prunable_layers(uniform)]
    assert all(torch.equal(w, dict(prunable_layers(ones))[n].weight) for n, w in weights)


def test_uniform_bn_init_needs_affine_batchnorm() -> None:
    cfg = LayerConfig(mode="biprop", keep=0.5)
    with pytest.raises(ValueError, match="no affine BatchNorm"):
        build_model(ModelHparams("resnet20", width_mult=0.25, bn_init="uniform"),
                    10, (3, 32, 32), cfg)
    with pytest.raises(ValueError, match="unknown bn_init 'random'"):
        ModelHparams("resnet20", bn_init="random")
    with pytest.raises(ValueError, match="BatchNorm init"):
        init_batchnorm_(nn.Sequential(), "zeros")


def test_bn_init_resets_a_changed_batchnorm() -> None:
    norm = nn.BatchNorm2d(4)
    with torch.no_grad():
        norm.weight.fill_(3.0)
        norm.bias.fill_(2.0)
    init_batchnorm_(nn.Sequential(norm), "ones")
    assert norm.weight.tolist() == [1.0] * 4 and norm.bias.tolist() == [0.0] * 4
    with torch.no_grad():
        norm.bias.fill_(2.0)
    init_batchnorm_(nn.Sequential(norm), "uniform")
    assert norm.bias.tolist() == [0.0] * 4 and 0.0 <= float(norm.weight.detach().min())
