"""``tickets verify``: hold the strong-ticket theorems against measured numbers.

Alone it runs every check at smoke scale and prints one table (exit 0 if all pass, 1 otherwise);
``subset-sum``, ``construct`` and ``sweep`` run one study with chosen sizes; ``trained`` builds a
ticket of a trained network (:mod:`verify.cli.verify_trained`); ``planted`` searches for a planted
ticket (:mod:`verify.cli.verify_planted`).  Every pass says
what it rests on (the ``evidence`` column: ``exact``, ``certified`` or ``sampled``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import sys
import tempfile
from typing import Any

from theory.constructions import Names
from theory.sup_error import DOMAINS
from verify.cli.common import (
    COLUMN_NAMES,
    add_json_flag,
    emit,
    int_range,
    list_of,
    open_unit,
    output_file,
    positive_float,
    positive_int,
    renamed,
    seed,
)

DEFAULT_COLUMNS = ("theorem", "construction", "target_size", "eps", "width_used", "depth_used",
                   "bound_width", "bound_kind", "sup_error", "error_bound", "evidence",
                   "within_eps")


def _add_target_flags(parser: argparse.ArgumentParser) -> None:
    """Flags shared by ``construct`` and ``sweep``."""
    parser.add_argument("--method", required=True, choices=Names(), metavar="NAME",
                        help="construction to run, a registered one: %(choices)s")
    parser.add_argument("--width", type=positive_int, default=2,
                        help="target width D, channels for the conv family (default 2)")
    parser.add_argument("--depth", type=positive_int, default=2, help="target depth L (default 2)")
    parser.add_argument("--eps", type=positive_float, default=0.1,
                        help="sup-norm accuracy on the unit ball; the margin for the sign "
                        "family (default 0.1)")
    parser.add_argument("--delta", type=open_unit, default=0.1,
                        help="failure probability in (0,1) (default 0.1)")
    add_json_flag(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``verify`` and its subcommands ``subset-sum``, ``construct``, ``sweep``."""
    parser = subparsers.add_parser(
        "verify",
        description="Run every strong-ticket check at smoke scale and print one table (exit 0 if "
        "all pass, 1 otherwise), or one study: subset-sum, construct, sweep, trained, planted.",
    )
    add_json_flag(parser, one_object=True)
    parser.set_defaults(func=run)
    sub = parser.add_subparsers(dest="action", metavar="STUDY", parser_class=type(parser))

    subset = sub.add_parser(
        "subset-sum", help="random subset-sum success probability vs n",
        description="Success probability and median covering radius per n against the "
        "log2(1/eps) lower bound (Lueker 1998).")
    subset.add_argument("--n", type=int_range, default=list(range(4, 25, 4)),
                        help="numbers of summands, LO..HI[..STEP] or a list (default 4..24..4)")
    subset.add_argument("--seeds", type=positive_int, default=50,
                        help="random instances per n (default 50)")
    subset.add_argument("--eps", type=list_of(positive_float), default=[1e-2],
                        help="comma-separated accuracies (default 1e-2)")
    subset.add_argument("--seed", type=seed, default=0, help="base random seed (default 0)")
    add_json_flag(subset)
    subset.set_defaults(func=run)

    construct = sub.add_parser(
        "construct", help="build one ticket and measure it",
        description="Build a target (width D, depth L) and a random source, construct the "
        "ticket, measure its sup error and compare with the bound.")
    _add_target_flags(construct)
    construct.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    construct.add_argument("--block-size", type=positive_int, default=None,
                           help="block size override (default: the construction's bound)")
    construct.add_argument("--rescale", action="store_true",
                           help="rescale a target violating the theorem's assumption")
    construct.add_argument("--target-scale", type=positive_float, default=1.0,
                           help="multiply the random target by this factor (default 1)")
    construct.add_argument("--domain", choices=DOMAINS, default="ball",
                           help="input domain of the sup error: the unit l2 ball or the cube "
                           "[-1,1]^d0 (default ball)")
    construct.set_defaults(func=run)

    sweep = sub.add_parser(
        "sweep", help="sweep a size and write a tidy CSV",
        description="Sweep block size (error vs width) or find the smallest sufficient block size "
        "vs eps, depth or target width; prints rows and optionally writes a tidy CSV.")
    _add_target_flags(sweep)
    sweep.add_argument("--vary", required=True, choices=("width", "eps", "depth", "target-width"),
                       help="parameter to sweep")
    sweep.add_argument("--values", type=list_of(positive_float), default=None,
                       help="values of the varied parameter (eps, depth or target width)")
    sweep.add_argument("--block-sizes", type=int_range, default=[4, 8, 16],
                       help="block sizes to try, LO..HI[..STEP] or a list (default 4,8,16)")
    sweep.add_argument("--seeds", type=positive_int, default=2,
                       help="seeds per setting (default 2)")
    sweep.add_argument("--fraction", type=open_unit, default=0.5,
                       help="success fraction a block size must reach (default 0.5)")
    sweep.add_argument("--domain", choices=DOMAINS, default="ball",
                       help="input domain of the sup error: the unit l2 ball or the cube "
                       "[-1,1]^d0 (default ball)")
    sweep.add_argument("--out", type=output_file, default=None,
                       help="write the rows to this CSV file")
    sweep.set_defaults(func=run)

    from verify.cli import verify_planted, verify_trained

    verify_trained.register(sub)
    verify_planted.register(sub)


