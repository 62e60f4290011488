"""Train the runs of the figure notebooks as cluster jobs (submitit), then let the notebooks reuse
them.

``tickets figures --executor slurm|local|debug`` first enumerates, without training, every run
that the chosen notebooks will ask the run store for at the scale (:func:`notebook_jobs`):

- ``mpt``: the MPT study and its real-MNIST twin (:func:`verify.mpt_study.point_runs` of
  :func:`verify.mpt_study.study_points`), one job per run hash;
- ``width_depth``: the MLP grid (:func:`verify.mpt_study.grid_points` with the notebook's
  ``VARIANTS``), one job per run hash;
- ``lth``: one job per IMP chain (:func:`verify.lth_study.lineages`: levels ``0..N`` and their
  controls, each level needing the previous one's mask);
- the theory notebooks train nothing and get no job.

Runs already finished in the store are not submitted. Every other job goes to submitit's
executor (``slurm``: one Slurm job array; ``local``: submitit's ``LocalExecutor``, a pool of
subprocesses on this machine, one per core (:func:`rolling_submit`); ``debug``: its
``DebugExecutor``, in this process), and :func:`run_sweep` waits for all of them. A job trains
through :func:`empirical.algorithms.mpt.run_mpt` or :func:`empirical.algorithms.lth.run_lth`,
so it takes the run's lock, resumes a killed run from
its checkpoint and reads back a finished one; on Slurm a job that hits its time limit is requeued
(:class:`submitit.helpers.Checkpointable`) and resumes the same way. Afterwards the notebooks run
in-process as usual and find every run finished. No second description or cache of a run exists:
jobs carry the same hyperparameter dataclasses and write to the same run store.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from empirical import instruction_set
from empirical.errors import InputError

#: ``inprocess``: no executor (the notebooks train what they need themselves).
EXECUTORS = ("inprocess", "local", "slurm", "debug")
DEFAULT_JOB_MINUTES = 240
#: submitit's default warning time: a Slurm job is signalled this long before its time limit.
SIGNAL_DELAY_S = 90


class SweepError(RuntimeError):
    """Some jobs failed; the message names how many, the first one and its log folder."""


@dataclass(frozen=True)
class ExecutorOptions:
    """Where and with what resources the jobs run.

    Attributes
    ----------
    executor
        One of :data:`EXECUTORS`.
    folder
        submitit's folder for pickled jobs and logs.
    partition
        Slurm partition (Slurm only).
    gpus_per_job, cpus_per_job
        Resources of each job (``cpus_per_job`` is also its torch thread count).
    job_minutes
        Time limit of each job.
    max_parallel
        At most this many jobs at once: on Slurm the array's parallelism (None: no limit); with
        the local executor the size of the pool of subprocesses (None: this machine's cores
        divided by ``cpus_per_job``, see :func:`local_width`).
    max_requeues
        Times a Slurm job may be requeued at its time limit before it fails (submitit's
        ``max_num_timeout``).
    """

    executor: str
    folder: Path
    partition: str | None = None
    gpus_per_job: int = 0
    cpus_per_job: int = 1
    job_minutes: int = DEFAULT_JOB_MINUTES
    max_parallel: int | None = None
    max_requeues: int = 3


def check_options(options: ExecutorOptions) -> None:
    """Raise :class:`InputError` (one line naming the field) for a bad combination, before work."""
    def refuse(template: str, **values: Any) -> NoReturn:
        raise InputError(template, ExecutorOptions, **values)

    if options.executor not in EXECUTORS:
        refuse("{executor}: unknown {got!r}; choose one of {choices}", got=options.executor,
               choices=", ".join(EXECUTORS))
    if options.executor != "inprocess" and importlib.util.find_spec("submitit") is None:
        refuse(f"{{executor={options.executor}}} needs submitit (pip install -e \".[cluster]\")")
    slurm = options.executor == "slurm"
    if options.partition is not None and not slurm:
        refuse("{partition} needs {executor=slurm}")
    if options.max_parallel is not None and options.executor not in ("slurm", "local"):
        refuse("{max_parallel} needs {executor=slurm} or {executor=local}")
    if slurm and shutil.which("sbatch") is None:
        refuse("{executor=slurm}: sbatch is not on PATH (run on a Slurm login node, or use "
               "{executor=local})")
    for name, least in (("gpus_per_job", 0), ("cpus_per_job", 1), ("job_minutes", 1),
                        ("max_parallel", 1)):
        if getattr(options, name) is None:
            continue
        if getattr(options, name) < least:
            refuse(f"{{{name}}} must be >= {{least}}, got {{got}}", least=least,
                   got=getattr(options, name))


@dataclass(frozen=True)
class SweepJob:
    """One job: a single MPT / edge-popup / dense run, or one LTH chain.

    Attributes
    ----------
    name
        ``<kind>/<hash>`` of the run, or ``lth/<model>/seed<s>`` of a chain.
    hparams
        The run's :class:`empirical.config.hparams.RunHparams`, or the chain's
        :class:`verify.lth_study.Lineage`.
    """

    name: str
    hparams: Any = field(repr=False)

    @property
    def is_chain(self) -> bool:
        """True for an LTH chain."""
        from verify.lth_study import Lineage

        return isinstance(self.hparams, Lineage)

    def stores(self, runs_dir: str | os.PathLike | None) -> list[Any]:
        """The :class:`empirical.storage.store.RunStore` of every run this job makes."""
        from empirical.config.lth_hparams import KIND
        from empirical.storage.store import RunStore

        if self.is_chain:
            return [RunStore.for_run(runs_dir, KIND, h) for h in self.hparams.runs()]
        return [RunStore.for_run(runs_dir, self.hparams.mask.mode, self.hparams)]

    def finished(self, runs_dir: str | os.PathLike | None) -> bool:
        """True when every run of the job is finished in the store (nothing to submit)."""
        return all(store.reusable_result(warn=False) is not None
                   for store in self.stores(runs_dir))

    def run(self, runs_dir: str, data_dir: str | None, threads: int) -> dict[str, int]:
        """Train (or read back) the job's runs; ``{"trained": n, "reused": m}``."""
        from empirical.config.hparams import RuntimeConfig

        runtime = RuntimeConfig(data_dir=data_dir, progress=False, threads=threads)
        if self.is_chain:
            from empirical.algorithms.lth import run_lth

            chain = self.hparams
            rows = run_lth(chain.base, chain.levels, controls=chain.controls,
                           control_seed=chain.control_seed, runs_dir=runs_dir, runtime=runtime)
        else:
            from empirical.algorithms.mpt import run_mpt

            rows = [run_mpt(self.hparams, runs_dir, runtime)]
        reused = sum(bool(r["reused"]) for r in rows)
        return {"trained": len(rows) - reused, "reused": reused}


