"""``tickets verify planted``: plant a ticket, search for it, and say how much of it was found.

Plants a construction's strong ticket of a random target (``--planted pensia``, ``mpt-binary``)
or a Plant 'n' Seek task's target (``relu``, ``circle``, ``helix``) in a source, runs every
search of ``--search`` (default: every one of :func:`verify.planted.searches`, read from the
mask-rule registry, and IMP) at every kept fraction of ``--keep`` (``planted``: the planted
density) for every seed, and prints one row per run (:func:`verify.planted_runs.recovery`) or,
with ``--summary``, one row per search and kept fraction with 95% t intervals over the seeds
(:func:`verify.planted_runs.recovery_table`). Every run is stored in the run store (kind
``planted``): the same command again trains nothing.
"""

from __future__ import annotations

import argparse
from typing import Any

from verify.cli.common import add_json_flag, emit, list_of, nonnegative_int, positive_int

COLUMNS = ("planted", "algorithm", "k_setting", "keep", "planted_keep", "seed", "test_acc",
           "planted_test_acc", "test_mse", "planted_test_mse", "jaccard", "chance_jaccard",
           "bias_jaccard", "min_layer_jaccard", "collapsed_layers", "connected", "reused",
           "hash")
SUMMARY_COLUMNS = ("planted", "algorithm", "k_setting", "keep", "test_acc", "test_acc_lo",
                   "test_acc_hi", "test_mse", "test_mse_lo", "test_mse_hi", "jaccard",
                   "jaccard_lo", "jaccard_hi", "chance_jaccard", "jaccard_minus_chance_lo",
                   "jaccard_minus_chance_hi", "collapsed_layers", "seeds", "n_test")
LISTED = ("search", "keep", "seed", "training")
"""Fields of :class:`verify.planted_runs.PlantedRun` the command takes as lists, or from the
training flags."""


def _keep(text: str) -> float | None:
    """A kept fraction in (0, 1], or ``planted`` (None: the planted density)."""
    if text == "planted":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1] or 'planted', got "
                                         f"{text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"a kept fraction lies in (0, 1], got {text}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``planted`` to ``tickets verify``."""
    from empirical.config.hparams import TrainingHparams
    from verify.cli.args import add_dataclass_flags
    from verify.planted_runs import PlantedRun

    parser = sub.add_parser(
        "planted", help="plant a ticket, search for it, compare found with planted",
        description="Plant a construction's strong ticket (pensia, mpt-binary) or a Plant 'n' "
        "Seek task (relu, circle, helix) in a random source, run searches (edge-popup, biprop, "
        "every registered top-k mask rule as MODE:RULE, imp) at the planted density and other "
        "kept fractions, and report test score against the planted ticket's, Jaccard of found "
        "and planted masks against chance, and layer collapse. Every run is kept in the run "
        "store; the same command again trains nothing.")
    parser.add_argument("--search", type=list_of(str), default=None,
                        help="comma-separated searches (default: every registered one)")
    parser.add_argument("--keep", type=list_of(_keep), default=[None],
                        help="comma-separated kept fractions in (0, 1], 'planted' for the "
                        "planted density (default planted)")
    parser.add_argument("--seeds", type=positive_int, default=1,
                        help="seeds 0..N-1 of the planted ticket, its data and the search "
                        "(default 1)")
    parser.add_argument("--first-seed", type=nonnegative_int, default=0,
                        help="first seed (default 0)")
    parser.add_argument("--summary", action="store_true",
                        help="one row per search and kept fraction, with 95%% t intervals over "
                        "the seeds")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="intra-op CPU threads of torch (default 1)")
    parser.add_argument("--runs-dir", default=None,
                        help="root of the run store (default: $TICKETS_RUNS or ./runs)")
    parser.add_argument("--progress", action="store_true", help="a progress bar on stderr")
    add_json_flag(parser)
    add_dataclass_flags(parser, "planted", PlantedRun, exclude=LISTED,
                        title="what is planted, and the search's settings")
    add_dataclass_flags(parser, "training", TrainingHparams, exclude=("seed",),
                        title="training options (default: the smoke scale's planted recipe)",
                        defaults=_training_defaults())
    parser.set_defaults(func=run)


def _training_defaults() -> dict[str, Any]:
    """The training flags' defaults: the planted study's smoke-scale recipe."""
    from verify.scales import get_scale

    return dict(get_scale("planted_tickets", "smoke").training)


def runs_of(args: argparse.Namespace) -> list[Any]:
    """Every :class:`verify.planted_runs.PlantedRun` the flags ask for, checked (before any
    training)."""
    from empirical.config.hparams import TrainingHparams
    from verify.cli.args import build_section
    from verify.planted import searches
    from verify.planted_runs import PlantedRun, sweep

    training = build_section(TrainingHparams, args, "training", preset=_training_defaults())
    base = build_section(PlantedRun, args, "planted", fixed={"training": training})
    chosen = args.search if args.search is not None else list(searches())
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    return sweep(base, chosen, list(dict.fromkeys(args.keep)), seeds)


def run(args: argparse.Namespace) -> int:
    """Run (or read back) every recovery and print the rows."""
    import torch

    from verify.planted_runs import recoveries, recovery_table

    runs = runs_of(args)
    torch.set_num_threads(args.threads)
    rows = recoveries(runs, args.runs_dir, args.progress)
    if args.summary:
        table = recovery_table(rows)
        columns = [c for c in SUMMARY_COLUMNS if any(c in r for r in table)]
        emit(table, args.json, None if args.json else columns)
        return 0
    columns = [c for c in COLUMNS if any(c in r for r in rows)]
    emit(rows, args.json, None if args.json else columns)
    return 0
