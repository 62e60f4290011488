"""Every run file x every damage: never a traceback, never a number the uninterrupted run lacks.

A tiny biprop run (digits, fc 64-64, 3 epochs of 6 steps), the same run killed after its second
epoch, and one LTH level (level 1 of a 2-level chain) are trained once per module. Each case
damages one file of a copy (truncate, flip one byte, zero every byte, delete, or a well-formed
edit), then checks that export refuses the damaged finished run in one line (exit 2), and that a
rerun reports exactly the uninterrupted run's numbers: test accuracy, steps, every evaluation
record's test accuracy, and the stored test predictions.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from empirical.algorithms.lth import run_lth
from empirical.algorithms.mpt import run_mpt
from empirical.algorithms.train import FitHooks
from empirical.config.hparams import (
    DatasetHparams,
    MaskHparams,
    ModelHparams,
    RunHparams,
    RuntimeConfig,
    TrainingHparams,
)
from empirical.config.lth_hparams import LTHHparams, PruningHparams, imp_chain
from empirical.storage.store import (
    CHECKPOINT,
    HPARAMS,
    METRICS,
    PREDICTIONS,
    PREVIOUS_CHECKPOINT,
    RESULT,
    TICKET,
    RunStore,
    load_torch,
    save_torch,
)
from verify.cli.main import main

CPU = RuntimeConfig(device="cpu", progress=False, threads=1, checkpoint_seconds=0)
MPT = RunHparams(dataset=DatasetHparams(name="digits", batch_size=256),
                 model=ModelHparams(widths=(64, 64)), mask=MaskHparams(mode="biprop", keep=0.5),
                 training=TrainingHparams(optimizer="adam", lr=3e-3, epochs=3))
LTH = LTHHparams(dataset=DatasetHparams(name="digits", batch_size=256, val_size=200),
                 model=ModelHparams(name="fc", widths=(64, 64)),
                 training=TrainingHparams(optimizer="adam", lr=3e-3, schedule="constant",
                                          epochs=2, eval_every=4),
                 pruning=PruningHparams(rate=0.5))
ROOT = Path(__file__).resolve().parents[2]


class Killed(Exception):
    """Raised after an epoch to leave an unfinished run behind."""


def _kill_after_second(epoch: int) -> None:
    if epoch == 2:
        raise Killed


# --- the damages ------------------------------------------------------------------------------
def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _zero(path: Path) -> None:
    path.write_bytes(bytes(path.stat().st_size))


def _edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def _edit_torch(path: Path, change: Callable[[dict], None]) -> None:
    """A well-formed edit sealed again, as a writer with this project's code would make it."""
    data = load_torch(path)
    change(data)
    save_torch(path, data)


def _ones(state: dict) -> None:
    for tensor in state["model"].values():
        if tensor.is_floating_point():
            tensor.fill_(1.0)


def _edit_metrics(path: Path) -> None:
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["test_acc"] = 0.99
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")


def _invert(ticket: dict) -> None:
    ticket["masks"] = {name: ~mask for name, mask in ticket["masks"].items()}


def _shift(predictions: dict) -> None:
    predictions["steps"] = {k: (v + 1) % 10 for k, v in predictions["steps"].items()}


EDITS: dict[str, Callable[[Path], None]] = {
    HPARAMS: lambda p: _edit_json(p, lambda d: d["hparams"]["training"].update(epochs=7)),
    METRICS: _edit_metrics,
    RESULT: lambda p: _edit_json(p, lambda d: d.update(test_acc=0.99)),
    CHECKPOINT: lambda p: _edit_torch(p, _ones),
    PREVIOUS_CHECKPOINT: lambda p: _edit_torch(p, _ones),
    TICKET: lambda p: _edit_torch(p, _invert),
    PREDICTIONS: lambda p: _edit_torch(p, _shift),
}
MORE_EDITS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "result without test_acc": (RESULT, lambda p: _edit_json(p, lambda d: d.pop("test_acc"))),
    "checkpoint step + 5": (CHECKPOINT, lambda p: _edit_torch(p, lambda d: d.update(
        step=d["step"] + 5))),
}
DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncate": _truncate, "flip": _flip, "zero": _zero, "delete": lambda p: p.unlink()}
FINISHED_FILES = (HPARAMS, METRICS, CHECKPOINT, TICKET, PREDICTIONS, RESULT)
UNFINISHED_FILES = (HPARAMS, METRICS, CHECKPOINT, PREVIOUS_CHECKPOINT)


def _cases(files: tuple[str, ...]) -> list[tuple[str, str]]:
    cases = [(name, damage) for name in files for damage in (*DAMAGES, "edit")]
    return cases + [(edit[0], label) for label, edit in MORE_EDITS.items() if edit[0] in files]


def _damage(path: Path, damage: str) -> None:
    if damage in DAMAGES:
        DAMAGES[damage](path)
    elif damage == "edit":
        EDITS[path.name](path)
    else:
        MORE_EDITS[damage][1](path)