def notebook_parameters(name: str, notebook_dir: str | os.PathLike | None = None
                        ) -> dict[str, Any]:
    """The literal values assigned in a notebook's cell tagged ``parameters``."""
    from verify.figures import NOTEBOOK_DIR, PARAMETERS_TAG, load_notebook

    nb = load_notebook(Path(notebook_dir or NOTEBOOK_DIR) / f"{name}.py")
    values: dict[str, Any] = {}
    for cell in nb.cells:
        if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                    values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def _run_jobs(sizes: Any, points: Sequence[Any]) -> list[SweepJob]:
    from empirical.config.hparams import hparams_hash
    from verify.mpt_study import point_runs

    return [SweepJob(f"{h.mask.mode}/{hparams_hash(h)}", h) for h in point_runs(sizes, points)]


def _width_depth_sizes(scale: str, params: dict[str, Any]) -> Any:
    """The width/depth notebook's sizes: the scale's, with its non-None parameters applied."""
    import dataclasses

    from verify.scales import get_scale

    sizes = get_scale("width_depth", scale)
    changes = {key: tuple(params[flag]) if isinstance(params[flag], list) else params[flag]
               for flag, key in (("DEPTHS", "depths"), ("WIDTHS", "widths"), ("KEEP", "keep"),
                                 ("SEEDS", "seeds")) if params.get(flag)}
    if params.get("EPOCHS"):
        changes["training"] = {**sizes.training, "epochs": params["EPOCHS"]}
    return dataclasses.replace(sizes, **changes)


