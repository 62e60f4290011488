"""Exact checks of the layer factory: masks, gains, gradients, global scope, LTH masks, init."""

from __future__ import annotations

import contextlib
import copy
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from empirical.activations import binary_sign
from empirical.init import init_weight_, kaiming_std
from empirical.layers import (
    LayerConfig,
    annealed_keep,
    bind_global_scope,
    enforce_masks_,
    folded_masks,
    kept_fractions,
    layer_alphas,
    layer_masks,
    make_activation,
    make_conv,
    make_linear,
    make_norm,
    prunable_layers,
    set_keep,
)
from empirical.topk import kept_count, top_mask


@given(n=st.integers(1, 500), keep=st.floats(0.001, 1.0))
def test_kept_count_rule(n: int, keep: float) -> None:
    kept = kept_count(n, keep)
    assert kept == n - math.floor((1 - keep) * n)
    assert 1 <= kept <= n
    mask = top_mask(torch.rand(n), kept)
    assert int(mask.sum()) == kept


def test_top_mask_keeps_largest_and_breaks_ties_exactly() -> None:
    values = torch.tensor([0.1, 0.9, 0.5, 0.7, 0.3])
    assert top_mask(values, 2).tolist() == [0, 1, 0, 1, 0]
    ties = torch.ones(10)
    assert int(top_mask(ties, 4).sum()) == 4


def _reference_top_mask(values: torch.Tensor, kept: int) -> torch.Tensor:
    order = torch.sort(values.reshape(-1), descending=True, stable=True).indices
    mask = torch.zeros(values.numel(), dtype=values.dtype)
    mask[order[:kept]] = 1
    return mask.view_as(values)


@given(n=st.integers(1, 3000), levels=st.sampled_from([3, 50, 0]), seed=st.integers(0, 2**31),
       double=st.booleans(), data=st.data())
def test_top_mask_is_the_index_tie_broken_top_k(n: int, levels: int, seed: int, double: bool,
                                                data: st.DataObject) -> None:
    generator = torch.Generator().manual_seed(seed)
    dtype = torch.float64 if double else torch.float32
    values = torch.rand(n, generator=generator, dtype=dtype)
    if levels:  # many ties, -0.0 among the zeros
        values = torch.floor(values * levels) / levels
        values[torch.rand(n, generator=generator) < 0.1] = -0.0
    kept = data.draw(st.integers(0, n))
    assert torch.equal(top_mask(values, kept), _reference_top_mask(values, kept))
    assert torch.equal(top_mask(values.view(1, n, 1), kept).reshape(-1),
                       _reference_top_mask(values, kept))


@pytest.mark.parametrize("mode", ["biprop", "edge-popup"])
def test_effective_weight_and_score_gradient_are_bit_exact(mode: str) -> None:
    torch.manual_seed(11)
    layer = make_conv(4, 6, 3, LayerConfig(mode=mode, keep=0.4)).to(
        memory_format=torch.channels_last)
    x = torch.randn(2, 4, 7, 7).contiguous(memory_format=torch.channels_last)
    w_eff = layer.effective_weight()
    w_eff.retain_grad()
    torch.nn.functional.conv2d(x, w_eff).pow(2).sum().backward()
    scores, weight = layer.scores.detach(), layer.weight.detach()
    mask = _reference_top_mask(scores.abs(), kept_count(scores.numel(), 0.4))
    if mode == "biprop":
        alpha = (weight.abs() * mask).sum() / mask.sum()
        expected = alpha * torch.sign(weight) * mask
    else:
        expected = weight * mask
    assert torch.equal(w_eff.detach(), expected)
    assert torch.equal(layer.scores.grad, w_eff.grad * weight * torch.sign(scores))


