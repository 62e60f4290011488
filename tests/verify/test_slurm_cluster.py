"""The cluster sweep on a real Slurm: a one-node cluster on localhost (tests/cluster/local_slurm.sh)
runs the smoke width/depth study as a job array through submitit's SlurmExecutor; one longer run
hits its job's time limit, is requeued and resumes from its checkpoint; every run is then read
back and nothing finished is trained again.

Slow (minutes) and skipped unless root with Slurm and munge installed (``local_slurm.sh start``
installs them once with apt-get).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from verify import mpt_study, sweep_executor
from verify.scales import get_scale
from verify.sweep_executor import ExecutorOptions, SweepJob, notebook_jobs, run_sweep

SCRIPT = Path(__file__).parents[1] / "cluster" / "local_slurm.sh"
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol")
JOB_MINUTES = 2
#: A 2-minute job is warned 30 s before its limit, and Slurm's 30-second event resolution sends
#: the warning 60-90 s after the start: the long run gets epochs for this many seconds of
#: training at the speed measured on this machine just before (0.29 s an epoch on an idle core
#: of a 2-core EPYC VM, 1 s at a load of 16), so its first allocation cannot finish it.
LONG_SECONDS = 150
#: A loaded machine may need several allocations (one trained 40 epochs after a slow start).
MAX_REQUEUES = 10


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (munged, slurmd)"
    absent = [name for name in DAEMONS if shutil.which(name) is None]
    if absent:
        return f"{', '.join(absent)} not installed (run {SCRIPT} start once, as root)"
    if importlib.util.find_spec("submitit") is None:
        return "submitit not installed (pip install -e \".[cluster]\")"
    return None


def _free_port_pair() -> int:
    """A port p on localhost with p and p + 1 free (slurmctld and slurmd)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two consecutive free ports on localhost")


@pytest.fixture
def slurm_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Start the local cluster, point Slurm's commands at it; stop it and remove everything.

    The cluster, the run store and submitit's folder live in a private temporary directory, not
    in pytest's ``tmp_path``: pytest deletes the old base directories of the user's other
    sessions, which may run while the jobs of this one still write.
    """
    root = Path(tempfile.mkdtemp(prefix="tickets-slurm-"))
    state = root / "cluster"
    env = {**os.environ, "TICKETS_SLURM_DIR": str(state),
           "TICKETS_SLURM_PORT": str(_free_port_pair())}
    try:
        subprocess.run([str(SCRIPT), "start"], env=env, check=True, timeout=120)
        monkeypatch.setenv("SLURM_CONF", str(state / "slurm.conf"))
        yield root
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, check=True, timeout=120)
        left = state.exists()
        shutil.rmtree(root, ignore_errors=True)
        assert not left, "local_slurm.sh stop left its state behind"


def _long_job(scratch: Path) -> SweepJob:
    """The smoke grid's MPT-1/32 point at depth 3, width 512 (digits), for LONG_SECONDS."""
    from empirical.algorithms.mpt import run_mpt
    from empirical.config.hparams import RuntimeConfig

    def job(epochs: int) -> SweepJob:
        sizes = dataclasses.replace(get_scale("width_depth", "smoke"),
                                    training={"epochs": epochs})
        point = mpt_study.grid_points((3,), (512,), 0.5, ["MPT-1/32"], (0,))[1]
        return SweepJob("biprop/long", mpt_study.point_hparams(sizes, point))

    trial = job(10)
    run_mpt(trial.hparams, scratch, RuntimeConfig(progress=False))
    records = [json.loads(line) for line in (trial.stores(scratch)[0].path
                                              / "metrics.jsonl").open()]
    per_epoch = (records[-1]["seconds"] - records[0]["seconds"]) / (len(records) - 1)
    return job(math.ceil(LONG_SECONDS / per_epoch))


def _results(runs: Path) -> dict[str, int]:
    return {str(p.relative_to(runs)): p.stat().st_mtime_ns for p in runs.rglob("result.json")}


@pytest.mark.slow
@pytest.mark.skipif(_missing() is not None, reason=str(_missing()))
def test_slurm_sweep_requeues_at_the_time_limit_and_trains_nothing_twice(
        slurm_cluster: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs, jobs_dir = slurm_cluster / "runs", slurm_cluster / "jobs"
    study = notebook_jobs("width_depth", "smoke")
    long = _long_job(slurm_cluster / "trial")
    monkeypatch.setattr(sweep_executor, "notebook_jobs", lambda *args: [*study, long])
    options = ExecutorOptions("slurm", jobs_dir, gpus_per_job=0, cpus_per_job=1,
                              job_minutes=JOB_MINUTES, max_requeues=MAX_REQUEUES)
    summary = run_sweep(["width_depth"], "smoke", options, runs)
    assert summary == {"jobs": 9, "submitted": 9, "skipped": 0, "trained": 9, "reused": 0}

    # the long run was cut by the time limit and resumed from its checkpoint, not from step 0
    store = long.stores(runs)[0]
    result = json.loads((store.path / "result.json").read_text())
    epochs = long.hparams.training.epochs
    steps_per_epoch = result["steps"] // epochs
    assert result["steps"] == epochs * steps_per_epoch
    assert result["resumed_from"], "the long run finished in one allocation: raise LONG_SECONDS"
    assert 0 < result["resumed_from"] < result["steps"]
    logs = "".join(p.read_text() for p in sorted(jobs_dir.rglob("*_log.*")))
    assert "this job is timed-out" in logs and "Requeued job" in logs
    # one record per epoch, each once: the resumed job continued where the checkpoint stopped
    records = [json.loads(line) for line in (store.path / "metrics.jsonl").open()]
    assert [r["step"] for r in records] == [steps_per_epoch * (e + 1)
                                            for e in range(epochs)]

    # every run is read back: the study trains nothing, a second sweep submits nothing
    trained = _results(runs)
    assert len(trained) == 9
    sizes = get_scale("width_depth", "smoke")
    points = mpt_study.grid_points(sizes.depths, sizes.widths, sizes.keep,
                                   sweep_executor.notebook_parameters("width_depth")["VARIANTS"],
                                   sizes.seeds)
    rows = mpt_study.run_points(sizes, points, runs, progress=False)
    assert all(row["reused"] for row in rows)
    again = run_sweep(["width_depth"], "smoke", options, runs)
    assert again["submitted"] == 0 and again["skipped"] == 9
    assert _results(runs) == trained


@pytest.mark.parametrize("minutes, delay", [(1, 15), (2, 30), (6, 90), (240, 90)])
def test_slurm_jobs_are_warned_within_their_limit(minutes: int, delay: int,
                                                  tmp_path: Path) -> None:
    """submitit's 90 s warning, at most a quarter of the limit; the requeue count is passed on."""
    pytest.importorskip("submitit")
    options = ExecutorOptions("slurm", tmp_path, job_minutes=minutes, max_requeues=7)
    slurm = sweep_executor._executor(options, 3)._executor
    assert sweep_executor.signal_delay_s(minutes) == delay
    assert slurm.parameters["signal_delay_s"] == delay and slurm.max_num_timeout == 7
