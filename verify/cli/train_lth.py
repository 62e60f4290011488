"""``tickets train lth``: iterative magnitude pruning (lottery tickets), rewinding and controls.

Each level (and each control) is a run in the run store: raising ``--levels`` reuses the finished
levels and a killed run resumes. The flags are generated from the hyperparameter dataclasses
(:mod:`verify.cli.args`); a ``--preset`` supplies defaults that explicit flags override.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from verify.cli.args import add_dataclass_flags, dest_name, resolve_args, show_config
from verify.cli.common import emit, fraction, list_of, nonnegative_int, seed
from verify.cli.train_mpt import add_common_flags, runtime_from_args

EARLY_STOP_COLUMNS = ("early_stop_step", "early_stop_test_acc")
COLUMNS = ["level", "source", "density", "test_acc", *EARLY_STOP_COLUMNS, "steps", "hash",
           "reused"]
PERCENT_COLUMNS = ("density", "test_acc", "early_stop_test_acc")
"""Fractions the tables show in percent, as the summary lines and the studies' tables do (their
headers end in ``_%``); ``--json`` keeps the fractions."""
JSON_KEYS = ["level", "source", "control_seed", "density", "test_acc", "early_stop_step",
             "early_stop_test_acc", "early_stop_val_loss", "steps", "rewind_step", "hash",
             "parent", "run_dir", "reused"]
DEFAULT_LEVELS = 5
# Pruning fields whose types the generic flag builder does not parse: flag type given here.
_PRUNING_FLAG_TYPES = {"conv_rate": fraction, "output_rate": fraction, "exclude": list_of(str)}


def _add_pruning_flags(parser: argparse.ArgumentParser) -> None:
    from empirical.config.lth_hparams import PruningHparams

    add_dataclass_flags(parser, "pruning", PruningHparams, exclude=tuple(_PRUNING_FLAG_TYPES),
                        title="pruning options")
    group = parser.add_argument_group("per-layer pruning options")
    for f in dataclasses.fields(PruningHparams):
        if f.name in _PRUNING_FLAG_TYPES:
            group.add_argument("--" + f.name.replace("_", "-"), type=_PRUNING_FLAG_TYPES[f.name],
                               dest=dest_name("pruning", f), default=argparse.SUPPRESS,
                               metavar=f.name.upper(), help=f.metadata["help"])


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``lth`` to ``tickets train``."""
    from empirical.config.presets import presets_for

    text = "iterative magnitude pruning: lottery tickets with rewinding and controls"
    parser = subparsers.add_parser(
        "lth", help=text,
        description=f"{text} (Frankle & Carbin, ICLR 2019; Frankle et al. 2020). Each level "
        "prunes floor(rate * remaining) weights of smallest |w|, resets the survivors to theta_0 "
        "or theta_k (--rewind) and retrains. Presets: " + ", ".join(presets_for("lth")) + ".")
    add_lth_flags(parser)
    parser.add_argument("--levels", type=nonnegative_int, default=None,
                        help=f"last pruning level N: levels 0..N are trained (default: "
                        f"{DEFAULT_LEVELS}; not with --one-shot)")
    parser.add_argument("--control", type=list_of(str), default=[],
                        help="controls at every level >= 1, comma separated: reinit (same mask, "
                        "fresh weights), random-prune (random mask, same counts), shuffle (mask "
                        "shuffled within each layer), invert (lowest magnitudes kept, same "
                        "counts), lr-rewind (mask on the trained weights, learning-rate schedule "
                        "replayed from the rewind step), finetune (mask on the trained weights, "
                        "final learning rate)")
    parser.add_argument("--control-levels", type=list_of(int), default=None,
                        help="the levels that get the controls, comma separated (default: every "
                        "level >= 1)")
    parser.add_argument("--control-seed", type=seed, default=0,
                        help="seed of the controls' randomness (default: 0)")
    parser.add_argument("--one-shot", type=fraction, metavar="DENSITY",
                        help="instead of IMP levels: prune the trained dense network once to "
                        "this density and retrain")
    parser.set_defaults(func=run, algorithm="lth")


def add_lth_flags(parser: argparse.ArgumentParser) -> None:
    """The flags every LTH-family command shares: preset, store, runtime and the four sections."""
    from empirical.config.hparams import DatasetHparams, ModelHparams, TrainingHparams

    add_common_flags(parser)
    add_dataclass_flags(parser, "dataset", DatasetHparams)
    add_dataclass_flags(parser, "model", ModelHparams)
    add_dataclass_flags(parser, "training", TrainingHparams)
    _add_pruning_flags(parser)