def notebook_jobs(name: str, scale: str, notebook_dir: str | os.PathLike | None = None
                  ) -> list[SweepJob]:
    """Every job of notebook ``name`` at ``scale`` (empty for notebooks that train nothing)."""
    from verify import lth_study, mpt_study
    from verify.scales import get_scale

    if name == "mpt":
        jobs = []
        for study in ("mpt", "mpt_mnist5k"):
            sizes = get_scale(study, scale)
            jobs += _run_jobs(sizes, mpt_study.study_points(sizes))
        return _unique(jobs)
    if name == "width_depth":
        params = notebook_parameters(name, notebook_dir)
        sizes = _width_depth_sizes(scale, params)
        points = mpt_study.grid_points(sizes.depths, sizes.widths, sizes.keep,
                                       params["VARIANTS"], sizes.seeds)
        return _run_jobs(sizes, points)
    if name == "lth":
        return [SweepJob(f"lth/{chain.model}/seed{chain.seed}", chain)
                for chain in lth_study.lineages(get_scale("lth", scale))]
    return []


def _unique(jobs: Sequence[SweepJob]) -> list[SweepJob]:
    return list({job.name: job for job in jobs}.values())


def _executor(options: ExecutorOptions, job_count: int) -> Any:
    import submitit

    executor = submitit.AutoExecutor(folder=options.folder, cluster=options.executor,
                                     slurm_max_num_timeout=options.max_requeues)
    parameters: dict[str, Any] = {
        "name": "tickets-sweep", "timeout_min": options.job_minutes,
        "gpus_per_node": options.gpus_per_job, "cpus_per_task": options.cpus_per_job,
        "tasks_per_node": 1, "nodes": 1}
    if options.executor == "slurm":
        if options.partition is not None:
            parameters["slurm_partition"] = options.partition
        parameters["slurm_array_parallelism"] = options.max_parallel or job_count
        parameters["slurm_setup"] = instruction_set.job_exports()
        parameters["slurm_signal_delay_s"] = signal_delay_s(options.job_minutes)
    executor.update_parameters(**parameters)
    return executor


