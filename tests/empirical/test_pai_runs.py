"""Pruning at initialisation as stored runs: masks from the criterion on theta_0, the sanity
ablations (reinit, shuffle, invert) by their definitions, collapse in the result, reuse."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from empirical.algorithms.criteria import ScoringInputs, get_criterion
from empirical.algorithms.lth import build_lth_model, run_lth, run_pai
from empirical.algorithms.model_masks import prunable_weights
from empirical.config.hparams import (
    DatasetHparams,
    ModelHparams,
    RuntimeConfig,
    TrainingHparams,
    hparams_hash,
)
from empirical.config.lth_hparams import (
    LTHHparams,
    PruningHparams,
    derived,
    imp_chain,
    pai,
)
from empirical.storage.store import RunStore

CPU = RuntimeConfig(device="cpu", progress=False)


def small(scope: str = "global") -> LTHHparams:
    """A tiny MLP on digits: 1 epoch of 11 steps."""
    return LTHHparams(
        dataset=DatasetHparams(name="digits", batch_size=128, val_size=200),
        model=ModelHparams(name="fc", widths=(24,)),
        training=TrainingHparams(optimizer="adam", lr=3e-3, weight_decay=0.0,
                                 schedule="constant", epochs=1, eval_every=4),
        pruning=PruningHparams(scope=scope))


def ticket_masks(runs: Path, hparams: LTHHparams) -> dict[str, torch.Tensor]:
    return RunStore.for_run(runs, "lth", hparams).load_ticket()["masks"]


def test_pai_hash_keeps_existing_runs_and_names_the_criterion() -> None:
    base = small()
    assert hparams_hash(pai(base, "snip", 0.1)) != hparams_hash(pai(base, "grasp", 0.1))
    assert pai(base, "snip", 0.1).level.parent == hparams_hash(imp_chain(base, 0)[0])
    with pytest.raises(ValueError, match="criterion is set exactly for runs of source=pai"):
        dataclasses.replace(base.level, criterion="snip")
    with pytest.raises(ValueError, match="erk applies to pruning at initialisation"):
        imp_chain(small("erk"), 1)


def test_snip_run_keeps_the_top_scores_of_theta0(tmp_path: Path) -> None:
    base = small()
    rows = run_pai(base, "snip", 0.2, runs_dir=tmp_path, runtime=CPU)
    assert [r["source"] for r in rows] == ["dense", "pai"]
    run = pai(base, "snip", 0.2)
    masks = ticket_masks(tmp_path, run)
    total = sum(m.numel() for m in masks.values())
    assert sum(int(m.sum()) for m in masks.values()) == math.ceil(0.2 * total)
    # recompute SNIP on theta_0 and the first batch of the run's first epoch
    from empirical.algorithms.mpt import make_batches
    from empirical.device import Distributed

    train, _, _ = make_batches(run, CPU, torch.device("cpu"), Distributed())
    batch = next(iter(train.epoch(0)))
    model = build_lth_model(run, run.training.seed)
    scores = get_criterion("snip").scores(model, ScoringInputs(
        input_shape=tuple(batch[0].shape[1:]), batch=batch, generator=torch.Generator()))
    flat = torch.cat([s.reshape(-1) for s in scores.values()])
    kept = torch.cat([masks[n].reshape(-1) for n in scores])
    assert flat[kept].min() >= flat[~kept].max()
    assert rows[1]["outputs_reachable"] == 10 and rows[1]["empty_layers"] == []
    # a second call trains nothing
    again = run_pai(base, "snip", 0.2, runs_dir=tmp_path, runtime=CPU)
    assert all(r["reused"] for r in again)


def test_ablations_follow_their_definitions(tmp_path: Path) -> None:
    base = small("layerwise")
    rows = run_pai(base, "magnitude", 0.3, ablations=("reinit", "shuffle", "invert"),
                   runs_dir=tmp_path, runtime=CPU)
    assert [r["source"] for r in rows] == ["dense", "pai", "reinit", "shuffle", "invert"]
    run = pai(base, "magnitude", 0.3)
    masks = ticket_masks(tmp_path, run)
    theta0 = prunable_weights(build_lth_model(run, run.training.seed))
    for name, w in theta0.items():  # magnitude at init keeps the largest |w| of each layer
        assert w.abs()[masks[name]].min() >= w.abs()[~masks[name]].max()
    reinit = ticket_masks(tmp_path, derived(run, "reinit"))
    shuffle = ticket_masks(tmp_path, derived(run, "shuffle"))
    invert = ticket_masks(tmp_path, derived(run, "invert"))
    for name, w in theta0.items():
        assert torch.equal(reinit[name], masks[name])
        assert int(shuffle[name].sum()) == int(masks[name].sum())
        assert not torch.equal(shuffle[name], masks[name])
        assert int(invert[name].sum()) == int(masks[name].sum())
        assert w.abs()[invert[name]].max() <= w.abs()[~invert[name]].min()


def test_invert_of_an_imp_level_keeps_the_smallest_trained_weights(tmp_path: Path) -> None:
    base = dataclasses.replace(small("layerwise"),
                               pruning=PruningHparams(rate=0.5, output_rate=0.25))
    run_lth(base, 1, runs_dir=tmp_path, runtime=CPU)
    level0, level1 = imp_chain(base, 1)
    from empirical.algorithms.lth import run_level

    run_level(derived(level1, "invert"), tmp_path, CPU)
    inverted = ticket_masks(tmp_path, derived(level1, "invert"))
    imp = ticket_masks(tmp_path, level1)
    trained = RunStore.for_run(tmp_path, "lth", level0).load_checkpoint()
    for name, mask in imp.items():
        weight = trained["model"][f"{name}.weight"].abs()
        assert int(inverted[name].sum()) == int(mask.sum())
        assert weight[inverted[name]].max() <= weight[~inverted[name]].min()


def test_collapse_is_recorded(tmp_path: Path) -> None:
    rows = run_pai(small(), "random", 0.02, runs_dir=tmp_path, runtime=CPU)
    pai_row = rows[1]
    assert pai_row["outputs_reachable"] < 10
    assert set(pai_row) >= {"layer_density", "empty_layers", "outputs_reachable"}


def test_unknown_criterion_and_ablation() -> None:
    with pytest.raises(ValueError, match="unknown pruning criterion 'nope'"):
        run_pai(small(), "nope", 0.5)
    with pytest.raises(ValueError, match="unknown ablation 'x'"):
        run_pai(small(), "snip", 0.5, ablations=("x",))


def test_retraining_variants_start_from_the_trained_weights(tmp_path: Path) -> None:
    from empirical.algorithms.lth import control_run, start_state
    from empirical.algorithms.train import lr_at

    base = dataclasses.replace(small("layerwise"), training=TrainingHparams(
        optimizer="sgd", lr=0.1, schedule="cosine", epochs=2, eval_every=4),
        pruning=PruningHparams(rate=0.5, output_rate=0.25, rewind="3it"))
    rows = run_lth(base, 1, controls=("lr-rewind", "finetune"), runs_dir=tmp_path, runtime=CPU)
    assert [r["source"] for r in rows] == ["dense", "imp", "lr-rewind", "finetune"]
    level0, level1 = imp_chain(base, 1)
    trained = RunStore.for_run(tmp_path, "lth", level0).load_checkpoint()["model"]
    masks = ticket_masks(tmp_path, level1)
    from empirical.algorithms.mpt import make_batches
    from empirical.device import Distributed

    spe = make_batches(base, CPU, torch.device("cpu"), Distributed())[0].steps_per_epoch
    for control in ("lr-rewind", "finetune"):
        run = control_run(level1, control, steps_per_epoch=spe)
        assert torch.equal(ticket_masks(tmp_path, run)[name := "layers.1"], masks[name])
        start = start_state(run, masks, 3, tmp_path, CPU)
        assert torch.equal(start["layers.1.weight"], trained["layers.1.weight"] * masks[name])
    lr_rewind, finetune = rows[2], rows[3]
    assert lr_rewind["steps"] == finetune["steps"] == rows[1]["steps"] == 2 * spe
    assert lr_rewind["rewind_step"] == finetune["rewind_step"] == 3
    tuned = control_run(level1, "finetune", steps_per_epoch=spe).training
    assert tuned.schedule == "constant"
    # cosine per epoch over 2 epochs: the last epoch runs at 0.1 * (1 + cos(pi / 2)) / 2
    assert tuned.lr == lr_at(2 * spe - 1, base.training, spe) == pytest.approx(0.05)


def test_cli_pai_and_stability(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from verify.cli.main import main

    common = ["--preset", "digits-lth", "--epochs", "1", "--runs-dir", str(tmp_path), "--json"]
    assert main(["train", "pai", "--criterion", "magnitude", "--density", "0.2",
                 "--ablation", "invert", *common]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["source"] for r in rows] == ["dense", "pai", "invert"]
    assert rows[1]["density"] == pytest.approx(0.2, abs=1e-3)
    assert main(["train", "stability", "--level", "0", "--points", "3", *common]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["alphas"] == [0.0, 0.5, 1.0] and summary["reused"] == [False, False]
    barrier = max(summary["test_error"]) - (summary["test_error"][0]
                                            + summary["test_error"][-1]) / 2
    assert summary["test_instability"] == pytest.approx(barrier)
    for bad in (["--ablation", "flip"], ["--density", "0"], ["--criterion", "nope"]):
        argv = ["train", "pai", "--criterion", "snip", "--density", "0.5", *common, *bad]
        try:
            code = main(argv)
        except SystemExit as err:
            code = err.code
        assert code == 2
