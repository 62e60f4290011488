"""Cluster sweeps through submitit: the enumeration equals what the studies run, jobs train into
the run store and the studies then reuse every run, finished jobs are skipped, bad flags exit 2."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import pytest

from empirical.config.hparams import hparams_hash
from empirical.errors import InputError
from verify import lth_study, mpt_study, sweep_executor
from verify.cli.main import main
from verify.figures import NOTEBOOK_DIR
from verify.scales import get_scale
from verify.sweep_executor import (
    ExecutorOptions,
    ResumableJob,
    SweepError,
    SweepJob,
    notebook_jobs,
    notebook_parameters,
    run_sweep,
)


def _results(runs: Path) -> dict[str, float]:
    """Every finished run's result file and its modification time."""
    return {str(p.relative_to(runs)): p.stat().st_mtime_ns for p in runs.rglob("result.json")}


def test_width_depth_jobs_are_the_runs_the_study_reuses(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    jobs = notebook_jobs("width_depth", "smoke")
    sizes = get_scale("width_depth", "smoke")
    variants = notebook_parameters("width_depth")["VARIANTS"]
    points = mpt_study.grid_points(sizes.depths, sizes.widths, sizes.keep, variants, sizes.seeds)
    assert len(jobs) == len(points) == 8  # 2 depths x 2 widths x (dense + MPT-1/32)
    options = ExecutorOptions("debug", tmp_path / "jobs")
    summary = run_sweep(["width_depth"], "smoke", options, runs)
    assert summary == {"jobs": 8, "submitted": 8, "skipped": 0, "trained": 8, "reused": 0}
    trained = _results(runs)
    assert len(trained) == 8
    rows = mpt_study.run_points(sizes, points, runs, progress=False)
    assert all(row["reused"] for row in rows)  # the notebook's call trains nothing new
    assert sorted(row["hash"] for row in rows) == sorted(j.name.split("/")[1] for j in jobs)
    assert _results(runs) == trained
    again = run_sweep(["width_depth"], "smoke", options, runs)
    assert again["submitted"] == 0 and again["skipped"] == 8


def test_mpt_jobs_are_the_runs_the_notebook_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """The studies' own loops at every scale, with every run recorded instead of trained."""
    from empirical.algorithms import mpt

    asked: list[str] = []

    def record(hparams: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        asked.append(hparams_hash(hparams))
        return {"test_acc": 0.0, "val_acc": 0.0, "test_acc_at_best_val": 0.0, "train_acc": 0.0,
                "kept_overall": 1.0, "epochs": 1, "steps": 1, "hash": asked[-1],
                "reused": False, "seconds": 0.0}

    monkeypatch.setattr(mpt, "run_mpt", record)
    for scale in ("smoke", "cpu", "paper"):
        asked.clear()
        for study in ("mpt", "mpt_mnist5k"):  # the two run_study calls of notebooks/mpt.py
            mpt_study.run_study(get_scale(study, scale), progress=False)
        jobs = notebook_jobs("mpt", scale)
        assert [j.name.split("/")[1] for j in jobs] == list(dict.fromkeys(asked))
        assert all(j.name.split("/")[0] == j.hparams.mask.mode for j in jobs)
    assert notebook_jobs("subset_sum", "paper") == []
    jobs = notebook_jobs("lth", "smoke") + notebook_jobs("mpt", "smoke")
    assert pickle.loads(pickle.dumps(jobs)) == jobs  # what submitit ships to a job
    assert callable(pickle.loads(pickle.dumps(ResumableJob())))


def test_width_depth_jobs_follow_the_notebooks_parameters(tmp_path: Path) -> None:
    source = (NOTEBOOK_DIR / "width_depth.py").read_text()
    for old, new in (("DEPTHS = None", "DEPTHS = [3]"), ("WIDTHS = None", "WIDTHS = [8, 16]"),
                     ("EPOCHS = None", "EPOCHS = 2"), ('VARIANTS = ["MPT-1/32"]',
                                                       'VARIANTS = ["MPT-1/32", "MPT-1/1"]')):
        assert old in source
        source = source.replace(old, new)
    (tmp_path / "width_depth.py").write_text(source)
    jobs = notebook_jobs("width_depth", "smoke", tmp_path)
    assert len(jobs) == 2 * 3  # 2 widths x (dense + 2 variants), depth 3 only
    assert {j.hparams.model.widths for j in jobs} == {(8, 8), (16, 16)}
    tickets = [j for j in jobs if j.hparams.mask.mode != "dense"]
    assert {j.hparams.training.epochs for j in tickets} == {2}
    assert {j.hparams.model.binary_act for j in tickets} == {False, True}


@pytest.mark.parametrize("scale", ["smoke", "cpu"])
def test_lth_chains_are_the_runs_run_lth_asks_for(scale: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The study's own loop, with every run recorded instead of trained."""
    from empirical.algorithms import lth

    asked = []

    def record(hparams: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        asked.append(hparams_hash(hparams))
        return {"level": hparams.level.level, "source": hparams.level.source, "density": 1.0,
                "test_acc": 0.0, "early_stop_step": 0, "early_stop_test_acc": 0.0,
                "dataset": hparams.dataset.name, "hash": asked[-1], "reused": False}

    monkeypatch.setattr(lth, "run_level", record)
    lth_study.run_study(get_scale("lth", scale), progress=False)
    enumerated = [hparams_hash(h) for job in notebook_jobs("lth", scale)
                  for h in job.hparams.runs()]
    assert asked == enumerated and len(set(asked)) == len(asked)


@pytest.mark.slow
def test_local_executor_runs_a_job_in_a_subprocess(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = dataclasses.replace(get_scale("width_depth", "smoke"), training={"epochs": 1})
    point = mpt_study.grid_points((2,), (8,), 0.5, ["MPT-1/32"], (0,))[1]
    job = SweepJob("biprop/tiny", mpt_study.point_hparams(sizes, point))
    monkeypatch.setattr(sweep_executor, "notebook_jobs", lambda *args: [job])
    summary = run_sweep(["width_depth"], "smoke", ExecutorOptions("local", tmp_path / "jobs"),
                        tmp_path / "runs")
    assert summary["trained"] == 1 and job.finished(tmp_path / "runs")
    assert list((tmp_path / "jobs").glob("*_log.out"))  # submitit's own logs of the subprocess


def test_a_failed_job_is_one_line_naming_it(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = get_scale("width_depth", "smoke")
    point = mpt_study.grid_points((2,), (8,), 0.5, ["MPT-1/32"], (0,))[0]
    hparams = mpt_study.point_hparams(sizes, point)
    bad = dataclasses.replace(hparams, dataset=dataclasses.replace(hparams.dataset,
                                                                   batch_size=100_000))
    monkeypatch.setattr(sweep_executor, "notebook_jobs",
                        lambda *args: [SweepJob("dense/too-big", bad)])
    with pytest.raises(SweepError, match=r"1 of 1 jobs failed; first dense/too-big: .*batch"):
        run_sweep(["width_depth"], "smoke", ExecutorOptions("debug", tmp_path / "jobs"),
                  tmp_path / "runs")


class _FakeExecutor:
    """Jobs that finish after three looks at ``done()``; counts the most unfinished at once."""

    def __init__(self) -> None:
        self.unfinished: set[int] = set()
        self.most = 0
        self.calls: list[tuple[Any, ...]] = []

    def submit(self, fn: Any, *args: Any) -> Any:
        executor, number = self, len(self.calls)
        self.calls.append(args)
        self.unfinished.add(number)
        self.most = max(self.most, len(self.unfinished))

        class Handle:
            looks = 0
            index = number

            def done(self) -> bool:
                self.looks += 1
                if self.looks >= 3:
                    executor.unfinished.discard(number)
                return self.looks >= 3

        return Handle()


@pytest.mark.parametrize("width", [1, 2, 5])
def test_the_local_pool_keeps_at_most_width_jobs_running(width: int) -> None:
    jobs = [SweepJob(f"job/{i}", None) for i in range(7)]
    fake = _FakeExecutor()
    handles = sweep_executor.rolling_submit(fake, jobs, ([f"a{i}" for i in range(7)],),
                                            width, poll_s=0)
    assert fake.most == min(width, 7)
    assert not fake.unfinished  # every job finished before it returns
    assert [h.index for h in handles] == list(range(7))  # handles in the order of the jobs
    assert [c[0].name for c in fake.calls] == [j.name for j in jobs]  # each submitted once
    assert [c[1] for c in fake.calls] == [f"a{i}" for i in range(7)]


def test_the_local_pool_defaults_to_the_cores_per_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep_executor.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4})
    width = sweep_executor.local_width
    assert width(ExecutorOptions("local", Path("j"))) == 5
    assert width(ExecutorOptions("local", Path("j"), cpus_per_job=2)) == 2
    assert width(ExecutorOptions("local", Path("j"), cpus_per_job=8)) == 1
    assert width(ExecutorOptions("local", Path("j"), max_parallel=3)) == 3


@pytest.mark.parametrize("flags, message", [
    (["--partition", "gpu"], "--partition needs --executor slurm"),
    (["--max-parallel", "3"], "--max-parallel needs --executor slurm or --executor local"),
    (["--executor", "debug", "--max-parallel", "3"], "--max-parallel needs --executor slurm"),
    (["--gpus-per-job", "1"], "--jobs-dir and --gpus-per-job need"),
    (["--executor", "slurm"], "sbatch is not on PATH"),
    (["--executor", "local", "--only", "nope"], "unknown notebook 'nope'"),
    (["--executor", "local", "--scale", "paper", "--only", "lth"], "needs cifar10, mnist on disk"),
])
def test_bad_executor_flags_exit_2_before_work(tmp_path: Path, flags: list[str], message: str,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    monkeypatch.delenv("TICKETS_DATA", raising=False)
    argv = ["figures", "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
            "--no-progress", *flags]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


def test_executor_without_submitit_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match=r"executor=local needs submitit"):
        sweep_executor.check_options(ExecutorOptions("local", Path("jobs")))


@pytest.mark.slow
def test_figures_with_the_local_executor_reuse_every_run(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """The whole path: jobs in subprocesses, then the notebooks, which train nothing new."""
    runs = tmp_path / "runs"
    argv = ["figures", "--scale", "smoke", "--only", "lth", "--only", "width_depth",
            "--runs-dir", str(runs), "--out", str(tmp_path / "out"), "--no-progress",
            "--executor", "local", "--jobs-dir", str(tmp_path / "jobs")]
    assert main(argv) == 0
    assert "sweep: 9 job(s) done: 15 run(s) trained, 0 read back" in capsys.readouterr().err
    assert len(_results(runs)) == 15  # 7 LTH runs + 8 grid runs, nothing beyond the jobs