@pytest.mark.parametrize("keep", [0.05, 0.3, 0.5, 0.99, 1.0])
@pytest.mark.parametrize("shape", [(7, 13), "conv"])
def test_layerwise_count_alpha_and_values(keep: float, shape: object) -> None:
    torch.manual_seed(0)
    cfg = LayerConfig(mode="biprop", keep=keep)
    layer = make_linear(13, 7, cfg) if shape != "conv" else make_conv(3, 5, 3, cfg)
    n = layer.weight.numel()
    mask = layer.current_mask()
    assert int(mask.sum()) == n - math.floor((1 - keep) * n)
    kept_w = layer.weight[mask.bool()].abs()
    alpha = layer_alphas(nn.Sequential(layer))["0"]
    assert alpha == pytest.approx(float(kept_w.mean()), rel=1e-6)
    w_eff = layer.effective_weight().detach()
    assert set(w_eff.unique().tolist()) <= {-alpha, 0.0, alpha}
    assert torch.equal(torch.sign(w_eff), torch.sign(layer.weight) * mask)
    assert not torch.isnan(w_eff).any()


def test_keep_one_keeps_everything_without_nan() -> None:
    for mode in ("biprop", "edge-popup"):
        layer = make_linear(5, 4, LayerConfig(mode=mode, keep=1.0))
        assert layer.current_mask().sum() == 20
        assert torch.isfinite(layer.effective_weight()).all()


@pytest.mark.parametrize("mode", ["biprop", "edge-popup"])
def test_score_gradient_is_straight_through(mode: str) -> None:
    torch.manual_seed(1)
    layer = make_linear(6, 4, LayerConfig(mode=mode, keep=0.5))
    x = torch.randn(8, 6)
    w_eff = layer.effective_weight()
    w_eff.retain_grad()
    out = torch.nn.functional.linear(x, w_eff)
    (out ** 2).sum().backward()
    expected = w_eff.grad * layer.weight * torch.sign(layer.scores.detach())
    assert torch.allclose(layer.scores.grad, expected)
    assert layer.weight.grad is None and not layer.weight.requires_grad
    assert (layer.scores.grad[layer.current_mask() == 0] != 0).any()


def test_bernoulli_rule_gradient_and_eval_mask() -> None:
    torch.manual_seed(2)
    layer = make_linear(50, 40, LayerConfig(mode="edge-popup", mask_rule="bernoulli"))
    with torch.no_grad():
        layer.scores.fill_(2.0)
    sampled = layer.current_mask()
    assert 0.8 < float(sampled.mean()) < 0.95  # sigmoid(2) = 0.88
    layer.eval()
    assert torch.equal(layer.current_mask(), torch.ones(40, 50))
    layer.train()
    layer(torch.randn(3, 50)).sum().backward()
    assert layer.scores.grad.abs().sum() > 0


def test_global_scope_keeps_fraction_overall() -> None:
    torch.manual_seed(3)
    cfg = LayerConfig(mode="biprop", keep=0.2, scope="global")
    model = bind_global_scope(nn.Sequential(make_linear(30, 20, cfg), nn.ReLU(),
                                            make_conv(1, 4, 3, cfg, dim=1), nn.Flatten()))
    total = 600 + 12
    kept = sum(int(m.sum()) for m in layer_masks(model).values())
    assert kept == total - math.floor(0.8 * total)
    assert abs(kept / total - 0.2) <= 1 / total
    fractions = kept_fractions(model)
    assert fractions["0"] != fractions["2"]
    set_keep(model, 1.0)
    assert all(v == 1.0 for v in kept_fractions(model).values())


def test_global_mask_follows_score_updates_and_deepcopy() -> None:
    cfg = LayerConfig(mode="edge-popup", keep=0.5, scope="global")
    model = bind_global_scope(nn.Sequential(make_linear(4, 4, cfg), make_linear(4, 4, cfg)))
    with torch.no_grad():
        model[0].scores.fill_(1.0)
        model[1].scores.fill_(0.0)
    assert kept_fractions(model) == {"0": 1.0, "1": 0.0}
    assert layer_alphas(model) == {}
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin[1].scores.fill_(5.0)
    assert kept_fractions(twin) == {"0": 0.0, "1": 1.0}
    assert kept_fractions(model) == {"0": 1.0, "1": 0.0}


def _global_reference_masks(model: nn.Module, keep: float) -> list[torch.Tensor]:
    layers = [layer for _, layer in prunable_layers(model)]
    flat = torch.cat([layer.scores.detach().abs().reshape(-1) for layer in layers])
    mask = top_mask(flat, kept_count(flat.numel(), keep))
    return [m.view_as(layer.scores)
            for m, layer in zip(mask.split([la.scores.numel() for la in layers]), layers,
                                strict=True)]


