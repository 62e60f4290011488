"""``tickets figures``: execute the notebooks headless and index every figure and table."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from verify import sweep_executor
from verify.cli.common import UserError, existing_dir, path, positive_int

SCALE_HELP = ("smoke: a few minutes on 2 CPU cores; cpu: the laptop studies (MNIST-1D, theory "
              "sweeps), tens of minutes; paper: the published setups on a GPU with the data on "
              "disk")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``figures`` subcommand."""
    from verify.scales import SCALES

    parser = subparsers.add_parser(
        "figures", help="regenerate the paper figures and tables by executing the notebooks",
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
    parser.add_argument("--out", type=path, default=None,
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
    sweep_executor.add_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute the chosen notebooks; print the outputs' directory and the elapsed time."""
    from verify.figures import NotebookError, run_notebooks
    from verify.notebook_paths import FIGURES_ROOT

    started = time.perf_counter()
    if args.check and args.executor != "inprocess":
        raise UserError("--check trains its fresh run store in this process; drop --executor")
    if not args.check and sweep_executor.sweep_from_args(args):
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


def check(args: argparse.Namespace) -> int:
    """``--check``: print every regenerated table number that differs from the committed one."""
    from verify.figure_check import check_figures

    lines = check_figures(args.scale, args.only, committed_root=args.out, runs_dir=args.runs_dir,
                          data_dir=args.data_dir, progress=not args.no_progress,
                          timeout=args.timeout)
    print("\n".join(lines) if lines else f"scale {args.scale}: every regenerated table equals "
          "the committed one")
    return 1 if lines else 0
