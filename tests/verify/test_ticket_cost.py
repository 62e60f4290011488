"""Ticket cost (FLOPs, nonzero parameters, file bits) and supermask accuracy, by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from empirical.algorithms.lth import build_lth_model, run_lth
from empirical.config.hparams import DatasetHparams, ModelHparams, RuntimeConfig, TrainingHparams
from empirical.config.lth_hparams import LTHHparams, PruningHparams, imp_chain
from empirical.layers import LayerConfig, prunable_layers
from empirical.models import build_model
from empirical.storage.store import RunStore
from verify.ticket_cost import (
    cost_row,
    forward_flops,
    large_final_same_sign,
    supermask_accuracy,
)

CPU = RuntimeConfig(device="cpu", progress=False)


def test_flops_of_an_mlp_and_a_convnet_by_hand() -> None:
    model = build_model(ModelHparams("fc", widths=(5,)), 3, (4,), LayerConfig(mode="masked"))
    masks = {"layers.1": torch.zeros(5, 4, dtype=torch.bool),
             "layers.4": torch.ones(3, 5, dtype=torch.bool)}
    masks["layers.1"][0, :3] = True
    flops = forward_flops(model, (4,), masks)
    assert flops["layers.1"] == {"dense": 40, "masked": 6, "positions": 1}
    assert flops["layers.4"] == {"dense": 30, "masked": 30, "positions": 1}
    conv = build_model(ModelHparams("conv2"), 10, (1, 8, 8), LayerConfig(mode="masked"))
    ones = {n: torch.ones_like(layer.weight, dtype=torch.bool)
            for n, layer in prunable_layers(conv)}
    flops = forward_flops(conv, (1, 8, 8), ones)
    # 3x3 'same' convolutions on 8x8: 64 positions; 1 -> 64 channels, then 64 -> 64
    assert flops["features.0"]["dense"] == 2 * 64 * 9 * 64
    assert flops["features.3"]["dense"] == 2 * 64 * 64 * 9 * 64


def test_large_final_same_sign_by_hand() -> None:
    initial = {"w": torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0])}
    final = {"w": torch.tensor([3.0, 2.5, 0.5, -0.2, -4.0])}
    mask = large_final_same_sign(initial, final, 0.4)["w"]
    # same sign: entries 0 (3.0), 2 (0.5), 3 (0.2); the two largest |w_T|: 0 and 2
    assert mask.tolist() == [True, False, True, False, False]


def small() -> LTHHparams:
    return LTHHparams(
        dataset=DatasetHparams(name="digits", batch_size=128, val_size=200),
        model=ModelHparams(name="fc", widths=(24,)),
        training=TrainingHparams(optimizer="adam", lr=3e-3, weight_decay=0.0,
                                 schedule="constant", epochs=1, eval_every=4),
        pruning=PruningHparams(rate=0.5, output_rate=0.25))


def test_cost_row_and_supermask_of_an_imp_level(tmp_path: Path) -> None:
    run_lth(small(), 1, runs_dir=tmp_path, runtime=CPU)
    level1 = imp_chain(small(), 1)[1]
    store = RunStore.for_run(tmp_path, "lth", level1)
    row = cost_row(store.path)
    masks = store.load_ticket()["masks"]
    kept = sum(int(m.sum()) for m in masks.values())
    assert row["prunable_weights"] == 64 * 24 + 24 * 10
    assert row["nonzero_params"] == kept + row["other_params"]
    assert row["flops_masked"] == 2 * kept and row["flops_dense"] == 2 * (64 * 24 + 240)
    assert row["density"] == pytest.approx(kept / row["prunable_weights"])
    assert row["ticket_bits"] > 0 and math.isfinite(row["bits_per_weight"])
    # supermask: theta_0 times the mask, evaluated untrained
    from empirical.algorithms.callbacks import evaluate
    from empirical.algorithms.model_masks import set_masks_
    from empirical.algorithms.mpt import make_batches
    from empirical.device import Distributed

    model = build_lth_model(level1, level1.training.seed)
    set_masks_(model, masks)
    _, _, test = make_batches(level1, CPU, torch.device("cpu"), Distributed())
    assert supermask_accuracy(level1, masks, tmp_path) == evaluate(model, test).acc
    signed = supermask_accuracy(level1, masks, tmp_path, signed_constant=True)
    assert 0.0 <= signed <= 1.0