# --- the runs ---------------------------------------------------------------------------------
def _numbers(store: RunStore) -> dict[str, Any]:
    """What a run reports, read through the verifying reader."""
    result = store.read_result()
    predictions = store.predictions()
    return {"test_acc": result["test_acc"], "steps": result["steps"],
            "records": [r["test_acc"] for r in store.metrics()],
            "predictions": predictions.steps, "labels": predictions.labels}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a["test_acc"] == b["test_acc"] and a["steps"] == b["steps"]
            and a["records"] == b["records"] and torch.equal(a["labels"], b["labels"])
            and a["predictions"].keys() == b["predictions"].keys()
            and all(torch.equal(a["predictions"][k], b["predictions"][k])
                    for k in a["predictions"]))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("runs")
    run_mpt(MPT, root / "finished", CPU)
    with pytest.raises(Killed):
        run_mpt(MPT, root / "unfinished", CPU, hooks=FitHooks(after_epoch=_kill_after_second))
    run_lth(LTH, 1, runs_dir=root / "lth", runtime=CPU)
    level = imp_chain(LTH, 1)[1]
    return {"root": root,
            "mpt": _numbers(RunStore.for_run(root / "finished", "biprop", MPT)),
            "lth": _numbers(RunStore.for_run(root / "lth", "lth", level)), "level": level}


