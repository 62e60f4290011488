"""``tickets train pai`` and ``tickets train stability``: pruning at initialisation with its sanity
ablations, and the instability of a dense network or an IMP ticket (linear mode connectivity).

Both take the flags of ``tickets train lth`` (a preset, data, model, training, pruning scope and
rewind point) and store every run in the run store beside IMP's: nothing is trained twice.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from verify.cli.common import emit, fraction, list_of, nonnegative_int, positive_int, seed
from verify.cli.train_lth import (
    JSON_KEYS,
    add_lth_flags,
    emit_percent,
    hparams_from_args,
    show_row,
)
from verify.cli.train_mpt import runtime_from_args

PAI_COLUMNS = ["level", "source", "density", "test_acc", "early_stop_step",
               "early_stop_test_acc", "outputs_reachable", "empty_layers", "hash", "reused"]
PATH_COLUMNS = ["alpha", "train_error", "test_error"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``pai`` and ``stability`` to ``tickets train``."""
    from empirical.config.lth_hparams import ABLATIONS
    from empirical.vocabulary import CRITERION_SOURCES

    text = "pruning at initialisation: a registered criterion's mask, trained like an IMP level"
    criteria = "; ".join(f"{name} ({source.citation})"
                         for name, source in CRITERION_SOURCES.items())
    parser = subparsers.add_parser(
        "pai", help=text,
        description=f"{text}. Criteria: {criteria}. The mask is computed on "
        "theta_k (--rewind; default theta_0) and the first training batch, to --density overall "
        "(--scope global: one threshold; layerwise: every layer at the density; erk: "
        "Erdos-Renyi-Kernel layer densities). Level 0 (the dense network) is trained first as "
        "the reference. Layer collapse is reported before training.")
    add_lth_flags(parser)
    parser.add_argument("--criterion", required=True, choices=tuple(CRITERION_SOURCES),
                        help="pruning criterion")
    parser.add_argument("--density", type=fraction, required=True,
                        help="overall fraction of the prunable weights kept, in (0, 1]")
    parser.add_argument("--rounds", type=nonnegative_int, default=0,
                        help="pruning rounds on the exponential schedule d^(k/n) (default 0: the "
                        "criterion's own, 100 for synflow, 1 for the others)")
    parser.add_argument("--ablation", type=list_of(str), default=[],
                        help="sanity ablations of the mask (Frankle et al., ICLR 2021), comma "
                        f"separated: {', '.join(ABLATIONS)}")
    parser.add_argument("--control-seed", type=seed, default=0,
                        help="seed of the ablations' randomness (default: 0)")
    parser.set_defaults(func=run_pai_command, algorithm="pai")

    text = "instability: error along the linear path between two copies trained with other data "
    text += "orders"
    parser = subparsers.add_parser(
        "stability", help=text,
        description=f"{text} (Frankle, Dziugaite, Roy & Carbin, ICML 2020). Two copies of level "
        "--level (0: the dense network; L >= 1: the IMP ticket of the lineage, trained first if "
        "needed) start from theta_k (--rewind) and train with data orders --data-seeds; the "
        "instability is the largest error on the path minus the mean of the endpoints' errors.")
    add_lth_flags(parser)
    parser.add_argument("--level", type=nonnegative_int, default=0,
                        help="IMP level whose ticket is copied (default: 0, the dense network)")
    parser.add_argument("--data-seeds", type=list_of(seed), default=[1, 2],
                        help="data-order seeds of the two copies (default: 1,2)")
    parser.add_argument("--points", type=positive_int, default=31,
                        help="points on the linear path, including both ends (default: 31)")
    parser.set_defaults(func=run_stability_command, algorithm="stability")


def run_pai_command(args: argparse.Namespace) -> int:
    """Train level 0, the pai run and its ablations; print one row per run."""
    from empirical.algorithms.lth import run_pai
    from empirical.config.lth_hparams import ABLATIONS

    unknown = [a for a in args.ablation if a not in ABLATIONS]
    if unknown:
        raise ValueError(f"unknown ablation {unknown[0]!r}; choose one of {', '.join(ABLATIONS)}")
    base = hparams_from_args(args)
    rows = run_pai(base, args.criterion, args.density, args.ablation, args.rounds,
                   args.control_seed, args.runs_dir, runtime_from_args(args),
                   on_row=show_row(args, [*JSON_KEYS, "outputs_reachable", "empty_layers",
                                          "layer_density"]))
    if not args.json:
        emit_percent(rows, PAI_COLUMNS)
    return 0


def run_stability_command(args: argparse.Namespace) -> int:
    """Train (or read back) the two copies and print the instability and the path."""
    from empirical.algorithms.lth import run_lth
    from empirical.algorithms.stability import run_instability
    from empirical.config.lth_hparams import imp_chain

    if len(args.data_seeds) != 2 or args.data_seeds[0] == args.data_seeds[1]:
        raise ValueError("--data-seeds takes two different seeds")
    if args.points < 2:
        raise ValueError("--points must be >= 2")
    base = hparams_from_args(args)
    runtime = runtime_from_args(args)
    if args.level:
        run_lth(base, args.level, runs_dir=args.runs_dir, runtime=runtime)
    parent = imp_chain(base, args.level)[-1]
    rewind = base.pruning.rewind if args.level == 0 else None
    path, rows = run_instability(parent, rewind, tuple(args.data_seeds), args.points,
                                 args.runs_dir, runtime)
    summary: dict[str, Any] = {
        "level": args.level, "rewind": base.pruning.rewind,
        "train_instability": path.train_instability, "test_instability": path.test_instability,
        "test_size": path.test_size, "copies": [r["hash"] for r in rows],
        "reused": [r["reused"] for r in rows]}
    if args.json:
        emit([{**summary, "alphas": list(path.alphas), "train_error": list(path.train_error),
               "test_error": list(path.test_error)}], True)
        return 0
    emit([{"alpha": a, "train_error": tr, "test_error": te}
          for a, tr, te in zip(path.alphas, path.train_error, path.test_error, strict=True)],
         False, PATH_COLUMNS)
    print(f"level {args.level}, rewind {base.pruning.rewind}: instability "
          f"{100 * path.train_instability:.2f} points (train), "
          f"{100 * path.test_instability:.2f} points (test, {path.test_size} images)",
          file=sys.stdout)
    return 0
