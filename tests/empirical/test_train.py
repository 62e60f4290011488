"""The training loop and score training: schedule, resume equivalence, frozen weights, accuracy."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from empirical.algorithms.mpt import build_run_model, run_mpt
from empirical.algorithms.train import FitHooks, lr_at
from empirical.config.hparams import RunHparams, TrainingHparams, from_dict, replace
from empirical.config.presets import get_preset
from empirical.layers import layer_alphas, prunable_layers
from empirical.storage.store import RunStore


def preset_hparams(name: str, **changes: dict) -> RunHparams:
    """The RunHparams of a preset (mode from its algorithm), with section changes."""
    preset = get_preset(name)
    sections = {s: preset.section(s) for s in ("dataset", "model", "mask", "training")}
    sections["mask"]["mode"] = preset.algorithm
    for section, values in changes.items():
        sections[section].update(values)
    return from_dict(RunHparams, sections)


def test_lr_schedule_exact() -> None:
    t = TrainingHparams(lr=0.1, epochs=4, warmup_steps=2)
    assert lr_at(0, t, 10) == pytest.approx(0.05)
    assert lr_at(1, t, 10) == pytest.approx(0.1)
    assert lr_at(10, t, 10) == pytest.approx(0.05 * (1 + math.cos(math.pi / 4)))
    assert lr_at(39, t, 10) == pytest.approx(0.05 * (1 + math.cos(3 * math.pi / 4)))
    assert lr_at(25, TrainingHparams(schedule="constant"), 10) == 0.1


SMALL = {"model": {"widths": (32,)}, "training": {"epochs": 2}}


class Killed(Exception):
    """Raised by a hook to simulate a process killed after an epoch."""


def _kill_after_first(epoch: int) -> None:
    if epoch == 1:
        raise Killed


@pytest.mark.parametrize("preset", ["digits-biprop", "digits-dense"])
def test_resume_equals_uninterrupted(tmp_path: Path, preset: str) -> None:
    hparams = preset_hparams(preset, **SMALL)
    full = run_mpt(hparams, tmp_path / "a")
    with pytest.raises(Killed):
        run_mpt(hparams, tmp_path / "b", hooks=FitHooks(after_epoch=_kill_after_first))
    store = RunStore.for_run(tmp_path / "b", hparams.mask.mode, hparams)
    assert not store.finished and len(store.metrics()) == 1
    resumed = run_mpt(hparams, tmp_path / "b")
    assert resumed["resumed_from"] == full["steps"] // 2
    assert resumed["test_acc"] == full["test_acc"]
    a = RunStore.for_run(tmp_path / "a", hparams.mask.mode, hparams).load_checkpoint()["model"]
    b = store.load_checkpoint()["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["test_acc"] for r in store.metrics()] == [
        r["test_acc"] for r in RunStore(Path(full["run_dir"])).metrics()]
    again = run_mpt(hparams, tmp_path / "a")
    assert again["reused"] and again["test_acc"] == full["test_acc"]


def test_score_training_freezes_weights_and_binarises(tmp_path: Path) -> None:
    hparams = preset_hparams("digits-biprop", **SMALL)
    initial = build_run_model(hparams).state_dict()
    result = run_mpt(hparams, tmp_path)
    store = RunStore(Path(result["run_dir"]))
    trained = build_run_model(hparams)
    trained.load_state_dict(store.load_checkpoint()["model"])
    for name, tensor in trained.state_dict().items():
        if not name.endswith("scores"):
            assert torch.equal(tensor, initial[name]), name
    assert any(not torch.equal(trained.state_dict()[k], initial[k])
               for k in initial if k.endswith("scores"))
    alphas = layer_alphas(trained)
    for name, layer in prunable_layers(trained):
        values = layer.effective_weight().detach().unique()
        allowed = torch.tensor([-alphas[name], 0.0, alphas[name]], dtype=values.dtype)
        assert torch.isin(values, allowed).all(), name
    ticket = store.load_ticket()
    assert set(ticket["masks"]) == set(alphas) and ticket["seed"] == hparams.training.seed
    assert result["kept_overall"] == pytest.approx(0.5, abs=0.01)


def test_start_step_and_capture(tmp_path: Path) -> None:
    """With a stateless optimiser, restarting at step k from the captured theta_k is exact."""
    from empirical.algorithms.mpt import make_batches
    from empirical.algorithms.train import fit
    from empirical.config.hparams import RuntimeConfig
    from empirical.device import Distributed

    hparams = preset_hparams("digits-dense", **SMALL)
    hparams = replace(hparams, training={"optimizer": "sgd", "momentum": 0.0, "lr": 0.05,
                                         "weight_decay": 0.0})
    train, _, test = make_batches(hparams, RuntimeConfig(), torch.device("cpu"), Distributed())
    captured = {}
    model = build_run_model(hparams)
    hooks = FitHooks(capture_steps=(0, 5), on_capture=lambda k, s: captured.setdefault(k, s))
    fit(model, train, hparams.training, test=test, hooks=hooks)
    assert set(captured) == {0, 5}
    other = build_run_model(hparams)
    assert not torch.equal(next(iter(other.state_dict().values())),
                           next(iter(captured[5].values())))
    result = fit(other, train, hparams.training, test=test, start_step=5,
                 initial_state=captured[5])
    assert result.steps == 2 * train.steps_per_epoch
    final, again = model.state_dict(), other.state_dict()
    assert all(torch.equal(final[k], again[k]) for k in final)


@pytest.mark.parametrize(("preset", "keep", "low", "high"), [
    ("digits-biprop", 0.5, 0.93, 1.0),
    ("digits-biprop", 1.0, 0.0, 0.5),
    ("digits-dense", 1.0, 0.96, 1.0),
])
def test_digits_accuracy(tmp_path: Path, preset: str, keep: float, low: float,
                         high: float) -> None:
    hparams = preset_hparams(preset)
    if hparams.mask.mode != "dense":
        hparams = replace(hparams, mask={"keep": keep})
    result = run_mpt(hparams, tmp_path)
    assert low <= result["test_acc"] <= high