def _export_refuses(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    code = main(["export", str(run_dir), "--out", str(tmp_path / "t.safetensors")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("tickets export: error: "), err
    assert not (tmp_path / "t.safetensors").exists()


def test_eval_of_a_run_directory_says_use_export(runs: dict,
                                                 capsys: pytest.CaptureFixture) -> None:
    run_dir = RunStore.for_run(runs["root"] / "finished", "biprop", MPT).path
    with pytest.raises(SystemExit) as exit_:  # refused by the argument's type, before any work
        main(["eval", str(run_dir)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"tickets eval: error: argument FILE: {run_dir} is a run directory; write its ticket file "
        "with tickets export RUN --out FILE")


def _export_and_eval(run_dir: Path, tmp_path: Path) -> None:
    """The repaired run exports, and its file reproduces the recorded accuracy and predictions
    (``tickets eval`` exits 1 otherwise): the model itself is the uninterrupted run's."""
    out = str(tmp_path / "t.safetensors")
    assert main(["export", str(run_dir), "--out", out]) == 0
    assert main(["eval", out]) == 0


@pytest.mark.parametrize(("name", "damage"), _cases(FINISHED_FILES))
def test_damaged_finished_run(runs: dict, tmp_path: Path, capsys: pytest.CaptureFixture,
                              name: str, damage: str) -> None:
    shutil.copytree(runs["root"] / "finished", tmp_path / "runs")
    store = RunStore.for_run(tmp_path / "runs", "biprop", MPT)
    _damage(store.path / name, damage)
    assert store.reusable_result(warn=False) is None
    _export_refuses(store.path, tmp_path, capsys)
    again = run_mpt(MPT, tmp_path / "runs", CPU)
    assert not again["reused"]
    assert _same(_numbers(store), runs["mpt"])
    assert run_mpt(MPT, tmp_path / "runs", CPU)["reused"]
    _export_and_eval(store.path, tmp_path)


@pytest.mark.parametrize(("name", "damage"), _cases(UNFINISHED_FILES))
def test_damaged_unfinished_run(runs: dict, tmp_path: Path, name: str, damage: str,
                                caplog: pytest.LogCaptureFixture) -> None:
    shutil.copytree(runs["root"] / "unfinished", tmp_path / "runs")
    store = RunStore.for_run(tmp_path / "runs", "biprop", MPT)
    _damage(store.path / name, damage)
    with caplog.at_level(logging.WARNING, logger="empirical.storage.store"):
        again = run_mpt(MPT, tmp_path / "runs", CPU)
    assert _same(_numbers(store), runs["mpt"])
    assert again["test_acc"] == runs["mpt"]["test_acc"]
    resumed = [m for m in caplog.messages if m.startswith("resumed from step")]
    trusted = name in (HPARAMS, METRICS, PREVIOUS_CHECKPOINT)  # checkpoint.pt itself is intact
    assert resumed == ([f"resumed from step {again['resumed_from']}"] if trusted else resumed)
    if name == CHECKPOINT:  # never resumed from the damaged one: the previous one, or none
        assert again["resumed_from"] in (None, runs["mpt"]["steps"] // 3)
    _export_and_eval(store.path, tmp_path)


@pytest.mark.parametrize(("name", "damage"), _cases(FINISHED_FILES))
def test_damaged_lth_level(runs: dict, tmp_path: Path, capsys: pytest.CaptureFixture,
                           name: str, damage: str) -> None:
    shutil.copytree(runs["root"] / "lth", tmp_path / "runs")
    store = RunStore.for_run(tmp_path / "runs", "lth", runs["level"])
    _damage(store.path / name, damage)
    _export_refuses(store.path, tmp_path, capsys)
    rows = run_lth(LTH, 1, runs_dir=tmp_path / "runs", runtime=CPU)
    assert [r["reused"] for r in rows] == [True, False]
    assert _same(_numbers(store), runs["lth"])
    assert rows[1]["density"] == pytest.approx(0.5, abs=0.01)
    _export_and_eval(store.path, tmp_path)


def test_stale_temporaries_are_removed_on_resume(runs: dict, tmp_path: Path) -> None:
    shutil.copytree(runs["root"] / "unfinished", tmp_path / "runs")
    store = RunStore.for_run(tmp_path / "runs", "biprop", MPT)
    stale = store.path / f".{CHECKPOINT}.k2j3h4.tmp"
    stale.write_bytes(b"half a checkpoint")
    run_mpt(MPT, tmp_path / "runs", CPU)
    assert not stale.exists()
    assert not list(store.path.glob(".*.tmp"))


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_files_respect_the_umask(runs: dict, tmp_path: Path, umask: int,
                                 capsys: pytest.CaptureFixture) -> None:
    previous = os.umask(umask)
    try:
        run_mpt(MPT, tmp_path / "runs", CPU)
        store = RunStore.for_run(tmp_path / "runs", "biprop", MPT)
        assert main(["export", str(store.path), "--out", str(tmp_path / "t.safetensors")]) == 0
        from verify.plotting import atomic_write

        atomic_write(tmp_path / "figure.png", lambda h: h.write(b"png"), binary=True)
    finally:
        os.umask(previous)
    files = [*store.path.iterdir(), tmp_path / "t.safetensors", tmp_path / "figure.png"]
    modes = {p.name: p.stat().st_mode & 0o777 for p in files if p.is_file()}
    assert {HPARAMS, CHECKPOINT, TICKET, PREDICTIONS, RESULT, METRICS} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o666 & ~umask)


def test_predictions_support_a_paired_test(runs: dict) -> None:
    """The stored predictions reproduce the recorded accuracy of every evaluation."""
    store = RunStore.for_run(runs["root"] / "finished", "biprop", MPT)
    predictions = store.predictions()
    assert predictions.labels.dtype == torch.int64
    assert load_torch(store.path / PREDICTIONS)["labels"].dtype == torch.uint8
    for record in store.metrics():
        correct = predictions.correct(record["step"])
        assert float(correct.double().mean()) == record["test_acc"]


def test_sigterm_is_a_clean_interrupt_and_the_rerun_resumes(tmp_path: Path) -> None:
    def command(runs: Path) -> list[str]:
        return [sys.executable, "-m", "verify.cli.main", "train", "dense", "--dataset", "digits",
                "--batch-size", "64", "--widths", "64", "--optimizer", "adam", "--lr", "3e-3",
                "--epochs", "10", "--runs-dir", str(runs), "--device", "cpu", "--threads", "1",
                "--checkpoint-seconds", "0", "--json"]

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command(tmp_path / "a"), cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(f"a/dense/*/{PREVIOUS_CHECKPOINT}")):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "interrupted; finished work is kept and a rerun resumes"
    [run_dir] = [p for p in tmp_path.glob("a/dense/*") if p.is_dir()]
    assert not list(run_dir.glob(".*.tmp")) and not (run_dir / RESULT).exists()
    step = RunStore(run_dir).load_checkpoint()["step"]
    resumed, whole = (subprocess.run(command(tmp_path / name), cwd=ROOT, env=env,
                                     capture_output=True, text=True, timeout=300)
                      for name in ("a", "b"))
    assert f"resumed from step {step}" in resumed.stderr.splitlines()
    assert resumed.returncode == whole.returncode == 0
    assert json.loads(resumed.stdout)["test_acc"] == json.loads(whole.stdout)["test_acc"]


@pytest.mark.parametrize(("same_accuracy", "identical", "code"), [
    (True, True, 0), (True, None, 0), (False, True, 1), (True, False, 1), (False, None, 1)])
def test_eval_exits_1_when_accuracy_or_predictions_differ(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path,
        same_accuracy: bool, identical: bool | None, code: int) -> None:
    import empirical.export.ticket_file

    ticket = tmp_path / "t.safetensors"  # a safetensors header: the argument's own check passes
    ticket.write_bytes((2).to_bytes(8, "little") + b"{}")
    monkeypatch.chdir(tmp_path)
    row = {"file": "t.safetensors", "layout": "self-contained", "kind": "biprop",
           "dataset": "digits", "engine": "float", "test_acc": 0.5, "run_test_acc": 0.6,
           "same_accuracy": same_accuracy, "identical_predictions": identical}
    monkeypatch.setattr(empirical.export.ticket_file, "evaluate_file", lambda *args: row)
    assert main(["eval", "t.safetensors"]) == code
