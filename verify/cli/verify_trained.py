"""``tickets verify trained``: a strong ticket of a trained network, measured on its test set.

Takes a finished dense ``fc`` run (``--run DIR``) or trains one from the dataset, model-width
and training flags (bias-free, no batch norm, ReLU: the theorems' networks), rescales it to the
theorem's assumptions, builds a ticket in a fresh random source and prints one row per block
size (:func:`verify.trained_ticket.ticket_of_trained`).
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

from verify.cli.common import (
    add_json_flag,
    emit,
    list_of,
    nonnegative_int,
    open_unit,
    positive_float,
    positive_int,
    renamed,
    seed,
)
from verify.trained_ticket import METHODS

COLUMNS = ("dataset", "target_widths", "method", "block_sizes", "target_acc", "ticket_acc",
           "agreement", "disagreements", "max_logit_error", "certified_sup_error",
           "max_weight_error", "source_weights", "kept_weights", "seconds", "peak_gb")
MODEL_FIXED = {"name": "fc", "bn": "none", "bias": False, "binary_act": False}
SECTIONS = ("dataset", "model", "training")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``trained`` to ``tickets verify``."""
    from empirical.config.hparams import (
        DatasetHparams,
        ModelHparams,
        RuntimeConfig,
        TrainingHparams,
    )
    from verify.cli.args import add_dataclass_flags

    parser = sub.add_parser(
        "trained", help="strong ticket of a trained network, on its real test set",
        description="Build a strong ticket of a TRAINED bias-free ReLU MLP in a fresh random "
        "source (Pensia et al.'s construction by default) and compare it with the network on "
        "the real test set: accuracies, prediction agreement, max logit error, certified sup "
        "error, sizes, seconds, peak memory. The network is a finished dense fc run (--run) or "
        "is trained now from the dataset/model/training flags (--bn none, no bias).")
    parser.add_argument("--run", default=None,
                        help="directory of a finished dense fc run of the run store")
    parser.add_argument("--method", choices=METHODS, metavar="NAME",
                        default="pensia", help="construction: %(choices)s (default pensia)")
    parser.add_argument("--eps", type=positive_float, default=0.01,
                        help="sup-norm accuracy on the unit ball of the rescaled network: sets "
                        "the tolerances and the default block sizes (default 0.01)")
    parser.add_argument("--delta", type=open_unit, default=0.1,
                        help="failure probability of the default block sizes (default 0.1)")
    parser.add_argument("--block-size", type=list_of(positive_int), default=None,
                        help="units per input coordinate (default: the construction's bound; "
                        "42 gives Pensia et al.'s ~21 summands per sign); a comma-separated "
                        "list gives one row per size (ticket accuracy vs source width)")
    parser.add_argument("--max-summands", type=positive_int, default=None,
                        help="pensia: at most this many summands of each sign per subset sum")
    parser.add_argument("--bits", type=nonnegative_int, default=None,
                        help="binary-depth: fractional bits K of the quantised weights (default: "
                        "the construction's for --eps)")
    parser.add_argument("--weight-eps", type=positive_float, default=0.01,
                        help="per-weight tolerance reported in the network's units (default "
                        "0.01, Pensia et al.'s)")
    parser.add_argument("--source-seed", type=seed, default=0,
                        help="seed of the random source network (default 0)")
    parser.add_argument("--runs-dir", default=None,
                        help="root of the run store (default: $TICKETS_RUNS or ./runs)")
    add_json_flag(parser, one_object=True)
    add_dataclass_flags(parser, "dataset", DatasetHparams,
                        title="dataset options (training a network; ignored with --run)")
    add_dataclass_flags(parser, "model", ModelHparams, exclude=tuple(MODEL_FIXED),
                        title="model options: fc, bias-free, no batch norm, ReLU")
    add_dataclass_flags(parser, "training", TrainingHparams, title="training options")
    add_dataclass_flags(parser, "runtime", RuntimeConfig, exclude=("progress",),
                        title="runtime options (not part of the run's hash)")
    parser.set_defaults(func=run)


def _network(args: argparse.Namespace) -> Any:
    """The trained network of ``--run`` or of the training flags."""
    from empirical.config.hparams import (
        DatasetHparams,
        MaskHparams,
        ModelHparams,
        RunHparams,
        TrainingHparams,
    )
    from empirical.data import dataset_info
    from empirical.models.common import scale_width
    from empirical.models.fc import DEFAULT_FC_WIDTHS
    from verify.cli.args import build_section, given_values
    from verify.cli.train_mpt import runtime_from_args
    from verify.trained_ticket import load_trained, plan_source, train_target

    if args.run is not None:
        given = [s for s in SECTIONS if given_values(args, s)]
        if given:
            raise ValueError(f"--run takes the network from the store; drop the {given[0]} "
                             "flags")
        if not os.path.isdir(args.run):
            raise ValueError(f"--run {args.run}: no such directory")
        return load_trained(args.run)
    hparams = RunHparams(
        dataset=build_section(DatasetHparams, args, "dataset"),
        model=build_section(ModelHparams, args, "model", fixed=MODEL_FIXED),
        mask=MaskHparams(mode="dense"),
        training=build_section(TrainingHparams, args, "training"),
    )
    info = dataset_info(hparams.dataset.name)
    hidden = [scale_width(w, hparams.model.width_mult)
              for w in hparams.model.widths or DEFAULT_FC_WIDTHS]
    widths = [math.prod(info.input_shape), *hidden, info.num_classes]
    for size in args.block_size or [None]:  # refuse an oversized source before training
        plan_source(args.method, widths, args.eps, args.delta, size, args.bits)
    return train_target(hparams, args.runs_dir, runtime_from_args(args))


def run(args: argparse.Namespace) -> int:
    """Build and measure the ticket; print its row."""
    from empirical.config.hparams import RuntimeConfig
    from verify.cli.args import build_section
    from verify.trained_ticket import ticket_of_trained

    if args.max_summands is not None and args.method != "pensia":
        raise ValueError("--max-summands applies to --method pensia only")
    runtime = build_section(RuntimeConfig, args, "runtime", fixed={"progress": False})
    network = _network(args)
    rows = [ticket_of_trained(network, args.method, args.eps, args.delta, size,
                              args.max_summands, args.weight_eps, args.source_seed,
                              runtime.data_dir, args.bits)
            for size in args.block_size or [None]]
    emit(renamed(rows), args.json, None if args.json else COLUMNS, one_object=len(rows) == 1)
    return 0
