"""Strong-ticket searches after edge-popup: IteRand and Gem-Miner (empirical/mask_rules.py), sparse
Erdos-Renyi sources (empirical/sparse_source.py), against their definitions on small layers, and
their runs through ``tickets train`` and the comparison table (verify/strong_searches.py)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from empirical.algorithms.builders import build_run_model
from empirical.algorithms.layer_densities import erk_densities
from empirical.algorithms.mpt import run_mpt, ticket_start
from empirical.algorithms.run_reader import read_run
from empirical.algorithms.train import FitHooks
from empirical.config.hparams import MaskHparams
from empirical.init import init_weight_
from empirical.layers import (
    LayerConfig,
    bind_global_scope,
    layer_masks,
    make_linear,
    prunable_layers,
)
from empirical.mask_rules import GemMiner, IteRand
from empirical.sparse_source import apply_sparse_source_
from empirical.storage.store import RunStore
from empirical.topk import kept_count
from verify.cli.main import main
from verify.strong_searches import table

SCORES = [[0.3, -0.9, 0.1], [-0.5, 0.2, 0.8]]


def _layer(cfg: LayerConfig, scores: list[list[float]] | None = None) -> nn.Module:
    layer = make_linear(3, 2, cfg) if scores is not None else make_linear(12, 10, cfg)
    if scores is not None:
        with torch.no_grad():
            layer.scores.copy_(torch.tensor(scores))
    return layer


# ---- IteRand ------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(keep=st.sampled_from([0.1, 0.3, 0.5, 0.9]), fraction=st.floats(0.0, 1.0),
       seed=st.integers(0, 2**31 - 1), step=st.integers(1, 10_000),
       sparse=st.booleans())
def test_iterand_redraws_each_pruned_weight_with_probability_r(
        keep: float, fraction: float, seed: int, step: int, sparse: bool) -> None:
    torch.manual_seed(seed)
    cfg = LayerConfig(mode="edge-popup", keep=keep, mask_rule="iterand", redraw_every=7,
                      redraw_fraction=fraction)
    layer = _layer(cfg)
    model = nn.Sequential(layer)
    if sparse:
        apply_sparse_source_(model, 0.6, "uniform", seed)
    before = layer.weight.detach().clone()
    mask = layer.current_mask().bool()
    exists = torch.ones_like(mask) if layer.source is None else layer.source.bool()
    pruned = ~mask & exists
    chosen = layer.rule.redraw_(layer, step)
    changed = layer.weight != before
    assert not (chosen & ~pruned).any()  # only pruned weights of the source
    # Each pruned weight is re-drawn iff its coin from the generator of (seed, step) is below r
    # (the released code's Bernoulli(rerand_lambda) partial randomisation).
    state = np.random.SeedSequence([int(layer.redraw_seed), step]).generate_state(2)
    coins = torch.rand(pruned.shape, generator=torch.Generator().manual_seed(int(state[0])))
    assert torch.equal(chosen, pruned & (coins < fraction))
    assert torch.equal(changed, chosen & (changed))  # nothing outside the chosen set moved
    assert torch.equal(layer.weight[~chosen], before[~chosen])
    # The chosen entries hold the initialiser's draw from the generator of (seed, step).
    fresh = torch.empty(10, 12)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(state[1]))
        init_weight_(fresh, "kn", keep, "paper")
    assert torch.equal(layer.weight[chosen], fresh[chosen])


def test_iterand_redraws_after_every_k_per_training_steps_only() -> None:
    torch.manual_seed(0)
    layer = _layer(LayerConfig(mode="edge-popup", keep=0.5, mask_rule="iterand",
                               redraw_every=3, redraw_fraction=0.5))
    x = torch.randn(4, 12)
    changes = []
    for _ in range(7):
        before = layer.weight.detach().clone()
        layer(x)
        changes.append(not torch.equal(before, layer.weight))
    assert changes == [False, False, False, True, False, False, True]
    layer.eval()
    for _ in range(6):  # evaluation passes neither count nor re-draw
        before = layer.weight.detach().clone()
        layer(x)
        assert torch.equal(before, layer.weight)
    assert int(layer.redraw_step) == 7


def test_iterand_resume_equals_uninterrupted(tmp_path: Path) -> None:
    from tests.empirical.test_train import EVERY_EPOCH, Killed, _kill_after_first, preset_hparams

    hparams = preset_hparams("digits-edge-popup", model={"widths": (32,)},
                             mask={"mask_rule": "iterand", "redraw_every": 4},
                             training={"epochs": 2})
    full = run_mpt(hparams, tmp_path / "a")
    with pytest.raises(Killed):
        run_mpt(hparams, tmp_path / "b", EVERY_EPOCH,
                hooks=FitHooks(after_epoch=_kill_after_first))
    resumed = run_mpt(hparams, tmp_path / "b")
    assert resumed["resumed_from"] == full["steps"] // 2 and full["steps"] > 8
    a = RunStore.for_run(tmp_path / "a", "edge-popup", hparams).load_checkpoint()["model"]
    b = RunStore.for_run(tmp_path / "b", "edge-popup", hparams).load_checkpoint()["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["test_acc"] == full["test_acc"]
    initial = build_run_model(hparams).state_dict()
    assert not torch.equal(a["layers.1.weight"], initial["layers.1.weight"])  # it re-drew


def test_iterand_options_belong_to_iterand() -> None:
    with pytest.raises(ValueError, match="re-draws no weights"):
        LayerConfig(mode="edge-popup", redraw_every=10)
    with pytest.raises(ValueError, match="redraw_fraction must lie"):
        MaskHparams(mode="edge-popup", mask_rule="iterand", redraw_fraction=1.5)
    with pytest.raises(ValueError, match="redraw_every must be an integer"):
        LayerConfig(mode="edge-popup", mask_rule="iterand", redraw_every=0)


# ---- Gem-Miner ----------------------------------------------------------------------------

def test_gem_miner_masks_gradient_and_projection() -> None:
    scores = [[0.3, 0.9, 0.55], [-0.2, 0.5, 1.4]]
    layer = _layer(LayerConfig(mode="edge-popup", keep=0.5, mask_rule="gem-miner",
                               penalty=0.25), scores)
    layer.train()
    assert layer.current_mask().tolist() == [[0, 1, 1], [0, 1, 1]]  # 1[s >= 1/2]
    layer.eval()  # top-3 of clip(s, 0, 1) = 0.3, 0.9, 0.55, 0, 0.5, 1: 1, 0.9, 0.55
    assert layer.current_mask().tolist() == [[0, 1, 1], [0, 0, 1]]
    layer.train()
    weight = torch.tensor([[1.0, 2.0, -1.0], [0.5, -2.0, 3.0]])
    upstream = torch.tensor([[1.0, 1.0, 2.0], [-1.0, 0.5, 1.0]])
    with torch.no_grad():
        layer.weight.copy_(weight)
    (layer.effective_weight() * upstream).sum().backward()
    # straight-through g = upstream * W, plus 2 lambda s (the scores of the pass)
    expected = upstream * weight + 0.5 * torch.tensor(scores)
    assert torch.allclose(layer.scores.grad, expected)
    layer(torch.ones(1, 3))  # the forward pre-hook projects onto [0, 1]
    assert torch.equal(layer.scores.detach(), torch.tensor([[0.3, 0.9, 0.55], [0.0, 0.5, 1.0]]))


def test_gem_miner_starts_uniform_and_has_a_penalty() -> None:
    torch.manual_seed(0)
    layer = _layer(LayerConfig(mode="biprop", mask_rule="gem-miner"))
    s = layer.scores.detach()
    assert float(s.min()) >= 0 and float(s.max()) <= 1 and float(s.std()) > 0.2
    assert GemMiner.penalised and not IteRand.penalised


# ---- sparse sources -----------------------------------------------------------------------

def _model(rule: str, scope: str = "layerwise", keep: float = 0.4) -> nn.Module:
    cfg = LayerConfig(mode="edge-popup", keep=keep, mask_rule=rule, scope=scope)
    return bind_global_scope(nn.Sequential(make_linear(20, 30, cfg), nn.ReLU(),
                                           make_linear(30, 5, cfg)))


def test_sparse_source_erk_counts_and_zeroed_weights() -> None:
    torch.manual_seed(1)
    model = _model("topk")
    realised = apply_sparse_source_(model, 0.5, "erk", seed=3)
    shapes = {name: layer.weight.shape for name, layer in prunable_layers(model)}
    wanted = erk_densities(shapes, 0.5)
    for name, layer in prunable_layers(model):
        n = layer.weight.numel()
        count = math.floor(wanted[name] * n + 0.5)
        assert int(layer.source.sum()) == count and realised[name] == count / n
        assert not layer.weight[layer.source == 0].any()
        mask = layer.current_mask()
        assert int(mask.sum()) == kept_count(count, 0.4)  # k of the source's weights
    again = _model("topk")
    apply_sparse_source_(again, 0.5, "erk", seed=3)
    assert all(torch.equal(a.source, b.source) for (_, a), (_, b)
               in zip(prunable_layers(model), prunable_layers(again), strict=True))


@settings(max_examples=20, deadline=None)
@given(rule=st.sampled_from(["topk", "bernoulli", "hard-concrete", "iterand", "gem-miner"]),
       scope=st.sampled_from(["layerwise", "global"]), density=st.floats(0.05, 1.0),
       layout=st.sampled_from(["erk", "uniform"]), seed=st.integers(0, 1000),
       training=st.booleans())
def test_sparse_source_never_keeps_a_missing_weight(rule: str, scope: str, density: float,
                                                    layout: str, seed: int,
                                                    training: bool) -> None:
    torch.manual_seed(seed)
    model = _model(rule, scope)
    apply_sparse_source_(model, density, layout, seed)
    with torch.no_grad():
        for _, layer in prunable_layers(model):
            layer.scores.normal_()
    model.train(training)
    for name, mask in layer_masks(model).items():  # eval-mode tickets
        layer = dict(prunable_layers(model))[name]
        if layer.source is not None:
            assert not (mask.bool() & ~layer.source.bool()).any()
    for _, layer in prunable_layers(model):  # the masks of the forward pass
        if layer.source is not None:
            assert not (layer.current_mask().bool() & ~layer.source.bool()).any()


def test_sparse_source_field_checks() -> None:
    with pytest.raises(ValueError, match="source_density"):
        MaskHparams(mode="edge-popup", source_density=0.0)
    with pytest.raises(ValueError, match="score modes"):
        MaskHparams(mode="dense", source_density=0.5)
    with pytest.raises(ValueError, match="unknown source layout"):
        apply_sparse_source_(_model("topk"), 0.5, "random", 0)


# ---- command line and the comparison table ------------------------------------------------

@pytest.mark.parametrize("flags", [
    ["--mask-rule", "iterand", "--redraw-every", "5"],
    ["--mask-rule", "gem-miner", "--penalty", "1e-4", "--keep", "0.2"],
    ["--source-density", "0.5", "--keep", "0.4", "--source-layout", "erk"],
])
def test_searches_train_through_the_command_line(
        flags: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "edge-popup", "--preset", "digits-edge-popup", "--epochs", "1",
                 "--runs-dir", str(tmp_path), "--json", *flags]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kept_overall"] == pytest.approx(0.2 if "0.2" in flags or "0.4" in flags
                                                    else 0.5, abs=0.01)
    assert summary["test_acc"] > 0.3  # far above chance (10 classes) after one epoch


def test_redraw_flags_of_another_rule_exit_2(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    code = main(["train", "edge-popup", "--preset", "digits-edge-popup", "--redraw-every", "5",
                 "--runs-dir", str(tmp_path)])
    assert code == 2 and "re-draws no weights" in capsys.readouterr().err


def test_comparison_table_intervals() -> None:
    rows = [{"dataset": "d", "k": 0.5, "search": s, "seed": i, "test_acc": a,
             "kept_overall": 0.5}
            for s, accs in (("edge-popup", (0.90, 0.92, 0.94)), ("iterand", (0.91, 0.94, 0.97)))
            for i, a in enumerate(accs)]
    lines = table(rows, {"d": 100}).splitlines()
    # mean 92, s = 2, t(0.975, 2) = 4.303: half-width 4.303 * 2 / sqrt(3) = 4.97
    assert "| d (100) | 0.5 | edge-popup | 0.500 | 92.0 [87.0, 97.0] | - |" in lines
    # differences 1, 2, 3 points: mean 2, s = 1, half-width 2.48
    assert "| d (100) | 0.5 | iterand | 0.500 | 94.0 [86.5, 101.5] | +2.0 [-0.5, +4.5] |" in lines


def test_dense_run_from_a_ticket_trains_its_weights_under_its_mask(tmp_path: Path) -> None:
    from tests.empirical.test_train import preset_hparams

    search = preset_hparams("digits-edge-popup", model={"widths": (32,)},
                            mask={"mask_rule": "gem-miner", "penalty": 1e-4, "keep": 0.3},
                            training={"epochs": 1})
    found = run_mpt(search, tmp_path)
    tuned = replace(search, mask=MaskHparams(mode="dense", ticket=found["hash"]))
    state, masks = ticket_start(tuned, tmp_path)
    ticket = RunStore(Path(found["run_dir"])).load_ticket()
    assert all(torch.equal(masks[n], ticket["masks"][n]) for n in masks)
    result = run_mpt(tuned, tmp_path)
    assert result["kept_overall"] == pytest.approx(found["kept_overall"])
    trained = read_run(result["run_dir"], ("dense",))
    for name, layer in prunable_layers(trained.model):
        assert torch.equal(layer.mask.bool(), masks[name])  # the mask stayed fixed
        assert not layer.weight[~masks[name]].any()
        start = state[f"{name}.weight"]
        assert not torch.equal(layer.weight[masks[name]], start[masks[name]])  # trained
    other = replace(tuned, model=replace(tuned.model, widths=(16,)))
    with pytest.raises(ValueError, match="other data or another model"):
        ticket_start(other, tmp_path)
    with pytest.raises(ValueError, match="starts a dense run"):
        MaskHparams(mode="edge-popup", ticket=found["hash"])