def write_csv(path: str, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` to ``path`` atomically (temporary file in the same folder, then replace)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"folder {folder} does not exist")
    columns = list(dict.fromkeys(k for r in rows for k in r))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _run_sweep(args: argparse.Namespace) -> list[dict[str, Any]]:
    from empirical.progress import progress_bar
    from verify.construction_study import sweep_error_vs_width, sweep_width_vs_eps
    from verify.family_studies import study_of

    if not study_of(args.method).sweeps:
        raise ValueError(f"--method {args.method} supports construct only, not sweep")
    values = args.values if args.vary != "width" else args.block_sizes
    steps = len(values) * (args.seeds if args.vary == "width" else 1)
    bar = progress_bar(steps, desc=f"sweep {args.vary}", unit="setting")
    with contextlib.closing(bar):
        if args.vary == "width":
            return sweep_error_vs_width(args.method, args.block_sizes, args.width, args.depth,
                                        args.eps, args.delta, args.seeds, progress=bar.update,
                                        domain=args.domain)
        cast = float if args.vary == "eps" else int
        return sweep_width_vs_eps(args.method, args.vary, [cast(v) for v in values],
                                  args.block_sizes, args.width, args.depth, args.eps, args.delta,
                                  args.seeds, args.fraction, progress=bar.update,
                                  domain=args.domain)


def _sweep_settings(args: argparse.Namespace) -> list[tuple[int, int, float, int]]:
    """Every ``(width, depth, eps, block size)`` a sweep may construct; checks ``--values``."""
    if args.vary == "width":
        if args.values is not None:
            raise ValueError("--values is not used with --vary width (give --block-sizes)")
        return [(args.width, args.depth, args.eps, b) for b in args.block_sizes]
    if args.values is None:
        raise ValueError(f"--values is required with --vary {args.vary}")
    if args.vary != "eps":
        bad = [v for v in args.values if v != int(v)]
        if bad:
            raise ValueError(f"--values: {args.vary} values must be integers, got {bad[0]:g}")
    settings = []
    for value in args.values:
        width = int(value) if args.vary == "target-width" else args.width
        depth = int(value) if args.vary == "depth" else args.depth
        eps = value if args.vary == "eps" else args.eps
        settings += [(width, depth, eps, b) for b in args.block_sizes]
    return settings


def check_request(args: argparse.Namespace) -> None:
    """Refuse a study that cannot run, before it starts: outputs, values, memory.

    Raises
    ------
    ValueError
        Naming the flag: non-integer ``--values`` of depth or target
        width, or an estimated allocation over the memory limit (:mod:`verify.footprints`).
    """
    from empirical.memory import check_memory
    from verify import footprints

    if args.action == "subset-sum":
        check_memory(footprints.subset_sum_table_bytes(args.n, args.eps, args.seeds),
                     f"verify subset-sum --n {max(args.n)} --eps {min(args.eps):g} "
                     f"--seeds {args.seeds}")
        return
    if args.action == "construct":
        settings = [(args.width, args.depth, args.eps, args.block_size)]
    else:
        settings = _sweep_settings(args)
    for width, depth, eps, block in settings:
        check_memory(footprints.construction_bytes(args.method, width, depth, eps, args.delta,
                                                   block),
                     f"--method {args.method} with --width {width} --depth {depth} --eps {eps:g}"
                     + (f" and block size {block}" if block else ""))


def _computed_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The columns of ``rows`` holding a number in some row; a note on stderr names the others
    (the covering radius is computed up to ``RADIUS_MAX_N`` summands)."""
    from verify.subset_sum_study import RADIUS_MAX_N

    empty = [c for c in rows[0] if all(isinstance(r[c], float) and math.isnan(r[c])
                                       for r in rows)]
    if empty:
        print(f"note: {', '.join(empty)} computed for n <= {RADIUS_MAX_N} only",
              file=sys.stderr)
    return [c for c in rows[0] if c not in empty]


def run(args: argparse.Namespace) -> int:
    """Run the chosen verify study; returns the exit status."""
    from verify import construction_study
    from verify.family_studies import study_of

    if args.action is not None:
        check_request(args)
    if args.action is None:
        rows = construction_study.default_checks("smoke")
        emit(renamed(rows), args.json, DEFAULT_COLUMNS, one_object=True)
        return 0 if all(r["pass"] for r in rows) else 1
    if args.action == "subset-sum":
        from empirical.progress import progress_bar
        from verify.subset_sum_study import subset_sum_table

        bar = progress_bar(len(args.n), desc="subset-sum", unit="n")
        with contextlib.closing(bar):
            rows = subset_sum_table(args.n, args.eps, args.seeds, seed=args.seed,
                                    progress=bar.update)
        emit(rows, args.json, None if args.json else _computed_columns(rows))
        return 0
    if args.action == "construct":
        study = study_of(args.method)
        row = study.run(args.method, args.width, args.depth, args.eps, args.delta, args.seed,
                        block_size=args.block_size, rescale=args.rescale,
                        target_scale=args.target_scale, domain=args.domain)
        emit(renamed([row], study.column_names or COLUMN_NAMES), args.json,
             None if args.json else study.columns, one_object=True)
        return 1 if study.failed(row) else 0
    rows = renamed(_run_sweep(args))
    if args.out:
        write_csv(args.out, rows)
    emit(rows, args.json)
    return 0