def hparams_from_args(args: argparse.Namespace) -> Any:
    """The :class:`LTHHparams` of the flags: defaults < preset < explicit flags."""
    from empirical.config.lth_hparams import LTHHparams

    return LTHHparams(**resolved_from_args(args).sections)


def resolved_from_args(args: argparse.Namespace) -> Any:
    """The sections of every level and who set each value (:func:`resolve_args`)."""
    from empirical.config.hparams import DatasetHparams, ModelHparams, TrainingHparams
    from empirical.config.lth_hparams import PruningHparams

    classes = {"dataset": DatasetHparams, "model": ModelHparams, "training": TrainingHparams,
               "pruning": PruningHparams}
    return resolve_args(args, "lth", classes)


def show_row(args: argparse.Namespace, keys: list[str]) -> Any:
    """A callback printing each finished row: JSON on stdout with ``--json``, else a line."""
    from empirical.device import distributed_from_env

    first_process = distributed_from_env().rank == 0  # under torchrun only rank 0 reports

    def show(row: dict[str, Any]) -> None:
        if not first_process:
            return
        if args.json:
            emit([{k: row.get(k) for k in keys}], True)
            sys.stdout.flush()
        else:
            status = "reused" if row["reused"] else "trained"
            print(f"{status} level {row['level']} ({row['source']}) density "
                  f"{100 * row['density']:.2f}% test acc {100 * row['test_acc']:.2f}% -> "
                  f"{row['run_dir']}", file=sys.stderr)

    return show


def run(args: argparse.Namespace) -> int:
    """Train (or read back) every level and print one row per level (and control)."""
    if args.one_shot is not None and args.levels is not None:
        raise ValueError("--one-shot prunes once: it takes no --levels")
    if args.one_shot is not None and args.control:
        raise ValueError("--one-shot runs no controls: drop --control")
    if args.control_levels is not None and (not args.control
                                            or min(args.control_levels, default=0) < 1):
        raise ValueError("--control-levels names levels >= 1 and needs --control")
    levels = DEFAULT_LEVELS if args.levels is None else args.levels
    resolved = resolved_from_args(args)
    if args.show_config:
        show_config(resolved, args.json)
        return 0
    from empirical.algorithms.lth import run_lth, run_one_shot
    from empirical.config.lth_hparams import CONTROLS, LTHHparams
    from empirical.device import distributed_from_env

    base = LTHHparams(**resolved.sections)
    unknown = [c for c in args.control if c not in CONTROLS]
    if unknown:
        raise ValueError(f"unknown control {unknown[0]!r}; choose one of {', '.join(CONTROLS)}")
    runtime = runtime_from_args(args)
    first_process = distributed_from_env().rank == 0
    show = show_row(args, JSON_KEYS)
    if args.one_shot is not None:
        rows = [run_one_shot(base, args.one_shot, args.runs_dir, runtime)]
        show(rows[0])
    else:
        rows = run_lth(base, levels, args.control, args.control_seed, args.runs_dir,
                       runtime, on_row=show, control_levels=args.control_levels)
    if first_process and not args.json:
        emit_percent(rows, table_columns(base.dataset.val_size))
    return 0


def emit_percent(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Print ``rows`` as a table of ``columns``, those of :data:`PERCENT_COLUMNS` in percent
    (``test_acc_%``)."""
    shown = [c + "_%" if c in PERCENT_COLUMNS else c for c in columns]
    emit([{s: (100 * row[c] if c in PERCENT_COLUMNS and row.get(c) is not None else row.get(c))
           for c, s in zip(columns, shown, strict=True)} for row in rows], False, shown)


def table_columns(val_size: int) -> list[str]:
    """The table's columns; without a validation split the early-stop columns are left out and a
    note on stderr says why (they would select on the test split)."""
    if val_size:
        return COLUMNS
    print(f"note: no {', '.join(EARLY_STOP_COLUMNS)} columns: the early-stopping iteration is "
          "the step of minimum validation loss and needs a validation split (--val-size N holds "
          "N training examples out; choosing it on the test split would bias the test accuracy)",
          file=sys.stderr)
    return [c for c in COLUMNS if c not in EARLY_STOP_COLUMNS]