def _global_biprop_mlp() -> nn.Module:
    torch.manual_seed(9)
    cfg = LayerConfig(mode="biprop", keep=0.3, scope="global")
    return bind_global_scope(nn.Sequential(make_linear(20, 20, cfg), nn.ReLU(),
                                           make_linear(20, 10, cfg)))


def _manual_forward(model: nn.Module, x: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
    hidden = model[0]
    out = torch.relu(x @ (hidden.alpha(masks[0]) * torch.sign(hidden.weight) * masks[0]).T)
    last = model[2]
    return out @ (last.alpha(masks[1]) * torch.sign(last.weight) * masks[1]).T


@pytest.mark.parametrize("optimiser", ["adam-fused", "adam-foreach", "sgd-foreach"])
def test_global_masks_are_fresh_after_any_optimiser(optimiser: str) -> None:
    model = _global_biprop_mlp()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = {"adam-fused": lambda: torch.optim.Adam(params, lr=0.1, fused=True),
           "adam-foreach": lambda: torch.optim.Adam(params, lr=0.1, foreach=True),
           "sgd-foreach": lambda: torch.optim.SGD(params, lr=5.0, momentum=0.9,
                                                  foreach=True)}[optimiser]()
    x = torch.randn(8, 20)
    first = _global_reference_masks(model, 0.3)
    for _ in range(3):
        model(x).pow(2).sum().backward()
        opt.step()
        opt.zero_grad()
    expected = _global_reference_masks(model, 0.3)
    assert any(not torch.equal(a, b) for a, b in zip(first, expected, strict=True))
    assert all(torch.equal(got, want) for got, want
               in zip(layer_masks(model).values(), expected, strict=True))
    assert torch.allclose(model(x), _manual_forward(model, x, expected))


def test_global_masks_are_fresh_after_data_assignment_and_state_load() -> None:
    model = _global_biprop_mlp()
    x = torch.randn(4, 20)
    model(x)
    model[0].scores.data = torch.randn(20, 20) * 10
    expected = _global_reference_masks(model, 0.3)
    assert all(torch.equal(got, want) for got, want
               in zip(layer_masks(model).values(), expected, strict=True))
    assert torch.allclose(model(x), _manual_forward(model, x, expected))
    state = {k: torch.randn_like(v) if k.endswith("scores") else v
             for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    expected = _global_reference_masks(model, 0.3)
    assert torch.allclose(model(x), _manual_forward(model, x, expected))


def test_global_masks_are_dropped_after_a_failed_pass_and_rebinding() -> None:
    model = _global_biprop_mlp()
    with pytest.raises(RuntimeError):
        model(torch.randn(2, 7))
    with torch.no_grad():
        model[2].scores.mul_(100.0)
    expected = _global_reference_masks(model, 0.3)
    assert all(torch.equal(got, want) for got, want
               in zip(layer_masks(model).values(), expected, strict=True))
    old = model[0].global_scope
    bind_global_scope(model)
    assert model[0].global_scope is not old and model[2].global_scope is model[0].global_scope
    assert len(model._forward_pre_hooks) == 1 and len(model._forward_hooks) == 1


def test_unbound_global_layer_is_a_clear_error() -> None:
    layer = make_linear(3, 3, LayerConfig(mode="biprop", scope="global", keep=0.5))
    with pytest.raises(ValueError, match="bind_global_scope"):
        layer(torch.randn(1, 3))


def test_biprop_global_layer_keeping_nothing_has_zero_gain() -> None:
    cfg = LayerConfig(mode="biprop", keep=0.5, scope="global")
    model = bind_global_scope(nn.Sequential(make_linear(4, 4, cfg), make_linear(4, 4, cfg)))
    with torch.no_grad():
        model[0].scores.fill_(1.0)
        model[1].scores.fill_(0.0)
    assert layer_alphas(model)["1"] == 0.0
    assert torch.isfinite(model(torch.randn(2, 4))).all()


def test_annealed_keep_schedule() -> None:
    assert annealed_keep(0.1, 0, 10) == pytest.approx(0.5)
    assert annealed_keep(0.1, 5, 10) == pytest.approx(0.1 + 0.4 * 0.5 ** 3)
    assert annealed_keep(0.1, 10, 10) == 0.1
    assert annealed_keep(0.7, 0, 10) == 0.7
    assert annealed_keep(0.2, 3, 0) == 0.2
    values = [annealed_keep(0.05, e, 8) for e in range(9)]
    assert values == sorted(values, reverse=True)


def test_masked_mode_forward_and_enforce() -> None:
    torch.manual_seed(4)
    layer = make_linear(5, 3, LayerConfig(mode="masked"), bias=True)
    assert layer.weight.requires_grad and "mask" in layer.state_dict()
    with torch.no_grad():
        layer.mask[0].zero_()
    x = torch.randn(2, 5)
    expected = x @ (layer.weight * layer.mask).T + layer.bias
    assert torch.allclose(layer(x), expected)
    enforce_masks_(nn.Sequential(layer))
    assert torch.all(layer.weight[0] == 0)
    assert layer.weight[1:].ne(0).all()


@pytest.mark.parametrize("optimiser", ["sgd", "adam"])
def test_folded_masks_train_the_kept_weights_exactly_like_masking(optimiser: str) -> None:
    def build() -> nn.Module:
        torch.manual_seed(12)
        model = nn.Sequential(make_linear(10, 16, LayerConfig(mode="masked"), bias=True),
                              nn.ReLU(), make_linear(16, 3, LayerConfig(mode="masked")))
        with torch.no_grad():
            for layer in (model[0], model[2]):
                layer.mask.copy_((torch.rand_like(layer.mask) < 0.4).float())
        return model

    def train(model: nn.Module, folded: bool) -> list[torch.Tensor]:
        opt = (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
               if optimiser == "sgd" else torch.optim.Adam(model.parameters(), lr=0.05))
        generator = torch.Generator().manual_seed(0)
        with folded_masks(model) if folded else contextlib.nullcontext():
            assert model[0].mask_folded is folded
            for _ in range(5):
                x = torch.randn(8, 10, generator=generator)
                model(x).pow(2).sum().backward()
                opt.step()
                opt.zero_grad()
                enforce_masks_(model)
        assert not model[0].mask_folded
        return [p.detach().clone() for p in model.parameters()]

    plain, folded = train(build(), False), train(build(), True)
    assert all(torch.equal(a, b) for a, b in zip(plain, folded, strict=True))
    model = build()
    with torch.no_grad():
        model[0].weight.add_(1.0)  # pruned entries nonzero: folding must zero them on entry
    x = torch.randn(4, 10)
    expected = model(x)
    with folded_masks(model):
        assert torch.equal(model(x), expected)
    assert torch.all(model[0].weight[model[0].mask == 0] == 0)


def test_dense_mode_is_plain_layer() -> None:
    torch.manual_seed(5)
    layer = make_conv(2, 3, 3, LayerConfig(), padding=1)
    x = torch.randn(1, 2, 6, 6)
    assert torch.allclose(layer(x), torch.nn.functional.conv2d(x, layer.weight, padding=1))
    assert layer.scores is None and layer.mask is None
    assert kept_fractions(nn.Sequential(layer)) == {"0": 1.0}


def test_weights_frozen_through_an_optimiser_step() -> None:
    torch.manual_seed(6)
    layer = make_linear(8, 8, LayerConfig(mode="biprop", keep=0.3), bias=True)
    before = (layer.weight.clone(), layer.bias.clone(), layer.scores.clone())
    params = [p for p in layer.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.5, momentum=0.9, weight_decay=0.1)
    layer(torch.randn(4, 8)).pow(2).sum().backward()
    opt.step()
    assert torch.equal(layer.weight, before[0]) and torch.equal(layer.bias, before[1])
    assert not torch.equal(layer.scores, before[2])


@pytest.mark.parametrize(("init", "keep", "var"), [
    ("kn", 0.5, 2 / (0.5 * 400)), ("ukn", 0.5, 2 / 400), ("kaiming_uniform", 1.0, 2 / 400)])
def test_init_variance(init: str, keep: float, var: float) -> None:
    torch.manual_seed(7)
    w = init_weight_(torch.empty(400, 400), init, keep)
    assert float(w.var()) == pytest.approx(var, rel=0.03)


def test_signed_constant_init_takes_two_values() -> None:
    torch.manual_seed(8)
    w = init_weight_(torch.empty(20, 30), "sc", 0.25)
    assert set(w.abs().unique().tolist()) == pytest.approx([kaiming_std((20, 30), 0.25)])


def test_prunable_layers_order_and_norms() -> None:
    cfg = LayerConfig(mode="edge-popup", keep=0.5)
    model = nn.Sequential(make_conv(1, 2, 3, cfg), make_norm(2, "nonaffine"), nn.Flatten(),
                          make_linear(2, 2, cfg))
    assert [n for n, _ in prunable_layers(model)] == ["0", "3"]
    assert not list(model[1].parameters()) and model[1].track_running_stats
    assert len(list(make_norm(4, "affine", dim=1).parameters())) == 2
    assert isinstance(make_norm(4, "none"), nn.Identity)
    assert isinstance(make_activation(False), nn.ReLU)


def test_binary_activation_forward_and_bireal_gradient() -> None:
    x = torch.tensor([-2.0, -0.5, 0.0, 0.25, 3.0], requires_grad=True)
    y = make_activation(True)(x)
    assert y.tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == pytest.approx([0.0, 1.0, 2.0, 1.5, 0.0])
    assert binary_sign(torch.zeros(1)).item() == 1.0


@pytest.mark.parametrize("bad", [
    {"mode": "pruned"}, {"keep": 0.0}, {"keep": 1.5}, {"keep": float("nan")},
    {"scope": "local"}, {"mask_rule": "random"}, {"init": "xavier"}])
def test_bad_config_is_a_value_error(bad: dict) -> None:
    with pytest.raises(ValueError):
        LayerConfig(**bad)


def test_bad_sizes_are_value_errors() -> None:
    with pytest.raises(ValueError):
        make_linear(0, 3, LayerConfig())
    with pytest.raises(ValueError):
        make_conv(1, 1, 3, LayerConfig(), dim=3)
    with pytest.raises(ValueError):
        make_norm(3, "batch")
    with pytest.raises(ValueError):
        set_keep(nn.Sequential(), 0.0)


@pytest.mark.parametrize(("mode", "scope", "rule"), [
    ("biprop", "layerwise", "topk"), ("edge-popup", "layerwise", "topk"),
    ("biprop", "global", "topk"), ("biprop", "layerwise", "bernoulli"),
    ("edge-popup", "layerwise", "hard-concrete")])
def test_held_weights_select_once_per_block_and_change_nothing(
        mode: str, scope: str, rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An evaluation of four batches in the block: the outputs of computing every mask per
    batch, one top-k selection per layer (global: one in all), fresh masks after the block."""
    from empirical import mask_rules
    from empirical.algorithms.callbacks import evaluate
    from empirical.data import Batches
    from empirical.layers import held_weights

    torch.manual_seed(0)
    cfg = LayerConfig(mode=mode, keep=0.4, scope=scope, mask_rule=rule)
    model = bind_global_scope(nn.Sequential(make_linear(12, 16, cfg), nn.ReLU(),
                                            make_linear(16, 5, cfg))).eval()
    x, y = torch.randn(40, 12), torch.randint(0, 5, (40,))
    with torch.no_grad():
        expected = [model(x[i:i + 10]) for i in range(0, 40, 10)]
    selections = []
    select = mask_rules.top_mask
    monkeypatch.setattr(mask_rules, "top_mask", lambda *a: selections.append(1) or select(*a))
    with torch.no_grad(), held_weights(model):
        got = [model(x[i:i + 10]) for i in range(0, 40, 10)]
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))
    once = 0 if rule != "topk" else 1 if scope == "global" else 2  # selections per pass
    assert len(selections) == once
    assert all(layer.held is None and not layer.holding for _, layer in prunable_layers(model))
    with torch.no_grad():
        model[0].scores.neg_().add_(torch.randn_like(model[0].scores))
        changed = model(x[:10])
    assert not torch.equal(changed, expected[0])
    selections.clear()
    evaluation = evaluate(model, Batches(torch.utils.data.TensorDataset(x, y), 10, None,
                                         drop_last=False))
    assert len(selections) == once
    with torch.no_grad():
        assert torch.equal(evaluation.predicted, model(x).argmax(1))
