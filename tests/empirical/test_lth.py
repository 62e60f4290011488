"""IMP as stored runs: masks held through the optimiser, rewinding, controls, resume, CLI."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from empirical.algorithms import pruning
from empirical.algorithms.lth import (
    build_lth_model,
    model_masks,
    prunable_weights,
    rewind_file,
    run_level,
    run_lth,
    run_one_shot,
    set_masks_,
    start_state,
)
from empirical.algorithms.mpt import make_batches
from empirical.algorithms.train import FitHooks, fit, lr_at
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
    rewind_step,
)
from empirical.device import Distributed
from empirical.storage.store import RunStore, load_torch
from verify.cli.main import main

CPU = RuntimeConfig(device="cpu", progress=False)


def small(bn: str = "default", rate: float = 0.5, rewind: str = "0it", epochs: int = 2,
          **training: object) -> LTHHparams:
    """A tiny MLP on digits: 2 epochs of 11 steps, validation checked every 4 steps."""
    return LTHHparams(
        dataset=DatasetHparams(name="digits", batch_size=128, val_size=200),
        model=ModelHparams(name="fc", widths=(24,), bn=bn),
        training=TrainingHparams(**{"optimizer": "adam", "lr": 3e-3, "weight_decay": 0.0,
                                    "schedule": "constant", "epochs": epochs, "eval_every": 4,
                                    **training}),
        pruning=PruningHparams(rate=rate, output_rate=rate / 2, rewind=rewind))


def _pruned_zero(model: torch.nn.Module, masks: pruning.Masks) -> bool:
    weights = prunable_weights(model)
    return all(bool((weights[n].cpu()[~masks[n]] == 0).all()) for n in masks)


def test_hashes_are_pinned_and_chained() -> None:
    chain = imp_chain(small(), 2)
    assert [hparams_hash(h) for h in chain] == PINNED
    assert chain[2].level.parent == hparams_hash(chain[1])
    other_rate = imp_chain(small(rate=0.3), 1)
    assert hparams_hash(other_rate[0]) == hparams_hash(chain[0])  # one dense run for all rules
    assert hparams_hash(other_rate[1]) != hparams_hash(chain[1])
    assert [hparams_hash(h) for h in imp_chain(small(), 3)][:3] == PINNED


# Adam without --weight-decay is Adam with none: the explicit 0.0 names the same run as leaving
# it out (wave 3 re-pinned these when the optimiser defaults were resolved before hashing).
PINNED = ["453eb8d193897c34", "b4c54e95cf07ae84", "040d27dbdccc8c17"]


def test_rewind_points() -> None:
    assert rewind_step("500it", 35) == 500
    assert rewind_step("2ep", 35) == 70
    assert rewind_step("0", 35) == 0
    assert PruningHparams(rewind="0ep").rewind == "0it"
    for bad in ("5", "2 epochs", "-3it"):
        with pytest.raises(ValueError, match="rewind point"):
            PruningHparams(rewind=bad)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_mask_holds_every_step_and_checkpoint(tmp_path: Path, optimizer: str) -> None:
    """SGD + momentum + weight decay and Adam never revive a pruned weight."""
    hparams = small(bn="affine", optimizer=optimizer, lr=0.05, weight_decay=1e-2, eval_every=1)
    model = build_lth_model(hparams, 0)
    start = {n: w.clone() for n, w in prunable_weights(model).items()}
    masks = pruning.magnitude_prune(start, pruning.all_ones(start), 0.5)
    set_masks_(model, masks)
    train, val, _ = make_batches(hparams, CPU, torch.device("cpu"), Distributed())
    store = RunStore(tmp_path / "run")
    seen: list[bool] = []

    def after_epoch(epoch: int) -> None:
        state = store.load_checkpoint()["model"]
        ckpt = build_lth_model(hparams, 0)
        ckpt.load_state_dict(state)
        same = all(torch.equal(model_masks(ckpt)[n], masks[n]) for n in masks)
        seen.append(_pruned_zero(ckpt, masks) and same)

    hooks = FitHooks(on_record=lambda r: seen.append(_pruned_zero(model, masks)),
                     after_epoch=after_epoch)
    fit(model, train, hparams.training, val=val, store=store, hooks=hooks, checkpoint_seconds=0)
    assert len(seen) == 2 * train.steps_per_epoch + 2 and all(seen)
    after = prunable_weights(model)
    for n, m in masks.items():  # negative kept weights train like the others (no w < eps bug)
        negative = m & (start[n] < 0)
        assert negative.any() and (after[n][negative] != start[n][negative]).all()


def test_rewind_start_is_theta_k_times_mask_with_batchnorm(tmp_path: Path) -> None:
    base = small(bn="affine", rewind="3it", schedule="cosine", eval_every=1)
    run_lth(base, 0, runs_dir=tmp_path, runtime=CPU)
    level1 = imp_chain(base, 1)[1]
    root_store = RunStore.for_run(tmp_path, "lth", imp_chain(base, 0)[0])
    theta_k = load_torch(rewind_file(root_store, 3), weights_only=True)
    captured: dict[int, dict] = {}
    records: list[dict] = []
    hooks = FitHooks(capture_steps=(3,), on_capture=lambda k, s: captured.update({k: s}),
                     on_record=records.append)
    row = run_level(level1, tmp_path, CPU, hooks=hooks)
    start = captured[3]
    masks = RunStore(row["run_dir"]).load_ticket()["masks"]
    layers = list(masks)
    for key, value in theta_k.items():
        name, _, leaf = key.rpartition(".")
        if name in masks and leaf == "weight":
            assert torch.equal(start[key], value * masks[name].to(value))
        elif name in masks and leaf == "mask":
            assert torch.equal(start[key].bool(), masks[name])
        else:  # BatchNorm statistics and affine parameters, biases
            assert torch.equal(start[key], value), key
    assert any("running_mean" in k for k in theta_k) and layers
    train_steps = math.floor((1437 - 200) / 128)
    assert records[0]["step"] == 4 and records[0]["lr"] == lr_at(3, level1.training, train_steps)
    assert row["rewind_step"] == 3 and row["steps"] == 2 * train_steps


def test_levels_reuse_density_and_controls(tmp_path: Path) -> None:
    base = small()
    rows = run_lth(base, 1, ["reinit", "random-prune"], control_seed=3, runs_dir=tmp_path,
                   runtime=CPU)
    assert [(r["level"], r["source"]) for r in rows] == [
        (0, "dense"), (1, "imp"), (1, "reinit"), (1, "random-prune")]
    more = run_lth(base, 3, runs_dir=tmp_path, runtime=CPU)
    assert [r["reused"] for r in more] == [True, True, False, False]
    assert [r["hash"] for r in more[:2]] == [rows[0]["hash"], rows[1]["hash"]]
    sizes = [64 * 24, 24 * 10]
    for r in more:
        expected = pruning.expected_density(r["level"], [0.5, 0.25], sizes)
        assert r["density"] == expected
        assert abs(r["density"] - (sizes[0] * 0.5 ** r["level"] + sizes[1] * 0.75 ** r["level"])
                   / sum(sizes)) < (1 / 0.5 + 1 / 0.25) / sum(sizes)
    imp, reinit, rand = (RunStore(r["run_dir"]).load_ticket()["masks"] for r in rows[1:])
    assert all(torch.equal(imp[n], reinit[n]) for n in imp)
    assert pruning.density(rand).kept == pruning.density(imp).kept
    assert any(not torch.equal(imp[n], rand[n]) for n in imp)
    again = run_level(derived(imp_chain(base, 1)[1], "random-prune", 3), tmp_path, CPU)
    assert again["reused"] and again["hash"] == rows[3]["hash"]
    reinit_hp = derived(imp_chain(base, 1)[1], "reinit", 3)
    theta_0 = build_lth_model(base, base.training.seed).state_dict()
    fresh = start_state(reinit_hp, reinit, 0, tmp_path, CPU)
    for n, m in reinit.items():  # same mask, other weights
        assert torch.equal(fresh[f"{n}.weight"][~m], torch.zeros(int((~m).sum())))
        assert not torch.equal(fresh[f"{n}.weight"][m], theta_0[f"{n}.weight"][m])


def test_resume_equals_uninterrupted(tmp_path: Path) -> None:
    base = small(epochs=3)
    run_lth(base, 0, runs_dir=tmp_path / "a", runtime=CPU)
    run_lth(base, 0, runs_dir=tmp_path / "b", runtime=CPU)
    level1 = imp_chain(base, 1)[1]
    full = run_level(level1, tmp_path / "a", CPU)

    class Killed(Exception):
        pass

    def kill(epoch: int) -> None:
        if epoch == 1:
            raise Killed

    every_epoch = dataclasses.replace(CPU, checkpoint_seconds=0)
    with pytest.raises(Killed):
        run_level(level1, tmp_path / "b", every_epoch, hooks=FitHooks(after_epoch=kill))
    resumed = run_level(level1, tmp_path / "b", every_epoch)
    assert resumed["resumed_from"] == full["steps"] // 3
    a = RunStore(full["run_dir"]).load_checkpoint()["model"]
    b = RunStore(resumed["run_dir"]).load_checkpoint()["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["test_acc"] == full["test_acc"]
    assert resumed["early_stop_step"] == full["early_stop_step"]


def test_bad_requests(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="levels"):
        run_lth(small(), -1, runs_dir=tmp_path, runtime=CPU)
    with pytest.raises(ValueError, match="unknown control"):
        run_lth(small(), 1, ["scramble"], runs_dir=tmp_path, runtime=CPU)
    with pytest.raises(ValueError, match="0 weights in layer"):
        run_lth(small(rate=1.0), 1, runs_dir=tmp_path, runtime=CPU)
    with pytest.raises(ValueError, match="beyond"):
        run_lth(small(rewind="10ep"), 1, runs_dir=tmp_path, runtime=CPU)
    with pytest.raises(ValueError, match="prune rate"):
        PruningHparams(rate=1.5)


def test_one_shot_density(tmp_path: Path) -> None:
    row = run_one_shot(small(), 0.1, tmp_path, CPU)
    assert row["source"] == "one-shot"
    assert row["density"] == (math.ceil(0.1 * 64 * 24) + math.ceil(0.1 * 240)) / (64 * 24 + 240)


def test_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "lth", "--preset", "digits-lth", "--widths", "16", "--epochs", "1",
            "--levels", "2", "--control", "reinit", "--runs-dir", str(tmp_path), "--device",
            "cpu", "--json"]
    assert main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["level"], r["source"]) for r in rows] == [
        (0, "dense"), (1, "imp"), (1, "reinit"), (2, "imp"), (2, "reinit")]
    assert {"density", "test_acc", "early_stop_step", "early_stop_test_acc", "hash",
            "run_dir"} <= set(rows[0])
    assert rows[3]["density"] < rows[1]["density"] < rows[0]["density"] == 1.0
    assert main(argv[:-1]) == 0  # table output, every level reused
    out = capsys.readouterr().out
    assert "early_stop_step" in out and out.count("yes") == 5
    header, _, level0, *_ = out.splitlines()  # the table gives the fractions in percent
    assert "density_%" in header and "test_acc_%" in header and "early_stop_test_acc_%" in header
    assert level0.split()[2:4] == ["100", f"{100 * rows[0]['test_acc']:.4g}"]
    assert main([*argv[:-1], "--val-size", "0", "--levels", "0"]) == 0  # no validation split
    captured = capsys.readouterr()
    assert "early_stop" not in captured.out and " test_acc_% " in captured.out
    assert "note: no early_stop_step, early_stop_test_acc columns: " in captured.err


@pytest.mark.parametrize("bad", [["--rate", "1.5"], ["--levels", "-1"], ["--control", "scramble"],
                                 ["--rewind", "5"]])
def test_cli_bad_input_one_line_exit_2(tmp_path: Path, bad: list[str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "lth", "--preset", "digits-lth", "--runs-dir", str(tmp_path), *bad]
    try:
        code = main(argv)
    except SystemExit as err:
        code = err.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err


def test_bench_cli_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "lth", "--model", "lenet-300-100", "--batch-size", "4", "--steps", "1",
            "--rounds", "1", "--warmup", "0", "--device", "cpu", "--json"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["model"] == "lenet-300-100" and row["step_ratio"] > 0
    assert row["unfolded_ratio"] > 0 and row["unfolded_step_ms"] > 0
    assert row["density"] == pytest.approx(0.2, abs=1e-4)
