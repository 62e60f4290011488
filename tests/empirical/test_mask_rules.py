"""Mask rules (empirical/mask_rules.py): masks and score gradients against hand-computed values,
the registry, and a toy rule defined here and trained through ``tickets train``."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from torch import nn

from empirical import vocabulary
from empirical.config.hparams import MaskHparams
from empirical.layers import LayerConfig, bind_global_scope, layer_masks, make_linear
from empirical.mask_rules import (
    MASK_RULES,
    HardConcrete,
    MaskRule,
    RuleOptions,
    ScoreLayer,
    register_mask_rule,
)
from empirical.storage.store import RunStore
from verify.cli.main import main

SCORES = [[0.3, -0.9, 0.1], [-0.5, 0.2, 0.8]]
WEIGHT = [[1.0, 2.0, -1.0], [0.5, -2.0, 3.0]]
UPSTREAM = [[1.0, 1.0, 2.0], [-1.0, 0.5, 1.0]]  # dL/dW_eff
LN3 = math.log(3.0)


def layer_with(cfg: LayerConfig, scores: list[list[float]],
               weight: list[list[float]] = WEIGHT) -> nn.Module:
    """A 3 -> 2 linear score layer with the given scores and weights."""
    layer = make_linear(3, 2, cfg)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.scores.copy_(torch.tensor(scores))
    return layer


def score_grad(layer: nn.Module, upstream: list[list[float]] = UPSTREAM) -> torch.Tensor:
    """``dL/ds`` for ``L = sum(upstream * W_eff)``, so that ``dL/dW_eff = upstream``."""
    (layer.effective_weight() * torch.tensor(upstream)).sum().backward()
    return layer.scores.grad


@pytest.mark.parametrize("mode", ["edge-popup", "biprop"])
def test_topk_layerwise_mask_and_straight_through_gradient(mode: str) -> None:
    layer = layer_with(LayerConfig(mode=mode, keep=0.5), SCORES)
    # K = 6 - floor(0.5 * 6) = 3 largest |s|: 0.9, 0.8, 0.5.
    assert layer.current_mask().tolist() == [[0, 1, 0], [1, 0, 1]]
    w_eff = layer.effective_weight().detach()
    if mode == "edge-popup":
        assert w_eff.tolist() == [[0, 2, 0], [0.5, 0, 3]]
    else:  # alpha = (2 + 0.5 + 3) / 3, times sign(W) on the kept entries
        alpha = 5.5 / 3
        assert torch.allclose(w_eff, torch.tensor([[0, alpha, 0], [alpha, 0, alpha]]))
    # upstream * W * sign(s), pruned entries included
    assert score_grad(layer).tolist() == [[1, -2, -2], [0.5, -1, 3]]


def test_topk_global_scope_one_threshold_over_layers() -> None:
    first = layer_with(LayerConfig(mode="edge-popup", keep=0.5, scope="global"), SCORES)
    second = layer_with(LayerConfig(mode="edge-popup", keep=0.5, scope="global"),
                        [[0.05, 0.06, 0.07], [0.7, 0.6, -0.4]])
    bind_global_scope(nn.Sequential(first, second))
    # 12 scores, keep 6: |s| in 0.9, 0.8, 0.7, 0.6, 0.5, 0.4 (0.3 and below are pruned).
    assert first.current_mask().tolist() == [[0, 1, 0], [1, 0, 1]]
    assert second.current_mask().tolist() == [[0, 0, 0], [1, 1, 1]]
    assert first.global_scope is second.global_scope
    assert score_grad(second).tolist() == [[1, 2, -2], [-0.5, -1, -3]]


def test_bernoulli_masks_and_gradient() -> None:
    layer = layer_with(LayerConfig(mode="edge-popup", mask_rule="bernoulli"),
                       [[0.0, LN3, -LN3], [50.0, -50.0, 0.1]])
    layer.eval()
    assert layer.current_mask().tolist() == [[1, 1, 0], [1, 0, 1]]  # 1[sigmoid(s) >= 1/2]
    # sigmoid'(s) = p (1 - p): 1/4 at 0, 3/16 at +-ln 3
    expected = [[1 * 1 * 0.25, 1 * 2 * 3 / 16, 2 * -1 * 3 / 16]]
    assert score_grad(layer)[0].tolist() == pytest.approx(expected[0], rel=1e-6)
    layer.train()
    torch.manual_seed(0)
    draws = torch.stack([layer.current_mask() for _ in range(4000)]).mean(0)
    assert draws[1, 0] == 1 and draws[1, 1] == 0  # p = 1 and p ~ 2e-22
    assert float(draws[0, 1]) == pytest.approx(0.75, abs=0.03)
    # The ticket's masks are the eval-mode ones, whatever the model's mode.
    assert layer_masks(nn.Sequential(layer))["0"].tolist() == [[1, 1, 0], [1, 0, 1]]
    assert layer.training


@pytest.mark.parametrize(("log_alpha", "u", "z"), [
    (0.0, 0.5, 0.5),  # s = 1/2, z = 1.2 / 2 - 0.1
    (2 / 3 * LN3, 0.5, 0.8),  # s = sigmoid(ln 3) = 3/4
    (-2 / 3 * LN3, 0.5, 0.2),  # s = 1/4
    # log u - log(1 - u) = ln 3, s = sigmoid(1.5 ln 3)
    (0.0, 0.75, 1.2 * 3**1.5 / (1 + 3**1.5) - 0.1),
    (10.0, 0.5, 1.0),  # s > 11/12: clamped at 1
    (-10.0, 0.5, 0.0),  # s < 1/12: clamped at 0
])
def test_hard_concrete_gate(log_alpha: float, u: float, z: float) -> None:
    gate = HardConcrete.gate(torch.tensor([log_alpha], dtype=torch.float64),
                             torch.tensor([u], dtype=torch.float64))
    assert float(gate) == pytest.approx(z, abs=1e-12)


def test_hard_concrete_expected_l0() -> None:
    # sigmoid(log alpha - (2/3) log(0.1 / 1.1)) = sigmoid(log alpha + (2/3) ln 11)
    at = torch.tensor([-2 / 3 * math.log(11.0), -2 / 3 * math.log(11.0) + LN3, 50.0],
                      dtype=torch.float64)
    assert HardConcrete.expected_l0(at).tolist() == pytest.approx([0.5, 0.75, 1.0], abs=1e-12)


def test_hard_concrete_mask_and_exact_gradient() -> None:
    scores = [[0.0, 2 / 3 * LN3, -2 / 3 * LN3], [10.0, -10.0, -2 / 3 * math.log(11.0)]]
    layer = layer_with(LayerConfig(mode="edge-popup", mask_rule="hard-concrete", penalty=0.5),
                       scores)
    layer.eval()
    assert layer.current_mask().tolist() == [[1, 1, 0], [1, 0, 0]]  # 1[log alpha >= 0]
    layer.train()
    torch.manual_seed(3)
    u = torch.rand(2, 3)
    torch.manual_seed(3)
    grad = score_grad(layer)
    # The same objective written out: sum(upstream * W * z(log alpha, u)) + lambda * sum(L0).
    log_alpha = torch.tensor(scores, requires_grad=True)
    objective = (torch.tensor(UPSTREAM) * torch.tensor(WEIGHT) * HardConcrete.gate(log_alpha, u)
                 ).sum() + 0.5 * HardConcrete.expected_l0(log_alpha).sum()
    objective.backward()
    assert torch.allclose(grad, log_alpha.grad, rtol=1e-6, atol=1e-7)
    q = float(HardConcrete.expected_l0(torch.tensor(10.0)))
    assert float(grad[1, 0]) == pytest.approx(0.5 * q * (1 - q), rel=1e-5)  # clamped at z = 1


def test_hard_concrete_gradient_at_hand_values() -> None:
    """u = 1/2: dz/d(log alpha) = 1.2 s (1 - s) / (2/3): 0.45 at s = 1/2, 0.3375 at s = 3/4."""
    layer = layer_with(LayerConfig(mode="edge-popup", mask_rule="hard-concrete"),
                       [[0.0, 2 / 3 * LN3, 0.0], [0.0, 0.0, 0.0]], weight=[[1.0] * 3] * 2)
    rule = layer.rule
    z = HardConcrete.gate(layer.scores.detach(), torch.full((2, 3), 0.5))
    grad = rule.score_grad(layer.scores.detach(), z, torch.ones(2, 3))
    assert grad[0].tolist() == pytest.approx([0.45, 0.3375, 0.45], rel=1e-6)


def test_registry_and_penalty_checks() -> None:
    assert {"topk", "bernoulli", "hard-concrete"} <= set(MASK_RULES)
    with pytest.raises(ValueError, match="registered already"):
        register_mask_rule(type("Again", (MaskRule,), {"name": "topk"}))
    with pytest.raises(ValueError, match="MaskRule subclass"):
        register_mask_rule(type("Nameless", (MaskRule,), {}))
    with pytest.raises(ValueError, match="unknown mask rule"):
        LayerConfig(mode="edge-popup", mask_rule="random")
    with pytest.raises(ValueError, match="has no penalty"):
        LayerConfig(mode="edge-popup", penalty=0.1)
    with pytest.raises(ValueError, match="penalty must be >= 0"):
        MaskHparams(mode="edge-popup", mask_rule="hard-concrete", penalty=-1.0)


class Positive(MaskRule):
    """Toy rule: keep the weights of positive score, ``m = 1[s > 0]``, identity gradient; a
    forward pre-hook on each layer it serves counts the training forward passes (a per-step
    callback)."""

    name = "positive"
    steps: ClassVar[int] = 0

    def setup(self, layer: nn.Module, cfg: RuleOptions) -> None:
        layer.register_forward_pre_hook(self.count)

    def count(self, layer: nn.Module, inputs: object) -> None:
        Positive.steps += layer.training

    def mask(self, layer: ScoreLayer) -> torch.Tensor:
        return (layer.scores > 0).to(layer.scores.dtype)

    def score_grad(self, scores: torch.Tensor, mask: torch.Tensor,
                   grad: torch.Tensor) -> torch.Tensor:
        return grad


@pytest.fixture
def positive_rule(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Positive]]:
    """:class:`Positive` registered (and its name declared) for one test."""
    monkeypatch.setitem(MASK_RULES, Positive.name, Positive)
    monkeypatch.setattr(vocabulary, "MASK_RULE_NAMES", (*vocabulary.MASK_RULE_NAMES, Positive.name))
    Positive.steps = 0
    yield Positive


def test_toy_rule_trains_through_the_command_line(
        positive_rule: type[Positive], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "edge-popup", "--preset", "digits-edge-popup", "--widths", "16",
                 "--epochs", "1", "--mask-rule", "positive", "--runs-dir", str(tmp_path),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert positive_rule.steps == 2 * summary["steps"] > 0  # 64 -> 16 -> 10: two layers
    ticket = RunStore(summary["run_dir"]).load_ticket()  # sealed: read through the store
    for name, scores in ticket["scores"].items():
        assert torch.equal(ticket["masks"][name], scores > 0)
        assert summary["kept_fraction"][name] == pytest.approx(float((scores > 0).float().mean()))


def test_hard_concrete_penalty_sparsifies_through_the_command_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Measured: 3 epochs on digits keep 48% without the L0 penalty and 27% with lambda = 1e-3."""
    kept = []
    for penalty in ("0", "0.001"):
        assert main(["train", "edge-popup", "--preset", "digits-edge-popup", "--widths", "32",
                     "--epochs", "3", "--mask-rule", "hard-concrete", "--penalty", penalty,
                     "--runs-dir", str(tmp_path), "--json"]) == 0
        kept.append(json.loads(capsys.readouterr().out)["kept_overall"])
    assert kept[1] < kept[0] - 0.1
