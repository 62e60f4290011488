"""The training loop and score training: schedule, resume equivalence, frozen weights, accuracy."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import pytest
import torch

from empirical.algorithms import callbacks
from empirical.algorithms.mpt import build_run_model, run_mpt
from empirical.algorithms.train import FitHooks, lr_at
from empirical.config.hparams import (
    RunHparams,
    RuntimeConfig,
    TrainingHparams,
    from_dict,
    replace,
)
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
EVERY_EPOCH = RuntimeConfig(checkpoint_seconds=0)  # a kill after an epoch finds its checkpoint


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
        run_mpt(hparams, tmp_path / "b", EVERY_EPOCH,
                hooks=FitHooks(after_epoch=_kill_after_first))
    store = RunStore.for_run(tmp_path / "b", hparams.mask.mode, hparams)
    assert not store.finished and len(store.metrics()) == 1
    resumed = run_mpt(hparams, tmp_path / "b", EVERY_EPOCH)
    assert resumed["resumed_from"] == full["steps"] // 2
    assert resumed["test_acc"] == full["test_acc"]
    a = RunStore.for_run(tmp_path / "a", hparams.mask.mode, hparams).load_checkpoint()["model"]
    b = store.load_checkpoint()["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["test_acc"] for r in store.metrics()] == [
        r["test_acc"] for r in RunStore(Path(full["run_dir"])).metrics()]
    again = run_mpt(hparams, tmp_path / "a")
    assert again["reused"] and again["test_acc"] == full["test_acc"]


class _Clock:
    """A monotonic clock that a test advances by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    perf_counter = staticmethod(time.perf_counter)


@pytest.mark.parametrize(("seconds", "written"), [
    (0.0, [1, 2, 3, 4, 5]), (2.0, [2, 4, 5]), (2.5, [3, 5]), (100.0, [5])])
def test_checkpoint_interval_is_counted_from_the_last_write(seconds: float,
                                                            written: list[int]) -> None:
    """One clock second per epoch: written at an epoch's end once ``seconds`` passed since the
    last write (or the start), and always after the last step."""
    clock, saved = _Clock(), []
    store = type("Store", (), {"save_checkpoint": lambda self, state: saved.append(state)})()
    checkpoint = callbacks.Checkpoint(store, seconds, clock.monotonic)
    loop = type("Loop", (), {"step": 0, "total": 50, "state": lambda self: self.step // 10})()
    checkpoint.on_start(loop)
    for _ in range(5):
        loop.step += 10
        clock.now += 1.0
        checkpoint.on_epoch_end(loop)
    assert saved == written


@pytest.mark.parametrize("bad", [-1.0, math.nan, -math.inf])
def test_checkpoint_seconds_must_be_a_number_at_least_zero(bad: float) -> None:
    from empirical.errors import InputError

    with pytest.raises(InputError, match=r"^checkpoint_seconds must be >= 0, got"):
        RuntimeConfig(checkpoint_seconds=bad)


def test_resume_from_an_interval_checkpoint_equals_uninterrupted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints every 2 s of a clock that ticks after each epoch: the kill after epoch 4 finds
    the checkpoint of epoch 3 and metrics ahead of it; the rerun redoes epoch 4 bit for bit."""
    hparams = preset_hparams("digits-dense", **{**SMALL, "training": {"epochs": 5}})
    full = run_mpt(hparams, tmp_path / "a")
    clock = _Clock()
    monkeypatch.setattr(callbacks, "time", clock)

    def tick_then_kill(epoch: int) -> None:
        clock.now += 1.0
        if epoch == 4:
            raise Killed

    with pytest.raises(Killed):
        run_mpt(hparams, tmp_path / "b", RuntimeConfig(checkpoint_seconds=2.0),
                hooks=FitHooks(after_epoch=tick_then_kill))
    store = RunStore.for_run(tmp_path / "b", hparams.mask.mode, hparams)
    spe = full["steps"] // 5
    assert len(store.metrics()) == 4 and store.load_checkpoint()["step"] == 3 * spe
    monkeypatch.undo()
    resumed = run_mpt(hparams, tmp_path / "b")
    assert resumed["resumed_from"] == 3 * spe and resumed["test_acc"] == full["test_acc"]
    a = RunStore(Path(full["run_dir"])).load_checkpoint()
    b = store.load_checkpoint()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert torch.equal(a["train_sums"], b["train_sums"])
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in store.metrics()]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"}
                     for r in RunStore(Path(full["run_dir"])).metrics()]


def test_a_dense_loop_never_walks_the_modules_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Masked layers are found once per fit (none in a dense model), not after every step."""
    from empirical import layers
    from empirical.algorithms.mpt import make_batches
    from empirical.algorithms.train import fit
    from empirical.device import Distributed

    walks = []
    walk = layers.prunable_layers
    monkeypatch.setattr(layers, "prunable_layers", lambda m: walks.append(1) or walk(m))
    hparams = preset_hparams("digits-dense", **SMALL)
    train, _, _ = make_batches(hparams, RuntimeConfig(), torch.device("cpu"), Distributed())
    counts = []
    for epochs in (1, 3):
        model = build_run_model(hparams)
        walks.clear()
        fit(model, train, dataclasses.replace(hparams.training, epochs=epochs))
        counts.append(len(walks))
    assert counts[0] == counts[1] <= 1


def test_running_sums_equal_the_sum_of_float64_vectors() -> None:
    """The on-device sums give the floats of adding each batch's [loss n, correct, n] in float64."""
    generator = torch.Generator().manual_seed(0)
    sums, vectors = callbacks.RunningSums("cpu"), torch.zeros(3, dtype=torch.float64)
    for n in (7, 100, 33, 64):
        loss = torch.rand((), generator=generator) * 3
        logits = torch.randn(n, 10, generator=generator)
        y = torch.randint(0, 10, (n,), generator=generator)
        sums.add(loss.double() * n, logits.argmax(1), y)
        vectors += torch.stack([loss.double() * torch.tensor(n, dtype=torch.float64),
                                (logits.argmax(1) == y).sum().double(),
                                torch.tensor(n, dtype=torch.float64)])
    assert torch.equal(sums.vector(), vectors)
    again = callbacks.RunningSums("cpu", sums.vector())
    assert torch.equal(again.vector(), vectors) and again.correct.dtype == torch.int64


FIT_WITHOUT_DYNAMO = """
import sys
import torch
from empirical.algorithms.mpt import build_run_model, make_batches
from empirical.algorithms.train import fit
from empirical.config.hparams import RuntimeConfig
from empirical.device import Distributed
from tests.empirical.test_train import SMALL, preset_hparams

hparams = preset_hparams("digits-biprop", **SMALL)
train, _, test = make_batches(hparams, RuntimeConfig(), torch.device("cpu"), Distributed())

def trained():
    model = build_run_model(hparams)
    result = fit(model, train, hparams.training, test=test)
    return model.state_dict(), result.final["test_acc"]

lent = trained()
print("torch._dynamo" in sys.modules)
import torch._dynamo  # noqa: E402  the real stack: the same bits
real = trained()
print(lent[1] == real[1], all(torch.equal(lent[0][k], real[0][k]) for k in lent[0]))
"""


def test_fit_trains_the_same_bits_without_importing_the_compile_stack() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", FIT_WITHOUT_DYNAMO], capture_output=True,
                         text=True, check=True, cwd=root).stdout.split()
    assert out == ["False", "True", "True"]


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
