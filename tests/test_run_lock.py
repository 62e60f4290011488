"""The run lock with real processes: identical commands wait and reuse, different runs proceed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from empirical.hparams import DatasetHparams, MaskHparams, ModelHparams, RunHparams, TrainingHparams
from empirical.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
WAIT = 120.0


def _hparams(width: int) -> RunHparams:
    return RunHparams(dataset=DatasetHparams(name="digits", batch_size=256),
                      model=ModelHparams(widths=(width,)), mask=MaskHparams(mode="dense"),
                      training=TrainingHparams(optimizer="adam", lr=3e-3, epochs=2))


def _train(runs: Path, width: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "verify.cli.main", "train", "dense", "--dataset", "digits",
               "--batch-size", "256", "--widths", str(width), "--optimizer", "adam", "--lr",
               "3e-3", "--epochs", "2", "--runs-dir", str(runs), "--device", "cpu", "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _summary(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=WAIT)
    assert process.returncode == 0, err
    return json.loads(out)


def test_identical_commands_wait_and_reuse_other_runs_proceed(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    held = RunStore.for_run(runs, "dense", _hparams(16))
    with held.lock():
        first, second = _train(runs, 16), _train(runs, 16)
        other = _summary(_train(runs, 8))  # another hash: not blocked by the held lock
        assert not other["reused"]
        assert first.poll() is None and second.poll() is None  # both wait for the lock
        assert not held.path.exists()
    summaries = [_summary(first), _summary(second)]
    assert sorted(s["reused"] for s in summaries) == [False, True]
    assert summaries[0]["test_acc"] == summaries[1]["test_acc"]
    assert [r["step"] for r in held.metrics()] == [5, 10]
    assert held.read_result()["test_acc"] == summaries[0]["test_acc"]


def test_lock_file_lives_beside_the_run(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "dense" / "abc")
    with store.lock():
        assert (tmp_path / "dense" / ".abc.lock").exists() and not store.path.exists()
    with store.lock(), store.lock():  # reentrant within one process
        assert store.lock().is_locked
    assert not store.lock().is_locked
