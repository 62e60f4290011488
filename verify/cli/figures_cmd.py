"""``tickets figures``: execute the notebooks headless and index every figure and table."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from empirical.errors import InputError
from verify.cli.common import existing_dir, nonnegative_int, output_dir, path, positive_int

SCALE_HELP = ("smoke: a few minutes on 2 CPU cores; cpu: the laptop studies (MNIST-1D, theory "
              "sweeps), tens of minutes; paper: the published setups on a GPU with the data on "
              "disk")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``figures`` subcommand."""
    from verify.scales import SCALES

    parser = subparsers.add_parser(
        "figures",
        description=(
            "Execute the jupytext notebooks in notebooks/ headless at a scale, reusing finished "
            "runs from the run store, and write their figures (PNG + PDF) and tables (CSV + "
            "Markdown) into OUT/SCALE/ plus the index OUT/README.md (which notebook, scale, data "
            "and run hashes made each output). A failing notebook is named with its failing cell. "
            "Only this command writes paper_figures/SCALE/: a notebook opened by hand writes "
            "paper_figures/scratch/SCALE/ (see docs/notebooks.md)."
        ),
    )
    parser.add_argument("--scale", choices=SCALES, default="smoke", help=SCALE_HELP)
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this notebook (its file stem, e.g. mpt); repeatable")
    parser.add_argument("--out", type=output_dir, default=None,
                        help="figures root; outputs go to OUT/SCALE/ (default: paper_figures/ "
                             "of the repository, the only command that writes it)")
    parser.add_argument("--runs-dir", type=path, default=None,
                        help="run store root (default: $TICKETS_RUNS, else runs/ at the "
                             "repository root, the store a notebook opened by hand reads too)")
    parser.add_argument("--data-dir", type=existing_dir, default=os.environ.get("TICKETS_DATA"),
                        help="directory holding on-disk datasets (MNIST, CIFAR-10; needed at "
                             "paper scale; default: $TICKETS_DATA)")
    parser.add_argument("--timeout", type=positive_int, default=None,
                        help="seconds allowed per notebook cell (default: no limit)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary directory with a fresh run store "
                             "(every run trained again) and print, table by table, every number "
                             "that differs from the committed OUT/SCALE/ one; exit 1 if any, 0 "
                             "if none (nothing committed is written)")
    add_sweep_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute the chosen notebooks; print the outputs' directory and the elapsed time."""
    from verify.figures import NotebookError, run_notebooks
    from verify.notebook_paths import FIGURES_ROOT

    started = time.perf_counter()
    if args.check and args.executor != "inprocess":
        raise InputError("--check trains its fresh run store in this process; drop --executor")
    if not args.check and sweep_from_args(args):
        return 1
    try:
        if args.check:
            return check(args)
        manifests = run_notebooks(args.scale, args.out, names=args.only, runs_dir=args.runs_dir,
                                  data_dir=args.data_dir, progress=not args.no_progress,
                                  timeout=args.timeout)
    except NotebookError as err:
        print(f"tickets figures: error: {err}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    root = Path(args.out) if args.out is not None else FIGURES_ROOT
    print(f"{len(manifests)} notebook(s) at scale {args.scale} in {seconds:.0f} s -> "
          f"{root / args.scale}/ (index: {root / 'README.md'})")
    return 0


def add_sweep_flags(parser: argparse.ArgumentParser) -> None:
    """The executor flags (:mod:`verify.sweep_executor`)."""
    from verify.sweep_executor import DEFAULT_JOB_MINUTES, EXECUTORS

    group = parser.add_argument_group(
        "cluster sweep (submitit): train the notebooks' runs as jobs first, then run the "
        "notebooks, which reuse them")
    group.add_argument("--executor", choices=EXECUTORS, default="inprocess",
                       help="inprocess (default): the notebooks train what they need; slurm: "
                       "one Slurm job per run (an LTH chain per job); local: submitit's local "
                       "subprocesses; debug: submitit's debug executor, in this process")
    group.add_argument("--partition", default=None, help="Slurm partition of the jobs")
    group.add_argument("--gpus-per-job", type=nonnegative_int, default=None,
                       help="GPUs of each job (default: 1 on Slurm, else 0)")
    group.add_argument("--cpus-per-job", type=positive_int, default=1,
                       help="CPU cores of each job, also its torch thread count (default: 1)")
    group.add_argument("--job-minutes", type=positive_int, default=DEFAULT_JOB_MINUTES,
                       help="time limit of each job; Slurm requeues a job at its limit and the "
                       f"run resumes from its checkpoint (default: {DEFAULT_JOB_MINUTES})")
    group.add_argument("--max-parallel", type=positive_int, default=None,
                       help="at most this many jobs at once (slurm: default all; local: default "
                       "this machine's cores / --cpus-per-job)")
    group.add_argument("--jobs-dir", type=path, default=None,
                       help="submitit's folder for job files and logs (default: "
                       "RUNS_DIR/.submitit)")


def sweep_from_args(args: argparse.Namespace) -> int:
    """Check the executor flags (InputError, exit 2) and, unless ``inprocess``, run the sweep.

    Returns 0 when the notebooks may run, 1 when a job failed (the line is printed).
    """
    from empirical.config.hparams import default_runs_dir
    from verify.figures import check_data, chosen_notebooks
    from verify.sweep_executor import ExecutorOptions, SweepError, check_options, run_sweep

    runs_dir = default_runs_dir(args.runs_dir)
    gpus = args.gpus_per_job
    if gpus is None:
        gpus = 1 if args.executor == "slurm" else 0
    folder = Path(args.jobs_dir) if args.jobs_dir else runs_dir / ".submitit"
    options = ExecutorOptions(args.executor, folder.resolve(), args.partition, gpus,
                              args.cpus_per_job, args.job_minutes, args.max_parallel)
    check_options(options)
    if args.executor == "inprocess":
        if args.jobs_dir is not None or args.gpus_per_job is not None:
            raise InputError("--jobs-dir and --gpus-per-job need --executor local, slurm or "
                             "debug")
        return 0
    names = chosen_notebooks(args.only)
    check_data(names, args.scale, args.data_dir)

    def announce(submitted: int, skipped: int) -> None:
        print(f"sweep: {submitted} job(s) to {args.executor}, {skipped} already finished; "
              f"logs in {folder}", file=sys.stderr)

    try:
        summary = run_sweep(names, args.scale, options, runs_dir, args.data_dir,
                            on_submit=announce)
    except SweepError as err:
        print(f"tickets figures: error: {err}", file=sys.stderr)
        return 1
    print(f"sweep: {summary['submitted']} job(s) done: {summary['trained']} run(s) trained, "
          f"{summary['reused']} read back", file=sys.stderr)
    return 0


def check(args: argparse.Namespace) -> int:
    """``--check``: print every regenerated table number that differs from the committed one."""
    from verify.figure_check import check_figures

    lines = check_figures(args.scale, args.only, committed_root=args.out, runs_dir=args.runs_dir,
                          data_dir=args.data_dir, progress=not args.no_progress,
                          timeout=args.timeout)
    print("\n".join(lines) if lines else f"scale {args.scale}: every regenerated table equals "
          "the committed one")
    return 1 if lines else 0
