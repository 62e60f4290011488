"""The LTH options of the MNIST-1D lottery-ticket notebook, each against its definition: residual
fc blocks, biases pruned with their layer's weights, the linear sparsity schedule, the next mask
scored at an intermediate step, and controls at chosen levels."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from empirical.algorithms import pruning
from empirical.algorithms.lth import (
    build_lth_model,
    prunable_weights,
    run_lth,
    score_file,
    set_masks_,
)
from empirical.algorithms.model_masks import model_masks
from empirical.config.hparams import (
    DatasetHparams,
    ModelHparams,
    RuntimeConfig,
    TrainingHparams,
)
from empirical.config.lth_hparams import LTHHparams, PruningHparams, imp_chain, pai
from empirical.errors import InputError
from empirical.layers import LayerConfig, enforce_masks_, prunable_layers
from empirical.models import build_model
from empirical.storage.store import RunStore, load_torch
from verify.cli.main import main

CPU = RuntimeConfig(device="cpu", progress=False)


def notebook_like(**pruning_fields: object) -> LTHHparams:
    """A tiny residual MLP with biases on digits: 2 epochs of 11 steps, biases pruned."""
    return LTHHparams(
        dataset=DatasetHparams(name="digits", batch_size=128, val_size=200),
        model=ModelHparams(name="fc", widths=(12, 12), bias=True, residual=True),
        training=TrainingHparams(optimizer="adam", lr=3e-3, schedule="constant", epochs=2,
                                 eval_every=4),
        pruning=PruningHparams(init="torch_default", **{
            "prune_bias": True, "sparsity_schedule": "linear", "linear_rounds": 5,
            **pruning_fields}))


def test_residual_block_is_h_plus_relu() -> None:
    torch.manual_seed(0)
    model = build_model(ModelHparams(name="fc", widths=(6, 6, 4), bias=True, residual=True), 3,
                        (5,), LayerConfig(mode="dense"))
    (_, first), (_, second), (_, third), (_, out) = prunable_layers(model)
    x = torch.randn(7, 5)
    h1 = torch.relu(first(x))
    h2 = h1 + torch.relu(F.linear(h1, second.weight, second.bias))  # equal widths: residual
    h3 = torch.relu(F.linear(h2, third.weight, third.bias))  # 6 -> 4: plain
    assert torch.allclose(model(x), F.linear(h3, out.weight, out.bias), atol=0, rtol=0)
    plain = build_model(ModelHparams(name="fc", widths=(6, 6, 4), bias=True), 3, (5,),
                        LayerConfig(mode="dense"))
    assert [n for n, _ in prunable_layers(plain)] == ["layers.1", "layers.4", "layers.7",
                                                      "layers.10"]
    with pytest.raises(InputError, match="residual applies to fc, not conv4"):
        ModelHparams(name="conv4", residual=True)


def test_bias_mask_joins_the_layer_pool() -> None:
    torch.manual_seed(1)
    model = build_model(ModelHparams(name="fc", widths=(4,), bias=True), 3, (5,),
                        LayerConfig(mode="masked", prune_bias=True))
    layers = dict(prunable_layers(model))
    joined = prunable_weights(model)
    for name, layer in layers.items():
        assert torch.equal(joined[name], torch.cat([layer.weight.flatten(), layer.bias]))
    masks = {n: torch.rand(w.shape, generator=torch.Generator().manual_seed(2)) > 0.5
             for n, w in joined.items()}
    set_masks_(model, masks)
    assert all(torch.equal(model_masks(model)[n], masks[n]) for n in masks)
    x = torch.randn(3, 5)
    first, out = layers.values()
    n0 = first.weight.numel()
    w0, b0 = masks["layers.1"][:n0].reshape(4, 5), masks["layers.1"][n0:]
    assert (first.bias[~b0] == 0).all() and (first.weight[~w0] == 0).all()
    with torch.no_grad():  # a pruned bias stays 0 after an update (enforce_masks_)
        first.bias.add_(1.0)
    enforce_masks_(model)
    assert (first.bias[~b0] == 0).all() and (first.bias[b0] != 0).all()
    hidden = torch.relu(F.linear(x, first.weight * w0, first.bias * b0))
    assert torch.equal(model(x), out(hidden))
    plain = build_model(ModelHparams(name="fc", widths=(4,), bias=True), 3, (5,),
                        LayerConfig(mode="masked"))
    assert "layers.1.bias_mask" not in plain.state_dict()  # old runs keep their state dicts
    with pytest.raises(InputError, match="prune_bias"):
        pai(notebook_like(), "snip", 0.5)


def test_linear_schedule_counts_and_nesting() -> None:
    gen = torch.Generator().manual_seed(3)
    weights = {"a": torch.randn(7, 3, generator=gen), "b": torch.randn(10, generator=gen)}
    masks = pruning.all_ones(weights)
    for level in range(4):  # R = 5: sparsity 0, 1/4, 2/4, 3/4
        new = pruning.linear_prune(weights, masks, level, 5)
        for n, w in weights.items():
            kept = int(new[n].sum())
            assert kept == w.numel() - (level * w.numel()) // 4
            assert new[n][masks[n] == 0].sum() == 0  # nested
            assert w.abs()[new[n]].min() >= torch.cat([w.abs()[~new[n]], torch.zeros(1)]).max()
        masks = new
    assert [int(m.sum()) for m in masks.values()] == [21 - 15, 10 - 7]
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        pruning.linear_prune(weights, masks, 4, 5)
    with pytest.raises(InputError, match="layerwise"):
        PruningHparams(sparsity_schedule="linear", scope="global")


def test_score_step_mask_is_the_ranking_at_that_step(tmp_path: Path) -> None:
    base = notebook_like(score_step="3it")
    rows = run_lth(base, 2, ["reinit", "random-prune"], runs_dir=tmp_path, runtime=CPU,
                   control_levels=[2])
    assert [(r["level"], r["source"]) for r in rows] == [
        (0, "dense"), (1, "imp"), (2, "imp"), (2, "reinit"), (2, "random-prune")]
    chain = imp_chain(base, 2)
    stores = [RunStore.for_run(tmp_path, "lth", h) for h in chain]
    state = load_torch(score_file(stores[1], 3), weights_only=True)
    scored = build_lth_model(chain[1], chain[1].training.seed)
    scored.load_state_dict(state)
    mask1 = stores[1].load_ticket()["masks"]
    expected = pruning.linear_prune(prunable_weights(scored), model_masks(scored), 2, 5)
    level2 = stores[2].load_ticket()["masks"]
    assert all(torch.equal(level2[n], expected[n]) for n in level2)
    assert all(torch.equal(level2[n] & ~mask1[n], torch.zeros_like(level2[n])) for n in level2)
    final = build_lth_model(chain[1], 0)
    final.load_state_dict(stores[1].load_checkpoint()["model"])
    from_final = pruning.linear_prune(prunable_weights(final), model_masks(final), 2, 5)
    assert any(not torch.equal(from_final[n], level2[n]) for n in level2)
    # every count is the joint one: n - floor(2 n / 4) of cat(W, b) per layer
    sizes = {"layers.1": 64 * 12 + 12, "layers.4.0": 12 * 12 + 12, "layers.5": 12 * 10 + 10}
    assert {n: int(m.sum()) for n, m in level2.items()} == {
        n: k - (2 * k) // 4 for n, k in sizes.items()}
    reinit, rand = (RunStore(r["run_dir"]).load_ticket()["masks"] for r in rows[3:])
    assert all(torch.equal(reinit[n], level2[n]) for n in level2)
    assert pruning.density(rand).kept == pruning.density(level2).kept
    # a level trained without the capture is replayed to the same state
    os.unlink(score_file(stores[1], 3))
    for store in stores[2:]:
        (store.path / "result.json").unlink()
    run_lth(base, 2, runs_dir=tmp_path, runtime=CPU)
    replayed = load_torch(score_file(stores[1], 3), weights_only=True)
    assert all(torch.equal(replayed[k], state[k]) for k in state)
    assert all(torch.equal(stores[2].load_ticket()["masks"][n], level2[n]) for n in level2)


def test_linear_levels_refused_before_training(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="level 4"):
        run_lth(notebook_like(), 4, runs_dir=tmp_path, runtime=CPU)
    assert not (tmp_path / "lth").exists()


def test_cli_control_levels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "lth", "--preset", "digits-lth", "--widths", "16", "--epochs", "1",
            "--levels", "2", "--runs-dir", str(tmp_path), "--device", "cpu",
            "--control-levels", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--control-levels" in err
    assert main([*argv, "--control", "reinit", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count('"reinit"') == 1 and '"level": 2, "source": "reinit"' in out


def test_no_shuffle_is_file_order_every_epoch() -> None:
    from empirical.algorithms.mpt import make_batches
    from empirical.data import get_dataset
    from empirical.device import Distributed

    base = notebook_like()
    fixed = LTHHparams(dataset=DatasetHparams(name="digits", batch_size=128, val_size=200,
                                              shuffle=False), model=base.model,
                       training=base.training, pruning=base.pruning)
    train, _, _ = make_batches(fixed, CPU, torch.device("cpu"), Distributed())
    x_all = get_dataset("digits", None, "train", seed=0, val_size=200).tensors[0]
    for epoch in (0, 1):
        xs = torch.cat([x for x, _ in train.epoch(epoch)])
        assert torch.equal(xs, x_all[:len(xs)])  # bix = step * batch mod n, no shuffling
    shuffled, _, _ = make_batches(base, CPU, torch.device("cpu"), Distributed())
    assert not torch.equal(next(iter(shuffled.epoch(0)))[0], x_all[:128])
