"""``tickets train {biprop,edge-popup,dense}``: score training (MPT, edge-popup) and dense runs.

The flags are generated from the hyperparameter dataclasses (:mod:`verify.cli.args`); a
``--preset`` supplies defaults that explicit flags override.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from verify.cli.args import add_dataclass_flags, build_section, resolve_args, show_config
from verify.cli.common import add_json_flag, emit, path

ALGORITHMS = {
    "biprop": "multi-prize tickets: learn scores, kept weights alpha*sign(W) (Diffenderfer & "
              "Kailkhura, ICLR 2021)",
    "edge-popup": "learn scores, kept weights stay W (Ramanujan et al., CVPR 2020)",
    "dense": "ordinary weight training (the baseline)",
}
SECTIONS = ("dataset", "model", "mask", "training")
def add_common_flags(parser: argparse.ArgumentParser) -> None:
    """``--preset``, ``--runs-dir``, ``--json`` and the runtime flags (shared with LTH)."""
    from empirical.config.hparams import RuntimeConfig

    parser.add_argument("--preset", help="named configuration whose values explicit flags "
                        "override (listed above); default: the paper preset of a model named "
                        "after a paper (e.g. lenet-300-100 for lth), 'none' for the generic "
                        "defaults")
    parser.add_argument("--runs-dir", type=path, help="root of the run store (default: "
                        "$TICKETS_RUNS or ./runs)")
    add_json_flag(parser, one_object=True, detail=" (progress stays on stderr): the run's "
                  "summary (train lth: one object per level and control, a line each)")
    parser.add_argument("--show-config", action="store_true",
                        help="print every resolved hyperparameter and what set it (default, "
                        "command, preset or flag), then exit without training")
    add_dataclass_flags(parser, "runtime", RuntimeConfig, exclude=("progress",),
                        title="runtime options (not part of the run's hash)")


def runtime_from_args(args: argparse.Namespace) -> Any:
    """The :class:`RuntimeConfig` of the flags (progress on stderr, also with ``--json``), its
    ``--device`` checked to exist here before anything is written."""
    from empirical.config.hparams import RuntimeConfig
    from empirical.device import select_device

    runtime = build_section(RuntimeConfig, args, "runtime")
    select_device(runtime.device)
    return runtime


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``biprop``, ``edge-popup`` and ``dense`` to ``tickets train``."""
    from empirical.config.hparams import DatasetHparams, MaskHparams, ModelHparams, TrainingHparams
    from empirical.config.presets import presets_for

    for algorithm, text in ALGORITHMS.items():
        names = ", ".join(presets_for(algorithm))
        parser = subparsers.add_parser(algorithm, help=text,
                                       description=f"{text}. Presets: {names}.")
        add_common_flags(parser)
        add_dataclass_flags(parser, "dataset", DatasetHparams)
        add_dataclass_flags(parser, "model", ModelHparams)
        exclude = ("mode",) if algorithm != "dense" else (
            "mode", "keep", "scope", "mask_rule", "anneal_epochs", "penalty", "redraw_every",
            "redraw_fraction", "source_density", "source_layout")
        add_dataclass_flags(parser, "mask", MaskHparams, exclude=exclude,
                            defaults=mask_defaults(algorithm))
        add_dataclass_flags(parser, "training", TrainingHparams)
        parser.set_defaults(func=run, algorithm=algorithm)


def mask_defaults(algorithm: str) -> dict[str, Any]:
    """The mask defaults ``--help`` shows: the kept fraction ``MaskHparams`` gives a score
    algorithm (:data:`empirical.config.hparams.SCORE_KEEP`); nothing for dense."""
    from empirical.config.hparams import SCORE_KEEP

    return {} if algorithm == "dense" else {"keep": SCORE_KEEP}


def hparams_from_args(args: argparse.Namespace) -> Any:
    """The :class:`RunHparams` of the flags: defaults < command defaults < preset < flags."""
    from empirical.config.hparams import RunHparams

    return RunHparams(**resolved_from_args(args).sections)


def resolved_from_args(args: argparse.Namespace) -> Any:
    """The run's sections and who set each value (:func:`verify.cli.args.resolve_args`)."""
    from empirical.config.hparams import (
        DatasetHparams,
        MaskHparams,
        ModelHparams,
        TrainingHparams,
    )
    classes = {"dataset": DatasetHparams, "model": ModelHparams, "mask": MaskHparams,
               "training": TrainingHparams}
    command = {"mask": {"mode": args.algorithm, **mask_defaults(args.algorithm)}}
    return resolve_args(args, args.algorithm, classes, command)


def run(args: argparse.Namespace) -> int:
    """Train (or read back) the run and print its summary."""
    resolved = resolved_from_args(args)
    if args.show_config:
        show_config(resolved, args.json)
        return 0
    from empirical.algorithms.mpt import run_mpt
    from empirical.config.hparams import RunHparams
    from empirical.device import distributed_from_env

    hparams = RunHparams(**resolved.sections)
    result = run_mpt(hparams, args.runs_dir, runtime_from_args(args))
    if distributed_from_env().rank != 0:
        return 0  # under torchrun only the first process reports
    summary = {k: result[k] for k in ("kind", "hash", "run_dir", "model", "dataset", "keep",
                                      "test_acc", "val_acc", "train_acc", "kept_overall",
                                      "kept_fraction", "steps", "seconds", "reused")}
    if args.json:
        emit([summary], True, one_object=True)
        return 0
    status = "reused finished run" if result["reused"] else "trained"
    print(f"{status} {summary['kind']} {summary['hash']} -> {summary['run_dir']}", file=sys.stderr)
    rows = [{"layer": k, "kept": v} for k, v in summary["kept_fraction"].items()]
    emit(rows, False, columns=["layer", "kept"])
    print(f"test accuracy {100 * summary['test_acc']:.2f}%  kept overall "
          f"{100 * summary['kept_overall']:.2f}%  steps {summary['steps']}  "
          f"{summary['seconds']:.1f} s")
    return 0
