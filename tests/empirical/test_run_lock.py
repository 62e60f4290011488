"""The run lock with real processes: identical commands wait and reuse, different runs proceed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO

from empirical.algorithms.mpt import run_mpt
from empirical.config.hparams import (
    DatasetHparams,
    MaskHparams,
    ModelHparams,
    RunHparams,
    RuntimeConfig,
    TrainingHparams,
)
from empirical.storage.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
WAIT = 120.0
CPU = RuntimeConfig(device="cpu", progress=False)


def _hparams(width: int) -> RunHparams:
    return RunHparams(dataset=DatasetHparams(name="digits", batch_size=256),
                      model=ModelHparams(widths=(width,)), mask=MaskHparams(mode="dense"),
                      training=TrainingHparams(optimizer="adam", lr=3e-3, epochs=2))


# The CLI, with filelock's debug log on stderr: "Lock ... not acquired ..., waiting" shows that
# the process reached the lock and waits in it.
_CLI = ("import logging, sys; log = logging.getLogger('filelock'); log.setLevel(logging.DEBUG); "
        "log.addHandler(logging.StreamHandler()); from verify.cli.main import main; "
        "sys.exit(main(sys.argv[1:]))")


def _train(runs: Path, width: int, stderr: TextIO) -> subprocess.Popen:
    command = [sys.executable, "-c", _CLI, "train", "dense", "--dataset", "digits",
               "--batch-size", "256", "--widths", str(width), "--optimizer", "adam", "--lr",
               "3e-3", "--epochs", "2", "--runs-dir", str(runs), "--device", "cpu", "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=stderr, text=True)


def _wait_until_blocked(process: subprocess.Popen, stderr: Path) -> None:
    """Return once ``process`` has logged that it waits for a lock."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and process.poll() is None:
        if "not acquired" in stderr.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"the process never waited for the lock: {stderr.read_text()}")


def _summary(process: subprocess.Popen) -> dict:
    out, _ = process.communicate(timeout=WAIT)
    assert process.returncode == 0
    return json.loads(out)


def test_identical_commands_wait_and_reuse_other_runs_proceed(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    held = RunStore.for_run(runs, "dense", _hparams(16))
    log = tmp_path / "stderr.txt"
    # This process holds the lock of the width-16 run and trains it while another asks for it.
    with held.lock(), log.open("w") as stderr:
        waiting = _train(runs, 16, stderr)
        _wait_until_blocked(waiting, log)
        other = run_mpt(_hparams(8), runs, CPU)  # another hash: not blocked by the held lock
        assert not other["reused"]
        first = run_mpt(_hparams(16), runs, CPU)  # the lock is reentrant in its holder
        assert waiting.poll() is None  # still waiting for the lock
    second = _summary(waiting)
    assert not first["reused"] and second["reused"]
    assert second["test_acc"] == first["test_acc"]
    assert [r["step"] for r in held.metrics()] == [5, 10]


def test_lock_file_lives_beside_the_run(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "dense" / "abc")
    with store.lock():
        assert (tmp_path / "dense" / ".abc.lock").exists() and not store.path.exists()
    with store.lock(), store.lock():  # reentrant within one process
        assert store.lock().is_locked
    assert not store.lock().is_locked
