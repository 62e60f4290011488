"""Instability analysis: interpolation by hand, the barrier formula, BatchNorm recomputation and
the stored copies (different data orders from the same theta_k)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from empirical.algorithms.lth import run_lth
from empirical.algorithms.stability import (
    LinearPath,
    interpolate_states,
    recompute_batchnorm,
    run_instability,
    stability_copies,
)
from empirical.config.hparams import (
    DatasetHparams,
    ModelHparams,
    RuntimeConfig,
    TrainingHparams,
    hparams_hash,
)
from empirical.config.lth_hparams import LTHHparams, PruningHparams, imp_chain
from empirical.data import Batches
from empirical.storage.store import RunStore

CPU = RuntimeConfig(device="cpu", progress=False)


def small(bn: str = "default") -> LTHHparams:
    return LTHHparams(
        dataset=DatasetHparams(name="digits", batch_size=128, val_size=200),
        model=ModelHparams(name="fc", widths=(24,), bn=bn),
        training=TrainingHparams(optimizer="adam", lr=3e-3, weight_decay=0.0,
                                 schedule="constant", epochs=1, eval_every=4),
        pruning=PruningHparams(rate=0.5, output_rate=0.25))


def test_interpolation_by_hand() -> None:
    a = {"w": torch.tensor([0.0, 2.0]), "l.mask": torch.tensor([1.0, 0.0]),
         "n": torch.tensor(3)}
    b = {"w": torch.tensor([4.0, -2.0]), "l.mask": torch.tensor([1.0, 0.0]),
         "n": torch.tensor(7)}
    mid = interpolate_states(a, b, 0.25)
    assert torch.equal(mid["w"], torch.tensor([1.0, 1.0]))
    assert torch.equal(mid["l.mask"], a["l.mask"]) and int(mid["n"]) == 3
    assert torch.equal(interpolate_states(a, b, 1.0)["w"], b["w"])
    with pytest.raises(ValueError, match="different masks"):
        interpolate_states(a, {**b, "l.mask": torch.tensor([0.0, 1.0])}, 0.5)


def test_barrier_formula() -> None:
    path = LinearPath((0.0, 0.5, 1.0), (0.1, 0.4, 0.2), (0.2, 0.25, 0.2), 100)
    assert path.train_instability == pytest.approx(0.4 - 0.15)
    assert path.test_instability == pytest.approx(0.05)


def test_recompute_batchnorm_is_the_epoch_average() -> None:
    torch.manual_seed(0)
    x = torch.randn(10, 3)
    norm = torch.nn.BatchNorm1d(3, affine=False)
    batches = Batches(torch.utils.data.TensorDataset(x, torch.zeros(10, dtype=torch.long)), 5,
                      None, drop_last=False)
    recompute_batchnorm(norm, batches)
    means = torch.stack([x[:5].mean(0), x[5:].mean(0)]).mean(0)
    variances = torch.stack([x[:5].var(0), x[5:].var(0)]).mean(0)  # unbiased, as BatchNorm
    torch.testing.assert_close(norm.running_mean, means)
    torch.testing.assert_close(norm.running_var, variances)
    assert norm.momentum == 0.1


def test_copies_differ_only_in_data_order() -> None:
    level1 = imp_chain(small(), 1)[1]
    one, two = stability_copies(level1)
    assert one.training.data_seed == 1 and two.training.data_seed == 2
    assert dataclasses.replace(one.training, data_seed=None) == level1.training
    assert one.level.source == "retrain" and one.level.parent == hparams_hash(level1)
    dense_one, _ = stability_copies(imp_chain(small(), 0)[0], rewind="4it")
    assert dense_one.pruning.rewind == "4it"
    with pytest.raises(ValueError, match="different data orders"):
        stability_copies(level1, data_seeds=(3, 3))
    with pytest.raises(ValueError, match="rewind point"):
        stability_copies(level1, rewind="4it")


@pytest.mark.parametrize("bn", ["default", "affine"])
def test_endpoints_are_the_two_copies(tmp_path: Path, bn: str) -> None:
    base = small(bn)
    run_lth(base, 1, runs_dir=tmp_path, runtime=CPU)
    level1 = imp_chain(base, 1)[1]
    path, rows = run_instability(level1, points=5, runs_dir=tmp_path, runtime=CPU)
    assert path.alphas == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert [r["reused"] for r in rows] == [False, False]
    if bn == "default":  # no BatchNorm: the endpoints are the copies' own final test errors
        assert path.test_error[0] == pytest.approx(1 - rows[0]["test_acc"], abs=1e-12)
        assert path.test_error[-1] == pytest.approx(1 - rows[1]["test_acc"], abs=1e-12)
    stores = [RunStore.for_run(tmp_path, "lth", c) for c in stability_copies(level1)]
    masks = [s.load_ticket()["masks"] for s in stores]
    assert all(torch.equal(masks[0][n], masks[1][n]) for n in masks[0])
    finals = [s.load_checkpoint()["model"] for s in stores]  # other data order, other weights
    assert not torch.equal(finals[0]["layers.1.weight"], finals[1]["layers.1.weight"])
    again, rows = run_instability(level1, points=5, runs_dir=tmp_path, runtime=CPU)
    assert again == path and all(r["reused"] for r in rows)