def signal_delay_s(job_minutes: int) -> int:
    """Seconds before the time limit at which Slurm signals a job to checkpoint and requeue.

    submitit's 90 s, but at most a quarter of the limit: a job whose warning came at its start
    (``--job-minutes 1`` with 90 s) would requeue itself before training a step, every time.
    """
    return min(SIGNAL_DELAY_S, job_minutes * 60 // 4)


class ResumableJob:
    """The callable each submitit job runs: :meth:`SweepJob.run`.

    It has submitit's ``checkpoint`` hook (:class:`submitit.helpers.Checkpointable`'s
    protocol): at the time limit or on preemption Slurm requeues the same call, and the run store
    resumes the run from its last checkpoint.
    """

    def __call__(self, job: SweepJob, runs_dir: str, data_dir: str | None, threads: int
                 ) -> dict[str, int]:
        return job.run(runs_dir, data_dir, threads)

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Resubmit the same call (submitit's requeue hook)."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)


def run_sweep(names: Sequence[str], scale: str, options: ExecutorOptions,
              runs_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None,
              notebook_dir: str | os.PathLike | None = None,
              on_submit: Callable[[int, int], Any] | None = None) -> dict[str, int]:
    """Train every run the notebooks ``names`` need at ``scale`` as submitit jobs, and wait.

    Parameters
    ----------
    names : sequence of str
        Notebooks (file stems).
    scale : str
        ``smoke``, ``cpu`` or ``paper``.
    options : ExecutorOptions
        The executor and the resources of each job (checked by :func:`check_options`).
    runs_dir, data_dir : path
        Run store root (resolved: the jobs may run elsewhere) and dataset directory.
    notebook_dir : path, optional
        Where the notebooks are.
    on_submit : callable, optional
        Called with (jobs submitted, jobs already finished) before waiting.

    Returns
    -------
    dict
        ``jobs`` (enumerated), ``submitted``, ``skipped`` (finished before submission), and over
        the submitted jobs the runs ``trained`` and ``reused``.

    Raises
    ------
    SweepError
        When a job failed (after all the others finished).
    """
    check_options(options)
    if options.executor == "inprocess":
        raise InputError("{executor=inprocess} trains inside the notebooks; no sweep to submit",
                         ExecutorOptions)
    runs_root = str(Path(runs_dir).resolve())
    data = str(Path(data_dir).resolve()) if data_dir else None
    jobs = _unique([j for n in names for j in notebook_jobs(n, scale, notebook_dir)])
    pending = [j for j in jobs if not j.finished(runs_root)]
    summary = {"jobs": len(jobs), "submitted": len(pending), "skipped": len(jobs) - len(pending),
               "trained": 0, "reused": 0}
    if on_submit is not None:
        on_submit(len(pending), summary["skipped"])
    if not pending:
        return summary
    executor = _executor(options, len(pending))
    count = len(pending)
    arguments = ([runs_root] * count, [data] * count, [options.cpus_per_job] * count)
    if options.executor == "local":
        submitted = rolling_submit(executor, pending, arguments, local_width(options))
    else:
        submitted = executor.map_array(ResumableJob(), pending, *arguments)
    failures = []
    for job, handle in zip(pending, submitted, strict=True):
        try:  # exception() first: the debug executor's result() would open a debugger
            error = handle.exception()
            counts = handle.result() if error is None else None
        except Exception as err:  # a job that never completed, reported with the others
            error, counts = err, None
        if counts is None:
            failures.append((job, error))
            continue
        summary["trained"] += counts["trained"]
        summary["reused"] += counts["reused"]
    if failures:
        job, error = failures[0]
        raise SweepError(f"{len(failures)} of {count} jobs failed; first {job.name}: "
                         f"{error_line(error)} (logs: {options.folder})")
    return summary


def local_width(options: ExecutorOptions) -> int:
    """How many local subprocesses run at once: ``max_parallel``, else the cores this process may
    use (``os.sched_getaffinity`` where the platform has it, else ``os.cpu_count``) divided by
    ``cpus_per_job``, at least 1. Every job imports torch (0.5 GB resident after ``import torch``
    here), so a sweep of dozens of jobs must not start them all at once."""
    if options.max_parallel is not None:
        return options.max_parallel
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    return max(1, cores // options.cpus_per_job)


def rolling_submit(executor: Any, jobs: Sequence[SweepJob], arguments: Sequence[Sequence[Any]],
                   width: int, poll_s: float = 0.5) -> list[Any]:
    """Submit ``jobs`` to ``executor`` keeping at most ``width`` of them unfinished at once.

    A new job is submitted as soon as one finishes (a pool, not waves: an LTH chain and a short
    MPT run share the cores without waiting for each other). Returns the job handles in the
    order of ``jobs``, every one finished.

    Parameters
    ----------
    executor
        A submitit executor (``submit(fn, *args)`` returning handles with ``done()``).
    jobs : sequence of SweepJob
        The jobs.
    arguments : sequence of sequences
        The further arguments of :class:`ResumableJob`, one list per argument, indexed like jobs.
    width : int
        The most jobs in flight.
    poll_s : float
        Seconds between looks at the running jobs.
    """
    import time

    handles: list[Any] = [None] * len(jobs)
    running: list[int] = []
    queue = list(range(len(jobs)))
    while queue or running:
        while queue and len(running) < width:
            i = queue.pop(0)
            handles[i] = executor.submit(ResumableJob(), jobs[i], *(a[i] for a in arguments))
            running.append(i)
        running = [i for i in running if not handles[i].done()]
        if running:
            time.sleep(poll_s)
    return handles


def error_line(error: BaseException | None) -> str:
    """The ``SomeError: message`` line of a job's error (submitit wraps the job's traceback)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"^[\w.]*(Error|Exception)\b", line)]
    if raised:
        return raised[-1]
    return lines[0] if lines else type(error).__name__
