"""Pruning at initialisation: every criterion against a direct implementation of its formula,
the exponential schedule, ERK densities, inverted scores and the collapse check."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from empirical.algorithms.criteria import (
    CRITERIA,
    Criterion,
    ScoringInputs,
    criterion_names,
    get_criterion,
    register_criterion,
)
from empirical.algorithms.layer_densities import erk_densities
from empirical.algorithms.pruning_at_init import collapse_report, prune_at_init
from empirical.config.hparams import ModelHparams
from empirical.layers import LayerConfig, prunable_layers
from empirical.models import build_model

W1 = torch.tensor([[0.5, -1.0, 0.25, 2.0],
                   [-0.75, 0.1, 1.5, -0.2],
                   [1.2, 0.3, -0.6, 0.9],
                   [-0.4, -1.1, 0.7, 0.05],
                   [0.8, -0.3, -1.3, 0.6]])
W2 = torch.tensor([[1.0, -0.5, 0.3, 0.7, -1.2],
                   [-0.2, 0.9, -1.4, 0.6, 0.4],
                   [0.5, 0.25, 0.8, -0.9, 1.1]])
X = torch.tensor([[1.0, 2.0, -1.0, 0.5], [-0.3, 0.4, 1.2, -2.0], [0.7, -0.6, 0.1, 1.5]])
Y = torch.tensor([0, 2, 1])


def fc_model(dtype: torch.dtype = torch.float64) -> nn.Module:
    """fc 4-5-3 without biases, weights W1, W2 (the hand-checked network)."""
    spec = ModelHparams("fc", widths=(5,))
    model = build_model(spec, 3, (4,), LayerConfig(mode="masked")).to(dtype)
    (_, first), (_, second) = prunable_layers(model)
    with torch.no_grad():
        first.weight.copy_(W1)
        second.weight.copy_(W2)
    return model


def inputs(batch: bool = True) -> ScoringInputs:
    data = (X.double(), Y) if batch else None
    return ScoringInputs(input_shape=(4,), generator=torch.Generator().manual_seed(0), batch=data)


def direct_loss(w1: torch.Tensor, w2: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    logits = torch.relu(X.double() @ w1.T) @ w2.T
    return nn.functional.cross_entropy(logits / temperature, Y)


def test_registry_lists_the_papers_criteria() -> None:
    assert set(criterion_names()) >= {"magnitude", "snip", "grasp", "synflow", "random"}
    assert get_criterion("synflow").rounds == 100
    with pytest.raises(ValueError, match="unknown pruning criterion 'nope'"):
        get_criterion("nope")


def test_magnitude_is_abs_w() -> None:
    scores = get_criterion("magnitude").scores(fc_model(), inputs(False))
    assert torch.equal(scores["layers.1"], W1.double().abs())
    assert torch.equal(scores["layers.4"], W2.double().abs())


def test_snip_is_abs_gradient_times_weight() -> None:
    w1, w2 = W1.double().requires_grad_(), W2.double().requires_grad_()
    g1, g2 = torch.autograd.grad(direct_loss(w1, w2), [w1, w2])
    model = fc_model()
    scores = get_criterion("snip").scores(model, inputs())
    torch.testing.assert_close(scores["layers.1"], (g1 * W1.double()).abs(), rtol=0, atol=1e-15)
    torch.testing.assert_close(scores["layers.4"], (g2 * W2.double()).abs(), rtol=0, atol=1e-15)
    assert all(layer.weight.grad is None for _, layer in prunable_layers(model))


def test_grasp_is_weight_times_hessian_gradient() -> None:
    flat = torch.cat([W1.double().reshape(-1), W2.double().reshape(-1)])

    def loss(theta: torch.Tensor) -> torch.Tensor:
        return direct_loss(theta[:20].reshape(5, 4), theta[20:].reshape(3, 5), 200.0)

    hessian = torch.autograd.functional.hessian(loss, flat)
    grad = torch.autograd.functional.jacobian(loss, flat)
    expected = flat * (hessian @ grad)
    scores = get_criterion("grasp").scores(fc_model(), inputs())
    got = torch.cat([scores["layers.1"].reshape(-1), scores["layers.4"].reshape(-1)])
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-18)


def test_synflow_is_path_norm_gradient_times_weight() -> None:
    # R = 1^T |W2| |W1| 1 (all units pass ReLU: |W| >= 0 and the input is ones).
    a1, a2 = W1.double().abs(), W2.double().abs()
    expected1 = (a2.sum(0)[:, None] * torch.ones(5, 4, dtype=torch.float64)) * a1
    expected2 = (a1.sum(1)[None, :] * torch.ones(3, 5, dtype=torch.float64)) * a2
    model = fc_model()
    scores = get_criterion("synflow").scores(model, inputs(False))
    torch.testing.assert_close(scores["layers.1"], expected1, rtol=0, atol=1e-14)
    torch.testing.assert_close(scores["layers.4"], expected2, rtol=0, atol=1e-14)
    assert torch.equal(prunable_layers(model)[0][1].weight, W1.double())  # model untouched


def test_random_scores_are_seeded() -> None:
    one = get_criterion("random").scores(fc_model(), inputs(False))
    two = get_criterion("random").scores(fc_model(), inputs(False))
    assert all(torch.equal(one[n], two[n]) for n in one)


@pytest.mark.parametrize("criterion", ["magnitude", "snip", "grasp", "random"])
def test_single_shot_global_keeps_the_highest_scores(criterion: str) -> None:
    model = fc_model()
    scores = get_criterion(criterion).scores(fc_model(), inputs())
    result = prune_at_init(model, criterion, 0.4, scope="global", batch=(X.double(), Y))
    flat = torch.cat([s.reshape(-1) for s in scores.values()])
    kept = torch.cat([m.reshape(-1) for m in result.masks.values()])
    assert int(kept.sum()) == math.ceil(0.4 * 35)
    assert flat[kept].min() >= flat[~kept].max()
    # the model now carries the mask and its pruned weights are zero
    for name, layer in prunable_layers(model):
        assert torch.equal(layer.mask.bool(), result.masks[name])
        assert not layer.weight[~result.masks[name]].any()


def test_inverted_scores_keep_the_lowest() -> None:
    result = prune_at_init(fc_model(), "magnitude", 0.4, scope="layerwise", input_shape=(4,),
                           invert=True)
    for name, w in (("layers.1", W1), ("layers.4", W2)):
        kept = result.masks[name]
        assert int(kept.sum()) == math.ceil(0.4 * w.numel())
        assert w.abs()[kept].max() <= w.abs()[~kept].min()


def test_synflow_rounds_follow_the_exponential_schedule() -> None:
    seen: list[int] = []

    @register_criterion
    class Counting(Criterion):
        name = "test-counting"

        def scores(self, model: nn.Module, inputs: ScoringInputs) -> dict[str, torch.Tensor]:
            seen.append(sum(int(layer.mask.sum()) for _, layer in prunable_layers(model)))
            return {n: layer.weight.detach().abs() for n, layer in prunable_layers(model)}

    try:
        result = prune_at_init(fc_model(), "test-counting", 0.1, scope="global",
                               input_shape=(4,), rounds=4)
    finally:
        del CRITERIA["test-counting"]
    # before round k the network keeps ceil(0.1^((k-1)/4) * 35) weights
    assert seen == [35] + [math.ceil(0.1 ** (k / 4) * 35) for k in range(1, 4)]
    assert result.rounds == 4
    assert sum(int(m.sum()) for m in result.masks.values()) == math.ceil(0.1 * 35)


def test_synflow_keeps_every_layer_at_high_sparsity() -> None:
    result = prune_at_init(fc_model(), "synflow", 0.2, scope="global", input_shape=(4,),
                           rounds=10)
    assert sum(int(m.sum()) for m in result.masks.values()) == 7
    assert result.collapse.empty_layers == ()
    assert result.collapse.outputs_reachable >= 1


def test_erk_densities_by_hand() -> None:
    # raw(l) = (n_in + n_out) / (n_in n_out): 30/200 = 0.15 and 15/50 = 0.3; eps = 125 / 45
    d = erk_densities({"a": (10, 20), "b": (5, 10)}, 0.5)
    assert d["a"] == pytest.approx(0.15 * 125 / 45, rel=1e-12)
    assert d["b"] == pytest.approx(0.3 * 125 / 45, rel=1e-12)
    # a small layer saturates at density 1; the rest shares the budget
    d = erk_densities({"big": (100, 100, 3, 3), "small": (2, 3)}, 0.2)
    assert d["small"] == 1.0
    assert d["big"] * 90000 + 6 == pytest.approx(0.2 * 90006, rel=1e-12)
    conv = erk_densities({"c": (8, 4, 3, 3), "f": (10, 32)}, 0.3)
    assert conv["c"] / conv["f"] == pytest.approx((8 + 4 + 3 + 3) / 288 / (42 / 320), rel=1e-12)


def test_erk_scope_gives_each_layer_its_density() -> None:
    result = prune_at_init(fc_model(), "random", 0.5, scope="erk", input_shape=(4,))
    target = erk_densities({"layers.1": (5, 4), "layers.4": (3, 5)}, 0.5)
    for name, mask in result.masks.items():
        assert int(mask.sum()) == math.ceil(target[name] * mask.numel())


def test_collapse_report_finds_unreachable_outputs_and_empty_layers() -> None:
    model = fc_model()
    masks = {"layers.1": torch.ones(5, 4, dtype=torch.bool),
             "layers.4": torch.ones(3, 5, dtype=torch.bool)}
    assert not collapse_report(model, masks, (4,)).collapsed
    masks["layers.4"][1] = False  # output 1 has no incoming weight
    report = collapse_report(model, masks, (4,))
    assert (report.outputs_reachable, report.outputs, report.empty_layers) == (2, 3, ())
    masks["layers.4"][1, 2] = True
    masks["layers.1"][2] = False  # ... its only input unit is cut from the input
    assert collapse_report(model, masks, (4,)).outputs_reachable == 2
    masks["layers.1"][:] = False
    report = collapse_report(model, masks, (4,))
    assert report.empty_layers == ("layers.1",) and report.outputs_reachable == 0
    assert report.densities["layers.1"] == 0.0


def test_collapse_report_on_a_convnet() -> None:
    model = build_model(ModelHparams("conv2"), 3, (1, 8, 8), LayerConfig(mode="masked"))
    masks = {n: torch.ones_like(layer.weight, dtype=torch.bool)
             for n, layer in prunable_layers(model)}
    assert collapse_report(model, masks, (1, 8, 8)).outputs_reachable == 3
    masks["features.3"][:, :, :, :] = False
    masks["features.3"][5, 7] = True  # one path survives, through channel 7 -> 5
    masks["features.0"][7] = False
    assert collapse_report(model, masks, (1, 8, 8)).outputs_reachable == 0
    masks["features.0"][7, 0, 1, 1] = True
    assert collapse_report(model, masks, (1, 8, 8)).outputs_reachable == 3


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="needs a batch"):
        prune_at_init(fc_model(), "snip", 0.5, input_shape=(4,))
    with pytest.raises(ValueError, match="scope"):
        prune_at_init(fc_model(), "magnitude", 0.5, scope="nope", input_shape=(4,))
    with pytest.raises(ValueError, match="density"):
        prune_at_init(fc_model(), "magnitude", 0.0, input_shape=(4,))
